"""The participant's state machine, public face: states, transition names, the table and
its diagram. The machine itself lives in :mod:`participant.core.machine` (sans-IO: events
in, actions out), where one :class:`transitions.Machine` (``MACHINE``) is shared by every
participant of the process and each participant owns a small
:class:`~participant.core.machine.Core`.

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

The table (:data:`TRANSITIONS`) has one row per (event, states) with an optional
destination, conditions and public name (:class:`Trigger`, reported to observers as
:attr:`StateChange.trigger`). An event with no row for the current state raises
:class:`transitions.MachineError`.

Run ``python -m participant.machine --mermaid`` to print the diagram, or
``python -m participant.machine --write docs/concepts.md`` to refresh the generated block in
the docs (a test checks the committed docs match).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from transitions import MachineError

from participant.core.machine import (
    MACHINE,
    TRANSITIONS,
    Event,
    Row,
    State,
    StateChange,
    Trigger,
)

__all__ = [
    "MACHINE",
    "TRANSITIONS",
    "Event",
    "MachineError",
    "Row",
    "State",
    "StateChange",
    "Trigger",
    "edges",
    "mermaid",
]


def _words(condition: str) -> str:
    return condition.lstrip("_").replace("_", " ")


def edges(rows: Sequence[Row] = TRANSITIONS) -> list[tuple[State, str, State]]:
    """Every (source, label, dest) edge that changes or reports the state: the label is
    ``event / public name`` (``event [condition]`` when guarded); internal rows without
    a public name are left out (they emit actions but move nothing)."""
    out: list[tuple[State, str, State]] = []
    for row in rows:
        if row.dest is None and row.report is None:
            continue
        guard = [_words(c) for c in row.conditions] + [f"not {_words(u)}" for u in row.unless]
        label = row.event.value
        if guard:
            label += " [" + ", ".join(guard) + "]"
        if row.report is not None and row.report.value != row.event.value:
            label += f" / {row.report.value}"
        for source in row.sources:
            out.append((source, label, source if row.dest is None else row.dest))
    return out


def mermaid(rows: Sequence[Row] = TRANSITIONS) -> str:
    """A Mermaid ``stateDiagram-v2`` of the table. Edges with the same source and
    destination share one arrow, labels joined by ``<br/>``."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for source, label, dest in edges(rows):
        names = grouped.setdefault((source.value, dest.value), [])
        if label not in names:
            names.append(label)
    lines = ["stateDiagram-v2", f"    [*] --> {MACHINE.initial}"]
    for (src, dst), names in grouped.items():
        lines.append(f"    {src} --> {dst}: {'<br/>'.join(names)}")
    lines.append(f"    {State.DISCONNECTED.value} --> [*]")
    return "\n".join(lines) + "\n"


BEGIN_MARK: Final = "<!-- BEGIN GENERATED: python -m participant.machine --write -->"
END_MARK: Final = "<!-- END GENERATED -->"


def render_block(rows: Sequence[Row] = TRANSITIONS) -> str:
    """The generated docs block (markers included) holding the Mermaid diagram."""
    return f"{BEGIN_MARK}\n```mermaid\n{mermaid(rows)}```\n{END_MARK}"


def replace_block(text: str, rows: Sequence[Row] = TRANSITIONS) -> str:
    """``text`` with its generated block replaced; ValueError if the markers are missing."""
    start = text.find(BEGIN_MARK)
    end = text.find(END_MARK)
    if start < 0 or end < start:
        raise ValueError(f"markers {BEGIN_MARK!r} .. {END_MARK!r} not found")
    return text[:start] + render_block(rows) + text[end + len(END_MARK) :]


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
