"""Host lists for `fleetui enroll --from`: every format gives the same entries, every bad row is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetui.domain.hostlist import HostEntry, HostListError, parse, validate
from fleetui.domain.labels import LabelSchema

DATA = Path(__file__).parent.parent / "data"


def _read(name: str) -> list[HostEntry]:
    return parse((DATA / name).read_text(), name)


def test_ansible_ini_inventory_reads_into_the_same_host_list_as_its_yaml_equivalent() -> None:
    ini = _read("inventory.ini")
    assert [e.name for e in ini] == ["web-01", "web-02", "web-03", "db-01"]
    assert ini == _read("hosts.yaml")
    assert ini == _read("inventory.yaml")
    assert ini == _read("hosts.csv")


def test_ansible_mapping_host_vars_beat_group_vars_and_labels_merge_key_by_key() -> None:
    by = {e.name: e for e in _read("inventory.ini")}
    assert by["web-03"].address == "10.0.0.13" and by["web-03"].port == 2200  # host var over [all:vars]
    assert by["web-01"].address == "web-01" and by["web-01"].port == 2222  # the name is the address
    assert dict(by["web-01"].labels) == {"environment": "production", "maintainers": "web-team", "role": "web"}
    assert by["db-01"].user == "deploy" and by["db-01"].mode == "push" and by["db-01"].services == ()
    assert by["db-01"].password_env == "DB_SSH_PASSWORD"


def test_extensionless_ansible_hosts_file_is_read_as_ini() -> None:
    entries = parse("[web]\nweb-01 ansible_host=127.0.0.11\n\n[web:vars]\nansible_port=2222\n", "hosts")
    assert [(e.address, e.port) for e in entries] == [("127.0.0.11", 2222)]


def test_a_secret_in_the_inventory_is_refused_not_read() -> None:
    entries = parse("[db]\ndb-01 ansible_password=hunter2\n", "hosts.ini")
    good, bad = validate(entries)
    assert not good
    assert "fleetui_password_env" in bad[0].errors["password_env"]
    assert "hunter2" not in bad[0].line()


def test_every_bad_row_is_listed_with_its_reasons() -> None:
    text = (
        "address,port,user,labels,services\n"
        "127.0.0.21,2222,root,environment=lab;maintainers=ops,\n"
        "bad host,2222,root,environment=lab;maintainers=ops,\n"
        "127.0.0.22,ssh,Root!,environment=lab,\n"
        "127.0.0.23,2222,root,environment=lab;maintainers=ops,postgres\n"
        "127.0.0.21,2222,root,environment=lab;maintainers=ops,\n"
    )
    good, bad = validate(parse(text, "x.csv"), LabelSchema(("environment", "maintainers"), {}))
    assert [e.address for e, _ in good] == ["127.0.0.21"]
    lines = [b.line() for b in bad]
    assert lines[0].startswith("line 3 (bad host): address:")
    assert "port: 'ssh' is not a port number" in lines[1] and "user:" in lines[1] and "labels:" in lines[1]
    assert "services: postgres: needs dsn_env" in lines[2]
    assert "listed twice (also line 2)" in lines[3]


def test_fleetui_yaml_list_rejects_unknown_fields_and_missing_addresses() -> None:
    good, bad = validate(parse("hosts:\n  - {address: 127.0.0.21, prot: 22}\n  - {user: root}\n", "h.yaml"))
    assert not good
    assert "unknown field 'prot'" in bad[0].line()
    assert bad[1].errors["address"]


@pytest.mark.parametrize(
    ("text", "name", "msg"),
    [
        ("a: [1, 2", "h.yaml", "not valid YAML"),
        ("just a string", "h.yaml", "expected a list of hosts"),
        ("name,port\nx,1\n", "h.csv", "`address` column"),
        ("[web:weird]\nx\n", "h.ini", "unknown section kind"),
    ],
)
def test_unreadable_files_say_why(text: str, name: str, msg: str) -> None:
    with pytest.raises(HostListError, match=msg):
        parse(text, name)


def test_ini_ranges_keep_leading_zeros() -> None:
    assert [e.name for e in parse("[b]\nbatch-[008:010]\n", "h.ini")] == ["batch-008", "batch-009", "batch-010"]
