"""Micro-benchmark of the per-item pieces of dispatch, in one process, no sockets.

ns per item (best of ``--repeat``) for the frames of ``bench_dispatch.py`` (distinct
TextMessage items, 1 ms apart):

- ``decode_chat_frame``: a parsed frame (``{"topic", "content": <JSON str>}``) to an item,
  and ``json.loads`` / ``participant.model.loads`` of the same content strings (the bare
  loop's second decode; the library's) for scale;
- ``ItemLog`` as the actor uses it with ``ack="implicit"`` (``is_known_duplicate``,
  ``accept``, then ``acked`` of the previous item) with the actor's defaults
  (window 600 s, max_ids 2048, reach 5 s);
- ``canonical_time`` of a service AbsoluteTime;
- the consumer's wake: one consumer task parked, one producer waking it once per item,
  with ``trio.lowlevel.ParkingLot`` (``park`` / ``unpark_all``, what the actor does) and
  with ``wait_task_rescheduled`` / ``reschedule`` of a single waiter (the public
  low-level API; ``--wake`` only, it runs trio).

    python benchmarks/micro_hot.py            # decode, log, canonical_time
    python benchmarks/micro_hot.py --wake     # and the two wakes
    python benchmarks/micro_hot.py --instructions   # instructions per item instead
                                                    # (cachegrind; noise-free, ~1 min)

``--instructions`` runs each scenario once in a child under ``valgrind --tool=cachegrind``
with all ``N`` items and once with none (same set-up), and prints the difference / N.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio
import trio.testing
from bench_dispatch import chat_frames

from participant.core.log import ItemLog, canonical_time
from participant.model import Item, decode_chat_frame, loads

N = 20_000


def _best(fn: Callable[[], float], repeat: int) -> float:
    return min(fn() for _ in range(repeat)) / N * 1e9


def _scenarios(frames: list[dict[str, Any]], items: list[Item]) -> dict[str, Callable[[], float]]:
    contents = [f["content"] for f in frames]
    times = [i.absolute_time for i in items]

    def decode() -> float:
        start = time.perf_counter()
        for frame in frames:
            decode_chat_frame(frame)
        return time.perf_counter() - start

    def json_loads() -> float:
        start = time.perf_counter()
        for content in contents:
            json.loads(content)
        return time.perf_counter() - start

    def model_loads() -> float:
        start = time.perf_counter()
        for content in contents:
            loads(content)
        return time.perf_counter() - start

    def log_implicit() -> float:
        log = ItemLog(600.0, 2048, 5.0)
        duplicate, accept, acked = log.is_known_duplicate, log.accept, log.acked
        last: Item | None = None
        start = time.perf_counter()
        for item in items:
            if last is not None:
                acked(last)
            if not duplicate(item):
                last = accept(item)
        return time.perf_counter() - start

    def canonical() -> float:
        start = time.perf_counter()
        for t in times:
            canonical_time(t)
        return time.perf_counter() - start

    return {
        "decode_chat_frame": decode,
        "json.loads(content) (bare loop's 2nd decode)": json_loads,
        "model.loads(content) (the library's JSON entry)": model_loads,
        "ItemLog implicit ack (dup+accept+acked)": log_implicit,
        "canonical_time": canonical,
    }


async def _wake_lot() -> float:
    lot = trio.lowlevel.ParkingLot()
    done = trio.Event()

    async def consumer() -> None:
        for _ in range(N):
            await lot.park()
        done.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consumer)
        await trio.testing.wait_all_tasks_blocked()
        start = time.perf_counter()
        while not done.is_set():
            lot.unpark_all()
            await trio.lowlevel.cancel_shielded_checkpoint()
        return time.perf_counter() - start


async def _wake_single() -> float:
    waiter: list[trio.lowlevel.Task] = []
    done = trio.Event()

    def abort(_: Any) -> trio.lowlevel.Abort:
        waiter.clear()
        return trio.lowlevel.Abort.SUCCEEDED

    async def consumer() -> None:
        for _ in range(N):
            waiter.append(trio.lowlevel.current_task())
            await trio.lowlevel.wait_task_rescheduled(abort)
        done.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consumer)
        await trio.testing.wait_all_tasks_blocked()
        start = time.perf_counter()
        while not done.is_set():
            if waiter:
                trio.lowlevel.reschedule(waiter.pop())
            await trio.lowlevel.cancel_shielded_checkpoint()
        return time.perf_counter() - start


def _instructions(name: str, n: int) -> int:
    out = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, str(Path(__file__).resolve()), "--child", name, "--n", str(n)],
        capture_output=True, text=True, check=True,
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{out.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    global N
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--wake", action="store_true", help="also time the two wakes")
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions per item under cachegrind instead")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    frames = [loads(text) for text in chat_frames(N)]
    items = [decode_chat_frame(frame) for frame in frames]
    wakes = {"wake: ParkingLot park/unpark_all": _wake_lot,
             "wake: wait_task_rescheduled/reschedule": _wake_single}
    if args.child:  # one scenario over the first --n items
        N = args.n
        if args.child in wakes:
            trio.run(wakes[args.child])
        else:
            _scenarios(frames[:N], items[:N])[args.child]()
        return
    if args.instructions:
        names = list(_scenarios(frames, items)) + (list(wakes) if args.wake else [])
        for name in names:
            per = (_instructions(name, N) - _instructions(name, 0)) / N
            print(f"{name:46s} {per:8.0f} instructions/item", flush=True)
        return
    for name, fn in _scenarios(frames, items).items():
        print(f"{name:46s} {_best(fn, args.repeat):8.0f} ns/item")
    if args.wake:
        for name, wake in wakes.items():
            best = min(trio.run(wake) for _ in range(args.repeat)) / N * 1e9
            print(f"{name:46s} {best:8.0f} ns/item")


if __name__ == "__main__":
    main()
