"""A per-host lock registry, owned by whoever runs operations (the app, a batch, one CLI run).

No module-level state: a batch creates one registry and hands it to every pipeline it starts, so two operations
on one host wait for each other while different hosts run concurrently (up to `ssh.concurrency`).
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
