"""Wall clocks and the service's ISO-8601 timestamps.

The Participant Service writes timestamps as ISO-8601 UTC with milliseconds,
``2019-11-08T02:41:28.172Z`` ([protocol](protocol.md#rest-api)). Times inside the library are epoch
seconds (``float``); a :data:`WallClock` returns the current one.

:func:`parse_absolute_time` and :func:`format_absolute_time` are the public pair (also
importable from :mod:`participant.model`) for an item's ``absolute_time`` and a
``StartPosition``'s AbsoluteTime.

Under ``trio.testing.MockClock`` both the emulator and the client use
:func:`trio_clock`, so simulated time drives token expiries and URL windows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = [
    "WallClock",
    "format_absolute_time",
    "format_timestamp",
    "parse_absolute_time",
    "parse_timestamp",
    "system_clock",
    "trio_clock",
]

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


def parse_absolute_time(absolute_time: str) -> float:
    """An AbsoluteTime (``Item.absolute_time``, ``Cursor.acked_time``, ...) as epoch
    seconds (``float``, UTC; milliseconds in the fraction).

    The service writes ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (GetTranscript's ``Item.AbsoluteTime``,
    [protocol](protocol.md#rest-api)); any ISO-8601 date-time is accepted (any number of
    fractional digits, ``Z`` or a numeric offset; none means UTC). For a
    :class:`datetime.datetime`: ``datetime.fromtimestamp(seconds, UTC)``.

    Raises:
        ValueError: ``absolute_time`` is not a string or not an ISO-8601 date-time (the
            message starts with ``AbsoluteTime:``).
    """
    try:
        return parse_timestamp(absolute_time)
    except ValueError as exc:
        raise ValueError(f"AbsoluteTime: {exc}") from None


def format_absolute_time(epoch_seconds: float) -> str:
    """Epoch seconds as the service's AbsoluteTime, ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC,
    rounded to the millisecond): e.g. for ``StartPosition.absolute_time`` of
    GetTranscript. Canonical strings order like the times they denote.

    Raises:
        ValueError: ``epoch_seconds`` is not a finite number, or its year is outside
            1..9999 (the message starts with ``AbsoluteTime:``).
    """
    if isinstance(epoch_seconds, bool) or not isinstance(epoch_seconds, int | float):
        raise ValueError(
            f"AbsoluteTime: epoch seconds must be a number, got {type(epoch_seconds).__name__}"
        )
    try:
        text = format_timestamp(epoch_seconds)
    except (ValueError, OverflowError, OSError):
        text = ""
    if len(text) != 24:  # NaN, infinities; years time.strftime writes out of 4 digits
        raise ValueError(
            f"AbsoluteTime: epoch seconds out of range (years 1..9999), got {epoch_seconds!r}"
        )
    return text
