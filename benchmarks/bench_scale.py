"""Scale benchmark: many subscribed participants in one process.

The emulator runs in ANOTHER process on loopback (hypercorn, rate limits off), so the
resident memory and CPU measured here are the client's alone; each measurement runs in a
fresh child process so resident memory is not polluted. The chats are started once (admin
API) and their ParticipantTokens shared by the children (each child closes its sockets on
exit; a participant may connect again):

- ``library``: N :func:`participant.actor.connect` participants (one shared
  ParticipantClient), each subscribed and idle (``iterate=True``, default config);
- ``bare`` (baseline): N bare trio-websocket clients (URLs from CreateParticipantConnection
  first, one shared httpx client), each subscribed and then doing the same idle work as the
  library: ``{"topic":"aws/heartbeat"}`` every 10 s, reading the echo, in one task per
  socket (the least a trio-websocket client can do per heartbeat: issue 15).

Reported per participant: resident memory (psutil RSS after - before, after gc, divided
by N), time to connect them all (20 at a time), and client CPU per participant per minute
while idle. CPU method (no MockClock: real sockets): the idle CPU is measured over a real
window (``--window``, default 10 s = one heartbeat period) and scaled to a minute; renewals
are measured separately with 100 participants and the emulator's ConnectionExpiry cut to
20 s (renewal at 16 s, so every participant renews once or twice inside a 30 s window):
CPU per renewal = (window CPU - idle CPU) / renewals. At the service's ConnectionExpiry
(one renewal per ~59 min with the default 60 s margin) that is ``cpu_per_renewal / 59`` per
minute, added to the idle figure. ``--tracemalloc`` adds the top allocation sites per
participant (library, at the smallest size).
Targets (issue 15): idle CPU <= 1.1 x the heartbeating bare client over TLS; <= 40 KiB per
idle subscribed participant at 10,000.

    python benchmarks/bench_scale.py                 # 1,000 and 10,000 (~5 min on 2 cores)
    python benchmarks/bench_scale.py --quick         # 1,000 only (~1 min)
    python benchmarks/bench_scale.py --quick --tls   # over https/wss (the emulator's CA)

Progress goes to stderr (each phase with its time), so a slow run shows where it is.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import psutil
import trio
from _common import (
    Endpoint,
    add_endpoint_arguments,
    add_tls_argument,
    die_with_parent,
    emulator_process,
    endpoint_from,
    table,
    write_result,
)

CONCURRENCY = 20  # connects in flight: more only queue at the emulator and push
# subscribe replies past the 1 s subscribe_timeout (see docs/benchmarks.md)
HEARTBEAT_FRAME = '{"topic":"aws/heartbeat"}'  # the library's frame, byte for byte
HEARTBEAT_INTERVAL = 10.0  # seconds: SocketConfig.heartbeat_interval's default
TARGET_KIB = 40.0
TARGET_CPU_RATIO = 1.1
CHILD_TIMEOUT = 900.0  # seconds; a stuck child is killed and named, not waited on forever
_T0 = time.monotonic()


def progress(text: str) -> None:
    """One progress line on stderr with the seconds since this process started."""
    print(f"[scale {time.monotonic() - _T0:6.1f} s] {text}", file=sys.stderr, flush=True)


async def _tokens(endpoint: Endpoint, n: int) -> list[str]:
    """Start ``n`` chats with the admin API; their customers' ParticipantTokens."""
    import httpx

    tokens: list[str] = []
    # as many requests at once as the pool keeps alive: no connection churn
    limit = trio.Semaphore(20)
    async with httpx.AsyncClient(
        base_url=endpoint.url, timeout=60, verify=endpoint.ssl_context() or True
    ) as h:

        async def one(i: int) -> None:
            async with limit:
                r = await h.post("/emulator/contacts", json={"DisplayName": f"c{i}"})
                r.raise_for_status()
                tokens.append(r.json()["ParticipantToken"])

        async with trio.open_nursery() as nursery:
            for i in range(n):
                nursery.start_soon(one, i)
    return tokens


def _read_tokens(path: str, n: int) -> list[str]:
    with open(path) as f:
        tokens = f.read().split()
    if len(tokens) < n:
        raise SystemExit(f"{path}: {len(tokens)} tokens, {n} needed")
    return tokens[:n]


class _CountWarnings(logging.Handler):
    """Counts the library's warnings (e.g. failed subscribes under load) by message start."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        key = record.getMessage()[:40]
        self.counts[key] = self.counts.get(key, 0) + 1


_WARNINGS = _CountWarnings()
logging.getLogger("participant").addHandler(_WARNINGS)


def _exit_with(result: dict[str, Any]) -> None:
    """Print a child's result and exit now, skipping the teardown of its connections."""
    result["library_warnings"] = dict(_WARNINGS.counts)
    print(json.dumps(result), flush=True)
    os._exit(0)


def _rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


async def _start_all(
    nursery: trio.Nursery,
    one: Callable[[str, trio.TaskStatus[None]], Awaitable[None]],
    args: list[str],
    label: str,
    connected: Callable[[], int],
) -> float:
    """Start ``one(arg)`` in ``nursery`` for every arg (each returns once connected, and
    stays connected), with a progress line every 10 s; the seconds it took."""
    reporter = trio.CancelScope()

    async def report() -> None:
        with reporter:
            while True:
                await trio.sleep(10)
                progress(f"{label}: {connected()}/{len(args)} connected")

    t0 = time.perf_counter()
    nursery.start_soon(report)
    async with trio.open_nursery() as starters:
        for arg in args:
            starters.start_soon(nursery.start, one, arg)
    reporter.cancel()
    return time.perf_counter() - t0


async def _idle(
    window: float,
    result: dict[str, Any],
    *,
    exit_now: bool,
    after: Callable[[], None] | None = None,
) -> None:
    """Sleep the idle window and add its CPU to ``result`` (then call ``after``); report
    and exit when ``exit_now`` (closing 10,000 actors gracefully takes about a minute and
    measures nothing asked for: the emulator sees the sockets close)."""
    cpu0 = time.process_time()
    await trio.sleep(window)
    result["window_s"] = window
    result["window_cpu_s"] = time.process_time() - cpu0
    if after is not None:
        after()
    if exit_now:
        _exit_with(result)


async def child_library(
    endpoint: Endpoint,
    tokens: list[str],
    window: float,
    trace: bool,
    subscribe_timeout: float | None,
) -> dict[str, Any]:
    from participant.actor import Participant, ParticipantConfig, connect
    from participant.socket import SocketConfig

    # connect_timeout=None: under the load of thousands of connects on a shared machine a
    # slow first connection must keep retrying, not raise after the default 30 s.
    config = ParticipantConfig(connect_timeout=None)
    if subscribe_timeout is not None:
        config = ParticipantConfig(
            connect_timeout=None, socket=SocketConfig(subscribe_timeout=subscribe_timeout)
        )

    tokens = list(tokens)
    participants: list[Participant] = []
    stop = trio.Event()
    connector = endpoint.websocket_connector()
    async with endpoint.participant_client() as client:
        # one warm-up participant so imports and the HTTP pool are not counted
        async with connect(tokens.pop(), client=client, websocket_connector=connector):
            pass
        n = len(tokens)
        rss0 = _rss()
        if trace:
            tracemalloc.start(6)
            snap0 = tracemalloc.take_snapshot()
        limit = trio.Semaphore(CONCURRENCY)

        async def one(token: str, task_status: trio.TaskStatus[None]) -> None:
            await limit.acquire()
            held = True
            try:
                async with connect(
                    token, client=client, config=config, websocket_connector=connector
                ) as p:
                    limit.release()
                    held = False
                    participants.append(p)
                    task_status.started()
                    await stop.wait()
            finally:
                if held:
                    limit.release()

        cpu_connect0 = time.process_time()
        async with trio.open_nursery() as nursery:
            connect_s = await _start_all(nursery, one, tokens, "library", lambda: len(participants))
            connect_cpu = time.process_time() - cpu_connect0
            progress(f"library: {n} connected in {connect_s:.1f} s")
            rss1 = _rss()
            top: list[dict[str, Any]] = []
            top_files: list[dict[str, Any]] = []
            traced = 0.0
            if trace:
                snap1 = tracemalloc.take_snapshot()
                tracemalloc.stop()
                for stat in snap1.compare_to(snap0, "lineno")[:15]:
                    frame = stat.traceback[0]
                    top.append(
                        {
                            "where": f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}",
                            "bytes_per_participant": stat.size_diff / n,
                        }
                    )
                by_file = snap1.compare_to(snap0, "filename")
                top_files = [
                    {
                        "file": s.traceback[0].filename.split("site-packages/")[-1],
                        "bytes_per_participant": s.size_diff / n,
                    }
                    for s in by_file[:10]
                ]
                traced = sum(s.size_diff for s in by_file) / n
            result: dict[str, Any] = {
                "n": n,
                "connect_s": connect_s,
                "connect_cpu_ms_per_participant": connect_cpu / n * 1e3,
                "rss_bytes_per_participant": (rss1 - rss0) / n,
                "drops_while_connecting": sum(p.stats.drops for p in participants),
            }
            if trace:
                result["tracemalloc_top_lines"] = top
                result["tracemalloc_top_files"] = top_files
                result["tracemalloc_bytes_per_participant"] = traced
            renewals0 = sum(p.stats.renewals for p in participants)

            def count_window() -> None:
                result["renewals"] = sum(p.stats.renewals for p in participants) - renewals0
                result["drops"] = sum(p.stats.drops for p in participants)
                progress(f"library: idle window of {window:.0f} s done")

            await _idle(window, result, exit_now=not trace, after=count_window)
            stop.set()
    return result


async def child_bare(endpoint: Endpoint, tokens: list[str], window: float) -> dict[str, Any]:
    import httpx
    import trio_websocket

    context = endpoint.ssl_context()

    n = len(tokens)
    # CreateParticipantConnection for all first (timed, 20 at a time: the pool's keep-alive),
    # so the HTTP garbage is not counted as websocket memory (the emulator's URL open
    # window is lifted for this benchmark)
    urls: list[str] = []
    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=endpoint.url, timeout=60, verify=context or True) as h:
        limit = trio.Semaphore(20)

        async def create(token: str) -> None:
            async with limit:
                r = await h.post(
                    "/participant/connection",
                    headers={"X-Amz-Bearer": token},
                    json={"Type": ["WEBSOCKET"]},
                )
                r.raise_for_status()
                urls.append(r.json()["Websocket"]["Url"])

        async with trio.open_nursery() as nursery:
            for token in tokens:
                nursery.start_soon(create, token)
    urls_s = time.perf_counter() - t0
    del tokens
    progress(f"bare: {n} URLs in {urls_s:.1f} s")
    rss0 = _rss()
    limit = trio.Semaphore(CONCURRENCY)
    connected = 0
    echoes = 0

    async def one(url: str, task_status: trio.TaskStatus[None]) -> None:
        nonlocal connected, echoes
        await limit.acquire()
        held = True
        try:
            async with trio_websocket.open_websocket_url(url, ssl_context=context) as ws:
                await ws.send_message('{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}')
                await ws.get_message()
                limit.release()
                held = False
                connected += 1
                task_status.started()
                # idle like the library until the nursery is cancelled: a heartbeat on open
                # and every 10 s, reading whatever comes (the echoes) in between
                deadline = trio.current_time()
                while True:
                    await ws.send_message(HEARTBEAT_FRAME)
                    deadline += HEARTBEAT_INTERVAL
                    with trio.move_on_at(deadline):
                        while True:
                            await ws.get_message()
                            echoes += 1
        except trio_websocket.ConnectionClosed:
            pass
        finally:
            if held:
                limit.release()

    async with trio.open_nursery() as nursery:
        open_s = await _start_all(nursery, one, urls, "bare", lambda: connected)
        progress(f"bare: {n} connected in {open_s:.1f} s (+ {urls_s:.1f} s for the URLs)")
        rss1 = _rss()
        result: dict[str, Any] = {
            "n": n,
            "connect_s": urls_s + open_s,
            "urls_s": urls_s,
            "open_s": open_s,
            "rss_bytes_per_participant": (rss1 - rss0) / n,
        }
        echoes0 = echoes

        def count_window() -> None:
            result["heartbeat_echoes"] = echoes - echoes0

        await _idle(window, result, exit_now=True, after=count_window)
    raise AssertionError("unreachable: _idle exits the child")


def run_child(
    kind: str,
    endpoint: Endpoint,
    tokens_file: str,
    n: int,
    window: float,
    trace: bool = False,
    subscribe_timeout: float | None = None,
) -> dict[str, Any]:
    """Run one measurement in a fresh process; its progress lines pass through to stderr."""
    args = [
        sys.executable,
        __file__,
        "--child",
        kind,
        *endpoint.args(),
        "--tokens-file",
        tokens_file,
        "--n",
        str(n),
        "--window",
        str(window),
    ]
    if trace:
        args.append("--tracemalloc")
    if subscribe_timeout is not None:
        args += ["--subscribe-timeout", str(subscribe_timeout)]
    progress(f"{kind} {n}{' (tracemalloc)' if trace else ''}: start")
    try:
        out = subprocess.run(
            args,
            stdout=subprocess.PIPE,
            text=True,
            check=False,
            env={**os.environ},
            timeout=CHILD_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"child {kind} {n} still running after {CHILD_TIMEOUT:.0f} s") from exc
    if out.returncode != 0:
        raise RuntimeError(f"child {kind} {n} failed (exit {out.returncode}; stderr above)")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--window", type=float, default=10.0, help="idle CPU window, s")
    parser.add_argument("--quick", action="store_true", help="1,000 only")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace allocations at the smallest size"
    )
    parser.add_argument(
        "--subscribe-timeout",
        type=float,
        default=None,
        help="SocketConfig.subscribe_timeout of the library, s (default: the library's 1 s); "
        "raise it on a saturated machine, where late subscribe replies make connects retry",
    )
    add_tls_argument(parser)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    add_endpoint_arguments(parser)
    parser.add_argument("--tokens-file", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        die_with_parent()
        if args.child == "library":
            tokens = _read_tokens(args.tokens_file, args.n + 1)
            res = trio.run(
                child_library,
                endpoint_from(args),
                tokens,
                args.window,
                args.tracemalloc,
                args.subscribe_timeout,
            )
        else:
            tokens = _read_tokens(args.tokens_file, args.n)
            res = trio.run(child_bare, endpoint_from(args), tokens, args.window)
        print(json.dumps(res))
        return
    if args.quick:
        args.sizes = "1000"
    sizes = [int(s) for s in args.sizes.split(",")]
    renew_n = 100  # a renewal wave, not a storm
    renew_window = 30.0

    results: dict[str, Any] = {
        "sizes": {},
        "window_s": args.window,
        "subscribe_timeout": args.subscribe_timeout,
        "tls": args.tls,
    }
    trace: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        tokens_file = os.path.join(tmp, "tokens")
        with emulator_process("--url-open-window", "3600", tls=args.tls) as endpoint:
            progress(f"starting {max(sizes) + 1} chats")
            tokens = trio.run(_tokens, endpoint, max(sizes) + 1)
            with open(tokens_file, "w") as f:
                f.write("\n".join(tokens))
            for n in sizes:
                lib = run_child(
                    "library", endpoint, tokens_file, n, args.window, False, args.subscribe_timeout
                )
                bare = run_child("bare", endpoint, tokens_file, n, args.window)
                results["sizes"][str(n)] = {"library": lib, "bare": bare}
                progress(
                    f"{n}: library {lib['rss_bytes_per_participant'] / 1024:.1f} KiB, "
                    f"bare {bare['rss_bytes_per_participant'] / 1024:.1f} KiB"
                )
            if args.tracemalloc:
                trace = run_child("library", endpoint, tokens_file, min(sizes), 1.0, trace=True)
                results["tracemalloc"] = trace
        # renewals: a second emulator with ConnectionExpiry 20 s (renewal 4 s before it)
        with emulator_process("--connection-expiry", "20", tls=args.tls) as endpoint:
            tokens = trio.run(_tokens, endpoint, renew_n + 1)
            with open(tokens_file, "w") as f:
                f.write("\n".join(tokens))
            renew = run_child("library", endpoint, tokens_file, renew_n, renew_window)
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
                lib_cpu_min / bare_cpu_min,
                lib_cpu_min + renew_ms_min,
                lib["drops"],
            ]
        )
        rows.append(
            [
                int(n_text),
                "bare trio-websocket, heartbeating (baseline)",
                bare["rss_bytes_per_participant"] / 1024,
                bare["connect_s"],
                bare_cpu_min,
                1.0,
                "-",
                "-",
            ]
        )
        lib["cpu_ratio_to_bare"] = lib_cpu_min / bare_cpu_min
        lib["cpu_ms_per_min_idle"] = lib_cpu_min
        lib["cpu_ms_per_min_with_renewals"] = lib_cpu_min + renew_ms_min
        bare["cpu_ms_per_min_idle"] = bare_cpu_min
    over = "https/wss" if args.tls else "plain http/ws"
    print(f"\nScale: idle subscribed participants in one process (emulator in another; {over})\n")
    print(
        table(
            [
                "N",
                "client",
                "RSS KiB/participant",
                "connect all, s",
                "CPU ms/participant/min (heartbeats)",
                "CPU vs bare",
                "+ renewals",
                "drops",
            ],
            rows,
        )
    )
    print(
        f"\nrenewal: {renew['renewals']} renewals of {renew['n']} participants in "
        f"{renew['window_s']:.0f} s (ConnectionExpiry 20 s): "
        f"{cpu_per_renewal * 1e3:.2f} ms CPU per renewal; drops {renew['drops']}"
    )
    if trace is not None:
        print(
            f"\ntracemalloc at {trace['n']}: "
            f"{trace['tracemalloc_bytes_per_participant'] / 1024:.1f} KiB/participant traced;"
            " top files:"
        )
        for f in trace["tracemalloc_top_files"]:
            print(f"  {f['bytes_per_participant'] / 1024:7.2f} KiB  {f['file']}")
        print("top lines:")
        for f in trace["tracemalloc_top_lines"]:
            print(f"  {f['bytes_per_participant'] / 1024:7.2f} KiB  {f['where']}")
    big = str(max(sizes))
    per = results["sizes"][big]["library"]["rss_bytes_per_participant"] / 1024
    ratio = results["sizes"][big]["library"]["cpu_ratio_to_bare"]
    verdict = {
        "kib_per_participant_at_max": per,
        "max_n": int(big),
        "target_kib": TARGET_KIB,
        "met": per <= TARGET_KIB,
        "cpu_ratio_to_bare_at_max": ratio,
        "target_cpu_ratio": TARGET_CPU_RATIO,
        "cpu_met": ratio <= TARGET_CPU_RATIO,
    }
    results["verdict"] = verdict
    print(
        f"\nRSS per participant at {big}: {per:.1f} KiB (target <= {TARGET_KIB:.0f} KiB: "
        f"{'met' if verdict['met'] else 'MISSED'}); idle CPU {ratio:.2f} x the heartbeating "
        f"bare client (target <= {TARGET_CPU_RATIO}: {'met' if verdict['cpu_met'] else 'MISSED'})"
    )
    path = write_result("scale_tls" if args.tls else "scale", results)
    print(f"\nwrote {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
