"""The item log: what a participant delivers of the items it receives (issue 11).

:class:`ItemLog` replaces the actor's Id set (``SeenIds``). Every item, from a socket or
from a gap fill (GetTranscript), goes through :meth:`ItemLog.accept`, which returns the
item to deliver (the first delivery of its Id, or a new **revision** of it) or ``None``
(a duplicate, a stale or held-back frame). The rules are those of docs/concepts.md,
"Revisions: items that change in place", and of AWS's JS client (chatjs 5.x
``PartialMessageUtil``, [protocol](protocol.md#items-that-change-in-place)):

- an item whose Id is new is delivered with ``revision=1``;
- **streaming replies** (``MessageMetadata.MessageCompleted`` is ``false``, ``ChunkNumber``
  n >= 1): chunk n is stitched when it is the previous + 1 (chunks held back meanwhile
  are stitched after it), and the item is delivered with ``content`` = the whole text so
  far, ``message_metadata.chunk_number`` = the last chunk stitched, ``absolute_time`` =
  the first delivered chunk's and the next revision number. A chunk out of order is held
  back (at most :data:`MAX_HELD_CHUNKS` per reply); a repeat of a stitched or held chunk
  is a duplicate. The completed item (``MessageCompleted`` not ``false``: the live final
  frame, or a GetTranscript item of an Id whose reply is in progress, which has no
  MessageMetadata) replaces the partials: its Content is the whole text;
- with ``streaming="completed"`` partials are never delivered (nor remembered): only the
  completed reply is, as revision 1;
- **items that change in place** (with attachments, a MessageProcessingStatus, or a
  completed streaming reply): a repeat whose :func:`fingerprint` (Content,
  MessageProcessingStatus, attachment Ids and Statuses) differs from every revision
  delivered is the next revision; one equal to a delivered revision is a duplicate; one
  that is not :attr:`~participant.model.Item.complete` after a complete revision is stale
  (a verdict never goes back to ``IN_PROGRESS``) and dropped;
- **any other item** is delivered once: a repeat of its Id is a duplicate (a content
  difference alone is not a revision, receipts inside MessageMetadata neither).

Wrong-typed wire fields never reach these rules: the model keeps them in ``extra``
(issue 11, point 14), so a ``"MessageCompleted": "false"`` is no partial.

Memory: an Id is remembered as its canonical AbsoluteTime only (the plain items, nearly
all of them), plus a small record for items that change in place; the bounds of the old
``SeenIds`` hold (window, ``max_ids``, never forgetting an Id within ``reach`` of the
newest AbsoluteTime, pruning every 64 adds).

Acknowledgement: the actor reports each item handed to the program
(:meth:`ItemLog.delivered`) and each the program is done with (:meth:`ItemLog.acked`);
:meth:`ItemLog.snapshot` turns that into a :class:`~participant.cursor.Cursor`, and
:meth:`ItemLog.restore` back into a log that skips what was acknowledged, marks the
delivered-but-unacknowledged items ``redelivered=True`` and continues a streaming reply in
progress.

No trio, no I/O: plain synchronous methods, unit-tested without an event loop.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from datetime import datetime
from itertools import islice
from typing import Final, Literal

import attrs

from .._time import format_timestamp, parse_timestamp
from ..cursor import Cursor, CursorItem, CursorStream
from ..model.items import Item

__all__ = ["MAX_HELD_CHUNKS", "ItemLog", "Streaming", "canonical_time", "fingerprint"]

Streaming = Literal["chunks", "completed"]

MAX_HELD_CHUNKS: Final = 256
"""Out-of-order chunks held back per streaming reply; beyond, later ones are dropped (the
completed item still completes the reply)."""

_PRUNE_EVERY: Final = 64
_fromisoformat = datetime.fromisoformat


def canonical_time(absolute_time: object) -> str | None:
    """An AbsoluteTime in the service's fixed-width form ``YYYY-MM-DDTHH:MM:SS.mmmZ``.

    Strings of that form (what the service sends) are returned unchanged, only checked
    to be a time (``datetime.fromisoformat``: a month 13 gives ``None``); others are
    parsed and re-formatted; unparsable ones and non-strings give ``None``. Canonical
    strings order like the times they denote.
    """
    if type(absolute_time) is not str:
        return None
    if (
        len(absolute_time) == 24
        and absolute_time[23] == "Z"
        and absolute_time[19] == "."
        and absolute_time[10] == "T"
    ):
        try:  # the shape alone lets "2026-13-45T99:99:99.999Z" through (C, ~40 ns)
            _fromisoformat(absolute_time)
        except ValueError:
            return None
        return absolute_time
    try:
        return format_timestamp(parse_timestamp(absolute_time))
    except (ValueError, OverflowError):  # not ISO-8601; a year out of range
        return None


def fingerprint(item: Item) -> str:
    """16 hex digits identifying the state of ``item`` that revisions are about: Content,
    ``MessageMetadata.MessageProcessingStatus`` and each attachment's Id and Status.

    Stable across processes (BLAKE2b, not ``hash()``), so a :class:`Cursor` can carry it.
    Receipts, MessageCompleted/ChunkNumber, AbsoluteTime and unknown fields are not part
    of it.
    """
    metadata = item.message_metadata
    status = metadata.message_processing_status if metadata is not None else None
    attachments = [[a.attachment_id, a.status] for a in item.attachments or ()]
    text = json.dumps([item.content, status, attachments], separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _is_partial(item: Item) -> bool:
    metadata = item.message_metadata
    return metadata is not None and metadata.message_completed is False


def _changes_in_place(item: Item) -> bool:
    """Whether repeats of ``item``'s Id are compared by :func:`fingerprint`."""
    if item.attachments:
        return True
    metadata = item.message_metadata
    return metadata is not None and (
        metadata.message_completed is not None or metadata.message_processing_status is not None
    )


class _Track:
    """The revision state of one Id that changes in place (or a streaming reply)."""

    __slots__ = ("chunk", "complete", "held", "prints", "revision", "text", "time")

    def __init__(self, revision: int, time: str | None, complete: bool) -> None:
        self.revision = revision  # last revision delivered (0: none yet)
        self.time = time  # AbsoluteTime (wire form) every revision carries
        self.complete = complete  # the last revision delivered was complete
        self.prints: tuple[str, ...] = ()  # fingerprints of the revisions delivered
        self.chunk: int | None = None  # streaming in progress: last ChunkNumber stitched
        self.text = ""  # streaming in progress: chunks 1..chunk stitched
        self.held: dict[int, str] | None = None  # streaming: out-of-order chunks


class ItemLog:
    """Per-participant delivery state: deduplication, revisions, acknowledgements.

    Args:
        window: seconds; an Id is remembered while its AbsoluteTime is within ``window``
            of the newest AbsoluteTime seen (``ParticipantConfig.dedupe_window``).
        max_ids: beyond this many Ids the oldest are forgotten first, except those within
            ``reach`` (``dedupe_max_ids``); also bounds the acknowledgement state.
        reach: seconds, <= ``window``; how far before the newest AbsoluteTime a gap fill
            may start (the larger of ``gap_fill_overlap`` and ``renewal_fill_overlap``):
            Ids within it are never forgotten, so a fill never delivers an item twice.
        streaming: ``"chunks"`` (default: every revision of a streaming reply) or
            ``"completed"`` (only the completed reply, as revision 1).

    Raises:
        ValueError: ``window`` or ``reach`` negative or not finite, ``reach > window``,
            ``max_ids < 1``, or ``streaming`` not one of the two values.
    """

    __slots__ = (
        "_acked",
        "_acks",
        "_adds",
        "_evicted",
        "_evicted_from",
        "_evicted_until",
        "_newest_epoch",
        "_owed_from",
        "_owed_mark",
        "_owed_until",
        "_redeliver",
        "_seen",
        "_tracks",
        "_unacked",
        "acked_id",
        "acked_time",
        "duplicates",
        "held",
        "max_ids",
        "newest_time",
        "reach",
        "streaming",
        "window",
    )

    def __init__(
        self,
        window: float,
        max_ids: int,
        reach: float = 0.0,
        streaming: Streaming = "chunks",
    ) -> None:
        if not (0 <= window < float("inf")):
            raise ValueError(f"window must be a finite number of seconds >= 0, got {window!r}")
        if not (0 <= reach <= window):
            raise ValueError(f"reach must be between 0 and window ({window}) s, got {reach!r}")
        if type(max_ids) is not int or max_ids < 1:
            raise ValueError(f"max_ids must be an int >= 1, got {max_ids!r}")
        if streaming not in ("chunks", "completed"):
            raise ValueError(f"streaming must be 'chunks' or 'completed', got {streaming!r}")
        self.window = window
        self.max_ids = max_ids
        self.reach = reach
        self.streaming: Streaming = streaming
        # Id -> canonical AbsoluteTime of its first sighting (None: unknown), oldest first
        self._seen: OrderedDict[str, str | None] = OrderedDict()
        self._tracks: dict[str, _Track] = {}
        #: Newest canonical AbsoluteTime of an item accepted, ``None`` before the first.
        self.newest_time: str | None = None
        self._newest_epoch: tuple[str, float] | None = None
        self._adds = 0
        #: Items :meth:`accept` dropped as duplicates (or stale), and held back.
        self.duplicates = 0
        self.held = 0
        # acknowledgement state
        self._unacked: dict[str, Item] = {}  # delivered, not acknowledged
        # acknowledged: a CursorItem, or the Item itself for a plain one (no MessageMetadata,
        # no attachments, not tracked), made a CursorItem by snapshot() only
        self._acked: dict[str, CursorItem | Item] = {}
        self._acks = 0
        #: Newest acknowledged item (by AbsoluteTime): its Id and canonical AbsoluteTime.
        self.acked_id: str | None = None
        self.acked_time: str | None = None
        self._redeliver: dict[str, CursorItem] = {}  # from restore(): unacked before
        # Delivered-not-acknowledged items beyond max_ids, no longer kept by Id: how many
        # (not acknowledged since) and the canonical AbsoluteTimes bounding them.
        self._evicted = 0
        self._evicted_from: str | None = None
        self._evicted_until: str | None = None
        # From restore(): such items of the cursor's (Cursor.unacked_from/unacked_until):
        # a new Id in this range is delivered marked redelivered, until an item after it
        # was delivered or acknowledged.
        self._owed_from: str | None = None
        self._owed_until: str | None = None
        self._owed_mark = ""  # _owed_from - reach: a reply's first chunk may be earlier

    # ---- queries ---------------------------------------------------------------------

    @property
    def newest(self) -> float | None:
        """Newest AbsoluteTime accepted, in epoch seconds (``None`` before the first):
        where a gap fill starts (minus its overlap)."""
        text = self.newest_time
        if text is None:
            return None
        cached = self._newest_epoch
        if cached is None or cached[0] != text:
            cached = self._newest_epoch = (text, parse_timestamp(text))
        return cached[1]

    @property
    def resume_from(self) -> float | None:
        """Epoch seconds a gap fill after :meth:`restore` must start at (before the
        actor's overlap): the oldest of the newest acknowledged item, the items delivered
        but not acknowledged (including those beyond ``max_ids``, known only by the
        oldest's AbsoluteTime: ``Cursor.unacked_from``) and the streaming replies in
        progress; ``None`` when the log knows no time (a fresh log)."""
        times = [c.absolute_time for c in self._redeliver.values()]
        times += [t.time for t in self._tracks.values() if t.chunk is not None]
        times += [self.acked_time, self._owed_from, self._evicted_from]
        known = [canonical_time(t) for t in times]
        present = [t for t in known if t is not None]
        return parse_timestamp(min(present)) if present else None

    def __len__(self) -> int:
        """Ids remembered."""
        return len(self._seen)

    def __contains__(self, item_id: object) -> bool:
        """Whether the Id ``item_id`` is remembered (delivered, or a reply in progress)."""
        return item_id in self._seen

    def is_known_duplicate(self, item: Item) -> bool:
        """True when :meth:`accept` would certainly return ``None`` for ``item``: a repeat
        of an Id delivered once that does not change in place (cheap; for dropping
        duplicates while there is no room to deliver). ``False`` says nothing."""
        item_id = item.id
        return (
            item_id is not None
            and item_id in self._seen
            and item_id not in self._tracks
            and item_id not in self._redeliver
            and item.message_metadata is None
            and not item.attachments
        )

    # ---- accepting -------------------------------------------------------------------

    def accept(self, item: Item) -> Item | None:
        """The item to deliver for ``item`` (a frame's or a GetTranscript entry's), or
        ``None``: a duplicate, a stale frame, or held back (an out-of-order chunk, or a
        partial under ``streaming="completed"``). See the module docstring for the rules.

        The result is ``item`` itself for a first delivery, else a copy
        (:func:`attrs.evolve`) with ``revision``, and for a streaming reply ``content``,
        ``absolute_time`` and ``message_metadata.chunk_number``, set. Accepting records
        the result as delivered to the log: call it only when the result can be
        delivered (see :meth:`is_known_duplicate` for the case without room). An item
        without Id is always delivered, never remembered.
        """
        item_id = item.id
        if item_id is None:
            if _is_partial(item):
                self.held += 1
                return None  # a chunk without Id cannot be stitched
            return item
        if self._redeliver and item_id in self._redeliver:
            return self._owed(item, item_id)
        track = self._tracks.get(item_id)
        if track is not None:
            result = self._revise(item, item_id, track)
        elif item_id in self._seen:
            result = self._repeat_plain(item, item_id)
        elif item.message_metadata is None and not item.attachments:
            self._remember(item_id, item.absolute_time)  # the usual case: a plain new item
            if self._owed_until is not None:
                return self._mark_owed(item)
            return item
        else:
            result = self._first(item, item_id)
        if result is not None and self._owed_until is not None:
            return self._mark_owed(result)
        return result

    def _mark_owed(self, item: Item) -> Item:
        """A result of :meth:`accept` after :meth:`restore`: marked ``redelivered`` when
        its AbsoluteTime is in the cursor's range of unacknowledged items not listed by
        Id (it may be one of them: the log cannot tell)."""
        at = canonical_time(item.absolute_time)
        owed_until = self._owed_until
        if at is not None and owed_until is not None and self._owed_mark <= at <= owed_until:
            return attrs.evolve(item, redelivered=True)
        return item

    def _owed(self, item: Item, item_id: str) -> Item | None:
        """An Id delivered but not acknowledged before :meth:`restore`: the log is as if
        that revision had been delivered; a repeat of it is delivered once more, marked
        ``redelivered``; a newer revision supersedes it."""
        owed = self._redeliver.pop(item_id)
        track = self._tracks.get(item_id)
        if track is not None:
            result = self._revise(item, item_id, track)
        elif item_id in self._seen:
            result = self._repeat_plain(item, item_id)
        else:
            result = self._first(item, item_id)
        if result is not None:
            return result  # a newer revision than the one owed
        if _is_partial(item) or (
            owed.fingerprint is not None and fingerprint(item) != owed.fingerprint
        ):
            self._redeliver[item_id] = owed  # stale or held back: still owed
            return None
        self.duplicates -= 1  # counted by the path above: it is a redelivery
        time = track.time if track is not None else item.absolute_time
        return attrs.evolve(item, absolute_time=time, revision=owed.revision, redelivered=True)

    def _remember(self, item_id: str, absolute_time: str | None) -> None:
        at = canonical_time(absolute_time)
        self._seen[item_id] = at
        if at is not None:
            newest = self.newest_time
            if newest is None or at > newest:
                self.newest_time = at
        self._adds += 1
        if self._adds >= _PRUNE_EVERY:
            self.prune()

    def _first(self, item: Item, item_id: str) -> Item | None:
        """A new Id with MessageMetadata or attachments."""
        metadata = item.message_metadata
        if metadata is not None and metadata.message_completed is False:
            if self.streaming == "completed":
                self.held += 1
                return None
            number = metadata.chunk_number
            if number is None or number < 1:
                self.held += 1
                return None
            track = _Track(0, None, False)
            track.chunk = 0
            self._tracks[item_id] = track
            self._remember(item_id, item.absolute_time)
            return self._chunk(item, track, number)
        self._remember(item_id, item.absolute_time)
        if _changes_in_place(item):
            track = _Track(1, item.absolute_time, item.complete)
            track.prints = (fingerprint(item),)
            self._tracks[item_id] = track
        return item

    def _chunk(self, item: Item, track: _Track, number: int) -> Item | None:
        """Chunk ``number`` of a streaming reply in progress (``track.chunk`` is set)."""
        last = track.chunk
        assert last is not None
        held = track.held
        if number <= last or (held is not None and number in held):
            self.duplicates += 1
            return None
        piece = item.content or ""
        if number != last + 1:
            if held is None:
                held = track.held = {}
            if len(held) < MAX_HELD_CHUNKS:
                held[number] = piece
            self.held += 1
            return None
        text = track.text + piece
        last = number
        if held:
            while last + 1 in held:
                last += 1
                text += held.pop(last)
        track.text = text
        track.chunk = last
        track.revision += 1
        if track.time is None:
            track.time = item.absolute_time
        metadata = item.message_metadata
        if metadata is not None and metadata.chunk_number != last:
            metadata = attrs.evolve(metadata, chunk_number=last)
        return attrs.evolve(
            item,
            content=text,
            absolute_time=track.time,
            message_metadata=metadata,
            revision=track.revision,
        )

    def _revise(self, item: Item, item_id: str, track: _Track) -> Item | None:
        """A repeat of an Id that changes in place (or whose reply is in progress)."""
        partial = _is_partial(item)
        if track.chunk is not None:  # a streaming reply in progress
            if partial:
                metadata = item.message_metadata
                assert metadata is not None
                number = metadata.chunk_number
                if number is None or number < 1:
                    self.held += 1
                    return None
                return self._chunk(item, track, number)
            # the completed reply: the live final frame or the transcript's item
            track.chunk = None
            track.text = ""
            track.held = None
            track.revision += 1
            track.complete = item.complete
            track.prints = (fingerprint(item),)
            if track.time is None:
                track.time = item.absolute_time
            return attrs.evolve(item, absolute_time=track.time, revision=track.revision)
        if partial:  # a late chunk of a completed reply
            self.duplicates += 1
            return None
        print_ = fingerprint(item)
        if print_ in track.prints or (track.complete and not item.complete):
            self.duplicates += 1  # an identical repeat, or stale (IN_PROGRESS after a verdict)
            return None
        track.prints += (print_,)
        track.complete = item.complete
        track.revision += 1
        return attrs.evolve(item, absolute_time=track.time, revision=track.revision)

    def _repeat_plain(self, item: Item, item_id: str) -> Item | None:
        """A repeat of an Id first delivered as a plain item (no attachments, status or
        streaming metadata): a revision only if it now carries a processing status or
        attachments, and is complete."""
        metadata = item.message_metadata
        status = metadata.message_processing_status if metadata is not None else None
        if (status is None and not item.attachments) or not item.complete:
            self.duplicates += 1
            return None
        track = _Track(2, self._seen[item_id], True)
        track.prints = (fingerprint(item),)
        self._tracks[item_id] = track
        return attrs.evolve(item, absolute_time=track.time, revision=2)

    def prune(self) -> None:
        """Forget the Ids older than ``window`` seconds before the newest AbsoluteTime,
        then the oldest beyond ``max_ids`` that are not within ``reach`` of it (called
        every 64 new Ids by :meth:`accept`)."""
        self._adds = 0
        seen = self._seen
        tracks = self._tracks
        newest = self.newest
        # The oldest entry is popped, and put back in front when it is to be kept: one C
        # call per Id forgotten (a peek with next(iter(seen.items())) took three).
        pop = seen.popitem
        if newest is not None:
            horizon = format_timestamp(newest - self.window)
            while seen:
                first_id, first = pop(last=False)
                if first is None or first >= horizon:
                    seen[first_id] = first
                    seen.move_to_end(first_id, last=False)
                    break
                if tracks:
                    tracks.pop(first_id, None)
        max_ids = self.max_ids
        if len(seen) > max_ids:
            reach = format_timestamp(newest - self.reach) if newest is not None else ""
            while len(seen) > max_ids:
                first_id, first = pop(last=False)
                if first is not None and first >= reach:
                    seen[first_id] = first  # within gap fill's reach: kept
                    seen.move_to_end(first_id, last=False)
                    break
                if tracks:
                    tracks.pop(first_id, None)

    # ---- acknowledgement and cursor --------------------------------------------------

    def _entry(self, item: Item, item_id: str, *, always: bool = False) -> CursorItem:
        """The cursor entry of a delivered ``item``; its fingerprint is set for items
        that change in place, and for every one when ``always`` (unacknowledged items,
        whose repeat after a resume must be recognised)."""
        track = self._tracks.get(item_id)
        in_place = track is not None and track.chunk is None
        return CursorItem(
            id=item_id,
            absolute_time=canonical_time(item.absolute_time),
            revision=item.revision,
            fingerprint=fingerprint(item) if in_place or always else None,
            complete=item.complete,
            in_place=in_place,
        )

    def delivered(self, item: Item) -> None:
        """Record that ``item`` (a result of :meth:`accept`) was handed to the program
        (yielded by the iterator or given to a handler): until :meth:`acked`, a resume
        delivers it again with ``redelivered=True``. At most ``max_ids`` such items are
        kept by Id, the oldest delivered dropped first; of those dropped the log keeps
        only how many are not acknowledged yet and the oldest and newest AbsoluteTime
        (``Cursor.unacked_from`` / ``unacked_until``): a resume fills from the oldest and
        delivers them again, marked ``redelivered`` (with any other item of that range
        it no longer remembers as acknowledged: at least once, never lost)."""
        item_id = item.id
        if item_id is None:
            return
        if self._owed_until is not None:
            self._past_owed(item)
        unacked = self._unacked
        unacked.pop(item_id, None)
        unacked[item_id] = item  # made a CursorItem by snapshot() only
        if len(unacked) > self.max_ids:
            self._evict(unacked.pop(next(iter(unacked))))

    def _evict(self, item: Item) -> None:
        """``item`` is no longer kept by Id among the unacknowledged: count it and widen
        the range of AbsoluteTimes a resume redelivers."""
        self._evicted += 1
        at = canonical_time(item.absolute_time)
        if at is None:
            return
        if self._evicted_from is None or at < self._evicted_from:
            self._evicted_from = at
        if self._evicted_until is None or at > self._evicted_until:
            self._evicted_until = at

    def _acked_evicted(self, item_id: str, at: str | None) -> None:
        """An acknowledgement of an Id not kept among the unacknowledged while some were
        evicted: one fewer owed if it is in their range (and not acknowledged before);
        the range is forgotten when none is owed any more."""
        low, high = self._evicted_from, self._evicted_until
        if item_id in self._acked or at is None or low is None or high is None:
            return
        if low <= at <= high:
            self._evicted -= 1
            if self._evicted <= 0:
                self._evicted = 0
                self._evicted_from = self._evicted_until = None

    def _past_owed(self, item: Item) -> None:
        """The cursor's range of unacknowledged items (after :meth:`restore`) is
        forgotten once an item after it is delivered or acknowledged: the resumed fill
        (in AbsoluteTime order) has delivered the range again, tracked by Id since."""
        at = canonical_time(item.absolute_time)
        until = self._owed_until
        if at is not None and until is not None and at > until:
            self._owed_from = self._owed_until = None

    def acked(self, item: Item) -> None:
        """Record that the program is done with ``item``: a resume skips it (and every
        earlier revision of its Id). Acknowledged items are kept from ``reach`` seconds
        before the oldest of the newest acknowledged one and the unacknowledged ones
        (pruned every 64 acknowledgements, at most ``max_ids``)."""
        item_id = item.id
        if item_id is None:
            return
        entry: CursorItem | Item
        if item.message_metadata is None and not item.attachments and item_id not in self._tracks:
            # a plain item (nearly all): its entry is made from the item by snapshot()
            entry, revision = item, item.revision
            # accept() remembered canonical_time(item.absolute_time), which is that very
            # string when it was canonical already (the service's form): then it is the
            # answer (every value in _seen is canonical), without parsing it again
            at = self._seen.get(item_id)
            if at is not item.absolute_time:
                at = canonical_time(item.absolute_time)
        else:
            entry = self._entry(item, item_id)
            revision, at = entry.revision, entry.absolute_time
        if self._owed_until is not None:
            self._past_owed(item)
        unacked = self._unacked
        pending = unacked.get(item_id) if unacked else None
        if pending is not None:
            if pending.revision <= revision:
                del unacked[item_id]
        elif self._evicted:
            self._acked_evicted(item_id, at)
        acked = self._acked
        acked.pop(item_id, None)
        acked[item_id] = entry
        if at is not None and (self.acked_time is None or at >= self.acked_time):
            self.acked_id, self.acked_time = item_id, at
        self._acks += 1
        if self._acks >= _PRUNE_EVERY:
            self._prune_acked()

    def _prune_acked(self) -> None:
        self._acks = 0
        owed = [canonical_time(i.absolute_time) for i in self._unacked.values()]
        owed += [e.absolute_time for e in self._redeliver.values()]
        owed += [self.acked_time, self._evicted_from, self._owed_from]
        times = [t for t in owed if t]
        acked = self._acked
        if times:
            # Acknowledgements come (nearly) in AbsoluteTime order, so the oldest entries
            # are at the front: drop them there (O(dropped), not a rebuild every 64 acks).
            # One pass collects them: a fresh iter() per deletion would rescan the holes
            # deleted entries leave at the front of a dict (O(holes) each, until it is
            # resized), which made this prune the bulk of acked() past max_ids.
            horizon = format_timestamp(parse_timestamp(min(times)) - self.reach)
            drop: list[str] = []
            for first_id, first in acked.items():
                at = first.absolute_time
                if isinstance(first, Item):
                    at = canonical_time(at)
                if (at or "") >= horizon:
                    break
                drop.append(first_id)
            for first_id in drop:
                del acked[first_id]
        excess = len(acked) - self.max_ids
        if excess > 0:
            for first_id in list(islice(acked, excess)):
                del acked[first_id]

    def snapshot(
        self, *, contact_id: str | None = None, participant_id: str | None = None
    ) -> Cursor:
        """The :class:`~participant.cursor.Cursor` of this log now (no tokens in it)."""
        self._prune_acked()
        streams = tuple(
            CursorStream(
                id=item_id,
                absolute_time=canonical_time(track.time),
                revision=track.revision,
                chunk_number=track.chunk,
                content=track.text,
            )
            for item_id, track in self._tracks.items()
            if track.chunk is not None and track.revision >= 1
        )
        # unacknowledged items beyond max_ids: evicted here, or still owed from a cursor
        low = [t for t in (self._evicted_from, self._owed_from) if t is not None]
        high = [t for t in (self._evicted_until, self._owed_until) if t is not None]
        unacked = {  # still owed after a resume, and delivered since
            **self._redeliver,
            **{i: self._entry(item, i, always=True) for i, item in self._unacked.items()},
        }
        return Cursor(
            contact_id=contact_id,
            participant_id=participant_id,
            acked_id=self.acked_id,
            acked_time=self.acked_time,
            acked=tuple(
                _plain_entry(e) if isinstance(e, Item) else e for e in self._acked.values()
            ),
            unacked=tuple(e for e in unacked.values() if e.id not in self._acked
                          or self._acked[e.id].revision < e.revision),
            unacked_from=min(low) if low else None,
            unacked_until=max(high) if high else None,
            streams=streams,
        )

    @classmethod
    def restore(
        cls,
        cursor: Cursor,
        window: float,
        max_ids: int,
        reach: float = 0.0,
        streaming: Streaming = "chunks",
    ) -> ItemLog:
        """A log that continues from ``cursor`` (arguments as for :class:`ItemLog`):

        - acknowledged items are remembered: :meth:`accept` drops them as duplicates (and
          delivers a later revision of one that changes in place as its next revision);
        - items delivered but not acknowledged are delivered once more, with their
          revision and ``redelivered=True`` when unchanged (a changed one as the next
          revision, ``redelivered=False``);
        - a streaming reply in progress continues: the next chunk is stitched to the saved
          text (under ``streaming="completed"`` only its completed item is delivered);
        - items delivered but not acknowledged beyond ``max_ids`` (``cursor.unacked_from``
          .. ``unacked_until``, AbsoluteTimes): every Id :meth:`accept` does not know in
          that range is delivered marked ``redelivered=True``;
        - :attr:`resume_from` says where the gap fill must start.

        Raises:
            ValueError: as :class:`ItemLog`.
        """
        log = cls(window, max_ids, reach, streaming)
        low = canonical_time(cursor.unacked_from)
        high = canonical_time(cursor.unacked_until)
        if low is not None or high is not None:
            log._owed_from = low = low if low is not None else high
            log._owed_until = high = high if high is not None else low
            assert low is not None
            log._owed_mark = format_timestamp(parse_timestamp(low) - reach)
        for entry in cursor.acked:
            at = canonical_time(entry.absolute_time)
            if not entry.complete and high is not None and at is not None and at <= high:
                # an incomplete revision acknowledged where later ones may be owed (not
                # listed): not remembered, so the fill delivers the item again
                log._acked[entry.id] = entry
                continue
            log._seen[entry.id] = at
            if entry.in_place and entry.fingerprint is not None:
                track = _Track(entry.revision, entry.absolute_time, entry.complete)
                track.prints = (entry.fingerprint,)
                log._tracks[entry.id] = track
            log._acked[entry.id] = entry
        for stream in cursor.streams:
            if streaming == "completed":  # its completed item is delivered as new
                log._seen.pop(stream.id, None)
                log._tracks.pop(stream.id, None)
                continue
            track = _Track(stream.revision, stream.absolute_time, False)
            track.chunk = stream.chunk_number
            track.text = stream.content
            log._tracks[stream.id] = track
            log._seen[stream.id] = canonical_time(stream.absolute_time)
        stream_ids = {stream.id for stream in cursor.streams}
        for entry in cursor.unacked:
            if entry.id in stream_ids:
                continue  # a reply in progress continues from its stream state
            owed_track = log._tracks.get(entry.id)
            acked = log._acked.get(entry.id)
            if acked is not None and acked.revision >= entry.revision:
                continue  # acknowledged meanwhile
            # as if that revision had been delivered: accept() delivers its repeat again
            log._seen[entry.id] = canonical_time(entry.absolute_time)
            if entry.in_place and entry.fingerprint is not None:
                if owed_track is None:
                    owed_track = _Track(0, entry.absolute_time, False)
                    log._tracks[entry.id] = owed_track
                owed_track.revision = max(owed_track.revision, entry.revision)
                owed_track.prints += (entry.fingerprint,)
                owed_track.complete = entry.complete
            log._redeliver[entry.id] = entry
        log.acked_id = cursor.acked_id
        log.acked_time = canonical_time(cursor.acked_time)
        times = [canonical_time(t) for t in log._seen.values()]
        present = [t for t in times if t is not None]
        log.newest_time = max(present) if present else None
        # oldest first, as accept() would have added them
        ordered = sorted(log._seen.items(), key=lambda kv: kv[1] or "")
        log._seen = OrderedDict(ordered)
        return log


def _plain_entry(item: Item) -> CursorItem:
    """The cursor entry of an acknowledged plain item (no MessageMetadata, no attachments:
    complete, not in place, no fingerprint); what :meth:`ItemLog._entry` gives for it."""
    assert item.id is not None
    return CursorItem(
        id=item.id,
        absolute_time=canonical_time(item.absolute_time),
        revision=item.revision,
        complete=True,
    )
