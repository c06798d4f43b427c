"""A consumer that stops reading for a while, across planned renewals: every item still
arrives exactly once when it reads again (live items dropped for lack of room are
recovered from the transcript)."""

from __future__ import annotations

import trio
import trio.testing

from participant.actor import ParticipantConfig
from participant.emulator import EmulatorConfig
from participant.machine import State
from participant.model import TextMessage

from .conftest import open_rig


async def test_paused_consumer_across_renewals_loses_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cfg = EmulatorConfig(connection_expiry=600.0, rate_limits=False)
    async with open_rig(cfg) as rig:
        chat = await rig.emu.start_chat()
        agent = await rig.emu.add_participant(chat.contact_id)
        config = ParticipantConfig(max_buffered_items=4)
        async with rig.connect(chat.participant_token, config=config) as p:
            sent = []
            for n in range(30):  # 30 messages over 50 minutes, nobody reading
                await trio.sleep(100)
                wire = await rig.emu.send_message_as(
                    chat.contact_id, agent.participant_id, content=f"m{n}"
                )
                sent.append(wire["Id"])
            got: list[str] = []
            with trio.move_on_after(3600):
                async for item in p:
                    if isinstance(item, TextMessage):
                        assert item.id is not None
                        got.append(item.id)
                        if len(set(got)) == len(sent):
                            break
            assert p.state is not State.DISCONNECTED
        assert sorted(got) == sorted(sent)
        assert p.stats.renewals >= 4
