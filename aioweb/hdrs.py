"""HTTP header and method name constants.

Header names are ``multidict.istr`` so lookups in a ``CIMultiDict`` skip the
case-folding step; method names are plain upper-case ``str``.
"""

from typing import Final

from multidict import istr

METH_ANY: Final[str] = "*"
METH_CONNECT: Final[str] = "CONNECT"
METH_HEAD: Final[str] = "HEAD"
METH_GET: Final[str] = "GET"
METH_DELETE: Final[str] = "DELETE"
METH_OPTIONS: Final[str] = "OPTIONS"
METH_PATCH: Final[str] = "PATCH"
METH_POST: Final[str] = "POST"
METH_PUT: Final[str] = "PUT"
METH_TRACE: Final[str] = "TRACE"

METH_ALL: Final[frozenset[str]] = frozenset(
    {
        METH_CONNECT,
        METH_HEAD,
        METH_GET,
        METH_DELETE,
        METH_OPTIONS,
        METH_PATCH,
        METH_POST,
        METH_PUT,
        METH_TRACE,
    }
)

ACCEPT: Final = istr("Accept")
ACCEPT_CHARSET: Final = istr("Accept-Charset")
ACCEPT_ENCODING: Final = istr("Accept-Encoding")
ACCEPT_LANGUAGE: Final = istr("Accept-Language")
ACCEPT_RANGES: Final = istr("Accept-Ranges")
ACCESS_CONTROL_MAX_AGE: Final = istr("Access-Control-Max-Age")
ACCESS_CONTROL_ALLOW_CREDENTIALS: Final = istr("Access-Control-Allow-Credentials")
ACCESS_CONTROL_ALLOW_HEADERS: Final = istr("Access-Control-Allow-Headers")
ACCESS_CONTROL_ALLOW_METHODS: Final = istr("Access-Control-Allow-Methods")
ACCESS_CONTROL_ALLOW_ORIGIN: Final = istr("Access-Control-Allow-Origin")
ACCESS_CONTROL_EXPOSE_HEADERS: Final = istr("Access-Control-Expose-Headers")
ACCESS_CONTROL_REQUEST_HEADERS: Final = istr("Access-Control-Request-Headers")
ACCESS_CONTROL_REQUEST_METHOD: Final = istr("Access-Control-Request-Method")
AGE: Final = istr("Age")
ALLOW: Final = istr("Allow")
AUTHORIZATION: Final = istr("Authorization")
CACHE_CONTROL: Final = istr("Cache-Control")
CONNECTION: Final = istr("Connection")
CONTENT_DISPOSITION: Final = istr("Content-Disposition")
CONTENT_ENCODING: Final = istr("Content-Encoding")
CONTENT_LANGUAGE: Final = istr("Content-Language")
CONTENT_LENGTH: Final = istr("Content-Length")
CONTENT_LOCATION: Final = istr("Content-Location")
CONTENT_MD5: Final = istr("Content-MD5")
CONTENT_RANGE: Final = istr("Content-Range")
CONTENT_TRANSFER_ENCODING: Final = istr("Content-Transfer-Encoding")
CONTENT_TYPE: Final = istr("Content-Type")
COOKIE: Final = istr("Cookie")
DATE: Final = istr("Date")
DESTINATION: Final = istr("Destination")
DIGEST: Final = istr("Digest")
ETAG: Final = istr("Etag")
EXPECT: Final = istr("Expect")
EXPIRES: Final = istr("Expires")
FORWARDED: Final = istr("Forwarded")
FROM: Final = istr("From")
HOST: Final = istr("Host")
IF_MATCH: Final = istr("If-Match")
IF_MODIFIED_SINCE: Final = istr("If-Modified-Since")
IF_NONE_MATCH: Final = istr("If-None-Match")
IF_RANGE: Final = istr("If-Range")
IF_UNMODIFIED_SINCE: Final = istr("If-Unmodified-Since")
KEEP_ALIVE: Final = istr("Keep-Alive")
LAST_EVENT_ID: Final = istr("Last-Event-ID")
LAST_MODIFIED: Final = istr("Last-Modified")
LINK: Final = istr("Link")
LOCATION: Final = istr("Location")
MAX_FORWARDS: Final = istr("Max-Forwards")
ORIGIN: Final = istr("Origin")
PRAGMA: Final = istr("Pragma")
PROXY_AUTHENTICATE: Final = istr("Proxy-Authenticate")
PROXY_AUTHORIZATION: Final = istr("Proxy-Authorization")
RANGE: Final = istr("Range")
REFERER: Final = istr("Referer")
RETRY_AFTER: Final = istr("Retry-After")
SEC_WEBSOCKET_ACCEPT: Final = istr("Sec-WebSocket-Accept")
SEC_WEBSOCKET_VERSION: Final = istr("Sec-WebSocket-Version")
SEC_WEBSOCKET_PROTOCOL: Final = istr("Sec-WebSocket-Protocol")
SEC_WEBSOCKET_EXTENSIONS: Final = istr("Sec-WebSocket-Extensions")
SEC_WEBSOCKET_KEY: Final = istr("Sec-WebSocket-Key")
SEC_WEBSOCKET_KEY1: Final = istr("Sec-WebSocket-Key1")
SERVER: Final = istr("Server")
SET_COOKIE: Final = istr("Set-Cookie")
TE: Final = istr("TE")
TRAILER: Final = istr("Trailer")
TRANSFER_ENCODING: Final = istr("Transfer-Encoding")
UPGRADE: Final = istr("Upgrade")
URI: Final = istr("URI")
USER_AGENT: Final = istr("User-Agent")
VARY: Final = istr("Vary")
VIA: Final = istr("Via")
WANT_DIGEST: Final = istr("Want-Digest")
WARNING: Final = istr("Warning")
WWW_AUTHENTICATE: Final = istr("WWW-Authenticate")
X_FORWARDED_FOR: Final = istr("X-Forwarded-For")
X_FORWARDED_HOST: Final = istr("X-Forwarded-Host")
X_FORWARDED_PROTO: Final = istr("X-Forwarded-Proto")
