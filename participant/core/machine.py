"""The connection core of a participant, sans-IO: events in, actions out.

One :class:`transitions.Machine` (:data:`MACHINE`) is shared by every participant in the
process; each participant owns a :class:`Core` (a dozen slots) that the machine drives
without ``Machine.add_model`` (which would bind about thirty ``functools.partial`` objects
to every model). The table :data:`TRANSITIONS` **is** the behaviour: each row is an event
(the trigger), the states it is legal in, where it leads (``None``: stays, an internal
transition) and the conditions that guard it; the callbacks after a transition and on
entering a state append :class:`Action` objects to :attr:`Core.outbox`, which the trio
shell (:mod:`participant.actor`) executes, feeding the results back as events. An event
that has no row for the current state raises :class:`transitions.MachineError`. The table,
the states, events and actions are data in :mod:`participant.core.table` (re-exported
here); this module is the runtime.

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

from collections.abc import Callable
from typing import Any, Final, Protocol

from transitions import EventData, Machine, MachineError, Transition

from .table import (
    TRANSITIONS,
    Abort,
    Action,
    Attempt,
    Close,
    DeliverChatEnded,
    Event,
    Fill,
    FirstSubscription,
    Interrupt,
    OpenGate,
    Row,
    Sleep,
    State,
    StateChange,
    Stop,
    Subscribe,
    Trigger,
)

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
