"""Tuning and counters of a participant: :class:`ParticipantConfig` and
:class:`ParticipantStats` (also importable from :mod:`participant.actor` and
:mod:`participant`). Plain attrs classes, no I/O; docs/concepts.md explains each setting.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import attrs

from participant.errors import InvalidParameterError
from participant.socket import SocketConfig

__all__ = ["ParticipantConfig", "ParticipantStats"]


def _positive(_inst: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise InvalidParameterError(attribute.name, "a positive number of seconds")


def _non_negative(_inst: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (value >= 0 and math.isfinite(value)):
        raise InvalidParameterError(attribute.name, "a number of seconds >= 0")


def _at_least_one(_inst: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 1:
        raise InvalidParameterError(attribute.name, ">= 1")


@attrs.frozen(kw_only=True)
class ParticipantConfig:
    """Tuning of a :class:`~participant.actor.Participant` (seconds unless stated; defaults from
    [protocol](protocol.md)).

    Attributes:
        renewal_margin: renew this long before ConnectionExpiry / the token's Expiry ...
        renewal_fraction: ... but no more than this fraction of the lifetime (short
            lifetimes, e.g. an emulator with a ConnectionExpiry of a few seconds).
        url_window: a fresh websocket URL is opened within this time of the
            CreateParticipantConnection response or never used (service: 100 s; AWS's JS
            client: 85 s).
        backoff_initial, backoff_max, backoff_multiplier: reconnect backoff; each delay is
            drawn from ``[d/2, d]`` with ``d = min(backoff_max, initial * multiplier**n)``.
        max_buffered_items: items buffered for the iterator; a live item beyond it is
            dropped and recovered from the transcript once the consumer caught up.
        iterate: buffer items for ``async for``; set False when only handlers consume.
        typing_interval: :meth:`~participant.actor.Participant.send_typing` sends at most
            one event per this.
        receipt_hold, receipt_window: receipt coalescing (0.3 s, 5 s:
            [protocol](protocol.md#items)).
        dedupe_window, dedupe_max_ids: the remembered Ids (docs/concepts.md,
            "Reconnection and gap fill": exactly once).
        gap_fill_overlap: after an unplanned reconnect, gap fill starts this long before
            the newest AbsoluteTime seen (< ``dedupe_window``).
        gap_fill_after_renewal: also fill after a planned renewal (covers items still in
            the old socket's buffers when it is closed).
        renewal_fill_overlap: that fill starts this long before the newest AbsoluteTime
            seen (< ``dedupe_window``); short, so live items wait little behind it.
        clock_skew: without ``history``, gap fill never delivers items whose AbsoluteTime
            (the service's clock) is older than the first subscription (this host's
            ``wall_clock``) minus this allowance for the difference between the clocks.
            Larger: items sent up to this long before the subscription may arrive later
            through gap fill; smaller: if this host's clock is ahead of the service's,
            items just after the subscription could be skipped by gap fill (they still
            arrive on the socket unless it was lost before they did).
        connect_timeout: the first connection (CreateParticipantConnection, websocket open,
            subscribe) must succeed within this time, retrying transient errors with
            backoff meanwhile; otherwise :func:`~participant.actor.connect` raises the
            last error (:class:`~participant.errors.TransportError` when the endpoint is
            refused or unreachable, :class:`~participant.errors.ServiceError` such as
            ThrottlingException). ``None``: retry forever.
            It bounds the whole first connection, so a first websocket open stalled
            longer than it fails even within ``url_window``.
        transcript_page_size: MaxResults of each GetTranscript page (1..100).
        transcript_max_pages, transcript_max_items: bounds of one gap fill (or history):
            more pages or items than these, or a NextToken the service already gave in
            this fill (a cycle), is a :class:`~participant.errors.TranscriptPagingError`.
        fill_max_attempts: a gap fill tries GetTranscript this many times on transient
            errors (backoff as for reconnects) before it gives up; a fill that gives up
            (or meets a non-retryable error) reconnects and fills again from the same
            point; if that fails too the participant ends with ``error`` set.
        held_items_max: live items a new socket holds while its gap fill runs (they are
            delivered after the fill's items); beyond it live items are dropped and a
            further fill recovers them from the transcript. The socket reader never
            waits for a fill, so the heartbeat watchdog always runs.
        handler_concurrency: handler calls running at once (one task per item runs the
            item's matching handlers in turn); when all are busy the actor waits for one
            to finish before it accepts the next item from a fill; a live item finding the
            pool full is dropped and recovered like one finding the buffer full.
        streaming: ``"chunks"`` (default) delivers every revision of an AI streaming
            reply (the whole text so far each time); ``"completed"`` only the completed
            reply (docs/concepts.md, "Revisions").
        ack: ``"implicit"`` (default): an item yielded by the iterator is acknowledged
            when the next one is asked for, a handler's item when the handler returns;
            ``"manual"``: only :meth:`~participant.actor.Participant.ack` acknowledges.
        backoff_reset_after: the reconnect backoff starts again from ``backoff_initial``
            only after a connection stayed subscribed this long; a connection that drops
            sooner continues the backoff sequence.
        state_feed_size: unread :class:`~participant.machine.StateChange` kept per
            :meth:`~participant.actor.Participant.state_changes`.
        socket: timing of each websocket (:class:`participant.socket.SocketConfig`).
    """

    renewal_margin: float = attrs.field(default=60.0, validator=_non_negative)
    renewal_fraction: float = attrs.field(default=0.2, validator=_non_negative)
    url_window: float = attrs.field(default=85.0, validator=_positive)
    backoff_initial: float = attrs.field(default=1.0, validator=_positive)
    backoff_max: float = attrs.field(default=30.0, validator=_positive)
    backoff_multiplier: float = attrs.field(default=2.0, validator=_positive)
    max_buffered_items: int = attrs.field(default=256, validator=_at_least_one)
    iterate: bool = True
    typing_interval: float = attrs.field(default=10.0, validator=_non_negative)
    receipt_hold: float = attrs.field(default=0.3, validator=_non_negative)
    receipt_window: float = attrs.field(default=5.0, validator=_non_negative)
    dedupe_window: float = attrs.field(default=600.0, validator=_positive)
    dedupe_max_ids: int = attrs.field(default=2048, validator=_at_least_one)
    gap_fill_overlap: float = attrs.field(default=5.0, validator=_non_negative)
    gap_fill_after_renewal: bool = True
    renewal_fill_overlap: float = attrs.field(default=1.0, validator=_non_negative)
    clock_skew: float = attrs.field(default=2.0, validator=_non_negative)
    connect_timeout: float | None = attrs.field(default=30.0)
    transcript_page_size: int = attrs.field(default=100, validator=_at_least_one)
    transcript_max_pages: int = attrs.field(default=1000, validator=_at_least_one)
    transcript_max_items: int = attrs.field(default=100_000, validator=_at_least_one)
    fill_max_attempts: int = attrs.field(default=5, validator=_at_least_one)
    held_items_max: int = attrs.field(default=1024, validator=_at_least_one)
    handler_concurrency: int = attrs.field(default=16, validator=_at_least_one)
    backoff_reset_after: float = attrs.field(default=30.0, validator=_non_negative)
    streaming: Literal["chunks", "completed"] = attrs.field(default="chunks")
    ack: Literal["implicit", "manual"] = attrs.field(default="implicit")
    state_feed_size: int = attrs.field(default=256, validator=_at_least_one)
    socket: SocketConfig = attrs.field(factory=SocketConfig)

    def __attrs_post_init__(self) -> None:
        timeout = self.connect_timeout
        if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
            raise InvalidParameterError("connect_timeout", "a positive number of seconds or None")
        if self.gap_fill_overlap >= self.dedupe_window:
            raise InvalidParameterError("gap_fill_overlap", "< dedupe_window")
        if self.renewal_fill_overlap >= self.dedupe_window:
            raise InvalidParameterError("renewal_fill_overlap", "< dedupe_window")
        if self.transcript_page_size > 100:
            raise InvalidParameterError("transcript_page_size", "1..100")
        if self.streaming not in ("chunks", "completed"):
            raise InvalidParameterError("streaming", "'chunks' or 'completed'")
        if self.ack not in ("implicit", "manual"):
            raise InvalidParameterError("ack", "'implicit' or 'manual'")


@attrs.define
class ParticipantStats:
    """Counters of one participant (for summaries and benchmarks)."""

    items_received: int = 0
    """Chat items decoded from websockets, duplicates included."""
    items_delivered: int = 0
    """Items handed to the consumer: each revision of an Id once (a streamed reply of n
    chunks counts n + 1)."""
    duplicates_dropped: int = 0
    """Items dropped because that revision of their Id was already delivered."""
    gap_fills: int = 0
    """GetTranscript gap fills completed."""
    gap_filled_items: int = 0
    """Items delivered by gap fill (missed by the socket)."""
    history_items: int = 0
    """Items delivered from the history at start."""
    renewals: int = 0
    """Planned renewals (make-before-break) completed."""
    token_renewals: int = 0
    """Of those, renewals due to the ConnectionToken's Expiry."""
    drops: int = 0
    """Subscribed sockets lost (close, error, missed heartbeat)."""
    reconnects: int = 0
    """Successful reconnects after a drop."""
    failed_attempts: int = 0
    """Failed connection attempts (CreateParticipantConnection, open, subscribe)."""
    handler_errors: int = 0
    """Handler calls that raised."""
    live_items_dropped: int = 0
    """Live items dropped for lack of room - the consumer's buffer or the handler pool
    full, or ``held_items_max`` held behind a gap fill - each recovered from the
    transcript by a further fill."""
    failed_fills: int = 0
    """Gap fills (or history loads) that gave up."""
    receipts_failed: int = 0
    """Receipts of :meth:`~participant.actor.Participant.send_receipt_nowait` not sent
    (the participant closed first, or SendEvent failed); each is logged."""
