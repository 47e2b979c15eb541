"""Input first: while the console's UI thread answers a key, the refresh on another thread steps aside.

Python runs one thread at a time. With a refresh decoding and classifying on the source's thread, a frame the
UI's thread paints for a key got half the interpreter (they take turns every switch interval), so a page of new
rows, 18-25 ms alone, took 40-85 ms during a refresh (10,000 hosts, measured with bench/console.py). The UI's
thread says when input comes (`input_arrived`) and when the frame answering it is out (`answered`); the
refresh's loops call `step_aside` between small pieces of work and wait there meanwhile. They never wait longer
than MAX_WAIT after the input came, so a frame that never says it is out delays a refresh by that, not more.
The UI's own thread never waits there: the same adapters also run on it (an operation's checks against
Prometheus), and it would be waiting for itself.
"""

from __future__ import annotations

import threading
import time

MAX_WAIT = 0.1

_idle = threading.Event()
_idle.set()
_since = 0.0
_ui_thread: int | None = None


def input_arrived() -> None:
    """On the UI's thread: input came, its answer is being worked out."""
    global _since, _ui_thread
    _since, _ui_thread = time.monotonic(), threading.get_ident()
    _idle.clear()


def answered() -> None:
    """On the UI's thread: the frame answering the input is out."""
    _idle.set()


def step_aside() -> None:
    """On a worker thread, between pieces of work: wait while the UI answers input (MAX_WAIT at most)."""
    if _idle.is_set() or threading.get_ident() == _ui_thread:
        return
    left = _since + MAX_WAIT - time.monotonic()
    if left > 0:
        _idle.wait(left)
