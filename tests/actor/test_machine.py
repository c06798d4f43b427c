"""The state table: one test per edge, illegal triggers raise, docs match the machine."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from participant import machine as m
from participant.machine import (
    MACHINE,
    TRANSITIONS,
    MachineError,
    State,
    StateChange,
    StateModel,
    Trigger,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "concepts.md"

# How to reach each source state from the initial one, using only legal triggers.
PATHS: dict[State, list[Trigger]] = {
    State.TOKEN: [],
    State.CONNECTED: [Trigger.OPENED],
    State.SUBSCRIBED: [Trigger.OPENED, Trigger.ACKNOWLEDGED],
    State.EXPIRED: [Trigger.OPENED, Trigger.ACKNOWLEDGED, Trigger.EXPIRY_DUE],
    State.RECONNECTING: [Trigger.LOST],
    State.DISCONNECTED: [Trigger.CLOSED],
}

EDGES = [(t, src, dst) for t, sources, dst in TRANSITIONS for src in sources]
EDGE_SET = {(t, src) for t, src, _ in EDGES}


def model_in(state: State, seen: list[StateChange] | None = None) -> StateModel:
    model = StateModel(seen.append if seen is not None else None)
    for trigger in PATHS[state]:
        model.fire(trigger)
    assert model.current is state
    return model


def test_machine_has_exactly_the_design_states() -> None:
    assert set(MACHINE.states) == {
        "token",
        "connected",
        "subscribed",
        "expired",
        "reconnecting",
        "disconnected",
    }


def test_every_trigger_has_an_edge_and_a_method() -> None:
    assert {t for t, _, _ in EDGES} == set(Trigger)
    for trigger in Trigger:
        assert callable(getattr(StateModel, trigger.value))


@pytest.mark.parametrize(
    ("trigger", "source", "dest"), EDGES, ids=[f"{s}-{t}-{d}" for t, s, d in EDGES]
)
def test_edge(trigger: Trigger, source: State, dest: State) -> None:
    seen: list[StateChange] = []
    model = model_in(source, seen)
    seen.clear()
    method = getattr(model, trigger.value)
    change = method(1.5, "why") if trigger is Trigger.BACKOFF else method("why")
    assert model.current is dest
    assert change == StateChange(
        source, dest, trigger, "why", 1.5 if trigger is Trigger.BACKOFF else None
    )
    assert seen == [change]


ILLEGAL = [(t, s) for t, s in itertools.product(Trigger, State) if (t, s) not in EDGE_SET]


@pytest.mark.parametrize(("trigger", "source"), ILLEGAL, ids=[f"{s}-{t}" for t, s in ILLEGAL])
def test_illegal_trigger_raises(trigger: Trigger, source: State) -> None:
    seen: list[StateChange] = []
    model = model_in(source, seen)
    seen.clear()
    assert not model.may(trigger)
    with pytest.raises(MachineError):
        model.fire(trigger)
    assert model.current is source
    assert seen == []


def test_disconnected_is_terminal() -> None:
    model = model_in(State.DISCONNECTED)
    for trigger in Trigger:
        with pytest.raises(MachineError):
            model.fire(trigger)


def test_unknown_trigger_raises() -> None:
    with pytest.raises(MachineError, match="unknown trigger"):
        StateModel().fire("teleport")


def test_models_share_one_machine_and_stay_independent() -> None:
    a, b = StateModel(), StateModel()
    a.opened()
    assert (a.current, b.current) == (State.CONNECTED, State.TOKEN)
    assert MACHINE.models == []  # models are driven, never registered


def test_mermaid_lists_every_edge_of_the_machine() -> None:
    text = m.mermaid()
    assert text.startswith("stateDiagram-v2\n")
    for source, name, dest in m.edges():
        line = next(
            ln for ln in text.splitlines() if ln.strip().startswith(f"{source} --> {dest}:")
        )
        assert name in line.split(": ", 1)[1].split(" / ")


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
