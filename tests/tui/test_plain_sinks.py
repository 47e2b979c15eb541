"""The app-wide sinks of outside text: notifications, the header, the first-run and stale-data error texts.

Theme files are real files with hostile names and contents (a file is outside input too). The error text comes
from a real HTTP server on loopback that answers like a broken proxy in front of Prometheus (status 502 and
a hostile body): the lab's Prometheus cannot be made to answer that, so this one edge is served here, and
the console reads it through the real adapter.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from console import assert_nothing_raw, screen_lines, settle
from fleet_fixture import make_app, settings

from fleetui.tui.screens.welcome import WelcomeScreen
from fleetui.tui.source import PrometheusSource

BODY = "aa-bad[/nope] \x1b[2J[reverse]proxy[/reverse] \u202eerror"
BODY_SHOWN = "aa-bad[/nope] \\x1b[2J[reverse]proxy[/reverse] \\u202eerror"


class _BrokenProxy(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = BODY.encode()
        self.send_response(502)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def broken_proxy() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BrokenProxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_error_reply_is_shown_as_typed_on_first_run(broken_proxy: str) -> None:
    app = make_app(PrometheusSource(settings(**{"prometheus.url": broken_proxy})))
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, WelcomeScreen)
        text = str(app.screen.query_one("#welcome-text").render())
        assert "HTTP 502" in text and BODY_SHOWN in text
        assert any("HTTP 502" in line for line in screen_lines(app))
        assert_nothing_raw(app)


async def test_theme_files_with_hostile_names_and_values_are_reported_literally(tmp_path: Path) -> None:
    themes = tmp_path / "themes"
    themes.mkdir()
    (themes / "aa-bad[b]\x1b[31m.yaml").write_text("name: x\nprimary: '[/nope] not-a-colour'\n")
    (themes / "[link=evil.example]t.yaml").write_text("- [bold]a list[/bold]\n")
    app = make_app(theme="[/nope]\u202e")
    app._theme_failures.clear()
    from fleetui.tui.themes import load_themes

    app._theme_failures.extend(load_themes(themes).failures)
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await settle(app, pilot)
        messages = [str(n.message) for n in app._notifications]
        assert any("[/nope]\\u202e" in m for m in messages)  # the configured theme name, as typed
        assert any("aa-bad[b]\\x1b[31m.yaml" in m and "[/nope] not-a-colour" in m for m in messages)
        assert any("[link=evil.example]t.yaml" in m for m in messages)
        assert app.is_running
        assert_nothing_raw(app)


async def test_notifications_and_the_header_are_plain_text() -> None:
    app = make_app()
    async with app.run_test(size=(140, 40), notifications=True) as pilot:  # toasts are off in run_test by default
        await settle(app, pilot)
        app.screen.sub_title = "[/nope]\x1b[7m\u202esub"
        app.notify("[/nope] [reverse]x[/reverse]\x1b[2J", title="[b]t\u202e")
        app.screen.notify("[@click=app.quit]q[/]", markup=True)  # Widget.notify asks for markup: still plain
        await pilot.pause(0.3)
        lines = screen_lines(app)
        assert "[/nope]\\x1b[7m\\u202esub" in lines[0]
        assert any("[/nope] [reverse]x[/reverse]\\x1b[2J" in line for line in lines)
        assert any("[@click=app.quit]q[/]" in line for line in lines)
        assert_nothing_raw(app)
        assert app.is_running
