"""Label names and values against Prometheus' rules and the fleet schema (pure; nothing to fake)."""

from __future__ import annotations

import pytest

from fleetui.domain.labels import LabelError, LabelSchema, parse_label_args, validate_labels

SCHEMA = LabelSchema(("environment", "maintainers"), {"maintainer": "maintainers", "env": "environment"})


def test_valid_labels_pass_sorted() -> None:
    out = validate_labels({"maintainers": "web-team", "environment": "production", "rack_2": "A1 ü"}, SCHEMA)
    assert list(out) == ["environment", "maintainers", "rack_2"]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("2fast", "not valid"),
        ("has-dash", "not valid"),
        ("dot.ted", "not valid"),
        ("", "must not be empty"),
        ("__metrics_path__", "reserves"),
        ("__anything", "reserves"),
        ("instance", "set by fleetui"),
        ("x" * 129, "longer than"),
        ("ümlaut", "not valid"),
        ("a b", "not valid"),
        ("a;rm -rf /", "not valid"),
    ],
)
def test_bad_names_refused(name: str, why: str) -> None:
    with pytest.raises(LabelError, match=why):
        validate_labels({name: "v"})


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("two\nlines", "one line"),
        ("carriage\rreturn", "one line"),
        ("nul\x00byte", "control character U\\+0000"),
        ("bell\x07", "control character"),
        ("bidi\u202eoverride", "control character U\\+202E"),
        ("line\u2028sep", "control character"),
        ("", "must not be empty"),
        (" padded", "leading or trailing"),
        ("v" * 1025, "limit is 1024"),
        ("\ud800", "control character|UTF-8"),
    ],
)
def test_bad_values_refused(value: str, why: str) -> None:
    with pytest.raises(LabelError, match=why):
        validate_labels({"environment": value})


@pytest.mark.parametrize(
    "value",
    ['quote"s', "back\\slash", "${HOME}", "$(id)", "`id`", "*/ /* //", "日本語 ✓", "tab\tinside", "a" * 1024],
)
def test_hostile_but_legal_values_are_kept_verbatim(value: str) -> None:
    assert validate_labels({"environment": value})["environment"] == value


def test_schema_required_and_aliases() -> None:
    with pytest.raises(LabelError, match="missing required label\\(s\\): maintainers"):
        validate_labels({"environment": "prod"}, SCHEMA)
    with pytest.raises(LabelError, match="misspelling of 'maintainers'"):
        validate_labels({"environment": "prod", "maintainers": "x", "maintainer": "x"}, SCHEMA)


def test_parse_label_args() -> None:
    assert parse_label_args(["a=b=c", "e="]) == {"a": "b=c", "e": ""}
    with pytest.raises(LabelError, match="KEY=VALUE"):
        parse_label_args(["novalue"])
    with pytest.raises(LabelError, match="twice"):
        parse_label_args(["a=1", "a=2"])
