"""Fixtures of the fleet tests: a store, each test once on a real SQLite file and once on a
real PostgreSQL database, and a bot participant per chat on the emulator (real time)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import attrs
import pytest
import trio
from store.conftest import FakeWallClock
from store.pgcluster import PgCluster, pg_cluster

from participant.emulator import Emulator, EmulatorConfig, ParticipantHandle, StartedChat
from participant.fleet import FleetEvent
from participant.store import SQLStore, open_store


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PgCluster]:
    with pg_cluster() as cluster:
        yield cluster


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return attrs.evolve(EmulatorConfig(), rate_limits=False)


@pytest.fixture
def wall_clock() -> FakeWallClock:
    return FakeWallClock()


@pytest.fixture
async def store(store_url: str, wall_clock: FakeWallClock) -> AsyncIterator[SQLStore]:
    """The store (SQLite, then PostgreSQL) whose lease clock moves only when the test says
    (leases never expire by themselves)."""
    async with open_store(store_url, wall_clock=wall_clock) as s:
        yield s


@attrs.define
class Chat:
    started: StartedChat
    bot: ParticipantHandle

    @property
    def contact_id(self) -> str:
        return self.started.contact_id


async def new_chat(emulator: Emulator) -> Chat:
    """A chat with a customer and a CUSTOM_BOT whose token the fleet gets."""
    started = await emulator.start_chat(display_name="Customer")
    bot = await emulator.add_participant(started.contact_id, role="CUSTOM_BOT", display_name="Bot")
    return Chat(started, bot)


class Events:
    """Collects FleetEvents; ``await events.wait(kind, count)`` without polling."""

    def __init__(self) -> None:
        self.seen: list[FleetEvent] = []
        self._changed = trio.Event()

    def __call__(self, event: FleetEvent) -> None:
        self.seen.append(event)
        self._changed.set()
        self._changed = trio.Event()

    def of(self, kind: str) -> list[FleetEvent]:
        return [e for e in self.seen if e.kind == kind]

    async def wait(self, kind: str, count: int = 1) -> list[FleetEvent]:
        while len(self.of(kind)) < count:
            await self._changed.wait()
        return self.of(kind)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store for worker processes: a new SQLite file or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'fleet.db'}"
    cluster: PgCluster = request.getfixturevalue("postgres_cluster")
    return cluster.new_database()
