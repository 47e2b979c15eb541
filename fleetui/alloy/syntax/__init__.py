"""Offline Alloy configuration syntax: parse, check and format without an `alloy` binary.

`parse` and `check` report the errors `alloy fmt` reports, worded and positioned the same (`file:line:col:
message`, byte columns). See `parser.py` for the recovery rules and the one deliberate difference (a nesting limit).
"""

from __future__ import annotations

from fleetui.alloy.syntax.diagnostics import AlloySyntaxError, Diagnostic
from fleetui.alloy.syntax.parser import MAX_DEPTH, check, parse
from fleetui.alloy.syntax.printer import format_file
from fleetui.alloy.syntax.scanner import is_valid_identifier

__all__ = ["MAX_DEPTH", "AlloySyntaxError", "Diagnostic", "check", "format_file", "is_valid_identifier", "parse"]
