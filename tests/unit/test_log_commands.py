"""What the log stream sends to a host and how it cuts a byte stream into lines (pure); host arguments."""

from __future__ import annotations

import pytest

from fleetui.adapters.alloy_logs import _split, journal_argv, tail_argv
from fleetui.adapters.ssh import command_line
from fleetui.domain.fleet import HostState, HostStatus, Mode
from fleetui.domain.host import InputError
from fleetui.domain.hostarg import parse_host_arg, ssh_host_for

CURSOR = "s=0558315e61aa51d3d116c4ff3128592f;i=49;b=e769ba2555f04b058aaf9c8577349d0c;m=3abf;t=66174f995f9dd;x=72ac"


def test_journal_start_follows_journalctls_precedence() -> None:
    fields = "--output-fields=MESSAGE,PRIORITY,SYSLOG_IDENTIFIER"
    base = ["journalctl", "--unit=alloy.service", "--output=json", fields, "--no-pager", "--quiet"]
    assert journal_argv("alloy.service", follow=True, lines=200, since=None, after_cursor=None) == [
        *base,
        "--lines=200",
        "--follow",
    ]
    # a resume names the cursor and nothing else: no --lines, no --since that would skip or repeat lines
    assert journal_argv("alloy.service", follow=True, lines=200, since=600, after_cursor=CURSOR) == [
        *base,
        f"--after-cursor={CURSOR}",
        "--follow",
    ]
    assert journal_argv("alloy.service", follow=False, lines=None, since=90.2, after_cursor=None) == [
        *base,
        "--since=-91s",  # relative: the host's clock decides, not ours
    ]
    assert journal_argv("alloy.service", follow=True, lines=None, since=None, after_cursor=None)[-2:] == [
        "--no-tail",
        "--follow",
    ]
    # a journalctl older than systemd 236 gets the full records
    old = journal_argv("alloy.service", follow=False, lines=5, since=None, after_cursor=None, fields=False)
    assert fields not in old and old[2] == "--output=json"
    # the cursor reaches the remote shell as one quoted word (it holds `;`)
    line = command_line(journal_argv("alloy.service", follow=True, lines=None, since=None, after_cursor=CURSOR))
    assert f"'--after-cursor={CURSOR}'" in line


def test_tail_resumes_by_line_number() -> None:
    assert tail_argv("/var/log/alloy.log", start_line=41, follow=True) == [
        "tail",
        "-n",
        "+41",
        "-F",
        "--",
        "/var/log/alloy.log",
    ]
    assert tail_argv("/x", start_line=0, follow=False) == ["tail", "-n", "+1", "--", "/x"]


def test_split_keeps_the_unfinished_line_and_replaces_bad_utf8() -> None:
    lines, rest = _split(b"", b'{"a":1}\n{"b":')
    assert lines == ['{"a":1}'] and rest == b'{"b":'
    lines, rest = _split(rest, b"2}\n\xff\xfe ok\n")
    assert lines == ['{"b":2}', "\ufffd\ufffd ok"] and rest == b""
    # a multi-byte character cut between chunks is joined, not replaced
    lines, rest = _split(b"", "été\n".encode()[:2])
    assert lines == [] and _split(rest, "été\n".encode()[2:])[0] == ["été"]


def test_host_arguments() -> None:
    a = parse_host_arg("web-01", default_user="root", default_port=22)
    assert (a.name, a.host, a.port, a.user) == ("web-01", "web-01", 22, "root")
    a = parse_host_arg("deploy@10.0.0.5:2222", default_user="root", default_port=22)
    assert (a.name, a.host, a.port, a.user) == ("10.0.0.5:2222", "10.0.0.5", 2222, "deploy")
    a = parse_host_arg("[2001:db8::1]:2200", default_user="root", default_port=22)
    assert (a.host, a.port) == ("2001:db8::1", 2200)
    assert parse_host_arg("2001:db8::1", default_user="root", default_port=22).host == "2001:db8::1"
    for bad in ("", "a;b", "$(id)", "web-01:0", "web-01:x", "Bad User@h", "[::1", "[::1]x"):
        with pytest.raises(InputError):
            parse_host_arg(bad, default_user="root", default_port=22)


def _status(**kw: object) -> HostStatus:
    base: dict[str, object] = {"instance": "web-01", "state": HostState.UP, "mode": Mode.PULL}
    base.update(kw)
    return HostStatus(**base)  # type: ignore[arg-type]


def test_where_a_fleet_host_is_reached_over_ssh() -> None:
    pull = _status(scrape_url="http://127.0.0.11:12345/api/v0/component/prometheus.exporter.unix.default/metrics")
    assert ssh_host_for(pull) == "127.0.0.11"
    assert ssh_host_for(_status(instance="10.0.0.7:9100", scrape_url=None)) == "10.0.0.7"
    assert ssh_host_for(_status(mode=Mode.PUSH, nodename="cache-01")) == "cache-01"
    assert ssh_host_for(_status(labels={"hostname": "db.lan"}, nodename="db")) == "db.lan"
