"""The summary table of docs/benchmarks.md, built from benchmarks/results/*.json.

    python benchmarks/summary.py            # print it
    python benchmarks/summary.py --write    # and replace it in docs/benchmarks.md

Each row gives the figure over TLS (the headline: the service is https/wss only) and over
plain http/ws, the baseline it is a ratio to (measured in the same run), and the run it
came from (UTC time, quick or full, the machine's 1-minute load average then).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN = "<!-- summary:begin (written by benchmarks/summary.py) -->"
END = "<!-- summary:end -->"


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def run_of(data: dict[str, Any] | None) -> str:
    """When a result was taken, how (quick or not) and under what load."""
    if data is None:
        return "-"
    command = data.get("command", "")
    kind = "quick" if "--quick" in command else "full" if command else "?"
    load_avg = data.get("machine", {}).get("loadavg_1min")
    shown = f", load {load_avg:.1f}" if isinstance(load_avg, (int, float)) else ""
    return f"{data['when'][:16].replace('T', ' ')} {kind}{shown}"


def _pair(tls: str, plain: str, get: Any) -> tuple[str, str, str]:
    """The figure from the TLS result and from the plain one (``-`` where absent)."""
    t, p = load(tls), load(plain)

    def cell(d: dict[str, Any] | None) -> str:
        if d is None:
            return "not run"
        try:
            return str(get(d))
        except (KeyError, TypeError, ZeroDivisionError):
            return "n/a"

    runs = "; ".join(x for x in (run_of(t) if t else "", run_of(p) if p else "") if x)
    return cell(t), cell(p), runs or "-"


def _floor(d: dict[str, Any]) -> float:
    return float(d["results"]["httpcore (bare pool, floor)"]["SendMessage"]["cpu_vs_capo"])


def rows() -> list[list[str]]:
    out: list[list[str]] = []

    def rest_ratio(op: str) -> Any:
        def get(d: dict[str, Any]) -> str:
            r = d["results"]["participant"][op]
            lo, hi = r["cpu_vs_capo_range"]
            return f"{r['cpu_vs_capo']:.2f} x ({lo:.2f}-{hi:.2f})"

        return get

    for op, label in (
        ("SendMessage", "SendMessage"),
        ("GetTranscript", "GetTranscript page"),
        ("CreateParticipantConnection", "CreateParticipantConnection"),
    ):
        out.append(
            [
                f"REST CPU per {label}, participant / capo-connectparticipant",
                "≤ 0.75 x",
                *_pair("rest_tls", "rest", rest_ratio(op)),
                "capo (trio), same run, interleaved blocks",
            ]
        )
    out.append(
        [
            "REST CPU per SendMessage, bare httpcore pool (the floor) / capo",
            "-",
            *_pair(
                "rest_tls",
                "rest",
                lambda d: f"{_floor(d):.2f} x",
            ),
            "capo, same run",
        ]
    )

    def scale_max(d: dict[str, Any]) -> dict[str, Any]:
        n = max(d["sizes"], key=int)
        return {"n": int(n), **d["sizes"][n]}

    out.append(
        [
            "idle CPU per participant, participant / heartbeating bare trio-websocket",
            "≤ 1.1 x",
            *_pair(
                "scale_tls",
                "scale",
                lambda d: (
                    f"{scale_max(d)['library']['cpu_ratio_to_bare']:.2f} x at {scale_max(d)['n']:,}"
                ),
            ),
            "bare client sending the same heartbeat every 10 s, same run",
        ]
    )
    out.append(
        [
            "RSS per idle subscribed participant",
            "≤ 40 KiB at 10,000",
            *_pair(
                "scale_tls",
                "scale",
                lambda d: (
                    f"{scale_max(d)['library']['rss_bytes_per_participant'] / 1024:.1f} KiB "
                    f"at {scale_max(d)['n']:,} (bare "
                    f"{scale_max(d)['bare']['rss_bytes_per_participant'] / 1024:.1f})"
                ),
            ),
            "bare trio-websocket, same run",
        ]
    )

    def latency(key_start: str) -> Any:
        def get(d: dict[str, Any]) -> str:
            sc = next(v for k, v in d["scenarios"].items() if k.startswith(key_start))
            lib, bare = sc["participant"], sc["bare trio-websocket (baseline)"]
            return (
                f"{lib['delay_p50_ms']:.1f} / {lib['delay_p99_ms']:.0f} / "
                f"{lib['delay_max_ms']:.0f} ms, lost {lib['lost']} (bare "
                f"{bare['delay_p50_ms']:.1f} / {bare['delay_p99_ms']:.0f} / "
                f"{bare['delay_max_ms']:.0f})"
            )

        return get

    out.append(
        [
            "delay AbsoluteTime → consumer, 1,000 chats x 1 msg/s: p50 / p99 / max",
            "-",
            *_pair("latency_tls", "latency", latency("1,000 chats")),
            "bare trio-websocket on the same emulator, same run",
        ]
    )
    out.append(
        [
            "delay AbsoluteTime → consumer, 1 chat x 500 msg/s: p50 / p99 / max",
            "-",
            *_pair("latency_tls", "latency", latency("1 chat")),
            "bare trio-websocket, same run",
        ]
    )

    def dispatch(d: dict[str, Any]) -> str:
        r = d["results"]
        lib = r["participant (actor, async for)"]
        bare = r["bare trio-websocket + json.loads x2 (baseline)"]
        return (
            f"{lib['vs_bare']:.2f} x items/s ({lib['vs_bare_min']:.2f}-{lib['vs_bare_max']:.2f}); "
            f"CPU/item {lib['cpu_us_per_item'] / bare['cpu_us_per_item']:.2f} x"
        )

    out.append(
        [
            "dispatch, participant / bare trio-websocket loop",
            "≥ 0.8 x",
            *_pair("dispatch_tls", "dispatch", dispatch),
            "bare receive loop + json.loads x 2, same rounds",
        ]
    )

    def renewal(d: dict[str, Any]) -> str:
        sc = d["scenarios"]
        lost = sum(s["lost"] for s in sc.values())
        dup = sum(s["duplicated"] for s in sc.values())
        return f"{lost} / {dup} over {len(sc)} scenarios"

    out.append(
        [
            "items lost / duplicated under renewals and drops (500 msg/s)",
            "0 / 0",
            *_pair("renewal_tls", "renewal", renewal),
            "no renewal, no drop, same run",
        ]
    )
    day = load("day")
    out.append(
        [
            "24 simulated hours under MockClock (in memory: no TLS)",
            "< 5 s",
            "-",
            "-"
            if day is None
            else f"{day['verdict']['wall_s']:.2f} s ({day['verdict']['vs_bare']:.2f} x bare)",
            run_of(day),
            "bare trio-websocket, same run",
        ]
    )
    return out


def table() -> str:
    headers = [
        "figure",
        "target",
        "over TLS (headline)",
        "plain",
        "run (UTC, kind, load)",
        "baseline",
    ]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in rows():
        lines.append("| " + " | ".join(r) + " |")
    return "\n".join(lines)


def write(text: str) -> None:
    doc = DOC.read_text()
    if BEGIN not in doc or END not in doc:
        raise SystemExit(f"{DOC}: no {BEGIN!r} ... {END!r} block to replace")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace it in docs/benchmarks.md")
    args = parser.parse_args()
    text = table()
    print(text)
    if args.write:
        write(text)
        print(f"\nwrote the summary into {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
