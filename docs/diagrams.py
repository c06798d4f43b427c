"""Draw the docs' pictures with matplotlib: the state diagram from the machine's own table
(``participant.machine``) and a timeline of a renewal and of a reconnect with gap fill.

    python docs/diagrams.py            # writes docs/img/states.svg and docs/img/timeline.svg
    python docs/diagrams.py OUT_DIR    # somewhere else (--png: a PNG of each too)

Needs matplotlib (the ``test`` and ``bench`` extras install it). The state diagram's SVG
carries a digest of the state table in its metadata, so a test can tell it is current.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from participant.machine import MACHINE, State, edges

OUT = Path(__file__).resolve().parent / "img"

plt.rcParams.update(
    {
        "svg.fonttype": "none",  # text stays text: searchable, and testable
        "svg.hashsalt": "participant-docs",  # stable ids: the same table, the same file
        "font.size": 10,
    }
)

# Where each state is drawn (presentation only; the edges come from the machine).
POSITIONS: dict[str, tuple[float, float]] = {
    State.TOKEN: (0.0, 3.0),
    State.CONNECTED: (4.0, 3.0),
    State.SUBSCRIBED: (8.0, 3.0),
    State.EXPIRED: (12.0, 3.0),
    State.RECONNECTING: (6.0, 0.8),
    State.DISCONNECTED: (6.0, -1.8),
}
TERMINAL_TRIGGERS = ("ended", "closed", "failed")


def table_digest() -> str:
    """A digest of the machine's (source, trigger, dest) edges and its initial state."""
    text = repr((MACHINE.initial, sorted(edges())))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


HALF_W, HALF_H = 0.85, 0.35  # a state's box, in data units


def _box(ax: plt.Axes, name: str) -> None:
    x, y = POSITIONS[name]
    terminal = name == State.DISCONNECTED
    ax.add_patch(
        FancyBboxPatch(
            (x - HALF_W + 0.05, y - HALF_H + 0.05), 2 * HALF_W - 0.1, 2 * HALF_H - 0.1,
            boxstyle="round,pad=0.05", facecolor="#eeeeee" if terminal else "#dbe9f6",
            edgecolor="#335577", lw=1.2, zorder=2,
        )
    )
    ax.text(x, y, name, ha="center", va="center", fontsize=11, weight="bold", zorder=3)


def _edge_point(center: tuple[float, float], towards: tuple[float, float]) -> tuple[float, float]:
    """Where the line from a box's centre towards a point leaves the box."""
    (x, y), (tx, ty) = center, towards
    dx, dy = tx - x, ty - y
    scale = min(HALF_W / abs(dx) if dx else float("inf"), HALF_H / abs(dy) if dy else float("inf"))
    return x + dx * scale, y + dy * scale


def _arrow(ax: plt.Axes, a: str, b: str, label: str, *, bend: float = 0.0,
           color: str = "#335577", offset: tuple[float, float] = (0.0, 0.12),
           zorder: float = 1.0) -> None:
    (x1, y1), (x2, y2) = POSITIONS[a], POSITIONS[b]
    # aim at the curve's control point so a bent arrow leaves and enters its boxes cleanly
    cx, cy = (x1 + x2) / 2 + bend * (y2 - y1), (y1 + y2) / 2 - bend * (x2 - x1)
    start, end = _edge_point((x1, y1), (cx, cy)), _edge_point((x2, y2), (cx, cy))
    ax.add_patch(
        FancyArrowPatch(
            start, end, connectionstyle=f"arc3,rad={bend}", arrowstyle="-|>",
            mutation_scale=14, color=color, lw=1.2, shrinkA=1, shrinkB=1, zorder=zorder,
        )
    )
    if label:
        # the midpoint of matplotlib's arc3 curve (a quadratic Bezier)
        (sx, sy), (ex, ey) = start, end
        mx = (sx + ex) / 2 + 0.5 * bend * (ey - sy)
        my = (sy + ey) / 2 - 0.5 * bend * (ex - sx)
        ax.text(mx + offset[0], my + offset[1], label, ha="center", va="center", fontsize=9,
                color=color, style="italic", zorder=3,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5, "alpha": 0.85})


def draw_states(out: Path) -> Path:
    """The state diagram of ``participant.machine``, as ``out/states.svg``."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for source, trigger, dest in edges():
        grouped.setdefault((source, dest), []).append(trigger)
    fig, ax = plt.subplots(figsize=(12, 6.6))
    for name in State:
        _box(ax, name)
    x0, y0 = POSITIONS[MACHINE.initial]
    ax.annotate("", xy=(x0 - 0.85, y0), xytext=(x0 - 1.6, y0),
                arrowprops={"arrowstyle": "-|>", "color": "black"})
    ax.plot([x0 - 1.6], [y0], "o", color="black", ms=7)
    terminal_label_done = False
    lost_label_done = False
    for (source, dest), triggers in grouped.items():
        label = " / ".join(triggers)
        if dest == State.DISCONNECTED:
            _arrow(ax, source, dest, "", color="#aaaaaa", zorder=0.5)
            if not terminal_label_done:
                ax.text(POSITIONS[dest][0] + HALF_W + 0.15, POSITIONS[dest][1],
                        "\n".join(triggers) + "\n(from every live state)", ha="left",
                        va="center", fontsize=9, color="#777777", style="italic")
                terminal_label_done = True
        elif source == dest:  # a loop, on the right of the box
            x, y = POSITIONS[source]
            ax.add_patch(FancyArrowPatch((x + HALF_W, y + 0.15), (x + HALF_W, y - 0.15),
                                         connectionstyle="arc3,rad=-1.8", arrowstyle="-|>",
                                         mutation_scale=12, color="#aa5500", lw=1.1))
            ax.text(x + HALF_W + 0.5, y, label, ha="left", va="center", fontsize=9,
                    color="#aa5500", style="italic")
        elif dest == State.RECONNECTING:
            _arrow(ax, source, dest, "", color="#aa5500")
            if not lost_label_done:  # every edge into reconnecting, labelled once
                lost = sorted({t for (s, d), ts in grouped.items()
                               if d == dest and s != dest for t in ts})
                x, y = POSITIONS[dest]
                ax.text(x - HALF_W - 0.15, y, "\n".join(lost), ha="right", va="center",
                        fontsize=9, color="#aa5500", style="italic")
                lost_label_done = True
        elif source == State.RECONNECTING:
            _arrow(ax, source, dest, label, bend=-0.45, color="#2a7a2a", offset=(-0.3, 0.0))
        else:
            bend = -0.3 if (dest, source) in grouped else 0.0
            _arrow(ax, source, dest, label, bend=bend, offset=(0.0, 0.12 if bend else 0.14))
    ax.set_xlim(-2.0, 13.3)
    ax.set_ylim(-3.2, 4.0)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Participant states and triggers (participant.machine.TRANSITIONS)")
    path = out / "states.svg"
    fig.savefig(path, metadata={"Date": None, "Description": f"state table {table_digest()}"},
                bbox_inches="tight")
    if PNG:
        fig.savefig(path.with_suffix(".png"), dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def _lane(ax: plt.Axes, y: float, spans: list[tuple[float, float, str, str]]) -> None:
    for start, end, color, text in spans:
        ax.barh(y, end - start, left=start, height=0.5, color=color, edgecolor="none")
        if text:
            ax.text((start + end) / 2, y, text, ha="center", va="center", fontsize=8.5)


def _mark(ax: plt.Axes, x: float, y: float, text: str, *, color: str = "black",
          above: bool = True) -> None:
    ax.plot([x], [y], marker="v" if above else "^", color=color, ms=7)
    ax.text(x, y + (0.32 if above else -0.32), text, ha="center",
            va="bottom" if above else "top", fontsize=8, color=color)


def draw_timeline(out: Path) -> Path:
    """A renewal (make-before-break) and a reconnect with gap fill, as ``out/timeline.svg``."""
    blue, orange, green, grey = "#dbe9f6", "#f6dfc4", "#d5ecd0", "#e4e4e4"
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7.4), sharex=False)

    # -- renewal -------------------------------------------------------------------------
    lanes = ["delivered", "state", "REST", "new socket", "old socket"]
    _lane(top, 4, [(0, 6.4, blue, "items flow"), (6.4, 6.5, "#222222", "")])
    top.text(6.55, 4, "closed by us", va="center", fontsize=8)
    _lane(top, 3, [(5.6, 6.2, grey, "open"), (6.2, 12, blue, "subscribed: items flow")])
    _lane(top, 2, [(5.0, 5.5, orange, "")])
    top.text(4.9, 2, "CreateParticipantConnection: new URL + ConnectionToken",
             ha="right", va="center", fontsize=8)
    _lane(top, 1, [(0, 5.0, blue, "subscribed"), (5.0, 6.4, orange, "expired"),
                   (6.4, 12, blue, "subscribed")])
    for x in (0.8, 1.9, 3.1, 4.2, 5.3, 6.0):
        top.plot([x], [0], "o", color="#335577")
    top.plot([6.3], [0], "o", color="#335577", mfc="white")
    top.text(6.3, -0.45, "same Id on both\nsockets: dropped", ha="center", va="top", fontsize=8)
    for x in (7.2, 8.4, 9.5, 10.8):
        top.plot([x], [0], "o", color="#335577")
    top.axvline(5.0, color="#aa5500", ls=":", lw=1)
    top.text(5.0, 4.55, "expiry_due: ConnectionExpiry \u2212 60 s", color="#aa5500", fontsize=8,
             ha="center")
    top.axvline(11.0, color="#aa0000", ls="--", lw=1)
    top.text(11.0, 4.55, "ConnectionExpiry", color="#aa0000", fontsize=8, ha="center")
    top.set_yticks(range(len(lanes)), lanes)
    top.set_title("Renewal, make-before-break: the new socket is subscribed before the old "
                  "one closes", fontsize=10.5)

    # -- reconnect and gap fill ----------------------------------------------------------
    lanes = ["delivered", "state", "REST", "socket 2", "socket 1", "service"]
    service = {"m1": 0.8, "m2": 2.0, "m3": 3.1, "m4": 4.9, "m5": 5.9, "m6": 7.6}
    for name, x in service.items():
        missed = name in ("m4", "m5")
        bottom.plot([x], [5], "o", color="#aa0000" if missed else "#335577",
                    mfc="white" if missed else None)
        bottom.text(x, 5.3, name, ha="center", fontsize=8)
    bottom.text(5.4, 4.55, "not replayed on the next socket", ha="center", fontsize=8,
                color="#aa0000")
    _lane(bottom, 4, [(0, 3.8, blue, "items flow")])
    bottom.plot([3.8], [4], "x", color="#aa0000", ms=10, mew=2)
    bottom.text(3.95, 4, "lost (close, error,\nheartbeat unanswered)", va="center",
                fontsize=8, color="#aa0000")
    _lane(bottom, 3, [(6.6, 7.0, grey, "open"), (7.0, 12, blue, "subscribed")])
    _lane(bottom, 2, [(4.8, 5.3, orange, ""), (6.1, 6.6, orange, ""),
                      (7.0, 8.3, green, "GetTranscript")])
    bottom.text(5.05, 2.35, "attempt: 429", ha="center", va="bottom", fontsize=8)
    bottom.text(6.35, 2.35, "new URL", ha="center", va="bottom", fontsize=8)
    bottom.text(8.45, 2, "FORWARD from the newest AbsoluteTime \u2212 5 s:\n"
                "m2 m3 dropped (seen), m4 m5 delivered", ha="left", va="center", fontsize=8)
    _lane(bottom, 1, [(0, 3.8, blue, "subscribed"), (3.8, 6.6, orange, "reconnecting (backoff)"),
                      (6.6, 7.0, grey, ""), (7.0, 12, blue, "subscribed")])
    for x, name in ((0.85, "m1"), (2.05, "m2"), (3.15, "m3")):
        bottom.plot([x], [0], "o", color="#335577")
        bottom.text(x, -0.45, name, ha="center", va="top", fontsize=8)
    for x, name in ((8.35, "m4"), (8.6, "m5"), (8.85, "m6")):
        bottom.plot([x], [0], "o", color="#2a7a2a")
        bottom.text(x, -0.45, name, ha="center", va="top", fontsize=8)
    bottom.annotate("", xy=(8.85, 0.25), xytext=(7.65, 4.8),
                    arrowprops={"arrowstyle": "-|>", "color": "#777777", "lw": 0.8})
    bottom.text(9.2, 0, "m6 (live) waits behind the fill:\nthe order has no seam",
                ha="left", va="center", fontsize=8, color="#555555")
    bottom.set_yticks(range(len(lanes)), lanes)
    bottom.set_title("Reconnect and gap fill: what the socket missed comes from GetTranscript, "
                     "once, in order", fontsize=10.5)

    for ax in (top, bottom):
        ax.set_xlim(-0.2, 12.2)
        ax.set_xticks([])
        ax.set_xlabel("time →")
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
    top.set_ylim(-1.3, 5.0)
    bottom.set_ylim(-1.0, 5.8)
    fig.tight_layout()
    path = out / "timeline.svg"
    fig.savefig(path, metadata={"Date": None})
    if PNG:
        fig.savefig(path.with_suffix(".png"), dpi=90)
    plt.close(fig)
    return path


PNG = False  # also a PNG beside each SVG (--png), to look at without a browser


def main(argv: list[str]) -> None:
    global PNG
    PNG = "--png" in argv
    argv = [a for a in argv if a != "--png"]
    out = Path(argv[0]) if argv else OUT
    out.mkdir(parents=True, exist_ok=True)
    for path in (draw_states(out), draw_timeline(out)):
        print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
