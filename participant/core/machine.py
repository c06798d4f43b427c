"""The connection core of a participant, sans-IO: events in, actions out.

One :class:`transitions.Machine` (:data:`MACHINE`) is shared by every participant in the
process; each participant owns a :class:`Core` (a dozen slots) that the machine drives
without ``Machine.add_model`` (which would bind about thirty ``functools.partial`` objects
to every model). The table :data:`TRANSITIONS` **is** the behaviour: each row is an event
(the trigger), the states it is legal in, where it leads (``None``: stays, an internal
transition) and the conditions that guard it; the callbacks after a transition and on
entering a state append :class:`Action` objects to :attr:`Core.outbox`, which the trio
shell (:mod:`participant.actor`) executes, feeding the results back as events. An event
that has no row for the current state raises :class:`transitions.MachineError`.

No trio, no sockets, no HTTP: sockets are opaque handles, times are floats of the
shell's clock passed in with the events, and randomness (backoff jitter) comes through the
``backoff`` callable. Reported transitions (those with a ``report`` name, the public
:class:`Trigger`) reach the listener as :class:`StateChange` objects.

States ([concepts](concepts.md#state-machine)): token, connected, subscribed, expired,
reconnecting, disconnected.
Events: ``socket_opened``, ``subscribed``, ``renewal_done``, ``socket_lost``,
``attempt_failed``, ``backoff``, ``tick``, ``fill_done``, ``fill_failed``,
``access_denied``, ``chat_ended``, ``close_requested``, ``fatal``.
Actions: :class:`Attempt` (CreateParticipantConnection + open a websocket),
:class:`Subscribe`, :class:`Close`, :class:`Sleep`, :class:`Fill`, :class:`OpenGate`,
:class:`Abort`, :class:`Interrupt`, :class:`FirstSubscription`, :class:`DeliverChatEnded`,
:class:`Stop`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, Final, Protocol

import attrs
from transitions import EventData, Machine, MachineError, Transition

__all__ = [
    "MACHINE",
    "TRANSITIONS",
    "Abort",
    "Action",
    "Attempt",
    "Close",
    "Core",
    "CoreConfig",
    "CoreStats",
    "DeliverChatEnded",
    "Event",
    "Fill",
    "FirstSubscription",
    "Interrupt",
    "MachineError",
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


class CoreConfig(Protocol):
    """The settings the core reads (a :class:`~participant.actor.ParticipantConfig`)."""

    @property
    def backoff_reset_after(self) -> float: ...
    @property
    def gap_fill_overlap(self) -> float: ...
    @property
    def gap_fill_after_renewal(self) -> bool: ...
    @property
    def renewal_fill_overlap(self) -> float: ...


class CoreStats(Protocol):
    """The counters the core keeps (a :class:`~participant.actor.ParticipantStats`)."""

    renewals: int
    token_renewals: int
    drops: int
    reconnects: int


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


class _Transition(Transition):
    """A transition that knows its row (its public ``report`` name)."""

    def __init__(self, *args: Any, row: Row, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.row = row


class _Machine(Machine):
    transition_cls = _Transition


def _build_machine() -> Machine:
    machine = _Machine(
        model=None,
        states=[s.value for s in State],
        initial=State.TOKEN.value,
        auto_transitions=False,
        ignore_invalid_triggers=False,
        send_event=True,
        name="participant",
    )
    machine.on_enter_disconnected("_stop")
    for row in TRANSITIONS:
        machine.add_transition(
            row.event.value,
            [s.value for s in row.sources],
            None if row.dest is None else row.dest.value,
            conditions=list(row.conditions) or None,
            unless=list(row.unless) or None,
            after=["_report", *row.after],
            row=row,
        )
    return machine


def _transition(event: EventData) -> _Transition:
    transition = event.transition
    assert isinstance(transition, _Transition)
    return transition


#: The one machine shared by every :class:`Core` in the process.
MACHINE: Final[Machine] = _build_machine()


class Core:
    """One participant's connection state and plans; see the module docstring.

    Feed events with the methods named after them; read and clear :attr:`outbox`.
    """

    __slots__ = (
        "_backoff",
        "_config",
        "_fill_failures",
        "_listener",
        "attempt",
        "ever_up",
        "for_token",
        "history_owed",
        "outbox",
        "pending",
        "renew_at",
        "sock",
        "state",
        "stats",
        "up_since",
    )

    state: str

    def __init__(
        self,
        config: CoreConfig,
        stats: CoreStats,
        backoff: Callable[[int], float],
        *,
        history: bool = False,
        listener: Callable[[StateChange], None] | None = None,
    ) -> None:
        self.state = State.TOKEN.value
        self._config = config
        self.stats = stats
        self._backoff = backoff
        self._listener = listener
        self._fill_failures = 0
        #: Reconnect backoff step (reset after a connection stayed up a while).
        self.attempt = 0
        self.ever_up = False  # subscribed at least once
        self.history_owed = history
        self.sock: object | None = None  # the current socket (delivers items)
        self.pending: object | None = None  # a socket being subscribed
        self.renew_at = float("inf")
        self.for_token = False  # the renewal is due to the ConnectionToken's Expiry
        self.up_since = float("-inf")
        #: Actions for the shell, oldest first.
        self.outbox: list[Action] = [Attempt(0.0, history)]

    def __repr__(self) -> str:
        return f"<Core {self.state}>"

    @property
    def current(self) -> State:
        return State(self.state)

    def fire(self, event: Event | str, **kwargs: Any) -> None:
        """Fire ``event`` (with keyword arguments for the callbacks); MachineError if it
        has no row for the current state."""
        name = str(event)
        handler = MACHINE.events.get(name)
        if handler is None:
            raise MachineError(f"unknown event {name!r}")
        handler.trigger(self, **kwargs)

    # ---- events (the shell's inputs) --------------------------------------------------

    def socket_opened(
        self, sock: object, renew_at: float, for_token: bool = False, reason: str = ""
    ) -> None:
        self.fire(
            Event.SOCKET_OPENED, sock=sock, renew_at=renew_at, for_token=for_token, reason=reason
        )

    def subscribed(self, sock: object, now: float, reason: str = "") -> None:
        self.fire(Event.SUBSCRIBED, sock=sock, now=now, reason=reason)

    def renewal_done(self, reason: str = "") -> None:
        self.fire(Event.RENEWAL_DONE, reason=reason)

    def socket_lost(self, sock: object, now: float, reason: str = "") -> None:
        self.fire(Event.SOCKET_LOST, sock=sock, now=now, reason=reason)

    def attempt_failed(self, reason: str = "") -> None:
        self.fire(Event.ATTEMPT_FAILED, reason=reason)

    def tick(self, now: float, reason: str = "") -> None:
        self.fire(Event.TICK, now=now, reason=reason)

    def fill_done(self) -> None:
        self.fire(Event.FILL_DONE)

    def fill_failed(self, reason: str = "") -> None:
        self.fire(Event.FILL_FAILED, reason=reason)

    def access_denied(self, reason: str = "") -> None:
        self.fire(Event.ACCESS_DENIED, reason=reason)

    def chat_ended(self, reason: str = "") -> None:
        self.fire(Event.CHAT_ENDED, reason=reason)

    def close_requested(self, reason: str = "") -> None:
        self.fire(Event.CLOSE_REQUESTED, reason=reason)

    def fatal(self, reason: str = "") -> None:
        self.fire(Event.FATAL, reason=reason)

    # ---- conditions --------------------------------------------------------------------

    def _is_current(self, event: EventData) -> bool:
        return event.kwargs["sock"] is self.sock

    def _renewal_due(self, event: EventData) -> bool:
        return bool(event.kwargs["now"] >= self.renew_at)

    def _fill_failed_before(self, _event: EventData) -> bool:
        return self._fill_failures > 0

    def _ever_up(self, _event: EventData) -> bool:
        return self.ever_up

    # ---- callbacks (emit actions) ------------------------------------------------------

    def _report(self, event: EventData) -> None:
        transition = _transition(event)
        row = transition.row
        if row.report is None or self._listener is None:
            return
        delay = event.kwargs.get("delay")
        change = StateChange(
            State(transition.source),
            State(self.state),
            row.report,
            event.kwargs.get("reason", ""),
            delay,
        )
        self._listener(change)

    def _opened(self, event: EventData) -> None:
        self.pending = event.kwargs["sock"]
        self.renew_at = event.kwargs["renew_at"]
        self.for_token = event.kwargs["for_token"]
        self.outbox.append(Subscribe(self.pending))

    def _up(self, event: EventData) -> None:
        """connected -> subscribed: the pending socket is current."""
        sock = self.pending
        self.pending = None
        self.sock = sock
        self.up_since = event.kwargs["now"]
        if self.ever_up:
            self.stats.reconnects += 1
            self._owe_fill(sock, self._config.gap_fill_overlap)
        else:
            self.ever_up = True
            self.outbox.append(FirstSubscription())
            if self.history_owed:
                self._owe_fill(sock, 0.0)
        self._sleep(event)

    def _switch(self, event: EventData) -> None:
        """expired: the renewal's socket is subscribed and current; close the old one,
        then ``renewal_done``."""
        old, self.sock = self.sock, self.pending
        self.pending = None
        self.up_since = event.kwargs["now"]
        self.outbox.append(Close(old, then=Event.RENEWAL_DONE))

    def _renewed(self, event: EventData) -> None:
        self.stats.renewals += 1
        if self.for_token:
            self.stats.token_renewals += 1
        sock = self.sock
        if self._config.gap_fill_after_renewal:
            self._owe_fill(sock, self._config.renewal_fill_overlap)
        else:
            self.outbox.append(OpenGate(sock))
        self._sleep(event)

    def _owe_fill(self, sock: object, overlap: float) -> None:
        history = self.history_owed
        self.history_owed = False
        self.outbox.append(Fill(sock, history, overlap))

    def _sleep(self, _event: EventData) -> None:
        self.outbox.append(Sleep(self.renew_at))

    def _renew(self, _event: EventData) -> None:
        self.outbox.append(Attempt(0.0, True))

    def _renew_again(self, _event: EventData) -> None:
        """A renewal attempt failed: the old socket still delivers; try again later."""
        self.attempt += 1
        self.outbox.append(Attempt(self._backoff(self.attempt - 1), True))

    def _dropped(self, event: EventData) -> None:
        self.stats.drops += 1
        if event.kwargs["now"] - self.up_since >= self._config.backoff_reset_after:
            self.attempt = 0  # it stayed up a while: start the backoff afresh
        else:
            self.attempt += 1  # dropped soon after it came up: back off further
        self.sock = None
        self.outbox.insert(0, Interrupt())
        if self.pending is not None:
            self.outbox.append(Close(self.pending))
            self.pending = None

    def _schedule(self, event: EventData) -> None:
        """Entering reconnecting, or an attempt failed there: back off, then attempt."""
        if event.event.name == Event.ATTEMPT_FAILED:
            self.attempt += 1
        delay = self._backoff(self.attempt)
        self.fire(Event.BACKOFF, delay=delay, reason=f"backoff before attempt {self.attempt + 1}")

    def _attempt(self, event: EventData) -> None:
        self.outbox.append(Attempt(event.kwargs["delay"], self.ever_up or self.history_owed))

    def _filled(self, _event: EventData) -> None:
        self._fill_failures = 0

    def _refill(self, event: EventData) -> None:
        """A fill gave up: replace the socket (the reconnect's fill starts where it did)."""
        self._fill_failures += 1
        sock = self.sock
        if sock is not None:
            self.outbox.append(Abort(sock, event.kwargs.get("reason", "gap fill failed")))

    def _ended_by_403(self, _event: EventData) -> None:
        self.outbox.insert(0, DeliverChatEnded())

    def _stop(self, event: EventData) -> None:
        row = _transition(event).row
        assert row.report is not None
        self.outbox.insert(0, Stop(row.report, event.kwargs.get("reason", "")))
        self.outbox.insert(0, Interrupt())
