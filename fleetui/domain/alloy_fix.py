"""Fixing a push host's identity labels in its own Alloy config text. Pure.

A push host's `instance` and `job` are set where Alloy scrapes (Prometheus only sees what Alloy remote-writes),
so the fix is an edit of the host's config: `instance` set to the machine's nodename, an explicit `job`
added to the literal target of the `prometheus.scrape` component whose path Alloy used as the job, and
macOS's memory metric names renamed before remote_write (fleetui.domain.alloy_macos). The edit
touches only those lines, so a hand-written config keeps its layout and the diff shows the fix and nothing else.
Configs whose targets are not a literal list (e.g. `targets = discovery.relabel.x.output`) are refused with a
clear message: their labels live in relabel rules, and guessing an edit there could change more than asked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from fleetui.domain.alloy_macos import add_macos_relabel, span_end
from fleetui.domain.fixes import FixError

PUSH_FIXABLE = frozenset({"instance_nodename_mismatch", "job_component_path", "macos_memory_names"})
DEFAULT_JOB = "node_exporter"
_OBJECT_KEY = re.compile(r'^[ \t]*[A-Za-z_][A-Za-z0-9_]*\s*=\s*"[^"]*",?[ \t]*$')
_BLOCK = re.compile(r'^(?P<indent>[ \t]*)prometheus\.scrape\s+"(?P<label>[^"]*)"\s*\{', re.M)
_TARGET_KEY = re.compile(
    r'^(?P<indent>[ \t]*)(?P<key>__address__|instance|job)(?P<pad>\s*)=\s*"(?P<value>[^"]*)"(?P<rest>,?.*)$'
)


def _block_span(text: str, start: int) -> tuple[int, int]:
    """[start, end) of the `{ ... }` block whose `{` is at or after `start` (braces in strings skipped)."""
    i = text.index("{", start)
    return i, span_end(text, i, "{}")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def job_for(label: str, block: str) -> str:
    """The explicit job for a scrape component: node_exporter for a node exporter scrape, else its label."""
    return DEFAULT_JOB if (":9100" in block or "exporter.unix" in block or "node" in label) else label


def fix_alloy_config(
    text: str,
    *,
    instance: str | None = None,
    nodename: str | None = None,
    bad_jobs: Sequence[str] = (),
    fix_jobs: bool = False,
    macos: bool = False,
) -> str:
    """`text` with `instance = "<instance>"` set to `nodename` and each bad job made explicit in its scrape.

    `instance` None / `bad_jobs` empty and `fix_jobs` False: that part is not asked for; `fix_jobs` without
    `bad_jobs`: every scrape that lacks a job. `macos`: the macOS memory renames put before remote_write
    (fleetui.domain.alloy_macos). Raises FixError when the config does not
    hold the line to change (the fix then needs a person, and the message says where to look).
    """
    lines = text.split("\n")
    if instance is not None and nodename is not None:
        hits = 0
        for n, ln in enumerate(lines):
            m = _TARGET_KEY.match(ln)
            if m and m["key"] == "instance" and m["value"] == instance:
                lines[n] = f"{m['indent']}instance{m['pad']}= {_quote(nodename)}{m['rest']}"
                hits += 1
        if not hits:
            raise FixError(f'no `instance = "{instance}"` in the Alloy config: set it to {nodename!r} by hand')
    text = "\n".join(lines)
    for job in bad_jobs:
        text = _add_job(text, job)
    if fix_jobs and not bad_jobs:
        text = _add_missing_jobs(text)
    if macos:
        text = add_macos_relabel(text)
    return text


def _add_missing_jobs(text: str) -> str:
    """Every prometheus.scrape with a literal target list and no job in it gets its explicit job.

    Exactly those scrapes make Alloy use the component path as the job, so this is the job fix when the fleet
    row does not name the path (its newest series and the old one can both be present for a moment).
    """
    labels = [m["label"] for m in _BLOCK.finditer(text)]
    changed = 0
    for label in labels:
        try:
            text = _add_job(text, f"prometheus.scrape.{label}")
            changed += 1
        except FixError:
            continue
    if not changed:
        raise FixError("no prometheus.scrape with a literal target list lacks a job: set job by hand")
    return text


def _add_job(text: str, job: str) -> str:
    kind, _, label = job.rpartition(".")
    if kind != "prometheus.scrape":
        raise FixError(f"job {job!r} is not a prometheus.scrape component: set job in its config by hand")
    m = next((b for b in _BLOCK.finditer(text) if b["label"] == label), None)
    if m is None:
        raise FixError(f'no prometheus.scrape "{label}" block in the Alloy config')
    start, end = _block_span(text, m.start())
    block = text[start:end]
    tm = re.search(r"\btargets\s*=\s*\[", block)
    if tm is None:
        raise FixError(f'prometheus.scrape "{label}" has no literal targets list: add job in its relabel rules by hand')
    new_job = job_for(label, block)
    out, changed = [], 0
    body = block.split("\n")
    for ln in body:
        k = _TARGET_KEY.match(ln)
        if k and k["key"] == "job":
            raise FixError(f'prometheus.scrape "{label}" already sets job in a target; Prometheus reports {job!r}')
    width, in_target = 0, False
    for n, ln in enumerate(body):
        out.append(ln)
        k = _TARGET_KEY.match(ln)
        if k and k["key"] == "__address__":
            width, in_target = len("__address__") + len(k["pad"]), True
        nxt = body[n + 1] if n + 1 < len(body) else ""
        if in_target and _OBJECT_KEY.match(ln) and not _OBJECT_KEY.match(nxt):
            # after the target's last key, so a line the break removed comes back where it was
            indent = ln[: len(ln) - len(ln.lstrip())]
            out.append(f"{indent}{'job'.ljust(width)}= {_quote(new_job)},")
            changed += 1
            in_target = False
    if not changed:
        raise FixError(f'prometheus.scrape "{label}" has no __address__ line in its targets: add job by hand')
    return text[:start] + "\n".join(out) + text[end:]
