"""Where the console's push fix prefills the SSH address from: the target file naming the instance, else the
operation log's last successful enroll/fix of a name the host goes by, else nothing."""

from __future__ import annotations

from fleetui.adapters.oplog import OpRecord
from fleetui.adapters.targets import HistoryEntry
from fleetui.deploy.push_address import address_from
from fleetui.domain.fleet import HostState, HostStatus, Mode

HOST = HostStatus("mac-pi", HostState.UP, Mode.PUSH, labels={"instance": "mac-pi"}, nodename="mac-studio")


def _entry(name: str, instance: str, state: str = "active") -> HistoryEntry:
    return HistoryEntry(name, f"{name}.json", state, 1.0, labels={"instance": instance})


def _rec(host: str, operation: str = "enroll", outcome: str = "ok") -> OpRecord:
    return OpRecord(1.0, "ops", host, operation, outcome, "changed")


def test_target_file_first_then_the_log() -> None:
    entries = [_entry("10.0.0.9", "other"), _entry("10.0.0.7", "mac-pi", "retired"), _entry("10.0.0.52", "mac-pi")]
    records = [_rec("mac-studio")]
    assert address_from(HOST, entries, records) == ("10.0.0.52", "its target file (where fleetui enrolled it)")
    assert address_from(HOST, entries[:2], records) == ("mac-studio", "the operation log (its last enroll)")


def test_only_successful_enrolls_and_fixes_of_its_names_count() -> None:
    records = [_rec("mac-pi", "fix"), _rec("mac-studio", outcome="failed"), _rec("mac-studio", "retire")]
    assert address_from(HOST, [], records) == ("mac-pi", "the operation log (its last fix)")
    assert address_from(HOST, [], [*records[1:], _rec("elsewhere")]) is None


def test_a_push_fix_recorded_with_its_instance() -> None:
    """A fix at a bare address is found by the instance it recorded (the row's name after the fix)."""
    fixed = OpRecord(2.0, "ops", "10.0.0.52", "fix", "ok", "changed", instance="mac-studio")
    assert address_from(HOST, [], [_rec("elsewhere"), fixed]) == ("10.0.0.52", "the operation log (its last fix)")
    back = OpRecord.from_json(fixed.to_json())
    assert back.instance == "mac-studio" and "instance" not in _rec("x").to_json()  # older lines read as before


def test_a_file_name_that_is_no_address_is_skipped() -> None:
    assert address_from(HOST, [_entry("bad name;x", "mac-pi")], []) is None
