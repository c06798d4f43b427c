"""Delivery of a :class:`~participant.actor.Participant`: the iterator, the buffer to it,
the sockets' item sink and what a live item without room becomes, as a slotted base of
the actor (which holds the state declared here). Private: documented on
:class:`~participant.actor.Participant` and in docs/concepts.md, "The delivery contract".

Every item, from a socket or from gap fill, goes through ``_offer``: deduplicated by Id,
then accepted (Id marked seen, counted, handlers started, appended to the buffer of the
iterator) in one synchronous step, or refused for lack of room with nothing changed. A
socket reader refused for room drops the item (``_drop``) and a refill recovers it; the
gap fill task waits (``_emit``) and offers again. Once accepted, an item belongs to the
actor, not to the socket it came from. Only the gap fill task ever waits for the
consumer: never a reader, never the supervisor.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from typing import TYPE_CHECKING, Final, Self

import trio

from participant._observe import Observing
from participant._time import parse_timestamp
from participant.config import ParticipantConfig
from participant.core.delivery import Fills, Gate
from participant.machine import State
from participant.model import ChatEnded, Item
from participant.socket import ChatSocket, Flag, wait_in

if TYPE_CHECKING:
    from participant._connecting import Connecting

__all__ = ["Delivering", "epoch"]

log = logging.getLogger("participant.actor")

_SCHEDULE_EVERY: Final = 32
"""The iterator yields to the scheduler at least once per this many items."""
_WAKE_BATCH: Final = 32
"""A waiting iterator is woken at the latest when this many socket items are buffered."""
_DISCONNECTED: Final = State.DISCONNECTED.value


def epoch(absolute_time: str | None) -> float | None:
    """An AbsoluteTime (ISO 8601) as epoch seconds; None if absent or malformed."""
    if absolute_time is None:
        return None
    try:
        return parse_timestamp(absolute_time)
    except ValueError:
        return None


class _Gate(Gate[Item]):
    """A socket's fill gate (:class:`participant.core.delivery.Gate`) and its item sink:
    live items that arrive while it is closed are held (up to ``held_items_max``) and
    delivered after the fill's; beyond that they are dropped and a further fill recovers
    them. The reader never waits on a gate."""

    __slots__ = ("_participant", "sock")

    sock: ChatSocket  # set once the socket is open

    def __init__(self, participant: Connecting, *, is_open: bool) -> None:
        super().__init__(is_open=is_open)
        self._participant = participant

    def __call__(self, item: Item) -> None:
        """The socket's item sink (one object per socket instead of a partial): see
        :meth:`Delivering._on_socket_item`, inlined here (one call fewer per item)."""
        participant = self._participant
        participant.stats.items_received += 1
        if not self.is_open:
            participant._hold(self, item)
        elif participant._offer(item, batch=True) is None:
            participant._drop(self, item)
        elif participant._end_pending is not None:
            participant._end_if_pending()

    def lost(self, sock: ChatSocket) -> None:
        """The socket's loss callback."""
        self._participant._on_socket_lost(self, sock)

    def bad_frame(self) -> None:
        """The socket skipped an ``aws/chat`` frame it could not decode: the item it
        carried is fetched again from the transcript (its Id unknown: that fill delivers
        every item, even one the log forgot)."""
        self._participant._fills.recover_unknown()
        self._participant._refill(self)


class _Waker:
    """The sockets' :class:`~participant.socket.IdleHook`: ``pending`` while socket items
    were buffered without waking the iterator; called when a reader has no further frame
    ready, it wakes the iterator. So a burst of frames costs one wake-up of the consumer
    task, not one per item."""

    __slots__ = ("_participant", "pending")

    def __init__(self, participant: Delivering) -> None:
        self._participant = participant
        self.pending = False

    def __call__(self) -> None:
        self._participant._wake_iterator()


class _Sleepers:
    """The tasks waiting for an item (the iterator: nearly always one), woken all at once
    by :meth:`unpark_all`; :class:`trio.lowlevel.ParkingLot`'s ``park`` / ``unpark_all``
    on a plain list (``wait_task_rescheduled`` / ``reschedule``, trio's public low-level
    API), cheaper per wake-up: the iterator is woken about once per burst of frames."""

    __slots__ = ("tasks",)

    def __init__(self) -> None:
        self.tasks: list[trio.lowlevel.Task] = []

    async def park(self) -> None:
        """Wait until :meth:`unpark_all` (a checkpoint: cancellable while waiting)."""
        await wait_in(self.tasks)

    def unpark_all(self) -> None:
        """Wake every waiting task."""
        tasks = self.tasks
        if tasks:
            self.tasks = []
            for task in tasks:
                trio.lowlevel.reschedule(task)


class Delivering(Observing):
    """The iterator and the buffer to it (a base of
    :class:`~participant.actor.Participant`, on top of :class:`Observing`: one slotted
    layout)."""

    __slots__ = (
        "_buffer",
        "_capacity",
        "_end_pending",
        "_entered",
        "_held_logged_at",
        "_not_empty",
        "_not_full",
        "_producers_waiting",
        "_taken",
        "_wake_batch",
        "_waker",
    )

    _buffer: deque[Item] | None  # accepted items waiting for the iterator
    _capacity: int | None  # max_buffered_items; None: iteration is off
    _entered: bool  # handed to the program's block: delivery may start
    _held_logged_at: float
    _not_empty: _Sleepers  # the iterator waits here
    _not_full: trio.lowlevel.ParkingLot | None  # producers wait here
    _producers_waiting: int  # tasks parked in _not_full
    _taken: int  # items taken since the iterator's last schedule point
    _wake_batch: int
    _waker: _Waker
    _end_pending: str | None
    _fills: Fills[_Gate]
    _stopped: Flag
    error: BaseException | None

    def _init_delivery(self, config: ParticipantConfig) -> None:
        """Nothing buffered (the buffer is created with the first item, the producers'
        parking lot by the first producer that parks), nobody waiting, not handed to the
        program yet."""
        self._buffer = None
        self._capacity = config.max_buffered_items if config.iterate else None
        self._not_empty = _Sleepers()
        self._not_full = None
        self._producers_waiting = 0
        # False until connect() hands the participant to the program's block: nothing is
        # delivered before (no room), so handlers registered at the top of the block see
        # the history and every live item (those arriving earlier are refilled).
        self._entered = False
        self._taken = 0
        self._waker = _Waker(self)
        self._wake_batch = min(_WAKE_BATCH, config.max_buffered_items)
        self._held_logged_at = -math.inf
        self._end_pending = None

    if TYPE_CHECKING:

        def _start_filler(self) -> None: ...

        def _end_if_pending(self) -> None: ...

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Item:
        """The next item, waiting for one; ends when the participant is disconnected.

        Checkpoints: every call is a cancellation point; when items are already
        buffered it yields to the scheduler only every ``_SCHEDULE_EVERY`` (32) items,
        so a consumer drains a burst without a task switch per item while other tasks
        still run at least that often (a call that has to wait always yields).
        """
        if self._capacity is None:
            raise RuntimeError("iteration is off (ParticipantConfig.iterate=False)")
        if self._taken >= _SCHEDULE_EVERY:
            self._taken = 0
            await trio.lowlevel.checkpoint()
        else:
            await trio.lowlevel.checkpoint_if_cancelled()
        last = self._last_yielded
        if last is not None:  # asking for the next item acknowledges the last one
            self._last_yielded = None
            self._acknowledge(last)
        buffer = self._buffer
        while not buffer:
            if self._core.state == _DISCONNECTED:
                await self._stopped.wait()
                if self.error is not None:
                    raise self.error
                raise StopAsyncIteration
            self._taken = 0
            await self._not_empty.park()
            buffer = self._buffer
        if self._cursor_handle is not None:  # write-ahead: on record before handed out
            seq = self.stats.items_delivered - len(buffer) + 1
            if seq > self._saved_seq:
                await self._wait_saved(seq)
        self._taken += 1
        item = buffer.popleft()
        if self._producers_waiting:
            self._wake_producers()
        if self._implicit_ack:
            # Acknowledged by the next __anext__; recorded as delivered-not-acknowledged
            # only if a cursor is taken meanwhile (cursor()): one log call per item.
            self._last_yielded = item
        else:
            self._log.delivered(item)
        return item

    def _on_socket_item(self, gate: _Gate, item: Item) -> None:
        """The sockets' item sink (what ``gate(item)`` does); never waits, so the reader
        keeps reading heartbeat echoes whatever the consumer does. While the socket's
        gap fill runs the item is held; with no room for it (a slow consumer, a full
        handler pool) it is dropped and a refill recovers it once the consumer has
        caught up (see :meth:`_drop`)."""
        gate(item)

    def _drop(self, gate: _Gate, item: Item) -> None:
        """No room for a live item: drop it and every later one of its socket (closed
        behind a refill, so the order has no seam) until a fill from the oldest dropped
        item (less ``gap_fill_overlap``) has recovered them. The fill waits for the
        consumer to catch up before it fetches (:meth:`_filler`)."""
        self._note_dropped(item)
        self._refill(gate)

    def _refill(self, gate: _Gate) -> None:
        """Something of ``gate``'s socket was lost (an item dropped, an undecodable frame):
        a fill recovers it (:meth:`participant.core.delivery.Fills.refill`)."""
        if self._fills.refill(gate):
            self._start_filler()

    def _note_dropped(self, item: Item) -> None:
        """Count a dropped live item, remember the oldest AbsoluteTime dropped (the next
        fill starts no later), log at most once per 10 s (never the item's text)."""
        self.stats.live_items_dropped += 1
        self._fills.dropped(epoch(item.absolute_time), item.id)
        now = trio.current_time()
        if now >= self._held_logged_at + 10.0:
            self._held_logged_at = now
            log.warning(
                "no room for live items (a slow consumer, a full handler pool, or "
                "held_items_max behind a gap fill): dropping them until a fill from the "
                "transcript recovers them (%d dropped so far)",
                self.stats.live_items_dropped,
            )

    def _hold(self, gate: _Gate, item: Item) -> None:
        """Hold a live item behind its socket's gap fill, or drop it when the gate is
        full or overflowed (a further fill recovers it)."""
        if not gate.hold(item, self.config.held_items_max):
            self._note_dropped(item)

    def _caught_up(self) -> bool:
        """The consumer has room again: its buffer at most half full and, with handlers,
        a free slot in their pool."""
        if not self._entered:
            return False
        capacity, buffer = self._capacity, self._buffer
        if capacity is not None and buffer is not None and len(buffer) > capacity // 2:
            return False
        return not self._handlers or self._handler_tasks < self.config.handler_concurrency

    async def _wait_caught_up(self) -> None:
        """Wait until :meth:`_caught_up` (or the participant is disconnected)."""
        while not self._caught_up() and self._core.state != _DISCONNECTED:
            await self._wait_for_room()

    async def _wait_for_room(self) -> None:
        """A producer (the gap fill task) waits once: until the iterator takes an item, a
        handler finishes, delivery starts or the participant stops. The iterator is
        woken first: never wait for room while it sleeps."""
        self._wake_iterator()
        if self._not_full is None:
            self._not_full = trio.lowlevel.ParkingLot()
        self._producers_waiting += 1
        try:
            await self._not_full.park()
        finally:
            self._producers_waiting -= 1

    def _wake_iterator(self) -> None:
        """Wake the waiting iterator now (a socket reader went idle, or a producer must
        wait for room)."""
        self._waker.pending = False
        self._not_empty.unpark_all()

    def _offer(self, item: Item, *, force: bool = False, batch: bool = False) -> bool | None:
        """Accept ``item`` now: True accepted, False dropped (a duplicate, or the
        participant is disconnected), None no room in the buffer (nothing changed).
        ``force`` accepts even into a full buffer or once disconnected (the terminal
        synthetic ChatEnded, delivered as the participant ends).
        ``batch`` (socket items): a waiting iterator is woken when the reader goes idle
        (:class:`_Waker`) or ``_WAKE_BATCH`` items are buffered, not per item."""
        if self._core.state == _DISCONNECTED and not force:
            return False
        log = self._log
        capacity = self._capacity
        buffer = self._buffer
        matching = None
        if not force:
            if (
                (capacity is not None and buffer is not None and len(buffer) >= capacity)
                # not handed to the program yet: its handlers are not registered
                or not self._entered
                or (
                    self._handlers
                    and (matching := self._matching(item))
                    # the handler pool is full: wait like for room in the buffer
                    and self._handler_tasks >= self.config.handler_concurrency
                )
            ):
                # No room: a known duplicate is dropped all the same (accept() would
                # drop it), anything else waits for room (None, nothing changed).
                if log.is_known_duplicate(item):
                    self.stats.duplicates_dropped += 1
                    return False
                return None
        elif self._handlers:
            matching = self._matching(item)
        delivered = log.accept(item)  # the item, a revision of it, or None
        if delivered is None:
            self.stats.duplicates_dropped += 1  # a duplicate, or a chunk held back
            return False
        item = delivered
        self.stats.items_delivered += 1
        if self._view is not None:
            self._view.apply(item)
        if self._participant_id is None and (self._sends_in_flight or self._own_ids):
            self._watch_identity(item)
        if isinstance(item, ChatEnded) and self._end_pending is None:
            self._end_pending = "end: chat.ended"
        if matching:
            self._dispatch(matching, item)
        if capacity is not None:
            if buffer is None:
                buffer = self._buffer = deque()
            buffer.append(item)
            if self._not_empty.tasks:
                if batch and len(buffer) < self._wake_batch:
                    self._waker.pending = True
                else:
                    self._wake_iterator()
        return True

    async def _emit(self, item: Item) -> bool:
        """Deliver ``item``, waiting for room; True if accepted, False if dropped."""
        while True:
            accepted = self._offer(item)
            if accepted is not None:
                return accepted
            await self._wait_for_room()
