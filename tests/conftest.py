"""Session fixtures shared by every test: an isolated configuration, and the embedded lab.

The lab is started once per session when it is not already running, and torn down at the end of that session
even when tests fail; a lab found running (another helper's, or `fleetui lab up` by hand) is left up.
The lab dir is the default state dir unless `FLEETUI_LAB_DIR` is set; it is pinned when the session starts.
Everything else fleetui keeps in its state dir (the operation log, last-seen books, batch results) goes to each
test's own temp dir: a test run must not write into the state dir of the machine it runs on, where the
operation log is the operator's audit trail of what was run from there.

A lab that cannot start is a test *error* with its reason on one line, never a silent skip: a green run must
mean the real Prometheus, sshd and node_exporter were exercised. Only a developer who opts out explicitly with
`FLEETUI_LAB=skip` (say, a non-root laptop) gets skips, and never under CI (`CI=true`). The session's closing
lines always say how many lab-backed tests ran, and how many were skipped and why.

Backends: the lab's metrics backend is Prometheus unless `FLEETUI_LAB_BACKEND=victoriametrics`. Tests marked
`both_backends` (status, console refresh, enroll/retire) run twice, once per backend: `lab_backend` is a
session-scoped parameter, so pytest groups the tests by backend and the session brings the lab up once per
backend (the Prometheus lab is taken down before the VictoriaMetrics one comes up, on the same addresses).
A test of such a module marked `backend_independent` (what it checks happens on the host or over SSH, not in
the metrics backend) runs once, on the default backend, to keep the suite short.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fleetui.config import Settings, load

KEEP_ENV = {"FLEETUI_LAB_DIR", "FLEETUI_LAB", "FLEETUI_LAB_BACKEND"}
BACKENDS = ("prometheus", "victoriametrics")
_SESSION: dict[str, bool] = {}
_LAB_OUTCOMES: dict[str, str] = {}  # nodeid -> passed / failed / error / skipped, for lab-backed tests only
_LAB_SKIP_REASONS: dict[str, int] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Pin the lab dir before any test moves fleetui's state dir (see _isolated_state): the lab a developer
    started by hand (`fleetui lab up`) is found where it is, and workers inherit the pin."""
    from fleetui.lab.topology import LAB_DIR_ENV, lab_dir

    os.environ.setdefault(LAB_DIR_ENV, str(lab_dir()))


def lab_opted_out() -> bool:
    """True only when the developer asked for no lab (FLEETUI_LAB=skip) outside CI."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return False
    return os.environ.get("FLEETUI_LAB", "").lower() == "skip"


def _lab_unavailable(reason: str) -> None:
    """Skip when opted out; otherwise fail the test with the reason on one line."""
    if lab_opted_out():
        pytest.skip(f"lab opted out (FLEETUI_LAB=skip): {reason}")
    pytest.fail(f"the lab cannot start: {reason} (opt out on a dev machine with FLEETUI_LAB=skip)", pytrace=False)


LAB_BACKED = "lab_backed"  # the user property that marks a lab-backed test's reports


def default_backend() -> str:
    """The lab backend of tests that run on one backend only (FLEETUI_LAB_BACKEND, else prometheus)."""
    return os.environ.get("FLEETUI_LAB_BACKEND", "").lower() or BACKENDS[0]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every lab-backed test gets a session-scoped `lab_backend`: both backends when marked both_backends."""
    if "lab" not in metafunc.fixturenames:
        return
    marked = metafunc.definition.get_closest_marker
    both = marked("both_backends") is not None and marked("backend_independent") is None
    backends = list(BACKENDS) if both else [default_backend()]
    metafunc.parametrize("lab_backend", backends, indirect=True, scope="session")


@pytest.fixture(scope="session")
def lab_backend(request: pytest.FixtureRequest) -> str:
    """The metrics backend the lab runs on for this test ("prometheus" or "victoriametrics")."""
    return str(getattr(request, "param", default_backend()))


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Lab-backed = uses the `lab` fixture (directly or through another fixture) or carries the lab marker.

    Lab-backed tests form one xdist group, so one worker runs them all on the session's one lab while the
    other worker takes the tests that need no lab (`-n 2 --dist loadgroup`, set in pyproject.toml). The
    mark travels in each report's user_properties, so the counts below add up in the controller too."""
    for item in items:
        if "lab" in getattr(item, "fixturenames", ()) or item.get_closest_marker("lab"):
            item.add_marker(pytest.mark.xdist_group("lab"))
            item.user_properties.append((LAB_BACKED, True))
        elif item.path.name.startswith("test_snapshots"):
            # snapshot modules write their fixtures at fixed paths (the pictures name them): one worker each
            item.add_marker(pytest.mark.xdist_group(item.path.stem))


# The tests that need no lab run at a lower CPU priority than the lab's. On 2 cores the lab's worker, with the
# Prometheus, sshd and hosts it starts, is the suite's longest path (the other worker is done in about a third
# of its time), and CPU-bound Textual tests on the other worker took cores from it while both ran. A worker
# lowers its own priority before its first test that needs no lab; the lab fixture puts it back before it
# starts anything, so what the lab starts runs at the usual priority.
_OTHERS_NICE = 10


def pytest_runtest_setup(item: pytest.Item) -> None:
    if _SESSION.get("niced") or _SESSION.get("lab_started") or dict(item.user_properties).get(LAB_BACKED):
        return
    with contextlib.suppress(OSError):
        os.nice(_OTHERS_NICE)
    _SESSION["niced"] = True


def _usual_priority() -> None:
    """The lab's worker at the usual priority again (root may raise it back; see _OTHERS_NICE)."""
    _SESSION["lab_started"] = True
    if _SESSION.pop("niced", False):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, 0, 0)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not dict(report.user_properties).get(LAB_BACKED):
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        outcome = "error" if report.when == "setup" and report.failed else report.outcome
        _LAB_OUTCOMES[report.nodeid] = outcome
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
            _LAB_SKIP_REASONS[reason] = _LAB_SKIP_REASONS.get(reason, 0) + 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    counts: dict[str, int] = {}
    for outcome in _LAB_OUTCOMES.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    ran = sum(n for o, n in counts.items() if o != "skipped")
    parts = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()) if o != "skipped") or "none"
    terminalreporter.write_line(f"lab-backed tests: {ran} ran ({parts}), {counts.get('skipped', 0)} skipped")
    for reason, n in sorted(_LAB_SKIP_REASONS.items()):
        terminalreporter.write_line(f"  {n} skipped: {reason}")


@pytest.fixture(scope="session")
def debian_tool() -> Callable[[str], str]:
    """Path of a command from the Debian packages setup.sh installs; missing is a lab failure, not a skip."""
    import shutil

    def find(name: str) -> str:
        path = shutil.which(name)
        if path is None:
            _lab_unavailable(f"{name} not found: run ./setup.sh (it installs fleetui/lab/debian-packages.txt)")
        assert path is not None
        return path

    return find


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point FLEETUI_CONFIG at an empty temp file and drop FLEETUI_* overrides, so a developer's own
    configuration never leaks into a test."""
    for key in list(os.environ):
        if key.startswith("FLEETUI_") and key not in KEEP_ENV:
            monkeypatch.delenv(key)
    cfg = tmp_path_factory.mktemp("config") / "config.yaml"
    cfg.write_text("")
    monkeypatch.setenv("FLEETUI_CONFIG", str(cfg))
    return cfg


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """fleetui's state dir (XDG_STATE_HOME) in a temp dir of the test's own: the operations a test runs on the
    lab are not logged in the machine's real operation log, and no book or results file of an earlier test or
    run is read. Commands the test starts inherit it. The lab stays where pytest_configure pinned it."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    return state


@pytest.fixture(scope="session")
def lab(lab_backend: str) -> Iterator[object]:
    """The running lab as `fleetui.lab.LabInfo` (started if needed) on `lab_backend`. A lab that cannot start
    fails the tests that need it, unless the developer opted out (see the module docstring)."""
    if os.geteuid() != 0:
        _lab_unavailable("lab tests need root (namespaces, overlay mounts): run pytest as root on Debian")
    _usual_priority()
    from fleetui import lab as lab_mod
    from fleetui.lab.manager import LabError

    found_running = lab_mod.status() is not None
    _SESSION["owned"] = not found_running
    try:
        info = lab_mod.up(lab_backend)  # idempotent: also restarts a host a previous test killed
    except LabError as e:
        if not found_running:
            lab_mod.down()
        _lab_unavailable(str(e))
    try:
        yield info
    finally:
        if not found_running:
            lab_mod.down()


@pytest.fixture(scope="session")
def lab_settings(lab: object) -> Settings:
    """fleetui Settings read from the lab's config file (no environment overrides)."""
    return load(lab.config_file, environ={})  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def lab_owned(lab: object) -> bool:
    """True when this session started the lab (and will tear it down), so it may also restart it."""
    return _SESSION.get("owned", False)


@pytest.fixture(scope="session")
def reset_lab_host(lab: object) -> Callable[[str], object]:
    """Put a not-enrolled lab host back as the lab made it: no Alloy package, config, repo entry or target file.

    Enrollment tests start from this so a re-run against a long-lived lab behaves like a fresh one.
    """
    from fleetui import lab as lab_mod

    def reset(name: str) -> object:
        lab_mod.host_exec(
            name,
            [
                "sh",
                "-c",
                "systemctl stop alloy >/dev/null 2>&1; "
                "DEBIAN_FRONTEND=noninteractive apt-get purge -y alloy >/dev/null 2>&1; "
                "rm -rf /etc/alloy /etc/default/alloy /etc/apt/sources.list.d/grafana.list "
                "/var/tmp/fleetui-apply.lock; true",
            ],
        )
        host = lab.host(name)  # type: ignore[attr-defined]
        (Path(lab.targets_dir) / f"{host.address}.json").unlink(missing_ok=True)  # type: ignore[attr-defined]
        return host

    return reset
