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
import cProfile
import gc
import io
import json
import logging
import os
import pstats
import re
import select
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
    median,
    profile_layers,
    table,
    websocket_urls,
    write_result,
)

CONCURRENCY = 20  # connects in flight: more only queue at the emulator and push
# subscribe replies past the 1 s subscribe_timeout (see docs/benchmarks.md)
HEARTBEAT_FRAME = '{"topic":"aws/heartbeat"}'  # the library's frame, byte for byte
HEARTBEAT_INTERVAL = 10.0  # seconds: SocketConfig.heartbeat_interval's default
TARGET_KIB = 40.0
TARGET_CPU_RATIO = 1.1
EMULATOR_GC_FREEZE_EVERY = 5.0  # s: the emulator is not measured; its GC must not stall it
GC_FREEZE_EVERY = 500  # --gc-freeze: gc.freeze() after every 500 connections (both clients)
PAIRED_UP_TO = 1000  # above it the clients connect and idle one after the other: 2 x 10,000
# sockets heartbeating at once are 2,000 frames/s, about a core of the emulator on its own
CHILD_TIMEOUT = 900.0  # seconds; a stuck child is killed and named, not waited on forever
# the parent's start (wall clock), inherited by its children: one time axis for all lines
_T0 = float(os.environ.setdefault("BENCH_SCALE_T0", repr(time.time())))


def progress(text: str) -> None:
    """One progress line on stderr with the seconds since the benchmark started."""
    print(f"[scale {time.time() - _T0:6.1f} s] {text}", file=sys.stderr, flush=True)


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
                for attempt in range(5):
                    try:
                        r = await h.post("/emulator/contacts", json={"DisplayName": f"c{i}"})
                        break
                    except httpx.TransportError as exc:
                        # a loaded machine: a kept-alive connection the server dropped (a
                        # retry may start one chat too many: harmless)
                        if attempt == 4:
                            raise
                        progress(f"starting chats: {type(exc).__name__}, retrying")
                        await trio.sleep(0.5)
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


_CHANGES: dict[str, int] = {}
"""The library's state changes other than the first open and subscribe, counted by
trigger and reason (digits dropped): why participants reconnect."""


def _count_change(change: Any) -> None:
    if change.trigger in ("opened", "acknowledged"):
        return  # every connection's open and subscribe: not news
    key = f"{change.trigger}: {re.sub(r'[0-9.]+', 'N', change.reason)[:70]}"
    _CHANGES[key] = _CHANGES.get(key, 0) + 1


def _changes_text() -> str:
    text = _PROBE.text()
    if _CHANGES:
        text += "; state changes: " + ", ".join(f"{k} x{v}" for k, v in sorted(_CHANGES.items()))
    return text


class _Probe:
    """What a child's trio loop went through since the last progress line: the longest
    lateness of a 0.1 s sleep (loop lag: how long the loop did not poll its sockets), the
    garbage collector's passes (count, longest, total), and the library's REST calls
    (in flight now and at most, done, slowest)."""

    def __init__(self) -> None:
        self.lag_max = 0.0
        self.gc_count = self.gc_full = 0
        self.gc_max = self.gc_total = 0.0
        self._gc_t0 = 0.0
        self.rest_now = self.rest_max = self.rest_done = 0
        self.rest_slowest = 0.0
        self.windows: list[dict[str, Any]] = []

    def gc_callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_t0 = time.perf_counter()
            return
        took = time.perf_counter() - self._gc_t0
        self.gc_count += 1
        self.gc_full += info.get("generation") == 2
        self.gc_total += took
        self.gc_max = max(self.gc_max, took)

    async def watch_lag(self) -> None:
        while True:
            t0 = trio.current_time()
            await trio.sleep(0.1)
            self.lag_max = max(self.lag_max, trio.current_time() - t0 - 0.1)

    def text(self) -> str:
        window = {
            "t": round(time.time() - _T0, 1),
            "loop_lag_max_s": round(self.lag_max, 3),
            "gc_passes": self.gc_count,
            "gc_full": self.gc_full,
            "gc_max_s": round(self.gc_max, 3),
            "gc_total_s": round(self.gc_total, 3),
            "rest_in_flight": self.rest_now,
            "rest_in_flight_max": self.rest_max,
            "rest_done": self.rest_done,
            "rest_slowest_s": round(self.rest_slowest, 3),
        }
        self.windows.append(window)
        self.lag_max = self.gc_max = self.gc_total = self.rest_slowest = 0.0
        self.gc_count = self.gc_full = self.rest_done = 0
        self.rest_max = self.rest_now
        return (
            f"; loop lag max {window['loop_lag_max_s']:.2f} s; GC {window['gc_passes']} passes"
            f" ({window['gc_full']} full) max {window['gc_max_s']:.2f} s total"
            f" {window['gc_total_s']:.2f} s; REST in flight {window['rest_in_flight']} (max"
            f" {window['rest_in_flight_max']}), {window['rest_done']} done, slowest"
            f" {window['rest_slowest_s']:.2f} s"
        )


_PROBE = _Probe()


def _counting_transport(inner: Any) -> Any:
    """``inner`` (an httpx transport) with :data:`_PROBE` counting its requests."""
    import httpx

    class Counting(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            _PROBE.rest_now += 1
            _PROBE.rest_max = max(_PROBE.rest_max, _PROBE.rest_now)
            t0 = time.perf_counter()
            try:
                return await inner.handle_async_request(request)
            finally:
                _PROBE.rest_now -= 1
                _PROBE.rest_done += 1
                _PROBE.rest_slowest = max(_PROBE.rest_slowest, time.perf_counter() - t0)

        async def aclose(self) -> None:
            await inner.aclose()

    return Counting()


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
    stays connected), with a progress line every 10 s; the seconds it took.

    The starts are paced evenly over one heartbeat interval (or slower, at the client's
    own pace): chats start at independent times, so a host's heartbeat ticks are spread
    over the interval. Both clients get the same pacing. Without it the bare clients,
    connected in a burst, ticked together and shared scheduler passes (1,923 passes against
    the library's 5,087 for the same heartbeats under --profile, 1.45 x), and with only the
    bare clients spread the ratio turned to 0.73 x: the figure measured the phases."""
    reporter = trio.CancelScope()

    async def report() -> None:
        with reporter:
            while True:
                await trio.sleep(10)
                progress(f"{label}: {connected()}/{len(args)} connected{_changes_text()}")

    t0 = time.perf_counter()
    nursery.start_soon(report)
    step = HEARTBEAT_INTERVAL / max(1, len(args))
    start = trio.current_time()
    async with trio.open_nursery() as starters:
        for i, arg in enumerate(args):
            await trio.sleep_until(start + i * step)
            starters.start_soon(nursery.start, one, arg)
    reporter.cancel()
    return time.perf_counter() - t0


PROFILE = False  # --profile: cProfile the idle windows of each child
GC_FREEZE = False  # --gc-freeze


def _maybe_freeze(connected: int) -> None:
    """With ``--gc-freeze``: ``gc.freeze()`` after every GC_FREEZE_EVERY connections, so
    the collector's full passes skip the participants already connected (each pass
    otherwise scans every object of every participant: seconds at 10,000)."""
    if GC_FREEZE and connected % GC_FREEZE_EVERY == 0:
        gc.freeze()


async def _serve_windows(
    result: dict[str, Any], after: Callable[[], dict[str, Any]] | None = None
) -> None:
    """Print ``result`` (the child is connected) as one JSON line, then answer the parent's
    commands on stdin: ``window S`` idles S seconds and prints that window's CPU (and
    ``after()``); ``exit`` (or EOF) ends the process at once, skipping the teardown of its
    connections (closing 10,000 actors takes about a minute and measures nothing asked for;
    the emulator sees the sockets close)."""
    result["library_warnings"] = dict(_WARNINGS.counts)
    result["state_changes"] = dict(_CHANGES)
    print(json.dumps(result), flush=True)
    stdin = trio.wrap_file(sys.stdin)
    while True:
        words = (await stdin.readline()).split()
        if not words or words[0] != "window":
            sys.stdout.flush()
            os._exit(0)
        window = float(words[1])
        prof = cProfile.Profile(time.process_time) if PROFILE else None
        cpu0 = time.process_time()
        if prof is not None:
            prof.enable()
        await trio.sleep(window)
        if prof is not None:
            prof.disable()
        out: dict[str, Any] = {"window_s": window, "window_cpu_s": time.process_time() - cpu0}
        if prof is not None:
            total, layers = profile_layers(prof)
            text = io.StringIO()
            pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(15)
            out["profile"] = {
                "total_s": total,
                "layers_share": {k: v / total for k, v in layers.items()},
                "top": text.getvalue(),
            }
        if after is not None:
            out.update(after())
        print(json.dumps(out), flush=True)


async def child_library(
    endpoint: Endpoint,
    tokens: list[str],
    trace: bool,
    subscribe_timeout: float | None,
) -> None:
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
    from participant.api import ParticipantClient, default_transport

    gc.callbacks.append(_PROBE.gc_callback)
    transport = _counting_transport(endpoint.http_transport() or default_transport(endpoint.url))
    async with (
        ParticipantClient(endpoint_url=endpoint.url, transport=transport) as client,
        trio.open_nursery() as probes,
    ):
        probes.start_soon(_PROBE.watch_lag)
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
                    token,
                    client=client,
                    config=config,
                    websocket_connector=connector,
                    on_state_change=_count_change,
                ) as p:
                    limit.release()
                    held = False
                    participants.append(p)
                    _maybe_freeze(len(participants))
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
            renewals = sum(p.stats.renewals for p in participants)

            def count_window() -> dict[str, Any]:
                nonlocal renewals
                before, renewals = renewals, sum(p.stats.renewals for p in participants)
                return {
                    "renewals": renewals - before,
                    "drops": sum(p.stats.drops for p in participants),
                }

            result["connect_timeline"] = _PROBE.windows
            await _serve_windows(result, after=count_window)
            stop.set()
            probes.cancel_scope.cancel()


async def child_bare(endpoint: Endpoint, tokens: list[str]) -> None:
    import trio_websocket

    context = endpoint.ssl_context()

    n = len(tokens)
    # CreateParticipantConnection for all first (timed, 20 at a time: the pool's keep-alive),
    # so the HTTP garbage is not counted as websocket memory (the emulator's URL open
    # window is lifted for this benchmark)
    t0 = time.perf_counter()
    urls = await websocket_urls(endpoint, tokens, 20)
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
                _maybe_freeze(connected)
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

    gc.callbacks.append(_PROBE.gc_callback)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_PROBE.watch_lag)
        open_s = await _start_all(nursery, one, urls, "bare", lambda: connected)
        progress(f"bare: {n} connected in {open_s:.1f} s (+ {urls_s:.1f} s for the URLs)")
        rss1 = _rss()
        result: dict[str, Any] = {
            "n": n,
            "connect_s": urls_s + open_s,
            "urls_s": urls_s,
            "open_s": open_s,
            "rss_bytes_per_participant": (rss1 - rss0) / n,
            "connect_timeline": _PROBE.windows,
        }
        seen = echoes

        def count_window() -> dict[str, Any]:
            nonlocal seen
            before, seen = seen, echoes
            return {"heartbeat_echoes": seen - before}

        await _serve_windows(result, after=count_window)


class Monitor:
    """A thread printing, every ``interval`` s, the CPU share of the emulator and of each
    child process over the last interval, the 1-minute load average and the emulator's
    RSS: whether a slow phase is the emulator, the client or the machine."""

    def __init__(self, interval: float = 10.0) -> None:
        import threading

        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.samples: list[dict[str, Any]] = []

    def __enter__(self) -> Monitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        from _common import EMULATOR_PIDS

        procs: dict[int, psutil.Process] = {}
        last: dict[int, float] = {}
        t_last = time.monotonic()
        while not self._stop.wait(self.interval):
            now = time.monotonic()
            seen: dict[int, str] = {pid: "emulator" for pid in EMULATOR_PIDS}
            for c in psutil.Process().children():
                if c.pid not in seen:
                    try:
                        cmd = c.cmdline()
                    except psutil.Error:
                        continue
                    if "--child" in cmd:
                        seen[c.pid] = cmd[cmd.index("--child") + 1]
            shares: dict[str, float] = {}
            emulator_rss = 0
            for pid, name in seen.items():
                proc = procs.setdefault(pid, psutil.Process(pid))
                try:
                    times = proc.cpu_times()
                    if name == "emulator":
                        emulator_rss = proc.memory_info().rss
                except psutil.Error:
                    continue
                total = times.user + times.system
                if pid in last:
                    shares[name] = (total - last[pid]) / (now - t_last)
                last[pid] = total
            t_last = now
            sample = {
                "t": round(time.time() - _T0, 1),
                "cpu": {k: round(v, 3) for k, v in shares.items()},
                "loadavg": os.getloadavg()[0],
                "emulator_rss_mb": round(emulator_rss / 2**20),
            }
            self.samples.append(sample)
            cpu = ", ".join(f"{k} {v:.0%}" for k, v in shares.items())
            progress(
                f"monitor: CPU {cpu}; load {sample['loadavg']:.1f}; "
                f"emulator RSS {sample['emulator_rss_mb']} MB"
            )


class Child:
    """One measurement in a fresh process (its progress lines pass through to stderr):
    :meth:`ready` once it is connected, then :meth:`window` any number of times (several
    children may idle through the same window), then :meth:`close`."""

    def __init__(
        self,
        kind: str,
        endpoint: Endpoint,
        tokens_file: str,
        n: int,
        *,
        offset: int = 0,
        trace: bool = False,
        subscribe_timeout: float | None = None,
        profile: bool = False,
    ) -> None:
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
            "--token-offset",
            str(offset),
        ]
        if trace:
            args.append("--tracemalloc")
        if profile:
            args.append("--profile")
        if GC_FREEZE:
            args.append("--gc-freeze")
        if subscribe_timeout is not None:
            args += ["--subscribe-timeout", str(subscribe_timeout)]
        self.name = f"{kind} {n}{' (tracemalloc)' if trace else ''}"
        progress(f"{self.name}: start")
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        readable, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if readable else ""
        if not line:
            self.proc.kill()
            why = "no answer" if not readable else f"exit {self.proc.wait()}"
            raise RuntimeError(f"child {self.name}: {why} within {timeout:.0f} s (stderr above)")
        return dict(json.loads(line))

    def _send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def ready(self) -> dict[str, Any]:
        """Wait until connected: the child's connect and memory figures."""
        return self._read(CHILD_TIMEOUT)

    def start_window(self, seconds: float) -> None:
        self._send(f"window {seconds}")

    def window_result(self, seconds: float) -> dict[str, Any]:
        return self._read(seconds + 120)

    def close(self) -> None:
        """End the child (idempotent)."""
        if self.proc.poll() is not None:
            return
        try:
            self._send("exit")
        except BrokenPipeError:  # it died: its stderr said why
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def new_chats(endpoint: Endpoint, tokens_file: str, n: int) -> str:
    """Start ``n`` chats now and write their customers' ParticipantTokens to
    ``tokens_file``; returns it. Each child gets chats started just before it connects:
    a participant must first call CreateParticipantConnection within 5 minutes of
    joining (protocol §2; the emulator enforces it), and a run of 10,000 takes longer
    than that from its start."""
    t0 = time.perf_counter()
    tokens = trio.run(_tokens, endpoint, n)
    with open(tokens_file, "w") as f:
        f.write("\n".join(tokens))
    progress(f"started {n} chats in {time.perf_counter() - t0:.1f} s")
    return tokens_file


def measure_pair(
    endpoint: Endpoint,
    tmp: str,
    n: int,
    windows: int,
    window: float,
    subscribe_timeout: float | None,
    profile: bool,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Library and bare clients (on different chats), connected one after the other, then
    idling through the same ``windows`` windows at once, so the machine's load hits both
    sides of each window's ratio alike. Returns (library, bare) results; each has its
    per-window CPU and the median of the per-window ratios."""
    lib_tokens = new_chats(endpoint, os.path.join(tmp, f"library-{n}"), n + 1)
    lib = Child(
        "library", endpoint, lib_tokens, n, subscribe_timeout=subscribe_timeout, profile=profile
    )
    paired = n <= PAIRED_UP_TO
    lib_w: list[dict[str, Any]] = []
    bare_w: list[dict[str, Any]] = []
    try:
        lib_res = lib.ready()
        progress(f"library {n}: connected in {lib_res['connect_s']:.1f} s")
        if not paired:  # the library idles alone, then leaves the machine to the bare client
            for i in range(windows):
                lib.start_window(window)
                lib_w.append(lib.window_result(window))
                progress(f"{n}: library idle window {i + 1}/{windows} done")
            lib.close()
        bare_tokens = new_chats(endpoint, os.path.join(tmp, f"bare-{n}"), n)
        bare = Child("bare", endpoint, bare_tokens, n, profile=profile)
        try:
            bare_res = bare.ready()
            for i in range(windows):
                if paired:
                    lib.start_window(window)
                bare.start_window(window)
                if paired:
                    lib_w.append(lib.window_result(window))
                bare_w.append(bare.window_result(window))
                progress(f"{n}: idle window {i + 1}/{windows} done")
        finally:
            bare.close()
    finally:
        lib.close()
    # paired: the ratio of each window, both idling through it; apart: of the i-th windows
    ratios = [
        (a["window_cpu_s"] / lib_res["n"]) / (b["window_cpu_s"] / bare_res["n"])
        for a, b in zip(lib_w, bare_w, strict=True)
    ]
    lib_res["paired_windows"] = paired
    for res, ws in ((lib_res, lib_w), (bare_res, bare_w)):
        res["windows"] = [{k: v for k, v in w.items() if k != "profile"} for w in ws]
        res["window_s"] = window
        res["window_cpu_s"] = median([w["window_cpu_s"] for w in ws])
        if ws and "profile" in ws[0]:
            res["profile"] = ws[0]["profile"]
    lib_res["drops"] = lib_w[-1]["drops"] if lib_w else 0
    lib_res["cpu_ratios_to_bare"] = ratios
    lib_res["cpu_ratio_to_bare"] = median(ratios)
    return lib_res, bare_res


def measure_one(
    endpoint: Endpoint, tokens_file: str, n: int, window: float, trace: bool = False
) -> dict[str, Any]:
    """One library child alone: connected, one idle window (none with ``trace``)."""
    child = Child("library", endpoint, tokens_file, n, trace=trace)
    try:
        res = child.ready()
        if not trace:
            child.start_window(window)
            res.update(child.window_result(window))
    finally:
        child.close()
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument(
        "--window",
        type=float,
        default=10.0,
        help="idle CPU window, s (a multiple of the 10 s heartbeat interval)",
    )
    parser.add_argument(
        "--windows", type=int, default=None, help="idle windows per size (default 5; quick 3)"
    )
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
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the idle window (own time by layer, top functions) of both clients",
    )
    parser.add_argument(
        "--emulator-log",
        default=None,
        metavar="PATH",
        help="write the emulator's log (INFO: each socket opened and closed, and why) here",
    )
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help=f"both clients call gc.freeze() after every {GC_FREEZE_EVERY} connections",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    add_endpoint_arguments(parser)
    parser.add_argument("--tokens-file", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--token-offset", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        die_with_parent()
        global PROFILE, GC_FREEZE
        PROFILE = args.profile
        GC_FREEZE = args.gc_freeze
        off = args.token_offset
        if args.child == "library":
            tokens = _read_tokens(args.tokens_file, off + args.n + 1)[off:]
            trio.run(
                child_library,
                endpoint_from(args),
                tokens,
                args.tracemalloc,
                args.subscribe_timeout,
            )
        else:
            tokens = _read_tokens(args.tokens_file, off + args.n)[off:]
            trio.run(child_bare, endpoint_from(args), tokens)
        return
    GC_FREEZE = args.gc_freeze
    if args.quick:
        args.sizes = "1000"
    if args.windows is None:
        args.windows = 3 if args.quick else 5
    if args.window % HEARTBEAT_INTERVAL:
        parser.error(
            f"--window must be a multiple of {HEARTBEAT_INTERVAL:g} s (one heartbeat each)"
        )
    sizes = [int(s) for s in args.sizes.split(",")]
    renew_n = 100  # a renewal wave, not a storm
    renew_window = 30.0

    results: dict[str, Any] = {
        "sizes": {},
        "window_s": args.window,
        "windows": args.windows,
        "subscribe_timeout": args.subscribe_timeout,
        "tls": args.tls,
        "gc_freeze_every": GC_FREEZE_EVERY if args.gc_freeze else None,
        "emulator_gc_freeze_every_s": EMULATOR_GC_FREEZE_EVERY,
    }
    trace: dict[str, Any] | None = None
    monitor = Monitor()
    with tempfile.TemporaryDirectory() as tmp, monitor:
        tokens_file = os.path.join(tmp, "tokens")
        with emulator_process(
            "--url-open-window",
            "3600",
            # the chats start just before their child connects, but a 10,000 connect on a
            # loaded machine can outlast the 5 minutes (the harness's pace, not a host's)
            "--participant-token-first-use-window",
            "3600",
            tls=args.tls,
            log_file=args.emulator_log,
            gc_freeze_every=EMULATOR_GC_FREEZE_EVERY,
        ) as endpoint:
            for n in sizes:
                lib, bare = measure_pair(
                    endpoint,
                    tmp,
                    n,
                    args.windows,
                    args.window,
                    args.subscribe_timeout,
                    args.profile,
                )
                results["sizes"][str(n)] = {"library": lib, "bare": bare}
                progress(
                    f"{n}: library {lib['rss_bytes_per_participant'] / 1024:.1f} KiB, "
                    f"bare {bare['rss_bytes_per_participant'] / 1024:.1f} KiB"
                )
            if args.tracemalloc:
                new_chats(endpoint, tokens_file, min(sizes) + 1)
                trace = measure_one(endpoint, tokens_file, min(sizes), 0.0, trace=True)
                results["tracemalloc"] = trace
        # renewals: a second emulator with ConnectionExpiry 20 s (renewal 4 s before it)
        with emulator_process("--connection-expiry", "20", tls=args.tls) as endpoint:
            new_chats(endpoint, tokens_file, renew_n + 1)
            renew = measure_one(endpoint, tokens_file, renew_n, renew_window)
    results["monitor"] = monitor.samples
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
                lib["cpu_ratio_to_bare"],
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
    for n_text, both in results["sizes"].items():
        for kind in ("library", "bare"):
            prof = both[kind].get("profile")
            if prof is None:
                continue
            shares = ", ".join(f"{k} {v:.0%}" for k, v in list(prof["layers_share"].items())[:8])
            print(f"\ncProfile of the idle window, {kind} at {n_text}: {shares}")
            print(prof["top"])
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
    # a run of sizes above PAIRED_UP_TO only (e.g. --sizes 10000) has its own result file,
    # so the summary keeps the paired 1,000 run beside it
    name = "scale" if min(sizes) <= PAIRED_UP_TO else f"scale_{max(sizes) // 1000}k"
    path = write_result(f"{name}_tls" if args.tls else name, results)
    print(f"\nwrote {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
