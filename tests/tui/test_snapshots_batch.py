"""Snapshots of the batch screen at 80×24 and 160×48: a host list at a fixed path with one bad row, four hosts in
each state (enrolled, failed with its reason, running a step, waiting), the merged log prefixed by host. The
elapsed column reads a fixed clock, so each run draws the same screen. The states are set on the screen's hosts
directly: a real run's timing cannot be frozen (real batches are not frozen in a picture; the lab test
tests/tui/test_batch_screen_lab.py drives one). And the one review of the host keys a batch does not know yet,
before anything starts: three unknown keys with their fingerprints, one changed key that fails alone. The keys
are fixed ed25519 public keys, fingerprinted by asyncssh as a scan does.

Update only after looking at the report: `pytest tests/tui/test_snapshots_batch.py --snapshot-update`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from console import keys_in_one_read, screen_lines
from fleet_fixture import make_app
from textual.pilot import Pilot
from textual.widgets import Input

from fleetui.adapters.keyscan import ScannedKey
from fleetui.adapters.ssh import HostKeyInfo
from fleetui.tui.screens.batch import BatchScreen
from fleetui.tui.widgets.batch_table import BatchTable, KeyReviewDialog

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
DIR = Path("/tmp/fleetui-snapshot-batch")  # a fixed path: the screen names it
KEYS = {  # host -> a fixed ed25519 public key (generated once for this test)
    "web-01": "AAAAC3NzaC1lZDI1NTE5AAAAILiQk8pZn9M21NaGfWfGTXtYWR7/aInVvpeEtblCQiCX",
    "web-02": "AAAAC3NzaC1lZDI1NTE5AAAAIC9FzLvJMdBkmQk2j4ndANBW1xodHJzLJQiVhQqHwa0A",
    "db-01": "AAAAC3NzaC1lZDI1NTE5AAAAIEfJ83mp9q+CM6WZVn4l7U+zd8L/xOjA6zGW2/LIzSab",
    "db-02": "AAAAC3NzaC1lZDI1NTE5AAAAIGThVk2rNc4CTNets6CekNKlv9ZjrvL7///ZJU/Qtgk0",
}
ADDRESSES = {"web-01": "10.0.0.11", "web-02": "10.0.0.12", "db-01": "10.0.0.21", "db-02": "10.0.0.22"}


@pytest.fixture
def hostlist() -> Path:
    shutil.rmtree(DIR, ignore_errors=True)
    DIR.mkdir(parents=True)
    rows = [
        {"name": "web-01", "address": "10.0.0.11"},
        {"name": "web-02", "address": "10.0.0.12", "user": "ops", "password_env": "OPS_PW"},
        {"name": "db-01", "address": "10.0.0.21"},
        {"name": "db-02", "address": "10.0.0.22"},
        {"name": "bad[red]", "address": "not an address"},
    ]
    path = DIR / "hosts.yaml"
    path.write_text(json.dumps({"defaults": {"labels": {"environment": "lab", "maintainers": "ops"}}, "hosts": rows}))
    return path


@pytest.mark.parametrize("size", SIZES)
def test_batch_screen(snap_compare: Any, size: tuple[int, int], hostlist: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("OPS_PW", "not-shown")

    async def run_before(pilot: Pilot[Any]) -> None:
        await _four_states(pilot, hostlist)

    app = make_app(**{"ssh.concurrency": 2})
    assert snap_compare(app, terminal_size=size, run_before=run_before)


async def _four_states(pilot: Pilot[Any], hostlist: Path) -> BatchScreen:
    app = pilot.app
    await app.workers.wait_for_complete()
    screen = BatchScreen(app.operations, app.settings, hostlist, now=lambda: 100.0)
    await app.push_screen(screen)
    await pilot.pause()
    h = screen.hosts
    h["web-01"].state, h["web-01"].step, h["web-01"].started, h["web-01"].ended = "ok", "verify", 10.0, 52.3
    h["web-02"].state, h["web-02"].step, h["web-02"].started, h["web-02"].ended = "failed", "detect", 10.0, 13.1
    h["web-02"].error = "detect failed: sudo rejected the password of ops on 10.0.0.12"
    h["db-01"].state, h["db-01"].step, h["db-01"].started = "running", "install", 80.0
    screen._log_line("", "batch: 4 hosts, 2 at a time")
    screen._log_line("web-01", "ok   connect   connected to root@10.0.0.11:22")
    screen._log_line("web-02", "FAIL detect    sudo rejected the password of ops")
    screen._log_line("web-02", "FAILED, host unchanged — detect failed: sudo rejected the password of ops")
    screen._log_line("db-01", "  .. install   apt-get: Unpacking alloy \x1b[31m(1.5.0)")
    screen._log_line("web-01", "ENROLLED in 42.3s")
    screen.query_one("#batch-table", BatchTable).show(list(h.values()))
    screen._show_summary()
    await pilot.pause()
    return screen


async def test_outcome_and_elapsed_cells_line_up(hostlist: Path, monkeypatch: Any) -> None:
    """In the frame the terminal gets, every outcome starts under its header and every elapsed time ends under
    its header's end. (A picture of the SVG drawn by rsvg-convert shows "failed" and "running" one cell to the
    right and the times left-aligned: it draws the no-break spaces that pad a cell narrower than a cell. The SVG
    itself places them in the right columns.)"""
    monkeypatch.setenv("OPS_PW", "not-shown")
    app = make_app(**{"ssh.concurrency": 2})
    async with app.run_test(size=(160, 48)) as pilot:
        await _four_states(pilot, hostlist)
        lines = screen_lines(app)
    top = next(i for i, line in enumerate(lines) if line.split()[:2] == ["host", "step"])
    header, rows = lines[top], lines[top + 1 : top + 5]
    outcome, end = header.index("outcome"), header.index("elapsed") + len("elapsed")
    expected = [("ok", "42.3s"), ("failed", "3.1s"), ("running", "20.0s"), ("waiting", "-")]
    for row, (state, took) in zip(rows, expected, strict=True):
        assert row[outcome - 1 : outcome + len(state) + 1] == f" {state} ", rows
        assert row[end - len(took) - 1 : end + 1] == f" {took} ", rows


def _scanned(name: str, state: str, why: str = "") -> ScannedKey:
    key = asyncssh.import_public_key(f"ssh-ed25519 {KEYS[name]}")
    info = HostKeyInfo(ADDRESSES[name], 22, key.get_algorithm(), key.get_fingerprint("sha256"), name)
    return ScannedKey(name, state, info, why)


@pytest.mark.parametrize("size", SIZES)
def test_batch_key_review(snap_compare: Any, size: tuple[int, int], hostlist: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("OPS_PW", "not-shown")
    unknown = [_scanned(n, "unknown") for n in ("web-01", "web-02", "db-01")]
    changed = [_scanned("db-02", "changed", f"differs from the key in {DIR / 'known_hosts'}")]

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await app.workers.wait_for_complete()
        await app.push_screen(BatchScreen(app.operations, app.settings, hostlist, now=lambda: 100.0))
        await pilot.pause()
        await app.push_screen(KeyReviewDialog(unknown, changed))
        await pilot.pause()

    app = make_app(**{"ssh.concurrency": 2})
    assert snap_compare(app, terminal_size=size, run_before=run_before)


async def test_o_opens_the_path_box_for_the_keys_typed_behind_it(hostlist: Path) -> None:
    """`o` and a path arriving in one read (tmux, a fast typist, a laggy link): the path goes into the box, and
    none of its letters reaches the table (where `s` starts the batch); in the box, `o` is typed like the rest."""
    app = make_app(**{"ssh.concurrency": 2})
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        screen = BatchScreen(app.operations, app.settings, hostlist, now=lambda: 100.0)
        await app.push_screen(screen)
        await pilot.pause()
        table = screen.query_one("#batch-table", BatchTable)
        table.focus()
        await pilot.pause()
        box = screen.query_one("#batch-path", Input)
        box.value = ""
        await keys_in_one_read(app, pilot, *((c, c) for c in "o/srv/o.yaml"))
        assert box.has_focus and box.value == "/srv/o.yaml"
        assert not app.operations.handles  # no `s` reached the table: nothing started
