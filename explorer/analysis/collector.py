"""Pausing Python's cyclic garbage collector while the model is built, and giving back what
building it freed.

Stacking a layer makes 100,000s of objects and no garbage cycles, but each burst of
allocations sets off collections that walk every object made so far: half the time of
stacking a 117,000-file image went there. Reference counting still frees everything
while the collector is paused.
"""

from __future__ import annotations

import gc


class collector_paused:  # noqa: N801 (used as a function: `with collector_paused():`)
    """Run a block with the cyclic collector off (and back on after, if it was on). A class,
    not a generator: it is entered once per layer stacked, 50,000 times on some images."""

    __slots__ = ("enabled",)

    def __enter__(self) -> None:
        self.enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            gc.enable()


_libc: list = []  # glibc, once looked up (None elsewhere)
M_MMAP_THRESHOLD = -3  # mallopt's parameter
BIG_BLOCK = 128 << 10  # glibc's default bound for a block of its own mapping


def _glibc():  # noqa: ANN202 (a ctypes library)
    if not _libc:
        import ctypes  # 2-15 ms to import: only for a big model

        try:
            libc = ctypes.CDLL(None)
            _libc.append(libc if libc.malloc_trim and libc.mallopt else None)
        except (AttributeError, OSError):  # not glibc
            _libc.append(None)
    return _libc[0]


def release_freed() -> None:
    """Hand the C heap's free pages back to the system, and keep big blocks apart from now on
    (`big_blocks_apart`). Stacking a big layer frees its packed rows and its bookkeeping (10s of
    MB in blocks of 100s of KB, between blocks still in use), which the heap would otherwise
    keep: on a million entries, 50 MB of the peak."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, BIG_BLOCK)
        libc.malloc_trim(0)


def big_blocks_apart() -> None:
    """Give every block of `BIG_BLOCK` or more (packed rows, the tables of big dicts, long
    lists) a mapping of its own, returned to the system when freed. glibc starts so, but
    raises that bound to the size of each such block freed, and then serves them from its heap,
    where what they leave between blocks still in use stays with the process: on a million
    entries, 0-15 MB of the peak, as the order the layers arrived in would have it."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, BIG_BLOCK)
