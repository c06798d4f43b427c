"""Fixtures: the same store tests against SQLite (a real file) and PostgreSQL (a real
server, a throwaway cluster per test session; see pgcluster.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from participant.store import SQLStore, open_store

from .pgcluster import PgCluster, pg_cluster


class FakeWallClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PgCluster]:
    with pg_cluster() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store's URL: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'fleet.db'}"
    cluster: PgCluster = request.getfixturevalue("postgres_cluster")
    return cluster.new_database()


@pytest.fixture
def wall_clock() -> FakeWallClock:
    return FakeWallClock()


@pytest.fixture
async def store(store_url: str, wall_clock: FakeWallClock) -> AsyncIterator[SQLStore]:
    async with open_store(store_url, wall_clock=wall_clock) as s:
        yield s
