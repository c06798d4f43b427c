"""``participant demo`` as a user runs it: a subprocess, its summary parsed."""

from __future__ import annotations

import re
import subprocess
import sys

ROWS = (
    "messages sent",
    "attachments sent",
    "items received",
    "renewals",
    "reconnects",
    "recovered by gap fill",
    "duplicates dropped",
    "lost items",
)


def parse_summary(text: str) -> dict[str, tuple[int, int]]:
    """Rows of the summary table: label -> (customer, agent)."""
    table: dict[str, tuple[int, int]] = {}
    summary = text.split("Summary", 1)[1]
    for label in ROWS:
        match = re.search(rf"^\s+{re.escape(label)}\s+(\d+)\s+(\d+)\s*$", summary, re.MULTILINE)
        assert match, f"no {label!r} row in:\n{summary}"
        table[label] = (int(match[1]), int(match[2]))
    return table


def test_demo_loses_nothing_and_shows_renewal_reconnect_and_gap_fill() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "participant.cli", "demo", "--pace", "0",
         "--connection-expiry", "4", "--no-color"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    table = parse_summary(out)
    assert table["lost items"] == (0, 0)
    customer_renewals, agent_renewals = table["renewals"]
    assert customer_renewals >= 1 and agent_renewals >= 1
    assert table["reconnects"][0] >= 1
    assert table["recovered by gap fill"][0] >= 1
    assert table["attachments sent"] == (1, 0)
    # every message either side sent reached both sides: received >= all messages sent
    sent = sum(table["messages sent"]) + sum(table["attachments sent"])
    assert min(table["items received"]) >= sent
    assert "OK: nothing lost" in out
    # the live part: state changes with reasons, the conversation, the gap-filled messages
    assert "subscribed → expired" in out and "renewal:" in out
    # the first connection of both actors, before connect() returned
    for side in ("customer", "agent"):
        assert f"[{side}] token → connected" in out
        assert f"[{side}] connected → subscribed" in out.split("Conversation")[0]
    assert "duplicates dropped: copies of items already delivered" in out
    assert "subscribed → reconnecting" in out
    assert "recovered by gap fill" in out.split("Summary")[0]
    assert "Echo bot: We are open every day" in out
    assert "checksum matches" in out
    assert "Traceback" not in proc.stderr
