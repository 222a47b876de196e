"""Keep freed tensor memory for the next tile instead of handing it back to the kernel.

Every tile allocates and frees the same few full-resolution buffers (about 100 MB
each for a 1024 px tile). glibc serves blocks over its mmap threshold (32 MB at
most by default) straight from the kernel and unmaps them when freed, so each
buffer of each tile costs fresh zero-filled pages: a 2048 px stylize took a
million page faults and 4 of its 25 CPU-seconds in the kernel. With the
thresholds raised for the duration of a run, freed blocks stay in the heap and
are reused (170 thousand faults, 0.9 s); at the end the heap is trimmed, so a
long-lived worker gives the memory back. Other C libraries are left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_M_TRIM_THRESHOLD = -1  # mallopt parameters from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_KEEP_BYTES = 128 << 20  # tile buffers come from the heap; whole-image arrays stay mmapped
_NEVER_TRIM = (1 << 31) - 1  # the largest C int: freeing never shrinks the heap by itself


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _glibc()


@contextmanager
def reuse_freed_memory(enabled: bool = True) -> Iterator[None]:
    """Within the block freed big blocks are kept for reuse; afterwards the heap is trimmed.

    Off (``enabled`` False) for the small tiles of huge images: glibc already reuses
    blocks that small, and kept blocks would raise the peak an 8K texture is held to.
    """
    if _LIBC is None or not enabled:
        yield
        return
    _LIBC.mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES)
    _LIBC.mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM)
    try:
        yield
    finally:
        _LIBC.malloc_trim(0)
