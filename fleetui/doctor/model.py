"""The doctor's values: the ordered checks, one result per check, a host's report, a fleet's tally."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckSpec:
    """One step of the checklist; it is skipped when a step it `needs` did not pass (failed or skipped)."""

    id: str
    title: str
    needs: tuple[str, ...] = ()


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("ssh", "SSH reachable, host key trusted"),
    CheckSpec("installed", "Alloy installed", ("ssh",)),
    CheckSpec("service", "alloy.service running", ("installed",)),
    CheckSpec("ready", "Alloy ready (/-/ready)", ("service",)),
    CheckSpec("config", "config loaded successfully", ("ready",)),
    CheckSpec("exporter", "exporter serves metrics", ("ready",)),
    CheckSpec("prometheus", "Prometheus reachable", ("ssh",)),
    CheckSpec("remote_write", "remote_write without errors", ("ready",)),
    CheckSpec("series", "series in Prometheus"),
    CheckSpec("labels", "labels consistent", ("series",)),
    CheckSpec("clock", "clock in step with this machine", ("ssh",)),
)
SPECS: Mapping[str, CheckSpec] = {c.id: c for c in CHECKS}
ORDER: tuple[str, ...] = tuple(c.id for c in CHECKS)


@dataclass(frozen=True)
class CheckResult:
    """What one check saw: a one-line summary, the evidence lines behind it, and the fix when not ok."""

    id: str
    status: Status
    summary: str
    evidence: tuple[str, ...] = ()
    hint: str = ""
    elapsed_s: float = 0.0

    @property
    def title(self) -> str:
        return SPECS[self.id].title

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status.value,
            "summary": self.summary,
            "evidence": list(self.evidence),
            "hint": self.hint,
            "elapsed_s": round(self.elapsed_s, 3),
        }


def ok(check: str, summary: str, *evidence: str) -> CheckResult:
    return CheckResult(check, Status.OK, summary, tuple(evidence))


def warn(check: str, summary: str, hint: str, *evidence: str) -> CheckResult:
    return CheckResult(check, Status.WARN, summary, tuple(evidence), hint)


def fail(check: str, summary: str, hint: str, *evidence: str) -> CheckResult:
    return CheckResult(check, Status.FAIL, summary, tuple(evidence), hint)


def skipped(check: str, summary: str, *evidence: str) -> CheckResult:
    return CheckResult(check, Status.SKIPPED, summary, tuple(evidence))


@dataclass(frozen=True)
class DoctorReport:
    """Every check of one host, in checklist order. `mode` is what the doctor found: pull, push, both or None."""

    host: str
    address: str
    checks: tuple[CheckResult, ...]
    mode: str | None = None
    nodename: str | None = None
    elapsed_s: float = 0.0
    facts: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None  # the doctor could not finish this host (cancelled, a bug): never healthy

    @property
    def first_failure(self) -> CheckResult | None:
        return next((c for c in self.checks if c.status is Status.FAIL), None)

    @property
    def healthy(self) -> bool:
        return self.first_failure is None and self.error is None

    @property
    def trouble(self) -> str:
        """Where this host's trouble starts, for a tally: its first failing check, `stopped`, or `healthy`."""
        first = self.first_failure
        return first.id if first else STOPPED if self.error is not None else HEALTHY

    def check(self, check_id: str) -> CheckResult:
        return next(c for c in self.checks if c.id == check_id)

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Status}
        for c in self.checks:
            out[c.status.value] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        first = self.first_failure
        return {
            "host": self.host,
            "address": self.address,
            "mode": self.mode,
            "nodename": self.nodename,
            "healthy": self.healthy,
            "first_failure": first.id if first else None,
            "error": self.error,
            "counts": self.counts(),
            "checks": [c.to_json() for c in self.checks],
            "elapsed_s": round(self.elapsed_s, 3),
        }


HEALTHY = "healthy"
STOPPED = "stopped"  # the doctor did not finish the host (cancelled, or it failed itself)
TROUBLE_TITLES: Mapping[str, str] = {**{c.id: c.title for c in CHECKS}, STOPPED: "doctor stopped", HEALTHY: "healthy"}


def tally(reports: Iterable[DoctorReport]) -> dict[str, int]:
    """Hosts per first failing check (in checklist order), then `stopped`, then `healthy`: where a fleet's
    trouble starts."""
    return {k: len(v) for k, v in tally_hosts(reports).items()}


def tally_hosts(reports: Iterable[DoctorReport]) -> dict[str, list[str]]:
    """The hosts behind each entry of `tally`, in the order the reports came."""
    hosts: dict[str, list[str]] = {}
    for r in reports:
        hosts.setdefault(r.trouble, []).append(r.host)
    order = {k: i for i, k in enumerate((*ORDER, STOPPED, HEALTHY))}
    return dict(sorted(hosts.items(), key=lambda kv: order[kv[0]]))
