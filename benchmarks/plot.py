"""Plots of the results (benchmarks/results/*.json) into docs/img/. Every figure names its
baseline and the run it came from (UTC time, the command, the machine's load then).

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


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _run(data: dict[str, Any]) -> str:
    load = data.get("machine", {}).get("loadavg_1min")
    shown = f", load avg {load:.1f} on 2 cores" if isinstance(load, (int, float)) else ""
    command = data.get("command", f"benchmarks/{data['benchmark']}")
    return f"run {data['when'][:16].replace('T', ' ')} UTC: {command}{shown}"


def _caption(fig: Any, baseline: str, runs: list[dict[str, Any]]) -> None:
    """The baseline and the runs under the axes (call after drawing)."""
    lines = [f"baseline: {baseline}"] + [_run(r) for r in runs]
    fig.text(0.01, 0.01, "\n".join(lines), fontsize=7, color="#444", va="bottom")
    fig.tight_layout(rect=(0, 0.02 + 0.035 * len(lines), 1, 1))


def plot_scale() -> Path | None:
    runs = [
        (label, d) for label, d in (("TLS", _load("scale_tls")), ("plain", _load("scale"))) if d
    ]
    if not runs:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.8))
    labels, lib, bare, ratio = [], [], [], []
    for label, d in runs:
        for n in sorted(d["sizes"], key=int):
            both = d["sizes"][n]
            labels.append(f"{int(n):,}\n{label}")
            lib.append(both["library"]["rss_bytes_per_participant"] / 1024)
            bare.append(both["bare"]["rss_bytes_per_participant"] / 1024)
            ratio.append(both["library"].get("cpu_ratio_to_bare", float("nan")))
    x = list(range(len(labels)))
    w = 0.38
    ax1.bar([i - w / 2 for i in x], lib, w, label="participant (subscribed, idle)")
    ax1.bar([i + w / 2 for i in x], bare, w, label="bare trio-websocket, heartbeating")
    ax1.axhline(40, color="red", linestyle="--", linewidth=1, label="target 40 KiB (at 10,000)")
    ax1.set_xticks(x, labels)
    ax1.set_xlabel("participants in one process, transport")
    ax1.set_ylabel("resident memory per participant (KiB)")
    ax1.set_title("Memory per idle participant")
    ax1.set_ylim(0, max([*lib, 48]) * 1.35)
    ax1.legend(fontsize=8, loc="upper left")
    ax2.bar(x, ratio, 0.5, color="tab:green")
    ax2.axhline(1.0, color="black", linewidth=0.8)
    ax2.axhline(1.1, color="red", linestyle="--", linewidth=1, label="target 1.1 x")
    for i, r in enumerate(ratio):
        ax2.text(i, r, f"{r:.2f}", ha="center", va="bottom", fontsize=8)
    ax2.set_xticks(x, labels)
    ax2.set_xlabel("participants in one process, transport")
    ax2.set_ylabel("idle CPU, participant / bare client")
    ax2.set_title("Idle CPU (heartbeats) relative to the bare client")
    ax2.set_ylim(0, max([*ratio, 1.2]) * 1.25)
    ax2.legend(fontsize=8, loc="upper left")
    _caption(
        fig,
        'bare trio-websocket clients sending {"topic":"aws/heartbeat"} every 10 s '
        "and reading the echo, same run",
        [d for _, d in runs],
    )
    return _save(fig, "scale.png")


def plot_rest() -> Path | None:
    runs = [(label, d) for label, d in (("TLS", _load("rest_tls")), ("plain", _load("rest"))) if d]
    if not runs:
        return None
    fig, axes = plt.subplots(1, len(runs), figsize=(6 * len(runs), 5), squeeze=False)
    for ax, (label, d) in zip(axes[0], runs, strict=True):
        res = d["results"]
        ops = list(next(iter(res.values())))
        clients = list(res)
        w = 0.8 / len(clients)
        for j, client in enumerate(clients):
            ys = [res[client][op]["cpu_vs_capo"] for op in ops]
            ax.bar(
                [i + (j - len(clients) / 2 + 0.5) * w for i in range(len(ops))], ys, w, label=client
            )
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.axhline(0.75, color="red", linestyle="--", linewidth=1, label="target 0.75 x capo")
        ax.set_xticks(range(len(ops)), [op.replace("Participant", "Participant\n") for op in ops])
        ax.set_ylabel("client CPU per call / capo-connectparticipant's")
        ax.set_title(f"REST over {'https' if label == 'TLS' else 'plain http'}")
        ax.set_ylim(0, 2.6)
        ax.legend(fontsize=6.5, loc="upper left", ncol=2)
    _caption(
        fig,
        "capo-connectparticipant (trio) in the same run; blocks of calls interleaved, "
        "ratio = median of per-round ratios (aiobotocore: ratio of medians)",
        [d for _, d in runs],
    )
    return _save(fig, "rest.png")


def plot_latency() -> Path | None:
    runs = [
        (label, d) for label, d in (("TLS", _load("latency_tls")), ("plain", _load("latency"))) if d
    ]
    if not runs:
        return None
    label, d = runs[0]  # the headline: TLS when there is one
    scenarios = d["scenarios"]
    fig, axes = plt.subplots(1, len(scenarios), figsize=(5.5 * len(scenarios), 4.5), squeeze=False)
    for ax, (name, sc) in zip(axes[0], scenarios.items(), strict=True):
        for client in ("participant", "bare trio-websocket (baseline)"):
            r = sc[client]
            xs = sorted(max(v, 0.05) for v in r["delays_ms_sample"])
            if not xs:
                continue
            ys = [i / len(xs) for i in range(1, len(xs) + 1)]
            ax.plot(
                xs,
                ys,
                label=f"{client}: p50 {r['delay_p50_ms']:.1f}, p99 {r['delay_p99_ms']:.0f}, "
                f"max {r['delay_max_ms']:.0f} ms",
            )
        ax.set_xscale("log")
        ax.set_xlabel("delay AbsoluteTime → consumer (ms, log; AbsoluteTime has 1 ms steps)")
        ax.set_ylabel("fraction of messages")
        ax.set_title(f"{name} ({'https/wss' if label == 'TLS' else 'plain'})")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    _caption(
        fig,
        "bare trio-websocket clients on the same emulator, same run (delays <= 0.05 ms, "
        "an artefact of AbsoluteTime's millisecond precision, drawn at 0.05)",
        [d],
    )
    return _save(fig, "latency.png")


def plot_renewal() -> Path | None:
    data = _load("renewal_tls") or _load("renewal")
    if data is None:
        return None
    scenarios = data["scenarios"]
    fig, ax = plt.subplots(figsize=(10, 5))
    for name, run in scenarios.items():
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
    first = next(iter(scenarios.values()))
    over = "https/wss" if data.get("tls") else "plain ws"
    ax.set_title(
        f"{first['rate']:.0f} messages/s on loopback ({over}): delay from AbsoluteTime to "
        "`async for`"
    )
    ax.legend(fontsize=7, markerscale=6, loc="upper left")
    _caption(fig, "the same load with no renewal and no drop, same run", [data])
    return _save(fig, "renewal.png")


def _save(fig: Any, name: str) -> Path:
    """Write ``fig`` to docs/img/``name`` and close it."""
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / name
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main() -> None:
    for made in (plot_scale(), plot_rest(), plot_latency(), plot_renewal()):
        if made is not None:
            print(f"wrote {made.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
