"""The actor over the in-memory emulator: connect, deliver, leave cleanly."""

from __future__ import annotations

import trio
import trio.testing

from participant.machine import State, StateChange
from participant.model import TextMessage

from .conftest import Rig


async def test_connect_receive_and_leave(autojump_clock: trio.testing.MockClock, rig: Rig) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    changes: list[StateChange] = []
    async with rig.connect(chat.participant_token) as p:
        p.on_state_change(changes.append)
        assert p.state is State.SUBSCRIBED
        await rig.emu.send_message_as(chat.contact_id, agent.participant_id, content="hello")
        async for item in p:
            if isinstance(item, TextMessage):
                assert item.content == "hello"
                break
    assert p.state is State.DISCONNECTED
    assert changes[-1].new is State.DISCONNECTED
    assert rig.emu.open_sockets(chat.participant_id) == 0
