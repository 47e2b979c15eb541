"""A per-host lock registry, owned by a `Runner` (one per app, batch or CLI run).

No module-level state: every run a runner starts shares its registry, so two operations on one host wait for
each other while different hosts run concurrently (up to the concurrency `run_many` is given).
"""

from __future__ import annotations

import asyncio


class HostLocks:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    def lock_for(self, host: str, port: int | None = 22) -> asyncio.Lock:
        key = f"{host.lower()}:{port}"
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock
