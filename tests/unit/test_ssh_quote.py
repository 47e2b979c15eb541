"""Nothing user-supplied reaches a remote shell unquoted.

`command_line` builds the exact string the SSH layer sends (HostSession.run uses it for every command). Each
hostile value is passed through it and then through a real local `/bin/sh` — the same kind of shell sshd runs
the command with — which must hand the value back byte for byte, with no command executed. The request
builders must refuse what cannot be quoted safely (newlines in labels, shell syntax in addresses).
"""

from __future__ import annotations

import shlex
import subprocess

import pytest

from fleetui.adapters.ssh import command_line
from fleetui.deploy.install import RepoUrls, install_steps
from fleetui.domain.host import InputError, OsFamily, build_request, parse_service

HOSTILE = [
    "; rm -rf / #",
    "$(touch /tmp/pwned)",
    "`id`",
    "a && b || c",
    "x | tee /etc/passwd",
    "> /etc/alloy/config.alloy",
    "'single' \"double\"",
    "back\\slash\\",
    "${IFS}$HOME",
    "*?[glob]",
    "~root",
    "-rf",
    "--help",
    "tab\there",
    "new\nline",
    "日本語 ✓ émoji 🚀",
    "x" * 5000,
    "",
    "!event",
    "a\x7fdel",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_real_shell_receives_every_word_verbatim(value: str) -> None:
    cmd = command_line(["printf", "%s", value], ("sudo", "-n", "--"))
    assert cmd.startswith("sudo -n -- printf %s ")
    assert shlex.split(cmd) == ["sudo", "-n", "--", "printf", "%s", value]
    out = subprocess.run(["sh", "-c", command_line(["printf", "%s", value])], capture_output=True, check=True)
    assert out.stdout.decode() == value


def test_nul_byte_cannot_be_sent() -> None:
    with pytest.raises(ValueError, match="NUL"):
        command_line(["echo", "a\x00b"])


def test_exact_command_strings() -> None:
    assert command_line(["alloy", "validate", "/etc/alloy/config.alloy.fleetui-new"]) == (
        "alloy validate /etc/alloy/config.alloy.fleetui-new"
    )
    assert command_line(["rm", "-f", "--", "/tmp/a b;c"], ("sudo", "-S", "-k", "-p", "", "--")) == (
        "sudo -S -k -p '' -- rm -f -- '/tmp/a b;c'"
    )


@pytest.mark.parametrize("address", ["host;id", "$(id)", "a b", "-oProxyCommand=x", "h\nx", "`x`", "a'b", ""])
def test_hostile_addresses_refused(address: str) -> None:
    with pytest.raises(InputError, match="address"):
        build_request(address)


@pytest.mark.parametrize("user", ["root;id", "-l", "a b", "$(id)", "x" * 40, "Root"])
def test_hostile_users_refused(user: str) -> None:
    with pytest.raises(InputError, match="user"):
        build_request("127.0.0.1", user=user)


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("postgres:dsn_env=$(id)", "environment variable name"),
        ("postgres", "needs dsn_env"),
        ("nginx:url=http://x/a b", "spaces, quotes"),
        ('nginx:url=http://x/"q', "spaces, quotes"),
        ("nginx:url=file:///etc/passwd", "http"),
        ("nginx:exporter=a b:1", "host:port|not a host"),
        ("logfile:path=relative.log", "absolute"),
        ("logfile:path=/var/log/$(id).log", "absolute path without quotes"),
        ("journal:unit=a;b", "unit name"),
        ("rm -rf", "unknown service"),
        ("self:x=1", "unknown parameter"),
        ("nginx:url=http://a/,url=http://b/", "twice"),
    ],
)
def test_hostile_services_refused(spec: str, why: str) -> None:
    with pytest.raises(InputError, match=why):
        parse_service(spec)


def test_hostile_labels_refused_before_anything_runs() -> None:
    for labels in ({"environment": "prod\nEVIL=1"}, {"__address__": "evil:1"}, {"job": "v1"}):
        with pytest.raises(InputError) as err:
            build_request("127.0.0.1", labels=labels)
        assert err.value.field == "labels"


def test_trust_host_key_format() -> None:
    with pytest.raises(InputError, match="fingerprint"):
        build_request("127.0.0.1", trust_host_key="MD5:aa:bb")


def test_hostile_repo_urls_refused() -> None:
    with pytest.raises(InputError):
        RepoUrls.from_settings(
            {  # type: ignore[arg-type]
                "alloy.apt_repo_url": "http://x/ stable main\ndeb http://evil/",
                "alloy.apt_key_url": "http://k/",
                "alloy.rpm_repo_url": "http://r/",
                "alloy.rpm_key_url": "http://k/",
            }
        )


def test_install_argv_never_embeds_urls_in_script_text() -> None:
    urls = RepoUrls("http://repo.example/$(id)", "http://key.example/`id`", "http://r/", "http://k/")
    for step in install_steps(OsFamily.DEBIAN, urls):
        argv = getattr(step, "argv", None)
        if argv and argv[0] == "sh":
            assert "$(id)" not in argv[2] and "`id`" not in argv[2]  # values only ever as positional args
