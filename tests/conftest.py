"""Session fixtures shared by every test: an isolated configuration, and the embedded lab.

The lab is started once per session when it is not already running, and torn down at the end of that session
even when tests fail; a lab found running (another helper's, or `fleetui lab up` by hand) is left up.
The lab dir is the default state dir unless `FLEETUI_LAB_DIR` is set.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fleetui.config import Settings, load

KEEP_ENV = {"FLEETUI_LAB_DIR"}
_SESSION: dict[str, bool] = {}


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


@pytest.fixture(scope="session")
def lab() -> Iterator[object]:
    """The running lab as `fleetui.lab.LabInfo` (started if needed; skipped when not root)."""
    if os.geteuid() != 0:
        pytest.skip("lab tests need root (namespaces, overlay mounts): run pytest as root on Debian")
    from fleetui import lab as lab_mod
    from fleetui.lab.manager import LabError

    found_running = lab_mod.status() is not None
    _SESSION["owned"] = not found_running
    try:
        info = lab_mod.up()  # idempotent: also restarts a host a previous test killed
    except LabError as e:
        if not found_running:
            lab_mod.down()
        pytest.skip(f"the lab cannot run here: {e}")
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
