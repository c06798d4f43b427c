"""Plans of the participant, sans-IO: when to renew, where a gap fill starts, when paging
must stop. Pure functions and small value objects over floats (epoch seconds or the
shell's monotonic clock); no trio import. The trio shell (:mod:`participant.actor`)
executes them.

Sources: [protocol](protocol.md#tokens-and-lifetimes) (ConnectionExpiry, the ConnectionToken's
Expiry, make-before-break
renewal), §5 (GetTranscript paging, StartPosition), docs/concepts.md "Reconnection and gap
fill".
"""

from __future__ import annotations

import math
from typing import Literal

import attrs

from participant.errors import TranscriptPagingError

__all__ = ["FillPlan", "Pager", "RenewalPlan", "fill_plan", "renewal_plan"]


@attrs.frozen
class RenewalPlan:
    """When to renew one connection (times on the shell's clock, seconds).

    Attributes:
        connection_expiry: when the websocket's ConnectionExpiry falls (``inf``: none).
        token_expiry: when the ConnectionToken's Expiry falls (``inf``: none).
        renew_at: when to start the make-before-break renewal: the earlier of the two
            deadlines, each less ``min(margin, fraction * lifetime)``.
        for_token: the token's Expiry comes first (``stats.token_renewals``).
        reason: the :class:`~participant.machine.StateChange` reason of the renewal,
            e.g. ``"renewal: ConnectionExpiry in 60 s"``.
    """

    connection_expiry: float
    token_expiry: float
    renew_at: float
    for_token: bool
    reason: str


def renewal_plan(
    *,
    at: float,
    wall: float,
    connection_expiry: float | None,
    token_expiry: float | None,
    margin: float,
    fraction: float,
) -> RenewalPlan:
    """The renewal of a connection created at ``at`` (shell clock) when the wall clock
    read ``wall`` (epoch seconds); ``connection_expiry`` / ``token_expiry`` are the
    response's ConnectionExpiry / Expiry in epoch seconds (``None``: absent or
    unparsable). ``margin`` seconds (>= 0) and ``fraction`` (>= 0) of the lifetime bound
    how early it renews ([protocol](protocol.md#tokens-and-lifetimes))."""
    conn = math.inf if connection_expiry is None else at + (connection_expiry - wall)
    tok = math.inf if token_expiry is None else at + (token_expiry - wall)

    def renew_at(deadline: float) -> float:
        lifetime = max(0.0, deadline - at)
        return deadline - min(margin, fraction * lifetime)

    conn_renew, tok_renew = renew_at(conn), renew_at(tok)
    for_token = tok_renew < conn_renew
    when = min(conn_renew, tok_renew)
    which = "ConnectionToken Expiry" if for_token else "ConnectionExpiry"
    due_in = (tok if for_token else conn) - when
    return RenewalPlan(conn, tok, when, for_token, f"renewal: {which} in {due_in:.0f} s")


@attrs.frozen
class FillPlan:
    """One gap fill (or the history).

    Attributes:
        history: the whole transcript (``scan_direction`` BACKWARD, no start).
        start: epoch seconds; a gap fill skips items older than this (``-inf`` for the
            history). GetTranscript's ``StartPosition.AbsoluteTime`` is this instant.
        scan_direction: ``"FORWARD"`` for a gap fill, ``"BACKWARD"`` for the history.
    """

    history: bool
    start: float
    scan_direction: Literal["FORWARD", "BACKWARD"]

    def keeps(self, absolute_time: float | None, related_contact_id: object) -> bool:
        """Whether an item of the fill's pages belongs to it: the history keeps all; a
        gap fill drops items of a related (earlier) contact and items before ``start``
        (an item without a parsable AbsoluteTime is kept)."""
        if self.history:
            return True
        if related_contact_id is not None:
            return False
        return absolute_time is None or absolute_time >= self.start


def fill_plan(
    *,
    history: bool,
    overlap: float,
    floor: float | None,
    newest: float | None,
    wall: float,
    dedupe_window: float,
    retry_from: float | None = None,
    dropped: float | None = None,
) -> FillPlan:
    """Where a fill starts (epoch seconds throughout).

    ``floor``: without ``history`` the fill never goes before the first subscription
    less ``clock_skew`` (``None`` before it; ``-inf`` in history mode). ``newest``: the
    newest AbsoluteTime delivered (``None``: nothing yet). A gap fill starts
    ``overlap`` seconds before ``newest``, never before ``floor``; with neither bound
    (history mode, nothing seen) ``dedupe_window`` before ``wall``. ``retry_from``: a
    fill that gave up started there; the next one starts no later. ``dropped``: the
    oldest AbsoluteTime of a live item dropped since the last fill (no room for it); the
    fill starts no later than ``overlap`` before it (never before ``floor``), so an item
    dropped long after its AbsoluteTime (a streamed reply's completed item, an attachment
    verdict) is fetched again.
    """
    if history:
        return FillPlan(True, -math.inf, "BACKWARD")
    low = -math.inf if floor is None else floor
    start = low if newest is None else max(low, newest - overlap)
    if not math.isfinite(start):
        start = wall - dedupe_window
    if dropped is not None:
        start = min(start, max(low, dropped - overlap))
    if retry_from is not None:
        start = min(start, retry_from)
    return FillPlan(False, start, "FORWARD")


class Pager:
    """Bounds of one fill's GetTranscript paging, sans-IO: feed each page's NextToken
    and item count to :meth:`page`; it returns the NextToken to ask for next, ``None``
    when the fill is complete, or raises :class:`~participant.errors.TranscriptPagingError`
    (``repeated_token``: a NextToken of an earlier page, a cycle; ``max_pages``;
    ``max_items``). The token itself never appears in the error."""

    __slots__ = ("_followed", "items", "max_items", "max_pages", "pages")

    def __init__(self, *, max_pages: int, max_items: int) -> None:
        self.max_pages = max_pages
        self.max_items = max_items
        self.pages = 0
        self.items = 0
        self._followed: set[str] = set()

    def page(self, next_token: str | None, items: int) -> str | None:
        self.pages += 1
        self.items += items
        if self.items > self.max_items:
            raise TranscriptPagingError(
                "max_items",
                pages=self.pages,
                items=self.items,
                detail=f"more than transcript_max_items ({self.max_items}) items",
            )
        if not next_token:
            return None
        if next_token in self._followed:
            raise TranscriptPagingError(
                "repeated_token",
                pages=self.pages,
                items=self.items,
                detail="the service returned a NextToken already followed (a paging cycle)",
            )
        if self.pages >= self.max_pages:
            raise TranscriptPagingError(
                "max_pages",
                pages=self.pages,
                items=self.items,
                detail=f"more than transcript_max_pages ({self.max_pages}) pages",
            )
        self._followed.add(next_token)
        return next_token
