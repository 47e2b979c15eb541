"""Batch enrollment of the same lab hosts: `fleetui enroll --from` against `ansible-playbook`.

Each side starts from a clean lab (`lab down`, then `lab up --hosts N`): N not-yet-enrolled hosts (Debian,
Ubuntu, Rocky, openSUSE in turn). Both do the same steps: install Alloy from the lab's apt repository (Debian
family; the Rocky and openSUSE lab hosts have it already), template the config and the environment file, check
the config with `alloy fmt`, restart Alloy, write the host's Prometheus target file, reload Prometheus. fleetui
also waits until Prometheus scrapes each host (its `ready` and `verify` steps); the playbook does not: its time
is counted to the end of the play. Both use fleetui's known_hosts filled by `ssh-keyscan` before the clock starts.

Printed: both wall times, the ratio, SSH connections per host (counted from each host's own sshd log, VERBOSE:
one "Connection from" line per TCP connection) and how many hosts Prometheus then scrapes as up.

Run as root inside an isolated namespace: `/work/iso NAME .venv/bin/python bench/batch.py [--hosts 50]
[--ansible-playbook PATH] [--only fleetui|ansible]`. ansible-core is a bench-only tool
(`pip install '.[bench]'` in a venv of its own); it is found on PATH or next to this interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from fleetui import lab

CONFIG_TEMPLATE = """\
// Managed by Ansible (bench): the same config fleetui renders for a pull host.
prometheus.exporter.unix "{{ inventory_hostname | replace('-', '_') }}" {
\tset_collectors = [
\t\t"cpu",
\t\t"meminfo",
\t\t"diskstats",
\t\t"filesystem",
\t\t"netdev",
\t\t"loadavg",
\t\t"uname",
\t\t"time",
\t\t"systemd",
\t\t"processes",
\t]
}
"""

ENV_TEMPLATE = """\
CONFIG_FILE="/etc/alloy/config.alloy"
CUSTOM_ARGS="--server.http.listen-addr={{ ansible_host }}:12345"
RESTART_ON_UPGRADE=true
"""

PLAYBOOK = """\
- name: Enroll hosts in monitoring (what the Ansible role does, step for step with fleetui)
  hosts: batch
  gather_facts: true
  gather_subset: [min]
  vars:
    keyring: /etc/apt/keyrings/grafana.asc
    apt_list: /etc/apt/sources.list.d/grafana.list
    env_path: "{{ '/etc/default/alloy' if ansible_os_family == 'Debian' else '/etc/sysconfig/alloy' }}"
  tasks:
    - name: Keyring directory
      ansible.builtin.file: {path: /etc/apt/keyrings, state: directory, mode: "0755"}
      when: ansible_os_family == 'Debian'
    - name: Repository key
      ansible.builtin.get_url: {url: "{{ apt_key_url }}", dest: "{{ keyring }}", mode: "0644"}
      when: ansible_os_family == 'Debian'
    - name: Repository
      ansible.builtin.copy:
        dest: "{{ apt_list }}"
        content: "deb [signed-by={{ keyring }}] {{ apt_repo_url }} stable main\\n"
        mode: "0644"
      when: ansible_os_family == 'Debian'
    - name: Refresh the Grafana list only
      ansible.builtin.command: >-
        apt-get update -o Dir::Etc::sourcelist={{ apt_list }} -o Dir::Etc::sourceparts=-
        -o APT::Get::List-Cleanup=0
      changed_when: false
      when: ansible_os_family == 'Debian'
    - name: Install Alloy
      ansible.builtin.apt: {name: alloy, state: present}
      when: ansible_os_family == 'Debian'
    - name: Alloy config
      ansible.builtin.template: {src: config.alloy.j2, dest: /etc/alloy/config.alloy, mode: "0644"}
    - name: Alloy environment file
      ansible.builtin.template: {src: alloy.env.j2, dest: "{{ env_path }}", mode: "0644"}
    - name: Check the config
      ansible.builtin.command: alloy fmt /etc/alloy/config.alloy
      changed_when: false
    - name: Restart Alloy
      ansible.builtin.command: systemctl restart alloy
    - name: Prometheus target file
      ansible.builtin.copy:
        dest: "{{ targets_dir }}/{{ ansible_host }}.json"
        content: >-
          {{ [{"targets": [ansible_host ~ ":12345"], "labels": {"instance": inventory_hostname,
          "environment": "lab", "maintainers": "bench", "__metrics_path__":
          "/api/v0/component/prometheus.exporter.unix." ~ (inventory_hostname | replace('-', '_')) ~ "/metrics"}}]
          | to_json }}
        mode: "0644"
      delegate_to: localhost
    - name: Reload Prometheus
      ansible.builtin.uri: {url: "{{ prometheus_url }}/-/reload", method: POST}
      delegate_to: localhost
      run_once: true
"""


def connections(names: list[str]) -> dict[str, int]:
    out = {}
    for n in names:
        log = lab.host_exec(n, ["cat", "/var/log/sshd.log"]).stdout
        out[n] = sum(1 for line in log.splitlines() if "Connection from " in line)
    return out


def fresh_lab(n: int, work: Path) -> tuple[Any, list[Any], Path]:
    lab.down()
    t0 = time.monotonic()
    info = lab.up(extra_hosts=n)
    print(f"  lab up --hosts {n}: {time.monotonic() - t0:.1f}s", flush=True)
    hosts = [h for h in info.hosts if h.name.startswith("batch-")][:n]
    scan = subprocess.run(
        ["ssh-keyscan", "-t", "ed25519", "-p", "2222", *[h.address for h in hosts]],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    kh = work / "known_hosts"
    kh.write_text(scan.stdout)
    kh.chmod(0o600)
    return info, hosts, kh


def up_count(info: Any, names: set[str], wait_s: float) -> int:
    deadline = time.monotonic() + wait_s
    found: set[str] = set()
    while True:
        r = httpx.get(f"{info.prometheus}/api/v1/query", params={"query": "up == 1"}, timeout=10)
        found = {s["metric"].get("instance", "") for s in r.json()["data"]["result"]} & names
        if found == names or time.monotonic() > deadline:
            return len(found)
        time.sleep(1)


def run_fleetui(info: Any, hosts: list[Any], kh: Path, work: Path, concurrency: int) -> float:
    hostlist = work / "hosts.yaml"
    rows = [{"name": h.name, "address": h.address} for h in hosts]
    hostlist.write_text(
        json.dumps({"defaults": {"labels": {"environment": "lab", "maintainers": "bench"}}, "hosts": rows})
    )
    argv = [sys.executable, "-m", "fleetui", "--config", str(info.config_file), "--set", f"ssh.known_hosts={kh}"]
    argv += ["enroll", "--from", str(hostlist), "--concurrency", str(concurrency), "--yes"]
    argv += ["--results", str(work / "results.json")]
    t0 = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    wall = time.monotonic() - t0
    tail = proc.stdout.strip().splitlines()[-4:]
    print("  fleetui: " + " | ".join(tail), flush=True)
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
    return wall


def run_ansible(playbook_bin: str, info: Any, hosts: list[Any], kh: Path, work: Path, forks: int) -> float:
    (work / "config.alloy.j2").write_text(CONFIG_TEMPLATE)
    (work / "alloy.env.j2").write_text(ENV_TEMPLATE)
    (work / "enroll.yml").write_text(PLAYBOOK)
    lines = ["[batch]"]
    lines += [f"{h.name} ansible_host={h.address}" for h in hosts]
    lines += [
        "",
        "[batch:vars]",
        "ansible_port=2222",
        "ansible_user=root",
        f"ansible_ssh_private_key_file={info.identity_file}",
        "ansible_python_interpreter=/usr/bin/python3",
        f"ansible_ssh_common_args='-o UserKnownHostsFile={kh} -o StrictHostKeyChecking=yes'",
        f"apt_repo_url={info.apt_repo_url}",
        f"apt_key_url={info.apt_key_url}",
        f"targets_dir={info.targets_dir}",
        f"prometheus_url={info.prometheus}",
        "",
        "[local]",
        "localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3",
    ]
    (work / "hosts.ini").write_text("\n".join(lines) + "\n")
    (work / "ansible.cfg").write_text(
        f"[defaults]\nforks = {forks}\nhost_key_checking = True\nretry_files_enabled = False\n"
        "interpreter_python = /usr/bin/python3\nlocal_tmp = " + str(work / "ansible-tmp") + "\n"
        "[ssh_connection]\npipelining = True\n"
    )
    env = {**os.environ, "ANSIBLE_CONFIG": str(work / "ansible.cfg"), "ANSIBLE_HOME": str(work / "ansible-home")}
    t0 = time.monotonic()
    proc = subprocess.run(
        [playbook_bin, "-i", str(work / "hosts.ini"), str(work / "enroll.yml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    wall = time.monotonic() - t0
    recap = proc.stdout[proc.stdout.find("PLAY RECAP") :].splitlines()
    failed = [ln for ln in recap[1:] if ln.strip() and ("failed=0" not in ln or "unreachable=0" not in ln)]
    print(f"  ansible: rc={proc.returncode}, {len(recap) - 1} hosts in the recap, {len(failed)} not clean", flush=True)
    if proc.returncode != 0:
        print(proc.stdout[-3000:], file=sys.stderr)
    return wall


def find_playbook(given: str | None) -> str | None:
    if given:
        return given
    beside = Path(sys.executable).with_name("ansible-playbook")
    if beside.exists():
        return str(beside)
    return shutil.which("ansible-playbook")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=50, help="fleetui --concurrency and Ansible forks")
    ap.add_argument("--ansible-playbook", default=None)
    ap.add_argument("--only", choices=("fleetui", "ansible"), default=None)
    args = ap.parse_args()
    playbook_bin = find_playbook(args.ansible_playbook)
    if args.only != "fleetui" and playbook_bin is None:
        print(
            "ansible-playbook not found (pip install 'ansible-core' in a bench venv; --ansible-playbook)",
            file=sys.stderr,
        )
        return 2
    results: dict[str, tuple[float, float, int]] = {}
    try:
        for tool in ("fleetui", "ansible"):
            if args.only and tool != args.only:
                continue
            print(f"{tool}: fresh lab", flush=True)
            with tempfile.TemporaryDirectory(prefix=f"bench-batch-{tool}-") as tmp:
                work = Path(tmp)
                info, hosts, kh = fresh_lab(args.hosts, work)
                names = [h.name for h in hosts]
                before = connections(names)
                if tool == "fleetui":
                    wall = run_fleetui(info, hosts, kh, work, args.concurrency)
                else:
                    assert playbook_bin is not None
                    wall = run_ansible(playbook_bin, info, hosts, kh, work, args.concurrency)
                after = connections(names)
                per_host = sum(after[n] - before[n] for n in names) / len(names)
                up = up_count(info, set(names), 30)
                results[tool] = (wall, per_host, up)
                print(
                    f"  {tool}: {wall:.1f}s wall, {per_host:.2f} SSH connections per host, {up}/{len(names)} up",
                    flush=True,
                )
    finally:
        lab.down()
    print(f"\nbatch enrollment of {args.hosts} lab hosts, concurrency/forks {args.concurrency}")
    for tool, (wall, per_host, up) in results.items():
        print(f"  {tool:<8} {wall:7.1f}s   {per_host:5.2f} SSH connections/host   {up}/{args.hosts} up in Prometheus")
    if len(results) == 2:
        ratio = results["fleetui"][0] / results["ansible"][0]
        print(f"  fleetui / ansible wall time: {ratio:.2f} (target <= 0.33)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
