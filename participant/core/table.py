"""The participant's state table, as data: states, events, public transition names,
the actions the core emits and :data:`TRANSITIONS` (issue 11). No behaviour here: the
runtime that drives a :class:`~participant.core.machine.Core` through this table is
:mod:`participant.core.machine` (which re-exports every name of this module); the docs
diagram is drawn from it by :mod:`participant.machine`.
"""

from __future__ import annotations

import enum
from typing import Final

import attrs

__all__ = [
    "TRANSITIONS",
    "Abort",
    "Action",
    "Attempt",
    "Close",
    "DeliverChatEnded",
    "Event",
    "Fill",
    "FirstSubscription",
    "Interrupt",
    "OpenGate",
    "Row",
    "Sleep",
    "State",
    "StateChange",
    "Stop",
    "Subscribe",
    "Trigger",
]


class State(enum.StrEnum):
    """The six states of a participant ([concepts](concepts.md#state-machine)). Values compare
    equal to plain strings."""

    TOKEN = "token"
    CONNECTED = "connected"
    SUBSCRIBED = "subscribed"
    EXPIRED = "expired"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"


class Trigger(enum.StrEnum):
    """The public names of the reported transitions (:attr:`StateChange.trigger`)."""

    OPENED = "opened"
    """token -> connected: first CreateParticipantConnection done and the websocket is open."""
    ACKNOWLEDGED = "acknowledged"
    """connected -> subscribed: the ``aws/subscribe`` reply said success."""
    EXPIRY_DUE = "expiry_due"
    """subscribed -> expired: ConnectionExpiry or the ConnectionToken Expiry is near."""
    RENEWED = "renewed"
    """expired -> subscribed: the new socket is subscribed and the old one closed."""
    LOST = "lost"
    """token/connected/subscribed/expired -> reconnecting: close, error or missed heartbeat."""
    BACKOFF = "backoff"
    """reconnecting -> reconnecting: waiting before the next attempt."""
    RETRY = "retry"
    """reconnecting -> connected: a fresh URL was fetched and opened within its window."""
    ENDED = "ended"
    """any live state -> disconnected: the chat ended (chat-ended item or AccessDenied)."""
    CLOSED = "closed"
    """any live state -> disconnected: closed by the program (disconnect, context exit)."""
    FAILED = "failed"
    """any live state -> disconnected: a fatal, non-retryable error."""


class Event(enum.StrEnum):
    """The core's inputs: the machine's triggers."""

    SOCKET_OPENED = "socket_opened"
    SUBSCRIBED = "subscribed"
    RENEWAL_DONE = "renewal_done"
    SOCKET_LOST = "socket_lost"
    ATTEMPT_FAILED = "attempt_failed"
    BACKOFF = "backoff"
    TICK = "tick"
    FILL_DONE = "fill_done"
    FILL_FAILED = "fill_failed"
    ACCESS_DENIED = "access_denied"
    CHAT_ENDED = "chat_ended"
    CLOSE_REQUESTED = "close_requested"
    FATAL = "fatal"


@attrs.frozen
class StateChange:
    """One transition of a participant, as seen by observers.

    ``old``/``new``: states; ``trigger``: the transition's public name; ``reason``: a
    short human text (e.g. ``"renewal: ConnectionExpiry in 60 s"``, ``"drop: heartbeat
    unanswered"``); ``delay``: for ``backoff``, the seconds before the next attempt.
    """

    old: State
    new: State
    trigger: Trigger
    reason: str = ""
    delay: float | None = None


# ---- actions ---------------------------------------------------------------------------


@attrs.frozen
class Attempt:
    """After ``delay`` seconds: CreateParticipantConnection, open the websocket (with a
    fill gate when ``gate``); feed ``socket_opened``, ``attempt_failed`` or
    ``access_denied``."""

    delay: float
    gate: bool


@attrs.frozen
class Subscribe:
    """Subscribe ``sock`` to ``aws/chat``; feed ``subscribed`` or ``attempt_failed``."""

    sock: object


@attrs.frozen
class Close:
    """Close ``sock`` (bounded); feed ``then`` (an :class:`Event`) afterwards if set."""

    sock: object
    then: Event | None = None


@attrs.frozen
class Sleep:
    """Wait until ``until`` (shell clock) or until woken; then feed ``tick``."""

    until: float


@attrs.frozen
class Fill:
    """Gap fill (or the history) behind ``sock``'s gate; feed ``fill_done`` or
    ``fill_failed``."""

    sock: object
    history: bool
    overlap: float


@attrs.frozen
class OpenGate:
    """No fill is owed: open ``sock``'s gate at once."""

    sock: object


@attrs.frozen
class Abort:
    """Declare ``sock`` lost (it is no longer trusted); ``socket_lost`` follows."""

    sock: object
    reason: str


@attrs.frozen
class Interrupt:
    """Cancel the action being executed and drop the queued ones (a state change made
    them stale)."""


@attrs.frozen
class FirstSubscription:
    """The first subscription ever: the shell fixes the history floor."""


@attrs.frozen
class DeliverChatEnded:
    """Deliver a synthetic ChatEnded item (AccessDenied while reconnecting)."""


@attrs.frozen
class Stop:
    """The participant is disconnected: stop the connection tasks, end the iterator."""

    trigger: Trigger
    reason: str


Action = (
    Attempt
    | Subscribe
    | Close
    | Sleep
    | Fill
    | OpenGate
    | Abort
    | Interrupt
    | FirstSubscription
    | DeliverChatEnded
    | Stop
)


# ---- the table ---------------------------------------------------------------------------


@attrs.frozen
class Row:
    """One row of the table: ``event`` in ``sources`` goes to ``dest`` (``None``: stays)
    when every condition holds (``unless``: when it does not); ``after`` runs then;
    ``report`` names the transition for observers (``None``: not reported)."""

    event: Event
    sources: tuple[State, ...]
    dest: State | None
    report: Trigger | None = None
    conditions: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    after: tuple[str, ...] = ()


S = State
_LIVE: Final = (S.TOKEN, S.CONNECTED, S.SUBSCRIBED, S.EXPIRED, S.RECONNECTING)
_ALL: Final = (*_LIVE, S.DISCONNECTED)

#: The state table, in evaluation order (for one event and state the first row whose
#: conditions hold wins). Single source of truth for the machine, the docs diagram and
#: the tests.
TRANSITIONS: Final[tuple[Row, ...]] = (
    Row(Event.SOCKET_OPENED, (S.TOKEN,), S.CONNECTED, Trigger.OPENED, after=("_opened",)),
    Row(Event.SOCKET_OPENED, (S.RECONNECTING,), S.CONNECTED, Trigger.RETRY, after=("_opened",)),
    Row(Event.SOCKET_OPENED, (S.EXPIRED,), None, after=("_opened",)),
    Row(Event.SUBSCRIBED, (S.CONNECTED,), S.SUBSCRIBED, Trigger.ACKNOWLEDGED, after=("_up",)),
    Row(Event.SUBSCRIBED, (S.EXPIRED,), None, after=("_switch",)),
    Row(Event.RENEWAL_DONE, (S.EXPIRED,), S.SUBSCRIBED, Trigger.RENEWED, after=("_renewed",)),
    Row(
        Event.SOCKET_LOST,
        (S.SUBSCRIBED, S.EXPIRED),
        S.RECONNECTING,
        Trigger.LOST,
        conditions=("_is_current",),
        after=("_dropped", "_schedule"),
    ),
    Row(Event.SOCKET_LOST, _ALL, None),  # another socket (closing, or not yet current)
    Row(
        Event.ATTEMPT_FAILED,
        (S.TOKEN, S.CONNECTED),
        S.RECONNECTING,
        Trigger.LOST,
        after=("_schedule",),
    ),
    Row(Event.ATTEMPT_FAILED, (S.RECONNECTING,), None, after=("_schedule",)),
    Row(Event.ATTEMPT_FAILED, (S.EXPIRED,), None, after=("_renew_again",)),
    Row(Event.BACKOFF, (S.RECONNECTING,), S.RECONNECTING, Trigger.BACKOFF, after=("_attempt",)),
    Row(
        Event.TICK,
        (S.SUBSCRIBED,),
        S.EXPIRED,
        Trigger.EXPIRY_DUE,
        conditions=("_renewal_due",),
        after=("_renew",),
    ),
    Row(Event.TICK, (S.SUBSCRIBED,), None, after=("_sleep",)),
    Row(Event.TICK, _ALL, None),
    Row(Event.FILL_DONE, _ALL, None, after=("_filled",)),
    Row(Event.FILL_FAILED, _LIVE, None, unless=("_fill_failed_before",), after=("_refill",)),
    Row(Event.FILL_FAILED, _LIVE, S.DISCONNECTED, Trigger.FAILED),
    Row(Event.FILL_FAILED, (S.DISCONNECTED,), None),
    # A modelled AccessDeniedException on CreateParticipantConnection: before the first
    # subscription the token is bad (connect() raises); after it the chat is over.
    Row(Event.ACCESS_DENIED, _LIVE, S.DISCONNECTED, Trigger.FAILED, unless=("_ever_up",)),
    Row(Event.ACCESS_DENIED, _LIVE, S.DISCONNECTED, Trigger.ENDED, after=("_ended_by_403",)),
    Row(Event.CHAT_ENDED, _LIVE, S.DISCONNECTED, Trigger.ENDED),
    Row(Event.CLOSE_REQUESTED, _LIVE, S.DISCONNECTED, Trigger.CLOSED),
    Row(Event.FATAL, _LIVE, S.DISCONNECTED, Trigger.FAILED),
    Row(Event.CHAT_ENDED, (S.DISCONNECTED,), None),
    Row(Event.CLOSE_REQUESTED, (S.DISCONNECTED,), None),
    Row(Event.FATAL, (S.DISCONNECTED,), None),
)
