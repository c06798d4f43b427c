"""participant.model.parse_absolute_time / format_absolute_time: the public AbsoluteTime
<-> epoch seconds pair (docs/reference.md, "Clocks and timestamps")."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from participant.model import format_absolute_time, parse_absolute_time, parse_item


def test_an_items_absolute_time_as_epoch_seconds_and_datetime() -> None:
    item = parse_item({"Id": "m", "Type": "MESSAGE", "AbsoluteTime": "2026-12-01T10:00:00.250Z"})
    assert item.absolute_time is not None
    seconds = parse_absolute_time(item.absolute_time)
    assert seconds == 1796119200.25
    assert datetime.fromtimestamp(seconds, UTC) == datetime(2026, 12, 1, 10, 0, 0, 250000, UTC)
    assert parse_absolute_time("2026-12-01T11:00:00.250+01:00") == seconds


@pytest.mark.parametrize("bad", ["", "yesterday", "2026-13-01T00:00:00Z", 5, None])
def test_a_bad_absolute_time_names_the_field(bad: object) -> None:
    with pytest.raises(ValueError, match=r"^AbsoluteTime: "):
        parse_absolute_time(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 1e20, -1e12, "1", True])
def test_format_rejects_what_is_no_time(bad: object) -> None:
    with pytest.raises(ValueError, match=r"^AbsoluteTime: epoch seconds"):
        format_absolute_time(bad)  # type: ignore[arg-type]


@given(st.integers(0, 253402300799999))
def test_format_then_parse_round_trips_milliseconds(millis: int) -> None:
    text = format_absolute_time(millis / 1000)
    assert len(text) == 24 and text.endswith("Z")
    assert round(parse_absolute_time(text) * 1000) == millis
