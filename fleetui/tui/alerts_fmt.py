"""How the console shows firing alerts: the fleet table's alerts cell, the host detail's alerts section and the
list of alerts no host matches.

Every label and annotation is text from Alertmanager or Prometheus (untrusted): cells go through
`safe.visible`, sections are built from `safe.text`, so nothing an alert carries is read as markup or reaches
the terminal as a control character.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from rich.text import Text

from fleetui.domain import drift
from fleetui.domain.alerts import Alert, AlertState, AlertsView
from fleetui.domain.fleet import HostStatus
from fleetui.tui import safe
from fleetui.tui.columns import Column
from fleetui.tui.fmt import format_age

# worst first; anything else (or no severity label) ranks after these
_SEVERITY_RANK = {"critical": 0, "page": 0, "error": 1, "warning": 2, "info": 3}
_SEVERITY_SHORT = {"critical": "crit", "error": "err", "warning": "warn", "info": "info"}
_STATE_MARK = {AlertState.FIRING: "▲", AlertState.INHIBITED: "⊘", AlertState.SILENCED: "◇"}


def severity_rank(a: Alert) -> int:
    return _SEVERITY_RANK.get((a.severity or "").lower(), 4)


def worst_severity(alerts: Sequence[Alert]) -> str | None:
    """The worst `severity` label among `alerts` (None: no alert, or none has a severity)."""
    ranked = sorted((a for a in alerts if a.severity), key=severity_rank)
    return ranked[0].severity if ranked else None


def alerts_cell(h: HostStatus, now: float = 0.0) -> str:
    """`2 crit +1 inh`: firing count and worst severity, then the inhibited and silenced ones; `·` for none."""
    firing = [a for a in h.alerts if a.state is AlertState.FIRING]
    inhibited = sum(1 for a in h.alerts if a.state is AlertState.INHIBITED)
    silenced = sum(1 for a in h.alerts if a.state is AlertState.SILENCED)
    parts = []
    if firing:
        worst = worst_severity(firing)
        sev = _SEVERITY_SHORT.get((worst or "").lower(), worst or "")
        parts.append(f"{len(firing)} {sev}".rstrip())
    if inhibited:
        parts.append(f"+{inhibited} inh")
    if silenced:
        parts.append(f"+{silenced} sil")
    return safe.visible(" ".join(parts)) if parts else "·"


def alerts_sort_key(h: HostStatus) -> Any:
    """Hosts with firing alerts first, worst severity first, more alerts first; suppressed-only after them."""
    firing = [a for a in h.alerts if a.state is AlertState.FIRING]
    worst = min((severity_rank(a) for a in firing), default=9)
    return (worst, -len(firing), -len(h.alerts))


def _since(a: Alert, now: float) -> str:
    if a.starts_at is None:
        return "since: unknown"
    stamp = dt.datetime.fromtimestamp(a.starts_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"since {stamp} ({format_age(a.starts_at, now)})"


def alert_lines(alerts: Sequence[Alert], now: float, *, with_instance: bool = False) -> Text:
    """One block per alert: `mark name  severity  state  since …`, then its summary (and, for an alert no host
    matches, its `instance` and other labels, which are what tells where it comes from)."""
    text = Text(overflow="fold")
    for i, a in enumerate(alerts):
        if i:
            text.append("\n")
        style = "bold" if a.state is AlertState.FIRING else "dim"
        text.append(f"{_STATE_MARK[a.state]} ")
        text.append(safe.text(a.name, limit=safe.LINE_LIMIT, style=style))
        text.append("  ")
        text.append(safe.text(a.severity or "no severity", limit=40))
        text.append(f"  {a.state.value}  {_since(a, now)}")
        if with_instance:
            text.append("\n  instance: ")
            text.append(safe.text(a.instance or "(no instance label)", limit=safe.LINE_LIMIT))
        if a.summary:
            text.append("\n  ")
            text.append(safe.text(a.summary, limit=safe.LINE_LIMIT))
        if with_instance:
            others = " ".join(f"{k}={v}" for k, v in sorted(a.labels.items()) if k not in ("alertname", "instance"))
            if others:
                text.append("\n  labels: ")
                text.append(safe.text(others, limit=safe.LINE_LIMIT))
    return text


def host_alerts_text(h: HostStatus, view: AlertsView | None, now: float) -> Text:
    """The host detail's alerts section."""
    if view is not None and view.error:
        text = Text("alerts could not be read: ")
        text.append(safe.text(view.error, limit=safe.LINE_LIMIT))
        return text
    if not h.alerts:
        return Text("none firing")
    return alert_lines(h.alerts, now)


def alloy_cell(h: HostStatus, now: float = 0.0) -> str:
    return safe.visible(drift.short(h.drift))


def alloy_sort_key(h: HostStatus) -> Any:
    """Drifted hosts first (config changed, then versions off the fleet's), then by version."""
    d = h.drift
    if d is None:
        return (3, ())
    rank = 0 if d.config == "changed" else (1 if d.version_drift else 2)
    return (rank, drift.version_key(d.version or "0"))


def enriched_columns() -> list[Column]:
    """The columns an enriched fleet adds: firing alerts, and the Alloy version with its drift markers."""
    return [
        Column("alerts", "alerts", alerts_cell, alerts_sort_key, 6, 16, 2),
        Column("alloy", "alloy", alloy_cell, alloy_sort_key, 5, 16, 6),
    ]


def drift_text(h: HostStatus) -> Text:
    """The host detail's Alloy section: version (and where it comes from), and whether the running config is the
    one fleetui applied."""
    d = h.drift
    if d is None:
        return Text(f"not known: {drift.unknown_why(one=True)}")
    source = {"prometheus": "alloy_build_info in Prometheus", "enrollment": "read at fleetui's last enrollment"}
    text = Text()
    text.append("version  ", "bold")
    text.append(safe.text(d.version or "unknown", limit=64))
    if d.version_source:
        text.append(f"  ({source.get(d.version_source, d.version_source)})")
    if d.version_drift and d.majority_version:
        text.append(f"  — {d.version_drift} than most of the fleet (")
        text.append(safe.text(d.majority_version, limit=64))
        text.append(")")
    text.append("\nconfig   ", "bold")
    text.append(
        {
            "applied": "the one fleetui applied",
            "changed": "CHANGED since fleetui applied it (edited on the host, or deployed by another tool)",
            "unknown": "not comparable (needs Alloy's alloy_config_hash in Prometheus and an enrollment from here)",
        }[d.config]
    )
    for label, sha in (("running", d.running_sha256), ("applied", d.applied_sha256)):
        if sha:
            text.append(f"\n{label:<9}", "bold")
            text.append(safe.text(f"sha256:{sha}", limit=80))
    return text
