"""What the wizard's fields hold, and the enrollment request they make — built by the CLI's own code.

The wizard never builds an EnrollRequest its own way: `cli_argv` turns the fields into the `fleetui enroll`
arguments they stand for, and `build` hands the same values to `fleetui.commands.enroll.build`, the function
the CLI calls. So the wizard and `fleetui plan` with those arguments plan the same enrollment, and every field
is checked by the rules the CLI applies. Secrets are the exception by necessity: the password and the postgres
DSN are typed into masked fields, kept only in memory, and handed to the operation directly — never put in
the argv, an environment variable, a file or a log.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fleetui.commands import enroll as cli_enroll
from fleetui.config import Settings
from fleetui.deploy.enroll import resolve_secrets
from fleetui.domain.host import EnrollRequest, InputError, InputErrors, parse_service
from fleetui.domain.labels import LabelError, check_name, check_value, parse_label_args

DSN_SLOT = "FLEETUI_WIZARD_POSTGRES_DSN"  # the dsn_env name the request carries; its value is the masked field
AUTH_CHOICES = ("agent", "key", "password")


@dataclass
class WizardForm:
    """Every field of the wizard as typed (strings), so a half-filled form can be kept and checked."""

    address: str = ""
    port: str = ""
    user: str = ""
    auth: str = "agent"  # agent | key | password
    identity: str = ""
    password: str = field(default="", repr=False)  # SSH login password (also sudo's)
    sudo_password: str = field(default="", repr=False)  # only when the login is not by password
    mode: str = "pull"
    services: dict[str, str] = field(default_factory=dict)  # name -> "k=v,k=v" (postgres: without the DSN)
    dsn: str = field(default="", repr=False)
    labels: dict[str, str] = field(default_factory=dict)  # the schema's required labels, one field each
    extra_labels: str = ""  # more labels: "KEY=VALUE KEY=VALUE"
    hostname: str = ""  # the hostname label; the detected nodename unless changed
    nodename: str = ""  # detected on Connect
    # re-enroll: the fleet row the wizard was opened from, and the address prefilled for it. While the address
    # is that one, the runs name the row in a host-key question ("db-01 (127.0.0.13:2222)"); another address
    # typed is another host
    row: str = ""
    row_address: str = ""

    @property
    def known_as(self) -> str | None:
        """The fleet row the runs are for, when the address typed is the way to it (see `row`)."""
        if self.row and self.address.strip() == self.row_address and self.row != self.row_address:
            return self.row
        return None

    @property
    def secret(self) -> str | None:
        """The password the operation gets: the login password, else the sudo password, else None."""
        if self.auth == "password" and self.password:
            return self.password
        return self.sudo_password or None


@dataclass(frozen=True)
class Built:
    request: EnrollRequest
    password: str | None
    secrets: dict[str, str]


def service_args(form: WizardForm) -> list[str]:
    out = []
    for name, params in form.services.items():
        params = params.strip().strip(",")
        if name == "postgres":
            params = ",".join(filter(None, [f"dsn_env={DSN_SLOT}", params]))
        out.append(f"{name}:{params}" if params else name)
    return out


def label_args(form: WizardForm) -> list[str]:
    """KEY=VALUE in form order: required fields (filled ones), then the extra ones, then hostname if changed."""
    out = [f"{k}={v}" for k, v in form.labels.items() if v != ""]
    out += form.extra_labels.split()
    if form.hostname and form.hostname != form.nodename:
        out += [f"hostname={form.hostname}"]  # a CLI argument (quoted as argv), not console text
    return out


def cli_argv(form: WizardForm) -> list[str]:
    """The `fleetui enroll`/`fleetui plan` arguments these fields stand for (secrets left out)."""
    argv = [form.address.strip()]
    if form.port.strip():
        argv += ["--port", form.port.strip()]
    if form.user.strip():
        argv += ["--user", form.user.strip()]
    if form.auth == "key" and form.identity.strip():
        argv += ["--identity", form.identity.strip()]
    argv += ["--mode", form.mode]
    for s in service_args(form):
        argv += ["--service", s]
    for label in label_args(form):
        argv.append(f"--label={label}")
    return argv


def _namespace(form: WizardForm, port: int | None) -> argparse.Namespace:
    """What the CLI's argument parser yields for `cli_argv(form)` (built directly: no option parsing of
    operator text, so an address starting with `-` is an address error, not an option)."""
    return argparse.Namespace(
        address=form.address.strip(),
        port=port,
        user=form.user.strip() or None,
        identity=form.identity.strip() if form.auth == "key" and form.identity.strip() else None,
        password_env=None,
        trust_host_key=None,
        json=False,
        mode=form.mode,
        service=service_args(form),
        label=label_args(form),
        yes=False,
    )


def field_errors(form: WizardForm, required: Iterable[str]) -> dict[str, str]:
    """Per-field errors of the fields that stand alone (each required label, the port, the auth choice) — what
    can be shown beside a field while typing; `build` checks the whole request on top."""
    errors: dict[str, str] = {}
    port = form.port.strip()
    if port and (not port.isdigit() or not 1 <= int(port) <= 65535):
        errors["port"] = f"port must be a number from 1 to 65535, got {port[:20]!r}"
    if form.auth == "key" and not form.identity.strip():
        errors["identity"] = "give the private key file, or choose the agent"
    if form.auth == "password" and not form.password:
        errors["password"] = "type the password, or choose the agent or a key file"  # noqa: S105
    for name in required:
        value = form.labels.get(name, "")
        if value == "":
            errors[f"label-{name}"] = f"{name} is required (schema.required_labels)"
            continue
        try:
            check_name(name)
            check_value(name, value)
        except LabelError as e:
            errors[f"label-{name}"] = str(e)
    try:
        extra = parse_label_args(form.extra_labels.split())
        for k, v in extra.items():
            check_name(k)
            check_value(k, v)
            if k in form.labels:
                raise LabelError(f"label {k!r} has its own field above")
    except LabelError as e:
        errors["extra_labels"] = str(e).replace("--label expects", "expected")
    if form.hostname:
        try:
            check_value("hostname", form.hostname)
        except LabelError as e:
            errors["hostname"] = str(e)
    for name, params in form.services.items():
        try:
            parse_service(service_args(WizardForm(services={name: params}))[0])
        except InputError as e:
            errors[f"service-{name}"] = str(e)
    if "postgres" in form.services and not form.dsn:
        errors["dsn"] = "type the postgres DSN (kept in memory, written only to the host's 0600 env file)"
    elif "\n" in form.dsn or "\r" in form.dsn or "\x00" in form.dsn:
        errors["dsn"] = "the DSN must be one line"
    return errors


# request field (InputErrors keys) -> the wizard field the error is shown beside
FIELD_OF = {
    "address": "address",
    "port": "port",
    "user": "user",
    "identity_file": "identity",
    "password_env": "password",
    "mode": "mode",
    "services": "services",
    "labels": "labels",
}


def build(form: WizardForm, settings: Settings, *, with_services: bool = True) -> Built:
    """The request `fleetui enroll` would build from `cli_argv(form)`, with the secrets from the masked fields.
    InputErrors keyed by wizard field when anything is wrong; nothing has connected yet.

    `with_services=False` (the Connect step): only the connection is checked, as `fleetui retire` does."""
    required = tuple(settings["schema.required_labels"]) if with_services else ()
    errors = field_errors(form, required) if with_services else {}
    if not with_services:
        errors = {k: v for k, v in field_errors(form, ()).items() if k in ("port", "identity", "password")}
    port = int(form.port) if form.port.strip().isdigit() and "port" not in errors else None
    try:
        request, _ = cli_enroll.build(_namespace(form, port), settings, with_services=with_services)
    except InputErrors as e:
        per_label = any(k.startswith("label-") or k in ("extra_labels", "hostname") for k in errors)
        for k, v in e.errors.items():
            name = FIELD_OF.get(k, "form")
            if name == "labels" and per_label:
                continue  # already said beside the label's own field
            errors.setdefault(name, v)
        raise InputErrors(errors) from None
    if errors:
        raise InputErrors(errors)
    secrets: dict[str, str] = {}
    if with_services:
        try:
            secrets = resolve_secrets(request, {DSN_SLOT: form.dsn})
        except InputError as e:
            raise InputErrors({"dsn": str(e)}) from None
    return Built(request, form.secret, secrets)


def prefill(labels: Mapping[str, str], required: Iterable[str]) -> tuple[dict[str, str], str]:
    """(required label fields, extra labels text) from a host's labels, leaving out what fleetui sets."""
    skip = {"instance", "job", "hostname", "__metrics_path__"}
    req = {name: labels.get(name, "") for name in required}
    extra = " ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in skip and k not in req)
    return req, extra
