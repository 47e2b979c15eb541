"""The Alloy stand-in on lab hosts: CLI formats and exit codes, HTTP API, reloads, systemctl/journalctl, apt.

Everything runs inside a lab host (nsenter); tests that change state use a scratch copy of a host (a nested
mount namespace with its own overlays on a tmpfs) or their own unit, so the shared lab hosts stay as they were.
"""

from __future__ import annotations

import time

import httpx
import pytest

from fleetui import lab as lab_mod
from fleetui.lab import LabInfo

pytestmark = pytest.mark.lab

BAD = '# not a comment in Alloy\nprometheus.exporter.unix "default" { }\n'
UNKNOWN = 'prometheus.exporter.unix "default" { }\n\nfoo.bar "x" {\n}\n'


def _sh(host: str, script: str) -> tuple[int, str, str]:
    r = lab_mod.host_exec(host, ["sh", "-c", script])
    return r.returncode, r.stdout, r.stderr


def _scratch(host: str, script: str) -> tuple[int, str, str]:
    """Run `script` in a throwaway copy of `host` (changes to /etc, /usr, /var, /run vanish afterwards).

    The copy is an overlay built from the host's own two layers (its upper dir and the real dir, both kept in
    view under /run/fleetui-lab by the host's init) rather than an overlay on top of the host's overlay: the
    kernel refuses that third level where / itself is an overlay, as on a fresh CI machine.
    """
    setup = (
        "set -e; L=/run/fleetui-lab; mount -t tmpfs tmpfs /mnt; for d in etc usr var; do "
        "mkdir -p /mnt/u/$d /mnt/w/$d; mount -t overlay overlay "
        "-o lowerdir=$L/upper/$d:$L/lower/$d,upperdir=/mnt/u/$d,workdir=/mnt/w/$d /$d; done; "
        "mount -t tmpfs tmpfs /run\n"
    )
    r = lab_mod.host_exec(host, ["unshare", "--mount", "--propagation", "private", "sh", "-c", setup + script])
    return r.returncode, r.stdout, r.stderr


def test_version_banner_per_host(lab: LabInfo) -> None:
    rc, out, _ = _sh("web-01", "alloy --version")
    assert rc == 0 and out.startswith("alloy, version v1.10.2 (branch: HEAD, revision: ")
    assert "  go version:" in out and "  platform:         linux/amd64" in out
    assert _sh("app-01", "alloy -v")[1].startswith("alloy, version v1.8.3 ")


def test_fmt_reports_alloy_style_errors(lab: LabInfo) -> None:
    rc, _, err = _sh("web-01", f"printf '%s' '{BAD}' > /tmp/bad.alloy; alloy fmt /tmp/bad.alloy")
    lines = err.strip().splitlines()
    assert rc == 1
    assert lines[0] == "/tmp/bad.alloy:1:1: illegal character U+0023 '#'"
    assert lines[-1] == "Error: encountered errors during formatting"
    rc, out, _ = _sh("web-01", "printf 'a   =  [1,2]\\n' | alloy fmt -")
    assert rc == 0 and out == "a = [1, 2]\n"


def test_validate_only_from_1_9(lab: LabInfo) -> None:
    script = f"printf '%s' '{UNKNOWN}' > /tmp/u.alloy; alloy validate /tmp/u.alloy"
    rc, _, err = _sh("web-01", script)
    assert rc == 1
    assert err.startswith('Error: /tmp/u.alloy:3:1: cannot find the definition of component name "foo.bar"\n\n')
    assert '3 | foo.bar "x" {' in err and err.strip().endswith("Error: validation failed")
    rc, _, err = _sh("app-01", script)  # v1.8.3 has no validate
    assert rc == 1 and err.startswith('Error: unknown command "validate" for "alloy"')
    assert _sh("web-01", "alloy validate /etc/alloy/config.alloy")[0] == 0


def test_agent_endpoints_on_a_pull_host(lab: LabInfo) -> None:
    base = f"http://{lab.host('web-01').address}:12345"
    r = httpx.get(f"{base}/-/ready", timeout=5)
    assert r.status_code == 200 and r.text == "Alloy is ready.\n"
    m = httpx.get(f"{base}/api/v0/component/prometheus.exporter.unix.default/metrics", timeout=10)
    assert m.status_code == 200 and 'nodename="web-01"' in m.text
    miss = httpx.get(f"{base}/api/v0/component/prometheus.exporter.unix.nope/metrics", timeout=5)
    assert miss.status_code == 404 and miss.text == ""
    comps = httpx.get(f"{base}/api/v0/web/components", timeout=5).json()
    assert [c["localID"] for c in comps] == ["prometheus.exporter.unix.default"]


def test_reload_keeps_last_good_config_and_logs_logfmt(lab: LabInfo) -> None:
    host = lab.host("web-01")  # has alloy installed; this private agent uses its own port and files
    addr = f"{host.address}:12399"
    script = f"""
cat > /tmp/labtest-reload.alloy <<'X'
prometheus.exporter.unix "default" {{ }}
X
alloy run --server.http.listen-addr={addr} --storage.path=/tmp/labtest-d /tmp/labtest-reload.alloy \
  >/dev/null 2>/tmp/labtest-run.log &
echo $!
"""
    pid = _sh(host.name, script)[1].strip()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://{addr}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert httpx.get(f"http://{addr}/-/ready", timeout=1).status_code == 200, _sh(
            host.name, "cat /tmp/labtest-run.log"
        )
        _sh(host.name, "printf 'broken = \\n' > /tmp/labtest-reload.alloy")
        r = httpx.post(f"http://{addr}/-/reload", timeout=5)
        assert r.status_code == 400 and "/tmp/labtest-reload.alloy:2:1: expected expression" in r.text
        assert (
            httpx.get(f"http://{addr}/api/v0/component/prometheus.exporter.unix.default/metrics", timeout=5).status_code
            == 200
        )  # last good config still serves
        assert httpx.put(f"http://{addr}/-/reload", timeout=5).status_code == 405
        log = _sh(host.name, "cat /tmp/labtest-run.log")[1]
        assert 'level=info msg="now listening for http traffic" service=http addr=' + addr in log
        assert 'msg="reload requested via /-/reload endpoint"' in log
        assert 'level=error msg="failed to reload config" err=' in log
        assert all(line.startswith("ts=") for line in log.splitlines())
    finally:
        _sh(host.name, f"kill {pid}; rm -rf /tmp/labtest-reload.alloy /tmp/labtest-run.log /tmp/labtest-d")


def test_systemctl_and_journalctl_standins(lab: LabInfo) -> None:
    """A private unit in a scratch copy of a host: start, failed on a bad config, journal lines, exit codes."""
    host = lab.host("build-01")
    script = f"""
set +e
sed -e 's#/etc/sysconfig/alloy#/etc/sysconfig/labtest#' /usr/lib/systemd/system/alloy.service \
  > /usr/lib/systemd/system/labtest.service
cat > /etc/sysconfig/labtest <<'X'
CONFIG_FILE="/etc/alloy/labtest.alloy"
CUSTOM_ARGS="--server.http.listen-addr={host.address}:12398"
X
echo 'prometheus.exporter.unix "default" {{ }}' > /etc/alloy/labtest.alloy
/var/lib/fleetui-lab/alloy.postinst configure >/dev/null 2>&1 || true
systemctl is-active labtest; echo "rc=$?"
systemctl start labtest; sleep 2
systemctl is-active labtest; echo "rc=$?"
systemctl enable labtest 2>/dev/null; systemctl is-enabled labtest
wget -q -O - http://{host.address}:12398/-/ready
echo 'broken = ' > /etc/alloy/labtest.alloy
systemctl restart labtest; echo "restart-rc=$?"; sleep 2
systemctl is-active labtest; echo "rc=$?"
journalctl -u labtest -n 3 --no-pager
journalctl -u labtest -o cat --no-pager | grep -c 'could not perform the initial load successfully'
systemctl stop labtest
"""
    _, out, err = _scratch(host.name, script)
    lines = out.splitlines()
    assert lines[:2] == ["inactive", "rc=3"], out + err
    assert lines[2:5] == ["active", "rc=0", "enabled"], out + err
    assert "Alloy is ready." in out
    assert "restart-rc=0" in out  # Type=simple: systemctl returns before alloy fails
    i = lines.index("restart-rc=0")
    assert lines[i + 1 : i + 3] == ["failed", "rc=3"], out
    journal = lines[i + 3 : i + 6]
    assert journal[-1].endswith("labtest.service: Failed with result 'exit-code'.")
    assert " build-01 systemd[1]: " in journal[-1]
    assert lines[i + 6] == "1"
    # nothing leaked into the shared host
    assert _sh(host.name, "test -e /usr/lib/systemd/system/labtest.service")[0] != 0


def test_apt_install_from_the_lab_repository(lab: LabInfo) -> None:
    """Grafana's documented Debian steps against the lab repository, in a scratch copy of new-01."""
    script = f"""
command -v alloy && exit 9
mkdir -p /etc/apt/keyrings
wget -q -O /etc/apt/keyrings/grafana.asc {lab.apt_key_url}
chmod 644 /etc/apt/keyrings/grafana.asc
echo "deb [signed-by=/etc/apt/keyrings/grafana.asc] {lab.apt_repo_url} stable main" \
  > /etc/apt/sources.list.d/grafana.list
apt-get update -q >/dev/null
apt-get install -y -q alloy >/dev/null
alloy --version | head -1
id -un alloy
grep CUSTOM_ARGS /etc/default/alloy
systemctl is-active alloy || true
"""
    rc, out, err = _scratch("new-01", script)
    assert rc == 0, err
    assert out.splitlines() == [
        "alloy, version v1.10.2 (branch: HEAD, revision: 5a8c9e1f0)",
        "alloy",
        'CUSTOM_ARGS=""',
        "inactive",
    ]  # postinst does not start the service
