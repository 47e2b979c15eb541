"""The cyclic garbage collector around the fleet: paused for bursts of allocations, kept off the long-lived heap.

`gc_paused`: the console's refresh (on the Prometheus source's thread) and the table's load of a whole fleet
(on the UI's thread) both make tens of thousands of objects at once. The collector is the process's, not a
thread's: a holder that switched it back on when it was done would switch it on under the other one too, so
the holders are counted and the last to leave switches it on.

`settle` after each refresh (`RefreshHeap` wraps both), `full_pass` now and then (when `FullPasses` says):
what lives is frozen out of the collector's sight, and handed back to it for one pass at a time the operator
is not typing.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
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


# the collector's work on the frozen heap (settle, full_pass) from either thread, one at a time: the source's
# thread settles after each refresh while the UI's thread may be running the full pass
_heap_lock = threading.Lock()


def settle(*, collect: bool = True) -> None:
    """After a refresh: collect the young garbage (`collect`), then move everything that lives out of the
    collector's sight.

    The fleet is hundreds of thousands of long-lived objects; each full pass of the collector walked them all
    with the interpreter lock held (56-102 ms stalls of the UI at 10,000 hosts, measured). Frozen (gc.freeze)
    they are still freed by reference counting when a refresh replaces them; only garbage in cycles that was
    alive when frozen stays until the next `full_pass`. Young garbage frozen uncollected stays as well: after
    the first refresh, whose pass is the longest (63-86 ms at 50,000 hosts, half down), that left the console
    31-75 MiB larger at its peak (50,000 healthy hosts, measured); see `RefreshHeap` for the refreshes after it.
    """
    with _heap_lock:
        if collect:
            gc.collect(1)
        gc.freeze()


class RefreshHeap:
    """The collector around the console's refreshes (`around`): paused during each (gc_paused), and what lives
    after it frozen (settle); the young garbage is collected after the first refresh only.

    Why not after every refresh: a refresh's young objects are nearly all the fleet it just read, and the
    collection walked every one of them with the interpreter lock held (9.7 ms a refresh, median of 20, at
    50,000 hosts half down, against 0.0 ms to freeze them), while the garbage in cycles among them was about
    200 objects a refresh (4,220 found by a full pass after 20 refreshes frozen uncollected, measured live, the
    same peak RSS). Frozen, those stay until the console's next `full_pass` (at most twenty minutes)."""

    def __init__(self) -> None:
        self.refreshes = 0  # settled so far

    @contextlib.contextmanager
    def around(self) -> Iterator[None]:
        """One refresh: the collector paused; once it is done (not when it fails), its heap settled."""
        with gc_paused():
            yield
            settle(collect=self.refreshes == 0)
            self.refreshes += 1


def full_pass() -> None:
    """Hand the whole heap back to the collector for one full pass, then freeze what lives again.

    It reclaims the cyclic garbage frozen by `settle`: rendered lines and their caches (Textual's Strip and
    FIFOCache) that were on screen when a refresh settled and were replaced since. With a key every 50 ms that
    was 40,868 objects (4.1 MB without what they hold) after 120 s at 10,000 hosts, measured. The pass holds
    the interpreter lock while it walks every object: 151 ms at 10,000 hosts half down, 128 ms at 50,000
    (measured after 40 s of keys), so the console runs it at a pause in the typing (FullPasses)."""
    with _heap_lock:
        gc.unfreeze()
        gc.collect()
        gc.freeze()


class FullPasses:
    """When the console runs `full_pass`: once `every` seconds have passed since the last one (or the start),
    at the first pause of `idle` seconds in the operator's input, so the pass does not hold back a key; after
    twice `every`, whatever the input (a console driven without pause still gets its garbage back). Ten
    minutes: what settling leaves for it grows with every refresh and key (about 12,000 objects a minute with
    a key every 50 ms, measured), and the pass costs about the same whenever it runs.

    Times are `time.monotonic()` seconds; the app reports input (`input`) and asks (`due`) every second."""

    def __init__(self, every: float = 600.0, idle: float = 5.0, now: float | None = None) -> None:
        start = time.monotonic() if now is None else now
        self.every, self.idle = every, idle
        self.last_input = self.last_pass = start
        self.passes = 0

    def input(self, now: float) -> None:
        self.last_input = now

    def due(self, now: float) -> bool:
        since = now - self.last_pass
        return since >= self.every and (now - self.last_input >= self.idle or since >= 2 * self.every)

    def ran(self, now: float) -> None:
        self.last_pass = now
        self.passes += 1
