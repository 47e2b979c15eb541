"""What the app hands the wizard: label suggestions from the fleet, and a form prefilled from a host for
Re-enroll (its address from the scrape URL, its mode, its labels; the connection from the ssh settings)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable

from fleetui.domain.fleet import HostStatus, Mode
from fleetui.tui.screens.wizard.collect import fleet_values
from fleetui.tui.screens.wizard.form import WizardForm, prefill


def suggestions_from(hosts: Iterable[HostStatus], required: Iterable[str]) -> dict[str, list[str]]:
    labels = [h.labels for h in hosts]
    return {name: fleet_values(labels, name) for name in required}


def reenroll_form(host: HostStatus, required: Iterable[str]) -> WizardForm:
    address = urllib.parse.urlsplit(host.scrape_url).hostname if host.scrape_url else None
    if address is None:
        address = urllib.parse.urlsplit(f"//{host.instance}").hostname or host.instance
    labels, extra = prefill(host.labels, required)
    hostname = host.labels.get("hostname", "")
    return WizardForm(
        address=address,
        mode="push" if host.mode is Mode.PUSH else "pull",
        labels=labels,
        extra_labels=extra,
        hostname=hostname,
        nodename=host.nodename or "",
        row=host.instance,
        row_address=address,
    )
