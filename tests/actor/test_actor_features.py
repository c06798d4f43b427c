"""Consumer API of the actor: handlers, history, backpressure, typing, receipts, many actors."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import trio
import trio.testing

from participant.actor import ParticipantConfig
from participant.machine import State
from participant.model import ContentType, Item, ParticipantJoined, TextMessage, Typing
from participant.socket import SocketConfig

from .conftest import Rig, take_texts


def record_events(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    calls: list[tuple[str, Any]] = []
    original = rig.client.send_event

    async def send_event(token: str, **kwargs: Any) -> Any:
        result = await original(token, **kwargs)
        calls.append((kwargs["content_type"], kwargs.get("content")))
        return result

    monkeypatch.setattr(rig.client, "send_event", send_event)
    return calls


async def test_own_messages_come_back_once(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    async with rig.connect(chat.participant_token) as p:
        sent = await p.send_message("**hi**", content_type=ContentType.TEXT_MARKDOWN)
        async for item in p:
            if item.id == sent.id:
                assert item.content == "**hi**"
                break
        assert p.stats.duplicates_dropped == 0


async def test_handlers_by_class_and_content_type_and_a_failing_one(
    autojump_clock: trio.testing.MockClock, rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    by_class: list[Item] = []
    by_type: list[Item] = []
    done = trio.Event()
    async with rig.connect(chat.participant_token, config=ParticipantConfig(iterate=False)) as p:

        @p.on(TextMessage)
        def broken(item: Item) -> None:
            raise RuntimeError("handler bug")

        @p.on(TextMessage)
        async def collect(item: Item) -> None:
            by_class.append(item)
            if len(by_class) == 3:
                done.set()

        p.on(ContentType.TYPING)(by_type.append)
        for n in range(3):
            await rig.emu.send_event_as(
                chat.contact_id, agent.participant_id, content_type=ContentType.TYPING
            )
            await rig.emu.send_message_as(chat.contact_id, agent.participant_id, content=str(n))
        await done.wait()
        assert [i.content for i in by_class] == ["0", "1", "2"]
        assert all(isinstance(i, Typing) for i in by_type) and len(by_type) == 3
        assert p.stats.handler_errors == 3
        assert p.state is State.SUBSCRIBED
    failures = [r for r in caplog.records if "handler broken failed" in r.getMessage()]
    assert {r.getMessage().rsplit(" ", 1)[-1] for r in failures} == {i.id for i in by_class}


async def test_history_then_live_without_a_seam(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    for n in range(25):
        await rig.emu.send_message_as(chat.contact_id, agent.participant_id, content=f"old {n}")
        await trio.sleep(1)  # distinct AbsoluteTimes (simulated)
    cfg = ParticipantConfig(transcript_page_size=10)
    async with rig.connect(chat.participant_token, history=True, config=cfg) as p:
        await rig.emu.send_message_as(chat.contact_id, agent.participant_id, content="new")
        got = await take_texts(p, 26)
        assert [i.content for i in got] == [f"old {n}" for n in range(25)] + ["new"]
        assert p.stats.history_items >= 25


async def test_a_stalled_consumer_loses_nothing(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    cfg = ParticipantConfig(max_buffered_items=2)
    async with rig.connect(chat.participant_token, config=cfg) as p:
        ids = await rig.send_messages(
            chat.contact_id, agent.participant_id, (f"m{n}" for n in range(40))
        )
        # Nobody reads for ten simulated minutes: live items beyond the buffer are
        # dropped and a refill recovers them once the consumer reads again.
        with trio.move_on_after(600):
            await trio.Event().wait()
        got = await take_texts(p, 40)
        assert [i.id for i in got] == ids
        assert p.state is State.SUBSCRIBED


async def test_send_typing_is_throttled_to_one_per_ten_seconds(
    autojump_clock: trio.testing.MockClock, rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = record_events(rig, monkeypatch)
    chat = await rig.emu.start_chat()
    async with rig.connect(chat.participant_token) as p:
        assert await p.send_typing() is True
        assert await p.send_typing() is False
        with trio.move_on_after(9.9):
            await trio.Event().wait()
        assert await p.send_typing() is False
        with trio.move_on_after(0.2):
            await trio.Event().wait()
        assert await p.send_typing() is True
    assert [c for c, _ in calls] == [ContentType.TYPING] * 2


async def test_receipts_are_coalesced(
    autojump_clock: trio.testing.MockClock, rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = record_events(rig, monkeypatch)
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    m = [
        (await rig.emu.send_message_as(chat.contact_id, agent.participant_id, content=str(n)))["Id"]
        for n in range(3)
    ]
    async with rig.connect(chat.participant_token) as p:
        results: dict[str, bool] = {}

        async def receipt(key: str, message_id: str, kind: Any) -> None:
            results[key] = await p.send_receipt(message_id, kind)

        async with trio.open_nursery() as nursery:
            # Within the 300 ms hold: the read of m0 replaces its delivered; the delivered
            # of m1 is replaced by the later delivered of m2.
            for key, message_id, kind in [
                ("d0", m[0], "delivered"),
                ("r0", m[0], "read"),
                ("d1", m[1], "delivered"),
                ("d2", m[2], "delivered"),
            ]:
                nursery.start_soon(receipt, key, message_id, kind)
                await trio.testing.wait_all_tasks_blocked()  # submitted in this order
        start = trio.current_time()
        assert results == {"d0": False, "r0": True, "d1": False, "d2": True}
        assert await p.send_receipt(m[0], "read") is False  # never the same receipt twice
        assert await p.send_receipt(m[0], "delivered") is False  # read covers delivered
        assert await p.send_receipt(m[2], "read") is True
        assert trio.current_time() - start >= 5.0  # one batch per 5 s window
    sent = [(c.rsplit(".", 1)[-1], json.loads(body)["messageId"]) for c, body in calls]
    assert sorted(sent[:2]) == sorted([("read", m[0]), ("delivered", m[2])])
    assert sent[2:] == [("read", m[2])]


async def test_many_actors_in_one_nursery(autojump_clock: trio.testing.MockClock, rig: Rig) -> None:
    rig.emu.faults.set_rate_limits(False)
    chats = [await rig.emu.start_chat(display_name=f"c{n}") for n in range(12)]
    got: dict[str, str] = {}

    async def serve(chat: Any) -> None:
        async with rig.connect(chat.participant_token) as p:
            await p.send_message(f"from {chat.contact_id}")
            async for item in p:
                if isinstance(item, TextMessage):
                    got[chat.contact_id] = item.content or ""
                    break

    async with trio.open_nursery() as nursery:
        for chat in chats:
            nursery.start_soon(serve, chat)
    assert got == {c.contact_id: f"from {c.contact_id}" for c in chats}


async def test_a_url_not_opened_within_its_window_is_never_used(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    opened: list[str] = []
    attempts = 0

    async def slow_then_fast(nursery: trio.Nursery, url: str) -> Any:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            await trio.sleep(200)  # a network stall longer than the URL's window
        ws = await rig.connector(nursery, url)
        opened.append(url)
        return ws

    chat = await rig.emu.start_chat()
    # connect_timeout above the stall: the first connection may take a second attempt
    cfg = ParticipantConfig(url_window=85.0, connect_timeout=300.0)
    start = trio.current_time()
    async with rig.connect(
        chat.participant_token, websocket_connector=slow_then_fast, config=cfg
    ) as p:
        assert p.state is State.SUBSCRIBED
        assert attempts == 2 and len(opened) == 1
        # the abandoned attempt gave up at the window, well before the stall ended
        assert trio.current_time() - start < 200
        assert p.stats.failed_attempts == 1


async def test_unanswered_heartbeats_reconnect_and_fill_the_gap(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    cfg = ParticipantConfig(socket=SocketConfig(heartbeat_interval=10.0))
    async with rig.connect(chat.participant_token, config=cfg) as p:
        feed = p.state_changes()
        rig.emu.faults.stop_heartbeats(chat.participant_id)
        async for change in feed:
            if change.new is State.RECONNECTING:
                assert "heartbeat unanswered" in change.reason
                break
        rig.emu.faults.resume_heartbeats(chat.participant_id)
        wire = await rig.emu.send_message_as(chat.contact_id, agent.participant_id, content="gap")
        async for change in feed:
            if change.new is State.SUBSCRIBED:
                break
        got = await take_texts(p, 1)
        assert got[0].id == wire["Id"]
        assert p.stats.reconnects == 1


async def test_participant_joined_is_typed(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    async with rig.connect(chat.participant_token) as p:
        await rig.emu.add_participant(chat.contact_id, display_name="Ann")
        async for item in p:
            if isinstance(item, ParticipantJoined):
                assert item.display_name == "Ann"
                break


def test_config_rejects_bad_values() -> None:
    from participant.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="backoff_initial"):
        ParticipantConfig(backoff_initial=0)
    with pytest.raises(InvalidParameterError, match="gap_fill_overlap"):
        ParticipantConfig(gap_fill_overlap=700, dedupe_window=600)


async def test_repr_and_logs_never_show_tokens(
    autojump_clock: trio.testing.MockClock, rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    chat = await rig.emu.start_chat()
    async with rig.connect(chat.participant_token) as p:
        rig.emu.faults.drop_sockets(chat.participant_id)
        async for change in p.state_changes():
            if change.new is State.SUBSCRIBED:
                break
        token = p._token()
        assert token not in repr(p) and chat.participant_token not in repr(p)
    text = caplog.text
    assert chat.participant_token not in text
    assert token not in text
