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

Acknowledgement and cursors (:meth:`ItemLog.delivered`, :meth:`ItemLog.acked`,
:meth:`ItemLog.snapshot`, :meth:`ItemLog.restore`) are the base
:class:`~participant.core.acks.Acknowledgements`, in :mod:`participant.core.acks`.

No trio, no I/O: plain synchronous methods, unit-tested without an event loop.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

import attrs

from .._time import format_timestamp, parse_timestamp
from ..cursor import Cursor
from ..model.items import Item
from .acks import PRUNE_EVERY, Acknowledgements, Streaming, _Track, canonical_time, fingerprint

__all__ = ["MAX_HELD_CHUNKS", "ItemLog", "Streaming", "canonical_time", "fingerprint"]

MAX_HELD_CHUNKS: Final = 256
"""Out-of-order chunks held back per streaming reply; beyond, later ones are dropped (the
completed item still completes the reply)."""


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


class ItemLog(Acknowledgements):
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
        "_adds",
        "_newest_epoch",
        "_seen",
        "_tracks",
        "duplicates",
        "forgotten_until",
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
        #: Newest canonical AbsoluteTime of an Id :meth:`prune` forgot (``None``: none):
        #: an unknown Id no later than this may have been delivered (:meth:`forgot`).
        self.forgotten_until: str | None = None
        #: Items :meth:`accept` dropped as duplicates (or stale), and held back.
        self.duplicates = 0
        self.held = 0
        self._init_acks()

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

    def forgot(self, item: Item) -> bool:
        """True when the log cannot tell whether ``item`` was delivered: its Id is not
        remembered and its AbsoluteTime is no later than that of an Id :meth:`prune`
        forgot (``window`` or ``max_ids``). A gap fill skips such items unless it is
        recovering that very Id (an item dropped for lack of room: a late revision, or
        one whose fill was delayed while the newest AbsoluteTime moved on)."""
        until = self.forgotten_until
        if until is None or item.id is None or item.id in self._seen:
            return False
        at = canonical_time(item.absolute_time)
        return at is not None and at <= until

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
        if self._adds >= PRUNE_EVERY:
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
        forgotten = self.forgotten_until
        if newest is not None:
            horizon = format_timestamp(newest - self.window)
            while seen:
                first_id, first = pop(last=False)
                if first is None or first >= horizon:
                    seen[first_id] = first
                    seen.move_to_end(first_id, last=False)
                    break
                if forgotten is None or first > forgotten:
                    forgotten = first
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
                if first is not None and (forgotten is None or first > forgotten):
                    forgotten = first
                if tracks:
                    tracks.pop(first_id, None)
        self.forgotten_until = forgotten

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
        log._load(cursor)
        times = [canonical_time(t) for t in log._seen.values()]
        present = [t for t in times if t is not None]
        log.newest_time = max(present) if present else None
        # oldest first, as accept() would have added them
        log._seen = OrderedDict(sorted(log._seen.items(), key=lambda kv: kv[1] or ""))
        return log
