"""A chat workload with faults for the exactly-once tests (simulated time)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs
import trio

from participant.actor import Participant, ParticipantConfig
from participant.machine import State, StateChange
from participant.model import TextMessage

from .conftest import Rig


@attrs.frozen
class Fault:
    """``kind``: drop | cut | heartbeats | throttle | error500 | expire_url; ``at`` in
    seconds from the start; ``arg``: duration (heartbeats) or count (throttle/error500)."""

    at: float
    kind: str
    arg: int = 1


@attrs.define
class Outcome:
    sent: list[str]
    received: Counter[str]
    participant: Participant
    changes: list[StateChange]

    @property
    def missing(self) -> set[str]:
        return set(self.sent) - set(self.received)

    @property
    def duplicated(self) -> dict[str, int]:
        return {k: n for k, n in self.received.items() if n > 1}


async def _inject(rig: Rig, pid: str, fault: Fault) -> None:
    faults = rig.emu.faults
    if fault.kind == "drop":
        faults.drop_sockets(pid, close_frame=True)
    elif fault.kind == "cut":
        faults.drop_sockets(pid, close_frame=False)
    elif fault.kind == "heartbeats":
        faults.stop_heartbeats(pid)
        await trio.sleep(fault.arg)
        faults.resume_heartbeats(pid)
    elif fault.kind == "throttle":
        faults.fail_next("CreateParticipantConnection", fault.arg, status=429)
        faults.drop_sockets(pid, close_frame=True)
    elif fault.kind == "error500":
        faults.fail_next("CreateParticipantConnection", fault.arg, status=500)
        faults.drop_sockets(pid, close_frame=False)
    elif fault.kind == "expire_url":
        faults.expire_websocket_url(pid)
        faults.drop_sockets(pid, close_frame=True)
    else:  # pragma: no cover
        raise ValueError(fault.kind)


async def run_chat(
    rig: Rig,
    *,
    duration: float,
    message_every: float,
    faults: list[Fault],
    config: ParticipantConfig | None = None,
    **connect_kwargs: Any,
) -> Outcome:
    """Another participant (an agent) sends a message every ``message_every`` seconds for
    ``duration`` seconds while ``faults`` happen; returns what the customer received.

    The driver sleeps to place traffic and faults in simulated time; the end is awaited
    as an event (every sent Id received), guarded by a generous virtual timeout.
    """
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    sent: list[str] = []
    received: Counter[str] = Counter()
    changes: list[StateChange] = []
    progress = trio.Event()
    done_sending = False
    async with rig.connect(
        chat.participant_token, config=config or ParticipantConfig(), **connect_kwargs
    ) as p:
        p.on_state_change(changes.append)

        async def consume() -> None:
            nonlocal progress
            async for item in p:
                if isinstance(item, TextMessage) and item.participant_id == agent.participant_id:
                    assert item.id is not None
                    received[item.id] += 1
                    progress.set()
                    progress = trio.Event()

        async def send() -> None:
            nonlocal done_sending
            start = trio.current_time()
            n = 0
            while (at := n * message_every) < duration:
                await trio.sleep_until(start + at)
                wire = await rig.emu.send_message_as(
                    chat.contact_id, agent.participant_id, content=f"message {n}"
                )
                sent.append(wire["Id"])
                n += 1
            await trio.sleep_until(start + duration)
            done_sending = True

        async def fault_plan() -> None:
            start = trio.current_time()
            async with trio.open_nursery() as nursery:
                for fault in sorted(faults, key=lambda f: f.at):
                    await trio.sleep_until(start + fault.at)
                    nursery.start_soon(_inject, rig, chat.participant_id, fault)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            nursery.start_soon(fault_plan)
            await send()
            with trio.move_on_after(max(3600.0, duration)):
                while not (done_sending and set(sent) <= set(received)):
                    await progress.wait()
            nursery.cancel_scope.cancel()
        assert p.state is not State.DISCONNECTED
    return Outcome(sent, received, p, changes)
