"""The install commands each OS family would run (ALLOY-FACTS §4), checked as exact argv lists."""

from __future__ import annotations

import pytest

from fleetui.deploy.install import (
    APT_KEYRING,
    APT_LIST,
    LOCK_RE,
    Cmd,
    PutFile,
    RepoUrls,
    has_validate,
    install_steps,
    parse_alloy_version,
)
from fleetui.domain.host import OsFamily

URLS = RepoUrls(
    "https://apt.grafana.com",
    "https://apt.grafana.com/gpg-full.key",
    "https://rpm.grafana.com",
    "https://rpm.grafana.com/gpg.key",
)


def test_debian() -> None:
    steps = install_steps(OsFamily.DEBIAN, URLS)
    assert steps[0] == Cmd(("mkdir", "-p", "/etc/apt/keyrings"))
    fetch = steps[1]
    assert isinstance(fetch, Cmd) and fetch.argv[-2:] == ("https://apt.grafana.com/gpg-full.key", APT_KEYRING)
    assert steps[2] == Cmd(("chmod", "644", APT_KEYRING))
    assert steps[3] == PutFile(APT_LIST, f"deb [signed-by={APT_KEYRING}] https://apt.grafana.com stable main\n")
    update, install, enable = steps[4], steps[5], steps[6]
    assert isinstance(update, Cmd) and update.argv[:2] == ("apt-get", "update") and update.lock_retry
    assert f"Dir::Etc::sourcelist={APT_LIST}" in update.argv
    assert isinstance(install, Cmd) and install.argv[-1] == "alloy" and "install" in install.argv
    assert "DEBIAN_FRONTEND=noninteractive" in install.argv and install.lock_retry
    assert enable == Cmd(("systemctl", "enable", "alloy"))


def test_rhel() -> None:
    steps = install_steps(OsFamily.RHEL, URLS)
    assert steps[0] == Cmd(("rpm", "--import", "https://rpm.grafana.com/gpg.key"))
    repo = steps[1]
    assert isinstance(repo, PutFile) and repo.path == "/etc/yum.repos.d/grafana.repo"
    assert repo.content.splitlines() == [
        "[grafana]",
        "name=grafana",
        "baseurl=https://rpm.grafana.com",
        "repo_gpgcheck=1",
        "enabled=1",
        "gpgcheck=1",
        "gpgkey=https://rpm.grafana.com/gpg.key",
        "sslverify=1",
        "sslcacert=/etc/pki/tls/certs/ca-bundle.crt",
    ]
    install = steps[2]
    assert isinstance(install, Cmd) and "dnf -y install" in install.argv[2] and install.argv[-1] == "alloy"
    assert steps[-1] == Cmd(("systemctl", "enable", "alloy"))


def test_suse() -> None:
    argvs = [s.argv for s in install_steps(OsFamily.SUSE, URLS) if isinstance(s, Cmd)]
    assert argvs[0] == ("rpm", "--import", "https://rpm.grafana.com/gpg.key")
    assert argvs[1][-2:] == ("https://rpm.grafana.com", "grafana") and "addrepo" in argvs[1][2]
    assert ("zypper", "--non-interactive", "install", "-r", "grafana", "alloy") in argvs


def test_darwin_uses_brew_without_sudo() -> None:
    steps = install_steps(OsFamily.DARWIN, URLS)
    assert steps == [
        Cmd(("brew", "tap", "grafana/grafana"), sudo=False),
        Cmd(("brew", "install", "grafana/grafana/alloy"), sudo=False),
    ]


@pytest.mark.parametrize(
    "stderr",
    [
        "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 1234 (unattended-upgr)",
        "E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?",
        "System management is locked by the application with pid 77 (zypper).",
    ],
)
def test_lock_messages_are_retried(stderr: str) -> None:
    assert LOCK_RE.search(stderr)


def test_other_failures_are_not_lock() -> None:
    assert not LOCK_RE.search("E: Unable to locate package alloy")


def test_version_parsing_and_validate_cutoff() -> None:
    banner = "alloy, version v1.9.2 (branch: HEAD, revision: 1eef9b3ae)\n  build user: x\n"
    assert parse_alloy_version(banner) == "1.9.2"
    assert parse_alloy_version("bash: alloy: command not found") is None
    assert has_validate("1.9.0") and has_validate("1.18.1") and has_validate("2.0.0")
    assert not has_validate("1.8.3") and not has_validate(None)
