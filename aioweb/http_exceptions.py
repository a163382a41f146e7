"""Protocol-level errors raised while reading a request.

Each carries the status the server answers with and whether the connection
can still be trusted afterwards (it never can once framing is in doubt).
"""


class HttpProcessingError(Exception):
    """Base for errors found in the bytes a client sent."""

    code: int = 400
    message: str = "Bad Request"

    def __init__(self, message: str = "", *, code: int | None = None) -> None:
        if code is not None:
            self.code = code
        self.message = message or self.message
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__}: {self.code}, message={self.message!r}>"


class BadHttpMessage(HttpProcessingError):
    """Malformed request line, headers or body framing: 400."""

    code = 400
    message = "Bad Request"


class BadStatusLine(BadHttpMessage):
    """The request line could not be parsed."""


class InvalidHeader(BadHttpMessage):
    """A header is malformed or not allowed in this position."""


class TransferEncodingError(BadHttpMessage):
    """Transfer-Encoding is malformed, unsupported or conflicts with Content-Length."""


class ContentLengthError(BadHttpMessage):
    """Content-Length is malformed, duplicated or disagrees with the body."""


class LineTooLong(HttpProcessingError):
    """The request line (method, target, version) exceeds the limit: 414."""

    code = 414
    message = "Request-URI Too Long"


class HeadersTooLarge(HttpProcessingError):
    """The header block is too large or has too many fields: 431."""

    code = 431
    message = "Request Header Fields Too Large"


class PayloadTooLarge(HttpProcessingError):
    """The body exceeds the configured maximum: 413."""

    code = 413
    message = "Request Entity Too Large"


class VersionNotSupported(HttpProcessingError):
    """The request speaks an HTTP version other than 1.0 or 1.1: 505."""

    code = 505
    message = "HTTP Version Not Supported"
