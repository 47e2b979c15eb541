"""Prometheus relabelling (`rule {}` blocks of discovery.relabel / prometheus.relabel), fleetui lab stand-in.

Actions replace, keep, drop, labelmap, labeldrop, labelkeep, lowercase, uppercase; regexes are anchored and
`$1`/`${1}`/`$name` expand as in Prometheus.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_GO_REF = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def _expand(m: re.Match[str], template: str) -> str:
    def sub(ref: re.Match[str]) -> str:
        name = ref.group(1) or ref.group(2)
        try:
            val = m.group(int(name)) if name.isdigit() else m.group(name)
        except (IndexError, re.error):
            return ""
        return val or ""

    return _GO_REF.sub(sub, template)


def apply(labels: Mapping[str, str], rules: Sequence[Mapping[str, Any]]) -> dict[str, str] | None:
    """The relabelled label set, or None when a keep/drop rule drops it."""
    out = dict(labels)
    for r in rules:
        action = str(r.get("action", "replace")).lower()
        regex = re.compile(f"^(?:{r.get('regex', '(.*)')})$")
        sep = str(r.get("separator", ";"))
        value = sep.join(out.get(s, "") for s in r.get("source_labels", []) or [])
        target = r.get("target_label", "")
        replacement = str(r.get("replacement", "$1"))
        if action == "replace":
            m = regex.match(value)
            if m and target:
                res = _expand(m, replacement)
                tgt = _expand(m, target)
                if res:
                    out[tgt] = res
                else:
                    out.pop(tgt, None)
        elif action == "keep":
            if not regex.match(value):
                return None
        elif action == "drop":
            if regex.match(value):
                return None
        elif action == "labelmap":
            for k, v in list(out.items()):
                m = regex.match(k)
                if m:
                    out[_expand(m, replacement)] = v
        elif action == "labeldrop":
            out = {k: v for k, v in out.items() if not regex.match(k)}
        elif action == "labelkeep":
            out = {k: v for k, v in out.items() if regex.match(k)}
        elif action in ("lowercase", "uppercase") and target:
            out[target] = value.lower() if action == "lowercase" else value.upper()
    return out


def relabel_targets(targets: list[Any], rules: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for t in targets:
        if isinstance(t, dict):
            r = apply({str(k): str(v) for k, v in t.items()}, rules)
            if r is not None:
                out.append(r)
    return out
