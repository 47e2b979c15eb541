"""Rendering: every mode × OS family × service combination × (hostile) label set parses with the offline parser,
and every user value survives the trip into Alloy syntax unchanged."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetui.alloy.syntax import ast, check, parse
from fleetui.deploy.render import (
    RenderInput,
    alloy_ident,
    alloy_str,
    env_str,
    relabel_str,
    render_host,
)
from fleetui.domain.fleet import Mode
from fleetui.domain.host import InputError, OsFamily, ServiceSpec, parse_service
from fleetui.domain.labels import LabelError, validate_labels

SERVICES = {
    "postgres": parse_service("postgres:dsn_env=PG_DSN"),
    "nginx": parse_service("nginx:exporter=127.0.0.1:9113,url=http://127.0.0.1/stub_status"),
    "journal": parse_service("journal:unit=nginx.service,unit=postgresql.service"),
    "logfile": parse_service("logfile:path=/var/log/syslog,path=/var/log/my app/*.log"),
    "self": parse_service("self"),
}
HOSTILE_VALUES = [
    'quo"te',
    "back\\slash\\",
    "${HOME}",
    "$1 $$",
    "*/ /* //",
    "日本語 ✓ 🚀",
    "tab\there",
    "`id`",
    "a" * 1024,
    "\u00a0nbsp\u00a0x",
    "#hash",
]


def _input(
    mode: Mode, family: OsFamily, services: tuple[ServiceSpec, ...], labels: dict[str, str], nodename: str = "web-01"
) -> RenderInput:
    return RenderInput(
        "127.0.0.16",
        nodename,
        family,
        mode,
        12345,
        "http://127.0.0.1:19090/api/v1/write",
        services,
        labels,
        loki_url="http://127.0.0.1:3100/loki/api/v1/push",
    )


def _allowed(mode: Mode, family: OsFamily, names: tuple[str, ...]) -> bool:
    if "nginx" in names and mode is Mode.PULL:
        return False
    return family is not OsFamily.DARWIN or not ({"postgres", "journal"} & set(names))


COMBOS = [
    (mode, fam, names)
    for mode in Mode
    for fam in OsFamily
    for r in range(len(SERVICES) + 1)
    for names in itertools.combinations(sorted(SERVICES), r)
]


@pytest.mark.parametrize(("mode", "family", "names"), COMBOS)
def test_every_combination_parses(mode: Mode, family: OsFamily, names: tuple[str, ...]) -> None:
    inp = _input(mode, family, tuple(SERVICES[n] for n in names), {"environment": 'pr"od ${x} */', "maintainers": "a"})
    if not _allowed(mode, family, names):
        with pytest.raises(InputError):
            render_host(inp)
        return
    r = render_host(inp)
    assert check(r.config, "config.alloy") == []
    groups = json.loads(r.target_json)
    if mode is Mode.PULL:
        assert groups[0]["targets"] == ["127.0.0.16:12345"]
        assert groups[0]["labels"]["__metrics_path__"] == "/api/v0/component/prometheus.exporter.unix.web_01/metrics"
        assert "prometheus.remote_write" not in r.config
        assert "--server.http.listen-addr=127.0.0.16:12345" in (
            r.env_file or "--server.http.listen-addr=127.0.0.16:12345"
        )
    else:
        assert groups[0]["targets"] == []
        assert 'replacement  = "node_exporter"' in r.config and 'scrape_interval = "15s"' in r.config
    assert ('prometheus.relabel "node_exporter_compat"' in r.config) == (
        family is OsFamily.DARWIN and mode is Mode.PUSH
    )
    assert groups[0]["labels"]["instance"] == "web-01"


def _strings(node: object) -> list[str]:
    """Every string literal in a parsed file."""
    out: list[str] = []

    def walk(n: object) -> None:
        if isinstance(n, ast.Literal) and isinstance(n.value, str):
            out.append(n.value)
        elif isinstance(n, tuple | list):
            for x in n:
                walk(x)
        elif hasattr(n, "__dataclass_fields__"):
            for f in n.__dataclass_fields__:
                walk(getattr(n, f))

    walk(node)
    return out


label_names = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True).filter(lambda s: s != "instance")
label_values = st.one_of(st.sampled_from(HOSTILE_VALUES), st.text(min_size=1, max_size=60))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mode=st.sampled_from(list(Mode)),
    family=st.sampled_from(list(OsFamily)),
    names=st.sets(st.sampled_from(sorted(SERVICES))),
    labels=st.dictionaries(label_names, label_values, max_size=5),
    nodename=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.-]{0,30}", fullmatch=True),
)
def test_property_render_parses_or_input_is_refused(
    mode: Mode, family: OsFamily, names: set[str], labels: dict[str, str], nodename: str
) -> None:
    try:
        checked = validate_labels(labels)
    except LabelError:
        # refused values are exactly those with line breaks / control characters / padding / empties
        assert any(
            v != v.strip() or not v or any(not c.isprintable() and c != "\t" for c in v) for v in labels.values()
        )
        return
    ordered = tuple(sorted(names))
    inp = _input(mode, family, tuple(SERVICES[n] for n in ordered), checked, nodename)
    if not _allowed(mode, family, ordered):
        with pytest.raises(InputError):
            render_host(inp)
        return
    r = render_host(inp)
    assert check(r.config, "config.alloy") == [], r.config
    literals = _strings(parse(r.config, "config.alloy"))
    in_config = mode is Mode.PUSH or bool(names & {"journal", "logfile"})  # pull: labels live in the target file
    for value in checked.values() if in_config else ():
        # each value appears verbatim (push relabel replacements carry `$` doubled, as relabel expects)
        assert value in literals or value.replace("$", "$$") in literals
    assert json.loads(r.target_json)[0]["labels"] == {
        "instance": nodename,
        **checked,
        **(
            {"__metrics_path__": f"/api/v0/component/prometheus.exporter.unix.{alloy_ident(nodename)}/metrics"}
            if mode is Mode.PULL
            else {}
        ),
    }


@given(st.text(max_size=200).filter(lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s)))
@settings(max_examples=300, deadline=None)
def test_alloy_str_round_trips_any_text(text: str) -> None:
    f = parse(f"x = {alloy_str(text)}\n", "t.alloy")
    assert _strings(f) == [text]


def test_relabel_and_env_escaping() -> None:
    assert relabel_str("${1}$x") == '"$${1}$$x"'
    assert env_str('a"b\\c$d`e') == '"a\\"b\\\\c\\$d\\`e"'
    with pytest.raises(ValueError):
        env_str("two\nlines")


@pytest.mark.parametrize(
    ("name", "ident"), [("web-01", "web_01"), ("01db", "h_01db"), ("a.b.c", "a_b_c"), ("", "host"), ("ü", "_")]
)
def test_alloy_ident(name: str, ident: str) -> None:
    assert alloy_ident(name) == ident
    assert check(f'prometheus.exporter.unix "{ident}" {{ }}\n', "x") == []


def test_secrets_only_in_env_file() -> None:
    inp = _input(Mode.PULL, OsFamily.DEBIAN, (SERVICES["postgres"],), {})
    r = render_host(inp, {"FLEETUI_POSTGRES_DSN": "postgresql://u:s3cret@db/x"})
    assert "s3cret" not in r.config and "s3cret" not in r.target_json
    assert 'sys.env("FLEETUI_POSTGRES_DSN")' in r.config
    assert r.env_file is not None and 'FLEETUI_POSTGRES_DSN="postgresql://u:s3cret@db/x"' in r.env_file
    assert r.env_file_masked is not None and "s3cret" not in r.env_file_masked
    assert "s3cret" not in repr(r)


def test_render_command_prints_what_enroll_would_deploy(capsys: pytest.CaptureFixture[str]) -> None:
    from fleetui.cli import main

    args = [
        "render",
        "--hostname",
        "db-7",
        "--address",
        "10.0.0.7",
        "--mode",
        "push",
        "--service",
        "postgres:dsn_env=PG",
        "--label",
        "environment=prod",
        "--label",
        'maintainers=a"b',
        "--json",
    ]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["diagnostics"] == [] and check(doc["config"], "x") == []
    assert doc["config_path"] == "/etc/alloy/config.alloy" and doc["env_path"] == "/etc/default/alloy"
    assert 'FLEETUI_POSTGRES_DSN="********"' in doc["env_file"]
    assert doc["target"] == [
        {"targets": [], "labels": {"environment": "prod", "instance": "db-7", "maintainers": 'a"b'}}
    ]
    assert main(["render", "--hostname", "x", "--label", "environment=a\nb", "--label", "maintainers=m"]) == 2
    assert "one line" in capsys.readouterr().err
    assert (
        main(
            [
                "render",
                "--hostname",
                "x",
                "--os",
                "rhel",
                "--only",
                "env",
                "--label",
                "environment=a",
                "--label",
                "maintainers=m",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith("# Managed by fleetui.\nCONFIG_FILE=")
