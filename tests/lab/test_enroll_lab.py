"""Enrollment on lab hosts, end to end: real sshd, the lab's apt repository, the Alloy stand-in, real Prometheus.

new-03 (Debian, no Alloy) is this module's host: it is reset first (package purged, files removed), then
planned, enrolled for real (apt install from the lab repository), re-enrolled (a no-op), broken on purpose
(an on-host check failure) and finally retired; cutting the connection at every step is in test_cut_truth_lab.
app-01 (Rocky, Alloy 1.8.3: no `alloy validate`, so `alloy fmt` is used) and build-01 (openSUSE) cover the
other families.
Tests in this module run in order and share new-03's state.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from fleetui import lab as lab_mod
from fleetui.adapters.ssh import trust_exactly
from fleetui.config import Settings
from fleetui.deploy.enroll import enroll_operation
from fleetui.deploy.events import OperationResult, StepEvent, StepStatus
from fleetui.deploy.retire import retire_operation
from fleetui.deploy.runner import Run, Runner
from fleetui.domain.host import build_request
from fleetui.domain.labels import LabelSchema

pytestmark = [pytest.mark.lab, pytest.mark.both_backends]

HOST = "new-03"
CONFIG = "/etc/alloy/config.alloy"
LABELS = {"environment": "lab", "maintainers": "enroll-tests"}
MUTATING = ("install", "upload", "validate", "swap", "restart", "ready", "target", "reload")


def fingerprint(host: str) -> str:
    return lab_mod.host_exec(host, ["ssh-keygen", "-lf", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout.split()[1]


@pytest.fixture(scope="module")
def settings(lab_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    kh = tmp_path_factory.mktemp("kh") / "known_hosts"
    return lab_settings.with_overrides({"ssh.known_hosts": str(kh), "alloy.up_timeout": "60"})


@pytest.fixture(scope="module")
def fresh_host(reset_lab_host: Any) -> Any:
    """new-03 as the lab made it: no Alloy package, no config, no target file."""
    return reset_lab_host(HOST)


def request(h: Any, settings: Settings, **kw: Any) -> Any:
    kw.setdefault("labels", LABELS)
    return build_request(
        h.address,
        port=h.ssh_port,
        user="root",
        identity_file=str(h.identity_file),
        schema=LabelSchema(("environment", "maintainers")),
        **kw,
    )


async def run_op(run: Run, on_event: Any = None) -> OperationResult:
    async for ev in run.events():
        if on_event is not None:
            await on_event(run, ev)
    assert run.result is not None
    return run.result


def enrollment(h: Any, settings: Settings, **kw: Any) -> Run:
    dry = kw.pop("dry_run", False)
    op = enroll_operation(request(h, settings, **kw), settings, on_unknown_key=trust_exactly(fingerprint(h.name)))
    return Runner(settings).start(op, dry_run=dry)


def retirement(h: Any, settings: Settings) -> Run:
    op = retire_operation(
        request(h, settings), settings, stop_agent=True, on_unknown_key=trust_exactly(fingerprint(h.name))
    )
    return Runner(settings).start(op)


def by_step(result: OperationResult) -> dict[str, StepEvent]:
    return {e.step: e for e in result.events if e.status is not StepStatus.STARTED}


def host_sha(path: str = CONFIG) -> str:
    out = lab_mod.host_exec(HOST, ["sh", "-c", f"cat {path} 2>/dev/null"]).stdout
    return hashlib.sha256(out.encode()).hexdigest()


def alloy_ready(h: Any) -> bool:
    try:
        return httpx.get(f"http://{h.address}:12345/-/ready", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def prometheus_target(lab: Any, address: str) -> dict[str, Any] | None:
    data = httpx.get(f"{lab.prometheus}/api/v1/targets", params={"state": "active"}, timeout=5).json()
    for t in data["data"]["activeTargets"]:
        if t["scrapeUrl"].startswith(f"http://{address}:12345/"):
            return t  # type: ignore[no-any-return]
    return None


async def test_plan_changes_nothing(lab: Any, fresh_host: Any, settings: Settings) -> None:
    result = await run_op(enrollment(fresh_host, settings, dry_run=True))
    assert result.ok, result.error
    assert result.operation == "plan" and result.host_state == "unchanged"
    assert by_step(result)["install"].status is StepStatus.PLANNED
    # Alloy is not there yet: the check named is the one the version it gets decides, not `alloy fmt` outright
    assert by_step(result)["validate"].message.startswith("would run `alloy validate` on the new config (")
    plan = result.summary["plan"]
    assert any("apt-get install" in c for c in plan["install"])
    assert '+prometheus.exporter.unix "new_03" {' in plan["config_diff"]
    assert '"__metrics_path__": "/api/v0/component/prometheus.exporter.unix.new_03/metrics"' in plan["target_diff"]
    assert lab_mod.host_exec(HOST, ["test", "-e", CONFIG]).returncode == 1
    assert lab_mod.host_exec(HOST, ["sh", "-c", "command -v alloy"]).returncode != 0
    assert not (Path(lab.targets_dir) / f"{fresh_host.address}.json").exists()


async def test_enroll_debian_for_real_then_up_in_prometheus(lab: Any, fresh_host: Any, settings: Settings) -> None:
    t0 = time.monotonic()
    result = await run_op(enrollment(fresh_host, settings))
    elapsed = time.monotonic() - t0
    steps = by_step(result)
    assert result.ok, (result.failed_step, result.error)
    assert [s for s in steps] == [
        "connect",
        "detect",
        "install",
        "render",
        "upload",
        "validate",
        "swap",
        "restart",
        "ready",
        "target",
        "reload",
        "verify",
    ]
    assert steps["install"].status is StepStatus.DONE and steps["install"].detail["version"]
    assert "alloy validate" in steps["validate"].message  # the repo's version is >= 1.9
    assert all(steps[s].status is StepStatus.DONE for s in MUTATING)
    assert result.host_state == "changed"
    assert result.observed["config_sha256"] == host_sha() and result.observed["alloy_active"] is True
    # independent checks: the host, the targets dir and Prometheus
    assert lab_mod.host_exec(HOST, ["stat", "-c", "%a", "/etc/default/alloy"]).stdout.strip() == "600"
    env = lab_mod.host_exec(HOST, ["cat", "/etc/default/alloy"]).stdout
    assert f'CUSTOM_ARGS="--server.http.listen-addr={fresh_host.address}:12345"' in env
    group = json.loads((Path(lab.targets_dir) / f"{fresh_host.address}.json").read_text())[0]
    assert group["targets"] == [f"{fresh_host.address}:12345"]
    assert group["labels"] == {
        **LABELS,
        "instance": HOST,
        "__metrics_path__": "/api/v0/component/prometheus.exporter.unix.new_03/metrics",
    }
    target = prometheus_target(lab, fresh_host.address)
    assert target is not None and target["health"] == "up"
    assert result.elapsed_s <= elapsed
    print(f"\nenrollment of {HOST} (incl. apt install): {result.elapsed_s:.2f}s")


async def test_reenroll_unchanged_host_is_a_noop(lab: Any, fresh_host: Any, settings: Settings) -> None:
    before = (host_sha(), (Path(lab.targets_dir) / f"{fresh_host.address}.json").stat().st_mtime_ns)
    mtime = lab_mod.host_exec(HOST, ["stat", "-c", "%Y", CONFIG]).stdout
    result = await run_op(enrollment(fresh_host, settings))
    assert result.ok and not result.changed
    steps = by_step(result)
    assert all(steps[s].status is StepStatus.SKIPPED for s in MUTATING), {s: steps[s].status for s in MUTATING}
    assert before == (host_sha(), (Path(lab.targets_dir) / f"{fresh_host.address}.json").stat().st_mtime_ns)
    assert lab_mod.host_exec(HOST, ["stat", "-c", "%Y", CONFIG]).stdout == mtime


@pytest.mark.backend_independent  # fails on the host, before the target and reload steps
async def test_config_failing_the_on_host_check_leaves_the_old_config_running(
    lab: Any, fresh_host: Any, settings: Settings
) -> None:
    """The offline check passes, then the staged file is damaged on the host before `alloy validate` runs, so the
    real on-host check is what rejects it."""
    before = host_sha()

    async def damage(run: Any, ev: StepEvent) -> None:
        if ev.step == "validate" and ev.status is StepStatus.STARTED:
            damage = f"for f in {CONFIG}.fleetui-new.*; do echo '# not alloy syntax' >> \"$f\"; done"
            assert lab_mod.host_exec(HOST, ["sh", "-c", damage]).returncode == 0

    result = await run_op(enrollment(fresh_host, settings, services=["self"]), damage)
    assert not result.ok and result.failed_step == "validate" and result.error_kind == "failed"
    assert "rejected the new config" in (result.error or "")
    assert result.host_state == "unchanged" and result.observed["config_sha256"] == host_sha()
    assert host_sha() == before
    assert lab_mod.host_exec(HOST, ["sh", "-c", f"ls {CONFIG}.fleetui-new* /var/tmp/fleetui-*"]).stdout == ""
    assert alloy_ready(fresh_host)
    assert by_step(result).get("swap") is None  # nothing after the failed step ran


async def test_retire_renames_target_and_history_shows_it(lab: Any, fresh_host: Any, settings: Settings) -> None:
    from fleetui.adapters.targets import open_store

    result = await run_op(retirement(fresh_host, settings))
    assert result.ok, result.error
    assert result.host_state == "changed" and [c.what for c in result.changes] == ["target file", "alloy service"]
    retired = result.summary["retired_as"]
    assert retired.startswith(f"{fresh_host.address}.json.deleted.")
    assert (Path(lab.targets_dir) / retired).exists()
    assert not (Path(lab.targets_dir) / f"{fresh_host.address}.json").exists()
    assert lab_mod.host_exec(HOST, ["systemctl", "is-active", "alloy"]).returncode != 0
    async with open_store(settings) as store:
        hist = [e for e in await store.history() if e.file == retired]
    assert len(hist) == 1 and hist[0].state == "retired" and hist[0].retired_at is not None
    deadline = time.monotonic() + 30
    while prometheus_target(lab, fresh_host.address) is not None:
        assert time.monotonic() < deadline, "Prometheus still scrapes the retired host"
        await asyncio.sleep(1)


@pytest.mark.backend_independent  # the host families' install and check tools
@pytest.mark.parametrize(("name", "tool"), [("app-01", "alloy fmt"), ("build-01", "alloy validate")])
async def test_enroll_other_families(lab: Any, settings: Settings, name: str, tool: str) -> None:
    h = lab.host(name)
    lab_mod.host_exec(name, ["rm", "-f", CONFIG, "/etc/sysconfig/alloy"])  # as if never enrolled by fleetui
    result = await run_op(enrollment(h, settings))
    assert result.ok, (result.failed_step, result.error)
    steps = by_step(result)
    assert steps["install"].status is StepStatus.SKIPPED  # the stand-in is pre-installed there
    assert tool in steps["validate"].message
    env_file = "/etc/sysconfig/alloy"
    assert lab_mod.host_exec(name, ["stat", "-c", "%a", env_file]).stdout.strip() == "600"
    assert prometheus_target(lab, h.address) is not None
    # leave the lab as we found it: not enrolled
    ret = await run_op(retirement(h, settings))
    assert ret.ok
