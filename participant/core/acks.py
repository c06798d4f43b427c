"""The acknowledgement half of the item log (:class:`~participant.core.log.ItemLog`):
what the program was handed and what it is done with, and the
:class:`~participant.cursor.Cursor` made of it (issue 11).

The actor reports each item handed to the program (:meth:`Acknowledgements.delivered`)
and each the program is done with (:meth:`Acknowledgements.acked`);
:meth:`Acknowledgements.snapshot` turns that into a :class:`~participant.cursor.Cursor`,
and :meth:`ItemLog.restore <participant.core.log.ItemLog.restore>` back into a log that
skips what was acknowledged, marks the delivered-but-unacknowledged items
``redelivered=True`` and continues a streaming reply in progress. Also here: the records
a cursor entry is made of, an item's canonical AbsoluteTime (:func:`canonical_time`) and
its :func:`fingerprint`, and the revision state of an Id (``_Track``).

No trio, no I/O: plain synchronous methods, unit-tested without an event loop
(tests/core/test_log.py).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from datetime import datetime
from itertools import islice
from typing import Final, Literal

from .._time import format_timestamp, parse_timestamp
from ..cursor import Cursor, CursorItem, CursorStream
from ..model.items import Item

__all__ = ["Acknowledgements", "Streaming", "canonical_time", "fingerprint"]

Streaming = Literal["chunks", "completed"]

PRUNE_EVERY: Final = 64
"""Old Ids (and acknowledgements) are pruned once per this many new ones."""
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




class Acknowledgements:
    """Acknowledgement state and cursors: the slotted base of
    :class:`~participant.core.log.ItemLog`, which declares the state (its constructor
    documents the bounds ``max_ids`` and ``reach`` that apply here too)."""

    __slots__ = (
        "_acked",
        "_acks",
        "_evicted",
        "_evicted_from",
        "_evicted_until",
        "_owed_from",
        "_owed_mark",
        "_owed_until",
        "_redeliver",
        "_unacked",
        "acked_id",
        "acked_time",
    )

    _seen: OrderedDict[str, str | None]
    _tracks: dict[str, _Track]
    max_ids: int
    newest_time: str | None
    reach: float
    streaming: Streaming

    def _init_acks(self) -> None:
        """Nothing delivered, nothing acknowledged."""
        self._unacked: dict[str, Item] = {}  # delivered, not acknowledged
        # acknowledged: a CursorItem, or for a plain item at revision 1 (no MessageMetadata,
        # no attachments, not tracked: nearly all) only its canonical AbsoluteTime ("" for
        # none), made a CursorItem by snapshot(). Not the item itself: that kept up to
        # max_ids whole items alive (about 1.4 MB more for a busy chat, docs/benchmarks.md)
        self._acked: dict[str, CursorItem | str] = {}
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
        entry: CursorItem | str
        if item.message_metadata is None and not item.attachments and item_id not in self._tracks:
            # a plain item (nearly all): accept() remembered canonical_time(AbsoluteTime),
            # which is that very string when it was canonical already (the service's
            # form): then it is the answer (every value in _seen is canonical), without
            # parsing it again
            at = self._seen.get(item_id)
            if at is not item.absolute_time:
                at = canonical_time(item.absolute_time)
            revision = item.revision
            entry = (at or "") if revision == 1 else _plain_entry(item_id, at, revision)
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
        if self._acks >= PRUNE_EVERY:
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
                at = first if isinstance(first, str) else first.absolute_time
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
                _plain_entry(i, e or None, 1) if isinstance(e, str) else e
                for i, e in self._acked.items()
            ),
            unacked=tuple(e for e in unacked.values() if e.id not in self._acked
                          or _revision(self._acked[e.id]) < e.revision),
            unacked_from=min(low) if low else None,
            unacked_until=max(high) if high else None,
            streams=streams,
        )

    def _load(self, cursor: Cursor) -> None:
        """Take the state of ``cursor`` into this fresh log (see :meth:`ItemLog.restore`)."""
        reach, streaming = self.reach, self.streaming
        low = canonical_time(cursor.unacked_from)
        high = canonical_time(cursor.unacked_until)
        if low is not None or high is not None:
            self._owed_from = low = low if low is not None else high
            self._owed_until = high = high if high is not None else low
            assert low is not None
            self._owed_mark = format_timestamp(parse_timestamp(low) - reach)
        for entry in cursor.acked:
            at = canonical_time(entry.absolute_time)
            if not entry.complete and high is not None and at is not None and at <= high:
                # an incomplete revision acknowledged where later ones may be owed (not
                # listed): not remembered, so the fill delivers the item again
                self._acked[entry.id] = entry
                continue
            self._seen[entry.id] = at
            if entry.in_place and entry.fingerprint is not None:
                track = _Track(entry.revision, entry.absolute_time, entry.complete)
                track.prints = (entry.fingerprint,)
                self._tracks[entry.id] = track
            self._acked[entry.id] = entry
        for stream in cursor.streams:
            if streaming == "completed":  # its completed item is delivered as new
                self._seen.pop(stream.id, None)
                self._tracks.pop(stream.id, None)
                continue
            track = _Track(stream.revision, stream.absolute_time, False)
            track.chunk = stream.chunk_number
            track.text = stream.content
            self._tracks[stream.id] = track
            self._seen[stream.id] = canonical_time(stream.absolute_time)
        stream_ids = {stream.id for stream in cursor.streams}
        for entry in cursor.unacked:
            if entry.id in stream_ids:
                continue  # a reply in progress continues from its stream state
            owed_track = self._tracks.get(entry.id)
            acked = self._acked.get(entry.id)
            if acked is not None and _revision(acked) >= entry.revision:
                continue  # acknowledged meanwhile
            # as if that revision had been delivered: accept() delivers its repeat again
            self._seen[entry.id] = canonical_time(entry.absolute_time)
            if entry.in_place and entry.fingerprint is not None:
                if owed_track is None:
                    owed_track = _Track(0, entry.absolute_time, False)
                    self._tracks[entry.id] = owed_track
                owed_track.revision = max(owed_track.revision, entry.revision)
                owed_track.prints += (entry.fingerprint,)
                owed_track.complete = entry.complete
            self._redeliver[entry.id] = entry
        self.acked_id = cursor.acked_id
        self.acked_time = canonical_time(cursor.acked_time)


def _plain_entry(item_id: str, at: str | None, revision: int) -> CursorItem:
    """The cursor entry of an acknowledged plain item (no MessageMetadata, no attachments:
    complete, not in place, no fingerprint) with canonical AbsoluteTime ``at``; what
    :meth:`Acknowledgements._entry` gives for it."""
    return CursorItem(id=item_id, absolute_time=at, revision=revision, complete=True)


def _revision(entry: CursorItem | str) -> int:
    """The revision an acknowledgement entry records (a bare AbsoluteTime: 1)."""
    return 1 if isinstance(entry, str) else entry.revision
