"""participant.view.TranscriptView: order, revisions, own messages' status, changes."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
import trio.testing

from participant.core.log import ItemLog
from participant.model import Item, SendMessageResponse, from_wire, parse_item
from participant.view import MessageStatus, TranscriptView, ViewChange

ME = "p-me"
AGENT = "p-agent"


def at(second: int) -> str:
    return f"2026-12-01T10:00:{second:02d}.000Z"


def message(item_id: str, second: int, content: str = "hi", who: str = AGENT,
            **extra: Any) -> Item:
    return parse_item({"Id": item_id, "AbsoluteTime": at(second), "Type": "MESSAGE",
                       "ContentType": "text/plain", "Content": content,
                       "ParticipantId": who, **extra})


def receipt(kind: str, message_id: str, who: str = AGENT, second: int = 30) -> Item:
    return parse_item({"Id": f"r-{kind}-{message_id}", "AbsoluteTime": at(second),
                       "Type": "EVENT",
                       "ContentType": f"application/vnd.amazonaws.connect.event.message.{kind}",
                       "Content": json.dumps({"messageId": message_id}), "ParticipantId": who})


def metadata_receipt(message_id: str, read: bool) -> Item:
    stamp = {"ReadTimestamp": at(40)} if read else {"DeliveredTimestamp": at(40)}
    return parse_item({"Id": f"md-{message_id}-{read}", "Type": "MESSAGEMETADATA",
                       "MessageMetadata": {"MessageId": message_id, "Receipts": [
                           {**stamp, "RecipientParticipantId": AGENT}]}})


def test_items_are_ordered_by_absolute_time_and_keyed_by_id() -> None:
    view = TranscriptView(ME)
    for item in (message("b", 2), message("c", 3), message("a", 1)):
        assert view.apply(item) is not None
    assert [i.id for i in view.items] == ["a", "b", "c"] and len(view) == 3
    assert view.get("b") == message("b", 2) and view.get("zz") is None
    assert "a" in view and [i.id for i in view] == ["a", "b", "c"]
    assert view.status("a") is None  # not an own message


def test_revisions_update_in_place() -> None:
    log = ItemLog(window=600, max_ids=100, reach=5)
    view = TranscriptView(ME)
    frames = [
        message("r", 1, "Hel", MessageMetadata={"MessageCompleted": False, "ChunkNumber": 1}),
        message("x", 2),
        message("r", 3, "lo", MessageMetadata={"MessageCompleted": False, "ChunkNumber": 2}),
        message("r", 4, "Hello", MessageMetadata={"MessageCompleted": True}),
    ]
    kinds = []
    for frame in frames:
        out = log.accept(frame)
        assert out is not None
        change = view.apply(out)
        assert change is not None
        kinds.append(change.kind)
    assert kinds == ["added", "added", "updated", "updated"]
    assert [i.id for i in view.items] == ["r", "x"]  # the reply keeps its first time
    reply = view.get("r")
    assert reply is not None and reply.content == "Hello" and reply.revision == 3
    assert view.apply(reply) is None  # the same revision again changes nothing


def test_typing_and_receipts_are_not_items() -> None:
    view = TranscriptView(ME)
    typing = parse_item({"Id": "t", "Type": "TYPING", "ParticipantId": AGENT})
    assert view.apply(typing) is None
    assert view.apply(receipt("read", "unknown")) is None
    assert len(view) == 0


def test_own_message_goes_sending_sent_delivered_read() -> None:
    view = TranscriptView(ME)
    view.apply(message("m0", 1))
    added = view.sending("tok-1", "hello")
    assert added.kind == "added" and added.status == MessageStatus.SENDING
    assert added.client_token == "tok-1" and added.item.id is None
    assert view.status("tok-1") == MessageStatus.SENDING
    assert [i.content for i in view.items] == ["hi", "hello"]  # a send comes last
    sent = view.sent("tok-1", SendMessageResponse(id="m1", absolute_time=at(5)))
    assert sent is not None and sent.kind == "status" and sent.status == MessageStatus.SENT
    assert sent.item.id == "m1" and sent.item.absolute_time == at(5)
    assert view.status("m1") == view.status("tok-1") == MessageStatus.SENT
    # its echo on the socket: the same item, nothing changes; a processor's rewrite does
    assert view.apply(message("m1", 5, "hello", who=ME)) is None
    echo = view.apply(message("m1", 5, "hello!", who=ME))
    assert echo is not None and echo.kind == "updated" and echo.status == MessageStatus.SENT
    delivered = view.apply(receipt("delivered", "m1"))
    assert delivered is not None and delivered.status == MessageStatus.DELIVERED
    read = view.apply(metadata_receipt("m1", read=True))
    assert read is not None and read.kind == "status" and read.status == MessageStatus.READ
    assert view.apply(receipt("delivered", "m1")) is None  # never goes back
    assert len(view) == 2


def test_the_echo_before_the_answer_and_early_receipts() -> None:
    view = TranscriptView(ME)
    view.sending("tok", "hi")
    assert view.apply(receipt("read", "m9")) is None  # receipt before its message: kept
    view.apply(message("m9", 3, who=ME))  # the socket echo before SendMessage's answer
    assert view.status("m9") == MessageStatus.READ
    change = view.sent("tok", SendMessageResponse(id="m9", absolute_time=at(3)))
    assert change is not None and change.status == MessageStatus.READ
    assert len(view) == 1 and view.status("tok") == MessageStatus.READ


def test_a_failed_or_rejected_send() -> None:
    view = TranscriptView(ME)
    view.sending("tok", "hi")
    failed = view.send_failed("tok", RuntimeError("boom"))
    assert failed.status == MessageStatus.FAILED and view.status("tok") == MessageStatus.FAILED
    view.sending("tok2", "card 1234")
    response = from_wire(SendMessageResponse, {
        "Id": "m2", "AbsoluteTime": at(4),
        "MessageMetadata": {"MessageId": "m2", "MessageProcessingStatus": "REJECTED"}})
    rejected = view.sent("tok2", response)
    assert rejected is not None and rejected.status == MessageStatus.FAILED
    assert view.apply(receipt("read", "m2")) is None  # a failed send stays failed
    with pytest.raises(ValueError, match="tok2"):
        view.sending("tok2", "again")
    with pytest.raises(KeyError):
        view.sent("never", response)


def test_own_receipts_and_messages_of_others_keep_no_status() -> None:
    view = TranscriptView(ME)
    view.apply(message("a", 1))
    assert view.apply(receipt("read", "a", who=ME)) is None  # the program's own receipt
    assert view.status("a") is None


def test_an_own_message_from_history_is_sent() -> None:
    view = TranscriptView(ME)
    change = view.apply(message("old", 1, who=ME))
    assert change is not None and change.status == MessageStatus.SENT


async def test_changes_are_observable() -> None:
    view = TranscriptView(ME)
    seen: list[ViewChange] = []

    async def observe() -> None:
        async for change in view.changes():
            seen.append(change)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(observe)
        await trio.testing.wait_all_tasks_blocked()
        view.apply(message("a", 1))
        view.sending("tok", "x")
        await trio.testing.wait_all_tasks_blocked()
        view.sent("tok", SendMessageResponse(id="m", absolute_time=at(2)))
        view.close()
    assert [(c.kind, c.item.id) for c in seen] == [("added", "a"), ("added", None),
                                                   ("status", "m")]


async def test_a_slow_observer_misses_the_oldest_changes() -> None:
    view = TranscriptView(ME)
    feed = view.changes(maxlen=3)
    for n in range(10):
        view.apply(message(f"m{n}", n))
    view.close()
    got = [change.item.id async for change in feed]
    assert got == ["m7", "m8", "m9"] and feed.missed == 7
    late = view.changes()
    assert [c async for c in late] == []  # the view is closed
    with pytest.raises(ValueError, match="maxlen"):
        view.changes(maxlen=0)


async def test_aclose_ends_one_observer() -> None:
    view = TranscriptView(ME)
    feed, other = view.changes(), view.changes()
    view.apply(message("a", 1))
    await feed.aclose()
    view.apply(message("b", 2))
    assert [c.item.id async for c in feed] == ["a"]
    view.close()
    assert [c.item.id async for c in other] == ["a", "b"]
