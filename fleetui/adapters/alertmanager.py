"""Firing alerts: from Alertmanager's API v2 when `alertmanager.url` is set, else from Prometheus' own
`/api/v1/alerts`.

Alertmanager is the better source: it knows which alerts an inhibit rule or a silence suppresses (seed-style
"HostDown silences the dead host's other alerts"), which Prometheus cannot know. Prometheus' list is the fallback
for a setup without Alertmanager: every firing alert shows as firing.

A failure to read alerts never fails a fleet refresh: `read_alerts` returns an `AlertsView` whose `error` is
one line naming the URL, and the fleet is shown without alerts. Auth works like Prometheus' (basic or bearer,
secrets from a file or an env var named in the configuration, a CA file).
"""

from __future__ import annotations

import ssl
from datetime import datetime
from typing import Any

import httpx

from fleetui.config import ConfigError, Settings
from fleetui.domain.alerts import Alert, AlertState, AlertsView

_EXCERPT = 160


class AlertsError(Exception):
    """Alerts could not be read: one line naming the URL."""


def _client(settings: Settings, prefix: str, base_url: str) -> httpx.AsyncClient:
    headers = {"Accept": "application/json", "User-Agent": "fleetui"}
    if prefix == "prometheus" and settings["prometheus.tenant"]:
        headers["X-Scope-OrgID"] = settings["prometheus.tenant"]
    auth: httpx.Auth | None = None
    token = settings.secret(f"{prefix}.bearer_token_file", f"{prefix}.bearer_token_env")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    elif settings[f"{prefix}.username"]:
        password = settings.secret(f"{prefix}.password_file", f"{prefix}.password_env") or ""
        auth = httpx.BasicAuth(settings[f"{prefix}.username"], password)
    verify: ssl.SSLContext | bool = True
    ca = settings[f"{prefix}.ca_file"]
    if ca:
        try:
            verify = ssl.create_default_context(cafile=str(ca))
        except (OSError, ssl.SSLError) as e:
            raise AlertsError(f"{base_url}: cannot load CA file {ca} ({prefix}.ca_file)") from e
    return httpx.AsyncClient(
        base_url=base_url,
        headers=headers,
        auth=auth,
        verify=verify,
        timeout=httpx.Timeout(settings["prometheus.timeout"]),
        follow_redirects=True,
    )


def _ts(s: Any) -> float | None:
    if not isinstance(s, str) or not s or s.startswith("0001-01-01"):
        return None
    head, dot, frac = s.partition(".")
    if dot:
        digits = "".join(ch for ch in frac if ch.isdigit())
        s = f"{head}.{digits[:6]}{frac[len(digits) :]}"
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _strs(d: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in d.items()} if isinstance(d, dict) else {}


def parse_alertmanager(doc: Any) -> list[Alert]:
    """`GET /api/v2/alerts` -> alerts; suppressed ones marked inhibited (wins) or silenced."""
    if not isinstance(doc, list):
        raise ValueError("reply is not a list of alerts")
    out = []
    for a in doc:
        if not isinstance(a, dict):
            continue
        labels = _strs(a.get("labels"))
        raw_status = a.get("status")
        status: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
        inhibited = tuple(str(x) for x in status.get("inhibitedBy") or ())
        silenced = tuple(str(x) for x in status.get("silencedBy") or ())
        state = AlertState.INHIBITED if inhibited else AlertState.SILENCED if silenced else AlertState.FIRING
        out.append(
            Alert(
                name=labels.get("alertname", ""),
                labels=labels,
                annotations=_strs(a.get("annotations")),
                state=state,
                starts_at=_ts(a.get("startsAt")),
                inhibited_by=inhibited,
                silenced_by=silenced,
            )
        )
    return out


def parse_prometheus(doc: Any) -> list[Alert]:
    """`GET /api/v1/alerts` envelope -> the firing alerts (pending ones are not firing yet)."""
    if not isinstance(doc, dict) or doc.get("status") != "success":
        raise ValueError("reply is not a successful Prometheus API envelope")
    out = []
    for a in (doc.get("data") or {}).get("alerts") or ():
        if not isinstance(a, dict) or a.get("state") != "firing":
            continue
        labels = _strs(a.get("labels"))
        out.append(
            Alert(
                name=labels.get("alertname", ""),
                labels=labels,
                annotations=_strs(a.get("annotations")),
                starts_at=_ts(a.get("activeAt")),
            )
        )
    return out


async def read_alerts(settings: Settings) -> AlertsView:
    """The firing alerts now, from Alertmanager (alertmanager.url) or else from Prometheus."""
    am = settings["alertmanager.url"]
    source, prefix, base, path = (
        ("alertmanager", "alertmanager", am, "/api/v2/alerts")
        if am
        else ("prometheus", "prometheus", settings["prometheus.url"], "/api/v1/alerts")
    )
    url = f"{base}{path}"
    try:
        async with _client(settings, prefix, base) as client:
            params = {"active": "true", "silenced": "true", "inhibited": "true"} if source == "alertmanager" else None
            resp = await client.get(path, params=params)
        if resp.status_code != 200:
            body = " ".join(resp.text.split())[:_EXCERPT]
            raise AlertsError(f"{url}: HTTP {resp.status_code}" + (f": {body}" if body else ""))
        doc = resp.json()
        alerts = parse_alertmanager(doc) if source == "alertmanager" else parse_prometheus(doc)
    except httpx.TimeoutException:
        return AlertsView(source, error=f"{url}: no answer within {settings['prometheus.timeout']}s")
    except httpx.TransportError as e:
        return AlertsView(source, error=f"{url}: cannot connect: {' '.join(str(e).split())[:_EXCERPT]}")
    except ValueError as e:  # JSON errors included
        return AlertsView(source, error=f"{url}: unexpected reply ({' '.join(str(e).split())[:_EXCERPT]})")
    except (AlertsError, ConfigError) as e:
        return AlertsView(source, error=str(e))
    return AlertsView(source, tuple(alerts))
