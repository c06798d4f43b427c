"""``participant fleet``: run a worker, submit a chat, show the fleet's chats (docs/fleet.md).

- ``participant fleet run --store URL --handler module:function`` — a worker
  (:class:`participant.fleet.Fleet`) until SIGTERM or Ctrl-C, which release its leases at
  once; ``--events`` prints one JSON line per :class:`~participant.fleet.FleetEvent`.
- ``participant fleet submit --store URL --key KEY`` — add a chat; the ParticipantToken comes
  from ``--participant-token`` or ``$PARTICIPANT_TOKEN``, is stored, never printed.
- ``participant fleet status --store URL`` — a table of the chats: key, ContactId, state,
  owner, epoch, lease expiry, acknowledged position, lag (never a token); ``--json`` for
  one JSON object per line.

Exit status: 0, 1 for store or service errors, 2 for bad usage, 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import attrs
import trio

from participant.errors import ParticipantError

__all__ = ["build_parser", "load_handler", "run_fleet_cli", "status_rows"]

TOKEN_ENV = "PARTICIPANT_TOKEN"
STORE_ENV = "PARTICIPANT_STORE"

log = logging.getLogger("participant.fleet_cli")


class UsageError(Exception):
    """Bad command-line input (exit status 2)."""


def build_parser() -> argparse.ArgumentParser:
    """The ``participant fleet`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="participant fleet",
        description="Durable chats shared by a fleet of workers through a store "
        "(sqlite:///path or postgresql://...).",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more (-v: info, -vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def store_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--store", metavar="URL",
                       help=f"the store: sqlite:///path/fleet.db or postgresql://user@host/db "
                       f"(default: ${STORE_ENV})")

    run = sub.add_parser("run", help="run a worker until SIGTERM / Ctrl-C",
                         description="Claim chats from the store and run the handler for "
                         "their items; SIGTERM or Ctrl-C releases every lease at once.")
    store_arg(run)
    run.add_argument("--handler", required=True, metavar="MODULE:FUNCTION",
                     help="async def handler(chat, item), e.g. mybot:handle or ./bot.py:handle")
    run.add_argument("--max-chats", type=int, default=100, metavar="N",
                     help="most chats held at once (default 100)")
    run.add_argument("--lease-ttl", type=float, default=30.0, metavar="SECONDS",
                     help="lease lifetime without renewal (default 30; takeover after 1-2x)")
    run.add_argument("--resume-rate", type=float, default=4.0, metavar="PER_SECOND",
                     help="resumes per second for the whole fleet (default 4)")
    run.add_argument("--get-transcript-rate", type=float, default=6.0, metavar="PER_SECOND",
                     help="GetTranscript calls per second for the whole fleet (default 6)")
    run.add_argument("--create-connection-rate", type=float, default=4.0,
                     metavar="PER_SECOND", help="CreateParticipantConnection calls per "
                     "second for the whole fleet (default 4)")
    run.add_argument("--resume-jitter", type=float, metavar="SECONDS",
                     help="a resume first waits a random 0..SECONDS (default ttl/4)")
    run.add_argument("--claim-interval", type=float, metavar="SECONDS",
                     help="seconds between claims (default min(ttl/3, 2))")
    run.add_argument("--owner", help="this worker's name (default host:pid:random)")
    run.add_argument("--events", action="store_true",
                     help="print one JSON line per fleet event (claimed, connected, ...)")
    where = run.add_argument_group("service")
    where.add_argument("--region", help="AWS region (default AWS_REGION / AWS_DEFAULT_REGION)")
    where.add_argument("--endpoint-url", metavar="URL",
                       help="base URL of the service instead of the region's (an emulator)")

    submit = sub.add_parser("submit", help="add a chat for the fleet",
                            description="Store a chat's ParticipantToken under a key; the "
                            f"token comes from --participant-token or ${TOKEN_ENV}.")
    store_arg(submit)
    submit.add_argument("--key", help="the chat's key (default: --contact-id)")
    submit.add_argument("--contact-id", help="the chat's ContactId")
    submit.add_argument("--participant-token", metavar="TOKEN",
                        help=f"the ParticipantToken (default ${TOKEN_ENV}; prefer the "
                        "variable: options are visible in the process list). Never printed.")

    status = sub.add_parser("status", help="show the chats, owners, leases and positions")
    store_arg(status)
    status.add_argument("--json", action="store_true", help="one JSON object per chat")
    return parser


def load_handler(spec: str) -> Any:
    """The function named by ``module:function`` or ``path/to/file.py:function``.

    Raises:
        UsageError: not of that form, or the module or function is missing.
    """
    module_name, sep, function = spec.rpartition(":")
    if not sep or not module_name or not function:
        raise UsageError(f"--handler must be MODULE:FUNCTION, got {spec!r}")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            loc = importlib.util.spec_from_file_location(path.stem, path)
            if loc is None or loc.loader is None or not path.is_file():
                raise UsageError(f"--handler: no file {module_name!r}")
            module = importlib.util.module_from_spec(loc)
            sys.modules[path.stem] = module
            loc.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"--handler: cannot import {module_name!r} ({exc})") from None
    fn = getattr(module, function, None)
    if not callable(fn):
        raise UsageError(f"--handler: {module_name!r} has no function {function!r}")
    return fn


def _store_url(args: argparse.Namespace) -> str:
    url: str | None = args.store or os.environ.get(STORE_ENV)
    if not url:
        raise UsageError(f"no store: pass --store URL or set {STORE_ENV}")
    return url


def _ago(seconds: float) -> str:
    if seconds < 0:
        return f"in {-seconds:.0f}s"
    return f"{seconds:.0f}s ago"


def status_rows(chats: Sequence[Any], now: float) -> list[dict[str, Any]]:
    """One dict per :class:`~participant.store.ChatStatus` for ``status``: the record's
    fields plus ``lease`` (``"held"``, ``"expired"``, ``"released"``, ``"never"``) and
    ``lag`` (seconds between the newest delivered and the newest acknowledged item's
    AbsoluteTime, or ``None``)."""
    from participant.model import parse_absolute_time

    rows = []
    for chat in chats:
        row = attrs.asdict(chat)
        if chat.epoch == 0:
            lease = "never"
        elif chat.owner is None:
            lease = "released"
        else:
            lease = "held" if chat.expiry > now else "expired"
        row["lease"] = lease
        lag = None
        if chat.acked_time and chat.newest_time:
            try:
                lag = max(0.0, parse_absolute_time(chat.newest_time)
                          - parse_absolute_time(chat.acked_time))
            except (ValueError, OverflowError):
                lag = None
        row["lag"] = lag
        rows.append(row)
    return rows


def _print_table(rows: list[dict[str, Any]], now: float, out: TextIO) -> None:
    headers = ["KEY", "CONTACT", "STATE", "OWNER", "EPOCH", "LEASE", "EXPIRES", "ACKED",
               "LAG"]
    table = [headers]
    for r in rows:
        acked = "-"
        if r["acked_id"]:
            acked = f"{r['acked_id']} @ {r['acked_time'] or '?'}"
        expires = "-" if r["expiry"] == 0 or r["owner"] is None else _ago(now - r["expiry"])
        table.append([
            r["key"], r["contact_id"] or "-", r["state"], r["owner"] or "-", str(r["epoch"]),
            r["lease"], expires, acked, "-" if r["lag"] is None else f"{r['lag']:.1f}s",
        ])
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    for row in table:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                  + "\n")
    out.write(f"{len(rows)} chats\n")


async def _status(args: argparse.Namespace, out: TextIO) -> int:
    from participant.store import open_store

    async with open_store(_store_url(args)) as store:
        chats = await store.chats()
    now = time.time()
    rows = status_rows(chats, now)
    if args.json:
        for row in rows:
            out.write(json.dumps(row, sort_keys=True) + "\n")
    else:
        _print_table(rows, now, out)
    return 0


async def _submit(args: argparse.Namespace, out: TextIO) -> int:
    from participant.store import open_store

    token: str | None = args.participant_token or os.environ.get(TOKEN_ENV)
    if not token:
        raise UsageError(f"no ParticipantToken: set {TOKEN_ENV} or pass --participant-token")
    if not (args.key or args.contact_id):
        raise UsageError("pass --key or --contact-id")
    async with open_store(_store_url(args)) as store:
        key = await store.submit(token, key=args.key, contact_id=args.contact_id)
    out.write(f"{key}\n")
    return 0


async def _run(args: argparse.Namespace, out: TextIO) -> int:
    from participant.actor import ParticipantConfig
    from participant.fleet import Fleet, FleetEvent
    from participant.store import open_store

    handler = load_handler(args.handler)
    if args.endpoint_url is None and not (
        args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    ):
        raise UsageError("no service: pass --region (or set AWS_REGION) or --endpoint-url")

    printing = {"events": bool(args.events)}

    def on_event(event: FleetEvent) -> None:
        if printing["events"]:
            try:
                out.write(json.dumps(attrs.asdict(event)) + "\n")
                out.flush()
            except OSError:  # the reader went away (a closed pipe): keep working, quietly
                printing["events"] = False

    async with open_store(_store_url(args)) as store:
        fleet = Fleet(
            store, handler, max_chats=args.max_chats, lease_ttl=args.lease_ttl,
            resume_rate=args.resume_rate, resume_jitter=args.resume_jitter,
            get_transcript_rate=args.get_transcript_rate,
            create_connection_rate=args.create_connection_rate,
            claim_interval=args.claim_interval,
            owner=args.owner, on_event=on_event,
            connect_kwargs={"region": args.region, "endpoint_url": args.endpoint_url,
                            "config": ParticipantConfig(connect_timeout=15.0)},
        )
        if args.events:
            out.write(json.dumps({"kind": "running", "owner": fleet.owner}) + "\n")
            out.flush()
        await fleet.run(signals=(signal.SIGTERM, signal.SIGINT))
    return 0


def run_fleet_cli(argv: Sequence[str] | None = None, out: TextIO | None = None,
                  err: TextIO | None = None) -> int:
    """Run ``participant fleet`` with ``argv`` (the arguments after ``fleet``); returns the
    exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    level = logging.DEBUG if args.verbose >= 2 else logging.INFO
    if args.verbose:
        logging.basicConfig(level=level, stream=err,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if args.verbose < 2:
            for name in ("httpx", "transitions"):
                logging.getLogger(name).setLevel(logging.WARNING)
    commands = {"run": _run, "submit": _submit, "status": _status}
    try:
        return trio.run(commands[args.command], args, out)
    except KeyboardInterrupt:
        return 130
    except UsageError as exc:
        err.write(f"participant fleet {args.command}: error: {exc}\n")
        return 2
    except BaseException as exc:
        inner = exc
        while isinstance(inner, BaseExceptionGroup) and len(inner.exceptions) == 1:
            inner = inner.exceptions[0]
        if isinstance(inner, KeyboardInterrupt):
            return 130
        if isinstance(inner, UsageError):
            err.write(f"participant fleet {args.command}: error: {inner}\n")
            return 2
        if isinstance(inner, (ParticipantError, OSError)):
            err.write(f"participant fleet {args.command}: error: {type(inner).__name__}: "
                      f"{str(inner).splitlines()[0] if str(inner) else ''}\n")
            return 1
        raise


if __name__ == "__main__":
    sys.exit(run_fleet_cli())
