"""Serving the emulator on loopback: :func:`serve` (async context manager) and the CLI.

REST and websocket share one port, under hypercorn's trio worker (the ``emulator`` extra).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import TextIO

import attrs
import trio

from participant.emulator._wire import WallClock
from participant.emulator.config import EmulatorConfig
from participant.emulator.core import Emulator

log = logging.getLogger("participant.emulator.server")


class _HideAborts(logging.Filter):
    """Hide hypercorn's traceback for a deliberate socket drop (a fault, not an error).

    ASGI cannot cut a TCP connection: the app raises, hypercorn closes (code 1011)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return type(exc).__name__ != "_AbortSocket"


@attrs.frozen
class EmulatorServer:
    """A running loopback emulator: ``endpoint_url`` (``http://127.0.0.1:<port>``), the
    :class:`Emulator` behind it, and the bound ``host`` and ``port``."""

    endpoint_url: str
    emulator: Emulator
    host: str
    port: int


@asynccontextmanager
async def serve(
    config: EmulatorConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    wall_clock: WallClock | None = None,
) -> AsyncIterator[EmulatorServer]:
    """Serve a new emulator on ``host:port`` (port 0: a free port) until the block exits.

    Requires hypercorn (``pip install participant[emulator]``).
    """
    try:
        import hypercorn.config
        import hypercorn.trio
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("serving the emulator needs hypercorn: participant[emulator]") from exc
    emulator = Emulator(config, wall_clock=wall_clock)
    hconfig = hypercorn.config.Config()
    hconfig.bind = [f"{host}:{port}"]
    hconfig.accesslog = None
    errorlog = logging.getLogger("participant.emulator.hypercorn")
    if not any(isinstance(f, _HideAborts) for f in errorlog.filters):
        errorlog.addFilter(_HideAborts())
    hconfig.errorlog = errorlog
    hconfig.graceful_timeout = 0.5
    async with emulator.run(), trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(
            partial(hypercorn.trio.serve, emulator.app, hconfig, mode="asgi")  # type: ignore[arg-type]
        )
        endpoint = binds[0]
        emulator.endpoint_url = endpoint
        bound_port = int(endpoint.rsplit(":", 1)[1])
        log.info("emulator serving on %s", endpoint)
        try:
            yield EmulatorServer(endpoint, emulator, host, bound_port)
        finally:
            nursery.cancel_scope.cancel()


def example(endpoint_url: str, instance_id: str) -> str:
    """A ready-to-use boto3 snippet that starts a chat on the emulator at ``endpoint_url``."""
    return f"""\
import boto3

kw = dict(endpoint_url="{endpoint_url}", region_name="us-east-1",
          aws_access_key_id="x", aws_secret_access_key="x")
chat = boto3.client("connect", **kw).start_chat_contact(
    InstanceId="{instance_id}", ContactFlowId="any",
    ParticipantDetails={{"DisplayName": "Customer"}})
participant = boto3.client("connectparticipant", **kw)
conn = participant.create_participant_connection(
    ParticipantToken=chat["ParticipantToken"],
    Type=["WEBSOCKET", "CONNECTION_CREDENTIALS"], ConnectParticipant=True)
participant.send_message(ConnectionToken=conn["ConnectionCredentials"]["ConnectionToken"],
                         ContentType="text/plain", Content="hello")
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="participant emulator",
        description="Run a local Amazon Connect Participant Service emulator.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (0: any free port)")
    parser.add_argument("--no-rate-limits", action="store_true", help="switch rate limits off")
    parser.add_argument("--url-open-window", type=float, default=None, metavar="SECONDS")
    parser.add_argument("--connection-expiry", type=float, default=None, metavar="SECONDS")
    parser.add_argument("--connection-token-ttl", type=float, default=None, metavar="SECONDS")
    return parser


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """Build an :class:`EmulatorConfig` from parsed CLI arguments."""
    changes: dict[str, object] = {"rate_limits": not args.no_rate_limits}
    for name in ("url_open_window", "connection_expiry", "connection_token_ttl"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    return attrs.evolve(EmulatorConfig(), **changes)  # type: ignore[arg-type]


async def main(
    host: str = "127.0.0.1",
    port: int = 8080,
    config: EmulatorConfig | None = None,
    *,
    out: TextIO | None = None,
    task_status: trio.TaskStatus[EmulatorServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled; writes the endpoint and a StartChatContact example to ``out``."""
    stream = out if out is not None else sys.stdout
    config = config or EmulatorConfig()
    async with serve(config, host, port) as server:
        stream.write(
            f"Participant Service emulator on {server.endpoint_url}\n"
            f"  REST + websocket: {server.endpoint_url}  (admin API: {server.endpoint_url}"
            "/emulator/...)\n\nStart a chat with boto3:\n\n"
            + example(server.endpoint_url, config.default_instance_id)
        )
        stream.flush()
        task_status.started(server)
        await trio.sleep_forever()


def run_emulator_cli(argv: Sequence[str] | None = None) -> int:
    """``participant emulator [--host H] [--port P] ...``: serve until Ctrl-C. Returns 0."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        trio.run(partial(main, args.host, args.port, config_from_args(args)))
    except KeyboardInterrupt:
        pass
    return 0
