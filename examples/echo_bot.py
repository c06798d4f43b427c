"""An echo/FAQ agent bot: the bot of ``participant demo``.

For every text message from someone else it sends a read receipt, a typing event and a
reply: a canned answer when the message asks about a known topic (``FAQ``), else an echo.
For every attachment it downloads the file (GetAttachment + the presigned URL) and replies
with its size and SHA-256.

Run it against an emulator (a chat is started there and the bot joins it as an AGENT)::

    participant emulator --port 8080 &
    python examples/echo_bot.py --endpoint-url http://127.0.0.1:8080

or alone (it starts an embedded emulator and plays a short customer itself)::

    python examples/echo_bot.py

Against the real service, give the agent's ParticipantToken in ``PARTICIPANT_TOKEN`` and
``--region``; the bot then serves that chat until it ends.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable

import httpx
import trio

from participant.actor import Participant, connect
from participant.errors import ParticipantError, one_line
from participant.model import AttachmentMessage, Item, MessageItem, TextMessage

log = logging.getLogger("echo_bot")

FAQ: dict[str, str] = {
    "hours": "We are open every day from 8:00 to 20:00 (UTC).",
    "refund": "Refunds reach your card 3 to 5 business days after we receive the item.",
    "human": "An agent will join shortly. Meanwhile I can answer about hours or refunds.",
    "bye": "Goodbye, and thank you for chatting with us!",
}
"""Keyword (lower case) -> canned answer."""

GREETING = "Hi, I'm the echo bot. Ask me about opening hours or refunds, or send me a file."


def answer(text: str) -> str:
    """The bot's reply to ``text``: the first FAQ answer whose keyword occurs, else an echo."""
    lowered = text.lower()
    for keyword, reply in FAQ.items():
        if keyword in lowered:
            return reply
    return f"You said: {text}"


class EchoBot:
    """Serves one chat through a connected :class:`~participant.actor.Participant`.

    ``participant_id`` is the bot's own ParticipantId when known (its own messages come
    back over the socket and are never answered; without it, messages from a participant
    with role AGENT or CUSTOM_BOT are ignored). ``pace`` (seconds) is a pause between the
    typing event and the reply, so a human can follow. ``sent_ids`` collects the Id of
    every message the bot sent; ``events_sent`` counts typing events and receipts sent.
    ``on_download(name, size_in_bytes, sha256_hex)`` is called after each download.
    ``answered`` holds the Ids of the items the bot has replied to.
    """

    def __init__(
        self,
        participant: Participant,
        *,
        participant_id: str | None = None,
        pace: float = 0.0,
        on_download: Callable[[str, int, str], Awaitable[None] | None] | None = None,
    ) -> None:
        self.participant = participant
        self.participant_id = participant_id
        self.pace = pace
        self.on_download = on_download
        self.sent_ids: list[str] = []
        self.events_sent = 0
        self.answered: set[str] = set()
        self.replied = trio.Event()

    def _is_own(self, item: Item) -> bool:
        if self.participant_id is not None:
            return item.participant_id == self.participant_id
        return item.participant_role in ("AGENT", "CUSTOM_BOT")

    async def say(self, text: str) -> str:
        """Send ``text`` (text/plain); returns the message's Id."""
        sent = await self.participant.send_message(text)
        if sent.id is not None:
            self.sent_ids.append(sent.id)
        return sent.id or ""

    async def _typing(self) -> None:
        if await self.participant.send_typing():
            self.events_sent += 1
        if self.pace:
            await trio.sleep(self.pace)

    async def _read(self, item: Item) -> None:
        try:
            if item.id is not None and await self.participant.send_receipt(item.id, "read"):
                self.events_sent += 1
        except ParticipantError as exc:  # e.g. the chat ended meanwhile
            log.info("read receipt for %s not sent: %s", item.id, exc)

    async def handle(self, item: Item) -> None:
        """Reply to one item (messages and attachments of others; the rest is ignored).

        Read receipts are sent by :meth:`run` in the background (they are coalesced: held
        0.3 s, then at most one per 5 s window, [protocol](protocol.md#receipts-and-typing))."""
        if self._is_own(item):
            return
        await self._reply(item)
        if item.id is not None:
            self.answered.add(item.id)
        self.replied.set()
        self.replied = trio.Event()

    async def _reply(self, item: Item) -> None:
        if isinstance(item, AttachmentMessage):
            for attachment in item.attachments or ():
                if attachment.attachment_id is None or attachment.status not in (
                    None,
                    "APPROVED",
                ):
                    continue
                data = await self.participant.download_attachment(attachment.attachment_id)
                digest = hashlib.sha256(data).hexdigest()
                name = attachment.attachment_name or attachment.attachment_id
                if self.on_download is not None:
                    result = self.on_download(name, len(data), digest)
                    if result is not None:
                        await result
                await self._typing()
                await self.say(f"Got {name}: {len(data)} bytes, sha256 {digest[:12]}…")
        elif isinstance(item, TextMessage):
            await self._typing()
            await self.say(answer(item.text))
        elif isinstance(item, MessageItem):
            await self.say("I can only read plain text, sorry.")

    async def run(self, *, greet: bool = True) -> None:
        """Greet, then answer items until the chat ends (the iterator ends)."""
        async with trio.open_nursery() as background:
            if greet:
                await self.say(GREETING)
            async for item in self.participant:
                if isinstance(item, MessageItem) and not self._is_own(item):
                    background.start_soon(self._read, item)
                await self.handle(item)
            background.cancel_scope.cancel()


# ---- standalone use -------------------------------------------------------------------


async def _play_customer(endpoint_url: str, participant_token: str) -> list[str]:
    """A short customer for the self-contained run; returns the bot's replies it saw."""
    replies: list[str] = []
    async with connect(participant_token, endpoint_url=endpoint_url) as customer:
        for text in ("Hello!", "What are your opening hours?"):
            await customer.send_message(text)
            async for item in customer:
                if isinstance(item, TextMessage) and item.participant_role == "AGENT":
                    replies.append(item.text)
                    if item.text != GREETING:
                        break
    return replies


async def start_emulator_chat(endpoint_url: str) -> tuple[str, str, str]:
    """Start a chat on the emulator at ``endpoint_url`` (admin API, docs/emulator.md) and
    add an AGENT. Returns (customer token, agent token, agent ParticipantId)."""
    async with httpx.AsyncClient(base_url=endpoint_url) as http:
        chat = (await http.post("/emulator/contacts", json={"DisplayName": "Customer"}))
        chat = chat.raise_for_status().json()
        agent = (
            await http.post(
                f"/emulator/contacts/{chat['ContactId']}/participants",
                json={"ParticipantRole": "AGENT", "DisplayName": "Echo bot"},
            )
        ).raise_for_status().json()
    return chat["ParticipantToken"], agent["ParticipantToken"], agent["ParticipantId"]


async def run_pair(endpoint_url: str) -> list[str]:
    """Start a chat at ``endpoint_url``, run the bot in it and a two-message customer."""
    customer_token, agent_token, agent_id = await start_emulator_chat(endpoint_url)
    async with trio.open_nursery() as nursery:
        async with connect(agent_token, endpoint_url=endpoint_url) as bot_participant:
            nursery.start_soon(EchoBot(bot_participant, participant_id=agent_id).run)
            replies = await _play_customer(endpoint_url, customer_token)
        nursery.cancel_scope.cancel()
    return replies


async def main(endpoint_url: str | None = None, region: str | None = None) -> list[str]:
    """Run the bot. With ``PARTICIPANT_TOKEN`` set: serve that chat until it ends.
    Otherwise start a chat on the emulator at ``endpoint_url`` (or on an embedded one),
    let the bot join it as an AGENT and play two customer messages; returns the replies
    the customer saw."""
    token = os.environ.get("PARTICIPANT_TOKEN")
    if token:
        async with connect(token, endpoint_url=endpoint_url, region=region) as participant:
            await EchoBot(participant).run()
        return []
    if endpoint_url is not None:
        return await run_pair(endpoint_url)
    from participant.emulator import serve

    async with serve() as server:
        return await run_pair(server.endpoint_url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", help="an emulator (or service) base URL")
    parser.add_argument("--region", help="AWS region (with PARTICIPANT_TOKEN)")
    args = parser.parse_args()
    try:
        replies = trio.run(main, args.endpoint_url, args.region)
    except* (OSError, ParticipantError, httpx.HTTPError) as errors:
        sys.exit(f"{parser.prog}: error: {one_line(errors)}")
    for reply in replies:
        print("bot:", reply)
    sys.exit(0)
