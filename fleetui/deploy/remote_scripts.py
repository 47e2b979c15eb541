"""The on-host halves of enrollment: fixed POSIX sh scripts that survive a dropped SSH connection.

Why scripts: between "move the new config into place" and "Alloy answers /-/ready with it" the host is in
between states, and an `apt-get install` cut by a dropped connection can leave dpkg half-way. If the engine drove
those steps one command at a time, a cut would leave that state behind. Instead the engine starts a script
detached (`setsid`, stdin/stdout closed) and follows its *status file*, a list of lines:

    started
    step swap done
    step restart done restart
    step ready failed Alloy was not ready ...
    result ok | result rolledback | result failed | result busy <why>

The script finishes on its own whether or not anyone is still connected: APPLY backs up, swaps, restarts or
reloads, waits for readiness and on any failure restores the backups and puts the service back as it was;
ROLLBACK undoes a finished APPLY after a later step failed; INSTALL runs the package-manager commands. After a
lost connection the runner reconnects and reads the status file to learn what really happened
(`decisions.read_status`). A lock directory keeps two runs from interleaving on the host, even from two jump
hosts. Status files hold progress lines only, never a secret, and the runner removes them when it is done.

The scripts are constants; every value reaches them as a positional argument ("$1"...), never pasted in.
INSTALL's commands arrive as `command_line()` strings (every word shell-quoted) and are `eval`ed, which
rebuilds exactly the argv they were made from.
"""

from __future__ import annotations

LOCK_DIR = "/var/tmp/fleetui-apply.lock"  # noqa: S108 - a mkdir mutex on the managed host, root-owned
STATUS_DIR = "/var/tmp"  # noqa: S108 - root-owned status files with random names

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
say started
if ! mkdir "$lock" 2>/dev/null; then
  rm -f "$cfg_new" "$env_new" 2>/dev/null
  say "result busy another fleetui operation is running on this host"; exit 1
fi
trap 'rmdir "$lock" 2>/dev/null' EXIT
fail() { say "step $1 failed $2"; restore; rm -f "$cfg_new" "$env_new" 2>/dev/null; say "result rolledback"; exit 1; }
nochange() { say "step swap failed $1"; rm -f "$cfg_new" "$env_new" 2>/dev/null; say "result failed"; exit 1; }
if [ -n "$cfg_new" ]; then
  if [ -e "$cfg" ]; then cp -p "$cfg" "$cfg_bak" || nochange "cannot back up $cfg"; else rm -f "$cfg_bak"; fi
fi
if [ -n "$env_new" ]; then
  if [ -e "$envf" ]; then cp -p "$envf" "$env_bak" || nochange "cannot back up $envf"; else rm -f "$env_bak"; fi
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
lock=/var/tmp/fleetui-apply.lock
do_cfg=0 do_env=0
[ -n "$cfg_bak" ] && do_cfg=1
[ -n "$env_bak" ] && do_env=1
"""
    + _COMMON
    + r"""
say started
if ! mkdir "$lock" 2>/dev/null; then say "result busy another fleetui operation is running on this host"; exit 1; fi
trap 'rmdir "$lock" 2>/dev/null' EXIT
restore
say "step restore done"
say "result rolledback"
"""
)

# args: status lock_regex then pairs (kind command_line), kind = run | runlock (retry while a package manager
# holds its lock, up to 60 times 5 s) | version (not a step: its first output line goes to the status file as
# "alloy-version ...", so the installed version is read without another round trip). The output of the failing
# command's last line goes to the status file.
INSTALL = r"""
set -u
st=$1 lockre=$2
shift 2
log="$st.log"
say() { printf '%s\n' "$*" >> "$st"; }
say started
n=0
while [ $# -ge 2 ]; do
  kind=$1 cmd=$2
  shift 2
  if [ "$kind" = version ]; then
    say "alloy-version $(eval "$cmd" 2>&1 </dev/null | head -n 1 | tr -d '\r' | cut -c1-200)"; continue
  fi
  n=$((n + 1))
  tries=0
  while :; do
    eval "$cmd" >"$log" 2>&1 </dev/null
    rc=$?
    [ "$rc" = 0 ] && break
    if [ "$kind" = runlock ] && [ "$tries" -lt 60 ] && grep -Eqi -- "$lockre" "$log"; then
      tries=$((tries + 1)); say "step $n waiting for the package manager lock"; sleep 5; continue
    fi
    say "step $n failed exit $rc: $(tail -n 1 "$log" | tr -d '\r' | cut -c1-300)"
    rm -f "$log"
    say "result failed"
    exit 1
  done
  say "step $n done"
done
rm -f "$log"
say "result ok"
"""

# args: path content mode — writes a small file atomically (used inside INSTALL for repository files)
PUT_FILE = 'umask 022; printf %s "$2" > "$1.fleetui-tmp" && chmod "$3" "$1.fleetui-tmp" && mv -f "$1.fleetui-tmp" "$1"'

# args: path mode — stdin becomes the file (created 0600 first, so a secret is never readable in between)
UPLOAD = 'umask 077; cat > "$1" && chmod "$2" "$1"'
# two files through one stdin (GNU head -c reads exactly "$1" bytes from a pipe, leaving the rest): args
# bytes-of-the-first path1 mode1 path2 mode2 (Linux hosts; others upload file by file)
UPLOAD_TWO = 'umask 077; head -c "$1" > "$2" && chmod "$3" "$2" && cat > "$4" && chmod "$5" "$4"'

# args: status lock — the status file (or "#missing"), then "#lock" when the lock directory exists
READ_STATUS = 'if [ -e "$1" ]; then cat -- "$1"; else echo "#missing"; fi; if [ -d "$2" ]; then echo "#lock"; fi'

# args: file... — "<sha256> <path>" per file, "none <path>" when it does not exist
HASHES = r"""
for f in "$@"; do
  if [ ! -e "$f" ]; then echo "none $f"
  elif command -v sha256sum >/dev/null 2>&1; then echo "$(sha256sum < "$f" | cut -d' ' -f1) $f"
  else echo "$(shasum -a 256 < "$f" | cut -d' ' -f1) $f"; fi
done
"""

# detection in one round trip (Linux): uname, os-release, then the version of Alloy ("$1"), each part marked
DETECT = r"""
uname -snm
echo "fleetui-os-release-begin"
cat /etc/os-release 2>/dev/null
echo "fleetui-os-release-end"
if command -v "$1" >/dev/null 2>&1; then "$1" --version 2>&1; echo "fleetui-version-rc $?"
else echo "fleetui-version-rc 127"; fi
echo "fleetui-uid $(id -u)"
"""

# the read-back in one round trip (systemd hosts, as root): the files' hashes (HASHES), Alloy's version ("$1")
# and whether the service is active ("$2")
OBSERVE = (
    r"""
bin=$1 unit=$2; shift 2
"""
    + HASHES
    + r"""
echo "fleetui-version-begin"
if command -v "$bin" >/dev/null 2>&1; then "$bin" --version 2>&1; echo "fleetui-version-rc $?"
else echo "fleetui-version-rc 127"; fi
systemctl is-active "$unit" >/dev/null 2>&1; echo "fleetui-active-rc $?"
"""
)

# what render reads, in one round trip (systemd hosts, as root): each file as "fleetui-file <bytes>", its bytes
# and a newline (or "fleetui-file none"), then whether the unit "$1" is active
READ_FILES = r"""
unit=$1; shift
for f in "$@"; do
  if [ -f "$f" ]; then echo "fleetui-file $(wc -c < "$f")"; cat -- "$f"; echo
  elif [ -e "$f" ]; then echo "fleetui-file other"
  else echo "fleetui-file none"; fi
done
systemctl is-active "$unit" >/dev/null 2>&1; echo "fleetui-active-rc $?"
"""

# starts "$1" (a script) detached from the SSH session as process name "$2" with the remaining arguments
LAUNCH = (
    "s=$1 n=$2; shift 2; "
    'if command -v setsid >/dev/null 2>&1; then setsid sh -c "$s" "$n" "$@" </dev/null >/dev/null 2>&1 & '
    'else nohup sh -c "$s" "$n" "$@" </dev/null >/dev/null 2>&1 & fi; echo launched'
)
