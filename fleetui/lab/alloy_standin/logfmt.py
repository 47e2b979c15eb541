"""Alloy's go-kit logfmt lines: `ts=2025-05-19T05:33:49.123456789Z level=info msg="..." key=value`."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

_lock = threading.Lock()


def _quote(v: Any) -> str:
    s = str(v)
    if s == "" or any(c in s for c in ' "=\\\t\n') or not s.isprintable():
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return s


def ts() -> str:
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + f".{ns % 1_000_000_000:09d}Z"


def log(level: str, msg: str, **kv: Any) -> None:
    parts = [f"ts={ts()}", f"level={level}", f"msg={_quote(msg)}"]
    parts += [f"{k}={_quote(v)}" for k, v in kv.items()]
    with _lock:
        print(" ".join(parts), file=sys.stderr, flush=True)
