# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: auto_pickle=False, binding=False
"""Compiled ``RequestParser``: the contract of ``aioweb._http_parser``, cheaper.

``aioweb._http_parser`` is the reference. Its docstring states the theory of
operation (limits, strict framing, the stall counter, trailers); this class
keeps it exactly: the same exceptions with the same messages and statuses,
the same ``RawRequestMessage`` class with the same attribute values and
types, the same sink calls. The tests run every case against both classes.

Cost (callgrind, Python 3.11, a 3-line GET into a no-op sink): ~8,600
instructions per request against ~22,000 for the pure class; httptools alone,
with empty Python callbacks, takes ~6,600. Where the difference comes from:

* llhttp's callbacks are ``def`` methods of a ``cdef class``: httptools calls
  them as C functions, without a Python frame, and every field is a C slot.
* Header names are compared in C, case-insensitively, after a length test.
* Methods of httptools' parser and of the sink are looked up per call, as
  in the pure class: caching eight bound methods per parser cost 650 bytes
  on every idle connection (bench/idle_memory.py) to save about 1,000
  instructions per request.
* ``RawRequestMessage`` is filled without running its Python ``__init__``
  (``_new_message``): ~1,900 instructions less per request.
* ``get_http_version`` formats a new string (~2,300 instructions), so it is
  asked only when llhttp's keep-alive answer does not already settle the
  version (``_version``).

The limits are C integers (``Py_ssize_t``) here; the pure class would also
take other numbers, which nothing passes.

This module imports ``aioweb._http_parser``, which imports it back at its
end; either order works because Cython puts the ``cdef class`` on the module
before running the module body.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.list cimport PyList_AsTuple, PyList_GET_SIZE
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF

from types import MemberDescriptorType

from httptools import HttpParserError, HttpParserUpgrade, HttpRequestParser

from .http_exceptions import (
    BadHttpMessage,
    HeadersTooLarge,
    LineTooLong,
    TransferEncodingError,
    VersionNotSupported,
)
from ._http_parser import _METHODS, _VERSIONS, RawRequestMessage, UpgradeRequest

cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
        int flags
    int T_OBJECT_EX
    int READONLY

cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    object PyType_GenericAlloc(PyTypeObject* tp, Py_ssize_t nitems)
    int PyList_SetSlice(object lst, Py_ssize_t low, Py_ssize_t high, PyObject* items) except -1


cdef tuple _V11 = _VERSIONS["1.1"]
cdef tuple _V10 = _VERSIONS["1.0"]
# The _METHODS table as (bytes, str) pairs, GET first: a few length-checked
# compares cost less than hashing the new bytes object for a dict lookup.
cdef tuple _METHOD_PAIRS = tuple(_METHODS.items())


cdef inline int _clear(list items) except -1:
    """``items.clear()`` without a method lookup or a slice object."""
    return PyList_SetSlice(items, 0, PyList_GET_SIZE(items), NULL)


cdef object _method_name(bytes raw):
    """``_METHODS.get(raw) or raw.decode("ascii", "surrogateescape")``."""
    cdef tuple pair
    for pair in _METHOD_PAIRS:
        if <bytes>pair[0] == raw:
            return pair[1]
    return raw.decode("ascii", "surrogateescape")


# -- RawRequestMessage without its Python __init__ --
#
# The class is a plain slotted class whose __init__ only assigns its nine
# arguments. At import we read each slot's offset from its member descriptor;
# per message we allocate an instance (as object.__new__ would) and store each
# value the way the descriptor's setter does on an empty slot (INCREF, store).
# If the class stops matching that shape, _FAST_MESSAGE is False and the class
# is called normally.

_MESSAGE_FIELDS = (
    "method",
    "path",
    "version",
    "raw_headers",
    "should_close",
    "upgrade",
    "chunked",
    "content_length",
    "expect",
)
cdef Py_ssize_t[9] _OFFSETS
cdef object _Message = RawRequestMessage


cdef bint _plan_message() except -1:
    cdef PyMemberDef* member
    cls = _Message
    if type(cls) is not type or cls.__new__ is not object.__new__:
        return False
    if tuple(cls.__slots__) != _MESSAGE_FIELDS or cls.__dictoffset__ or cls.__weakrefoffset__:
        return False
    for i, name in enumerate(_MESSAGE_FIELDS):
        descr = cls.__dict__.get(name)
        if type(descr) is not MemberDescriptorType:
            return False
        member = (<PyMemberDescrObject*>descr).d_member
        if member.type != T_OBJECT_EX or member.flags & READONLY:
            return False
        if not sizeof(PyObject) <= member.offset <= cls.__basicsize__ - sizeof(PyObject*):
            return False
        _OFFSETS[i] = member.offset
    return True


cdef bint _FAST_MESSAGE = _plan_message()
# For the tests: a change to RawRequestMessage that turns the fast path off
# should be a decision, not an accident.
MESSAGE_FAST_PATH = _FAST_MESSAGE


cdef inline void _put(PyObject* obj, int i, object value) noexcept:
    Py_INCREF(value)
    (<PyObject**>((<char*>obj) + _OFFSETS[i]))[0] = <PyObject*>value


cdef object _new_message(
    method, path, version, raw_headers, should_close, upgrade, chunked, content_length, expect
):
    if not _FAST_MESSAGE:
        return _Message(
            method, path, version, raw_headers, should_close, upgrade, chunked,
            content_length, expect,
        )
    msg = PyType_GenericAlloc(<PyTypeObject*>_Message, 0)
    cdef PyObject* p = <PyObject*>msg
    _put(p, 0, method)
    _put(p, 1, path)
    _put(p, 2, version)
    _put(p, 3, raw_headers)
    _put(p, 4, should_close)
    _put(p, 5, upgrade)
    _put(p, 6, chunked)
    _put(p, 7, content_length)
    _put(p, 8, expect)
    return msg


cdef inline bint _name_is(bytes name, const char* lower, Py_ssize_t n) noexcept:
    """``name.lower() == lower`` for a ``name`` already known to be ``n`` bytes."""
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(name)
    cdef Py_ssize_t i
    cdef unsigned char c
    for i in range(n):
        c = p[i]
        if 65 <= c <= 90:  # ASCII A-Z only, as bytes.lower()
            c += 32
        if c != <unsigned char>lower[i]:
            return False
    return True


cdef object _translate(exc):
    text = str(exc) or "Malformed request"
    if "Transfer-Encoding" in text:
        return TransferEncodingError(text)
    if "HTTP version" in text:
        return VersionNotSupported(text)
    return BadHttpMessage(text)


cdef class RequestParser:
    """Feeds bytes to llhttp and reports complete heads, body bytes and ends.

    The compiled twin of ``aioweb._http_parser.PyRequestParser``: same
    constructor, limits, errors and sink calls (see that class).
    """

    cdef object _sink
    cdef object _parser
    cdef bytes _url
    cdef list _headers
    cdef Py_ssize_t _head_size
    cdef bint _in_head
    cdef bint _progress
    cdef Py_ssize_t _stalled
    cdef Py_ssize_t _stall_limit
    cdef object _error
    cdef bint _chunked
    cdef bint _te_bad
    cdef bint _connection_field
    cdef object _content_length
    cdef object _expect
    cdef public Py_ssize_t max_line_size
    cdef public Py_ssize_t max_field_size
    cdef public Py_ssize_t max_headers
    cdef public Py_ssize_t max_head_size

    def __cinit__(self):
        # The callbacks read these with C macros: typed, never None, even on
        # an instance whose __init__ was skipped.
        self._url = b""
        self._headers = []

    def __init__(
        self,
        sink,
        *,
        Py_ssize_t max_line_size=8190,
        Py_ssize_t max_field_size=8190,
        Py_ssize_t max_headers=128,
        Py_ssize_t max_head_size=65536,
    ):
        self._sink = sink
        parser = HttpRequestParser(self)
        self._parser = parser
        self.max_line_size = max_line_size
        self.max_field_size = max_field_size
        self.max_headers = max_headers
        self.max_head_size = max_head_size
        self._in_head = False
        self._progress = False
        self._stalled = 0
        # The raw size of the largest head the field limits allow.
        self._stall_limit = max_head_size + max_line_size + 4 * max_headers + 32
        self._error = None
        self._reset()

    cdef int _reset(self) except -1:
        self._url = b""
        if PyList_GET_SIZE(self._headers):  # left by a head that failed
            _clear(self._headers)
        self._head_size = 0
        self._chunked = False
        self._te_bad = False
        self._connection_field = False
        self._content_length = None
        self._expect = None

    @property
    def in_head(self):
        """True between the first byte of a request and its headers-complete."""
        return self._in_head

    def feed(self, data):
        """Parse ``data``; raise ``HttpProcessingError`` or ``UpgradeRequest``."""
        self._progress = False
        try:
            self._parser.feed_data(data)
        except HttpParserUpgrade as exc:
            args = exc.args
            offset = args[0] if args and isinstance(args[0], int) else len(data)
            raise UpgradeRequest(data[offset:]) from None
        except HttpParserError as exc:
            if self._error is not None:
                raise self._error from None
            raise _translate(exc) from None
        # See aioweb._http_parser: bounds what llhttp buffers for an open line.
        if self._progress:
            self._stalled = 0
        else:
            self._stalled += len(data)
            if self._stalled > self._stall_limit:
                raise HeadersTooLarge("Header line is too large")

    cdef int _fail(self, error) except -1:
        self._error = error
        raise error

    cdef object _version(self, bint keep_alive):
        # llhttp answers keep-alive for a request as: HTTP/x.y with x > 0 and
        # y > 0 unless a Connection field said "close"; otherwise only if a
        # Connection field said "keep-alive". Its strict parser accepts only
        # 0.9, 1.0, 1.1 and 2.0. So keep-alive with no Connection (or
        # Proxy-Connection, which llhttp reads alike) field means HTTP/1.1,
        # without formatting a version string. tests/test__http_parser.py
        # checks this against get_http_version for every version x.y.
        if keep_alive and not self._connection_field:
            return _V11
        text = self._parser.get_http_version()
        if text == "1.1":
            return _V11
        if text == "1.0":
            return _V10
        self._fail(VersionNotSupported(f"HTTP/{text} is not supported"))

    # -- httptools callbacks: only accumulate, never build --

    def on_message_begin(self):
        self._in_head = True
        self._error = None
        self._reset()

    def on_url(self, bytes url not None):
        if PyBytes_GET_SIZE(self._url) == 0:
            self._url = url
        else:
            self._url += url
        if PyBytes_GET_SIZE(self._url) > self.max_line_size:
            self._fail(LineTooLong(f"Request target is longer than {self.max_line_size} bytes"))

    def on_header(self, bytes name not None, bytes value not None):
        # As in the pure class: two size checks and one append per field; a
        # completed field is not progress for the stall counter.
        cdef Py_ssize_t n = PyBytes_GET_SIZE(name)
        cdef Py_ssize_t size = n + PyBytes_GET_SIZE(value)
        self._head_size += size
        if size > self.max_field_size:
            self._fail(HeadersTooLarge(f"Header field is longer than {self.max_field_size} bytes"))
        if self._head_size > self.max_head_size:
            self._fail(HeadersTooLarge("Header block is too large"))
        self._headers.append((name, value))
        if n == 17 and _name_is(name, b"transfer-encoding", 17):
            if value.strip().lower() == b"chunked" and not self._chunked:
                self._chunked = True
            else:
                self._te_bad = True
        elif n == 14 and _name_is(name, b"content-length", 14):
            self._content_length = int(value)
        elif n == 6 and _name_is(name, b"expect", 6):
            self._expect = value
        elif (n == 10 and _name_is(name, b"connection", 10)) or (
            n == 16 and _name_is(name, b"proxy-connection", 16)
        ):
            self._connection_field = True

    def on_headers_complete(self):
        self._in_head = False
        self._progress = True
        if PyList_GET_SIZE(self._headers) > self.max_headers:
            self._fail(HeadersTooLarge(f"More than {self.max_headers} header fields"))
        keep_alive = self._parser.should_keep_alive()
        version = self._version(keep_alive is True)
        if self._te_bad:
            self._fail(TransferEncodingError("Only 'Transfer-Encoding: chunked' is accepted"))
        if self._chunked and version is _V10:
            # RFC 9112 6.1: HTTP/1.0 framing with Transfer-Encoding is faulty.
            self._fail(TransferEncodingError("Transfer-Encoding is not allowed in HTTP/1.0"))
        message = _new_message(
            _method_name(self._parser.get_method()),
            self._url.decode("utf-8", "surrogateescape"),
            version,
            PyList_AsTuple(self._headers),
            not keep_alive,
            self._parser.should_upgrade(),
            self._chunked,
            self._content_length,
            self._expect,
        )
        # The message holds the fields now: an idle connection keeps none.
        self._url = b""
        _clear(self._headers)
        self._sink.on_head(message)

    def on_body(self, body):
        self._progress = True
        self._sink.on_body(body)

    def on_message_complete(self):
        if self._chunked or self._content_length:  # a message without a body ends at on_head
            self._sink.on_message_complete()
