"""Simulated-day benchmark: wall time of 24 simulated hours under ``trio.testing.MockClock``.

One chat on the in-memory emulator (service lifetimes: ConnectionExpiry 3600 s, so about
24 planned renewals; heartbeats every 10 s, 8,640 of them), an agent message every
``--message-every`` seconds (default 60 s: 1,440 messages), the participant consuming with
``async for``. Baseline in the same run: a bare trio-websocket client on the same in-memory
emulator (ConnectionExpiry lifted to 48 h) that subscribes once, heartbeats every 10 s
and reads the same messages for 24 simulated hours (no renewals, no dedupe, no typed
items). Target (issue 6): < 5 s wall.

    python benchmarks/bench_day.py
    python benchmarks/bench_day.py --chats 5     # five chats at once
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import trio
import trio.testing
from _common import table, write_result

from participant._time import trio_clock
from participant.actor import connect
from participant.api import ParticipantClient
from participant.emulator import Emulator, EmulatorConfig
from participant.model import TextMessage

DAY = 24 * 3600.0


async def _agent(emu: Emulator, contact_id: str, agent_id: str, every: float) -> int:
    n = 0
    start = trio.current_time()
    while (at := n * every) < DAY:
        await trio.sleep_until(start + at)
        await emu.send_message_as(contact_id, agent_id, content=f"m{n}")
        n += 1
    return n


async def library_day(chats: int, every: float) -> dict[str, Any]:
    emu = Emulator(EmulatorConfig(rate_limits=False), wall_clock=trio_clock())
    totals = {"sent": 0, "delivered": 0, "renewals": 0, "drops": 0}
    async with emu.run():
        async with ParticipantClient(
            endpoint_url=emu.endpoint_url, transport=emu.http_transport()
        ) as client:

            async def one() -> None:
                chat = await emu.start_chat()
                agent = await emu.add_participant(chat.contact_id)
                async with connect(
                    chat.participant_token,
                    client=client,
                    websocket_connector=emu.websocket_connector(),
                    wall_clock=emu.service.now,
                ) as p:
                    sent_box: list[int] = []
                    got = 0

                    async def agent_task() -> None:
                        sent_box.append(
                            await _agent(emu, chat.contact_id, agent.participant_id, every)
                        )

                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(agent_task)
                        with trio.move_on_after(DAY + 3600):
                            async for item in p:
                                if isinstance(item, TextMessage):
                                    got += 1
                                    if sent_box and got == sent_box[0]:
                                        break
                    sent = sent_box[0]
                    totals["sent"] += sent
                    totals["delivered"] += got
                    totals["renewals"] += p.stats.renewals
                    totals["drops"] += p.stats.drops

            async with trio.open_nursery() as nursery:
                for _ in range(chats):
                    nursery.start_soon(one)
    return totals


async def bare_day(chats: int, every: float) -> dict[str, Any]:
    # the bare client never renews: its emulator keeps one socket open all day
    cfg = EmulatorConfig(rate_limits=False, connection_expiry=2 * DAY)
    emu = Emulator(cfg, wall_clock=trio_clock())
    totals = {"sent": 0, "delivered": 0}
    async with emu.run():
        async with ParticipantClient(
            endpoint_url=emu.endpoint_url, transport=emu.http_transport()
        ) as client:
            connector = emu.websocket_connector()

            async def one() -> None:
                chat = await emu.start_chat()
                agent = await emu.add_participant(chat.contact_id)
                conn = await client.create_participant_connection(chat.participant_token)
                assert conn.websocket is not None and conn.websocket.url is not None
                async with trio.open_nursery() as nursery:
                    ws = await connector(nursery, conn.websocket.url)
                    await ws.send_message(
                        '{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}'
                    )

                    async def heartbeat() -> None:
                        while True:
                            await ws.send_message('{"topic":"aws/heartbeat"}')
                            await trio.sleep(10)

                    nursery.start_soon(heartbeat)
                    sent_box: list[int] = []

                    async def agent_task() -> None:
                        sent_box.append(
                            await _agent(emu, chat.contact_id, agent.participant_id, every)
                        )

                    nursery.start_soon(agent_task)
                    got = 0
                    with trio.move_on_after(DAY + 60):
                        while True:
                            frame = json.loads(await ws.get_message())
                            if frame.get("topic") == "aws/chat":
                                item = json.loads(frame["content"])
                                if item.get("ContentType") == "text/plain":
                                    got += 1
                                    if sent_box and got == sent_box[0]:
                                        break
                    totals["sent"] += sent_box[0] if sent_box else 0
                    totals["delivered"] += got
                    await ws.aclose()
                    nursery.cancel_scope.cancel()

            async with trio.open_nursery() as nursery:
                for _ in range(chats):
                    nursery.start_soon(one)
    return totals


def timed(fn: Any, *args: Any) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    out = trio.run(fn, *args, clock=trio.testing.MockClock(autojump_threshold=0))
    return time.perf_counter() - t0, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=1)
    parser.add_argument("--message-every", type=float, default=60.0, help="seconds")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    lib_times, bare_times = [], []
    lib: dict[str, Any] = {}
    bare: dict[str, Any] = {}
    for _ in range(args.rounds):
        t, lib = timed(library_day, args.chats, args.message_every)
        lib_times.append(t)
        t, bare = timed(bare_day, args.chats, args.message_every)
        bare_times.append(t)
    lib_t, bare_t = min(lib_times), min(bare_times)
    rows = [
        [
            "participant (actor)",
            lib_t,
            lib["sent"],
            lib["delivered"],
            lib["renewals"],
            lib["drops"],
        ],
        ["bare trio-websocket (baseline)", bare_t, bare["sent"], bare["delivered"], "-", "-"],
    ]
    print(
        f"24 simulated hours under MockClock, {args.chats} chat(s), a message every "
        f"{args.message_every:.0f} s (best of {args.rounds})\n"
    )
    print(table(["client", "wall s", "sent", "delivered", "renewals", "drops"], rows))
    ratio = lib_t / bare_t
    print(
        f"\nlibrary wall = {lib_t:.2f} s (target < 5 s: {'met' if lib_t < 5 else 'MISSED'}); "
        f"{ratio:.2f} x the bare loop"
    )
    path = write_result(
        "day",
        {
            "chats": args.chats,
            "message_every_s": args.message_every,
            "library": {**lib, "wall_s": lib_t, "rounds_s": lib_times},
            "bare": {**bare, "wall_s": bare_t, "rounds_s": bare_times},
            "verdict": {"wall_s": lib_t, "target_s": 5.0, "met": lib_t < 5.0, "vs_bare": ratio},
        },
    )
    print(f"\nwrote {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
