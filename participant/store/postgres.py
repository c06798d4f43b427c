"""The store for fleets on many machines: PostgreSQL through psycopg 3 (``pip install
'participant[fleet]'``), the same schema and semantics as the SQLite store.

psycopg's synchronous connection runs in a worker thread (``trio.to_thread.run_sync``), one
connection per store, in autocommit mode with explicit transactions. Claims lock their
candidate rows with ``FOR UPDATE SKIP LOCKED`` (concurrent claimers take different chats) and
still compare-and-set the epoch; fenced cursor saves lock the lease row (``FOR SHARE``) while
they write. A broken connection is dropped and the next call opens a new one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from participant.errors import InvalidParameterError
from participant.store._sql import Conn, SQLStore

__all__ = ["PostgresStore"]

# pg_advisory_xact_lock key serialising concurrent schema creation ("participant" in hex-ish).
_SCHEMA_LOCK = 0x7061727469636970


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            "the PostgreSQL store needs psycopg 3: pip install 'participant[fleet]'"
        ) from exc
    return psycopg


class PostgresStore(SQLStore):
    """A :class:`~participant.store.Store` in a PostgreSQL database.

    Args:
        conninfo: a libpq connection string or URL (``postgresql://user@host:5432/db``;
            a password in it is never logged or repeated in an error).
        connect_timeout: seconds to wait for the server on connect.
        wall_clock: epoch seconds now for lease expiries (default ``time.time``; keep the
            fleet's clocks in step with NTP).

    Raises:
        InvalidParameterError: ``conninfo`` is empty.
        ImportError: psycopg is not installed.
    """

    _lock_rows = " FOR SHARE"
    _skip_locked = " FOR UPDATE OF l SKIP LOCKED"
    _placeholder = "%s"
    _name = "postgres store"

    def __init__(
        self,
        conninfo: str,
        *,
        connect_timeout: float = 10.0,
        wall_clock: Callable[[], float] | None = None,
    ) -> None:
        if not isinstance(conninfo, str) or not conninfo:
            raise InvalidParameterError("conninfo", "a libpq connection string or URL")
        psycopg = _psycopg()
        super().__init__(wall_clock=wall_clock)
        self._psycopg = psycopg
        self._errors = (psycopg.Error,)
        self._conninfo = conninfo
        self.connect_timeout = connect_timeout

    def _describe(self) -> str:
        try:
            info = self._psycopg.conninfo.conninfo_to_dict(self._conninfo)
        except self._psycopg.Error:
            return "(unparsable conninfo)"
        host = info.get("host", "")
        port = info.get("port", "")
        return f"{host}:{port}/{info.get('dbname', '')}"

    def _connect(self) -> Conn:
        return self._psycopg.connect(
            self._conninfo, autocommit=True, connect_timeout=max(1, int(self.connect_timeout))
        )

    def _before_schema(self, conn: Conn) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
