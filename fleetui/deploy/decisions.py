"""The runner's and the steps' decisions, as pure functions: unit-tested without a host.

Everything here answers a question from values already read: restart or reload; how far an on-host script got
from its status file; whether it may still be running; which version of a file is live; what each item of the
host is now (changed, unchanged, rolled back, unknown) and what that makes the whole host; whether an error is
a command's verdict or a lost connection; how long to wait between reconnect attempts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from fleetui.adapters.prometheus import PrometheusError
from fleetui.adapters.ssh import CommandTimeout, ConnectFailed, ConnectionLost, SshError
from fleetui.adapters.targets import TargetStoreError
from fleetui.config import ConfigError
from fleetui.deploy.events import Change, ChangeState, ErrorKind
from fleetui.deploy.operation import StepFailed
from fleetui.domain.host import InputError


class Action(StrEnum):
    RESTART = "restart"
    RELOAD = "reload"
    NONE = "none"


def choose_action(*, config_changed: bool, env_changed: bool, was_active: bool, installed_now: bool) -> Action:
    """Reload only when just the config changed on a running Alloy (it keeps serving, and keeps its old config
    if the new one is refused); an env file change, a stopped or freshly installed Alloy needs a restart."""
    if config_changed or env_changed:
        return Action.RESTART if (env_changed or not was_active or installed_now) else Action.RELOAD
    return Action.NONE if was_active else Action.RESTART


# --- on-host status files ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptStatus:
    """One read of an on-host script's status file (see remote_scripts): its lines and whether the lock exists."""

    exists: bool
    lines: tuple[str, ...] = ()
    lock_held: bool = False

    @property
    def result(self) -> str | None:
        """ "ok" | "rolledback" | "failed" | "busy", or None while the script runs (or never ran)."""
        for ln in self.lines:
            if ln.startswith("result "):
                return ln.split()[1]
        return None

    @property
    def result_detail(self) -> str:
        for ln in self.lines:
            if ln.startswith("result "):
                return ln.split(" ", 2)[2] if ln.count(" ") >= 2 else ""
        return ""

    def done(self, step: str) -> bool:
        return any(ln == f"step {step} done" or ln.startswith(f"step {step} done ") for ln in self.lines)

    @property
    def failure(self) -> tuple[str, str] | None:
        """(step, message) of the first failed step, if any."""
        return next(filter(None, map(failed_step, self.lines)), None)

    @property
    def news(self) -> tuple[str, ...]:
        """The progress lines (not the bookkeeping) for a person."""
        return tuple(ln for ln in self.lines if ln.startswith("step "))


# what the on-host apply script's progress lines (remote_scripts.APPLY, "step STEP done [ACTION]") say, in words
_APPLY_DONE = {
    "swap": "the new files are in place",
    "restart restart": "Alloy restarted",
    "restart reload": "Alloy reloaded its config",
    "restart none": "no restart needed",
    "ready": "Alloy is ready",
    "restore": "the previous files are back",
}


def failed_step(line: str) -> tuple[str, str] | None:
    """(step, message) of an on-host script's "step STEP failed MESSAGE" line, else None."""
    if not line.startswith("step ") or " failed " not in line:
        return None
    step, _, message = line[5:].partition(" failed ")
    return step, message


def apply_news(line: str) -> str:
    """An apply or rollback script's progress line (ScriptStatus.news) as a person reads it, said to come from
    the host: the step's own result follows it, so the raw "step restart done restart" read as a stutter.
    A failure is read first: its message is free text, and may itself hold " done"."""
    failed = failed_step(line)
    if failed:
        return f"on the host: {failed[0]} failed: {failed[1]}"
    step, done, rest = line.removeprefix("step ").partition(" done")
    if done:
        rest = rest.strip()
        words = _APPLY_DONE.get(f"{step} {rest}".strip())
        return f"on the host: {words or step + ' done' + (f' ({rest})' if rest else '')}"
    return f"on the host: {line}"


def read_status(text: str) -> ScriptStatus:
    """Parse the output of remote_scripts.READ_STATUS."""
    lines = [ln.rstrip("\r") for ln in text.splitlines() if ln.strip()]
    lock = "#lock" in lines
    if "#missing" in lines:
        return ScriptStatus(False, (), lock)
    return ScriptStatus(True, tuple(ln for ln in lines if ln != "#lock"), lock)


class Phase(StrEnum):
    NOT_STARTED = "not started"
    RUNNING = "running"
    FINISHED = "finished"


def script_phase(status: ScriptStatus, *, since_launch_s: float, grace_s: float = 3.0) -> Phase:
    """Where a script we launched (or tried to launch) is. Every script writes `started` before anything else,
    so a missing status file some seconds after the launch means the launch never reached the host."""
    if status.result is not None:
        return Phase.FINISHED
    if status.exists:
        return Phase.RUNNING
    return Phase.RUNNING if since_launch_s < grace_s else Phase.NOT_STARTED


class StepVerdict(StrEnum):
    WAITING = "waiting"
    DONE = "done"
    FAILED = "failed"


def apply_verdict(status: ScriptStatus, step: str) -> StepVerdict:
    """How the apply script's `step` (swap | restart | ready) stands in this read of its status file."""
    if status.done(step):
        return StepVerdict.DONE
    if status.failure is not None or status.result is not None:
        return StepVerdict.FAILED
    return StepVerdict.WAITING


# --- what is on the host --------------------------------------------------------------------------------


class Version(StrEnum):
    NEW = "new"
    PREVIOUS = "previous"
    OTHER = "other"  # neither: someone else changed it
    UNKNOWN = "unknown"  # could not be read


def which_version(live: str | None, previous: str | None, new: str | None, *, readable: bool = True) -> Version:
    """Compare a file's live content hash ("none" = absent) with the previous and the new one's. When previous and
    new are equal there was nothing to change, so it counts as previous."""
    if not readable:
        return Version.UNKNOWN
    if live == previous:
        return Version.PREVIOUS
    if live == new:
        return Version.NEW
    return Version.OTHER


def item_state(version: Version, *, touched: bool, was_changed: bool) -> ChangeState:
    """One host item after the run. `touched`: the run sent something that may have changed it (so it must be
    read back); `was_changed`: the run knows it changed it at some point (so finding the previous version
    again means it was rolled back, not left alone)."""
    if not touched:
        return ChangeState.UNCHANGED
    if version is Version.NEW:
        return ChangeState.CHANGED
    if version is Version.PREVIOUS:
        return ChangeState.ROLLED_BACK if was_changed else ChangeState.UNCHANGED
    return ChangeState.UNKNOWN


def host_state(changes: Iterable[Change]) -> str:
    """The whole host in one phrase: "unknown: <how to check>" if any item is unknown, else "changed" if any
    item changed, else "rolled back" if any was undone, else "unchanged"."""
    items = list(changes)
    unknown = [c for c in items if c.state is ChangeState.UNKNOWN]
    if unknown:
        return "unknown: " + "; ".join(f"{c.what}: {c.note}" if c.note else c.what for c in unknown)
    states = {c.state for c in items}
    if ChangeState.CHANGED in states:
        return "changed"
    if ChangeState.ROLLED_BACK in states:
        return "rolled back"
    return "unchanged"


def must_roll_back(error_kind: ErrorKind | None, *, dry_run: bool) -> bool:
    """Any way of not finishing — a step's verdict, a lost connection, a cancel, a bug — undoes what the run
    changed; a dry run changed nothing, and a run that never got connected has nothing to undo."""
    return not dry_run and error_kind is not None and error_kind is not ErrorKind.CONNECT


def undo_config(config: Version, env: Version) -> bool:
    """Run the on-host rollback when the new config or env file is live. OTHER (someone else's file) is never
    overwritten; UNKNOWN cannot be acted on."""
    return Version.NEW in (config, env)


def classify_error(exc: BaseException, *, step: str) -> ErrorKind:
    """A dropped or stalled connection is its own kind, never a command's verdict. Failing to connect at all
    (the connect step) is CONNECT: nothing ran."""
    if isinstance(exc, ConnectionLost | CommandTimeout):
        return ErrorKind.CONNECTION_LOST
    if isinstance(exc, SshError) and step == "connect":
        return ErrorKind.CONNECT
    if isinstance(exc, ConnectFailed):
        return ErrorKind.CONNECTION_LOST  # a reconnect inside a step (e.g. the target store's) failed
    if isinstance(exc, StepFailed | SshError | TargetStoreError | PrometheusError | InputError | ConfigError | OSError):
        return ErrorKind.FAILED
    return ErrorKind.INTERNAL


def reconnect_delays(budget_s: float, *, first_s: float = 0.5, factor: float = 2.0, cap_s: float = 8.0) -> list[float]:
    """Pauses before each reconnect attempt: 0, then doubling from `first_s` up to `cap_s`, while their sum stays
    within `budget_s`. Bounded, so a host that stays away ends in "unknown" instead of a hang."""
    out = [0.0]
    d, total = first_s, 0.0
    while total + d <= budget_s:
        out.append(d)
        total += d
        d = min(d * factor, cap_s)
    return out


def first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def describe(changes: Sequence[Change]) -> str:
    """What changed / was rolled back / is unknown, item by item, for a closing line."""
    parts = [f"{c.what} {c.state.value}" + (f" ({c.note})" if c.note else "") for c in changes]
    kept = [p for p, c in zip(parts, changes, strict=True) if c.state is not ChangeState.UNCHANGED]
    return "; ".join(kept) or "nothing changed"


def host_sentence(host_state: str, changes: Sequence[Change]) -> str:
    """The host's state after a failed or cancelled run, said plainly (what the CLI prints after the error)."""
    if host_state == "unchanged":
        return "nothing on the host was changed"
    if host_state == "rolled back":
        return "the host was rolled back to its previous state (read back and compared)"
    if host_state == "changed":
        return "the host was left changed: " + describe(changes)
    return "the host's state is " + host_state
