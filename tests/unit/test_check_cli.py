"""`fleetui check`: output lines, exit codes, --json and standard input, through the real CLI entry point."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fleetui.cli import main

VALID = 'prometheus.exporter.unix "default" {\n\tset_collectors = ["cpu"]\n}\n'
INVALID = '# not a comment\nprometheus.exporter.unix "web-01" {\n}\n'


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str]:
    good = tmp_path / "good.alloy"
    bad = tmp_path / "bad.alloy"
    good.write_text(VALID)
    bad.write_text(INVALID)
    return str(good), str(bad)


def test_valid_file_prints_nothing(files: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", files[0]]) == 0
    assert capsys.readouterr() == ("", "")


def test_verbose_prints_ok(files: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "-v", files[0]]) == 0
    assert capsys.readouterr().out == f"{files[0]}: ok\n"


def test_invalid_file_prints_compiler_style_lines(files: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = files
    assert main(["check", good, bad]) == 1
    assert capsys.readouterr().out == (
        f"{bad}:1:1: illegal character U+0023 '#'\n"
        f"{bad}:1:1: expected identifier, got ILLEGAL\n"
        f'{bad}:2:26: expected block label to be a valid identifier, but got "web-01"\n'
    )


def test_json(files: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = files
    assert main(["check", "--json", good, bad]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data[0] == {"file": good, "ok": True, "errors": []}
    assert data[1]["file"] == bad
    assert data[1]["ok"] is False
    assert data[1]["errors"][0] == {"line": 1, "col": 1, "message": "illegal character U+0023 '#'"}
    assert len(data[1]["errors"]) == 3


def test_unreadable_file_exits_2_with_one_line(
    files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "missing.alloy")
    assert main(["check", files[0], missing]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"fleetui: cannot read {missing}: No such file or directory\n"
    assert main(["check", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"fleetui: cannot read {tmp_path}: Is a directory\n"


def test_stdin_is_named_like_alloy_fmt(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a = 1 b = 2\n")))
    assert main(["check", "-"]) == 1
    assert capsys.readouterr().out == "<stdin>:1:7: expected TERMINATOR, got IDENT\n"


def test_real_process_reads_stdin() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fleetui", "check", "-v", "-"],
        input=VALID.encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"<stdin>: ok\n", b"")


def test_reads_no_configuration(
    files: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An offline syntax check: a configuration file that does not load (here: not YAML) neither stops it nor
    says anything on stderr; the same file stops a command that reads Prometheus."""
    broken = tmp_path / "config.yaml"
    broken.write_text("prometheus: [unclosed\n")
    monkeypatch.setenv("FLEETUI_CONFIG", str(broken))
    assert main(["check", files[0]]) == 0
    assert main(["check", files[1]]) == 1
    out, err = capsys.readouterr()
    assert "config" not in err and out.startswith(files[1])
    assert main(["status", "--json"]) == 2
    assert "config error" in capsys.readouterr().err
