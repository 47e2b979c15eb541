"""Which address, port, user, keys and jump hosts a name leads to: the OpenSSH client config, with OpenSSH's
precedence (explicit flag > ssh config > fleetui's `ssh.*` defaults).

Real config files in a temp dir, parsed by asyncssh's real OpenSSH-config parser; nothing is faked. Connecting
along the resolved route is tested against the lab (tests/lab/test_ssh_config_lab.py).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import asyncssh
import pytest

from fleetui.adapters.ssh import Hop, HostKeyInfo, SshConfigError, SshTarget, _key_info, trust_exactly
from fleetui.adapters.ssh_config import DEFAULT_CONFIG_FILE, Defaults, parse_jump, resolve_route, route_for
from fleetui.commands import enroll
from fleetui.config import load
from fleetui.domain.host import InputError, build_request

DEFAULTS = Defaults(port=2222, user="fleet", identity_file=Path("/keys/fleetui_default"))


@pytest.fixture
def key(tmp_path: Path) -> Path:
    k = tmp_path / "id_alias"
    k.write_text("not read: only its existence matters here\n")
    return k


def write(tmp_path: Path, text: str) -> Path:
    cfg = tmp_path / "ssh_config"
    cfg.write_text(text)
    return cfg


def test_alias_takes_hostname_port_user_and_identity_from_the_config(tmp_path: Path, key: Path) -> None:
    cfg = write(tmp_path, f"Host labalias\n  HostName 10.1.2.3\n  Port 2200\n  User ops\n  IdentityFile {key}\n")
    route = resolve_route(SshTarget("labalias"), config_file=cfg, defaults=DEFAULTS)
    assert route.target == Hop("labalias", "10.1.2.3", 2200, "ops", (key,))
    assert route.jumps == ()
    assert route.display == "labalias (ops@10.1.2.3:2200)"


def test_explicit_flags_override_the_config(tmp_path: Path, key: Path) -> None:
    cfg = write(tmp_path, f"Host labalias\n  HostName 10.1.2.3\n  Port 2200\n  User ops\n  IdentityFile {key}\n")
    mine = tmp_path / "id_explicit"
    route = resolve_route(SshTarget("labalias", 22, "root"), config_file=cfg, defaults=DEFAULTS, identity_file=mine)
    assert route.target == Hop("labalias", "10.1.2.3", 22, "root", (mine,))


def test_fleetui_defaults_fill_only_what_the_config_leaves_open(tmp_path: Path) -> None:
    cfg = write(tmp_path, "Host half\n  HostName 10.9.9.9\n")
    assert resolve_route(SshTarget("half"), config_file=cfg, defaults=DEFAULTS).target == Hop(
        "half", "10.9.9.9", 2222, "fleet", (Path("/keys/fleetui_default"),)
    )
    # a name the config does not mention is its own address, with fleetui's defaults
    assert resolve_route(SshTarget("web-01.example"), config_file=cfg, defaults=DEFAULTS).target == Hop(
        "web-01.example", "web-01.example", 2222, "fleet", (Path("/keys/fleetui_default"),)
    )


def test_host_star_block_applies_after_the_specific_one_first_value_wins(tmp_path: Path) -> None:
    cfg = write(tmp_path, "Host db-*\n  Port 5022\nHost *\n  Port 6022\n  User everyone\n")
    assert resolve_route(SshTarget("db-7"), config_file=cfg, defaults=DEFAULTS).target.port == 5022
    assert resolve_route(SshTarget("web-7"), config_file=cfg, defaults=DEFAULTS).target.port == 6022
    assert resolve_route(SshTarget("web-7"), config_file=cfg, defaults=DEFAULTS).target.user == "everyone"


def test_explicit_user_takes_part_in_match_as_with_openssh(tmp_path: Path) -> None:
    cfg = write(tmp_path, "Match user deploy\n  Port 2201\n")
    assert resolve_route(SshTarget("h", None, "deploy"), config_file=cfg, defaults=DEFAULTS).target.port == 2201
    assert resolve_route(SshTarget("h", None, "root"), config_file=cfg, defaults=DEFAULTS).target.port == 2222


def test_a_missing_identity_file_is_skipped_as_openssh_does(tmp_path: Path, key: Path) -> None:
    cfg = write(tmp_path, f"Host a\n  IdentityFile {tmp_path}/absent\n  IdentityFile {key}\n")
    assert resolve_route(SshTarget("a"), config_file=cfg, defaults=DEFAULTS).target.identity_files == (key,)


def test_proxyjump_resolves_each_jump_host_through_the_config_too(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        "Host labalias\n  HostName 127.0.0.20\n  ProxyJump labjump\n"
        "Host labjump\n  HostName 127.0.0.16\n  User jumper\n  Port 2022\n",
    )
    route = resolve_route(SshTarget("labalias"), config_file=cfg, defaults=DEFAULTS)
    assert route.jumps == (Hop("labjump", "127.0.0.16", 2022, "jumper", (Path("/keys/fleetui_default"),)),)
    assert route.target.host == "127.0.0.20"
    assert route.display == "labalias (fleet@127.0.0.20:2222) via labjump (jumper@127.0.0.16:2022)"


def test_explicit_flags_belong_to_the_target_only_like_ssh_minus_j(tmp_path: Path) -> None:
    cfg = write(tmp_path, "Host t\n  ProxyJump j\n")
    route = resolve_route(SshTarget("t", 2000, "root"), config_file=cfg, defaults=DEFAULTS, identity_file=Path("/k"))
    assert route.jumps == (Hop("j", "j", 2222, "fleet", (Path("/keys/fleetui_default"),)),)
    assert route.target == Hop("t", "t", 2000, "root", (Path("/k"),))


def test_a_chain_dials_in_order_and_only_the_first_entry_follows_its_own_proxyjump(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        "Host t\n  ProxyJump ops@a:2200,b\nHost a\n  ProxyJump outer\n  User ignored\nHost b\n  ProxyJump never\n",
    )
    route = resolve_route(SshTarget("t"), config_file=cfg, defaults=DEFAULTS)
    assert [(h.name, h.user, h.port) for h in route.jumps] == [
        ("outer", "fleet", 2222),
        ("a", "ops", 2200),  # user@ and :port in the entry are explicit for that hop
        ("b", "fleet", 2222),
    ]


def test_host_star_proxyjump_does_not_make_the_bastion_jump_to_itself(tmp_path: Path) -> None:
    cfg = write(tmp_path, "Host *\n  ProxyJump bastion\n")
    route = resolve_route(SshTarget("web-1"), config_file=cfg, defaults=DEFAULTS)
    assert [h.name for h in route.jumps] == ["bastion"]
    assert resolve_route(SshTarget("bastion"), config_file=cfg, defaults=DEFAULTS).jumps == ()


def test_proxyjump_none_switches_a_wildcard_jump_off(tmp_path: Path) -> None:
    cfg = write(tmp_path, "Host inside\n  ProxyJump none\nHost *\n  ProxyJump bastion\n")
    assert resolve_route(SshTarget("inside"), config_file=cfg, defaults=DEFAULTS).jumps == ()


def test_a_proxyjump_loop_is_one_clear_error(tmp_path: Path) -> None:
    cfg = write(tmp_path, "Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n")
    with pytest.raises(SshConfigError, match="more than 8 hops deep"):
        resolve_route(SshTarget("a"), config_file=cfg, defaults=DEFAULTS)


def test_proxycommand_is_refused_rather_than_bypassed(tmp_path: Path) -> None:
    cfg = write(tmp_path, "Host viaproxy\n  ProxyCommand nc -X connect %h %p\nHost plain\n  ProxyCommand none\n")
    with pytest.raises(SshConfigError, match=r"ProxyCommand for viaproxy.*use ProxyJump"):
        resolve_route(SshTarget("viaproxy"), config_file=cfg, defaults=DEFAULTS)
    assert resolve_route(SshTarget("plain"), config_file=cfg, defaults=DEFAULTS).target.host == "plain"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("HostName 'a;id'", "HostName 'a;id' for h is not a host name"),
        ("HostName $(id)", "is not a host name"),
        ("ProxyJump 'x y'", "does not name a host"),
        ("ProxyJump a:99999", "bad port"),
        ("Port many", "Invalid Port integer value"),
    ],
)
def test_config_values_that_would_reach_alloy_or_a_target_file_are_checked(
    tmp_path: Path, line: str, message: str
) -> None:
    cfg = write(tmp_path, f"Host h\n  {line}\n")
    with pytest.raises(SshConfigError, match=re.escape(message)) as e:
        resolve_route(SshTarget("h"), config_file=cfg, defaults=DEFAULTS)
    assert "\n" not in str(e.value)


def test_a_parse_error_names_file_and_line(tmp_path: Path) -> None:
    cfg = write(tmp_path, "Host h\n  Port 22\n  ConnectTimeout soon\n")
    with pytest.raises(SshConfigError, match=rf"{cfg} line 3"):
        resolve_route(SshTarget("h"), config_file=cfg, defaults=DEFAULTS)


def test_missing_default_config_is_fine_but_a_named_missing_file_is_an_error(tmp_path: Path) -> None:
    default = Path(DEFAULT_CONFIG_FILE).expanduser()
    if not default.exists():
        assert resolve_route(SshTarget("h"), config_file=default, defaults=DEFAULTS).target.host == "h"
    with pytest.raises(SshConfigError, match="not a readable file"):
        resolve_route(SshTarget("h"), config_file=tmp_path / "nope", defaults=DEFAULTS)
    assert resolve_route(SshTarget("h", 22), config_file=None, defaults=DEFAULTS).target == Hop(
        "h", "h", 22, "fleet", (Path("/keys/fleetui_default"),)
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("bastion", (None, "bastion", None)),
        ("ops@bastion:2200", ("ops", "bastion", 2200)),
        ("ssh://ops@10.0.0.1:22", ("ops", "10.0.0.1", 22)),
        ("[fd00::1]:2222", (None, "fd00::1", 2222)),
        ("me@[fd00::1]", ("me", "fd00::1", None)),
        ("fd00::1", (None, "fd00::1", None)),
    ],
)
def test_parse_jump(spec: str, expected: tuple[str | None, str, int | None]) -> None:
    assert parse_jump(spec) == expected


def test_settings_name_the_config_file_and_the_defaults(tmp_path: Path, key: Path) -> None:
    cfg = write(tmp_path, "Host labalias\n  HostName 127.0.0.20\n")
    empty = tmp_path / "fleetui.yaml"
    empty.write_text("ssh:\n  port: 2222\n  user: root\n")
    settings = load(empty, environ={"FLEETUI_SSH__CONFIG_FILE": str(cfg)})
    assert route_for(settings, SshTarget("labalias")).target == Hop("labalias", "127.0.0.20", 2222, "root", ())
    assert route_for(settings, SshTarget("labalias"), identity_file=key).target.identity_files == (key,)
    off = settings.with_overrides({"ssh.config_file": ""})
    assert route_for(off, SshTarget("labalias")).target.host == "labalias"


def test_enroll_arguments_keep_explicit_apart_from_default(tmp_path: Path) -> None:
    """`--port 22` must beat the ssh config's Port even though 22 is also fleetui's default."""
    p = argparse.ArgumentParser()
    enroll.add_arguments(p)
    empty = tmp_path / "fleetui.yaml"
    empty.write_text("")
    settings = load(empty, environ={})
    labels = ["--label", "environment=lab", "--label", "maintainers=ops"]
    req, _ = enroll.build(p.parse_args(["labalias", *labels]), settings)
    assert (req.address, req.port, req.user) == ("labalias", None, None)
    req, _ = enroll.build(p.parse_args(["labalias", "--port", "22", "--user", "root", *labels]), settings)
    assert (req.port, req.user) == (22, "root")
    cfg = write(tmp_path, "Host labalias\n  Port 2200\n  User ops\n")
    s2 = settings.with_overrides({"ssh.config_file": str(cfg)})
    assert route_for(s2, SshTarget("labalias", req.port, req.user)).target.port == 22
    assert route_for(s2, SshTarget("labalias")).target.port == 2200


def test_request_names_its_target_file_after_the_resolved_address() -> None:
    req = build_request("labalias")
    assert (req.name, req.target_address) == ("labalias", "labalias")
    done = req.resolved("127.0.0.20")
    assert (done.address, done.name, done.target_address) == ("labalias", "127.0.0.20", "127.0.0.20")
    with pytest.raises(InputError):
        req.resolved("evil;id")


async def test_host_key_messages_say_which_hop() -> None:
    jump = HostKeyInfo("127.0.0.16", 2222, "ssh-ed25519", "SHA256:" + "a" * 43, "labjump", "labalias")
    target = HostKeyInfo("127.0.0.20", 2222, "ssh-ed25519", "SHA256:" + "b" * 43, "labalias")
    assert jump.describe == "jump host labjump (127.0.0.16:2222) on the way to labalias"
    assert target.describe == "labalias (127.0.0.20:2222)"
    both = trust_exactly([jump.fingerprint, target.fingerprint])
    assert await both(jump) and await both(target)
    one = trust_exactly(target.fingerprint)
    assert not await one(jump) and await one(target)
    assert not await trust_exactly(None)(target)


def test_a_fleet_host_dialled_at_its_address_is_named_by_the_fleet_in_key_questions(tmp_path: Path) -> None:
    """The doctor and the log pane reach a pull host at the address Prometheus scrapes; the question about its
    key (and its jump host's) names the row the operator chose, and an ssh-config alias asked for is named
    with it: the row says which host, the alias which ssh-config entry reached it."""
    key = asyncssh.generate_private_key("ssh-ed25519").convert_to_public()
    direct = resolve_route(SshTarget("127.0.0.13", 2222, known_as="db-01"), config_file=None)
    assert _key_info(direct.target, key).describe == "db-01 (127.0.0.13:2222)"
    plain = resolve_route(SshTarget("127.0.0.13", 2222), config_file=None)
    assert _key_info(plain.target, key).describe == "127.0.0.13:2222"
    cfg = write(tmp_path, "Host 127.0.0.13\n  ProxyJump labjump\nHost labjump\n  HostName 127.0.0.16\n  Port 2222\n")
    jumped = resolve_route(SshTarget("127.0.0.13", 2222, known_as="db-01"), config_file=cfg)
    assert _key_info(jumped.jumps[0], key, jumped).describe == "jump host labjump (127.0.0.16:2222) on the way to db-01"
    alias = resolve_route(SshTarget("labjump", known_as="db-01"), config_file=cfg)
    assert _key_info(alias.target, key).describe == "db-01, ssh alias labjump (127.0.0.16:2222)"
    same = resolve_route(SshTarget("labjump", known_as="labjump"), config_file=cfg)
    assert _key_info(same.target, key).describe == "labjump (127.0.0.16:2222)"
    unnamed = resolve_route(SshTarget("labjump"), config_file=cfg)
    assert _key_info(unnamed.target, key).describe == "labjump (127.0.0.16:2222)"
