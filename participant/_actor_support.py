"""Small parts of the actor that hold none of its state: the state-change feed
(:class:`ChangeFeed`) and the receipt coalescer (:class:`ReceiptCoalescer`).

Private: documented on :class:`~participant.actor.Participant` (``state_changes``,
``send_receipt``).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Literal

import attrs
import trio

from participant._feed import Feed
from participant.machine import StateChange

log = logging.getLogger("participant.actor")

ReceiptKind = Literal["delivered", "read"]


class ChangeFeed(Feed[StateChange]):
    """An async iterator of :class:`StateChange` for one observer.

    Keeps at most ``maxlen`` unread changes; when an observer falls further behind, the
    oldest unread ones are discarded and counted in :attr:`missed` (state changes are a
    status feed; items are never dropped this way). Ends after the terminal change.
    """


@attrs.define
class _Waiter:
    done: trio.Event = attrs.field(factory=trio.Event)
    sent: bool = False
    error: BaseException | None = None


@attrs.define
class _Pending:
    message_id: str
    waiters: list[_Waiter] = attrs.field(factory=list)
    detached: bool = False  # submitted without a waiter: an outcome nobody awaits


SendReceipt = Callable[[ReceiptKind, str], Awaitable[None]]
Unsent = Callable[[ReceiptKind, str, "BaseException | None"], None]
"""Told of a receipt submitted with :meth:`ReceiptCoalescer.submit_nowait` that was not
sent: the send's error, or ``None`` when it was dropped unsent (the flush cancelled)."""


class ReceiptCoalescer:
    """Delivered/read receipts coalesced the way AWS's JS client does
    ([protocol](protocol.md#items)).

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
        on_unsent: Unsent | None = None,
    ) -> None:
        self._send = send
        self._on_unsent = on_unsent
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
        waiter = _Waiter()
        if not self._enqueue(kind, message_id, waiter):
            return False
        await waiter.done.wait()
        if waiter.error is not None:
            raise waiter.error
        return waiter.sent

    def submit_nowait(self, kind: ReceiptKind, message_id: str) -> None:
        """Like :meth:`submit` without waiting for the outcome: a failure goes to
        ``on_unsent``, never to the caller."""
        self._enqueue(kind, message_id, None)

    def _enqueue(self, kind: ReceiptKind, message_id: str, waiter: _Waiter | None) -> bool:
        """Queue a receipt (False: already sent or covered by a pending read)."""
        if self._already(kind, message_id):
            return False
        if kind == "delivered":
            read = self._pending.get("read")
            if read is not None and read.message_id == message_id:
                return False
        pending = self._pending.get(kind)
        if pending is not None and pending.message_id != message_id:
            _settle(pending.waiters, sent=False)
            pending = None
        if pending is None:
            pending = self._pending[kind] = _Pending(message_id)
        if waiter is None:
            pending.detached = True
        else:
            pending.waiters.append(waiter)
        if kind == "read":
            delivered = self._pending.get("delivered")
            if delivered is not None and delivered.message_id == message_id:
                del self._pending["delivered"]
                _settle(delivered.waiters, sent=False)
        if not self._flushing:
            self._flushing = True
            self._spawn(self._flush)
        return True

    def _unsent(self, kind: ReceiptKind, pending: _Pending, error: BaseException | None) -> None:
        if pending.detached and self._on_unsent is not None:
            pending.detached = False
            self._on_unsent(kind, pending.message_id, error)

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
                        self._unsent(kind, pending, exc)
                    else:
                        self._sent[(kind, pending.message_id)] = None
                        while len(self._sent) > self._remember:
                            self._sent.popitem(last=False)
                        pending.detached = False
                        _settle(pending.waiters, sent=True)
        finally:
            self._flushing = False
            for kind, pending in batch:  # interrupted mid-send: not known to be sent
                _settle(pending.waiters, sent=False)
                self._unsent(kind, pending, None)
            for kind, pending in self._pending.items():
                _settle(pending.waiters, sent=False)
                self._unsent(kind, pending, None)
            self._pending.clear()


def _settle(waiters: list[_Waiter], *, sent: bool, error: BaseException | None = None) -> None:
    for waiter in waiters:
        waiter.sent = sent
        waiter.error = error
        waiter.done.set()
    waiters.clear()
