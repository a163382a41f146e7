"""glibc heap tuning: keep freed request buffers for reuse instead of trimming.

Why. A request with a 64 KiB body needs a few buffers of that size (the
socket read, the parsed body, the response). With glibc's defaults, freeing
them leaves more than 128 KiB free at the top of the heap, glibc returns it
to the kernel (``M_TRIM_THRESHOLD``), and the next request faults the same
pages back in: 14 minor page faults per 64 KiB echo under 64 connections,
and about half the throughput (bench/RESULTS.md). Raising the trim threshold
to 32 MiB and fixing the mmap threshold at 1 MiB removes those faults. (8 MiB
was enough at 64 connections, not at 256, where 64 KiB echoes still took 15
faults per request and ran a third slower.)

What is guaranteed. ``tune_heap()`` runs its ``mallopt`` calls at most once
per process and only with glibc; the cost is that up to 32 MiB of freed
memory stays mapped. It does nothing when ``AIOWEB_NO_HEAP_TUNING`` is set
or when the process was started with glibc's own ``MALLOC_TRIM_THRESHOLD_``
or ``MALLOC_MMAP_THRESHOLD_`` (the operator's choice wins).
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ("tune_heap",)

TRIM_THRESHOLD = 32 * 1024 * 1024
MMAP_THRESHOLD = 1024 * 1024
_M_TRIM_THRESHOLD = -1  # from glibc's <malloc.h>
_M_MMAP_THRESHOLD = -3
_OPERATOR_SETTINGS = ("AIOWEB_NO_HEAP_TUNING", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")

_tuned: bool | None = None


def tune_heap() -> bool:
    """Apply the thresholds once; True if this process's heap is tuned."""
    global _tuned
    if _tuned is None:
        _tuned = _apply()
    return _tuned


def _apply() -> bool:
    if not sys.platform.startswith("linux") or any(map(os.environ.get, _OPERATOR_SETTINGS)):
        return False
    try:
        libc = ctypes.CDLL(None)
        if not hasattr(libc, "gnu_get_libc_version"):  # musl and others
            return False
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
