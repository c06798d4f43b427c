"""The store protocol and its records: chats (with their ParticipantToken), cursors, leases.

A store is shared by every worker of a fleet (and by the ``participant fleet`` commands). It
holds, per chat **key** (the program's name for a chat, by default its ContactId):

- the chat: ParticipantToken (needed to resume: CreateParticipantConnection takes it; secret,
  never in a repr, log line, exception message or ``status`` output), ContactId, submitted
  time (epoch seconds), state (``"active"`` or ``"ended"``), the last error's type name;
- its cursor: the participant's acknowledged position as JSON text
  (:meth:`participant.Cursor.to_json`), saved by :class:`StoreCursor`;
- its lease: owner (a worker's name), epoch (an integer that grows by one on every claim) and
  expiry (epoch seconds). A worker holds a chat while its epoch is the lease's epoch and the
  expiry is in the future; every write of a holder is a compare-and-set on (key, owner, epoch).

Times are epoch seconds from the store's ``wall_clock`` (default ``time.time``): the machines
of a fleet must keep their clocks in step (NTP) to well under a third of the lease TTL.
"""

from __future__ import annotations

import functools
import importlib
import math
from collections.abc import Callable
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

from participant.errors import InvalidParameterError, ParticipantError

__all__ = [
    "MAX_KEY_LENGTH",
    "ChatState",
    "ChatStatus",
    "CursorCodec",
    "CursorHandle",
    "Lease",
    "LeaseLost",
    "Store",
    "StoreCursor",
    "StoreError",
    "check_key",
    "check_ttl",
]

MAX_KEY_LENGTH = 256
"""Longest chat key accepted (characters)."""

ChatState = Literal["active", "ended"]


class StoreError(ParticipantError):
    """The store failed (database error, bad file, schema mismatch). The message names the
    operation and the database's error class, never a ParticipantToken."""


class LeaseLost(StoreError):
    """The worker no longer holds the chat's lease: another worker claimed it (the epoch
    moved), it was released, or it expired. Raised by fenced writes (cursor saves) and by
    the fleet's sends before anything reaches the service.

    Attributes:
        key: the chat's key.
        epoch: the epoch the caller held.
    """

    def __init__(self, key: str, epoch: int, detail: str = "") -> None:
        self.key = key
        self.epoch = epoch
        text = f"lease of chat {key!r} at epoch {epoch} is no longer held"
        super().__init__(f"{text} ({detail})" if detail else text)


def check_key(key: object) -> str:
    """``key`` if it is a string of 1..256 characters, else :class:`InvalidParameterError`."""
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidParameterError("key", f"a string of 1..{MAX_KEY_LENGTH} characters")
    return key


def check_ttl(ttl: float, field: str = "lease_ttl") -> float:
    """``ttl`` if it is a finite number of seconds > 0, else :class:`InvalidParameterError`."""
    if not isinstance(ttl, (int, float)) or not math.isfinite(ttl) or ttl <= 0:
        raise InvalidParameterError(field, "a finite number of seconds > 0")
    return float(ttl)


@attrs.frozen
class Lease:
    """A chat held by one worker, as :meth:`Store.claim` or :meth:`Store.renew` returned it.

    Attributes:
        key: the chat's key.
        owner: the worker's name.
        epoch: the lease's epoch (grows by one on every claim; the fencing token).
        expiry: epoch seconds when the lease ends unless renewed.
        contact_id: ContactId given at submit, or ``None``.
        participant_token: the chat's ParticipantToken (secret: not in repr).
    """

    key: str
    owner: str
    epoch: int
    expiry: float
    contact_id: str | None
    participant_token: str = attrs.field(repr=False)


@attrs.frozen
class ChatStatus:
    """One chat as ``participant fleet status`` shows it (no token: there is no field for it).

    Attributes:
        key, contact_id, state: as submitted (``state`` ``"active"`` or ``"ended"``).
        submitted_at: epoch seconds.
        owner: the worker holding or last holding the lease, ``None`` if released.
        epoch: the lease's epoch (0: never claimed).
        expiry: epoch seconds the lease ends (0 if never claimed); a released chat is
            claimable again from ``expiry`` on (a retry delay after a failure).
        acked_id, acked_time: Id and AbsoluteTime of the newest acknowledged item, as the
            owner reported it at its last renewal, or ``None``.
        newest_time: AbsoluteTime of the newest item delivered to the handler at that
            renewal, or ``None``.
        cursor_saved_at: epoch seconds of the last cursor save, or ``None``.
        last_error: type name of the error that last stopped the chat's actor, or ``None``.
    """

    key: str
    contact_id: str | None
    state: ChatState
    submitted_at: float
    owner: str | None
    epoch: int
    expiry: float
    acked_id: str | None
    acked_time: str | None
    newest_time: str | None
    cursor_saved_at: float | None
    last_error: str | None

    def held(self, now: float) -> bool:
        """Whether a worker holds the lease at epoch seconds ``now``."""
        return self.owner is not None and self.expiry > now


@runtime_checkable
class CursorHandle(Protocol):
    """Where a participant's cursor lives (docs/concepts.md, "Acknowledgement and the
    cursor"): ``connect(participant_token, cursor=handle)`` loads it on start and saves it
    after acknowledgements."""

    async def load(self) -> Any: ...

    async def save(self, cursor: Any) -> None: ...


@attrs.frozen
class CursorCodec:
    """How a :class:`StoreCursor` turns a cursor into stored JSON text and back.

    The default stores a ``str`` as it is and any other object through its ``to_json()``;
    it loads ``participant.cursor.Cursor.from_json(text)`` when the library has that class,
    else the text itself. Pass ``decode`` (and ``encode``) for another cursor type.
    """

    encode: Callable[[Any], str] = attrs.field(factory=lambda: _encode)
    decode: Callable[[str], Any] = attrs.field(factory=lambda: _decode)


def _encode(cursor: Any) -> str:
    if isinstance(cursor, str):
        return cursor
    text = cursor.to_json()
    if not isinstance(text, str):
        raise InvalidParameterError("cursor", "a str or an object whose to_json() returns str")
    return text


def _decode(text: str) -> Any:
    cursor_class = _cursor_class()
    return text if cursor_class is None else cursor_class.from_json(text)


@functools.cache
def _cursor_class() -> Any:
    # participant.cursor (the actor's Cursor) is optional here: the store keeps JSON text.
    try:
        module = importlib.import_module("participant.cursor")
    except ImportError:
        return None
    return getattr(module, "Cursor", None)


class Store(Protocol):
    """What a fleet needs from a store; :class:`~participant.store.SQLiteStore` and
    :class:`~participant.store.PostgresStore` implement it with one schema. Every method
    runs the database call in a worker thread (``trio.to_thread.run_sync``) and raises
    :class:`StoreError` when the database fails."""

    async def submit(
        self, participant_token: str, *, key: str | None = None, contact_id: str | None = None
    ) -> str:
        """Add a chat (state ``"active"``, unowned); returns its key (``key``, else
        ``contact_id``). Submitting the same key with the same token again is a no-op; with
        another token it raises :class:`InvalidParameterError` (field ``key``)."""
        ...

    async def claim(self, owner: str, *, ttl: float, limit: int) -> list[Lease]:
        """Claim up to ``limit`` active chats whose lease is free (released or expired),
        oldest expiry first: each by compare-and-set on its epoch (epoch + 1, expiry now +
        ``ttl`` seconds). Concurrent claimers never get the same chat at the same epoch."""
        ...

    async def renew(
        self,
        lease: Lease,
        *,
        ttl: float,
        acked_id: str | None = None,
        acked_time: str | None = None,
        newest_time: str | None = None,
    ) -> Lease | None:
        """Extend a held lease to now + ``ttl`` (and record the progress fields shown by
        ``status``); ``None`` if (key, owner, epoch) no longer matches: the lease is lost."""
        ...

    async def release(
        self, lease: Lease, *, ended: bool = False, error: str | None = None,
        retry_after: float = 0.0,
    ) -> bool:
        """Give a held lease up: owner cleared, claimable again ``retry_after`` seconds
        from now; ``ended`` marks the chat ``"ended"`` (never claimed again); ``error``
        records an error type name. ``False`` if the lease was not held any more."""
        ...

    async def check(self, lease: Lease) -> bool:
        """Whether ``lease`` is still held: same owner and epoch, expiry in the future."""
        ...

    async def load_cursor(self, key: str) -> str | None:
        """The chat's cursor JSON text, or ``None``."""
        ...

    async def save_cursor(self, key: str, text: str, *, lease: Lease | None = None) -> None:
        """Store the chat's cursor JSON text; with ``lease``, only while it is held (else
        :class:`LeaseLost`, nothing written): a worker that lost a chat cannot move its
        cursor."""
        ...

    async def chats(self) -> list[ChatStatus]:
        """Every chat, ordered by submitted time."""
        ...

    async def take_rate(self, name: str, *, rate: float, burst: int = 1) -> float:
        """Reserve one slot of a rate shared by everyone using this store (``rate`` per
        second, ``burst`` slots at once); returns the seconds to wait before using it."""
        ...

    def cursor(
        self, key: str, *, lease: Lease | None = None, codec: CursorCodec | None = None
    ) -> StoreCursor:
        """A :class:`CursorHandle` for ``connect(..., cursor=...)`` on the chat ``key``."""
        ...

    async def aclose(self) -> None:
        """Close the database connection."""
        ...


@attrs.frozen
class StoreCursor:
    """A :class:`CursorHandle` over a store's cursor row: ``load()`` returns the decoded
    cursor or ``None``; ``save(cursor)`` stores it (fenced by ``lease`` when given:
    :class:`LeaseLost` once the lease moved)."""

    store: Store
    key: str
    lease: Lease | None = None
    codec: CursorCodec = attrs.field(factory=CursorCodec)

    async def load(self) -> Any:
        text = await self.store.load_cursor(self.key)
        return None if text is None else self.codec.decode(text)

    async def save(self, cursor: Any) -> None:
        await self.store.save_cursor(self.key, self.codec.encode(cursor), lease=self.lease)
