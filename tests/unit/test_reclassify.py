"""Incremental classification (fleetui.domain.reclassify) gives exactly the one-shot `classify` answer,
refresh after refresh: hosts changing state, labels changing, hosts appearing and disappearing, renamed
instances, duplicate nodenames, series left behind by a relabel, pending look-ups, macOS names.

Pure domain code over parsed inputs (no HTTP): the inputs are built here because these are sequences of
refreshes no lab fleet goes through in a test's time; the reference is the real `classify`.
"""

from __future__ import annotations

import random
from dataclasses import replace
from itertools import islice

from fleetui.domain.classify import FleetInputs, Policy, Sample, Target, classify
from fleetui.domain.fleet import FleetSnapshot, HostState, diff_snapshots
from fleetui.domain.reclassify import (
    Classifier,
    _reordered,
    by_instance,
    joined,
    newest,
    newest_by_instance,
    predicted_presence,
)

NOW = 1_700_000_000.0
POLICY = Policy(
    stale_after=120,
    required_labels=("environment", "maintainers"),
    aliases={"maintainer": "maintainers", "env": "environment"},
)


def up(inst: str, ts: float, **labels: str) -> Sample:
    return Sample({"instance": inst, "job": "node", **labels}, ts, "up")


def uname(inst: str, ts: float, nodename: str, **labels: str) -> Sample:
    return Sample({"instance": inst, "job": "node", "nodename": nodename, "sysname": "Linux", **labels}, ts, "uname")


def target(inst: str, health: str = "up", **labels: str) -> Target:
    return Target(
        inst, "node", {"instance": inst, "job": "node", **labels}, health, f"http://{inst}/m", None, NOW, 0.01
    )


def both(c: Classifier, inputs: FleetInputs) -> None:
    assert c.classify(inputs) == classify(inputs, POLICY)


def test_unchanged_hosts_reuse_their_rows_and_changed_ones_follow_their_inputs() -> None:
    c = Classifier(POLICY)
    ok = {"environment": "prod", "maintainers": "ops"}
    tg = target("a:9100", **ok)
    first = FleetInputs(NOW, targets=[tg], current=[up("a:9100", NOW, **ok), up("p1", NOW, **ok)])
    rows = c.classify(first)
    assert rows == classify(first, POLICY)
    again = c.classify(FleetInputs(NOW, targets=[tg], current=[up("a:9100", NOW, **ok), up("p1", NOW, **ok)]))
    assert [a is b for a, b in zip(rows.hosts, again.hosts, strict=True)] == [
        True,
        True,
    ]  # nothing changed: same objects
    assert c.reused == 2
    # a label renamed to a near miss, a target going down, a push host going quiet, a new host
    later = FleetInputs(
        NOW + 300,
        targets=[target("a:9100", "down", **ok)],
        current=[
            up("a:9100", NOW + 300, **ok),
            up("p1", NOW, environment="prod", maintainer="ops"),
            up("p2", NOW + 300, **ok),
        ],
        history=[Sample({"instance": "a:9100"}, NOW + 240, "history")],
    )
    rows = c.classify(later)
    assert rows == classify(later, POLICY)
    by = {h.instance: h for h in rows.hosts}
    assert by["a:9100"].state is HostState.DOWN and rows.times.last_seen["a:9100"] == NOW + 240
    assert by["p1"].state is HostState.STALE
    assert {p.code for p in by["p1"].problems} == {"label_key_drift", "missing_required_label"}
    assert set(by) == {"a:9100", "p1", "p2"}
    # p1 gone (history only), p2 disappears entirely
    gone = FleetInputs(
        NOW + 600, targets=[target("a:9100", **ok)], current=[up("a:9100", NOW + 600, **ok)],
        history=[Sample({"instance": "p1", "environment": "prod"}, NOW, "history")],
    )  # fmt: skip
    rows = c.classify(gone)
    assert rows == classify(gone, POLICY)
    assert [(h.instance, h.state) for h in rows.hosts] == [("a:9100", HostState.UP), ("p1", HostState.GONE)]


def _fleet_inputs(rng: random.Random, step: int, hosts: dict[str, dict[str, object]]) -> FleetInputs:
    """One refresh of a small random fleet whose hosts change a little at every step."""
    now = NOW + 15 * step
    targets: list[Target] = []
    current: list[Sample] = []
    history: list[Sample] = []
    for inst, h in hosts.items():
        labels = dict(h["labels"])  # type: ignore[call-overload]
        if rng.random() < 0.5:  # fresh dicts as often as shared ones: the result must not depend on identity
            labels = {**labels}
        node = str(h["node"])
        kind = h["kind"]
        # a host's newest sample: `ts` when the test keeps it from refresh to refresh (not scraped since)
        ts = float(h["ts"]) if "ts" in h else now - float(h["age"])  # type: ignore[arg-type]
        if kind == "pull":
            targets.append(Target(inst, "node", {"instance": inst, **labels}, str(h["health"]), "u", None, ts, 0.01))
            current += [Sample({"instance": inst, **labels}, ts, "up")]
            current += [Sample({"instance": inst, **labels, "nodename": node, "sysname": "Linux"}, ts, "uname")]
        elif kind == "push":
            current += [Sample({"instance": inst, **labels}, ts, "up")]
            current += [Sample({"instance": inst, **labels, "nodename": node}, ts, "uname")]
            if h.get("node2"):  # a second machine's name under the same instance: two uname series
                current += [Sample({"instance": inst, **labels, "nodename": str(h["node2"])}, ts, "uname")]
            if h.get("old"):  # a series left behind by a relabel: older than the instance's freshest
                current += [Sample({"instance": inst, **labels, "job": "prometheus.scrape.x"}, ts - 60, "up")]
        if h.get("hist") or kind == "gone":
            history += [Sample({"instance": inst, **labels, "nodename": node}, ts - 30, "up")]
    for s in list(current):
        if rng.random() < 0.1:
            history.append(Sample({"instance": str(s.labels["instance"])}, s.value - 100, "history"))
    macos = frozenset(i for i in hosts if rng.random() < 0.05)
    pending = frozenset(i for i in hosts if rng.random() < 0.1)
    rng.shuffle(targets)
    # half the time the history comes grouped as well, as the reader hands over its last-seen book's grouping
    grouped = by_instance(history, positive=True) if rng.random() < 0.5 else None
    return FleetInputs(
        now, targets=targets, current=current, history=history, macos=macos, pending=pending,
        history_by_instance=grouped,
    )  # fmt: skip


def _mutate(rng: random.Random, hosts: dict[str, dict[str, object]], counter: list[int]) -> None:
    label_choices = [
        {"job": "node", "environment": "prod", "maintainers": "ops"},
        {"job": "node", "environment": "prod", "maintainer": "ops"},
        {"job": "prometheus.scrape.default", "environment": "dev", "maintainers": "web"},
        {"job": "node", "environment": "", "maintainers": "ops", "hostname": "db-1"},
        {"job": "node", "Environment": "prod"},
    ]
    for inst in list(hosts):
        h = hosts[inst]
        r = rng.random()
        if r < 0.04:
            del hosts[inst]  # disappears
        elif r < 0.10:
            h["labels"] = rng.choice(label_choices)
        elif r < 0.16:
            h["health"] = rng.choice(["up", "down", "unknown"])
        elif r < 0.22:
            h["kind"] = rng.choice(["pull", "push", "gone"])
        elif r < 0.26:
            h["node"] = rng.choice(["n1", "n2", inst.split(":")[0]])  # shared nodenames, renamed instances
        elif r < 0.30:
            h["old"] = not h.get("old")
        elif r < 0.33:
            h["hist"] = not h.get("hist")
        elif r < 0.36:
            h["node2"] = None if h.get("node2") else rng.choice(["n1", "n3", f"own-{inst}"])
        h["age"] = rng.choice([0, 5, 20, 60, 200, 400])
    for _ in range(rng.randint(0, 3)):  # new hosts appear
        counter[0] += 1
        inst = rng.choice([f"h{counter[0]}", f"10.0.0.{counter[0]}:9100", f"web-{counter[0]}.example:9100"])
        hosts[inst] = {
            "labels": rng.choice(label_choices),
            "node": rng.choice(["n1", inst.split(":")[0]]),
            "kind": rng.choice(["pull", "push", "push", "gone"]),
            "health": "up",
            "age": 0,
        }


def _random_fleet(seed: int) -> tuple[random.Random, dict[str, dict[str, object]], list[int]]:
    """A seeded generator and a small fleet it has changed a dozen times (hosts, and the count of hosts made)."""
    rng = random.Random(seed)
    hosts: dict[str, dict[str, object]] = {}
    counter = [0]
    for _ in range(12):
        _mutate(rng, hosts, counter)
    return rng, hosts, counter


def test_incremental_equals_full_over_random_refreshes() -> None:
    """200 refreshes of a fleet of about 40 hosts whose labels, states, kinds and nodenames change at random
    (a fixed seed): every refresh's rows equal classify's, and most hosts' label work is reused."""
    rng, hosts, counter = _random_fleet(17)
    c = Classifier(POLICY)
    grouped = Classifier(POLICY)  # handed the samples grouped per reply, as the Prometheus reader does
    reused = 0
    seen_states: set[HostState] = set()
    before: FleetSnapshot | None = None
    for step in range(200):
        _mutate(rng, hosts, counter)
        inputs = _fleet_inputs(rng, step, hosts)
        got = c.classify(inputs)
        assert got == classify(inputs, POLICY), f"refresh {step}"
        # the classifier's own diff (from the rows it made anew) is the full comparison's
        after = FleetSnapshot(got.hosts, inputs.now, times=got.times)
        assert c.diff() == diff_snapshots(before, after), f"refresh {step}, diff"
        before = after
        ups = [s for s in inputs.current if s.source == "up"]
        unames = [s for s in inputs.current if s.source != "up"]
        by_current = joined(by_instance(ups), by_instance(unames))
        newest_by = {inst: newest(samples) for inst, samples in by_current.items()}
        by_reply = replace(inputs, current_by_instance=by_current, current_newest=newest_by)
        assert grouped.classify(by_reply) == got, f"refresh {step}, grouped per reply"
        reused += c.reused
        seen_states.update(h.state for h in got.hosts)
    assert reused > 2000  # the incremental path was taken, not only the full one
    assert seen_states >= {HostState.UP, HostState.DOWN, HostState.STALE, HostState.GONE}


def test_hosts_whose_inputs_did_not_change_keep_their_rows_until_age_or_a_shared_name_changes_them() -> None:
    """A pull host between two scrapes and a quiet push host keep their row objects; the push host's row
    still turns stale when its age passes stale_after, and a host that stops sharing its nodename loses the
    duplicate problem, though none of their inputs changed."""
    ok = {"environment": "prod", "maintainers": "ops"}
    pulled = [target("a:9100", **ok)]
    samples = [up("a:9100", NOW, **ok), uname("a:9100", NOW, "a", **ok), up("p1", NOW, **ok)]
    twins = [uname("p2", NOW, "n1", **ok), uname("p3", NOW, "n1", **ok)]
    c = Classifier(POLICY)
    first = FleetInputs(NOW, targets=pulled, current=[*samples, *twins])
    rows = {h.instance: h for h in c.classify(first).hosts}
    assert "duplicate_nodename" in {p.code for p in rows["p2"].problems}  # p2 and p3 report the same nodename
    for now in (NOW + 60, NOW + 119):
        again = FleetInputs(now, targets=pulled, current=[*samples, *twins])
        got = c.classify(again)
        assert got == classify(again, POLICY)
        assert all(h is rows[h.instance] for h in got.hosts if h.instance in ("a:9100", "p1"))
    aged = FleetInputs(NOW + 121, targets=pulled, current=[*samples, twins[0]])  # p3 gone from the fleet
    got = c.classify(aged)
    assert got == classify(aged, POLICY)
    by = {h.instance: h for h in got.hosts}
    assert by["a:9100"] is rows["a:9100"]
    assert by["p1"].state is HostState.STALE and by["p2"].state is HostState.STALE
    assert "duplicate_nodename" not in {p.code for p in by["p2"].problems}
    back = FleetInputs(NOW + 20, targets=pulled, current=[*samples, twins[0]])  # a clock set back: fresh again
    assert c.classify(back) == classify(back, POLICY)


def test_inputs_emptied_after_their_refresh_are_not_taken_for_unchanged_ones() -> None:
    """The Prometheus reader empties a refresh's grouped samples once it is done with them (a slice at a time,
    see fleetui.adapters.prometheus). A host that then loses its current samples must not look unchanged
    because the emptied grouping has nothing for it either: its row follows its inputs."""
    ok = {"environment": "prod", "maintainers": "ops"}
    pulled = [target("a:9100", **ok)]
    c = Classifier(POLICY)
    current = [up("a:9100", NOW, **ok), uname("a:9100", NOW, "a", **ok)]
    grouped = by_instance(current)
    first = FleetInputs(NOW, targets=pulled, current=current, current_by_instance=grouped,
                        current_newest=newest_by_instance(grouped), history_by_instance={})  # fmt: skip
    assert c.classify(first).hosts[0].nodename == "a"
    grouped.clear()  # what the reader does once the next refresh no longer needs them
    empty: dict[str, list[Sample]] = {}
    lost = FleetInputs(NOW + 15, targets=pulled, current=[], current_by_instance=empty, current_newest={},
                       history_by_instance={})  # fmt: skip
    got = c.classify(lost)
    assert got == classify(lost, POLICY)
    assert got.hosts[0].nodename is None


def test_incremental_equals_full_when_most_hosts_keep_their_samples() -> None:
    """As the random test above, but most hosts keep their newest sample from one refresh to the next (pull
    targets scraped less often than the fleet is refreshed, quiet push hosts ageing into stale): the rows
    kept because nothing changed are still classify's, and the diff is the full comparison's."""
    rng, hosts, counter = _random_fleet(41)
    c = Classifier(POLICY)
    before: FleetSnapshot | None = None
    kept = 0
    for step in range(200):
        _mutate(rng, hosts, counter)
        for h in hosts.values():
            if "ts" not in h or rng.random() < 0.3:
                h["ts"] = NOW + 15 * step - float(h["age"])  # type: ignore[arg-type]
        inputs = _fleet_inputs(rng, step, hosts)
        rows_before = dict(c._rows)
        got = c.classify(inputs)
        assert got == classify(inputs, POLICY), f"refresh {step}"
        after = FleetSnapshot(got.hosts, inputs.now, times=got.times)
        assert c.diff() == diff_snapshots(before, after), f"refresh {step}, diff"
        before = after
        kept += sum(1 for h in got.hosts if h.state is not HostState.GONE and rows_before.get(h.instance) is h)
    assert kept > 1000  # rows kept for unchanged inputs, not only for gone hosts


def test_the_same_history_list_again_keeps_gone_rows_and_still_equals_full() -> None:
    """The book hands over the very same history list while nothing in it changed, and the classifier then
    gives gone hosts their previous rows without any work. Over random refreshes where such hosts come back,
    are looked up or flagged macOS, and the fleet around them changes, every answer is still classify's."""
    rng, hosts, counter = _random_fleet(29)
    gone = [f"g{i}" for i in range(10)] + [f"10.1.0.{i}:9100" for i in range(5)]
    history = [Sample({"instance": g, "environment": "prod", "maintainers": "ops"}, NOW - 900, "up") for g in gone]
    c = Classifier(POLICY)
    reused_gone = 0
    for step in range(150):
        _mutate(rng, hosts, counter)
        base = _fleet_inputs(rng, step, hosts)
        if rng.random() < 0.05:  # the book changed: a new list (one more gone host, or one less)
            history = history[1:] if rng.random() < 0.5 else [*history, Sample({"instance": f"x{step}"}, NOW, "up")]
        current = list(base.current)
        back = [g for g in gone if rng.random() < 0.05]  # live again: current samples, the same history list
        current += [Sample({"instance": g, "environment": "prod", "maintainers": "ops"}, base.now, "up") for g in back]
        # scraped again: a target, not scraped yet (no sample), for a host that was gone
        scraped = [target(g, "unknown") for g in gone if g not in back and rng.random() < 0.05]
        pending = base.pending | ({rng.choice(gone)} if rng.random() < 0.1 else set())
        macos = base.macos | ({rng.choice(gone)} if rng.random() < 0.1 else set())
        inputs = replace(
            base,
            targets=[*base.targets, *scraped],
            current=current,
            history=history,
            history_by_instance=None,  # this test's own list, not the one grouped with the fleet
            pending=frozenset(pending),
            macos=frozenset(macos),
        )
        before = {h.instance: h for h in c._rows.values()}
        got = c.classify(inputs)
        assert got == classify(inputs, POLICY), f"refresh {step}"
        reused_gone += sum(1 for h in got.hosts if h.state is HostState.GONE and before.get(h.instance) is h)
    assert reused_gone > 500  # the fast path was taken


def test_by_instance_with_one_series_each_and_with_several() -> None:
    """One series per instance (the usual reply) and replies with an instance twice, without an instance, or
    with an empty one, grouped alike: up samples first, each instance's in reply order, nameless ones left
    out."""
    a1, b1 = Sample({"instance": "a"}, 1.0, "up"), Sample({"instance": "b"}, 2.0, "up")
    a2, u = Sample({"instance": "a", "job": "x"}, 3.0, "uname"), Sample({"instance": "a"}, 0.0, "uname")
    assert by_instance([a1, b1]) == {"a": [a1], "b": [b1]}
    assert by_instance([a2, a1, b1]) == {"a": [a1, a2], "b": [b1]}  # up first
    assert by_instance([Sample({"job": "x"}, 1.0, "up"), a1, Sample({"instance": ""}, 1.0, "up")]) == {"a": [a1]}
    assert by_instance([a1, u, a2], positive=True) == {"a": [a1, a2]}


def test_rows_worked_out_inline_follow_classify_at_the_edges() -> None:
    """The classifier works out the rows of one-target pull hosts and of push hosts itself rather than
    through state_of: at the edges of those rules (no sample yet, a target never scraped, history newer than
    the newest sample, equal times, a push host exactly stale_after old, a second target failing) its rows
    are still classify's, refresh after refresh."""
    ok = {"environment": "prod", "maintainers": "ops"}

    def scraped(inst: str, health: str, last_scrape: float | None, error: str | None = None) -> Target:
        labels = {"instance": inst, "job": "node", **ok}
        return Target(inst, "node", labels, health, f"http://{inst}/m", error, last_scrape, 0.02)

    c = Classifier(POLICY)
    for step, now in enumerate((NOW, NOW + 15, NOW + 120, NOW + 121)):
        inputs = FleetInputs(
            now,
            targets=[
                scraped("quiet:9100", "up", NOW - 5),  # scraped, but neither up nor uname queryable yet
                scraped("never:9100", "up", None),  # no sample and no scrape time
                scraped("zero:9100", "up", 0.0),
                scraped("fresh:9100", "unknown", None),  # not scraped yet: its error says so
                scraped("down:9100", "down", NOW - 30, "connection refused"),
                scraped("older:9100", "up", NOW),
                scraped("twice:9100", "up", NOW),
                scraped("twice:9100", "down", NOW, "timeout"),  # a second target of the same instance, failing
            ],
            current=[
                up("older:9100", NOW - 60, **ok),
                uname("older:9100", NOW - 60, "older", **ok),
                up("twice:9100", NOW, **ok),
                up("p-edge", NOW, **ok),  # a push host: exactly stale_after old at NOW + 120
                up("p-hist", NOW - 200, **ok),
                uname("p-hist", NOW - 200, "p-hist", **ok),
            ],
            history=[
                Sample({"instance": "older:9100", **ok}, NOW - 10, "up"),  # newer than its current samples
                Sample({"instance": "p-hist", **ok}, NOW - 100, "up"),
                Sample({"instance": "down:9100", **ok}, NOW - 30, "up"),
                Sample({"instance": "quiet:9100", **ok}, NOW - 5, "up"),  # as new as its last scrape
            ],
            pending=frozenset({"never:9100", "fresh:9100"} if step % 2 else set()),
        )
        assert c.classify(inputs) == classify(inputs, POLICY), f"refresh {step}"
    result = c.classify(inputs)
    by = {h.instance: h for h in result.hosts}
    assert by["p-edge"].state is HostState.STALE  # NOW + 121: older than stale_after
    assert result.times.last_seen["older:9100"] == NOW - 10
    assert by["twice:9100"].state is HostState.DOWN and by["twice:9100"].last_error == "timeout"
    assert by["fresh:9100"].last_error == "not scraped yet"


def test_newest_by_instance_is_the_largest_value_of_each_group() -> None:
    """The inline newest of one or two samples (either order) and the general one of more agree with max()."""
    groups = {
        "one": [up("one", NOW)],
        "two-up-first": [up("two-up-first", NOW + 5), uname("two-up-first", NOW, "n")],
        "two-uname-first": [up("two-uname-first", NOW), uname("two-uname-first", NOW + 5, "n")],
        "three": [up("three", NOW), uname("three", NOW + 9, "a"), uname("three", NOW + 3, "b")],
    }
    assert newest_by_instance(groups) == {inst: max(s.value for s in got) for inst, got in groups.items()}


def test_the_order_follows_hosts_that_come_and_go_without_sorting_them_all_again() -> None:
    """`_reordered` gives `sorted(rows)` from the previous order and the instances added: when some left, some
    came, both or neither; and, told of the wrong additions, still the sorted order (the plain sort)."""
    order = ["10.0.0.10:9100", "10.0.0.2:9100", "db-01", "web-01", "web-02"]  # plain string order
    assert order == sorted(order)
    gone = dict.fromkeys(i for i in order if i != "db-01")
    assert _reordered(order, gone, []) == sorted(gone)
    came = {**dict.fromkeys(order), "a-01": None, "zz": None, "db-00": None}
    assert _reordered(order, came, ["zz", "a-01", "db-00"]) == sorted(came)
    both = {**gone, "web-015": None}
    assert _reordered(order, both, ["web-015"]) == sorted(both)
    assert _reordered(order, dict.fromkeys(order), []) == order
    assert _reordered(order, came, ["zz"]) == sorted(came)  # two additions not told: still right


def test_keys_never_merged_are_dropped_however_often_the_others_were_met() -> None:
    """Prometheus' own keys (`__name__`, `__meta_*`), the machine's and the adapter's tag never reach a host's
    labels, before and after the label names a fleet uses have been met many times."""
    c = Classifier(POLICY)
    ok = {"environment": "prod", "maintainers": "ops"}
    odd = {"__name__": "up", "__meta_extra": "x", "fleetui_src": "up", "domainname": "(none)", "release": "6.1"}
    for step in range(3):
        now = NOW + 15 * step
        inputs = FleetInputs(
            now,
            targets=[target(f"t{i}:9100", **ok) for i in range(20)],
            current=[up(f"t{i}:9100", now, **ok, **odd) for i in range(20)]
            + [uname(f"t{i}:9100", now, f"t{i}", **ok, **odd) for i in range(20)]
            + [up(f"p{i}", now, **ok, **odd) for i in range(20)],
        )
        rows = c.classify(inputs)
        assert rows == classify(inputs, POLICY)
        assert all(h.labels == {"environment": "prod", "instance": h.instance, "job": "node", **ok} for h in rows.hosts)


def _as_the_reader_hands_them(inputs: FleetInputs) -> FleetInputs:
    """The current samples grouped per reply and each instance's newest, as the Prometheus reader hands them
    over (Classifier.guess works only from those)."""
    ups = [s for s in inputs.current if s.source == "up"]
    unames = [s for s in inputs.current if s.source != "up"]
    by_current = joined(by_instance(ups), by_instance(unames))
    return replace(inputs, current_by_instance=by_current, current_newest=newest_by_instance(by_current))


def test_a_guess_from_the_previous_refresh_changes_no_answer() -> None:
    """While the targets are on their way, the Prometheus reader has the classifier guess the rows from the
    presence replies and the previous refresh's targets, history and pending look-ups (Classifier.guess).
    Over random refreshes, guessed from the previous refresh's inputs, from this one's own, from the previous
    macOS names or from another fleet altogether, in full or only its first parts, every answer and diff is
    still classify's; from its own inputs the whole guess has every live host right."""
    rng, hosts, counter = _random_fleet(53)
    stranger_rng, strangers, stranger_counter = _random_fleet(54)
    c = Classifier(POLICY)
    before: FleetSnapshot | None = None
    previous: FleetInputs | None = None
    guessed = 0
    for step in range(240):
        _mutate(rng, hosts, counter)
        _mutate(stranger_rng, strangers, stranger_counter)
        inputs = _as_the_reader_hands_them(_fleet_inputs(rng, step, hosts))
        kind = step % 4
        if kind == 1 or previous is None:  # this refresh's own inputs
            base = inputs
        elif kind == 3:  # another fleet's
            base = _fleet_inputs(stranger_rng, step, strangers)
        else:
            base = previous
        guess = replace(
            inputs,
            targets=base.targets,
            history=base.history,
            history_by_instance=base.history_by_instance,
            pending=base.pending,
            macos=previous.macos if kind == 2 and previous is not None else inputs.macos,
        )
        if step % 5 == 4:  # the targets came in while the guess was under way: only its first parts done
            parts = rng.randint(0, 3)
            made = next(islice(c.guessing(guess, step=7), parts - 1, None), 0) if parts else 0
            assert made <= 7 * parts
        else:
            made = c.guess(guess)
        got = c.classify(inputs)
        assert got == classify(inputs, POLICY), f"refresh {step}"
        after = FleetSnapshot(got.hosts, inputs.now, times=got.times)
        assert c.diff() == diff_snapshots(before, after), f"refresh {step}, diff"
        if kind == 1 and inputs.history_by_instance is not None and step % 5 != 4:
            live = {t.instance for t in inputs.targets} | {s.labels["instance"] for s in inputs.current}
            assert c.guessed == made == len(live), f"refresh {step}, own inputs"
        guessed += c.guessed
        before, previous = after, inputs
    assert guessed > 500  # rows were taken from guesses, not only worked out again


def test_a_guess_from_a_predicted_presence_reply_changes_no_answer() -> None:
    """With a presence reply last, the reader has the classifier guess from this refresh's targets, the other
    presence reply and a prediction of the missing one (predicted_presence: both series at the time of the
    one that came, where they had the same time before). Over random refreshes, either reply missing, in
    full or only its first parts: every answer and diff is still classify's, and most rows come from the
    guess made from this refresh's history (the fleet's hosts keep one time for both series; a changed nodename
    or label is a wrong guess)."""
    rng, hosts, counter = _random_fleet(61)
    c = Classifier(POLICY)
    before: FleetSnapshot | None = None
    last: FleetInputs | None = None
    guessed = live = 0
    for step in range(240):
        _mutate(rng, hosts, counter)
        inputs = _as_the_reader_hands_them(_fleet_inputs(rng, step, hosts))
        own_history = step % 2 == 0 and step % 5 != 4
        if last is not None and last.current_by_instance is not None:
            up_arrived = step % 3 != 0
            arrived = by_instance([s for s in inputs.current if (s.source == "up") is up_arrived])
            predicted = predicted_presence(arrived, up_arrived, last.current_by_instance)
            # the previous refresh's history, pending look-ups and macOS names, as the reader has them; every
            # other time this refresh's own (the book hands the same history objects while nothing changed)
            guess = replace(
                last if step % 2 else inputs,
                now=inputs.now,
                targets=inputs.targets,
                current=(),
                current_by_instance=predicted,
                current_newest=newest_by_instance(predicted),
            )
            if step % 5 == 4:  # the last reply came in while the guess was under way
                next(islice(c.guessing(guess, step=7, predicted=True), rng.randint(0, 3), None), 0)
            else:
                for _ in c.guessing(guess, predicted=True):
                    pass
        got = c.classify(inputs)
        assert got == classify(inputs, POLICY), f"refresh {step}"
        after = FleetSnapshot(got.hosts, inputs.now, times=got.times)
        assert c.diff() == diff_snapshots(before, after), f"refresh {step}, diff"
        guessed += c.guessed
        if own_history:
            live += len({t.instance for t in inputs.targets} | set(inputs.current_by_instance or ()))
        before, last = after, inputs
    assert guessed > live // 2, (guessed, live)  # rows were taken from the predictions, not only worked out


def test_a_predicted_presence_reply_keeps_both_series_at_the_time_that_came() -> None:
    """The prediction itself: a host whose up and uname series had one time gets both at the new time of the
    one that came (labels as before), in the order joined gives; others keep the missing branch as it was;
    a host only in the reply that came has only its own series."""
    lab = {"instance": "a", "job": "node"}
    a_up, a_un = Sample(lab, NOW, "up"), Sample({**lab, "nodename": "a"}, NOW, "uname")
    b_up, b_un = Sample({"instance": "b"}, NOW - 60, "up"), Sample({"instance": "b", "nodename": "b"}, NOW, "uname")
    gone_un = Sample({"instance": "g", "nodename": "g"}, NOW, "uname")
    before = {"a": [a_up, a_un], "b": [b_up, b_un], "g": [gone_un]}
    new_a, new_b, new_c = Sample(lab, NOW + 15, "up"), Sample({"instance": "b"}, NOW + 15, "up"), Sample({}, 1, "up")
    got = predicted_presence({"a": [new_a], "b": [new_b], "c": [new_c]}, True, before)
    assert got == {
        "a": [new_a, Sample(a_un.labels, NOW + 15, "uname")],
        "b": [new_b, b_un],  # two times before: the uname series as it was
        "c": [new_c],
        "g": [gone_un],
    }
    assert got["a"][1].labels is a_un.labels
    # two machines' names under one instance, and a series left behind by a relabel (older): the same rule
    two = [a_up, Sample({**lab, "job": "old"}, NOW - 60, "up"), a_un, Sample({**lab, "nodename": "a2"}, NOW, "uname")]
    assert predicted_presence({"a": [new_a]}, True, {"a": two}) == {
        "a": [new_a, Sample(a_un.labels, NOW + 15, "uname"), Sample(two[3].labels, NOW + 15, "uname")]
    }
    new_un = Sample(a_un.labels, NOW + 30, "uname")
    assert predicted_presence({"a": [new_un]}, False, before) == {
        "a": [Sample(lab, NOW + 30, "up"), new_un],
        "b": [b_up],
    }


def test_a_guess_is_taken_only_by_the_refresh_it_was_made_for() -> None:
    """A guess made for other presence replies, another time, or before a classify that did not take it is
    never used: the next classify works every row out itself."""
    ok = {"environment": "prod", "maintainers": "ops"}
    first = _as_the_reader_hands_them(
        FleetInputs(NOW, targets=[target("a:9100", **ok)], current=[up("a:9100", NOW, **ok), up("p1", NOW, **ok)])
    )
    c = Classifier(POLICY)
    c.classify(first)
    again = replace(first, history_by_instance={})
    assert c.guess(again) == 2
    c.classify(replace(_as_the_reader_hands_them(first), history_by_instance={}))  # other presence objects
    assert c.guessed == 0
    c.guess(again)
    later = replace(again, now=NOW + 15)
    c.classify(later)
    assert c.guessed == 0
    c.guess(later)
    c.classify(replace(later, targets=[]))  # a guess taken once; a changed target redone
    assert c.guessed == 1
    assert c.classify(replace(later, targets=[])) == classify(replace(later, targets=[]), POLICY)
    assert c.guessed == 0


def test_a_guess_made_before_a_look_up_was_scheduled_shows_it_pending() -> None:
    """A failing target never seen up has no last-seen time: its row says whether a look-up is pending. A
    guess made while none was, for a refresh where one is, does not hide it (nor the reverse)."""
    down = target("b:9100", "down", environment="prod", maintainers="ops")
    inputs = _as_the_reader_hands_them(FleetInputs(NOW, targets=[down], history_by_instance={}))
    c = Classifier(POLICY)
    c.classify(inputs)
    for guessed_pending, pending in ((frozenset(), frozenset({"b:9100"})), (frozenset({"b:9100"}), frozenset())):
        c.guess(replace(inputs, pending=guessed_pending))
        real = replace(inputs, pending=pending)
        result = c.classify(real)
        (row,) = result.hosts
        assert row.last_seen_pending is bool(pending)
        assert result == classify(real, POLICY)
