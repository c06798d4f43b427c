"""A frame whose AbsoluteTime has the service's shape but is no time ("2026-13-45T99:...")
must not end the participant: the dedupe window keeps it as an unknown time."""

from __future__ import annotations

import json

import pytest
import trio
import trio.testing

from participant.core.log import canonical_time
from participant.machine import State

from .conftest import Rig

BAD_TIME = "2026-13-45T99:99:99.999Z"  # 24 characters, "T", "." and "Z" where they belong


@pytest.mark.parametrize("text", [BAD_TIME, "2026-02-30T10:00:00.000Z", "abcd-ef-ghTij:kl:mn.opqZ"])
def test_canonical_time_gives_none_for_a_well_shaped_non_time(text: str) -> None:
    assert canonical_time(text) is None


async def test_a_well_shaped_non_time_does_not_end_the_participant(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    async with rig.connect(chat.participant_token) as p:
        (sock,) = rig.emu.service.participant(chat.participant_id).sockets
        item = {"Id": "bad", "Type": "MESSAGE", "ContentType": "text/plain", "Content": "x",
                "AbsoluteTime": BAD_TIME}
        sock.deliver({"topic": "aws/chat", "content": json.dumps(item)})
        with trio.fail_after(60):  # a guard against hanging, not a timing assertion
            async for got in p:
                if got.id == "bad":
                    break
            # a drop, so a gap fill computes its start from the newest AbsoluteTime
            rig.emu.faults.drop_sockets(chat.participant_id, close_frame=False)
            sent = await rig.emu.send_message_as(chat.contact_id, agent.participant_id,
                                                 content="after")
            async for got in p:
                if got.id == sent["Id"]:
                    break
        assert p.state is State.SUBSCRIBED and p.error is None
        assert p.stats.reconnects == 1
