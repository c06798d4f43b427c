"""Delivery decisions of a participant, sans-IO: which gap fills are owed, how requests
coalesce, where each fill starts, what a socket holds behind its fill (issue 11).

Plain Python, no trio, no I/O; times are floats passed in (epoch seconds of the items'
AbsoluteTime, the wall clock). The trio shell (:mod:`participant.actor`) executes: it
runs one filler task while :attr:`Fills.running`, fetches the pages of each
:class:`FillBatch`, delivers the items, and reports the outcome
(:meth:`Fills.succeeded` / :meth:`Fills.gave_up`).

The rules (docs/concepts.md, "Reconnection and gap fill" and "A slow consumer"):

- a fill is requested by the core (a reconnect, a renewal, the history at start), or by
  the shell when a live item was lost (no room for it, an undecodable frame): requests
  made while a fill runs are coalesced into one more fill after it, with the largest
  overlap requested; a history request covers any gap;
- a socket behind a fill (:class:`Gate`) holds its live items up to ``held_items_max``;
  beyond, it drops them (``overflowed``) and one more fill after this one recovers them;
- a fill starts ``overlap`` before the newest AbsoluteTime delivered, no later than
  ``overlap`` before the oldest live item dropped since the last fill
  (:meth:`Fills.dropped`), no later than where a fill that gave up started, and never
  before the history floor (:meth:`Fills.first_subscription`); a resumed participant's
  first fill goes FORWARD from its cursor;
- a fill that gives up: the first time the shell reconnects and fills again from the same
  point; the second time in a row the participant fails (the core decides, from
  ``fill_failed``).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Final, Generic, TypeVar

from .._time import format_timestamp
from ..model import StartPosition
from .plan import FillPlan, fill_plan

__all__ = ["MAX_RECOVER", "FillBatch", "Fills", "Gate"]

T = TypeVar("T")
G = TypeVar("G", bound="Gate[Any]")


class Gate(Generic[T]):
    """One socket's fill gate: closed while a fill it waits for is owed or running.

    ``held``: live items (of type ``T``) held meanwhile, delivered after the fill's;
    ``overflowed``: an item was dropped (``held_items_max`` reached, no room in the
    consumer, an undecodable frame), so one more fill is owed after the current one.
    """

    __slots__ = ("held", "is_open", "overflowed")

    def __init__(self, *, is_open: bool = False) -> None:
        self.is_open = is_open
        self.held: deque[T] | None = None  # created by the first held item
        self.overflowed = False

    def hold(self, item: T, limit: int) -> bool:
        """Hold ``item`` behind the fill: True held; False dropped (``limit`` items are
        held, or the gate overflowed before: nothing after a dropped item is held)."""
        held = self.held
        if held is None:
            held = self.held = deque()
        if not self.overflowed and len(held) < limit:
            held.append(item)
            return True
        self.overflowed = True
        return False

    def __repr__(self) -> str:
        held = 0 if self.held is None else len(self.held)
        return f"<Gate {'open' if self.is_open else 'closed'} held={held}>"


MAX_RECOVER: Final = 1024
"""Ids of dropped live items (:meth:`Fills.dropped`) one fill recovers by Id at most;
beyond, that fill delivers every item the log forgot (at least once, never lost)."""


class FillBatch(Generic[G]):
    """One fill to run: the gates it releases, whether the history was owed (a resumed
    participant's owed history is a FORWARD fill from its cursor: see ``plan``), its plan
    and GetTranscript filters, and ``recover``: the Ids it recovers among the items the
    log forgot (:meth:`~participant.core.log.ItemLog.forgot`; it skips the others), or
    ``None`` when it must deliver them all (more than :data:`MAX_RECOVER` were owed)."""

    __slots__ = ("filters", "gates", "history", "plan", "recover")

    def __init__(
        self,
        gates: list[G],
        history: bool,
        plan: FillPlan,
        filters: dict[str, Any],
        recover: frozenset[str] | None = frozenset(),
    ) -> None:
        self.gates = gates
        self.history = history
        self.plan = plan
        self.filters = filters
        self.recover = recover


class Fills(Generic[G]):
    """The gap fills a participant owes (see the module docstring).

    Args:
        gap_fill_overlap: seconds, as :class:`~participant.config.ParticipantConfig`.
        dedupe_window: seconds, as :class:`~participant.config.ParticipantConfig`.
        clock_skew: seconds, as :class:`~participant.config.ParticipantConfig`.
        resume_from: epoch seconds a resumed participant's first fill starts at (its
            cursor's oldest owed point), ``None`` when not resumed.
    """

    __slots__ = (
        "_dropped_since",
        "_gates",
        "_history_requested",
        "_overlap",
        "_recover",
        "_requested",
        "clock_skew",
        "dedupe_window",
        "floor",
        "gap_fill_overlap",
        "resume_from",
        "retry_from",
        "retry_history",
        "running",
    )

    def __init__(
        self,
        *,
        gap_fill_overlap: float,
        dedupe_window: float,
        clock_skew: float,
        resume_from: float | None = None,
    ) -> None:
        self.gap_fill_overlap = gap_fill_overlap
        self.dedupe_window = dedupe_window
        self.clock_skew = clock_skew
        self.resume_from = resume_from
        #: Without history, a gap fill skips items older than this (epoch seconds): the
        #: first subscription's wall clock less ``clock_skew``; ``None`` before it.
        self.floor: float | None = None
        #: A fill gave up: the next one starts no later than this / loads the history.
        self.retry_from: float | None = None
        self.retry_history = False
        #: A filler task is running (the shell's; it loops while :meth:`take` gives).
        self.running = False
        self._gates: list[G] | None = None
        self._requested = False
        self._history_requested = False
        self._overlap = 0.0
        self._dropped_since: float | None = None
        self._recover: set[str] | None = set()  # None: more than MAX_RECOVER

    def first_subscription(self, wall: float, *, history: bool) -> None:
        """The participant's first subscription, at ``wall`` (epoch seconds): fixes the
        floor (none with ``history`` or when resumed)."""
        if history or self.resume_from is not None:
            self.floor = -math.inf
        else:
            self.floor = wall - self.clock_skew

    def request(self, gate: G, *, history: bool = False, overlap: float = 0.0) -> bool:
        """A fill that releases ``gate`` when done; True when the shell must start the
        filler (none is running)."""
        if self._gates is None:
            self._gates = []
        self._gates.append(gate)
        if history:
            self._history_requested = True
        else:
            self._requested = True
            self._overlap = max(self._overlap, overlap)
        if self.running:
            return False
        self.running = True
        return True

    def refill(self, gate: G) -> bool:
        """Something of ``gate``'s socket was lost: close it behind a fill from the last
        delivered item (or the oldest dropped one) less ``gap_fill_overlap``; a gate
        already closed gets one more fill after its own. True: start the filler."""
        gate.overflowed = True
        if not gate.is_open:
            return False
        gate.is_open = False
        return self.request(gate, overlap=self.gap_fill_overlap)

    def dropped(self, absolute_time: float | None, item_id: str | None = None) -> None:
        """A live item of that AbsoluteTime (epoch seconds; ``None`` unknown) and Id was
        dropped for lack of room: the next fill starts no later than ``overlap`` before
        it, and delivers that Id even if the log forgot it meanwhile (a late revision
        carries an AbsoluteTime from long before; a delayed fill starts behind a newest
        AbsoluteTime that moved on). The other items the log forgot it skips (delivered
        long ago)."""
        if absolute_time is not None and (
            self._dropped_since is None or absolute_time < self._dropped_since
        ):
            self._dropped_since = absolute_time
        if item_id is not None:
            self._recover_id(item_id)

    def _recover_id(self, item_id: str) -> None:
        """The next fill delivers ``item_id`` even if the log forgot it (at most
        :data:`MAX_RECOVER` such Ids, beyond which it delivers every item)."""
        recover = self._recover
        if recover is not None:
            recover.add(item_id)
            if len(recover) > MAX_RECOVER:
                self._recover = None

    def recover_unknown(self) -> None:
        """An item was lost whose Id is not known (an undecodable frame): the next fill
        delivers every item, even those the log forgot (at least once, never lost)."""
        self._recover = None

    @property
    def pending(self) -> bool:
        """A fill is owed (requested and not yet taken)."""
        return self._requested or self._history_requested

    def take(self, *, newest: float | None, wall: float) -> FillBatch[G]:
        """The next fill of the coalesced requests (call while :attr:`pending`):
        ``newest`` the newest AbsoluteTime delivered (epoch seconds, ``None``: none),
        ``wall`` the wall clock. Its gates' ``overflowed`` are reset: this fill recovers
        what they dropped so far."""
        history = self._history_requested or self.retry_history
        overlap, self._overlap = self._overlap, 0.0
        self._requested = self._history_requested = False
        gates, self._gates = self._gates or [], None
        dropped, self._dropped_since = self._dropped_since, None
        recover, self._recover = self._recover, set()
        for gate in gates:
            gate.overflowed = False
        owed_history = history
        resume = self.resume_from
        if history and resume is not None:  # resuming from a cursor: FORWARD from it
            history, overlap = False, self.gap_fill_overlap
        plan = fill_plan(
            history=history,
            overlap=overlap,
            floor=self.floor,
            newest=newest if resume is None else resume,
            wall=wall,
            dedupe_window=self.dedupe_window,
            retry_from=self.retry_from,
            dropped=dropped,
        )
        filters: dict[str, Any] = {"scan_direction": plan.scan_direction, "sort_order": "ASCENDING"}
        if not plan.history:
            filters["start_position"] = StartPosition(absolute_time=format_timestamp(plan.start))
        return FillBatch(
            gates, owed_history, plan, filters, None if recover is None else frozenset(recover)
        )

    def succeeded(self) -> None:
        """The batch's pages were fetched: no retry is owed any more."""
        self.retry_from = None
        self.retry_history = False
        self.resume_from = None

    def gave_up(self, batch: FillBatch[G]) -> bool:
        """The batch could not be fetched: the next fill starts where it did and
        recovers the same Ids. True the first time (since the last success), False when
        a retry had failed before. Its gates' held items are dropped (their sockets are
        replaced)."""
        first = self.retry_from is None and not self.retry_history
        if batch.history:
            self.retry_history = True
        elif self.retry_from is None:
            self.retry_from = batch.plan.start
        if batch.recover is None:  # the retry recovers what this one was to recover
            self._recover = None
        else:
            for item_id in batch.recover:
                self._recover_id(item_id)
        for gate in batch.gates:
            gate.held = None
        return first

    def release(self, gate: G) -> bool:
        """After the fill and the delivery of ``gate``'s held items: open it, or (it
        overflowed) close it behind one more fill. True: start the filler."""
        gate.held = None
        if gate.overflowed:
            gate.overflowed = False
            return self.request(gate, overlap=self.gap_fill_overlap)
        gate.is_open = True
        return False
