"""The macOS memory-name fix as a text edit: the relabel block enrollment deploys, put before remote_write, and
the forward_to lines pointed at it; nothing else changes."""

from __future__ import annotations

import difflib

import pytest

from fleetui.alloy.syntax import check
from fleetui.deploy.render import RenderInput, render_host
from fleetui.domain.alloy_fix import fix_alloy_config
from fleetui.domain.alloy_macos import COMPAT_LABEL, add_macos_relabel, compat_block
from fleetui.domain.fixes import FixError
from fleetui.domain.fleet import Mode
from fleetui.domain.host import OsFamily

HAND_WRITTEN = """// Written by hand: scrape node_exporter and push to the platform.
prometheus.scrape "node_exporter" {
  targets = [{
    __address__ = "10.0.0.7:9100",
    instance    = "mac-01",
    job         = "node_exporter",
  }]
  forward_to = [prometheus.remote_write.platform.receiver]
}

// the platform's Prometheus
prometheus.remote_write "platform" {
  endpoint {
    url = "http://prom:9090/api/v1/write"
  }
}
"""


def _changed(old: str, new: str) -> list[str]:
    return [
        ln
        for ln in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
        if ln[:1] in "+-" and not ln.startswith(("+++", "---"))
    ]


def test_block_inserted_before_remote_write_and_forward_to_rewired() -> None:
    new = add_macos_relabel(HAND_WRITTEN)
    assert check(new, "config.alloy") == []
    block = compat_block(["prometheus.remote_write.platform.receiver"], "  ")
    expected = HAND_WRITTEN.replace(
        "forward_to = [prometheus.remote_write.platform.receiver]",
        f"forward_to = [prometheus.relabel.{COMPAT_LABEL}.receiver]",
    )
    assert new == expected + "\n" + block  # after the remote_write block, in the config's own indentation
    assert '  rule {\n    source_labels = ["__name__"]' in new
    # the diff: the forward_to line replaced, the rest added lines only
    changed = _changed(HAND_WRITTEN, new)
    assert changed[:2] == [
        "-  forward_to = [prometheus.remote_write.platform.receiver]",
        f"+  forward_to = [prometheus.relabel.{COMPAT_LABEL}.receiver]",
    ]
    assert changed[2:] == ["+", *("+" + ln for ln in block.splitlines())]
    with pytest.raises(FixError, match="already has a rule"):
        add_macos_relabel(new)  # fixed once: a second run finds the rules and changes nothing


def test_same_block_as_enrollment_deploys_on_macos() -> None:
    """The inserted component is byte for byte the one `fleetui enroll` renders for a macOS push host (tabs)."""

    def render(family: OsFamily) -> str:
        url = "http://prom:9090/api/v1/write"
        return render_host(RenderInput("mac-01", "mac-01", family, Mode.PUSH, 12345, url)).config

    darwin, linux = render(OsFamily.DARWIN), render(OsFamily.DEBIAN)
    assert compat_block(["prometheus.remote_write.default.receiver"]) in darwin
    fixed = add_macos_relabel(linux)
    assert compat_block(["prometheus.remote_write.default.receiver"]) in fixed
    assert "forward_to      = [prometheus.relabel.node_exporter_compat.receiver]" in fixed


def test_several_feeders_and_remote_writes() -> None:
    text = (
        'prometheus.scrape "a" {\n  targets = []\n  forward_to = [\n    prometheus.remote_write.one.receiver,\n'
        "    prometheus.remote_write.two.receiver,\n  ]\n}\n"
        'prometheus.scrape "b" {\n  targets = []\n'
        "  forward_to = [prometheus.remote_write.one.receiver, prometheus.remote_write.two.receiver]\n}\n"
        'prometheus.remote_write "one" {\n  endpoint {\n    url = "http://a/api/v1/write"\n  }\n}\n'
        'prometheus.remote_write "two" {\n  endpoint {\n    url = "http://b/api/v1/write"\n  }\n}\n'
    )
    new = add_macos_relabel(text)
    assert check(new, "config.alloy") == []
    assert new.count(f"forward_to = [prometheus.relabel.{COMPAT_LABEL}.receiver]") == 2
    assert "forward_to = [prometheus.remote_write.one.receiver, prometheus.remote_write.two.receiver]\n\n  rule" in new


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('prometheus.scrape "a" {\n  targets = []\n  forward_to = []\n}\n', "no forward_to names"),
        (
            'prometheus.scrape "a" {\n  targets = []\n  forward_to = [prometheus.remote_write.one.receiver]\n}\n'
            'prometheus.scrape "b" {\n  targets = []\n  forward_to = [prometheus.remote_write.two.receiver]\n}\n',
            "different remote_writes",
        ),
        (
            'prometheus.scrape "a" {\n  targets = []\n  forward_to = [prometheus.remote_write.gone.receiver]\n}\n',
            "no prometheus.remote_write block",
        ),
    ],
)
def test_pipelines_it_cannot_rewire_are_refused(text: str, match: str) -> None:
    with pytest.raises(FixError, match=match):
        add_macos_relabel(text)


def test_with_the_other_push_fixes_in_one_edit() -> None:
    broken = HAND_WRITTEN.replace('    job         = "node_exporter",\n', "").replace('"mac-01"', '"macbook"')
    new = fix_alloy_config(broken, instance="macbook", nodename="mac-01", fix_jobs=True, macos=True)
    assert check(new, "config.alloy") == []
    assert _changed(HAND_WRITTEN, new) == _changed(HAND_WRITTEN, add_macos_relabel(HAND_WRITTEN))
