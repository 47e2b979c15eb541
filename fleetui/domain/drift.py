"""Drift: which Alloy version each host runs, and whether its running config is the one fleetui last applied.

Two sources, both per host:
- running: what Prometheus has from Alloy's own metrics (`alloy_build_info{version}` and
  `alloy_config_hash{sha256}`, the sha256 of the config file Alloy read), for hosts whose Alloy exports them
  (`--service self`);
- recorded: what fleetui read back from the host when it last enrolled or fixed it (the local operation log:
  the config file's sha256 and `alloy --version`).

The version shown is the running one where Prometheus has it, else the recorded one. The config is `applied`
when both hashes are known and equal, `changed` when they differ (someone edited it, or another tool deployed
it), `unknown` otherwise. A host's version "drifts" when it is not the version most hosts of the fleet run.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgspec

if TYPE_CHECKING:
    from fleetui.domain.fleet import FleetSnapshot, HostStatus

#: one instant query for the whole fleet: one series per (instance, version) and per (instance, sha256)
DRIFT_QUERY = "max by (instance, version) (alloy_build_info) or max by (instance, sha256) (alloy_config_hash)"


@dataclass(frozen=True)
class Running:
    """What Prometheus has from one host's Alloy."""

    version: str | None = None
    config_sha256: str | None = None


@dataclass(frozen=True)
class Recorded:
    """What fleetui recorded about one host at its last successful enrollment (or fix)."""

    config_sha256: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class Drift:
    version: str | None  # without the leading "v"
    version_source: str | None  # "prometheus" | "enrollment" | None (not known)
    running_sha256: str | None
    applied_sha256: str | None
    majority_version: str | None = None  # the version most hosts of the fleet run

    @property
    def config(self) -> str:
        if self.running_sha256 and self.applied_sha256:
            return "applied" if self.running_sha256 == self.applied_sha256 else "changed"
        return "unknown"

    @property
    def version_drift(self) -> str | None:
        """ "older" / "newer" than the fleet's most common version, "other" when not comparable, None: same."""
        if not self.version or not self.majority_version or self.version == self.majority_version:
            return None
        mine, most = version_key(self.version), version_key(self.majority_version)
        if mine == most:
            return "other"
        return "older" if mine < most else "newer"

    def to_json(self) -> dict[str, Any]:
        return {
            "alloy_version": self.version,
            "version_source": self.version_source,
            "version_drift": self.version_drift,
            "fleet_version": self.majority_version,
            "config": self.config,
            "running_config_sha256": self.running_sha256,
            "applied_config_sha256": self.applied_sha256,
        }


def clean_version(v: str | None) -> str | None:
    if not v:
        return None
    v = v.strip()
    return v[1:] if v[:1] in ("v", "V") and v[1:2].isdigit() else v


def version_key(v: str) -> tuple[int, ...]:
    """`1.10.2` > `1.9.1`: numeric parts compared as numbers (anything after a `-` or `+` ignored)."""
    out = []
    for part in v.split("-")[0].split("+")[0].split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits) if digits else 0)
    return tuple(out)


def parse_running(samples: Iterable[Mapping[str, str]]) -> dict[str, Running]:
    """The DRIFT_QUERY result (each sample's labels) -> instance -> Running. A host reporting two versions or
    hashes at once (two Alloys under one instance) keeps the greatest, deterministically."""
    versions: dict[str, str] = {}
    hashes: dict[str, str] = {}
    for labels in samples:
        inst = labels.get("instance")
        if not inst:
            continue
        if labels.get("version"):
            v = clean_version(labels["version"]) or ""
            versions[inst] = max(versions.get(inst, v), v)
        if labels.get("sha256"):
            hashes[inst] = max(hashes.get(inst, labels["sha256"]), labels["sha256"])
    return {i: Running(versions.get(i), hashes.get(i)) for i in versions.keys() | hashes.keys()}


def _keys(h: HostStatus) -> list[str]:
    keys = [h.instance, h.instance.rsplit(":", 1)[0]]
    if h.hostname:
        keys.append(h.hostname)
    if h.nodename:
        keys.append(h.nodename)
    if h.scrape_url:
        host = _url_host(h.scrape_url)
        if host:
            keys.append(host)
    return keys


# `scheme://host[:port]` followed by a path, query, fragment or nothing, the host a plain name or IPv4
# address: what nearly every scrape URL is, and what urlsplit().hostname gives back lower-cased
_PLAIN_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([A-Za-z0-9.-]+)(?::[0-9]*)?(?:[/?#]|$)")


@functools.lru_cache(maxsize=65536)
def _url_host(url: str) -> str | None:
    """The host part of a scrape URL (cached: the same URLs come back on every refresh, and parsing one per
    host was most of the drift step at 50,000 hosts). A plain URL is read with one regular expression, at a
    fraction of urlsplit's cost (parsing 50,000 new URLs held up the console's first paint); urlsplit reads
    the others."""
    plain = _PLAIN_URL.match(url)
    if plain:
        return plain.group(1).lower()
    try:
        return urlsplit(url).hostname
    except ValueError:  # outside text: a target whose address is no valid URL host
        return None


def _find(keys: list[str], table: Mapping[str, Any]) -> Any:
    for k in keys:
        if k in table:
            return table[k]
    return None


def with_drift(snap: FleetSnapshot, running: Mapping[str, Running], recorded: Mapping[str, Recorded]) -> FleetSnapshot:
    """The snapshot with each host's Drift (None for a host nothing is known about).

    Written for the many: the console runs this on every refresh, over every host. A host none of whose keys
    is in either table is passed over after a few set look-ups (no key list made), and equal drifts are one
    shared object, made once: at 31,250 hosts with every Alloy reporting, making a key list, a Drift and a
    copy of it per host took 280 ms a refresh."""
    if not (running or recorded):  # nothing to look up (a fleet without Alloy): every host's drift is None
        return replace(snap, hosts=tuple(_with_host_drift(h, None) for h in snap.hosts))
    either = running.keys() | recorded.keys()
    found: list[tuple[HostStatus, tuple[str | None, str | None, str | None, str | None] | None]] = []
    for h in snap.hosts:
        if not _known(h, either):
            found.append((h, None))
            continue
        keys = _keys(h)
        run: Running | None = _find(keys, running)
        rec: Recorded | None = _find(keys, recorded)
        version, source = None, None
        if run is not None and run.version:
            version, source = run.version, "prometheus"
        elif rec is not None and rec.version:
            version, source = clean_version(rec.version), "enrollment"
        found.append((h, (version, source, run.config_sha256 if run else None, rec.config_sha256 if rec else None)))
    counts = Counter(d[0] for _, d in found if d is not None and d[0])
    majority = max(sorted(counts), key=lambda v: (counts[v], version_key(v)), default=None)
    shared: dict[tuple[str | None, ...], Drift] = {}
    hosts = []
    for h, d in found:
        drift = None
        if d is not None:
            drift = shared.get(d)
            if drift is None:
                drift = shared[d] = Drift(*d, majority_version=majority)
        hosts.append(_with_host_drift(h, drift))
    return replace(snap, hosts=tuple(hosts))


def _known(h: HostStatus, either: set[str]) -> bool:
    """Whether any of `_keys(h)` is in `either`, without making the list (most hosts of a fleet whose Alloys
    do not report have none)."""
    instance = h.instance
    if instance in either or instance.rsplit(":", 1)[0] in either:
        return True
    hostname, nodename, url = h.hostname, h.nodename, h.scrape_url
    if (hostname and hostname in either) or (nodename and nodename in either):
        return True
    return bool(url) and _url_host(url) in either


def _with_host_drift(h: HostStatus, drift: Drift | None) -> HostStatus:
    """The host with this drift: itself when it has it already (most hosts, refresh after refresh: the diff
    then sees them unchanged at once, and a 50,000-host fleet is not copied on every refresh)."""
    return h if h.drift == drift else msgspec.structs.replace(h, drift=drift)


# what versions_in_use counts the hosts whose version is not known as
UNKNOWN = "unknown"


def unknown_why(one: bool) -> str:
    """Why a host's Alloy version is not known (of one host, or of several): the host detail and the versions
    view say it in the same words."""
    these, them = ("this host", "it") if one else ("these hosts", "them")
    return (
        f"Prometheus has no Alloy metrics of {these} (enroll with --service self) and fleetui has not enrolled "
        f"{them} from here"
    )


def versions_in_use(hosts: Sequence[HostStatus]) -> list[tuple[str, int]]:
    """(version, hosts) pairs, newest version first; hosts whose version is not known count as UNKNOWN."""
    counts = Counter((h.drift.version if h.drift and h.drift.version else UNKNOWN) for h in hosts)
    known = sorted((v for v in counts if v != UNKNOWN), key=version_key, reverse=True)
    return [(v, counts[v]) for v in known] + ([(UNKNOWN, counts[UNKNOWN])] if UNKNOWN in counts else [])


def recorded_from_log(records: Iterable[Any]) -> dict[str, Recorded]:
    """host -> what the newest successful enroll/fix of it recorded (records oldest first, as OpLog reads them)."""
    out: dict[str, Recorded] = {}
    for r in records:
        if r.operation in ("enroll", "fix") and r.outcome == "ok" and r.config_sha256:
            out[r.host] = Recorded(r.config_sha256, getattr(r, "alloy_version", None))
    return out


def short(d: Drift | None) -> str:
    """The table cell: `1.8.3↓ cfg!` — version (↓ older, ↑ newer than most of the fleet), `cfg!` when the running
    config is not the one fleetui applied; `?` for an unknown version; `·` when nothing is known."""
    if d is None:
        return "·"
    mark = {"older": "↓", "newer": "↑", "other": "≠"}.get(d.version_drift or "", "")
    text = (d.version or "?") + mark
    if d.config == "changed":
        text += " cfg!"
    return text
