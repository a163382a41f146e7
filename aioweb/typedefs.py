"""Public type aliases, under aiohttp's module name so deep imports keep working."""

import json
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Union

from multidict import CIMultiDict, CIMultiDictProxy, istr
from yarl import URL

if TYPE_CHECKING:
    from .web_request import BaseRequest, Request
    from .web_response import StreamResponse

JSONEncoder = Callable[[Any], str]
JSONDecoder = Callable[[str], Any]
DEFAULT_JSON_ENCODER: JSONEncoder = json.dumps
DEFAULT_JSON_DECODER: JSONDecoder = json.loads

StrOrURL = Union[str, URL]
LooseHeaders = Union[
    Mapping[str, str],
    Mapping[istr, str],
    CIMultiDict[str],
    CIMultiDictProxy[str],
    Iterable[tuple[Union[str, istr], str]],
]
RawHeaders = tuple[tuple[bytes, bytes], ...]
PathLike = Union[str, "os.PathLike[str]"]

Handler = Callable[["Request"], Awaitable["StreamResponse"]]
Middleware = Callable[["Request", Handler], Awaitable["StreamResponse"]]
LowLevelHandler = Callable[["BaseRequest"], Awaitable["StreamResponse"]]
