"""The SSH layer against the lab's real sshd: host keys, key and password login, sudo, quoting, files, timeouts.

Hosts used (nobody else's tests enroll them): new-03 (root and `deploy`, key login, NOPASSWD sudo) and
new-02 (`ops`, password login, sudo asks for the password). Every test uses its own known_hosts file, so the
lab's shared one is never touched; expected fingerprints come from the host's own key via ssh-keygen.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from fleetui import lab as lab_mod
from fleetui.adapters.ssh import (
    AuthFailed,
    CommandTimeout,
    ConnectFailed,
    HostKeyChanged,
    HostKeyInfo,
    HostKeyUnknown,
    HostSession,
    SshAuth,
    SshTarget,
    SudoPasswordRequired,
    Timeouts,
    command_line,
)
from fleetui.deploy.detect import detect_host
from fleetui.domain.host import OsFamily

pytestmark = pytest.mark.lab

HOSTILE = [
    "; id #",
    "$(touch /tmp/fleetui-pwned)",
    "`id`",
    "a'b\"c",
    "${IFS}",
    "*",
    "-rf",
    "日本語 ✓",
    "x" * 3000,
    "tab\tx",
    "line1\nline2",
]


def fingerprint(host: str) -> str:
    out = lab_mod.host_exec(host, ["ssh-keygen", "-lf", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout
    return out.split()[1]


def trust_all(seen: list[HostKeyInfo]) -> Any:
    async def cb(info: HostKeyInfo) -> bool:
        seen.append(info)
        return True

    return cb


async def never(info: HostKeyInfo) -> bool:
    raise AssertionError(f"callback must not be called for a known host ({info})")


def _host(lab: Any, name: str) -> Any:
    return lab.host(name)


async def test_unknown_key_is_shown_to_the_callback_and_refused_without_trust(lab: Any, tmp_path: Path) -> None:
    h = _host(lab, "new-03")
    kh = tmp_path / "known_hosts"
    seen: list[HostKeyInfo] = []

    async def refuse(info: HostKeyInfo) -> bool:
        seen.append(info)
        return False

    with pytest.raises(HostKeyUnknown) as exc:
        async with HostSession.connect(SshTarget(h.address, h.ssh_port, "root"), SshAuth(h.identity_file), kh, refuse):
            pass
    fp = fingerprint("new-03")
    assert seen == [HostKeyInfo(h.address, h.ssh_port, "ssh-ed25519", fp)]
    assert fp in str(exc.value) and "--trust-host-key" in str(exc.value)
    assert not kh.exists()
    with pytest.raises(HostKeyUnknown):  # no callback at all: refused too
        async with HostSession.connect(SshTarget(h.address, h.ssh_port, "root"), SshAuth(h.identity_file), kh):
            pass


async def test_trusted_key_is_recorded_then_reused_without_asking(lab: Any, tmp_path: Path) -> None:
    h = _host(lab, "new-03")
    kh = tmp_path / "known_hosts"
    seen: list[HostKeyInfo] = []
    async with HostSession.connect(
        SshTarget(h.address, h.ssh_port, "root"), SshAuth(h.identity_file), kh, trust_all(seen)
    ) as s:
        assert (await s.run(["hostname"])).stdout.strip() == "new-03"
    assert len(seen) == 1
    line = kh.read_text().strip()
    assert line.startswith(f"[{h.address}]:{h.ssh_port} ssh-ed25519 ")
    assert oct(kh.stat().st_mode & 0o777) == "0o600"
    async with HostSession.connect(SshTarget(h.address, h.ssh_port, "root"), SshAuth(h.identity_file), kh, never) as s:
        assert (await s.run(["true"])).ok


async def test_changed_key_is_refused_naming_the_line(lab: Any, tmp_path: Path) -> None:
    h = _host(lab, "new-03")
    kh = tmp_path / "known_hosts"
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    kh.write_text(f"# fleetui\n[{h.address}]:{h.ssh_port} {other}\n")
    with pytest.raises(HostKeyChanged) as exc:
        async with HostSession.connect(SshTarget(h.address, h.ssh_port, "root"), SshAuth(h.identity_file), kh, never):
            pass
    assert f"{kh}:2" in str(exc.value) and fingerprint("new-03") in str(exc.value)
    assert "CHANGED" in str(exc.value)


def _root(lab: Any, tmp_path: Path, name: str = "new-03", user: str = "root", **auth: Any) -> Any:
    h = _host(lab, name)
    return HostSession.connect(
        SshTarget(h.address, h.ssh_port, user),
        SshAuth(**auth),
        tmp_path / "kh",
        trust_all([]),
        Timeouts(connect=10, command=30),
    )


async def test_hostile_words_arrive_verbatim_and_the_sent_strings_are_quoted(lab: Any, tmp_path: Path) -> None:
    h = _host(lab, "new-03")
    async with _root(lab, tmp_path, identity_file=h.identity_file) as s:
        for value in HOSTILE:
            r = await s.run(["printf", "%s", value])
            assert r.stdout == value
        assert s.sent[-len(HOSTILE) :] == [command_line(["printf", "%s", v]) for v in HOSTILE]
        assert (await s.run(["test", "-e", "/tmp/fleetui-pwned"], check=False)).exit_status == 1


async def test_key_user_with_nopasswd_sudo_writes_root_files_atomically(lab: Any, tmp_path: Path) -> None:
    h = _host(lab, "new-03")
    async with _root(lab, tmp_path, user=h.key_user, identity_file=h.identity_file) as s:
        assert not await s.is_root()
        assert await s.sudo_prefix() == ("sudo", "-n", "--")
        assert (await s.run(["id", "-u"], sudo=True)).stdout.strip() == "0"
        path = "/etc/fleetui-test-secret"
        await s.write_file_atomic(path, b'TOKEN="x"\n', 0o600)
        st = lab_mod.host_exec("new-03", ["stat", "-c", "%a %U", path]).stdout.split()
        assert st == ["600", "root"]
        assert await s.read_file(path) == b'TOKEN="x"\n'  # not readable by deploy: read through sudo
        assert await s.read_file("/etc/does-not-exist") is None
        assert "sudo -n -- install -m 600 -o root -g root --" in " ".join(s.sent)
        lab_mod.host_exec("new-03", ["rm", "-f", path])
        leftovers = lab_mod.host_exec(
            "new-03",
            ["sh", "-c", "ls -a /etc /tmp | grep 'fleetui-test-secret\\.fleetui-\\|^fleetui-[0-9a-f]*$' || true"],
        ).stdout
        assert leftovers.strip() == ""  # no staging file left next to the target or in /tmp


async def test_sudo_that_needs_a_password_we_lack_is_a_clear_error(lab: Any, tmp_path: Path) -> None:
    h = _host(lab, "new-03")
    rule = "/etc/sudoers.d/zz-fleetui-test"
    lab_mod.host_exec("new-03", ["sh", "-c", f"echo 'deploy ALL=(ALL) PASSWD: ALL' > {rule}; chmod 440 {rule}"])
    try:
        async with _root(lab, tmp_path, user=h.key_user, identity_file=h.identity_file) as s:
            with pytest.raises(SudoPasswordRequired, match="sudo needs a password; give --password-env"):
                await s.run(["true"], sudo=True)
    finally:
        lab_mod.host_exec("new-03", ["rm", "-f", rule])


async def test_password_login_and_sudo_with_the_password(lab: Any, tmp_path: Path) -> None:
    h = _host(lab, "new-02")
    password = h.password_file.read_text().strip()
    async with _root(lab, tmp_path, "new-02", h.ssh_password_user, password=password, use_agent=False) as s:
        assert (await s.run(["id", "-un"])).stdout.strip() == h.ssh_password_user
        assert (await s.run(["id", "-u"], sudo=True)).stdout.strip() == "0"
        r = await s.run(["cat"], sudo=True, input="payload\n")  # the password line is not in the command's stdin
        assert r.stdout == "payload\n"
        assert "sudo -S -k -p '' -- id -u" in s.sent
        assert all(password not in c for c in s.sent)


async def test_wrong_password_is_auth_failed(lab: Any, tmp_path: Path) -> None:
    h = _host(lab, "new-02")
    with pytest.raises(AuthFailed, match="authentication failed \\(password rejected\\)"):
        async with _root(lab, tmp_path, "new-02", h.ssh_password_user, password="wrong-password", use_agent=False):
            pass


async def test_http_get_stream_and_timeouts(lab: Any, tmp_path: Path) -> None:
    h = _host(lab, "new-03")
    async with _root(lab, tmp_path, identity_file=h.identity_file) as s:
        r = await s.http_get(f"{lab.prometheus}/-/ready")
        assert r.status == 200
        assert (await s.http_get(f"{lab.prometheus}/no-such-page")).status == 404
        lines = [ln async for ln in s.stream(["sh", "-c", "for i in 1 2 3; do echo line$i; done"])]
        assert lines == ["line1", "line2", "line3"]
        with pytest.raises(CommandTimeout, match=r"did not finish within 0\.5s"):
            await s.run(["sleep", "5"], timeout=0.5)
        assert (await s.run(["echo", "still usable"])).stdout == "still usable\n"


async def test_connect_failure_is_one_line(lab: Any, tmp_path: Path) -> None:
    h = _host(lab, "new-03")
    with pytest.raises(ConnectFailed, match="cannot connect"):
        async with HostSession.connect(
            SshTarget(h.address, 1, "root"),
            SshAuth(h.identity_file),
            tmp_path / "kh",
            trust_all([]),
            Timeouts(connect=5),
        ):
            pass


@pytest.mark.parametrize(
    ("name", "family", "os_id"),
    [
        ("new-01", OsFamily.DEBIAN, "debian"),
        ("new-02", OsFamily.DEBIAN, "ubuntu"),
        ("app-01", OsFamily.RHEL, "rocky"),
        ("build-01", OsFamily.SUSE, "opensuse-leap"),
    ],
)
async def test_os_detection_on_lab_hosts(lab: Any, tmp_path: Path, name: str, family: OsFamily, os_id: str) -> None:
    h = _host(lab, name)
    async with _root(lab, tmp_path, name, identity_file=h.identity_file) as s:
        facts = await asyncio.wait_for(detect_host(s), 30)
    assert (facts.family, facts.os_id, facts.nodename, facts.arch) == (family, os_id, name, "amd64")
    truth = lab_mod.host_exec(name, ["sh", "-c", "alloy --version 2>/dev/null | head -1"]).stdout
    assert facts.alloy_version == (truth.split()[2].lstrip("v") if truth else None)
