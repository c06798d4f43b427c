"""Write-ahead cursor: an item is on record as delivered (not acknowledged) in the saved
cursor before the program gets it, so after a crash it comes again marked
``redelivered``; the saves are coalesced when the store is slow (issue 11)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from participant.actor import ParticipantConfig
from participant.cursor import Cursor, MemoryCursor
from participant.model import Item, TextMessage

from .conftest import Rig


class Crash(Exception):
    """The process dies (nothing more reaches the store)."""


class CrashableCursor(MemoryCursor):
    """A MemoryCursor whose saves take ``delay`` seconds and stop once ``crashed``."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.crashed = False
        self.delay = delay
        self.saved: list[Cursor] = []

    async def save(self, cursor: Cursor) -> None:
        if self.delay:
            await trio.sleep(self.delay)
        if not self.crashed:
            await super().save(cursor)
            self.saved.append(cursor)


def on_record(cursor: Cursor | None, item: Item) -> bool:
    """Whether ``cursor`` has ``item`` as delivered or acknowledged."""
    if cursor is None:
        return False
    return item.id in {e.id for e in (*cursor.unacked, *cursor.acked)}


@pytest.mark.parametrize("consumer", ["iterator", "handler"])
async def test_an_item_handed_out_just_before_a_crash_comes_again_marked(
    autojump_clock: trio.testing.MockClock, rig: Rig, consumer: str
) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    handle = CrashableCursor()
    config = ParticipantConfig(iterate=consumer == "iterator")
    with pytest.raises(Crash):
        async with rig.connect(chat.participant_token, cursor=handle, config=config) as p:
            got = trio.Event()
            if consumer == "handler":

                @p.on(TextMessage)
                async def handle_text(item: TextMessage) -> None:
                    handle.crashed = True  # dies while handling it
                    got.set()
                    await trio.sleep_forever()

            (sent,) = await rig.send_messages(chat.contact_id, agent.participant_id, ["m0"])
            if consumer == "handler":
                await got.wait()
            else:
                async for item in p:
                    if isinstance(item, TextMessage):
                        handle.crashed = True
                        break
            raise Crash
    saved = handle.cursor
    assert saved is not None and sent in {e.id for e in saved.unacked}
    again: list[tuple[str, bool]] = []
    async with rig.connect(chat.participant_token, cursor=MemoryCursor(saved)) as p:
        async for item in p:
            if isinstance(item, TextMessage):
                again.append((str(item.id), item.redelivered))
                break
    assert again == [(sent, True)]


async def test_write_ahead_saves_are_coalesced_when_the_store_is_slow(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    handle = CrashableCursor(delay=1.0)  # a slow store: one second per save
    async with rig.connect(chat.participant_token, cursor=handle) as p:
        sent = await rig.send_messages(
            chat.contact_id, agent.participant_id, [f"m{n}" for n in range(60)]
        )
        got: list[str] = []
        async for item in p:
            if isinstance(item, TextMessage):
                # on record in a completed save before the program sees it
                assert on_record(handle.saved[-1] if handle.saved else None, item)
                got.append(str(item.id))
                if len(got) == len(sent):
                    break
    assert got == sent
    assert handle.saves <= 12  # not one write per item


async def test_leaving_while_a_save_is_in_flight_still_saves_the_last_acknowledgement(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    handle = CrashableCursor(delay=5.0)  # slower than closing the socket
    sent = await rig.send_messages(chat.contact_id, agent.participant_id, ["m0", "m1", "m2"])
    sent = sent[:2]
    async with rig.connect(chat.participant_token, cursor=handle, history=True) as p:
        got: list[str] = []
        async for item in p:  # each __anext__ acknowledges the last: a save in flight
            if isinstance(item, TextMessage):
                got.append(str(item.id))
                if len(got) == 2:
                    break
    assert got == sent
    saved = handle.cursor
    assert saved is not None and saved.acked_id == sent[1]  # m1, acknowledged on exit
