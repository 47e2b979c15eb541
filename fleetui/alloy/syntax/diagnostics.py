"""Syntax diagnostics, printed in the one-line `file:line:col: message` form `alloy fmt` uses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnostic:
    """One syntax error. `line` and `col` are 1-based; `col` counts bytes (a tab is one column), as Alloy."""

    filename: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.col}: {self.message}"


class AlloySyntaxError(Exception):
    """The source does not parse; `.diagnostics` lists every error in the order Alloy reports them."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    def __str__(self) -> str:
        return "\n".join(str(d) for d in self.diagnostics)
