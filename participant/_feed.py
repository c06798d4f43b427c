"""A bounded, lossy async feed for one observer: the base of the participant's
state-change feed (:meth:`~participant.actor.Participant.state_changes`) and of a
transcript view's change feed (:meth:`~participant.view.TranscriptView.changes`).
Private: documented on those two."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Generic, Self, TypeVar

import trio

T = TypeVar("T")


class Feed(Generic[T]):
    """An async iterator of the values :meth:`push` ed into it, for one task at a time.

    Holds at most ``maxlen`` unread values; when the observer falls further behind, the
    oldest unread ones are discarded and counted in :attr:`missed` (a status feed: what
    it reports can be re-read elsewhere). After :meth:`end` the iterator ends once the
    values already queued are read; then ``on_end(feed)`` is called, if given.
    """

    def __init__(self, maxlen: int, on_end: Callable[[Self], None] | None = None) -> None:
        self._queue: deque[T] = deque()
        self._maxlen = maxlen
        self._wakeup = trio.Event()
        self._ended = False
        self._on_end = on_end
        #: Values discarded because more than ``maxlen`` were unread.
        self.missed = 0

    def push(self, value: T) -> None:
        """Queue ``value`` (never waits), discarding the oldest unread one when full."""
        if len(self._queue) >= self._maxlen:
            self._queue.popleft()
            self.missed += 1
        self._queue.append(value)
        self._wakeup.set()

    def end(self) -> None:
        """No more values: the iterator ends once the queued ones are read."""
        self._ended = True
        self._wakeup.set()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self: Self) -> T:
        while not self._queue:
            if self._ended:
                if self._on_end is not None:
                    self._on_end(self)
                raise StopAsyncIteration
            self._wakeup = trio.Event()
            await self._wakeup.wait()
        return self._queue.popleft()
