"""OS detection from `/etc/os-release` and `uname`: pure parsing (unit-testable per distribution) plus
`detect_host`, the two read-only commands the pipeline runs."""

from __future__ import annotations

import dataclasses
import shlex
from typing import TYPE_CHECKING

from fleetui.deploy.install import parse_alloy_version
from fleetui.domain.host import ARCH_MAP, HostFacts, InputError, OsFamily

if TYPE_CHECKING:
    from fleetui.adapters.ssh import HostSession

_FAMILIES: dict[str, OsFamily] = {
    "debian": OsFamily.DEBIAN,
    "ubuntu": OsFamily.DEBIAN,
    "raspbian": OsFamily.DEBIAN,
    "rhel": OsFamily.RHEL,
    "centos": OsFamily.RHEL,
    "fedora": OsFamily.RHEL,
    "rocky": OsFamily.RHEL,
    "almalinux": OsFamily.RHEL,
    "amzn": OsFamily.RHEL,
    "ol": OsFamily.RHEL,
    "suse": OsFamily.SUSE,
    "sles": OsFamily.SUSE,
    "sled": OsFamily.SUSE,
    "opensuse": OsFamily.SUSE,
}


class UnsupportedOs(InputError):
    """The host runs an OS fleetui cannot enroll; nothing was changed on it."""


def parse_os_release(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, raw = line.partition("=")
        if not sep or not key.strip() or key.lstrip().startswith("#"):
            continue
        try:
            words = shlex.split(raw)
        except ValueError:
            words = [raw.strip().strip("\"'")]
        out[key.strip()] = words[0] if words else ""
    return out


def family_of(uname_s: str, os_release: dict[str, str]) -> OsFamily:
    kernel = uname_s.strip()
    if kernel == "Darwin":
        return OsFamily.DARWIN
    if kernel != "Linux":
        what = "Windows" if not kernel or "windows" in kernel.lower() or "MINGW" in kernel else kernel
        raise UnsupportedOs(f"{what} is not supported (fleetui enrolls Linux and macOS hosts); nothing was changed")
    ids = [os_release.get("ID", "").lower(), *os_release.get("ID_LIKE", "").lower().split()]
    for i in ids:
        fam = _FAMILIES.get(i) or (OsFamily.SUSE if i.startswith("opensuse") else None)
        if fam is not None:
            return fam
    name = os_release.get("PRETTY_NAME") or os_release.get("ID") or "this Linux distribution"
    raise UnsupportedOs(f"{name} is not supported (debian, rhel and suse families only); nothing was changed")


def map_arch(machine: str) -> str:
    m = machine.strip()
    if m not in ARCH_MAP:
        raise UnsupportedOs(f"architecture {m or '?'} is not supported (Alloy ships amd64 and arm64 packages)")
    return ARCH_MAP[m]


def parse_detect(out: str) -> tuple[str, str, str, dict[str, str], str | None] | None:
    """(kernel, nodename, machine, os-release, Alloy version or None) from remote_scripts.DETECT's output; None
    when the output is not the script's (a host whose shell is not sh: the caller asks command by command)."""
    lines = out.splitlines()
    try:
        begin, end = lines.index("fleetui-os-release-begin"), lines.index("fleetui-os-release-end")
    except ValueError:
        return None
    words = lines[0].split() if begin == 1 else []
    rc_line = next((ln for ln in reversed(lines) if ln.startswith("fleetui-version-rc ")), None)
    if len(words) < 3 or words[0] != "Linux" or rc_line is None:
        return None
    version_out = "\n".join(lines[end + 1 : lines.index(rc_line)])
    version = parse_alloy_version(version_out) if rc_line.split()[1] == "0" else None
    return words[0], words[1], words[-1], parse_os_release("\n".join(lines[begin + 1 : end])), version


def parse_uid(out: str) -> str | None:
    """The login's uid from remote_scripts.DETECT's output (its last marked line), None when absent."""
    line = next((ln for ln in reversed(out.splitlines()) if ln.startswith("fleetui-uid ")), None)
    uid = line.split(" ", 1)[1].strip() if line else ""
    return uid if uid.isdigit() else None


async def detect_host(session: HostSession) -> HostFacts:
    """Family, version, architecture, nodename and installed Alloy version of the host. Changes nothing.
    One round trip on a Linux host (remote_scripts.DETECT); otherwise command by command."""
    from fleetui.deploy import remote_scripts
    from fleetui.deploy.platform import platform_for

    one = await session.run(["sh", "-c", remote_scripts.DETECT, "detect", "alloy"], check=False)
    found = parse_detect(one.stdout) if one.ok else None
    uid = parse_uid(one.stdout) if one.ok else None
    if uid is not None:
        session.learn_uid(uid)  # whether sudo is needed, without an `id -u` of its own
    if found is not None:
        kernel, nodename, machine, release, version = found
        family = family_of(kernel, release)
        facts = HostFacts(family, release.get("ID", ""), release.get("VERSION_ID", ""), map_arch(machine), nodename)
        if platform_for(facts).alloy_bin == "alloy":
            return dataclasses.replace(facts, alloy_version=version)
        v = await session.run([platform_for(facts).alloy_bin, "--version"], check=False)
        return dataclasses.replace(facts, alloy_version=parse_alloy_version(v.stdout + v.stderr) if v.ok else None)
    r = await session.run(["uname", "-snm"], check=False)
    words = r.stdout.split()
    if not r.ok or len(words) < 3:
        family_of("", {})  # raises: a host without uname is Windows (or worse)
    kernel, nodename, machine = words[0], words[1], words[-1]
    osr: dict[str, str] = {}
    if kernel == "Linux":
        text = await session.read_file("/etc/os-release")
        osr = parse_os_release((text or b"").decode("utf-8", "replace"))
    family = family_of(kernel, osr)
    arch = map_arch(machine)
    os_id = osr.get("ID", "macos" if family is OsFamily.DARWIN else "")
    facts = HostFacts(family, os_id, osr.get("VERSION_ID", ""), arch, nodename)
    v = await session.run([platform_for(facts).alloy_bin, "--version"], check=False)
    version = parse_alloy_version(v.stdout + v.stderr) if v.ok else None
    return HostFacts(family, os_id, facts.version_id, arch, nodename, version)
