"""The wizard's fields make the same request as `fleetui enroll`/`fleetui plan` with the arguments they stand
for, and each bad field is named beside itself — checked by the CLI's own code, before anything connects."""

from __future__ import annotations

import argparse

import pytest

from fleetui.commands import enroll as cli_enroll
from fleetui.config import KEYS, Settings
from fleetui.deploy.render import POSTGRES_DSN_ENV
from fleetui.domain.host import InputErrors
from fleetui.tui.screens.wizard.form import DSN_SLOT, WizardForm, build, cli_argv, field_errors


def _settings() -> Settings:
    values = {k.path: k.default for k in KEYS}
    return Settings(values).with_overrides({"schema.required_labels": ["environment", "maintainers"]})


def _form(**kw: object) -> WizardForm:
    base: dict[str, object] = {
        "address": "10.0.0.5",
        "port": "2222",
        "user": "ops",
        "auth": "key",
        "identity": "/root/.ssh/id_ed25519",
        "mode": "push",
        "services": {"self": "", "postgres": "", "journal": "unit=nginx.service"},
        "dsn": "postgres://u:secret@localhost/db",
        "labels": {"environment": "production", "maintainers": "dba"},
        "extra_labels": "team=db",
        "hostname": "db-07",
        "nodename": "db-07",
    }
    base.update(kw)
    return WizardForm(**base)  # type: ignore[arg-type]


def test_the_wizard_builds_the_request_the_cli_builds_from_the_same_arguments() -> None:
    settings = _settings()
    form = _form()
    parser = argparse.ArgumentParser()
    cli_enroll.add_request_arguments(parser)
    args = parser.parse_args(cli_argv(form))
    cli_request, _ = cli_enroll.build(args, settings)
    built = build(form, settings)
    assert built.request == cli_request
    assert built.secrets == {POSTGRES_DSN_ENV: "postgres://u:secret@localhost/db"}
    argv = " ".join(cli_argv(form))
    assert "secret" not in argv and DSN_SLOT in argv  # the DSN itself never goes into arguments
    assert "hostname=" not in argv  # the nodename is the default: no label for it


def test_bad_fields_are_named_beside_themselves() -> None:
    form = _form(port="70000", labels={"environment": "prod ", "maintainers": ""}, extra_labels="job=x", dsn="")
    errors = field_errors(form, ("environment", "maintainers"))
    assert "65535" in errors["port"]
    assert "leading or trailing spaces" in errors["label-environment"]
    assert "required" in errors["label-maintainers"]
    assert "set by fleetui" in errors["extra_labels"]
    assert "DSN" in errors["dsn"]
    with pytest.raises(InputErrors) as e:
        build(_form(address="-oProxyCommand=x", labels={"environment": "a", "maintainers": "b"}), _settings())
    assert "not a host name" in e.value.errors["address"]
