"""Real worker processes: ``participant fleet run`` in a subprocess, its ``--events`` lines
read as they come (no polling), SIGTERM or SIGKILL on demand."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parents[2]
BOT = "tests/fleet/crash_bot.py:handle"


class WorkerProcess:
    def __init__(self, proc: trio.Process, owner: str) -> None:
        self.proc = proc
        self.owner = owner
        self.events: list[dict[str, Any]] = []
        self._buffer = b""

    @classmethod
    async def start(cls, store_url: str, endpoint_url: str, log_path: Path, owner: str,
                    *extra: str) -> WorkerProcess:
        env = dict(os.environ, FLEET_TEST_LOG=str(log_path), PYTHONPATH=str(ROOT))
        proc = await trio.lowlevel.open_process(
            [sys.executable, "-m", "participant.cli", "fleet", "run", "--store", store_url,
             "--handler", BOT, "--endpoint-url", endpoint_url, "--owner", owner, "--events",
             *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env,
        )
        worker = cls(proc, owner)
        await worker.next_event("running")
        return worker

    async def _line(self) -> bytes | None:
        assert self.proc.stdout is not None
        while b"\n" not in self._buffer:
            chunk = await self.proc.stdout.receive_some(65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    async def next_event(self, kind: str) -> dict[str, Any]:
        """Read events until one of ``kind`` (AssertionError if the process ends first)."""
        while True:
            line = await self._line()
            if line is None:
                raise AssertionError(f"{self.owner} ended before a {kind!r} event")
            event: dict[str, Any] = json.loads(line)
            self.events.append(event)
            if event["kind"] == kind:
                return event

    async def wait_events(self, kind: str, count: int) -> None:
        while sum(e["kind"] == kind for e in self.events) < count:
            await self.next_event(kind)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    async def wait(self) -> int:
        return await self.proc.wait()

    async def stderr(self) -> str:
        assert self.proc.stderr is not None
        data = b""
        while chunk := await self.proc.stderr.receive_some(65536):
            data += chunk
        return data.decode(errors="replace")

    async def aclose(self) -> None:
        if self.proc.returncode is None:
            self.kill()
        await self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                await stream.aclose()
