"""examples/fleet_bot.py against the loopback emulator (its test lives here, beside the
fleet's, rather than in tests/test_examples.py)."""

from __future__ import annotations

from pathlib import Path

from participant.demo import load_example
from participant.emulator import EmulatorServer


def test_fleet_bot_answers() -> None:
    bot = load_example("fleet_bot")
    assert bot.answer("opening HOURS?") == bot.FAQ["hours"]
    assert bot.answer("hi") == "You said: hi"


async def test_fleet_bot_demo_survives_a_rolling_deploy(
    emulator_server: EmulatorServer, tmp_path: Path
) -> None:
    bot = load_example("fleet_bot")
    emulator_server.emulator.faults.set_rate_limits(False)
    result = await bot.main(emulator_server.endpoint_url, f"sqlite://{tmp_path / 'f.db'}",
                            chats=3, workers=2)
    assert result.answers == 6  # both questions of every chat answered, once each
    assert result.handed_over >= 1
    assert set(result.owners.values()) == {"-"}  # every lease released at the end
    for contact_id in result.owners:
        replies = [e for e in emulator_server.emulator.transcript(contact_id)
                   if e.get("ParticipantRole") == "AGENT" and e.get("Type") == "MESSAGE"]
        assert [r["Content"] for r in replies] == [bot.FAQ["hours"], bot.FAQ["refund"]]
