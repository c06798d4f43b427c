"""Small wire helpers of the emulator: timestamps, ids, secrets (no client logic)."""

from __future__ import annotations

import secrets
import uuid

from participant._time import WallClock, format_timestamp, parse_timestamp, system_clock

__all__ = [
    "WallClock",
    "format_timestamp",
    "new_id",
    "new_secret",
    "parse_timestamp",
    "system_clock",
]


def new_id() -> str:
    """A UUID string, as the service uses for contact, participant and item ids."""
    return str(uuid.uuid4())


def new_secret(nbytes: int = 48) -> str:
    """An opaque token (URL-safe)."""
    return secrets.token_urlsafe(nbytes)
