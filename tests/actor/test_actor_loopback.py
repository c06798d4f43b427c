"""Loopback: the actor over real TCP against the emulator served by hypercorn.

Lifetimes are shortened (URL window 1.5 s, ConnectionExpiry 2 s) so renewals happen
within seconds of real time. The test waits on state changes (events), never on sleeps.
"""

from __future__ import annotations

from collections import Counter

import trio

from participant.actor import ParticipantConfig, connect
from participant.emulator import EmulatorConfig, serve
from participant.machine import State, StateChange, Trigger
from participant.model import TextMessage


async def test_renewals_and_a_forced_drop_over_loopback_lose_nothing() -> None:
    cfg = EmulatorConfig(url_open_window=1.5, connection_expiry=2.0, rate_limits=False)
    pcfg = ParticipantConfig(url_window=1.0, backoff_initial=0.2, backoff_max=1.0)
    async with serve(cfg, host="127.0.0.1", port=0) as server:
        emu = server.emulator
        chat = await emu.start_chat()
        agent = await emu.add_participant(chat.contact_id)
        sent: list[str] = []
        received: Counter[str] = Counter()
        changes: list[StateChange] = []

        async def say(text: str) -> None:
            wire = await emu.send_message_as(chat.contact_id, agent.participant_id, content=text)
            sent.append(wire["Id"])

        with trio.fail_after(20):  # a guard against hanging, not a timing assertion
            async with connect(
                chat.participant_token, endpoint_url=server.endpoint_url, config=pcfg
            ) as p:
                await say("first")
                feed = p.state_changes()
                dropped = False
                arrived = trio.Event()
                async with trio.open_nursery() as nursery:

                    async def consume() -> None:
                        nonlocal arrived
                        async for item in p:
                            if isinstance(item, TextMessage) and item.id is not None:
                                received[item.id] += 1
                                arrived.set()
                                arrived = trio.Event()

                    nursery.start_soon(consume)
                    async for change in feed:
                        changes.append(change)
                        # A message at every transition: exactly when sockets overlap/switch.
                        await say(f"{change.old}->{change.new}")
                        renewals = p.stats.renewals
                        if renewals >= 2 and not dropped and change.new is State.SUBSCRIBED:
                            dropped = True
                            emu.faults.drop_sockets(chat.participant_id, close_frame=False)
                        if dropped and p.stats.reconnects >= 1 and renewals >= 2:
                            break
                    await say("last")
                    while set(sent) - set(received):
                        await arrived.wait()
                    nursery.cancel_scope.cancel()
    assert set(received) == set(sent)
    assert all(n == 1 for n in received.values())
    triggers = [c.trigger for c in changes]
    assert triggers.count(Trigger.RENEWED) >= 2
    assert Trigger.LOST in triggers and Trigger.RETRY in triggers
    assert p.state is State.DISCONNECTED
