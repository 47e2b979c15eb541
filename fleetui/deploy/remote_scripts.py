"""The on-host half of the swap: a fixed POSIX sh script that survives a dropped SSH connection.

Why a script: between "move the new config into place" and "Alloy answers /-/ready with it" the host is in
between states. If the engine drove those steps one command at a time, a connection cut there would leave a
new, unproven config on disk. Instead the engine uploads the staged files, then starts this script detached
(`setsid`, stdin/stdout closed) and follows its status file. The script backs up, swaps, restarts or reloads,
waits for readiness and, on any failure, restores the backups and puts the service back as it was (running or
stopped) — whether or not anyone is still connected. A lock directory keeps two runs from interleaving on the
host even across two jump hosts.

The scripts are constants; every value reaches them as a positional argument ("$1"...), never pasted in.
"""

from __future__ import annotations

LOCK_DIR = "/var/tmp/fleetui-apply.lock"  # noqa: S108 - a mkdir mutex on the managed host, root-owned

_COMMON = r"""
set -u
say() { printf '%s\n' "$*" >> "$st"; }
svc() {
  if [ "$mgr" = brew ]; then brew services "$1" grafana/grafana/alloy; else systemctl "$1" alloy; fi
}
if command -v curl >/dev/null 2>&1; then
  get() { curl -fsS -m 3 -o /dev/null -- "$1" 2>/dev/null; }
  post() { curl -fsS -m 10 -X POST -o /dev/null -- "$1" 2>/dev/null; }
elif command -v wget >/dev/null 2>&1; then
  get() { wget -q -T 3 -O /dev/null -- "$1" 2>/dev/null; }
  post() { wget -q -T 10 --post-data= -O /dev/null -- "$1" 2>/dev/null; }
else
  get() { python3 -c 'import sys,urllib.request as u; u.urlopen(sys.argv[1], timeout=3)' "$1" 2>/dev/null; }
  post() {
    python3 -c 'import sys,urllib.request as u; u.urlopen(u.Request(sys.argv[1], b""), timeout=10)' "$1" 2>/dev/null
  }
fi
restore() {
  if [ "$do_cfg" = 1 ]; then
    if [ -e "$cfg_bak" ]; then mv -f "$cfg_bak" "$cfg"; else rm -f "$cfg"; fi
  fi
  if [ "$do_env" = 1 ]; then
    if [ -e "$env_bak" ]; then mv -f "$env_bak" "$envf"; else rm -f "$envf"; fi
  fi
  if [ "$was_active" = 1 ]; then svc restart >/dev/null 2>&1; else svc stop >/dev/null 2>&1; fi
}
"""

# args: status cfg cfg_new cfg_bak envf env_new env_bak action(restart|reload|none) mgr(systemd|brew)
#       base_url component_path was_active(1|0) timeout_s
APPLY = (
    r"""
st=$1 cfg=$2 cfg_new=$3 cfg_bak=$4 envf=$5 env_new=$6 env_bak=$7 action=$8 mgr=$9
shift 9
base=$1 comp=$2 was_active=$3 tmo=$4
lock=/var/tmp/fleetui-apply.lock
do_cfg=0 do_env=0
[ -n "$cfg_new" ] && do_cfg=1
[ -n "$env_new" ] && do_env=1
"""
    + _COMMON
    + r"""
if ! mkdir "$lock" 2>/dev/null; then say "result busy another fleetui operation is running on this host"; exit 1; fi
trap 'rmdir "$lock" 2>/dev/null' EXIT
fail() { say "step $1 failed $2"; restore; rm -f "$cfg_new" "$env_new" 2>/dev/null; say "result rolledback"; exit 1; }
if [ -n "$cfg_new" ]; then
  if [ -e "$cfg" ]; then
    cp -p "$cfg" "$cfg_bak" || { say "step swap failed cannot back up $cfg"; say "result failed"; exit 1; }
  else rm -f "$cfg_bak"; fi
fi
if [ -n "$env_new" ]; then
  if [ -e "$envf" ]; then
    cp -p "$envf" "$env_bak" || { say "step swap failed cannot back up $envf"; say "result failed"; exit 1; }
  else rm -f "$env_bak"; fi
fi
if [ -n "$cfg_new" ]; then mv -f "$cfg_new" "$cfg" || fail swap "cannot move the new config into place"; fi
if [ -n "$env_new" ]; then mv -f "$env_new" "$envf" || fail swap "cannot move the new environment file into place"; fi
say "step swap done"
case "$action" in
  restart) svc enable >/dev/null 2>&1; svc restart >/dev/null 2>&1 || fail restart "the service did not restart" ;;
  reload) post "$base/-/reload" || fail restart "Alloy rejected the reload (it keeps its previous config)" ;;
esac
say "step restart done $action"
i=0
while ! { get "$base/-/ready" && get "$base$comp"; }; do
  i=$((i + 1))
  if [ "$i" -ge $((tmo * 2)) ]; then fail ready "Alloy was not ready (/-/ready and $comp) within ${tmo}s"; fi
  sleep 0.5
done
say "step ready done"
say "result ok"
"""
)

# args: status cfg cfg_bak envf env_bak mgr was_active — puts the previous files back after a later failure;
# an empty cfg_bak / env_bak means that file was not changed by the run being undone
ROLLBACK = (
    r"""
st=$1 cfg=$2 cfg_bak=$3 envf=$4 env_bak=$5 mgr=$6 was_active=$7
do_cfg=0 do_env=0
[ -n "$cfg_bak" ] && do_cfg=1
[ -n "$env_bak" ] && do_env=1
"""
    + _COMMON
    + r"""
restore
say "result rolledback"
"""
)

# starts "$1" (a script) detached from the SSH session with the remaining arguments
LAUNCH = (
    "s=$1; shift; "
    'if command -v setsid >/dev/null 2>&1; then setsid sh -c "$s" fleetui-apply "$@" </dev/null >/dev/null 2>&1 & '
    'else nohup sh -c "$s" fleetui-apply "$@" </dev/null >/dev/null 2>&1 & fi; echo launched'
)
