"""``participant demo``: two actors of this library in a chat on the embedded emulator.

The demo serves the emulator on loopback (:func:`participant.emulator.serve`) with a short
ConnectionExpiry, starts a chat, and connects two :class:`~participant.actor.Participant`
actors over real sockets: a customer scripted here and the agent bot of
``examples/echo_bot.py``. The script covers messages, typing, read receipts, an attachment
upload and download, a planned renewal (make-before-break), an unplanned socket drop with
gap fill (messages sent while the customer is offline come back through GetTranscript),
and the end of the chat. The terminal shows the conversation as the customer receives it,
every state change of both actors with its reason, and a summary.

"Lost" is computed, not assumed: every message and attachment item the service stored
(the emulator's transcript) and every Id a side got back from SendMessage must have been
received by both sides. The exit status is 0 only when nothing was lost.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

import attrs
import trio

from participant.actor import Participant, ParticipantConfig, connect
from participant.machine import State, StateChange, Trigger
from participant.model import (
    AttachmentMessage,
    ChatEnded,
    ChatItemType,
    Item,
    MessageItem,
    MessageMetadataEvent,
    MessageRead,
    ParticipantJoined,
    ParticipantLeft,
    Typing,
)

__all__ = ["DemoFailure", "DemoOptions", "DemoSummary", "SideSummary", "load_example", "run_demo"]

log = logging.getLogger("participant.demo")

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
"""Where ``examples/`` lives in a checkout of the repository."""

PACKAGED_EXAMPLES_DIR = Path(__file__).resolve().parent / "_examples"
"""Where a wheel install carries a copy of ``examples/`` (pyproject's force-include)."""


class DemoFailure(Exception):
    """The demo could not complete a step (timeout or error); the message says which."""


@attrs.frozen(kw_only=True)
class DemoOptions:
    """Knobs of the demo (seconds).

    Attributes:
        pace: pause between scripted steps and before each bot reply, for a human reader
            (0: as fast as possible; nothing waits on it for correctness).
        connection_expiry: the emulator's ConnectionExpiry; each actor renews at 80 %
            of it (``ParticipantConfig.renewal_fraction`` 0.2).
        step_timeout: longest wait for any one step before the demo fails.
        color: ANSI colours (default: when the output is a terminal and NO_COLOR is unset).
    """

    pace: float = 0.5
    connection_expiry: float = 8.0
    step_timeout: float = 30.0
    color: bool | None = None


@attrs.define
class SideSummary:
    """What one actor did: counts for the summary table."""

    name: str
    messages_sent: int = 0
    attachments_sent: int = 0
    events_sent: int = 0
    items_received: int = 0
    renewals: int = 0
    reconnects: int = 0
    gap_filled_items: int = 0
    duplicates_dropped: int = 0
    lost: int = 0
    lost_ids: list[str] = attrs.field(factory=list)


@attrs.define
class DemoSummary:
    """The outcome: one :class:`SideSummary` per actor and the checks made."""

    customer: SideSummary
    agent: SideSummary
    expected_items: int
    attachment_verified: bool
    seconds: float

    @property
    def lost(self) -> int:
        return self.customer.lost + self.agent.lost

    @property
    def ok(self) -> bool:
        """True when nothing was lost and the attachment came back intact."""
        return self.lost == 0 and self.attachment_verified


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py``: from the repository checkout, else the copy a wheel
    install carries in ``participant/_examples``. Raises :class:`DemoFailure` when neither
    is there."""
    path = EXAMPLES_DIR / f"{name}.py"
    if not path.is_file():
        path = PACKAGED_EXAMPLES_DIR / f"{name}.py"
    if not path.is_file():
        raise DemoFailure(f"examples/{name}.py not found in the checkout or the installed package")
    module_name = f"participant_examples_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise DemoFailure(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


# ---- terminal output ------------------------------------------------------------------

_STYLES = {
    "dim": "2",
    "bold": "1",
    "customer": "36",
    "agent": "35",
    "ok": "32",
    "bad": "31",
    "state": "33",
}


class _Screen:
    """Timestamped lines, optional colours, and one transient progress line on a TTY."""

    def __init__(self, out: TextIO, color: bool | None) -> None:
        self.out = out
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        if color is None:
            color = self.tty and "NO_COLOR" not in os.environ
        self.color = color
        self.t0 = trio.current_time()
        self._progress_shown = False

    def style(self, text: str, style: str) -> str:
        if not self.color:
            return text
        return f"\x1b[{_STYLES[style]}m{text}\x1b[0m"

    def _clear_progress(self) -> None:
        if self._progress_shown:
            self.out.write("\r\x1b[K")
            self._progress_shown = False

    def line(self, text: str) -> None:
        self._clear_progress()
        elapsed = trio.current_time() - self.t0
        self.out.write(f"{self.style(f'{elapsed:5.1f}s', 'dim')}  {text}\n")
        self.out.flush()

    def plain(self, text: str = "") -> None:
        self._clear_progress()
        self.out.write(text + "\n")
        self.out.flush()

    def heading(self, text: str) -> None:
        self.plain()
        rule = self.style("─" * max(0, 60 - len(text)), "dim")
        self.plain(self.style(f"── {text} ", "bold") + rule)

    def progress(self, text: str) -> None:
        if not self.tty:
            return
        self.out.write("\r\x1b[K" + self.style(text, "dim"))
        self.out.flush()
        self._progress_shown = True


# ---- the demo -------------------------------------------------------------------------


class _Side:
    """One actor and what it sent and received."""

    def __init__(self, name: str, role_style: str, participant: Participant, pid: str) -> None:
        self.name = name
        self.role_style = role_style
        self.participant = participant
        self.participant_id = pid
        self.received: dict[str, Item] = {}
        self.sent_ids: list[str] = []
        self.attachments_sent = 0
        self.events_sent = 0


class _Demo:
    def __init__(self, screen: _Screen, options: DemoOptions) -> None:
        self.screen = screen
        self.options = options
        self._changed = trio.Event()
        self.texts: dict[str, str] = {}
        self.recovered_ids: set[str] = set()
        self.offline_ids: set[str] = set()

    # -- waiting on events --

    def notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def until(self, what: str, predicate: Callable[[], bool], *, show: bool = False) -> None:
        """Wait until ``predicate()`` holds, re-checking whenever an actor reports an item
        or a state change. Shows ``waiting for <what>… 3.2 s`` on a terminal."""
        start = trio.current_time()
        with trio.move_on_after(self.options.step_timeout) as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._show_progress, what, start)
                while not predicate():
                    await self._changed.wait()
                nursery.cancel_scope.cancel()
        if scope.cancelled_caught:
            raise DemoFailure(
                f"timed out after {self.options.step_timeout:.0f} s waiting for {what}"
            )
        if show:
            took = trio.current_time() - start
            self.screen.line(self.screen.style(f"✓ {what}: done after {took:.1f} s", "ok"))

    async def _show_progress(self, what: str, start: float) -> None:
        while True:
            self.screen.progress(f"        waiting for {what}… {trio.current_time() - start:.1f} s")
            await trio.sleep(0.1)

    async def pause(self, factor: float = 1.0) -> None:
        if self.options.pace:
            await trio.sleep(self.options.pace * factor)

    # -- observation --

    def state_listener(self, name: str, role_style: str) -> Callable[[StateChange], None]:
        """A listener for ``connect(on_state_change=...)``: shows every change of one
        actor, from its first (token → connected)."""

        def on_change(change: StateChange) -> None:
            self.show_change(name, role_style, change.old, change.new,
                             change.trigger, change.reason, change.delay)
            self.notify()

        return on_change

    def watch(self, side: _Side) -> None:
        @side.participant.on(Item)
        def on_item(item: Item) -> None:
            if item.id is not None:
                side.received[item.id] = item
            self.notify()

    def show_change(
        self,
        name: str,
        role_style: str,
        old: State,
        new: State,
        trigger: Trigger | str,
        reason: str,
        delay: float | None = None,
    ) -> None:
        arrow = f"{old} → {new}"
        if trigger is Trigger.BACKOFF or old is new:
            arrow = f"{new} (backoff)"
        reason = reason or str(trigger)
        if delay is not None:
            reason += f", next attempt in {delay:.2f} s"
        who = self.screen.style(f"[{name}]", role_style)
        self.screen.line(f"{who} {self.screen.style(arrow, 'state')}  {reason}")

    async def show_customer_view(self, side: _Side, names: dict[str, str]) -> None:
        """Print the conversation as the customer's actor delivers it."""
        s = self.screen
        async for item in side.participant:
            name = names.get(item.participant_id or "", item.display_name or "?")
            style = "customer" if item.participant_role == "CUSTOMER" else "agent"
            tag = ""
            if item.id in self.offline_ids:
                tag = s.style("  (sent while offline, recovered by gap fill)", "ok")
            if isinstance(item, MessageItem):
                if item.id is not None and item.content is not None:
                    self.texts[item.id] = item.content
                s.line(f"{s.style(name, style)}: {item.content}{tag}")
            elif isinstance(item, AttachmentMessage):
                for a in item.attachments or ():
                    s.line(
                        f"{s.style(name, style)} attached {a.attachment_name} "
                        f"({a.content_type}, {a.status}){tag}"
                    )
            elif isinstance(item, Typing):
                if item.participant_id != side.participant_id:
                    s.line(s.style(f"{name} is typing…", "dim"))
            elif isinstance(item, (MessageMetadataEvent, MessageRead)):
                message_id = item.message_id
                meta = item.message_metadata
                receipts = meta.receipts if meta is not None else None
                read = isinstance(item, MessageRead) or any(
                    r.read_timestamp for r in receipts or ()
                )
                text = self.texts.get(message_id or "", message_id or "?")
                kind = "read" if read else "delivered"
                s.line(s.style(f"✓✓ {kind} by {name}: “{_short(text)}”", "dim"))
            elif isinstance(item, ParticipantJoined):
                s.line(s.style(f"{name} joined", "dim"))
            elif isinstance(item, ParticipantLeft):
                s.line(s.style(f"{name} left", "dim"))
            elif isinstance(item, ChatEnded):
                s.line(s.style("chat ended", "bold"))


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _side_summary(side: _Side, expected: set[str]) -> SideSummary:
    stats = side.participant.stats
    missing = sorted(expected - side.received.keys())
    return SideSummary(
        name=side.name,
        messages_sent=len(side.sent_ids),
        attachments_sent=side.attachments_sent,
        events_sent=side.events_sent,
        items_received=stats.items_delivered,
        renewals=stats.renewals,
        reconnects=stats.reconnects,
        gap_filled_items=stats.gap_filled_items,
        duplicates_dropped=stats.duplicates_dropped,
        lost=len(missing),
        lost_ids=missing,
    )


ATTACHMENT_NAME = "invoice.txt"
ATTACHMENT_DATA = (
    b"Invoice 2024-0042\nItem: blue kettle x1\nTotal: 39.90 EUR\nThank you for your order!\n"
)


async def run_demo(out: TextIO | None = None, options: DemoOptions | None = None) -> DemoSummary:
    """Run the scripted demo, printing to ``out`` (default stdout); returns the summary.

    Raises:
        DemoFailure: a step did not complete within ``options.step_timeout`` seconds, or
            ``examples/echo_bot.py`` is not found.
    """
    from participant.emulator import EmulatorConfig, serve

    options = options or DemoOptions()
    screen = _Screen(out if out is not None else sys.stdout, options.color)
    demo = _Demo(screen, options)
    echo_bot: Any = load_example("echo_bot")
    expiry = options.connection_expiry
    emulator_config = EmulatorConfig(connection_expiry=expiry, url_open_window=10.0)
    # renew at 80 % of ConnectionExpiry; open a new URL within 8.5 s of issue; reconnect
    # backoff 0.5..1 s for the first attempt. The emulator runs on this host's clock, so
    # no clock_skew allowance: gap fill delivers nothing from before the subscription.
    actor_config = ParticipantConfig(
        url_window=8.5, backoff_initial=1.0, backoff_max=4.0, clock_skew=0.0
    )

    async with serve(emulator_config, "127.0.0.1", 0) as server:
        emu = server.emulator
        screen.heading("Start")
        screen.line(
            f"emulator on {server.endpoint_url}  (ConnectionExpiry {expiry:g} s, so each "
            f"actor renews its websocket after ~{0.8 * expiry:.1f} s)"
        )
        chat = await emu.start_chat(display_name="Customer")
        agent = await emu.add_participant(chat.contact_id, role="AGENT", display_name="Echo bot")
        names = {chat.participant_id: "Customer", agent.participant_id: "Echo bot"}
        screen.line(f"chat started: ContactId {chat.contact_id}; customer and agent joined")
        attachment_digest: list[str] = []

        async def run_side(
            name: str,
            token: str,
            participant_id: str,
            *,
            task_status: trio.TaskStatus[_Side] = trio.TASK_STATUS_IGNORED,
        ) -> None:
            async with connect(
                token,
                endpoint_url=server.endpoint_url,
                config=actor_config,
                on_state_change=demo.state_listener(name, name),
            ) as p:
                side = _Side(name, name, p, participant_id)
                demo.watch(side)
                task_status.started(side)
                await trio.sleep_forever()

        async with trio.open_nursery() as nursery:
            customer: _Side = await nursery.start(
                run_side, "customer", chat.participant_token, chat.participant_id
            )
            bot_side: _Side = await nursery.start(
                run_side, "agent", agent.participant_token, agent.participant_id
            )
            customer_p, agent_p = customer.participant, bot_side.participant
            sides = (customer, bot_side)
            screen.line("both actors subscribed to aws/chat over loopback websockets")

            async def downloaded(name: str, size: int, digest: str) -> None:
                attachment_digest.append(digest)
                screen.line(
                    screen.style("[agent]", "agent")
                    + f" downloaded {name} via GetAttachment: {size} bytes, sha256 {digest[:12]}…"
                )
                demo.notify()

            bot = echo_bot.EchoBot(
                agent_p,
                participant_id=agent.participant_id,
                pace=options.pace * 0.6,
                on_download=downloaded,
            )
            bot_side.sent_ids = bot.sent_ids
            nursery.start_soon(demo.show_customer_view, customer, names)
            nursery.start_soon(bot.run)

            async def forward_replies() -> None:
                while True:
                    await bot.replied.wait()
                    demo.notify()

            nursery.start_soon(forward_replies)

            def all_delivered() -> bool:
                sent = set(customer.sent_ids) | set(bot_side.sent_ids)
                return all(sent <= side.received.keys() for side in sides)

            def agent_replies() -> int:
                return sum(
                    1
                    for item in customer.received.values()
                    if isinstance(item, MessageItem) and item.participant_id == agent.participant_id
                )

            async def customer_sends(text: str) -> str:
                sent = await customer_p.send_message(text)
                assert sent.id is not None
                customer.sent_ids.append(sent.id)
                return sent.id

            async def customer_says(text: str) -> None:
                if await customer_p.send_typing():
                    customer.events_sent += 1
                await demo.pause(0.5)
                message_id = await customer_sends(text)
                await demo.until("the bot's reply", lambda: message_id in bot.answered)
                await demo.until("both sides to have every message", all_delivered)
                await demo.pause()

            await demo.until("the bot's greeting", lambda: agent_replies() >= 1)
            await demo.pause()

            screen.heading("Conversation: messages, typing, read receipts")
            await customer_says("Hello!")
            await customer_says("What are your opening hours?")

            screen.heading("Attachment: upload (customer) and download (bot)")
            before = agent_replies()
            attachment_id = await customer_p.send_attachment(
                ATTACHMENT_DATA, attachment_name=ATTACHMENT_NAME, content_type="text/plain"
            )
            customer.attachments_sent += 1
            screen.line(
                screen.style("[customer]", "customer")
                + f" uploaded {ATTACHMENT_NAME} ({len(ATTACHMENT_DATA)} bytes): "
                "StartAttachmentUpload, PUT, CompleteAttachmentUpload"
            )
            await demo.until("the bot to download the file", lambda: agent_replies() > before)
            expected_digest = hashlib.sha256(ATTACHMENT_DATA).hexdigest()
            attachment_verified = attachment_digest == [expected_digest]
            screen.line(
                screen.style("✓ checksum matches", "ok")
                if attachment_verified
                else screen.style(f"✗ checksum mismatch for {attachment_id}", "bad")
            )
            await demo.pause()

            screen.heading("Planned renewal: a new websocket before the old one expires")
            screen.line(
                "each actor calls CreateParticipantConnection again before ConnectionExpiry, "
                "subscribes the new socket, then closes the old one"
            )
            await demo.until(
                "the planned renewal of both actors",
                lambda: all(side.participant.stats.renewals >= 1 for side in sides),
                show=True,
            )
            await customer_says("Can I get a refund?")

            screen.heading("Unplanned drop: the customer's socket is cut")
            dropped = emu.faults.drop_sockets(chat.participant_id, close_frame=False)
            screen.line(
                f"emulator fault: drop_sockets(customer, close_frame=False) → {dropped} cut"
            )
            await demo.until(
                "the customer to notice the drop",
                lambda: customer_p.state is State.RECONNECTING,
            )
            # While the customer is offline, both sides keep sending over REST.
            for text in (
                "Follow-up: your refund request #1042 is approved.",
                "You will get an e-mail confirmation within the hour.",
            ):
                offline_id = await bot.say(text)
                demo.offline_ids.add(offline_id)
            offline_id = await customer_sends("Sorry, my connection dropped. Still there?")
            demo.offline_ids.add(offline_id)
            screen.line(
                f"sent {len(demo.offline_ids)} messages while the customer was offline "
                "(the new socket will not replay them)"
            )
            await demo.until(
                "reconnect and gap fill (GetTranscript)", all_delivered, show=True
            )
            await demo.until("the bot's reply", lambda: offline_id in bot.answered)
            await demo.until("both sides to have every message", all_delivered)
            await demo.pause()

            screen.heading("End of the chat")
            await customer_says("Thanks, bye!")
            await emu.end_chat(chat.contact_id)
            screen.line("the contact ends (emulator: end_chat)")
            await demo.until(
                "both actors to disconnect",
                lambda: all(side.participant.state is State.DISCONNECTED for side in sides),
            )
            nursery.cancel_scope.cancel()

        stored = {
            wire["Id"]
            for wire in emu.transcript(chat.contact_id)
            if wire.get("Type") in (ChatItemType.MESSAGE, ChatItemType.ATTACHMENT) and "Id" in wire
        }
    expected = stored | set(customer.sent_ids) | set(bot_side.sent_ids)
    bot_side.events_sent = bot.events_sent
    summary = DemoSummary(
        customer=_side_summary(customer, expected),
        agent=_side_summary(bot_side, expected),
        expected_items=len(expected),
        attachment_verified=attachment_verified,
        seconds=trio.current_time() - screen.t0,
    )
    _print_summary(screen, summary)
    return summary


def _print_summary(screen: _Screen, summary: DemoSummary) -> None:
    s = screen
    s.heading("Summary")
    rows: list[tuple[str, str]] = [
        ("messages sent", "messages_sent"),
        ("attachments sent", "attachments_sent"),
        ("events sent (typing, receipts)", "events_sent"),
        ("items received", "items_received"),
        ("renewals", "renewals"),
        ("reconnects", "reconnects"),
        ("recovered by gap fill", "gap_filled_items"),
        ("duplicates dropped", "duplicates_dropped"),
        ("lost items", "lost"),
    ]
    legend = (
        "  duplicates dropped: copies of items already delivered (same Id) that came again,\n"
        "  by GetTranscript in a gap fill or on both websockets during a renewal; each item\n"
        "  is delivered once"
    )
    s.plain(f"  {'':32}{'customer':>10}{'agent':>10}")
    for label, attr in rows:
        c, a = getattr(summary.customer, attr), getattr(summary.agent, attr)
        s.plain(f"  {label:32}{c:>10}{a:>10}")
    s.plain()
    s.plain(s.style(legend, "dim"))
    s.plain()
    s.plain(
        f"  {summary.expected_items} messages and attachments stored by the service; "
        "each side must have received every one"
    )
    for side in (summary.customer, summary.agent):
        if side.lost_ids:
            s.plain(s.style(f"  {side.name} is missing: {', '.join(side.lost_ids)}", "bad"))
    if summary.ok:
        s.plain(s.style(f"  OK: nothing lost ({summary.seconds:.1f} s)", "ok"))
    else:
        s.plain(s.style(f"  FAILED: {summary.lost} lost item(s)", "bad"))


def run(options: DemoOptions | None = None, out: TextIO | None = None) -> int:
    """Run the demo to completion; the exit status: 0 when nothing was lost, else 1."""
    stream = out if out is not None else sys.stdout
    try:
        summary = trio.run(run_demo, stream, options)
    except DemoFailure as exc:
        stream.flush()
        sys.stderr.write(f"participant demo: {exc}\n")
        return 1
    return 0 if summary.ok else 1
