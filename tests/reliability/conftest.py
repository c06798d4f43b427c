"""Shared pieces of the reliability tests: MockClock, an in-memory rig, the task tree.

Everything here runs under ``trio.testing.MockClock(autojump_threshold=0)`` over the
emulator's in-memory transports, so hours of simulated traffic take seconds.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from participant._time import trio_clock
from participant.actor import connect
from participant.api import ParticipantClient, RetryPolicy
from participant.emulator import Emulator, EmulatorConfig


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


class Rig:
    """An in-memory emulator plus a ParticipantClient and a connector bound to it."""

    def __init__(self, emu: Emulator, client: ParticipantClient) -> None:
        self.emu = emu
        self.client = client
        self.connector = emu.websocket_connector()

    def connect(self, token: str, **kwargs: Any) -> Any:
        kwargs.setdefault("client", self.client)
        kwargs.setdefault("websocket_connector", self.connector)
        kwargs.setdefault("wall_clock", self.emu.service.now)
        return connect(token, **kwargs)

    def secrets(self) -> set[str]:
        """Every secret the emulator ever issued: ParticipantTokens, ConnectionTokens and
        the AuthToken of every websocket URL (read from its bookkeeping)."""
        service = self.emu.service
        found: set[str] = set(service._participant_tokens)
        found |= set(service._connection_tokens)
        found |= {k for k in service._urls if k}
        return {s for s in found if s}


@asynccontextmanager
async def open_rig(
    cfg: EmulatorConfig | None = None, retry: RetryPolicy | None = None
) -> AsyncIterator[Rig]:
    # never sweep: secrets() reads every secret issued from the emulator's bookkeeping,
    # which otherwise frees those of ended chats
    cfg = attrs.evolve(cfg or EmulatorConfig(), sweep_interval=math.inf)
    emu = Emulator(cfg, wall_clock=trio_clock())
    async with emu.run():
        client = ParticipantClient(
            endpoint_url=emu.endpoint_url,
            transport=emu.http_transport(),
            retry=retry or RetryPolicy(max_attempts=3, base_delay=0.2, max_delay=2.0),
        )
        async with client:
            yield Rig(emu, client)


def walk_tasks(task: trio.lowlevel.Task | None = None) -> Iterator[trio.lowlevel.Task]:
    """Every task below ``task`` (default: the root task), depth first."""
    root = task or trio.lowlevel.current_root_task()
    assert root is not None
    stack = [root]
    while stack:
        current = stack.pop()
        yield current
        for nursery in current.child_nurseries:
            stack.extend(nursery.child_tasks)


def library_tasks(
    prefixes: tuple[str, ...] = ("participant.actor", "participant.socket"),
) -> list[str]:
    """Names of live tasks that belong to the client side of the library."""
    return sorted(t.name for t in walk_tasks() if t.name.startswith(prefixes))
