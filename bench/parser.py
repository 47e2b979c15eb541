"""Parser speed: parse (and format) a generated ~5,000-line Alloy config; prints lines/s.

Target: a 5,000-line config parses in well under a second. Run: `.venv/bin/python bench/parser.py [LINES]`.
"""

from __future__ import annotations

import sys
import time

from fleetui.alloy.syntax import format_file, parse

CHUNK = """// host {i}
prometheus.exporter.unix "host_{i}" {{
	set_collectors = ["cpu", "meminfo", "filesystem", "netdev"]
	include_exporter_metrics = true
}}

prometheus.scrape "host_{i}" {{
	targets    = prometheus.exporter.unix.host_{i}.targets
	forward_to = [prometheus.remote_write.main.receiver]
	scrape_interval = "15s"
	job_name        = string.format("node-%d", {i} * 2 + 1)
	extra = {{ "a b" = 1.5e3, c = [null, true, !false, -.5], d = sys.env("HOME")[0] }}
}}

"""


def build(lines: int) -> str:
    per = CHUNK.count("\n")
    return "".join(CHUNK.format(i=i) for i in range(max(1, lines // per)))


def best_of(n: int, fn: object) -> float:
    assert callable(fn)
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    target = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    src = build(target)
    nlines = src.count("\n")
    tree = parse(src)
    t_parse = best_of(5, lambda: parse(src))
    t_fmt = best_of(3, lambda: format_file(tree))
    print(f"config: {nlines} lines, {len(src)} bytes")
    print(f"parse:  {t_parse * 1000:.1f} ms  ({nlines / t_parse:,.0f} lines/s, best of 5)")
    print(f"format: {t_fmt * 1000:.1f} ms  ({nlines / t_fmt:,.0f} lines/s, best of 3)")


if __name__ == "__main__":
    main()
