"""Remembered last-seen times, and the bounded history look-ups that fill them in.

Why remember: the time a host was last seen is in Prometheus' history, and reading history costs in
proportion to how much of it there is (a day of 15 s samples for 50,000 series is 290 million samples). A
console that refreshes every 15 s already sees every live host's newest sample, so it only has to *keep*
what it saw: when a host stops being live, the newest sample it had is its last-seen time, up to one refresh
interval. `LastSeenBook` keeps that per instance, in memory and (see fleetui.adapters.lastseen_file) in the
state directory, so a restart loses nothing.

What is still read from history, never in the refresh itself, always in steps of at most `BATCH` instances
and `WINDOW` seconds (so no request's cost grows with the stored history or the fleet), newest first:

- *exact*: a host that newly went down or gone since a recent observation: its raw samples since then;
- *discover*: instances with data in a window but unknown to the book (hosts that went away before the
  console first ran, or while it was not running): one label-values request per window;
- *coarse*: where in a window an instance last had a successful sample, at one-minute resolution (or the
  recording rule's exact value), walking back window by window until found or past the look-back;
- *refine*: the exact sample time inside that minute, from raw samples of a ten-minute bucket.

The book decides; fleetui.adapters.prometheus runs the requests and hands back what they found. Hosts that
were already down or gone when last observed are never looked up again: their remembered time stands. (A
host that came up and went away again while no console ran keeps its older time; the recording rule of
`fleetui rules` does not have that gap.)
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import msgspec

from fleetui.domain.classify import Sample, _latest

WINDOW = 7200.0  # seconds of history one request reads, at most
BATCH = 1000  # instances per request, at most
EXACT_SPAN = 900.0  # a remembered time this recent is checked with one raw-sample request
BUCKET = 600.0  # refine: raw samples of one ten-minute bucket
_GRID = 600.0  # look-up windows end on multiples of this, so hosts found missing together share requests


class Remembered(msgspec.Struct, gc=False):
    """What the book knows of one instance.

    `last`: newest successful sample time known (None: not known yet); while the host is live, as of when it
    became live (the book's last observation holds its newest, copied here when it stops being live). `live`:
    the host was live (in an instant query and not a failing target) when last observed. `samples`: its
    series with their labels and last-seen values, as last observed (what classify gets as history once the
    host is no longer live).
    Not tracked by the cyclic garbage collector (it holds no cycle): one per host, as for reclassify's _Static.
    """

    last: float | None
    live: bool
    samples: tuple[Sample, ...] = ()


@dataclass(slots=True)
class _Lookup:
    cursor: float  # end of the next window to search
    floor: float  # never search before this
    exact: bool  # one raw-sample request from the remembered time to now settles it
    known: bool  # the instance is part of the fleet already (a down target, or remembered)


@dataclass(frozen=True)
class Step:
    """One history request to make. kind: exact | refine (raw samples in [start, end]), coarse, discover."""

    kind: str
    start: float
    end: float
    instances: tuple[str, ...] = ()


# what history() made of an entry: (last, samples) it was made from; its up and other samples; its samples
# with a positive value when they all name it (else None)
_Made = tuple[float, tuple[Sample, ...], tuple[Sample, ...], tuple[Sample, ...], list[Sample] | None]


def _make(inst: str, e: Remembered) -> _Made:
    """What history() makes of an entry with a time (see _Made): its up samples, the others (and one at its
    time when no sample has it), and those with a positive value when they all name it."""
    assert e.last is not None
    ups = tuple(smp for smp in e.samples if smp.branch == "up")
    others = tuple(smp for smp in e.samples if smp.branch != "up")
    if not e.samples or max(smp.value for smp in e.samples) < e.last:
        others += (Sample({"instance": inst}, e.last, "history"),)
    mine = [smp for smp in (*ups, *others) if smp.value > 0]
    own = all(smp.labels.get("instance") == inst for smp in mine)
    return (e.last, e.samples, ups, others, mine if own else None)


class History(Sequence[Sample]):
    """The book's history as of one refresh (see LastSeenBook.history): every entry's up samples, then the
    others, made into one list only when first read.

    Why: the classifier reads the book's grouping instead (LastSeenBook.history_grouped), and flattening
    25,000 entries again after any change (at 50,000 hosts half gone, entries leave the look-back window at
    most refreshes) was work for no reader."""

    __slots__ = ("_list", "_made")

    def __init__(self, made: Mapping[str, _Made]) -> None:
        self._made = made  # never changed afterwards: the book copies before it changes (see _made_now)
        self._list: list[Sample] | None = None

    def samples(self) -> list[Sample]:
        """The samples as one list (made once, the same list afterwards)."""
        if self._list is None:
            made = self._made.values()
            out = [smp for got in made for smp in got[2]]
            out += [smp for got in made for smp in got[3]]
            self._list = out
        return self._list

    @overload
    def __getitem__(self, i: int) -> Sample: ...

    @overload
    def __getitem__(self, i: slice) -> list[Sample]: ...

    def __getitem__(self, i: int | slice) -> Sample | list[Sample]:
        return self.samples()[i]

    def __len__(self) -> int:
        return len(self.samples())

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, History):
            other = other.samples()
        return self.samples() == other

    __hash__ = None  # type: ignore[assignment]  # a sequence compared by its samples, as a list is


@dataclass
class LastSeenBook:
    """Per-instance memory plus the queue of history look-ups still to do (see the module docstring)."""

    lookback: float
    entries: dict[str, Remembered] = field(default_factory=dict)
    observed_at: float | None = None  # the last refresh that updated the book
    frontier: float | None = None  # every instance with data in [frontier, observed_at] is in the book
    rule: bool = False  # the recording rule answers: coarse steps read it and need no refine
    lookups: dict[str, _Lookup] = field(default_factory=dict)
    _discover: list[tuple[float, float]] = field(default_factory=list)  # newest first
    _refine: list[Step] = field(default_factory=list)
    _coarse_found: dict[str, float] = field(default_factory=dict)
    _started: bool = False
    _inflight: set[str] = field(default_factory=set)  # instances of steps sent and not answered yet
    changed: bool = False  # something worth saving happened since the last save
    # history()'s last answer (None: to be made), and per instance what it was made from (last, samples) and
    # made (ups, others, own positive samples)
    _history: History | None = field(default=None, repr=False, compare=False)
    _made: dict[str, _Made] = field(default_factory=dict, repr=False, compare=False)
    # the same per instance, as the classifier groups it, and the instances whose samples name another one
    # (while there is any, the classifier gets no grouping: see history_grouped)
    _grouped: dict[str, list[Sample]] = field(default_factory=dict, repr=False, compare=False)
    _foreign: set[str] = field(default_factory=set, repr=False, compare=False)
    # the instances whose entry, or whether it is away, changed since history() last looked (None: every one,
    # as for a book just read from its file). Every change to an entry that is not live goes through this
    # module, which records it here: history() looks at these only, not at every entry on every refresh
    _touched: set[str] | None = field(default=None, repr=False, compare=False)
    # _forget's candidates: the entries not live with a time, as (time, instance) in time order, a time
    # replaced since left in until it comes up (None: to be made from the entries); and those to look at on
    # every refresh (no time, or out of the window and still looked up or down)
    _expiring: list[tuple[float, str]] | None = field(default=None, repr=False, compare=False)
    _held: set[str] = field(default_factory=set, repr=False, compare=False)
    # the last observed refresh's live instances and their newest sample times (None: none observed yet). A
    # live entry's `last` is brought up to date from it only when the instance stops being live (or is
    # saved): see observe
    _live: dict[str, float] | None = field(default=None, repr=False, compare=False)
    # the entries that are not live, by instance (what history() and _forget walk)
    _away: dict[str, Remembered] = field(default_factory=dict, repr=False, compare=False)

    # --- observing a refresh ------------------------------------------------------------------------------

    def observe(
        self,
        now: float,
        current: Mapping[str, float],
        down: Iterable[str],
        last_rows: Callable[[str], tuple[Sample, ...]] = lambda _inst: (),
    ) -> None:
        """Record one refresh: `current` maps each live instance to its newest sample time, `down` lists the
        instances of failing targets. What newly stopped being live keeps `last_rows(instance)` (its series
        as the previous refresh showed them) and gets a look-up scheduled. Live instances keep only their
        time: their labels are in every refresh anyway (and 50,000 copies of them cost 100 MiB)."""
        entries, away, before = self.entries, self._away, self._live
        down = set(down)
        # only the instances that were not live at the last observation need a look: a live one's time is
        # kept in `_live` until it stops being live (at 10,000 hosts a look at each was a millisecond and a
        # half of every refresh, for a time nothing reads while the host is live)
        # (most refreshes, the same instances as the last: compared in C, without the two sets of differences)
        same = before is not None and len(current) == len(before) and current.keys() == before.keys()
        for inst in current if before is None else () if same else sorted(current.keys() - before.keys()):
            newest = current[inst]
            e = entries.get(inst)
            if e is None:
                entries[inst] = Remembered(newest, True)
                self.changed = True
                continue
            if not e.live:
                self.changed = True
                e.live = True
                e.samples = ()
                away.pop(inst, None)
                self._touch(inst)
                self.lookups.pop(inst, None)
            if e.last is None or newest > e.last:
                e.last = newest
        for inst in down:
            if inst not in entries:
                # a failing target the book never saw up: where was it last seen? (unknown until looked up)
                entries[inst] = away[inst] = Remembered(None, False)
                self._touch(inst)
                self._schedule(inst, now, None)
                self.changed = True
        # live at the last observation and not now (at the first: every live entry, some may come from the
        # state file)
        if before is None:
            departed = [i for i, e in entries.items() if e.live and i not in current]
        else:
            departed = [] if same else sorted(before.keys() - current.keys())
        for inst in departed:
            e = entries[inst]
            if before is not None:
                e.last = _latest(e.last, before[inst])
            e.live = False
            e.samples = last_rows(inst)
            away[inst] = e
            self._touch(inst)
            self.changed = True
            self._schedule(inst, now, e.last)
        self._live = dict(current)
        if not self._started:
            # discovery for this run: the gap since the book's last observation, then what is older than
            # the part a previous run already covered (everything, when nothing is remembered)
            self._started = True
            previous, frontier = self.observed_at, self.frontier
            if previous is None or frontier is None:
                self._discover = self._windows(now - self.lookback, now)
            else:
                self._discover = self._windows(previous, now) + self._windows(now - self.lookback, frontier)
        self.observed_at = now
        self._forget(now, down)

    def _schedule(self, inst: str, now: float, last: float | None) -> None:
        floor = now - self.lookback
        if last is not None:
            floor = max(floor, last - 1.0)
        exact = last is not None and now - last <= EXACT_SPAN
        self.lookups[inst] = _Lookup(now if exact else _grid_up(now), floor, exact, known=True)

    def _windows(self, oldest: float, newest: float) -> list[tuple[float, float]]:
        out = []
        end = _grid_up(newest)
        oldest = max(oldest, newest - self.lookback)
        while end > oldest:
            out.append((max(end - WINDOW, oldest), end))
            end -= WINDOW
        return out

    def _forget(self, now: float, down: set[str]) -> None:
        """Drop what left the look-back window, and never-seen instances that are no longer failing targets
        (a failing target stays: forgetting it would look it up again on every refresh).

        Only the entries that may go are looked at: those whose time passed out of the window since (taken
        off `_expiring` in time order) and those `_held` (no time, or out of the window and still looked up
        or down). Walking every entry that is not live was about 5 ms a refresh at 50,000 hosts, half gone (a
        sampled profile of replayed refreshes), where departures spread over the day make one or another leave
        at most refreshes.
        """
        horizon = now - self.lookback
        away, lookups, held = self._away, self.lookups, self._held
        expiring = self._expiring
        if expiring is None or len(expiring) > 2 * len(away) + 1000:  # first, or mostly entries replaced since
            expiring = self._expiring = [(e.last, i) for i, e in away.items() if e.last is not None]
            heapq.heapify(expiring)
            held.update(i for i, e in away.items() if e.last is None)
        while expiring and expiring[0][0] < horizon:
            last, inst = heapq.heappop(expiring)
            e = away.get(inst)
            if e is not None and e.last == last:  # else a time replaced since, or an entry gone
                held.add(inst)
        stale = []
        for i in list(held):
            e = away.get(i)
            if e is None or (e.last is not None and e.last >= horizon):
                held.discard(i)  # live again, forgotten, or found in the window since
            elif i not in lookups and i not in down:
                stale.append(i)
        for i in stale:
            del self.entries[i], self._away[i]
            self._touch(i)
        if stale:
            self.changed = True

    def _touch(self, inst: str) -> None:
        """`inst`'s entry, or whether it is away, changed: history() looks at it again, and _forget knows
        when it may go."""
        if self._touched is not None:
            self._touched.add(inst)
        if self._expiring is not None:
            e = self._away.get(inst)
            if e is None:
                self._held.discard(inst)
            elif e.last is None:
                self._held.add(inst)
            else:
                heapq.heappush(self._expiring, (e.last, inst))

    # --- what classify gets -------------------------------------------------------------------------------

    def history(self) -> list[Sample]:
        """Remembered samples of every instance that is not live (down, gone): classify's history, the `up`
        branch first (the order classify merges labels in, so it need not sort them).

        Each instance's samples are the same objects while its entry is unchanged, and the list itself is the
        same object while no entry changed: the classifier then gives such gone hosts their previous rows
        without any work (fleetui.domain.reclassify), and in a fleet where many went away that is most hosts.
        """
        return self._made_now().samples()

    def _made_now(self) -> History:
        """history(), brought up to date with the entries touched since it last was (see _touched)."""
        touched, away = self._touched, self._away
        self._touched = set()
        changed = touched is None or self._history is None
        if touched is None:  # every entry: the first time, or a book just read from its file
            touched, made, grouped, foreign = set(away), {}, {}, set()
        elif not touched and self._history is not None:
            return self._history  # no entry changed: the very same one
        else:
            # copies: the classifier keeps the last grouping it was handed and compares the next with it, and a
            # History reads its entries when it is first read, so neither may change once handed out
            made, grouped, foreign = dict(self._made), dict(self._grouped), set(self._foreign)
        for inst in touched:
            e = away.get(inst)
            got = made.get(inst)
            if e is None or e.last is None:
                if got is not None:
                    del made[inst]
                    grouped.pop(inst, None)
                    foreign.discard(inst)
                    changed = True
                continue
            if got is not None and got[0] == e.last and got[1] is e.samples:
                continue  # touched, and back as it was made
            made[inst] = got = _make(inst, e)
            changed = True
            mine = got[4]
            if mine is None:
                foreign.add(inst)
            else:
                foreign.discard(inst)
            if mine:
                grouped[inst] = mine
            else:
                grouped.pop(inst, None)
        if not changed and self._history is not None:
            return self._history  # every one touched is back as it was made: the very same one
        self._made, self._grouped, self._foreign = made, grouped, foreign
        self._history = History(made)
        return self._history

    def history_grouped(self) -> tuple[Sequence[Sample], dict[str, list[Sample]] | None]:
        """`history()`, and the same grouped by instance as fleetui.domain.reclassify.by_instance(history,
        positive=True) groups it, each instance's list the same object while its entry is unchanged; None
        instead of the groups when a remembered sample names another instance than its entry's (then only
        the list says it right).

        Why: in a fleet whose departures are spread over the look-back, a few entries leave the window at
        every refresh, so the list is new every time, and grouping all of it again cost the console 30-50 ms
        per refresh at 50,000 hosts, half gone (measured with cProfile on a live refresh).
        """
        out = self._made_now()
        return out, None if self._foreign else self._grouped

    def pending(self) -> frozenset[str]:
        """Known instances whose last-seen time is still being looked up."""
        return frozenset(i for i, lk in self.lookups.items() if lk.known and self.entries[i].last is None)

    @property
    def busy(self) -> bool:
        """History steps remain."""
        return bool(self.lookups or self._discover or self._refine)

    # --- planning the next request ------------------------------------------------------------------------

    def next_step(self) -> Step | None:
        """The next history request, newest first; None when there is nothing left to look up."""
        step = self._next()
        if step is not None:
            self._inflight.update(step.instances)
        return step

    def _next(self) -> Step | None:
        if self._refine:
            return self._refine.pop()
        busy = self._inflight
        exact = [i for i, lk in self.lookups.items() if lk.exact and i not in busy]
        if exact:
            batch = exact[:BATCH]
            start = min(self.lookups[i].floor for i in batch)
            return Step("exact", start, max(self.lookups[i].cursor for i in batch), tuple(batch))
        open_ = [(i, lk) for i, lk in self.lookups.items() if i not in busy]
        newest = max((lk.cursor for _, lk in open_), default=-math.inf)
        if self._discover and self._discover[0][1] >= newest:
            start, end = self._discover.pop(0)
            return Step("discover", start, end)
        if not open_:
            return None
        batch = [i for i, lk in open_ if lk.cursor == newest][:BATCH]
        floor = min(self.lookups[i].floor for i in batch)
        return Step("coarse", max(newest - WINDOW, floor), newest, tuple(batch))

    def failed(self, step: Step) -> None:
        """A step's request failed: its instances may be tried again (a discover window is retried too)."""
        self._inflight.difference_update(step.instances)
        if step.kind == "discover":
            self._discover.insert(0, (step.start, step.end))
        elif step.kind == "refine":
            self._refine.append(step)

    # --- what the requests found --------------------------------------------------------------------------

    def discovered(self, step: Step, instances: Iterable[str]) -> None:
        """Label values of a window: instances unknown to the book are searched from the window's end."""
        self._inflight.difference_update(step.instances)
        for inst in instances:
            lk = self.lookups.get(inst)
            if lk is not None and not lk.known and lk.cursor < step.end:
                # two windows run at once, so a newer one can answer after an older one; and a backend's
                # label index is coarser than a window (VictoriaMetrics': a day), so the older window named it
                # too: the search starts at the newest window that names the instance, never below its data
                lk.cursor = step.end
            elif inst not in self.entries and lk is None:
                floor = (self.observed_at if self.observed_at is not None else step.end) - self.lookback
                self.lookups[inst] = _Lookup(step.end, floor, False, known=False)
        if self.frontier is None or step.start < self.frontier:
            self.frontier = step.start
            self.changed = True

    def found_coarse(self, step: Step, minutes: Mapping[str, float]) -> None:
        """A coarse step's answer: the end of the last minute with a success, per instance found. With the
        recording rule the value is already exact (`found_exact` is called instead)."""
        self._inflight.difference_update(step.instances)
        for inst in step.instances:
            lk = self.lookups.get(inst)
            if lk is None or lk.cursor > step.end:
                continue  # gone, or a newer window named it while this step ran: it is searched from there
            t = minutes.get(inst)
            if t is None:
                lk.cursor = step.start
                if lk.cursor <= lk.floor:
                    self._give_up(inst)
                continue
            del self.lookups[inst]
            self._coarse_found[inst] = t
        by_bucket: dict[float, list[str]] = {}
        for inst in step.instances:
            t = self._coarse_found.get(inst)
            if t is not None:
                by_bucket.setdefault(math.ceil(t / BUCKET) * BUCKET, []).append(inst)
        for end, insts in sorted(by_bucket.items()):
            self._refine.append(Step("refine", end - BUCKET - 60.0, end, tuple(insts)))

    def found_exact(self, step: Step, samples: Mapping[str, Sequence[Sample]]) -> None:
        """Raw samples (or the rule's values): each instance's series with their last successful time."""
        self._inflight.difference_update(step.instances)
        for inst in step.instances:
            got = samples.get(inst)
            coarse = self._coarse_found.pop(inst, None)
            if step.kind == "coarse":
                lk = self.lookups.get(inst)
                if lk is None or lk.cursor > step.end:
                    continue  # as in found_coarse
                if not got:
                    lk.cursor = step.start
                    if lk.cursor <= lk.floor:
                        self._give_up(inst)
                    continue
            self.lookups.pop(inst, None)
            e = self.entries.get(inst)
            if e is None:
                e = self.entries[inst] = self._away[inst] = Remembered(None, False)
            if e.live:
                continue  # came back meanwhile: the refresh knows better
            if got:
                newest = max(s.value for s in got)
                if e.last is None or newest >= e.last:
                    e.last = newest
                    e.samples = tuple(got)
            elif coarse is not None and e.last is None:
                # the minute is known, the raw samples say nothing more: its start is a safe lower bound
                e.last = coarse - 60.0
            self._touch(inst)
            self.changed = True

    def _give_up(self, inst: str) -> None:
        """Searched back to the floor: keep what is remembered; an unknown instance was never in range."""
        lk = self.lookups.pop(inst)
        e = self.entries.get(inst)
        if not lk.known and e is None:
            return
        self.changed = True

    # --- the state file's shape ---------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """What the state file keeps: live instances by name, the others with their series and times."""
        live = sorted(i for i, e in self.entries.items() if e.live)
        now_live = self._live or {}
        gone = {
            i: {"last": e.last, "series": [[s.branch, dict(s.labels), s.value] for s in e.samples]}
            for i, e in sorted(self._away.items())
            if e.last is not None
        }
        last_live = {i: _latest(self.entries[i].last, now_live.get(i)) for i in live}
        return {
            "observed_at": self.observed_at,
            "frontier": self.frontier if not self._discover else None,
            "lookback": self.lookback,
            "live": last_live,
            "gone": gone,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], lookback: float) -> LastSeenBook:
        """A book from `to_json`'s shape; raises ValueError (or KeyError/TypeError) on anything else."""
        book = cls(lookback)
        for inst, last in dict(doc["live"]).items():
            book.entries[str(inst)] = Remembered(_num(last), True)
        for inst, item in dict(doc["gone"]).items():
            samples = tuple(
                Sample({str(k): str(v) for k, v in dict(labels).items()}, float(value), str(branch))
                for branch, labels, value in item["series"]
            )
            book.entries[str(inst)] = book._away[str(inst)] = Remembered(_num(item["last"]), False, samples)
        book.observed_at = _num(doc.get("observed_at"))
        book.frontier = _num(doc.get("frontier"))
        if book.observed_at is not None and book.frontier is not None and book.frontier > book.observed_at:
            raise ValueError("frontier after observed_at")
        return book


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    if not math.isfinite(f):
        raise ValueError("not a finite number")
    return f


def _grid_up(t: float) -> float:
    return math.ceil(t / _GRID) * _GRID
