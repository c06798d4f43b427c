"""A slow consumer never blocks the socket reader or the heartbeat (issue 11, "Failures
surface"): with the consumer's buffer full, live items are dropped, counted, and recovered
from the transcript once the consumer catches up - every item once, in order - and a dead
socket is still detected by the heartbeat watchdog during the stall. Also: a refill starts
from the oldest dropped item, not from the newest one delivered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import trio
import trio.testing

from participant._time import trio_clock
from participant.actor import ParticipantConfig
from participant.api import ParticipantClient, RetryPolicy
from participant.emulator import Emulator, EmulatorConfig
from participant.machine import State, StateChange
from participant.model import AttachmentMessage, Item, TextMessage

from .conftest import Rig, open_rig, take_texts
from .test_actor_delivery import until

TRANSCRIPT = "/participant/transcript"


async def test_a_stalled_consumer_never_blocks_the_reader_and_every_item_arrives_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_rig(EmulatorConfig(rate_limits=False)) as rig:
        chat = await rig.emu.start_chat()
        agent = await rig.emu.add_participant(chat.contact_id)
        config = ParticipantConfig(max_buffered_items=4)
        async with rig.connect(chat.participant_token, config=config) as p:
            sent: list[str] = []
            for n in range(40):  # ten simulated minutes, nobody reading
                await trio.sleep(15)
                wire = await rig.emu.send_message_as(
                    chat.contact_id, agent.participant_id, content=f"m{n}"
                )
                sent.append(str(wire["Id"]))
            # The reader did not wait for the consumer: the items beyond the buffer
            # were dropped (and counted), the socket stayed up.
            assert p.stats.live_items_dropped >= 30
            assert p.stats.drops == 0 and p.state is State.SUBSCRIBED
            got = [str(item.id) for item in await take_texts(p, len(sent))]
            assert got == sent  # every one once, in order: the refill recovered them
            assert p.stats.gap_filled_items >= 40 - 4
            more = await rig.send_messages(chat.contact_id, agent.participant_id, ["live"])
            assert [str(i.id) for i in await take_texts(p, 1)] == more


async def test_a_refill_after_drops_repeats_nothing_beyond_dedupe_max_ids(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # 100 items delivered live (five times dedupe_max_ids), then 50 sent while nobody
    # reads: 46 dropped. The refill starts gap_fill_overlap (5 s) before the oldest
    # dropped one, so the transcript gives all 150 again: the 104 delivered ones are
    # still known (Ids within reach of the newest are never forgotten) and none of
    # them comes twice.
    async with open_rig(EmulatorConfig(rate_limits=False)) as rig:
        chat = await rig.emu.start_chat()
        agent = await rig.emu.add_participant(chat.contact_id)
        await trio.sleep(60)
        config = ParticipantConfig(max_buffered_items=4, dedupe_max_ids=20, gap_fill_overlap=5.0)
        async with rig.connect(chat.participant_token, config=config) as p:
            sent: list[str] = []
            got: list[str] = []

            async def send(count: int) -> None:
                for _ in range(count):
                    wire = await rig.emu.send_message_as(
                        chat.contact_id, agent.participant_id, content=f"m{len(sent)}"
                    )
                    sent.append(str(wire["Id"]))
                    await trio.sleep(0.02)

            for _ in range(25):
                await send(4)
                got += [str(item.id) for item in await take_texts(p, 4)]
            assert p.stats.live_items_dropped == 0
            await send(50)
            assert p.stats.live_items_dropped == 46
            got += [str(item.id) for item in await take_texts(p, 50)]
            assert got == sent  # every one once, in order
            assert p.stats.duplicates_dropped >= 100  # the refill did fetch them again
            more = await rig.send_messages(chat.contact_id, agent.participant_id, ["live"])
            assert [str(i.id) for i in await take_texts(p, 1)] == more


async def test_a_late_verdict_dropped_for_lack_of_room_repeats_nothing_the_log_forgot(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # An attachment's scan verdict comes 100 s after the attachment, under its Id and
    # AbsoluteTime, while the consumer's buffer is full: it is dropped, and the refill
    # starts gap_fill_overlap before that AbsoluteTime. The 90 messages of those 100 s
    # were delivered, and with dedupe_window=30 the log no longer knows the older ones:
    # none may come twice, and the verdict must arrive.
    emulator_config = EmulatorConfig(
        rate_limits=False, attachment_scan_delay=100.0, attachment_scan_verdict="APPROVED"
    )
    async with open_rig(emulator_config) as rig:
        chat = await rig.emu.start_chat()
        agent = await rig.emu.add_participant(chat.contact_id)
        config = ParticipantConfig(max_buffered_items=2, dedupe_window=30.0)
        async with rig.connect(chat.participant_token, config=config) as p:
            await p.send_attachment(
                b"%PDF-1.4 x", attachment_name="a.pdf", content_type="application/pdf"
            )
            async for item in p:
                if isinstance(item, AttachmentMessage):
                    attachment = item
                    break
            assert not attachment.complete  # IN_PROGRESS
            sent: list[str] = []
            got: list[str] = []
            for n in range(90):
                await trio.sleep(1)
                sent += await rig.send_messages(chat.contact_id, agent.participant_id, [f"m{n}"])
                got += [str(i.id) for i in await take_texts(p, 1)]
            stalled = await rig.send_messages(chat.contact_id, agent.participant_id, ["s0", "s1"])
            await trio.sleep(20)  # the verdict comes meanwhile: no room for it
            assert p.stats.live_items_dropped >= 1
            last = await rig.send_messages(chat.contact_id, agent.participant_id, ["end"])
            verdicts: list[AttachmentMessage] = []
            with trio.fail_after(60):
                async for item in p:
                    if isinstance(item, TextMessage):
                        got.append(str(item.id))
                        if got[-1] == last[0]:
                            break
                    elif isinstance(item, AttachmentMessage):
                        verdicts.append(item)
            assert p.stats.gap_fills >= 1
            assert got == sent + stalled + last  # every message once
            # The verdict, once. Its revision starts again at 1: after dedupe_window the
            # log no longer knows the Id's first revision (docs/concepts.md, "Revisions").
            assert [(v.id, v.revision, v.complete) for v in verdicts] == [
                (attachment.id, 1, True)]
            assert [a.status for a in verdicts[0].attachments or ()] == ["APPROVED"]


async def test_a_dead_socket_is_detected_while_the_consumer_is_stalled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_rig(EmulatorConfig(rate_limits=False)) as rig:
        chat = await rig.emu.start_chat()
        agent = await rig.emu.add_participant(chat.contact_id)
        config = ParticipantConfig(max_buffered_items=2)
        lost_at: list[float] = []

        def record(change: StateChange) -> None:
            if change.trigger == "lost":
                lost_at.append(trio.current_time())

        async with rig.connect(chat.participant_token, config=config, on_state_change=record) as p:
            sent = await rig.send_messages(
                chat.contact_id, agent.participant_id, [f"m{n}" for n in range(10)]
            )
            await trio.sleep(5)  # the buffer is full, nobody reads
            rig.emu.faults.stop_heartbeats(chat.participant_id)
            silent_from = trio.current_time()
            await trio.sleep(60)
            heartbeat = config.socket.heartbeat_interval
            assert lost_at and lost_at[0] - silent_from <= 2 * heartbeat + 1
            rig.emu.faults.resume_heartbeats(chat.participant_id)
            got = [str(item.id) for item in await take_texts(p, len(sent))]
            assert got == sent


class BlockedTranscript(httpx.AsyncBaseTransport):
    """The emulator's transport; GetTranscript waits while ``gate`` is set to an Event."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.gate: trio.Event | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        gate = self.gate
        if request.url.path == TRANSCRIPT and gate is not None:
            await gate.wait()
        return await self.inner.handle_async_request(request)


@asynccontextmanager
async def blocked_rig() -> AsyncIterator[tuple[Rig, BlockedTranscript]]:
    emu = Emulator(EmulatorConfig(rate_limits=False), wall_clock=trio_clock())
    async with emu.run():
        transport = BlockedTranscript(emu.http_transport())
        client = ParticipantClient(
            endpoint_url=emu.endpoint_url,
            transport=transport,
            retry=RetryPolicy(max_attempts=2, base_delay=0.2, max_delay=1.0),
        )
        async with client:
            yield Rig(emu, client), transport


async def test_a_refill_starts_from_the_oldest_dropped_item(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A streamed reply's completed item carries its first chunk's AbsoluteTime: dropped
    (too many live items held behind a gap fill) long after that time, it is older than
    the newest item delivered. The refill must still fetch it."""
    async with blocked_rig() as (rig, transport):
        chat = await rig.emu.start_chat()
        agent = await rig.emu.add_participant(chat.contact_id)
        config = ParticipantConfig(held_items_max=2)
        seen: list[Item] = []
        completed = trio.Event()
        reply = ""
        async with rig.connect(chat.participant_token, config=config) as p:

            async def consume() -> None:
                async for item in p:
                    seen.append(item)
                    if item.id == reply and item.complete:
                        completed.set()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(consume)
                reply = rig.emu.start_streamed_reply(
                    chat.contact_id, ["Hello ", "world"], interval=40.0
                )
                await trio.sleep(6)
                await rig.send_messages(chat.contact_id, agent.participant_id, ["m1"])
                await trio.sleep(1)
                transport.gate = release = trio.Event()
                rig.emu.faults.drop_sockets(chat.participant_id, close_frame=False)
                await until(p, lambda: p.stats.reconnects == 1 and p.state is State.SUBSCRIBED)
                # held behind the blocked fill: m2, m3; then m4, chunk 2 and the completed
                # reply (AbsoluteTime of chunk 1) are dropped
                await rig.send_messages(chat.contact_id, agent.participant_id, ["m2", "m3", "m4"])
                await trio.sleep(90)
                assert p.stats.live_items_dropped >= 3
                transport.gate = None
                release.set()
                with trio.move_on_after(300):
                    await completed.wait()
                nursery.cancel_scope.cancel()
        revisions = [i for i in seen if i.id == reply]
        assert revisions and revisions[-1].complete
        assert revisions[-1].content == "Hello world"
