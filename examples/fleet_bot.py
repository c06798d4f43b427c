"""A bot run by a fleet: chats in a store, workers that share them and take over each other's.

``handle`` is the whole bot: the fleet calls it for every item of every chat a worker holds,
and acknowledges the item when it returns. Its replies go through ``chat.send_message``, which
is fenced (a worker that lost the chat sends nothing) and carries a ClientToken derived from
the item, so a reply repeated after a takeover is not posted twice. In production, submit each
chat's ParticipantToken from the webhook that called StartChatContact and run one worker per
process or machine:

    participant fleet submit --store sqlite:///var/lib/bot/fleet.db --contact-id "$CONTACT_ID"
    participant fleet run --store sqlite:///var/lib/bot/fleet.db \\
        --handler examples/fleet_bot.py:handle --region eu-west-2
    participant fleet status --store sqlite:///var/lib/bot/fleet.db

The demo (``python examples/fleet_bot.py``) does it all in one process against the emulator:
it starts ``--chats`` chats, runs ``--workers`` workers on a SQLite store, lets every customer
ask a question, stops one worker as a rolling deploy would (its leases are released at once
and the others claim them), then every customer asks again.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import attrs
import httpx
import trio

from participant.actor import connect
from participant.fleet import Fleet, FleetChat, FleetEvent
from participant.model import Item, TextMessage
from participant.store import open_store

FAQ = {
    "hours": "We are open 9:00-17:00, Monday to Friday.",
    "refund": "Refunds take 5 working days.",
}


def answer(text: str) -> str:
    """The bot's reply to a customer's ``text``."""
    lowered = text.lower()
    for keyword, reply in FAQ.items():
        if keyword in lowered:
            return reply
    return f"You said: {text}"


async def handle(chat: FleetChat, item: Item) -> None:
    """The fleet's handler: answer every customer text message."""
    if isinstance(item, TextMessage) and item.participant_role == "CUSTOMER":
        await chat.send_message(answer(item.text or ""))


@attrs.define
class DemoResult:
    answers: int = 0  # bot replies the customers saw
    handed_over: int = 0  # chats claimed again after the deploy
    owners: dict[str, str] = attrs.Factory(dict)  # ContactId -> owner at the end ("-")


async def _ask(endpoint_url: str, token: str, question: str) -> bool:
    """As the customer: send ``question`` and wait for the bot's answer."""
    async with connect(token, endpoint_url=endpoint_url) as customer:
        await customer.send_message(question)
        async for item in customer:
            if isinstance(item, TextMessage) and item.participant_role == "AGENT":
                return item.text == answer(question)
    return False


async def main(
    endpoint_url: str | None = None, store_url: str | None = None, chats: int = 4,
    workers: int = 2,
) -> DemoResult:
    """Run the demo (see the module docstring) on the emulator at ``endpoint_url`` (or an
    embedded one) with the store at ``store_url`` (or a temporary SQLite file)."""
    if endpoint_url is None:
        from participant.emulator import EmulatorConfig, serve

        async with serve(EmulatorConfig(rate_limits=False)) as server:
            return await main(server.endpoint_url, store_url, chats, workers)
    if store_url is None:
        with tempfile.TemporaryDirectory() as tmp:
            return await main(endpoint_url, f"sqlite://{Path(tmp) / 'fleet.db'}", chats, workers)

    result = DemoResult()
    connected = {"count": 0}
    changed = trio.Event()

    def on_event(event: FleetEvent) -> None:
        nonlocal changed
        if event.kind == "connected":
            connected["count"] += 1
        changed.set()
        changed = trio.Event()

    async def until_connected(count: int) -> None:
        while connected["count"] < count:
            await changed.wait()

    async with open_store(store_url) as store, httpx.AsyncClient(base_url=endpoint_url) as http:
        customers = []
        fleets = [
            Fleet(store, handle, owner=f"worker-{n}", lease_ttl=10.0, resume_jitter=0.5,
                  resume_rate=20.0, on_event=on_event,
                  connect_kwargs={"endpoint_url": endpoint_url})
            for n in range(workers)
        ]
        for i in range(chats):
            chat = (await http.post("/emulator/contacts", json={"DisplayName": f"C{i}"})).json()
            bot = (await http.post(f"/emulator/contacts/{chat['ContactId']}/participants",
                                   json={"ParticipantRole": "AGENT", "DisplayName": "Bot"})).json()
            await fleets[0].submit(bot["ParticipantToken"], contact_id=chat["ContactId"])
            customers.append(chat)

        async def ask_all(question: str) -> None:
            async def one(chat: dict[str, str]) -> None:
                if await _ask(endpoint_url, chat["ParticipantToken"], question):
                    result.answers += 1

            async with trio.open_nursery() as nursery:
                for chat in customers:
                    nursery.start_soon(one, chat)

        async with trio.open_nursery() as nursery:
            for fleet in fleets:
                await nursery.start(fleet.run)
            await until_connected(chats)
            await ask_all("What are your opening hours?")
            moving = len(fleets[0].chats)
            fleets[0].stop()  # a rolling deploy: SIGTERM does the same
            await until_connected(chats + moving)
            result.handed_over = moving
            await ask_all("How long does a refund take?")
            for fleet in fleets:
                fleet.stop()
        for status in await store.chats():
            result.owners[status.key] = status.owner or "-"
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url")
    parser.add_argument("--store", help="store URL (default: a temporary SQLite file)")
    parser.add_argument("--chats", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    outcome = trio.run(main, args.endpoint_url, args.store, args.chats, args.workers)
    print(f"{args.chats} chats, {args.workers} workers: {outcome.answers} answers, "
          f"{outcome.handed_over} chats handed over on the deploy")
