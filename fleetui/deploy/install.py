"""Installing Alloy: each OS family's real commands (ALLOY-FACTS §4), as data.

The steps are plain values (`Cmd` argv lists and `PutFile` contents) so the plan can show them, unit tests can
check them per family, and the pipeline runs them through the SSH layer's quoting. Repository and key URLs come
from settings (`alloy.apt_repo_url` ...), checked to be plain http(s) URLs before they reach a file or argv.
Package-manager lock contention ("Could not get lock", "dpkg frontend lock", zypper's "System management is
locked") is retried with a pause rather than failed, since unattended upgrades often hold it for minutes.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from fleetui.config import Settings
from fleetui.domain.host import OsFamily, check_url

APT_KEYRING = "/etc/apt/keyrings/grafana.asc"
APT_LIST = "/etc/apt/sources.list.d/grafana.list"
YUM_REPO = "/etc/yum.repos.d/grafana.repo"

LOCK_RE = re.compile(
    r"Could not get lock|dpkg frontend lock|Unable to acquire the dpkg|is held by process|"
    r"System management is locked|waiting for process .* to finish|Another app is currently holding the yum lock",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Cmd:
    argv: tuple[str, ...]
    sudo: bool = True
    lock_retry: bool = False  # retry while another package manager holds the lock

    def describe(self) -> str:
        return shlex.join(self.argv)


@dataclass(frozen=True)
class PutFile:
    path: str
    content: str
    mode: int = 0o644

    def describe(self) -> str:
        n = len(self.content.splitlines())
        return f"write {self.path} ({n} line{'' if n == 1 else 's'}, mode {self.mode:o})"


InstallStep = Cmd | PutFile

# download URL ($1) to PATH ($2) with curl, else wget: a fixed script, user values only as arguments
_FETCH = 'curl -fsSL --max-time 120 -o "$2" -- "$1" || wget -q -T 120 -O "$2" -- "$1"'


@dataclass(frozen=True)
class RepoUrls:
    apt_repo: str
    apt_key: str
    rpm_repo: str
    rpm_key: str

    @classmethod
    def from_settings(cls, settings: Settings) -> RepoUrls:
        keys = ("alloy.apt_repo_url", "alloy.apt_key_url", "alloy.rpm_repo_url", "alloy.rpm_key_url")
        apt_repo, apt_key, rpm_repo, rpm_key = (check_url(k, str(settings[k])) for k in keys)
        return cls(apt_repo, apt_key, rpm_repo, rpm_key)


def install_steps(family: OsFamily, urls: RepoUrls) -> list[InstallStep]:
    """What installing Alloy takes on this family, in order."""
    if family is OsFamily.DEBIAN:
        return [
            Cmd(("mkdir", "-p", "/etc/apt/keyrings")),
            Cmd(("sh", "-c", _FETCH, "fetch", urls.apt_key, APT_KEYRING)),
            Cmd(("chmod", "644", APT_KEYRING)),
            PutFile(APT_LIST, f"deb [signed-by={APT_KEYRING}] {urls.apt_repo} stable main\n"),
            # refresh only Grafana's list: fast, and unaffected by unrelated broken sources
            Cmd(
                (
                    "apt-get",
                    "update",
                    "-o",
                    f"Dir::Etc::sourcelist={APT_LIST}",
                    "-o",
                    "Dir::Etc::sourceparts=-",
                    "-o",
                    "APT::Get::List-Cleanup=0",
                ),
                lock_retry=True,
            ),
            Cmd(
                (
                    "env",
                    "DEBIAN_FRONTEND=noninteractive",
                    "apt-get",
                    "install",
                    "-y",
                    "-o",
                    "DPkg::Lock::Timeout=60",
                    "alloy",
                ),
                lock_retry=True,
            ),
            Cmd(("systemctl", "enable", "alloy")),
        ]
    if family is OsFamily.RHEL:
        repo = (
            "[grafana]\nname=grafana\n"
            f"baseurl={urls.rpm_repo}\nrepo_gpgcheck=1\nenabled=1\ngpgcheck=1\n"
            f"gpgkey={urls.rpm_key}\nsslverify=1\nsslcacert=/etc/pki/tls/certs/ca-bundle.crt\n"
        )
        return [
            Cmd(("rpm", "--import", urls.rpm_key)),
            PutFile(YUM_REPO, repo),
            Cmd(
                (
                    "sh",
                    "-c",
                    'if command -v dnf >/dev/null; then exec dnf -y install "$1"; fi; exec yum -y install "$1"',
                    "install",
                    "alloy",
                ),
                lock_retry=True,
            ),
            Cmd(("systemctl", "enable", "alloy")),
        ]
    if family is OsFamily.SUSE:
        return [
            Cmd(("rpm", "--import", urls.rpm_key)),
            Cmd(
                (
                    "sh",
                    "-c",
                    'zypper lr "$2" >/dev/null 2>&1 || exec zypper --non-interactive addrepo "$1" "$2"',
                    "addrepo",
                    urls.rpm_repo,
                    "grafana",
                ),
                lock_retry=True,
            ),
            Cmd(("zypper", "--non-interactive", "--gpg-auto-import-keys", "refresh", "grafana"), lock_retry=True),
            Cmd(("zypper", "--non-interactive", "install", "-r", "grafana", "alloy"), lock_retry=True),
            Cmd(("systemctl", "enable", "alloy")),
        ]
    # macOS: Homebrew refuses to run as root, so no sudo
    return [
        Cmd(("brew", "tap", "grafana/grafana"), sudo=False),
        Cmd(("brew", "install", "grafana/grafana/alloy"), sudo=False),
    ]


_VERSION_RE = re.compile(r"version v?(\d+)\.(\d+)\.(\d+)")


def parse_alloy_version(text: str) -> str | None:
    """`alloy, version v1.9.2 (branch: ...)` -> "1.9.2"."""
    m = _VERSION_RE.search(text)
    return ".".join(m.groups()) if m else None


def has_validate(version: str | None) -> bool:
    """`alloy validate` exists since v1.9.0 (ALLOY-FACTS §1); older versions only have `alloy fmt`."""
    if not version:
        return False
    major, minor, *_ = (int(p) for p in version.split("."))
    return (major, minor) >= (1, 9)
