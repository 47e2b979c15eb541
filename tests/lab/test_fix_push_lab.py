"""`fleetui fix` on a push host: the fix is an edit of the host's own Alloy config, applied with enrollment's
on-host safety, and the problem codes disappear from `status --json`.

cache-01 is the lab's well-labelled push host (instance = nodename, explicit job, 15 s scrape interval). The
test runs it at a 5 s scrape interval with a 10 s history window (`history_after`: two scrape intervals, as the
default 30 s is for 15 s), so every wait is a third as long and proves the same. It breaks the host the three
ways hand-written configs go wrong — the explicit `job` line removed (Alloy then uses the component path),
`instance` set to another name than the nodename, and (with the stand-in's lab-only `darwin_memory` switch)
memory metrics under macOS's names with no relabel rules renaming them — waits until the fleet reports all
three problems, fixes them in one run, and checks that the config is byte-identical to the one before the
break apart from the added relabel block and the `forward_to` line pointing at it, that Prometheus now gets
the Linux names from the host and no macOS one, and that no other host's problems changed. All codes in one
run: each run waits for the old series to become history, so one run costs a third of three.
The old series stay in Prometheus (remote-written series get no staleness marker);
the fleet must still show the fix at once, which is the classifier's "present series only" rule at work.
(The break renames the instance for the macOS case too: under the old name, the host's Linux-named series of a
minute ago would hide the macOS names from the check for the whole 5-minute look-back.)
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from fleetui import lab as lab_mod
from fleetui.domain.alloy_macos import COMPAT_RECEIVER, compat_block
from fleetui.lab import LabInfo
from fleetui.lab.alloy_standin.darwin import SWITCH
from tests.lab.test_fix_lab import _cli, _codes, _wait_codes

pytestmark = pytest.mark.lab
ALLOY_CONFIG = "/etc/alloy/config.alloy"
HOST = "cache-01"
LAB_INTERVAL = 'scrape_interval = "15s"'  # cache-01's own, as the lab writes it
SCRAPE_INTERVAL_S = 5.0  # the test's: a third of the wait for the same proof
HISTORY = ("--set", f"history_after={2 * SCRAPE_INTERVAL_S:g}")  # two scrape intervals, as the default is for 15 s
# verify polls `status` once a second and a refresh takes a moment on a loaded machine
POLL_SLACK_S = 5.0
JOB_LINE = '    job         = "node_exporter",\n'
FAULTS = "/etc/fleetui-lab/faults"
RW = "prometheus.remote_write.platform.receiver"


@pytest.fixture(scope="module")
def cache_kh(lab: LabInfo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    kh = tmp_path_factory.mktemp("fixpush") / "known_hosts"
    h = next(h for h in lab.hosts if h.name == HOST)
    key = lab_mod.host_exec(HOST, ["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout.split()[:2]
    kh.write_text(f"[{h.address}]:{h.ssh_port} {' '.join(key)}\n")
    return kh


def _put_config(text: str, *, faults: str | None = None) -> None:
    """The host's Alloy config replaced and Alloy restarted. `faults`: written to the lab's fault switch while
    Alloy is stopped: the stand-in reads the switch at every scrape, so flipped before the restart it could
    push a sample of the switched kind under the old config's instance, which then stays for the look-back."""
    switch = f" && echo {faults} > {FAULTS}" if faults else ""
    script = f"systemctl stop alloy{switch} && cat > {ALLOY_CONFIG} && systemctl start alloy"
    p = lab_mod.host_exec(HOST, ["sh", "-c", script], input=text)
    assert p.returncode == 0, p.stderr


def _status_h(lab: LabInfo, kh: Path) -> dict[str, Any]:
    """`status --json` with the test's history window (the fix's verify step uses the same)."""
    p = _cli(lab, kh, *HISTORY, "status", "--json")
    assert p.returncode in (0, 1), p.stderr
    doc: dict[str, Any] = json.loads(p.stdout)
    return doc


def _newest(lab: LabInfo, metric: str, instance: str) -> float | None:
    """The newest sample time of `metric` for `instance` in Prometheus (None: no series in the look-back)."""
    q = f'max(timestamp({metric}{{instance="{instance}"}}))'
    r = httpx.get(f"{lab.prometheus}/api/v1/query", params={"query": q}, timeout=10).json()["data"]["result"]
    return float(r[0]["value"][1]) if r else None


def _wait_new_row(lab: LabInfo, kh: Path, instance: str, want: set[str], since: float, timeout: float = 60) -> None:
    """Like _wait_codes, for a row that appears only once the first sample under its name arrives (read with the
    test's history window: under the default one the old name's fresh series count as a duplicate nodename for
    30 s). Done when the row has pushed since `since` (an earlier run's row under that name, kept for the
    look-back, shows the same codes) and cache-01's row is `stale`: the machine's samples under its old name are
    history, so the fix plans against a fleet with no duplicate nodename (until then both rows claim one)."""
    deadline = time.monotonic() + timeout
    got: tuple[set[str], str | None] | None = None
    while time.monotonic() < deadline:
        doc = _status_h(lab, kh)
        rows = {h["instance"]: h for h in doc["hosts"]}
        row, old = rows.get(instance), rows.get(HOST)
        if row is not None and (row["last_seen"] or 0) > since:
            got = (_codes(doc, instance), old["state"] if old else None)
            if got == (want, "stale"):
                return
        time.sleep(0.5)
    raise AssertionError(f"{instance}: (problems, {HOST}'s state) {got}, wanted {(want, 'stale')}")


def test_fix_job_instance_and_macos_names_on_a_push_host(lab: LabInfo, cache_kh: Path) -> None:
    """The break renames cache-01's instance to cache-pi, drops its `job` line and turns on macOS memory names; the
    fix sets the instance back to the nodename, the job explicitly, and inserts the macOS relabel rules.

    What the operator sees afterwards: cache-01 up without problems, and cache-pi (whose series Prometheus keeps
    for its look-back) listed as `stale` — not `up`, and neither row claims a duplicate nodename. cache-pi goes
    `gone` when the 5-minute look-back ends, as any host whose samples stop.
    """
    lab_config = lab_mod.host_exec(HOST, ["cat", ALLOY_CONFIG]).stdout
    assert JOB_LINE in lab_config and lab_config.count(RW) == 1 and LAB_INTERVAL in lab_config
    original = lab_config.replace(LAB_INTERVAL, f'scrape_interval = "{SCRAPE_INTERVAL_S:g}s"')
    broken = original.replace(f'instance    = "{HOST}",', 'instance    = "cache-pi",', 1).replace(JOB_LINE, "", 1)
    assert broken.count("\n") == original.count("\n") - 1
    address = next(h.address for h in lab.hosts if h.name == HOST)
    codes = {"instance_nodename_mismatch", "job_component_path", "macos_memory_names"}
    before = _status_h(lab, cache_kh)
    assert _codes(before, HOST) == set()
    try:
        broke = time.time()
        _put_config(broken, faults=SWITCH)  # macOS names on, and under the broken instance only
        _wait_new_row(lab, cache_kh, "cache-pi", codes, since=broke)

        plan = _cli(lab, cache_kh, *HISTORY, "fix", "cache-pi", "--address", address, "--dry-run")
        assert plan.returncode == 0, plan.stdout + plan.stderr
        assert '+    job         = "node_exporter",' in plan.stdout
        assert '+prometheus.relabel "node_exporter_compat" {' in plan.stdout
        assert lab_mod.host_exec(HOST, ["cat", ALLOY_CONFIG]).stdout == broken  # a plan changes nothing

        t0, t_wall = time.monotonic(), time.time()
        p = _cli(lab, cache_kh, *HISTORY, "fix", "cache-pi", "--address", address, "--yes", "--json")
        took = time.monotonic() - t0
        assert p.returncode == 0, p.stdout + p.stderr
        result = json.loads(p.stdout)["results"][0]
        assert result["ok"] and result["host_state"] == "changed", result
        assert set(result["summary"]["plan"]["codes"]) == codes
        assert result["summary"]["plan"]["new_instance"] == HOST
        verify = next(e for e in result["events"] if e["step"] == "verify" and e["status"] == "done")
        print(
            f"fix-push cache-pi: instance, job and macOS names fixed in {took:.1f}s, "
            f"verify waited {verify['detail']['seconds']:.1f}s"
        )
        assert verify["detail"]["seconds"] <= 2 * SCRAPE_INTERVAL_S + POLL_SLACK_S

        fixed = lab_mod.host_exec(HOST, ["cat", ALLOY_CONFIG]).stdout
        # against the lab's own config: the relabel block added, and the scrape's forward_to pointing at it
        block = compat_block([RW], "  ")
        assert fixed == original.replace(f"forward_to = [{RW}]", f"forward_to = [{COMPAT_RECEIVER}]") + "\n" + block
        # the rename works on the host's samples: Linux names pushed since the fix, no macOS name under cache-01
        assert (_newest(lab, "node_memory_MemTotal_bytes", HOST) or 0) > t_wall
        assert _newest(lab, "node_memory_total_bytes", HOST) is None
        after = _status_h(lab, cache_kh)
        rows = {h["instance"]: h for h in after["hosts"]}
        assert rows[HOST]["state"] == "up" and _codes(after, HOST) == set()
        host_before = next(h for h in before["hosts"] if h["instance"] == HOST)
        assert rows[HOST]["labels"] == host_before["labels"]
        old = rows["cache-pi"]
        assert old["state"] == "stale" and "duplicate_nodename" not in _codes(after, "cache-pi")
        # the other hosts listed both times (another module's hosts, removed when it ends, may leave in between
        # when the lab runs the modules in another order)
        others = {h["instance"] for h in before["hosts"]} & rows.keys() - {HOST}
        assert {i: _codes(after, i) for i in others} == {i: _codes(before, i) for i in others}
    finally:
        lab_mod.host_exec(HOST, ["rm", "-f", FAULTS])
        if lab_mod.host_exec(HOST, ["cat", ALLOY_CONFIG]).stdout != lab_config:
            _put_config(lab_config)
        # cache-pi's series would count as a second machine with cache-01's nodename for the default history
        # window (30 s): forgotten, so the lab is as the test found it at once
        lab_mod.forget_series('{instance="cache-pi"}')
        _wait_codes(lab, cache_kh, HOST, set(), timeout=90)
