"""The runner's and the steps' decisions, with no host: restart vs reload, reading the on-host status files,
which version of a file is live, what each host item and the whole host are after a run, when to roll back,
which errors are a lost connection, and the reconnect backoff. All pure functions: nothing to fake."""

from __future__ import annotations

import pytest

from fleetui.adapters.prometheus import PrometheusError
from fleetui.adapters.ssh import (
    AuthFailed,
    CommandFailed,
    CommandResult,
    CommandTimeout,
    ConnectFailed,
    ConnectionLost,
    HostKeyChanged,
    SudoPasswordRequired,
)
from fleetui.adapters.targets import TargetStoreError
from fleetui.config import ConfigError
from fleetui.deploy.decisions import (
    Action,
    Phase,
    StepVerdict,
    Version,
    apply_news,
    apply_verdict,
    choose_action,
    classify_error,
    describe,
    host_sentence,
    host_state,
    item_state,
    must_roll_back,
    read_status,
    reconnect_delays,
    script_phase,
    undo_config,
    which_version,
)
from fleetui.deploy.events import Change, ChangeState, ErrorKind
from fleetui.deploy.operation import HostUnreachable, StepFailed
from fleetui.domain.host import InputError


@pytest.mark.parametrize(
    ("config", "env", "active", "installed", "want"),
    [
        (True, False, True, False, Action.RELOAD),  # only the config, on a running Alloy: reload keeps it serving
        (True, True, True, False, Action.RESTART),  # the env file is only read at start
        (False, True, True, False, Action.RESTART),
        (True, False, False, False, Action.RESTART),  # stopped: a reload has nothing to reload
        (True, False, True, True, Action.RESTART),  # just installed: running the package's own config
        (False, False, True, False, Action.NONE),  # nothing changed, running: nothing to do
        (False, False, False, False, Action.RESTART),  # nothing changed, but stopped: start it
    ],
)
def test_restart_or_reload(config: bool, env: bool, active: bool, installed: bool, want: Action) -> None:
    assert choose_action(config_changed=config, env_changed=env, was_active=active, installed_now=installed) is want


# what remote_scripts.READ_STATUS prints, as the APPLY script writes it
APPLIED = "started\nstep swap done\nstep restart done restart\nstep ready done\nresult ok\n"
ROLLED = (
    "started\nstep swap done\nstep restart done restart\n"
    "step ready failed Alloy was not ready (/-/ready and /x) within 60s\nresult rolledback\n#lock\n"
)
RUNNING = "started\nstep swap done\n#lock\n"
BUSY = "started\nresult busy another fleetui operation is running on this host\n"


def test_status_file_reading() -> None:
    ok = read_status(APPLIED)
    assert ok.exists and ok.result == "ok" and ok.done("swap") and ok.done("restart") and ok.done("ready")
    assert ok.failure is None and not ok.lock_held
    assert ok.news == ("step swap done", "step restart done restart", "step ready done")
    rolled = read_status(ROLLED)
    assert rolled.result == "rolledback" and rolled.lock_held and not rolled.done("ready")
    assert rolled.failure == ("ready", "Alloy was not ready (/-/ready and /x) within 60s")
    running = read_status(RUNNING)
    assert running.result is None and running.done("swap") and running.lock_held
    busy = read_status(BUSY)
    assert busy.result == "busy" and busy.result_detail == "another fleetui operation is running on this host"
    missing = read_status("#missing\n")
    assert not missing.exists and missing.result is None
    assert read_status("#missing\n#lock\n").lock_held


@pytest.mark.parametrize(
    ("text", "since", "want"),
    [
        (APPLIED, 0.1, Phase.FINISHED),
        (ROLLED, 99.0, Phase.FINISHED),
        (RUNNING, 99.0, Phase.RUNNING),  # still going: wait for it
        ("started\n", 0.0, Phase.RUNNING),
        ("#missing\n", 0.5, Phase.RUNNING),  # launched a moment ago: it may not have written "started" yet
        ("#missing\n", 5.0, Phase.NOT_STARTED),  # the launch never reached the host
        ("#missing\n#lock\n", 5.0, Phase.NOT_STARTED),  # someone else's lock says nothing about ours
    ],
)
def test_script_phase_after_a_lost_connection(text: str, since: float, want: Phase) -> None:
    assert script_phase(read_status(text), since_launch_s=since, grace_s=3.0) is want


def test_apply_verdict_per_step() -> None:
    assert apply_verdict(read_status(RUNNING), "swap") is StepVerdict.DONE
    assert apply_verdict(read_status(RUNNING), "restart") is StepVerdict.WAITING
    assert apply_verdict(read_status(ROLLED), "restart") is StepVerdict.DONE
    assert apply_verdict(read_status(ROLLED), "ready") is StepVerdict.FAILED
    assert apply_verdict(read_status(BUSY), "swap") is StepVerdict.FAILED
    assert apply_verdict(read_status("started\n"), "swap") is StepVerdict.WAITING


def test_which_version_is_live() -> None:
    assert which_version("a", "a", "b") is Version.PREVIOUS
    assert which_version("b", "a", "b") is Version.NEW
    assert which_version("none", "none", "b") is Version.PREVIOUS  # no file before, none now
    assert which_version("c", "a", "b") is Version.OTHER
    assert which_version("a", "a", "a") is Version.PREVIOUS  # nothing to change counts as the previous
    assert which_version(None, "a", "b", readable=False) is Version.UNKNOWN


@pytest.mark.parametrize(
    ("version", "touched", "was_changed", "want"),
    [
        (Version.NEW, True, True, ChangeState.CHANGED),
        (Version.PREVIOUS, True, True, ChangeState.ROLLED_BACK),  # changed, then found back: rolled back
        (Version.PREVIOUS, True, False, ChangeState.UNCHANGED),  # never got that far
        (Version.OTHER, True, True, ChangeState.UNKNOWN),
        (Version.UNKNOWN, True, False, ChangeState.UNKNOWN),
        (Version.UNKNOWN, False, False, ChangeState.UNCHANGED),  # never sent anything that touches it
    ],
)
def test_item_state(version: Version, touched: bool, was_changed: bool, want: ChangeState) -> None:
    assert item_state(version, touched=touched, was_changed=was_changed) is want


def test_host_state_is_unknown_if_anything_is() -> None:
    cfg_back = Change("alloy config", ChangeState.ROLLED_BACK)
    target_back = Change("target file", ChangeState.ROLLED_BACK)
    pkg = Change("alloy package", ChangeState.CHANGED, "Alloy 1.10.2 was installed")
    unknown = Change("alloy config", ChangeState.UNKNOWN, "check `sha256sum /etc/alloy/config.alloy`")
    assert host_state([]) == "unchanged"
    assert host_state([Change("x", ChangeState.UNCHANGED)]) == "unchanged"
    assert host_state([cfg_back, target_back]) == "rolled back"
    assert host_state([pkg, cfg_back]) == "changed"  # Alloy stays installed: a rollback does not uninstall
    assert host_state([pkg, unknown]) == "unknown: alloy config: check `sha256sum /etc/alloy/config.alloy`"
    assert describe([pkg, cfg_back, Change("t", ChangeState.UNCHANGED, "as it was")]) == (
        "alloy package changed (Alloy 1.10.2 was installed); alloy config rolled back"
    )
    assert host_sentence("unchanged", []) == "nothing on the host was changed"
    assert "read back" in host_sentence("rolled back", [cfg_back])
    assert host_sentence("changed", [pkg]).startswith("the host was left changed: alloy package changed")
    assert host_sentence("unknown: x", []) == "the host's state is unknown: x"


def test_every_way_of_failing_rolls_back_except_a_plan_and_never_connecting() -> None:
    for kind in (ErrorKind.FAILED, ErrorKind.CONNECTION_LOST, ErrorKind.CANCELLED, ErrorKind.INTERNAL):
        assert must_roll_back(kind, dry_run=False)
        assert not must_roll_back(kind, dry_run=True)
    assert not must_roll_back(ErrorKind.CONNECT, dry_run=False)
    assert not must_roll_back(None, dry_run=False)


def test_undo_only_when_the_new_file_is_live() -> None:
    assert undo_config(Version.NEW, Version.PREVIOUS) and undo_config(Version.PREVIOUS, Version.NEW)
    assert not undo_config(Version.PREVIOUS, Version.PREVIOUS)
    assert not undo_config(Version.OTHER, Version.PREVIOUS)  # never overwrite someone else's config
    assert not undo_config(Version.UNKNOWN, Version.UNKNOWN)


def test_a_lost_or_stalled_connection_is_never_a_verdict() -> None:
    result = CommandResult(255, "", "")
    assert classify_error(ConnectionLost("cut"), step="validate") is ErrorKind.CONNECTION_LOST
    assert classify_error(CommandTimeout("stalled"), step="ready") is ErrorKind.CONNECTION_LOST
    assert classify_error(HostUnreachable("gone"), step="target") is ErrorKind.CONNECTION_LOST
    assert classify_error(ConnectionLost("cut"), step="connect") is ErrorKind.CONNECTION_LOST
    assert classify_error(ConnectFailed("refused"), step="connect") is ErrorKind.CONNECT
    assert classify_error(AuthFailed("no"), step="connect") is ErrorKind.CONNECT
    assert classify_error(HostKeyChanged.__new__(HostKeyChanged), step="connect") is ErrorKind.CONNECT
    assert classify_error(SudoPasswordRequired("h"), step="detect") is ErrorKind.FAILED
    assert classify_error(CommandFailed("alloy validate x", result), step="validate") is ErrorKind.FAILED
    assert classify_error(StepFailed("no"), step="verify") is ErrorKind.FAILED
    assert classify_error(TargetStoreError("ro"), step="target") is ErrorKind.FAILED
    assert classify_error(PrometheusError("http://p", "503"), step="reload") is ErrorKind.FAILED
    assert classify_error(ConfigError("f", "k", "bad"), step="reload") is ErrorKind.FAILED
    assert classify_error(InputError("bad", "services"), step="detect") is ErrorKind.FAILED
    assert classify_error(ZeroDivisionError(), step="render") is ErrorKind.INTERNAL


def test_reconnect_backoff_is_bounded() -> None:
    assert reconnect_delays(0) == [0.0]
    assert reconnect_delays(30) == [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    for budget in (1, 7.5, 30, 120):
        delays = reconnect_delays(budget)
        assert sum(delays) <= budget and delays[0] == 0.0 and max(delays) <= 8.0


def test_apply_news_says_in_words_what_the_host_did() -> None:
    """The apply script's progress lines reach the operator (batch log, wizard, CLI) as words from the host,
    not as its bookkeeping: a batch log read "step restart done restart" before "restarted Alloy"."""
    words = [apply_news(ln) for ln in read_status(APPLIED).news]
    assert words == [
        "on the host: the new files are in place",
        "on the host: Alloy restarted",
        "on the host: Alloy is ready",
    ]
    assert apply_news("step restart done reload") == "on the host: Alloy reloaded its config"
    assert apply_news("step restore done") == "on the host: the previous files are back"
    assert apply_news("step ready failed Alloy was not ready within 30s") == (
        "on the host: ready failed: Alloy was not ready within 30s"
    )
    assert apply_news("step verify done later") == "on the host: verify done (later)"  # a line it does not know
    # a failure's message is free text: " done" in it does not make the line a step done
    assert apply_news("step restart failed the service was not done starting") == (
        "on the host: restart failed: the service was not done starting"
    )
