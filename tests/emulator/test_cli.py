"""The CLI entry: prints the endpoint and a StartChatContact example that works as printed."""

from __future__ import annotations

import io
from functools import partial

import attrs
import trio

from participant.emulator import EmulatorConfig, EmulatorServer, main
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
