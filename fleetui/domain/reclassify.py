"""Classification refresh after refresh, redoing only the hosts whose inputs changed.

Why: the console classifies the whole fleet on every refresh, and at 10,000 hosts `classify` cost about as
much as Prometheus took to answer. Yet between two refreshes almost no host changes its labels, jobs or
nodename: what moves is time (each host's newest sample, a target's scrape duration). So `Classifier` keeps,
per instance, the series and target labels the previous refresh had (its *signature*) and what they gave
(merged labels, label problems, nodenames). A host whose signature is unchanged reuses them and only has its
state and last-seen worked out again; a host whose row is unchanged gets the previous refresh's HostStatus
object itself back (so the snapshot diff skips it at once). Times are not in the rows (see HostTimes): a host
whose only change is its last-seen time or scrape duration keeps its row, and is named in the diff's
`retimed` (its age cell moves on). Most refreshes do not even look at such a host one by one: the hosts
whose inputs changed are found first, and the others take their newest sample as last seen
(Classifier._classify_changes).

The rules are `fleetui.domain.classify`'s own (its helpers do the work); the fleet-wide ones (superseded
instances, duplicate nodenames, macOS names, pending look-ups) are applied on every refresh. `classify()`
stays the one-shot reference: unit tests check that this gives exactly its answer, refresh after refresh.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from operator import attrgetter
from typing import Any, NamedTuple

import msgspec

from fleetui.domain.classify import (
    MACOS_PROBLEM,
    NOT_SCRAPED,
    Classified,
    FleetInputs,
    Policy,
    Sample,
    Target,
    _job_problem,
    _label_problems,
    _ordered,
    _shared,
    duplicate_problem,
    never_merged,
    nodename_problem,
    state_of,
)
from fleetui.domain.fleet import FleetDiff, HostState, HostStatus, HostTimes, Mode, Problem, rows_diff
from fleetui.gate import step_aside

# label keys met in a signature that are merged (not never_merged): see _static
_KEPT_KEYS: set[str] = set()
_KEPT_KEYS_MAX = 1 << 12
# hosts per part of a guess (Classifier.guessing): 12-36 ms at a time on a live refresh (3-9 µs a host, measured
# at 50,000 hosts), so the reader sees the targets reply come in soon after it does
GUESS_STEP = 4000


class _Static(msgspec.Struct, frozen=True, gc=False):
    """What an instance's labels give, kept while its signature stays the same.

    Not tracked by the cyclic garbage collector (it holds no cycle): a 50,000-host fleet keeps 50,000 of them,
    and the first refresh's pass over the young objects before they are frozen (fleetui.tui.source) walked
    them all with the interpreter lock held while the console showed its first look."""

    sig: tuple[Any, ...]
    labels: dict[str, str]
    problems: tuple[Problem, ...]
    current_nodenames: frozenset[str]
    nodename: str | None


def _paced(todo: list[str], step: int = 256) -> Iterator[str]:
    """`todo`'s instances, stepping aside for the console's input between runs of `step` (fleetui.gate): at
    50,000 hosts the loop over them is a quarter of a second of work, on the refresh's thread."""
    for start in range(0, len(todo), step):
        step_aside()
        yield from todo[start : start + step]


def _static(inst: str, sig: tuple[Any, ...], policy: Policy) -> _Static:
    """Merge the label sources of a signature (first wins per key, as classify's _gather) and derive the
    label problems. sig[0]: how many of the sources are targets (-1: history; the rest are current).

    Merged by dict.update from the last source to the first, not key by key in Python, and the keys never
    merged found by one set difference with the keys met before that are kept (few: a fleet's label names),
    so only the others are looked at; jobs and nodenames in one pass over the sources. A console's first
    refresh does this for every host: 25,000 signatures of a 50,000-host capture took 141-225 ms against
    210-319 ms with a look at every key and a set comprehension per kind (timed offline, same answers)."""
    n_targets = sig[0]
    sources: tuple[Mapping[str, str], ...] = sig[1:]
    merged: dict[str, str] = {}
    for labels in reversed(sources):
        merged.update(labels)
    unknown = merged.keys() - _KEPT_KEYS
    if unknown:
        if len(_KEPT_KEYS) > _KEPT_KEYS_MAX:  # bounded, whatever keys a hostile fleet sends
            _KEPT_KEYS.clear()
        for k in unknown:
            if never_merged(k):
                del merged[k]
            else:
                _KEPT_KEYS.add(k)
    jobs: set[str] = set()
    nodenames: set[str] = set()
    current_nodenames: set[str] = set()  # the nodenames of current sources (none for a history signature)
    first_current = n_targets if n_targets >= 0 else len(sources)
    for i, labels in enumerate(sources):
        job = labels.get("job")
        if job:
            jobs.add(job)
        n = labels.get("nodename")
        if n:
            nodenames.add(n)
            if i >= first_current:
                current_nodenames.add(n)
    # sorted by key; a history signature's texts also made the shared copies (fleetui.domain.classify._STRINGS).
    # The others come from the reader's label sets, whose texts are shared copies already: merging, dropping
    # and interning 50,000 first-refresh signatures took 128-150 ms, against 100-111 ms with the sort alone
    labels = _shared(merged) if n_targets < 0 else dict(sorted(merged.items()))
    problems: list[Problem] = []
    names = current_nodenames or nodenames
    if names and not (len(names) == 1 and inst in names):
        p = nodename_problem(inst, labels, names)
        if p:
            problems.append(p)
    if jobs:
        p = _job_problem(jobs, policy)
        if p:
            problems.append(p)
    problems += _label_problems(labels, policy)
    return _Static(sig, labels, tuple(problems), frozenset(current_nodenames), min(names) if names else None)


def by_instance(samples: Sequence[Sample], *, positive: bool = False) -> dict[str, list[Sample]]:
    """Samples grouped by instance, in classify's order (`up` branch first); `positive`: only values > 0.

    The Prometheus reader groups each presence reply this way as soon as it arrives, while the other replies
    are still on their way, and hands the classifier the groups joined (`joined`): at 50,000 hosts grouping
    is a quarter of the classifier's work, and done after the last reply it was on every refresh's clock.
    """
    ordered = _ordered(samples)
    if not positive:  # most often each instance has one series of a query: then two comprehensions do it
        instances = [s.labels.get("instance") for s in ordered]
        each = {inst: [s] for inst, s in zip(instances, ordered, strict=True)}
        if len(each) == len(instances) and None not in each and "" not in each:
            return each  # type: ignore[return-value]  # no None key, checked
    out: dict[str, list[Sample]] = {}
    for s in ordered:
        inst = s.labels.get("instance")
        if inst and (not positive or s.value > 0):
            got = out.get(inst)
            if got is None:
                out[inst] = [s]
            else:
                got.append(s)
    return out


def joined(first: dict[str, list[Sample]], then: dict[str, list[Sample]]) -> dict[str, list[Sample]]:
    """`by_instance(a + b)` from `first = by_instance(a)` and `then = by_instance(b)`, when `a + b` is in
    classify's order (every `up` sample before any other): `then`'s samples after `first`'s, per instance.
    In place: `first` (and lists it shares with `then`) is changed and returned."""
    for inst, got in then.items():
        mine = first.get(inst)
        if mine is None:
            first[inst] = got
        else:
            mine += got
    return first


def _by_target(targets: Sequence[Target], before: Mapping[str, list[Target]] | None = None) -> dict[str, list[Target]]:
    """Targets grouped by instance; most instances have one, and then a comprehension does it.

    `before`: the last grouping. An instance with the one target it had there (the very object, see
    fleetui.adapters.labelsets.ByText) gets that list back, so a target unchanged since is found by identity
    (at 50,000 hosts, half down, about 13,600 of 18,750 a refresh), and its list is not made again."""
    if before:
        last = before.get
        each = {
            t.instance: got if (got := last(t.instance)) is not None and len(got) == 1 and got[0] is t else [t]
            for t in targets
        }
    else:
        each = {t.instance: [t] for t in targets}
    if len(each) == len(targets):
        return each
    out: dict[str, list[Target]] = {}
    for t in targets:
        found = out.get(t.instance)
        if found is None:
            out[t.instance] = [t]
        else:
            found.append(t)
    if before:  # the lists of one unchanged target back (never one appended to above: it is the last refresh's)
        for inst, got in out.items():
            was = before.get(inst)
            if was is not None and len(got) == 1 and len(was) == 1 and was[0] is got[0]:
                out[inst] = was
    return out


def _live(by_target: Mapping[str, object], by_current: Mapping[str, object]) -> dict[str, None]:
    """The live instances (a target or a current sample), in classify's order: those with targets first."""
    live = dict.fromkeys(by_target)
    live.update(dict.fromkeys(by_current))
    return live


def newest_by_instance(groups: Mapping[str, list[Sample]]) -> dict[str, float]:
    """Each instance's newest sample value: inline for the many with one sample or two (up and uname), so
    without a call each (this runs over every live host of every refresh)."""
    return {
        inst: (got[0].value if got[0].value >= got[-1].value else got[-1].value) if len(got) <= 2 else newest(got)
        for inst, got in groups.items()
    }


def newest(samples: list[Sample]) -> float:
    """The largest value of a non-empty list of samples (most hosts have one or two)."""
    ts = samples[0].value
    for s in samples:
        if s.value > ts:
            ts = s.value
    return ts


def predicted_presence(
    arrived: Mapping[str, list[Sample]], up_arrived: bool, before: Mapping[str, list[Sample]]
) -> dict[str, list[Sample]]:
    """This refresh's current samples, grouped as `joined` groups them, predicted while one of the two
    presence replies is still on its way: `arrived` is the other, grouped by instance (`up_arrived`: it is
    the `up` one), and `before` the previous refresh's samples, grouped the same way.

    A host whose missing series all had the newest time of its series that came, the refresh before (one
    scrape, or one push, writes them all), is predicted to have them at the newest time of those that came
    now, with the labels they had; any other keeps the missing series as they were. Why: at 50,000 hosts the
    last reply is as often a presence reply as the targets, and with the targets in, rows worked out from
    this prediction are right for nearly every host (checked host by host when classify takes them, see
    Classifier.guessing)."""
    out: dict[str, list[Sample]] = {}
    previous = before.get
    for inst, got in arrived.items():
        prev = previous(inst)
        if prev is None:
            out[inst] = list(got)
            continue
        if len(prev) == 2 and len(got) == 1:  # most hosts: one up and one uname series
            u, n = prev
            if u.value == n.value and u.source == "up" and n.source != "up":
                t = got[0].value
                out[inst] = (
                    [got[0], Sample(n.labels, t, n.source)] if up_arrived else [Sample(u.labels, t, u.source), got[0]]
                )
                continue
        mine = [s.value for s in prev if (s.source == "up") is up_arrived]
        kept = [s for s in prev if (s.source == "up") is not up_arrived]
        if mine and kept:
            was = max(mine)
            if all(s.value == was for s in kept):
                t = max(s.value for s in got)
                kept = [Sample(s.labels, t, s.source) for s in kept]
        out[inst] = [*got, *kept] if up_arrived else [*kept, *got]
    for inst, prev in before.items():
        if inst not in out:
            kept = [s for s in prev if (s.source == "up") is not up_arrived]
            if kept:
                out[inst] = kept
    return out


def _reordered(order: list[str], now: Mapping[str, object], added: list[str]) -> list[str]:
    """`sorted(now)`, from `order` (the previous rows' instances, sorted) and the instances `added` since: the
    instances that stayed keep their order, and those that came are merged in.

    Why not `sorted(now)`: in a fleet whose hosts went away at times spread over the look-back, one or another
    leaves the window at almost every refresh; sorting 50,000 names from the rows' own order took 21-28 ms,
    in one call that kept the console's UI thread from the interpreter lock all along (the sets of names come
    and gone, made from the keys, cost nearly as much). Here the one sort call gets the kept names as one
    sorted run and the new ones as another, which it merges in linear time."""
    kept = [i for i in order if i in now]
    if len(kept) + len(added) != len(now):  # not what the caller promised: the plain way, never a wrong order
        return sorted(now)
    return sorted([*kept, *sorted(added)]) if added else kept


def _edited(
    order: list[str],
    hosts: tuple[HostStatus, ...],
    rows: Mapping[str, HostStatus],
    removed: list[str],
    added: list[str],
    fresh: list[str],
    most: int = 1000,
) -> tuple[list[str], tuple[HostStatus, ...]] | None:
    """The sorted instances and their rows, from the last ones (`order`, sorted, and `hosts`, its rows) with the
    instances `removed` taken out, those `added` put in, and the rows made anew (`fresh`) put in place; None
    when that is more than `most` edits or the inputs do not fit together (the caller then makes them whole).

    Why: whenever a host leaves (at 50,000 hosts half gone, one leaves the look-back window at most refreshes),
    merging the names again and looking up every row in order was about a tenth of the classifier's time (a
    sampled profile of replayed refreshes); a binary search and a move of the list's tail per edit is not."""
    if len(removed) + len(fresh) > most or len(order) != len(hosts):
        return None
    places = []
    for inst in removed:
        at = bisect_left(order, inst)
        if at == len(order) or order[at] != inst:
            return None
        places.append(at)
    new_order, out = list(order), list(hosts)
    for at in sorted(places, reverse=True):
        del new_order[at], out[at]
    for inst in sorted(added):
        at = bisect_left(new_order, inst)
        if at < len(new_order) and new_order[at] == inst:
            return None
        new_order.insert(at, inst)
        out.insert(at, rows[inst])
    for inst in fresh:
        at = bisect_left(new_order, inst)
        if at == len(new_order) or new_order[at] != inst:
            return None
        out[at] = rows[inst]
    if len(out) != len(rows):
        return None
    return new_order, tuple(out)


class _Times(NamedTuple):
    """A classification's times as it works them out: last seen and scrape duration by instance (None: not
    known), and the instances whose last seen is not what it was in the classification before."""

    last_seen: dict[str, float | None]
    durations: dict[str, float | None]
    moved: list[str]


_PULL, _PUSH = Mode.PULL, Mode.PUSH
_LABELS, _SOURCE = attrgetter("labels"), attrgetter("source")
_UP, _DOWN, _STALE = HostState.UP, HostState.DOWN, HostState.STALE


# a classify's grouped targets, current samples and history, and macOS names
_Seen = tuple[Mapping[str, list[Target]], Mapping[str, list[Sample]], Mapping[str, list[Sample]], frozenset[str]]


class _Grouped(NamedTuple):
    """One classify's inputs grouped by instance: targets, current samples and each one's newest, history,
    and the live instances (those with a target or a current sample, in classify's order)."""

    by_target: dict[str, list[Target]]
    by_current: Mapping[str, list[Sample]]
    newest_current: Mapping[str, float]
    by_history: Mapping[str, list[Sample]]
    live: dict[str, None]


class _Guess(NamedTuple):
    """The rows `Classifier.guess` worked out, and what it worked them out from."""

    generation: int  # the classifier's classify() count when it was made
    now: float
    macos: frozenset[str]
    pending: frozenset[str]
    by_current: Mapping[str, list[Sample]]
    newest_current: Mapping[str, float]
    by_target: dict[str, list[Target]]
    by_history: Mapping[str, list[Sample]]
    rows: dict[str, HostStatus]  # of the live instances
    statics: dict[str, _Static]
    fresh: list[str]  # instances whose row is not the previous refresh's
    times: _Times  # of the hosts whose rows it worked out (not those that kept theirs)
    made: set[str]  # instances whose label work was done again
    nodenames: list[tuple[str, str]]  # (current nodename, instance) of every instance with current samples
    # the current samples are a prediction (predicted_presence), checked host by host when classify takes it;
    # else they are the refresh's own (the very objects), and the targets the guess
    predicted: bool


class Classifier:
    """`classify` for a series of refreshes of one fleet: `Classifier(policy).classify(inputs)` each time."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._statics: dict[str, _Static] = {}
        self._rows: dict[str, HostStatus] = {}
        self._before: dict[str, HostStatus] = {}  # the rows of the refresh before the last
        self._fresh: list[str] = []  # instances whose row the last refresh made anew (a few more than once)
        # the last refresh's times (each instance with a row: None when not known), and the instances whose last
        # seen moved in it (a few more than once)
        self._last_seen: dict[str, float | None] = {}
        self._durations: dict[str, float | None] = {}
        self._moved: list[str] = []
        self._order: list[str] = []  # the instances sorted, while they stay the same
        self.reused = 0  # hosts of the last refresh whose label work was skipped (for tests and benchmarks)
        # live hosts of the last refresh that kept their row because their inputs were the same (not counting
        # those taken from a guess; for tests and benchmarks)
        self.unchanged = 0
        # the last refresh's history (the very list), grouped, and the instances that were gone in it
        self._history: object = None
        self._by_history: Mapping[str, list[Sample]] = {}
        self._gone: dict[str, list[Sample]] = {}  # instances gone last refresh: their history then
        # the history and live instances _gone was found from (the very objects: the same ones again give it back)
        self._gone_from: tuple[object, object] = (None, None)
        # the instances whose (first) target is failing, as the last classify that looked at changes found them
        self._down: set[str] | None = None
        # ... the push hosts' instances (None: to be found), and the live hosts with history not down, with the
        # history and live instances they were found from (the very objects)
        self._push: list[str] | None = None
        self._with_history: tuple[tuple[object, object], list[str]] = ((None, None), [])
        # the instances whose rows the last classify took out (None: not known, see diff)
        self._removed: list[str] | None = None
        self._macos: frozenset[str] = frozenset()
        self._generation = 0  # classify() calls so far: a guess made before the last one is stale
        self._guess: _Guess | None = None
        self.guessed = 0  # live hosts of the last refresh whose row came from the guess (tests, benchmarks)
        # the last classify's grouped targets, current samples and history, and macOS names: a host whose inputs
        # are the same again keeps its row (_rows_for). With the sizes of the two groupings a caller may empty
        # once done with them (the reader frees them a slice at a time): not as large, they are not used
        self._seen: _Seen = ({}, {}, {}, frozenset())
        self._seen_sizes = (0, 0)
        # the rows the last classify made before amending them for a shared nodename (_shared_nodenames)
        self._unamended: dict[str, HostStatus] = {}
        # for the next classify's visit of only the hosts whose inputs changed (_classify_changes): the last
        # one's live instances and pending look-ups, each current nodename's first holder and the others of
        # the names held by several (instances with current samples whose static names it), and whether the
        # last classify ran to its end
        self._live: dict[str, None] = {}
        self._pending: frozenset[str] = frozenset()
        self._owner: dict[str, str] = {}
        self._extra: dict[str, set[str]] = {}
        self._complete = False
        # the last classify's current series: their label dicts and queries, in reply order (None: not known)
        self._series: tuple[list[Mapping[str, str]], list[str]] | None = None
        self.visited = 0  # hosts the last refresh looked at one by one (for tests and benchmarks)
        self._hosts: tuple[list[str] | None, tuple[HostStatus, ...]] = (None, ())  # the last rows, and their order

    def guess(self, inputs: FleetInputs) -> int:
        """Work out the live hosts' rows ahead of the next `classify`, from inputs that are partly a guess;
        returns how many. Changes no row: `classify` takes from the guess every host whose targets, history
        and pending look-up turn out the same, and works out the others as ever.

        Why: at 50,000 hosts the targets reply is often the last one in, 50-300 ms after both presence
        replies, and all that follows its last byte is on the refresh's clock; the per-host loop was the
        largest part of it. The Prometheus reader has this done while the targets are on their way, with the
        presence replies as they are and the previous refresh's targets: between two refreshes closer than
        the scrape interval most targets are the very same objects again (fleetui.adapters.labelsets.ByText),
        so most rows are done when the targets come. When a presence reply is the last one in instead, the
        reader guesses from the targets, the other presence reply and a prediction of the missing one
        (`predicted_presence`; `guessing(predicted=True)`).

        Only for inputs grouped as the Prometheus reader groups them (current, its newest, history)."""
        return max(self.guessing(inputs), default=0)

    def guessing(self, inputs: FleetInputs, step: int = GUESS_STEP, *, predicted: bool = False) -> Iterator[int]:
        """`guess`, `step` hosts at a time: yields how many so far after each part. Whatever parts were done
        when the next `classify` comes are taken (so the reader stops as soon as the targets are in, and the
        hosts left are simply worked out by `classify`).

        `predicted`: the inputs' targets are the refresh's own and their current samples a prediction
        (`predicted_presence`, while a presence reply is the one still on its way): `classify` then takes
        each host whose samples turn out as predicted."""
        by_current, newest_current = inputs.current_by_instance, inputs.current_newest
        by_history = inputs.history_by_instance
        if by_current is None or newest_current is None or by_history is None:
            return
        by_target = _by_target(inputs.targets)
        live = _live(by_target, by_current)
        g = self._guess = _Guess(
            self._generation, inputs.now, inputs.macos, inputs.pending, by_current, newest_current, by_target,
            by_history, {}, {}, [], _Times({}, {}, []), set(), [], predicted,
        )  # fmt: skip
        statics, old_statics = g.statics, self._statics
        todo = list(live)
        for start in range(0, len(todo), step):
            part = todo[start : start + step]
            self._rows_for(part, inputs, by_target, by_current, newest_current, by_history, {}, frozenset(), statics,
                           g.rows, g.fresh, g.times, {}, [])  # fmt: skip
            g.made.update([i for i in part if statics[i] is not old_statics.get(i)])
            g.nodenames.extend([(n, i) for i in part if i in by_current for n in statics[i].current_nodenames])
            yield len(g.rows)

    def _taken_guess(self, inputs: FleetInputs, by_current: object, newest_current: object) -> _Guess | None:
        """The guess, if it was made for this refresh: since the last classify, with the same time, macOS
        names and presence replies (the very objects; a prediction of them is checked in _from_guess). Used
        once."""
        g, self._guess = self._guess, None
        if (
            g is None
            or g.generation != self._generation
            or g.now != inputs.now
            or not (g.predicted or (g.by_current is by_current and g.newest_current is newest_current))
            or g.macos != inputs.macos
        ):
            return None
        return g

    def classify(self, inputs: FleetInputs) -> Classified:
        """The fleet's rows, sorted by instance, and their times: equal to `classify(inputs, policy)`.

        Written for the many: this runs over every host of every refresh, so the common rows (a pull host
        with one target, a push host) are worked out inline rather than through `state_of` and a call per
        row, and hosts gone as they were get their rows back without a look at each: at 50,000 hosts, half
        down or gone, replayed offline (best of six refreshes), 139-149 ms became 119-124 ms. With a guess
        (see `guess`), only the live hosts it got wrong go through the per-host loop. A live host whose
        targets, current samples and history are those of the last classify keeps its row (_rows_for): the
        grouped inputs are kept until the next classify, and may be emptied meanwhile, never changed. When
        they are at hand and no guess was taken, only the hosts whose inputs changed are looked at
        (_classify_changes).
        """
        by_target = _by_target(inputs.targets, self._seen[0])
        by_current = inputs.current_by_instance
        if by_current is None:
            by_current = by_instance(inputs.current)
        newest_current = inputs.current_newest
        if newest_current is None:
            newest_current = newest_by_instance(by_current)
        guess = self._taken_guess(inputs, by_current, newest_current)
        self._generation += 1
        # the book hands over the same history list while nothing in it changed (then it need not be grouped
        # again), and each host's history samples as the same objects while its entry is unchanged
        if inputs.history_by_instance is not None:  # the book's, its lists the same objects while unchanged
            by_history = inputs.history_by_instance
        elif inputs.history is self._history:
            by_history = self._by_history
        else:
            by_history = by_instance(inputs.history, positive=True)  # a `time() * up` rule writes 0 while down
            self._history, self._by_history = inputs.history, by_history
        seen_targets, seen_current, seen_history, _ = self._seen
        if (
            self._live
            and len(by_target) == len(seen_targets)
            and len(by_current) == len(seen_current)
            and by_target.keys() == seen_targets.keys()
            and by_current.keys() == seen_current.keys()
        ):
            # the same instances as last time: the same live ones, in an order as good (those with targets first).
            # Compared in C, the keys are the very same strings: at 50,000 hosts building it again was about 6 ms
            # of a live refresh (sampled)
            live = self._live
        else:
            live = _live(by_target, by_current)
        grouped = _Grouped(by_target, by_current, newest_current, by_history, live)
        complete, self._complete = self._complete, False  # until this one is done
        if (
            guess is None
            and complete
            and self._rows
            and self._seen_sizes == (len(seen_current), len(seen_history))  # not emptied since
        ):
            got = self._classify_changes(inputs, grouped)
        else:
            got = self._classify_all(inputs, grouped, guess)
        self._complete = True
        return got

    def _classify_all(
        self,
        inputs: FleetInputs,
        grouped: _Grouped,
        guess: _Guess | None,
    ) -> Classified:
        """classify() with every live host looked at (each keeps its row if its inputs are the last ones):
        the first refresh, one after a guess, and one whose previous inputs are no longer at hand."""
        by_target, by_current, newest_current, by_history, live = grouped
        self._series = None
        self._down = self._push = None  # not worked out here: the next classify makes them whole
        self._with_history = ((None, None), [])
        macos = inputs.macos
        old_statics, old_rows = self._statics, self._rows
        statics: dict[str, _Static] = {}
        rows: dict[str, HostStatus] = {}
        fresh: list[str] = []
        self._fresh = fresh
        # every host's times as they were (the rows kept keep theirs), those worked out again written over them
        times = _Times(dict(self._last_seen), dict(self._durations), [])
        # current nodename -> the first instance reporting it, and (nodename, instance) for each other one:
        # most nodenames belong to one instance, so they cost one setdefault
        first_by_nodename: dict[str, str] = {}
        others: list[tuple[str, str]] = []

        reused = 0
        if guess is None:
            todo = list(live)
            self.guessed = 0
        else:
            redo, wrong, self.guessed, reused = self._from_guess(
                guess, live, by_target, by_current, by_history, inputs.pending, statics, rows, fresh, times
            )
            todo = list(redo)
            owner_of = first_by_nodename.setdefault
            for n, inst in guess.nodenames:  # those of the hosts the guess got right; the loop does the others
                if inst not in wrong and owner_of(n, inst) != inst:
                    others.append((n, inst))

        was_gone, gone, flipped, kept = self._gone_kept(by_history, live, macos)
        rows.update(zip(kept, map(old_rows.__getitem__, kept), strict=True))
        statics.update(zip(kept, map(old_statics.__getitem__, kept), strict=True))
        if len(kept) < len(gone):
            todo += [i for i in gone if i not in rows]

        made: list[str] = []
        self.unchanged = self._rows_for(todo, inputs, by_target, by_current, newest_current, by_history, was_gone,
                                        flipped, statics, rows, fresh, times, first_by_nodename, others,
                                        made)  # fmt: skip
        self.reused = reused + len(kept) + len(todo) - len(made)
        self.visited = len(todo)
        extra: dict[str, set[str]] = {}
        for n, inst in others:
            extra.setdefault(n, set()).add(inst)
        self._owner, self._extra = first_by_nodename, extra
        return self._finish(inputs, grouped, statics, rows, times)

    def _gone_kept(
        self, by_history: Mapping[str, list[Sample]], live: Mapping[str, object], macos: frozenset[str]
    ) -> tuple[dict[str, list[Sample]], dict[str, list[Sample]], frozenset[str], list[str]]:
        """The hosts gone last refresh and now, the instances whose macOS flag changed, and the gone hosts
        that keep their rows.

        Gone: neither a target nor a current sample, only history. One gone last refresh with the very same
        history samples (the book keeps them the same objects) and the same macOS flag has the same row (it
        has a last-seen time, so whether a look-up is pending does not show): taken over wholesale."""
        was_gone, (history_before, live_before) = self._gone, self._gone_from
        if by_history is history_before and live is live_before:
            gone = was_gone  # the very history and live hosts they were found from: the same ones gone
        else:
            gone = {i: h for i, h in by_history.items() if i not in live}
        self._gone, self._gone_from = gone, (by_history, live)
        flipped = macos ^ self._macos  # instances whose macOS flag changed
        self._macos = macos
        if gone is was_gone:
            kept = list(gone)
        else:
            kept = [i for i, h, before in zip(gone, gone.values(), map(was_gone.get, gone), strict=True) if h is before]
        if flipped:
            kept = [i for i in kept if i not in flipped]
        return was_gone, gone, flipped, kept

    def _classify_changes(
        self,
        inputs: FleetInputs,
        grouped: _Grouped,
    ) -> Classified:
        """classify() looking only at the hosts whose row may have changed since the last classify (which ran
        to its end, with no guess since); every other one keeps its row, its statics and its nodenames, and
        takes its newest sample as its last seen.

        Why: between two refreshes a host's labels, targets and history almost never change; what moves is its
        newest sample's time. Looking at every host to find that out (the fast path of _rows_for) cost about
        1.4 us a host, 44 ms at 50,000 hosts even when no input changed at all. Here the hosts to look at are
        found by loops in comprehensions (the instances' target lists by identity, see _by_target;
        their current series' label dicts compared by identity, the same objects while their text
        is, see fleetui.adapters.labelsets; their history lists by identity), and the others only have their
        last seen taken.

        Looked at, beside new and changed hosts: those whose row depends on time or on the fleet around them
        (several targets; a push host with several series, whose signature keeps only its recent ones; a push
        host whose staleness flips; a live host with history, whose last seen is the larger of two), those
        whose pending look-up or macOS flag changed, and those whose row was amended for a shared nodename."""
        by_target, by_current, newest_current, by_history, live = grouped
        policy = self.policy
        now, macos, pending = inputs.now, inputs.macos, inputs.pending
        seen_targets, seen_current, seen_history, _ = self._seen
        old_statics, old_rows, old_live = self._statics, self._rows, self._live
        visit: dict[str, None] = {}
        left: list[str] = []
        if live is not old_live and (len(live) != len(old_live) or live.keys() != old_live.keys()):
            visit.update(dict.fromkeys([i for i in live if i not in old_live]))
            left = [i for i in old_live if i not in live]
        # targets: the same list (a single target unchanged since keeps its list, see _by_target; a new list is
        # a new instance, a changed target or several targets), or one target scraped since, whose row stays
        # and whose scrape duration is taken (last seen, if it has no current samples, comes from its last
        # scrape: it is looked at)
        seen_target = seen_targets.get
        scraped: list[Target] = []
        moved_targets = [i for i, ts in by_target.items() if ts is not seen_target(i)]
        for i in moved_targets:
            targets, before = by_target[i], seen_target(i)
            t = targets[0]
            if (
                before is None
                or len(targets) > 1
                or len(before) > 1
                or t.labels is not (w := before[0]).labels
                or t.health != w.health
                or t.scrape_url != w.scrape_url
                or t.last_error != w.last_error
                or i not in newest_current
            ):
                visit[i] = None
            else:
                scraped.append(t)
        # (the same live instances, taken over in classify, were found with the same targets' instances)
        same_targets = live is old_live or (
            len(by_target) == len(seen_targets) and by_target.keys() == seen_targets.keys()
        )
        if not same_targets:
            visit.update(dict.fromkeys([i for i in seen_targets if i not in by_target and i in live]))
        # the current series' label dicts in reply order, and their queries: the same as last time (the same
        # objects, compared in C) means every instance has the same series as before, in the same order
        series = (list(map(_LABELS, inputs.current)), list(map(_SOURCE, inputs.current)))
        if by_current is not seen_current and series != self._series:
            seen_series = seen_current.get
            # else per instance: the same label dicts (the same objects) in the same order, from the same query;
            # one series or two (more may come in another order)
            visit.update(
                dict.fromkeys(
                    [
                        i
                        for i, got in by_current.items()
                        if (was := seen_series(i)) is None
                        or len(got) != len(was)
                        or got[0].labels is not was[0].labels
                        or got[0].source != was[0].source
                        or (
                            len(got) > 1
                            and (len(got) > 2 or got[1].labels is not was[1].labels or got[1].source != was[1].source)
                        )
                    ]
                )
            )
            if len(by_current) != len(seen_current) or by_current.keys() != seen_current.keys():
                visit.update(dict.fromkeys([i for i in seen_current if i not in by_current and i in live]))
        self._series = series
        if by_history is not seen_history:
            seen_hist = seen_history.get
            visit.update(dict.fromkeys([i for i, h in by_history.items() if h is not seen_hist(i) and i in live]))
            if len(by_history) != len(seen_history) or by_history.keys() != seen_history.keys():
                visit.update(dict.fromkeys([i for i in seen_history if i not in by_history and i in live]))
        visit.update(dict.fromkeys([i for i in pending ^ self._pending if i in live]))
        visit.update(dict.fromkeys([i for i in macos ^ self._macos if i in live]))
        visit.update(dict.fromkeys([i for i in self._unamended if i in live]))

        # what a host's row may owe to time: a push host's staleness, and the series its signature keeps (those
        # within history_after of its newest: of two, both, now and before, as most often one push wrote both)
        stale_after, within = policy.stale_after, policy.history_after
        # (in the grouping's order, not a set's: the hosts' objects are then met about in the order they were
        # made, and at 50,000 hosts that took 3.9 ms against 5.5, best of 30, offline)
        # (the push hosts, those with samples and no target: the last classify's when the live instances are)
        push = self._push
        if push is None or live is not old_live:
            push = [i for i in by_current if i not in by_target]
        self._push = push
        visit.update(
            dict.fromkeys(
                [
                    i
                    for i, got in zip(push, map(by_current.__getitem__, push), strict=True)
                    if i not in visit
                    and (
                        (now - newest_current[i] > stale_after) is not (old_rows[i].state is _STALE)
                        or (
                            len(got) > 1
                            and (
                                len(got) > 2
                                or abs(got[0].value - got[1].value) > within
                                or len(old_statics[i].sig) != 3
                            )
                        )
                    )
                ]
            )
        )
        # last seen: a host's newest sample, but for a pull host down (its history's, which stays) and a host
        # with history as well (the larger of the two: looked at)
        # (the last classify's, with the instances whose targets moved since, when the instances are the same)
        down = self._down
        if same_targets and down is not None:
            down = set(down)
            for i in moved_targets:
                if by_target[i][0].health != "up":
                    down.add(i)
                else:
                    down.discard(i)
        else:
            down = {i for i, got in by_target.items() if got[0].health != "up"}
        # live hosts with history, not down: the last ones when the history and live hosts are (a host whose
        # target went down or came up since has its target among those moved, and is looked at anyway)
        hist_from, with_history = self._with_history
        if hist_from[0] is not by_history or hist_from[1] is not live:
            with_history = [i for i in by_history if i in newest_current and i not in down]
        self._down, self._with_history = down, ((by_history, live), with_history)
        visit.update(dict.fromkeys(with_history))
        was_seen = self._last_seen
        last_seen, durations = dict(was_seen), dict(self._durations)
        last_seen.update(newest_current)
        for i in down:
            if i in was_seen:
                last_seen[i] = was_seen[i]
        for i in visit:  # as it was: _rows_for works it out again, or keeps it with the row (durations are
            if i in was_seen:  # still the copy's: only the scraped hosts not looked at get theirs below)
                last_seen[i] = was_seen[i]
        for t in scraped:
            if t.instance not in visit:
                durations[t.instance] = t.scrape_duration
        seen_before = was_seen.get
        times = _Times(last_seen, durations, [i for i in newest_current if last_seen[i] != seen_before(i)])

        rows, statics = dict(old_rows), dict(old_statics)
        fresh: list[str] = []
        self._fresh = fresh
        was_gone, gone, flipped, kept = self._gone_kept(by_history, live, inputs.macos)
        removed = [i for i in left if i not in gone]
        if gone is not was_gone:
            removed += [i for i in was_gone if i not in gone and i not in live]
        for inst in removed:
            del rows[inst], statics[inst]
            last_seen.pop(inst, None)
            durations.pop(inst, None)
        todo = list(visit)
        if len(kept) < len(gone):
            kept_ones = set(kept)
            todo += [i for i in gone if i not in kept_ones]
        made: list[str] = []
        unchanged = self._rows_for(todo, inputs, by_target, by_current, newest_current, by_history, was_gone,
                                   flipped, statics, rows, fresh, times, {}, [], made)  # fmt: skip
        self.visited = len(todo)
        self.unchanged = unchanged + len(live) - len(visit)
        self.reused = len(rows) - len(made)
        self.guessed = 0
        # the nodenames held: those of the hosts looked at (and of those that left) as they are now
        no_names: frozenset[str] = frozenset()
        for inst in [*todo, *removed]:
            had = old_statics[inst].current_nodenames if inst in seen_current and inst in old_statics else no_names
            has = statics[inst].current_nodenames if inst in by_current and inst in statics else no_names
            if had != has:
                self._renamed(inst, had, has)
        return self._finish(inputs, grouped, statics, rows, times, removed)

    def _renamed(self, inst: str, had: frozenset[str], has: frozenset[str]) -> None:
        """`inst` now holds the current nodenames `has` instead of `had` (see _owner, _extra)."""
        owner, extra = self._owner, self._extra
        for n in had - has:
            others = extra.get(n)
            if owner.get(n) == inst:
                if others:
                    owner[n] = others.pop()
                else:
                    del owner[n]
            elif others is not None:
                others.discard(inst)
            if others is not None and not others:
                del extra[n]
        for n in has - had:
            first = owner.setdefault(n, inst)
            if first != inst:
                extra.setdefault(n, set()).add(inst)

    def _finish(
        self,
        inputs: FleetInputs,
        grouped: _Grouped,
        statics: dict[str, _Static],
        rows: dict[str, HostStatus],
        times: _Times,
        removed: list[str] | None = None,
    ) -> Classified:
        """The fleet-wide rules over the rows worked out (shared nodenames), then the rows sorted and their
        times, with what the next classify compares against kept. `removed`: the instances whose rows were
        taken out of the last ones (the others are those rows, some made anew), when the caller knows them."""
        by_target, by_current, newest_current, by_history, live = grouped
        old_rows = self._rows
        self._removed = removed
        unamended: dict[str, HostStatus] = {}
        if self._extra:
            others = [(n, inst) for n, insts in self._extra.items() for inst in insts]
            self._shared_nodenames(
                others, self._owner, by_target, newest_current, statics, rows, old_rows, inputs.macos, unamended
            )
        self._statics = statics
        self._rows, self._before, self._unamended = rows, old_rows, unamended
        self._seen = (by_target, by_current, by_history, inputs.macos)
        self._seen_sizes = (len(by_current), len(by_history))
        self._live, self._pending = live, inputs.pending
        last_seen, durations, self._moved = times
        order, fresh = self._order, self._fresh
        # the instances with no row before are among those whose rows were made anew
        added = [i for i in dict.fromkeys(fresh) if i not in old_rows] if fresh else []
        edited = None
        if removed is not None and self._hosts[0] is order and (removed or fresh):
            edited = _edited(order, self._hosts[1], rows, removed, added, fresh)
        if edited is not None:
            self._order, self._hosts = edited[0], edited
        else:
            if (removed is None or removed or added) and (len(order) != len(rows) or rows.keys() != old_rows.keys()):
                order = self._order = _reordered(order, rows, added)
            # the rows in order: the last ones again when no row is new and the order is the same (most refreshes
            # of a steady fleet: a look-up per host saved)
            if fresh or order is not self._hosts[0]:
                self._hosts = (order, tuple(map(rows.__getitem__, order)))
        if len(last_seen) != len(rows):  # hosts that left (every host with a row has its times): theirs go too
            for inst in last_seen.keys() - rows.keys():
                del last_seen[inst]
                durations.pop(inst, None)
        self._last_seen, self._durations = last_seen, durations
        return Classified(self._hosts[1], HostTimes(last_seen, durations))

    def _from_guess(
        self,
        guess: _Guess,
        live: dict[str, None],
        by_target: Mapping[str, list[Target]],
        by_current: Mapping[str, list[Sample]],
        by_history: Mapping[str, list[Sample]],
        pending: frozenset[str],
        statics: dict[str, _Static],
        rows: dict[str, HostStatus],
        fresh: list[str],
        times: _Times,
    ) -> tuple[set[str], set[str], int, int]:
        """The guess's rows (and statics, rows made anew and times) put into `rows` (`statics`, `fresh`, `times`)
        for every live host it got right; returns the live instances it did not (to be worked out), those and the ones
        it saw live that are not, how many hosts were taken from it, and of those how many had their label
        work reused.

        Got right: a host the guess saw live, with the same targets (compared by identity first: an unchanged
        target is the very object), the same history list (the book keeps it the very object while the entry
        is unchanged) and the same pending look-up; for a prediction, also the same current samples (compared
        as values: the labels by identity first, then the times). The other inputs are the guess's own
        (_taken_guess)."""
        g_rows, g_targets, g_history = guess.rows, guess.by_target, guess.by_history
        redo = set(live.keys() - g_rows.keys())  # live now, not in the guess
        if guess.by_current is not by_current:
            g_current = guess.by_current.get
            redo.update([i for i, got in by_current.items() if g_current(i) != got])
            redo.update(guess.by_current.keys() - by_current.keys())
        redo.update([i for i, got in by_target.items() if g_targets.get(i) != got])
        if g_targets.keys() != by_target.keys():
            redo.update(g_targets.keys() - by_target.keys())
        if by_history is not g_history:
            redo.update([i for i, h in by_history.items() if i in g_rows and g_history.get(i) is not h])
            redo.update([i for i, h in g_history.items() if i in g_rows and by_history.get(i) is not h])
        if pending != guess.pending:
            redo.update(pending ^ guess.pending)
        dropped = g_rows.keys() - live.keys()  # live in the guess only (their targets are gone)
        redo.intersection_update(live)
        rows.update(g_rows)
        statics.update(guess.statics)
        for i in dropped:
            del rows[i], statics[i]
        wrong = redo.union(dropped)
        fresh += [i for i in guess.fresh if i not in wrong] if wrong else guess.fresh
        # the times of those it got right; the others' as they were (a host worked out again whose inputs turn
        # out to be the last refresh's keeps them)
        g_times = guess.times
        last_seen, durations, moved = times
        last_seen.update(g_times.last_seen)
        durations.update(g_times.durations)
        if wrong:
            was_seen, was_took = self._last_seen, self._durations
            for i in wrong:
                if i in was_seen:
                    last_seen[i], durations[i] = was_seen[i], was_took[i]
                else:
                    last_seen.pop(i, None)
                    durations.pop(i, None)
        moved += [i for i in g_times.moved if i not in wrong] if wrong else g_times.moved
        taken = len(g_rows) - len(wrong.intersection(g_rows))
        made = len([i for i in guess.made if i not in wrong]) if wrong else len(guess.made)
        return redo, wrong, taken, taken - made

    def _rows_for(
        self,
        todo: list[str],
        inputs: FleetInputs,
        by_target: Mapping[str, list[Target]],
        by_current: Mapping[str, list[Sample]],
        newest_current: Mapping[str, float],
        by_history: Mapping[str, list[Sample]],
        was_gone: Mapping[str, list[Sample]],
        flipped: frozenset[str],
        statics: dict[str, _Static],
        rows: dict[str, HostStatus],
        fresh: list[str],
        times: _Times,
        first_by_nodename: dict[str, str],
        others: list[tuple[str, str]],
        made: list[str] | None = None,
    ) -> int:
        """The rows of the instances in `todo` into `rows` (and their statics into `statics`), the ones made
        anew listed in `fresh`, the times of those worked out again into `times` (a row kept keeps its times:
        the same inputs), each current nodename's first instance in `first_by_nodename` and the others in
        `others`, and in `made` the instances whose label work was done again (not the previous refresh's).
        Returns how many live hosts kept their row because their inputs were the same."""
        policy = self.policy
        now, macos, pending = inputs.now, inputs.macos, inputs.pending
        old_statics, old_rows = self._statics, self._rows
        history_after, stale_after = policy.history_after, policy.stale_after
        target_of, current_of, history_of = by_target.get, by_current.get, by_history.get
        static_of, owner_of, old_of = old_statics.get, first_by_nodename.setdefault, old_rows.get
        seen_targets, seen_current, seen_history, seen_macos = self._seen
        if self._seen_sizes != (len(seen_current), len(seen_history)):  # emptied, or being emptied
            seen_targets, seen_current, seen_history = {}, {}, {}
        seen_target_of, seen_current_of, seen_history_of = seen_targets.get, seen_current.get, seen_history.get
        unamended = self._unamended
        macos_moved = bool(macos or seen_macos)
        seen_before = self._last_seen.get  # each host's last seen in the last classify
        last_seen, durations, moved = times
        same_inputs = 0
        for inst in _paced(todo):
            targets = target_of(inst)
            current = current_of(inst)
            history = history_of(inst)
            # a host whose targets, current samples and history are what the last classify had: its row then
            # is its row now, unless a pending look-up or its macOS flag changed or (a push host) time made it
            # stale. Checked by identity first (targets and label dicts are the same objects while their text
            # is, the book's history lists while the entry is), before any label or state work
            old = old_of(inst)
            if (
                old is not None
                and history is seen_history_of(inst)
                and targets == seen_target_of(inst)
                and current == seen_current_of(inst)
                and (current is not None or targets is not None)
            ):
                base = unamended.get(inst, old) if unamended else old
                was = seen_before(inst)
                if (
                    (was is not None or (inst in pending) is base.last_seen_pending)
                    and not (macos_moved and (inst in macos) is not (inst in seen_macos))
                    and (targets is not None or was is None or (now - was > stale_after) is (base.state is _STALE))
                ):
                    same = statics[inst] = old_statics[inst]
                    if current is not None and same.current_nodenames:
                        for n in same.current_nodenames:
                            if owner_of(n, inst) != inst:
                                others.append((n, inst))
                    if base is not old:  # its row was amended for a shared nodename: done again
                        fresh.append(inst)
                    rows[inst] = base
                    same_inputs += 1
                    continue
            history_ts = None if history is None else history[0].value if len(history) == 1 else newest(history)
            current_ts = None if current is None else newest_current[inst]
            # the label sources classify merges: targets, current series (a push series left behind by a
            # relabel is history, not the present), and history only for an instance with neither. The
            # signature is those label dicts (the same objects refresh after refresh, see
            # fleetui.adapters.labelsets: compared by identity first), and how many are targets
            sig: tuple[Any, ...]
            if targets is not None:
                if len(targets) == 1 and current is not None and len(current) == 2:  # a pull host: up, uname
                    sig = (1, targets[0].labels, current[0].labels, current[1].labels)
                else:
                    sig = (len(targets), *[t.labels for t in targets], *[s.labels for s in current or ()])
            elif current is not None:
                assert current_ts is not None
                oldest = current_ts - history_after
                if len(current) == 1:  # a push host: its one series is its newest
                    sig = (0, current[0].labels)
                elif len(current) == 2 and current[0].value >= oldest and current[1].value >= oldest:  # up, uname
                    sig = (0, current[0].labels, current[1].labels)
                else:
                    sig = (0, *[s.labels for s in current if s.value >= oldest])
            else:
                assert history is not None
                before = was_gone.get(inst)
                if before is not None and before == history and inst not in flipped:  # as above, new lists
                    statics[inst] = old_statics[inst]
                    rows[inst] = old_rows[inst]  # and its times as they were
                    continue
                sig = (-1, *[s.labels for s in history])
            st = static_of(inst)
            if st is None or st.sig != sig:
                st = _static(inst, sig, policy)
                if made is not None:
                    made.append(inst)
            statics[inst] = st
            if current_ts is not None and st.current_nodenames:
                for n in st.current_nodenames:
                    if owner_of(n, inst) != inst:
                        others.append((n, inst))
            # the row: state_of's rules, inline for one target and for a push host
            if targets is not None:
                shown = targets[0]
                if len(targets) == 1:
                    mode = _PULL
                    if shown.health == "up":
                        state = _UP
                        seen = current_ts if current_ts is not None else shown.last_scrape or None
                        last = history_ts if seen is None or (history_ts is not None and history_ts >= seen) else seen
                    else:
                        state, last = _DOWN, history_ts
                else:
                    state, mode, last = state_of(inst, targets, current_ts, history_ts, now, policy)
                    shown = next((t for t in targets if t.health != "up"), shown)  # the first failing one
                scrape_url, scrape_duration = shown.scrape_url, shown.scrape_duration
                last_error = shown.last_error or (NOT_SCRAPED if shown.health == "unknown" else None)
            else:
                scrape_url = last_error = scrape_duration = None
                if current_ts is not None:
                    mode = _PUSH
                    last = current_ts if history_ts is None or current_ts > history_ts else history_ts
                    state = _STALE if now - last > stale_after else _UP
                else:
                    state, mode, last = state_of(inst, (), None, history_ts, now, policy)
            problems = st.problems
            if macos and inst in macos:
                problems += (MACOS_PROBLEM,)
            row = HostStatus(
                inst, state, mode, st.labels, problems, st.nodename, scrape_url, last_error,
                last is None and inst in pending,
            )  # fmt: skip
            # built and then compared (in C, field by field, identity first), because that costs less than
            # comparing the fields one by one here; an equal row is the old object itself (`old`, from above):
            # a host whose only change is time (most of them, each refresh) keeps its row
            if old == row:
                row = old
            else:
                fresh.append(inst)
            rows[inst] = row
            if last != seen_before(inst):
                moved.append(inst)
            last_seen[inst] = last
            durations[inst] = scrape_duration
        return same_inputs

    def _shared_nodenames(
        self,
        others: list[tuple[str, str]],
        first_by_nodename: dict[str, str],
        by_target: Mapping[str, list[Target]],
        newest_current: Mapping[str, float],
        statics: dict[str, _Static],
        rows: dict[str, HostStatus],
        old_rows: dict[str, HostStatus],
        macos: frozenset[str],
        unamended: dict[str, HostStatus],
    ) -> None:
        """Fleet-wide, only where a nodename has several instances: a push instance whose every nodename another
        instance reports with samples newer by more than history_after is superseded (renamed: stale), and
        the others sharing a nodename are duplicates. Their rows are amended in `rows` with that, and the rows
        as they were before put in `unamended`."""
        history_after = self.policy.history_after
        shared_by: dict[str, list[str]] = {}  # shared nodename -> its instances (in the order seen)
        for n, inst in others:
            insts = shared_by.get(n)
            if insts is None:
                shared_by[n] = [first_by_nodename[n], inst]
            else:
                insts.append(inst)
        candidates = {i for insts in shared_by.values() for i in insts}
        # shared nodename -> the newest current sample of any of its instances
        newest_by_name = {n: max(newest_current[i] for i in insts) for n, insts in shared_by.items()}
        superseded: set[str] = set()
        for inst in candidates:
            names = statics[inst].current_nodenames
            ts = newest_current[inst]
            # a name only it reports is its own newest: then it is not superseded
            if (
                inst not in by_target
                and names <= shared_by.keys()
                and all(newest_by_name[n] > ts + history_after for n in names)
            ):
                superseded.add(inst)
        live_by = {n: {i for i in insts if i not in superseded} for n, insts in shared_by.items()}
        shared = {n for n, insts in live_by.items() if len(insts) > 1}
        for inst in candidates:
            st = statics[inst]
            dups: tuple[Problem, ...] = ()
            if not shared.isdisjoint(st.current_nodenames):  # a superseded one too (as classify says)
                dups = tuple(
                    duplicate_problem(n, live_by[n], inst) for n in sorted(st.current_nodenames) if n in shared
                )
            if not dups and inst not in superseded:
                continue
            unamended[inst] = rows[inst]
            row = msgspec.structs.replace(
                rows[inst],
                state=HostState.STALE if inst in superseded else rows[inst].state,  # renamed: pushes as its new name
                problems=st.problems + dups + ((MACOS_PROBLEM,) if inst in macos else ()),
            )
            old = old_rows.get(inst)
            if old == row:
                row = old
            else:
                self._fresh.append(inst)
            rows[inst] = row

    def diff(self) -> FleetDiff:
        """The last refresh's rows against the ones before, as diff_snapshots would give it for their two
        snapshots, from the rows it made anew only (fleetui.domain.fleet.rows_diff)."""
        return rows_diff(
            self._before, self._rows, dict.fromkeys(self._fresh), dict.fromkeys(self._moved), removed=self._removed
        )
