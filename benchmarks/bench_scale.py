"""Scale benchmark: many subscribed participants in one process.

The emulator runs in ANOTHER process on loopback (hypercorn, rate limits off); each
measurement runs in a fresh child process so resident memory is not polluted:

- ``library``: N :func:`participant.actor.connect` participants (one shared
  ParticipantClient), each subscribed and idle (``iterate=True``, default config);
- ``bare`` (baseline): N bare trio-websocket clients, each opened on a URL from
  CreateParticipantConnection, subscribed, and idle in a task waiting on ``get_message``.

Reported per participant: resident memory (psutil RSS after - before, after gc, divided
by N), time to connect them all (100 at a time), and client CPU per participant per minute
while idle. CPU method (no MockClock: real sockets): the idle CPU is measured over a real
window (``--window``, default 30 s; heartbeats every 10 s) and scaled to a minute; renewals
are measured separately with 100 participants and the emulator's ConnectionExpiry cut to
40 s (so every participant renews once or twice inside the window): CPU per renewal =
(window CPU - idle CPU) / renewals. At the service's ConnectionExpiry (one renewal per
~59 min with the default 60 s margin) that is ``cpu_per_renewal / 59`` per minute, added to
the idle figure. ``--tracemalloc`` adds the top allocation sites per participant (library).
Target (issue 6): <= 48 KiB per idle subscribed participant at 10,000 (bare ~22 KiB).

    python benchmarks/bench_scale.py                 # 1,000 and 10,000 (a few minutes)
    python benchmarks/bench_scale.py --quick         # 1,000 only, 15 s window
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc
from typing import Any

import psutil
import trio
from _common import emulator_process, table, write_result

CONCURRENCY = 100


async def _tokens(endpoint: str, n: int) -> list[str]:
    import httpx

    tokens: list[str] = []
    limit = trio.Semaphore(50)
    async with httpx.AsyncClient(base_url=endpoint, timeout=60) as h:

        async def one(i: int) -> None:
            async with limit:
                r = await h.post("/emulator/contacts", json={"DisplayName": f"c{i}"})
                r.raise_for_status()
                tokens.append(r.json()["ParticipantToken"])

        async with trio.open_nursery() as nursery:
            for i in range(n):
                nursery.start_soon(one, i)
    return tokens


def _rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


async def child_library(endpoint: str, n: int, window: float, trace: bool) -> dict[str, Any]:
    from participant.actor import Participant, connect
    from participant.api import ParticipantClient

    tokens = await _tokens(endpoint, n)
    participants: list[Participant] = []
    stop = trio.Event()
    async with ParticipantClient(endpoint_url=endpoint) as client:
        # one warm-up participant so imports and the HTTP pool are not counted
        async with connect(tokens.pop(), client=client):
            pass
        rss0 = _rss()
        if trace:
            tracemalloc.start(6)
            snap0 = tracemalloc.take_snapshot()
        limit = trio.Semaphore(CONCURRENCY)

        async def one(token: str, task_status: trio.TaskStatus[None]) -> None:
            await limit.acquire()
            held = True
            try:
                async with connect(token, client=client) as p:
                    limit.release()
                    held = False
                    participants.append(p)
                    task_status.started()
                    await stop.wait()
            finally:
                if held:
                    limit.release()

        t0 = time.perf_counter()
        async with trio.open_nursery() as nursery:
            async with trio.open_nursery() as starters:
                for token in tokens:
                    starters.start_soon(nursery.start, one, token)
            connect_s = time.perf_counter() - t0
            rss1 = _rss()
            top: list[dict[str, Any]] = []
            if trace:
                snap1 = tracemalloc.take_snapshot()
                tracemalloc.stop()
                for stat in snap1.compare_to(snap0, "lineno")[:15]:
                    frame = stat.traceback[0]
                    top.append(
                        {
                            "where": f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}",
                            "bytes_per_participant": stat.size_diff / len(tokens),
                        }
                    )
                by_file = snap1.compare_to(snap0, "filename")[:10]
                top_files = [
                    {
                        "file": s.traceback[0].filename.split("site-packages/")[-1],
                        "bytes_per_participant": s.size_diff / len(tokens),
                    }
                    for s in by_file
                ]
            cpu0 = time.process_time()
            renewals0 = sum(p.stats.renewals for p in participants)
            await trio.sleep(window)
            cpu = time.process_time() - cpu0
            renewals = sum(p.stats.renewals for p in participants) - renewals0
            drops = sum(p.stats.drops for p in participants)
            stop.set()
    result: dict[str, Any] = {
        "n": len(tokens),
        "connect_s": connect_s,
        "rss_bytes_per_participant": (rss1 - rss0) / len(tokens),
        "window_s": window,
        "window_cpu_s": cpu,
        "renewals": renewals,
        "drops": drops,
    }
    if trace:
        result["tracemalloc_top_lines"] = top
        result["tracemalloc_top_files"] = top_files
        result["tracemalloc_bytes_per_participant"] = sum(
            s.size_diff for s in snap1.compare_to(snap0, "filename")
        ) / len(tokens)
    return result


async def child_bare(endpoint: str, n: int, window: float) -> dict[str, Any]:
    import httpx
    import trio_websocket

    tokens = await _tokens(endpoint, n)
    urls: list[str] = []
    async with httpx.AsyncClient(base_url=endpoint, timeout=60) as h:
        for token in tokens:
            r = await h.post(
                "/participant/connection",
                headers={"X-Amz-Bearer": token},
                json={"Type": ["WEBSOCKET"]},
            )
            urls.append(r.json()["Websocket"]["Url"])
    del tokens
    rss0 = _rss()
    limit = trio.Semaphore(CONCURRENCY)

    async def one(url: str, task_status: trio.TaskStatus[None]) -> None:
        await limit.acquire()
        held = True
        try:
            async with trio_websocket.open_websocket_url(url) as ws:
                await ws.send_message('{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}')
                await ws.get_message()
                limit.release()
                held = False
                task_status.started()
                while True:  # idle until the nursery is cancelled
                    await ws.get_message()
        except trio_websocket.ConnectionClosed:
            pass
        finally:
            if held:
                limit.release()

    t0 = time.perf_counter()
    async with trio.open_nursery() as nursery:
        async with trio.open_nursery() as starters:
            for url in urls:
                starters.start_soon(nursery.start, one, url)
        connect_s = time.perf_counter() - t0
        rss1 = _rss()
        cpu0 = time.process_time()
        await trio.sleep(window)
        cpu = time.process_time() - cpu0
        nursery.cancel_scope.cancel()
    return {
        "n": len(urls),
        "connect_s": connect_s,
        "rss_bytes_per_participant": (rss1 - rss0) / len(urls),
        "window_s": window,
        "window_cpu_s": cpu,
    }


def run_child(
    kind: str, endpoint: str, n: int, window: float, trace: bool = False
) -> dict[str, Any]:
    args = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--endpoint",
        endpoint,
        "--n",
        str(n),
        "--window",
        str(window),
    ]
    if trace:
        args.append("--tracemalloc")
    out = subprocess.run(args, capture_output=True, text=True, check=False, env={**os.environ})
    if out.returncode != 0:
        raise RuntimeError(f"child {kind} {n} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--window", type=float, default=30.0, help="idle CPU window, s")
    parser.add_argument("--quick", action="store_true", help="1,000 only, 15 s windows")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child == "library":
            res = trio.run(child_library, args.endpoint, args.n + 1, args.window, args.tracemalloc)
        else:
            res = trio.run(child_bare, args.endpoint, args.n, args.window)
        print(json.dumps(res))
        return
    if args.quick:
        args.sizes, args.window = "1000", 15.0
    sizes = [int(s) for s in args.sizes.split(",")]

    results: dict[str, Any] = {"sizes": {}, "window_s": args.window}
    with emulator_process() as endpoint:
        for n in sizes:
            lib = run_child("library", endpoint, n, args.window)
            bare = run_child("bare", endpoint, n, args.window)
            results["sizes"][str(n)] = {"library": lib, "bare": bare}
            print(
                f"  {n}: library {lib['rss_bytes_per_participant'] / 1024:.1f} KiB, "
                f"bare {bare['rss_bytes_per_participant'] / 1024:.1f} KiB",
                flush=True,
            )
        trace = run_child("library", endpoint, min(sizes), 5.0, trace=True)
        results["tracemalloc"] = trace
    # renewals: a second emulator with ConnectionExpiry 40 s
    renew_n = max(10, min(sizes) // 10)  # 100: a renewal wave, not a storm of 1,000
    renew_window = max(args.window, 60.0 if not args.quick else 45.0)
    with emulator_process("--connection-expiry", "40") as endpoint:
        renew = run_child("library", endpoint, renew_n, renew_window)
    idle = results["sizes"][str(min(sizes))]["library"]
    idle_cpu_per_s = idle["window_cpu_s"] / idle["window_s"] * renew_n / idle["n"]
    renew_cpu = renew["window_cpu_s"] - idle_cpu_per_s * renew["window_s"]
    cpu_per_renewal = renew_cpu / renew["renewals"] if renew["renewals"] else float("nan")
    results["renewal"] = {**renew, "cpu_s_per_renewal": cpu_per_renewal}

    rows = []
    for n_text, both in results["sizes"].items():
        lib, bare = both["library"], both["bare"]
        lib_cpu_min = lib["window_cpu_s"] / lib["window_s"] * 60 / lib["n"] * 1e3
        bare_cpu_min = bare["window_cpu_s"] / bare["window_s"] * 60 / bare["n"] * 1e3
        renew_ms_min = cpu_per_renewal / 59 * 1e3
        rows.append(
            [
                int(n_text),
                "participant",
                lib["rss_bytes_per_participant"] / 1024,
                lib["connect_s"],
                lib_cpu_min,
                lib_cpu_min + renew_ms_min,
            ]
        )
        rows.append(
            [
                int(n_text),
                "bare trio-websocket (baseline)",
                bare["rss_bytes_per_participant"] / 1024,
                bare["connect_s"],
                bare_cpu_min,
                "-",
            ]
        )
        lib["cpu_ms_per_min_idle"] = lib_cpu_min
        lib["cpu_ms_per_min_with_renewals"] = lib_cpu_min + renew_ms_min
        bare["cpu_ms_per_min_idle"] = bare_cpu_min
    print("\nScale: idle subscribed participants in one process (emulator in another)\n")
    print(
        table(
            [
                "N",
                "client",
                "RSS KiB/participant",
                "connect all, s",
                "CPU ms/participant/min (heartbeats)",
                "+ renewals",
            ],
            rows,
        )
    )
    print(
        f"\nrenewal: {renew['renewals']} renewals of {renew['n']} participants in "
        f"{renew['window_s']:.0f} s (ConnectionExpiry 40 s): "
        f"{cpu_per_renewal * 1e3:.2f} ms CPU per renewal; drops {renew['drops']}"
    )
    print(
        f"\ntracemalloc at {trace['n']}: {trace['tracemalloc_bytes_per_participant'] / 1024:.1f}"
        " KiB/participant traced; top files:"
    )
    for f in trace["tracemalloc_top_files"]:
        print(f"  {f['bytes_per_participant'] / 1024:7.2f} KiB  {f['file']}")
    print("top lines:")
    for f in trace["tracemalloc_top_lines"]:
        print(f"  {f['bytes_per_participant'] / 1024:7.2f} KiB  {f['where']}")
    big = str(max(sizes))
    per = results["sizes"][big]["library"]["rss_bytes_per_participant"] / 1024
    verdict = {
        "kib_per_participant_at_max": per,
        "max_n": int(big),
        "target_kib": 48,
        "met": per <= 48,
    }
    results["verdict"] = verdict
    print(
        f"\nRSS per participant at {big}: {per:.1f} KiB (target <= 48 KiB: "
        f"{'met' if per <= 48 else 'MISSED'})"
    )
    path = write_result("scale", results)
    print(f"\nwrote {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
