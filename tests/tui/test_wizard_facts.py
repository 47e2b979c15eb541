"""What the enrollment wizard's connect step says it found: the Host line names the host as the operator asked
for it and the way it is reached, each once."""

from __future__ import annotations

from fleetui.tui.screens.wizard.connect import facts_text, host_line


def test_the_host_line_names_an_alias_once() -> None:
    """An ssh-config alias's route already begins with it: found on a first enrollment as
    "new-01  (new-01 (root@127.0.0.16:2222))"."""
    assert host_line("new-01", "new-01 (root@127.0.0.16:2222)") == "new-01 (root@127.0.0.16:2222)"
    assert host_line("10.0.0.9", "root@10.0.0.9:22") == "10.0.0.9  (root@10.0.0.9:22)"
    assert host_line("10.0.0.9", "") == "10.0.0.9  (direct)"
    # an alias that is only the start of another name is not taken for it
    assert host_line("web", "web-01 (root@10.0.0.5:22)") == "web  (web-01 (root@10.0.0.5:22))"


def test_facts_show_the_host_line() -> None:
    text = facts_text({"address": "new-01", "route": "new-01 (root@127.0.0.16:2222)", "nodename": "new-01"})
    assert text.plain.splitlines()[0] == "Host         new-01 (root@127.0.0.16:2222)"
