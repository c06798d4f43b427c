"""Every example runs against the loopback emulator (and echo_bot's logic in memory)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import trio

from participant.demo import load_example
from participant.emulator import EmulatorServer


@pytest.fixture(autouse=True)
def _no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARTICIPANT_TOKEN", raising=False)


def example(name: str) -> Any:
    module: ModuleType = load_example(name)
    return module


def test_echo_bot_answers_faq_keywords_else_echoes() -> None:
    bot = example("echo_bot")
    assert bot.answer("What are your opening HOURS?") == bot.FAQ["hours"]
    assert bot.answer("refund please") == bot.FAQ["refund"]
    assert bot.answer("something else") == "You said: something else"


async def test_echo_bot_replies_in_a_chat(emulator_server: EmulatorServer) -> None:
    bot = example("echo_bot")
    replies = await bot.main(emulator_server.endpoint_url)
    assert replies == ["You said: Hello!", bot.FAQ["hours"]]


async def test_transcript_export_writes_every_item_oldest_first(
    emulator_server: EmulatorServer, tmp_path: Path
) -> None:
    export = example("transcript_export")
    output = tmp_path / "chat.jsonl"
    items = await export.main(emulator_server.endpoint_url, output=output, messages=23)
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    contents = [line["Content"] for line in lines if line.get("Type") == "MESSAGE"]
    assert contents == [f"message {i + 1}" for i in range(23)]  # several pages, in order
    assert len(lines) == len(items)
    contact_id = lines[0]["ContactId"]
    stored = emulator_server.emulator.transcript(contact_id)
    assert {line["Id"] for line in lines} == {s["Id"] for s in stored}


async def test_send_attachment_round_trips_the_bytes(
    emulator_server: EmulatorServer, tmp_path: Path
) -> None:
    sender = example("send_attachment")
    path = tmp_path / "notes.txt"
    path.write_bytes(b"line one\nline two\n" * 50)
    attachment_id = await sender.main(path, emulator_server.endpoint_url)
    chats = emulator_server.emulator.service
    assert attachment_id
    assert any(attachment_id in json.dumps(c.wire) for contact in chats.contacts.values()
               for c in contact.entries)


async def test_many_chats_bot_serves_every_chat_from_one_nursery(
    emulator_server: EmulatorServer,
) -> None:
    many = example("many_chats_bot")
    emulator_server.emulator.faults.set_rate_limits(False)
    echoes = await many.main(emulator_server.endpoint_url, chats=6, messages=2)
    assert echoes == 12


async def test_asyncio_guest_mode_round_trip(emulator_server: EmulatorServer) -> None:
    guest = example("asyncio_guest")
    received = await trio.to_thread.run_sync(guest.main, emulator_server.endpoint_url)
    assert "echo: Hello from asyncio" in received
    assert "echo: Second message" in received
