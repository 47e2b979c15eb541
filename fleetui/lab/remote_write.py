"""A minimal Prometheus remote_write (protocol 1.0) client, for the lab only.

The Alloy stand-in pushes with it, and tests use it to write history with past timestamps (stale and gone
hosts). Hand-encoded protobuf and a literal-only snappy block keep it free of native dependencies: a snappy
stream made only of literals is valid snappy, just not compressed.
"""

from __future__ import annotations

import struct
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence

Sample = tuple[int, float]  # (unix milliseconds, value)
Series = tuple[Mapping[str, str], Sequence[Sample]]


class RemoteWriteError(Exception):
    """`status` is the HTTP status Prometheus answered (None: no answer), `body` its text, `reason` the
    network error (refused, timeout, TLS), so a caller can word it as Alloy would."""

    def __init__(self, message: str, status: int | None = None, body: str = "", reason: object = None) -> None:
        super().__init__(message)
        self.status, self.body, self.reason = status, body, reason


def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # int64 two's complement, as protobuf encodes negative varints
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field_bytes(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def encode_write_request(series: Iterable[Series]) -> bytes:
    """prometheus.WriteRequest{timeseries: [...]} with labels sorted by name, as the spec requires."""
    out = bytearray()
    for labels, samples in series:
        ts = bytearray()
        for name in sorted(labels):
            label = _field_bytes(1, name.encode()) + _field_bytes(2, labels[name].encode())
            ts += _field_bytes(1, label)
        for t_ms, value in samples:
            sample = _varint(1 << 3 | 1) + struct.pack("<d", value) + _varint(2 << 3 | 0) + _varint(int(t_ms))
            ts += _field_bytes(2, sample)
        out += _field_bytes(1, bytes(ts))
    return bytes(out)


def snappy_literal(data: bytes) -> bytes:
    """Snappy block format with literal elements only (valid input for any snappy decoder)."""
    out = bytearray(_varint(len(data)))
    for i in range(0, len(data), 65536):
        chunk = data[i : i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + struct.pack("<H", n)
        out += chunk
    return bytes(out)


def push(
    url: str, series: Iterable[Series], *, timeout: float = 10.0, headers: Mapping[str, str] | None = None
) -> None:
    """POST one remote_write request; raises RemoteWriteError with Prometheus' answer on failure."""
    body = snappy_literal(encode_write_request(series))
    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Encoding": "snappy",
            "Content-Type": "application/x-protobuf",
            "X-Prometheus-Remote-Write-Version": "0.1.0",
            "User-Agent": "fleetui-lab-remote-write",
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
    except urllib.error.HTTPError as e:
        text = e.read().decode(errors="replace").strip()
        raise RemoteWriteError(f"{url}: HTTP {e.code}: {text}", e.code, text) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise RemoteWriteError(f"{url}: {reason}", None, "", reason) from None
