"""Fleet failover: two real worker processes (``participant fleet run``, examples/fleet_bot.py's
handler) on one SQLite store and the loopback emulator (rate limits on); worker A holds every
chat, worker B idles; A is killed with SIGKILL and B takes the chats over.

Reports, per lease TTL: the time from the kill to the first / median / last chat connected
again on B (and the last as a multiple of the TTL); the start-up rate (chats connected per
second by one worker at the default resume rate); and, for a mass failover, the
CreateParticipantConnection and GetTranscript calls per second the emulator saw (peak 1-second
window) and how many were throttled (limits 6/s and 8/s, protocol.md §8).

    PYTHONPATH=. python benchmarks/bench_fleet.py [--quick]

Results: benchmarks/results/fleet.json.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import trio
from _common import ROOT, median, table, write_result

from participant.emulator import EmulatorConfig, serve
from participant.store import open_store

HANDLER = str(ROOT / "examples" / "fleet_bot.py") + ":handle"


class Worker:
    """``participant fleet run --events`` in a child process (dies with this one)."""

    def __init__(self, proc: trio.Process, owner: str) -> None:
        self.proc = proc
        self.owner = owner
        self.events: list[tuple[float, dict[str, Any]]] = []
        self._buffer = b""

    @classmethod
    async def start(
        cls, store_url: str, endpoint_url: str, owner: str, ttl: float, max_chats: int
    ) -> Worker:
        code = (
            f"import sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import _common; "
            "_common.die_with_parent(); from participant.cli import main; "
            "sys.exit(main(sys.argv[1:]))"
        )
        proc = await trio.lowlevel.open_process(
            [
                sys.executable,
                "-c",
                code,
                "fleet",
                "run",
                "--store",
                store_url,
                "--handler",
                HANDLER,
                "--endpoint-url",
                endpoint_url,
                "--owner",
                owner,
                "--lease-ttl",
                str(ttl),
                "--max-chats",
                str(max_chats),
                "--events",
            ],
            stdout=subprocess.PIPE,
            cwd=ROOT,
        )
        worker = cls(proc, owner)
        await worker.until("running", 1)
        return worker

    def count(self, kind: str) -> int:
        return sum(e["kind"] == kind for _, e in self.events)

    async def until(self, kind: str, count: int) -> None:
        assert self.proc.stdout is not None
        while self.count(kind) < count:
            while b"\n" not in self._buffer:
                chunk = await self.proc.stdout.receive_some(65536)
                if not chunk:
                    raise RuntimeError(f"worker {self.owner} ended")
                self._buffer += chunk
            line, _, self._buffer = self._buffer.partition(b"\n")
            self.events.append((trio.current_time(), json.loads(line)))

    def times(self, kind: str) -> list[float]:
        return [t for t, e in self.events if e["kind"] == kind]

    async def close(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        with trio.move_on_after(10):
            await self.proc.wait()
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


async def failover(ttl: float, chats: int) -> dict[str, Any]:
    calls: list[tuple[float, str, bool]] = []
    async with serve(EmulatorConfig()) as server:
        service = server.emulator.service
        original = service.call

        def counted(operation: str, *args: Any) -> Any:
            try:
                answer = original(operation, *args)
            except Exception as exc:
                calls.append(
                    (
                        trio.current_time(),
                        operation,
                        getattr(exc, "code", "") == "ThrottlingException",
                    )
                )
                raise
            calls.append((trio.current_time(), operation, False))
            return answer

        service.call = counted
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite://{Path(tmp) / 'fleet.db'}"
            server.emulator.faults.set_rate_limits(False)  # StartChatContact is 5/s
            async with open_store(url) as store:
                for _ in range(chats):
                    chat = await server.emulator.start_chat()
                    bot = await server.emulator.add_participant(chat.contact_id, role="CUSTOM_BOT")
                    await store.submit(bot.participant_token, key=chat.contact_id)
            server.emulator.faults.set_rate_limits(True)
            a = await Worker.start(url, server.endpoint_url, "a", ttl, chats)
            b: Worker | None = None
            try:
                started = trio.current_time()
                await a.until("connected", chats)
                startup = trio.current_time() - started
                b = await Worker.start(url, server.endpoint_url, "b", ttl, chats)
                await trio.sleep(ttl / 2)  # a renewal or so: the kill lands mid-lease
                killed = trio.current_time()
                a.proc.kill()
                await a.proc.wait()
                with trio.fail_after(ttl * 4 + chats):
                    await b.until("connected", chats)
                back = sorted(t - killed for t in b.times("connected"))
                claimed = sorted(t - killed for t in b.times("claimed"))
            finally:
                await a.close()
                if b is not None:
                    await b.close()
    window = [(t - killed, op, throttled) for t, op, throttled in calls if t >= killed]
    per_second: dict[str, Counter[int]] = {
        "CreateParticipantConnection": Counter(),
        "GetTranscript": Counter(),
    }
    for t, op, _ in window:
        if op in per_second:
            per_second[op][int(t)] += 1
    return {
        "ttl_s": ttl,
        "chats": chats,
        "startup_s": startup,
        "startup_chats_per_s": chats / startup,
        "first_claim_s": claimed[0],
        "first_back_s": back[0],
        "median_back_s": median(back),
        "last_back_s": back[-1],
        "last_back_over_ttl": back[-1] / ttl,
        "peak_create_per_s": max(per_second["CreateParticipantConnection"].values(), default=0),
        "peak_get_transcript_per_s": max(per_second["GetTranscript"].values(), default=0),
        "get_transcript_calls": sum(per_second["GetTranscript"].values()),
        "throttled": sum(1 for _, _, throttled in window if throttled),
        "back_s": back,
    }


async def main(quick: bool) -> dict[str, Any]:
    ttls = (1.0, 2.0) if quick else (1.0, 2.0, 4.0, 8.0)
    per_ttl = [await failover(ttl, 4 if quick else 8) for ttl in ttls]
    mass = await failover(2.0, 16 if quick else 40)
    return {"per_ttl": per_ttl, "mass": mass}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer TTLs and chats")
    args = parser.parse_args()
    wall = time.time()
    result = trio.run(main, args.quick)
    rows = [
        [
            r["ttl_s"],
            r["chats"],
            r["first_claim_s"],
            r["first_back_s"],
            r["median_back_s"],
            r["last_back_s"],
            r["last_back_over_ttl"],
        ]
        for r in result["per_ttl"]
    ]
    print(
        table(
            [
                "TTL s",
                "chats",
                "first claim s",
                "first back s",
                "median back s",
                "last back s",
                "last / TTL",
            ],
            rows,
        )
    )
    m = result["mass"]
    print(
        f"\nmass failover: {m['chats']} chats, TTL {m['ttl_s']:.0f} s: all back after "
        f"{m['last_back_s']:.1f} s; peak CreateParticipantConnection {m['peak_create_per_s']}/s,"
        f" GetTranscript {m['peak_get_transcript_per_s']}/s ({m['get_transcript_calls']} "
        f"calls), throttled {m['throttled']}; one worker starts "
        f"{m['startup_chats_per_s']:.1f} chats/s"
    )
    path = write_result("fleet", {"quick": args.quick, "wall_s": time.time() - wall, **result})
    print(f"\nresults: {path.relative_to(ROOT)}")
