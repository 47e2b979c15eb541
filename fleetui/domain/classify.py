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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fleetui.domain.fleet import HostState, HostStatus, Mode, Problem

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


@dataclass(frozen=True)
class Sample:
    """One element of an instant-vector reply: its labels and its value (often a unix time)."""

    labels: Mapping[str, str]
    value: float

    @property
    def instance(self) -> str | None:
        return self.labels.get("instance")


@dataclass(frozen=True)
class Target:
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
    sample time; labels include SOURCE_LABEL "up" or "uname"). `history`: last successful sample time of the
    same series over the look-back window. `macos`: instances with node_memory_total_bytes but no
    node_memory_MemTotal_bytes.
    """

    now: float
    targets: tuple[Target, ...] = ()
    current: tuple[Sample, ...] = ()
    history: tuple[Sample, ...] = ()
    macos: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Policy:
    """The thresholds and label schema the rules apply (from settings and command-line flags)."""

    stale_after: float = 120.0
    required_labels: tuple[str, ...] = ("environment", "maintainers")
    aliases: Mapping[str, str] = field(default_factory=lambda: {"maintainer": "maintainers"})
    # two of the 15 s scrape intervals fleetui's push configs use: a push series whose newest sample is older
    # than its instance's freshest by more than this is history (samples of one scrape share a timestamp)
    history_after: float = 30.0

    @property
    def schema_keys(self) -> frozenset[str]:
        return frozenset(self.required_labels) | frozenset(self.aliases.values())


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
    others = sorted(n for n in set(nodenames) if n != name)
    if name is None or not others:
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
    for s in sorted(policy.schema_keys):
        if _near_miss(key, s):
            return s
    return None


def drift_problems(labels: Mapping[str, str], policy: Policy) -> list[Problem]:
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


MACOS_PROBLEM = Problem(
    "macos_memory_names",
    "macOS memory metric names (node_memory_total_bytes) without the Linux names (node_memory_MemTotal_bytes)",
    "add prometheus.relabel rules renaming node_memory_total_bytes/free_bytes to node_memory_MemTotal_bytes/"
    "node_memory_MemAvailable_bytes (fleetui enroll deploys them on macOS hosts)",
)


# --- the fleet ------------------------------------------------------------------------------------------


@dataclass
class _Acc:
    """What the inputs say about one instance, gathered before classifying it."""

    targets: list[Target] = field(default_factory=list)
    current_ts: float | None = None
    history_ts: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    nodenames: set[str] = field(default_factory=set)
    jobs: set[str] = field(default_factory=set)
    current_nodenames: set[str] = field(default_factory=set)


def _merge_labels(acc: _Acc, labels: Mapping[str, str]) -> None:
    """First source wins per key (targets first, then current `up`, current uname, history)."""
    for k, v in labels.items():
        if k in UNAME_LABELS or k == SOURCE_LABEL or k.startswith("__"):
            continue
        acc.labels.setdefault(k, v)
    if labels.get("job"):
        acc.jobs.add(labels["job"])
    if labels.get("nodename"):
        acc.nodenames.add(labels["nodename"])


def _max(a: float | None, b: float) -> float:
    return b if a is None or b > a else a


def _ordered(samples: Iterable[Sample]) -> list[Sample]:
    """`up` branch before uname branch, so identity labels come from `up` where both exist."""
    return sorted(samples, key=lambda s: s.labels.get(SOURCE_LABEL) != "up")


def classify(inputs: FleetInputs, policy: Policy) -> tuple[HostStatus, ...]:
    """The fleet's rows, sorted by instance."""
    accs: dict[str, _Acc] = {}
    for t in inputs.targets:
        acc = accs.setdefault(t.instance, _Acc())
        acc.targets.append(t)
        _merge_labels(acc, t.labels)
    freshest: dict[str, float] = {}
    for s in inputs.current:
        if s.instance:
            freshest[s.instance] = _max(freshest.get(s.instance), s.value)
    for s in _ordered(inputs.current):
        if not s.instance:
            continue
        acc = accs.setdefault(s.instance, _Acc())
        acc.current_ts = _max(acc.current_ts, s.value)
        if not acc.targets and s.value < freshest[s.instance] - policy.history_after:
            continue  # a push series left behind by a relabel: its labels are history, not the present
        _merge_labels(acc, s.labels)
        if s.labels.get("nodename"):
            acc.current_nodenames.add(s.labels["nodename"])
    for s in _ordered(inputs.history):
        if not s.instance or s.value <= 0:  # a seed-style `time() * up` rule writes 0 while down
            continue
        acc = accs.setdefault(s.instance, _Acc())
        acc.history_ts = _max(acc.history_ts, s.value)
        if not acc.targets and acc.current_ts is None:
            # a live host's labels are its current ones: history still holds the labels it had before a fix
            # (a renamed key stays in last_over_time for the whole look-back)
            _merge_labels(acc, s.labels)

    superseded = _superseded(accs, policy)
    # duplicate nodenames among live instances (those in an instant query right now)
    by_nodename: dict[str, set[str]] = {}
    for inst, acc in accs.items():
        if inst in superseded:
            continue
        for n in acc.current_nodenames:
            by_nodename.setdefault(n, set()).add(inst)

    hosts = []
    for inst in sorted(accs):
        acc = accs[inst]
        state, mode, last_seen = _state(inst, acc, inputs.now, policy)
        if inst in superseded:
            state = HostState.STALE
        problems: list[Problem] = []
        p = nodename_problem(inst, acc.labels, acc.current_nodenames or acc.nodenames)
        if p:
            problems.append(p)
        p = job_problem(acc.jobs)
        if p:
            problems.append(p)
        problems += drift_problems(acc.labels, policy)
        problems += missing_problems(acc.labels, policy.required_labels, policy)
        for n in sorted(acc.current_nodenames):
            if len(by_nodename.get(n, ())) > 1:
                problems.append(duplicate_problem(n, by_nodename[n], inst))
        if inst in inputs.macos:
            problems.append(MACOS_PROBLEM)
        down = [t for t in acc.targets if t.health != "up"]
        shown = down[0] if down else (acc.targets[0] if acc.targets else None)
        hosts.append(
            HostStatus(
                instance=inst,
                state=state,
                mode=mode,
                last_seen=last_seen,
                labels=dict(sorted(acc.labels.items())),
                problems=tuple(problems),
                nodename=min(acc.current_nodenames or acc.nodenames, default=None),
                scrape_url=shown.scrape_url if shown else None,
                last_error=(shown.last_error or ("not scraped yet" if shown.health == "unknown" else None))
                if shown
                else None,
                scrape_duration=shown.scrape_duration if shown else None,
            )
        )
    return tuple(hosts)


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
            newest[n] = _max(newest.get(n), acc.current_ts)
    return {
        inst
        for inst, acc in accs.items()
        if not acc.targets
        and acc.current_ts is not None
        and acc.current_nodenames
        and all(newest[n] > acc.current_ts + policy.history_after for n in acc.current_nodenames)
    }


def _state(inst: str, acc: _Acc, now: float, policy: Policy) -> tuple[HostState, Mode, float | None]:
    if acc.targets:
        if all(t.health == "up" for t in acc.targets):
            seen = acc.current_ts
            if seen is None:  # scraped fine but neither up nor node_uname_info is queryable (yet)
                seen = max((t.last_scrape for t in acc.targets if t.last_scrape), default=None)
            return HostState.UP, Mode.PULL, _latest(seen, acc.history_ts)
        return HostState.DOWN, Mode.PULL, acc.history_ts
    if acc.current_ts is not None:
        last = _latest(acc.current_ts, acc.history_ts)
        assert last is not None
        return (HostState.STALE if now - last > policy.stale_after else HostState.UP), Mode.PUSH, last
    mode = Mode.PULL if _ADDRESS_PORT.fullmatch(inst) else Mode.PUSH
    return HostState.GONE, mode, acc.history_ts


def _latest(a: float | None, b: float | None) -> float | None:
    vals = [v for v in (a, b) if v is not None]
    return max(vals) if vals else None
