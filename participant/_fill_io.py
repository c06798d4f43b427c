"""Gap fill of a :class:`~participant.actor.Participant`: the one fill task that runs the
fills the sans-IO :class:`~participant.core.delivery.Fills` owes (GetTranscript paged
FORWARD, retried with backoff, delivered in AbsoluteTime order before the live items held
behind it), as a slotted base of the actor. Private: documented on
:class:`~participant.actor.Participant` and in docs/concepts.md, "Gap fill".
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import httpx
import trio

from participant._backoff import backoff_delay
from participant._calls import describe
from participant._delivery_io import Delivering, _Gate, epoch
from participant._time import WallClock
from participant.config import ParticipantConfig
from participant.core.delivery import FillBatch, Fills
from participant.core.plan import Pager
from participant.errors import ServiceError, TransportError
from participant.model import Item

__all__ = ["Filling"]

log = logging.getLogger("participant.actor")

_FILLER_TASK: Final = "participant.actor.Participant._filler"
"""The fill task's name given to trio (else it formats one string per task spawned)."""


def _sort_key(item: Item) -> float:
    at = epoch(item.absolute_time)
    return -math.inf if at is None else at


def _fill_retryable(exc: BaseException) -> bool:
    """Worth another GetTranscript attempt of the same fill (else the fill gives up at
    once: a captive portal's HTML 200, a proxy's 407, a paging cycle)."""
    if isinstance(exc, (ServiceError, TransportError)):
        return exc.retryable
    return isinstance(exc, (httpx.TransportError, OSError))


class Filling(Delivering):
    """The gap fill task (a base of :class:`~participant.actor.Participant`, on top of
    :class:`Delivering`: one slotted layout)."""

    __slots__ = ("_failure", "_fills")

    _conn_nursery: trio.Nursery | None
    _failure: BaseException | None
    _rng: random.Random
    _wall_clock: WallClock

    if TYPE_CHECKING:

        def _feed(self, event: Callable[..., None], *args: Any) -> None: ...

    def _init_filling(self, config: ParticipantConfig, resume_from: float | None) -> None:
        """No fill owed yet but the first one's plan: ``resume_from`` (epoch seconds) is
        where a first fill resumed from a cursor starts."""
        self._failure = None  # the error a FAILED transition reports
        self._fills = Fills(
            gap_fill_overlap=config.gap_fill_overlap,
            dedupe_window=config.dedupe_window,
            clock_skew=config.clock_skew,
            resume_from=resume_from,
        )

    def _start_filler(self) -> None:
        nursery = self._conn_nursery
        assert nursery is not None
        nursery.start_soon(self._filler, name=_FILLER_TASK)

    async def _filler(self) -> None:
        """The one fill task: runs the fills :attr:`_fills` owes, one at a time, until
        none is owed (coalesced: requests made meanwhile become one more fill)."""
        fills = self._fills
        try:
            while fills.pending:
                # Fetch only once the consumer has room: what a stalled consumer missed
                # is fetched when it can take it, and in one fill, not one per stall tick.
                await self._wait_caught_up()
                batch = fills.take(newest=self._log.newest, wall=self._wall_clock())
                if await self._fill(batch):
                    for gate in batch.gates:
                        held = gate.held
                        while held:
                            await self._emit(held.popleft())
                        fills.release(gate)
                self._end_if_pending()
        finally:
            fills.running = False

    async def _fill(self, batch: FillBatch[_Gate]) -> bool:
        """Gap fill (or history): page GetTranscript, deliver in AbsoluteTime order.
        Waits for room in the buffer like a socket reader (it runs in its own task).

        Transient errors are retried ``fill_max_attempts`` times with backoff. A fill
        that gives up returns False after :meth:`_fill_gave_up` (reconnect, then fill
        again from the same point, or end the participant)."""
        plan = batch.plan
        attempt = 0
        while True:
            try:
                items = await self._fetch(batch.filters)
                break
            except Exception as exc:
                # AccessDenied here means the ConnectionToken no longer works (it expired or
                # was revoked), not that the chat is over: only CreateParticipantConnection
                # says that (protocol: errors that are not the service's). Like any fill that
                # cannot go on, it reconnects - a new ConnectionToken - and fills again.
                attempt += 1
                if not _fill_retryable(exc) or attempt >= self.config.fill_max_attempts:
                    self._fill_gave_up(exc, batch)
                    return False
                delay = self._backoff(attempt - 1)
                log.warning("gap fill failed (%s); retry in %.2f s", describe(exc), delay)
                await trio.sleep(delay)
        self._fills.succeeded()
        self._feed(self._core.fill_done)
        delivered = skipped = 0
        item_log, recover = self._log, batch.recover
        for item in items:
            if not plan.keeps(epoch(item.absolute_time), item.related_contact_id):
                continue
            if recover is not None and item_log.forgot(item) and item.id not in recover:
                skipped += 1  # delivered long ago (its Id forgotten); only `recover` was lost
                continue
            if await self._emit(item):
                delivered += 1
        if skipped:
            log.debug("gap fill skipped %d item(s) older than the Ids remembered", skipped)
        if batch.history:
            self.stats.history_items += delivered
        else:
            self.stats.gap_fills += 1
            self.stats.gap_filled_items += delivered
            if delivered:
                log.info("gap fill delivered %d missed item(s)", delivered)
        return True

    def _fill_gave_up(self, exc: BaseException, batch: FillBatch[_Gate]) -> None:
        """Tell the fills (the next one starts where this one did) and the core: the
        first time it replaces the socket, the second time it fails."""
        self.stats.failed_fills += 1
        if self._fills.gave_up(batch):
            log.warning("gap fill failed (%s); reconnecting to fill again", describe(exc))
        else:
            log.error("gap fill failed again after a reconnect: %s", describe(exc))
        self._failure = exc
        self._feed(self._core.fill_failed, f"gap fill failed: {type(exc).__name__}")

    async def _fetch(self, filters: dict[str, Any]) -> list[Item]:
        """All GetTranscript pages of one fill, sorted by AbsoluteTime, bounded by a
        :class:`~participant.core.plan.Pager` (raises TranscriptPagingError). Each page
        uses the current ConnectionToken (a renewal may replace it mid-fill)."""
        c = self.config
        pager = Pager(max_pages=c.transcript_max_pages, max_items=c.transcript_max_items)
        items: list[Item] = []
        next_token: str | None = None
        while True:
            creds = self._credentials
            assert creds is not None
            page = await self._client.get_transcript(
                creds.connection_token,
                max_results=c.transcript_page_size,
                next_token=next_token,
                **filters,
            )
            items.extend(page.transcript or ())
            next_token = pager.page(page.next_token, len(page.transcript or ()))
            if next_token is None:
                break
        items.sort(key=_sort_key)
        return items

    def _backoff(self, attempt: int) -> float:
        c = self.config
        return backoff_delay(
            attempt,
            initial=c.backoff_initial,
            maximum=c.backoff_max,
            multiplier=c.backoff_multiplier,
            rng=self._rng,
        )
