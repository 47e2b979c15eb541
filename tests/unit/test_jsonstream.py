"""ArrayStream: the elements of a reply taken while it comes in are the whole reply's, whatever the text in its
labels and wherever the chunks end; a reply laid out otherwise is left whole to the usual decoding.

Pure functions of bytes: the replies are built here with Prometheus' layout (compact JSON, `metric` first);
tests/lab/test_status_lab.py feeds the lab Prometheus' own replies through the same stream."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fleetui.adapters.jsonstream import ArrayStream
from tests.hostile import LABEL_VALUES

# text that looks like the stream's cuts and openings, and what JSON escapes
_TRICKS = ['},{"metric":', '"result":[', ',{"metric":{', '\\"', "\\", '"', "]}]", "\u2028", "\x00"]
_LABEL_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(_TRICKS + [h.text for h in LABEL_VALUES]),
    st.lists(st.sampled_from(_TRICKS), max_size=4).map("".join),
)


def reply(elements: list[dict[str, Any]], *, ascii_only: bool = True, spaced: bool = False) -> bytes:
    separators = (", ", ": ") if spaced else (",", ":")
    envelope = {"status": "success", "data": {"resultType": "vector", "result": elements}}
    return json.dumps(envelope, ensure_ascii=ascii_only, separators=separators).encode()


def fed(body: bytes, ends: list[int], stream: ArrayStream) -> list[bytes]:
    """`body` fed in chunks ending at `ends` (then the rest); the runs the stream gave."""
    runs, start = [], 0
    for end in [*sorted({e % (len(body) + 1) for e in ends}), len(body)]:
        if end > start:
            run = stream.feed(body[start:end])
            if run:
                runs.append(run)
            start = end
    return runs


@settings(max_examples=300, deadline=None)
@given(
    metrics=st.lists(st.dictionaries(_LABEL_TEXT, _LABEL_TEXT, max_size=3), max_size=12),
    ends=st.lists(st.integers(min_value=0, max_value=5000), max_size=30),
    ascii_only=st.booleans(),
)
def test_the_elements_taken_as_they_come_are_the_replys(
    metrics: list[dict[str, str]], ends: list[int], ascii_only: bool
) -> None:
    elements = [{"metric": m, "value": [1.5, str(i)]} for i, m in enumerate(metrics)]
    body = reply(elements, ascii_only=ascii_only)
    stream = ArrayStream(b'"result":[', b"metric")
    runs = fed(body, ends, stream)
    tail = stream.tail()
    assert not stream.broken and tail is not None
    whole_runs = [e for run in runs for e in json.loads(b"[" + run + b"]")]
    one_by_one = [json.loads(text) for run in runs for text in stream.elements(run)]
    last = json.loads(tail)
    assert whole_runs == one_by_one
    assert whole_runs + last["data"]["result"] == elements
    assert last["status"] == "success" and len(last["data"]["result"]) == (1 if elements else 0)
    assert stream.body() == body


def test_a_reply_laid_out_otherwise_is_left_whole() -> None:
    elements = [{"metric": {"instance": f"h{i}"}, "value": [1, "1"]} for i in range(500)]
    body = reply(elements, spaced=True)  # `"result": [`: the array's opening is not found
    stream = ArrayStream(b'"result":[', b"metric")
    assert fed(body, list(range(0, len(body), 7)), stream) == []
    assert stream.broken and stream.tail() is None and stream.body() == body


def test_an_element_longer_than_the_limit_leaves_the_reply_whole() -> None:
    """Bytes without a cut are kept only up to a limit (each chunk would copy them again)."""
    elements = [
        {"metric": {"instance": "big", "x": "y" * (2 << 20)}, "value": [1, "1"]},
        *[{"metric": {}, "value": [1, "1"]}] * 3,
    ]
    body = reply(elements)
    stream = ArrayStream(b'"result":[', b"metric")
    assert fed(body, list(range(0, len(body), 65536)), stream) == []
    assert stream.broken and stream.tail() is None and stream.body() == body


def test_a_reply_that_never_opens_its_array_is_left_whole() -> None:
    body = json.dumps({"status": "error", "errorType": "bad_data", "error": "x" * 10_000}).encode()
    stream = ArrayStream(b'"result":[', b"metric")
    assert fed(body, list(range(0, len(body), 100)), stream) == []
    assert stream.broken and stream.tail() is None and stream.body() == body


def test_given_up_takes_nothing_more_and_keeps_the_body() -> None:
    elements = [{"metric": {"instance": f"h{i}"}, "value": [1, "1"]} for i in range(20)]
    body = reply(elements)
    stream = ArrayStream(b'"result":[', b"metric")
    half = len(body) // 2
    assert stream.feed(body[:half])
    stream.give_up()
    assert stream.feed(body[half:]) == b"" and stream.tail() is None and stream.body() == body
