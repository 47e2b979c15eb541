"""fleetui.gate: a worker thread steps aside while the UI's thread answers input, and never for long."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from fleetui import gate


@pytest.fixture(autouse=True)
def _idle_after() -> Iterator[None]:
    yield
    gate.answered()  # a test that fails midway must not leave the process's refreshes waiting


def _stepping() -> tuple[threading.Thread, threading.Event]:
    passed = threading.Event()

    def work() -> None:
        gate.step_aside()
        passed.set()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, passed


def test_no_input_no_wait() -> None:
    thread, passed = _stepping()
    assert passed.wait(5)
    thread.join(5)


def test_input_holds_the_worker_until_the_answer_is_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gate, "MAX_WAIT", 30.0)  # longer than the test: only `answered` lets it through
    gate.input_arrived()
    thread, passed = _stepping()
    assert not passed.wait(0.3)
    gate.answered()
    assert passed.wait(5)
    thread.join(5)


def test_an_answer_that_never_comes_holds_the_worker_for_max_wait_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gate, "MAX_WAIT", 0.2)
    gate.input_arrived()
    waits: list[float] = []

    def work() -> None:
        for _ in range(2):  # the second: the same input, its wait spent
            start = time.monotonic()
            gate.step_aside()
            waits.append(time.monotonic() - start)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(10)
    assert len(waits) == 2 and 0.15 <= waits[0] < 5 and waits[1] < 0.15


def test_the_thread_that_has_the_input_never_waits_for_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """The UI's thread runs the same adapters (an operation's checks against Prometheus): no wait there."""
    monkeypatch.setattr(gate, "MAX_WAIT", 30.0)
    gate.input_arrived()
    start = time.monotonic()
    gate.step_aside()
    assert time.monotonic() - start < 5
    thread, passed = _stepping()  # another thread still steps aside
    assert not passed.wait(0.3)
    gate.answered()
    assert passed.wait(5)
    thread.join(5)
