"""The host filter shared by `fleetui status --filter` and the console's `/` prompt.

An expression is whitespace-separated terms, all of which must match (AND):

- `label=value`, `label!=value` — exact match on a label; an absent label counts as the empty string, as in
  PromQL, so `maintainers=` finds hosts without `maintainers`;
- `label=~regex`, `label!~regex` — fully anchored regular expressions, as in PromQL;
- anything else is free text, matched case-insensitively as a substring of the instance, state, mode,
  nodename, any label value or any problem code.

Besides real labels a term may name the row's fields `instance`, `state`, `mode`, `nodename` and `problem`
(true when any problem code matches). Quote a value with spaces: `location="Primary Rack"`. Pure: the
parse happens once, `matches` is cheap enough for 10,000 rows per keystroke.

A term on a label that no host has is legal (`maintainers=` finds every host then) but is most often a
misremembered name (`env=prod` for `environment=production`), which shows as a silently empty table:
`unknown_labels` and `unknown_labels_note` let the console and the CLI say so in the same words.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from fleetui.domain.fleet import HostStatus

#: names a term may use that are the row's own fields, never "unknown" (see `_values`)
FIELDS = frozenset({"problem", "state", "mode", "instance", "nodename"})

_TERM = re.compile(r"(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)(?P<op>=~|!~|!=|=)(?P<value>.*)", re.DOTALL)


class FilterError(ValueError):
    """A filter expression that cannot be parsed: one sentence naming the bad term."""


@dataclass(frozen=True)
class Term:
    name: str | None  # None: free text
    op: str  # "=", "!=", "=~", "!~" or "text"
    value: str
    regex: re.Pattern[str] | None = None

    def matches(self, host: HostStatus) -> bool:
        if self.name is None:
            needle = self.value.lower()
            return any(needle in v.lower() for v in _haystack(host))
        values = _values(host, self.name)
        if self.op == "=":
            return self.value in values
        if self.op == "!=":
            return self.value not in values
        assert self.regex is not None
        hit = any(self.regex.fullmatch(v) for v in values)
        return hit if self.op == "=~" else not hit


@dataclass(frozen=True)
class HostFilter:
    """A parsed expression; the empty expression matches every host."""

    terms: tuple[Term, ...] = ()
    text: str = ""

    def matches(self, host: HostStatus) -> bool:
        return all(t.matches(host) for t in self.terms)

    def apply(self, hosts: Iterable[HostStatus]) -> tuple[HostStatus, ...]:
        return tuple(h for h in hosts if self.matches(h))

    def unknown_labels(self, hosts: Iterable[HostStatus]) -> tuple[str, ...]:
        """The label names the terms ask about that no host has, in the order typed (the row fields in
        FIELDS always count as known). Stops reading hosts once every name is found, so a filter on known
        labels costs a few dict lookups, and an unknown one one pass over the fleet."""
        wanted = dict.fromkeys(t.name for t in self.terms if t.name is not None and t.name not in FIELDS)
        missing = set(wanted)
        for host in hosts:
            if not missing:
                break
            missing -= host.labels.keys()
        return tuple(n for n in wanted if n in missing)


def label_names(hosts: Iterable[HostStatus]) -> frozenset[str]:
    """Every label name some host has."""
    names: set[str] = set()
    for host in hosts:
        names.update(host.labels)
    return frozenset(names)


def unknown_labels_note(unknown: Iterable[str], known: Iterable[str] = ()) -> str:
    """One plain sentence for the operator about label names no host has, with the closest real name when
    one looks meant (`env` -> `environment`); "" when there is nothing to say. The known names come from
    Prometheus: the caller shows the sentence as plain text."""
    names = list(unknown)
    if not names:
        return ""
    said = " or ".join(f"`{n}`" for n in names)
    note = f"no host has a label {said}"
    choices = sorted(set(known))
    hints = [m for n in names if (m := _closest(n, choices)) is not None]
    if hints:
        note += " — did you mean " + " or ".join(f"`{m}`" for m in dict.fromkeys(hints)) + "?"
    return note


def _closest(name: str, known: list[str]) -> str | None:
    """A known label name `name` probably stands for: the same but for case, one it begins (an abbreviation of
    three letters or more), else the closest spelling (difflib's default cutoff), else None."""
    lower = name.lower()
    for k in known:
        if k.lower() == lower:
            return k
    prefixed = [k for k in known if len(lower) >= 3 and k.lower().startswith(lower)]
    if prefixed:
        return min(prefixed, key=len)
    close = difflib.get_close_matches(name, known, n=1)
    return close[0] if close else None


def _values(host: HostStatus, name: str) -> tuple[str, ...]:
    """The value(s) a term's name refers to; several only for `problem` (one per code)."""
    if name == "problem":
        return tuple(p.code for p in host.problems) or ("",)
    if name == "state":
        return (host.state.value,)
    if name == "mode":
        return (host.mode.value,)
    if name == "instance":
        return (host.instance,)
    if name == "nodename" and "nodename" not in host.labels:
        return (host.nodename or "",)
    return (host.labels.get(name, ""),)


def _haystack(host: HostStatus) -> Iterable[str]:
    yield host.instance
    yield host.state.value
    yield host.mode.value
    if host.nodename:
        yield host.nodename
    yield from host.labels.values()
    for p in host.problems:
        yield p.code


def parse_filter(expr: str) -> HostFilter:
    """Parse an expression (see the module docstring); raise FilterError on bad quoting or a bad regex."""
    try:
        tokens = shlex.split(expr)
    except ValueError as e:
        raise FilterError(f"filter {expr!r}: {e}") from None
    terms = []
    for tok in tokens:
        m = _TERM.fullmatch(tok)
        if m is None:
            terms.append(Term(None, "text", tok))
            continue
        name, op, value = m["name"], m["op"], m["value"]
        regex = None
        if op in ("=~", "!~"):
            try:
                regex = re.compile(value)
            except re.error as e:
                raise FilterError(f"filter term {tok!r}: bad regular expression: {e}") from None
        terms.append(Term(name, op, value, regex))
    return HostFilter(tuple(terms), expr)
