"""The host-key dialog says which host the key is for in the operator's words: the name dialled through (an ssh
config alias, the host's name) beside the address, and a jump host as the jump host of the host asked for.
The lab tests (test_lab_logs, test_operations_lab) answer the dialog on real sshd keys."""

from __future__ import annotations

from pathlib import Path

from console import screen_lines
from fleet_fixture import make_app
from textual.app import App
from textual.widgets import Static

from fleetui.adapters.keyscan import ScannedKey
from fleetui.adapters.ssh import HostKeyInfo
from fleetui.tui.widgets.batch_table import KeyReviewDialog
from fleetui.tui.widgets.host_key_dialog import HostKeyDialog

KEY = ("ssh-ed25519", "SHA256:3nwx5aDw2mRIBvFVc8y7fhmncYAj0wL0KO6gFnVXEpI")


async def _shown(info: HostKeyInfo) -> str:
    app: App[None] = App()
    async with app.run_test() as pilot:
        app.push_screen(HostKeyDialog(info))
        await pilot.pause()
        return str(app.screen.query_one("#hostkey-text", Static).render())


async def test_every_word_of_the_question_is_on_screen_at_80_columns() -> None:
    """At 80×24 the dialog's text wraps inside its box: the last sentence (a changed key is refused later)
    was cut at the box's edge, so the operator read "a later change of thi" and never the consequence."""
    info = HostKeyInfo("127.0.0.11", 2222, *KEY, name="web-01")
    app = make_app()  # the console's own stylesheet lays the dialog out
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        app.push_screen(HostKeyDialog(info))
        await pilot.pause()
        box = app.screen.query_one("#hostkey-box").region
        inside = [line[box.x + 1 : box.right - 1] for line in screen_lines(app)[box.y + 1 : box.bottom - 1]]
        shown = " ".join(" ".join(line.split()) for line in inside)
    for words in (
        "The host key of web-01 (127.0.0.11:2222) is not known to fleetui.",
        KEY[1],
        "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub",
        "Trusting writes it to fleetui's known_hosts; a later change of this key is refused.",
        "Refuse (n)",
        "Trust (t)",
    ):
        assert words in shown, words


async def test_the_dialog_names_the_host_beside_its_address() -> None:
    shown = await _shown(HostKeyInfo("127.0.0.14", 2222, *KEY, name="raspberry-4b"))
    assert "The host key of raspberry-4b (127.0.0.14:2222) is not known" in shown
    assert KEY[1] in shown and "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" in shown


async def test_the_file_to_compare_with_is_the_keys_own_type() -> None:
    for key_type, kind in [
        ("ecdsa-sha2-nistp256", "ecdsa"),
        ("rsa-sha2-512", "rsa"),
        ("ssh-rsa", "rsa"),
        ("x-new", "*"),
    ]:
        shown = await _shown(HostKeyInfo("192.0.2.7", 22, key_type, KEY[1]))
        assert f"ssh-keygen -lf /etc/ssh/ssh_host_{kind}_key.pub" in shown, key_type


async def test_a_jump_host_is_named_as_one() -> None:
    shown = await _shown(HostKeyInfo("10.0.0.1", 22, *KEY, name="bastion", jump_for="db-01"))
    assert "jump host bastion (10.0.0.1:22) on the way to db-01" in shown


async def test_an_address_dialled_as_typed_is_shown_once() -> None:
    shown = await _shown(HostKeyInfo("192.0.2.7", 22, *KEY, name="192.0.2.7"))
    assert "The host key of 192.0.2.7:22 is not known" in shown


async def test_the_batch_review_names_the_key_files_of_the_types_listed() -> None:
    """One type among the keys: its file; several: each type's file, so an ECDSA host is not compared with an
    ed25519 key file."""

    async def head(*types: str) -> str:
        unknown = [
            ScannedKey(f"h{i}", "unknown", HostKeyInfo(f"192.0.2.{i}", 22, t, KEY[1])) for i, t in enumerate(types)
        ]
        app: App[None] = App()
        async with app.run_test() as pilot:
            app.push_screen(KeyReviewDialog(unknown, []))
            await pilot.pause()
            return str(app.screen.query_one("#keyreview-head", Static).render())

    assert "(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)" in await head("ssh-ed25519", "ssh-ed25519")
    mixed = await head("ssh-ed25519", "ecdsa-sha2-nistp384")
    assert (
        "ssh-keygen -lf the file of its key type: /etc/ssh/ssh_host_ecdsa_key.pub, /etc/ssh/ssh_host_ed25519_key.pub"
        in mixed
    )


async def test_questions_queued_for_one_key_are_answered_by_the_first(tmp_path: Path) -> None:
    """Two runs meet the same unknown key at once (the doctor and the log pane on one host): one dialog, and the
    trust given there answers both. A third question, about another key, gets a dialog of its own after it.
    (The lab test of two hosts' keys asked in turn is in test_lab_logs.)"""
    import asyncio

    from fleetui.config import load
    from fleetui.tui.operations import Operations

    app: App[None] = App()
    async with app.run_test() as pilot:
        (tmp_path / "config.yaml").write_text("")
        ops = Operations(load(tmp_path / "config.yaml", environ={}))
        ops.attach(app)
        same = HostKeyInfo("127.0.0.12", 2222, *KEY, name="web-02")
        other = HostKeyInfo("127.0.0.11", 2222, KEY[0], "SHA256:" + "A" * 43, name="web-01")
        asked = [asyncio.ensure_future(ops.ask_host_key(i)) for i in (same, same, other)]
        await pilot.pause()
        assert [s.info for s in app.screen_stack if isinstance(s, HostKeyDialog)] == [same]
        await pilot.press("t")
        await pilot.pause()
        assert asked[0].done() and asked[1].done() and asked[0].result() and asked[1].result()
        assert [s.info for s in app.screen_stack if isinstance(s, HostKeyDialog)] == [other]
        await pilot.press("n")
        await pilot.pause()
        assert asked[2].done() and asked[2].result() is False
