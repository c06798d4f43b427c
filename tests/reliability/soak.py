"""The soak workload: many chats at once, every fault class injected at random.

Each chat has a customer (the :class:`~participant.actor.Participant` under test) and an
agent driven from the emulator. The agent sends a message every few seconds, the customer
sends one now and then through the actor, and a fault injector fires a random fault from
:data:`FAULT_KINDS` every few minutes of simulated time. Some chats end mid-stream: either
after a quiet spell (then nothing may be lost) or right in the middle of a fault (then the
service makes the items sent during the outage unreachable: tokens stop working once a chat
has ended, so they are counted, not asserted).
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Literal

import attrs
import trio

from participant.actor import Participant, ParticipantConfig
from participant.emulator import ApiError
from participant.errors import ParticipantError
from participant.machine import State, StateChange
from participant.model import ChatEnded, MessageItem

from .conftest import Rig

FAULT_KINDS = (
    "drop",  # close frame (1001)
    "cut",  # no close frame (transport cut)
    "expire_connection",  # the server closes at ConnectionExpiry now (1000)
    "heartbeats",  # stalled heartbeats for a while
    "throttle",  # 429 burst on CreateParticipantConnection, then a drop
    "error500",  # 500 burst on CreateParticipantConnection, then a cut
    "transcript_errors",  # 429/500 burst on GetTranscript, then a drop (gap fill retries)
    "send_errors",  # 429/500 burst on SendMessage (the customer's sends retry)
    "expire_token",  # the ConnectionToken expires now
    "expire_url",  # unopened websocket URLs expire, then a drop
    "delay",  # frames to this participant delayed for a while
    "reorder",  # chat frames to this participant reversed in batches for a while
)

Ending = Literal["no", "quiet", "fault"]


@attrs.define
class ChatResult:
    index: int
    ending: Ending
    participant: Participant
    sent: list[str] = attrs.Factory(list)
    received: Counter[str] = attrs.Factory(Counter)
    chat_ended_items: int = 0
    changes: list[StateChange] = attrs.Factory(list)
    faults: Counter[str] = attrs.Factory(Counter)
    send_failures: list[BaseException] = attrs.Factory(list)
    end_sent_count: int | None = None
    """For ended chats: how many items had been sent when the chat ended."""

    @property
    def missing(self) -> set[str]:
        return set(self.sent) - set(self.received)

    @property
    def unexpected(self) -> set[str]:
        return set(self.received) - set(self.sent)

    @property
    def duplicated(self) -> dict[str, int]:
        return {k: n for k, n in self.received.items() if n > 1}


def _clear(rig: Rig, pid: str) -> None:
    faults = rig.emu.faults
    faults.resume_heartbeats(pid)
    faults.delay_frames(0, pid)
    faults.reorder_frames(1, pid)


async def _inject(rig: Rig, pid: str, kind: str, rng: random.Random) -> None:
    faults = rig.emu.faults
    if kind == "drop":
        faults.drop_sockets(pid, close_frame=True)
    elif kind == "cut":
        faults.drop_sockets(pid, close_frame=False)
    elif kind == "expire_connection":
        faults.expire_connection(pid)
    elif kind == "heartbeats":
        faults.stop_heartbeats(pid)
        await trio.sleep(rng.uniform(5, 60))
        faults.resume_heartbeats(pid)
    elif kind == "throttle":
        faults.fail_next("CreateParticipantConnection", rng.randint(1, 6), status=429)
        faults.drop_sockets(pid, close_frame=True)
    elif kind == "error500":
        faults.fail_next("CreateParticipantConnection", rng.randint(1, 6), status=500)
        faults.drop_sockets(pid, close_frame=False)
    elif kind == "transcript_errors":
        faults.fail_next("GetTranscript", rng.randint(1, 4), status=rng.choice([429, 500]))
        faults.drop_sockets(pid, close_frame=rng.random() < 0.5)
    elif kind == "send_errors":
        faults.fail_next("SendMessage", rng.randint(1, 4), status=rng.choice([429, 500]))
    elif kind == "expire_token":
        faults.expire_connection_token(pid)
    elif kind == "expire_url":
        faults.expire_websocket_url(pid)
        faults.drop_sockets(pid, close_frame=True)
    elif kind == "delay":
        faults.delay_frames(rng.uniform(0.2, 15.0), pid)
        await trio.sleep(rng.uniform(10, 90))
        faults.delay_frames(0, pid)
    elif kind == "reorder":
        faults.reorder_frames(rng.randint(2, 6), pid)
        await trio.sleep(rng.uniform(10, 90))
        faults.reorder_frames(1, pid)
    else:  # pragma: no cover
        raise ValueError(kind)


async def run_chat(
    rig: Rig,
    index: int,
    *,
    seed: int,
    duration: float,
    ending: Ending,
    config: ParticipantConfig,
    results: list[ChatResult],
) -> None:
    """One chat of the soak (appends its :class:`ChatResult` to ``results`` first, so a
    failing chat still leaves its record)."""
    rng = random.Random(seed * 1000 + index)
    emu = rig.emu
    await trio.sleep(index * 0.5)  # StartChatContact is rate limited (5/s per instance)
    chat = await emu.start_chat(display_name=f"Customer {index}")
    agent = await emu.add_participant(chat.contact_id, role="AGENT", display_name="Agent")
    pid = chat.participant_id
    senders = {agent.participant_id, pid}
    end_at = rng.uniform(0.4, 0.9) * duration if ending != "no" else None
    quiet_from = None if end_at is None or ending != "quiet" else end_at - 300.0

    async with rig.connect(chat.participant_token, config=config) as p:
        result = ChatResult(index, ending, p)
        results.append(result)
        p.on_state_change(result.changes.append)
        progress = trio.Event()
        stop_sending = trio.Event()

        async def consume() -> None:
            nonlocal progress
            async for item in p:
                if isinstance(item, ChatEnded):
                    result.chat_ended_items += 1
                elif isinstance(item, MessageItem) and item.participant_id in senders:
                    assert item.id is not None
                    result.received[item.id] += 1
                progress.set()
                progress = trio.Event()
            progress.set()

        async def agent_sends() -> None:
            while not stop_sending.is_set():
                await trio.sleep(rng.uniform(2.0, 20.0))
                if stop_sending.is_set():
                    return
                try:
                    wire = await emu.send_message_as(
                        chat.contact_id, agent.participant_id, content=f"agent {len(result.sent)}"
                    )
                except ApiError:  # the chat has just ended
                    return
                result.sent.append(wire["Id"])

        async def customer_sends() -> None:
            while not stop_sending.is_set():
                await trio.sleep(rng.uniform(20.0, 120.0))
                if stop_sending.is_set():
                    return
                try:
                    response = await p.send_message(f"customer {len(result.sent)}")
                except ParticipantError as exc:  # a failed send raises to its caller
                    result.send_failures.append(exc)
                    continue
                assert response.id is not None
                result.sent.append(response.id)

        async def inject_faults() -> None:
            async with trio.open_nursery() as nursery:
                start = trio.current_time()
                while True:
                    await trio.sleep(rng.uniform(30.0, 200.0))
                    now = trio.current_time() - start
                    if now >= duration or (quiet_from is not None and now >= quiet_from):
                        break
                    if end_at is not None and now >= end_at:
                        break
                    kind = rng.choice(FAULT_KINDS)
                    result.faults[kind] += 1
                    nursery.start_soon(_inject, rig, pid, kind, rng)
                nursery.cancel_scope.cancel()
            _clear(rig, pid)

        async def end_chat() -> None:
            assert end_at is not None
            await trio.sleep(end_at)
            if ending == "quiet":
                # quiet spell: no fault for 300 s; end while subscribed
                if p.state is not State.SUBSCRIBED:
                    async for change in p.state_changes():
                        if change.new is State.SUBSCRIBED:
                            break
            else:
                kind = rng.choice(("cut", "drop", "throttle", "error500"))
                result.faults[kind] += 1
                await _inject(rig, pid, kind, rng)
            stop_sending.set()
            result.end_sent_count = len(result.sent)
            emu.faults.end_chat(chat.contact_id)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            nursery.start_soon(inject_faults)
            nursery.start_soon(customer_sends)
            if end_at is not None:
                nursery.start_soon(end_chat)
            with trio.move_on_after(duration):
                await agent_sends()
            stop_sending.set()
            # Wait (event-driven, with a generous virtual limit) for every item sent, or
            # for the chat's end to close the iterator.
            with trio.move_on_after(3600.0):
                while p.state is not State.DISCONNECTED and not set(result.sent) <= set(
                    result.received
                ):
                    await progress.wait()
                if end_at is not None:
                    while p.state is not State.DISCONNECTED:
                        await progress.wait()
            nursery.cancel_scope.cancel()


async def run_soak(
    rig: Rig,
    *,
    chats: int,
    duration: float,
    seed: int,
    endings: dict[int, Ending],
    config: ParticipantConfig | None = None,
) -> list[ChatResult]:
    """Run ``chats`` chats at once for ``duration`` simulated seconds."""
    results: list[ChatResult] = []
    cfg = config or ParticipantConfig()
    async with trio.open_nursery() as nursery:
        for i in range(chats):
            nursery.start_soon(
                lambda i=i: run_chat(
                    rig,
                    i,
                    seed=seed,
                    duration=duration,
                    ending=endings.get(i, "no"),
                    config=cfg,
                    results=results,
                )
            )
    results.sort(key=lambda r: r.index)
    return results
