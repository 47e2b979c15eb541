"""Source text with Alloy's position rules: 1-based lines, columns counted in bytes of UTF-8.

The scanner works on a `str` for speed. Bytes that are not valid UTF-8 are decoded with `surrogateescape`, so each
bad byte stays one character (U+DC80..U+DCFF) and can be reported as Alloy does ("illegal UTF-8 encoding"). Byte
columns are only computed the slow way on lines that are not pure ASCII.
"""

from __future__ import annotations

from bisect import bisect_right

from fleetui.alloy.syntax.ast import Pos


def decode(src: str | bytes) -> str:
    """Normalise input to the scanner's text form (see the module docstring)."""
    if isinstance(src, str):
        if src.isascii():
            return src
        src = src.encode("utf-8", "surrogatepass")
    return src.decode("utf-8", "surrogateescape")


class Source:
    """Maps character offsets of the decoded text to Alloy positions."""

    __slots__ = ("_ascii", "line_starts", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._ascii = text.isascii()
        starts = [0]
        find = text.find
        i = find("\n")
        while i != -1:
            starts.append(i + 1)
            i = find("\n", i + 1)
        self.line_starts = starts

    def pos(self, off: int) -> Pos:
        line = bisect_right(self.line_starts, off)
        start = self.line_starts[line - 1]
        if self._ascii:
            return Pos(line, off - start + 1)
        return Pos(line, len(self.text[start:off].encode("utf-8", "surrogateescape")) + 1)
