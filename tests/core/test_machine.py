"""The sans-IO connection core (participant.core.machine), without trio: every row of the
table, every illegal event, the actions each transition emits, the renewal and
reconnect plans, and the generated docs diagram."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from participant import machine as m
from participant.core.machine import (
    MACHINE,
    TRANSITIONS,
    Abort,
    Attempt,
    Close,
    Core,
    DeliverChatEnded,
    Event,
    Fill,
    FirstSubscription,
    Interrupt,
    MachineError,
    OpenGate,
    Sleep,
    State,
    StateChange,
    Stop,
    Subscribe,
    Trigger,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "concepts.md"


class Config:
    backoff_reset_after = 30.0
    gap_fill_overlap = 5.0
    gap_fill_after_renewal = True
    renewal_fill_overlap = 1.0


class Stats:
    renewals = token_renewals = drops = reconnects = 0


def new_core(history: bool = False, config: Any = None) -> tuple[Core, list[StateChange]]:
    seen: list[StateChange] = []
    core = Core(
        config or Config(), Stats(), lambda n: float(2**n), history=history, listener=seen.append
    )
    return core, seen


def take(core: Core) -> list[object]:
    out, core.outbox = core.outbox, []
    return out


# The shortest event sequence from the initial state to each state.
def core_in(state: State) -> tuple[Core, list[StateChange]]:
    core, seen = new_core()
    take(core)
    steps: dict[State, list[tuple[str, dict[str, Any]]]] = {
        State.TOKEN: [],
        State.CONNECTED: [("socket_opened", {"sock": "s1", "renew_at": 100.0})],
        State.SUBSCRIBED: [
            ("socket_opened", {"sock": "s1", "renew_at": 100.0}),
            ("subscribed", {"sock": "s1", "now": 0.0}),
        ],
        State.EXPIRED: [
            ("socket_opened", {"sock": "s1", "renew_at": 100.0}),
            ("subscribed", {"sock": "s1", "now": 0.0}),
            ("tick", {"now": 100.0}),
        ],
        State.RECONNECTING: [("attempt_failed", {})],
        State.DISCONNECTED: [("close_requested", {})],
    }
    for name, kwargs in steps[state]:
        getattr(core, name)(**kwargs)
    assert core.current is state
    take(core)
    seen.clear()
    return core, seen


# One call per event, with arguments that make its first row for a state apply.
CALLS: dict[Event, tuple[str, dict[str, Any]]] = {
    Event.SOCKET_OPENED: ("socket_opened", {"sock": "s2", "renew_at": 200.0}),
    Event.SUBSCRIBED: ("subscribed", {"sock": "s2", "now": 50.0}),
    Event.RENEWAL_DONE: ("renewal_done", {}),
    Event.SOCKET_LOST: ("socket_lost", {"sock": "s1", "now": 50.0}),
    Event.ATTEMPT_FAILED: ("attempt_failed", {}),
    Event.BACKOFF: ("fire", {"event": Event.BACKOFF, "delay": 1.0}),
    Event.TICK: ("tick", {"now": 100.0}),
    Event.FILL_DONE: ("fill_done", {}),
    Event.FILL_FAILED: ("fill_failed", {}),
    Event.ACCESS_DENIED: ("access_denied", {}),
    Event.CHAT_ENDED: ("chat_ended", {}),
    Event.CLOSE_REQUESTED: ("close_requested", {}),
    Event.FATAL: ("fatal", {}),
}

LEGAL = {(row.event, s) for row in TRANSITIONS for s in row.sources}
ILLEGAL = sorted((e, s) for e, s in itertools.product(Event, State) if (e, s) not in LEGAL)


def first_row(event: Event, state: State) -> Any:
    return next(r for r in TRANSITIONS if r.event is event and state in r.sources)


def test_the_machine_has_exactly_the_design_states_and_every_event_a_method() -> None:
    assert set(MACHINE.states) == {s.value for s in State}
    assert {row.event for row in TRANSITIONS} == set(Event)
    assert set(MACHINE.events) == {e.value for e in Event}
    for event in Event:
        name, _ = CALLS[event]
        assert callable(getattr(Core, name))
    # Every public transition name is reported by some row.
    assert {row.report for row in TRANSITIONS if row.report} == set(Trigger)


@pytest.mark.parametrize(
    ("event", "source"), sorted(LEGAL), ids=[f"{s}-{e}" for e, s in sorted(LEGAL)]
)
def test_every_legal_event(event: Event, source: State) -> None:
    core, seen = core_in(source)
    name, kwargs = CALLS[event]
    getattr(core, name)(**kwargs)
    # Which row applied: the first whose guard holds for these arguments.
    expected = [r for r in TRANSITIONS if r.event is event and source in r.sources]
    assert expected
    if core.current is not source or any(c.trigger for c in seen):
        assert any((r.dest or source) is core.current for r in expected)
    for change in seen:
        assert isinstance(change, StateChange)


@pytest.mark.parametrize(("event", "source"), ILLEGAL, ids=[f"{s}-{e}" for e, s in ILLEGAL])
def test_every_illegal_event_raises(event: Event, source: State) -> None:
    core, seen = core_in(source)
    name, kwargs = CALLS[event]
    with pytest.raises(MachineError):
        getattr(core, name)(**kwargs)
    assert core.current is source and seen == [] and core.outbox == []


def test_an_unknown_event_raises() -> None:
    core, _ = new_core()
    with pytest.raises(MachineError, match="unknown event"):
        core.fire("teleport")


def test_first_connection_then_renewal_make_before_break() -> None:
    core, seen = new_core()
    assert take(core) == [Attempt(0.0, False)]
    core.socket_opened("s1", 100.0, reason="websocket open")
    assert take(core) == [Subscribe("s1")]
    core.subscribed("s1", 0.0)
    assert take(core) == [FirstSubscription(), Sleep(100.0)]
    assert core.sock == "s1" and core.ever_up
    core.tick(50.0)  # not due yet: sleep again
    assert core.current is State.SUBSCRIBED and take(core) == [Sleep(100.0)]
    core.tick(100.0, reason="renewal: ConnectionExpiry in 60 s")
    assert core.current is State.EXPIRED and take(core) == [Attempt(0.0, True)]
    core.socket_opened("s2", 200.0, for_token=True)
    assert take(core) == [Subscribe("s2")]
    core.subscribed("s2", 101.0)
    assert core.sock == "s2" and take(core) == [Close("s1", then=Event.RENEWAL_DONE)]
    core.renewal_done()
    assert take(core) == [Fill("s2", False, 1.0), Sleep(200.0)]
    assert (core.stats.renewals, core.stats.token_renewals) == (1, 1)
    assert [(c.old, c.new, c.trigger) for c in seen] == [
        (State.TOKEN, State.CONNECTED, Trigger.OPENED),
        (State.CONNECTED, State.SUBSCRIBED, Trigger.ACKNOWLEDGED),
        (State.SUBSCRIBED, State.EXPIRED, Trigger.EXPIRY_DUE),
        (State.EXPIRED, State.SUBSCRIBED, Trigger.RENEWED),
    ]
    assert seen[2].reason == "renewal: ConnectionExpiry in 60 s"


def test_without_fill_after_renewal_the_gate_opens_at_once() -> None:
    class NoFill(Config):
        gap_fill_after_renewal = False

    core, _ = new_core(config=NoFill())
    take(core)
    core.socket_opened("s1", 10.0)
    core.subscribed("s1", 0.0)
    core.tick(10.0)
    core.socket_opened("s2", 20.0)
    core.subscribed("s2", 10.0)
    take(core)
    core.renewal_done()
    assert take(core) == [OpenGate("s2"), Sleep(20.0)]


def test_a_renewal_attempt_that_fails_waits_and_tries_again_while_the_old_socket_works() -> None:
    core, _ = core_in(State.EXPIRED)
    core.attempt_failed("throttled")
    assert core.current is State.EXPIRED and take(core) == [Attempt(1.0, True)]
    core.attempt_failed("throttled")
    assert take(core) == [Attempt(2.0, True)]


def test_a_loss_mid_renewal_interrupts_it_and_closes_the_new_socket() -> None:
    core, seen = core_in(State.EXPIRED)
    core.socket_opened("s2", 200.0)
    take(core)
    core.socket_lost("s1", 10.0, reason="drop: heartbeat unanswered")
    assert core.current is State.RECONNECTING
    assert take(core) == [Interrupt(), Close("s2"), Attempt(2.0, True)]
    assert [c.trigger for c in seen] == [Trigger.LOST, Trigger.BACKOFF]
    assert seen[1].delay == 2.0 and core.stats.drops == 1


def test_the_loss_of_another_socket_changes_nothing() -> None:
    core, seen = core_in(State.SUBSCRIBED)
    core.socket_lost("old", 5.0)
    assert core.current is State.SUBSCRIBED and take(core) == [] and seen == []


def test_backoff_resets_only_after_the_connection_stayed_up() -> None:
    core, seen = core_in(State.SUBSCRIBED)  # up since 0
    core.socket_lost("s1", 1.0)  # dropped at once: the next step
    assert core.attempt == 1 and seen[-1].delay == 2.0
    core.attempt_failed()
    assert core.attempt == 2 and seen[-1].delay == 4.0
    take(core)
    core.socket_opened("s2", 500.0)
    core.subscribed("s2", 10.0)
    assert core.stats.reconnects == 1
    assert take(core) == [Subscribe("s2"), Fill("s2", False, 5.0), Sleep(500.0)]
    core.socket_lost("s2", 10.0 + Config.backoff_reset_after)  # stayed up: afresh
    assert core.attempt == 0 and seen[-1].delay == 1.0


def test_the_history_is_owed_by_the_first_subscription() -> None:
    core, _ = new_core(history=True)
    assert take(core) == [Attempt(0.0, True)]
    core.socket_opened("s1", 100.0)
    core.subscribed("s1", 0.0)
    assert take(core) == [Subscribe("s1"), FirstSubscription(), Fill("s1", True, 0.0), Sleep(100.0)]


def test_a_failed_fill_replaces_the_socket_once_then_fails() -> None:
    core, seen = core_in(State.SUBSCRIBED)
    core.fill_failed("gap fill failed: HTTPStatusError")
    assert core.current is State.SUBSCRIBED
    assert take(core) == [Abort("s1", "gap fill failed: HTTPStatusError")]
    core.fill_failed("again")
    assert core.current is State.DISCONNECTED
    assert take(core) == [Interrupt(), Stop(Trigger.FAILED, "again")]
    assert seen[-1].trigger is Trigger.FAILED


def test_a_fill_that_succeeds_forgets_earlier_failures() -> None:
    core, _ = core_in(State.SUBSCRIBED)
    core.fill_failed()
    core.fill_done()
    core.fill_failed()
    assert core.current is State.SUBSCRIBED


@pytest.mark.parametrize(("ever_up", "trigger"), [(False, Trigger.FAILED), (True, Trigger.ENDED)])
def test_access_denied_is_a_bad_token_before_the_first_subscription_else_the_end(
    ever_up: bool, trigger: Trigger
) -> None:
    core, seen = core_in(State.SUBSCRIBED if ever_up else State.RECONNECTING)
    if ever_up:
        core.socket_lost("s1", 1.0)
        take(core)
        seen.clear()
    core.access_denied("end: AccessDeniedException")
    assert core.current is State.DISCONNECTED and seen[-1].trigger is trigger
    actions = take(core)
    assert actions[-1] == Stop(trigger, "end: AccessDeniedException")
    assert (DeliverChatEnded() in actions) is ever_up


@pytest.mark.parametrize(
    ("event", "trigger"),
    [("chat_ended", Trigger.ENDED), ("close_requested", Trigger.CLOSED), ("fatal", Trigger.FAILED)],
)
def test_ending_events_stop_once(event: str, trigger: Trigger) -> None:
    core, seen = core_in(State.SUBSCRIBED)
    getattr(core, event)("why")
    assert take(core) == [Interrupt(), Stop(trigger, "why")]
    for again in ("chat_ended", "close_requested", "fatal", "socket_lost", "tick"):
        kwargs: dict[str, Any] = {"sock": "s1", "now": 1.0} if again == "socket_lost" else {}
        if again == "tick":
            kwargs = {"now": 1.0}
        getattr(core, again)(**kwargs)  # legal and without effect once disconnected
    assert take(core) == [] and len(seen) == 1


def test_cores_share_one_machine_and_stay_independent() -> None:
    a, _ = new_core()
    b, _ = new_core()
    a.socket_opened("x", 1.0)
    assert (a.current, b.current) == (State.CONNECTED, State.TOKEN)
    assert MACHINE.models == []  # cores are driven, never registered


def test_mermaid_shows_every_edge_of_the_table() -> None:
    text = m.mermaid()
    assert text.startswith("stateDiagram-v2\n")
    for source, label, dest in m.edges():
        line = next(
            ln for ln in text.splitlines() if ln.strip().startswith(f"{source} --> {dest}:")
        )
        assert label in line.split(": ", 1)[1].split("<br/>")


def test_committed_docs_match_the_machine() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert m.render_block() in text, (
        "docs/concepts.md is stale: run `python -m participant.machine --write docs/concepts.md`"
    )


def test_cli_write_refreshes_the_block(tmp_path: Path) -> None:
    doc = tmp_path / "c.md"
    doc.write_text(f"intro\n{m.BEGIN_MARK}\nold\n{m.END_MARK}\noutro\n", encoding="utf-8")
    assert m.main(["--write", str(doc)]) == 0
    assert doc.read_text(encoding="utf-8") == f"intro\n{m.render_block()}\noutro\n"
    with pytest.raises(ValueError, match="markers"):
        m.replace_block("no markers here")
