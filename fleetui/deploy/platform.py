"""Where Alloy lives on each OS family and how its service is driven (ALLOY-FACTS §3, §4).

The deb and rpm packages install the same unit with a different environment file; Homebrew on macOS keeps
everything under its prefix and runs the service through `brew services`.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleetui.domain.host import HostFacts, OsFamily


@dataclass(frozen=True)
class Platform:
    config_path: str
    env_path: str | None  # None: the service reads no environment file (Homebrew)
    alloy_bin: str
    restart: tuple[str, ...]
    enable: tuple[str, ...]
    stop: tuple[str, ...]
    disable: tuple[str, ...]
    is_active: tuple[str, ...]

    @property
    def backup_path(self) -> str:
        return self.config_path + ".fleetui-bak"

    @property
    def staging_path(self) -> str:
        # not ending in .alloy, so a directory-mode CONFIG_FILE never picks it up
        return self.config_path + ".fleetui-new"

    @property
    def env_backup_path(self) -> str | None:
        return None if self.env_path is None else self.env_path + ".fleetui-bak"


def _systemd(env_path: str) -> Platform:
    return Platform(
        config_path="/etc/alloy/config.alloy",
        env_path=env_path,
        alloy_bin="alloy",
        restart=("systemctl", "restart", "alloy"),
        enable=("systemctl", "enable", "alloy"),
        stop=("systemctl", "stop", "alloy"),
        disable=("systemctl", "disable", "alloy"),
        is_active=("systemctl", "is-active", "alloy"),
    )


def platform_for(facts: HostFacts) -> Platform:
    if facts.family is OsFamily.DEBIAN:
        return _systemd("/etc/default/alloy")
    if facts.family in (OsFamily.RHEL, OsFamily.SUSE):
        return _systemd("/etc/sysconfig/alloy")
    prefix = "/opt/homebrew" if facts.arch == "arm64" else "/usr/local"
    svc = "grafana/grafana/alloy"
    return Platform(
        config_path=f"{prefix}/etc/alloy/config.alloy",
        env_path=None,
        alloy_bin=f"{prefix}/bin/alloy",
        restart=("brew", "services", "restart", svc),
        enable=("brew", "services", "start", svc),
        stop=("brew", "services", "stop", svc),
        disable=("brew", "services", "stop", svc),
        is_active=("brew", "services", "info", svc),
    )
