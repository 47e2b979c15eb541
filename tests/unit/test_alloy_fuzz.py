"""Property tests: the parser only ever fails with AlloySyntaxError, and formatting round-trips.

Inputs are random text/bytes drawn from Alloy's token alphabet and mutations (insert, delete, replace) of valid
configurations. The `alloy-fuzz` profile bounds the run to a few seconds; raise `max_examples` to fuzz longer.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetui.alloy.syntax import AlloySyntaxError, Diagnostic, check, format_file, parse


def strip_positions(node: Any) -> Any:
    """The tree without positions, raw texts and comments (as in test_alloy_printer)."""
    if isinstance(node, tuple):
        return tuple(strip_positions(n) for n in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        kept = [f.name for f in dataclasses.fields(node) if f.name not in ("pos", "end", "comments", "raw")]
        return (type(node).__name__, *((name, strip_positions(getattr(node, name))) for name in kept))
    return node


settings.register_profile("alloy-fuzz", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings.get_profile("alloy-fuzz")

CORPUS = [
    'prometheus.exporter.unix "default" {\n\tset_collectors = ["cpu", "meminfo"]\n}\n',
    'prometheus.scrape "node" {\n\ttargets    = prometheus.exporter.unix.default.targets\n'
    '\tforward_to = [prometheus.remote_write.main.receiver]\n\tscrape_interval = "15s"\n}\n',
    'prometheus.remote_write "main" {\n\tendpoint {\n\t\turl = "http://p:9090/api/v1/write"\n'
    '\t\tbasic_auth {\n\t\t\tpassword = sys.env("PW")\n\t\t}\n\t}\n'
    '\texternal_labels = {instance = "h", "a b" = "c"}\n}\n',
    "x = -(1 + 2.5e3) * .5 ^ 2 % 3 / 4 - !true || a[0] && f(1, `raw\nstr`) != null\n// c\n/* d */\n",
    'logging {\n\tlevel  = "info" // trailing\n\tformat = "logfmt"\n}\nv = "\\x41\\u00e9\\101\\t"\n',
]

ALPHABET = st.sampled_from(
    [*"abcxyz_019.eE+-*/%^!=<>&|,()[]{}\"'`\\ \t\n\r#/*", "\x00", "\ufeff", "é", "名", "//", "/*", "*/", "\\u"]
)


def assert_clean(src: str | bytes) -> None:
    try:
        f = parse(src, "fuzz.alloy")
    except AlloySyntaxError as e:
        assert e.diagnostics
        for d in e.diagnostics:
            assert isinstance(d, Diagnostic)
            assert d.line >= 1 and d.col >= 1 and d.message
        assert check(src, "fuzz.alloy") == e.diagnostics
        return
    again = parse(format_file(f), "fuzz.alloy")
    assert strip_positions(again) == strip_positions(f)


@FUZZ
@given(st.lists(ALPHABET, max_size=80).map("".join))
def test_random_token_soup(src: str) -> None:
    assert_clean(src)


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes(src: bytes) -> None:
    assert_clean(src)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    src = draw(st.sampled_from(CORPUS))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(src)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        ch = draw(ALPHABET)
        if op == "insert":
            src = src[:i] + ch + src[i:]
        elif op == "delete":
            src = src[:i] + src[i + 1 :]
        else:
            src = src[:i] + ch + src[i + 1 :]
    return src


@FUZZ
@given(mutated())
def test_mutated_valid_configs(src: str) -> None:
    assert_clean(src)


def test_corpus_is_valid() -> None:
    for src in CORPUS:
        assert check(src) == []
