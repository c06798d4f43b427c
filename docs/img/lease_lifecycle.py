"""Draw docs/img/lease_lifecycle.png: a chat lease's states (top) and a failover on a time
line (bottom), with the numbers of participant.fleet's defaults (lease TTL 30 s, renewal
every TTL/3, claims every 2 s, local deadline 0.9 TTL after a renewal's start).

python docs/img/lease_lifecycle.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

OUT = Path(__file__).resolve().parent / "lease_lifecycle.png"

TTL = 30.0


def box(ax: plt.Axes, x: float, y: float, text: str, color: str) -> None:
    ax.add_patch(FancyBboxPatch((x - 0.1, y - 0.075), 0.2, 0.15,
                                boxstyle="round,pad=0.02", fc=color, ec="black", lw=1.2))
    ax.text(x, y, text, ha="center", va="center", fontsize=10)


def arrow(ax: plt.Axes, a: tuple[float, float], b: tuple[float, float], label: str,
          rad: float = 0.0, offset: tuple[float, float] = (0, 0)) -> None:
    ax.annotate("", xy=b, xytext=a,
                arrowprops={"arrowstyle": "-|>", "lw": 1.3, "color": "#333",
                            "connectionstyle": f"arc3,rad={rad}"})
    mx, my = (a[0] + b[0]) / 2 + offset[0], (a[1] + b[1]) / 2 + offset[1]
    ax.text(mx, my, label, ha="center", va="center", fontsize=8.5,
            bbox={"fc": "white", "ec": "none", "alpha": 0.9, "pad": 1})


def states(ax: plt.Axes) -> None:
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    ax.set_title("A chat's lease: every claim adds 1 to the epoch; every holder's write "
                 "compares (key, owner, epoch)", fontsize=11)
    free, held, expired, ended = (0.14, 0.55), (0.5, 0.55), (0.86, 0.55), (0.5, 0.1)
    box(ax, *free, "free\nowner: none", "#e8f0fe")
    box(ax, *held, "held\nowner W, epoch n", "#d7f5dd")
    box(ax, *expired, "expired\n(W silent ≥ TTL)", "#fde2e1")
    box(ax, *ended, "ended\n(never claimed)", "#eeeeee")
    arrow(ax, (free[0] + 0.1, free[1] + 0.04), (held[0] - 0.1, held[1] + 0.04),
          "claim: epoch n+1,\nexpiry now+TTL", offset=(0, 0.1))
    arrow(ax, (held[0] - 0.1, held[1] - 0.04), (free[0] + 0.1, free[1] - 0.04),
          "release: SIGTERM / stop (at once),\nfailure (after retry_after)", offset=(0, -0.1))
    ax.annotate("", xy=(held[0] + 0.05, held[1] + 0.075), xytext=(held[0] - 0.05, held[1] + 0.075),
                arrowprops={"arrowstyle": "-|>", "lw": 1.3, "color": "#333",
                            "connectionstyle": "arc3,rad=-1.6"})
    ax.text(held[0], held[1] + 0.3, "renew every TTL/3:\nexpiry now+TTL", ha="center",
            fontsize=8.5)
    arrow(ax, (held[0] + 0.1, held[1] + 0.04), (expired[0] - 0.1, expired[1] + 0.04),
          "no renewal\nfor TTL", offset=(0, 0.09))
    arrow(ax, (expired[0] - 0.1, expired[1] - 0.04), (held[0] + 0.1, held[1] - 0.04),
          "claim by W': epoch n+1;\nW's renew/send/cursor save\n→ LeaseLost, actor stopped",
          offset=(0, -0.15))
    arrow(ax, (held[0], held[1] - 0.075), (ended[0], ended[1] + 0.075), "chat ended",
          offset=(0.05, 0))


def timeline(ax: plt.Axes) -> None:
    ax.set_title("A failover: worker A is killed at t=45 s (TTL 30 s)", fontsize=11)
    ax.set_xlim(-2, 112)
    ax.set_ylim(-0.8, 2.0)
    ax.set_yticks([1.3, 0.3], ["worker A", "worker B"])
    ax.set_xlabel("seconds")
    renewals = [0, 10, 20, 30, 40]
    ax.broken_barh([(0, 45)], (1.1, 0.4), fc="#9ad0a6", ec="black")
    ax.broken_barh([(45, 40 + TTL - 45)], (1.1, 0.4), fc="#f4b6b2", ec="black", hatch="//")
    for t in renewals:
        ax.plot([t, t], [1.05, 1.55], color="black", lw=1)
    ax.text(20, 1.62, "claim (epoch 1), renewals every 10 s", ha="center", fontsize=8.5)
    ax.plot([45], [1.3], marker="X", markersize=12, color="red")
    ax.text(45, 1.62, "SIGKILL", ha="center", fontsize=8.5, color="red")
    ax.text(57.5, 1.3, "lease still A's\n(nobody sends)", ha="center", va="center", fontsize=8,
            bbox={"fc": "white", "ec": "none", "alpha": 0.9, "pad": 1})
    ax.axvline(40 + TTL, color="red", ls="--", lw=1)
    ax.text(40 + TTL, -0.7, "expiry = last renewal + TTL", ha="center", fontsize=8.5,
            color="red")
    for t in range(46, 72, 2):
        ax.plot([t], [0.3], marker="|", color="#555", markersize=8)
    ax.text(58, 0.62, "claims every 2 s find nothing free", ha="center", fontsize=8.5)
    claim = 72
    ax.broken_barh([(claim, 110 - claim)], (0.1, 0.4), fc="#9ad0a6", ec="black")
    ax.text(claim + 1, 0.3, "claim (epoch 2), jitter,\nshared rate, resume\nfrom the cursor",
            va="center", fontsize=8)
    ax.annotate("", xy=(claim, -0.15), xytext=(45, -0.15),
                arrowprops={"arrowstyle": "<->", "color": "#333"})
    ax.text((45 + claim) / 2, -0.38, "takeover = last renewal + TTL - kill + up to one claim "
            "interval (here 27 s; at most TTL + 2 s)", ha="center", fontsize=8.5)
    ax.grid(axis="x", alpha=0.3)


def main() -> Path:
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 8.5),
                                      gridspec_kw={"height_ratios": [1.25, 1]})
    states(top)
    timeline(bottom)
    fig.tight_layout()
    fig.savefig(OUT, dpi=110)
    plt.close(fig)
    return OUT


if __name__ == "__main__":
    print(main())
