"""participant._time: timestamp formatting/parsing and the trio-driven wall clock."""

from __future__ import annotations

import time

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from participant._time import format_timestamp, parse_timestamp, system_clock, trio_clock


def test_format_known_instant() -> None:
    # 2019-11-08T02:41:28Z is 1573180888 seconds after the epoch (computed by the stdlib).
    epoch = time.mktime((2019, 11, 8, 2, 41, 28, 0, 0, 0)) - time.timezone
    assert format_timestamp(epoch + 0.172) == "2019-11-08T02:41:28.172Z"
    assert format_timestamp(epoch) == "2019-11-08T02:41:28.000Z"


@pytest.mark.parametrize(
    "text",
    [
        "2019-11-08T02:41:28.172Z",
        "2019-11-08T02:41:28.172+00:00",
        "2019-11-08T04:41:28.172+02:00",
        "2019-11-08T02:41:28.172000Z",
        "2019-11-08T02:41:28.1720000001Z",
        "2019-11-08T02:41:28.172",
    ],
)
def test_parse_variants_agree(text: str) -> None:
    assert parse_timestamp(text) == pytest.approx(parse_timestamp("2019-11-08T02:41:28.172Z"))


def test_parse_without_millis() -> None:
    assert parse_timestamp("2019-11-08T02:41:28Z") + 0.172 == pytest.approx(
        parse_timestamp("2019-11-08T02:41:28.172Z")
    )


@pytest.mark.parametrize("bad", ["", "yesterday", "2019-13-45T00:00:00Z", "Z"])
def test_parse_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(bad)


@settings(max_examples=100)
@given(st.integers(min_value=0, max_value=4_102_444_800_000))
def test_roundtrip_millis(millis: int) -> None:
    text = format_timestamp(millis / 1000)
    assert len(text) == 24 and text.endswith("Z")
    assert round(parse_timestamp(text) * 1000) == millis
    assert format_timestamp(parse_timestamp(text)) == text


@settings(max_examples=50)
@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False))
def test_format_is_within_half_a_millisecond(epoch: float) -> None:
    assert abs(parse_timestamp(format_timestamp(epoch)) - epoch) <= 0.0005 + 1e-6


def test_system_clock_is_time_time() -> None:
    before = time.time()
    now = system_clock()
    assert before <= now <= time.time()


async def test_trio_clock_follows_mock_clock(autojump_clock: trio.testing.MockClock) -> None:
    clock = trio_clock(epoch=1000.0)
    start = clock()
    assert start == pytest.approx(1000.0 + trio.current_time())
    autojump_clock.jump(3600)
    assert clock() - start == pytest.approx(3600)


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)
