"""End-to-end latency benchmark: from a message's AbsoluteTime (stamped by the emulator
when the agent sends it) to the consumer's ``async for`` in this process, with the realistic
load of a bot host (1,000 chats, one agent message per second each) and with one busy chat
(500 messages per second).

The emulator runs in ANOTHER process (``--serve``: :func:`participant.emulator.serve` plus
an emitter that sends the agents' messages inside the emulator, so no HTTP load competes
with the clients). Each scenario starts two sets of chats: one for the library and one for
the baseline, measured one after the other against the same emulator. In this process:

- ``participant``: one :func:`participant.actor.connect` per chat (the customer; one shared
  ParticipantClient, 20 connects at a time, default config), each consumed with
  ``async for``; every TextMessage's delay is ``time.time()`` minus its AbsoluteTime;
- ``bare trio-websocket`` (baseline): the same chats' customers as bare trio-websocket
  clients (URLs from CreateParticipantConnection first), subscribed, heartbeating every
  10 s like the library, each frame decoded with ``json.loads`` twice and the AbsoluteTime
  parsed the same way.

Emitted messages are spread evenly over time and chats (message k at k / total rate, to
chat k mod N). Reported: sent, received, lost, duplicated, delay p50/p99/p99.9/max (ms;
AbsoluteTime has millisecond precision) and the client process's CPU per message over the
load window (heartbeats included).

    python benchmarks/bench_latency.py            # 60 s at 1,000 chats, 20 s at 500 msg/s
    python benchmarks/bench_latency.py --quick    # 15 s and 10 s
    python benchmarks/bench_latency.py --quick --tls
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from _common import (
    Endpoint,
    add_tls_argument,
    die_with_parent,
    emulator_in_process,
    percentile,
    table,
    websocket_urls,
    write_result,
)

from participant._time import parse_timestamp

CONCURRENCY = 20  # connects in flight (as bench_scale)
HEARTBEAT_FRAME = '{"topic":"aws/heartbeat"}'
HEARTBEAT_INTERVAL = 10.0
GC_FREEZE = False  # --gc-freeze: gc.freeze() once every client is connected (both clients)
GRACE = 15.0  # seconds to wait for the last messages after the emitter stops
LIBRARY = "participant"
BARE = "bare trio-websocket (baseline)"


# ---- the emulator and its emitter (child process) ----------------------------------------


async def serve_child(per_set: int, tls: bool, ca_file: str | None) -> None:
    """Serve an emulator with two sets of ``per_set`` chats (an agent in each); print one
    JSON line (endpoint, the customers' ParticipantTokens per set), then answer commands
    on stdin: ``go SET RATE SECONDS`` emits RATE messages per second per chat of SET for
    SECONDS and prints ``{"sent": n}``."""
    from participant.emulator import EmulatorConfig

    config = EmulatorConfig(rate_limits=False, url_open_window=3600.0)
    async with emulator_in_process(config, tls=tls) as (server, ep):
        if ep.ca_file is not None and ca_file is not None:
            await trio.Path(ca_file).write_bytes(await trio.Path(ep.ca_file).read_bytes())
        emu = server.emulator
        sets: list[list[tuple[str, str]]] = []  # (contact_id, agent participant_id)
        tokens: list[list[str]] = []
        for s in range(2):
            chats, toks = [], []
            for i in range(per_set):
                chat = await emu.start_chat(f"customer {s}/{i}")
                agent = await emu.add_participant(chat.contact_id)
                chats.append((chat.contact_id, agent.participant_id))
                toks.append(chat.participant_token)
            sets.append(chats)
            tokens.append(toks)
        print(json.dumps({"endpoint": server.endpoint_url, "tokens": tokens}), flush=True)
        stdin = trio.wrap_file(sys.stdin)
        while line := await stdin.readline():
            _, which, rate, seconds = line.split()
            sent = await emit(emu, sets[int(which)], float(rate), float(seconds))
            print(json.dumps({"sent": sent}), flush=True)


async def emit(emu: Any, chats: list[tuple[str, str]], rate: float, seconds: float) -> int:
    """Message k at k / (rate * len(chats)) s, to chat k mod len(chats); content ``k``."""
    total = rate * len(chats)
    start = trio.current_time()
    k = 0
    while (due := k / total) < seconds:
        await trio.sleep_until(start + due)
        now = trio.current_time() - start
        while k / total <= now and k / total < seconds:  # everything due by now
            contact_id, agent = chats[k % len(chats)]
            await emu.send_message_as(contact_id, agent, content=str(k))
            k += 1
    return k


# ---- the clients (this process) ----------------------------------------------------------


class GcPauses:
    """The garbage collector's passes in this process while installed (``gc.callbacks``):
    a full collection over many live actors can hold the whole process up."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []  # (generation, seconds)
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.pauses.append((int(info["generation"]), time.perf_counter() - self._t0))

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)

    def summary(self) -> dict[str, Any]:
        full = [t for g, t in self.pauses if g == 2]
        return {
            "gc_passes": len(self.pauses),
            "gc_full_passes": len(full),
            "gc_full_max_ms": max(full) * 1e3 if full else 0.0,
            "gc_max_ms": max((t for _, t in self.pauses), default=0.0) * 1e3,
            "gc_total_ms": sum(t for _, t in self.pauses) * 1e3,
        }


class LongSteps(trio.abc.Instrument):
    """trio task steps that ran long (a step blocks the whole process, e.g. a garbage
    collection pass that lands in it): how many, and the longest with their task names."""

    def __init__(self, threshold: float = 0.05) -> None:
        self.threshold = threshold
        self.steps: list[tuple[float, str]] = []  # (seconds, task name)
        self._t0: float | None = None  # None: the step running when installed

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self._t0 = time.perf_counter()

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        if self._t0 is None:
            return
        took = time.perf_counter() - self._t0
        if took >= self.threshold:
            self.steps.append((took, task.name))

    def summary(self) -> dict[str, Any]:
        top = sorted(self.steps, reverse=True)[:5]
        return {
            "long_steps": len(self.steps),
            "long_steps_top": [{"ms": round(t * 1e3, 1), "task": name} for t, name in top],
        }


class Collector:
    """Delays and message counts of one run."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.seen: Counter[str] = Counter()
        self.expected: int | None = None
        self.all_in = trio.Event()

    def record(self, content: str, absolute_time: str) -> None:
        self.delays.append(time.time() - parse_timestamp(absolute_time))
        self.seen[content] += 1
        if self.expected is not None and len(self.seen) >= self.expected:
            self.all_in.set()


class Emulator:
    """The ``--serve`` child: its endpoint, the tokens of both sets, and ``go``."""

    def __init__(self, per_set: int, tls: bool, tmp: str) -> None:
        ca_file = os.path.join(tmp, "ca.pem") if tls else None
        args = [sys.executable, __file__, "--serve", str(per_set)]
        if ca_file is not None:
            args += ["--ca-file", ca_file]
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the emulator child did not start (--tls: serve(tls=True)?)")
        hello = json.loads(line)
        self.endpoint = Endpoint(hello["endpoint"], ca_file)
        self.tokens: list[list[str]] = hello["tokens"]

    def go(self, which: int, rate: float, seconds: float) -> int:
        """Blocking: emit on set ``which``; the number of messages sent."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"go {which} {rate} {seconds}\n")
        self.proc.stdin.flush()
        return int(json.loads(self.proc.stdout.readline())["sent"])

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def _load(
    emulator: Emulator, which: int, rate: float, seconds: float, got: Collector
) -> dict[str, Any]:
    """Start the emitter, wait for its end and for every message (or GRACE); the CPU of
    this process meanwhile."""
    steps = LongSteps()
    trio.lowlevel.add_instrument(steps)
    with GcPauses() as gc_pauses:
        cpu0, t0 = time.process_time(), time.perf_counter()
        sent = await trio.to_thread.run_sync(emulator.go, which, rate, seconds)
        got.expected = sent
        if len(got.seen) < sent:
            with trio.move_on_after(GRACE):
                await got.all_in.wait()
    return {
        "sent": sent,
        "window_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - cpu0,
        "live_objects": len(gc.get_objects()),
        **gc_pauses.summary(),
        **_remove(steps),
    }


def _remove(steps: LongSteps) -> dict[str, Any]:
    trio.lowlevel.remove_instrument(steps)
    return steps.summary()


async def _start_all(
    nursery: trio.Nursery,
    one: Callable[[str, trio.TaskStatus[None]], Awaitable[None]],
    tokens: list[str],
) -> None:
    async with trio.open_nursery() as starters:
        for token in tokens:
            starters.start_soon(nursery.start, one, token)


async def run_library(
    emulator: Emulator, which: int, rate: float, seconds: float
) -> dict[str, Any]:
    from participant.actor import connect
    from participant.model import TextMessage

    ep = emulator.endpoint
    connector = ep.websocket_connector()
    got = Collector()
    limit = trio.Semaphore(CONCURRENCY)
    participants: list[Any] = []
    async with ep.participant_client() as client:

        async def one(token: str, task_status: trio.TaskStatus[None]) -> None:
            await limit.acquire()
            held = True
            try:
                async with connect(token, client=client, websocket_connector=connector) as p:
                    limit.release()
                    held = False
                    participants.append(p)
                    task_status.started()
                    async for item in p:
                        if isinstance(item, TextMessage) and item.absolute_time is not None:
                            got.record(item.content or "", item.absolute_time)
            finally:
                if held:
                    limit.release()

        async with trio.open_nursery() as nursery:
            t0 = time.perf_counter()
            await _start_all(nursery, one, emulator.tokens[which])
            connect_s = time.perf_counter() - t0
            if GC_FREEZE:
                gc.freeze()  # the connected actors' objects out of the collector's scans
            before = _actor_stats(participants)
            out = await _load(emulator, which, rate, seconds, got)
            after = _actor_stats(participants)
            nursery.cancel_scope.cancel()
    during = {f"actors_{k}": after[k] - before[k] for k in after}
    return {**out, "connect_s": connect_s, **during, **_delays(got)}


def _actor_stats(participants: list[Any]) -> dict[str, int]:
    """What the actors did (ParticipantStats, summed): a drop, reconnect or gap fill
    during the load shows up as a burst of late items."""
    keys = ("drops", "reconnects", "renewals", "gap_filled_items", "failed_attempts")
    return {k: sum(getattr(p.stats, k) for p in participants) for k in keys}


async def run_bare(emulator: Emulator, which: int, rate: float, seconds: float) -> dict[str, Any]:
    import trio_websocket

    ep = emulator.endpoint
    context = ep.ssl_context()
    got = Collector()
    t0 = time.perf_counter()
    urls = await websocket_urls(ep, emulator.tokens[which], CONCURRENCY)

    limit = trio.Semaphore(CONCURRENCY)

    async def one(url: str, task_status: trio.TaskStatus[None]) -> None:
        async with limit:
            ws = await trio_websocket.connect_websocket_url(nursery, url, ssl_context=context)
            await ws.send_message('{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}')
            await ws.get_message()
        task_status.started()
        deadline = trio.current_time()
        while True:
            await ws.send_message(HEARTBEAT_FRAME)
            deadline += HEARTBEAT_INTERVAL
            with trio.move_on_at(deadline):
                while True:
                    frame = json.loads(await ws.get_message())
                    if frame.get("topic") != "aws/chat":
                        continue
                    content = json.loads(frame["content"])
                    if content.get("Type") == "MESSAGE":
                        got.record(content["Content"], content["AbsoluteTime"])

    async with trio.open_nursery() as nursery:
        await _start_all(nursery, one, urls)
        connect_s = time.perf_counter() - t0
        if GC_FREEZE:
            gc.freeze()
        out = await _load(emulator, which, rate, seconds, got)
        nursery.cancel_scope.cancel()
    return {**out, "connect_s": connect_s, **_delays(got)}


def _delays(got: Collector) -> dict[str, Any]:
    d = got.delays
    return {
        "received_unique": len(got.seen),
        "duplicated": sum(n - 1 for n in got.seen.values() if n > 1),
        "delay_p50_ms": percentile(d, 50) * 1e3,
        "delay_p99_ms": percentile(d, 99) * 1e3,
        "delay_p999_ms": percentile(d, 99.9) * 1e3,
        "delay_max_ms": max(d) * 1e3 if d else float("nan"),
        "delays_ms_sample": [round(x * 1e3, 2) for x in d[:: max(1, len(d) // 5000)]],
    }


def scenario(name: str, chats: int, rate: float, seconds: float, tls: bool) -> dict[str, Any]:
    import tempfile

    out: dict[str, Any] = {"chats": chats, "rate_per_chat": rate, "seconds": seconds}
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        emulator = Emulator(chats, tls, tmp)
        try:
            for which, (label, run) in enumerate(((LIBRARY, run_library), (BARE, run_bare))):
                print(f"[latency] {name}: {label} ...", file=sys.stderr, flush=True)
                res = trio.run(run, emulator, which, rate, seconds)
                res["lost"] = res["sent"] - res["received_unique"]
                res["cpu_us_per_message"] = res["cpu_s"] / max(1, res["received_unique"]) * 1e6
                out[label] = res
        finally:
            emulator.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="15 s at 1,000 chats, 10 s at 500/s")
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=None, help="of the many-chats run")
    add_tls_argument(parser)
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() once connected: full collections then skip the long-lived objects",
    )
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--ca-file", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        die_with_parent()
        trio.run(serve_child, args.serve, args.ca_file is not None, args.ca_file)
        return
    global GC_FREEZE
    GC_FREEZE = args.gc_freeze
    many_s = args.seconds or (15.0 if args.quick else 60.0)
    busy_s = 10.0 if args.quick else 20.0
    scenarios = {
        f"{args.chats:,} chats x 1 msg/s": scenario(
            "many chats", args.chats, 1.0, many_s, args.tls
        ),
        "1 chat x 500 msg/s": scenario("one busy chat", 1, 500.0, busy_s, args.tls),
    }
    rows = []
    for name, sc in scenarios.items():
        for label in (LIBRARY, BARE):
            r = sc[label]
            rows.append(
                [
                    name,
                    label,
                    r["sent"],
                    r["lost"],
                    r["duplicated"],
                    r["delay_p50_ms"],
                    r["delay_p99_ms"],
                    r["delay_p999_ms"],
                    r["delay_max_ms"],
                    r["cpu_us_per_message"],
                    r["cpu_us_per_message"] / sc[BARE]["cpu_us_per_message"],
                    f"{r['gc_full_passes']} / {r['gc_full_max_ms']:.0f}",
                ]
            )
    over = "https/wss" if args.tls else "plain http/ws"
    print(f"\nLatency from AbsoluteTime to the consumer ({over}; emulator in another process)\n")
    print(
        table(
            [
                "load",
                "client",
                "sent",
                "lost",
                "dup",
                "p50 ms",
                "p99 ms",
                "p99.9 ms",
                "max ms",
                "CPU µs/msg",
                "CPU vs bare",
                "full GCs / longest ms",
            ],
            rows,
        )
    )
    path = write_result(
        "latency_tls" if args.tls else "latency",
        {"tls": args.tls, "gc_freeze": args.gc_freeze, "baseline": BARE, "scenarios": scenarios},
    )
    print(f"\nwrote {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
