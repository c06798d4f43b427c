"""Every example runs against the loopback emulator (and echo_bot's logic in memory)."""

from __future__ import annotations

import json
import os
import sys
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


async def test_many_chats_bot_backs_off_when_the_admin_api_throttles(
    emulator_server: EmulatorServer,
) -> None:
    # Default emulator: starting chats is rate-limited (429 after a burst of about 10).
    many = example("many_chats_bot")
    echoes = await many.main(emulator_server.endpoint_url, chats=12, messages=1)
    assert echoes == 12  # 12 chats: 36 admin calls, far more than the burst


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


async def _run_example(name: str, *args: str) -> tuple[int, str, str]:
    proc = await trio.run_process(
        [sys.executable, str(EXAMPLES / f"{name}.py"), *args],
        capture_stdout=True, capture_stderr=True, check=False,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(EXAMPLES.parent)},
    )
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("send_attachment", ["nosuch.pdf"], "nosuch.pdf: No such file or directory"),
        ("send_attachment", ["{bad_exe}", "--endpoint-url", "{url}"], "ValidationException"),
        ("transcript_export", ["--endpoint-url", "http://127.0.0.1:9"], "connect"),
        ("many_chats_bot", ["--endpoint-url", "http://127.0.0.1:9"], "connect"),
        ("echo_bot", ["--endpoint-url", "http://127.0.0.1:9"], "connect"),
        ("asyncio_guest", ["--endpoint-url", "http://127.0.0.1:9"], "connect"),
    ],
)
async def test_examples_given_bad_input_print_one_line(
    name: str, args: list[str], expected: str, emulator_server: EmulatorServer, tmp_path: Path
) -> None:
    bad_exe = tmp_path / "bad.exe"
    bad_exe.write_bytes(b"MZ")
    argv = [a.format(bad_exe=bad_exe, url=emulator_server.endpoint_url) for a in args]
    returncode, _out, err = await _run_example(name, *argv)
    assert returncode == 1, err
    assert err.count("\n") == 1, err  # one line, no traceback
    assert err.startswith(f"{name}.py: error: ") and expected in err, err
