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
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
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
    args = [a for a in command.split()[2:] if a != "--tls"]
    kind = "quick" if "--quick" in args else "full" if command and not args else "custom"
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
    big = ("scale_10k_tls", "scale_10k") if load("scale_10k") or load("scale_10k_tls") else None
    if big is not None:
        out.append(
            [
                "idle CPU per participant at 10,000, participant / bare (idling apart)",
                "-",
                *_pair(
                    *big,
                    lambda d: (
                        f"{scale_max(d)['library']['cpu_ratio_to_bare']:.2f} x "
                        f"({scale_max(d)['library']['cpu_ms_per_min_idle']:.2f} / "
                        f"{scale_max(d)['bare']['cpu_ms_per_min_idle']:.2f} ms/min)"
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
                "scale_10k_tls" if load("scale_10k_tls") else "scale_tls",
                "scale_10k" if load("scale_10k") else "scale",
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


def _when(d: dict[str, Any]) -> str:
    load_avg = d.get("machine", {}).get("loadavg_1min", float("nan"))
    return f"`{d['command']}`, {d['when'][11:16]} UTC, load average {load_avg:.1f}"


def latest_sections() -> dict[str, str]:
    """The "latest run" tables of the scale, latency, dispatch and renewal sections, over
    TLS and plain, from their results (each a ``<!-- latest:NAME -->`` block of the doc)."""
    from _common import table as md_table

    out: dict[str, str] = {}
    parts = []
    for name in ("rest_tls", "rest"):
        d = load(name)
        if not d or "baseline" not in d:
            continue
        rows = []
        for op in next(iter(d["results"].values())):
            for client, by_op in d["results"].items():
                m = by_op[op]
                span = m.get("cpu_vs_capo_range")
                rows.append(
                    [
                        op,
                        client,
                        m["calls_per_s"],
                        m["p50_ms"],
                        m["p99_ms"],
                        m["cpu_us_per_call"],
                        m["cpu_vs_capo"],
                        "-" if span is None else f"{span[0]:.2f}-{span[1]:.2f}",
                    ]
                )
        parts.append(
            f"Latest run {'over TLS' if d['tls'] else 'over plain http'} ({_when(d)}):\n\n"
            + md_table(
                [
                    "operation",
                    "client",
                    "calls/s",
                    "p50 ms",
                    "p99 ms",
                    "CPU µs/call",
                    "CPU vs capo",
                    "per block",
                ],
                rows,
            )
        )
    out["REST"] = "\n\n".join(parts)
    parts = []
    for name in ("scale_10k_tls", "scale_10k", "scale_tls", "scale"):
        d = load(name)
        if not d:
            continue
        rows = []
        for n, both in sorted(d["sizes"].items(), key=lambda kv: int(kv[0])):
            lib, bare = both["library"], both["bare"]
            rows.append(
                [
                    f"{int(n):,}",
                    "participant",
                    lib["rss_bytes_per_participant"] / 1024,
                    lib["connect_s"],
                    lib["cpu_ms_per_min_idle"],
                    lib["cpu_ratio_to_bare"],
                    " ".join(f"{r:.2f}" for r in lib["cpu_ratios_to_bare"]),
                    lib["cpu_ms_per_min_with_renewals"],
                    lib["drops"],
                ]
            )
            rows.append(
                [
                    f"{int(n):,}",
                    "bare trio-websocket, heartbeating (baseline)",
                    bare["rss_bytes_per_participant"] / 1024,
                    bare["connect_s"],
                    bare["cpu_ms_per_min_idle"],
                    1.0,
                    "-",
                    "-",
                    "-",
                ]
            )
        ren = d["renewal"]
        parts.append(
            f"Latest run {'over TLS' if d['tls'] else 'over plain ws'} ({_when(d)}):\n\n"
            + md_table(
                [
                    "N",
                    "client",
                    "RSS KiB/participant",
                    "connect all, s",
                    "CPU ms/participant/min",
                    "CPU vs bare",
                    "per window",
                    "+ renewals",
                    "drops",
                ],
                rows,
            )
            + f"\n\nRenewal: {ren['renewals']} renewals of {ren['n']} participants in "
            f"{ren['window_s']:.0f} s, {ren['cpu_s_per_renewal'] * 1e3:.2f} ms CPU per renewal, "
            f"{ren['drops']} drops."
        )
    out["SCALE"] = "\n\n".join(parts)
    parts = []
    for name in ("latency_tls", "latency"):
        d = load(name)
        if not d:
            continue
        rows = []
        for sc_name, sc in d["scenarios"].items():
            for label in ("participant", "bare trio-websocket (baseline)"):
                r = sc[label]
                rows.append(
                    [
                        sc_name,
                        label,
                        r["sent"],
                        r["lost"],
                        r["duplicated"],
                        r["delay_p50_ms"],
                        r["delay_p99_ms"],
                        r["delay_p999_ms"],
                        r["delay_max_ms"],
                        r["cpu_us_per_message"],
                        r["cpu_us_per_message"]
                        / sc["bare trio-websocket (baseline)"]["cpu_us_per_message"],
                        "-"
                        if "gc_full_passes" not in r
                        else f"{r['gc_full_passes']} / {r['gc_full_max_ms']:.0f}",
                    ]
                )
        parts.append(
            f"Latest run {'over TLS' if d['tls'] else 'over plain ws'} ({_when(d)}):\n\n"
            + md_table(
                [
                    "load",
                    "client",
                    "sent",
                    "lost",
                    "dup",
                    "p50 ms",
                    "p99 ms",
                    "p99.9 ms",
                    "max ms",
                    "CPU µs/msg",
                    "CPU vs bare",
                    "full GCs / longest ms",
                ],
                rows,
            )
        )
    out["LATENCY"] = "\n\n".join(parts)
    parts = []
    for name in ("dispatch_tls", "dispatch"):
        d = load(name)
        if not d:
            continue
        rows = [
            [
                k,
                m["items_per_s"],
                m["cpu_us_per_item"],
                m["vs_bare"],
                f"{m['vs_bare_min']:.2f}-{m['vs_bare_max']:.2f}",
            ]
            for k, m in d["results"].items()
        ]
        parts.append(
            f"Latest run {'over TLS (wss)' if d.get('tls') else 'over plain ws'} ({_when(d)}):\n\n"
            + md_table(["client", "items/s", "CPU µs/item", "vs bare loop", "per round"], rows)
        )
    out["DISPATCH"] = "\n\n".join(parts)
    parts = []
    for name in ("renewal_tls", "renewal"):
        d = load(name)
        if not d or "command" not in d:
            continue
        rows = [
            [
                k,
                r["sent"],
                r["lost"],
                r["duplicated"],
                r["renewals"],
                r["drops_seen"],
                r["gap_filled_items"],
                r["delay_p50_ms"],
                r["delay_p99_ms"],
                r["delay_max_ms"],
            ]
            for k, r in d["scenarios"].items()
        ]
        parts.append(
            f"Latest run {'over TLS (wss)' if d.get('tls') else 'over plain ws'} ({_when(d)}):\n\n"
            + md_table(
                [
                    "scenario",
                    "sent",
                    "lost",
                    "duplicated",
                    "renewals",
                    "drops",
                    "gap-filled",
                    "delay p50 ms",
                    "p99 ms",
                    "max ms",
                ],
                rows,
            )
        )
    out["RENEWAL"] = "\n\n".join(parts)
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


def _replace(doc: str, begin: str, end: str, text: str) -> str:
    if begin not in doc or end not in doc:
        raise SystemExit(f"{DOC}: no {begin!r} ... {end!r} block to replace")
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{text}\n{end}{tail}"


def write(text: str) -> None:
    doc = _replace(DOC.read_text(), BEGIN, END, text)
    for name, section in latest_sections().items():
        if section:
            doc = _replace(doc, f"<!-- latest:{name} -->", f"<!-- /latest:{name} -->", section)
    DOC.write_text(doc)


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
