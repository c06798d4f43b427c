"""Emulator.check_member: the public check the admin API's per-participant routes use."""

from __future__ import annotations

import pytest

from participant.emulator import ApiError, Emulator


async def test_check_member_accepts_a_member_and_refuses_others(emulator: Emulator) -> None:
    chat = await emulator.start_chat()
    other = await emulator.start_chat()
    agent = await emulator.add_participant(chat.contact_id)
    emulator.check_member(chat.contact_id, chat.participant_id)
    emulator.check_member(chat.contact_id, agent.participant_id)
    for contact_id, participant_id in [(other.contact_id, agent.participant_id),
                                       (chat.contact_id, "no-such-participant")]:
        with pytest.raises(ApiError) as caught:
            emulator.check_member(contact_id, participant_id)
        assert caught.value.code == "ResourceNotFoundException"
