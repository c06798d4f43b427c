"""Run every benchmark, then write the summary table into docs/benchmarks.md and redraw
the plots in docs/img/.

    python benchmarks/run_all.py --quick             # each benchmark's --quick, TLS and plain
    python benchmarks/run_all.py --quick --tls-only  # only over TLS (about half the time)
    python benchmarks/run_all.py                     # the full runs (tens of minutes)

Over TLS (``--tls``) the emulator serves https/wss with a throwaway trustme CA that every
client verifies; the TLS results are the headline (results/<name>_tls.json), the plain ones
(results/<name>.json) beside them. Each benchmark runs in its own process, one after the
other; one that fails is reported and the others still run. bench_day runs in memory
under a simulated clock, so it has no TLS variant.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (script, runs over TLS too)
BENCHMARKS = (
    ("bench_rest.py", True),
    ("bench_scale.py", True),
    ("bench_latency.py", True),
    ("bench_dispatch.py", True),
    ("bench_renewal.py", True),
    ("bench_day.py", False),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each benchmark's --quick")
    parser.add_argument("--tls-only", action="store_true", help="skip the plain runs")
    parser.add_argument(
        "--only", default=None, help="comma-separated script names (e.g. bench_rest.py)"
    )
    args = parser.parse_args()
    only = None if args.only is None else set(args.only.split(","))
    steps: list[list[str]] = []
    for script, tls in BENCHMARKS:
        if only is not None and script not in only:
            continue
        base = [script, *(["--quick"] if args.quick and script != "bench_day.py" else [])]
        if tls:
            steps.append([*base, "--tls"])
        if not tls or not args.tls_only:
            steps.append(base)
    failed: list[str] = []
    t_all = time.monotonic()
    for step in steps:
        shown = " ".join(["python", f"benchmarks/{step[0]}", *step[1:]])
        print(f"\n=== {shown}", flush=True)
        t0 = time.monotonic()
        code = subprocess.call([sys.executable, str(HERE / step[0]), *step[1:]])
        print(f"=== {shown}: exit {code} after {time.monotonic() - t0:.0f} s", flush=True)
        if code != 0:
            failed.append(shown)
    subprocess.check_call([sys.executable, str(HERE / "summary.py"), "--write"])
    subprocess.check_call([sys.executable, str(HERE / "plot.py")])
    print(f"\nall done in {time.monotonic() - t_all:.0f} s")
    if failed:
        print("failed (their earlier results, if any, stay in the summary):")
        for f in failed:
            print(f"  {f}")
        sys.exit(1)


if __name__ == "__main__":
    main()
