"""The macOS memory-name fix for a push host's Alloy config: a `prometheus.relabel` put before remote_write. Pure.

node_exporter on macOS names some memory metrics differently from Linux (node_memory_total_bytes, not
node_memory_MemTotal_bytes), so Linux dashboards show nothing for the host. `fleetui enroll` deploys relabel
rules renaming them on macOS; a config written by hand (or before fleetui) lacks them. The fix inserts the same
component enrollment deploys, in front of the first `prometheus.remote_write` block, and points every
`forward_to` that fed remote_write at it instead. Nothing else changes: the diff is the inserted block and the
`forward_to` lines, so a hand-written config keeps its layout. A pipeline fleetui cannot rewire with certainty
(no remote_write receiver in any `forward_to`, feeders that go to different remote_writes, the component
already there) is refused with what to do by hand.

Only a push host can be fixed this way: a pull host's samples are scraped by Prometheus from Alloy's exporter
endpoint and never pass through an Alloy relabel (there the rename belongs in Prometheus' scrape job).
"""

from __future__ import annotations

import re

from fleetui.domain.fixes import FixError

# (macOS name, Linux name): the renames `fleetui enroll` deploys on macOS (templates/alloy/partials/push.alloy.j2)
MACOS_RENAMES = (
    ("node_memory_total_bytes", "node_memory_MemTotal_bytes"),
    ("node_memory_free_bytes", "node_memory_MemAvailable_bytes"),
    ("node_memory_swap_total_bytes", "node_memory_SwapTotal_bytes"),
)
COMPAT_LABEL = "node_exporter_compat"
COMPAT_RECEIVER = f"prometheus.relabel.{COMPAT_LABEL}.receiver"
COMMENT = "// macOS names some memory metrics differently from Linux; rename them so Linux dashboards work."
_COMPONENT = re.compile(r'^(?P<name>[A-Za-z_][\w.]*)[ \t]+"(?P<label>[^"]*)"[ \t]*\{', re.M)
_RW_REF = re.compile(r"\bprometheus\.remote_write\.[A-Za-z_]\w*\.receiver\b")
_FORWARD = re.compile(r"\bforward_to\s*=\s*\[")
_INDENTED = re.compile(r"^([ \t]+)\S", re.M)


def span_end(text: str, open_at: int, pair: str) -> int:
    """Index just after the bracket closing the one at `open_at` (brackets inside strings skipped); both push
    fixes find their blocks with it."""
    depth, in_str, escaped = 0, False, False
    for j in range(open_at, len(text)):
        c = text[j]
        if in_str:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c == pair[0]:
            depth += 1
        elif c == pair[1]:
            depth -= 1
            if depth == 0:
                return j + 1
    raise FixError("the Alloy config has an unclosed block")


def _indent_unit(text: str) -> str:
    """The config's own indentation (a tab, or its first indented line's spaces), so the block fits in."""
    m = _INDENTED.search(text)
    if m is None:
        return "\t"
    return "\t" if m.group(1).startswith("\t") else m.group(1)


def compat_block(sinks: list[str], indent: str = "\t") -> str:
    """The relabel component enrollment deploys on macOS, forwarding to `sinks`, with its comment line."""
    i, ii = indent, indent * 2
    rules = "".join(
        f'{i}rule {{\n{ii}source_labels = ["__name__"]\n{ii}regex         = "{old}"\n'
        f'{ii}target_label  = "__name__"\n{ii}replacement   = "{new}"\n{i}}}\n'
        for old, new in MACOS_RENAMES
    )
    return f'{COMMENT}\nprometheus.relabel "{COMPAT_LABEL}" {{\n{i}forward_to = [{", ".join(sinks)}]\n\n{rules}}}\n'


def add_macos_relabel(text: str) -> str:
    """`text` with the macOS renames inserted before remote_write (see the module docstring). Raises FixError."""
    if re.search(rf'regex\s*=\s*"{MACOS_RENAMES[0][0]}"', text):
        raise FixError("the Alloy config already has a rule for node_memory_total_bytes: check it by hand")
    comps = list(_COMPONENT.finditer(text))
    if any(m["name"] == "prometheus.relabel" and m["label"] == COMPAT_LABEL for m in comps):
        raise FixError(f'the Alloy config already has prometheus.relabel "{COMPAT_LABEL}": check it by hand')
    feeds: list[tuple[int, int, list[str]]] = []  # [start, end) of each forward_to list naming a remote_write
    for m in comps:
        start = text.index("{", m.start())
        end = span_end(text, start, "{}")
        for f in _FORWARD.finditer(text, start, end):
            lo, hi = f.end() - 1, span_end(text, f.end() - 1, "[]")
            refs = _RW_REF.findall(text, lo, hi)
            if refs:
                feeds.append((lo, hi, refs))
    if not feeds:
        raise FixError("no forward_to names a prometheus.remote_write receiver: add the macOS relabel rules by hand")
    sinks = list(dict.fromkeys(feeds[0][2]))
    if any(list(dict.fromkeys(refs)) != sinks for _, _, refs in feeds):
        raise FixError("components forward to different remote_writes: add the macOS relabel rules by hand")
    rw = next(
        (m for m in comps if m["name"] == "prometheus.remote_write" and f"{m['name']}.{m['label']}.receiver" in sinks),
        None,
    )
    if rw is None:
        raise FixError(f"no prometheus.remote_write block for {sinks[0]}: add the macOS relabel rules by hand")
    out, last = [], 0
    for lo, hi, refs in feeds:
        inner = text[lo + 1 : hi - 1]
        if len(refs) == 1:
            new_inner = inner.replace(refs[0], COMPAT_RECEIVER, 1)
        elif re.fullmatch(r"\s*" + r"\s*,\s*".join(map(re.escape, refs)) + r"\s*,?\s*", inner):
            new_inner = COMPAT_RECEIVER  # only remote_write receivers: the relabel forwards to all of them
        else:
            raise FixError("a forward_to mixes several remote_writes with other receivers: add the rules by hand")
        out += [text[last : lo + 1], new_inner]
        last = hi - 1
    out.append(text[last:])
    fed = "".join(out)
    rw_at = next(m.start() for m in _COMPONENT.finditer(fed) if m["name"] == rw["name"] and m["label"] == rw["label"])
    at = span_end(fed, fed.index("{", rw_at), "{}")
    # after the remote_write block: Alloy wires components by reference, not by order, and there the diff
    # shows the block as added lines only (before it, its own forward_to line would pair with the old one)
    return fed[:at] + "\n\n" + compat_block(sinks, _indent_unit(text)).rstrip("\n") + fed[at:]
