"""Step 3, What to collect: pull or push (and what each means for `up`), the extra services with their
parameters (a postgres DSN in a masked field), and the labels — every schema-required label its own field,
completing from values already used in the fleet, so `production` stays `production`. The instance is the
detected nodename; the hostname label defaults to it. Every field is checked as you type, by the CLI's rules,
and the error is shown beside it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.suggester import SuggestFromList
from textual.widgets import Checkbox, Input, Label, RadioButton, RadioSet, Static

from fleetui.domain.host import SERVICES
from fleetui.tui import safe
from fleetui.tui.screens.wizard.connection import error_box
from fleetui.tui.screens.wizard.form import WizardForm
from fleetui.tui.widgets.plain_input import PlainInput

MODE_LINES = {
    "pull": "Prometheus scrapes Alloy on the host: `up` says whether Prometheus reached it (0: it could not).",
    "push": "Alloy remote-writes to Prometheus: no scrape, so no `up`; the host is judged by how recently its "
    "samples arrived.",
}
SERVICE_HINTS = {
    "postgres": "extra params (the DSN goes in the masked field below)",
    "nginx": "url=http://127.0.0.1/stub_status or exporter=HOST:PORT",
    "journal": "unit=NAME,... loki_url=URL",
    "logfile": "path=/var/log/app.log,path=...",
    "self": "no parameters: Alloy's own metrics",
}


def fleet_values(values: Iterable[Mapping[str, str]], name: str) -> list[str]:
    """Every value of label `name` in the fleet, most used first (then alphabetical)."""
    counts: dict[str, int] = {}
    for labels in values:
        v = labels.get(name)
        if v:
            counts[v] = counts.get(v, 0) + 1
    return sorted(counts, key=lambda v: (-counts[v], v))


class CollectStep(VerticalScroll):
    def __init__(self, form: WizardForm, required: tuple[str, ...], suggestions: Mapping[str, list[str]]) -> None:
        super().__init__(id="step-collect", classes="wizard-step")
        self.form, self.required, self.suggestions = form, required, suggestions

    def compose(self) -> ComposeResult:
        f = self.form
        yield Label("Mode")
        with RadioSet(id="mode"):
            yield RadioButton("pull", value=f.mode == "pull", id="mode-pull")
            yield RadioButton("push", value=f.mode == "push", id="mode-push")
        yield Static(Content(f"pull: {MODE_LINES['pull']}\npush: {MODE_LINES['push']}"), id="mode-lines")
        yield error_box("mode")
        yield Label("Labels", classes="section")
        yield Static(id="instance-line")
        for name in self.required:
            values = self.suggestions.get(name, [])
            hint = f" (in the fleet: {', '.join(values[:4])})" if values else ""
            yield Label(safe.content(f"{name} — required{hint}", limit=None))
            yield PlainInput(
                f.labels.get(name, ""),
                placeholder=values[0] if values else name,
                suggester=SuggestFromList(values, case_sensitive=True) if values else None,
                id=f"label-{name}",
                classes="label-field",
            )
            yield error_box(f"label-{name}")
        yield Label("hostname label (default: the detected nodename)")
        yield PlainInput(f.hostname or f.nodename, id="hostname")
        yield error_box("hostname")
        yield Label("More labels (KEY=VALUE, space-separated)")
        yield PlainInput(f.extra_labels, placeholder="team=db rack=r12", id="extra_labels")
        yield error_box("extra_labels")
        yield error_box("labels")
        yield Label("Services (besides the host's own metrics)", classes="section")
        for name in SERVICES:
            yield Checkbox(name, name in f.services, id=f"svc-{name}")
            if name != "self":
                yield PlainInput(f.services.get(name, ""), placeholder=SERVICE_HINTS[name], id=f"svcp-{name}")
            yield error_box(f"service-{name}")
        yield Label("postgres DSN (masked; written only to the host's 0600 env file)", id="dsn-label")
        yield Input(f.dsn, password=True, placeholder="postgres://user:pass@localhost:5432/db", id="dsn")
        yield error_box("dsn")
        yield error_box("services")
        yield error_box("form")

    def on_mount(self) -> None:
        self.show_services()
        self.show_instance()

    def show_instance(self) -> None:
        nodename = self.form.nodename or "the detected nodename"
        self.query_one("#instance-line", Static).update(
            safe.text(f"instance: {nodename} (set by fleetui from the host's nodename)")
        )
        box = self.query_one("#hostname", Input)
        if not box.value and self.form.nodename:
            box.value = self.form.nodename

    def show_services(self) -> None:
        for name in SERVICES:
            on = self.query_one(f"#svc-{name}", Checkbox).value
            if name != "self":
                self.query_one(f"#svcp-{name}").display = on
        pg = self.query_one("#svc-postgres", Checkbox).value
        for w in ("#dsn-label", "#dsn"):
            self.query_one(w).display = pg

    def read(self) -> None:
        f = self.form
        f.mode = "push" if self.query_one("#mode-push", RadioButton).value else "pull"
        f.labels = {name: self.query_one(f"#label-{name}", Input).value for name in self.required}
        f.hostname = self.query_one("#hostname", Input).value
        f.extra_labels = self.query_one("#extra_labels", Input).value
        f.services = {}
        for name in SERVICES:
            if self.query_one(f"#svc-{name}", Checkbox).value:
                f.services[name] = "" if name == "self" else self.query_one(f"#svcp-{name}", Input).value
        f.dsn = self.query_one("#dsn", Input).value if "postgres" in f.services else ""
