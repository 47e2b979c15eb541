"""`systemctl` and `journalctl` stand-ins for lab hosts, where no init system runs (fleetui lab stand-in).

Installed as /usr/bin/systemctl and /usr/bin/journalctl inside each lab host. They manage units whose file is
in /usr/lib/systemd/system (in practice `alloy.service`) with systemd's semantics where fleetui can see them:
EnvironmentFile + `$VAR` word splitting in ExecStart, User=, WorkingDirectory=, ExecReload (SIGHUP), enable via
the multi-user.target.wants symlink, exit codes (is-active 3 when inactive, `failed` after a non-zero exit).
A detached supervisor per running unit plays systemd: it runs the main process, writes its output to the
journal (`journal.py`: /var/log/journal/fleetui-standin/<unit>.jsonl, read by the `journalctl` stand-in) and
records how it ended.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fleetui.lab.alloy_standin.journal import journal_lines, journal_write, journalctl

UNIT_DIRS = (Path("/etc/systemd/system"), Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))
WANTS = Path("/etc/systemd/system/multi-user.target.wants")
RUN = Path("/run/fleetui-standin/systemd")


def _unit_name(u: str) -> str:
    return u if "." in u else f"{u}.service"


def _unit_file(unit: str) -> Path | None:
    for d in UNIT_DIRS:
        if (d / unit).is_file():
            return d / unit
    return None


def _parse_unit(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        k, sep, v = line.partition("=")
        if sep:
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def _env_file(path: str) -> dict[str, str]:
    env: dict[str, str] = {}
    optional = path.startswith("-")
    try:
        text = Path(path.lstrip("-")).read_text()
    except OSError:
        if optional:
            return env
        raise
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        k, sep, v = line.partition("=")
        if sep:
            v = v.strip()
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
                v = v[1:-1]
            env[k.strip()] = v
    return env


def _expand_exec(cmd: str, env: dict[str, str]) -> list[str]:
    """systemd ExecStart: `${VAR}` is one word, a lone `$VAR` word splits into words."""
    import shlex

    words: list[str] = []
    for w in shlex.split(cmd):
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", w)
        if m:
            words += env.get(m.group(1), "").split()
        else:
            words.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), w))
    return words


def _state(unit: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((RUN / f"{unit}.json").read_text())
        return data
    except (OSError, ValueError):
        return {}


def _save_state(unit: str, st: dict[str, Any]) -> None:
    RUN.mkdir(parents=True, exist_ok=True)
    tmp = RUN / f"{unit}.json.tmp"
    tmp.write_text(json.dumps(st))
    tmp.replace(RUN / f"{unit}.json")


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _active_state(unit: str) -> str:
    st = _state(unit)
    if _alive(st.get("main_pid")) or (st.get("state") == "activating" and _alive(st.get("supervisor_pid"))):
        return "active"
    return "failed" if st.get("result") == "failed" else "inactive"


def _desc(cfg: dict[str, list[str]], unit: str) -> str:
    return (cfg.get("Description") or [unit])[0]


# --- the supervisor: what systemd does for a running unit ------------------------------------------------------


def supervise(unit: str) -> None:
    path = _unit_file(unit)
    assert path is not None
    cfg = _parse_unit(path)
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "HOSTNAME": socket.gethostname(),
    }
    for e in cfg.get("Environment", []):
        for pair in e.split():
            k, _, v = pair.strip('"').partition("=")
            env[k] = v.replace("%H", socket.gethostname())
    try:
        for ef in cfg.get("EnvironmentFile", []):
            env.update(_env_file(ef))
    except OSError as e:
        journal_write(unit, "systemd", 1, f"{unit}: Failed to load environment files: {e.strerror}")
        _finish(unit, None, "failed", 1, "resources")
        return
    argv = _expand_exec(cfg.get("ExecStart", ["/bin/false"])[0].lstrip("-@+!"), env)
    user = (cfg.get("User") or ["root"])[0]
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        journal_write(unit, "systemd", 1, f"{unit}: Failed to determine user credentials: No such process")
        _finish(unit, None, "failed", 217, "exit-code", status_name="USER")
        return
    wd = (cfg.get("WorkingDirectory") or ["/"])[0].lstrip("-")
    env["HOME"], env["USER"], env["LOGNAME"] = pw.pw_dir, user, user

    def drop() -> None:
        os.setgid(pw.pw_gid)
        os.initgroups(user, pw.pw_gid)
        os.setuid(pw.pw_uid)

    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=wd if Path(wd).is_dir() else "/",
            preexec_fn=drop,
            close_fds=True,
        )
    except OSError as e:
        journal_write(unit, "systemd", 1, f"{unit}: Failed to execute {argv[0]}: {e.strerror}")
        _finish(unit, None, "failed", 203, "exit-code", status_name="EXEC")
        return
    st = _state(unit)
    st.update({"main_pid": proc.pid, "state": "active", "since": time.time(), "result": None, "exec": argv})
    _save_state(unit, st)
    journal_write(unit, "systemd", 1, f"Started {unit} - {_desc(cfg, unit)}.")
    ident = Path(argv[0]).name
    assert proc.stdout is not None
    for raw in proc.stdout:
        journal_write(unit, ident, proc.pid, raw.decode(errors="replace").rstrip("\n"))
    code = proc.wait()
    stopping = _state(unit).get("stopping")
    if stopping or code in (0, -signal.SIGTERM):
        _finish(unit, code, "inactive", code, "success")
    else:
        _finish(unit, code, "failed", code, "exit-code")


def _finish(unit: str, code: int | None, state: str, status: int, result: str, status_name: str = "") -> None:
    st = _state(unit)
    st.update(
        {
            "main_pid": None,
            "supervisor_pid": None,
            "state": state,
            "since": time.time(),
            "result": "failed" if state == "failed" else None,
            "exit_status": status,
            "stopping": False,
        }
    )
    _save_state(unit, st)
    if state == "failed":
        name = status_name or ("FAILURE" if status else "SUCCESS")
        journal_write(unit, "systemd", 1, f"{unit}: Main process exited, code=exited, status={status}/{name}", 5)
        journal_write(unit, "systemd", 1, f"{unit}: Failed with result '{result}'.", 4)
    else:
        journal_write(unit, "systemd", 1, f"{unit}: Deactivated successfully.")


# --- systemctl ----------------------------------------------------------------------------------------------


def _need_root(verb: str, unit: str) -> int | None:
    if os.geteuid() != 0:
        print(f"Failed to {verb} {unit}: Access denied", file=sys.stderr)
        return 4
    return None


def _start(unit: str) -> int:
    if _active_state(unit) == "active":
        return 0
    st = _state(unit)
    st.update({"state": "activating", "stopping": False, "result": None})
    _save_state(unit, st)
    # detach like a daemon: new session, no inherited fds, so an SSH session that ran us can close
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.closerange(3, 1024)
        st = _state(unit)
        st["supervisor_pid"] = os.getpid()
        _save_state(unit, st)
        try:
            supervise(unit)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # Type=simple: return once the main process exists (or ended)
        st = _state(unit)
        if st.get("main_pid") or st.get("state") in ("failed", "inactive"):
            break
        time.sleep(0.02)
    return 0


def _stop(unit: str) -> int:
    st = _state(unit)
    pid = st.get("main_pid")
    if not pid or not _alive(pid):
        return 0
    st["stopping"] = True
    _save_state(unit, st)
    journal_write(unit, "systemd", 1, f"Stopping {unit} - {_desc(_parse_unit(_unit_file(unit) or Path()), unit)}...")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while _state(unit).get("main_pid") and time.monotonic() < deadline:
        time.sleep(0.05)
    journal_write(unit, "systemd", 1, f"Stopped {unit} - {_desc(_parse_unit(_unit_file(unit) or Path()), unit)}.")
    return 0


def _status(unit: str, cfg: dict[str, list[str]], path: Path) -> int:
    state = _active_state(unit)
    st = _state(unit)
    enabled = "enabled" if (WANTS / unit).exists() else "disabled"
    since = time.strftime("%a %Y-%m-%d %H:%M:%S UTC", time.gmtime(st.get("since") or time.time()))
    sub = {"active": "running", "failed": "failed", "inactive": "dead"}[state]
    dot = {"active": "●", "failed": "×", "inactive": "○"}[state]
    print(f"{dot} {unit} - {_desc(cfg, unit)}")
    print(f"     Loaded: loaded ({path}; {enabled}; preset: enabled)")
    extra = f"; code=exited, status={st.get('exit_status')}" if state == "failed" else ""
    print(f"     Active: {state} ({sub}) since {since}{extra}")
    if state == "active":
        print(f"   Main PID: {st.get('main_pid')} ({Path((st.get('exec') or ['alloy'])[0]).name})")
    print()
    for line in journal_lines(unit, 10, "short"):
        print(line)
    return 0 if state == "active" else 3


def systemctl(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("-")]
    opts = [a for a in argv if a.startswith("-")]
    if not args:
        print("systemctl (fleetui lab stand-in): no init system runs here; units in /usr/lib/systemd/system")
        return 0
    verb, units = args[0], [_unit_name(u) for u in args[1:]]
    if verb == "daemon-reload":
        return _need_root("reload daemon", "") or 0
    if not units:
        print("Too few arguments.", file=sys.stderr)
        return 1
    rc = 0
    for unit in units:
        path = _unit_file(unit)
        if verb in ("is-active", "is-failed"):
            state = _active_state(unit) if path else "inactive"
            if "--quiet" not in opts and "-q" not in opts:
                print(state)
            ok = state == ("active" if verb == "is-active" else "failed")
            rc = rc or (0 if ok else (3 if verb == "is-active" else 1))
            continue
        if verb == "is-enabled":
            if path is None:
                print(f"Failed to get unit file state for {unit}: No such file or directory", file=sys.stderr)
                rc = 1
                continue
            en = (WANTS / unit).exists()
            if "--quiet" not in opts and "-q" not in opts:
                print("enabled" if en else "disabled")
            rc = rc or (0 if en else 1)
            continue
        if path is None:
            print(
                f"Unit {unit} could not be found."
                if verb == "status"
                else f"Failed to {verb} {unit}: Unit {unit} not found.",
                file=sys.stderr,
            )
            rc = 4 if verb == "status" else 5
            continue
        cfg = _parse_unit(path)
        if verb == "status":
            rc = rc or _status(unit, cfg, path)
            continue
        denied = _need_root(verb, unit)
        if denied:
            return denied
        if verb == "start":
            _start(unit)
        elif verb == "stop":
            _stop(unit)
        elif verb in ("restart", "try-restart"):
            if verb == "restart" or _active_state(unit) == "active":
                _stop(unit)
                _start(unit)
        elif verb in ("reload", "reload-or-restart"):
            if _active_state(unit) != "active":
                if verb == "reload":
                    print(f"{unit} is not active, cannot reload.", file=sys.stderr)
                    rc = 1
                else:
                    _start(unit)
                continue
            journal_write(unit, "systemd", 1, f"Reloading {unit} - {_desc(cfg, unit)}...")
            with contextlib.suppress(ProcessLookupError):
                os.kill(_state(unit)["main_pid"], signal.SIGHUP)
            journal_write(unit, "systemd", 1, f"Reloaded {unit} - {_desc(cfg, unit)}.")
        elif verb in ("enable", "disable"):
            link = WANTS / unit
            if verb == "enable" and not link.exists():
                WANTS.mkdir(parents=True, exist_ok=True)
                link.symlink_to(path)
                print(f"Created symlink {link} → {path}.", file=sys.stderr)
            elif verb == "disable" and (link.exists() or link.is_symlink()):
                link.unlink()
                print(f'Removed "{link}".', file=sys.stderr)
            if "--now" in opts:
                (_start if verb == "enable" else _stop)(unit)
        else:
            print(f"Unknown command verb '{verb}'.", file=sys.stderr)
            return 1
    return rc


def main() -> int:
    tool = sys.argv[1] if len(sys.argv) > 1 else ""
    if tool == "systemctl":
        return systemctl(sys.argv[2:])
    if tool == "journalctl":
        return journalctl(sys.argv[2:])
    print("usage: python -m fleetui.lab.alloy_standin.service systemctl|journalctl ARGS", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
