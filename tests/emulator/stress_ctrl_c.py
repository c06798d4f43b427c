"""Ctrl-C at varied moments: start ``participant emulator --port 0 [--tls]``, send SIGINT a
varied few microseconds after the banner, and count runs that do not exit (with 130) within
10 s. Not a test (slow, a rate); run by hand after touching the CLI's or serve()'s shutdown:

    python tests/emulator/stress_ctrl_c.py 60 --tls

Before the fix of 2026-12 about 1 run in 10 hung: the SIGINT landed while one of
hypercorn's tasks ran, hypercorn caught the KeyboardInterrupt and returned, and the CLI
slept on with no server.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def once(tls: bool) -> int | None:
    """The exit status, or None when the emulator did not exit within 10 s of the SIGINT."""
    args = [sys.executable, "-m", "participant.cli", "emulator", "--port", "0"]
    proc = subprocess.Popen(
        args + (["--tls"] if tls else []), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("Start a chat with boto3"):
            break
    delay = random.choice([0, 0, 0, 1e-5, 1e-4, 3e-4, 1e-3])
    if delay:
        time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    try:
        proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None
    return proc.returncode


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    statuses = [once("--tls" in sys.argv) for _ in range(runs)]
    hung = statuses.count(None)
    other = [s for s in statuses if s not in (None, 130)]
    print(f"runs {runs}  hung {hung}  exit 130: {statuses.count(130)}  other: {other}")


if __name__ == "__main__":
    main()
