"""Fixtures for the actor tests: MockClock, and a tiny in-memory websocket server.

``FakeServer`` speaks protocol.md §3 over ``trio.testing.memory_stream_pair`` and
``trio_websocket.wrap_server_stream``, with knobs to misbehave; it is used by the socket
tests, independent of the emulator.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing
import trio_websocket

from participant._time import trio_clock
from participant.actor import Participant, connect
from participant.api import ParticipantClient, RetryPolicy
from participant.emulator import Emulator, EmulatorConfig
from participant.model import TextMessage


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


class FakeConnection:
    def __init__(self, server: FakeServer, ws: trio_websocket.WebSocketConnection) -> None:
        self.server = server
        self.ws = ws
        self.received: list[dict[str, Any]] = []
        self.subscribed = trio.Event()
        self.closed = trio.Event()
        self.frame_arrived = trio.Event()

    def sent(self, topic: str) -> list[dict[str, Any]]:
        return [f for f in self.received if f.get("topic") == topic]

    async def wait_for(self, topic: str, count: int) -> list[dict[str, Any]]:
        """Wait (event-driven) until ``count`` frames of ``topic`` arrived."""
        while len(self.sent(topic)) < count:
            await self.frame_arrived.wait()
        return self.sent(topic)

    async def send_raw(self, text: str | bytes) -> None:
        await self.ws.send_message(text)

    async def send_chat(self, item: dict[str, Any]) -> None:
        frame = {
            "topic": "aws/chat",
            "contentType": "application/json",
            "content": json.dumps(item),
        }
        await self.ws.send_message(json.dumps(frame))

    async def drop(self, code: int = 1011) -> None:
        await self.ws.aclose(code)


class FakeServer:
    """Knobs: ``answer_heartbeats``, ``ignore_subscribes`` (count of subscribe frames to
    ignore), ``fail_subscribes`` (count of non-success replies), ``subscribe_reply_delay``
    (seconds before each subscribe reply: a loaded service), ``reject`` (refuse the
    handshake)."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        self.answer_heartbeats = True
        self.ignore_subscribes = 0
        self.fail_subscribes = 0
        self.subscribe_reply_delay = 0.0
        self.reject = False
        self.connections: list[FakeConnection] = []
        self.new_connection = trio.Event()

    async def connector(
        self, nursery: trio.Nursery, url: str
    ) -> trio_websocket.WebSocketConnection:
        client_stream, server_stream = trio.testing.memory_stream_pair()
        self.nursery.start_soon(self._serve, server_stream)
        return await trio_websocket.wrap_client_stream(
            nursery,
            client_stream,
            "fake.invalid",
            "/connect",  # type: ignore[arg-type]
        )

    async def _serve(self, stream: trio.abc.Stream) -> None:
        request = await trio_websocket.wrap_server_stream(self.nursery, stream)
        if self.reject:
            await request.reject(403)
            return
        ws = await request.accept()
        conn = FakeConnection(self, ws)
        self.connections.append(conn)
        self.new_connection.set()
        self.new_connection = trio.Event()
        try:
            while True:
                text = await ws.get_message()
                frame = json.loads(text)
                frame["_at"] = trio.current_time()
                conn.received.append(frame)
                conn.frame_arrived.set()
                conn.frame_arrived = trio.Event()
                topic = frame.get("topic")
                if topic == "aws/heartbeat" and self.answer_heartbeats:
                    await ws.send_message(json.dumps({"topic": "aws/heartbeat"}))
                elif topic == "aws/ping":
                    await ws.send_message(
                        json.dumps({"topic": "aws/ping", "statusCode": 200, "statusContent": "OK"})
                    )
                elif topic == "aws/subscribe":
                    if self.ignore_subscribes > 0:
                        self.ignore_subscribes -= 1
                        continue
                    if self.subscribe_reply_delay:
                        await trio.sleep(self.subscribe_reply_delay)
                    status = "success"
                    if self.fail_subscribes > 0:
                        self.fail_subscribes -= 1
                        status = "failure"
                    await ws.send_message(
                        json.dumps(
                            {
                                "topic": "aws/subscribe",
                                "content": {"status": status, "topics": ["aws/chat"]},
                            }
                        )
                    )
                    if status == "success":
                        conn.subscribed.set()
        except trio_websocket.ConnectionClosed:
            pass
        finally:
            conn.closed.set()


@pytest.fixture
async def fake_server() -> AsyncIterator[FakeServer]:
    async with trio.open_nursery() as nursery:
        yield FakeServer(nursery)
        nursery.cancel_scope.cancel()


# ---- the emulator, in memory ---------------------------------------------------------


class Rig:
    """An emulator in memory plus a client and connector bound to it."""

    def __init__(self, emu: Emulator, client: ParticipantClient) -> None:
        self.emu = emu
        self.client = client
        self.connector = emu.websocket_connector()

    async def send_messages(
        self, contact_id: str, participant_id: str, contents: Iterable[str]
    ) -> list[str]:
        """Send each of ``contents`` as ``participant_id`` (emulator side); their Ids."""
        ids = []
        for content in contents:
            wire = await self.emu.send_message_as(contact_id, participant_id, content=content)
            ids.append(str(wire["Id"]))
        return ids

    def connect(self, token: str, **kwargs: Any) -> Any:
        kwargs.setdefault("client", self.client)
        kwargs.setdefault("websocket_connector", self.connector)
        kwargs.setdefault("wall_clock", self.emu.service.now)
        return connect(token, **kwargs)


@asynccontextmanager
async def open_rig(cfg: EmulatorConfig | None = None) -> AsyncIterator[Rig]:
    emu = Emulator(cfg or EmulatorConfig(), wall_clock=trio_clock())
    async with emu.run():
        client = ParticipantClient(
            endpoint_url=emu.endpoint_url,
            transport=emu.http_transport(),
            retry=RetryPolicy(max_attempts=2, base_delay=0.2, max_delay=1.0),
        )
        async with client:
            yield Rig(emu, client)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with open_rig() as r:
        yield r


async def take_texts(p: Participant, count: int) -> list[TextMessage]:
    """The next ``count`` TextMessages of ``p``'s iterator (other items are skipped)."""
    out: list[TextMessage] = []
    async for item in p:
        if isinstance(item, TextMessage):
            out.append(item)
            if len(out) == count:
                break
    return out
