"""Wall clocks and the service's ISO-8601 timestamps.

The Participant Service writes timestamps as ISO-8601 UTC with milliseconds,
``2019-11-08T02:41:28.172Z`` ([protocol](protocol.md#rest-api)). Times inside the library are epoch
seconds (``float``); a :data:`WallClock` returns the current one.

Under ``trio.testing.MockClock`` both the emulator and the client use
:func:`trio_clock`, so simulated time drives token expiries and URL windows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["WallClock", "format_timestamp", "parse_timestamp", "system_clock", "trio_clock"]

WallClock = Callable[[], float]
"""A function returning the current time as epoch seconds (``float``)."""


def system_clock() -> float:
    """Return the real wall-clock time in epoch seconds (``time.time()``)."""
    return time.time()


def trio_clock(epoch: float = 1_700_000_000.0) -> WallClock:
    """Return a wall clock that follows trio's clock: ``epoch + trio.current_time()``.

    Must be called from inside ``trio.run`` (it reads the current run's clock). Under
    ``MockClock`` the wall time advances only as trio's virtual time does.
    """

    import trio  # here, not at the top: the sans-IO core imports this module without trio

    current_time = trio.current_time

    def clock() -> float:
        return epoch + current_time()

    return clock


def format_timestamp(epoch: float) -> str:
    """Format epoch seconds as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC, milliseconds).

    The time is rounded to the nearest millisecond.
    """
    millis = round(epoch * 1000)
    seconds, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


def parse_timestamp(text: str) -> float:
    """Parse an ISO-8601 timestamp into epoch seconds.

    Accepts fractional seconds of any precision or none, and a ``Z`` or a numeric UTC
    offset (``+00:00``); a timestamp without an offset is taken as UTC.

    Raises:
        ValueError: ``text`` is not an ISO-8601 date-time.
    """
    if not isinstance(text, str):
        raise ValueError(f"timestamp must be a string, got {type(text).__name__}")
    value = text.strip()
    if value[-1:] in ("z", "Z"):
        value = value[:-1] + "+00:00"
    # datetime.fromisoformat takes at most 6 fractional digits; trim longer fractions.
    dot = value.find(".")
    if dot != -1:
        end = dot + 1
        while end < len(value) and value[end].isdigit():
            end += 1
        if end - dot - 1 > 6:
            value = value[: dot + 7] + value[end:]
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO-8601 timestamp: {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
