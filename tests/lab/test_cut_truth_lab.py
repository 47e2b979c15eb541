"""Cut the SSH connection at every step of `enroll` and of `retire` and check that what fleetui reports is what
the host really is — config hash, env file hash, service state, Alloy installed or not, target file — and that
no status, log, lock or staged file is left behind.

Cuts are real: `HostSession.abort()` drops the TCP connection the run is using (at a step's start, or right
after the step's first progress line, i.e. while an on-host script runs), a stall SIGSTOPs the sshd process
serving the connection, and a cancel is `Run.cancel()`. The host's state is read independently (`host_exec`
inside the lab host, the lab's targets dir). One host (new-03) is reused: it starts without Alloy (for the
install cuts), then each case starts from the same enrolled baseline and asks for a new config (`self`
service) and a new target file (a `cut` label), so every step has real work to do.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

from fleetui import lab as lab_mod
from fleetui.adapters.ssh import trust_exactly
from fleetui.config import Settings
from fleetui.deploy import onhost
from fleetui.deploy.enroll import enroll_operation
from fleetui.deploy.events import ChangeState, ErrorKind, OperationResult, StepStatus
from fleetui.deploy.retire import retire_operation
from fleetui.deploy.runner import Run, Runner
from fleetui.domain.host import build_request

pytestmark = pytest.mark.lab

HOST = "new-03"
BASE = {"environment": "lab", "maintainers": "cut-tests"}
LEFTOVERS = "ls -d /var/tmp/fleetui-* /etc/alloy/*.fleetui-new* /etc/default/alloy.fleetui-new* 2>/dev/null; true"
# (step, how): how = start (abort when the step starts), progress (abort at its first progress line: an on-host
# script is running), stall (SIGSTOP the connection's sshd), cancel (Run.cancel() when the step starts)
ENROLL_CUTS = [
    ("install", "start"),
    ("install", "progress"),
    ("detect", "start"),
    ("render", "start"),
    ("upload", "start"),
    ("validate", "start"),
    ("swap", "start"),
    ("swap", "progress"),
    ("restart", "start"),
    ("ready", "start"),
    ("ready", "stall"),
    ("ready", "cancel"),
    ("target", "start"),
    ("reload", "start"),
    ("verify", "start"),
]
RETIRE_CUTS = [("retire", "start"), ("reload", "start"), ("stop", "start"), ("stop", "progress")]
TALLY: list[str] = []


@dataclass(frozen=True)
class Truth:
    config: str  # sha256 of /etc/alloy/config.alloy, "none" when absent
    env: str
    active: bool
    installed: bool
    target: str  # sha256 of <targets dir>/<address>.json, "none" when absent


def retired_files(lab: Any, h: Any) -> list[str]:
    return sorted(p.name for p in Path(lab.targets_dir).iterdir() if p.name.startswith(f"{h.address}.json.deleted."))


def _sha(data: bytes | None) -> str:
    return "none" if data is None else hashlib.sha256(data).hexdigest()


def read_truth(lab: Any, h: Any) -> Truth:
    script = (
        "for f in /etc/alloy/config.alloy /etc/default/alloy; do "
        "if [ -e $f ]; then sha256sum < $f | cut -d' ' -f1; else echo none; fi; done; "
        "systemctl is-active alloy >/dev/null 2>&1 && echo active || echo inactive; "
        "command -v alloy >/dev/null && echo installed || echo absent"
    )
    config, env, active, installed = lab_mod.host_exec(HOST, ["sh", "-c", script]).stdout.split()
    target = Path(lab.targets_dir) / f"{h.address}.json"
    data = target.read_bytes() if target.exists() else None
    return Truth(config, env, active == "active", installed == "installed", _sha(data))


@pytest.fixture(scope="module")
def settings(lab_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    kh = tmp_path_factory.mktemp("kh") / "known_hosts"
    return lab_settings.with_overrides({"ssh.known_hosts": str(kh), "alloy.up_timeout": "60"})


@pytest.fixture(scope="module")
def host(reset_lab_host: Any) -> Any:
    h = reset_lab_host(HOST)  # no Alloy yet: the install cuts come first
    yield h
    reset_lab_host(HOST)
    print("\n" + "\n".join(TALLY))


@pytest.fixture(autouse=True)
def short_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stalled connection shows up when one status read takes longer than this (10 s by default)."""
    monkeypatch.setattr(onhost, "POLL_TIMEOUT_S", 3.0)


def fingerprint() -> str:
    return lab_mod.host_exec(HOST, ["ssh-keygen", "-lf", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout.split()[1]


def enrollment(h: Any, settings: Settings, labels: dict[str, str], services: list[str]) -> Run:
    req = build_request(
        h.address, port=h.ssh_port, user="root", identity_file=str(h.identity_file), labels=labels, services=services
    )
    return Runner(settings).start(enroll_operation(req, settings, on_unknown_key=trust_exactly(fingerprint())))


def retirement(h: Any, settings: Settings) -> Run:
    req = build_request(h.address, port=h.ssh_port, user="root", identity_file=str(h.identity_file))
    op = retire_operation(req, settings, stop_agent=True, on_unknown_key=trust_exactly(fingerprint()))
    return Runner(settings).start(op)


async def baseline(h: Any, settings: Settings) -> None:
    run = enrollment(h, settings, BASE, [])
    async for _ in run.events():
        pass
    assert run.result is not None and run.result.ok, (run.result and run.result.failed_step, run.result.error)


async def run_with_cut(run: Run, step: str, how: str) -> OperationResult:
    fired = False
    stopped: int | None = None
    try:
        async for ev in run.events():
            if fired or ev.step != step:
                continue
            at_start = ev.status is StepStatus.STARTED
            if (how == "start" and at_start) or (how == "progress" and ev.status is StepStatus.PROGRESS):
                assert run.session is not None
                run.session.abort()
                fired = True
            elif how == "stall" and at_start:
                stopped = lab_mod.stall_ssh_session(HOST)
                fired = True
            elif how == "cancel" and at_start:
                run.cancel()
                fired = True
    finally:
        if stopped is not None:
            lab_mod.resume_ssh_session(HOST, stopped, kill=True)
    assert fired, f"the run never reached {step} ({how})"
    assert run.result is not None
    return run.result


def mismatches(result: OperationResult, before: Truth, after: Truth) -> list[str]:
    """Every way the report differs from the host's real state (empty: the report told the truth)."""
    bad: list[str] = []
    seen = result.observed
    for key, real in (
        ("config_sha256", after.config),
        ("env_sha256", after.env),
        ("alloy_active", after.active),
        ("target_sha256", after.target),
    ):
        if key in seen and seen[key] != real:
            bad.append(f"observed {key}={seen[key]!r}, really {real!r}")
    items = {c.what: c.state for c in result.changes}
    package = items.get("alloy package", ChangeState.UNCHANGED)
    # a package install brings its own config, env file and running service: the package item covers them
    covered = ("alloy config", "env file") if package is ChangeState.CHANGED and "alloy config" not in items else ()
    for what, field in (("alloy config", "config"), ("env file", "env"), ("target file", "target")):
        if what in covered:
            continue
        state = items.get(what, ChangeState.UNCHANGED)
        same = getattr(after, field) == getattr(before, field)
        if state in (ChangeState.UNCHANGED, ChangeState.ROLLED_BACK) and not same:
            bad.append(f"{what} reported {state.value} but it changed")
        if state is ChangeState.CHANGED and same:
            bad.append(f"{what} reported changed but it is as before")
        if state is ChangeState.UNKNOWN:
            bad.append(f"{what} unknown although the host was reachable")
    if (package is ChangeState.CHANGED) != (after.installed and not before.installed):
        bad.append(f"alloy package reported {package.value}, installed before={before.installed} now={after.installed}")
    if package is not ChangeState.CHANGED:
        service = items.get("alloy service", ChangeState.UNCHANGED)
        if (service is ChangeState.CHANGED) == (after.active == before.active):
            bad.append(f"alloy service reported {service.value}, active before={before.active} now={after.active}")
    if result.host_state in ("unchanged", "rolled back") and after != before:
        bad.append(f"host reported {result.host_state} but {asdict(before)} became {asdict(after)}")
    if result.host_state == "changed" and after == before:
        bad.append("host reported changed but nothing changed")
    if not result.ok and result.error_kind not in (ErrorKind.CONNECTION_LOST, ErrorKind.CANCELLED):
        bad.append(f"a cut reported as {result.error_kind}: {result.error}")
    return bad


def record(kind: str, step: str, how: str, result: OperationResult, bad: list[str], left: str) -> None:
    verdict = "TRUE " if not bad and not left else "FALSE"
    TALLY.append(
        f"cut-truth {verdict} {kind:<6} {step:<8} {how:<8} ok={result.ok!s:<5} host_state={result.host_state!r}"
        f" error_kind={result.error_kind and result.error_kind.value!r}"
    )


@pytest.mark.parametrize(("step", "how"), ENROLL_CUTS, ids=[f"{s}-{h}" for s, h in ENROLL_CUTS])
async def test_enroll_cut_reports_the_real_state(
    lab: Any, host: Any, settings: Settings, reset_lab_host: Any, step: str, how: str
) -> None:
    if step == "install":
        reset_lab_host(HOST)  # Alloy must be missing for the install step to run
    else:
        await baseline(host, settings)
    before = read_truth(lab, host)
    run = enrollment(host, settings, {**BASE, "cut": f"{step}-{how}"}, ["self"])
    result = await run_with_cut(run, step, how)
    after = read_truth(lab, host)
    left = lab_mod.host_exec(HOST, ["sh", "-c", LEFTOVERS]).stdout
    bad = mismatches(result, before, after)
    record("enroll", step, how, result, bad, left)
    assert bad == [], (result.host_state, result.error, [c.to_json() for c in result.changes])
    assert left == "" and "leftovers" not in result.summary
    assert not result.host_state.startswith("unknown")
    if result.error_kind is ErrorKind.CONNECTION_LOST:
        recover = [e for e in result.events if e.step == "recover"]
        assert recover and recover[-1].status is StepStatus.DONE
        assert not any(w in (result.error or "") for w in ("rejected", "not supported", "exit 255"))


@pytest.mark.parametrize(("step", "how"), RETIRE_CUTS, ids=[f"{s}-{h}" for s, h in RETIRE_CUTS])
async def test_retire_cut_reports_the_real_state(lab: Any, host: Any, settings: Settings, step: str, how: str) -> None:
    await baseline(host, settings)
    before = read_truth(lab, host)
    result = await run_with_cut(retirement(host, settings), step, how)
    after = read_truth(lab, host)
    left = lab_mod.host_exec(HOST, ["sh", "-c", LEFTOVERS]).stdout
    bad = []
    items = {c.what: c.state for c in result.changes}
    retired = after.target == "none" and bool(retired_files(lab, host))
    if (items.get("target file") is ChangeState.CHANGED) != retired:
        bad.append(f"target file reported {items.get('target file')}, retired={retired}")
    stopped = before.active and not after.active
    if (items.get("alloy service", ChangeState.UNCHANGED) is ChangeState.CHANGED) != stopped:
        bad.append(f"alloy service reported {items.get('alloy service')}, active now={after.active}")
    if "alloy_active" in result.observed and result.observed["alloy_active"] != after.active:
        bad.append("observed alloy_active differs from the host")
    if (after.config, after.env) != (before.config, before.env):
        bad.append("retire changed the config")
    if not result.ok and result.error_kind is not ErrorKind.CONNECTION_LOST:
        bad.append(f"a cut reported as {result.error_kind}: {result.error}")
    record("retire", step, how, result, bad, left)
    assert bad == [], (result.host_state, result.error, [c.to_json() for c in result.changes])
    assert left == "" and result.host_state == "changed"  # a retired host, whatever else happened


def test_retire_failing_after_the_rename_says_the_host_was_retired(lab: Any, host: Any, settings: Settings) -> None:
    """`fleetui retire` with Prometheus unreachable for the reload: the target file is already renamed, and the
    CLI says the host was retired and what failed (exit 1), not a configuration error."""
    import asyncio
    import json
    import subprocess
    import sys

    asyncio.run(baseline(host, settings))
    kh = settings["ssh.known_hosts"]
    earlier = set(retired_files(lab, host))
    r = subprocess.run(
        [
            sys.executable, "-m", "fleetui", "--config", str(lab.config_file), "--set", f"ssh.known_hosts={kh}",
            "--prometheus", "http://127.0.0.1:9",  # nothing listens on port 9
            "retire", host.address, "--port", str(host.ssh_port), "--identity", str(host.identity_file),
            "--stop-agent", "--yes",
        ],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, check=False,
    )  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr
    (retired,) = set(retired_files(lab, host)) - earlier
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert line.startswith("fleetui retire: reload failed: Prometheus reload failed: ")
    assert f"the host was retired (target file renamed to {retired})" in line
    assert not (Path(lab.targets_dir) / f"{host.address}.json").exists()
    # the agent was not stopped (the run ended at the reload), and the report did not claim it was
    assert lab_mod.host_exec(HOST, ["systemctl", "is-active", "alloy"]).returncode == 0
    assert "alloy service" not in line
    # --json says the same, item by item
    asyncio.run(baseline(host, settings))
    r = subprocess.run(
        [
            sys.executable, "-m", "fleetui", "--config", str(lab.config_file), "--set", f"ssh.known_hosts={kh}",
            "--prometheus", "http://127.0.0.1:9", "retire", host.address, "--port", str(host.ssh_port),
            "--identity", str(host.identity_file), "--yes", "--json",
        ],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, check=False,
    )  # fmt: skip
    doc = json.loads(r.stdout)
    assert r.returncode == 1 and doc["failed_step"] == "reload" and doc["error_kind"] == "failed"
    assert doc["host_state"] == "changed" and doc["changes"] == [
        {"what": "target file", "state": "changed", "note": f"renamed to {doc['summary']['retired_as']} (retired)"}
    ]
