"""Engine pieces that need no host: OS detection parsing, the event JSON shape, plan diffs, secret masking."""

from __future__ import annotations

import json

import pytest

from fleetui.deploy.detect import UnsupportedOs, family_of, map_arch, parse_os_release
from fleetui.deploy.diffs import mask_env, unified
from fleetui.deploy.enroll import resolve_secrets
from fleetui.deploy.events import STEPS, OperationResult, StepEvent, StepStatus
from fleetui.domain.host import InputError, OsFamily, build_request

OS_RELEASES = {
    'ID=debian\nVERSION_ID="12"\n': OsFamily.DEBIAN,
    'ID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n': OsFamily.DEBIAN,
    "ID=raspbian\nID_LIKE=debian\n": OsFamily.DEBIAN,
    'ID="rocky"\nID_LIKE="rhel centos fedora"\n': OsFamily.RHEL,
    'ID="almalinux"\nID_LIKE="rhel centos fedora"\n': OsFamily.RHEL,
    "ID=fedora\n": OsFamily.RHEL,
    'ID="amzn"\nID_LIKE="centos rhel fedora"\nVERSION_ID="2023"\n': OsFamily.RHEL,
    'ID="rhel"\n': OsFamily.RHEL,
    'ID="opensuse-leap"\nID_LIKE="suse opensuse"\n': OsFamily.SUSE,
    'ID="sles"\n': OsFamily.SUSE,
}


@pytest.mark.parametrize(("text", "family"), OS_RELEASES.items())
def test_linux_families(text: str, family: OsFamily) -> None:
    assert family_of("Linux", parse_os_release(text)) is family


def test_darwin_and_unsupported() -> None:
    assert family_of("Darwin", {}) is OsFamily.DARWIN
    with pytest.raises(UnsupportedOs, match="Windows is not supported"):
        family_of("", {})
    with pytest.raises(UnsupportedOs, match="FreeBSD is not supported"):
        family_of("FreeBSD", {})
    with pytest.raises(UnsupportedOs, match="Arch Linux is not supported"):
        family_of("Linux", parse_os_release('ID=arch\nPRETTY_NAME="Arch Linux"\n'))


def test_arch_mapping() -> None:
    assert [map_arch(m) for m in ("aarch64", "x86_64", "armv7l")] == ["arm64", "amd64", "armv7"]
    with pytest.raises(UnsupportedOs):
        map_arch("mips")


def test_event_json_shape() -> None:
    ev = StepEvent("127.0.0.16", "connect", StepStatus.DONE, "connected", 0.1234, {"root": True})
    res = OperationResult("127.0.0.16", "enroll", True, True, 1.5, (ev,))
    doc = json.loads(json.dumps(res.to_json()))
    assert doc["host_state"] == "unchanged" and doc["changes"] == [] and doc["error_kind"] is None
    assert doc["events"] == [
        {
            "host": "127.0.0.16",
            "step": "connect",
            "status": "done",
            "message": "connected",
            "elapsed_s": 0.123,
            "detail": {"root": True},
        }
    ]
    assert STEPS[0] == "connect" and STEPS[-1] == "verify" and len(STEPS) == 12


def test_mask_env_and_diff() -> None:
    env = 'CONFIG_FILE="/etc/alloy/config.alloy"\nFLEETUI_POSTGRES_DSN="postgresql://u:pw@h/db"\n'
    masked = mask_env(env)
    assert masked is not None and "pw@" not in masked and 'FLEETUI_POSTGRES_DSN="********"' in masked
    diff = unified(None, "a\n", "f")
    assert diff.startswith("--- /dev/null\n+++ f (new)\n") and "+a\n" in diff
    assert unified("same\n", "same\n", "f") == ""


def test_secrets_come_from_the_named_variable_only() -> None:
    req = build_request("127.0.0.16", services=["postgres:dsn_env=MY_DSN"])
    assert resolve_secrets(req, {"MY_DSN": "postgresql://x"}) == {"FLEETUI_POSTGRES_DSN": "postgresql://x"}
    with pytest.raises(InputError, match="MY_DSN"):
        resolve_secrets(req, {})
    with pytest.raises(InputError, match="one-line"):
        resolve_secrets(req, {"MY_DSN": "a\nb"})
