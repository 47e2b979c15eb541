"""Re-enroll's form names the fleet row it came from, for the host-key question, only while its address is the
one prefilled for that row (another address typed is another host)."""

from __future__ import annotations

from dataclasses import replace

from fleetui.domain.fleet import HostState, HostStatus, Mode
from fleetui.tui.screens.wizard.opener import reenroll_form


def _host(instance: str, scrape_url: str | None) -> HostStatus:
    return HostStatus(
        instance, HostState.DOWN, Mode.PULL, labels={"instance": instance, "job": "alloy"}, scrape_url=scrape_url
    )


def test_a_row_reached_at_its_scrape_address_is_named_while_that_address_stays() -> None:
    form = reenroll_form(_host("db-01", "http://127.0.0.13:12345/metrics"), ["environment"])
    assert form.address == "127.0.0.13" and form.known_as == "db-01"
    assert replace(form, address=" 127.0.0.13 ").known_as == "db-01"  # as typed, spaces and all
    assert replace(form, address="127.0.0.99").known_as is None  # another host now


def test_a_row_is_named_as_the_fleet_shows_it_unless_that_is_the_address() -> None:
    form = reenroll_form(_host("127.0.0.13:9100", "http://127.0.0.13:9100/metrics"), ["environment"])
    assert form.address == "127.0.0.13" and form.known_as == "127.0.0.13:9100"
    assert reenroll_form(_host("web-01", None), []).known_as is None  # no scrape URL: the address is the name
