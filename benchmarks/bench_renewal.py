"""Renewal-under-load benchmark: a chat carrying 500 messages per second through planned
renewals and forced drops, on loopback (hypercorn, real sockets, system clock).

The emulator runs in this process under :func:`participant.emulator.serve` with its
ConnectionExpiry cut to ``--connection-expiry`` seconds (default 8 s: the participant
renews every ~6.4 s, make-before-break), rate limits off. The agent's messages are
emitted inside the emulator at ``--rate`` per second (no HTTP on the sending side, so the
load is the participant's); every ``--drop-every`` seconds the participant's sockets are
dropped (alternately with and without a close frame). The participant consumes with
``async for``. Reported: items sent, lost, duplicated, and the delay each item saw
(receipt time minus its AbsoluteTime; p50, p99, max). Baseline in the same run: the same
load with no renewal (ConnectionExpiry 1 h) and no drop.

    python benchmarks/bench_renewal.py               # 20 s per scenario (5 scenarios)
    python benchmarks/bench_renewal.py --quick       # 10 s per scenario
    python benchmarks/bench_renewal.py --quick --tls # over https/wss (trustme CA)
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from typing import Any

import trio
from _common import add_tls_argument, emulator_in_process, percentile, table, write_result

from participant._time import parse_timestamp
from participant.actor import ParticipantConfig, connect
from participant.emulator import EmulatorConfig
from participant.model import TextMessage


async def scenario(
    *,
    seconds: float,
    rate: float,
    connection_expiry: float,
    drop_every: float | None,
    config: ParticipantConfig | None = None,
    tls: bool = False,
) -> dict[str, Any]:
    cfg = EmulatorConfig(rate_limits=False, connection_expiry=connection_expiry)
    async with emulator_in_process(cfg, tls=tls) as (server, ep):
        emu = server.emulator
        chat = await emu.start_chat()
        agent = await emu.add_participant(chat.contact_id)
        sent: list[str] = []
        received: Counter[str] = Counter()
        delays: list[float] = []
        timeline: list[tuple[float, float]] = []  # (t since start, delay) per item
        drops_injected = 0
        async with ep.participant_client() as client:
            async with connect(
                chat.participant_token,
                client=client,
                config=config or ParticipantConfig(),
                websocket_connector=ep.websocket_connector(),
            ) as p:
                t_start = time.time()
                done_sending = trio.Event()
                all_in = trio.Event()

                async def send() -> None:
                    start = trio.current_time()
                    n = 0
                    batch = max(1, int(rate / 100))  # emit in 10 ms batches
                    while (at := n / rate) < seconds:
                        await trio.sleep_until(start + at)
                        for _ in range(batch):
                            wire = await emu.send_message_as(
                                chat.contact_id, agent.participant_id, content=f"m{n}"
                            )
                            sent.append(wire["Id"])
                            n += 1
                    done_sending.set()

                async def faults() -> None:
                    nonlocal drops_injected
                    if drop_every is None:
                        return
                    k = 0
                    while True:
                        await trio.sleep(drop_every)
                        emu.faults.drop_sockets(chat.participant_id, close_frame=k % 2 == 0)
                        drops_injected += 1
                        k += 1

                async def consume() -> None:
                    async for item in p:
                        if isinstance(item, TextMessage) and item.id is not None:
                            now = time.time()
                            received[item.id] += 1
                            assert item.absolute_time is not None
                            d = now - parse_timestamp(item.absolute_time)
                            delays.append(d)
                            timeline.append((now - t_start, d))
                            if done_sending.is_set() and len(received) >= len(sent):
                                all_in.set()

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(consume)
                    nursery.start_soon(faults)
                    await send()
                    with trio.move_on_after(60):
                        if len(received) < len(sent):
                            await all_in.wait()
                    nursery.cancel_scope.cancel()
                stats = p.stats
    lost = set(sent) - set(received)
    dup = sum(n - 1 for n in received.values() if n > 1)
    return {
        "seconds": seconds,
        "rate": rate,
        "connection_expiry_s": connection_expiry,
        "drop_every_s": drop_every,
        "sent": len(sent),
        "received_unique": len(received),
        "lost": len(lost),
        "duplicated": dup,
        "delay_p50_ms": percentile(delays, 50) * 1e3,
        "delay_p99_ms": percentile(delays, 99) * 1e3,
        "delay_max_ms": max(delays) * 1e3 if delays else float("nan"),
        "renewals": stats.renewals,
        "drops_injected": drops_injected,
        "drops_seen": stats.drops,
        "reconnects": stats.reconnects,
        "gap_filled_items": stats.gap_filled_items,
        "duplicates_dropped": stats.duplicates_dropped,
        "timeline": {  # per item, in arrival order
            "t_s": [round(t, 3) for t, _ in timeline],  # since the start
            "delay_ms": [round(d * 1e3, 2) for _, d in timeline],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=500.0, help="messages per second")
    parser.add_argument("--connection-expiry", type=float, default=8.0)
    parser.add_argument("--drop-every", type=float, default=5.0)
    parser.add_argument("--quick", action="store_true", help="10 s per scenario")
    add_tls_argument(parser)
    args = parser.parse_args()
    if args.quick:
        args.seconds = 10.0
    # The default dedupe memory (2048 Ids) is smaller than a 30 s gap-fill overlap at
    # 500 messages/s (15,000 items): the "tuned" rows size it for this rate.
    tuned = ParticipantConfig(dedupe_max_ids=20_000, gap_fill_overlap=5.0)
    runs = {
        "baseline: no renewal, no drop": trio.run(
            lambda: scenario(
                seconds=args.seconds,
                rate=args.rate,
                connection_expiry=3600.0,
                drop_every=None,
                tls=args.tls,
            )
        ),
        "planned renewals only": trio.run(
            lambda: scenario(
                seconds=args.seconds,
                rate=args.rate,
                connection_expiry=args.connection_expiry,
                drop_every=None,
                tls=args.tls,
            )
        ),
        "renewals + forced drops": trio.run(
            lambda: scenario(
                seconds=args.seconds,
                rate=args.rate,
                connection_expiry=args.connection_expiry,
                drop_every=args.drop_every,
                tls=args.tls,
            )
        ),
        "renewals only, tuned (dedupe 20k Ids, overlap 5 s)": trio.run(
            lambda: scenario(
                seconds=args.seconds,
                rate=args.rate,
                connection_expiry=args.connection_expiry,
                drop_every=None,
                tls=args.tls,
                config=tuned,
            )
        ),
        "renewals + drops, tuned": trio.run(
            lambda: scenario(
                seconds=args.seconds,
                rate=args.rate,
                connection_expiry=args.connection_expiry,
                drop_every=args.drop_every,
                tls=args.tls,
                config=tuned,
            )
        ),
    }
    rows = [
        [
            name,
            r["sent"],
            r["lost"],
            r["duplicated"],
            r["renewals"],
            r["drops_injected"],
            r["gap_filled_items"],
            r["delay_p50_ms"],
            r["delay_p99_ms"],
            r["delay_max_ms"],
        ]
        for name, r in runs.items()
    ]
    print(
        f"Renewal under load: {args.rate:.0f} messages/s for {args.seconds:.0f} s per scenario, "
        f"loopback; ConnectionExpiry {args.connection_expiry:.0f} s, a drop every "
        f"{args.drop_every:.0f} s\n"
    )
    print(
        table(
            [
                "scenario",
                "sent",
                "lost",
                "duplicated",
                "renewals",
                "drops",
                "gap-filled",
                "delay p50 ms",
                "p99 ms",
                "max ms",
            ],
            rows,
        )
    )
    base = runs["baseline: no renewal, no drop"]["delay_max_ms"]
    worst = runs["renewals + forced drops"]
    tuned_run = runs["renewals + drops, tuned"]
    print(
        f"\nlost {worst['lost']}, duplicated {worst['duplicated']} under renewals + drops "
        f"(target 0 and 0); longest delay {worst['delay_max_ms']:.0f} ms vs "
        f"{base:.0f} ms without faults; tuned: lost {tuned_run['lost']}, duplicated "
        f"{tuned_run['duplicated']}, longest delay {tuned_run['delay_max_ms']:.0f} ms"
    )
    path = write_result(
        "renewal_tls" if args.tls else "renewal", {"tls": args.tls, "scenarios": runs}
    )
    print(f"\nwrote {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
