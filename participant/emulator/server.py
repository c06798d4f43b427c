"""Serving the emulator on loopback: :func:`serve` (async context manager) and the CLI.

REST and websocket share one port, under hypercorn's trio worker (the ``emulator`` extra).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import ssl
import sys
import tempfile
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
    """A running loopback emulator: ``endpoint_url`` (``http://127.0.0.1:<port>``, or
    ``https://`` with TLS), the :class:`Emulator` behind it, and the bound ``host`` and
    ``port``. With TLS, ``ca_pem`` is the throwaway CA's certificate (PEM bytes) that
    signed the server's certificate (for ``127.0.0.1``, ``::1`` and ``localhost``)."""

    endpoint_url: str
    emulator: Emulator
    host: str
    port: int
    ca_pem: bytes | None = attrs.field(default=None, repr=False)

    def ssl_context(self) -> ssl.SSLContext:
        """A client :class:`ssl.SSLContext` that trusts only this server's CA (verification
        on: hostname and chain). Raises RuntimeError when the server has no TLS."""
        if self.ca_pem is None:
            raise RuntimeError("this emulator serves plain http: use serve(..., tls=True)")
        context = ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))
        return context


def _write_private(path: str, data: bytes) -> str:
    """Write ``data`` to a new file only its owner can read; returns ``path``."""
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
        file.write(data)
    return path


def _write_ca(ca_pem: bytes, path: str) -> str:
    """Write the CA certificate (public) to ``path``; returns the absolute path."""
    with open(path, "wb") as file:
        file.write(ca_pem)
    return os.path.abspath(path)


def _throwaway_certificate(host: str) -> tuple[bytes, bytes]:
    """(CA certificate PEM, server key + certificate chain PEM) from a new trustme CA."""
    try:
        import trustme
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("TLS needs trustme: pip install participant[emulator]") from exc
    ca = trustme.CA()
    names = ["127.0.0.1", "::1", "localhost"]
    if host not in names and host not in ("0.0.0.0", "::", ""):
        names.append(host)
    cert = ca.issue_cert(*names)
    return ca.cert_pem.bytes(), cert.private_key_and_cert_chain_pem.bytes()


@asynccontextmanager
async def serve(
    config: EmulatorConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    wall_clock: WallClock | None = None,
    tls: bool = False,
) -> AsyncIterator[EmulatorServer]:
    """Serve a new emulator on ``host:port`` (port 0: a free port) until the block exits.

    ``tls``: serve https/wss with a certificate from a new throwaway CA (trustme); clients
    trust it through :meth:`EmulatorServer.ssl_context` or ``EmulatorServer.ca_pem``.
    Requires hypercorn and trustme (``pip install participant[emulator]``). Raises
    OSError when the address cannot be bound (port in use, unknown host). A Ctrl-C while
    serving ends the block with KeyboardInterrupt (in an exception group), wherever it
    landed: hypercorn's own Ctrl-C shutdown, which returns quietly, is turned into one.
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
    hconfig.read_timeout = max(1, math.ceil(emulator.config.connection_idle_timeout))
    # an idle keep-alive connection too (hypercorn's default closes it after 5 s: a client
    # that reuses it just then, e.g. in a long burst, gets a reset or no answer)
    hconfig.keep_alive_timeout = hconfig.read_timeout
    hconfig.websocket_max_message_size = emulator.config.max_frame_bytes
    ca_pem: bytes | None = None
    with tempfile.TemporaryDirectory(prefix="participant-emulator-") as secrets_dir:
        if tls:
            ca_pem, server_pem = _throwaway_certificate(host)
            pem_path = _write_private(os.path.join(secrets_dir, "server.pem"), server_pem)
            hconfig.certfile = hconfig.keyfile = pem_path
        async with emulator.run(), trio.open_nursery() as nursery:

            async def hypercorn_serve(task_status: trio.TaskStatus[list[str]]) -> None:
                await hypercorn.trio.serve(
                    emulator.app,  # type: ignore[arg-type]
                    hconfig,
                    mode="asgi",
                    task_status=task_status,
                )
                # With no shutdown trigger, hypercorn returns on its own only after it
                # caught a KeyboardInterrupt raised in one of its tasks (its Ctrl-C
                # shutdown): hand the Ctrl-C on, or the block would go on with no server.
                if not nursery.cancel_scope.cancel_called:
                    raise KeyboardInterrupt

            binds: list[str] = await nursery.start(hypercorn_serve)
            endpoint = binds[0]
            emulator.endpoint_url = endpoint
            bound_port = int(endpoint.rsplit(":", 1)[1])
            log.info("emulator serving on %s", endpoint)
            try:
                yield EmulatorServer(endpoint, emulator, host, bound_port, ca_pem)
            finally:
                nursery.cancel_scope.cancel()


def example(endpoint_url: str, instance_id: str, ca_file: str | None = None) -> str:
    """A ready-to-use boto3 snippet that starts a chat on the emulator at ``endpoint_url``
    (``ca_file``: the CA to verify a TLS emulator with)."""
    verify = "" if ca_file is None else f",\n          verify={ca_file!r}"
    return f"""\
import boto3

kw = dict(endpoint_url="{endpoint_url}", region_name="us-east-1",
          aws_access_key_id="x", aws_secret_access_key="x"{verify})
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
    parser.add_argument("--port", type=_port, default=8080, help="port (0: any free port)")
    parser.add_argument("--no-rate-limits", action="store_true", help="switch rate limits off")
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve https/wss with a certificate from a new throwaway CA (written to --ca-file)",
    )
    parser.add_argument(
        "--ca-file",
        default=None,
        metavar="PATH",
        help="with --tls: where to write the CA certificate (default: a temporary file)",
    )
    for name in (
        "--url-open-window",
        "--connection-expiry",
        "--connection-token-ttl",
        "--participant-token-first-use-window",
    ):
        parser.add_argument(name, type=_seconds, default=None, metavar="SECONDS")
    return parser


def _seconds(text: str) -> float:
    """A lifetime on the command line: a finite number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 0..65535, got {text!r}")
    return value


def _leaf(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first exception of type ``kind`` in ``exc`` (exception groups searched)."""
    if isinstance(exc, kind):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _leaf(inner, kind)
            if found is not None:
                return found
    return None


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """Build an :class:`EmulatorConfig` from parsed CLI arguments."""
    changes: dict[str, object] = {"rate_limits": not args.no_rate_limits}
    for name in (
        "url_open_window",
        "connection_expiry",
        "connection_token_ttl",
        "participant_token_first_use_window",
    ):
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
    tls: bool = False,
    ca_file: str | None = None,
    task_status: trio.TaskStatus[EmulatorServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled; writes the endpoint and a StartChatContact example to ``out``.

    ``tls``: https/wss (see :func:`serve`); the CA certificate is written to ``ca_file``
    (default: a temporary file, removed on exit) and its path printed."""
    stream = out if out is not None else sys.stdout
    config = config or EmulatorConfig()
    async with serve(config, host, port, tls=tls) as server:
        with tempfile.TemporaryDirectory(prefix="participant-emulator-ca-") as tmp:
            ca_path: str | None = None
            if server.ca_pem is not None:
                ca_path = _write_ca(server.ca_pem, ca_file or os.path.join(tmp, "ca.pem"))
            trust = (
                ""
                if ca_path is None
                else f"  CA certificate: {ca_path}  (e.g. AWS_CA_BUNDLE / SSL_CERT_FILE)\n"
            )
            stream.write(
                f"Participant Service emulator on {server.endpoint_url}\n"
                f"  REST + websocket: {server.endpoint_url}  (admin API: {server.endpoint_url}"
                f"/emulator/...)\n{trust}\nStart a chat with boto3:\n\n"
                + example(server.endpoint_url, config.default_instance_id, ca_path)
            )
            stream.flush()
            task_status.started(server)
            await trio.sleep_forever()


def run_emulator_cli(argv: Sequence[str] | None = None) -> int:
    """``participant emulator [--host H] [--port P] ...``: serve until Ctrl-C.

    Returns the exit status: 130 after Ctrl-C (nothing more printed), 1 when the address
    cannot be bound (a busy port, an unknown host: one line on stderr), 2 for bad
    arguments (argparse: a lifetime must be a number of seconds > 0)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    started: list[EmulatorServer] = []

    interrupted: list[int] = []

    async def run() -> None:
        # Ctrl-C is a signal read by a task, not a KeyboardInterrupt raised in whichever
        # task runs when it lands (a dependency's task may swallow it: hypercorn does).
        with trio.open_signal_receiver(signal.SIGINT) as signals:
            async with trio.open_nursery() as nursery:

                async def stop_on_ctrl_c() -> None:
                    async for signum in signals:
                        interrupted.append(signum)
                        nursery.cancel_scope.cancel()

                nursery.start_soon(stop_on_ctrl_c)
                started.append(
                    await nursery.start(
                        partial(
                            main,
                            args.host,
                            args.port,
                            config_from_args(args),
                            tls=args.tls,
                            ca_file=args.ca_file,
                        )
                    )
                )

    try:
        trio.run(run)
    except BaseException as exc:
        if _leaf(exc, KeyboardInterrupt) is not None:  # before the signal receiver
            return 130
        error = _leaf(exc, OSError)
        if not isinstance(error, OSError) or started:
            raise
        reason = error.strerror or str(error) or type(error).__name__
        print(
            f"participant emulator: cannot listen on {args.host}:{args.port}: {reason}",
            file=sys.stderr,
        )
        return 1
    return 130 if interrupted else 0
