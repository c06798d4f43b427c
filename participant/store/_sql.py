"""The SQL both backends share: one schema, one set of statements (``?`` placeholders,
rewritten to ``%s`` for psycopg), one thread-confined connection per store."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import trio

from participant.errors import InvalidParameterError
from participant.store._base import (
    ChatStatus,
    CursorCodec,
    Lease,
    LeaseLost,
    StoreCursor,
    StoreError,
    check_key,
    check_ttl,
)

log = logging.getLogger("participant.store")

_R = TypeVar("_R")

SCHEMA_VERSION = 1

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS participant_chats (
        key TEXT PRIMARY KEY,
        participant_token TEXT NOT NULL,
        contact_id TEXT,
        submitted_at DOUBLE PRECISION NOT NULL,
        state TEXT NOT NULL,
        ended_at DOUBLE PRECISION,
        last_error TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS participant_leases (
        key TEXT PRIMARY KEY REFERENCES participant_chats (key),
        owner TEXT,
        epoch BIGINT NOT NULL,
        expiry DOUBLE PRECISION NOT NULL,
        renewed_at DOUBLE PRECISION,
        acked_id TEXT,
        acked_time TEXT,
        newest_time TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS participant_cursors (
        key TEXT PRIMARY KEY REFERENCES participant_chats (key),
        cursor TEXT NOT NULL,
        saved_at DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS participant_rates (
        name TEXT PRIMARY KEY,
        tat DOUBLE PRECISION NOT NULL
    )""",
    """CREATE INDEX IF NOT EXISTS participant_leases_expiry
        ON participant_leases (expiry)""",
)

Conn = Any  # a DB-API connection in autocommit mode (sqlite3 or psycopg)


def _check_owner(owner: object) -> str:
    if not isinstance(owner, str) or not 1 <= len(owner) <= 256:
        raise InvalidParameterError("owner", "a string of 1..256 characters")
    return owner


class SQLStore:
    """Shared implementation of :class:`~participant.store.Store` over a DB-API connection.

    Subclasses give ``_connect()`` (a new connection in autocommit mode), ``_begin`` (the
    statement opening a write transaction), ``_lock_rows`` (appended to row-locking
    SELECTs), ``_placeholder`` and ``_errors`` (the driver's exception base classes).
    """

    _begin = "BEGIN"
    _lock_rows = ""
    _skip_locked = ""
    _placeholder = "?"
    _errors: tuple[type[BaseException], ...] = ()
    _name = "store"

    def __init__(self, *, wall_clock: Callable[[], float] | None = None) -> None:
        self._wall_clock = wall_clock or time.time
        self._lock = threading.Lock()
        self._conn: Conn | None = None
        self._closed = False

    # ---- plumbing ---------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._describe()}>"

    def _describe(self) -> str:
        return ""

    def _connect(self) -> Conn:
        raise NotImplementedError

    def _setup(self, conn: Conn) -> None:
        """Create the schema (idempotent; safe when several processes open at once)."""
        self._exec(conn, self._begin)
        try:
            self._before_schema(conn)
            for statement in SCHEMA:
                conn.execute(statement)
            self._exec(conn, "COMMIT")
        except BaseException:
            self._exec(conn, "ROLLBACK")
            raise

    def _before_schema(self, conn: Conn) -> None:
        """Hook run inside the schema transaction (PostgreSQL takes an advisory lock)."""

    def _sql(self, text: str) -> str:
        return text if self._placeholder == "?" else text.replace("?", self._placeholder)

    def _exec(self, conn: Conn, text: str, params: Sequence[Any] = ()) -> Any:
        return conn.execute(self._sql(text), tuple(params))

    def _conn_now(self) -> Conn:
        if self._closed:
            raise StoreError(f"{self._name}: the store is closed")
        if self._conn is None:
            conn = self._connect()
            try:
                self._setup(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _locked(self, operation: str, fn: Callable[[Conn], _R]) -> _R:
        with self._lock:
            try:
                conn = self._conn_now()
                return fn(conn)
            except (LeaseLost, InvalidParameterError):
                raise
            except self._errors as exc:
                self._drop_connection()
                # The driver's message may quote parameters (a token): only its class.
                raise StoreError(
                    f"{self._name} {operation} failed: {type(exc).__name__}"
                ) from None

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except self._errors:  # pragma: no cover - closing a broken connection
                pass

    async def _run(self, operation: str, fn: Callable[[Conn], _R]) -> _R:
        return await trio.to_thread.run_sync(self._locked, operation, fn)

    def _transaction(self, conn: Conn, body: Callable[[], _R]) -> _R:
        self._exec(conn, self._begin)
        try:
            result = body()
        except BaseException:
            self._exec(conn, "ROLLBACK")
            raise
        self._exec(conn, "COMMIT")
        return result

    def _now(self) -> float:
        return float(self._wall_clock())

    async def aclose(self) -> None:
        """Close the connection; later calls raise :class:`StoreError`."""

        def close() -> None:
            with self._lock:
                self._closed = True
                self._drop_connection()

        await trio.to_thread.run_sync(close)

    async def __aenter__(self) -> SQLStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- chats ------------------------------------------------------------------------
    async def submit(
        self, participant_token: str, *, key: str | None = None, contact_id: str | None = None
    ) -> str:
        if not isinstance(participant_token, str) or not participant_token:
            raise InvalidParameterError("participant_token", "a non-empty string")
        if contact_id is not None and (not isinstance(contact_id, str) or not contact_id):
            raise InvalidParameterError("contact_id", "a non-empty string or None")
        chat_key = check_key(key if key is not None else contact_id)

        def op(conn: Conn) -> str:
            def body() -> str:
                row = self._exec(
                    conn, "SELECT participant_token FROM participant_chats WHERE key = ?",
                    (chat_key,),
                ).fetchone()
                if row is not None:
                    if row[0] != participant_token:
                        raise InvalidParameterError(
                            "key", "unique", "already submitted with another participant_token"
                        )
                    return chat_key
                self._exec(
                    conn,
                    "INSERT INTO participant_chats"
                    " (key, participant_token, contact_id, submitted_at, state)"
                    " VALUES (?, ?, ?, ?, 'active')",
                    (chat_key, participant_token, contact_id, self._now()),
                )
                self._exec(
                    conn,
                    "INSERT INTO participant_leases (key, owner, epoch, expiry)"
                    " VALUES (?, NULL, 0, 0)",
                    (chat_key,),
                )
                return chat_key

            return self._transaction(conn, body)

        return await self._run("submit", op)

    async def chats(self) -> list[ChatStatus]:
        def op(conn: Conn) -> list[ChatStatus]:
            rows = self._exec(
                conn,
                "SELECT c.key, c.contact_id, c.state, c.submitted_at, l.owner, l.epoch,"
                " l.expiry, l.acked_id, l.acked_time, l.newest_time, k.saved_at, c.last_error"
                " FROM participant_chats c"
                " JOIN participant_leases l ON l.key = c.key"
                " LEFT JOIN participant_cursors k ON k.key = c.key"
                " ORDER BY c.submitted_at, c.key",
            ).fetchall()
            return [
                ChatStatus(
                    key=r[0], contact_id=r[1], state=r[2], submitted_at=float(r[3]),
                    owner=r[4], epoch=int(r[5]), expiry=float(r[6]), acked_id=r[7],
                    acked_time=r[8], newest_time=r[9],
                    cursor_saved_at=None if r[10] is None else float(r[10]), last_error=r[11],
                )
                for r in rows
            ]

        return await self._run("chats", op)

    # ---- leases -----------------------------------------------------------------------
    async def claim(self, owner: str, *, ttl: float, limit: int) -> list[Lease]:
        _check_owner(owner)
        check_ttl(ttl, "ttl")
        if not isinstance(limit, int) or limit < 0:
            raise InvalidParameterError("limit", "an integer >= 0")
        if limit == 0:
            return []

        def op(conn: Conn) -> list[Lease]:
            def body() -> list[Lease]:
                now = self._now()
                rows = self._exec(
                    conn,
                    "SELECT l.key, l.epoch, c.contact_id, c.participant_token"
                    " FROM participant_leases l JOIN participant_chats c ON c.key = l.key"
                    " WHERE c.state = 'active' AND l.expiry <= ?"
                    " ORDER BY l.expiry, c.submitted_at LIMIT ?" + self._skip_locked,
                    (now, limit),
                ).fetchall()
                claimed: list[Lease] = []
                expiry = now + ttl
                for key, epoch, contact_id, token in rows:
                    cur = self._exec(
                        conn,
                        "UPDATE participant_leases SET owner = ?, epoch = epoch + 1,"
                        " expiry = ?, renewed_at = ? WHERE key = ? AND epoch = ?",
                        (owner, expiry, now, key, epoch),
                    )
                    if cur.rowcount == 1:
                        claimed.append(
                            Lease(key=key, owner=owner, epoch=int(epoch) + 1, expiry=expiry,
                                  contact_id=contact_id, participant_token=token)
                        )
                return claimed

            return self._transaction(conn, body)

        return await self._run("claim", op)

    async def renew(
        self,
        lease: Lease,
        *,
        ttl: float,
        acked_id: str | None = None,
        acked_time: str | None = None,
        newest_time: str | None = None,
    ) -> Lease | None:
        check_ttl(ttl, "ttl")

        def op(conn: Conn) -> Lease | None:
            now = self._now()
            expiry = now + ttl
            cur = self._exec(
                conn,
                "UPDATE participant_leases SET expiry = ?, renewed_at = ?,"
                " acked_id = COALESCE(?, acked_id), acked_time = COALESCE(?, acked_time),"
                " newest_time = COALESCE(?, newest_time)"
                " WHERE key = ? AND owner = ? AND epoch = ?",
                (expiry, now, acked_id, acked_time, newest_time,
                 lease.key, lease.owner, lease.epoch),
            )
            if cur.rowcount != 1:
                return None
            return Lease(key=lease.key, owner=lease.owner, epoch=lease.epoch, expiry=expiry,
                         contact_id=lease.contact_id,
                         participant_token=lease.participant_token)

        return await self._run("renew", op)

    async def release(
        self, lease: Lease, *, ended: bool = False, error: str | None = None,
        retry_after: float = 0.0,
    ) -> bool:
        if not math.isfinite(retry_after) or retry_after < 0:
            raise InvalidParameterError("retry_after", "a finite number of seconds >= 0")

        def op(conn: Conn) -> bool:
            def body() -> bool:
                now = self._now()
                cur = self._exec(
                    conn,
                    "UPDATE participant_leases SET owner = NULL, expiry = ?"
                    " WHERE key = ? AND owner = ? AND epoch = ?",
                    (now + retry_after, lease.key, lease.owner, lease.epoch),
                )
                if cur.rowcount != 1:
                    return False
                if ended:
                    self._exec(
                        conn,
                        "UPDATE participant_chats SET state = 'ended', ended_at = ?"
                        " WHERE key = ?",
                        (now, lease.key),
                    )
                if error is not None:
                    self._exec(
                        conn, "UPDATE participant_chats SET last_error = ? WHERE key = ?",
                        (error[:200], lease.key),
                    )
                return True

            return self._transaction(conn, body)

        return await self._run("release", op)

    async def check(self, lease: Lease) -> bool:
        def op(conn: Conn) -> bool:
            row = self._exec(
                conn,
                "SELECT 1 FROM participant_leases"
                " WHERE key = ? AND owner = ? AND epoch = ? AND expiry > ?",
                (lease.key, lease.owner, lease.epoch, self._now()),
            ).fetchone()
            return row is not None

        return await self._run("check", op)

    # ---- cursors ----------------------------------------------------------------------
    def cursor(
        self, key: str, *, lease: Lease | None = None, codec: CursorCodec | None = None
    ) -> StoreCursor:
        check_key(key)
        return StoreCursor(self, key, lease, codec or CursorCodec())

    async def load_cursor(self, key: str) -> str | None:
        check_key(key)

        def op(conn: Conn) -> str | None:
            row = self._exec(
                conn, "SELECT cursor FROM participant_cursors WHERE key = ?", (key,)
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._run("load_cursor", op)

    async def save_cursor(self, key: str, text: str, *, lease: Lease | None = None) -> None:
        check_key(key)
        if not isinstance(text, str):
            raise InvalidParameterError("cursor", "JSON text (str)")
        if lease is not None and lease.key != key:
            raise InvalidParameterError("lease", f"a lease of chat {key!r}")

        def op(conn: Conn) -> None:
            def body() -> None:
                now = self._now()
                if lease is not None:
                    row = self._exec(
                        conn,
                        "SELECT 1 FROM participant_leases"
                        " WHERE key = ? AND owner = ? AND epoch = ? AND expiry > ?"
                        + self._lock_rows,
                        (key, lease.owner, lease.epoch, now),
                    ).fetchone()
                    if row is None:
                        raise LeaseLost(key, lease.epoch, "cursor not saved")
                else:
                    row = self._exec(
                        conn, "SELECT 1 FROM participant_chats WHERE key = ?", (key,)
                    ).fetchone()
                    if row is None:
                        raise InvalidParameterError("key", "a submitted chat's key")
                self._exec(
                    conn,
                    "INSERT INTO participant_cursors (key, cursor, saved_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET cursor = excluded.cursor,"
                    " saved_at = excluded.saved_at",
                    (key, text, now),
                )

            self._transaction(conn, body)

        await self._run("save_cursor", op)

    # ---- a shared rate ----------------------------------------------------------------
    async def take_rate(self, name: str, *, rate: float, burst: int = 1) -> float:
        check_key(name)
        if not math.isfinite(rate) or rate <= 0:
            raise InvalidParameterError("rate", "a finite number per second > 0")
        if not isinstance(burst, int) or burst < 1:
            raise InvalidParameterError("burst", "an integer >= 1")
        interval = 1.0 / rate

        def op(conn: Conn) -> float:
            # GCRA: one "theoretical arrival time" (tat) per name, moved on by one interval
            # per reservation in one atomic upsert; the slot is due burst intervals before it.
            now = self._now()
            row = self._exec(
                conn,
                "INSERT INTO participant_rates (name, tat) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET tat = CASE"
                " WHEN participant_rates.tat > ? THEN participant_rates.tat ELSE ? END + ?"
                " RETURNING tat",
                (name, now + interval, now, now, interval),
            ).fetchone()
            return max(0.0, float(row[0]) - burst * interval - now)

        return await self._run("take_rate", op)
