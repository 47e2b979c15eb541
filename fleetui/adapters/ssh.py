"""One SSH connection per host, reused for every step of an operation (asyncssh; no UI import).

Why it looks like this:
- Commands are argv lists joined with `shlex.quote` (`command_line`), never strings built from user input, so a
  label value or a path with `;` or `$(...)` can only ever reach a remote shell as one quoted word.
- Host keys live in fleetui's own known_hosts file. Checking is never switched off: an unknown key is trusted
  only when an async callback (the UI asks the operator, the CLI compares `--trust-host-key`) says so, after
  seeing the SHA256 fingerprint; a key that differs from the recorded one is refused with the file and line.
  asyncssh's `validate_host_public_key` hook is synchronous, so an unknown key fails the first handshake, the
  callback is awaited, and on trust the key is recorded and the connection made again (once per new host).
- sudo for a non-root login is probed once per session (`sudo -n true`): passwordless sudo uses `sudo -n`,
  otherwise `sudo -S -k` with the password on stdin (`-k` so a cached credential never lets the password line
  leak into the command's stdin); no password given -> `SudoPasswordRequired`.
- A host name may be an alias from the operator's OpenSSH client config (`ssh.config_file`, `~/.ssh/config`):
  `ssh_config.resolve_route` turns it into a `Route` (HostName, Port, User, IdentityFile, and the ProxyJump
  chain) before anything connects. Jump hosts are opened here, one by one, through the same host-key check as
  the target: asyncssh would open a ProxyJump itself with OpenSSH's known_hosts, trusting the bastion silently.
  Known-hosts entries use the address actually dialled (HostName and port), as OpenSSH does without
  HostKeyAlias, so an alias and its address share one entry.
- Every failure is a typed `SshError` whose `str()` is one readable line.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shlex
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import asyncssh

if TYPE_CHECKING:
    from fleetui.config import Settings

# --- errors --------------------------------------------------------------------------------------------------


class SshError(Exception):
    """Base of every SSH-layer error; `str(e)` is one line for a person."""


class ConnectFailed(SshError):
    pass


class ConnectionLost(ConnectFailed):
    """The connection dropped in the middle of an operation."""


class AuthFailed(SshError):
    pass


class SshConfigError(SshError):
    """The OpenSSH client config cannot be used for this host (unreadable, bad value, a ProxyJump loop)."""


class HostKeyUnknown(SshError):
    def __init__(self, info: HostKeyInfo) -> None:
        self.info = info
        super().__init__(
            f"host key of {info.describe} is not known: {info.key_type} {info.fingerprint} "
            f"(trust it with --trust-host-key {info.fingerprint} after checking it on that host)"
        )


class HostKeyChanged(SshError):
    def __init__(self, info: HostKeyInfo, known_hosts: Path, lines: Sequence[int]) -> None:
        self.info, self.known_hosts, self.lines = info, known_hosts, tuple(lines)
        where = ", ".join(f"{known_hosts}:{n}" for n in lines)
        super().__init__(
            f"HOST KEY CHANGED for {info.describe}: it now presents {info.key_type} {info.fingerprint}, "
            f"which does not match {where}; refusing to connect (remove that line only if the change is expected)"
        )


class CommandTimeout(SshError):
    pass


class CommandFailed(SshError):
    def __init__(self, command: str, result: CommandResult) -> None:
        self.command, self.result = command, result
        tail = (result.stderr.strip() or result.stdout.strip()).splitlines()
        why = tail[-1][:300] if tail else "no output"
        super().__init__(f"`{command[:120]}` exited {result.exit_status}: {why}")


class SudoPasswordRequired(SshError):
    def __init__(self, host: str) -> None:
        super().__init__(f"{host}: sudo needs a password; give --password-env")


# what asyncssh raises when the connection under an SFTP request is gone
_LOST_SFTP = (
    asyncssh.SFTPConnectionLost,
    asyncssh.SFTPNoConnection,
    asyncssh.ConnectionLost,
    asyncssh.DisconnectError,
    ConnectionError,
)


# --- value types ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SshTarget:
    """A host as the operator names it: an address or an ssh-config alias. `port`/`user` None: not given
    explicitly, so the ssh config's Port/User apply, else fleetui's `ssh.port`/`ssh.user` (OpenSSH's order)."""

    host: str
    port: int | None = None
    user: str | None = None
    # the operator's name for the host when `host` is only the way to it (a fleet row's instance, dialled at
    # the address Prometheus scrapes): a question about its key names it so, not by the address alone
    known_as: str | None = None

    @property
    def display(self) -> str:
        return f"{self.user + '@' if self.user else ''}{self.host}:{self.port or 22}"


@dataclass(frozen=True)
class Hop:
    """One SSH connection of a route, fully resolved: `host`/`port` are what is dialled (HostName), `name` is
    how it was asked for (an alias, a ProxyJump entry, or the address itself)."""

    name: str
    host: str
    port: int = 22
    user: str | None = None  # None: asyncssh's default, the local user name
    identity_files: tuple[Path, ...] = ()  # () : the agent and ~/.ssh's default keys
    known_as: str | None = None  # see SshTarget.known_as (the target hop only)

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def display(self) -> str:
        where = f"{self.user + '@' if self.user else ''}{self.address}"
        return where if self.name == self.host else f"{self.name} ({where})"

    @property
    def known_name(self) -> str | None:
        """How the operator knows this hop when that is not its address: the fleet's name for it (known_as) and
        the alias asked for, both when they differ ("raspberry-pi, ssh alias raspberry-4b": the row the operator
        chose, and the ssh-config entry that reaches it); None when it was asked for by its address alone."""
        alias = self.name if self.name != self.host else None
        if alias and self.known_as and self.known_as != alias:
            return f"{self.known_as}, ssh alias {alias}"
        return alias or self.known_as


@dataclass(frozen=True)
class Route:
    """How to reach a host: the jump hosts to pass through, first dialled first, then the target itself."""

    target: Hop
    jumps: tuple[Hop, ...] = ()

    @classmethod
    def direct(cls, target: SshTarget, identity_file: Path | None = None) -> Route:
        """No ssh config: the name is the address, port 22 unless given."""
        ident = (identity_file,) if identity_file is not None else ()
        return cls(Hop(target.host, target.host, target.port or 22, target.user, ident, target.known_as))

    @property
    def display(self) -> str:
        via = f" via {', '.join(j.display for j in self.jumps)}" if self.jumps else ""
        return self.target.display + via


@dataclass(frozen=True)
class SshAuth:
    identity_file: Path | None = None
    password: str | None = field(default=None, repr=False)  # also used for sudo -S
    use_agent: bool = True


# the public key file sshd keeps for each key type (OpenSSH's default names)
_KEY_FILES = {
    "ssh-ed25519": "ed25519",
    "ssh-rsa": "rsa",
    "rsa-sha2-256": "rsa",
    "rsa-sha2-512": "rsa",
    "ssh-dss": "dsa",
}


@dataclass(frozen=True)
class HostKeyInfo:
    """A key a server presented. `host`/`port` are the address dialled (what known_hosts records); `name` is
    the operator's name for it when that differs; `jump_for` names the host this one is a jump host for."""

    host: str
    port: int
    key_type: str
    fingerprint: str  # "SHA256:..."
    name: str | None = None
    jump_for: str | None = None

    @property
    def display(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def describe(self) -> str:
        """For messages and prompts: which host this is, in words."""
        text = self.display if not self.name or self.name == self.host else f"{self.name} ({self.display})"
        return f"jump host {text} on the way to {self.jump_for}" if self.jump_for else text

    @property
    def key_file(self) -> str:
        """Where sshd keeps the public key of this type: the file whose fingerprint the operator compares on the
        host (`ssh-keygen -lf` it). A type OpenSSH has no default file for gives a glob of them all."""
        kind = "ecdsa" if self.key_type.startswith("ecdsa-sha2-") else _KEY_FILES.get(self.key_type, "*")
        return f"/etc/ssh/ssh_host_{kind}_key.pub"


@dataclass(frozen=True)
class CommandResult:
    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


@dataclass(frozen=True)
class HttpResult:
    status: int  # 0 when the tool could not tell (wget), or the request failed
    body: str


OnUnknownKey = Callable[[HostKeyInfo], Awaitable[bool]]


@dataclass(frozen=True)
class Timeouts:
    connect: float = 15.0
    command: float = 300.0
    keepalive: float = 15.0


@contextlib.asynccontextmanager
async def connect_with_settings(
    settings: Settings,
    target: SshTarget,
    *,
    identity_file: Path | str | None = None,
    password: str | None = None,
    on_unknown_key: OnUnknownKey | None = None,
) -> AsyncIterator[HostSession]:
    """Open a session the way OpenSSH would, with fleetui's settings as the last fallback: explicit
    port/user/`identity_file` > the ssh config (`ssh.config_file`) > `ssh.port`/`ssh.user`/`ssh.identity_file`.
    fleetui's known_hosts file and timeouts apply to every hop. Enrollment, retirement and the SFTP target store
    all connect this way, so a host is reached the same way whichever operation asks."""
    from fleetui.adapters.ssh_config import route_for

    route = route_for(settings, target, identity_file=identity_file)
    async with HostSession.connect(
        route,
        SshAuth(None, password),
        settings.known_hosts,
        on_unknown_key,
        Timeouts(connect=float(settings["ssh.connect_timeout"]), command=float(settings["ssh.command_timeout"])),
    ) as session:
        yield session


def command_line(argv: Sequence[str], sudo_prefix: Sequence[str] = ()) -> str:
    """The exact string sent to the remote shell: every word shell-quoted. Pure, so tests can assert on it."""
    words = [*sudo_prefix, *argv]
    if not words:
        raise ValueError("empty command")
    for w in words:
        if not isinstance(w, str):
            raise TypeError(f"argv items must be str, got {type(w).__name__}")
        if "\x00" in w:
            raise ValueError("a NUL byte cannot be passed in a command")
    return " ".join(shlex.quote(w) for w in words)


# --- known_hosts ---------------------------------------------------------------------------------------------


def host_token(host: str, port: int) -> str:
    """How OpenSSH writes a host in known_hosts: `host` on 22, `[host]:port` otherwise."""
    return host if port == 22 else f"[{host}]:{port}"


class KnownHosts:
    """fleetui's own known_hosts file, in OpenSSH format (only plain, unhashed entries are written)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self, host: str, port: int) -> list[tuple[int, asyncssh.SSHKey]]:
        """(line number, key) for every line naming this host:port."""
        token = host_token(host, port)
        out: list[tuple[int, asyncssh.SSHKey]] = []
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return out
        for n, line in enumerate(text.splitlines(), 1):
            parts = line.split()
            if len(parts) < 3 or line.lstrip().startswith("#") or parts[0].startswith("@"):
                continue
            if token not in parts[0].split(","):
                continue
            with contextlib.suppress(asyncssh.KeyImportError, ValueError):
                out.append((n, asyncssh.import_public_key(f"{parts[1]} {parts[2]}")))
        return out

    def add(self, host: str, port: int, key: asyncssh.SSHKey) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = f"{host_token(host, port)} {key.export_public_key('openssh').decode().strip()}\n"
        with self.path.open("a") as f:
            f.write(line)
        self.path.chmod(0o600)


class _Client(asyncssh.SSHClient):
    """Records the key a server presented when it is not among the trusted ones, and rejects it."""

    def __init__(self) -> None:
        self.rejected_key: asyncssh.SSHKey | None = None

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        self.rejected_key = key
        return False


def _key_info(hop: Hop, key: asyncssh.SSHKey, jump_of: Route | None = None) -> HostKeyInfo:
    return HostKeyInfo(
        hop.host,
        hop.port,
        key.get_algorithm(),
        key.get_fingerprint("sha256"),
        hop.known_name,
        (jump_of.target.known_name or jump_of.target.name) if jump_of else None,
    )


# --- the session ---------------------------------------------------------------------------------------------


class HostSession:
    """An open connection to one host. Use `async with HostSession.connect(...) as s:`.

    `name` is the operator's name for the host (an alias stays an alias: events and results use it);
    `resolved_host`/`resolved_port` are where the connection really went after the ssh config (HostName),
    which is what Alloy listens on and what Prometheus' target names.
    """

    def __init__(
        self,
        conn: asyncssh.SSHClientConnection,
        route: Route,
        auth: SshAuth,
        timeouts: Timeouts,
        jumps: Sequence[asyncssh.SSHClientConnection] = (),
    ) -> None:
        self._conn = conn
        self._jumps = list(jumps)
        self.route = route
        self.name = route.target.name
        self.resolved_host = route.target.host
        self.resolved_port = route.target.port
        self.resolved_user: str = conn.get_extra_info("username") or route.target.user or ""
        # `target.host` is used in every error message below: the operator's name
        self.target = SshTarget(route.target.name, route.target.port, route.target.user, route.target.known_as)
        self._auth = auth
        self.timeouts = timeouts
        self._sudo_prefix: tuple[str, ...] | None = None
        self._is_root: bool | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        # every command string sent, in order (tests assert that hostile input only ever arrives quoted)
        self.sent: list[str] = []

    # -- connecting --

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls,
        target: SshTarget | Route,
        auth: SshAuth,
        known_hosts: Path,
        on_unknown_key: OnUnknownKey | None = None,
        timeouts: Timeouts | None = None,
    ) -> AsyncIterator[HostSession]:
        """Connect to `target` (an address, taken as is, or a resolved `Route` with its jump hosts)."""
        t = timeouts or Timeouts()
        route = target if isinstance(target, Route) else Route.direct(target, auth.identity_file)
        conn, jumps = await _open_route(route, auth, KnownHosts(known_hosts), on_unknown_key, t)
        session = cls(conn, route, auth, t, jumps)
        try:
            yield session
        finally:
            await session.close()

    def abort(self) -> None:
        """Drop the connection at once, as a network cut would (cancel buttons, and tests of a cut)."""
        self._conn.abort()
        for j in self._jumps:
            j.abort()

    async def close(self) -> None:
        if self._sftp is not None:
            self._sftp.exit()
            self._sftp = None
        for conn in [self._conn, *reversed(self._jumps)]:  # the target first: it runs inside the jumps
            conn.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 5)

    # -- commands --

    def learn_uid(self, uid: str) -> None:
        """The login's uid, as a script that ran anyway printed it (detection): `is_root` needs no `id -u`."""
        if self._is_root is None:
            self._is_root = uid.strip() == "0"

    async def is_root(self) -> bool:
        if self._is_root is None:
            r = await self._exec(command_line(["id", "-u"]), None, self.timeouts.command)
            self._is_root = r.stdout.strip() == "0"
        return self._is_root

    async def sudo_prefix(self) -> tuple[str, ...]:
        """() for root, `sudo -n --` for passwordless sudo, `sudo -S -k -p '' --` with a password."""
        if self._sudo_prefix is None:
            if await self.is_root():
                self._sudo_prefix = ()
            else:
                probe = await self._exec(command_line(["sudo", "-n", "true"]), None, self.timeouts.command)
                if probe.ok:
                    self._sudo_prefix = ("sudo", "-n", "--")
                elif self._auth.password is None:
                    raise SudoPasswordRequired(self.target.host)
                else:
                    prefix = ("sudo", "-S", "-k", "-p", "", "--")
                    check = await self._exec(
                        command_line(["true"], prefix), self._auth.password + "\n", self.timeouts.command
                    )
                    if not check.ok:
                        raise AuthFailed(
                            f"{self.target.host}: sudo rejected the password "
                            f"({check.stderr.strip()[:120] or 'exit ' + str(check.exit_status)})"
                        )
                    self._sudo_prefix = prefix
        return self._sudo_prefix

    async def _prepare(self, argv: Sequence[str], sudo: bool, input: str | None) -> tuple[str, str | None]:
        prefix = await self.sudo_prefix() if sudo else ()
        cmd = command_line(argv, prefix)
        if "-S" in prefix:
            input = (self._auth.password or "") + "\n" + (input or "")
        return cmd, input

    async def run(
        self,
        argv: Sequence[str],
        *,
        sudo: bool = False,
        input: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - per-command limit passed to asyncssh, not a wrapper
        check: bool = True,
    ) -> CommandResult:
        """Run argv (quoted word by word); raise CommandFailed on non-zero exit when `check`."""
        cmd, stdin = await self._prepare(argv, sudo, input)
        result = await self._exec(cmd, stdin, timeout or self.timeouts.command)
        if check and not result.ok:
            raise CommandFailed(command_line(argv), result)
        return result

    async def _exec(self, cmd: str, stdin: str | None, timeout: float) -> CommandResult:  # noqa: ASYNC109
        self.sent.append(cmd)
        try:
            r = await self._conn.run(cmd, input=stdin, check=False, timeout=timeout, errors="replace")
        except asyncssh.TimeoutError:
            raise CommandTimeout(f"{self.target.host}: `{cmd[:120]}` did not finish within {timeout:g}s") from None
        except (asyncssh.ConnectionLost, asyncssh.DisconnectError, BrokenPipeError, ConnectionError) as e:
            raise ConnectionLost(f"{self.target.host}: connection lost while running `{cmd[:80]}`: {e}") from None
        except asyncssh.ChannelOpenError as e:
            raise ConnectionLost(f"{self.target.host}: cannot open a channel: {e.reason}") from None
        if r.exit_status is None and r.exit_signal is None:
            # the channel closed without an exit status: the connection was cut, the command's fate is unknown
            raise ConnectionLost(f"{self.target.host}: connection lost while running `{cmd[:80]}`")
        status = r.exit_status if r.exit_status is not None else 255
        return CommandResult(status, _text(r.stdout), _text(r.stderr))

    async def stream(self, argv: Sequence[str], *, sudo: bool = False) -> AsyncIterator[str]:
        """Lines of a long-running command's stdout (`journalctl -u alloy -f`); closing the iterator stops it."""
        cmd, stdin = await self._prepare(argv, sudo, None)
        self.sent.append(cmd)
        try:
            async with self._conn.create_process(cmd, errors="replace") as proc:
                if stdin:
                    proc.stdin.write(stdin)
                async for line in proc.stdout:
                    if not line:  # EOF marker, not an empty line (that would be "\n")
                        break
                    yield line.rstrip("\r\n")
        except (asyncssh.ConnectionLost, asyncssh.DisconnectError, ConnectionError) as e:
            raise ConnectionLost(f"{self.target.host}: connection lost while streaming `{cmd[:80]}`: {e}") from None

    async def stream_bytes(
        self, argv: Sequence[str], *, sudo: bool = False, chunk_size: int = 1 << 16
    ) -> AsyncIterator[bytes]:
        """Raw stdout of a long-running command in chunks of up to `chunk_size` bytes (`journalctl -f`).

        For readers that split lines themselves: `stream` hands out one line per await, which at 50,000 lines
        a second costs more than the rest of a log pipeline. Closing the iterator closes the channel (without
        waiting: a following journalctl only notices when it next writes). A non-zero exit raises
        CommandFailed with the command's stderr; a cut connection, or a channel closed without an exit status,
        raises ConnectionLost.
        """
        cmd, stdin = await self._prepare(argv, sudo, None)
        self.sent.append(cmd)
        host = self.target.host
        try:
            proc = await self._conn.create_process(cmd, encoding=None)
        except (asyncssh.ConnectionLost, asyncssh.DisconnectError, ConnectionError) as e:
            raise ConnectionLost(f"{host}: connection lost while starting `{argv[0]}`: {e}") from None
        except asyncssh.ChannelOpenError as e:
            raise ConnectionLost(f"{host}: cannot open a channel: {e.reason}") from None
        try:
            if stdin:
                proc.stdin.write(stdin.encode())
            while True:
                chunk = await proc.stdout.read(chunk_size)
                if not chunk:
                    break
                yield chunk
            result = await proc.wait()
        except (asyncssh.ConnectionLost, asyncssh.DisconnectError, ConnectionError, BrokenPipeError) as e:
            raise ConnectionLost(f"{host}: connection lost while reading from `{argv[0]}`: {e}") from None
        finally:
            proc.close()
        if result.exit_status is None:  # killed by a signal or the channel closed under it: treat as a cut
            raise ConnectionLost(f"{host}: the connection closed before `{argv[0]}` exited")
        if result.exit_status != 0:
            err = result.stderr if isinstance(result.stderr, bytes) else b""
            raise CommandFailed(command_line(argv), CommandResult(result.exit_status, "", _text(err)))

    # -- files --

    async def sftp(self) -> asyncssh.SFTPClient:
        if self._sftp is None:
            try:
                self._sftp = await self._conn.start_sftp_client()
            except (asyncssh.ConnectionLost, asyncssh.DisconnectError, ConnectionError) as e:
                raise ConnectionLost(f"{self.target.host}: connection lost starting SFTP: {e}") from None
            except asyncssh.ChannelOpenError as e:
                if self._conn.is_closed():
                    raise ConnectionLost(f"{self.target.host}: connection lost starting SFTP") from None
                raise ConnectFailed(f"{self.target.host}: SFTP is not available: {e.reason}") from None
        return self._sftp

    async def read_file(self, path: str) -> bytes | None:
        """The file's bytes, or None when it does not exist (read with sudo when the login cannot)."""
        sftp = await self.sftp()
        try:
            async with sftp.open(path, "rb") as f:
                data: bytes = await f.read()
                return data
        except asyncssh.SFTPNoSuchFile:
            return None
        except asyncssh.SFTPPermissionDenied:
            pass
        except _LOST_SFTP as e:
            raise ConnectionLost(f"{self.target.host}: connection lost reading {path}: {e}") from None
        r = await self.run(["cat", "--", path], sudo=True, check=False)
        if not r.ok:
            if "No such file" in r.stderr:
                return None
            raise CommandFailed(command_line(["cat", "--", path]), r)
        return r.stdout.encode()

    async def _put(self, path: str, data: bytes, mode: int) -> None:
        sftp = await self.sftp()
        try:
            async with sftp.open(path, "xb", asyncssh.SFTPAttrs(permissions=mode)) as f:
                await f.write(data)
            await sftp.chmod(path, mode)
        except asyncssh.SFTPPermissionDenied:
            raise CommandFailed(f"sftp put {path}", CommandResult(1, "", "permission denied")) from None
        except _LOST_SFTP as e:
            raise ConnectionLost(f"{self.target.host}: connection lost writing {path}: {e}") from None

    async def write_file_atomic(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Write `path` so readers see the old or the new file, never half of one.

        Root: SFTP to a hidden temp file in the same directory, then rename over the target. Non-root: SFTP to
        a private temp file in /tmp, `sudo install` it next to the target, `sudo mv` it into place.
        """
        p = PurePosixPath(path)
        tmp_name = f".{p.name}.fleetui-{secrets.token_hex(4)}"
        if await self.is_root():
            tmp = str(p.parent / tmp_name)
            await self._put(tmp, data, mode)
            try:
                await self.run(["mv", "-f", "--", tmp, path])
            except SshError:
                await self.run(["rm", "-f", "--", tmp], check=False)
                raise
            return
        # random name, created exclusively with mode 0600 by SFTP (O_EXCL), removed in `finally`
        staging = f"/tmp/fleetui-{secrets.token_hex(8)}"  # noqa: S108
        await self._put(staging, data, 0o600)
        try:
            side = str(p.parent / tmp_name)
            await self.run(["install", "-m", f"{mode:o}", "-o", "root", "-g", "root", "--", staging, side], sudo=True)
            await self.run(["mv", "-f", "--", side, path], sudo=True)
        finally:
            await self.run(["rm", "-f", "--", staging], check=False)

    async def http_get(self, url: str, timeout: float = 5.0) -> HttpResult:  # noqa: ASYNC109
        """GET a URL from the host itself (curl, else wget, else python3), e.g. Alloy's /-/ready on loopback."""
        t = f"{timeout:g}"
        r = await self.run(["curl", "-sS", "-m", t, "-o", "-", "-w", "\n%{http_code}", "--", url], check=False)
        if r.exit_status != 127:
            body, _, code = r.stdout.rpartition("\n")
            return HttpResult(int(code) if code.isdigit() else 0, body)
        r = await self.run(["wget", "-q", "-T", t, "-O", "-", "--", url], check=False)
        if r.exit_status != 127:
            return HttpResult(200 if r.ok else 0, r.stdout)
        script = (
            "import sys,urllib.request as u,urllib.error as e\n"
            "try:\n r=u.urlopen(sys.argv[1],timeout=float(sys.argv[2]));c=r.status;b=r.read()\n"
            "except e.HTTPError as x:\n c=x.code;b=x.read()\n"
            "except Exception:\n c=0;b=b''\n"
            "sys.stdout.write(b.decode('utf-8','replace')+'\\n'+str(c))"
        )
        r = await self.run(["python3", "-c", script, url, t], check=False)
        body, _, code = r.stdout.rpartition("\n")
        return HttpResult(int(code) if code.isdigit() else 0, body)


def _text(v: Any) -> str:
    if v is None:
        return ""
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


async def _open_route(
    route: Route, auth: SshAuth, kh: KnownHosts, on_unknown_key: OnUnknownKey | None, t: Timeouts
) -> tuple[asyncssh.SSHClientConnection, list[asyncssh.SSHClientConnection]]:
    """Open every jump host in turn (each through the previous one), then the target through the last.

    Each hop passes the same host-key check against fleetui's known_hosts; the password (SSH and sudo) is only
    ever offered to the target. On any failure the hops opened so far are closed again.
    """
    jumps: list[asyncssh.SSHClientConnection] = []
    try:
        for hop in route.jumps:
            jump_auth = SshAuth(None, None, auth.use_agent)
            jumps.append(await _open(hop, jump_auth, kh, on_unknown_key, t, jumps[-1] if jumps else None, route))
        conn = await _open(route.target, auth, kh, on_unknown_key, t, jumps[-1] if jumps else None, None, route)
    except BaseException:
        for j in reversed(jumps):
            j.abort()
        raise
    return conn, jumps


async def _open(
    hop: Hop,
    auth: SshAuth,
    kh: KnownHosts,
    on_unknown_key: OnUnknownKey | None,
    t: Timeouts,
    tunnel: asyncssh.SSHClientConnection | None,
    jump_of: Route | None,
    route: Route | None = None,
) -> asyncssh.SSHClientConnection:
    """One hop. `jump_of` is the route this hop is a jump host of (None: this is the target, of `route`)."""
    if jump_of is not None:
        what = f"jump host {hop.display} (on the way to {jump_of.target.name})"
    else:
        what = route.display if route is not None else hop.display
    for attempt in range(2):
        trusted = [k for _, k in kh.entries(hop.host, hop.port)]
        client = _Client()
        opts: dict[str, Any] = {
            "port": hop.port,
            "known_hosts": (trusted, [], []),
            "server_host_key_algs": "default",  # keep all algorithms so a changed key *type* is seen too
            "connect_timeout": t.connect,
            "keepalive_interval": t.keepalive,
            "keepalive_count_max": 3,
            "password": auth.password,
            # everything the ssh config says was resolved into `hop` already: asyncssh must not read it again
            # (it would open a ProxyJump itself, checking the bastion's key against OpenSSH's known_hosts)
            "config": None,
            "proxy_command": None,
        }
        if tunnel is not None:
            opts["tunnel"] = tunnel
        if hop.user:
            opts["username"] = hop.user
        if hop.identity_files:
            opts["client_keys"] = [str(p) for p in hop.identity_files]
        if not auth.use_agent:
            opts["agent_path"] = None
        started = time.monotonic()
        try:
            conn = await asyncssh.connect(
                hop.host,
                client_factory=lambda c=client: c,
                **opts,
            )
            return conn
        except asyncssh.HostKeyNotVerifiable:
            key = client.rejected_key
            if key is None:
                raise ConnectFailed(f"{what}: host key could not be verified") from None
            info = _key_info(hop, key, jump_of)
            known = kh.entries(hop.host, hop.port)
            if known:
                raise HostKeyChanged(info, kh.path, [n for n, _ in known]) from None
            if attempt == 0 and on_unknown_key is not None and await on_unknown_key(info):
                kh.add(hop.host, hop.port, key)
                continue
            raise HostKeyUnknown(info) from None
        except asyncssh.PermissionDenied:
            how = "password" if auth.password else "key/agent"
            raise AuthFailed(f"{what}: authentication failed ({how} rejected)") from None
        except TimeoutError:
            raise ConnectFailed(f"{what}: no SSH answer within {t.connect:g}s") from None
        except asyncssh.ChannelOpenError as e:  # the jump host would not (or could not) forward to this hop
            raise ConnectFailed(f"{what}: the jump host could not connect onwards: {e.reason}") from None
        except asyncssh.DisconnectError as e:
            raise ConnectFailed(f"{what}: SSH refused: {e.reason}") from None
        except OSError as e:
            waited = time.monotonic() - started
            raise ConnectFailed(f"{what}: cannot connect ({e.strerror or e}) after {waited:.1f}s") from None
    raise ConnectFailed(f"{what}: host key was trusted but the server presented another one")


def trust_exactly(fingerprint: str | Iterable[str] | None) -> OnUnknownKey:
    """The CLI's callback: trust an unknown key only when its fingerprint is one given with `--trust-host-key`
    (one fingerprint, or several: a jump host's and the target's)."""
    wanted = {fingerprint} if isinstance(fingerprint, str) else set(fingerprint or ())

    async def decide(info: HostKeyInfo) -> bool:
        return info.fingerprint in wanted

    return decide
