"""Handlers registered at the top of the ``connect()`` block see every item: nothing is
delivered before the block runs, so the history (and any live item that came earlier) is
not dispatched to a participant with no handlers yet (issue 11: nothing waits silently,
nothing is lost)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from participant.actor import ParticipantConfig
from participant.model import TextMessage

from .conftest import Rig


# trio runs ready tasks in a random order, so one run may pass by luck: before the fix,
# about half of these runs lost the whole history.
@pytest.mark.parametrize("run", range(8))
async def test_a_handler_only_program_gets_the_history(
    autojump_clock: trio.testing.MockClock, rig: Rig, run: int
) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    history = await rig.send_messages(chat.contact_id, agent.participant_id, ["a", "b", "c"])
    seen: list[str] = []
    all_in = trio.Event()
    config = ParticipantConfig(iterate=False)
    async with rig.connect(chat.participant_token, config=config, history=True) as p:

        @p.on(TextMessage)
        async def record(item: TextMessage) -> None:
            assert item.id is not None
            seen.append(item.id)
            if len(seen) == 4:
                all_in.set()

        (live,) = await rig.send_messages(chat.contact_id, agent.participant_id, ["d"])
        with trio.fail_after(30):
            await all_in.wait()
    # handler tasks run concurrently: compare what arrived, each once
    assert sorted(seen) == sorted([*history, live])
