"""A participant inside an asyncio program, with trio's guest mode.

``trio.lowlevel.start_guest_run`` runs trio on top of the asyncio event loop (same thread,
no polling): the participant actor lives in trio, the rest of the program stays asyncio.
The two sides talk through ``loop.call_soon_threadsafe`` (trio -> asyncio) and a trio
memory channel fed with ``trio_token.run_sync_soon`` (asyncio -> trio). docs/guest-mode.md
explains the pattern (and the same with Qt).

    python examples/asyncio_guest.py [--endpoint-url http://127.0.0.1:8080]

Without ``PARTICIPANT_TOKEN`` it starts a chat on an embedded emulator (inside the trio
guest run) or on the one at ``--endpoint-url``, plus an agent that echoes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import outcome
import trio

from participant.actor import connect
from participant.errors import ParticipantError, one_line
from participant.model import Item, TextMessage


class TrioBridge:
    """The asyncio side's handle on the trio guest: ``send(text)``, ``inbox``, ``leave()``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.inbox: asyncio.Queue[Item | None] = asyncio.Queue()  # None: the chat ended
        self.ready = asyncio.Event()  # set once the participant is connected
        self.trio_token: trio.lowlevel.TrioToken | None = None
        self.cancel_scope = trio.CancelScope()
        self._outbox_send, self.outbox = trio.open_memory_channel[str](100)

    def send(self, text: str) -> None:
        """Called from asyncio: queue ``text`` for the participant (thread-safe)."""
        assert self.trio_token is not None
        self.trio_token.run_sync_soon(self._outbox_send.send_nowait, text)

    def leave(self) -> None:
        """Called from asyncio: stop the trio side (the participant closes cleanly)."""
        if self.trio_token is not None:
            self.trio_token.run_sync_soon(self.cancel_scope.cancel)

    def deliver(self, item: Item | None) -> None:
        """Called from trio: hand an item to asyncio."""
        self.loop.call_soon_threadsafe(self.inbox.put_nowait, item)


async def trio_participant(
    bridge: TrioBridge, participant_token: str, **where: Any
) -> None:
    """The trio side: one participant; items go to asyncio, asyncio's texts are sent."""
    async with connect(participant_token, **where) as participant:
        bridge.loop.call_soon_threadsafe(bridge.ready.set)

        async def pump_out() -> None:
            async for text in bridge.outbox:
                await participant.send_message(text)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pump_out)
            async for item in participant:
                bridge.deliver(item)
            nursery.cancel_scope.cancel()
    bridge.deliver(None)


async def start_guest(trio_main: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``trio_main`` as a trio guest of the running asyncio loop; await its result."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[outcome.Outcome[Any]] = loop.create_future()
    trio.lowlevel.start_guest_run(
        trio_main,
        run_sync_soon_threadsafe=loop.call_soon_threadsafe,
        done_callback=done.set_result,
        host_uses_signal_set_wakeup_fd=True,
    )
    return (await done).unwrap()


async def _emulator_chat(endpoint_url: str, bridge: TrioBridge) -> None:
    """(trio) Start a chat with an echoing agent on the emulator, then join as the customer."""
    async with httpx.AsyncClient(base_url=endpoint_url) as http:
        chat = (await http.post("/emulator/contacts", json={"DisplayName": "Customer"}))
        chat = chat.raise_for_status().json()
        agent = (
            await http.post(
                f"/emulator/contacts/{chat['ContactId']}/participants",
                json={"ParticipantRole": "AGENT", "DisplayName": "Agent"},
            )
        ).raise_for_status().json()
    async with trio.open_nursery() as nursery:
        async with connect(agent["ParticipantToken"], endpoint_url=endpoint_url) as agent_p:

            async def echo() -> None:
                async for item in agent_p:
                    if isinstance(item, TextMessage) and item.participant_role == "CUSTOMER":
                        await agent_p.send_message(f"echo: {item.text}")

            nursery.start_soon(echo)
            await trio_participant(bridge, chat["ParticipantToken"], endpoint_url=endpoint_url)
        nursery.cancel_scope.cancel()


async def asyncio_main(endpoint_url: str | None = None, lines: tuple[str, ...] = ()) -> list[str]:
    """The asyncio program: send ``lines``, print what arrives, leave once every line has
    been echoed (or when the chat ends). Returns the texts received."""
    bridge = TrioBridge(asyncio.get_running_loop())
    token = os.environ.get("PARTICIPANT_TOKEN")

    async def trio_main() -> None:
        bridge.trio_token = trio.lowlevel.current_trio_token()
        with bridge.cancel_scope:
            if token:
                await trio_participant(bridge, token, endpoint_url=endpoint_url)
            elif endpoint_url is None:
                from participant.emulator import serve

                async with serve() as server:
                    await _emulator_chat(server.endpoint_url, bridge)
            else:
                await _emulator_chat(endpoint_url, bridge)

    guest = asyncio.ensure_future(start_guest(trio_main))
    ready = asyncio.ensure_future(bridge.ready.wait())
    await asyncio.wait({ready, guest}, return_when=asyncio.FIRST_COMPLETED)
    if guest.done():  # trio ended before connecting: raise its error
        ready.cancel()
        await guest
        return []
    for line in lines:
        bridge.send(line)
    received: list[str] = []
    waiting_for = {f"echo: {line}" for line in lines}
    while waiting_for or not lines:
        item = await bridge.inbox.get()
        if item is None:  # the chat ended
            break
        if isinstance(item, TextMessage):
            print(f"[asyncio] {item.display_name}: {item.text}")
            received.append(item.text)
            waiting_for.discard(item.text)
    bridge.leave()
    await guest
    return received


def main(endpoint_url: str | None = None) -> list[str]:
    """Run the asyncio program (``asyncio.run``); returns the texts it received."""
    return asyncio.run(asyncio_main(endpoint_url, ("Hello from asyncio", "Second message")))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url")
    try:
        main(parser.parse_args().endpoint_url)
    except* (OSError, ParticipantError, httpx.HTTPError) as errors:
        sys.exit(f"{parser.prog}: error: {one_line(errors)}")
