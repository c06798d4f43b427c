"""The ``participant`` command: ``demo``, ``chat``, ``transcript``, ``tail``, ``emulator``.

Every subcommand has ``--help``; ``-v``/``-vv`` go before or after the command. Errors are
one line on stderr (``participant <command>: error: ...``) and a non-zero exit status: 1 for
service, network and demo failures, 2 for bad usage (no ParticipantToken, a malformed
endpoint URL or region: found before any network call), 130 after Ctrl-C. The
ParticipantToken comes from ``--participant-token`` or the ``PARTICIPANT_TOKEN`` environment
variable and is never printed (nor is any ConnectionToken or the websocket URL's AuthToken,
also not in ``-vv`` logs). ``chat`` exits 0 when the chat ends.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import sys
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TextIO

import trio

from participant.errors import ParticipantError, ServiceError, one_line
from participant.socket import redact_query_secrets

__all__ = ["TOKEN_ENV", "main"]

TOKEN_ENV = "PARTICIPANT_TOKEN"
"""Environment variable read when ``--participant-token`` is not given."""

log = logging.getLogger("participant.cli")


class UsageError(Exception):
    """Bad command-line input (exit status 2)."""


# ---- argument parsing -------------------------------------------------------------------


def _add_verbose(parser: argparse.ArgumentParser, dest: str) -> None:
    parser.add_argument(
        "-v", "--verbose", dest=dest, action="count", default=0,
        help="log more (-v: info, -vv: debug); accepted before or after the command",
    )


def _add_connection_args(parser: argparse.ArgumentParser) -> None:
    _add_verbose(parser, "verbose_after")
    where = parser.add_argument_group("service")
    where.add_argument(
        "--region",
        help="AWS region of the Amazon Connect instance (default: AWS_REGION / AWS_DEFAULT_REGION)",
    )
    where.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="base URL of the service instead of the region's, e.g. an emulator: "
        "http://127.0.0.1:8080",
    )
    where.add_argument(
        "--participant-token",
        metavar="TOKEN",
        help=f"the ParticipantToken from StartChatContact (default: ${TOKEN_ENV}; "
        "prefer the variable: options are visible in the process list). Never printed.",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``participant`` argument parser (one subparser per command)."""
    parser = argparse.ArgumentParser(
        prog="participant",
        description="A reliable trio participant of an Amazon Connect chat: "
        "try the demo, chat from a terminal, read or stream a transcript, run the emulator.",
    )
    _add_verbose(parser, "verbose")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser(
        "demo",
        help="run two actors in a chat on the embedded emulator (renewal, drop, gap fill)",
        description="Start the emulator on loopback, start a chat and run a customer and the "
        "echo bot of examples/echo_bot.py over real websockets: messages, typing, read "
        "receipts, an attachment, a planned renewal and an unplanned drop with gap fill. "
        "Prints a summary; exit status 0 only if no item was lost.",
    )
    demo.add_argument(
        "--pace",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="pause between steps, for reading along (default 0.5; 0: full speed)",
    )
    demo.add_argument(
        "--connection-expiry",
        type=float,
        default=8.0,
        metavar="SECONDS",
        help="the emulator's ConnectionExpiry; actors renew at 80%% of it (default 8)",
    )
    demo.add_argument("--no-color", action="store_true", help="no ANSI colours")
    _add_verbose(demo, "verbose_after")

    chat = sub.add_parser(
        "chat",
        help="chat interactively from the terminal (as the customer or agent of the token)",
        description="Join a chat with a ParticipantToken (a customer's or an agent's) and "
        "chat line by line. Each line you type is sent as a text/plain message; "
        "'/file PATH' sends an attachment, '/leave' leaves the chat (DisconnectParticipant), "
        "'/quit' or end of input (Ctrl-D) closes the connection without leaving, '/help' "
        "lists the commands; other lines starting with '/' are not sent ('//text' sends "
        "'/text'). A line that cannot be sent while the connection is down is retried. "
        "Exits 0 when the chat ends. Messages of others get read receipts unless "
        "--no-receipts.",
    )
    _add_connection_args(chat)
    chat.add_argument("--history", action="store_true", help="show the transcript so far first")
    chat.add_argument("--no-receipts", action="store_true", help="send no read receipts")

    transcript = sub.add_parser(
        "transcript",
        help="print the chat's whole transcript (table or JSON lines)",
        description="Print every item of the chat's transcript (GetTranscript, all pages), "
        "oldest first, as a table or, with --json, one JSON object per line (the wire item).",
    )
    _add_connection_args(transcript)
    transcript.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    transcript.add_argument(
        "--contact-id", help="ContactId to read (persistent chat: a past contact)"
    )

    tail = sub.add_parser(
        "tail",
        help="stream live items as JSON lines (for piping)",
        description="Connect and print each live item as one JSON object per line (the wire "
        "item), flushed at once, until the chat ends or Ctrl-C. Renewals, reconnects and "
        "gap fill happen underneath; each item is printed once.",
    )
    _add_connection_args(tail)
    tail.add_argument(
        "--history", action="store_true", help="print the transcript so far first"
    )

    # Only listed here: main() hands "emulator ..." to the emulator's own parser.
    sub.add_parser(
        "emulator",
        help="serve the Participant Service emulator (see 'participant emulator --help')",
    )
    # Likewise "fleet ..." to participant.fleet_cli.
    sub.add_parser(
        "fleet",
        help="run, feed and inspect a fleet of workers (see 'participant fleet --help')",
    )
    return parser


ENDPOINT_ENVS = ("AWS_ENDPOINT_URL_CONNECTPARTICIPANT", "AWS_ENDPOINT_URL")
"""Environment variables read, in this order, when ``--endpoint-url`` is not given
(boto3's names for a service-specific and a global endpoint)."""

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


def _token(args: argparse.Namespace) -> str:
    token: str | None = args.participant_token or os.environ.get(TOKEN_ENV)
    if not token:
        raise UsageError(f"no ParticipantToken: set {TOKEN_ENV} or pass --participant-token")
    return token


def check_endpoint_url(url: str, source: str = "--endpoint-url") -> str:
    """``url`` if it is an ``http://`` or ``https://`` URL with a host (and a valid port),
    else :class:`UsageError` naming ``source`` (the option or environment variable)."""
    example = "e.g. http://127.0.0.1:8080"
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise UsageError(f"{source}: not a URL ({exc}); {example}") from None
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"{source}: must start with http:// or https://, {example}")
    if not parts.hostname:
        raise UsageError(f"{source}: no host name in the URL, {example}")
    return url


def _client_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The service to use: ``--endpoint-url``, then the boto3 endpoint variables, then
    ``--region`` / ``AWS_REGION`` / ``AWS_DEFAULT_REGION``; each checked for its form
    (a :class:`UsageError` at once, never a network retry)."""
    if args.endpoint_url is not None:
        return {"region": args.region, "endpoint_url": check_endpoint_url(args.endpoint_url)}
    for name in ENDPOINT_ENVS:
        value = os.environ.get(name)
        if value:
            return {"region": args.region, "endpoint_url": check_endpoint_url(value, name)}
    region, source = args.region, "--region"
    if not region:
        for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            if os.environ.get(name):
                region, source = os.environ[name], name
                break
    if not region:
        raise UsageError("no service: pass --region (or set AWS_REGION) or --endpoint-url")
    if not _REGION.fullmatch(region):
        raise UsageError(f"{source}: {region!r} is not a region name, e.g. us-west-2")
    return {"region": region, "endpoint_url": None}


def _where(kwargs: dict[str, Any]) -> str:
    return str(kwargs["endpoint_url"] or f"region {kwargs['region']}")



# ---- output helpers -----------------------------------------------------------------------


def _wire_line(item: Any) -> str:
    from participant.model import item_to_wire

    return json.dumps(item_to_wire(item), ensure_ascii=False, separators=(",", ":"))


def _clock(absolute_time: str | None) -> str:
    from participant._time import parse_timestamp

    if not absolute_time:
        return "--:--:--"
    try:
        return datetime.fromtimestamp(parse_timestamp(absolute_time)).strftime("%H:%M:%S")
    except (ValueError, OverflowError):
        return absolute_time


def _describe_item(item: Any) -> str:
    """A one-line human rendering of an item's payload."""
    from participant.model import AttachmentMessage, EventItem, MessageItem

    if isinstance(item, MessageItem):
        return (item.content or "").replace("\n", " ⏎ ")
    if isinstance(item, AttachmentMessage):
        parts = [
            f"[attachment {a.attachment_name} ({a.content_type}, {a.status})]"
            for a in item.attachments or ()
        ]
        return " ".join(parts) or "[attachment]"
    if isinstance(item, EventItem) or item.content_type:
        name = (item.content_type or item.type or "?").rsplit(".", 1)[-1]
        return f"[{name}]"
    return f"[{item.type}]"


def _table_row(item: Any) -> str:
    who = item.display_name or item.participant_role or ""
    role = item.participant_role or ""
    return f"{_clock(item.absolute_time)}  {who[:18]:18} {role[:10]:10} {_describe_item(item)}"


# ---- commands -------------------------------------------------------------------------------

CONNECT_TIMEOUT = float(os.environ.get("PARTICIPANT_CONNECT_TIMEOUT", "15"))
"""Seconds ``chat`` and ``tail`` try to make the first connection (transient errors are
retried meanwhile) before failing with the last error (``ParticipantConfig.connect_timeout``)."""

SEND_ATTEMPTS = 5
"""How often ``chat`` tries to send one typed line (same ClientToken each time, so the
service never stores it twice) before showing it as not sent."""


class _Progress:
    """Writes connection progress to ``err``: "connecting…", each retry with its delay and
    reason, reconnects; with ``every_state``, each state change too (``chat``)."""

    def __init__(self, err: TextIO, *, every_state: bool) -> None:
        self.err = err
        self.every_state = every_state
        self.subscribed_once = False
        self.retries = 0
        self.reason = ""
        self.live = trio.Event()  # set while subscribed (or over): sends may go through

    def write(self, line: str) -> None:
        self.err.write(f"· {line}\n")
        self.err.flush()

    def __call__(self, change: Any) -> None:
        from participant.machine import State, Trigger

        if change.trigger is Trigger.BACKOFF:
            self.retries += 1
            doing = "reconnecting" if self.subscribed_once else "connecting"
            # The reason is the state change's (the first failure); later failures do not
            # change state, so later retries do not repeat a reason that may be stale.
            why = f" ({self.reason})" if self.reason and self.retries == 1 else ""
            self.write(f"{doing}… retry {self.retries} in {change.delay or 0:.1f} s{why}")
            return
        if change.new in (State.TOKEN, State.CONNECTED, State.RECONNECTING):
            if self.live.is_set():
                self.live = trio.Event()
        else:
            self.live.set()
        if change.new is State.RECONNECTING:
            self.reason = change.reason
            if self.subscribed_once and not self.every_state:
                self.write(f"connection lost ({change.reason})")
        if change.new is State.SUBSCRIBED:
            if not self.subscribed_once and not self.every_state:
                self.write("connected: each item is printed as it arrives (Ctrl-C stops)")
            elif self.subscribed_once and self.retries and not self.every_state:
                self.write("reconnected")
            self.subscribed_once = True
            self.retries = 0
            self.reason = ""
        if self.every_state:
            reason = f" ({change.reason})" if change.reason else ""
            self.write(f"{change.new}{reason}")


@asynccontextmanager
async def _connected(
    args: argparse.Namespace, progress: _Progress | None, **kwargs: Any
) -> AsyncIterator[Any]:
    """``connect()`` with the CLI's options and ``connect_timeout`` :data:`CONNECT_TIMEOUT`.

    Raises what :func:`participant.actor.connect` raises: AccessDeniedException at once,
    else the last TransportError / ServiceError after :data:`CONNECT_TIMEOUT` seconds."""
    from participant.actor import ParticipantConfig, connect

    token = _token(args)
    client_kwargs = _client_kwargs(args)
    if progress is not None:
        progress.write(f"connecting to {_where(client_kwargs)}…")
    config = ParticipantConfig(connect_timeout=CONNECT_TIMEOUT)
    async with connect(
        token, **client_kwargs, config=config, on_state_change=progress, **kwargs
    ) as participant:
        yield participant


async def _transcript(args: argparse.Namespace, out: TextIO) -> int:
    from participant._time import parse_timestamp
    from participant.api import ParticipantClient

    token = _token(args)
    async with ParticipantClient(**_client_kwargs(args)) as client:
        conn = await client.create_participant_connection(
            token, type=("CONNECTION_CREDENTIALS",)
        )
        creds = conn.connection_credentials
        if creds is None or not creds.connection_token:
            raise ParticipantError("CreateParticipantConnection returned no ConnectionToken")
        items = [
            item
            async for item in client.iter_transcript(
                creds.connection_token,
                contact_id=args.contact_id,
                max_results=100,
                scan_direction="BACKWARD",
                sort_order="ASCENDING",
            )
        ]

    def key(item: Any) -> float:
        try:
            return parse_timestamp(item.absolute_time) if item.absolute_time else -math.inf
        except ValueError:
            return -math.inf

    items.sort(key=key)
    if args.json:
        for item in items:
            out.write(_wire_line(item) + "\n")
    else:
        out.write(f"{'time':8}  {'name':18} {'role':10} content\n")
        for item in items:
            out.write(_table_row(item) + "\n")
        out.write(f"({len(items)} items)\n")
    out.flush()
    return 0


async def _tail(args: argparse.Namespace, out: TextIO, err: TextIO | None = None) -> int:
    err = sys.stderr if err is None else err
    progress = _Progress(err, every_state=False) if err.isatty() else None
    async with _connected(args, progress, history=args.history) as participant:
        async for item in participant:
            out.write(_wire_line(item) + "\n")
            out.flush()
    if participant.error is not None:
        raise participant.error
    return 0


async def _read_line() -> str:
    """One line of stdin, read in a thread (abandoned on cancellation); "" at end of input."""
    return await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)


CHAT_HELP = """\
commands (anything else is sent as a text/plain message):
  /file PATH   send the file at PATH as an attachment
  /leave       leave the chat (DisconnectParticipant) and exit
  /quit        exit without leaving (also Ctrl-D); the chat goes on
  /help        this list
  //text       send "/text" (a message that starts with /)"""


def _epoch_or_none(absolute_time: str | None) -> float | None:
    from participant._time import parse_timestamp

    if not absolute_time:
        return None
    try:
        return parse_timestamp(absolute_time)
    except (ValueError, OverflowError):
        return None


class _Order:
    """Keeps ``chat``'s output in AbsoluteTime order across reconnects.

    After a reconnect, gap fill can bring events older than what is already on screen
    (e.g. the participant's own joined / connection acknowledged from before its first
    subscription). Such a stale event is not shown; a message or attachment older than
    the newest shown one is still shown (never lose a message), marked ``(earlier)``."""

    def __init__(self) -> None:
        self.newest = -math.inf

    def place(self, item: Any) -> str | None:
        """``""`` to show, ``" (earlier)"`` to show marked, ``None`` to skip."""
        from participant.model import AttachmentMessage, MessageItem

        at = _epoch_or_none(item.absolute_time)
        if at is None:
            return ""
        if at >= self.newest:
            self.newest = at
            return ""
        if isinstance(item, (MessageItem, AttachmentMessage)):
            return " (earlier)"
        return None


async def _chat(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    read_line: Callable[[], Any] = _read_line,
) -> int:
    from participant.model import (
        MessageDelivered,
        MessageItem,
        MessageMetadataEvent,
        MessageRead,
        Typing,
    )

    sent_ids: set[str] = set()  # Ids of our messages (SendMessage responses)
    pending: dict[str, trio.Event] = {}  # ... not yet shown
    shown: set[str] = set()  # Ids of every item shown
    sends = _InFlight()  # our SendMessage calls not yet answered
    order = _Order()
    progress = _Progress(err, every_state=True)
    ended = False

    async with _connected(args, progress, history=args.history) as participant:

        def is_mine(item: Any) -> bool:
            # participant_id is learnt from the echo of our first message; until then
            # (and for an echo that beats its SendMessage response) sent_ids tells.
            own_id = participant.participant_id
            return item.id in sent_ids or (
                own_id is not None and item.participant_id == own_id
            )

        progress.write("ready: type a message and Enter; /help lists the commands")

        async def show_items() -> None:
            nonlocal ended
            async for item in participant:
                if isinstance(item, Typing):
                    if not is_mine(item):
                        progress.write(f"{item.display_name or 'someone'} is typing…")
                    continue
                if isinstance(item, (MessageDelivered, MessageRead, MessageMetadataEvent)):
                    continue
                mark = order.place(item)
                if item.id is not None:
                    shown.add(item.id)
                if item.id in pending:
                    pending.pop(item.id).set()
                if mark is None:
                    continue
                out.write(_table_row(item) + mark + "\n")
                out.flush()
                if isinstance(item, MessageItem) and item.id and not args.no_receipts:
                    if not is_mine(item):
                        nursery.start_soon(_receipt, item)
            # The iterator ended: the chat is over (or the participant failed).
            ended = True
            nursery.cancel_scope.cancel()

        async def _receipt(item: Any) -> None:
            # An echo of our own message can beat its SendMessage response: decide once
            # no send is in flight (then sent_ids / participant_id know it).
            await sends.idle()
            if is_mine(item):
                return
            try:
                await participant.send_receipt(item.id, "read")
            except ParticipantError as exc:
                log.info("read receipt not sent: %s", exc)

        async def sender(lines: trio.MemoryReceiveChannel[str]) -> None:
            async with lines:
                async for text in lines:
                    await _send_line(participant, text, progress, sends, on_sent)

        def on_sent(message_id: str) -> None:
            sent_ids.add(message_id)
            if message_id not in shown:  # the echo may come before the response
                pending[message_id] = trio.Event()

        left = False
        outbox, lines = trio.open_memory_channel[str](64)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(show_items)
            sender_done = trio.Event()

            async def run_sender() -> None:
                try:
                    await sender(lines)
                finally:
                    sender_done.set()

            nursery.start_soon(run_sender)
            async with outbox:
                while True:
                    line = await read_line()
                    if not line:
                        break
                    text = line.rstrip("\r\n")
                    if not text.strip():
                        continue
                    if text.startswith("/") and not text.startswith("//"):
                        command, _, rest = text.partition(" ")
                        if command == "/quit":
                            break
                        if command == "/leave":
                            left = True  # (the chat may end, and this task be cancelled,
                            await participant.disconnect()  # before disconnect returns)
                            break
                        if command == "/help":
                            err.write(CHAT_HELP + "\n")
                            err.flush()
                        elif command == "/file" and rest.strip():
                            await _send_file(participant, rest.strip(), progress)
                        elif command == "/file":
                            progress.write("usage: /file PATH (nothing sent)")
                        else:
                            progress.write(
                                f"unknown command {command} (nothing sent); /help lists "
                                "the commands, // sends a line starting with /"
                            )
                        continue
                    if text.startswith("//"):
                        text = text[1:]
                    await outbox.send(text)
            # Input ended: let the sender finish the lines typed so far, then let our
            # last messages come back (bounded) before closing.
            if not left:
                await sender_done.wait()
                with trio.move_on_after(5):
                    for event in list(pending.values()):
                        await event.wait()
            nursery.cancel_scope.cancel()
    if participant.error is not None:
        raise participant.error
    if left:
        progress.write("left the chat")
    elif ended:
        progress.write("the chat has ended")
    return 0


async def _send_line(
    participant: Any,
    text: str,
    progress: _Progress,
    sends: _InFlight,
    on_sent: Callable[[str], None],
) -> None:
    """Send one typed line; on a transient failure (e.g. while reconnecting) keep it and
    retry with the same ClientToken (:data:`SEND_ATTEMPTS` in all), waiting for the
    connection to come back; then show it as not sent. Never raises a ParticipantError."""
    from participant.errors import ParticipantClosedError

    client_token = str(uuid.uuid4())
    preview = text if len(text) <= 40 else text[:39] + "…"
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            with sends:
                sent = await participant.send_message(text, client_token=client_token)
        except ParticipantClosedError as exc:
            progress.write(f"not sent: {preview!r} ({one_line(exc)})")
            return
        except ParticipantError as exc:
            retryable = not isinstance(exc, ServiceError) or exc.retryable
            if not retryable or attempt == SEND_ATTEMPTS:
                progress.write(f"not sent: {preview!r} ({one_line(exc)})")
                return
            delay = min(8.0, 0.5 * 2**attempt)
            progress.write(
                f"sending {preview!r} failed ({one_line(exc)}); retry {attempt} in {delay:g} s"
            )
            await trio.sleep(delay)
            with trio.move_on_after(30):  # wait for the connection to be back
                await progress.live.wait()
            continue
        if sent.id:
            on_sent(sent.id)
        if attempt > 1:
            progress.write(f"sent {preview!r}")
        return



class _InFlight:
    """Counts calls in flight (``with``); :meth:`idle` waits until there are none."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = trio.Event()
        self._idle.set()

    def __enter__(self) -> None:
        if self._count == 0:
            self._idle = trio.Event()
        self._count += 1

    def __exit__(self, *exc: object) -> None:
        self._count -= 1
        if self._count == 0:
            self._idle.set()

    async def idle(self) -> None:
        while self._count:
            await self._idle.wait()


async def _send_file(participant: Any, name: str, progress: _Progress) -> None:
    import mimetypes

    path = await trio.Path(name).expanduser()
    try:
        data = await path.read_bytes()
    except OSError as exc:
        progress.write(f"cannot read {path}: {exc.strerror} (nothing sent)")
        return
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    try:
        await participant.send_attachment(
            data, attachment_name=path.name, content_type=content_type
        )
    except ParticipantError as exc:
        progress.write(f"attachment not sent: {one_line(exc)}")
        return
    progress.write(f"sent {path.name} ({len(data)} bytes)")


# ---- entry point ---------------------------------------------------------------------------


class _Redact(logging.Filter):
    """Removes secrets from every record the CLI's handler writes: the ParticipantToken it
    was given and every secret query value (the websocket URL's AuthToken, a presigned
    URL's signature: :func:`participant.socket.redact_query_secrets`), whichever logger
    (the library's or a dependency's, e.g. trio-websocket's DEBUG lines) made the record."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a record whose arguments do not format: leave it to logging
            return True
        clean = redact_query_secrets(text, "***")
        for secret in self.secrets:
            clean = clean.replace(secret, "***")
        if clean != text:
            record.msg, record.args = clean, None
        return True


def _setup_logging(verbose: int, secrets: Sequence[str] = ()) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_Redact(secrets))
    # Without -v the library's log is silent: drops, retries and reconnects are reported
    # by the commands themselves, and an error that stops a command (e.g. the actor's
    # "no connection within connect_timeout") reaches it and is its one error line.
    handler.setLevel(logging.CRITICAL if verbose == 0 else level)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    if verbose < 2:  # their INFO lines are per request / per transition
        for name in ("httpx", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)


def _unwrap(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``participant`` command with ``argv`` (default ``sys.argv[1:]``); returns
    the exit status (the console script passes it to ``sys.exit``)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    first = next((i for i, a in enumerate(args_list) if not a.startswith("-")), None)
    if first is not None and args_list[first] == "emulator":
        from participant.emulator.server import run_emulator_cli

        return run_emulator_cli(args_list[first + 1 :])
    if first is not None and args_list[first] == "fleet":
        from participant.fleet_cli import run_fleet_cli

        return run_fleet_cli(args_list[first + 1 :])
    parser = build_parser()
    args = parser.parse_args(args_list)
    verbose = args.verbose + getattr(args, "verbose_after", 0)
    secrets = [getattr(args, "participant_token", None) or "", os.environ.get(TOKEN_ENV, "")]
    _setup_logging(verbose, secrets)
    out, err = sys.stdout, sys.stderr
    try:
        if args.command == "demo":
            from participant.demo import DemoOptions, run

            return run(
                DemoOptions(
                    pace=max(0.0, args.pace),
                    connection_expiry=args.connection_expiry,
                    color=False if args.no_color else None,
                ),
                out,
            )
        _token(args)  # usage errors first, at once: no network retry for a typo
        _client_kwargs(args)
        if args.command == "chat":
            return trio.run(_chat, args, out, err)
        if args.command == "transcript":
            return trio.run(_transcript, args, out)
        return trio.run(_tail, args, out, err)
    except KeyboardInterrupt:
        err.write("\n")
        return 130
    except UsageError as exc:
        err.write(f"participant {args.command}: error: {exc}\n")
        return 2
    except BaseException as exc:
        inner = _unwrap(exc)
        if isinstance(inner, KeyboardInterrupt):
            return 130
        if isinstance(inner, UsageError):
            err.write(f"participant {args.command}: error: {inner}\n")
            return 2
        if isinstance(inner, (ParticipantError, OSError)):
            err.write(f"participant {args.command}: error: {one_line(inner)}\n")
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
