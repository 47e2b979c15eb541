"""Classification refresh after refresh, redoing only the hosts whose inputs changed.

Why: the console classifies the whole fleet on every refresh, and at 10,000 hosts `classify` cost about as
much as Prometheus took to answer. Yet between two refreshes almost no host changes its labels, jobs or
nodename: what moves is time (each host's newest sample, a target's scrape duration). So `Classifier` keeps,
per instance, the series and target labels the previous refresh had (its *signature*) and what they gave
(merged labels, label problems, nodenames). A host whose signature is unchanged reuses them and only has its
state and last-seen worked out again; a host whose state, times and problems are all unchanged gets the
previous refresh's HostStatus object itself back (so the snapshot diff skips it at once).

The rules are `fleetui.domain.classify`'s own (its helpers do the work); the fleet-wide ones (superseded
instances, duplicate nodenames, macOS names, pending look-ups) are applied on every refresh. `classify()`
stays the one-shot reference: unit tests check that this gives exactly its answer, refresh after refresh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fleetui.domain.classify import (
    _SKIP,
    MACOS_PROBLEM,
    FleetInputs,
    Policy,
    Sample,
    Target,
    _job_problem,
    _label_problems,
    _ordered,
    _shared,
    duplicate_problem,
    nodename_problem,
    state_of,
)
from fleetui.domain.fleet import FleetDiff, HostState, HostStatus, Problem, rows_diff


class _Static:
    """What an instance's labels give, kept while its signature stays the same."""

    __slots__ = ("current_nodenames", "labels", "nodename", "problems", "sig")

    def __init__(
        self,
        sig: tuple[Any, ...],
        labels: dict[str, str],
        problems: tuple[Problem, ...],
        current_nodenames: frozenset[str],
        nodename: str | None,
    ) -> None:
        self.sig = sig
        self.labels = labels
        self.problems = problems
        self.current_nodenames = current_nodenames
        self.nodename = nodename


def _static(inst: str, sig: tuple[Any, ...], policy: Policy) -> _Static:
    """Merge the label sources of a signature (first wins per key, as classify's _gather) and derive the
    label problems. sig[0]: how many of the sources are targets (-1: history; the rest are current)."""
    merged: dict[str, str] = {}
    jobs: set[str] = set()
    nodenames: set[str] = set()
    current_nodenames: set[str] = set()
    n_targets = sig[0]
    for i, labels in enumerate(sig[1:]):
        current = n_targets >= 0 and i >= n_targets
        for k, v in labels.items():
            if k not in merged and k not in _SKIP and not k.startswith("__"):
                merged[k] = v
        job = labels.get("job")
        if job:
            jobs.add(job)
        nodename = labels.get("nodename")
        if nodename:
            nodenames.add(nodename)
            if current:
                current_nodenames.add(nodename)
    labels = _shared(merged)
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


def newest(samples: list[Sample]) -> float:
    """The largest value of a non-empty list of samples (most hosts have one or two)."""
    ts = samples[0].value
    for s in samples:
        if s.value > ts:
            ts = s.value
    return ts


class Classifier:
    """`classify` for a series of refreshes of one fleet: `Classifier(policy).classify(inputs)` each time."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._statics: dict[str, _Static] = {}
        self._rows: dict[str, HostStatus] = {}
        self._before: dict[str, HostStatus] = {}  # the rows of the refresh before the last
        self._fresh: list[str] = []  # instances whose row the last refresh made anew (a few more than once)
        self._order: list[str] = []  # the instances sorted, while they stay the same
        self.reused = 0  # hosts of the last refresh whose label work was skipped (for tests and benchmarks)
        # the last refresh's history (the very list), grouped, and the instances that were gone in it
        self._history: object = None
        self._by_history: Mapping[str, list[Sample]] = {}
        self._gone: dict[str, list[Sample]] = {}  # instances gone last refresh: their history then
        self._macos: frozenset[str] = frozenset()

    def classify(self, inputs: FleetInputs) -> tuple[HostStatus, ...]:
        """The fleet's rows, sorted by instance: equal to `classify(inputs, policy)`."""
        policy = self.policy
        # each instance's inputs in classify's order (targets, current, history): three dicts of lists, so a
        # host costs a dict look-up and a list, not an object per refresh
        by_target: dict[str, list[Target]] = {}
        for t in inputs.targets:
            found = by_target.get(t.instance)
            if found is None:
                by_target[t.instance] = [t]
            else:
                found.append(t)
        by_current = inputs.current_by_instance
        newest_current = inputs.current_newest
        if by_current is None:
            by_current = by_instance(inputs.current)
            newest_current = None
        # the book hands over the same history list while nothing in it changed (then it need not be grouped
        # again), and each host's history samples as the same objects while its entry is unchanged
        if inputs.history_by_instance is not None:  # the book's, its lists the same objects while unchanged
            by_history = inputs.history_by_instance
        elif inputs.history is self._history:
            by_history = self._by_history
        else:
            by_history = by_instance(inputs.history, positive=True)  # a `time() * up` rule writes 0 while down
            self._history, self._by_history = inputs.history, by_history
        was_gone = self._gone
        old_macos, self._macos = self._macos, inputs.macos
        gone: dict[str, list[Sample]] = {}
        instances = dict.fromkeys(by_target)
        instances.update(dict.fromkeys(by_current))
        instances.update(dict.fromkeys(by_history))

        old_statics, old_rows = self._statics, self._rows
        self._fresh = []
        statics: dict[str, _Static] = {}
        rows: dict[str, HostStatus] = {}
        history_after = policy.history_after
        now, macos, pending = inputs.now, inputs.macos, inputs.pending
        # current nodename -> the first instance reporting it, and (nodename, instance) for each other one:
        # most nodenames belong to one instance, so they cost one setdefault
        first_by_nodename: dict[str, str] = {}
        others: list[tuple[str, str]] = []
        reused = 0
        row = self._row
        no_targets: list[Target] = []
        target_of, current_of, history_of = by_target.get, by_current.get, by_history.get
        static_of, owner_of = old_statics.get, first_by_nodename.setdefault
        for inst in instances:
            targets = target_of(inst, no_targets)
            current = current_of(inst)
            history = history_of(inst)
            if not targets and current is None:
                # gone (so it has history: every instance here has targets, current samples or history),
                # as last refresh, with the same history samples (the book keeps them the same objects) and
                # the same macOS flag: nothing in its row can have changed (it has a last-seen time, so
                # whether a look-up is pending does not show)
                assert history is not None
                gone[inst] = history
                before = was_gone.get(inst)
                if (
                    before is not None
                    and (before is history or before == history)
                    and (inst in macos) == (inst in old_macos)
                ):
                    statics[inst] = old_statics[inst]
                    rows[inst] = old_rows[inst]
                    reused += 1
                    continue
            # newest times: the reader's, or without a call for the many hosts with one sample of a kind
            if current is None:
                current_ts = None
            elif newest_current is not None:
                current_ts = newest_current[inst]
            else:
                current_ts = current[0].value if len(current) == 1 else newest(current)
            history_ts = None if history is None else history[0].value if len(history) == 1 else newest(history)
            # the label sources classify merges: targets, current series (a push series left behind by a
            # relabel is history, not the present), and history only for an instance with neither. The
            # signature is those label dicts (the same objects refresh after refresh, see
            # fleetui.adapters.labelsets: compared by identity first), and how many are targets
            sig: tuple[Any, ...]
            if targets:
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
                sig = (-1, *[s.labels for s in history])
            st = static_of(inst)
            if st is None or st.sig != sig:
                st = _static(inst, sig, policy)
            else:
                reused += 1
            statics[inst] = st
            if current_ts is not None and st.current_nodenames:
                for n in st.current_nodenames:
                    if owner_of(n, inst) != inst:
                        others.append((n, inst))
            rows[inst] = row(inst, st, targets, current_ts, history_ts, now, inst in pending, inst in macos, old_rows)
        self._statics = statics
        self._gone = gone
        self.reused = reused

        # fleet-wide, only where a nodename has several instances: a push instance whose every nodename another
        # instance reports with samples newer by more than history_after is superseded (renamed: stale), and
        # the others sharing a nodename are duplicates. Their rows are made again with that.
        if others:
            shared_by: dict[str, list[str]] = {}  # shared nodename -> its instances (in the order seen)
            for n, inst in others:
                insts = shared_by.get(n)
                if insts is None:
                    shared_by[n] = [first_by_nodename[n], inst]
                else:
                    insts.append(inst)
            candidates = {i for insts in shared_by.values() for i in insts}
            newest_of = {i: newest(by_current[i]) for i in candidates}  # each one's newest current sample
            # shared nodename -> the newest current sample of any of its instances
            newest_by_name = {n: max(newest_of[i] for i in insts) for n, insts in shared_by.items()}
            superseded: set[str] = set()
            for inst in candidates:
                names = statics[inst].current_nodenames
                ts = newest_of[inst]
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
                history = by_history.get(inst)
                rows[inst] = row(
                    inst, st, by_target.get(inst, no_targets), newest_of[inst],
                    newest(history) if history else None, now, inst in pending, inst in macos, old_rows,
                    dups=dups, superseded=inst in superseded,
                )  # fmt: skip

        self._rows, self._before = rows, old_rows
        order = self._order
        if len(order) != len(rows) or rows.keys() != old_rows.keys():
            order = self._order = sorted(rows)
        return tuple(map(rows.__getitem__, order))

    def _row(
        self,
        inst: str,
        st: _Static,
        targets: list[Target],
        current_ts: float | None,
        history_ts: float | None,
        now: float,
        pending: bool,
        macos: bool,
        old_rows: dict[str, HostStatus],
        *,
        dups: tuple[Problem, ...] = (),
        superseded: bool = False,
    ) -> HostStatus:
        """One host's row; the previous refresh's very object when nothing in it changed. Built positionally:
        this runs once per live host of every refresh."""
        state, mode, last_seen = state_of(inst, targets, current_ts, history_ts, now, self.policy)
        scrape_url = last_error = scrape_duration = None
        if targets:
            # the target whose scrape the row shows: the only one, or the first failing one of several
            shown = targets[0] if len(targets) == 1 else next((t for t in targets if t.health != "up"), targets[0])
            scrape_url = shown.scrape_url
            last_error = shown.last_error or ("not scraped yet" if shown.health == "unknown" else None)
            scrape_duration = shown.scrape_duration
        if superseded:
            state = HostState.STALE  # renamed: the machine pushes under its new name now
        problems = st.problems
        if dups:
            problems += dups
        if macos:
            problems += (MACOS_PROBLEM,)
        row = HostStatus(
            inst, state, mode, last_seen, st.labels, problems, st.nodename, scrape_url, last_error, scrape_duration,
            pending and last_seen is None,
        )  # fmt: skip
        # built and then compared (in C, field by field, identity first), because that costs less than
        # comparing the fields one by one here; an equal row is the old object itself
        old = old_rows.get(inst)
        if old == row:
            return old
        self._fresh.append(inst)
        return row

    def diff(self) -> FleetDiff:
        """The last refresh's rows against the ones before, as diff_snapshots would give it for their two
        snapshots, from the rows it made anew only (fleetui.domain.fleet.rows_diff)."""
        return rows_diff(self._before, self._rows, dict.fromkeys(self._fresh))
