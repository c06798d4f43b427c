"""The one backoff rule of the library: exponential, capped, "equal jitter".

Used by :class:`participant.api.RetryPolicy` (retries of one REST call) and by the actor
(reconnects). Private module: the public knobs are ``RetryPolicy`` and
``ParticipantConfig.backoff_*``.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["RandomSource", "backoff_delay"]


class RandomSource(Protocol):
    """Anything with ``random() -> float`` in [0, 1), e.g. a ``random.Random``."""

    def random(self) -> float: ...


def backoff_delay(
    attempt: int, *, initial: float, multiplier: float, maximum: float, rng: RandomSource
) -> float:
    """The delay (seconds) before retry ``attempt`` (0-based: 0 is the first retry).

    ``d = min(maximum, initial * multiplier ** attempt)``; the delay is drawn uniformly
    from ``[d/2, d]`` ("equal jitter": spread out, never much shorter than planned).
    ``rng.random()`` gives the draw, so a seeded ``random.Random`` reproduces delays
    (the same numbers as ``d/2 + rng.uniform(0, d/2)``).
    """
    try:
        base = min(maximum, initial * multiplier ** min(max(attempt, 0), 64))
    except OverflowError:  # a huge multiplier: the cap applies
        base = maximum
    return base / 2 + rng.random() * (base / 2)
