"""Put the Alloy stand-in (and the systemctl/journalctl stand-ins) into a lab host, as its packages would.

`files_for(...)` is the file set of the `alloy` package (used for the .deb in the lab repository and for hosts
where it is "pre-installed", e.g. the RHEL and SUSE hosts that have no dnf/zypper here); `provision(upper, h)`
writes what a host needs into its overlay upper dir before it boots and returns the commands its PID 1 runs
once the host is up (postinst, enable, start). Paths and file contents follow Grafana's packaging
(ALLOY-FACTS §3): /usr/bin/alloy, /usr/lib/systemd/system/alloy.service, /etc/default/alloy or
/etc/sysconfig/alloy, /etc/alloy/config.alloy, user `alloy`, /var/lib/alloy{,/data}.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fleetui.lab import topology
from fleetui.lab.topology import HostSpec

MARK = "# fleetui lab stand-in for Grafana Alloy: NOT Grafana Alloy (see fleetui/lab/alloy_standin)\n"


def unit_file(env_file: str, deploy_mode: str) -> str:
    return (
        "[Unit]\n"
        "Description= Vendor-agnostic OpenTelemetry Collector distribution with programmable pipelines\n"
        "Documentation=https://grafana.com/docs/alloy\n"
        "Wants=network-online.target\n"
        "After=network-online.target\n\n"
        "[Service]\n"
        "Restart=always\n"
        "User=alloy\n"
        "Environment=HOSTNAME=%H\n"
        f"Environment=ALLOY_DEPLOY_MODE={deploy_mode}\n"
        f"EnvironmentFile={env_file}\n"
        "WorkingDirectory=/var/lib/alloy\n"
        "ExecStart=/usr/bin/alloy run $CUSTOM_ARGS --storage.path=/var/lib/alloy/data $CONFIG_FILE\n"
        "ExecReload=/usr/bin/env kill -HUP $MAINPID\n"
        "TimeoutStopSec=20s\n\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def env_file(custom_args: str = "") -> str:
    return (
        '## Path:\n## Description: Grafana Alloy settings\n## Type:        string\n## Default:     ""\n'
        "## ServiceRestart: alloy\n#\n# Command line options for Alloy.\n#\n"
        "# The configuration file holding the Alloy config.\n"
        'CONFIG_FILE="/etc/alloy/config.alloy"\n\n'
        "# User-defined arguments to pass to the run command.\n"
        f'CUSTOM_ARGS="{custom_args}"\n\n'
        "# Restart on system upgrade. Defaults to true.\n"
        "RESTART_ON_UPGRADE=true\n"
    )


DEFAULT_CONFIG = """// Sample config for Alloy.
//
// For a full configuration reference, see https://grafana.com/docs/alloy
logging {
  level = "warn"
}

prometheus.exporter.unix "default" {
  include_exporter_metrics = true
  disable_collectors       = ["mdadm"]
}

prometheus.scrape "default" {
  targets = array.concat(
    prometheus.exporter.unix.default.targets,
    [{
      // Self-collect metrics
      job         = "alloy",
      __address__ = "127.0.0.1:12345",
    }],
  )

  forward_to = [
  // TODO: components to forward metrics to (like prometheus.remote_write or
  // prometheus.relabel).
  ]
}
"""

POSTINST = """#!/bin/sh
# fleetui lab stand-in for Grafana Alloy: postinst as in Grafana's package (creates the user, never starts it)
set -e
[ -f /etc/default/alloy ] && . /etc/default/alloy
case "$1" in
    configure)
        getent group alloy >/dev/null 2>&1 || groupadd -r alloy
        getent passwd alloy >/dev/null 2>&1 || \\
            useradd -m -r -g alloy -d /var/lib/alloy -s /sbin/nologin -c "alloy user" alloy
        getent group adm >/dev/null 2>&1 && usermod -a -G adm alloy
        getent group systemd-journal >/dev/null 2>&1 && usermod -a -G systemd-journal alloy
        [ -d /var/lib/alloy ] || { mkdir /var/lib/alloy; chown alloy:alloy /var/lib/alloy; chmod 770 /var/lib/alloy; }
        [ -d /var/lib/alloy/data ] || { mkdir /var/lib/alloy/data; chown alloy:alloy /var/lib/alloy/data; \\
            chmod 770 /var/lib/alloy/data; }
        chown root:alloy /etc/alloy
        chmod 770 /etc/alloy
        if [ -n "$2" ] && [ "$RESTART_ON_UPGRADE" = "true" ]; then
            systemctl daemon-reload
            systemctl restart alloy
        fi
        ;;
esac
exit 0
"""


def _python() -> str:
    return sys.executable


def alloy_wrapper(version: str) -> str:
    return f'#!/bin/sh\n{MARK}ALLOY_STANDIN_VERSION={version} exec {_python()} -m fleetui.lab.alloy_standin "$@"\n'


def tool_wrapper(tool: str) -> str:
    return (
        f"#!/bin/sh\n# fleetui lab stand-in for {tool} (no init system runs in the lab)\n"
        f'exec {_python()} -m fleetui.lab.alloy_standin.service {tool} "$@"\n'
    )


def files_for(
    version: str, family: str, custom_args: str = "", config: str = DEFAULT_CONFIG
) -> dict[str, tuple[str, int]]:
    """Path (absolute, in the host) -> (content, mode) of an installed `alloy` package."""
    env_path = "/etc/default/alloy" if family == "debian" else "/etc/sysconfig/alloy"
    return {
        "/usr/bin/alloy": (alloy_wrapper(version), 0o755),
        "/usr/lib/systemd/system/alloy.service": (unit_file(env_path, "deb" if family == "debian" else "rpm"), 0o644),
        env_path: (env_file(custom_args), 0o644),
        "/etc/alloy/config.alloy": (config, 0o644),
    }


def _put(upper: Path, path: str, content: str, mode: int) -> None:
    f = upper / path.lstrip("/")
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(content)
    f.chmod(mode)


def enrolled_config(h: HostSpec) -> str:
    """The config someone wrote before fleetui: pull (seed 001) or push (seed 000, maybe mislabelled)."""
    if h.role in ("pull", "down"):
        return (
            "// Written by hand before fleetui: Prometheus scrapes this exporter through Alloy's HTTP server.\n"
            'prometheus.exporter.unix "default" {\n}\n'
        )
    target = [f'__address__ = "{h.address}:{topology.NODE_EXPORTER_PORT}"']
    if h.push_instance:
        target.append(f'instance    = "{h.push_instance}"')
    interval = ""
    if h.push_instance == h.name:  # the well-labelled push host: job and scrape_interval set explicitly
        target.append('job         = "node_exporter"')
        interval = '  scrape_interval = "15s"\n'
    ext = "".join(f'    {k} = "{v}",\n' for k, v in h.labels.items())
    return (
        "// Written by hand before fleetui: scrape node_exporter and push to the platform (remote_write).\n"
        'prometheus.scrape "node_exporter" {\n'
        "  targets = [{\n"
        + "".join(f"    {t},\n" for t in target)
        + "  }]\n"
        + interval
        + "  forward_to = [prometheus.remote_write.platform.receiver]\n}\n\n"
        'prometheus.remote_write "platform" {\n'
        "  endpoint {\n"
        f'    url = "http://{topology.PROMETHEUS_ADDR}/api/v1/write"\n'
        "  }\n"
        "  external_labels = {\n" + ext + "  }\n}\n"
    )


def provision(upper: Path, h: HostSpec) -> list[list[str]]:
    """Write the stand-ins into `upper` (the host's overlay upper root); return commands to run at boot."""
    _put(upper, "/usr/bin/systemctl", tool_wrapper("systemctl"), 0o755)
    _put(upper, "/usr/bin/journalctl", tool_wrapper("journalctl"), 0o755)
    if h.alloy is None:
        return []
    custom = f"--server.http.listen-addr={h.address}:{topology.ALLOY_PORT}" if h.role != "none" else ""
    config = enrolled_config(h) if h.role != "none" else DEFAULT_CONFIG
    for path, (content, mode) in files_for(h.alloy, h.family, custom, config).items():
        _put(upper, path, content, mode)
    _put(upper, "/var/lib/fleetui-lab/alloy.postinst", POSTINST, 0o755)
    then = [["/var/lib/fleetui-lab/alloy.postinst", "configure"]]
    if h.role != "none":
        then.append(["/usr/bin/systemctl", "enable", "alloy"])
    if h.role in ("pull", "push"):
        then.append(["/usr/bin/systemctl", "start", "alloy"])
    return then
