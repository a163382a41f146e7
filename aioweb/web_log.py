"""Access logging with aiohttp's ``access_log_format`` directives.

The format string is compiled once into a list of small functions. When the
logger is disabled for INFO (or ``access_log=None``) the server skips the
timing and the record altogether, so an unused access log costs nothing.

Directives: ``%a`` remote address, ``%t`` start time, ``%P`` pid, ``%r``
request line, ``%s`` status, ``%b`` bytes sent (head included), ``%T``
seconds, ``%Tf`` seconds with fraction, ``%D`` microseconds, ``%{H}i``
request header H, ``%{H}o`` response header H, ``%%`` a percent sign.
"""

from __future__ import annotations

import datetime
import logging
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from .abc import AbstractAccessLogger

if TYPE_CHECKING:
    from .web_request import BaseRequest
    from .web_response import StreamResponse

__all__ = ("AccessLogger", "access_logger", "server_logger")

access_logger = logging.getLogger("aioweb.access")
server_logger = logging.getLogger("aioweb.server")

_Part = Callable[["BaseRequest", "StreamResponse", float], str]
_DIRECTIVE_RE = re.compile(r"%(\{([A-Za-z0-9\-_]+)\}([ioe])|[atPrsbOD%]|Tf?)")


def _start_time(req: BaseRequest, resp: StreamResponse, taken: float) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).astimezone()
    start = now - datetime.timedelta(seconds=taken)
    return start.strftime("[%d/%b/%Y:%H:%M:%S %z]")


_SIMPLE: dict[str, _Part] = {
    "a": lambda req, resp, t: req.remote or "-",
    "t": _start_time,
    "P": lambda req, resp, t: f"<{os.getpid()}>",
    "r": lambda req, resp, t: f"{req.method} {req.raw_path} HTTP/{req.version.major}.{req.version.minor}",
    "s": lambda req, resp, t: str(resp.status),
    "b": lambda req, resp, t: str(resp.body_length),
    "O": lambda req, resp, t: str(resp.body_length),
    "T": lambda req, resp, t: str(round(t)),
    "Tf": lambda req, resp, t: f"{t:.6f}",
    "D": lambda req, resp, t: str(round(t * 1_000_000)),
    "%": lambda req, resp, t: "%",
}


def _header_part(name: str, kind: str) -> _Part:
    if kind == "i":
        return lambda req, resp, t: req.headers.get(name, "-")
    if kind == "o":
        return lambda req, resp, t: resp.headers.get(name, "-")
    return lambda req, resp, t: os.environ.get(name, "-")


def compile_format(log_format: str) -> list[str | _Part]:
    """Split ``log_format`` into literal text and directive functions.

    Runs once per logger. Raises ``ValueError`` for an unknown directive.
    """
    parts: list[str | _Part] = []
    pos = 0
    for match in _DIRECTIVE_RE.finditer(log_format):
        _append_literal(parts, log_format, log_format[pos : match.start()])
        if match.group(2):
            parts.append(_header_part(match.group(2), match.group(3)))
        else:
            parts.append(_SIMPLE[match.group(1)])
        pos = match.end()
    _append_literal(parts, log_format, log_format[pos:])
    return parts


def _append_literal(parts: list[str | _Part], log_format: str, text: str) -> None:
    if "%" in text:
        raise ValueError(f"Unknown directive in access log format {log_format!r}")
    if text:
        parts.append(text)


class AccessLogger(AbstractAccessLogger):
    """Formats one line per response from a compiled ``access_log_format``."""

    LOG_FORMAT = '%a %t "%r" %s %b "%{Referer}i" "%{User-Agent}i"'

    def __init__(self, logger: logging.Logger, log_format: str = LOG_FORMAT) -> None:
        super().__init__(logger, log_format)
        self._parts = compile_format(log_format)

    @property
    def enabled(self) -> bool:
        """True when the logger would emit an INFO record."""
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Emit the formatted line at INFO; a failing directive is logged, not raised."""
        try:
            line = "".join(
                part if isinstance(part, str) else part(request, response, time)
                for part in self._parts
            )
            self.logger.info(line)
        except Exception:
            self.logger.exception("Error in logging")


