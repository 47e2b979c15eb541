"""The enrollment pipeline: one ordered list of steps, one event stream, rollback, plan as a dry run.

Read top to bottom, this is seed 004 Part 4's list: connect → detect → install → render (+ offline check) →
upload → validate on the host → swap → restart/reload → ready → target file → Prometheus reload → verify up.
`Enrollment.run()` is an async generator of `StepEvent`s, so the wizard, the batch screen and the CLI render the
same stream; `result` is set when it ends. A batch runs many of these at once with a shared `HostLocks`.

Idempotence: render reads what is on the host and in the targets dir first; a step whose input is unchanged
reports `skipped`, so re-enrolling an unchanged host changes nothing. Safety: swap, restart and ready run as one
detached on-host script (remote_scripts.APPLY) that restores the old config itself on failure or when we lose
the connection, and a failure in a later step (target, reload, verify) runs the rollback script and restores
the previous target file.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import re
import secrets as _secrets
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from fleetui.adapters.ssh import (
    CommandFailed,
    HostSession,
    OnUnknownKey,
    SshError,
    SshTarget,
    connect_with_settings,
)
from fleetui.adapters.targets import TargetStore, TargetStoreError, open_store
from fleetui.config import Settings
from fleetui.deploy import remote_scripts
from fleetui.deploy.detect import detect_host
from fleetui.deploy.events import STEPS, OperationResult, StepEvent, StepStatus
from fleetui.deploy.install import LOCK_RE, Cmd, PutFile, RepoUrls, has_validate, install_steps, parse_alloy_version
from fleetui.deploy.locks import HostLocks
from fleetui.deploy.platform import Platform, platform_for
from fleetui.deploy.render import POSTGRES_DSN_ENV, Rendered, RenderInput, render_host
from fleetui.domain.fleet import Mode
from fleetui.domain.host import EnrollRequest, HostFacts, InputError, OsFamily

LOCK_RETRY_S = 300.0
READY_TIMEOUT_S = 60
_SECRET_LINE = re.compile(rf"^({POSTGRES_DSN_ENV})=.*$", re.MULTILINE)


class StepFailed(Exception):
    def __init__(self, message: str, *, rolled_back: bool = False, detail: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.rolled_back = rolled_back
        self.detail = dict(detail or {})


@dataclass(frozen=True)
class Outcome:
    status: StepStatus
    message: str
    detail: Mapping[str, Any] = field(default_factory=dict)


def _done(message: str, **detail: Any) -> Outcome:
    return Outcome(StepStatus.DONE, message, detail)


def _skipped(message: str, **detail: Any) -> Outcome:
    return Outcome(StepStatus.SKIPPED, message, detail)


def mask_env(text: str | None) -> str | None:
    """An env file with secret values replaced, for diffs and plans."""
    return None if text is None else _SECRET_LINE.sub(r'\1="********"', text)


def unified(old: str | None, new: str | None, name: str) -> str:
    return "".join(
        difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            (new or "").splitlines(keepends=True),
            fromfile=f"{name} (current)" if old is not None else "/dev/null",
            tofile=f"{name} (new)" if new is not None else "/dev/null",
        )
    )


def resolve_secrets(request: EnrollRequest, environ: Mapping[str, str]) -> dict[str, str]:
    """Read the secrets the request names (e.g. the postgres DSN's env var) from the local environment."""
    out: dict[str, str] = {}
    for s in request.services:
        if s.name == "postgres":
            var = s.get("dsn_env")
            val = environ.get(var)
            if not val:
                raise InputError(f"--service postgres: environment variable {var} (dsn_env) is not set")
            if "\n" in val or "\r" in val or "\x00" in val:
                raise InputError(f"--service postgres: {var} must hold a one-line DSN")
            out[POSTGRES_DSN_ENV] = val
    return out


class Enrollment:
    """One enrollment (or its plan, with `dry_run=True`) of one host. Iterate `run()`; then read `result`."""

    def __init__(
        self,
        request: EnrollRequest,
        settings: Settings,
        *,
        password: str | None = None,
        secrets: Mapping[str, str] | None = None,
        on_unknown_key: OnUnknownKey | None = None,
        locks: HostLocks | None = None,
        dry_run: bool = False,
    ) -> None:
        self.req = request
        self.settings = settings
        self._password = password
        self._secrets = dict(secrets or {})
        self._on_unknown_key = on_unknown_key
        self._locks = locks or HostLocks()
        self.dry_run = dry_run
        self.session: HostSession | None = None
        self.result: OperationResult | None = None
        self.events: list[StepEvent] = []
        # state gathered along the way
        self.facts: HostFacts | None = None
        self.platform: Platform | None = None
        self.rendered: Rendered | None = None
        self.store: TargetStore | None = None
        self.installed_now = False
        self.was_active = False
        self.config_changed = self.env_changed = self.target_changed = False
        self.action = "none"
        self.swapped = False
        self.old_target: str | None = None
        self.target_written = False
        self._status_path = ""
        self._status_lines: list[str] = []
        self._staged: list[str] = []
        self.plan: dict[str, Any] = {}
        self._changed_at: float | None = None  # unix time of the last change: Alloy ready, or target written

    @property
    def host(self) -> str:
        return self.req.address

    def _event(
        self,
        step: str,
        status: StepStatus,
        message: str = "",
        elapsed: float = 0.0,
        detail: Mapping[str, Any] | None = None,
    ) -> StepEvent:
        ev = StepEvent(self.host, step, status, message, elapsed, dict(detail or {}))
        self.events.append(ev)
        return ev

    async def run(self) -> AsyncIterator[StepEvent]:
        started = time.monotonic()
        failed_step: str | None = None
        error: str | None = None
        rolled_back = False
        async with self._locks.lock_for(self.req.address, self.req.port), contextlib.AsyncExitStack() as stack:
            self._stack = stack
            for name in STEPS:
                t0 = time.monotonic()
                yield self._event(name, StepStatus.STARTED)
                try:
                    outcome = await getattr(self, f"_step_{name}")()
                except (StepFailed, SshError, TargetStoreError, InputError, OSError) as e:
                    failed_step, error = name, _one_line(e)
                    rolled_back = isinstance(e, StepFailed) and e.rolled_back
                    detail = e.detail if isinstance(e, StepFailed) else {"error": type(e).__name__}
                    yield self._event(name, StepStatus.FAILED, error, time.monotonic() - t0, detail)
                    break
                except Exception as e:  # a bug must still leave the host as it was
                    failed_step, error = name, f"internal error: {type(e).__name__}: {_one_line(e)}"
                    yield self._event(name, StepStatus.FAILED, error, time.monotonic() - t0, {"error": "internal"})
                    break
                yield self._event(name, outcome.status, outcome.message, time.monotonic() - t0, outcome.detail)
            if failed_step is not None and not self.dry_run and not rolled_back and self._needs_rollback():
                t0 = time.monotonic()
                yield self._event("rollback", StepStatus.STARTED)
                try:
                    msg = await self._rollback()
                    rolled_back = True
                    yield self._event("rollback", StepStatus.DONE, msg, time.monotonic() - t0)
                except Exception as e:
                    yield self._event("rollback", StepStatus.FAILED, _one_line(e), time.monotonic() - t0)
            await self._cleanup_staging()
        changed = (
            not self.dry_run
            and failed_step is None
            and (self.installed_now or self.config_changed or self.env_changed or self.target_changed or self.swapped)
        )
        self.result = OperationResult(
            host=self.host,
            operation="plan" if self.dry_run else "enroll",
            ok=failed_step is None,
            changed=bool(changed),
            elapsed_s=time.monotonic() - started,
            events=tuple(self.events),
            failed_step=failed_step,
            error=error,
            rolled_back=rolled_back,
            summary=self._summary(),
        )

    def _summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"address": self.req.address, "mode": self.req.mode.value}
        if self.facts:
            f = self.facts
            out.update(nodename=f.nodename, os=f.os_id, family=f.family.value, arch=f.arch, alloy=f.alloy_version)
        if self.rendered:
            out.update(target=self.rendered.listen_addr, metrics_path=self.rendered.metrics_path)
        if self.dry_run:
            out["plan"] = self.plan
        return out

    # --- steps -------------------------------------------------------------------------------------------

    def _s(self) -> HostSession:
        assert self.session is not None
        return self.session

    async def _step_connect(self) -> Outcome:
        self.session = await self._stack.enter_async_context(
            connect_with_settings(
                self.settings,
                SshTarget(self.req.address, self.req.port, self.req.user),
                identity_file=self.req.identity_file,
                password=self._password,
                on_unknown_key=self._on_unknown_key,
            )
        )
        self.req = self.req.resolved(self.session.resolved_host)
        root = await self.session.is_root()
        return _done(f"connected to {self.session.route.display}", root=root)

    async def _step_detect(self) -> Outcome:
        s = self._s()
        self.facts = f = await detect_host(s)
        self.platform = platform_for(f)
        if f.family is not OsFamily.DARWIN:
            await s.sudo_prefix()  # fail now, before changing anything, when sudo needs a password we lack
        msg = f"{f.os_id} {f.version_id} ({f.family.value}, {f.arch}), nodename {f.nodename}"
        return _done(
            msg,
            family=f.family.value,
            os=f.os_id,
            version=f.version_id,
            arch=f.arch,
            nodename=f.nodename,
            alloy=f.alloy_version,
        )

    async def _step_install(self) -> Outcome:
        assert self.facts is not None
        if self.facts.alloy_version:
            return _skipped(f"alloy v{self.facts.alloy_version} is installed", version=self.facts.alloy_version)
        steps = install_steps(self.facts.family, RepoUrls.from_settings(self.settings))
        described = [st.describe() for st in steps]
        self.plan["install"] = described
        if self.dry_run:
            return _skipped("plan: alloy is not installed; would run the install commands", commands=described)
        s = self._s()
        for st in steps:
            if isinstance(st, PutFile):
                await s.write_file_atomic(st.path, st.content.encode(), st.mode)
            else:
                await self._run_install_cmd(st)
        assert self.platform is not None
        v = await s.run([self.platform.alloy_bin, "--version"], check=False)
        version = parse_alloy_version(v.stdout + v.stderr) if v.ok else None
        if version is None:
            raise StepFailed("the install commands finished but `alloy --version` still fails")
        self.facts = HostFacts(**{**self.facts.__dict__, "alloy_version": version})
        self.installed_now = True
        return _done(f"installed alloy v{version}", version=version, commands=described)

    async def _run_install_cmd(self, cmd: Cmd) -> None:
        deadline = time.monotonic() + LOCK_RETRY_S
        while True:
            r = await self._s().run(cmd.argv, sudo=cmd.sudo, check=False)
            if r.ok:
                return
            if cmd.lock_retry and LOCK_RE.search(r.stderr + r.stdout) and time.monotonic() < deadline:
                await asyncio.sleep(5)
                continue
            raise CommandFailed(cmd.describe(), r)

    async def _step_render(self) -> Outcome:
        from fleetui.alloy.syntax import check

        assert self.facts is not None and self.platform is not None
        f, p, s = self.facts, self.platform, self._s()
        inp = RenderInput(
            address=self.req.target_address,
            nodename=f.nodename,
            family=f.family,
            mode=self.req.mode,
            alloy_port=int(self.settings["alloy.port"]),
            remote_write_url=self.settings.remote_write_url,
            services=self.req.services,
            labels=self.req.labels,
            loki_url=_loki_url(self.settings),
            config_path=p.config_path,
        )
        self.rendered = r = render_host(inp, self._secrets)
        diags = check(r.config, p.config_path)
        if diags:
            raise StepFailed(
                f"the rendered config does not parse (a template bug): {diags[0]}",
                detail={"diagnostics": [str(d) for d in diags]},
            )
        current = await s.read_file(p.config_path)
        current_env = await s.read_file(p.env_path) if p.env_path else None
        self.store = await self._stack.enter_async_context(open_store(self.settings, self._on_unknown_key))
        self.old_target = await self.store.read(self.req.name)
        active = await s.run(p.is_active, check=False)
        self.was_active = active.ok
        cur_text = None if current is None else current.decode("utf-8", "replace")
        env_text = None if current_env is None else current_env.decode("utf-8", "replace")
        self.config_changed = cur_text != r.config
        self.env_changed = r.env_file is not None and env_text != r.env_file
        self.target_changed = self.old_target != r.target_json
        detail = {
            "config_changed": self.config_changed,
            "env_changed": self.env_changed,
            "target_changed": self.target_changed,
            "service_active": self.was_active,
            "config_lines": r.config.count("\n"),
        }
        self.plan.update(
            config_diff=unified(cur_text, r.config, p.config_path),
            env_diff=unified(mask_env(env_text), r.env_file_masked, p.env_path or "env"),
            target_diff=unified(self.old_target, r.target_json, f"{self.settings['targets.dir']}/{self.req.name}.json"),
        )
        changed = [
            n
            for n, c in (
                ("config", self.config_changed),
                ("env file", self.env_changed),
                ("target file", self.target_changed),
            )
            if c
        ]
        msg = f"config passes the offline check; changed: {', '.join(changed) if changed else 'nothing'}"
        return _done(msg, **detail)

    async def _step_upload(self) -> Outcome:
        assert self.rendered is not None and self.platform is not None
        if not (self.config_changed or self.env_changed):
            return _skipped("config and environment file unchanged")
        if self.dry_run:
            return _skipped("plan: would upload the new config to a temp path")
        s, p, r = self._s(), self.platform, self.rendered
        if self.config_changed:
            await s.write_file_atomic(p.staging_path, r.config.encode(), 0o644)
            self._staged.append(p.staging_path)
        if self.env_changed and p.env_path and r.env_file is not None:
            await s.write_file_atomic(p.env_path + ".fleetui-new", r.env_file.encode(), 0o600)
            self._staged.append(p.env_path + ".fleetui-new")
        return _done(f"uploaded {', '.join(self._staged)}", paths=list(self._staged))

    async def _step_validate(self) -> Outcome:
        assert self.facts is not None and self.platform is not None
        if not self.config_changed:
            return _skipped("config unchanged")
        version = self.facts.alloy_version
        sub = "validate" if has_validate(version) else "fmt"
        if self.dry_run:
            return _skipped(f"plan: would run `alloy {sub}` on the new config")
        # sudo: /etc/alloy is root:alloy 0770 after the package install
        r = await self._s().run([self.platform.alloy_bin, sub, self.platform.staging_path], sudo=True, check=False)
        if not r.ok:
            lines = [ln for ln in (r.stderr + "\n" + r.stdout).splitlines() if ln.strip()]
            raise StepFailed(
                f"`alloy {sub}` rejected the new config; the old config is still in place: "
                + (lines[0] if lines else f"exit {r.exit_status}"),
                detail={"output": lines[:20], "exit_status": r.exit_status},
            )
        return _done(f"`alloy {sub}` accepts the new config", command=sub)

    async def _step_swap(self) -> Outcome:
        assert self.platform is not None and self.rendered is not None
        if self.config_changed or self.env_changed:
            self.action = "restart" if (self.env_changed or not self.was_active or self.installed_now) else "reload"
        elif not self.was_active:
            self.action = "restart"
        else:
            self.action = "none"
        if self.dry_run:
            verb = {
                "none": "nothing to do",
                "reload": "would swap the config and reload Alloy",
                "restart": "would swap the files and restart Alloy",
            }[self.action]
            self.plan["action"] = self.action
            return _skipped(f"plan: {verb}")
        if self.action == "none":
            return _skipped("unchanged; Alloy is running")
        await self._launch_apply()
        line = await self._wait_for("swap")
        self.swapped = self.config_changed or self.env_changed
        return _done(
            "new files in place (old ones kept as .fleetui-bak)" if self.swapped else "files unchanged",
            status_line=line,
        )

    async def _step_restart(self) -> Outcome:
        if self.dry_run or self.action == "none":
            return _skipped("plan: see swap" if self.dry_run else "unchanged; no restart")
        await self._wait_for("restart")
        return _done("restarted Alloy" if self.action == "restart" else "Alloy reloaded its config", action=self.action)

    async def _step_ready(self) -> Outcome:
        if self.dry_run or self.action == "none":
            return _skipped("plan: see swap" if self.dry_run else "unchanged")
        await self._wait_for("ready")
        self._changed_at = time.time()  # only scrapes after Alloy answered with the new config count
        assert self.rendered is not None
        return _done(f"Alloy is ready and serves {self.rendered.metrics_path}")

    async def _step_target(self) -> Outcome:
        assert self.rendered is not None and self.store is not None
        if not self.target_changed:
            return _skipped("target file unchanged", file=f"{self.req.name}.json")
        if self.dry_run:
            return _skipped(f"plan: would write {self.req.name}.json in {self.store.location}")
        self._changed_at = time.time()
        await self.store.write(self.req.name, self.rendered.target_json)
        self.target_written = True
        return _done(f"wrote {self.req.name}.json in {self.store.location}", file=f"{self.req.name}.json")

    async def _step_reload(self) -> Outcome:
        if not self.target_changed:
            return _skipped("target file unchanged; no reload needed")
        if self.dry_run:
            return _skipped("plan: would POST /-/reload to Prometheus")
        await _prometheus_reload(self.settings)
        return _done("Prometheus reloaded")

    async def _step_verify(self) -> Outcome:
        if self.dry_run:
            return _skipped("plan: would wait until Prometheus reports the host up")
        assert self.rendered is not None and self.facts is not None
        timeout = float(self.settings["alloy.up_timeout"])
        unchanged = not (self.swapped or self.target_changed or self.action != "none")
        t0 = time.monotonic()
        # 1 s of slack for clock skew between this machine, Prometheus and the host
        since = None if unchanged or self._changed_at is None else self._changed_at - 1.0
        up, why = await _wait_up(self.settings, self.req.mode, self.rendered, self.facts.nodename, timeout, since)
        waited = time.monotonic() - t0
        if not up:
            raise StepFailed(f"Prometheus did not report the host up within {timeout:g}s ({why})")
        if unchanged:
            return _skipped(f"unchanged; Prometheus reports the host up ({why})")
        return _done(f"Prometheus reports the host up after {waited:.1f}s ({why})", waited_s=round(waited, 3))

    # --- the on-host transaction -------------------------------------------------------------------------

    async def _launch_apply(self) -> None:
        p, r = self.platform, self.rendered
        assert p is not None and r is not None
        # written by root on the host; random name; holds progress lines only, never a secret
        self._status_path = f"/var/tmp/fleetui-apply-{_secrets.token_hex(6)}.status"  # noqa: S108
        self._status_lines = []
        env_new = (p.env_path + ".fleetui-new") if (self.env_changed and p.env_path) else ""
        args = [
            self._status_path,
            p.config_path,
            p.staging_path if self.config_changed else "",
            p.backup_path,
            p.env_path or "",
            env_new,
            p.env_backup_path or "",
            self.action,
            "brew" if self.facts and self.facts.family is OsFamily.DARWIN else "systemd",
            f"http://{r.listen_addr}",
            r.metrics_path,
            "1" if self.was_active else "0",
            str(READY_TIMEOUT_S),
        ]
        await self._s().run(["sh", "-c", remote_scripts.LAUNCH, "launch", remote_scripts.APPLY, *args], sudo=True)
        self._staged = []  # the script owns (moves or removes) the staged files from here on

    async def _wait_for(self, step: str) -> str:
        deadline = time.monotonic() + READY_TIMEOUT_S + 30
        while time.monotonic() < deadline:
            r = await self._s().run(["cat", "--", self._status_path], check=False)
            lines = self._status_lines = r.stdout.splitlines()
            for ln in lines:
                if ln.startswith(f"step {step} done"):
                    return ln
                if ln.startswith("step ") and " failed " in ln:
                    failed_step, _, msg = ln[5:].partition(" failed ")
                    rolled = any(x.startswith("result rolledback") for x in lines)
                    if not rolled:
                        rolled = await self._wait_result()
                    raise StepFailed(
                        f"{msg} (in {failed_step}); the previous config was restored",
                        rolled_back=rolled,
                        detail={"status": lines},
                    )
                if ln.startswith("result busy"):
                    raise StepFailed(ln[len("result busy ") :])
            await asyncio.sleep(0.3)
        raise StepFailed(f"no progress from the on-host apply script within {READY_TIMEOUT_S + 30}s")

    async def _wait_result(self) -> bool:
        for _ in range(100):
            r = await self._s().run(["cat", "--", self._status_path], check=False)
            self._status_lines = r.stdout.splitlines()
            if "result rolledback" in r.stdout:
                return True
            await asyncio.sleep(0.3)
        return False

    def _needs_rollback(self) -> bool:
        return self.swapped or self.target_written  # staged files alone are just removed (_cleanup_staging)

    async def _rollback(self) -> str:
        done = []
        if self.target_written and self.store is not None:
            if self.old_target is None:
                await self.store.remove(self.req.name)
            else:
                await self.store.write(self.req.name, self.old_target)
            with contextlib.suppress(Exception):
                await _prometheus_reload(self.settings)
            done.append("target file restored")
        if self.swapped and self.platform is not None:
            p = self.platform
            args = [
                f"/var/tmp/fleetui-rollback-{_secrets.token_hex(6)}.status",  # noqa: S108
                p.config_path,
                p.backup_path if self.config_changed else "",
                p.env_path or "",
                (p.env_backup_path or "") if self.env_changed else "",
                "brew" if self.facts and self.facts.family is OsFamily.DARWIN else "systemd",
                "1" if self.was_active else "0",
            ]
            await self._s().run(["sh", "-c", remote_scripts.ROLLBACK, "rollback", *args], sudo=True)
            done.append("previous config restored and service put back as it was")
        return "; ".join(done) or "nothing to undo"

    async def _cleanup_staging(self) -> None:
        """Remove staged files the apply script did not take over, and its status file once it has finished."""
        leftovers = list(self._staged)
        if self._status_path and any(ln.startswith("result ") for ln in self._status_lines):
            leftovers.append(self._status_path)
        if leftovers and self.session is not None:
            with contextlib.suppress(Exception):
                await self.session.run(["rm", "-f", "--", *leftovers], sudo=True, check=False)
        self._staged = []


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _loki_url(settings: Settings) -> str | None:
    try:
        v = settings["loki.url"]
    except KeyError:
        return None
    return str(v) if v else None


async def _prometheus_reload(settings: Settings) -> None:
    from fleetui.adapters.prometheus import PrometheusClient, PrometheusError

    try:
        async with PrometheusClient(settings) as prom:
            await prom.reload()
    except PrometheusError as e:
        raise StepFailed(f"Prometheus reload failed: {_one_line(e)}") from None


def _promql_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


async def _wait_up(
    settings: Settings,
    mode: Mode,
    rendered: Rendered,
    nodename: str,
    timeout: float,  # noqa: ASYNC109
    since: float | None = None,
) -> tuple[bool, str]:
    """Poll Prometheus until the host is up: pull, its target's last scrape succeeded; push, the newest
    remote-written `up` is 1. With `since` (unix seconds) only a scrape/sample newer than that counts, so an
    old `up` from before this enrollment cannot pass for a new one."""
    from fleetui.adapters.prometheus import PrometheusClient, PrometheusError

    want = f"http://{rendered.listen_addr}{rendered.metrics_path}"
    sel = f'up{{instance={_promql_str(nodename)},job="node_exporter"}}'
    deadline = time.monotonic() + timeout
    why = "not scraped yet"
    async with PrometheusClient(settings) as prom:
        while True:
            try:
                if mode is Mode.PULL:
                    for t in await prom.targets():
                        if t.scrape_url == want:
                            why = f"target {t.health}" + (f": {t.last_error}" if t.last_error else "")
                            fresh = since is None or (t.last_scrape is not None and t.last_scrape >= since)
                            if t.health == "up" and fresh:
                                return True, f"target {want} is up"
                else:
                    q = f"({sel} == 1) and (timestamp({sel}) >= {since or 0:.3f})"
                    if await prom.query(q):
                        return True, f"up{{instance={nodename!r}}} arrives through remote_write"
                    why = "no fresh remote-written up == 1 yet"
            except PrometheusError as e:
                why = _one_line(e)
            if time.monotonic() >= deadline:
                return False, why
            await asyncio.sleep(1.0)
