"""Issue 13's CLI points, each driving the real ``participant`` command in a subprocess
against the loopback emulator (a pseudo-terminal where a terminal matters)."""

from __future__ import annotations

import re
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from participant.emulator import EmulatorServer

from .terminal import ROW, Terminal, environment, run


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
async def customer(emulator_server: EmulatorServer) -> AsyncIterator[tuple[str, str, str]]:
    """(ContactId, ParticipantId, ParticipantToken) of a customer in a new chat."""
    chat = await emulator_server.emulator.start_chat(display_name="Ann")
    yield chat.contact_id, chat.participant_id, chat.participant_token


def _chat(emulator_server: EmulatorServer, token: str, *extra: str) -> Terminal:
    return Terminal(
        ["chat", "--endpoint-url", emulator_server.endpoint_url, *extra],
        environment(PARTICIPANT_TOKEN=token),
    )


async def test_chat_exits_0_when_the_chat_ends(
    emulator_server: EmulatorServer, customer: tuple[str, str, str]
) -> None:
    contact_id, _pid, token = customer
    term = _chat(emulator_server, token)
    try:
        await term.expect("ready")
        await emulator_server.emulator.end_chat(contact_id)
        await term.expect("the chat has ended")
        assert await term.wait() == 0  # without a line typed: it does not wait for input
    finally:
        term.close()
    assert "error" not in term.output and token not in term.output


async def test_a_line_that_fails_while_reconnecting_is_kept_and_sent(
    emulator_server: EmulatorServer, customer: tuple[str, str, str]
) -> None:
    contact_id, pid, token = customer
    emu = emulator_server.emulator
    term = _chat(emulator_server, token)
    try:
        await term.expect("ready")
        # The socket drops and reconnecting fails for a while; the typed line's
        # SendMessage fails through all of the REST client's 4 attempts.
        emu.faults.fail_next("CreateParticipantConnection", 6, status=500)
        emu.faults.fail_next("SendMessage", 4, status=500)
        emu.faults.drop_sockets(pid, close_frame=False)
        await term.expect("reconnecting")
        term.type("keep this line")
        await term.expect("retry 1")
        await term.expect("Ann                CUSTOMER   keep this line")  # sent, and back
        assert term.proc.poll() is None  # still running
        term.type("and this one")
        await term.expect("CUSTOMER   and this one")
        term.type("/quit")
        assert await term.wait() == 0
    finally:
        term.close()
    contents = [s.get("Content") for s in emu.transcript(contact_id)]
    assert contents.count("keep this line") == 1  # one ClientToken for every retry
    assert contents.count("and this one") == 1


async def test_slash_commands_are_not_sent_and_help_lists_them(
    emulator_server: EmulatorServer, customer: tuple[str, str, str]
) -> None:
    contact_id, _pid, token = customer
    proc = await run(
        ["chat", "--endpoint-url", emulator_server.endpoint_url],
        environment(PARTICIPANT_TOKEN=token),
        stdin=b"/help\n/file\n/file   \n/nosuch thing\n//slash text\nplain text\n",
    )
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "/leave" in err and "/quit" in err and "/file PATH" in err  # /help's list
    assert err.count("usage: /file PATH") == 2
    assert "unknown command /nosuch" in err
    contents = [
        s.get("Content")
        for s in emulator_server.emulator.transcript(contact_id)
        if s.get("Type") == "MESSAGE"
    ]
    assert contents == ["/slash text", "plain text"]


async def test_after_a_reconnect_items_are_printed_in_order(
    emulator_server: EmulatorServer, customer: tuple[str, str, str]
) -> None:
    contact_id, pid, token = customer
    emu = emulator_server.emulator
    agent = await emu.add_participant(contact_id, display_name="Bob")
    term = _chat(emulator_server, token, "--no-receipts")
    try:
        await term.expect("ready")
        await emu.send_message_as(contact_id, agent.participant_id, content="first")
        await term.expect("first")
        emu.faults.drop_sockets(pid, close_frame=False)
        await term.expect("reconnecting")
        await term.expect("subscribed")  # back; its gap fill has run before live items
        await emu.send_message_as(contact_id, agent.participant_id, content="second")
        await term.expect("second")
        term.type("/quit")
        assert await term.wait() == 0
    finally:
        term.close()
    # Gap fill after the reconnect returns the customer's own joined / connection
    # acknowledged from before its first subscription: they must not appear after
    # "first", and no row may be older than the one above it.
    rows = [line for line in term.output.splitlines() if ROW.match(line)]
    after_first = rows[next(i for i, r in enumerate(rows) if r.endswith("first")) + 1 :]
    assert not [r for r in after_first if "[joined]" in r or "[acknowledged]" in r], rows
    times = [ROW.match(r)[1] for r in rows]  # type: ignore[index]
    if times[0] <= times[-1]:  # (local HH:MM:SS: not across midnight)
        assert times == sorted(times), rows


_AUDIT_CONNECTS = """\
import os, sys

def _hook(event, args):
    if event in ("socket.connect", "socket.getaddrinfo"):
        with open(os.environ["CONNECTS_LOG"], "a") as log:
            log.write(f"{event} {args[1] if event == 'socket.connect' else args[0]}\\n")

sys.addaudithook(_hook)
"""


def _audited(tmp_path: Path, **extra: str) -> tuple[dict[str, str], Path]:
    """An environment whose Python records every socket connect and name lookup of the
    command (a ``sys.addaudithook`` in a sitecustomize) in the returned file."""
    (tmp_path / "sitecustomize.py").write_text(_AUDIT_CONNECTS)
    log = tmp_path / "connects.log"
    return environment(PYTHONPATH=str(tmp_path), CONNECTS_LOG=str(log), **extra), log


async def test_the_audit_hook_sees_the_commands_connections(tmp_path: Path) -> None:
    # the control for the test below: a reachable-looking endpoint is connected to
    port = _closed_port()
    env, log = _audited(tmp_path, PARTICIPANT_TOKEN="t", PARTICIPANT_CONNECT_TIMEOUT="0.5")
    proc = await run(["transcript", "--endpoint-url", f"http://127.0.0.1:{port}"], env)
    assert proc.returncode == 1, proc.stderr.decode()
    assert f"socket.connect ('127.0.0.1', {port})" in log.read_text()


@pytest.mark.parametrize(
    "endpoint", ["127.0.0.1:8080", "htp://127.0.0.1:8080", "", "http://[::1", "http://"]
)
@pytest.mark.parametrize("command", ["chat", "tail", "transcript"])
async def test_a_malformed_endpoint_is_a_usage_error_at_once(
    endpoint: str, command: str, tmp_path: Path
) -> None:
    env, log = _audited(tmp_path, PARTICIPANT_TOKEN="tok-secret")
    proc = await run([command, "--endpoint-url", endpoint], env)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.count("\n") == 1 and err.startswith(f"participant {command}: error: --endpoint-url")
    assert "Traceback" not in err and "tok-secret" not in err
    assert not log.exists(), log.read_text()  # no connection, no lookup: nothing retried


async def test_a_malformed_endpoint_from_the_environment_names_the_variable() -> None:
    proc = await run(
        ["tail"],
        environment(PARTICIPANT_TOKEN="t", AWS_ENDPOINT_URL_CONNECTPARTICIPANT="localhost:1"),
    )
    assert proc.returncode == 2
    assert proc.stderr.decode().startswith(
        "participant tail: error: AWS_ENDPOINT_URL_CONNECTPARTICIPANT: must start with http"
    )


async def test_a_malformed_region_is_a_usage_error() -> None:
    proc = await run(["transcript", "--region", "us west"], environment(PARTICIPANT_TOKEN="t"))
    assert proc.returncode == 2
    assert "--region: 'us west' is not a region name" in proc.stderr.decode()


@pytest.mark.parametrize("command", ["chat", "tail"])
async def test_progress_while_connecting_on_a_terminal(command: str) -> None:
    term = Terminal(
        [command, "--endpoint-url", f"http://127.0.0.1:{_closed_port()}"],
        environment(PARTICIPANT_TOKEN="tok-secret", PARTICIPANT_CONNECT_TIMEOUT="60"),
    )
    try:
        await term.expect("connecting to http://127.0.0.1:", within=10)
        await term.expect("connecting… retry 1 in ")
        line = await term.expect("connecting… retry 2 in ")
        assert re.search(r"retry 1 in \d+\.\d s \(.*ConnectError", line), term.output
        term.interrupt()
        assert await term.wait() == 130
    finally:
        term.close()
    assert "Traceback" not in term.output and "tok-secret" not in term.output


async def test_tail_into_a_pipe_prints_no_progress() -> None:
    proc = await run(
        ["tail", "--endpoint-url", f"http://127.0.0.1:{_closed_port()}"],
        environment(PARTICIPANT_TOKEN="t", PARTICIPANT_CONNECT_TIMEOUT="0.5"),
    )
    assert proc.returncode == 1
    assert proc.stderr.decode().count("\n") == 1  # only the error line


async def test_connect_in_a_program_without_logging_prints_nothing(tmp_path: object) -> None:
    program = (
        "import trio\n"
        "from participant import ParticipantConfig, TransportError, connect\n"
        "async def main():\n"
        "    try:\n"
        f"        async with connect('t', endpoint_url='http://127.0.0.1:{_closed_port()}',\n"
        "                           config=ParticipantConfig(connect_timeout=3)):\n"
        "            pass\n"
        "    except TransportError:\n"
        "        print('caught')\n"
        "trio.run(main)\n"
    )
    proc = await trio.run_process(
        [sys.executable, "-c", program], capture_stdout=True, capture_stderr=True, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode() == "caught\n"
    assert proc.stderr.decode() == ""  # no last-resort lines from the library's logger


async def test_verbose_is_accepted_after_the_command(
    emulator_server: EmulatorServer, customer: tuple[str, str, str]
) -> None:
    _contact_id, _pid, token = customer
    env = environment(PARTICIPANT_TOKEN=token)
    url = emulator_server.endpoint_url
    before = await run(["-vv", "transcript", "--endpoint-url", url], env)
    after = await run(["transcript", "--endpoint-url", url, "-vv"], env)
    both = await run(["-v", "transcript", "--endpoint-url", url, "-v"], env)  # counts add up
    for proc in (before, after, both):
        assert proc.returncode == 0, proc.stderr.decode()
        assert "DEBUG participant.api: CreateParticipantConnection" in proc.stderr.decode()
    quiet = await run(["transcript", "--endpoint-url", url], env)
    assert quiet.stderr.decode() == ""


async def test_debug_log_never_shows_a_token(
    emulator_server: EmulatorServer, customer: tuple[str, str, str]
) -> None:
    contact_id, _pid, token = customer
    emu = emulator_server.emulator
    term = Terminal(
        ["tail", "--endpoint-url", emulator_server.endpoint_url, "-vv"],
        environment(PARTICIPANT_TOKEN=token),
    )
    try:
        await term.expect("Connecting to ws://")  # trio-websocket's DEBUG line with the URL
        await term.expect("· connected: each item is printed as it arrives")
        agent = await emu.add_participant(contact_id, display_name="Bob")
        await emu.send_message_as(contact_id, agent.participant_id, content="hello")
        await term.expect('"Content":"hello"')
        await emu.end_chat(contact_id)
        assert await term.wait() == 0
    finally:
        term.close()
    out = term.output
    assert token not in out
    assert agent.participant_token not in out
    auth = re.findall(r"AuthToken=([^&\s'\"]*)", out)
    assert auth and set(auth) == {"***"}, auth
    assert not re.search(r"(?i)x-amz-bearer[^\n]{0,5}[A-Za-z0-9_-]{20}", out)
