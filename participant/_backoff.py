"""The library's backoff rules: exponential and capped, with two kinds of jitter.

- :func:`backoff_delay`, "equal jitter" (``[d/2, d]``): the actor's reconnects and gap
  fills (``ParticipantConfig.backoff_*``).
- :func:`full_jitter_delay`, "full jitter" (``[0, d]``), as the AWS SDKs' standard retry
  mode: the retries of one REST call (:class:`participant.api.RetryPolicy`).

Private module: the public knobs are ``RetryPolicy`` and ``ParticipantConfig.backoff_*``.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["RandomSource", "backoff_cap", "backoff_delay", "full_jitter_delay"]


class RandomSource(Protocol):
    """Anything with ``random() -> float`` in [0, 1), e.g. a ``random.Random``."""

    def random(self) -> float: ...


def backoff_cap(attempt: int, *, initial: float, multiplier: float, maximum: float) -> float:
    """``d = min(maximum, initial * multiplier ** attempt)`` (seconds) for retry ``attempt``
    (0-based: 0 is the first retry); a negative attempt counts as 0."""
    try:
        return float(min(maximum, initial * multiplier ** min(max(attempt, 0), 64)))
    except OverflowError:  # a huge multiplier: the cap applies
        return float(maximum)


def backoff_delay(
    attempt: int, *, initial: float, multiplier: float, maximum: float, rng: RandomSource
) -> float:
    """The delay (seconds) before retry ``attempt`` (0-based: 0 is the first retry).

    ``d = min(maximum, initial * multiplier ** attempt)``; the delay is drawn uniformly
    from ``[d/2, d]`` ("equal jitter": spread out, never much shorter than planned).
    ``rng.random()`` gives the draw, so a seeded ``random.Random`` reproduces delays
    (the same numbers as ``d/2 + rng.uniform(0, d/2)``).
    """
    base = backoff_cap(attempt, initial=initial, multiplier=multiplier, maximum=maximum)
    return base / 2 + rng.random() * (base / 2)


def full_jitter_delay(
    attempt: int, *, initial: float, multiplier: float, maximum: float, rng: RandomSource
) -> float:
    """The delay (seconds) before retry ``attempt`` (0-based): ``rng.random() * d`` with
    ``d`` as in :func:`backoff_delay` ("full jitter", uniform in ``[0, d)``: the AWS SDKs'
    standard retry mode, which spreads a crowd of callers retrying at once the widest)."""
    return rng.random() * backoff_cap(
        attempt, initial=initial, multiplier=multiplier, maximum=maximum
    )
