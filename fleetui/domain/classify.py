"""From parsed Prometheus answers to one HostStatus per `instance`: state, mode, last_seen and problems.

Pure: the adapter turns HTTP replies into the small input types below, and everything that decides what a
row says lives here, so the rules are unit-tested on edge cases without any HTTP. The rules:

mode
    `pull` when the instance is an active target in /api/v1/targets (Prometheus scrapes it). `up` alone is no
    proof of pull: a pushing Alloy's own prometheus.scrape generates `up` too and remote-writes it (ALLOY-FACTS
    §7). Everything else is `push`. A gone host is no longer in the targets list, so its mode is a best guess:
    `pull` when its instance looks like a scrape address (host:port, Prometheus' default instance), else `push`.
state
    pull: `up` when every active target of the instance last scraped fine, `down` when one failed or has not
    been scraped yet (health "unknown"). push: `up` when its newest sample is at most `stale_after` old,
    `stale` when older but still in an instant query (Prometheus' 5-minute look-back), `gone` when it is only
    in the look-back window's history. "None in the last 5 minutes" is read as "absent from an instant query",
    which is exactly Prometheus' own look-back (and also catches a removed pull target at once: Prometheus
    writes a stale marker for it). A push instance whose nodename another instance reports with samples
    newer by more than `history_after` is `stale` at once: that machine now pushes under another instance
    (a renamed `instance`), so this name's samples have stopped; it is `gone` when the look-back ends.
last_seen
    The unix time of the newest *successful* sample: for an up host its newest current sample; for a down pull
    host the last time `up` was 1 (the failed scrapes keep writing `up 0`, which is not "seen"); for gone
    hosts the history (recording rule or computed, see fleetui.adapters.prometheus).
problems
    Fixed codes, see `PROBLEM_CODES`. For a push host only its present series count: remote-written series
    get no staleness markers, so after a relabel (a fixed `job`, a renamed label) the old series stays in an
    instant query for Prometheus' whole 5-minute look-back. A series whose newest sample is older than the
    instance's freshest by more than `history_after` (about two scrape intervals) is history, not the
    present, and neither its labels, job nor nodename make a problem. A superseded instance (see state)
    does not count toward `duplicate_nodename`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import msgspec

from fleetui.domain.fleet import HostState, HostStatus, HostTimes, Mode, Problem

# labels node_uname_info adds on its own; they describe the machine, not the host's identity in the fleet
UNAME_LABELS = frozenset({"nodename", "sysname", "release", "version", "machine", "domainname"})
# a label the adapter adds to tell the branches of one query apart; never shown
SOURCE_LABEL = "fleetui_src"
# keys that are never label drift (Prometheus' own and the machine's)
_NOT_SCHEMA = frozenset({"job", "instance", "__name__", SOURCE_LABEL}) | UNAME_LABELS

PROBLEM_CODES = (
    "instance_nodename_mismatch",
    "job_component_path",
    "label_key_drift",
    "missing_required_label",
    "duplicate_nodename",
    "macos_memory_names",
)

# first segment of an Alloy component name (prometheus.scrape.x, loki.source.file.y, otelcol.receiver.otlp.z)
_ALLOY_NAMESPACES = frozenset(
    {
        "prometheus",
        "discovery",
        "loki",
        "otelcol",
        "pyroscope",
        "faro",
        "beyla",
        "local",
        "remote",
        "mimir",
        "database_observability",
        "import",
        "declare",
    }
)
_COMPONENT_PATH = re.compile(r"[a-z][a-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){2,}")
_ADDRESS_PORT = re.compile(r"(?P<host>\[[0-9a-fA-F:.]+\]|[^:\[\]]+):(?P<port>\d{1,5})")
_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")


class Sample(msgspec.Struct, frozen=True, gc=False):
    """One element of an instant-vector reply: its labels and its value (often a unix time).

    `source` says which query branch it came from ("up", "uname", "rule"); a sample without one may carry it
    as the SOURCE_LABEL label instead (the adapter's older tagging, still accepted).
    """

    labels: Mapping[str, str]
    value: float
    source: str = ""

    @property
    def instance(self) -> str | None:
        return self.labels.get("instance")

    @property
    def branch(self) -> str:
        return self.source or self.labels.get(SOURCE_LABEL, "")


class Target(msgspec.Struct, frozen=True, gc=False):
    """One active target of /api/v1/targets, as far as the fleet cares."""

    instance: str
    scrape_pool: str
    labels: Mapping[str, str]
    health: str  # up | down | unknown
    scrape_url: str | None = None
    last_error: str | None = None
    last_scrape: float | None = None  # unix seconds
    scrape_duration: float | None = None


@dataclass(frozen=True)
class FleetInputs:
    """Everything one refresh read, parsed.

    `current`: newest sample time of each series of `up` and `node_uname_info` in an instant query (value =
    sample time; branch "up" or "uname"). `history`: last successful sample time of the same series over the
    look-back window (remembered, looked up, or from the recording rule). `macos`: instances with
    node_memory_total_bytes but no node_memory_MemTotal_bytes. `pending`: instances whose last-seen time is
    still being looked up (their rows say so instead of "never"). `current_by_instance`: `current` grouped as
    fleetui.domain.reclassify.by_instance groups it, when the reader already did that as the replies came
    in (only the incremental Classifier reads it; without it, it groups `current` itself). `current_newest`:
    with `current_by_instance`, each of its instances' newest sample time (the reader works that out anyway,
    for its last-seen book; without it, the Classifier does). `history_by_instance`: `history` grouped the
    same way, only the values > 0 (the last-seen book keeps it, each instance's list the same object while
    the instance's entry is unchanged).
    """

    now: float
    targets: Sequence[Target] = ()
    current: Sequence[Sample] = ()
    history: Sequence[Sample] = ()
    macos: frozenset[str] = frozenset()
    pending: frozenset[str] = frozenset()
    current_by_instance: Mapping[str, list[Sample]] | None = None
    current_newest: Mapping[str, float] | None = None
    history_by_instance: Mapping[str, list[Sample]] | None = None


@dataclass(frozen=True)
class Policy:
    """The thresholds and label schema the rules apply (from settings and command-line flags)."""

    stale_after: float = 120.0
    required_labels: tuple[str, ...] = ("environment", "maintainers")
    aliases: Mapping[str, str] = field(default_factory=lambda: {"maintainer": "maintainers"})
    # two of the 15 s scrape intervals fleetui's push configs use: a push series whose newest sample is older
    # than its instance's freshest by more than this is history (samples of one scrape share a timestamp)
    history_after: float = 30.0

    @cached_property
    def schema_keys(self) -> frozenset[str]:
        """Built once per policy (a refresh asks for it once per label key of every host)."""
        return frozenset(self.required_labels) | frozenset(self.aliases.values())

    @cached_property
    def _sorted_schema_keys(self) -> tuple[str, ...]:
        return tuple(sorted(self.schema_keys))

    @cached_property
    def _memo(self) -> dict[Any, Any]:
        """Results of the label rules by their inputs: a fleet has few distinct label key sets and jobs."""
        return {}


# --- problem rules: each small and pure -----------------------------------------------------------------


def host_name(instance: str, labels: Mapping[str, str]) -> str | None:
    """The name that should equal nodename, or None when it cannot be known.

    `instance` itself, unless it is an `address:port`: then the `hostname` label when present, else the
    address part when it is a DNS name. An IP address without a `hostname` label says nothing about the
    name, so no mismatch is claimed for it.
    """
    m = _ADDRESS_PORT.fullmatch(instance)
    if m is None:
        return instance
    if labels.get("hostname"):
        return labels["hostname"]
    host = m["host"]
    if host.startswith("[") or _IPV4.fullmatch(host):
        return None
    return host


def nodename_problem(instance: str, labels: Mapping[str, str], nodenames: Iterable[str]) -> Problem | None:
    name = host_name(instance, labels)
    if name is None:
        return None
    others = sorted(n for n in set(nodenames) if n != name)
    if not others:
        return None
    what = "instance" if name == instance else ("hostname label" if labels.get("hostname") == name else "address")
    return Problem(
        "instance_nodename_mismatch",
        f"{what} {name!r} differs from nodename {', '.join(map(repr, others))} in node_uname_info",
        "set instance (and hostname) to the machine's nodename in the target file or Alloy config, "
        'or dashboards that filter instance="$node" show no data',
    )


def is_component_path(job: str) -> bool:
    """True for an Alloy component path such as prometheus.scrape.node_exporter."""
    return bool(_COMPONENT_PATH.fullmatch(job)) and job.split(".", 1)[0] in _ALLOY_NAMESPACES


def job_problem(jobs: Iterable[str]) -> Problem | None:
    bad = sorted(j for j in set(jobs) if is_component_path(j))
    if not bad:
        return None
    return Problem(
        "job_component_path",
        f"job {', '.join(map(repr, bad))} is an Alloy component path",
        'set job explicitly in the scrape target (e.g. job = "node_exporter" or "integrations/unix")',
    )


def _near_miss(a: str, b: str) -> bool:
    """Case-insensitively equal, or one edit apart (insert, delete, substitute or swap) for keys of 4+."""
    a, b = a.lower(), b.lower()
    if a == b:
        return True
    if min(len(a), len(b)) < 4 or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def drift_target(key: str, policy: Policy) -> str | None:
    """The schema key `key` is a known alias or near-miss of, or None."""
    if key in policy.schema_keys or key in _NOT_SCHEMA or key.startswith("__"):
        return None
    if key in policy.aliases:
        return policy.aliases[key]
    for s in policy._sorted_schema_keys:
        if _near_miss(key, s):
            return s
    return None


def drift_problems(labels: Mapping[str, str], policy: Policy) -> list[Problem]:
    """One problem per label key that looks like a schema key (in key order)."""
    out = []
    for key in sorted(labels):
        target = drift_target(key, policy)
        if target is not None:
            out.append(
                Problem(
                    "label_key_drift",
                    f"label {key!r} looks like the schema key {target!r}",
                    f"rename {key} to {target} in the target file or Alloy config",
                )
            )
    return out


def missing_problems(labels: Mapping[str, str], required: Iterable[str], policy: Policy) -> list[Problem]:
    """One problem per required label that is absent or empty; the hint names a drifted key to rename."""
    out = []
    drifted = {drift_target(k, policy): k for k in labels}
    for r in dict.fromkeys(required):
        if labels.get(r):
            continue
        hint = (
            f"rename {drifted[r]} to {r}"
            if r in drifted
            else f"add {r}=... to the host's labels (target file or Alloy config)"
        )
        out.append(Problem("missing_required_label", f"required label {r!r} is missing", hint))
    return out


def duplicate_problem(nodename: str, instances: Iterable[str], me: str) -> Problem:
    others = sorted(i for i in instances if i != me)
    return Problem(
        "duplicate_nodename",
        f"nodename {nodename!r} is also reported by {', '.join(map(repr, others))}",
        "a cloned image keeps its hostname: give each machine its own (hostnamectl set-hostname) and "
        "its own instance label",
    )


NOT_SCRAPED = "not scraped yet"  # a target's error while it has none yet (health "unknown")

MACOS_PROBLEM = Problem(
    "macos_memory_names",
    "macOS memory metric names (node_memory_total_bytes) without the Linux names (node_memory_MemTotal_bytes)",
    "add prometheus.relabel rules renaming node_memory_total_bytes/free_bytes to node_memory_MemTotal_bytes/"
    "node_memory_MemAvailable_bytes before remote_write (push host: `fleetui fix` or `f` adds them to its Alloy "
    "config; fleetui enroll deploys them on macOS hosts)",
)


# --- the fleet ------------------------------------------------------------------------------------------

# label keys never merged into a host's labels (the machine's own and the adapter's tag)
_SKIP = UNAME_LABELS | {SOURCE_LABEL}


def never_merged(key: str) -> bool:
    """A label key that never reaches a host's labels: the machine's, the adapter's tag, Prometheus' own."""
    return key in _SKIP or key.startswith("__")


# One copy of each label key and value across snapshots. Every refresh decodes fresh strings, so without this
# the console holds the same "environment"/"production" text once per host per snapshot it keeps (the table's
# and the next refresh's): at 50,000 hosts that is the larger part of its memory. Bounded: cleared when it
# outgrows any plausible fleet (it then refills from the next refresh).
_STRINGS: dict[str, str] = {}
_STRINGS_MAX = 1 << 20


def _interned(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """A dict of these pairs, each key and value the one shared copy of its text."""
    if len(_STRINGS) > _STRINGS_MAX:
        _STRINGS.clear()
    one = _STRINGS.setdefault
    return {one(k, k): one(v, v) for k, v in items}


def intern_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """`labels` in their own order, each key and value the one shared copy of its text."""
    return _interned(labels.items())


def _shared(labels: Mapping[str, str]) -> dict[str, str]:
    """`labels` sorted by key, each key and value the one shared copy of its text."""
    return _interned(sorted(labels.items()))


class _Acc:
    """What the inputs say about one instance, gathered before classifying it."""

    __slots__ = ("current_nodenames", "current_ts", "history_ts", "jobs", "labels", "nodenames", "targets")

    def __init__(self) -> None:
        self.targets: list[Target] = []
        self.current_ts: float | None = None
        self.history_ts: float | None = None
        self.labels: dict[str, str] = {}
        self.nodenames: set[str] = set()
        self.jobs: set[str] = set()
        self.current_nodenames: set[str] = set()


def _merge_labels(acc: _Acc, labels: Mapping[str, str]) -> None:
    """First source wins per key (targets first, then current `up`, current uname, history)."""
    mine = acc.labels
    if mine:
        new: Iterable[str] = labels.keys() - mine.keys()  # usually empty: same identity labels again
    else:
        new = labels
    for k in new:
        if not never_merged(k):
            mine[k] = labels[k]
    job = labels.get("job")
    if job:
        acc.jobs.add(job)
    nodename = labels.get("nodename")
    if nodename:
        acc.nodenames.add(nodename)


def _ordered(samples: Sequence[Sample]) -> Sequence[Sample]:
    """`up` branch before uname branch, so identity labels come from `up` where both exist (the adapter
    already sends them so: then this costs one look at each sample, not a sort)."""
    seen_other = False
    for s in samples:
        if (s.source or s.labels.get(SOURCE_LABEL, "")) == "up":  # s.branch, without a property call per sample
            if seen_other:
                return sorted(samples, key=lambda s: s.branch != "up")
        else:
            seen_other = True
    return samples


def _label_problems(labels: dict[str, str], policy: Policy) -> tuple[Problem, ...]:
    """Drift and missing-label problems; they depend only on the key set and which required values are
    empty, so they are computed once per distinct (keys, empties) in the fleet and shared."""
    key = (tuple(labels), tuple(map(bool, map(labels.get, policy.required_labels))))
    memo = policy._memo
    found: tuple[Problem, ...] | None = memo.get(key)
    if found is None:
        found = memo[key] = (*drift_problems(labels, policy), *missing_problems(labels, policy.required_labels, policy))
    return found


def _job_problem(jobs: set[str], policy: Policy) -> Problem | None:
    key: Any = next(iter(jobs)) if len(jobs) == 1 else frozenset(jobs)
    memo = policy._memo
    if key not in memo:
        memo[key] = job_problem(jobs)
    found: Problem | None = memo[key]
    return found


def _gather(inputs: FleetInputs, policy: Policy) -> dict[str, _Acc]:
    """Group the inputs by instance (the hot loop of a refresh: written for speed, see _merge_labels).

    A push instance's current series older than its freshest by more than `policy.history_after` are history
    (a relabel left them behind: remote-written series get no staleness marker): they count for last seen,
    not for labels, job or nodename."""
    accs: dict[str, _Acc] = {}
    get = accs.get
    freshest: dict[str, float] = {}
    for s in inputs.current:
        inst = s.labels.get("instance")
        if inst and (inst not in freshest or s.value > freshest[inst]):
            freshest[inst] = s.value
    history_after = policy.history_after
    for t in inputs.targets:
        acc = get(t.instance)
        if acc is None:
            acc = accs[t.instance] = _Acc()
        acc.targets.append(t)
        _merge_labels(acc, t.labels)
    for history, samples in ((False, _ordered(inputs.current)), (True, _ordered(inputs.history))):
        for s in samples:
            labels = s.labels
            inst = labels.get("instance")
            if not inst:
                continue
            value = s.value
            if history and value <= 0:  # a seed-style `time() * up` rule writes 0 while down
                continue
            acc = get(inst)
            if acc is None:
                acc = accs[inst] = _Acc()
            if history:
                if acc.history_ts is None or value > acc.history_ts:
                    acc.history_ts = value
            elif acc.current_ts is None or value > acc.current_ts:
                acc.current_ts = value
            if not history and not acc.targets and value < freshest[inst] - history_after:
                continue  # a push series left behind by a relabel: its labels are history, not the present
            if history and (acc.targets or acc.current_ts is not None):
                # a live host's labels are its current ones: history still holds the labels it had before a
                # fix (a renamed key stays in last_over_time for the whole look-back)
                continue
            mine = acc.labels
            if mine:
                for k in labels.keys() - mine.keys():  # usually none: the same identity labels again
                    if not never_merged(k):
                        mine[k] = labels[k]
            else:
                for k, v in labels.items():
                    if not never_merged(k):
                        mine[k] = v
            job = labels.get("job")
            if job:
                acc.jobs.add(job)
            nodename = labels.get("nodename")
            if nodename:
                acc.nodenames.add(nodename)
                if not history:
                    acc.current_nodenames.add(nodename)
    return accs


class Classified(NamedTuple):
    """The fleet's rows, sorted by instance, and their times."""

    hosts: tuple[HostStatus, ...]
    times: HostTimes


def classify(inputs: FleetInputs, policy: Policy) -> Classified:
    """The fleet's rows, sorted by instance, and their times."""
    accs = _gather(inputs, policy)
    superseded = _superseded(accs, policy)
    # duplicate nodenames among live instances (those in an instant query right now)
    by_nodename: dict[str, set[str]] = {}
    for inst, acc in accs.items():
        if inst in superseded:
            continue
        for n in acc.current_nodenames:
            by_nodename.setdefault(n, set()).add(inst)
    shared = {n for n, insts in by_nodename.items() if len(insts) > 1}

    now, macos, pending = inputs.now, inputs.macos, inputs.pending
    hosts: list[HostStatus] = []
    append = hosts.append
    # every host's times, None where not known (as the incremental classifier has them)
    last_seen: dict[str, float | None] = {}
    durations: dict[str, float | None] = {}
    for inst in sorted(accs):
        acc = accs[inst]
        state, mode, seen = _state(inst, acc, now, policy)
        last_seen[inst] = seen
        if inst in superseded:
            state = HostState.STALE  # renamed: the machine pushes under its new name now
        labels = _shared(acc.labels)
        problems: list[Problem] = []
        names = acc.current_nodenames or acc.nodenames
        if names and not (len(names) == 1 and inst in names):  # nodename == instance: nothing to say
            p = nodename_problem(inst, labels, names)
            if p:
                problems.append(p)
        if acc.jobs:
            p = _job_problem(acc.jobs, policy)
            if p:
                problems.append(p)
        problems += _label_problems(labels, policy)
        if shared and not shared.isdisjoint(acc.current_nodenames):
            for n in sorted(acc.current_nodenames):
                if n in shared:
                    problems.append(duplicate_problem(n, by_nodename[n], inst))
        if inst in macos:
            problems.append(MACOS_PROBLEM)
        targets = acc.targets
        shown = None
        if targets:
            shown = targets[0]
            if shown.health == "up" and len(targets) > 1:
                shown = next((t for t in targets if t.health != "up"), shown)
        durations[inst] = shown.scrape_duration if shown else None
        append(
            HostStatus(
                instance=inst,
                state=state,
                mode=mode,
                labels=labels,
                problems=tuple(problems),
                nodename=min(names) if names else None,
                scrape_url=shown.scrape_url if shown else None,
                last_error=(shown.last_error or (NOT_SCRAPED if shown.health == "unknown" else None))
                if shown
                else None,
                last_seen_pending=seen is None and inst in pending,
            )
        )
    return Classified(tuple(hosts), HostTimes(last_seen, durations))


def _superseded(accs: Mapping[str, _Acc], policy: Policy) -> set[str]:
    """Push instances whose nodename another instance reports with samples newer by more than history_after.

    After an `instance` rename the old name's series stay in an instant query for the look-back; the machine
    now pushes under the new name, so the old row is not a second live host (nor a duplicate nodename).
    """
    newest: dict[str, float] = {}
    for acc in accs.values():
        if acc.current_ts is None:
            continue
        for n in acc.current_nodenames:
            seen = newest.get(n)
            newest[n] = acc.current_ts if seen is None or acc.current_ts > seen else seen
    return {
        inst
        for inst, acc in accs.items()
        if not acc.targets
        and acc.current_ts is not None
        and acc.current_nodenames
        and all(newest[n] > acc.current_ts + policy.history_after for n in acc.current_nodenames)
    }


def _state(inst: str, acc: _Acc, now: float, policy: Policy) -> tuple[HostState, Mode, float | None]:
    return state_of(inst, acc.targets, acc.current_ts, acc.history_ts, now, policy)


def state_of(
    inst: str,
    targets: Sequence[Target],
    current_ts: float | None,
    history_ts: float | None,
    now: float,
    policy: Policy,
) -> tuple[HostState, Mode, float | None]:
    """State, mode and last seen of one instance from its targets and its newest current and history times."""
    if targets:
        if targets[0].health == "up" and (len(targets) == 1 or all(t.health == "up" for t in targets)):
            seen = current_ts
            if seen is None:  # scraped fine but neither up nor node_uname_info is queryable (yet)
                seen = max((t.last_scrape for t in targets if t.last_scrape), default=None)
            return HostState.UP, Mode.PULL, _latest(seen, history_ts)
        return HostState.DOWN, Mode.PULL, history_ts
    if current_ts is not None:
        last = _latest(current_ts, history_ts)
        assert last is not None
        return (HostState.STALE if now - last > policy.stale_after else HostState.UP), Mode.PUSH, last
    mode = Mode.PULL if _ADDRESS_PORT.fullmatch(inst) else Mode.PUSH
    return HostState.GONE, mode, history_ts


def _latest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a > b else b
