"""participant.core.log.ItemLog: dedupe, revisions, streaming, acknowledgement, cursor.

Plain synchronous tests: the log has no trio and no I/O.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

import pytest

from participant._time import parse_timestamp
from participant.core.log import MAX_HELD_CHUNKS, ItemLog, canonical_time, fingerprint
from participant.cursor import Cursor
from participant.model import Item, parse_item

T0 = "2026-12-01T10:00:00.000Z"


def at(second: float) -> str:
    whole = int(second)
    millis = round((second - whole) * 1000)
    return f"2026-12-01T10:{whole // 60:02d}:{whole % 60:02d}.{millis:03d}Z"


def message(item_id: str, second: float = 0, content: str = "hi", **extra: Any) -> Item:
    return parse_item({"Id": item_id, "AbsoluteTime": at(second), "Type": "MESSAGE",
                       "ContentType": "text/plain", "Content": content,
                       "ParticipantRole": "AGENT", **extra})


def chunk(item_id: str, number: int, piece: str, second: float = 0) -> Item:
    return message(item_id, second, piece, ParticipantRole="SYSTEM", MessageMetadata={
        "MessageId": item_id, "MessageCompleted": False, "ChunkNumber": number})


def completed(item_id: str, text: str, second: float = 0, metadata: bool = True) -> Item:
    extra: dict[str, Any] = {"ParticipantRole": "SYSTEM"}
    if metadata:
        extra["MessageMetadata"] = {"MessageId": item_id, "MessageCompleted": True}
    return message(item_id, second, text, **extra)


def attachment(item_id: str, status: str, second: float = 0) -> Item:
    return parse_item({"Id": item_id, "AbsoluteTime": at(second), "Type": "ATTACHMENT",
                       "ContentType": "application/pdf", "Attachments": [
                           {"AttachmentId": "a-" + item_id, "AttachmentName": "f.pdf",
                            "ContentType": "application/pdf", "Status": status}]})


def processed(item_id: str, status: str | None, content: str = "hi", second: float = 0) -> Item:
    metadata = {"MessageId": item_id} | ({"MessageProcessingStatus": status} if status else {})
    return message(item_id, second, content, MessageMetadata=metadata)


def new_log(**kwargs: Any) -> ItemLog:
    return ItemLog(window=600, max_ids=1000, reach=5, **kwargs)


# ---------------------------------------------------------------- construction


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"window": -1, "max_ids": 10}, "window"),
        ({"window": float("inf"), "max_ids": 10}, "window"),
        ({"window": 10, "max_ids": 0}, "max_ids"),
        ({"window": 10, "max_ids": 10, "reach": 11}, "reach"),
        ({"window": 10, "max_ids": 10, "streaming": "partial"}, "streaming"),
    ],
)
def test_bad_arguments_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        ItemLog(**kwargs)


def test_the_core_imports_no_trio() -> None:
    import participant.core.log as module

    source = Path(module.__file__).read_text()
    assert "import trio" not in source and "from trio" not in source


# ---------------------------------------------------------------- plain items


def test_a_new_item_is_delivered_as_itself_and_a_repeat_is_a_duplicate() -> None:
    log = new_log()
    item = message("m1", 1)
    assert log.accept(item) is item and item.revision == 1
    assert log.accept(message("m1", 1)) is None
    assert log.accept(message("m1", 1, "edited")) is None  # content alone: no revision
    assert log.duplicates == 2 and "m1" in log and len(log) == 1
    assert log.newest_time == at(1) and log.newest == parse_timestamp(at(1))


def test_items_without_id_are_always_delivered() -> None:
    log = new_log()
    item = parse_item({"Type": "MESSAGE", "Content": "x"})
    assert log.accept(item) is item and log.accept(item) is item and len(log) == 0


def test_receipts_in_metadata_are_not_revisions() -> None:
    log = new_log()
    first = message("m", 1, MessageMetadata={"MessageId": "m", "Receipts": []})
    assert log.accept(first) is first
    later = message("m", 1, MessageMetadata={"MessageId": "m", "Receipts": [
        {"ReadTimestamp": at(2), "RecipientParticipantId": "p"}]})
    assert log.accept(later) is None


def test_is_known_duplicate_is_true_only_when_accept_would_drop() -> None:
    log = new_log()
    assert not log.is_known_duplicate(message("m"))
    log.accept(message("m"))
    assert log.is_known_duplicate(message("m"))
    log.accept(attachment("a", "IN_PROGRESS"))
    assert not log.is_known_duplicate(attachment("a", "APPROVED"))


# ---------------------------------------------------------------- the SeenIds guarantees


def test_ids_older_than_the_window_are_forgotten() -> None:
    log = ItemLog(window=10, max_ids=1000, reach=5)
    for i in range(64):
        log.accept(message(f"m{i}", i))  # the 64th add prunes
    assert "m0" not in log and "m53" in log and "m63" in log


def test_max_ids_never_forgets_an_id_within_reach() -> None:
    log = ItemLog(window=600, max_ids=10, reach=5)
    for i in range(128):
        log.accept(message(f"m{i}", i / 10))  # 10 per second: 50 within reach
    assert all(f"m{i}" in log for i in range(128 - 50, 128))
    assert "m0" not in log and len(log) <= 50 + 64


def test_forgot_is_true_only_for_unknown_ids_no_later_than_one_forgotten() -> None:
    log = ItemLog(window=10, max_ids=1000, reach=5)
    assert not log.forgot(message("old", 0))  # nothing forgotten yet
    for n in range(64):  # the 64th new Id prunes: Ids before second 90 are forgotten
        log.accept(message(f"m{n}", n * 1.6))
    assert log.forgotten_until is not None and log.forgotten_until < at(90)
    assert "m0" not in log and "m63" in log
    assert log.forgot(message("m0", 0))  # forgotten: the log cannot tell
    assert log.forgot(message("never-seen", 1))  # as old: cannot tell either
    assert not log.forgot(message("m63", 63 * 1.6))  # remembered
    assert not log.forgot(message("new", 100.0))  # newer than anything forgotten
    assert not log.forgot(parse_item({"Type": "MESSAGE", "Content": "x"}))  # no Id


def test_a_pruned_track_is_forgotten_with_its_id() -> None:
    log = ItemLog(window=10, max_ids=1000, reach=5)
    log.accept(attachment("a", "IN_PROGRESS", 0))
    for i in range(64):
        log.accept(message(f"m{i}", 20 + i))
    assert "a" not in log and log.accept(attachment("a", "APPROVED", 0)) is not None


def test_canonical_time() -> None:
    assert canonical_time(T0) == T0
    assert canonical_time("2026-12-01T10:00:00Z") == T0
    assert canonical_time("2026-12-01T11:00:00+01:00") == T0
    assert canonical_time("nope") is None and canonical_time(7) is None


# ---------------------------------------------------------------- streaming replies


def test_chunks_are_stitched_and_the_completed_item_replaces_them() -> None:
    log = new_log()
    first = log.accept(chunk("r", 1, "Hello ", 1))
    assert first is not None and first.content == "Hello " and first.revision == 1
    assert not first.complete
    second = log.accept(chunk("r", 2, "wor", 2))
    assert second is not None and second.revision == 2 and second.content == "Hello wor"
    assert second.absolute_time == at(1)  # the first chunk's AbsoluteTime
    assert second.message_metadata is not None and second.message_metadata.chunk_number == 2
    done = log.accept(completed("r", "Hello world!", 3))
    assert done is not None and done.revision == 3 and done.content == "Hello world!"
    assert done.complete and done.absolute_time == at(1)
    # the transcript's item (no MessageMetadata) and late chunks are duplicates now
    assert log.accept(completed("r", "Hello world!", 1, metadata=False)) is None
    assert log.accept(chunk("r", 3, "ld!", 3)) is None


def test_an_out_of_order_chunk_waits_for_the_ones_before_it() -> None:
    log = new_log()
    assert log.accept(chunk("r", 1, "a", 1)) is not None
    assert log.accept(chunk("r", 3, "c", 3)) is None  # held back
    assert log.accept(chunk("r", 4, "d", 4)) is None
    assert log.held == 2
    caught_up = log.accept(chunk("r", 2, "b", 2))
    assert caught_up is not None and caught_up.content == "abcd" and caught_up.revision == 2
    assert caught_up.message_metadata is not None
    assert caught_up.message_metadata.chunk_number == 4
    assert log.accept(chunk("r", 3, "c", 3)) is None  # already stitched


def test_a_repeated_chunk_is_a_duplicate_exactly() -> None:
    log = new_log()
    log.accept(chunk("r", 1, "a"))
    assert log.accept(chunk("r", 1, "a")) is None
    log.accept(chunk("r", 3, "c"))
    assert log.accept(chunk("r", 3, "c")) is None


def test_a_reply_starting_mid_stream_waits_for_chunk_one_or_the_completed_item() -> None:
    log = new_log()
    assert log.accept(chunk("r", 2, "b", 2)) is None
    assert "r" in log
    done = log.accept(completed("r", "ab", 3))
    assert done is not None and done.revision == 1 and done.content == "ab"
    assert done.absolute_time == at(3)


def test_the_transcript_item_of_a_reply_in_progress_completes_it() -> None:
    log = new_log()
    log.accept(chunk("r", 1, "He", 1))
    log.accept(chunk("r", 3, "lo", 3))  # chunk 2 lost with the socket
    done = log.accept(completed("r", "Hello", 1, metadata=False))  # from GetTranscript
    assert done is not None and done.content == "Hello" and done.revision == 2 and done.complete


def test_the_completed_item_first_is_revision_one() -> None:
    log = new_log()
    done = log.accept(completed("r", "all", 1))
    assert done is not None and done.revision == 1
    assert log.accept(chunk("r", 1, "a", 1)) is None  # a late chunk


def test_held_chunks_are_bounded() -> None:
    log = new_log()
    log.accept(chunk("r", 1, "a"))
    for n in range(3, 3 + MAX_HELD_CHUNKS + 10):
        log.accept(chunk("r", n, "x"))
    assert log.accept(completed("r", "whole")) is not None


def test_streaming_completed_delivers_only_the_completed_reply() -> None:
    log = new_log(streaming="completed")
    assert log.accept(chunk("r", 1, "a", 1)) is None
    assert log.accept(chunk("r", 2, "b", 2)) is None
    assert "r" not in log  # partials are not remembered
    done = log.accept(completed("r", "ab", 3))
    assert done is not None and done.revision == 1 and done.content == "ab"
    assert log.accept(completed("r", "ab", 1, metadata=False)) is None


def test_wrong_typed_streaming_fields_are_no_partial() -> None:
    log = new_log()
    odd = message("r", 1, "text", MessageMetadata={"MessageCompleted": "false",
                                                   "ChunkNumber": "1"})
    assert log.accept(odd) is odd and odd.complete  # a plain message, delivered whole
    bad_number = message("s", 1, "x", MessageMetadata={"MessageCompleted": False,
                                                       "ChunkNumber": True})
    assert log.accept(bad_number) is None  # a partial without a usable ChunkNumber


# ---------------------------------------------------------------- attachments, processing


def test_attachment_status_changes_are_revisions() -> None:
    log = new_log()
    scanning = log.accept(attachment("a", "IN_PROGRESS", 1))
    assert scanning is not None and scanning.revision == 1 and not scanning.complete
    assert log.accept(attachment("a", "IN_PROGRESS", 1)) is None
    verdict = log.accept(attachment("a", "APPROVED", 2))
    assert verdict is not None and verdict.revision == 2 and verdict.complete
    assert verdict.absolute_time == at(1)
    assert log.accept(attachment("a", "APPROVED", 1)) is None
    assert log.accept(attachment("a", "IN_PROGRESS", 1)) is None  # stale: never goes back


def test_processing_status_and_rewritten_content_are_revisions() -> None:
    log = new_log()
    assert log.accept(processed("m", "PROCESSING", "my card is 1234")) is not None
    redacted = log.accept(processed("m", None, "my card is ****"))
    assert redacted is not None and redacted.revision == 2 and redacted.complete
    rejected = log.accept(processed("m", "REJECTED", "my card is ****"))
    assert rejected is not None and rejected.revision == 3
    assert log.accept(processed("m", None, "my card is ****")) is None  # delivered before


def test_a_verdict_for_an_item_first_seen_plain_is_a_revision() -> None:
    log = new_log()
    assert log.accept(message("m", 1)) is not None
    rejected = log.accept(processed("m", "REJECTED"))
    assert rejected is not None and rejected.revision == 2
    assert log.accept(processed("m", "PROCESSING")) is None  # stale


def test_fingerprint_is_stable_and_ignores_receipts() -> None:
    a = processed("m", "PROCESSING")
    assert fingerprint(a) == fingerprint(processed("m", "PROCESSING", second=9))
    assert fingerprint(a) != fingerprint(processed("m", "REJECTED"))
    # 16 hex digits, the same in every process (BLAKE2b of Content, status, attachments;
    # hash() would differ per process): a cursor written by one process matches in another
    assert fingerprint(a) == "df108f2331023738"


# ---------------------------------------------------------------- acknowledgement, cursor


def _deliver(log: ItemLog, item: Item) -> Item:
    out = log.accept(item)
    assert out is not None
    log.delivered(out)
    return out


def test_snapshot_holds_acked_unacked_and_streams() -> None:
    log = new_log()
    one = _deliver(log, message("m1", 1))
    two = _deliver(log, message("m2", 2))
    _deliver(log, chunk("r", 1, "Hel", 3))
    log.acked(one)
    cursor = log.snapshot(contact_id="c", participant_id="p")
    assert cursor.contact_id == "c" and cursor.participant_id == "p"
    assert cursor.acked_id == "m1" and cursor.acked_time == at(1)
    assert [e.id for e in cursor.acked] == ["m1"]
    assert {e.id for e in cursor.unacked} == {"m2", "r"}
    assert [(s.id, s.chunk_number, s.content, s.absolute_time) for s in cursor.streams] == [
        ("r", 1, "Hel", at(3))]
    log.acked(two)
    assert log.snapshot().acked_id == "m2"
    assert Cursor.from_json(cursor.to_json()) == cursor


def test_an_acknowledged_plain_item_is_not_kept_alive() -> None:
    """The log keeps an acknowledged plain item's Id and AbsoluteTime, not the item (its
    content and every other field): a busy chat would otherwise hold up to max_ids whole
    items. Its cursor entry is the same."""
    log = new_log()
    item = log.accept(message("m1", 1, "some text"))
    assert item is not None
    log.acked(item)
    gone = weakref.ref(item)
    del item
    gc.collect()
    assert gone() is None
    [entry] = log.snapshot().acked
    assert (entry.id, entry.absolute_time, entry.revision, entry.fingerprint) == (
        "m1", at(1), 1, None)
    assert entry.complete and not entry.in_place
    assert log.accept(message("m1", 1, "some text")) is None  # still a duplicate


def test_restore_skips_acked_redelivers_unacked_and_continues_a_stream() -> None:
    log = new_log()
    one = _deliver(log, message("m1", 1))
    _deliver(log, message("m2", 2))
    first = _deliver(log, chunk("r", 1, "Hel", 3))
    scan = _deliver(log, attachment("a", "IN_PROGRESS", 4))
    log.acked(one)
    log.acked(first)
    log.acked(scan)
    cursor = Cursor.from_json(log.snapshot().to_json())

    resumed = ItemLog.restore(cursor, window=600, max_ids=1000, reach=5)
    assert resumed.resume_from == parse_timestamp(at(2))  # m2, the oldest owed
    assert resumed.accept(message("m1", 1)) is None  # acknowledged
    again = resumed.accept(message("m2", 2))
    assert again is not None and again.redelivered and again.revision == 1
    assert resumed.accept(message("m2", 2)) is None
    more = resumed.accept(chunk("r", 2, "lo", 5))
    assert more is not None and more.content == "Hello" and more.revision == 2
    assert more.absolute_time == at(3) and not more.redelivered
    assert resumed.accept(attachment("a", "IN_PROGRESS", 4)) is None
    verdict = resumed.accept(attachment("a", "REJECTED", 4))
    assert verdict is not None and verdict.revision == 2
    assert resumed.accept(message("m3", 6)) is not None  # new items as ever


def test_a_changed_unacked_item_comes_back_as_its_next_revision() -> None:
    log = new_log()
    _deliver(log, attachment("a", "IN_PROGRESS", 1))
    resumed = ItemLog.restore(log.snapshot(), window=600, max_ids=1000, reach=5)
    verdict = resumed.accept(attachment("a", "APPROVED", 1))
    assert verdict is not None and verdict.revision == 2 and not verdict.redelivered


def test_restore_with_streaming_completed_delivers_the_reply_whole() -> None:
    log = new_log()
    log.acked(_deliver(log, chunk("r", 1, "a", 1)))
    resumed = ItemLog.restore(log.snapshot(), window=600, max_ids=1000, reach=5,
                              streaming="completed")
    assert resumed.accept(chunk("r", 2, "b", 2)) is None
    done = resumed.accept(completed("r", "ab", 1, metadata=False))
    assert done is not None and done.content == "ab"


def test_a_fresh_log_has_no_resume_point() -> None:
    assert new_log().resume_from is None
    assert ItemLog.restore(Cursor(), window=10, max_ids=10).resume_from is None


def test_acked_items_are_pruned_to_the_reach_before_the_oldest_owed() -> None:
    log = ItemLog(window=600, max_ids=1000, reach=5)
    for i in range(100):
        log.acked(_deliver(log, message(f"m{i}", i)))
    cursor = log.snapshot()
    assert cursor.acked_id == "m99"
    assert {e.id for e in cursor.acked} == {f"m{i}" for i in range(94, 100)}
    assert cursor.unacked == ()


def test_acked_items_within_reach_are_capped_at_max_ids_newest_kept() -> None:
    # all 300 within reach (10 ms apart): the cap, not the horizon, prunes; the oldest go
    # first, in acknowledgement order (also across the prunes every 64 acks)
    log = ItemLog(window=600, max_ids=10, reach=5)
    for i in range(300):
        log.acked(_deliver(log, message(f"m{i}", i / 100)))
        if i in (63, 64, 200):
            assert len(log.snapshot().acked) == 10
    assert [e.id for e in log.snapshot().acked] == [f"m{i}" for i in range(290, 300)]


def test_unacked_items_keep_the_acked_ones_after_them() -> None:
    log = ItemLog(window=600, max_ids=1000, reach=5)
    _deliver(log, message("slow", 0))  # a handler still busy with it
    for i in range(1, 100):
        log.acked(_deliver(log, message(f"m{i}", i)))
    cursor = log.snapshot()
    assert [e.id for e in cursor.unacked] == ["slow"]
    assert len(cursor.acked) == 99  # all after the oldest owed item are kept
    resumed = ItemLog.restore(cursor, window=600, max_ids=1000, reach=5)
    assert resumed.resume_from == parse_timestamp(at(0))
    assert all(resumed.accept(message(f"m{i}", i)) is None for i in range(1, 100))
    again = resumed.accept(message("slow", 0))
    assert again is not None and again.redelivered


def test_unacked_state_is_bounded_by_max_ids() -> None:
    log = ItemLog(window=600, max_ids=10, reach=5)
    for i in range(30):
        _deliver(log, message(f"m{i}", i))
    assert [e.id for e in log.snapshot().unacked] == [f"m{i}" for i in range(20, 30)]


def test_unacked_items_beyond_max_ids_are_resumed_from_the_oldest() -> None:
    # A program holding more than max_ids unacknowledged items (manual ack): those no
    # longer kept by Id are bounded by AbsoluteTime; the resume fills from the oldest
    # and delivers them again marked redelivered (before: resume_from was at(20) and
    # m0..m19 were lost).
    log = ItemLog(window=600, max_ids=10, reach=5)
    for i in range(30):
        _deliver(log, message(f"m{i}", i))
    cursor = Cursor.from_json(log.snapshot().to_json())
    assert (cursor.unacked_from, cursor.unacked_until) == (at(0), at(19))
    resumed = ItemLog.restore(cursor, window=600, max_ids=10, reach=5)
    assert resumed.resume_from == parse_timestamp(at(0))
    again = [resumed.accept(message(f"m{i}", i)) for i in range(30)]
    assert all(out is not None and out.redelivered for out in again)
    assert resumed.accept(message("m30", 30)) == message("m30", 30)
    assert not resumed.accept(message("m31", 31)).redelivered  # type: ignore[union-attr]


def test_acking_the_evicted_items_forgets_their_range() -> None:
    log = ItemLog(window=600, max_ids=10, reach=5)
    items = [_deliver(log, message(f"m{i}", i)) for i in range(30)]
    for out in items[:19]:
        log.acked(out)
    assert log.snapshot().unacked_from == at(0)  # m19 is still owed
    log.acked(items[19])
    log.acked(items[19])  # a second ack of the same item counts once
    cursor = log.snapshot()
    assert (cursor.unacked_from, cursor.unacked_until) == (None, None)
    assert "unacked_from" not in cursor.to_json()
    assert [e.id for e in cursor.unacked] == [f"m{i}" for i in range(20, 30)]


def test_a_resumed_range_is_kept_until_the_fill_delivered_past_it() -> None:
    log = ItemLog(window=600, max_ids=2, reach=0)
    for i in range(6):
        _deliver(log, message(f"m{i}", i))
    cursor = log.snapshot()
    assert (cursor.unacked_from, cursor.unacked_until) == (at(0), at(3))
    resumed = ItemLog.restore(cursor, window=600, max_ids=2, reach=0)
    _deliver(resumed, message("m0", 0))  # a second crash meanwhile: still owed from 0
    assert resumed.snapshot().unacked_from == at(0)
    for i in range(1, 6):
        resumed.acked(_deliver(resumed, message(f"m{i}", i)))
    resumed.acked(_deliver(resumed, message("m6", 6)))  # past the range: forgotten
    cursor = resumed.snapshot()
    assert (cursor.unacked_from, cursor.unacked_until) == (None, None)
    assert [e.id for e in cursor.unacked] == ["m0"]  # tracked by Id again


def test_acking_an_older_revision_keeps_the_newer_one_owed() -> None:
    log = new_log()
    first = _deliver(log, chunk("r", 1, "a"))
    _deliver(log, chunk("r", 2, "b"))
    log.acked(first)
    assert [(e.id, e.revision) for e in log.snapshot().unacked] == [("r", 2)]


# ---------------------------------------------------------------- property: any interleaving

from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@st.composite
def _chat(
    draw: st.DrawFn, max_items: int = 5
) -> tuple[list[Item], list[Item], dict[str, Item]]:
    """Items of a chat as live frames (each item's versions, chunks of streaming replies)
    and as the transcript holds them (their final state)."""
    live: list[Item] = []
    final: dict[str, Item] = {}
    for n in range(draw(st.integers(1, max_items))):
        item_id = f"i{n}"
        second = float(n)
        kind = draw(st.sampled_from(["plain", "stream", "attachment", "processed"]))
        if kind == "plain":
            live.append(message(item_id, second, f"text {n}"))
            final[item_id] = message(item_id, second, f"text {n}")
        elif kind == "stream":
            pieces = draw(st.lists(st.text("abc ", min_size=1, max_size=3), min_size=1,
                                   max_size=5))
            live += [chunk(item_id, k + 1, p, second + k / 10) for k, p in enumerate(pieces)]
            live.append(completed(item_id, "".join(pieces), second + len(pieces) / 10))
            final[item_id] = completed(item_id, "".join(pieces), second, metadata=False)
        elif kind == "attachment":
            verdict = draw(st.sampled_from(["APPROVED", "REJECTED"]))
            live += [attachment(item_id, "IN_PROGRESS", second),
                     attachment(item_id, verdict, second)]
            final[item_id] = attachment(item_id, verdict, second)
        else:
            status = draw(st.sampled_from([None, "REJECTED", "FAILED"]))
            live += [processed(item_id, "PROCESSING", "card 1234", second),
                     processed(item_id, status, "card ****", second)]
            final[item_id] = processed(item_id, status, "card ****", second)
    # reorder and duplicate live frames
    frames = draw(st.permutations(live))
    repeats = draw(st.lists(st.sampled_from(live), max_size=6))
    for frame in repeats:
        frames.insert(draw(st.integers(0, len(frames))), frame)
    transcript = sorted(final.values(), key=lambda i: i.absolute_time or "")
    return frames, transcript, final


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chat=_chat(), resume_at=st.none() | st.integers(0, 30), repeat_transcript=st.booleans())
def test_any_interleaving_ends_in_each_items_final_state(
    chat: tuple[list[Item], list[Item], dict[str, Item]],
    resume_at: int | None,
    repeat_transcript: bool,
) -> None:
    frames, transcript, final = chat
    sequence = frames + transcript + (transcript if repeat_transcript else [])
    log = new_log()
    delivered: dict[str, list[Item]] = {}
    for index, frame in enumerate(sequence):
        if index == resume_at:  # a crash after acknowledging all delivered; resume
            log = ItemLog.restore(Cursor.from_json(log.snapshot().to_json()),
                                  window=600, max_ids=1000, reach=5)
        out = log.accept(frame)
        if out is None:
            continue
        log.delivered(out)
        log.acked(out)
        assert out.id is not None and not out.redelivered
        delivered.setdefault(out.id, []).append(out)
    assert set(delivered) == set(final)  # no item lost
    for item_id, revisions in delivered.items():
        numbers = [r.revision for r in revisions]
        assert numbers == sorted(set(numbers)), numbers  # strictly increasing
        states = [(r.content, fingerprint(r), r.complete) for r in revisions]
        assert len(states) == len(set(states)), states  # no identical revision twice
        last = revisions[-1]
        assert fingerprint(last) == fingerprint(final[item_id])
        assert last.content == final[item_id].content and last.complete
        # every revision keeps the first one's AbsoluteTime (a streaming reply whose
        # completed frame came first keeps that frame's)
        assert {r.absolute_time for r in revisions} == {revisions[0].absolute_time}
        if last.message_metadata is None or last.message_metadata.message_completed is None:
            assert last.absolute_time == final[item_id].absolute_time


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chat=_chat(), resume_at=st.integers(0, 30), data=st.data())
def test_a_resume_redelivers_exactly_the_unacknowledged(
    chat: tuple[list[Item], list[Item], dict[str, Item]],
    resume_at: int,
    data: st.DataObject,
) -> None:
    """Some delivered items are not acknowledged before a crash: after the resume, each
    comes again marked ``redelivered`` with its revision (or as its next revision, if it
    changed meanwhile); acknowledged ones never come again unchanged; every item still
    ends in its final state."""
    frames, transcript, final = chat
    sequence = frames + transcript
    log = new_log()
    delivered: dict[str, list[Item]] = {}
    unacked: set[str] = set()
    owed: dict[str, Item] = {}  # delivered, not acknowledged, at the crash
    for index, frame in enumerate(sequence):
        if index == resume_at:
            log = ItemLog.restore(Cursor.from_json(log.snapshot().to_json()),
                                  window=600, max_ids=1000, reach=5)
            owed = {i: delivered[i][-1] for i in unacked}
        out = log.accept(frame)
        if out is None:
            continue
        assert out.id is not None
        if out.redelivered:
            event("an item was redelivered")
            before = owed.pop(out.id)
            assert out.revision == before.revision and fingerprint(out) == fingerprint(before)
        log.delivered(out)
        if index < resume_at and not data.draw(st.booleans(), label=f"ack {index}"):
            unacked.add(out.id)
        else:
            log.acked(out)
            unacked.discard(out.id)
        delivered.setdefault(out.id, []).append(out)
    assert set(delivered) == set(final)
    for item_id, revisions in delivered.items():
        numbers = [r.revision for r in revisions if not r.redelivered]
        assert numbers == sorted(set(numbers)), numbers
        assert fingerprint(revisions[-1]) == fingerprint(final[item_id])
        assert revisions[-1].content == final[item_id].content


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chat=_chat(max_items=9), crash_at=st.integers(0, 30), max_ids=st.integers(1, 4),
       data=st.data())
def test_a_resume_redelivers_every_unacknowledged_beyond_max_ids(
    chat: tuple[list[Item], list[Item], dict[str, Item]],
    crash_at: int,
    max_ids: int,
    data: st.DataObject,
) -> None:
    """More items delivered and not acknowledged than ``max_ids`` (acknowledged late, in
    any order, or never) before a crash: the resume starts at or before every one of
    them, and the fill from there (GetTranscript, before any live frame, as the actor
    does) delivers each again, marked ``redelivered`` when unchanged; every item still
    ends in its final state."""
    frames, transcript, final = chat
    cut = min(crash_at, len(frames))
    log = ItemLog(window=600, max_ids=max_ids, reach=1)
    delivered: dict[str, list[Item]] = {}
    unacked: dict[str, Item] = {}

    def feed(item: Item, owed: dict[str, Item], acks: bool) -> None:
        out = log.accept(item)
        if out is None:
            return
        assert out.id is not None
        before = owed.pop(out.id, None)
        if before is not None and (fingerprint(out), out.complete) == (
            fingerprint(before), before.complete
        ):
            assert out.redelivered, out.id  # the same revision again: marked
        log.delivered(out)
        delivered.setdefault(out.id, []).append(out)
        if not acks:
            log.acked(out)
            return
        unacked[out.id] = out  # acknowledge any of the outstanding items, or none
        for item_id in data.draw(st.lists(st.sampled_from(sorted(unacked)), max_size=2,
                                          unique=True), label="acks"):
            log.acked(unacked.pop(item_id))

    for frame in frames[:cut]:
        feed(frame, {}, acks=True)
    log = ItemLog.restore(Cursor.from_json(log.snapshot().to_json()),
                          window=600, max_ids=max_ids, reach=1)
    owed = dict(unacked)
    if owed:
        event("unacked items beyond max_ids" if len(owed) > max_ids else "few unacked")
        oldest = min(parse_timestamp(i.absolute_time or "") for i in owed.values())
        assert log.resume_from is not None and log.resume_from <= oldest
    start = log.resume_from
    for item in transcript:  # the resumed fill, from 1 s before (the actor's overlap)
        if start is None or parse_timestamp(item.absolute_time or "") >= start - 1:
            feed(item, owed, acks=False)
    assert owed == {}  # every owed item came again
    for frame in frames[cut:] + transcript:  # live frames, a later fill
        feed(frame, owed, acks=False)
    assert set(delivered) == set(final)
    for item_id, revisions in delivered.items():
        assert fingerprint(revisions[-1]) == fingerprint(final[item_id])
        assert revisions[-1].content == final[item_id].content


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 5) | st.text("ab", max_size=3),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text("ab", max_size=2),
                                                                inner, max_size=2),
    max_leaves=4,
)
_odd_items = st.fixed_dictionaries(
    {"Id": st.sampled_from(["x", "y"])},
    optional={
        "AbsoluteTime": st.sampled_from([at(1), at(2), "bad"]) | _json,
        "Type": st.sampled_from(["MESSAGE", "ATTACHMENT", "MESSAGEMETADATA"]) | _json,
        "ContentType": st.sampled_from(["text/plain"]) | _json,
        "Content": st.text("ab", max_size=3) | _json,
        "Attachments": st.lists(st.fixed_dictionaries({}, optional={
            "AttachmentId": st.just("a") | _json,
            "Status": st.sampled_from(["IN_PROGRESS", "APPROVED"]) | _json}), max_size=2)
        | _json,
        "MessageMetadata": st.fixed_dictionaries({}, optional={
            "MessageCompleted": st.booleans() | _json,
            "ChunkNumber": st.integers(0, 4) | _json,
            "MessageProcessingStatus": st.sampled_from(["PROCESSING", "REJECTED"]) | _json,
        }) | _json,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_odd_items, max_size=12), st.sampled_from(["chunks", "completed"]))
def test_wrong_typed_frames_never_confuse_the_log(
    frames: list[dict[str, Any]], streaming: Any
) -> None:
    log = new_log(streaming=streaming)
    revisions: dict[str, list[int]] = {}
    for wire in frames:
        out = log.accept(parse_item(wire))
        if out is None:
            continue
        assert isinstance(out.content, str | None) and isinstance(out.revision, int)
        if streaming == "completed":
            assert out.complete or out.message_metadata is None or (
                out.message_metadata.message_completed is not False)
        assert out.id is not None
        revisions.setdefault(out.id, []).append(out.revision)
        log.delivered(out)
        log.acked(out)
    for numbers in revisions.values():
        assert numbers == list(range(1, len(numbers) + 1))
    assert Cursor.from_json(log.snapshot().to_json()) == log.snapshot()


def test_acked_plain_items_give_the_same_cursor_entries_as_in_place_ones() -> None:
    # Plain items are stored as themselves on ack (the dispatch fast path) and made
    # CursorItems by snapshot(): same entry as before, canonical time, pruned alike.
    from participant.cursor import CursorItem

    log = ItemLog(window=600, max_ids=1000, reach=5)
    short = parse_item({"Id": "old", "AbsoluteTime": "2026-12-01T10:00:00Z", "Type": "MESSAGE",
                        "ContentType": "text/plain", "Content": "hi"})
    log.acked(_deliver(log, short))
    log.acked(_deliver(log, message("m1", 30)))
    log.acked(_deliver(log, attachment("a1", "APPROVED", 31)))
    cursor = log.snapshot()
    assert cursor.acked_id == "a1" and cursor.acked_time == at(31)
    assert [e.id for e in cursor.acked] == ["m1", "a1"]  # "old" pruned: 30 s before
    assert cursor.acked[0] == CursorItem(id="m1", absolute_time=at(30), revision=1)
    assert cursor.acked[1].in_place and cursor.acked[1].fingerprint is not None
    log = ItemLog(window=600, max_ids=1000, reach=60)
    log.acked(_deliver(log, short))
    entry = log.snapshot().acked[0]
    assert entry == CursorItem(id="old", absolute_time=T0, revision=1, complete=True)
    restored = ItemLog.restore(log.snapshot(), window=600, max_ids=1000, reach=60)
    assert restored.accept(short) is None


@pytest.mark.parametrize(
    ("wire_time", "canonical"),
    [
        ("2026-12-01T10:00:05.250Z", "2026-12-01T10:00:05.250Z"),  # the service's form
        ("2026-12-01T10:00:05.25Z", "2026-12-01T10:00:05.250Z"),
        ("2026-12-01T11:00:05.250+01:00", "2026-12-01T10:00:05.250Z"),
        ("2026-13-01T10:00:05.250Z", None),  # well shaped, not a time
        (None, None),
    ],
)
def test_acked_time_is_canonical_whatever_the_wire_form(
    wire_time: str | None, canonical: str | None
) -> None:
    # acked() reuses the canonical AbsoluteTime accept() remembered when it is the wire
    # string itself; every other form is made canonical again
    log = new_log()
    log.acked(_deliver(log, message("old", 1)))
    item = parse_item({"Id": "m", "Type": "MESSAGE", "ContentType": "text/plain",
                       "Content": "hi"} | ({"AbsoluteTime": wire_time} if wire_time else {}))
    log.acked(_deliver(log, item))
    expected = canonical if canonical is not None else at(1)
    assert log.acked_time == expected
    entry = {e.id: e for e in log.snapshot().acked}["m"]
    assert entry.absolute_time == canonical


def test_acked_after_restore_uses_the_items_own_time() -> None:
    # after restore() the log remembers the cursor's time of an owed Id; a repeat that
    # carries another AbsoluteTime is acknowledged at its own (canonical) time
    log = new_log()
    _deliver(log, message("m", 3))
    resumed = ItemLog.restore(log.snapshot(), window=600, max_ids=1000, reach=5)
    again = resumed.accept(message("m", 4))
    assert again is not None and again.redelivered
    resumed.acked(again)
    assert resumed.acked_time == canonical_time(again.absolute_time) == at(4)
