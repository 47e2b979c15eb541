"""Which label problems fleetui can fix by itself, and the fix itself for a pull host's target file. Pure.

A fix is a plan before it is a change: `plan_fix` turns a host's problems (and the values the operator gave
for missing labels) into a `FixPlan` — key renames, labels to add, and the problems that need a person — and
`fix_target_json` applies it to the target file's text. The rewrite keeps the file's format (fleetui writes
target files as sorted, 2-space JSON), so the diff shows only the lines the fix changes.

Fixable on a pull host (its labels live in the target file Prometheus reads): `label_key_drift` (rename the
key to the schema's) and `missing_required_label` (rename the drifted key that stands for it, else add the
value the operator gives). Not fixable by fleetui: `duplicate_nodename` (two machines report one nodename — a
cloned image; only renaming a machine helps), and, on a pull host, what lives in the host's own configuration.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fleetui.domain.classify import Policy, drift_target
from fleetui.domain.fleet import HostStatus, Mode

FIXABLE: dict[Mode, frozenset[str]] = {
    Mode.PULL: frozenset({"label_key_drift", "missing_required_label"}),
    Mode.PUSH: frozenset(),
}

MANUAL: dict[str, str] = {
    "duplicate_nodename": "two machines report the same nodename (usually a cloned image): on one of them run "
    "`hostnamectl set-hostname NEW-NAME`, then re-enroll it with `fleetui enroll` under that name",
    "instance_nodename_mismatch": "`fleetui fix INSTANCE --address SSH-ADDRESS` sets the instance to the nodename in "
    "the host's own Alloy config (only that line changes), or re-enroll the host with `fleetui enroll`",
    "job_component_path": "`fleetui fix INSTANCE --address SSH-ADDRESS` adds an explicit job to the host's own Alloy "
    'config (only that line), or re-enroll the host with `fleetui enroll` (it sets job = "node_exporter")',
    "macos_memory_names": "push host: `fleetui fix INSTANCE --address SSH-ADDRESS` adds the macOS relabel rules to "
    "its own Alloy config (before remote_write), as `fleetui enroll` deploys them; pull host: Prometheus scrapes "
    "the exporter directly, so rename node_memory_total_bytes/free_bytes in its scrape job's metric_relabel_configs",
}


class FixError(ValueError):
    """The fix cannot be planned as asked: one line saying what is missing or wrong."""


@dataclass(frozen=True)
class FixPlan:
    """What a fix does to one host's labels, and what it leaves to a person."""

    instance: str
    codes: tuple[str, ...]  # the problem codes this plan makes disappear
    renames: Mapping[str, str] = field(default_factory=dict)  # old key -> schema key
    add: Mapping[str, str] = field(default_factory=dict)  # label -> value
    manual: Mapping[str, str] = field(default_factory=dict)  # code -> what to do by hand

    @property
    def empty(self) -> bool:
        return not (self.renames or self.add)

    def to_json(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "codes": list(self.codes),
            "renames": dict(self.renames),
            "add": dict(self.add),
            "manual": dict(self.manual),
        }


def fleet_values(hosts: Sequence[HostStatus], label: str) -> list[str]:
    """The values `label` has in the fleet, most used first: what completion offers for a missing label."""
    counts: dict[str, int] = {}
    for h in hosts:
        v = h.labels.get(label)
        if v:
            counts[v] = counts.get(v, 0) + 1
    return sorted(counts, key=lambda v: (-counts[v], v))


def plan_fix(
    host: HostStatus,
    policy: Policy,
    *,
    only: str | None = None,
    values: Mapping[str, str] | None = None,
    fleet: Sequence[HostStatus] = (),
) -> FixPlan:
    """The fix for `host`'s problems (only code `only`, if given). Raises FixError when a missing label has no
    value (the message lists the values the fleet uses) or the host has no such problem."""
    values = dict(values or {})
    codes = [p.code for p in host.problems if only is None or p.code == only]
    if only is not None and not codes:
        raise FixError(f"{host.instance} has no {only} problem")
    fixable = FIXABLE[host.mode]
    renames: dict[str, str] = {}
    add: dict[str, str] = {}
    manual: dict[str, str] = {}
    for code in dict.fromkeys(codes):
        if code not in fixable:
            manual[code] = MANUAL.get(code, "fix it in the host's configuration by hand")
    if "label_key_drift" in codes or "missing_required_label" in codes:
        for key in sorted(host.labels):
            target = drift_target(key, policy)
            if target is not None:
                renames[key] = target
    if "missing_required_label" in codes and "missing_required_label" in fixable:
        covered = set(renames.values())
        for r in policy.required_labels:
            if host.labels.get(r) or r in covered:
                continue
            if not values.get(r):
                used = fleet_values(fleet, r)
                hint = f" (in use: {', '.join(used[:5])})" if used else ""
                raise FixError(f"{host.instance}: required label {r!r} is missing: give --label {r}=VALUE{hint}")
            add[r] = values[r]
    done = tuple(c for c in dict.fromkeys(codes) if c in fixable)
    return FixPlan(host.instance, done, renames, add, manual)


def _relabel(labels: dict[str, Any], plan: FixPlan) -> dict[str, Any]:
    out = dict(labels)
    for old, new in plan.renames.items():
        if old in out:
            value = out.pop(old)
            out.setdefault(new, value)
    for k, v in plan.add.items():
        out.setdefault(k, v)
    return out


def fix_target_json(text: str, plan: FixPlan) -> str:
    """The target file with the plan's renames and additions in every group (format kept: sorted, indent 2)."""
    try:
        groups = json.loads(text)
        if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
            raise ValueError("not a list of target groups")
    except ValueError as e:
        raise FixError(f"the target file is not a file_sd JSON list ({e})") from None
    ascii_only = text.isascii()
    new = [{**g, "labels": _relabel(dict(g.get("labels") or {}), plan)} for g in groups]
    return json.dumps(new, indent=2, sort_keys=True, ensure_ascii=ascii_only) + "\n"
