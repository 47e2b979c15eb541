"""The log reader's chunk decoding, inline for a trickle and in a worker thread for a burst.

Pure functions fed bytes in the format `journalctl -o json --output-fields=…` and Alloy's log file write (no
host is needed to produce a chunk boundary in the middle of a record, which is what these tests are about).
"""

from __future__ import annotations

import asyncio
import json
import threading

from fleetui.adapters.alloy_logs import OFF_LOOP_BYTES, _decode, _file_batch, _journal_batch
from fleetui.domain.logline import Level, LogLine, parse_journal_json, parse_journal_lines


def journal_bytes(n: int) -> bytes:
    out = []
    for i in range(n):
        level = ("info", "warn", "error")[i % 3]
        rec = {
            "__CURSOR": f"s=abc;i={i:x}",
            "__REALTIME_TIMESTAMP": str(1_747_632_829_000_000 + i),
            "MESSAGE": f'ts=2025-05-19T05:33:49Z level={level} msg="line {i}" é',
            "PRIORITY": "6",
            "SYSLOG_IDENTIFIER": "alloy",
        }
        out.append(json.dumps(rec, ensure_ascii=False) + "\n")
    return "".join(out).encode()


async def read_in_chunks(data: bytes, sizes: list[int]) -> tuple[list[LogLine], set[int], bytes]:
    """Feed `data` cut into chunks of `sizes` (cycled) through _decode, as the reader does; the lines and the
    threads the parse ran in, and the unfinished rest."""
    threads: set[int] = set()

    def traced(name: str, pending: bytes, chunk: bytes) -> tuple[list[LogLine], bytes]:
        threads.add(threading.get_ident())
        batch, rest = _journal_batch(name, pending, chunk)
        return batch, rest

    lines: list[LogLine] = []
    pending, pos, k = b"", 0, 0
    while pos < len(data):
        chunk = data[pos : pos + sizes[k % len(sizes)]]
        pos, k = pos + len(chunk), k + 1
        batch, pending = await _decode(traced, "web-01", pending, chunk)
        lines.extend(batch)
    return lines, threads, pending


def test_bursts_are_parsed_in_a_worker_thread_and_lose_or_repeat_nothing() -> None:
    data = journal_bytes(3000)
    whole, _ = _journal_batch("web-01", b"", data)
    assert (
        len(whole) == 3000
        and whole[0].text.endswith("é")
        and whole[1].level is Level.WARN
        and whole[2].cursor == "s=abc;i=2"
    )
    # cut anywhere (inside records and multi-byte characters): small chunks inline, big ones off the loop
    lines, threads, rest = asyncio.run(read_in_chunks(data, [OFF_LOOP_BYTES * 8 + 7, 1001, 13, OFF_LOOP_BYTES]))
    assert lines == whole and rest == b""
    assert threading.get_ident() in threads and len(threads) >= 2  # the loop's thread and a worker
    # a following stream's trickle never leaves the loop
    lines, threads, rest = asyncio.run(read_in_chunks(data[:50_000], [977]))
    assert threads == {threading.get_ident()} and lines == whole[: len(lines)] and rest


def test_file_chunks_count_the_lines_they_complete() -> None:
    text = "".join(f"ts=2025-05-19T05:33:{i % 60:02d}Z level=info msg=m{i}\n" for i in range(2000)).encode()
    batch, count, rest = asyncio.run(_decode(_file_batch, "mac-01", b"", text[:-5]))
    assert count == 1999 == len(batch) and rest == text[-(5 + text[:-5][::-1].index(b"\n")) : -5]
    assert batch[0].ts is not None and batch[-1].text.endswith("msg=m1998")


def test_a_burst_parsed_as_one_array_equals_line_by_line_and_a_bad_line_costs_only_itself() -> None:
    raws = journal_bytes(500).decode().split("\n")[:-1]
    one_by_one = [parse_journal_json("web-01", r) for r in raws]
    assert parse_journal_lines("web-01", raws) == one_by_one and len(one_by_one) == 500
    # a cut record, a record without a cursor, two broken lines that would join into one valid object
    bad = [*raws[:3], raws[3][:40], '{"MESSAGE": "no cursor"}', '{"a": [1', '{"b": 1}]}', *raws[4:10]]
    got = parse_journal_lines("web-01", bad)
    assert got == [*one_by_one[:3], *one_by_one[4:10]]
    merged = [raws[0], '{"a": [1', '{"b": 1}]}', raws[1]]  # joined, the two broken lines parse as one record
    assert parse_journal_lines("web-01", merged) == one_by_one[:2]
    assert parse_journal_lines("web-01", []) == [] and parse_journal_lines("web-01", ["", "-- Boot --"]) == []
