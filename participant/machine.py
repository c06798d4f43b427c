"""The participant's state machine: the state table and nothing else.

One :class:`transitions.Machine` (``MACHINE``) is shared by every participant in the
process. Each participant owns a small :class:`StateModel` (three slots) that the shared
machine drives: the model is never registered with ``Machine.add_model`` (which would bind
about thirty ``functools.partial`` objects to every model and keep a list of all models),
so an idle participant costs a few hundred bytes here, not kilobytes. Side effects live in
:mod:`participant.actor`; this module only says which transitions are legal.

States ([concepts](concepts.md#state-machine)):

===============  ==========================================================================
token            holds a ParticipantToken, no connection yet
connected        CreateParticipantConnection done, websocket open, not yet subscribed
subscribed       ``aws/chat`` subscription acknowledged; items flow
expired          ConnectionExpiry or the ConnectionToken's Expiry is due; renewal in progress
                 (the old socket still delivers)
reconnecting     the socket was lost (close, error, missed heartbeat); backing off
disconnected     terminal: chat ended, participant disconnected, closed by the program, or
                 a fatal error
===============  ==========================================================================

Triggers (each a method of :class:`StateModel`): see :data:`TRANSITIONS`. A trigger that
has no edge from the current state raises :class:`transitions.MachineError`.

Run ``python -m participant.machine --mermaid`` to print the diagram, or
``python -m participant.machine --write docs/concepts.md`` to refresh the generated block in
the docs (a test checks the committed docs match).
"""

from __future__ import annotations

import argparse
import enum
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import attrs
from transitions import Machine, MachineError

__all__ = [
    "MACHINE",
    "TRANSITIONS",
    "MachineError",
    "State",
    "StateChange",
    "StateModel",
    "Trigger",
    "mermaid",
]


class State(enum.StrEnum):
    """The six states of a participant ([concepts](concepts.md#state-machine)). Values compare equal
    to plain strings."""

    TOKEN = "token"
    CONNECTED = "connected"
    SUBSCRIBED = "subscribed"
    EXPIRED = "expired"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"


class Trigger(enum.StrEnum):
    """Names of the machine's triggers (events)."""

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
    """reconnecting -> reconnecting: an attempt failed; waiting before the next one."""
    RETRY = "retry"
    """reconnecting -> connected: a fresh URL was fetched and opened within its window."""
    ENDED = "ended"
    """any live state -> disconnected: the chat ended (chat-ended item or AccessDenied)."""
    CLOSED = "closed"
    """any live state -> disconnected: closed by the program (disconnect, context exit)."""
    FAILED = "failed"
    """any live state -> disconnected: a fatal, non-retryable error."""


_LIVE: Final[tuple[State, ...]] = (
    State.TOKEN,
    State.CONNECTED,
    State.SUBSCRIBED,
    State.EXPIRED,
    State.RECONNECTING,
)

#: The state table: (trigger, sources, dest). Single source of truth for the machine,
#: the docs diagram and the tests.
TRANSITIONS: Final[tuple[tuple[Trigger, tuple[State, ...], State], ...]] = (
    (Trigger.OPENED, (State.TOKEN,), State.CONNECTED),
    (Trigger.ACKNOWLEDGED, (State.CONNECTED,), State.SUBSCRIBED),
    (Trigger.EXPIRY_DUE, (State.SUBSCRIBED,), State.EXPIRED),
    (Trigger.RENEWED, (State.EXPIRED,), State.SUBSCRIBED),
    (
        Trigger.LOST,
        (State.TOKEN, State.CONNECTED, State.SUBSCRIBED, State.EXPIRED),
        State.RECONNECTING,
    ),
    (Trigger.BACKOFF, (State.RECONNECTING,), State.RECONNECTING),
    (Trigger.RETRY, (State.RECONNECTING,), State.CONNECTED),
    (Trigger.ENDED, _LIVE, State.DISCONNECTED),
    (Trigger.CLOSED, _LIVE, State.DISCONNECTED),
    (Trigger.FAILED, _LIVE, State.DISCONNECTED),
)


def _build_machine() -> Machine:
    machine = Machine(
        model=None,
        states=[s.value for s in State],
        initial=State.TOKEN.value,
        auto_transitions=False,
        ignore_invalid_triggers=False,
        send_event=True,
        name="participant",
    )
    for trigger, sources, dest in TRANSITIONS:
        machine.add_transition(trigger.value, [s.value for s in sources], dest.value)
    return machine


#: The one machine shared by every :class:`StateModel` in the process.
MACHINE: Final[Machine] = _build_machine()


@attrs.frozen
class StateChange:
    """One transition of a participant, as seen by observers.

    ``old``/``new``: states; ``trigger``: the trigger's name; ``reason``: a short human
    text (e.g. ``"renewal: ConnectionExpiry in 60 s"``, ``"drop: heartbeat unanswered"``,
    ``"end: AccessDeniedException"``); ``delay``: for ``backoff``, the seconds the actor
    waits before the next attempt, else ``None``.
    """

    old: State
    new: State
    trigger: Trigger
    reason: str = ""
    delay: float | None = None


StateListener = Callable[[StateChange], None]


class StateModel:
    """One participant's state, driven by the shared :data:`MACHINE`.

    Each trigger method performs the transition or raises :class:`MachineError`
    (illegal from the current state), then calls the listener (if any) with a
    :class:`StateChange` and returns it.
    """

    __slots__ = ("_listener", "state")

    state: str

    def __init__(self, listener: StateListener | None = None) -> None:
        self.state = State.TOKEN.value
        self._listener = listener

    @property
    def current(self) -> State:
        """The current :class:`State`."""
        return State(self.state)

    def may(self, trigger: Trigger | str) -> bool:
        """True if ``trigger`` has an edge from the current state."""
        event = MACHINE.events.get(str(trigger))
        return event is not None and self.state in event.transitions

    def fire(
        self, trigger: Trigger | str, reason: str = "", delay: float | None = None
    ) -> StateChange:
        """Fire ``trigger``; raises :class:`MachineError` if it is unknown or illegal here."""
        name = str(trigger)
        event = MACHINE.events.get(name)
        if event is None:
            raise MachineError(f"unknown trigger {name!r}")
        old = self.state
        event.trigger(self)
        change = StateChange(State(old), State(self.state), Trigger(name), reason, delay)
        if self._listener is not None:
            self._listener(change)
        return change

    def opened(self, reason: str = "") -> StateChange:
        return self.fire(Trigger.OPENED, reason)

    def acknowledged(self, reason: str = "") -> StateChange:
        return self.fire(Trigger.ACKNOWLEDGED, reason)

    def expiry_due(self, reason: str = "") -> StateChange:
        return self.fire(Trigger.EXPIRY_DUE, reason)

    def renewed(self, reason: str = "") -> StateChange:
        return self.fire(Trigger.RENEWED, reason)

    def lost(self, reason: str = "") -> StateChange:
        return self.fire(Trigger.LOST, reason)

    def backoff(self, delay: float, reason: str = "") -> StateChange:
        return self.fire(Trigger.BACKOFF, reason, delay)

    def retry(self, reason: str = "") -> StateChange:
        return self.fire(Trigger.RETRY, reason)

    def ended(self, reason: str = "") -> StateChange:
        return self.fire(Trigger.ENDED, reason)

    def closed(self, reason: str = "") -> StateChange:
        return self.fire(Trigger.CLOSED, reason)

    def failed(self, reason: str = "") -> StateChange:
        return self.fire(Trigger.FAILED, reason)

    def __repr__(self) -> str:
        return f"<StateModel {self.state}>"


def edges(machine: Machine = MACHINE) -> list[tuple[str, str, str]]:
    """Every (source, trigger, dest) edge of ``machine``, read from the machine itself."""
    out: list[tuple[str, str, str]] = []
    for name, event in machine.events.items():
        for source, transitions in event.transitions.items():
            for transition in transitions:
                out.append((source, name, transition.dest or source))
    return out


def mermaid(machine: Machine = MACHINE) -> str:
    """A Mermaid ``stateDiagram-v2`` of ``machine``, generated from its states and events.

    Edges with the same source and destination share one arrow labelled ``a / b / c``.
    """
    grouped: dict[tuple[str, str], list[str]] = {}
    for source, name, dest in edges(machine):
        grouped.setdefault((source, dest), []).append(name)
    lines = ["stateDiagram-v2", f"    [*] --> {machine.initial}"]
    for (source, dest), names in grouped.items():
        lines.append(f"    {source} --> {dest}: {' / '.join(names)}")
    lines.append(f"    {State.DISCONNECTED.value} --> [*]")
    return "\n".join(lines) + "\n"


BEGIN_MARK: Final = "<!-- BEGIN GENERATED: python -m participant.machine --write -->"
END_MARK: Final = "<!-- END GENERATED -->"


def render_block(machine: Machine = MACHINE) -> str:
    """The generated docs block (markers included) holding the Mermaid diagram."""
    return f"{BEGIN_MARK}\n```mermaid\n{mermaid(machine)}```\n{END_MARK}"


def replace_block(text: str, machine: Machine = MACHINE) -> str:
    """``text`` with its generated block replaced; ValueError if the markers are missing."""
    start = text.find(BEGIN_MARK)
    end = text.find(END_MARK)
    if start < 0 or end < start:
        raise ValueError(f"markers {BEGIN_MARK!r} .. {END_MARK!r} not found")
    return text[:start] + render_block(machine) + text[end + len(END_MARK) :]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m participant.machine [--mermaid | --write PATH]``."""
    parser = argparse.ArgumentParser(prog="python -m participant.machine")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--mermaid", action="store_true", help="print the Mermaid diagram")
    group.add_argument("--write", metavar="PATH", help="refresh the generated block in PATH")
    args = parser.parse_args(argv)
    if args.write:
        path = Path(args.write)
        path.write_text(replace_block(path.read_text(encoding="utf-8")), encoding="utf-8")
        return 0
    sys.stdout.write(mermaid())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
