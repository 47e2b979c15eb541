"""The remembered last-seen times on disk: one JSON file per Prometheus in fleetui's state directory.

So a console restart (or a `fleetui status` after the console ran) knows when each host that went down or
gone was last seen without reading history again. The file holds instance names, their labels and times —
no secret: the Prometheus URL is stored without any user:password part, and the file name is a hash of
that cleaned URL and the tenant. A file that cannot be read or does not parse is ignored (the book starts
empty and history is looked up again), never an error: it is a cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec

from fleetui.config import Settings, default_state_dir
from fleetui.domain.lastseen import LastSeenBook

VERSION = 1


def clean_url(url: str) -> str:
    """The URL without user:password@ (never written to disk)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def book_path(settings: Settings, state_dir: Path | None = None) -> Path:
    """Where the book of this Prometheus (and tenant) lives."""
    url = clean_url(str(settings["prometheus.url"]))
    key = f"{url}\n{settings['prometheus.tenant'] or ''}".encode()
    name = hashlib.sha256(key).hexdigest()[:16]
    return (state_dir or default_state_dir()) / "last-seen" / f"{name}.json"


def load_book(path: Path, url: str, lookback: float) -> LastSeenBook:
    """The book saved at `path` for `url`, or an empty one (missing, unreadable, other URL, bad content)."""
    try:
        doc: Any = msgspec.json.decode(path.read_bytes())
        if not isinstance(doc, dict) or doc.get("version") != VERSION or doc.get("prometheus") != clean_url(url):
            return LastSeenBook(lookback)
        return LastSeenBook.from_json(doc, lookback)
    except (OSError, msgspec.DecodeError, ValueError, KeyError, TypeError):
        return LastSeenBook(lookback)


def save_book(path: Path, url: str, book: LastSeenBook) -> None:
    """Write the book atomically (a crash leaves the old file or the new one, never half of one)."""
    doc = {"version": VERSION, "prometheus": clean_url(url), **book.to_json()}
    data = msgspec.json.encode(doc)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".last-seen-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    book.changed = False
