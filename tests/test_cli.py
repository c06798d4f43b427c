"""The ``participant`` command: help, one-line errors, tokens never printed, and the
transcript / tail / chat commands against the loopback emulator."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
import trio

from participant import cli
from participant.emulator import EmulatorServer

COMMANDS = ("demo", "chat", "transcript", "tail", "emulator")


class Lines(io.StringIO):
    """A text stream whose writes wake the test (no sleeps)."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = trio.Event()

    def write(self, s: str) -> int:
        n = super().write(s)
        self.changed.set()
        self.changed = trio.Event()
        return n

    async def wait_for(self, text: str) -> None:
        with trio.fail_after(20):
            while text not in self.getvalue():
                await self.changed.wait()


@pytest.fixture(autouse=True)
def _no_token_in_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(cli.TOKEN_ENV, raising=False)
    yield


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: participant {command}")
    if command in ("chat", "transcript", "tail"):
        assert "--participant-token" in out and "--endpoint-url" in out and "--region" in out


@pytest.mark.parametrize("command", ["chat", "transcript", "tail"])
def test_missing_token_is_one_line_and_exit_2(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([command, "--endpoint-url", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"participant {command}: error: no ParticipantToken" in err


def test_missing_service_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    assert cli.main(["transcript", "--participant-token", "tok-secret-1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--region" in err
    assert "tok-secret-1" not in err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_connection_refused_is_one_line_without_the_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cli.TOKEN_ENV, "tok-secret-refused")
    url = f"http://127.0.0.1:{_closed_port()}"
    assert cli.main(["transcript", "--endpoint-url", url]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("participant transcript: error:")
    assert "ConnectError" in captured.err
    assert "tok-secret-refused" not in captured.out + captured.err
    assert "Traceback" not in captured.err


def test_tail_gives_up_after_connect_timeout_with_the_last_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # connect() retries the refused endpoint until ParticipantConfig.connect_timeout,
    # then raises the last error itself: one line, the token nowhere.
    monkeypatch.setenv(cli.TOKEN_ENV, "tok-secret-tail")
    monkeypatch.setattr(cli, "CONNECT_TIMEOUT", 0.5)
    url = f"http://127.0.0.1:{_closed_port()}"
    assert cli.main(["tail", "--endpoint-url", url]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith("participant tail: error: ")
    # the last error, or (the first attempt still in its HTTP retries) the timeout itself
    assert "ConnectError" in captured.err or "connect_timeout (0.5 s)" in captured.err
    assert "tok-secret-tail" not in captured.out + captured.err
    assert captured.out == ""


async def _main_in_thread(argv: list[str]) -> int:
    return await trio.to_thread.run_sync(cli.main, argv)


async def test_access_denied_is_one_line(
    emulator_server: EmulatorServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(cli.TOKEN_ENV, "tok-secret-bogus")
    for command in ("transcript", "tail"):
        rc = await _main_in_thread([command, "--endpoint-url", emulator_server.endpoint_url])
        assert rc == 1
        captured = capsys.readouterr()
        assert captured.err.count("\n") == 1, captured.err
        assert "AccessDeniedException" in captured.err
        assert "tok-secret-bogus" not in captured.out + captured.err


async def test_transcript_table_and_json_lines(
    emulator_server: EmulatorServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emu = emulator_server.emulator
    chat = await emu.start_chat(display_name="Ann")
    agent = await emu.add_participant(chat.contact_id, display_name="Bob")
    texts = [f"message {i}" for i in range(12)]  # more than one page of 10
    for i, text in enumerate(texts):
        sender = agent.participant_id if i % 2 else chat.participant_id
        await emu.send_message_as(chat.contact_id, sender, content=text)
    monkeypatch.setenv(cli.TOKEN_ENV, chat.participant_token)
    url = emulator_server.endpoint_url

    assert await _main_in_thread(["transcript", "--endpoint-url", url]) == 0
    table = capsys.readouterr().out
    rows = [line for line in table.splitlines() if "message " in line]
    assert [row.split("   ")[-1].strip() for row in rows] == texts  # oldest first
    assert "Bob" in rows[1] and "AGENT" in rows[1] and "Ann" in rows[0]

    assert await _main_in_thread(["transcript", "--endpoint-url", url, "--json"]) == 0
    out = capsys.readouterr().out
    items = [json.loads(line) for line in out.splitlines()]
    stored = emu.transcript(chat.contact_id)
    assert [i["Id"] for i in items] == [s["Id"] for s in stored]
    assert chat.participant_token not in table + out


async def test_tail_streams_items_as_json_lines_until_the_chat_ends(
    emulator_server: EmulatorServer,
) -> None:
    emu = emulator_server.emulator
    chat = await emu.start_chat()
    agent = await emu.add_participant(chat.contact_id, display_name="Bob")
    args = cli.build_parser().parse_args(
        ["tail", "--endpoint-url", emulator_server.endpoint_url, "--history",
         f"--participant-token={chat.participant_token}"]
    )
    out = Lines()
    async with trio.open_nursery() as nursery:
        result: list[int] = []

        async def run() -> None:
            result.append(await cli._tail(args, out))

        nursery.start_soon(run)
        await out.wait_for("participant.joined")  # history printed: subscribed
        sent = await emu.send_message_as(chat.contact_id, agent.participant_id, content="hi")
        await out.wait_for(sent["Id"])
        await emu.end_chat(chat.contact_id)
    assert result == [0]
    items = [json.loads(line) for line in out.getvalue().splitlines()]
    ids = [i.get("Id") for i in items if i.get("Id")]
    assert len(ids) == len(set(ids))
    assert any(i.get("Content") == "hi" and i["ParticipantRole"] == "AGENT" for i in items)
    assert items[-1]["ContentType"].endswith("chat.ended")
    assert chat.participant_token not in out.getvalue()


async def test_chat_sends_lines_shows_replies_and_leaves(
    emulator_server: EmulatorServer,
) -> None:
    emu = emulator_server.emulator
    chat = await emu.start_chat(display_name="Ann")
    agent = await emu.add_participant(chat.contact_id, display_name="Bob")
    args = cli.build_parser().parse_args(
        ["chat", "--endpoint-url", emulator_server.endpoint_url,
         f"--participant-token={chat.participant_token}"]
    )
    out, err = Lines(), Lines()
    send_line, lines = trio.open_memory_channel[str](10)

    async def read_line() -> str:
        return await lines.receive()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(cli._chat, args, out, err, read_line)
        await err.wait_for("connected")
        await send_line.send("Hello Bob\n")
        await out.wait_for("Hello Bob")
        await emu.send_message_as(chat.contact_id, agent.participant_id, content="Hi Ann")
        await out.wait_for("Hi Ann")
        await send_line.send("/leave\n")
    assert "left the chat" in err.getvalue()
    stored = emu.transcript(chat.contact_id)
    assert any(s.get("Content") == "Hello Bob" and s["ParticipantRole"] == "CUSTOMER"
               for s in stored)
    assert any(s.get("ContentType", "").endswith("participant.left") for s in stored)
    assert chat.participant_token not in out.getvalue() + err.getvalue()


async def test_chat_console_script_with_piped_input(emulator_server: EmulatorServer) -> None:
    """The real entry point, token from the environment, input piped, never echoed."""
    emu = emulator_server.emulator
    chat = await emu.start_chat(display_name="Ann")
    env = {"PARTICIPANT_TOKEN": chat.participant_token, "PATH": "", "NO_COLOR": "1"}
    proc = await trio.run_process(
        [sys.executable, "-m", "participant.cli", "chat",
         "--endpoint-url", emulator_server.endpoint_url],
        stdin=b"first line\nsecond line\n",
        capture_stdout=True,
        capture_stderr=True,
        env=env,
        check=False,
    )
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "first line" in out and "second line" in out
    assert chat.participant_token not in out + err
    contents = [s.get("Content") for s in emu.transcript(chat.contact_id)]
    assert contents.count("first line") == 1 and contents.count("second line") == 1


def test_console_script_reports_errors_without_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "participant.cli", "tail", "--endpoint-url", "http://127.0.0.1:9"],
        capture_output=True, text=True, timeout=60, env={"PATH": ""},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
