"""Plots of the scale and renewal results (benchmarks/results/*.json) into docs/img/.

python benchmarks/plot.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
OUT = ROOT / "docs" / "img"


def plot_scale() -> Path | None:
    path = RESULTS / "scale.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    sizes = sorted(data["sizes"], key=int)
    lib = [data["sizes"][n]["library"]["rss_bytes_per_participant"] / 1024 for n in sizes]
    bare = [data["sizes"][n]["bare"]["rss_bytes_per_participant"] / 1024 for n in sizes]
    lib_t = [data["sizes"][n]["library"]["connect_s"] for n in sizes]
    bare_t = [data["sizes"][n]["bare"]["connect_s"] for n in sizes]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    x = range(len(sizes))
    w = 0.38
    ax1.bar([i - w / 2 for i in x], lib, w, label="participant (subscribed, idle)")
    ax1.bar([i + w / 2 for i in x], bare, w, label="bare trio-websocket (baseline)")
    ax1.axhline(48, color="red", linestyle="--", linewidth=1, label="target 48 KiB")
    ax1.set_xticks(list(x), [f"{int(n):,}" for n in sizes])
    ax1.set_xlabel("participants in one process")
    ax1.set_ylabel("resident memory per participant (KiB)")
    ax1.set_title("Memory per participant")
    ax1.set_ylim(0, 75)  # room for the legend above the target line
    ax1.legend(fontsize=8, loc="upper left")
    ax2.bar([i - w / 2 for i in x], lib_t, w, label="participant")
    ax2.bar([i + w / 2 for i in x], bare_t, w, label="bare trio-websocket")
    ax2.set_xticks(list(x), [f"{int(n):,}" for n in sizes])
    ax2.set_xlabel("participants in one process")
    ax2.set_ylabel("seconds to connect all (20 at a time)")
    ax2.set_title("Time to connect")
    ax2.legend(fontsize=8)
    return _save(fig, "scale.png")


def plot_renewal() -> Path | None:
    path = RESULTS / "renewal.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())["scenarios"]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for name, run in data.items():
        tl = run["timeline"]
        if not tl["t_s"]:
            continue
        ax.plot(
            tl["t_s"],
            tl["delay_ms"],
            ".",
            markersize=1.5,
            label=f"{name} (dup {run['duplicated']}, lost {run['lost']})",
        )
    ax.set_yscale("log")
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("delay of each item (ms, log)")
    first = next(iter(data.values()))
    ax.set_title(
        f"{first['rate']:.0f} messages/s on loopback: delay from AbsoluteTime to `async for`"
    )
    ax.legend(fontsize=7, markerscale=6, loc="upper left")
    return _save(fig, "renewal.png")


def _save(fig: Any, name: str) -> Path:
    """Lay out ``fig``, write it to docs/img/``name`` and close it."""
    fig.tight_layout()
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / name
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main() -> None:
    for made in (plot_scale(), plot_renewal()):
        if made is not None:
            print(f"wrote {made.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
