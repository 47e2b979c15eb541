"""Hostile strings: what a host, a file or a server can put in front of the console.

Anyone who pushes through remote_write picks their own label values, so each of these is a value the console
must show as typed (markup stays literal text) with invisible and terminal-interpreted characters made
visible. `shown` is how the console spells the value, written out here by hand rather than computed by the
code under test.

Used by the console's Pilot tests against the lab's real Prometheus (tests/tui/conftest.py pushes every
`label_ok` entry as a host's instance and labels) and by the unit tests of fleetui.tui.safe; later panes
(log lines, alert annotations) feed the same corpus through their own sinks. Two entries cannot be label
values, and say why: Prometheus treats an empty label value as no label, and it rejects invalid UTF-8 in
labels — bytes that are not UTF-8 arrive as log lines, so that entry is `bytes`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hostile:
    id: str
    value: str | bytes
    shown: str  # what the console displays (before any cutting to a width)
    label_ok: bool = True  # Prometheus accepts it as a label value

    @property
    def text(self) -> str:
        assert isinstance(self.value, str)
        return self.value


def _h(id: str, value: str | bytes, shown: str | None = None, *, label_ok: bool = True) -> Hostile:
    if shown is None:
        assert isinstance(value, str)
        shown = value
    return Hostile(id, value, shown, label_ok)


LONG = "long-" + "0123456789" * 1000  # 10,005 characters

CORPUS: tuple[Hostile, ...] = (
    _h("unbalanced-close", "aa-bad[/nope]"),  # crashed the palette (MarkupError)
    _h("markup-reverse", "[reverse]zz[/reverse]"),  # restyled the palette
    _h("unclosed-open", "[bold red]loud"),
    _h("link", "[link=https://evil.example/]click me[/link]"),
    _h("click-action", "[@click=app.quit]quit[/]"),  # Textual markup can bind a click to an action
    _h("theme-variable", "[$accent]themed[/]"),
    _h("backslashes", "back\\[slash]\\"),
    _h("ansi-colour", "\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    _h("ansi-wipe", "\x1b[2J\x1b[Hwiped", "\\x1b[2J\\x1b[Hwiped"),
    _h("osc8-link", "\x1b]8;;https://evil.example/\x07link", "\\x1b]8;;https://evil.example/\\x07link"),
    _h("bidi-override", "\u202egnp.exe", "\\u202egnp.exe"),  # would read "exe.png"
    _h("bidi-isolate", "a\u2066b\u2069c\u200f", "a\\u2066b\\u2069c\\u200f"),
    _h("newline-tab", "line1\nline2\tcol\rcr", "line1\\nline2\\tcol\\rcr"),
    _h("nul-bell", "nul\x00bell\x07del\x7f", "nul\\x00bell\\x07del\\x7f"),
    _h("zero-width", "zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
    _h("tag-smuggling", "tag\U000e0041\U000e0042", "tag\\U000e0041\\U000e0042"),
    _h("wide", "宽字符🔥e\u0301"),  # double-width and combining characters stay as they are
    _h("long", LONG),
    _h("empty", "", label_ok=False),
    _h("non-utf8", b"bad \xff\xfe utf-8 \xc3(", "bad \\xff\\xfe utf-8 \\xc3(", label_ok=False),
)

LABEL_VALUES = tuple(h for h in CORPUS if h.label_ok)
BY_ID = {h.id: h for h in CORPUS}
