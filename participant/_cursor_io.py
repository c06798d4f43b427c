"""Acknowledgement and the durable cursor of a :class:`~participant.actor.Participant`:
implicit and explicit acks, the coalesced and write-ahead saves, the exit flush, the
snapshot and the live transcript view, as a mixin of the actor (which holds the state
declared here). Private: documented on :class:`~participant.actor.Participant` and in
docs/concepts.md, "Acknowledgement and the cursor".
"""

from __future__ import annotations

from collections import deque

import trio

from participant._calls import ParticipantCalls
from participant.core.log import ItemLog
from participant.cursor import Cursor, CursorHandle
from participant.errors import InvalidParameterError
from participant.model import Item
from participant.view import TranscriptView

__all__ = ["CursorKeeping"]


class CursorKeeping(ParticipantCalls):
    """What the program acknowledged, and its saves (a base of
    :class:`~participant.actor.Participant`; on top of :class:`ParticipantCalls`, so
    each slotted part has one layout)."""

    __slots__ = (
        "_contact",
        "_cursor_dirty",
        "_cursor_handle",
        "_last_yielded",
        "_saved_lot",
        "_saved_seq",
        "_saving",
        "_view",
    )

    _log: ItemLog
    _buffer: deque[Item] | None
    _last_yielded: Item | None
    _nursery: trio.Nursery | None
    _participant_id: str | None
    _view: TranscriptView | None
    _contact: str | None
    _cursor_dirty: bool
    _cursor_handle: CursorHandle | None
    _saved_lot: trio.lowlevel.ParkingLot | None
    _saved_seq: int
    _saving: bool

    def _init_cursor(self, handle: CursorHandle | None, contact: str | None) -> None:
        """Nothing yielded, acknowledged or saved yet; ``handle`` is where the cursor is
        saved (``None``: nowhere), ``contact`` the ContactId if a resumed cursor had it."""
        self._last_yielded = None  # acknowledged by the next __anext__ (implicit ack)
        self._cursor_handle = handle
        self._cursor_dirty = False
        self._saving = False
        # Write-ahead: the items accepted (stats.items_delivered) when the last completed
        # save's snapshot was taken; the iterator and handlers wait here for theirs.
        self._saved_seq = 0
        self._saved_lot = None
        self._contact = contact  # else learnt from the items
        self._view = None

    def _acknowledge(self, item: Item) -> None:
        self._log.acked(item)
        if self._contact is None:
            self._contact = item.contact_id
        if self._cursor_handle is not None:
            self._request_save()

    def _request_save(self) -> None:
        self._cursor_dirty = True
        if not self._saving and self._nursery is not None:
            self._saving = True
            self._nursery.start_soon(self._save_cursor)

    async def _wait_saved(self, seq: int) -> None:
        """Write-ahead: wait until a completed save has the ``seq``-th accepted item on
        record as delivered (one save covers every item buffered when it is taken)."""
        self._request_save()
        while self._saved_seq < seq:
            await self._park_until_saved()

    async def _park_until_saved(self) -> None:
        """Wait for the save in flight to end (completed, failed or cancelled)."""
        if self._saved_lot is None:
            self._saved_lot = trio.lowlevel.ParkingLot()
        await self._saved_lot.park()

    async def _save_cursor(self) -> None:
        """Save the cursor after acknowledgements and before items are handed out
        (write-ahead: every buffered item is put on record as delivered, so one save
        covers them all): coalesced, one save in flight. A failing save is the
        handle's error and reaches the program (out of connect)."""
        handle = self._cursor_handle
        assert handle is not None
        try:
            while self._cursor_dirty:
                self._cursor_dirty = False
                for item in self._buffer or ():
                    self._log.delivered(item)
                covered = self.stats.items_delivered
                await handle.save(self.cursor())
                self._saved_seq = covered
                if self._saved_lot is not None:
                    self._saved_lot.unpark_all()
        finally:
            self._saving = False
            if self._saved_lot is not None:  # also when cancelled: see _flush_cursor
                self._saved_lot.unpark_all()

    async def _flush_cursor(self, *, acknowledge_last: bool) -> None:
        """On exit: acknowledge the last item yielded (implicit ack) if the program left
        normally, and save once more (after a save in flight, if any: the nursery that
        runs it is cancelled next). When it left with an exception, the item it was
        handling stays delivered-not-acknowledged: a resume delivers it again, marked
        ``redelivered``."""
        last = self._last_yielded
        if last is not None:
            self._last_yielded = None
            if acknowledge_last:
                self._log.acked(last)
            else:
                self._log.delivered(last)
            self._cursor_dirty = True
        if self._cursor_handle is not None and self._cursor_dirty:
            with trio.CancelScope(shield=True):
                while self._saving:  # a save in flight: it would be cancelled with us
                    await self._park_until_saved()
                if self._cursor_dirty:
                    self._cursor_dirty = False
                    await self._cursor_handle.save(self.cursor())

    async def ack(self, item: Item) -> None:
        """Acknowledge ``item`` (a delivered item or revision): the program is done with
        it; a resume from the cursor skips it and every earlier revision of its Id
        (docs/concepts.md, "Acknowledgement and the cursor"). With a cursor handle the
        cursor is saved soon after (coalesced)."""
        if not isinstance(item, Item):
            raise InvalidParameterError("item", "a delivered Item")
        self._acknowledge(item)
        await trio.lowlevel.checkpoint()

    def cursor(self) -> Cursor:
        """A snapshot of what was delivered and acknowledged (:class:`~participant.Cursor`,
        JSON with ``to_json()``; no tokens in it): resume from it with
        ``connect(..., cursor=handle)``."""
        held = self._last_yielded
        if held is not None:  # yielded, not acknowledged yet (implicit ack)
            self._log.delivered(held)
        return self._log.snapshot(contact_id=self._contact, participant_id=self._participant_id)

    def transcript_view(self) -> TranscriptView:
        """The live :class:`~participant.TranscriptView` of this participant (created on
        the first call; items delivered from then on are applied to it, own messages
        sent with :meth:`send_message` tracked SENDING -> SENT -> DELIVERED -> READ, or
        FAILED)."""
        if self._view is None:
            self._view = TranscriptView(self._participant_id)
        return self._view
