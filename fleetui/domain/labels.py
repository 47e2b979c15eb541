"""Prometheus label rules and the fleet's label schema, checked before an enrollment touches anything.

A typo in a label (`maintainer` for `maintainers`) surfaces weeks later as a gap in a dashboard, and a label
value with a newline or a quote is the classic way user input breaks a generated file. So every label set is
validated here, purely, before the engine connects to a host: name syntax, the reserved `__` prefix, the labels
fleetui sets itself, value encoding and length, required keys and known misspellings of them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
MAX_NAME_LEN = 128
MAX_VALUE_LEN = 1024
# Set by the engine itself, with why. `instance` must equal the host's nodename (dashboards join on it); `job`
# is what the verify step and the HostDown rule select on (`node_exporter` from the Alloy config in push mode,
# the file_sd job in pull mode, `alloy`/`integrations/postgres` for the extra target groups), so a user value
# would make the host invisible to both.
ENGINE_LABELS: dict[str, str] = {
    "instance": "the host's nodename",
    "job": "node_exporter; the target file and the Alloy config set it",
}


class LabelError(ValueError):
    """One bad label, as a sentence that names the label and the rule it breaks."""


@dataclass(frozen=True)
class LabelSchema:
    """What every host must carry and which keys are known misspellings (from `schema.*` settings)."""

    required: tuple[str, ...] = ()
    aliases: Mapping[str, str] | None = None


def check_name(name: str) -> None:
    """Raise LabelError unless `name` is a label name a user may set."""
    if not name:
        raise LabelError("label name must not be empty")
    if len(name) > MAX_NAME_LEN:
        raise LabelError(f"label name {name[:40]!r}… is longer than {MAX_NAME_LEN} characters")
    if not LABEL_NAME_RE.fullmatch(name):
        raise LabelError(f"label name {name!r} is not valid: use letters, digits and _ and do not start with a digit")
    if name.startswith("__"):
        raise LabelError(f"label name {name!r} starts with __, which Prometheus reserves for internal labels")
    if name in ENGINE_LABELS:
        raise LabelError(f"label {name!r} is set by fleetui ({ENGINE_LABELS[name]}) and cannot be given")


def check_value(name: str, value: str) -> None:
    """Raise LabelError unless `value` is a safe, single-line UTF-8 label value."""
    if not isinstance(value, str):
        raise LabelError(f"label {name}: value must be text")
    if value == "":
        raise LabelError(f"label {name}: value must not be empty (an empty value removes the label in Prometheus)")
    if len(value) > MAX_VALUE_LEN:
        raise LabelError(f"label {name}: value is {len(value)} characters, the limit is {MAX_VALUE_LEN}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise LabelError(f"label {name}: value is not valid UTF-8") from None
    for ch in value:
        if ch in "\n\r":
            raise LabelError(f"label {name}: value must be one line (it contains a newline)")
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") and ch != "\t":
            raise LabelError(f"label {name}: value contains the control character U+{ord(ch):04X}")
    if value != value.strip():
        raise LabelError(f"label {name}: value has leading or trailing spaces")


def validate_labels(labels: Mapping[str, str], schema: LabelSchema | None = None) -> dict[str, str]:
    """Check every label and the schema; return a plain sorted copy or raise the first LabelError."""
    for name, value in labels.items():
        check_name(name)
        check_value(name, value)
    if schema is not None:
        aliases = schema.aliases or {}
        for name in labels:
            if name in aliases and aliases[name] != name:
                raise LabelError(f"label {name!r} is a known misspelling of {aliases[name]!r}: use {aliases[name]}=...")
        missing = [r for r in schema.required if r not in labels]
        if missing:
            raise LabelError(f"missing required label(s): {', '.join(missing)} (schema.required_labels)")
    return dict(sorted(labels.items()))


def parse_label_args(items: Iterable[str]) -> dict[str, str]:
    """`KEY=VALUE` strings (from `--label`) -> mapping; a repeated key or a missing `=` is an error."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise LabelError(f"--label expects KEY=VALUE, got {item[:60]!r}")
        key = key.strip()
        if key in out:
            raise LabelError(f"label {key!r} is given twice")
        out[key] = value
    return out
