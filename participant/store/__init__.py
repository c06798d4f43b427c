"""Durable cursors and leases for resumable participants and fleets (docs/fleet.md).

``open_store(url)`` opens a store by URL:

- ``sqlite:///var/lib/bot/fleet.db`` (an absolute path), ``sqlite:fleet.db`` (relative):
  :class:`SQLiteStore`, one file for many processes on one machine;
- ``postgresql://user@host:5432/db`` (or ``postgres://``): :class:`PostgresStore`, for
  workers on many machines (needs ``pip install 'participant[fleet]'``).

``store.cursor(key)`` is a cursor handle for ``connect(participant_token, cursor=...)``.
"""

from __future__ import annotations

from collections.abc import Callable

from participant.errors import InvalidParameterError
from participant.store._base import (
    MAX_KEY_LENGTH,
    ChatState,
    ChatStatus,
    CursorCodec,
    CursorHandle,
    Lease,
    LeaseLost,
    Store,
    StoreCursor,
    StoreError,
)
from participant.store._sql import SQLStore
from participant.store.postgres import PostgresStore
from participant.store.sqlite import SQLiteStore

__all__ = [
    "MAX_KEY_LENGTH",
    "ChatState",
    "ChatStatus",
    "CursorCodec",
    "CursorHandle",
    "Lease",
    "LeaseLost",
    "PostgresStore",
    "SQLStore",
    "SQLiteStore",
    "Store",
    "StoreCursor",
    "StoreError",
    "open_store",
]


def open_store(url: str, *, wall_clock: Callable[[], float] | None = None) -> SQLStore:
    """Open the store named by ``url`` (see the module docstring). The connection opens on
    the first call; close with ``await store.aclose()`` or ``async with``.

    Raises:
        InvalidParameterError: (field ``url``) a scheme other than ``sqlite:``,
            ``postgresql:`` or ``postgres:``, or no path.
        ImportError: a PostgreSQL URL without psycopg installed.
    """
    if not isinstance(url, str):
        raise InvalidParameterError("url", "a store URL (sqlite:///path or postgresql://...)")
    scheme, sep, rest = url.partition(":")
    scheme = scheme.lower()
    if sep and scheme == "sqlite":
        path = rest[2:] if rest.startswith("//") else rest
        if not path:
            raise InvalidParameterError("url", "sqlite:///absolute/path or sqlite:relative/path")
        return SQLiteStore(path, wall_clock=wall_clock)
    if sep and scheme in ("postgresql", "postgres"):
        return PostgresStore(url, wall_clock=wall_clock)
    raise InvalidParameterError(
        "url", "a store URL: sqlite:///path or postgresql://...", "unknown scheme"
    )
