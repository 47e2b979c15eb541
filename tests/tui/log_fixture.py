"""Fixed Alloy log lines for the log pane's snapshot and Pilot tests.

A domain value (a list of LogLines in Alloy's real formats: ALLOY-FACTS §3 and the GitHub issues it cites), fed
to the pane through FixedLogFeed / QueueLogFeed; it does not stand in for a host: streaming over SSH from the
lab's hosts is tested in tests/tui/test_lab_logs.py and tests/lab/test_logs_lab.py.
"""

from __future__ import annotations

from fleetui.domain.logline import LogLine, level_of, note

T0 = 1_747_632_829.271  # 2025-05-19 05:33:49.271 UTC

_ALLOY = [
    'ts=2025-05-19T05:33:49.27152637Z level=info msg="starting complete graph evaluation" controller_path=/ '
    'controller_id="" trace_id=95e782c0c419b590c9c2f40e848d080f',
    'ts=2025-05-19T05:33:49.271559837Z level=info msg="replaying WAL, this may take a while" component_path=/ '
    "component_id=prometheus.remote_write.default subcomponent=wal "
    "dir=/var/lib/alloy/data/prometheus.remote_write.default/wal",
    'ts=2025-05-19T05:33:49.3Z level=debug msg="scrape pool started" component_path=/ '
    "component_id=prometheus.scrape.default",
    'ts=2025-05-19T05:33:50.01Z level=info msg="now listening for http traffic" service=http addr=127.0.0.1:12345',
    'ts=2025-05-19T05:34:04.5Z level=warn msg="Failed to send batch, retrying" component_path=/ '
    "component_id=prometheus.remote_write.default subcomponent=rw remote_name=564de6 "
    'url=http://10.0.0.5:9090/api/v1/write err="server returned HTTP status 429 Too Many Requests: slow down"',
    'ts=2025-12-04T00:14:28.436638912Z level=error msg="non-recoverable error" component_path=/ '
    "component_id=prometheus.remote_write.default subcomponent=rw remote_name=564de6 "
    "url=http://10.0.0.5:9090/api/v1/write failedSampleCount=771 failedHistogramCount=0 failedExemplarCount=0 "
    'err="server returned HTTP status 404 Not Found: remote write receiver needs to be enabled with '
    '--web.enable-remote-write-receiver"',
    'ts=2025-05-19T05:34:20Z level=info msg="reload requested via /-/reload endpoint"',
    'ts=2025-05-19T05:34:20.2Z level=error msg="failed to reload config" err="config.alloy:3:1: illegal character '
    "U+0023 '#'\"",
    'ts=2025-05-19T05:34:21Z level=info msg="[red]markup stays text[/red] \x1b[31mand escapes show\x1b[0m"',
]


def alloy_lines(host: str = "web-01", repeat: int = 1) -> list[LogLine]:
    """The sample lines (times one second apart), `repeat` times over, plus one systemd line."""
    out: list[LogLine] = [
        LogLine(
            host, "Started alloy.service - Vendor-agnostic OpenTelemetry Collector.", T0 - 1, level_of("", 6), "systemd"
        )
    ]
    for r in range(repeat):
        for i, text in enumerate(_ALLOY):
            out.append(LogLine(host, text, T0 + r * len(_ALLOY) + i, level_of(text), "alloy"))
    return out


def merged_lines() -> list[LogLine]:
    """Two hosts interleaved, with the notes a cut and a resume add."""
    a, b = alloy_lines("web-01"), alloy_lines("cache-01")
    out = [x for pair in zip(a, b, strict=True) for x in pair]
    out.insert(8, note("cache-01", "── connection lost (Connection reset by peer); reconnecting ──", T0 + 4))
    out.insert(
        10,
        note(
            "cache-01",
            "── reconnected after 1.2s; resumed after journal cursor …7;x=a5054b96, no line lost or repeated ──",
            T0 + 5,
        ),
    )
    return out


def numbered(host: str, start: int, n: int, level: str = "info") -> list[LogLine]:
    return [
        LogLine(host, f'ts=2025-05-19T05:35:00Z level={level} msg="line {i}"', T0 + i, level_of(f"level={level}"))
        for i in range(start, start + n)
    ]
