"""Small parts of the actor: seen-Id window, state-change feed, receipts.

Private to :mod:`participant.actor`; documented there.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Literal

import attrs
import trio

from participant._time import format_timestamp, parse_timestamp
from participant.machine import StateChange

log = logging.getLogger("participant.actor")

ReceiptKind = Literal["delivered", "read"]


def canonical_time(absolute_time: object) -> str | None:
    """An AbsoluteTime in the service's fixed-width form ``YYYY-MM-DDTHH:MM:SS.mmmZ``.

    Strings of that form (what the service sends) are returned unchanged, without
    parsing; others are parsed and re-formatted; unparsable ones (and values that are
    not strings: the model keeps any JSON scalar a frame carries) give ``None``.
    Canonical strings order like the times they denote, so they compare as strings.
    """
    if type(absolute_time) is not str:
        return None
    if (
        len(absolute_time) == 24
        and absolute_time[23] == "Z"
        and absolute_time[19] == "."
        and absolute_time[10] == "T"
    ):
        return absolute_time
    try:
        return format_timestamp(parse_timestamp(absolute_time))
    except (ValueError, OverflowError):  # not ISO-8601; a year out of range
        return None


class SeenIds(OrderedDict[str, "str | None"]):
    """Item Ids already delivered, bounded in time and count: an ordered dict of Id ->
    canonical AbsoluteTime (``None`` when unknown), oldest first.

    An Id is kept while its item's AbsoluteTime is within ``window`` seconds of the newest
    AbsoluteTime seen. Beyond ``max_ids`` Ids the oldest are dropped first, **except** Ids
    within ``reach`` seconds of the newest AbsoluteTime: gap fill starts at most ``reach``
    (<= ``window``) seconds before the newest AbsoluteTime, so every item it can return
    again is still remembered and can never be delivered twice.

    Times are kept as canonical AbsoluteTime strings (:func:`canonical_time`): adding an
    Id costs no timestamp parsing. Old Ids are dropped (:meth:`prune`) every
    ``_PRUNE_EVERY`` adds, not on each add, so memory is
    ``max(max_ids, rate * reach) + _PRUNE_EVERY`` Ids at most; between two prunes a few
    more Ids are kept, never fewer.
    """

    __slots__ = (
        "_adds",
        "_newest_epoch",
        "max_ids",
        "newest_time",
        "reach",
        "window",
    )

    _PRUNE_EVERY = 64

    def __init__(self, window: float, max_ids: int, reach: float = 0.0) -> None:
        super().__init__()
        self.window = window
        self.max_ids = max_ids
        self.reach = reach
        #: Newest canonical AbsoluteTime seen, ``None`` before the first timed item.
        self.newest_time: str | None = None
        self._newest_epoch: tuple[str, float] | None = None
        self._adds = 0

    @property
    def newest(self) -> float | None:
        """Newest AbsoluteTime seen, in epoch seconds (parsed on demand)."""
        text = self.newest_time
        if text is None:
            return None
        cached = self._newest_epoch
        if cached is None or cached[0] != text:
            cached = self._newest_epoch = (text, parse_timestamp(text))
        return cached[1]

    def add(self, item_id: str, absolute_time: str | None) -> None:
        """Remember ``item_id``; ``absolute_time`` as on the wire (any ISO form)."""
        at = canonical_time(absolute_time)
        self[item_id] = at
        if at is not None:
            newest = self.newest_time
            if newest is None or at > newest:
                self.newest_time = at
        self._adds += 1
        if self._adds >= self._PRUNE_EVERY:
            self.prune()

    def prune(self) -> None:
        """Forget the Ids older than ``window`` seconds before the newest AbsoluteTime,
        then the oldest beyond ``max_ids`` that are not within ``reach`` of it."""
        self._adds = 0
        newest = self.newest
        if newest is not None:
            horizon = format_timestamp(newest - self.window)
            while self:
                first = next(iter(self.values()))
                if first is None or first >= horizon:
                    break
                self.popitem(last=False)
        if len(self) > self.max_ids:
            reach = format_timestamp(newest - self.reach) if newest is not None else ""
            while len(self) > self.max_ids:
                first = next(iter(self.values()))
                if first is not None and first >= reach:
                    break  # within gap fill's reach: kept (see the class docstring)
                self.popitem(last=False)


class ChangeFeed:
    """An async iterator of :class:`StateChange` for one observer.

    Keeps at most ``maxlen`` unread changes; when an observer falls further behind, the
    oldest unread ones are discarded and counted in :attr:`missed` (state changes are a
    status feed; items are never dropped this way). Ends after the terminal change.
    """

    def __init__(self, maxlen: int, on_close: Callable[[ChangeFeed], None]) -> None:
        self._queue: deque[StateChange] = deque()
        self._maxlen = maxlen
        self._wakeup = trio.Event()
        self._ended = False
        self._on_close = on_close
        self.missed = 0

    def push(self, change: StateChange) -> None:
        if len(self._queue) >= self._maxlen:
            self._queue.popleft()
            self.missed += 1
        self._queue.append(change)
        self._wakeup.set()

    def end(self) -> None:
        self._ended = True
        self._wakeup.set()

    def __aiter__(self) -> ChangeFeed:
        return self

    async def __anext__(self) -> StateChange:
        while not self._queue:
            if self._ended:
                self._on_close(self)
                raise StopAsyncIteration
            self._wakeup = trio.Event()
            await self._wakeup.wait()
        return self._queue.popleft()

    def aclose_nowait(self) -> None:
        self._ended = True
        self._queue.clear()
        self._on_close(self)


@attrs.define
class _Waiter:
    done: trio.Event = attrs.field(factory=trio.Event)
    sent: bool = False
    error: BaseException | None = None


@attrs.define
class _Pending:
    message_id: str
    waiters: list[_Waiter] = attrs.field(factory=list)


SendReceipt = Callable[[ReceiptKind, str], Awaitable[None]]


class ReceiptCoalescer:
    """Delivered/read receipts coalesced the way AWS's JS client does
    ([protocol](protocol.md#receipts-and-typing)).

    A receipt is held ``hold`` seconds so a read can replace a delivered of the same
    message; then, per kind, only the latest receipt is sent, at most one batch per
    ``window`` seconds; the same receipt is never sent twice (a read also covers the
    delivered receipt of the same message). Callers wait for the outcome: ``True`` sent,
    ``False`` coalesced away or already sent; the send's error is raised to the caller
    whose receipt failed.
    """

    def __init__(
        self,
        send: SendReceipt,
        spawn: Callable[[Callable[[], Awaitable[None]]], None],
        *,
        hold: float,
        window: float,
        remember: int = 256,
    ) -> None:
        self._send = send
        self._spawn = spawn
        self._hold = hold
        self._window = window
        self._pending: dict[ReceiptKind, _Pending] = {}
        self._sent: OrderedDict[tuple[ReceiptKind, str], None] = OrderedDict()
        self._remember = remember
        self._flushing = False
        self._last_flush: float | None = None

    def _already(self, kind: ReceiptKind, message_id: str) -> bool:
        if ("read", message_id) in self._sent:
            return True
        return (kind, message_id) in self._sent

    async def submit(self, kind: ReceiptKind, message_id: str) -> bool:
        if self._already(kind, message_id):
            return False
        if kind == "delivered":
            read = self._pending.get("read")
            if read is not None and read.message_id == message_id:
                return False
        waiter = _Waiter()
        pending = self._pending.get(kind)
        if pending is not None and pending.message_id != message_id:
            _settle(pending.waiters, sent=False)
            pending = None
        if pending is None:
            pending = self._pending[kind] = _Pending(message_id)
        pending.waiters.append(waiter)
        if kind == "read":
            delivered = self._pending.get("delivered")
            if delivered is not None and delivered.message_id == message_id:
                del self._pending["delivered"]
                _settle(delivered.waiters, sent=False)
        if not self._flushing:
            self._flushing = True
            self._spawn(self._flush)
        await waiter.done.wait()
        if waiter.error is not None:
            raise waiter.error
        return waiter.sent

    async def _flush(self) -> None:
        batch: list[tuple[ReceiptKind, _Pending]] = []
        try:
            while self._pending:
                now = trio.current_time()
                at = now + self._hold
                if self._last_flush is not None:
                    at = max(at, self._last_flush + self._window)
                await trio.sleep_until(at)
                batch = [
                    (kind, self._pending.pop(kind))
                    for kind in ("delivered", "read")
                    if kind in self._pending
                ]
                self._last_flush = trio.current_time()
                for kind, pending in batch:
                    try:
                        await self._send(kind, pending.message_id)
                    except Exception as exc:
                        _settle(pending.waiters, sent=False, error=exc)
                    else:
                        self._sent[(kind, pending.message_id)] = None
                        while len(self._sent) > self._remember:
                            self._sent.popitem(last=False)
                        _settle(pending.waiters, sent=True)
        finally:
            self._flushing = False
            for _kind, pending in batch:  # interrupted mid-send: not known to be sent
                _settle(pending.waiters, sent=False)
            for pending in self._pending.values():
                _settle(pending.waiters, sent=False)
            self._pending.clear()


def _settle(waiters: list[_Waiter], *, sent: bool, error: BaseException | None = None) -> None:
    for waiter in waiters:
        waiter.sent = sent
        waiter.error = error
        waiter.done.set()
    waiters.clear()
