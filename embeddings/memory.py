"""Keep a serving process's private memory flat under concurrent questions.

Each search at a million passages allocates a few large temporary arrays (a 4 MB score per
passage, candidate positions). glibc raises its mmap threshold after the first such array is
freed, so later ones come from the heap, and every thread that asks gets its own heap arena
(up to 8 per core), each keeping freed memory for reuse: with 8 asking threads that held
~270 MB more private memory at 1M passages (bench/speed.py). Two arenas are plenty for a
process whose answers run at most one per core (bot.answer), and bring it back to ~280 MB.
(A fixed mmap threshold would return the arrays too, but page-faulting them in again made
each search 15 ms slower.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

_M_ARENA_MAX = -8
_done = False


def tune_malloc(arenas: int = 2) -> bool:
    """Apply the settings once per process (glibc only; elsewhere it does nothing)."""
    global _done
    if _done:
        return True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(_M_ARENA_MAX, arenas))
    _done = ok
    if not ok:
        log.debug("mallopt refused the serving memory settings")
    return ok
