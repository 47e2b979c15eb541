"""Bring the lab up, down, and describe it.

The metrics backend is Prometheus, or VictoriaMetrics with `backend="victoriametrics"` (fleetui.lab.victoria):
same address, same targets dir, recorded in `state.json` so every later call knows which one runs.

Processes: Prometheus (or VictoriaMetrics) and the apt repository server run in the machine's namespaces
(detached, pid files in the lab dir); each host is `unshare --kill-child ... python -m fleetui.lab.hostinit`,
so killing the `unshare` process kills the host's PID 1 and with it every process and mount of the host.
`state.json` records the pids; liveness is always re-checked against /proc (a pid is only ours if its command
line names the lab dir).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from fleetui.lab import LabHost, LabInfo, topology
from fleetui.lab.topology import HOSTS, HostSpec

# /tmp is an overlay too, not a fresh tmpfs: a checkout (and its .venv, which the stand-in runs on) may live
# under /tmp, as a CI clone does, and must stay visible inside the hosts. /root last: it hides the lab dir.
OVERLAY_DIRS = ("etc", "usr", "var", "home", "tmp", "root")
# file or command -> the Debian package that provides it, from the list ./setup.sh installs
PACKAGES_FILE = Path(__file__).with_name("debian-packages.txt")


def debian_packages(path: Path = PACKAGES_FILE) -> dict[str, tuple[str, ...]]:
    """package -> the files/commands the lab checks for it, in file order (comments and blanks skipped)."""
    out: dict[str, tuple[str, ...]] = {}
    for line in path.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            out[words[0]] = tuple(words[1:])
    return out


REQUIRED = {binary: package for package, binaries in debian_packages().items() for binary in binaries}


class LabError(Exception):
    """A reason the lab cannot run here, as one line (the CLI prints it and exits 2)."""


PROMETHEUS = "prometheus"
VICTORIAMETRICS = "victoriametrics"
BACKENDS = (PROMETHEUS, VICTORIAMETRICS)


def _optional(name: str) -> Any:
    """A lab part that may not exist yet in this build (the lab grows in stages)."""
    try:
        return importlib.import_module(f"fleetui.lab.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"fleetui.lab.{name}":
            raise
        return None


# --- small helpers ----------------------------------------------------------------------------------------


def _check_machine() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (it makes namespaces and overlay mounts): run it as root")
    if not Path("/etc/debian_version").exists():
        raise LabError("the lab runs on Debian only (/etc/debian_version not found)")
    for binary, package in REQUIRED.items():
        if not (Path(binary).exists() if binary.startswith("/") else shutil.which(binary)):
            raise LabError(f"{binary} not found: install the Debian package {package!r} (apt-get install {package})")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _on_our_loopback(pid: int) -> bool:
    """Whether `pid` is in this process's network namespace.

    Why: the lab knows its processes by its directory's path in their command lines, and the same path names
    another lab in a chroot or container that shares this machine's process IDs. Quitting a demo while a
    clean-machine test run went on beside it (its own root and network namespace) killed that run's
    Prometheus. A process on another loopback cannot be this lab's: the lab's servers are on ours."""
    try:
        theirs, ours = os.stat(f"/proc/{pid}/ns/net"), os.stat("/proc/self/ns/net")
    except OSError:
        return False
    return (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino)


def _alive(pid: int | None, marker: str) -> bool:
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return False
    return marker in _cmdline(pid) and _on_our_loopback(pid)


def _port_open(addr: str, port: int) -> bool:
    try:
        with socket.create_connection((addr, port), timeout=0.3):
            return True
    except OSError:
        return False


def _wait(cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _kill(pid: int, marker: str, timeout: float = 10.0) -> None:
    if not _alive(pid, marker):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid, marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid, marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# what this process started, by pid: kept so an exited lab process can be reaped and its exit status told
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _spawn(argv: list[str], log: Path, **kw: Any) -> int:
    with log.open("ab") as out:
        p = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kw
        )
    _CHILDREN[p.pid] = p
    return p.pid


def _exit_status(pid: int) -> str:
    """How a process this lab started ended ("exit status 1", "killed by SIGKILL"), reaping it; a process another
    `fleetui`/pytest started cannot be asked by this one."""
    child = _CHILDREN.get(pid)
    if child is None:
        return "exit status unknown: another process started it"
    rc = child.poll()
    if rc is None:
        return "still running, but no longer the lab's (its command line changed)"
    _CHILDREN.pop(pid, None)
    if rc < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-rc).name}"
        return f"killed by signal {-rc}"
    return f"exit status {rc}"


def _reap(pids: list[int | None]) -> None:
    """Forget (and reap) the lab processes just stopped on purpose, so no zombie stays behind."""
    for pid in pids:
        child = _CHILDREN.get(pid or 0)
        if child is not None and child.poll() is not None:
            _CHILDREN.pop(child.pid, None)


def _log_tail(log: Path, n: int = 5) -> str:
    """The last `n` non-empty lines of a lab log (a host's: its PID 1, sshd's and node_exporter's stderr)."""
    try:
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError as e:
        return f"{log}: cannot read ({e.strerror or e})"
    return " | ".join(lines[-n:]) if lines else f"{log} is empty"


class _Paths:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / "state.json"
        self.targets = root / "targets"
        self.rules = root / "rules"
        self.prom_dir = root / "prometheus"
        self.prom_config = root / "prometheus" / "prometheus.yml"
        self.prom_data = root / "prometheus" / "data"
        self.vm_config = root / "victoria-metrics" / "promscrape.yml"
        self.vm_data = root / "victoria-metrics" / "data"
        self.key = root / "ssh" / "id_ed25519"
        self.known_hosts = root / "ssh" / "known_hosts"
        self.ssh_config = root / "ssh" / "config"
        self.secrets = root / "secrets"
        self.hosts = root / "hosts"
        self.config = root / "fleetui.yaml"
        self.logs = root / "logs"
        self.repo = root / "repo"

    @property
    def marker(self) -> str:
        return str(self.root)


def _paths() -> _Paths:
    return _Paths(topology.lab_dir())


def _load_state(p: _Paths) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(p.state.read_text())
        return data
    except (OSError, ValueError):
        return {}


def _save_state(p: _Paths, state: dict[str, Any]) -> None:
    tmp = p.state.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(p.state)


# --- Prometheus -------------------------------------------------------------------------------------------


def _prometheus_yml(p: _Paths) -> str:
    cfg = {
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "storage": {"tsdb": {"out_of_order_time_window": "2d"}},
        "rule_files": [str(p.rules / "*.yml")],
        "scrape_configs": [
            {
                "job_name": "alloy",
                "file_sd_configs": [{"files": [str(p.targets / "*.json")], "refresh_interval": "5s"}],
            }
        ],
    }
    cfg.update(_alerting_section())
    return "# written by `fleetui lab up`\n" + yaml.safe_dump(cfg, sort_keys=False)


def _prometheus_running(p: _Paths) -> bool:
    return _alive(_load_state(p).get("prometheus"), p.marker)


def _backend(p: _Paths) -> str:
    return str(_load_state(p).get("backend", PROMETHEUS))


def _start_prometheus(p: _Paths) -> None:
    """Start the lab's metrics backend (Prometheus or VictoriaMetrics, as state.json says) on its address."""
    if _prometheus_running(p):
        return
    for d in (p.prom_data, p.rules, p.targets, p.logs):
        d.mkdir(parents=True, exist_ok=True)
    host, port = topology.PROMETHEUS_ADDR.split(":")
    if _port_open(host, int(port)):
        raise LabError(f"{topology.PROMETHEUS_ADDR} is already in use by another program")
    if _backend(p) == VICTORIAMETRICS:
        from fleetui.lab import victoria

        p.vm_data.mkdir(parents=True, exist_ok=True)
        p.vm_config.write_text(victoria.scrape_config(p.targets))
        argv = victoria.argv(p.vm_config, p.vm_data, topology.PROMETHEUS_ADDR)
        pid = _spawn(argv, p.logs / "victoria-metrics.log")
    else:
        p.prom_config.write_text(_prometheus_yml(p))
        pid = _spawn(_prometheus_argv(p), p.logs / "prometheus.log")
    state = _load_state(p)
    state["prometheus"] = pid
    _save_state(p, state)


def _prometheus_argv(p: _Paths) -> list[str]:
    return [
        "prometheus",
        f"--config.file={p.prom_config}",
        f"--storage.tsdb.path={p.prom_data}",
        f"--web.listen-address={topology.PROMETHEUS_ADDR}",
        "--web.enable-lifecycle",
        "--web.enable-admin-api",  # forget_series: tests remove the series they made up (fleetui never calls it)
        "--web.enable-remote-write-receiver",
        "--storage.tsdb.retention.time=15d",
        "--log.level=warn",
    ]


def _wait_prometheus(timeout: float = 30.0) -> None:
    _wait(lambda: _http_ok(f"http://{topology.PROMETHEUS_ADDR}/-/ready"), timeout, "the metrics backend to be ready")


def flush() -> None:
    """Make every sample written so far visible to queries: VictoriaMetrics searches new samples only after a
    few seconds unless flushed; Prometheus shows them at once (nothing to do)."""
    p = _paths()
    if _backend(p) == VICTORIAMETRICS and _prometheus_running(p):
        from fleetui.lab import victoria

        victoria.flush(topology.PROMETHEUS_ADDR)


def forget_series(match: str) -> None:
    """Delete every series `match` selects from the backend (its admin API; both backends have the same one).

    For tests that push samples under a made-up instance: Prometheus keeps remote-written series for its
    5-minute look-back, and until they are older than the history window (30 s by default) the fleet counts them
    as a second machine with the same node name. Forgetting them leaves the lab as the test found it at once."""
    query = urllib.parse.urlencode({"match[]": match})
    url = f"http://{topology.PROMETHEUS_ADDR}/api/v1/admin/tsdb/delete_series?{query}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30) as r:
            r.read()
    except (urllib.error.URLError, OSError) as e:
        raise LabError(f"could not delete the series {match} from the metrics backend: {e}") from e


def _wait_first_scrapes(timeout: float = 20.0) -> None:
    """On a cold start, wait until Prometheus has scraped every pull target once, so the first `fleetui status`
    after `lab up` shows the whole starting fleet rather than only the push hosts. A target that stays
    unscraped does not fail `lab up`: the fleet view shows it as it is."""

    def scraped() -> bool:
        try:
            url = f"http://{topology.PROMETHEUS_ADDR}/api/v1/targets?state=active"
            with urllib.request.urlopen(url, timeout=2) as r:
                targets = json.load(r)["data"]["activeTargets"]
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            return False
        return bool(targets) and all(t.get("health") != "unknown" for t in targets)

    with contextlib.suppress(LabError):
        _wait(scraped, timeout, "the first scrape of every pull target")


def start_prometheus() -> None:
    p = _paths()
    with _locked(p):
        _start_prometheus(p)
        _wait_prometheus()


def stop_prometheus() -> None:
    p = _paths()
    with _locked(p):
        pid = _load_state(p).get("prometheus")
        if pid:
            _kill(pid, p.marker, timeout=20)


# --- alerting: the rules `fleetui rules` prints and a real Alertmanager (fleetui.lab.alertmanager) ---------


def _alerting_section() -> dict[str, Any]:
    from fleetui.lab import alertmanager

    return {"alerting": alertmanager.prometheus_alerting()}


def _start_alertmanager(p: _Paths) -> None:
    """Write the lab's rules and alertmanager.yml, start Alertmanager if it is not running, reload Prometheus
    (it may have started before the rules were written) and wait until Alertmanager is ready."""
    from fleetui.lab import alertmanager

    state = _load_state(p)
    if _alive(state.get("alertmanager"), p.marker):
        alertmanager.write_files(p.root, p.rules)
    else:
        host, port = alertmanager.ALERTMANAGER_ADDR.split(":")
        if _port_open(host, int(port)):
            raise LabError(f"{alertmanager.ALERTMANAGER_ADDR} is already in use by another program")
        state["alertmanager"] = alertmanager.start(p.root, p.rules, p.logs / "alertmanager.log")
        _save_state(p, state)
    with contextlib.suppress(urllib.error.URLError, OSError):
        req = urllib.request.Request(f"http://{topology.PROMETHEUS_ADDR}/-/reload", method="POST")
        urllib.request.urlopen(req, timeout=10).close()
    if not alertmanager.wait_ready():
        raise LabError(f"Alertmanager did not become ready (see {p.logs / 'alertmanager.log'})")


# --- apt repository -----------------------------------------------------------------------------------------


def _start_repo(p: _Paths) -> None:
    from fleetui.lab import aptrepo

    state = _load_state(p)
    if _alive(state.get("repo"), p.marker):
        return
    www = aptrepo.build(p.repo)
    host, port = topology.REPO_ADDR.split(":")
    if _port_open(host, int(port)):
        raise LabError(f"{topology.REPO_ADDR} is already in use by another program")
    state["repo"] = aptrepo.serve(www, p.logs / "repo.log")
    _save_state(p, state)
    _wait(lambda: _port_open(host, int(port)), 10, "the lab apt repository")


# --- hosts ------------------------------------------------------------------------------------------------


def _host_dir(p: _Paths, h: HostSpec) -> Path:
    return p.hosts / h.name


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _sshd_config(h: HostSpec) -> str:
    password = "yes" if h.password_user else "no"
    return (
        "# fleetui lab: this host's own sshd (the machine's sshd is not touched)\n"
        f"ListenAddress {h.address}:{topology.SSH_PORT}\n"
        "HostKey /etc/ssh/ssh_host_ed25519_key\n"
        "PidFile /run/sshd.pid\n"
        "UsePAM no\n"
        "PermitRootLogin prohibit-password\n"
        "PubkeyAuthentication yes\n"
        f"PasswordAuthentication {password}\n"
        "KbdInteractiveAuthentication no\n"
        "AuthorizedKeysFile .ssh/authorized_keys\n"
        "Subsystem sftp /usr/lib/openssh/sftp-server\n"
        "AcceptEnv LANG LC_*\n"
        "PrintMotd no\n"
        "MaxStartups 100:30:200\n"
        "MaxSessions 50\n"
        "LogLevel VERBOSE\n"
    )


def _provision_host(p: _Paths, h: HostSpec, pubkey: str) -> dict[str, Any]:
    """Fresh upper dirs for `h` with its identity files; returns the hostinit spec."""
    hd = _host_dir(p, h)
    if hd.exists():
        shutil.rmtree(hd)
    overlays = []
    for d in OVERLAY_DIRS:
        (hd / "upper" / d).mkdir(parents=True)
        (hd / "work" / d).mkdir(parents=True)
        # the merged dir takes the upper dir's mode: keep the real one (/tmp must stay 1777 for apt, sudo users)
        (hd / "upper" / d).chmod(os.stat(f"/{d}").st_mode & 0o7777)
        overlays.append({"lower": f"/{d}", "upper": str(hd / "upper" / d), "work": str(hd / "work" / d)})
    up = hd / "upper"
    (up / "root").chmod(0o711)  # the merged /root takes this mode: lets `alloy` reach the venv's python
    os_release = topology.OS_RELEASE[h.os]
    _write(up / "etc/os-release", os_release)
    _write(up / "usr/lib/os-release", os_release)
    _write(up / "etc/hostname", h.name + "\n")
    _write(up / "etc/hosts", f"127.0.0.1\tlocalhost\n{h.address}\t{h.name}\n")
    _write(up / "etc/ssh/sshd_config", _sshd_config(h))
    subprocess.run(
        [
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            f"root@{h.name}",
            "-f",
            str(up / "etc/ssh/ssh_host_ed25519_key"),
        ],
        check=True,
    )
    ssh = up / "root/.ssh"
    ssh.mkdir(mode=0o700)
    _write(ssh / "authorized_keys", pubkey, 0o600)
    # apt talks only to the lab repository: an opaque sources.list.d hides the machine's sources
    srcd = up / "etc/apt/sources.list.d"
    srcd.mkdir(parents=True)
    os.setxattr(srcd, "trusted.overlay.opaque", b"y")
    _write(
        up / "etc/fleetui-lab/standin.env",
        f"# lab-only: where this host's node_exporter listens (read by the Alloy stand-in)\n"
        f"NODE_EXPORTER_URL=http://{h.address}:{topology.NODE_EXPORTER_PORT}/metrics\n"
        f"LAB_HOSTNAME={h.name}\n",
    )
    users: list[dict[str, Any]] = []
    if h.key_user:
        users.append({"name": h.key_user, "authorized_key": pubkey, "nopasswd": True})
    if h.password_user:
        users.append({"name": h.password_user, "password": _password(p, h).read_text().strip()})
    then: list[list[str]] = []
    standin_install = _optional("standin_install")
    if standin_install is not None:
        then = standin_install.provision(up, h)
    return {
        "hostname": h.name,
        "overlays": overlays,
        "users": users,
        "node_exporter": [
            "prometheus-node-exporter",
            f"--web.listen-address={h.address}:{topology.NODE_EXPORTER_PORT}",
            "--log.level=warn",
        ],
        "then": then,
    }


def _password(p: _Paths, h: HostSpec) -> Path:
    f = p.secrets / f"{h.name}.password"
    if not f.exists():
        p.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(12) + "\n")
    return f


def _host_running(p: _Paths, state: dict[str, Any], h: HostSpec) -> bool:
    return _alive(state.get("hosts", {}).get(h.name), p.marker)


def _ns_pid(unshare_pid: int) -> int | None:
    """The host's PID 1 as the machine sees it: the only child of its `unshare`."""
    try:
        children = Path(f"/proc/{unshare_pid}/task/{unshare_pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def _start_host(p: _Paths, h: HostSpec, pubkey: str) -> int:
    spec = _provision_host(p, h, pubkey)
    hd = _host_dir(p, h)
    spec_file = hd / "hostinit.json"
    _write(spec_file, json.dumps(spec), 0o600)
    return _spawn(
        [
            "unshare",
            "--mount",
            "--uts",
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            "--propagation",
            "private",
            sys.executable,
            "-m",
            "fleetui.lab.hostinit",
            str(spec_file),
        ],
        hd / "host.log",
        cwd="/",
    )


def _wait_host(p: _Paths, pid: int, h: HostSpec) -> None:
    def ready() -> bool:
        if not _alive(pid, p.marker):
            raise LabError(f"lab host {h.name} failed to start: {_why_not_running(p, h.name, pid)}")
        return _port_open(h.address, topology.SSH_PORT) and _port_open(h.address, topology.NODE_EXPORTER_PORT)

    _wait(ready, 20, f"{h.name}'s sshd and node_exporter")


def _ensure_key(p: _Paths) -> str:
    if not p.key.exists():
        p.key.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fleetui-lab", "-f", str(p.key)], check=True
        )
    p.key.chmod(0o600)
    return p.key.with_suffix(".pub").read_text()


# --- config file fleetui uses against the lab ---------------------------------------------------------------


def _repo_urls() -> tuple[str, str]:
    return f"http://{topology.REPO_ADDR}", f"http://{topology.REPO_ADDR}/gpg-full.key"


def _write_config(p: _Paths) -> None:
    repo, key = _repo_urls()
    cfg = {
        "prometheus": {
            "url": f"http://{topology.PROMETHEUS_ADDR}",
            "remote_write_url": f"http://{topology.PROMETHEUS_ADDR}/api/v1/write",
        },
        "alertmanager": {"url": "http://127.0.0.1:19093"},
        "refresh_interval": 5,
        "stale_after": 120,
        "targets": {"dir": str(p.targets)},
        "ssh": {
            "user": "root",
            "port": topology.SSH_PORT,
            "identity_file": str(p.key),
            "known_hosts": str(p.known_hosts),
            "config_file": str(p.ssh_config),
        },
        "alloy": {"apt_repo_url": repo, "apt_key_url": key},
    }
    _write(
        p.config,
        "# fleetui configuration for the embedded lab (written by `fleetui lab up`)\n"
        + yaml.safe_dump(cfg, sort_keys=False),
    )


def _write_ssh_config(p: _Paths, hosts: Sequence[HostSpec]) -> None:
    """The lab hosts by name, as an operator's ~/.ssh/config knows a fleet (`Host web-01` / `HostName ...`).

    Why: a push host is known to Prometheus only by its labels, so the console reaches it (doctor, logs) by its
    `hostname` label or nodename, and a real fleet's names resolve through DNS or the ssh config. The lab's
    names resolve nowhere, so without this the doctor on a push host of the demo stopped at "Name or service
    not known". Also usable as it is: `ssh -F <this file> -i <lab key> raspberry-4b`."""
    blocks = [f"Host {h.name}\n    HostName {h.address}\n    Port {topology.SSH_PORT}\n" for h in hosts]
    _write(p.ssh_config, "# the lab hosts by name (written by `fleetui lab up`)\n" + "".join(blocks))


# --- public operations --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(p: _Paths) -> Iterator[None]:
    """One lab operation at a time per lab dir (several helpers and test sessions share one lab)."""
    p.root.mkdir(parents=True, exist_ok=True)
    with (p.root / "lock").open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _hosts(state: dict[str, Any]) -> tuple[HostSpec, ...]:
    """The starting fleet plus the batch hosts `lab up --hosts N` added (kept in the state file)."""
    return topology.lab_hosts(int(state.get("extra_hosts", 0)))


def up(backend: str | None = None, *, extra_hosts: int = 0) -> LabInfo:
    """`backend`: "prometheus" or "victoriametrics"; None keeps the running lab's (else Prometheus).
    `extra_hosts`: at least that many not-yet-enrolled batch hosts; a running lab keeps the batch hosts it has
    (the larger count wins)."""
    if backend is not None and backend not in BACKENDS:
        raise LabError(f"unknown lab backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    _check_machine()
    topology.extra_hosts(extra_hosts)  # the range check, before anything starts
    if backend == VICTORIAMETRICS:
        from fleetui.lab import victoria

        if not shutil.which(victoria.BINARY):
            raise LabError(
                f"{victoria.BINARY} not found: install the Debian package {victoria.PACKAGE!r} "
                f"(apt-get install {victoria.PACKAGE})"
            )
    p = _paths()
    with _locked(p):
        return _up(p, backend, extra_hosts)


def _up(p: _Paths, backend: str | None = None, extra_hosts: int = 0) -> LabInfo:
    p.hosts.mkdir(exist_ok=True)
    pubkey = _ensure_key(p)
    state0 = _load_state(p)
    # fresh: nothing of this lab runs (first start, or after `lab down`): start from the starting fleet with an
    # empty TSDB. A restart of only Prometheus (stop_prometheus) or of one host is not fresh: data survives.
    cold = not _prometheus_running(p) and not any(_host_running(p, state0, h) for h in _hosts(state0))
    running = str(state0.get("backend", PROMETHEUS))
    if not cold and backend is not None and backend != running:
        raise LabError(f"the lab is up on {running}: take it down first (`fleetui lab down`) to use {backend}")
    if cold:
        state0["backend"] = backend or PROMETHEUS
        _save_state(p, state0)
        shutil.rmtree(p.prom_data, ignore_errors=True)
        shutil.rmtree(p.vm_data, ignore_errors=True)
        p.known_hosts.write_text("")  # nothing pre-trusted: the first connection must show a fingerprint
        p.known_hosts.chmod(0o600)
        for f in p.targets.glob("*.json*"):
            f.unlink()
    for h in HOSTS:
        if h.password_user:
            _password(p, h)
    _write_config(p)
    _start_prometheus(p)
    _start_repo(p)
    _wait_prometheus()
    _start_alertmanager(p)
    state = _load_state(p)
    state["extra_hosts"] = max(extra_hosts, 0 if cold else int(state.get("extra_hosts", 0)))
    hosts = state.setdefault("hosts", {})
    todo = [h for h in _hosts(state) if not _host_running(p, state, h)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for h, pid in zip(todo, pool.map(lambda h: _start_host(p, h, pubkey), todo), strict=True):
            hosts[h.name] = pid
    _save_state(p, state)
    _write_ssh_config(p, _hosts(state))
    for h in todo:
        _wait_host(p, hosts[h.name], h)
    _wait_prometheus()
    fleet = _optional("fleet")
    if fleet is not None:
        fleet.seed(p.targets, p.root, cold=cold, started=[h.name for h in todo])
    if cold:
        _wait_first_scrapes()
    info = status()
    if info is None:
        raise LabError("the lab did not come up (see the logs in " + str(p.logs) + ")")
    return info


def drop_extra_hosts() -> None:
    """Stop the batch hosts `up(extra_hosts=N)` added, leaving the starting fleet running (a test that added
    them puts the session's lab back as it found it)."""
    p = _paths()
    with _locked(p):
        state = _load_state(p)
        extra = topology.extra_hosts(int(state.get("extra_hosts", 0)))
        pids = [state.get("hosts", {}).pop(h.name, None) for h in extra]
        for pid in pids:
            if _alive(pid, p.marker):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        state["extra_hosts"] = 0
        _save_state(p, state)
        _wait(lambda: not any(_alive(pid, p.marker) for pid in pids), 10, "the batch hosts to exit")
        _wait(lambda: not any(_port_open(h.address, topology.SSH_PORT) for h in extra), 10, "their sshd to stop")
        _reap(pids)


def down() -> None:
    p = _paths()
    with _locked(p):
        _down(p)


def _down(p: _Paths) -> None:
    state = _load_state(p)
    hosts = [pid for pid in state.get("hosts", {}).values() if _alive(pid, p.marker)]
    for pid in hosts:
        # `unshare --fork` ignores SIGTERM; SIGKILL it and --kill-child SIGKILLs the host's PID 1, which
        # takes every process of the host's PID namespace with it
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for name in ("repo", "alertmanager", "prometheus"):
        pid = state.get(name)
        if pid:
            _kill(pid, p.marker, timeout=20)
    strays = _strays(p)
    for pid in strays:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _wait(lambda: not any(_alive(pid, p.marker) for pid in hosts + strays), 10, "the lab's processes to exit")
    # a host's sshd dies with its PID namespace a moment after the host's `unshare`: wait for its port to close
    every = _hosts(state)
    _wait(lambda: not any(_port_open(h.address, topology.SSH_PORT) for h in every), 10, "the hosts' sshd to stop")
    _reap(list(_CHILDREN))
    _save_state(p, {})


def _why_not_running(p: _Paths, name: str, pid: int | None) -> str:
    """Why host `name` is not running, in one line: no record of it in this lab dir (which is derived from
    FLEETUI_LAB_DIR, else XDG_STATE_HOME: a caller that changed either since `up` looks at another lab dir), or
    how its process ended and the last lines of its log."""
    if not pid:
        known = sorted(_load_state(p).get("hosts", {}))
        where = f"the lab dir {p.root} has no record of it"
        if not known:
            return (
                f"{where} (no lab host was started from there: FLEETUI_LAB_DIR, else XDG_STATE_HOME, "
                "points at another lab dir than the one `lab up` used?)"
            )
        return f"{where} (hosts there: {', '.join(known[:12])}{' …' if len(known) > 12 else ''})"
    log = p.hosts / name / "host.log"
    return f"its process {pid} ended ({_exit_status(pid)}); last lines of {log}: {_log_tail(log)}"


def _lab_host(p: _Paths, h: HostSpec) -> LabHost:
    return LabHost(
        name=h.name,
        address=h.address,
        ssh_port=topology.SSH_PORT,
        ssh_user="root",
        identity_file=p.key,
        os=topology.OS_PRETTY[h.os],
        enrolled=h.enrolled,
        os_id=h.os,
        role=h.role,
        alloy_version=h.alloy,
        password_file=p.secrets / f"{h.name}.password" if h.password_user else None,
        ssh_password_user=h.password_user,
        key_user=h.key_user,
    )


def _strays(p: _Paths) -> list[int]:
    """Every process of this lab still running, whatever state.json says (e.g. left by an interrupted `up`)."""
    return [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit() and _is_lab_process(int(e.name), p)]


def _is_lab_process(pid: int, p: _Paths) -> bool:
    cmd = _cmdline(pid)
    return (
        pid != os.getpid()
        and p.marker in cmd
        # gpg-agent: started by gpg while the lab's apt repository is signed, it outlives the lab otherwise
        and (
            "fleetui.lab." in cmd
            or cmd.startswith(
                ("prometheus ", "prometheus-alertmanager ", "unshare ", "victoria-metrics ", "gpg-agent ")
            )
        )
        and _on_our_loopback(pid)
    )


def status() -> LabInfo | None:
    p = _paths()
    state = _load_state(p)
    if not _prometheus_running(p) or not any(_host_running(p, state, h) for h in _hosts(state)):
        return None
    repo, key = _repo_urls()
    return LabInfo(
        prometheus=f"http://{topology.PROMETHEUS_ADDR}",
        targets_dir=p.targets,
        hosts=tuple(_lab_host(p, h) for h in _hosts(state) if _host_running(p, state, h)),
        config_file=p.config,
        state_dir=p.root,
        rules_dir=p.rules,
        known_hosts=p.known_hosts,
        identity_file=p.key,
        apt_repo_url=repo,
        apt_key_url=key,
        gone_instance=topology.GONE_INSTANCE,
        backend=_backend(p),
    )


def host_pid(name: str) -> int:
    """The machine-side pid of host `name`'s PID 1 (for nsenter)."""
    p = _paths()
    pid = _load_state(p).get("hosts", {}).get(name)
    if not _alive(pid, p.marker):
        raise LabError(f"lab host {name} is not running: {_why_not_running(p, name, pid)}")
    ns = _ns_pid(pid)
    if ns is None:
        raise LabError(f"lab host {name} has no PID 1")
    return ns


def host_exec(
    name: str, argv: Any, *, input: str | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    pid = host_pid(name)
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "DEBIAN_FRONTEND": "noninteractive",
    }
    # -r/-w: the host's own root and working dir. Entering a mount namespace otherwise resets the root to the
    # namespace's real root, which is not the lab's / when the lab runs inside a chroot (a fresh CI tree).
    return subprocess.run(
        ["nsenter", "-t", str(pid), "-m", "-u", "-p", "-r", "-w", "--", *argv],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
        env=env,
        check=False,
    )
