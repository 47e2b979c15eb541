"""Pilot tests: the console's keys over a fixed fleet (frozen clock), no network.

The fleet is a domain value handed to the screen (fleet_fixture.FixedSource); refreshing against a real,
stopped and restarted Prometheus is in test_lab_refresh.py.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

import msgspec
import yaml
from console import palette_prompts, screen_lines
from fleet_fixture import NOW, UNREACHABLE, FixedThenPrometheus, fleet, make_app, settings
from textual.widgets import Input
from textual.worker import WorkerFailed

from fleetui.domain.fleet import FleetSnapshot, HostState, HostStatus, Mode
from fleetui.tui.screens.fleet import NOTHING_SHOWN_NOTE, FleetScreen
from fleetui.tui.screens.help import HelpScreen
from fleetui.tui.screens.host import HostScreen
from fleetui.tui.screens.welcome import WelcomeScreen
from fleetui.tui.source import FixedSource, PrometheusSource
from fleetui.tui.widgets.summary import SummaryNote


async def _fleet_screen(app) -> FleetScreen:  # type: ignore[no-untyped-def]
    await app.workers.wait_for_complete()
    screen = app.screen
    assert isinstance(screen, FleetScreen)
    return screen


async def _settle(app, pilot) -> None:  # type: ignore[no-untyped-def]
    """Wait for running refreshes, failed ones included (their error is what the screen shows)."""
    with contextlib.suppress(WorkerFailed):
        await app.workers.wait_for_complete()
    await pilot.pause()


def _line_text(screen: FleetScreen, y: int) -> str:
    return screen.table.render_line(y).text


async def test_filter_by_label_and_clear() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _fleet_screen(app)
        total = len(fleet().hosts)
        assert len(screen.table.view) == total
        await pilot.press("slash", *"environment=staging", "enter")
        view = screen.table.view
        assert view and all(h.labels.get("environment") == "staging" for h in view)
        assert len(view) == sum(1 for h in fleet().hosts if h.labels.get("environment") == "staging")
        assert screen.query_one("#filter").display  # the active filter stays visible
        await pilot.press("escape")
        assert len(screen.table.view) == total
        assert not screen.query_one("#filter").display


async def test_an_empty_table_under_a_filter_or_scope_says_how_to_get_the_hosts_back() -> None:
    """A filter or a show-only scope that leaves no host on screen says so under the counts, and how to get every
    host back; the line goes once a host is shown again."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _fleet_screen(app)
        note = screen.query_one(SummaryNote)
        assert not note.display
        await pilot.press("slash", *"[bold]nothing", "enter")
        assert not screen.table.view
        assert note.display and str(note.render()) == NOTHING_SHOWN_NOTE
        await pilot.press("escape")
        assert screen.table.view and not note.display
        await pilot.press("slash", *"web", "enter")
        assert screen.table.view and not note.display  # hosts shown: nothing to say
        await pilot.press("escape")
        assert not any(h.alerts for h in fleet().hosts), "the fixture changed: pick another scope"
        screen.action_scope("alerting")  # the palette's "Show only hosts with firing alerts": the fixture has none
        await pilot.pause()
        assert not screen.table.view and note.display
        await pilot.press("escape")
        assert len(screen.table.view) == len(fleet().hosts) and not note.display


async def test_filter_negation_regex_and_free_text() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _fleet_screen(app)
        await pilot.press("slash", *"environment!=prod", "enter")
        assert all(h.labels.get("environment") != "prod" for h in screen.table.view)
        await pilot.press("escape", "slash", *"hostname=~web-0[2-4]", "enter")
        assert sorted(h.instance for h in screen.table.view) == ["10.0.0.2:9100", "10.0.0.3:9100", "10.0.0.4:9100"]
        await pilot.press("escape", "slash", *"alloy-push", "enter")
        assert {h.mode.value for h in screen.table.view} == {"push"}


async def test_bad_regex_is_flagged_and_keeps_the_previous_filter() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _fleet_screen(app)
        await pilot.press("slash", *"environment=dev")
        shown = len(screen.table.view)
        box = screen.query_one("#filter", Input)
        box.value = "environment=dev hostname=~(web"  # pasted in one go
        await pilot.pause()
        assert box.has_class("-invalid")
        assert "regular expression" in str(box.border_subtitle)
        assert len(screen.table.view) == shown


async def test_show_only_keys_toggle() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _fleet_screen(app)
        for key, state in (("d", HostState.DOWN), ("s", HostState.STALE), ("x", HostState.GONE)):
            await pilot.press(key)
            assert screen.table.view and {h.state for h in screen.table.view} == {state}
            await pilot.press(key)  # again: everything
            assert len(screen.table.view) == len(fleet().hosts)
        await pilot.press("p")
        assert [h.instance for h in screen.table.view] == ["10.0.0.2:9100"]
        await pilot.press("a")
        assert len(screen.table.view) == len(fleet().hosts)


async def test_sort_keys_and_header_click() -> None:
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await _fleet_screen(app)
        table = screen.table
        assert [h.state for h in table.view[:2]] == [HostState.DOWN, HostState.DOWN]  # severity first
        await pilot.press("o")  # next column: instance, natural order
        assert table.sort_key == "instance"
        instances = [h.instance for h in table.view]
        assert instances[:3] == ["10.0.0.2:9100", "10.0.0.3:9100", "10.0.0.4:9100"]
        await pilot.press("O")
        assert [h.instance for h in table.view] == instances[::-1]
        assert "instance▼" in _line_text(screen, 0)
        # click the "last seen" header: newest first
        x = _line_text(screen, 0).index("last seen")
        await pilot.click(table, offset=(x, 0))
        assert table.sort_key == "last_seen"
        last_seen = fleet().times.last_seen  # the snapshot's times: the rows have none
        seen = [last_seen.get(h.instance) or 0 for h in table.view]
        assert len(set(seen)) > 1 and seen == sorted(seen, reverse=True)


async def test_every_sorted_column_shows_its_whole_title_and_arrow() -> None:
    """`o` through every column, `O` on each: the sorted column's header reads its title and arrow whole,
    both ways (the five-cell "probs" once read "prob…", with no sign of what the table was sorted by)."""
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await _fleet_screen(app)
        table = screen.table
        titles = {c.key: c.title for c, _ in table._fit(table.size.width)}
        assert {"state", "mode", "problems"} <= titles.keys()  # the narrow ones are on screen
        seen = set()
        for _ in titles:
            if table.sort_key in titles:
                seen.add(table.sort_key)
                assert f"{titles[table.sort_key]}▲" in _line_text(screen, 0), table.sort_key
                await pilot.press("O")
                assert f"{titles[table.sort_key]}▼" in _line_text(screen, 0), table.sort_key
            await pilot.press("o")
        assert seen == titles.keys()


async def test_enter_opens_detail_and_escape_returns_with_cursor_kept() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _fleet_screen(app)
        await pilot.press("down", "down")
        chosen = screen.table.cursor_host
        assert chosen is not None
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, HostScreen) and detail.host.instance == chosen.instance
        await pilot.press("escape")
        assert app.screen is screen and screen.table.cursor_host == chosen


async def test_detail_shows_labels_problems_and_hints_as_plain_text() -> None:
    app = make_app()
    async with app.run_test(size=(120, 60)) as pilot:
        screen = await _fleet_screen(app)
        screen.open_host("10.0.0.2:9100")
        await pilot.pause()
        text = app.screen.query_one("#host-problems").render()
        assert "missing_label" in str(text) and "fix: rename maintainer to maintainers" in str(text)
        overview = str(app.screen.query_one("#host-overview").render())
        assert "http://10.0.0.2:9100/metrics" in overview and "connection refused" in overview
        assert "3h 22m ago" in overview
        await pilot.press("escape")
        screen.open_host("10.0.0.4:9100")
        await pilot.pause()
        labels = str(app.screen.query_one("#host-labels").render())
        assert "[red]" in labels and "[bold]ops[/bold]" in labels


async def test_label_values_are_not_markup_in_the_table() -> None:
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await _fleet_screen(app)
        screen.table.move_cursor_to("10.0.0.4:9100")
        await pilot.pause()
        row = screen.table.cursor - int(screen.table.scroll_offset.y) + 1
        line = _line_text(screen, row)
        assert "[red]" in line and "[bold]ops[/bold]" in line


async def test_refresh_applies_the_diff_keeping_cursor_and_scroll() -> None:
    source = FixedSource(fleet())
    app = make_app(source)
    async with app.run_test(size=(120, 16)) as pilot:
        screen = await _fleet_screen(app)
        await pilot.press("o")  # by instance, so the changed rows do not move
        for _ in range(20):
            await pilot.press("down")
        table = screen.table
        chosen, top = table.cursor_host, table.scroll_offset.y
        assert chosen is not None and top > 0
        hosts = list(source.current.hosts)
        hosts[0] = msgspec.structs.replace(hosts[0], state=HostState.UP, problems=())  # 10.0.0.2 recovers
        hosts.pop()  # one host vanishes
        source.current = FleetSnapshot(tuple(hosts), NOW, times=source.current.times)
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert source.calls == 2
        assert table.cursor_host == chosen and table.scroll_offset.y == top
        assert len(table.view) == len(hosts)
        assert table.hosts["10.0.0.2:9100"].state is HostState.UP
        assert screen.snapshot is source.current


async def test_theme_key_switches_and_remembers(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("refresh_interval: 30\n")
    app = make_app(config_file=config)
    async with app.run_test(size=(100, 30)) as pilot:
        await _fleet_screen(app)
        assert app.theme == "fleet-dark"
        await pilot.press("t")
        await pilot.pause()
        assert app.theme != "fleet-dark" and app.theme in app.fleet_themes
        saved = yaml.safe_load(config.read_text())
        assert saved == {"refresh_interval": 30, "theme": app.theme}
        assert app.current_theme.variables["status-down"]  # fleetui's own variables travel with the theme


async def test_configured_theme_and_invalid_theme_fallback() -> None:
    app = make_app(theme="fleet-high-contrast")
    async with app.run_test(size=(100, 30)):
        await _fleet_screen(app)
        assert app.theme == "fleet-high-contrast"
    app = make_app(theme="no-such-theme")
    async with app.run_test(size=(100, 30)) as pilot:
        await _fleet_screen(app)
        await pilot.pause()
        assert app.theme == "fleet-dark"
        assert any("no-such-theme" in str(n.message) for n in app._notifications)


async def test_help_lists_every_key_of_the_screen() -> None:
    app = make_app()
    async with app.run_test(size=(120, 50)) as pilot:
        screen = await _fleet_screen(app)
        await pilot.press("question_mark")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        keys = {k for k, _ in help_screen.rows}
        for key in ("/", "r", "d", "s", "x", "p", "a", "o", "O", "esc", "q", "?", "t"):
            assert any(key in k.split() for k in keys), key
        await pilot.press("escape")
        assert app.screen is screen
        screen.open_host("10.0.0.3:9100")
        await pilot.pause()
        await pilot.press("question_mark")
        assert any("Read the fleet" in what for _, what in app.screen.rows)  # type: ignore[attr-defined]


async def test_the_summary_at_80_columns_keeps_what_the_table_shows() -> None:
    """With a silent host the counts alone filled 80 columns, and what the table shows ("25/39 shown ·
    filtered") fell off the end: an operator could not tell the table was filtered. The counts then drop their
    words (the glyphs stay, as in the state column), and the rest of the line is whole."""
    base = fleet()
    silent = HostStatus("edge-07", HostState.SILENT, Mode.PUSH, {"instance": "edge-07"}, ())
    snap = replace(base, hosts=tuple(sorted((*base.hosts, silent), key=lambda h: h.instance)))
    app = make_app(FixedSource(snap))
    async with app.run_test(size=(80, 24)) as pilot:
        await _fleet_screen(app)
        await pilot.press("slash", *"environment=~prod|dev", "enter")
        await pilot.pause()
        line = screen_lines(app)[1]
        assert line.rstrip().endswith("shown · filtered"), line
        assert "● 33  ✖ 3  ◐ 1  ○ 1  ◌ 1  ⚠ 1  │" in line, line
        await pilot.resize_terminal(120, 24)
        await pilot.pause()
        line = screen_lines(app)[1]
        assert "● up 33  ✖ down 3  ◐ stale 1  ○ gone 1  ◌ silent 1  ⚠ problems 1  │" in line, line


async def test_help_at_80_columns_shows_every_description_whole() -> None:
    """At 80×24 a long description wraps under itself inside the box: four of them were cut at its edge ("go
    to the next (l an"). Read from the screen, scrolled from top to bottom."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _fleet_screen(app)
        await pilot.press("question_mark")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        box = help_screen.query_one("#help-box")
        seen: list[str] = []
        for _ in range(10):  # a page at a time, until the bottom
            region = box.region
            for line in screen_lines(app)[region.y + 1 : region.bottom - 1]:
                inside = line[region.x + 1 : region.right - 1].rstrip(" ▁▃▇█")  # the scrollbar aside
                if inside not in seen[-20:]:
                    seen.append(inside)
            if box.scroll_y >= box.max_scroll_y:
                break
            box.scroll_page_down(animate=False)
            await pilot.pause()
        shown = " ".join(" ".join(line.split()) for line in seen)
        for keys, what in help_screen.rows:
            assert f"{keys.split()[-1]} {what}" in shown or what in shown, (keys, what)
        space = next(line for line in seen if "Mark or unmark" in line)
        hang = space.index("Mark")
        after = seen[seen.index(space) + 1]
        assert after[:hang].strip() == "" and after[hang:].startswith("and D act"), after  # under itself


async def test_footer_at_80_columns_offers_enroll_and_cuts_no_key() -> None:
    """A newcomer's first screen: the footer names `e` Enroll, the console's main action, and every key it
    shows at 80 columns is whole (those that do not fit are in help and the palette, not cut mid-word)."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _fleet_screen(app)
        await pilot.pause()
        keys, _, palette = screen_lines(app)[-1].partition("▏")
        shown = keys.split()
        assert shown[:4] == ["⏎", "Details", "e", "Enroll"] and palette.strip() == "^p palette"
        assert keys.rstrip().endswith(("Logs", "Doctor", "Quit", "Help", "Theme"))  # the last one shown is whole


async def test_palette_offers_every_screen_action() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _fleet_screen(app)
        titles = {p.split("\n")[0] for p in await palette_prompts(app, pilot)}
        for title in (
            "Refresh now",
            "Filter hosts",
            "Clear filter",
            "Show only down hosts",
            "Show only hosts with problems",
            "Show only hosts with firing alerts",
            "Sort by last seen",
            "Reverse sort order",
            "Theme: fleet-light",
            "Help: keys of this screen",
            "Open 10.0.0.2:9100",  # the host under the cursor (the first row: down hosts sort first)
            "Quit",
        ):
            assert title in titles, title
        # batch enrollment is found by the word the README uses for it (it searched empty before)
        batch = await palette_prompts(app, pilot, "batch")
        assert batch and batch[0].startswith("Enroll from a file (batch)…")
        for _ in "batch":
            await pilot.press("backspace")
        prompts = await palette_prompts(app, pilot, "reverse")
        assert prompts[0].startswith("Reverse sort order")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen) and app.screen.table.sort_reverse


async def test_palette_lists_the_detail_screens_actions() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _fleet_screen(app)
        screen.open_host("10.0.0.3:9100")
        await pilot.pause()
        titles = {p.split("\n")[0] for p in await palette_prompts(app, pilot)}
        assert {"Host: Refresh", "Host: Back", "Help: keys of this screen"} <= titles
        assert not any(t.startswith(("Sort by", "Open ")) for t in titles)  # the fleet screen's stay there


async def test_failed_refresh_keeps_data_and_shows_stale_banner() -> None:
    app = make_app(FixedThenPrometheus())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _fleet_screen(app)
        assert not screen.query_one("#stale").display
        await pilot.press("r")
        await _settle(app, pilot)
        banner = str(screen.query_one("#stale").render())
        assert screen.query_one("#stale").display
        assert UNREACHABLE in banner and "cannot connect" in banner
        assert "showing data from 1m 35s ago" in banner  # the fixed fleet was taken 95 s before the frozen now
        assert len(screen.table.view) == len(fleet().hosts)  # last data kept


async def _welcome_text(source: PrometheusSource) -> str:
    """What the welcome screen says when the console's first refresh fails; `q` then quits cleanly."""
    app = make_app(source)
    async with app.run_test(size=(100, 30)) as pilot:
        await _settle(app, pilot)
        welcome = app.screen
        assert isinstance(welcome, WelcomeScreen)
        text = str(welcome.query_one("#welcome-text").render())
        await pilot.press("q")
    assert app.return_code in (None, 0)
    return text


async def test_first_run_without_prometheus_says_what_to_do() -> None:
    text = await _welcome_text(PrometheusSource(settings(**{"prometheus.url": UNREACHABLE})))
    for needle in (UNREACHABLE, "cannot connect", "--prometheus", "prometheus:", "url:", "fleetui demo"):
        assert needle in text, needle


async def test_a_missing_ca_file_is_said_by_the_console_not_raised_at_start(tmp_path: Path) -> None:
    """The console makes its HTTP client as it is created (so the first requests leave before Textual starts);
    a client that cannot be made, here for a CA file that is not there, still reaches the operator as the first
    refresh's error, naming the setting, and never stops the console from opening."""
    missing = tmp_path / "no-such-ca.pem"
    source = PrometheusSource(settings(**{"prometheus.url": "https://127.0.0.1:9", "prometheus.ca_file": str(missing)}))
    text = await _welcome_text(source)
    assert "prometheus.ca_file" in text and str(missing) in text
