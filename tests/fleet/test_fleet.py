"""The fleet in one process: workers on one real store (SQLite, PostgreSQL), bots on the
in-memory emulator (real time, lease TTL of a second or two). Claims, replies, max_chats,
stop releasing at once, a lost lease fencing a send, chat end, the shared resume rate."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import trio
from store.conftest import FakeWallClock

from participant.emulator import Emulator
from participant.fleet import (
    CREATE_CONNECTION_PATH,
    GET_TRANSCRIPT_PATH,
    Fleet,
    FleetChat,
)
from participant.model import Item, TextMessage
from participant.store import LeaseLost, SQLStore

from .conftest import Chat, Events, new_chat

TTL = 1.5


def customer_texts(emulator: Emulator, chat: Chat) -> list[str]:
    return [
        e["Content"] for e in emulator.transcript(chat.contact_id)
        if e.get("ParticipantRole") == "CUSTOMER" and e.get("ContentType") == "text/plain"
    ]


def bot_texts(emulator: Emulator, chat: Chat) -> list[str]:
    return [
        e["Content"] for e in emulator.transcript(chat.contact_id)
        if e.get("ParticipantRole") == "CUSTOM_BOT" and e.get("ContentType") == "text/plain"
    ]


class EchoBot:
    """Replies "echo: <text>" to every customer text; records what it was handed."""

    def __init__(self) -> None:
        self.handled: list[tuple[str, str | None]] = []
        self.changed = trio.Event()

    async def __call__(self, chat: FleetChat, item: Item) -> None:
        if isinstance(item, TextMessage) and item.participant_role == "CUSTOMER":
            self.handled.append((chat.key, item.id))
            await chat.send_message(f"echo: {item.content}")
            self.changed.set()
            self.changed = trio.Event()

    async def wait_handled(self, count: int) -> None:
        while len(self.handled) < count:
            await self.changed.wait()


def make_fleet(store: SQLStore, emulator: Emulator, handler: Any, events: Events,
               **kwargs: Any) -> Fleet:
    kwargs.setdefault("lease_ttl", TTL)
    kwargs.setdefault("resume_jitter", 0.0)
    kwargs.setdefault("resume_rate", 1000.0)
    return Fleet(
        store, handler, on_event=events,
        connect_kwargs={
            "http_transport": emulator.http_transport(),
            "websocket_connector": emulator.websocket_connector(),
            "endpoint_url": "http://emulator.invalid",
        },
        **kwargs,
    )


async def start(nursery: trio.Nursery, fleet: Fleet) -> None:
    await nursery.start(fleet.run)


async def test_two_workers_share_chats_and_reply_once(store: SQLStore, emulator: Emulator) -> None:
    chats = [await new_chat(emulator) for _ in range(4)]
    for chat in chats:
        await store.submit(chat.bot.participant_token, key=chat.contact_id,
                           contact_id=chat.contact_id)
    bot, events = EchoBot(), Events()
    a = make_fleet(store, emulator, bot, events, owner="a", max_chats=2)
    b = make_fleet(store, emulator, bot, events, owner="b", max_chats=2)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await start(nursery, a)
            await start(nursery, b)
            await events.wait("connected", 4)
            assert len(a.chats) == 2 and len(b.chats) == 2  # max_chats each
            for chat in chats:
                for n in range(3):
                    await emulator.send_message_as(chat.contact_id, chat.started.participant_id,
                                                   content=f"{chat.contact_id[:6]} {n}")
            await bot.wait_handled(12)
            a.stop()
            b.stop()
    for chat in chats:
        assert bot_texts(emulator, chat) == [f"echo: {t}" for t in customer_texts(emulator, chat)]
    assert sorted(e.key for e in events.of("released")) == sorted(c.contact_id for c in chats)
    # stop released every lease at once: nobody holds one now
    assert all(s.owner is None and s.state == "active" for s in await store.chats())


async def test_stop_hands_chats_over_at_once(store: SQLStore, emulator: Emulator) -> None:
    chats = [await new_chat(emulator) for _ in range(3)]
    for chat in chats:
        await store.submit(chat.bot.participant_token, key=chat.contact_id)
    bot, events = EchoBot(), Events()
    a = make_fleet(store, emulator, bot, events, owner="a", lease_ttl=30.0, claim_interval=0.5)
    b = make_fleet(store, emulator, bot, events, owner="b", lease_ttl=30.0, claim_interval=0.5)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await start(nursery, a)
            await events.wait("connected", 3)
            await start(nursery, b)
            assert b.chats == []
            a.stop()
            await events.wait("connected", 6)
            assert sorted(b.chats) == sorted(c.contact_id for c in chats)
            b.stop()
    # The whole test is bounded by 20 s, under the 30 s TTL, so no lease expired: each
    # chat was released by a (epoch 1) before b's actor connected it (epoch 2).
    order = [(e.kind, e.key, e.epoch) for e in events.seen]
    for chat in chats:
        released = order.index(("released", chat.contact_id, 1))
        assert released < order.index(("connected", chat.contact_id, 2))
    by_key = {s.key: s for s in await store.chats()}
    assert {s.epoch for s in by_key.values()} == {2}


async def test_lost_lease_fences_the_send(
    store: SQLStore, emulator: Emulator, wall_clock: FakeWallClock
) -> None:
    chat = await new_chat(emulator)
    await store.submit(chat.bot.participant_token, key="k", contact_id=chat.contact_id)
    events = Events()
    entered, go = trio.Event(), trio.Event()
    outcome: list[BaseException | str] = []

    async def slow_bot(fleet_chat: FleetChat, item: Item) -> None:
        if isinstance(item, TextMessage) and item.participant_role == "CUSTOMER":
            entered.set()
            await go.wait()
            try:
                await fleet_chat.send_message("late answer")
                outcome.append("sent")
            except LeaseLost as exc:
                outcome.append(exc)
                raise

    worker = make_fleet(store, emulator, slow_bot, events, owner="a", lease_ttl=60.0)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await start(nursery, worker)
            await events.wait("connected")
            await emulator.send_message_as(chat.contact_id, chat.started.participant_id,
                                           content="question")
            await entered.wait()
            # another worker takes the chat over: the lease expired on the store's clock
            wall_clock.now += 61
            [stolen] = await store.claim("thief", ttl=60, limit=1)
            go.set()
            await events.wait("lost")
            worker.stop()
    assert len(outcome) == 1 and isinstance(outcome[0], LeaseLost)
    assert outcome[0].epoch == 1 and stolen.epoch == 2
    assert bot_texts(emulator, chat) == []  # nothing was sent
    [status] = await store.chats()
    assert (status.owner, status.epoch) == ("thief", 2)  # the loser did not release it


async def test_renewal_finding_the_epoch_moved_stops_the_actor(
    store: SQLStore, emulator: Emulator, wall_clock: FakeWallClock
) -> None:
    chat = await new_chat(emulator)
    await store.submit(chat.bot.participant_token, key="k")
    events, bot = Events(), EchoBot()
    worker = make_fleet(store, emulator, bot, events, owner="a", lease_ttl=TTL)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await start(nursery, worker)
            await events.wait("connected")
            wall_clock.now += TTL + 1
            await store.claim("thief", ttl=60, limit=1)
            [lost] = await events.wait("lost")  # at the next renewal, within TTL / 3
            assert worker.chats == []
            await emulator.send_message_as(chat.contact_id, chat.started.participant_id,
                                           content="anyone?")
            worker.stop()
    assert lost.key == "k" and lost.epoch == 1
    assert bot.handled == []


async def test_chat_end_releases_and_marks_ended(store: SQLStore, emulator: Emulator) -> None:
    chat = await new_chat(emulator)
    await store.submit(chat.bot.participant_token, key="k")
    events = Events()
    worker = make_fleet(store, emulator, EchoBot(), events, owner="a")
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await start(nursery, worker)
            await events.wait("connected")
            await emulator.end_chat(chat.contact_id)
            await events.wait("ended")
            assert worker.chats == []
            worker.stop()
    [status] = await store.chats()
    assert (status.state, status.owner) == ("ended", None)
    assert await store.claim("b", ttl=5, limit=5) == []


async def test_a_failing_handler_releases_with_a_retry_delay(
    store: SQLStore, emulator: Emulator, wall_clock: FakeWallClock
) -> None:
    chat = await new_chat(emulator)
    await store.submit(chat.bot.participant_token, key="k")
    events = Events()

    async def broken(fleet_chat: FleetChat, item: Item) -> None:
        if isinstance(item, TextMessage):
            raise RuntimeError("bug in the bot")

    worker = make_fleet(store, emulator, broken, events, owner="a", retry_after=100.0)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await start(nursery, worker)
            await events.wait("connected")
            await emulator.send_message_as(chat.contact_id, chat.started.participant_id,
                                           content="hi")
            [failed] = await events.wait("failed")
            await events.wait("released")
            worker.stop()
    assert failed.detail == "RuntimeError"
    [status] = await store.chats()
    assert status.last_error == "RuntimeError" and status.owner is None
    assert status.expiry == pytest.approx(wall_clock.now + 100.0)


async def test_resumes_follow_the_shared_rate(store: SQLStore, emulator: Emulator) -> None:
    for _ in range(5):
        chat = await new_chat(emulator)
        await store.submit(chat.bot.participant_token, key=chat.contact_id)
    events = Events()
    times: list[float] = []

    def record(event: Any) -> None:
        if event.kind == "connected":
            times.append(trio.current_time())
        events(event)

    # two workers, one rate of 4 resumes per second between them (through the store)
    a = make_fleet(store, emulator, EchoBot(), record, owner="a", max_chats=3, resume_rate=4.0)
    b = make_fleet(store, emulator, EchoBot(), record, owner="b", max_chats=3, resume_rate=4.0)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await start(nursery, a)
            await start(nursery, b)
            await events.wait("connected", 5)
            a.stop()
            b.stop()
    # 5 resumes at 4/s with a burst of 1 take at least 4 intervals of 0.25 s
    assert times[-1] - times[0] >= 4 * 0.25 - 0.05


async def test_bad_arguments_name_the_field(store: SQLStore) -> None:
    from participant.errors import InvalidParameterError

    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: Fleet(store, max_chats=0), "max_chats"),
        (lambda: Fleet(store, lease_ttl=0), "lease_ttl"),
        (lambda: Fleet(store, resume_rate=-1), "resume_rate"),
        (lambda: Fleet(store, resume_jitter=-1), "resume_jitter"),
    ]
    for make, field in cases:
        with pytest.raises(InvalidParameterError) as caught:
            make()
        assert caught.value.field == field
    with pytest.raises(InvalidParameterError) as no_handler:
        await Fleet(store).run()
    assert no_handler.value.field == "handler"


async def test_no_token_in_any_log_record_at_debug(
    store: SQLStore, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    chat = await new_chat(emulator)
    token = chat.bot.participant_token
    await store.submit(token, key="k", contact_id=chat.contact_id)
    bot, events = EchoBot(), Events()
    worker = make_fleet(store, emulator, bot, events, owner="a")
    caplog.set_level(logging.DEBUG)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await start(nursery, worker)
            await events.wait("connected")
            await emulator.send_message_as(chat.contact_id, chat.started.participant_id,
                                           content="hi")
            await bot.wait_handled(1)
            worker.stop()
    assert caplog.records  # DEBUG logging did run
    for record in caplog.records:
        assert token not in record.getMessage()
    assert token not in repr(worker) and token not in repr(events.seen)


class Recording(httpx.AsyncBaseTransport):
    """Records when each request path reached the transport under the fleet's pacing."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.calls: list[tuple[float, str]] = []
        self._changed = trio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((trio.current_time(), request.url.path))
        self._changed.set()
        self._changed = trio.Event()
        return await self.inner.handle_async_request(request)

    async def wait(self, path: str, count: int) -> None:
        while len(self.times(path)) < count:
            await self._changed.wait()

    def times(self, path: str) -> list[float]:
        return [t for t, p in self.calls if p == path]


async def test_service_calls_are_paced_by_rates_shared_in_the_store(
    store: SQLStore, emulator: Emulator
) -> None:
    for _ in range(4):
        chat = await new_chat(emulator)
        await store.submit(chat.bot.participant_token, key=chat.contact_id)
    events = Events()
    recording = Recording(emulator.http_transport())
    fleets = [
        Fleet(store, EchoBot(), owner=name, max_chats=2, lease_ttl=30.0, resume_jitter=0.0,
              resume_rate=1000.0, get_transcript_rate=5.0, create_connection_rate=5.0,
              on_event=events,
              connect_kwargs={"http_transport": recording, "history": True,
                              "websocket_connector": emulator.websocket_connector(),
                              "endpoint_url": "http://emulator.invalid"})
        for name in ("a", "b")
    ]
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            for fleet in fleets:
                await start(nursery, fleet)
            await events.wait("connected", 4)
            await recording.wait(GET_TRANSCRIPT_PATH, 4)  # each chat's history
            for fleet in fleets:
                fleet.stop()
    for path in (GET_TRANSCRIPT_PATH, CREATE_CONNECTION_PATH):
        times = recording.times(path)
        assert len(times) >= 4, path
        # two workers, one rate of 5/s between them: 4 calls span at least 3 intervals
        assert times[3] - times[0] >= 3 * 0.2 - 0.02, (path, times)


async def test_an_item_whose_handler_failed_comes_again_marked_redelivered(
    store: SQLStore, emulator: Emulator, wall_clock: FakeWallClock
) -> None:
    chat = await new_chat(emulator)
    await store.submit(chat.bot.participant_token, key="k", contact_id=chat.contact_id)
    events = Events()
    handed: list[tuple[str | None, bool]] = []

    async def flaky(fleet_chat: FleetChat, item: Item) -> None:
        if isinstance(item, TextMessage) and item.participant_role == "CUSTOMER":
            handed.append((item.id, item.redelivered))
            if len(handed) == 1:
                raise RuntimeError("the service said ThrottlingException, say")
            await fleet_chat.send_message(f"echo: {item.content}")

    worker = make_fleet(store, emulator, flaky, events, owner="a", retry_after=0.0)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery, emulator.item_stream() as items:
            await start(nursery, worker)
            await events.wait("connected")
            await emulator.send_message_as(chat.contact_id, chat.started.participant_id,
                                           content="question")
            async for _, wire in items:  # the answer, after the failure and the resume
                if wire.get("Content") == "echo: question":
                    break
            worker.stop()
    assert [e.kind for e in events.seen if e.kind in ("failed", "released")][:2] == [
        "failed", "released"]
    [(first_id, first_again), (second_id, second_again)] = handed
    assert first_id == second_id and (first_again, second_again) == (False, True)
    assert bot_texts(emulator, chat) == ["echo: question"]
