"""The delivery contract end to end (docs/concepts.md, "The delivery contract and its API"):
streamed AI replies reach the program whole (live, after a drop in the middle of the
stream, from history), an attachment's scan verdict arrives as a revision, a resume from a
MemoryCursor after a crash delivers nothing twice except items marked redelivered, replies
with in_reply_to cannot double, and the transcript view tracks own messages."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from participant.actor import Participant, ParticipantConfig
from participant.cursor import Cursor, MemoryCursor
from participant.emulator import EmulatorConfig
from participant.model import AttachmentMessage, Item, TextMessage

from .conftest import Rig, open_rig, take_texts

CHUNKS = ["Hello ", "there, ", "this is ", "a long ", "streamed answer."]
WHOLE = "".join(CHUNKS)


async def revisions_of(p: Participant, item_id: str) -> list[Item]:
    """Every revision of ``item_id`` the iterator yields, up to the complete one."""
    out: list[Item] = []
    with trio.fail_after(600):  # a guard: a truncated reply never completes
        async for item in p:
            if item.id == item_id:
                out.append(item)
                if item.complete:
                    return out
    raise AssertionError("iterator ended")


def check_whole(revisions: list[Item]) -> None:
    assert revisions, "nothing delivered"
    assert [r.revision for r in revisions] == list(range(1, len(revisions) + 1))
    last = revisions[-1]
    assert last.complete and last.content == WHOLE
    for r in revisions:  # every revision is the whole text so far, never a bare piece
        assert WHOLE.startswith(str(r.content))
    assert len({r.absolute_time for r in revisions}) == 1  # the first chunk's time


async def test_a_streamed_reply_reaches_the_program_whole_live(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    async with rig.connect(chat.participant_token) as p:
        reply = rig.emu.start_streamed_reply(chat.contact_id, CHUNKS, interval=0.5)
        revisions = await revisions_of(p, reply)
    check_whole(revisions)
    assert revisions[0].content == CHUNKS[0]
    assert len(revisions) == len(CHUNKS) + 1  # each chunk, then the completed item


async def test_a_streamed_reply_survives_a_drop_in_the_middle_of_the_stream(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    async with rig.connect(chat.participant_token) as p:
        reply = rig.emu.start_streamed_reply(chat.contact_id, CHUNKS, interval=2.0)
        got: list[Item] = []
        with trio.fail_after(600):
            async for item in p:
                if item.id != reply:
                    continue
                got.append(item)
                if len(got) == 2:  # two chunks in: cut the socket (no close frame)
                    rig.emu.faults.drop_sockets(chat.participant_id, close_frame=False)
                if item.complete:
                    break
        assert p.stats.reconnects >= 1
    check_whole(got)


async def test_a_streamed_reply_from_history_is_delivered_whole_once(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    reply = await rig.emu.send_streamed_reply(chat.contact_id, CHUNKS, interval=0.5)
    async with rig.connect(chat.participant_token, history=True) as p:
        revisions = await revisions_of(p, reply)
    assert len(revisions) == 1 and revisions[0].revision == 1
    check_whole(revisions)


async def test_streaming_completed_delivers_only_the_finished_reply(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    config = ParticipantConfig(streaming="completed")
    async with rig.connect(chat.participant_token, config=config) as p:
        reply = rig.emu.start_streamed_reply(chat.contact_id, CHUNKS, interval=0.5)
        revisions = await revisions_of(p, reply)
    assert len(revisions) == 1
    check_whole(revisions)


async def test_an_attachment_scan_verdict_arrives_as_a_revision(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cfg = EmulatorConfig(attachment_scan_delay=5.0, attachment_scan_verdict="REJECTED")
    async with open_rig(cfg) as rig:
        chat = await rig.emu.start_chat()
        async with rig.connect(chat.participant_token) as p:
            attachment_id = await p.send_attachment(
                b"%PDF-1.4 x", attachment_name="a.pdf", content_type="application/pdf"
            )
            seen: list[AttachmentMessage] = []
            async for item in p:
                if isinstance(item, AttachmentMessage):
                    seen.append(item)
                    if item.complete:
                        break
    assert [i.revision for i in seen] == [1, 2]
    assert len({i.id for i in seen}) == 1
    statuses = [[a.status for a in i.attachments or ()] for i in seen]
    assert statuses == [["IN_PROGRESS"], ["REJECTED"]]
    assert seen[-1].attachments and seen[-1].attachments[0].attachment_id == attachment_id


class CrashableCursor(MemoryCursor):
    """A MemoryCursor whose saves stop when the process 'crashes' (nothing more reaches
    the store, like a killed process)."""

    def __init__(self) -> None:
        super().__init__()
        self.crashed = False

    async def save(self, cursor: Cursor) -> None:
        if not self.crashed:
            await super().save(cursor)


async def test_resume_from_a_cursor_after_a_crash_delivers_nothing_twice(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    handle = CrashableCursor()
    sent = await rig.send_messages(chat.contact_id, agent.participant_id, ["m0", "m1", "m2"])
    first: list[str] = []
    async with rig.connect(chat.participant_token, cursor=handle, history=True) as p:
        async for item in p:  # m0 and m1 acknowledged by asking for the next; m2 not
            if isinstance(item, TextMessage):
                first.append(str(item.id))
                if len(first) == 3:
                    break
        await trio.testing.wait_all_tasks_blocked()  # the coalesced save is done
        handle.crashed = True  # the process dies now: no further save
    assert first == sent
    later = await rig.send_messages(chat.contact_id, agent.participant_id, ["m3", "m4"])
    saved = handle.cursor
    assert saved is not None and saved.acked_id == sent[1]

    again: list[tuple[str, bool]] = []
    resumed = MemoryCursor(saved)
    async with rig.connect(chat.participant_token, cursor=resumed) as p:
        async for item in p:
            if isinstance(item, TextMessage):
                again.append((str(item.id), item.redelivered))
                if item.id == later[-1]:
                    break
    # m2 was delivered but never acknowledged: once more, marked; m3, m4 are new; m0 and
    # m1 never come again.
    assert again == [(sent[2], True), (later[0], False), (later[1], False)]
    assert resumed.saves >= 1  # the cursor is saved after acknowledgements


async def test_a_reply_in_reply_to_an_item_cannot_double(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    await rig.send_messages(chat.contact_id, agent.participant_id, ["question"])
    ids: list[Any] = []
    for _run in range(2):  # the same program twice (e.g. a resumed bot)
        async with rig.connect(chat.participant_token, history=True) as p:
            (question,) = [m for m in await take_texts(p, 1)]
            response = await p.send_message("the answer", in_reply_to=question)
            ids.append(response.id)
    assert ids[0] == ids[1]
    answers = [i for i in rig.emu.transcript(chat.contact_id) if i.get("Content") == "the answer"]
    assert len(answers) == 1


async def test_the_transcript_view_tracks_own_messages(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    async with rig.connect(chat.participant_token) as p:
        view = p.transcript_view()
        assert p.transcript_view() is view
        response = await p.send_message("hi")
        assert response.id is not None
        assert view.status(response.id) in ("SENT", "DELIVERED", "READ")
        await rig.send_messages(chat.contact_id, agent.participant_id, ["hello back"])
        await take_texts(p, 2)
        assert [i.content for i in view.items if isinstance(i, TextMessage)] == [
            "hi",
            "hello back",
        ]


async def test_an_item_the_program_failed_on_is_not_acknowledged_on_exit(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    """Leaving the block with an exception does not acknowledge the item the program was
    handling: a resume from the cursor delivers it again, marked redelivered."""
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    handle = MemoryCursor()
    sent = await rig.send_messages(chat.contact_id, agent.participant_id, ["m0", "m1"])
    with pytest.raises(ValueError, match="the bot failed on m1"):
        async with rig.connect(chat.participant_token, cursor=handle, history=True) as p:
            async for item in p:
                if isinstance(item, TextMessage) and item.id == sent[1]:
                    raise ValueError("the bot failed on m1")
    saved = handle.cursor
    assert saved is not None and saved.acked_id == sent[0]
    again: list[tuple[str, bool]] = []
    async with rig.connect(chat.participant_token, cursor=MemoryCursor(saved)) as p:
        async for item in p:
            if isinstance(item, TextMessage):
                again.append((str(item.id), item.redelivered))
                break
    assert again == [(sent[1], True)]
