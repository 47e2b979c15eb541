"""`fleetui enroll A B ...`: several addresses on the command line are a batch, checked row by row before any
connection, with the same rules as `--from`. The addresses used here are documentation addresses
(192.0.2.0/24, RFC 5737) that nothing answers: a run that connected would fail differently and slowly."""

from __future__ import annotations

import subprocess
import sys

import pytest


def fleetui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleetui", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


def test_bad_addresses_are_listed_with_reasons_and_nothing_starts() -> None:
    r = fleetui(
        "enroll", "192.0.2.10", "bad;host", "192.0.2.10", "--label", "environment=lab", "--label", "maintainers=x",
        "--yes",
    )  # fmt: skip
    assert r.returncode == 2
    assert "2 of 3 hosts cannot be enrolled as listed" in r.stderr
    assert "address 2 (bad;host): address: 'bad;host' is not a host name or IP address" in r.stderr
    assert "address 3 (192.0.2.10): address: listed twice (also address 1)" in r.stderr
    assert "Nothing was started" in r.stderr
    assert "Enrolling" not in r.stdout


def test_per_host_flags_apply_to_every_address() -> None:
    r = fleetui("enroll", "192.0.2.10", "192.0.2.11", "--port", "99999", "--yes")
    assert r.returncode == 2
    for i, addr in ((1, "192.0.2.10"), (2, "192.0.2.11")):
        line = next(ln for ln in r.stderr.splitlines() if f"address {i} ({addr})" in ln)
        assert "port: 99999 is not between 1 and 65535" in line and "missing required label(s)" in line


@pytest.mark.parametrize(
    ("extra", "msg"),
    [
        (("--trust-host-key", "SHA256:abc"), "--trust-host-key: one fingerprint cannot match several hosts"),
        (("--from", "hosts.yaml"), "ADDRESS: give addresses, or --from FILE / --retry-failed RESULTS, not both"),
    ],
)
def test_batch_flags_that_cannot_apply_are_refused(extra: tuple[str, ...], msg: str) -> None:
    r = fleetui("enroll", "192.0.2.10", "192.0.2.11", *extra, "--yes")
    assert r.returncode == 2 and msg in r.stderr


def test_several_addresses_without_yes_refuse_off_a_terminal() -> None:
    r = fleetui("enroll", "192.0.2.10", "192.0.2.11", "--label", "environment=lab", "--label", "maintainers=x")
    assert r.returncode == 2
    assert "refusing to change 2 hosts without confirmation: pass --yes" in r.stderr
