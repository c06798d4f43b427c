"""One process, one nursery, many chats: a bot serving every chat it is given.

Each chat is one ``Participant`` actor (its own websocket, renewal, reconnects and gap
fill); all of them share one ``ParticipantClient`` (one HTTP connection pool) and run in
one trio nursery. The bot answers every customer message with an echo.

Against the emulator (it starts ``--chats`` chats, joins each as an AGENT, and plays one
customer per chat sending ``--messages`` messages):

    python examples/many_chats_bot.py --chats 20 [--endpoint-url http://127.0.0.1:8080]

In production, feed ``serve_chat`` the agent ParticipantTokens your contact flow hands you.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
import trio

from participant.actor import Participant, ParticipantConfig, connect
from participant.api import ParticipantClient
from participant.errors import ParticipantError, ThrottlingException, one_line
from participant.model import TextMessage


async def send(participant: Participant, text: str) -> None:
    """SendMessage, retried while throttled: the limit (10 per second, bursts of 15) is
    per Connect instance, so a bot answering many chats at once meets it. The REST client
    already retried a few times; here we wait longer, with the same ClientToken (so the
    service never stores the message twice)."""
    client_token = str(uuid.uuid4())
    for attempt in range(6):
        try:
            await participant.send_message(text, client_token=client_token)
            return
        except ThrottlingException:
            if attempt == 5:
                raise
            await trio.sleep(0.5 * 2**attempt)


async def serve_chat(participant: Participant) -> int:
    """Echo every customer text message until the chat ends; returns how many."""
    answered = 0
    async for item in participant:
        if isinstance(item, TextMessage) and item.participant_role == "CUSTOMER":
            await send(participant, f"echo: {item.text}")
            answered += 1
    return answered


async def run_bot(
    client: ParticipantClient,
    agent_tokens: Sequence[str],
    *,
    task_status: trio.TaskStatus[list[Participant]] = trio.TASK_STATUS_IGNORED,
) -> list[int]:
    """Connect one actor per token (in parallel) and serve all chats in one nursery.

    Reports the connected participants through ``task_status`` (for ``nursery.start``);
    returns the number of messages answered per chat once every chat has ended.
    """
    answered = [0] * len(agent_tokens)
    participants: list[Participant] = []
    all_connected = trio.Event()

    async def one(index: int, token: str) -> None:
        async with connect(token, client=client, config=ParticipantConfig()) as participant:
            participants.append(participant)
            if len(participants) == len(agent_tokens):
                all_connected.set()
            answered[index] = await serve_chat(participant)

    async with trio.open_nursery() as nursery:
        for index, token in enumerate(agent_tokens):
            nursery.start_soon(one, index, token)
        await all_connected.wait()
        task_status.started(participants)
    return answered


async def _customer(endpoint_url: str, token: str, messages: int) -> int:
    """Send ``messages`` messages, wait for each echo; returns the echoes seen."""
    echoes = 0
    async with connect(token, endpoint_url=endpoint_url) as customer:
        for i in range(messages):
            await send(customer, f"question {i + 1}")
            async for item in customer:
                if isinstance(item, TextMessage) and item.text == f"echo: question {i + 1}":
                    echoes += 1
                    break
    return echoes


async def admin(http: httpx.AsyncClient, path: str, body: dict[str, str] | None = None) -> Any:
    """POST to the emulator's admin API and return the JSON answer.

    The emulator rate-limits starting chats like the service's StartChatContact (5 per
    second, bursts of 8-10: then HTTP 429): back off (0.25 s, doubling, at most 4 s) and
    retry, up to 8 attempts. Any other error status raises ``httpx.HTTPStatusError``.
    """
    delay = 0.25
    for _attempt in range(8):
        response = await http.post(path, json=body or {})
        if response.status_code != 429:
            response.raise_for_status()
            return response.json()
        await trio.sleep(delay)
        delay = min(4.0, delay * 2)
    raise RuntimeError(f"POST {path}: still throttled (HTTP 429) after 8 attempts")


async def main(endpoint_url: str | None = None, chats: int = 10, messages: int = 3) -> int:
    """Run ``chats`` chats on the emulator at ``endpoint_url`` (or an embedded one) with one
    bot process; returns the number of echoes the customers saw (``chats * messages``)."""
    if endpoint_url is None:
        from participant.emulator import EmulatorConfig, serve

        async with serve(EmulatorConfig(rate_limits=False)) as server:
            return await main(server.endpoint_url, chats, messages)
    async with httpx.AsyncClient(base_url=endpoint_url) as http:
        started = []
        for i in range(chats):
            chat = await admin(http, "/emulator/contacts", {"DisplayName": f"C{i}"})
            agent = await admin(
                http,
                f"/emulator/contacts/{chat['ContactId']}/participants",
                {"ParticipantRole": "AGENT", "DisplayName": "Bot"},
            )
            started.append((chat, agent))
        echoes = [0] * chats
        async with ParticipantClient(endpoint_url=endpoint_url) as client:
            async with trio.open_nursery() as nursery:
                await nursery.start(run_bot, client, [a["ParticipantToken"] for _, a in started])

                async def customer(i: int, chat: dict[str, str]) -> None:
                    echoes[i] = await _customer(endpoint_url, chat["ParticipantToken"], messages)
                    await admin(http, f"/emulator/contacts/{chat['ContactId']}/end")

                async with trio.open_nursery() as customers:
                    for i, (chat, _) in enumerate(started):
                        customers.start_soon(customer, i, chat)
    return sum(echoes)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url")
    parser.add_argument("--chats", type=int, default=10)
    parser.add_argument("--messages", type=int, default=3)
    args = parser.parse_args()
    try:
        total = trio.run(main, args.endpoint_url, args.chats, args.messages)
    except* (OSError, ParticipantError, httpx.HTTPError, RuntimeError) as errors:
        sys.exit(f"{parser.prog}: error: {one_line(errors)}")
    print(f"{args.chats} chats served by one process: {total} echoes")
