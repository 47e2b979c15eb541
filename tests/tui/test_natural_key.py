"""The table's natural order of instances: numbers compare as numbers, every text keeps a place of its own."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fleetui.tui.fmt import natural_key


def test_numbers_compare_as_numbers_and_equal_readings_stay_apart() -> None:
    texts = ["web-10", "web-2", "10.0.0.10", "10.0.0.9", "web-01", "Web-1", "web-1", "db", "", "web-", "web-0"]
    assert sorted(texts, key=natural_key) == [
        "",
        "10.0.0.9",
        "10.0.0.10",
        "db",
        "web-",
        "web-0",
        "Web-1",
        "web-01",
        "web-1",
        "web-2",
        "web-10",
    ]


@given(st.text(alphabet="ab0123456789.-:", max_size=12), st.text(alphabet="ab0123456789.-:", max_size=12))
def test_two_texts_have_one_key_each(a: str, b: str) -> None:
    """The table bisects by this key: two different texts never share one."""
    assert (natural_key(a) == natural_key(b)) == (a == b)


@given(st.text(alphabet="ab-.", max_size=6), st.integers(0, 10**30), st.integers(0, 10**30), st.text(max_size=4))
def test_a_number_orders_by_its_value(prefix: str, m: int, n: int, suffix: str) -> None:
    if m != n:
        assert (natural_key(f"{prefix}{m}{suffix}") < natural_key(f"{prefix}{n}{suffix}")) == (m < n)
