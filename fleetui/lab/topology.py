"""What the lab is made of: ports, paths and the hosts of the starting fleet.

Kept as plain data so the status command, the tests and the demo script all agree on one description, and so a
reader can see the whole starting fleet (who is pull, push, down, gone, not enrolled) in one screen.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROMETHEUS_ADDR = "127.0.0.1:19090"
REPO_ADDR = "127.0.0.1:19080"
NODE_EXPORTER_PORT = 19100
SSH_PORT = 2222
ALLOY_PORT = 12345
LAB_DIR_ENV = "FLEETUI_LAB_DIR"
REPO_ALLOY_VERSION = "1.10.2"  # the version the lab's apt repository serves

# os-release files as the distributions ship them (trimmed to the fields tools read)
OS_RELEASE: dict[str, str] = {
    "debian12": (
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
        'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL="https://www.debian.org/"\n'
    ),
    "ubuntu2404": (
        'PRETTY_NAME="Ubuntu 24.04.2 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\n'
        'VERSION="24.04.2 LTS (Noble Numbat)"\nVERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\n'
        'UBUNTU_CODENAME=noble\nHOME_URL="https://www.ubuntu.com/"\n'
    ),
    "rocky9": (
        'NAME="Rocky Linux"\nVERSION="9.5 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"\n'
        'VERSION_ID="9.5"\nPLATFORM_ID="platform:el9"\nPRETTY_NAME="Rocky Linux 9.5 (Blue Onyx)"\n'
        'CPE_NAME="cpe:/o:rocky:rocky:9::baseos"\nHOME_URL="https://rockylinux.org/"\n'
    ),
    "leap156": (
        'NAME="openSUSE Leap"\nVERSION="15.6"\nID="opensuse-leap"\nID_LIKE="suse opensuse"\n'
        'VERSION_ID="15.6"\nPRETTY_NAME="openSUSE Leap 15.6"\nCPE_NAME="cpe:/o:opensuse:leap:15.6"\n'
        'HOME_URL="https://www.opensuse.org/"\n'
    ),
}
OS_PRETTY = {
    "debian12": "Debian GNU/Linux 12 (bookworm)",
    "ubuntu2404": "Ubuntu 24.04.2 LTS",
    "rocky9": "Rocky Linux 9.5 (Blue Onyx)",
    "leap156": "openSUSE Leap 15.6",
}
DEBIAN_FAMILY = ("debian12", "ubuntu2404")


@dataclass(frozen=True)
class HostSpec:
    """One lab host as the lab builds it.

    `role` says what the starting fleet expects of it: "pull" and "push" are enrolled and running, "down" is a
    pull target whose Alloy is stopped, "none" is not enrolled. `alloy` is the pre-installed stand-in version
    (None: not installed, the wizard installs it from the lab repository).
    """

    name: str
    n: int  # address 127.0.0.n
    os: str  # key of OS_RELEASE
    role: str  # pull | push | down | none
    alloy: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    push_instance: str | None = None  # push only: the instance label its config sets (None: job left default)
    key_user: str | None = None  # a non-root user that logs in with the lab key, NOPASSWD sudo
    password_user: str | None = None  # a non-root user with a password, sudo asks for it

    @property
    def address(self) -> str:
        return f"127.0.0.{self.n}"

    @property
    def enrolled(self) -> str | None:
        return {"pull": "pull", "down": "pull", "push": "push"}.get(self.role)

    @property
    def family(self) -> str:
        return "debian" if self.os in DEBIAN_FAMILY else ("rhel" if self.os == "rocky9" else "suse")


def _team(env: str, who: str) -> dict[str, str]:
    return {"environment": env, "maintainers": who}


HOSTS: tuple[HostSpec, ...] = (
    HostSpec("web-01", 11, "debian12", "pull", "1.10.2", _team("production", "web-team")),
    # label drift: `maintainer` instead of `maintainers`
    HostSpec("web-02", 12, "ubuntu2404", "pull", "1.10.2", {"environment": "production", "maintainer": "web-team"}),
    HostSpec("db-01", 13, "debian12", "down", "1.10.2", _team("production", "dba")),
    # seed 000's mislabelled push host: instance is a friendly name, job is left as the component path
    HostSpec("raspberry-4b", 14, "debian12", "push", "1.9.1", _team("home", "ops"), push_instance="raspberry-pi"),
    HostSpec(
        "cache-01",
        15,
        "ubuntu2404",
        "push",
        "1.10.2",
        _team("staging", "web-team"),
        push_instance="cache-01",
        key_user="deploy",
    ),
    HostSpec("new-01", 16, "debian12", "none"),
    HostSpec("app-01", 17, "rocky9", "none", "1.8.3"),
    HostSpec("build-01", 18, "leap156", "none", "1.10.2"),
    HostSpec("new-02", 19, "ubuntu2404", "none", password_user="ops"),  # noqa: S106 (a user name)
    HostSpec("new-03", 20, "debian12", "none", key_user="deploy"),
)
MAX_EXTRA_HOSTS = 200  # `lab up --hosts N`: batch-001.. at 127.0.0.21..220
EXTRA_OS = ("debian12", "ubuntu2404", "rocky9", "leap156")


def extra_hosts(n: int) -> tuple[HostSpec, ...]:
    """`n` not-yet-enrolled hosts for batch enrollment (`fleetui lab up --hosts N`), the four distributions in turn.

    Debian and Ubuntu hosts have no Alloy (enrollment installs it from the lab's apt repository); Rocky and
    openSUSE hosts have the repository's version pre-installed, as the lab has no dnf or zypper to install it.
    """
    if not 0 <= n <= MAX_EXTRA_HOSTS:
        raise ValueError(f"--hosts must be between 0 and {MAX_EXTRA_HOSTS}, got {n}")
    out = []
    for i in range(1, n + 1):
        os_key = EXTRA_OS[(i - 1) % len(EXTRA_OS)]
        alloy = None if os_key in DEBIAN_FAMILY else REPO_ALLOY_VERSION
        out.append(HostSpec(f"batch-{i:03d}", 20 + i, os_key, "none", alloy))
    return tuple(out)


def lab_hosts(extra: int = 0) -> tuple[HostSpec, ...]:
    """The starting fleet plus `extra` batch hosts."""
    return HOSTS + extra_hosts(extra)


GONE_INSTANCE = "old-01"  # a host that no longer exists: only history written with past timestamps


def lab_dir() -> Path:
    """`$FLEETUI_LAB_DIR`, else `<fleetui state dir>/lab`."""
    env = os.environ.get(LAB_DIR_ENV)
    if env:
        return Path(env).absolute()
    from fleetui.config import default_state_dir

    return default_state_dir() / "lab"
