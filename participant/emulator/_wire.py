"""Small wire helpers of the emulator: timestamps, ids, secrets (no client logic)."""

from __future__ import annotations

import re
import secrets
import uuid

from participant._time import WallClock, format_timestamp, parse_timestamp, system_clock

__all__ = [
    "WallClock",
    "format_timestamp",
    "json_too_deep",
    "new_id",
    "new_secret",
    "parse_timestamp",
    "system_clock",
]


def new_id() -> str:
    """A UUID string, as the service uses for contact, participant and item ids."""
    return str(uuid.uuid4())


def new_secret(nbytes: int = 48) -> str:
    """An opaque token (URL-safe), starting with a letter or digit as the service's tokens
    do: one starting with "-" would read as an option on a command line."""
    while True:
        token = secrets.token_urlsafe(nbytes)
        if token[0].isalnum():
            return token


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def json_too_deep(text: str, limit: int) -> bool:
    """Whether the JSON ``text`` nests arrays/objects more than ``limit`` deep (strings
    skipped). Linear time; answers at once when there are few brackets at all."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False
