"""Public type aliases, under aiohttp's module name so deep imports keep working."""

import json
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Optional, TypeVar, Union

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


_T = TypeVar("_T")


class TypedKey(Generic[_T]):
    """A storage key carrying the type of its value (``AppKey``, ``RequestKey``...).

    Keys compare by identity; ``<`` orders them by name so mixed-key
    mappings can be sorted.
    """

    __slots__ = ("_name", "_t", "__orig_class__")

    def __init__(self, name: str, t: Optional[type[_T]] = None) -> None:
        self._name = name
        self._t = t

    def __lt__(self, other: object) -> bool:
        if isinstance(other, TypedKey):
            return self._name < other._name
        return True

    def __repr__(self) -> str:
        t = self._t
        type_name = "<<Unknown>>" if t is None else getattr(t, "__qualname__", repr(t))
        return f"<{type(self).__name__}({self._name}, type={type_name})>"
