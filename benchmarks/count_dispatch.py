"""Dispatch, counted instead of timed: instructions the client process executes per item,
library against the bare trio-websocket loop, under ``valgrind --tool=cachegrind``.

Wall-clock rates on a shared machine drift by tens of percent between runs (see
docs/benchmarks.md, "Dispatch"); an instruction count does not. Each client runs twice
under cachegrind against the frame pump of ``bench_dispatch.py``: once receiving
``--items`` items after a 300-item warm-up connection, once with the warm-up only. The
difference divided by ``--items`` is the cost of one item from websocket frame to the
consumer (interpreter start, imports and connection set-up cancel out). It counts
instructions, not time: cache misses and system calls are not in it (both clients make the
same system calls per item, by strace). It is nearly, not fully, repeatable: trio runs
each batch of tasks in random order, so how frames and tasks interleave varies a little
(repeated runs: 1.05-1.08 x with 4,000 or 8,000 items; small ``--items`` spread wider).

    python benchmarks/count_dispatch.py              # 8,000 items (about a minute)
    python benchmarks/count_dispatch.py --items 1000
    python benchmarks/count_dispatch.py --socket-only   # and the socket layer alone
                                                        # (serve_socket, no actor)

Needs ``valgrind`` on PATH.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import bench_dispatch
import trio
from _common import die_with_parent, table, write_result

WARM_UP = 300
CLIENTS = {
    "participant (actor, async for)": "library",
    "bare trio-websocket + json.loads x2 (baseline)": "bare",
}
SOCKET_ONLY = "participant.socket only (on_item callback, no actor)"


def _child(which: str, url: str, n: int) -> None:
    die_with_parent()
    client = {
        "library": bench_dispatch.library,
        "bare": bench_dispatch.bare_loop,
        "socket": bench_dispatch.socket_only,
    }[which]
    trio.run(client, url, WARM_UP)
    if n:
        trio.run(client, url, n)


def _instructions(which: str, url: str, n: int) -> int:
    """Instructions of one child process run under cachegrind."""
    out = subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            which,
            "--url",
            url,
            "--n",
            str(n),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{out.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=8_000)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--url", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument(
        "--socket-only", action="store_true", help="also count participant.socket alone"
    )
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.url, args.n)
        return
    if shutil.which("valgrind") is None:
        sys.exit("count_dispatch.py needs valgrind (cachegrind) on PATH")

    proc, url = bench_dispatch.start_pump(max(args.items, WARM_UP), None)  # plain ws
    per_item: dict[str, float] = {}
    try:
        clients = {**CLIENTS, **({SOCKET_ONLY: "socket"} if args.socket_only else {})}
        for name, which in clients.items():
            print(f"{name}: counting...", file=sys.stderr, flush=True)
            empty = _instructions(which, url, 0)
            full = _instructions(which, url, args.items)
            per_item[name] = (full - empty) / args.items
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    bare = per_item["bare trio-websocket + json.loads x2 (baseline)"]
    rows = [[name, count, count / bare] for name, count in per_item.items()]
    print(f"Dispatch, instructions per item ({args.items:,} items, cachegrind)\n")
    print(table(["client", "instructions/item", "vs bare loop"], rows))
    library = per_item["participant (actor, async for)"]
    print(f"\nlibrary executes {library / bare:.2f} x the bare loop's instructions per item")
    path = write_result(
        "dispatch_instructions",
        {"items": args.items, "instructions_per_item": per_item, "vs_bare": library / bare},
    )
    print(f"\nwrote {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
