"""Observation of a :class:`~participant.actor.Participant`: its state, the state-change
listeners and feeds, and the item handlers registered with ``on`` with their bounded pool,
as a slotted base of the actor (which holds the state declared here). Private:
documented on :class:`~participant.actor.Participant` and in docs/concepts.md.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio

from participant._actor_support import ChangeFeed
from participant._cursor_io import CursorKeeping
from participant.errors import InvalidParameterError
from participant.machine import State, StateChange
from participant.model import Item

__all__ = ["ItemHandler", "Observing"]

log = logging.getLogger("participant.actor")

ItemHandler = Callable[[Any], Awaitable[None] | None]
"""A handler: called with each matching item; may be a plain or an async function."""

H = TypeVar("H", bound=ItemHandler)


class Observing(CursorKeeping):
    """State observation and item handlers (a base of
    :class:`~participant.actor.Participant`, on top of :class:`CursorKeeping`: one
    slotted layout)."""

    __slots__ = ("_feeds", "_handler_tasks", "_handlers", "_state_listeners")

    _feeds: list[ChangeFeed] | None
    _handler_tasks: int  # running handler tasks (<= config.handler_concurrency)
    _handlers: list[tuple[type[Item] | str, ItemHandler]] | None
    _state_listeners: list[Callable[[StateChange], None]] | None
    _implicit_ack: bool
    _producers_waiting: int
    _not_full: trio.lowlevel.ParkingLot | None

    def _init_observing(self) -> None:
        """No listener, feed or handler yet (the lists are created on first use)."""
        self._handler_tasks = 0
        self._handlers = None
        self._state_listeners = None
        self._feeds = None

    @property
    def state(self) -> State:
        """The current :class:`~participant.machine.State`."""
        return self._core.current

    def on_state_change(self, fn: Callable[[StateChange], None]) -> Callable[[StateChange], None]:
        """Register ``fn(change)``, called synchronously on every transition (usable as a
        decorator). An exception in ``fn`` is logged and ignored."""
        if self._state_listeners is None:
            self._state_listeners = []
        self._state_listeners.append(fn)
        return fn

    def state_changes(self) -> ChangeFeed:
        """An async iterator of the :class:`StateChange` from now on; it ends after the
        change to ``disconnected``. Keeps ``config.state_feed_size`` unread changes (older
        ones are discarded and counted in ``feed.missed``)."""
        feed = ChangeFeed(self.config.state_feed_size, self._feeds_remove)
        if self._core.current is State.DISCONNECTED:
            feed.end()
        else:
            if self._feeds is None:
                self._feeds = []
            self._feeds.append(feed)
        return feed

    def _feeds_remove(self, feed: ChangeFeed) -> None:
        if self._feeds is not None and feed in self._feeds:
            self._feeds.remove(feed)

    def _on_state_change(self, change: StateChange) -> None:
        log.info(
            "participant %s -> %s (%s)%s",
            change.old,
            change.new,
            change.reason or change.trigger,
            "" if change.delay is None else f", next attempt in {change.delay:.2f} s",
        )
        for fn in list(self._state_listeners or ()):
            try:
                fn(change)
            except Exception:
                log.exception("state change listener %r failed", fn)
        for feed in list(self._feeds or ()):
            feed.push(change)
            if change.new is State.DISCONNECTED:
                feed.end()

    def on(self, key: type[Item] | str) -> Callable[[H], H]:
        """Decorator: run ``fn(item)`` for each item that is an instance of ``key`` (an
        :class:`Item` class) or whose ``content_type`` equals ``key`` (a str).

        Each call runs as its own task in the actor's nursery; an exception is logged with
        the item's Id and counted in ``stats.handler_errors``.
        """
        if not (isinstance(key, str) or (isinstance(key, type) and issubclass(key, Item))):
            raise InvalidParameterError("key", "an Item subclass or a ContentType string")

        def register(fn: H) -> H:
            if self._handlers is None:
                self._handlers = []
            self._handlers.append((key, fn))
            return fn

        return register

    def _matching(self, item: Item) -> list[ItemHandler] | None:
        out: list[ItemHandler] | None = None
        for key, fn in self._handlers or ():
            if (isinstance(key, str) and item.content_type == key) or (
                isinstance(key, type) and isinstance(item, key)
            ):
                if out is None:
                    out = []
                out.append(fn)
        return out

    def _dispatch(self, handlers: list[ItemHandler], item: Item) -> None:
        nursery = self._nursery
        if nursery is None:
            return
        self._handler_tasks += 1
        self._log.delivered(item)  # on record for the write-ahead save
        nursery.start_soon(self._run_handlers, handlers, item, self.stats.items_delivered)

    async def _run_handlers(self, handlers: list[ItemHandler], item: Item, seq: int) -> None:
        """One task of the pool: ``item`` (the ``seq``-th accepted) to its matching
        handlers, in registration order, once a saved cursor has it on record
        (write-ahead, with a cursor handle); acknowledged (implicit ack) when they
        returned."""
        try:
            if self._cursor_handle is not None and seq > self._saved_seq:
                await self._wait_saved(seq)
            for fn in handlers:
                try:
                    result = fn(item)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    self.stats.handler_errors += 1
                    log.exception(
                        "handler %s failed on item %s", getattr(fn, "__name__", fn), item.id
                    )
            if self._implicit_ack:
                self._acknowledge(item)
        finally:
            self._handler_tasks -= 1
            self._wake_producers()

    def _wake_producers(self) -> None:
        """Room was made (a handler slot freed, or delivery started): the producers
        waiting for it go on."""
        if self._producers_waiting:
            assert self._not_full is not None
            self._not_full.unpark_all()
