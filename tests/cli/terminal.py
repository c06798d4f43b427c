"""Run the real ``participant`` command in a subprocess: on a pseudo-terminal (stdin,
stdout and stderr all a terminal, as when a person types) or with pipes."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence

import trio

COMMAND = (sys.executable, "-m", "participant.cli")
ROW = re.compile(r"^(\d\d:\d\d:\d\d)  ", re.M)


def environment(**extra: str) -> dict[str, str]:
    """A small environment for the command: no token, region or endpoint inherited."""
    env = {"PATH": os.environ.get("PATH", ""), "NO_COLOR": "1", "LANG": "C.UTF-8"}
    env.update(extra)
    return env


class Terminal:
    """The command on a pseudo-terminal; :meth:`expect` waits (bounded) for output."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str]) -> None:
        master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [*COMMAND, *args], stdin=slave, stdout=slave, stderr=slave, env=dict(env),
            close_fds=True, start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.output = ""
        self._seen = 0

    async def _read(self) -> bool:
        await trio.lowlevel.wait_readable(self.master)
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the command exited and the terminal closed
            return False
        if not data:
            return False
        self.output += data.decode("utf-8", "replace").replace("\r\n", "\n")
        return True

    async def expect(self, text: str, within: float = 30) -> str:
        """Wait until ``text`` appears after what earlier calls matched; returns the output
        up to it. Fails after ``within`` seconds or when the command exits first."""
        with trio.fail_after(within):
            while (at := self.output.find(text, self._seen)) < 0:
                if not await self._read():
                    raise AssertionError(f"exited before {text!r}:\n{self.output}")
        self._seen = at + len(text)
        return self.output[:at]

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def interrupt(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    async def wait(self, within: float = 30) -> int:
        """The exit status, reading the rest of the output meanwhile."""
        with trio.fail_after(within):
            while await self._read():
                pass
            return await trio.to_thread.run_sync(self.proc.wait)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


async def run(
    args: Sequence[str], env: Mapping[str, str], stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    """The command with pipes (not a terminal), to completion."""
    return await trio.run_process(
        [*COMMAND, *args], stdin=stdin, capture_stdout=True, capture_stderr=True,
        env=dict(env), check=False,
    )
