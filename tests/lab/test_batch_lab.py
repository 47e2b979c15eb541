"""`fleetui enroll --from` on 20 lab hosts, two made to fail (a wrong sudo password, a stopped sshd), then
`--retry-failed` after fixing them. Who connected where is read from each host's own sshd log (LogLevel VERBOSE
logs every TCP connection), not from fleetui: one connection per enrolled host, and none to the 18 hosts that
came up the first time when the retry runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fleetui import lab as lab_mod

pytestmark = pytest.mark.lab

N = 20
SUDO_HOST = "batch-005"  # Debian: logs in with the key as `ops`, whose sudo asks for a password
DOWN_HOST = "batch-010"  # Ubuntu: its sshd is stopped
RIGHT = "r1ght-batch-pw"


def fleetui(lab: Any, kh: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "fleetui", "--config", str(lab.config_file), "--set", f"ssh.known_hosts={kh}"]
    argv += ["--set", "ssh.connect_timeout=5", *args]
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        timeout=600,
        check=False,
    )


def connections(name: str) -> int:
    """TCP connections the host's sshd accepted so far, from its own log."""
    out = lab_mod.host_exec(name, ["cat", "/var/log/sshd.log"]).stdout
    return sum(1 for line in out.splitlines() if "Connection from " in line)


def targets_up(lab: Any, names: set[str]) -> set[str]:
    """The hosts (instance label: the host's name) whose Alloy Prometheus scrapes successfully now."""
    r = httpx.get(f"{lab.prometheus}/api/v1/query", params={"query": "up == 1"}, timeout=10)
    found = {s["metric"].get("instance", "") for s in r.json()["data"]["result"]}
    return found & names


@pytest.fixture(scope="module")
def batch_hosts(lab: Any) -> Iterator[list[Any]]:
    """20 not-yet-enrolled hosts added to the session's lab; afterwards their target files are removed and the
    hosts stopped, so the rest of the session sees the starting fleet."""
    from fleetui.lab.manager import drop_extra_hosts

    info = lab_mod.up(extra_hosts=N)
    hosts = [h for h in info.hosts if h.name.startswith("batch-")][:N]
    assert len(hosts) == N
    yield hosts
    for h in hosts:
        (Path(lab.targets_dir) / f"{h.address}.json").unlink(missing_ok=True)
    httpx.post(f"{lab.prometheus}/-/reload", timeout=10)
    drop_extra_hosts()


def test_batch_of_20_two_fail_then_retry_enrolls_exactly_those(
    lab: Any, batch_hosts: list[Any], tmp_path: Path
) -> None:
    by_name = {h.name: h for h in batch_hosts}
    # the operator's step from the README: scan the keys (after checking them) into fleetui's known_hosts
    kh = tmp_path / "known_hosts"
    scan = subprocess.run(
        ["ssh-keyscan", "-t", "ed25519", "-p", "2222", *[h.address for h in batch_hosts]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    kh.write_text(scan.stdout)
    assert len(scan.stdout.splitlines()) == N, scan.stderr

    # break two hosts: `ops` logs in with the key but sudo wants a password we get wrong; sshd stopped
    pubkey = Path(lab.identity_file).with_suffix(".pub").read_text()
    setup = (
        "id ops >/dev/null 2>&1 || useradd -m -s /bin/bash -p '*' ops; "
        "mkdir -p /home/ops/.ssh && cat > /home/ops/.ssh/authorized_keys && chown -R ops:ops /home/ops/.ssh && "
        "chmod 600 /home/ops/.ssh/authorized_keys && "
        f"echo 'ops:{RIGHT}' | chpasswd && echo 'ops ALL=(ALL) ALL' > /etc/sudoers.d/ops && "
        "chmod 440 /etc/sudoers.d/ops"
    )
    r = lab_mod.host_exec(SUDO_HOST, ["sh", "-c", setup], input=pubkey)
    assert r.returncode == 0, r.stderr
    lab_mod.host_exec(DOWN_HOST, ["sh", "-c", "kill $(cat /run/sshd.pid)"])
    time.sleep(0.3)

    hostlist = tmp_path / "hosts.yaml"
    rows = []
    for h in batch_hosts:
        row: dict[str, Any] = {"name": h.name, "address": h.address}
        if h.name == SUDO_HOST:
            row.update(user="ops", password_env="BATCH_OPS_PASSWORD")
        rows.append(row)
    hostlist.write_text(
        json.dumps({"defaults": {"labels": {"environment": "lab", "maintainers": "batch-team"}}, "hosts": rows})
    )
    results = tmp_path / "results.json"
    before = {h.name: connections(h.name) for h in batch_hosts if h.name != DOWN_HOST}

    first = fleetui(
        lab,
        kh,
        "enroll",
        "--from",
        str(hostlist),
        "--concurrency",
        str(N),
        "--results",
        str(results),
        "--yes",
        "--json",
        env={"BATCH_OPS_PASSWORD": "wrong-password"},
    )
    assert first.returncode == 1, first.stderr
    events = [json.loads(line) for line in first.stdout.splitlines()]
    summary = events[-1]
    assert summary["event"] == "summary" and summary["counts"] == {"ok": 18, "failed": 2, "not started": 0}
    data = json.loads(results.read_text())
    failed = {h["name"]: h for h in data["hosts"] if h["outcome"] != "ok"}
    assert set(failed) == {SUDO_HOST, DOWN_HOST}
    assert "sudo rejected the password" in failed[SUDO_HOST]["error"]
    assert failed[DOWN_HOST]["failed_step"] == "connect" and "cannot connect" in failed[DOWN_HOST]["error"]
    assert failed[DOWN_HOST]["host_state"] == "unchanged"
    assert "wrong-password" not in first.stdout + results.read_text()
    # per host a live status: each host's step events arrive prefixed by it
    assert {e["host"] for e in events if e["event"] == "step"} == set(by_name)

    # 18 are up in Prometheus; every enrolled host saw exactly one SSH connection for its whole enrollment
    ok_addrs = {h.name for h in batch_hosts if h.name not in failed}
    deadline = time.monotonic() + 30
    while targets_up(lab, ok_addrs) != ok_addrs and time.monotonic() < deadline:
        time.sleep(1)
    assert targets_up(lab, ok_addrs) == ok_addrs
    after_first = {n: connections(n) for n in before}
    assert {n: after_first[n] - before[n] for n in before if n != SUDO_HOST} == {n: 1 for n in before if n != SUDO_HOST}

    # fix both, retry the failed ones only
    r = lab_mod.host_exec(DOWN_HOST, ["/usr/sbin/sshd", "-f", "/etc/ssh/sshd_config", "-E", "/var/log/sshd.log"])
    assert r.returncode == 0, r.stderr
    before_retry = {h.name: connections(h.name) for h in batch_hosts}
    retry = fleetui(
        lab,
        kh,
        "enroll",
        "--retry-failed",
        str(results),
        "--results",
        str(tmp_path / "retry.json"),
        "--yes",
        env={"BATCH_OPS_PASSWORD": RIGHT},
    )
    assert retry.returncode == 0, retry.stdout + retry.stderr
    assert "2 enrolled, 0 failed, 0 not started" in retry.stdout
    after_retry = {h.name: connections(h.name) for h in batch_hosts}
    opened = {n for n in after_retry if after_retry[n] != before_retry[n]}
    assert opened == {SUDO_HOST, DOWN_HOST}
    assert after_retry[DOWN_HOST] - before_retry[DOWN_HOST] == 1
    assert after_retry[SUDO_HOST] - before_retry[SUDO_HOST] == 1
    everyone = set(by_name)
    deadline = time.monotonic() + 30
    while targets_up(lab, everyone) != everyone and time.monotonic() < deadline:
        time.sleep(1)
    assert targets_up(lab, everyone) == everyone


def test_a_host_whose_key_is_not_known_fails_alone_with_that_reason(
    lab: Any, batch_hosts: list[Any], tmp_path: Path
) -> None:
    """A batch never trusts a key by itself: with an empty known_hosts every host fails at connect, naming the
    fingerprint and how to add it, and nothing is written to known_hosts."""
    kh = tmp_path / "known_hosts"
    kh.write_text("")
    hostlist = tmp_path / "hosts.csv"
    hostlist.write_text(
        "name,address,labels\n"
        + "".join(f"{h.name},{h.address},environment=lab;maintainers=x\n" for h in batch_hosts[:2])
    )
    r = fleetui(lab, kh, "enroll", "--from", str(hostlist), "--results", str(tmp_path / "r.json"), "--yes", env={})
    assert r.returncode == 1
    data = json.loads((tmp_path / "r.json").read_text())
    for h in data["hosts"]:
        assert h["outcome"] == "failed"
        assert "is not in fleetui's known_hosts" in h["error"] and "SHA256:" in h["error"]
    assert kh.read_text() == ""
