"""The last-seen book: what it remembers, which history requests it plans (all bounded), and its file.

Pure: the book is fed what refreshes and history requests found; tests/lab/test_status_scale.py runs it
against a real Prometheus (a restart that needs no history query, a day of history at scale).
"""

from __future__ import annotations

import itertools
from pathlib import Path

from fleetui.adapters.lastseen_file import book_path, clean_url, load_book, save_book
from fleetui.config import load
from fleetui.domain.classify import Sample
from fleetui.domain.lastseen import BATCH, WINDOW, LastSeenBook, Step

NOW = 1_700_000_000.0
DAY = 86_400.0


def up(instance: str, t: float, **labels: str) -> Sample:
    return Sample({"instance": instance, "job": "node", **labels}, t, "up")


def live(*pairs: tuple[str, float]) -> dict[str, float]:
    return dict(pairs)


def steps(book: LastSeenBook) -> list[Step]:
    """Every step the book plans when nothing is found (each answered empty)."""
    out = []
    while (step := book.next_step()) is not None:
        out.append(step)
        if step.kind == "discover":
            book.discovered(step, [])
        elif step.kind == "coarse":
            book.found_coarse(step, {})
        else:
            book.found_exact(step, {})
        assert len(out) < 10_000
    return out


def test_live_hosts_are_remembered_and_a_newly_down_one_gets_one_exact_step() -> None:
    book = LastSeenBook(DAY)
    book.observe(NOW, live(("a", NOW - 5), ("b", NOW - 3)), down=())
    assert {s.kind for s in steps(book)} == {"discover"}  # first run: only discovery of the look-back
    book.observe(NOW + 15, live(("a", NOW + 10)), down=("b",), last_rows=lambda i: (up(i, NOW - 3),))
    assert book.history() == [up("b", NOW - 3)]  # remembered at once (as the last refresh showed it)
    step = book.next_step()
    assert step is not None and step.kind == "exact" and step.instances == ("b",)
    assert step.start <= NOW - 3 and step.end - step.start < 900
    book.found_exact(step, {"b": [up("b", NOW + 1)]})  # one more success after the last refresh saw it
    assert book.entries["b"].last == NOW + 1 and not book.busy
    assert book.pending() == frozenset()


def test_unknown_down_target_is_pending_then_found_window_by_window() -> None:
    book = LastSeenBook(DAY)
    book.observe(NOW, {}, down=("db",))
    assert book.pending() == {"db"}
    planned = []
    minute = 0.0
    while (step := book.next_step()) is not None:
        planned.append(step)
        assert step.end - step.start <= WINDOW and len(step.instances) <= BATCH
        if step.kind == "discover":
            book.discovered(step, [])
        elif step.kind == "coarse" and step.end <= NOW - 3 * WINDOW:
            minute = step.end - 1800  # the last minute with a success ends half an hour before the window's end
            book.found_coarse(step, {"db": minute})
        elif step.kind == "coarse":
            book.found_coarse(step, {})
        else:  # the raw samples of the ten minutes around that minute
            assert step.kind == "refine" and step.start <= minute - 60 < minute <= step.end
            book.found_exact(step, {"db": [up("db", minute - 7)]})
    coarse = [s for s in planned if s.kind == "coarse"]
    assert all(newer.start == older.end for newer, older in itertools.pairwise(coarse))  # back in time
    assert coarse[0].end >= NOW and coarse[-1].end <= NOW - 3 * WINDOW < coarse[-2].end
    assert [s.kind for s in planned[planned.index(coarse[-1]) :] if s.kind != "discover"] == ["coarse", "refine"]
    assert book.pending() == frozenset()
    assert book.entries["db"].last == minute - 7


def test_never_seen_target_gives_up_at_the_look_back_and_is_not_looked_up_again() -> None:
    book = LastSeenBook(DAY)
    book.observe(NOW, {}, down=("db",))
    planned = steps(book)
    coarse = [s for s in planned if s.kind == "coarse"]
    assert coarse and min(s.start for s in coarse) >= NOW - DAY
    assert book.entries["db"].last is None and book.pending() == frozenset()
    book.observe(NOW + 15, {}, down=("db",))
    assert book.next_step() is None  # still down, still never seen: no request


def test_discovered_gone_host_is_listed_only_once_found() -> None:
    book = LastSeenBook(DAY)
    book.observe(NOW, live(("a", NOW)), down=())
    step = book.next_step()
    assert step is not None and step.kind == "discover" and step.end >= NOW
    book.discovered(step, ["a", "old"])  # "a" is live: nothing to look up
    assert book.history() == [] and book.pending() == frozenset()
    coarse = book.next_step()
    while coarse is not None and coarse.kind == "discover":
        book.discovered(coarse, [])
        coarse = book.next_step()
    assert coarse is not None and coarse.kind == "coarse" and coarse.instances == ("old",)
    book.found_coarse(coarse, {"old": NOW - 1200})
    refine = book.next_step()
    assert refine is not None and refine.kind == "refine"
    book.found_exact(refine, {"old": [up("old", NOW - 1230, environment="x")]})
    assert book.history() == [up("old", NOW - 1230, environment="x")]


def test_a_window_answered_late_still_starts_the_search_at_the_newest_window_naming_the_host() -> None:
    """Two history requests run at once, so the older window's label values can arrive first; on a backend
    whose label index is coarser than a window (VictoriaMetrics: one day) it names the recent host too."""
    book = LastSeenBook(DAY)
    book.observe(NOW, {}, down=())
    newest, older = book.next_step(), book.next_step()
    assert newest is not None and older is not None and older.end <= newest.start
    book.discovered(older, ["h"])
    in_flight = book.next_step()  # the older window's coarse step is sent ...
    assert in_flight is not None and in_flight.kind == "coarse" and in_flight.end == older.end
    book.discovered(newest, ["h"])  # ... and the newest window names "h" while it runs
    book.found_coarse(in_flight, {"h": older.end - 3600})  # a sample in the older window: not its newest
    coarse = book.next_step()
    while coarse is not None and coarse.kind == "discover":
        book.discovered(coarse, [])
        coarse = book.next_step()
    assert coarse is not None and coarse.kind == "coarse" and coarse.instances == ("h",)
    assert coarse.end == newest.end
    book.found_coarse(coarse, {"h": NOW - 600})
    refine = book.next_step()
    assert refine is not None and refine.kind == "refine"
    book.found_exact(refine, {"h": [up("h", NOW - 610)]})
    assert book.entries["h"].last == NOW - 610


def test_batches_and_windows_are_bounded_whatever_the_fleet() -> None:
    book = LastSeenBook(DAY)
    book.observe(NOW, {}, down=[f"h{i}" for i in range(2500)])
    planned = steps(book)
    assert all(len(s.instances) <= BATCH and s.end - s.start <= WINDOW for s in planned)
    assert len([s for s in planned if s.kind == "coarse"]) == 3 * 13  # 3 batches, 12-13 windows each


def test_restart_keeps_last_seen_and_looks_up_only_what_changed_meanwhile(tmp_path: Path) -> None:
    book = LastSeenBook(DAY)
    book.observe(NOW, live(("a", NOW), ("b", NOW), ("c", NOW)), down=())
    steps(book)
    book.observe(NOW + 15, live(("a", NOW + 15), ("c", NOW + 15)), down=("b",))
    step = book.next_step()
    assert step is not None
    book.found_exact(step, {})  # nothing newer: b was last seen at NOW
    cfg = tmp_path / "config.yaml"
    cfg.write_text("")
    s = load(cfg, environ={}, overrides={"prometheus.url": "http://u:pw@prom:9090"})
    path = book_path(s, tmp_path)
    save_book(path, s["prometheus.url"], book)
    assert "pw" not in path.read_text() and "prom:9090" in path.read_text()

    again = load_book(path, "http://u:pw@prom:9090", DAY)
    assert again.entries["b"].last == NOW and not again.entries["b"].live
    # a minute later: b still down (remembered: no request), c went down while no console ran
    again.observe(NOW + 75, live(("a", NOW + 75)), down=("b",))
    assert [i for s in steps(again) for i in s.instances] == ["c"]
    assert {s.instance for s in again.history()} == {"b", "c"}


def test_state_file_that_does_not_parse_is_an_empty_book(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    for content in ("", "{", '{"version": 1, "prometheus": "http://p", "live": 3}', "[]"):
        p.write_text(content)
        assert load_book(p, "http://p", DAY).entries == {}
    assert load_book(tmp_path / "missing.json", "http://p", DAY).entries == {}


def test_clean_url() -> None:
    assert clean_url("https://user:secret@prom.example:9443/prefix") == "https://prom.example:9443/prefix"
    assert clean_url("http://[::1]:9090") == "http://[::1]:9090"


def test_a_live_host_departs_with_the_newest_time_any_refresh_saw_and_is_saved_with_it(tmp_path: Path) -> None:
    """A live host's time is kept with the refresh that saw it, not copied into its entry every refresh: so
    what it leaves with, and what the state file says of it while live, must still be the newest time."""
    book = LastSeenBook(DAY)
    book.observe(NOW, live(("a", NOW - 5), ("b", NOW - 3)), down=())
    book.observe(NOW + 15, live(("a", NOW + 10), ("b", NOW + 12)), down=())
    book.observe(NOW + 30, live(("a", NOW + 25), ("b", NOW + 27)), down=())
    assert book.to_json()["live"] == {"a": NOW + 25, "b": NOW + 27}
    book.observe(NOW + 45, live(("b", NOW + 42)), down=("a",), last_rows=lambda i: (up(i, NOW + 25),))
    assert book.entries["a"].last == NOW + 25 and not book.entries["a"].live
    assert [(s.instance, s.value) for s in book.history()] == [("a", NOW + 25)]
    step = book.next_step()
    assert step is not None and step.kind == "exact" and step.instances == ("a",) and step.start <= NOW + 25
    book.observe(NOW + 60, live(("a", NOW + 58), ("b", NOW + 57)), down=())  # a is back
    assert book.history() == [] and book.entries["a"].live and book.to_json()["live"]["a"] == NOW + 58
    cfg = tmp_path / "config.yaml"
    cfg.write_text("")
    s = load(cfg, environ={}, overrides={"prometheus.url": "http://prom:9090"})
    save_book(book_path(s, tmp_path), s["prometheus.url"], book)
    again = load_book(book_path(s, tmp_path), s["prometheus.url"], DAY)
    again.observe(NOW + 75, live(("b", NOW + 72)), down=())  # a went away while no console ran
    assert again.entries["a"].last == NOW + 58 and not again.entries["a"].live


def test_a_host_leaving_as_another_comes_is_noticed_though_as_many_are_live() -> None:
    """observe compares the live instances with the last refresh's in one go when there are as many: one host
    leaving as another comes keeps the count, and must still put the one that left away with its time and
    the one that came in the book."""
    book = LastSeenBook(DAY)
    book.observe(NOW, live(("a", NOW - 5), ("b", NOW - 3)), down=())
    book.observe(NOW + 15, live(("a", NOW + 10), ("c", NOW + 12)), down=(), last_rows=lambda i: (up(i, NOW - 3),))
    assert [(s.instance, s.value) for s in book.history()] == [("b", NOW - 3)]
    assert book.entries["c"].live and not book.entries["b"].live
    step = book.next_step()
    assert step is not None and step.kind == "exact" and step.instances == ("b",)


def test_history_is_the_same_list_while_nothing_in_it_changes() -> None:
    """The classifier keeps gone hosts' rows while the book hands over the very same history list: so the
    list must be a new one as soon as anything it is built from changes, and the same one otherwise."""
    book = LastSeenBook(86_400.0)
    book.observe(1000.0, {"a": 990.0, "b": 995.0, "c": 998.0}, [])
    book.observe(1060.0, {"a": 1050.0, "b": 1055.0}, [])  # c went away
    first = book.history()
    assert [s.instance for s in first] == ["c"]
    book.observe(1120.0, {"a": 1110.0, "b": 1115.0}, [])  # live hosts moved on; c's memory did not
    assert book.history() is first
    book.observe(1180.0, {"a": 1170.0}, [])  # b went away
    second = book.history()
    assert second is not first and sorted(str(s.instance) for s in second) == ["b", "c"]
    book.observe(1240.0, {"a": 1230.0, "c": 1235.0}, [])  # c is back
    assert [s.instance for s in book.history()] == ["b"]


def test_history_grouped_is_the_history_grouped_and_keeps_unchanged_lists() -> None:
    """The reader hands the classifier the book's own grouping, so it must equal what the classifier would
    make of the list (up samples first, values > 0 only), keep an unchanged instance's list as the same
    object when others change, and give up (None) when a sample names another instance."""
    from fleetui.domain.reclassify import by_instance

    book = LastSeenBook(1000.0)
    book.observe(1000.0, {"a": 990.0, "c": 998.0, "d": 999.0}, [])
    rows = {
        "b": (up("b", 1055.0, env="x"), Sample({"instance": "b", "nodename": "nb"}, 1055.0, "uname")),
        "c": (Sample({"instance": "c"}, 0.0, "up"),),  # a `time() * up` rule's 0: not a time
        "d": (Sample({"instance": "d"}, 999.0, "uname"), up("d", 999.0)),  # uname first: grouped up first
    }
    book.observe(1060.0, {"a": 1050.0, "b": 1055.0}, [], last_rows=lambda i: rows[i])  # c and d went away
    book.observe(1120.0, {"a": 1110.0}, [], last_rows=lambda i: rows[i])  # then b
    steps(book)  # their look-ups answered (found nothing newer)
    history, grouped = book.history_grouped()
    assert grouped == by_instance(history, positive=True)
    assert grouped is not None and [s.branch for s in grouped["d"]] == ["up", "uname"]
    assert [s.value for s in grouped["c"]] == [998.0]  # its remembered time, not the rule's 0
    kept = grouped["b"]
    book.observe(2050.0, {"a": 2040.0}, [])  # c and d leave the look-back window (a few every refresh)
    history, again = book.history_grouped()
    assert again is not None and again.keys() == {"b"} and again["b"] is kept
    assert again == by_instance(history, positive=True)
    book.observe(2060.0, {}, [], last_rows=lambda i: (up("elsewhere", 2040.0),))  # a went away, named otherwise
    assert book.history_grouped()[1] is None


def _history_from_scratch(book: LastSeenBook) -> dict[str, list[tuple[str, float, str]]]:
    """What history() must hold, per instance, worked out from the entries as they are now (the book keeps
    its answer from one refresh to the next and looks again only at the entries it recorded as changed)."""
    out: dict[str, list[tuple[str, float, str]]] = {}
    for inst, e in book.entries.items():
        if e.live or e.last is None:
            continue
        mine = [(str(s.instance), s.value, s.branch) for s in e.samples if s.branch == "up"]
        mine += [(str(s.instance), s.value, s.branch) for s in e.samples if s.branch != "up"]
        if not e.samples or max(s.value for s in e.samples) < e.last:
            mine.append((inst, e.last, "history"))
        out[inst] = mine
    return out


def test_history_follows_every_change_to_the_entries_over_random_refreshes() -> None:
    """300 random refreshes and history answers (hosts going away, coming back, going down, found in history,
    leaving the look-back window, a book saved and read back): after each, what left the window is forgotten,
    history() and its grouping hold exactly what the entries say, and an instance's group is the same list
    while its entry is unchanged."""
    import random

    from fleetui.domain.reclassify import by_instance

    rng = random.Random(17)
    names = [f"h{i:02d}" for i in range(40)]
    book = LastSeenBook(3600.0)
    now = NOW
    groups_before: dict[str, list[Sample]] = {}
    entries_before: dict[str, tuple[float | None, object]] = {}
    for step_no in range(300):
        now += 15.0 if rng.random() < 0.9 else 900.0  # now and then a long gap: entries leave the window
        current = {i: now - rng.uniform(0, 10) for i in names if rng.random() < 0.6}
        down = [i for i in names if i not in current and rng.random() < 0.1]
        down += [f"never{k}" for k in range(5) if rng.random() < 0.3]  # failing targets never seen up

        def rows(inst: str, now: float = now) -> tuple[Sample, ...]:
            kind = rng.random()
            if kind < 0.1:
                return ()
            if kind < 0.15:
                return (up("other", now - 20.0),)  # a sample that names another instance
            return (up(inst, now - 20.0), Sample({"instance": inst, "nodename": inst}, now - 20.0, "uname"))

        book.observe(now, current, down, rows)
        # forgotten: every entry not live whose time left the window (or that has none), unless it is still
        # looked up or down
        horizon = now - book.lookback
        left_over = [
            i
            for i, e in book.entries.items()
            if not e.live and (e.last is None or e.last < horizon) and i not in book.lookups and i not in down
        ]
        assert not left_over, step_no
        while rng.random() < 0.5 and (step := book.next_step()) is not None:
            if step.kind == "discover":
                book.discovered(step, [rng.choice(names)])
            elif step.kind == "coarse":
                book.found_coarse(step, {i: now - 600.0 for i in step.instances if rng.random() < 0.5})
            else:
                found = {i: [up(i, now - rng.uniform(30, 500))] for i in step.instances if rng.random() < 0.7}
                book.found_exact(step, found)
        if rng.random() < 0.1:
            steps(book)  # every look-up left answered with nothing: never-seen hosts keep no time
        if step_no % 50 == 49:  # a restart: the book read back from what it saved
            book = LastSeenBook.from_json(book.to_json(), book.lookback)
            groups_before, entries_before = {}, {}
        history, grouped = book.history_grouped()
        expected = _history_from_scratch(book)
        got: dict[str, list[tuple[str, float, str]]] = {}
        for inst, e in book.entries.items():
            if not e.live and e.last is not None:
                got[inst] = []
        owner = {id(s): inst for inst, e in book.entries.items() for s in e.samples}
        for s in history:
            inst = owner.get(id(s), str(s.instance))
            got.setdefault(inst, []).append((str(s.instance), s.value, s.branch))
        assert {i: sorted(v) for i, v in got.items()} == {i: sorted(v) for i, v in expected.items()}, step_no
        assert book.history() == list(history)
        if grouped is None:  # only while some remembered sample names another instance
            assert any(name != inst for inst, v in expected.items() for name, _, _ in v), step_no
            continue
        assert grouped == by_instance(list(history), positive=True), step_no
        for inst, group in grouped.items():
            e = book.entries[inst]
            if entries_before.get(inst) == (e.last, e.samples) and inst in groups_before:
                assert group is groups_before[inst], (step_no, inst)
        groups_before = dict(grouped)
        entries_before = {i: (e.last, e.samples) for i, e in book.entries.items() if not e.live}


def test_a_grouping_and_history_handed_out_stay_as_they_were_when_the_book_changes() -> None:
    """The classifier keeps the last grouping it was handed and tells a changed history by a new object, and a
    History is flattened only when first read: the book must never change either once handed out."""
    book = LastSeenBook(86_400.0)
    book.observe(1000.0, {"a": 990.0, "b": 995.0, "c": 998.0}, [])
    book.observe(1060.0, {"a": 1050.0, "b": 1055.0}, [])  # c went away
    history, grouped = book.history_grouped()
    assert grouped is not None
    as_handed = dict(grouped)
    book.observe(1120.0, {"a": 1110.0}, [])  # then b
    later_history, later = book.history_grouped()
    assert later is not grouped and later is not None and later.keys() == {"b", "c"}
    assert grouped == as_handed  # the grouping handed out before is untouched
    assert [s.instance for s in history] == ["c"]  # read only now: what it was when handed out
    assert sorted(str(s.instance) for s in later_history) == ["b", "c"]
