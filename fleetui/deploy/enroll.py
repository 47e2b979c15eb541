"""Enrollment as an operation for the runner: connect → detect → install → render (+ offline check) → upload →
validate on the host → swap → restart/reload → ready → target file → Prometheus reload → verify up.

`plan` is the same operation run with `dry_run=True`: the runner calls the steps' `plan` methods, which say what
`apply` would do. Idempotence: render reads what is on the host and in the targets dir first; a step whose
input is unchanged is `skipped`, so re-enrolling an unchanged host changes nothing.

Safety: install, and swap + restart + ready, run as detached on-host scripts (remote_scripts) that finish on
their own if the connection drops — the apply script restores the old files itself when Alloy does not come
up. When a later step fails, or the run is cancelled or loses its connection, `undo` puts the previous target
file back and runs the on-host rollback — only after reading which config is live, so a file someone else
wrote is never overwritten. `observe` then reads the host back: config and env file hashes, the service
state, the Alloy version and the target file, which is what the result reports.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fleetui.adapters.ssh import (
    HostSession,
    OnUnknownKey,
    SshError,
    command_line,
)
from fleetui.adapters.targets import TargetStore, TargetStoreError, open_store
from fleetui.config import Settings
from fleetui.deploy import onhost, remote_scripts
from fleetui.deploy.decisions import (
    Action,
    Phase,
    ScriptStatus,
    StepVerdict,
    Version,
    apply_news,
    apply_verdict,
    choose_action,
    first_line,
    item_state,
    undo_config,
    which_version,
)
from fleetui.deploy.detect import detect_host
from fleetui.deploy.diffs import mask_env, unified
from fleetui.deploy.events import Change, ChangeState
from fleetui.deploy.install import LOCK_RE, Cmd, PutFile, RepoUrls, has_validate, install_steps, parse_alloy_version
from fleetui.deploy.operation import (
    Observation,
    Outcome,
    Step,
    StepContext,
    StepFailed,
    connect_request,
    done,
    planned,
    skipped,
)
from fleetui.deploy.platform import Platform, platform_for
from fleetui.deploy.render import POSTGRES_DSN_ENV, Rendered, RenderInput, check_services, render_host
from fleetui.deploy.verify import check_credentials, prometheus_reload, wait_up
from fleetui.domain.host import EnrollRequest, HostFacts, InputError, OsFamily

READY_TIMEOUT_S = 60  # the apply script's own wait for /-/ready
APPLY_TIMEOUT_S = READY_TIMEOUT_S + 30.0  # how long we follow it (restart, ready and its own rollback included)
INSTALL_TIMEOUT_S = 900.0  # package installs on slow mirrors; the lock retries alone may take 300 s


def _sha(data: str | bytes | None) -> str:
    """sha256 hex of a file's content as the host's `sha256sum` prints it; "none" for an absent file."""
    if data is None:
        return "none"
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def resolve_secrets(request: EnrollRequest, environ: Mapping[str, str]) -> dict[str, str]:
    """Read the secrets the request names (the postgres DSN's env var) from the local environment."""
    out: dict[str, str] = {}
    for s in request.services:
        if s.name == "postgres":
            var = s.get("dsn_env")
            val = environ.get(var)
            if not val:
                raise InputError(f"postgres: environment variable {var} (dsn_env) is not set", "services")
            if "\n" in val or "\r" in val or "\x00" in val:
                raise InputError(f"postgres: {var} must hold a one-line DSN", "services")
            out[POSTGRES_DSN_ENV] = val
    return out


def check_enroll(request: EnrollRequest, settings: Settings, secrets: Mapping[str, str], password: str | None) -> None:
    """Everything about an enrollment that can be checked without the host, so bad input (InputError, keyed by
    field) or configuration (ConfigError) is refused before any connection, by enroll and plan alike."""
    check_services(request.services, request.mode, None, settings["loki.url"])
    if any(s.name == "postgres" for s in request.services) and not secrets.get(POSTGRES_DSN_ENV):
        var = next(s.get("dsn_env") for s in request.services if s.name == "postgres")
        raise InputError(f"postgres: environment variable {var} (dsn_env) is not set", "services")
    if request.password_env and password is None:
        raise InputError(f"environment variable {request.password_env} is not set", "password_env")
    RepoUrls.from_settings(settings)
    check_credentials(settings)


def enroll_operation(
    request: EnrollRequest,
    settings: Settings,
    *,
    password: str | None = None,
    secrets: Mapping[str, str] | None = None,
    on_unknown_key: OnUnknownKey | None = None,
    known_as: str | None = None,
) -> EnrollOperation:
    """An enrollment of `request`'s host for a `Runner` (a plan with `dry_run=True`). Raises InputError /
    ConfigError when the input cannot work, before anything connects. `known_as`: see EnrollOperation."""
    check_enroll(request, settings, secrets or {}, password)
    return EnrollOperation(
        request, settings, password=password, secrets=secrets, on_unknown_key=on_unknown_key, known_as=known_as
    )


class EnrollOperation:
    kind = "enroll"

    def __init__(
        self,
        request: EnrollRequest,
        settings: Settings,
        *,
        password: str | None = None,
        secrets: Mapping[str, str] | None = None,
        on_unknown_key: OnUnknownKey | None = None,
        known_as: str | None = None,
    ) -> None:
        self.req = request
        self.settings = settings
        self.host = request.address
        self.lock_key = (request.address, request.port)
        self._password = password
        self._secrets = dict(secrets or {})
        self._on_unknown_key = on_unknown_key
        # the fleet row the run is for, when `request.address` is only the way to it (a push fix: an address
        # typed for a row, a re-enroll of a row): a question about the host's key names it (SshTarget.known_as)
        self.known_as = known_as
        # what the steps find and decide
        self.facts: HostFacts | None = None
        self.platform: Platform | None = None
        self.rendered: Rendered | None = None
        self.store: TargetStore | None = None
        self.installed_now = False
        self.was_active = False
        self.config_before: bytes | None = None
        self.env_before: bytes | None = None
        self.old_target: str | None = None
        self.config_changed = self.env_changed = self.target_changed = False
        self.action = Action.NONE
        self.plan: dict[str, Any] = {}
        self._changed_at: float | None = None  # unix time of the last change: Alloy ready, or target written
        # what the run sent to the host (so it must be read back) and what it knows it changed
        self.touched: set[str] = set()  # "package" | "config" | "target"
        self.changed: set[str] = set()
        self.staged: list[str] = []
        self.install_status = self.apply_status = self.rollback_status = ""
        self._launched_at: dict[str, float] = {}
        self._seen: dict[str, set[str]] = {}
        self._steps = (
            Step("connect", self._connect),
            Step("detect", self._detect),
            Step("install", self._install, plan=self._plan_install, settle=self._settle_install),
            Step("render", self._render),
            Step("upload", self._upload, plan=self._plan_upload),
            Step("validate", self._validate, plan=self._plan_validate),
            Step("swap", self._swap, plan=self._plan_swap, settle=self._settle_apply, undo=self._undo_apply),
            Step("restart", self._restart, plan=self._plan_later, settle=self._settle_apply),
            Step("ready", self._ready, plan=self._plan_later, settle=self._settle_apply),
            Step("target", self._target, plan=self._plan_target, undo=self._undo_target),
            Step("reload", self._reload, plan=self._plan_reload),
            Step("verify", self._verify, plan=self._plan_verify),
        )

    @property
    def steps(self) -> Sequence[Step]:
        return self._steps

    def connect(self) -> AbstractAsyncContextManager[HostSession]:
        return connect_request(self.settings, self.req, self._password, self._on_unknown_key, known_as=self.known_as)

    def summary(self, *, dry_run: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"address": self.req.address, "mode": self.req.mode.value}
        if self.facts:
            f = self.facts
            out.update(nodename=f.nodename, os=f.os_id, family=f.family.value, arch=f.arch, alloy=f.alloy_version)
        if self.rendered:
            out.update(target=self.rendered.listen_addr, metrics_path=self.rendered.metrics_path)
        if dry_run:
            out["plan"] = self.plan
        return out

    def _p(self) -> Platform:
        assert self.platform is not None
        return self.platform

    def _r(self) -> Rendered:
        assert self.rendered is not None
        return self.rendered

    # --- connect, detect, install ------------------------------------------------------------------------

    async def _connect(self, ctx: StepContext) -> Outcome:
        s = await ctx.session()
        # an ssh-config alias: Alloy listens on, and the target file is named after, where it really leads
        self.req = self.req.resolved(s.resolved_host)
        # no command here: detection (the next step) also tells whether the login is root, in the same round trip
        return done(f"connected to {s.route.display}")

    async def _detect(self, ctx: StepContext) -> Outcome:
        s = await ctx.session()
        self.facts = f = await detect_host(s)
        self.platform = platform_for(f)
        check_services(self.req.services, self.req.mode, f.family, self.settings["loki.url"])
        if f.family is not OsFamily.DARWIN:
            await s.sudo_prefix()  # fail now, before changing anything, when sudo needs a password we lack
        msg = f"{f.os_id} {f.version_id} ({f.family.value}, {f.arch}), nodename {f.nodename}"
        return done(
            msg,
            family=f.family.value,
            os=f.os_id,
            version=f.version_id,
            arch=f.arch,
            nodename=f.nodename,
            alloy=f.alloy_version,
        )

    def _install_commands(self) -> list[str]:
        assert self.facts is not None
        described = [st.describe() for st in install_steps(self.facts.family, RepoUrls.from_settings(self.settings))]
        self.plan["install"] = described
        return described

    async def _plan_install(self, ctx: StepContext) -> Outcome:
        assert self.facts is not None
        if self.facts.alloy_version:
            return skipped(f"alloy v{self.facts.alloy_version} is installed", version=self.facts.alloy_version)
        return planned("alloy is not installed; would run the install commands", commands=self._install_commands())

    async def _install(self, ctx: StepContext) -> Outcome:
        assert self.facts is not None
        if self.facts.alloy_version:
            return skipped(f"alloy v{self.facts.alloy_version} is installed", version=self.facts.alloy_version)
        described = self._install_commands()
        steps = install_steps(self.facts.family, RepoUrls.from_settings(self.settings))
        args: list[str] = []
        for st in steps:
            if isinstance(st, PutFile):
                put = ["sh", "-c", remote_scripts.PUT_FILE, "put", st.path, st.content, f"{st.mode:o}"]
                args += ["run", command_line(put)]
            else:
                args += ["runlock" if st.lock_retry else "run", command_line(st.argv)]
        args += ["version", command_line([self._p().alloy_bin, "--version"])]  # read once the install is done
        sudo = any(isinstance(st, Cmd) and st.sudo for st in steps)
        s = await ctx.session()
        self.install_status = ctx.status_file("install", with_log=True)
        self.touched.add("package")
        self._launched_at["install"] = time.monotonic()
        await onhost.launch(
            s, remote_scripts.INSTALL, "fleetui-install", [self.install_status, LOCK_RE.pattern, *args], sudo=sudo
        )

        async def news(line: str) -> None:
            n, _, rest = line[5:].partition(" ")
            what = described[int(n) - 1] if n.isdigit() and 0 < int(n) <= len(described) else n
            await ctx.progress(f"{rest}: {what}")

        status = await onhost.follow(
            s,
            self.install_status,
            lambda st: False,
            timeout_s=INSTALL_TIMEOUT_S,
            news=news,
            seen=self._seen.setdefault(self.install_status, set()),
        )
        if status.result != "ok":
            why = next((ln[5:] for ln in status.lines if " failed " in ln), status.result or "no result")
            raise StepFailed(f"installing Alloy failed: {why}", detail={"status": list(status.lines)})
        said = next((ln.split(" ", 1)[1] for ln in status.lines if ln.startswith("alloy-version ")), "")
        version = parse_alloy_version(said) or await self._alloy_version(s)
        if version is None:
            raise StepFailed("the install commands finished but `alloy --version` still fails")
        self.facts = dataclasses.replace(self.facts, alloy_version=version)
        self.installed_now = True
        self.changed.add("package")
        return done(f"installed alloy v{version}", version=version, commands=described)

    async def _alloy_version(self, s: HostSession) -> str | None:
        v = await s.run([self._p().alloy_bin, "--version"], check=False)
        return parse_alloy_version(v.stdout + v.stderr) if v.ok else None

    async def _settle_install(self, ctx: StepContext) -> str:
        if not self.install_status:
            return "the install had not started: nothing was installed"
        status, phase = await self._wait_script(ctx, "install", self.install_status, INSTALL_TIMEOUT_S)
        if phase is Phase.NOT_STARTED:
            return "the install never started on the host"
        if phase is Phase.RUNNING:
            return f"the install is still running on the host ({self.install_status})"
        return f"the install on the host had finished (result {status.result})"

    async def _wait_script(
        self, ctx: StepContext, kind: str, path: str, timeout_s: float
    ) -> tuple[ScriptStatus, Phase]:
        s = await ctx.session()
        status, phase = await onhost.wait_finished(s, path, self._launched_at.get(kind, 0.0), timeout_s=timeout_s)
        if phase is Phase.RUNNING:
            ctx.unresolved.add(path)
        else:
            ctx.unresolved.discard(path)
        return status, phase

    # --- render, upload, validate -----------------------------------------------------------------------

    async def _render(self, ctx: StepContext) -> Outcome:
        from fleetui.alloy.syntax import check

        assert self.facts is not None
        f, p, s = self.facts, self._p(), await ctx.session()
        inp = RenderInput(
            address=self.req.target_address,  # what Prometheus scrapes (the alias' HostName)
            nodename=f.nodename,
            family=f.family,
            mode=self.req.mode,
            alloy_port=int(self.settings["alloy.port"]),
            remote_write_url=self.settings.remote_write_url,
            services=self.req.services,
            labels=self.req.labels,
            loki_url=self.settings["loki.url"],
            config_path=p.config_path,
        )
        self.rendered = r = render_host(inp, self._secrets)
        diags = check(r.config, p.config_path)
        if diags:
            raise StepFailed(
                f"the rendered config does not parse (a template bug): {diags[0]}",
                detail={"diagnostics": [str(d) for d in diags]},
            )
        paths = [p.config_path, *([p.env_path] if p.env_path else [])]
        one = None
        if p.is_active[:2] == ("systemctl", "is-active"):
            one = await onhost.read_files(s, p.is_active[2], paths)  # one round trip instead of three
        if one is not None:
            (found, self.was_active) = one
            self.config_before = found[p.config_path]
            self.env_before = found[p.env_path] if p.env_path else None
        else:
            self.config_before = await s.read_file(p.config_path)
            self.env_before = await s.read_file(p.env_path) if p.env_path else None
            self.was_active = (await s.run(p.is_active, check=False)).ok
        self.store = await ctx.stack.enter_async_context(open_store(self.settings, self._on_unknown_key))
        self.old_target = await self.store.read(self.req.name)
        cur_text = None if self.config_before is None else self.config_before.decode("utf-8", "replace")
        env_text = None if self.env_before is None else self.env_before.decode("utf-8", "replace")
        self.config_changed = cur_text != r.config
        self.env_changed = r.env_file is not None and env_text != r.env_file
        self.target_changed = self.old_target != r.target_json
        self.plan.update(
            config_diff=unified(cur_text, r.config, p.config_path),
            env_diff=unified(mask_env(env_text), r.env_file_masked, p.env_path or "env"),
            target_diff=unified(self.old_target, r.target_json, f"{self.settings['targets.dir']}/{self.req.name}.json"),
        )
        what = [
            n
            for n, c in (
                ("config", self.config_changed),
                ("env file", self.env_changed),
                ("target file", self.target_changed),
            )
            if c
        ]
        return done(
            f"config passes the offline check; changed: {', '.join(what) if what else 'nothing'}",
            config_changed=self.config_changed,
            env_changed=self.env_changed,
            target_changed=self.target_changed,
            service_active=self.was_active,
            config_lines=r.config.count("\n"),
        )

    def _staged_config(self, ctx: StepContext) -> str:
        return f"{self._p().staging_path}.{ctx.token}"  # not ending in .alloy: a directory CONFIG_FILE ignores it

    def _staged_env(self, ctx: StepContext) -> str:
        return f"{self._p().env_path}.fleetui-new.{ctx.token}"

    async def _plan_upload(self, ctx: StepContext) -> Outcome:
        if not (self.config_changed or self.env_changed):
            return skipped("config and environment file unchanged")
        return planned("would upload the new files next to the live ones, to check them before the swap")

    async def _upload(self, ctx: StepContext) -> Outcome:
        if not (self.config_changed or self.env_changed):
            return skipped("config and environment file unchanged")
        s, p, r = await ctx.session(), self._p(), self._r()
        # through stdin, never argv; the file is created 0600 and only then given its mode
        files = []
        if self.config_changed:
            files.append((self._staged_config(ctx), r.config, "644"))
        if self.env_changed and p.env_path and r.env_file is not None:
            files.append((self._staged_env(ctx), r.env_file, "600"))
        for path, _, _ in files:
            ctx.track(path)
            self.staged.append(path)
        if len(files) == 2 and self.facts is not None and self.facts.family is not OsFamily.DARWIN:
            (p1, t1, m1), (p2, t2, m2) = files  # one round trip for both
            args = [str(len(t1.encode())), p1, m1, p2, m2]
            await s.run(["sh", "-c", remote_scripts.UPLOAD_TWO, "upload", *args], sudo=True, input=t1 + t2)
        else:
            for path, text, mode in files:
                await s.run(["sh", "-c", remote_scripts.UPLOAD, "upload", path, mode], sudo=True, input=text)
        return done(f"uploaded {', '.join(self.staged)}", paths=list(self.staged))

    def _validator(self) -> str:
        assert self.facts is not None
        return "validate" if has_validate(self.facts.alloy_version) else "fmt"

    async def _plan_validate(self, ctx: StepContext) -> Outcome:
        if not self.config_changed:
            return skipped("config unchanged")
        assert self.facts is not None
        if not self.facts.alloy_version:  # installed by this run: its version decides the check
            return planned(
                "would run `alloy validate` on the new config (`alloy fmt` if the Alloy installed predates v1.9)"
            )
        return planned(f"would run `alloy {self._validator()}` on the new config")

    async def _validate(self, ctx: StepContext) -> Outcome:
        if not self.config_changed:
            return skipped("config unchanged")
        sub = self._validator()
        # sudo: /etc/alloy is root:alloy 0770 after the package install
        r = await (await ctx.session()).run(
            [self._p().alloy_bin, sub, self._staged_config(ctx)], sudo=True, check=False
        )
        if not r.ok:
            lines = [ln for ln in (r.stderr + "\n" + r.stdout).splitlines() if ln.strip()]
            raise StepFailed(
                f"`alloy {sub}` rejected the new config; the old config is still in place: "
                + (lines[0] if lines else f"exit {r.exit_status}"),
                detail={"output": lines[:20], "exit_status": r.exit_status},
            )
        return done(f"`alloy {sub}` accepts the new config", command=sub)

    # --- swap, restart, ready: the on-host apply script --------------------------------------------------

    def _decide_action(self) -> Action:
        self.action = choose_action(
            config_changed=self.config_changed,
            env_changed=self.env_changed,
            was_active=self.was_active,
            installed_now=self.installed_now,
        )
        self.plan["action"] = self.action.value
        return self.action

    async def _plan_swap(self, ctx: StepContext) -> Outcome:
        action = self._decide_action()
        if action is Action.NONE:
            return skipped("unchanged; Alloy is running")
        verb = {Action.RELOAD: "swap the config and reload Alloy", Action.RESTART: "swap the files and restart Alloy"}
        return planned(f"would {verb[action]}")

    async def _plan_later(self, ctx: StepContext) -> Outcome:
        if self.action is Action.NONE:
            return skipped("unchanged")
        return planned("see swap")

    async def _swap(self, ctx: StepContext) -> Outcome:
        if self._decide_action() is Action.NONE:
            return skipped("unchanged; Alloy is running")
        p, r, s = self._p(), self._r(), await ctx.session()
        self.apply_status = st = ctx.status_file("apply")
        for path in self.staged:
            ctx.track(path, owner=st)  # the script moves or removes them from here on
        args = [
            st,
            p.config_path,
            self._staged_config(ctx) if self.config_changed else "",
            p.backup_path,
            p.env_path or "",
            self._staged_env(ctx) if (self.env_changed and p.env_path) else "",
            p.env_backup_path or "",
            self.action.value,
            "brew" if self.facts and self.facts.family is OsFamily.DARWIN else "systemd",
            f"http://{r.listen_addr}",
            r.metrics_path,
            "1" if self.was_active else "0",
            str(READY_TIMEOUT_S),
        ]
        self.touched.add("config")
        self._launched_at["apply"] = time.monotonic()
        await onhost.launch(s, remote_scripts.APPLY, "fleetui-apply", args, sudo=True)
        await ctx.progress("started the on-host apply script")
        line = await self._follow_apply(ctx, "swap")
        return done("new files in place (old ones kept as .fleetui-bak)", status_line=line)

    async def _follow_apply(self, ctx: StepContext, step: str) -> str:
        s = await ctx.session()
        status = await onhost.follow(
            s,
            self.apply_status,
            lambda st: apply_verdict(st, step) is not StepVerdict.WAITING,
            timeout_s=APPLY_TIMEOUT_S,
            news=lambda line: ctx.progress(apply_news(line)),
            seen=self._seen.setdefault(self.apply_status, set()),
        )
        if status.done("swap"):
            self.changed.add("config")
        if apply_verdict(status, step) is StepVerdict.DONE:
            return next(ln for ln in status.lines if ln.startswith(f"step {step} done"))
        if status.result is None:  # a step failed: the script is restoring the old files; see it through
            status = await onhost.follow(s, self.apply_status, lambda st: False, timeout_s=APPLY_TIMEOUT_S)
        if status.result == "busy":
            raise StepFailed(f"{status.result_detail}; nothing was changed")
        failure = status.failure
        why = f"{failure[1]} (in {failure[0]})" if failure else f"the on-host script ended with {status.result}"
        raise StepFailed(why, detail={"status": list(status.lines)})

    async def _restart(self, ctx: StepContext) -> Outcome:
        if self.action is Action.NONE:
            return skipped("unchanged; no restart")
        await self._follow_apply(ctx, "restart")
        return done(
            "restarted Alloy" if self.action is Action.RESTART else "Alloy reloaded its config",
            action=self.action.value,
        )

    async def _ready(self, ctx: StepContext) -> Outcome:
        if self.action is Action.NONE:
            return skipped("unchanged")
        await self._follow_apply(ctx, "ready")
        self._changed_at = time.time()  # only scrapes after Alloy answered with the new config count
        return done(f"Alloy is ready and serves {self._r().metrics_path}")

    async def _settle_apply(self, ctx: StepContext) -> str:
        if not self.apply_status:
            return "the new config had not been applied"
        status, phase = await self._wait_script(ctx, "apply", self.apply_status, APPLY_TIMEOUT_S)
        if status.done("swap"):
            self.changed.add("config")
        if phase is Phase.NOT_STARTED:
            return "the on-host apply script never started: the previous config stayed in place"
        if phase is Phase.RUNNING:
            return f"the on-host apply script is still running ({self.apply_status})"
        return {
            "ok": "the on-host apply script had finished: the new config was live (result ok)",
            "rolledback": "the on-host apply script had restored the previous config itself (result rolledback)",
            "busy": "another fleetui operation held the host's lock: nothing was swapped",
        }.get(status.result or "", f"the on-host apply script ended with {status.result}: nothing was swapped")

    async def _live(self, ctx: StepContext) -> tuple[Version, Version]:
        p, r = self._p(), self._r()
        paths = [p.config_path, *([p.env_path] if p.env_path else [])]
        live = await onhost.hashes(await ctx.session(), paths)
        cfg = which_version(live[p.config_path], _sha(self.config_before), _sha(r.config))
        env = Version.PREVIOUS
        if p.env_path:
            new_env = r.env_file if r.env_file is not None else self.env_before
            env = which_version(live[p.env_path], _sha(self.env_before), _sha(new_env))
        return cfg, env

    async def _undo_apply(self, ctx: StepContext) -> str | None:
        if "config" not in self.touched:
            return None
        p = self._p()
        if self.apply_status and self.apply_status in ctx.unresolved:
            await self._wait_script(ctx, "apply", self.apply_status, APPLY_TIMEOUT_S)
            if self.apply_status in ctx.unresolved:
                raise StepFailed(f"the on-host apply script is still running; check {self.apply_status}")
        if self.rollback_status:  # an earlier attempt was cut short: see it through before deciding again
            await self._wait_script(ctx, "rollback", self.rollback_status, APPLY_TIMEOUT_S)
        cfg, env = await self._live(ctx)
        if Version.OTHER in (cfg, env):
            raise StepFailed("the config on the host is neither the previous nor the new one: left alone")
        if not undo_config(cfg, env):
            return None
        s = await ctx.session()
        self.rollback_status = st = ctx.status_file("rollback")
        args = [
            st,
            p.config_path,
            p.backup_path if cfg is Version.NEW else "",
            p.env_path or "",
            (p.env_backup_path or "") if env is Version.NEW else "",
            "brew" if self.facts and self.facts.family is OsFamily.DARWIN else "systemd",
            "1" if self.was_active else "0",
        ]
        self._launched_at["rollback"] = time.monotonic()
        await onhost.launch(s, remote_scripts.ROLLBACK, "fleetui-rollback", args, sudo=True)
        status = await onhost.follow(s, st, lambda _: False, timeout_s=APPLY_TIMEOUT_S)
        if status.result != "rolledback":
            raise StepFailed(f"the on-host rollback ended with {status.result}: {status.result_detail}")
        return "previous config restored and Alloy put back as it was"

    # --- target file, Prometheus ----------------------------------------------------------------------

    def _target_file(self) -> str:
        return f"{self.req.name}.json"

    async def _plan_target(self, ctx: StepContext) -> Outcome:
        assert self.store is not None
        if not self.target_changed:
            return skipped("target file unchanged", file=self._target_file())
        return planned(f"would write {self._target_file()} in {self.store.location}")

    async def _target(self, ctx: StepContext) -> Outcome:
        assert self.store is not None
        if not self.target_changed:
            return skipped("target file unchanged", file=self._target_file())
        self._changed_at = time.time()
        self.touched.add("target")
        await self.store.write(self.req.name, self._r().target_json)
        self.changed.add("target")
        return done(f"wrote {self._target_file()} in {self.store.location}", file=self._target_file())

    async def _undo_target(self, ctx: StepContext) -> str | None:
        if "target" not in self.touched:
            return None
        async with open_store(self.settings, self._on_unknown_key) as store:
            current = await store.read(self.req.name)
            v = which_version(_sha(current), _sha(self.old_target), _sha(self._r().target_json))
            if v is Version.PREVIOUS:
                return None
            if v is Version.OTHER:
                raise StepFailed(f"{self._target_file()} was changed by someone else: left alone")
            if self.old_target is None:
                await store.remove(self.req.name)
            else:
                await store.write(self.req.name, self.old_target)
        try:
            await prometheus_reload(self.settings)
        except StepFailed as e:
            return f"previous target file restored ({e}; Prometheus picks the file up at its next file_sd refresh)"
        return "previous target file restored and Prometheus reloaded"

    async def _plan_reload(self, ctx: StepContext) -> Outcome:
        if not self.target_changed:
            return skipped("target file unchanged; no reload needed")
        return planned("would POST /-/reload to Prometheus")

    async def _reload(self, ctx: StepContext) -> Outcome:
        if not self.target_changed:
            return skipped("target file unchanged; no reload needed")
        await prometheus_reload(self.settings)
        return done("Prometheus reloaded")

    async def _plan_verify(self, ctx: StepContext) -> Outcome:
        return planned("would wait until Prometheus reports the host up")

    async def _verify(self, ctx: StepContext) -> Outcome:
        assert self.facts is not None
        timeout = float(self.settings["alloy.up_timeout"])
        unchanged = not (self.changed & {"config", "target"} or self.action is not Action.NONE)
        t0 = time.monotonic()
        # 1 s of slack for clock skew between this machine, Prometheus and the host
        since = None if unchanged or self._changed_at is None else self._changed_at - 1.0
        up, why = await wait_up(self.settings, self.req.mode, self._r(), self.facts.nodename, timeout, since)
        waited = time.monotonic() - t0
        if not up:
            raise StepFailed(f"Prometheus did not report the host up within {timeout:g}s ({why})")
        if unchanged:
            return skipped(f"unchanged; Prometheus reports the host up ({why})")
        return done(f"Prometheus reports the host up after {waited:.1f}s ({why})", waited_s=round(waited, 3))

    # --- reading the host back ---------------------------------------------------------------------------

    async def observe(self, ctx: StepContext, *, finished: bool) -> Observation:
        if self.facts is None or self.platform is None:
            return Observation()  # failed before detect finished: nothing was sent that changes anything
        p = self.platform
        observed: dict[str, Any] = {}
        readable, why = True, ""
        version: str | None = None
        live: dict[str, str] = {}
        try:
            s = await ctx.session()
            paths = [p.config_path, *([p.env_path] if p.env_path else [])]
            if p.is_active[:2] == ("systemctl", "is-active"):
                version, live, active = await onhost.read_back(s, p.alloy_bin, p.is_active[2], paths)
            else:
                version = await self._alloy_version(s)
                live = await onhost.hashes(s, paths)
                active = (await s.run(p.is_active, check=False)).ok
            observed.update(alloy_version=version, config_sha256=live[p.config_path], alloy_active=active)
            if p.env_path:
                observed["env_sha256"] = live[p.env_path]
        except (SshError, StepFailed) as e:
            readable, why = False, first_line(e)
        target: str | None = None
        target_readable = True
        if self.rendered is not None:
            try:
                async with open_store(self.settings, self._on_unknown_key) as store:
                    target = await store.read(self.req.name)
                observed["target_sha256"] = _sha(target)
            except (SshError, TargetStoreError) as e:
                target_readable, why = False, why or first_line(e)
        return Observation(self._changes(observed, readable, target_readable, target, finished, why), observed)

    def _changes(
        self,
        seen: Mapping[str, Any],
        readable: bool,
        target_readable: bool,
        target: str | None,
        finished: bool,
        why: str,
    ) -> tuple[Change, ...]:
        p = self._p()
        out: list[Change] = []

        def ver(ok: bool, live: Any, before: Any, new: Any) -> Version:
            if not ok:
                return Version.NEW if finished else Version.UNKNOWN  # every step passed: they confirmed it
            return which_version(live, before, new)

        if "package" in self.touched:
            v = Version.UNKNOWN if not readable else (Version.NEW if seen.get("alloy_version") else Version.PREVIOUS)
            if finished and not readable:
                v = Version.NEW
            state = item_state(v, touched=True, was_changed=False)
            note = {
                ChangeState.CHANGED: f"Alloy {seen.get('alloy_version') or (self.facts and self.facts.alloy_version)} "
                "was installed (with the package's own config and service)",
                ChangeState.UNCHANGED: "Alloy is not installed",
                ChangeState.UNKNOWN: f"could not read it back ({why}); check `alloy --version` and "
                f"`cat {self.install_status}` on the host",
            }.get(state, "")
            out.append(Change("alloy package", state, note))
        if "config" in self.touched and self.rendered is not None:
            r = self.rendered
            cfg_v = ver(readable, seen.get("config_sha256"), _sha(self.config_before), _sha(r.config))
            state = item_state(cfg_v, touched=True, was_changed="config" in self.changed)
            check = f"check `sha256sum {p.config_path}` and `cat {self.apply_status}` on the host"
            out.append(Change("alloy config", state, _note(state, cfg_v, p.config_path, why, check)))
            if p.env_path and (self.env_changed or cfg_v is Version.UNKNOWN):
                new_env = r.env_file if r.env_file is not None else self.env_before
                env_v = ver(readable, seen.get("env_sha256"), _sha(self.env_before), _sha(new_env))
                state = item_state(env_v, touched=True, was_changed="config" in self.changed)
                out.append(Change("env file", state, _note(state, env_v, p.env_path, why, check)))
            active = seen.get("alloy_active")
            if not readable and not finished:
                out.append(Change("alloy service", ChangeState.UNKNOWN, f"check `{' '.join(p.is_active)}`"))
            elif readable and bool(active) != self.was_active:
                now = "running" if active else "stopped"
                out.append(Change("alloy service", ChangeState.CHANGED, f"now {now}"))
        if "target" in self.touched and self.rendered is not None:
            t_v = ver(target_readable, _sha(target), _sha(self.old_target), _sha(self.rendered.target_json))
            state = item_state(t_v, touched=True, was_changed="target" in self.changed)
            where = f"{self.settings['targets.dir']}/{self._target_file()}"
            out.append(Change("target file", state, _note(state, t_v, where, why, f"check {where}")))
        return tuple(out)


def _note(state: ChangeState, v: Version, path: str, why: str, check: str) -> str:
    if state is ChangeState.UNKNOWN:
        if v is Version.OTHER:
            return f"{path} is neither the previous nor the new version (changed by someone else?); {check}"
        return f"could not read it back ({why}); {check}"
    return {
        ChangeState.CHANGED: f"the new {path} is live",
        ChangeState.ROLLED_BACK: f"the previous {path} is back (read back and compared)",
        ChangeState.UNCHANGED: f"{path} is as it was",
    }[state]
