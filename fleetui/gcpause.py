"""The cyclic garbage collector paused for a burst of allocations, by any thread, counted.

The console's refresh (on the Prometheus source's thread) and the table's load of a whole fleet (on the UI's
thread) both make tens of thousands of objects at once. The collector is the process's, not a thread's: a
holder that switched it back on when it was done would switch it on under the other one too, so the holders
are counted and the last to leave switches it on.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_holders = 0


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Run a burst of allocations without the cyclic garbage collector.

    A refresh makes hundreds of thousands of small objects that all live; every few hundred of them the
    collector would walk the ever larger heap, so its cost grows faster than the fleet (measured). Reference
    counting still frees everything acyclic; the collector runs again as soon as the last holder leaves.
    """
    global _holders
    with _lock:
        if _holders == 0 and not gc.isenabled():
            outside = True
        else:
            outside = False
            _holders += 1
            gc.disable()
    try:
        yield
    finally:
        if not outside:
            with _lock:
                _holders -= 1
                if _holders == 0:
                    gc.enable()
