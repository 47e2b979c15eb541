"""The classifier's visit of only the hosts whose inputs changed (Classifier._classify_changes) gives exactly
the one-shot `classify` answer, refresh after refresh.

That path is taken only when the inputs keep their objects the way the Prometheus reader keeps them: one label
dict per label text, one Target per target text, one history list per unchanged last-seen entry. The random
tests of test_reclassify.py build fresh objects half the time, so here the same fleets are handed over as
the reader hands them (`Reader` below interns them). Pure domain code over parsed inputs: these are sequences
of refreshes no lab fleet goes through in a test's time; the reference is the real `classify`.
"""

from __future__ import annotations

import random
from dataclasses import replace

import msgspec

from fleetui.domain.classify import FleetInputs, Sample, Target, classify
from fleetui.domain.fleet import FleetSnapshot, HostState, diff_snapshots
from fleetui.domain.reclassify import Classifier, by_instance, joined, newest_by_instance
from tests.unit.test_reclassify import NOW, POLICY, _fleet_inputs, _mutate, _random_fleet


class Reader:
    """Hands inputs over with the object identity the Prometheus reader gives them: equal label dicts are one
    dict, equal targets one Target, an instance's unchanged history one list; the current samples grouped per
    reply, `up` first."""

    def __init__(self) -> None:
        self.labels: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
        self.targets: dict[tuple[object, ...], Target] = {}
        self.history: dict[tuple[object, ...], list[Sample]] = {}

    def label_dict(self, labels: object) -> dict[str, str]:
        assert isinstance(labels, dict)
        return self.labels.setdefault(tuple(sorted(labels.items())), labels)

    def target(self, t: Target) -> Target:
        labels = self.label_dict(t.labels)
        key = (t.instance, t.scrape_pool, id(labels), t.health, t.scrape_url, t.last_error, t.last_scrape,
               t.scrape_duration)  # fmt: skip
        return self.targets.setdefault(key, msgspec.structs.replace(t, labels=labels))

    def hand(self, inputs: FleetInputs) -> FleetInputs:
        current = [Sample(self.label_dict(s.labels), s.value, s.source) for s in inputs.current]
        ups = [s for s in current if s.source == "up"]
        unames = [s for s in current if s.source != "up"]
        by_current = joined(by_instance(ups), by_instance(unames))
        history = [Sample(self.label_dict(s.labels), s.value, s.source) for s in inputs.history]
        by_history = {
            inst: self.history.setdefault(tuple((id(s.labels), s.value, s.source) for s in got), got)
            for inst, got in by_instance(history, positive=True).items()
        }
        return replace(
            inputs,
            targets=[self.target(t) for t in inputs.targets],
            current=[*ups, *unames],
            current_by_instance=by_current,
            current_newest=newest_by_instance(by_current),
            history=history,
            history_by_instance=by_history,
        )


def _check(c: Classifier, inputs: FleetInputs, before: FleetSnapshot | None, step: int) -> FleetSnapshot:
    got = c.classify(inputs)
    assert got == classify(inputs, POLICY), f"refresh {step}"
    after = FleetSnapshot(got.hosts, inputs.now, times=got.times)
    assert c.diff() == diff_snapshots(before, after), f"refresh {step}, diff"
    return after


def test_only_changed_hosts_are_looked_at_and_every_answer_is_still_classify() -> None:
    """300 refreshes of a random fleet (labels, states, kinds, nodenames shared and renamed, history, pending
    look-ups and macOS names changing every third refresh), most hosts keeping their newest sample from one
    refresh to the next and quiet push hosts ageing into stale: every answer and diff equals classify's, and
    many hosts are not looked at one by one."""
    rng, hosts, counter = _random_fleet(71)
    reader = Reader()
    c = Classifier(POLICY)
    before: FleetSnapshot | None = None
    previous: FleetInputs | None = None
    visited = total = 0
    states: set[HostState] = set()
    for step in range(300):
        if step % 3 == 0:
            _mutate(rng, hosts, counter)
        for h in hosts.values():
            if "ts" not in h or rng.random() < 0.3:
                h["ts"] = NOW + 15 * step - float(h["age"])  # type: ignore[arg-type]
        inputs = _fleet_inputs(rng, step, hosts)
        # a target scraped again takes as long as its scrape time says (the same time, the same duration)
        scraped = [msgspec.structs.replace(t, scrape_duration=(t.last_scrape or 0) % 7 / 100) for t in inputs.targets]
        inputs = reader.hand(replace(inputs, targets=scraped))
        if step % 3:  # between changes: the history, pending look-ups and macOS names of the refresh before
            assert previous is not None
            inputs = replace(
                inputs,
                history=previous.history,
                history_by_instance=previous.history_by_instance,
                pending=previous.pending,
                macos=previous.macos,
            )
        before = _check(c, inputs, before, step)
        previous = inputs
        visited += c.visited
        total += len(got_hosts := before.hosts)
        states.update(h.state for h in got_hosts)
    # not every host: in this fleet half the live hosts have history too (looked at: their last seen is the
    # larger of two) and a third of the push hosts three series (their signature depends on time)
    assert visited < total * 0.75, (visited, total)
    assert states >= {HostState.UP, HostState.DOWN, HostState.STALE, HostState.GONE}


def test_hosts_come_back_leave_and_turn_gone_between_refreshes_that_change_little() -> None:
    """A fleet where hosts go from live to gone and back, and leave for good, with nothing else changing: the
    rows kept, dropped and worked out again are classify's at every step, and a refresh where only time
    moved looks at no host."""
    reader = Reader()
    c = Classifier(POLICY)
    ok = {"environment": "prod", "maintainers": "ops"}
    before: FleetSnapshot | None = None
    rng = random.Random(5)
    live = {f"h{i}:9100" for i in range(30)}
    gone: set[str] = set()
    was: tuple[set[str], set[str]] = (set(), set())
    quiet = 0
    for step in range(120):
        now = NOW + 15 * step
        if rng.random() < 0.3:
            inst = rng.choice(sorted(live | gone))
            if inst in live:
                live.discard(inst)
                if rng.random() < 0.7:
                    gone.add(inst)
            else:
                gone.discard(inst)
                live.add(inst)
        targets = [Target(i, "node", {"instance": i, "job": "node", **ok}, "up", "u", None, NOW, 0.01) for i in live]
        current = [Sample({"instance": i, "job": "node", **ok}, now - 5, "up") for i in live]
        current += [Sample({"instance": i, "job": "node", "nodename": i[:-5], **ok}, now - 5, "uname") for i in live]
        history = [Sample({"instance": i, **ok}, NOW, "up") for i in sorted(gone)]
        inputs = reader.hand(FleetInputs(now, targets=targets, current=current, history=history))
        before = _check(c, inputs, before, step)
        if (live, gone) == was:  # only time moved: no host looked at, every live one's last seen taken
            assert c.visited == 0, f"refresh {step}"
            quiet += 1
        was = (set(live), set(gone))
    assert quiet > 50


def test_a_push_series_left_behind_leaves_the_signature_though_its_labels_stay() -> None:
    """A push host's uname series stops while its `up` keeps coming: once it is older than the newest by more
    than history_after it is history, and the host loses the nodename it gave, though no label changed; when
    it comes again, the nodename is back. Each refresh is classify's."""
    reader = Reader()
    c = Classifier(POLICY)
    ok = {"environment": "prod", "maintainers": "ops"}
    before: FleetSnapshot | None = None
    nodenames = []
    for step in range(12):
        now = NOW + 10 * step
        uname_at = NOW if step < 8 else now  # stops for a while, then comes again
        current = [
            Sample({"instance": "p", "job": "alloy", **ok}, now, "up"),
            Sample({"instance": "p", "job": "alloy", "nodename": "box", **ok}, uname_at, "uname"),
            Sample({"instance": "q", "job": "alloy", **ok}, now, "up"),
        ]
        before = _check(c, reader.hand(FleetInputs(now, targets=[], current=current)), before, step)
        nodenames.append(before.hosts[0].nodename)
    assert nodenames == ["box"] * 4 + [None] * 4 + ["box"] * 4


def test_a_target_that_moves_to_another_instance_is_seen_though_the_counts_stay() -> None:
    """One pull host's target is replaced by another host's (a down one, with no sample yet) while a push host
    keeps pushing: as many targets and as many hosts with samples as before, only the names differ. The
    classifier must not take the last refresh's live hosts for this one's; each refresh is classify's."""
    reader = Reader()
    c = Classifier(POLICY)
    ok = {"environment": "prod", "maintainers": "ops"}
    before: FleetSnapshot | None = None
    for step, pull in enumerate(["a:9100", "a:9100", "b:9100", "b:9100", "a:9100"]):
        now = NOW + 15 * step
        targets = [Target(pull, "node", {"instance": pull, "job": "node", **ok}, "down", "u", "refused", NOW, 0.01)]
        current = [Sample({"instance": "p", "job": "alloy", **ok}, now, "up")]
        before = _check(c, reader.hand(FleetInputs(now, targets=targets, current=current)), before, step)
        assert [h.instance for h in before.hosts] == sorted([pull, "p"]), f"refresh {step}"
