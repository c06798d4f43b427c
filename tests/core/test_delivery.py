"""participant.core.delivery without trio: which fills are owed, how they coalesce, where
they start, what a gate holds."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import participant.core.delivery
from participant._time import parse_timestamp
from participant.core.delivery import MAX_RECOVER, Fills, Gate


def fills(**kwargs: float | None) -> Fills[Gate[str]]:
    return Fills(gap_fill_overlap=5.0, dedupe_window=600.0, clock_skew=2.0, **kwargs)


def start_of(filters: dict[str, object]) -> float:
    position = filters["start_position"]
    return parse_timestamp(position.absolute_time)  # type: ignore[attr-defined]


def test_the_module_imports_no_trio() -> None:
    tree = ast.parse(Path(participant.core.delivery.__file__).read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {m for m in names if m.split(".")[0] in ("trio", "httpx", "trio_websocket")}


def test_a_gate_holds_up_to_its_limit_then_drops_everything_after() -> None:
    gate: Gate[str] = Gate()
    assert gate.hold("a", 2) and gate.hold("b", 2)
    assert not gate.hold("c", 2) and gate.overflowed
    assert gate.held is not None and list(gate.held) == ["a", "b"]


def test_requests_while_a_fill_runs_coalesce_into_one_more() -> None:
    f = fills()
    f.first_subscription(1000.0, history=False)
    a: Gate[str] = Gate()
    b: Gate[str] = Gate()
    assert f.request(a, overlap=1.0) is True  # start the filler
    assert f.request(b, overlap=5.0) is False  # one is running: coalesced
    batch = f.take(newest=1100.0, wall=1200.0)
    assert batch.gates == [a, b] and not f.pending
    assert start_of(batch.filters) == 1095.0  # the largest overlap
    assert batch.filters["scan_direction"] == "FORWARD"


def test_a_refill_starts_from_the_oldest_dropped_item_and_reopens_only_after() -> None:
    f = fills()
    f.first_subscription(1000.0, history=False)
    gate: Gate[str] = Gate(is_open=True)
    f.dropped(1050.0)
    assert f.refill(gate) is True and not gate.is_open
    f.dropped(1040.0)
    assert f.refill(gate) is False  # already closed behind a fill
    batch = f.take(newest=1100.0, wall=1200.0)
    assert start_of(batch.filters) == 1035.0  # oldest dropped less the overlap
    assert not gate.overflowed  # this fill recovers what was dropped so far
    f.succeeded()
    assert f.release(gate) is False and gate.is_open


def test_a_fill_recovers_the_late_revisions_dropped_and_only_those() -> None:
    f = fills()
    f.first_subscription(1000.0, history=False)
    gate: Gate[str] = Gate(is_open=True)
    assert f.take(newest=None, wall=1000.0).recover == frozenset()  # nothing owed by Id
    f.dropped(None, "verdict")
    f.refill(gate)
    assert f.take(newest=1100.0, wall=1200.0).recover == frozenset({"verdict"})
    assert f.take(newest=1100.0, wall=1200.0).recover == frozenset()  # taken once
    for n in range(MAX_RECOVER + 1):
        f.dropped(None, f"late-{n}")
    assert f.take(newest=1100.0, wall=1200.0).recover is None  # too many: deliver all
    assert f.take(newest=1100.0, wall=1200.0).recover == frozenset()
    f.dropped(None, "again")
    failed = f.take(newest=1100.0, wall=1200.0)
    f.gave_up(failed)  # the retry recovers the same Ids
    assert f.take(newest=1100.0, wall=1200.0).recover == frozenset({"again"})
    f.dropped(None, "known")
    f.recover_unknown()  # an undecodable frame: its Id is not known
    assert f.take(newest=1100.0, wall=1200.0).recover is None


def test_a_gate_that_overflowed_during_its_fill_gets_one_more() -> None:
    f = fills()
    f.first_subscription(1000.0, history=False)
    gate: Gate[str] = Gate()
    f.request(gate, overlap=5.0)
    batch = f.take(newest=1100.0, wall=1200.0)
    assert not gate.hold("x", 0)  # dropped while the fill runs
    f.succeeded()
    assert f.release(batch.gates[0]) is False  # the filler is still running
    assert f.pending and not gate.is_open


def test_a_fill_that_gave_up_is_retried_from_the_same_start_then_fails() -> None:
    f = fills()
    f.first_subscription(1000.0, history=False)
    gate: Gate[str] = Gate()
    gate.hold("held", 5)
    f.request(gate, overlap=5.0)
    batch = f.take(newest=1100.0, wall=1200.0)
    assert f.gave_up(batch) is True and gate.held is None
    f.request(Gate(), overlap=5.0)
    again = f.take(newest=1150.0, wall=1300.0)
    assert start_of(again.filters) == 1095.0  # no later than the one that gave up
    assert f.gave_up(again) is False  # the second in a row: the core ends the participant


def test_the_floor_and_a_resume() -> None:
    f = fills()
    f.first_subscription(1000.0, history=False)
    f.request(Gate(), overlap=5.0)
    assert start_of(f.take(newest=None, wall=1200.0).filters) == 998.0  # clock_skew
    resumed = fills(resume_from=500.0)
    resumed.first_subscription(1000.0, history=True)
    assert resumed.floor == -math.inf
    resumed.request(Gate(), history=True)
    batch = resumed.take(newest=None, wall=1200.0)
    assert batch.history and start_of(batch.filters) == 495.0  # FORWARD from the cursor
    history = fills()
    history.first_subscription(1000.0, history=True)
    history.request(Gate(), history=True)
    batch = history.take(newest=None, wall=1200.0)
    assert batch.history and batch.filters["scan_direction"] == "BACKWARD"
