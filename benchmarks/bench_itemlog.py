"""Micro-benchmark of ItemLog's per-item bookkeeping (the actor's hot path).

µs per item of ``accept`` + ``delivered`` + ``acked`` (manual ack, acknowledged at once),
of ``delivered`` alone with nothing acknowledged (beyond ``max_ids`` every call evicts),
and of ``acked`` of those items afterwards, for this tree's ``participant/core/log.py``
and, with ``--baseline REV``, for that revision's (loaded from git into the same process;
blocks interleaved, the best of ``--repeat`` kept, so a loaded machine hurts both alike).

    python benchmarks/bench_itemlog.py --baseline HEAD~1
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from participant.core import log as current
from participant.model import Item, parse_item

N = 20_000
MAX_IDS = 2048


def _items() -> list[Item]:
    out = []
    for i in range(N):
        millis = i * 7
        second, ms = divmod(millis, 1000)
        stamp = f"2026-12-01T{10 + second // 3600:02d}:{second // 60 % 60:02d}:" \
                f"{second % 60:02d}.{ms:03d}Z"
        out.append(parse_item({"Id": f"m{i}", "AbsoluteTime": stamp, "Type": "MESSAGE",
                               "ContentType": "text/plain", "Content": "hi",
                               "ParticipantRole": "AGENT"}))
    return out


def _baseline(rev: str) -> ModuleType:
    root = Path(__file__).resolve().parent.parent
    source = subprocess.run(["git", "show", f"{rev}:participant/core/log.py"], cwd=root,
                            check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "log.py"
    path.write_text(source)
    name = "participant.core._log_baseline"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _scenarios(module: Any, items: list[Item]) -> dict[str, Callable[[], float]]:
    def acked_at_once() -> float:
        log = module.ItemLog(600, MAX_IDS, 5)
        accept, delivered, acked = log.accept, log.delivered, log.acked
        start = time.perf_counter()
        for item in items:
            out = accept(item)
            delivered(out)
            acked(out)
        return time.perf_counter() - start

    def delivered_unacked() -> float:
        log = module.ItemLog(600, MAX_IDS, 5)
        for item in items:
            log.accept(item)
        delivered = log.delivered
        start = time.perf_counter()
        for item in items:
            delivered(item)
        return time.perf_counter() - start

    def acked_late() -> float:
        log = module.ItemLog(600, MAX_IDS, 5)
        for item in items:
            log.delivered(log.accept(item))
        acked = log.acked
        start = time.perf_counter()
        for item in items:
            acked(item)
        return time.perf_counter() - start

    return {"accept+delivered+acked": acked_at_once,
            "delivered (never acked; evicting)": delivered_unacked,
            "acked after all delivered": acked_late}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", metavar="REV", help="git revision to compare with")
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    items = _items()
    runs = {"this tree": _scenarios(current, items)}
    if args.baseline:
        runs[args.baseline] = _scenarios(_baseline(args.baseline), items)
    best: dict[tuple[str, str], float] = {}
    for _ in range(args.repeat):
        for label, scenarios in runs.items():
            for name, fn in scenarios.items():
                elapsed = fn() / N * 1e6
                key = (label, name)
                best[key] = min(best.get(key, elapsed), elapsed)
    for name in runs["this tree"]:
        line = f"{name:36s} this tree {best['this tree', name]:6.3f} µs/item"
        if args.baseline:
            base = best[args.baseline, name]
            ratio = best["this tree", name] / base
            line += f"   {args.baseline} {base:6.3f} µs/item   ratio {ratio:.2f}"
        print(line)


if __name__ == "__main__":
    main()
