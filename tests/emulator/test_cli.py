"""The CLI entry: prints the endpoint and a StartChatContact example that works as printed."""

from __future__ import annotations

import io
import signal
from functools import partial
from typing import Any

import attrs
import hypercorn.trio
import pytest
import trio
import trio.testing

from participant.emulator import EmulatorConfig, EmulatorServer, main, run_emulator_cli, serve
from participant.emulator.server import _parser, config_from_args


async def test_main_prints_a_working_example() -> None:
    out = io.StringIO()
    async with trio.open_nursery() as nursery:
        server: EmulatorServer = await nursery.start(
            partial(main, "127.0.0.1", 0, attrs.evolve(EmulatorConfig(), rate_limits=False),
                    out=out))
        text = out.getvalue()
        assert server.endpoint_url in text
        snippet = text[text.index("import boto3"):]
        namespace: dict[str, object] = {}
        await trio.to_thread.run_sync(exec, snippet, namespace)
        contact_id = namespace["chat"]["ContactId"]  # type: ignore[index]
        items = server.emulator.transcript(contact_id)
        assert [i["Content"] for i in items if i["Type"] == "MESSAGE"] == ["hello"]
        assert namespace["chat"]["ParticipantToken"] not in text  # type: ignore[index]
        nursery.cancel_scope.cancel()


def test_cli_arguments_configure_lifetimes() -> None:
    args = _parser().parse_args(["--port", "0", "--no-rate-limits", "--url-open-window", "5"])
    config = config_from_args(args)
    assert (args.port, config.rate_limits, config.url_open_window) == (0, False, 5.0)
    assert config.connection_expiry == EmulatorConfig().connection_expiry
    assert config.participant_token_first_use_window == 300.0
    args = _parser().parse_args(["--participant-token-first-use-window", "3600"])
    assert config_from_args(args).participant_token_first_use_window == 3600.0


async def test_serve_hands_on_a_ctrl_c_hypercorn_swallowed(
    monkeypatch: pytest.MonkeyPatch, autojump_clock: trio.testing.MockClock
) -> None:
    # A SIGINT that lands while one of hypercorn's own tasks runs is raised there, and
    # hypercorn.trio.serve catches it and returns (its Ctrl-C shutdown). The stand-in does
    # what hypercorn then does: started, then returns with nothing raised.
    async def swallowing_serve(app: Any, config: Any, *, mode: str,
                               task_status: trio.TaskStatus[list[str]]) -> None:
        task_status.started(["http://127.0.0.1:9"])
        await trio.lowlevel.checkpoint()

    monkeypatch.setattr(hypercorn.trio, "serve", swallowing_serve)
    with trio.fail_after(3600), pytest.RaisesGroup(KeyboardInterrupt, flatten_subgroups=True):
        async with serve(port=0):
            await trio.sleep_forever()  # before the fix: forever, with no server


async def test_serve_exits_quietly_when_its_block_ends() -> None:
    async with serve(port=0) as server:
        assert server.port > 0
    # hypercorn returns when cancelled too; only an uncancelled return is a Ctrl-C


class CtrlCAtTheBanner(io.StringIO):
    """stdout that sends the process a SIGINT once the banner is flushed."""

    def flush(self) -> None:
        super().flush()
        if "Start a chat with boto3" in self.getvalue():
            signal.raise_signal(signal.SIGINT)


def test_ctrl_c_right_after_the_banner_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    out = CtrlCAtTheBanner()
    monkeypatch.setattr("sys.stdout", out)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert run_emulator_cli(["--port", "0"]) == 130
    assert out.getvalue().rstrip().endswith('Content="hello")')  # the banner, nothing after
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
