"""Delivery of the actor: a paused consumer across renewals, gap fill without history,
the iterator's checkpoints, connect_timeout, the own ParticipantId, a fast disconnect and
the injectable random source."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest
import trio
import trio.testing

from participant._backoff import backoff_delay
from participant.actor import ParticipantConfig, connect
from participant.api import ParticipantClient, RetryPolicy
from participant.emulator import EmulatorConfig
from participant.errors import InvalidParameterError, ThrottlingException, TransportError
from participant.machine import State, Trigger
from participant.model import ContentType, Item, ParticipantJoined, TextMessage
from participant.socket import SocketConfig

from .conftest import Rig, open_rig, take_texts


async def until(p: Any, predicate: Any) -> None:
    """Wait (event-driven, on state changes) until ``predicate()`` holds."""
    if predicate():
        return
    async for _change in p.state_changes():
        if predicate():
            return
    raise AssertionError("the participant ended first")


async def test_a_paused_consumer_does_not_stop_renewals_and_loses_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # ConnectionExpiry 600 s: a renewal about every 8 minutes. The consumer reads nothing
    # for 3 hours while the buffer (3 items) is full, then reads everything.
    cfg = EmulatorConfig(connection_expiry=600.0, rate_limits=False)
    async with open_rig(cfg) as rig:
        chat = await rig.emu.start_chat()
        agent = await rig.emu.add_participant(chat.contact_id)
        config = ParticipantConfig(max_buffered_items=3)
        async with rig.connect(chat.participant_token, config=config) as p:
            sent: list[str] = []
            for n in range(36):  # one message every 5 minutes for 3 hours
                await trio.sleep(300)
                wire = await rig.emu.send_message_as(
                    chat.contact_id, agent.participant_id, content=f"m{n}"
                )
                sent.append(wire["Id"])
            # Backpressure stopped the readers and the gap fill, not the supervisor:
            # renewals went on at every ConnectionExpiry while nobody read.
            assert p.stats.renewals >= 3 * 3600 // 600 - 1
            assert p.stats.drops == 0  # never lost a socket to ConnectionExpiry or heartbeat
            assert p.state in (State.SUBSCRIBED, State.EXPIRED)
            got = [item.id for item in await take_texts(p, len(sent))]
        assert got == sent  # exactly once, in order


async def test_an_item_held_by_a_closed_socket_is_delivered_by_gap_fill(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    # The 3rd item finds the buffer of 2 full: it is dropped (the reader never waits),
    # not marked seen, and the gap fill after the socket is lost delivers it.
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    config = ParticipantConfig(max_buffered_items=2)
    async with rig.connect(chat.participant_token, config=config) as p:
        ids = await rig.send_messages(
            chat.contact_id, agent.participant_id, (f"m{n}" for n in range(3))
        )
        await trio.testing.wait_all_tasks_blocked()
        assert p.stats.items_delivered == 2  # the third was dropped: no room
        assert p.stats.live_items_dropped == 1
        rig.emu.faults.drop_sockets(chat.participant_id, close_frame=False)
        await until(p, lambda: p.stats.reconnects == 1)
        got = [item.id for item in await take_texts(p, 3)]
        assert got == ids
        assert p.stats.gap_filled_items >= 1


async def test_history_larger_than_the_buffer_does_not_block_connect(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    for n in range(12):
        await rig.emu.send_message_as(chat.contact_id, agent.participant_id, content=f"old {n}")
        await trio.sleep(1)  # distinct AbsoluteTimes (simulated)
    cfg = ParticipantConfig(max_buffered_items=4, transcript_page_size=5)
    async with rig.connect(chat.participant_token, history=True, config=cfg) as p:
        await rig.emu.send_message_as(chat.contact_id, agent.participant_id, content="new")
        got = [item.content for item in await take_texts(p, 13)]
        assert got == [f"old {n}" for n in range(12)] + ["new"]


async def test_without_history_gap_fill_never_delivers_items_from_before_the_connection(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cfg = EmulatorConfig(connection_expiry=600.0, rate_limits=False)
    async with open_rig(cfg) as rig:
        chat = await rig.emu.start_chat()
        agent = await rig.emu.add_participant(chat.contact_id)  # participant.joined
        await rig.emu.send_message_as(chat.contact_id, agent.participant_id, content="before")
        await trio.sleep(60)  # well beyond ParticipantConfig.clock_skew
        # (connect_participant=False: no connection.acknowledged of our own, which is
        # emitted just before the subscription and so within the clock_skew allowance)
        async with rig.connect(chat.participant_token, connect_participant=False) as p:
            # a planned renewal (with its gap fill), then a drop (reconnect + gap fill)
            await until(p, lambda: p.stats.renewals >= 1)
            rig.emu.faults.drop_sockets(chat.participant_id, close_frame=False)
            await until(p, lambda: p.stats.reconnects >= 1 and p.stats.gap_fills >= 2)
            wire = await rig.emu.send_message_as(
                chat.contact_id, agent.participant_id, content="after"
            )
            seen: list[Item] = []
            async for item in p:
                seen.append(item)
                if item.id == wire["Id"]:
                    break
        assert [i.content for i in seen if isinstance(i, TextMessage)] == ["after"]
        assert not [i for i in seen if isinstance(i, ParticipantJoined)]
        assert p.stats.gap_filled_items == 0


@pytest.mark.parametrize("clock_skew", [2.0, 0.5])
async def test_the_clock_skew_allowance_before_the_first_subscription(
    autojump_clock: trio.testing.MockClock, clock_skew: float
) -> None:
    cfg = EmulatorConfig(connection_expiry=600.0, rate_limits=False)
    async with open_rig(cfg) as rig:
        chat = await rig.emu.start_chat()
        agent = await rig.emu.add_participant(chat.contact_id)
        await trio.sleep(60)
        early = await rig.emu.send_message_as(chat.contact_id, agent.participant_id, content="x")
        await trio.sleep(1.0)  # sent 1 s before the subscription
        config = ParticipantConfig(clock_skew=clock_skew)
        async with rig.connect(
            chat.participant_token, connect_participant=False, config=config
        ) as p:
            await until(p, lambda: p.stats.gap_fills >= 1)  # after the first renewal
            last = await rig.emu.send_message_as(chat.contact_id, agent.participant_id, content="y")
            got = []
            async for item in p:
                if isinstance(item, TextMessage):
                    got.append(item.id)
                    if item.id == last["Id"]:
                        break
        # within the allowance: delivered (late, by gap fill); beyond it: never
        assert got == ([early["Id"]] if clock_skew > 1.0 else []) + [last["Id"]]


async def test_gap_fill_after_a_drop_delivers_what_was_missed(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    # The floor of issue 3 must not cut what the first socket missed after connecting.
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    await trio.sleep(60)  # the joined events are well before the connection
    async with rig.connect(chat.participant_token, connect_participant=False) as p:
        rig.emu.faults.drop_sockets(chat.participant_id, close_frame=False)
        wire = await rig.emu.send_message_as(chat.contact_id, agent.participant_id, content="gap")
        got = [item.id for item in await take_texts(p, 1)]
        assert got == [wire["Id"]]
        assert p.stats.gap_filled_items == 1


async def test_the_iterator_is_a_cancel_point_and_yields_every_32_items(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    async with rig.connect(
        chat.participant_token, config=ParticipantConfig(max_buffered_items=200)
    ) as p:
        for n in range(140):
            await rig.emu.send_message_as(chat.contact_id, agent.participant_id, content=str(n))
        await trio.testing.wait_all_tasks_blocked()
        assert len(p._buffer) >= 128  # buffered, nobody reading
        with trio.CancelScope() as scope:
            scope.cancel()
            await p.__anext__()  # an item is ready, yet a cancelled call raises
        assert scope.cancelled_caught
        runs = 0

        async def other() -> None:
            nonlocal runs
            while True:
                runs += 1
                await trio.lowlevel.checkpoint()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(other)  # runnable from the next schedule point on
            for _ in range(128):  # drain without any other await
                await p.__anext__()
            # >= 3 schedule points in 128 calls; the other task ran between them
            assert runs >= 2
            nursery.cancel_scope.cancel()


async def test_connect_raises_the_last_error_after_connect_timeout_refused(
    autojump_clock: trio.testing.MockClock,
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    client = ParticipantClient(
        endpoint_url="http://127.0.0.1:9",
        transport=httpx.MockTransport(refuse),
        retry=RetryPolicy(max_attempts=2, base_delay=0.1, max_delay=0.2),
    )
    start = trio.current_time()
    async with client:
        with pytest.raises(TransportError, match="refused"):
            async with connect("token", client=client, config=ParticipantConfig()):
                pass  # pragma: no cover
    elapsed = trio.current_time() - start
    assert 30.0 <= elapsed < 60.0  # gave up after connect_timeout (30 s), not before


async def test_connect_timeout_raises_a_service_error(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    rig.emu.faults.fail_next("CreateParticipantConnection", count=10_000, status=429)
    cfg = ParticipantConfig(connect_timeout=5.0)
    start = trio.current_time()
    with pytest.raises(ThrottlingException):
        async with rig.connect(chat.participant_token, config=cfg):
            pass  # pragma: no cover
    assert trio.current_time() - start < 30.0


async def test_connect_timeout_none_keeps_retrying(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    rig.emu.faults.fail_next("CreateParticipantConnection", count=40, status=500)
    cfg = ParticipantConfig(connect_timeout=None, backoff_max=5.0)
    async with rig.connect(chat.participant_token, config=cfg) as p:
        assert p.state is State.SUBSCRIBED
        assert p.stats.failed_attempts >= 10
        assert p.stats.reconnects == 0  # the first connection is not a reconnect


def test_connect_timeout_is_validated() -> None:
    with pytest.raises(InvalidParameterError, match="connect_timeout"):
        ParticipantConfig(connect_timeout=0)
    with pytest.raises(InvalidParameterError, match="clock_skew"):
        ParticipantConfig(clock_skew=-1)


async def test_participant_id_is_learnt_from_the_echo_of_a_sent_message(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    async with rig.connect(chat.participant_token) as p:
        assert p.participant_id is None
        wire = await rig.emu.send_message_as(chat.contact_id, agent.participant_id, content="hi")
        assert await p.send_receipt(wire["Id"], "read")  # receipts teach nothing
        assert p.participant_id is None
        sent = await p.send_message("hello")
        async for item in p:
            if item.id == sent.id:
                break
        assert p.participant_id == chat.participant_id


async def test_participant_id_when_the_echo_precedes_the_response(
    autojump_clock: trio.testing.MockClock, rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = await rig.emu.start_chat()
    original = rig.client.send_event

    async def slow_response(token: str, **kwargs: Any) -> Any:
        response = await original(token, **kwargs)
        await trio.testing.wait_all_tasks_blocked()  # the echo is accepted first
        return response

    monkeypatch.setattr(rig.client, "send_event", slow_response)
    async with rig.connect(chat.participant_token) as p:
        assert await p.send_typing()
        assert p.participant_id == chat.participant_id


async def test_disconnect_does_not_wait_for_a_close_reply_nobody_can_read(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    await rig.emu.add_participant(chat.contact_id)
    cfg = ParticipantConfig(socket=SocketConfig(close_timeout=50.0))
    async with rig.connect(chat.participant_token, config=cfg) as p:
        start = trio.current_time()
        await p.disconnect()
        assert trio.current_time() - start < cfg.socket.close_timeout
        assert p.state is State.DISCONNECTED
    assert trio.current_time() - start < cfg.socket.close_timeout


async def test_rng_makes_the_backoff_jitter_reproducible(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    cfg = ParticipantConfig()
    async with rig.connect(chat.participant_token, config=cfg, rng=random.Random(7)) as p:
        feed = p.state_changes()
        # Up for backoff_reset_after: the backoff starts at step 0 (a connection that
        # drops sooner continues the sequence, issue 11).
        await trio.sleep(cfg.backoff_reset_after)
        rig.emu.faults.drop_sockets(chat.participant_id, close_frame=False)
        async for change in feed:
            if change.trigger is Trigger.BACKOFF:
                delay = change.delay
                break
    expected = backoff_delay(
        0,
        initial=cfg.backoff_initial,
        maximum=cfg.backoff_max,
        multiplier=cfg.backoff_multiplier,
        rng=random.Random(7),
    )
    assert delay == expected


async def test_no_duplicates_when_more_items_than_dedupe_max_ids_are_within_the_overlap(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    # dedupe_max_ids=20 but 150 items within gap_fill_overlap: a drop, then a gap fill from
    # newest - overlap returns all 150 again; none may be delivered twice.
    rig.emu.faults.set_rate_limits(False)
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    await trio.sleep(60)
    cfg = ParticipantConfig(dedupe_max_ids=20, gap_fill_overlap=5.0)
    async with rig.connect(chat.participant_token, connect_participant=False, config=cfg) as p:
        ids = []
        for n in range(150):
            wire = await rig.emu.send_message_as(
                chat.contact_id, agent.participant_id, content=f"m{n}"
            )
            ids.append(wire["Id"])
            await trio.sleep(0.02)
        got = [item.id for item in await take_texts(p, 150)]
        rig.emu.faults.drop_sockets(chat.participant_id, close_frame=False)
        last = await rig.emu.send_message_as(chat.contact_id, agent.participant_id, content="z")
        got += [item.id for item in await take_texts(p, 1)]
        assert got == [*ids, last["Id"]]
        assert p.stats.duplicates_dropped >= 150


async def test_typed_content_types_still_dispatch_after_the_fast_path(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    async with rig.connect(chat.participant_token) as p:
        await rig.emu.send_message_as(
            chat.contact_id,
            agent.participant_id,
            content="# hi",
            content_type=ContentType.TEXT_MARKDOWN,
        )
        async for item in p:
            if item.content_type == ContentType.TEXT_MARKDOWN:
                assert type(item).__name__ == "MarkdownMessage"
                break
