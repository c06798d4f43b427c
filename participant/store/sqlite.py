"""The embedded store: one SQLite file (stdlib ``sqlite3``), WAL mode, shared by many
processes on one machine, zero setup.

The file holds ParticipantTokens, so a new file is created with mode 0600 (owner read/write
only); SQLite gives its ``-wal`` and ``-shm`` files the same mode. Every call runs in a worker
thread (``trio.to_thread.run_sync``); writers take the database's write lock at the start of
their transaction (``BEGIN IMMEDIATE``) and wait up to ``busy_timeout`` seconds for it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from participant.errors import InvalidParameterError
from participant.store._sql import Conn, SQLStore

__all__ = ["SQLiteStore"]


class SQLiteStore(SQLStore):
    """A :class:`~participant.store.Store` in one SQLite file.

    Args:
        path: the database file (created, mode 0600, with its parent directory if missing).
        busy_timeout: seconds a call waits for another process's write lock before
            failing with :class:`~participant.store.StoreError`.
        wall_clock: epoch seconds now for lease expiries (default ``time.time``).

    Raises:
        InvalidParameterError: ``path`` is empty, or ``busy_timeout`` is not > 0.
    """

    _begin = "BEGIN IMMEDIATE"
    _errors = (sqlite3.Error,)
    _name = "sqlite store"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 30.0,
        wall_clock: Callable[[], float] | None = None,
    ) -> None:
        if not str(path):
            raise InvalidParameterError("path", "a file path")
        if not busy_timeout > 0:
            raise InvalidParameterError("busy_timeout", "a number of seconds > 0")
        super().__init__(wall_clock=wall_clock)
        self.path = Path(path)
        self.busy_timeout = float(busy_timeout)

    def _describe(self) -> str:
        return str(self.path)

    def _connect(self) -> Conn:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Create the file ourselves so it never exists with a wider mode.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            os.close(fd)
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            conn.close()
            raise
        return conn
