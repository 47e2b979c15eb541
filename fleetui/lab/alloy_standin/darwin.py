"""The lab-only `darwin_memory` switch: scraped memory metrics under the names node_exporter uses on macOS.

The lab's hosts run Linux's node_exporter; a macOS host's reports memory as node_memory_total_bytes,
node_memory_free_bytes, node_memory_swap_total_bytes (and more macOS-only names) and none of the Linux
`node_memory_<MemInfo>_bytes` ones. With the switch on, the stand-in's scrapes see exactly that: the three
renamed, every other Linux memory metric gone, so Prometheus gets what a macOS host without fleetui's relabel
rules pushes (the `macos_memory_names` problem), and a `prometheus.relabel` in the config acts on it as on a
real Mac's samples.
"""

from __future__ import annotations

SWITCH = "darwin_memory"
LINUX_TO_DARWIN = {
    "node_memory_MemTotal_bytes": "node_memory_total_bytes",
    "node_memory_MemFree_bytes": "node_memory_free_bytes",
    "node_memory_SwapTotal_bytes": "node_memory_swap_total_bytes",
}


def as_darwin(samples: list[tuple[dict[str, str], float]]) -> list[tuple[dict[str, str], float]]:
    """`samples` with Linux's memory metrics as macOS names them (the rest of node_memory_* dropped)."""
    out = []
    for labels, value in samples:
        name = labels.get("__name__", "")
        if name.startswith("node_memory_"):
            if name not in LINUX_TO_DARWIN:
                continue
            labels = {**labels, "__name__": LINUX_TO_DARWIN[name]}
        out.append((labels, value))
    return out
