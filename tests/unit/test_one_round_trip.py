"""Detection in one round trip: the marked output of remote_scripts.DETECT parsed back (pure)."""

from __future__ import annotations

from fleetui.deploy.detect import parse_detect, parse_uid

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'


def test_a_linux_host_with_alloy() -> None:
    out = (
        f"Linux web-01 x86_64\nfleetui-os-release-begin\n{OS_RELEASE}fleetui-os-release-end\n"
        "alloy, version v1.9.2 (branch: HEAD)\nfleetui-version-rc 0\n"
    )
    release = {"PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "ID": "debian", "VERSION_ID": "12"}
    assert parse_detect(out) == ("Linux", "web-01", "x86_64", release, "1.9.2")


def test_without_alloy_the_version_is_none() -> None:
    out = f"Linux db-01 aarch64\nfleetui-os-release-begin\n{OS_RELEASE}fleetui-os-release-end\nfleetui-version-rc 127\n"
    found = parse_detect(out)
    assert found is not None and found[2] == "aarch64" and found[4] is None


def test_output_that_is_not_the_scripts_falls_back() -> None:
    """A host whose shell is not sh, or a non-Linux kernel: None, so detection asks command by command."""
    assert parse_detect("") is None
    assert parse_detect("'sh' is not recognized as an internal or external command") is None
    darwin = "Darwin mac-01 arm64\nfleetui-os-release-begin\nfleetui-os-release-end\nfleetui-version-rc 127\n"
    assert parse_detect(darwin) is None


def test_files_read_in_one_round_trip_keep_their_exact_bytes() -> None:
    from fleetui.deploy.onhost import parse_files

    config = '// café\nlogging { level = "info" }\n\n'
    out = f"fleetui-file {len(config.encode())}\n{config}\nfleetui-file none\nfleetui-active-rc 3\n"
    assert parse_files(out, ["/etc/alloy/config.alloy", "/etc/default/alloy"]) == (
        {"/etc/alloy/config.alloy": config.encode(), "/etc/default/alloy": None},
        False,
    )
    no_newline = "x = 1"
    out = f"fleetui-file 5\n{no_newline}\nfleetui-active-rc 0\n"
    assert parse_files(out, ["/c"]) == ({"/c": b"x = 1"}, True)


def test_files_that_cannot_be_taken_exactly_fall_back() -> None:
    """Not UTF-8 (shown as U+FFFD), not a regular file, or a length that does not match: None (read by SFTP)."""
    from fleetui.deploy.onhost import parse_files

    assert parse_files("fleetui-file 2\n\ufffd\nfleetui-active-rc 0\n", ["/c"]) is None
    assert parse_files("fleetui-file other\nfleetui-active-rc 0\n", ["/c"]) is None
    assert parse_files("fleetui-file 9\nshort\nfleetui-active-rc 0\n", ["/c"]) is None
    assert parse_files("", ["/c"]) is None


def test_the_login_uid_comes_with_detection() -> None:
    """DETECT's last line says the login's uid, so enrollment needs no `id -u` round trip to know about sudo."""
    out = f"Linux web-01 x86_64\nfleetui-os-release-begin\n{OS_RELEASE}fleetui-os-release-end\nfleetui-version-rc 127\n"
    assert parse_uid(out + "fleetui-uid 0\n") == "0"
    assert parse_uid(out + "fleetui-uid 1000\n") == "1000"
    assert parse_uid(out) is None  # an older script's output, or a shell that printed nothing: ask with `id -u`
    assert parse_uid(out + "fleetui-uid \n") is None
    assert parse_detect(out + "fleetui-uid 0\n") == parse_detect(out)
