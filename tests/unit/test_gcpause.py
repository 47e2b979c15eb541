"""The collector's frozen heap: settling after a refresh, the full pass, and when the console runs it."""

from __future__ import annotations

import gc
import weakref

from fleetui.gcpause import FullPasses, RefreshHeap, full_pass, settle


class Ring:
    """An object in a reference cycle: only the cyclic collector can free it."""

    def __init__(self) -> None:
        self.me = self


def test_settled_cyclic_garbage_stays_until_the_full_pass() -> None:
    ring = Ring()
    alive = weakref.ref(ring)
    settle()  # alive when frozen
    try:
        del ring
        gc.collect()
        assert alive() is not None  # out of the collector's sight
        full_pass()
        assert alive() is None
    finally:
        gc.unfreeze()


def test_a_pass_waits_for_an_hour_then_for_a_pause_in_the_input() -> None:
    passes = FullPasses(every=3600.0, idle=5.0, now=0.0)
    assert not passes.due(3599.0)
    passes.input(3598.0)
    assert not passes.due(3600.0)  # a key two seconds ago
    assert not passes.due(3602.9)
    assert passes.due(3603.0)  # five seconds without one
    passes.ran(3603.0)
    assert not passes.due(3700.0) and passes.passes == 1


def test_a_pass_runs_after_two_hours_whatever_the_input() -> None:
    passes = FullPasses(every=3600.0, idle=5.0, now=0.0)
    for t in range(3600, 7200, 4):
        passes.input(float(t))
        assert not passes.due(t + 1.0)
    passes.input(7199.0)
    assert passes.due(7200.0)


def test_the_first_refresh_collects_its_garbage_and_later_ones_freeze_theirs() -> None:
    """RefreshHeap: the first refresh's cyclic garbage is collected when it is settled; a later refresh's is
    frozen with what lives (until the full pass); a refresh that fails is not settled at all."""
    heap = RefreshHeap()
    try:
        with heap.around():
            first = weakref.ref(Ring())
            assert not gc.isenabled()  # paused during the refresh
        assert gc.isenabled() and first() is None  # collected when settled
        with heap.around():
            later = weakref.ref(Ring())
        gc.collect()
        assert later() is not None  # frozen, out of the collector's sight
        full_pass()
        assert later() is None
        frozen = gc.get_freeze_count()
        try:
            with heap.around():
                Ring()
                raise TimeoutError
        except TimeoutError:
            pass
        assert gc.get_freeze_count() == frozen and heap.refreshes == 2  # a failed refresh: nothing settled
    finally:
        gc.unfreeze()
