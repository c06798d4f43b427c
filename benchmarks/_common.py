"""Shared helpers of the benchmark scripts: machine facts, tables, JSON results, an
emulator in another process, and the one place TLS is set up (``--tls``)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

# measure the tree this script is in, not whichever checkout the venv installed editable
# (``python benchmarks/x.py`` puts benchmarks/ first on sys.path, then site-packages)
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))


def machine() -> dict[str, Any]:
    """CPU model, cores, Python and key library versions."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "openssl": ssl.OPENSSL_VERSION,
        # the machine is shared: the 1-minute load average when the result was written
        "loadavg_1min": os.getloadavg()[0],
    }
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "CPU(s)", "Thread(s) per core", "CPU max MHz"):
                info[key.strip()] = value.strip()
    except OSError:
        pass
    from importlib.metadata import version

    for name in (
        "trio",
        "trio-websocket",
        "httpx",
        "httpcore",
        "boto3",
        "aiobotocore",
        "capo-connectparticipant",
        "zapros",
    ):
        try:
            info[name] = version(name)
        except Exception:
            pass
    return info


_NUMBER = r"(?:-?[0-9][0-9.eE+-]*|NaN|-?Infinity)"
_NUMBER_ARRAY = re.compile(rf"\[\s*({_NUMBER}(?:,\s*{_NUMBER})*)\s*\]")


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    payload = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(["python", str(shown), *sys.argv[1:]]),
        "machine": machine(),
        **data,
    }
    text = json.dumps(payload, indent=2, sort_keys=False)
    # arrays of plain numbers (timelines, raw samples) on one line each, not one per value
    text = _NUMBER_ARRAY.sub(
        lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text
    )
    path.write_text(text + "\n")
    return path


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table (also readable in a terminal)."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            if v == 0 or abs(v) >= 100:
                return f"{v:,.0f}"
            if abs(v) >= 1:
                return f"{v:.2f}"
            return f"{v:.3g}"
        return str(v)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for r in cells:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    return "\n".join(lines)


# where a profiled function's own time goes, by the file it is in
_LAYERS = (
    ("participant", "/participant/"),
    ("capo-connectparticipant", "/capo_connectparticipant/"),
    ("zapros", "/zapros/"),
    ("httpx", "/httpx/"),
    ("httpcore", "/httpcore/"),
    ("h11", "/h11/"),
    ("trio", "/trio/"),
    ("ssl", "/ssl.py"),
    ("json", "/json/"),
    ("uuid", "/uuid.py"),
    ("contextlib", "/contextlib.py"),
)


def _layer(filename: str, funcname: str) -> str:
    for name, part in _LAYERS:
        if part in filename:
            return name
    if filename == "~":  # C functions: socket calls, SSL object methods, dict/str methods
        if "SSLObject" in funcname or "_ssl." in funcname:
            return "ssl"
        if "socket" in funcname:
            return "socket calls"
        return "builtins"
    if "site-packages" not in filename:
        return "other stdlib"
    return "other packages"


def profile_layers(prof: Any) -> tuple[float, dict[str, float]]:
    """A ``cProfile.Profile``'s total own time (s) and its own time per layer (s), most
    first."""
    import pstats

    layers: dict[str, float] = {}
    total = 0.0
    for (filename, _line, func), row in pstats.Stats(prof).stats.items():  # type: ignore[attr-defined]
        own = row[2]
        total += own
        key = _layer(filename, func)
        layers[key] = layers.get(key, 0.0) + own
    return total, dict(sorted(layers.items(), key=lambda kv: -kv[1]))


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def die_with_parent() -> None:
    """Call first thing in a benchmark's child process (emulator, frame pump, scale
    child): on Linux the child then gets SIGTERM when the benchmark process ends, however
    it ends (killed, timed out, interrupted), instead of living on as an orphan. Elsewhere
    it does nothing."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    parent = os.getppid()
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # the parent ended before the call
        os.kill(os.getpid(), signal.SIGTERM)


def freeze_gc_every(seconds: float) -> None:
    """Call ``gc.freeze()`` every ``seconds`` from a daemon thread (a benchmark's
    emulator: what it holds is long-lived, and its collector's full passes would stall it)."""
    import gc
    import threading

    def run() -> None:
        while True:
            time.sleep(seconds)
            gc.freeze()

    threading.Thread(target=run, name="gc-freeze", daemon=True).start()


def add_tls_argument(parser: argparse.ArgumentParser) -> None:
    """``--tls``: run the benchmark over https/wss (the emulator's trustme CA)."""
    parser.add_argument(
        "--tls",
        action="store_true",
        help="https/wss: the emulator serves TLS with a throwaway trustme CA, every client "
        "verifies against that CA (the real service is https/wss only)",
    )


@dataclass(frozen=True)
class Endpoint:
    """An emulator to benchmark against: its base URL and, over TLS, its CA file."""

    url: str
    ca_file: str | None = None

    @property
    def tls(self) -> bool:
        return self.ca_file is not None

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client context trusting only the emulator's CA (None without TLS)."""
        if self.ca_file is None:
            return None
        return ssl.create_default_context(cafile=self.ca_file)

    def args(self) -> list[str]:
        """How a child process gets this endpoint: ``--endpoint URL [--ca-file PATH]``."""
        tls = [] if self.ca_file is None else ["--ca-file", self.ca_file]
        return ["--endpoint", self.url, *tls]

    # the library's own objects over TLS: its httpx transport and websocket connector

    def participant_client(self) -> Any:
        """A :class:`participant.api.ParticipantClient` for this endpoint."""
        from participant.api import ParticipantClient

        return ParticipantClient(endpoint_url=self.url, transport=self.http_transport())

    def http_transport(self) -> Any:
        """``None`` (the library builds its own) without TLS; over TLS an httpx transport
        with the library's own settings and the emulator's CA."""
        context = self.ssl_context()
        if context is None:
            return None
        import httpx

        from participant.api import DEFAULT_LIMITS

        return httpx.AsyncHTTPTransport(
            http1=True, http2=False, limits=DEFAULT_LIMITS, retries=0, verify=context
        )

    def websocket_connector(self) -> Any:
        """``None`` (the library's default) without TLS; over TLS the library's connector
        with the emulator's CA."""
        context = self.ssl_context()
        if context is None:
            return None
        from participant.socket import websocket_connector

        return websocket_connector(context)


def add_endpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """The hidden ``--endpoint``/``--ca-file`` of a benchmark's child process."""
    parser.add_argument("--endpoint", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--ca-file", default=None, help=argparse.SUPPRESS)


def endpoint_from(args: argparse.Namespace) -> Endpoint:
    return Endpoint(args.endpoint, args.ca_file)


@asynccontextmanager
async def emulator_in_process(config: Any, *, tls: bool) -> AsyncIterator[tuple[Any, Endpoint]]:
    """:func:`participant.emulator.serve` on a free loopback port in this trio run (with
    ``tls``: https/wss, its CA written to a temporary file); yields the server and its
    endpoint."""
    import trio

    from participant.emulator import serve

    extra: dict[str, Any] = {"tls": True} if tls else {}
    async with serve(config, "127.0.0.1", 0, **extra) as server:
        if not tls:
            yield server, Endpoint(server.endpoint_url)
            return
        with tempfile.TemporaryDirectory(prefix="bench-ca-") as tmp:
            ca_file = os.path.join(tmp, "ca.pem")
            await trio.Path(ca_file).write_bytes(server.ca_pem)
            yield server, Endpoint(server.endpoint_url, ca_file)


EMULATOR_PIDS: list[int] = []
"""Process ids of the emulators :func:`emulator_process` runs now (for CPU samples)."""


@contextmanager
def emulator_process(
    *extra_args: str,
    tls: bool = False,
    log_file: str | None = None,
    gc_freeze_every: float | None = None,
) -> Iterator[Endpoint]:
    """Run ``participant emulator --port 0 --no-rate-limits`` in a child process (with
    ``tls``: ``--tls``, its CA written to a temporary file); yield its endpoint (loopback).
    ``log_file``: where its log (INFO: every socket opened and closed, with the reason)
    goes; default nowhere. ``gc_freeze_every``: seconds; the emulator then calls
    ``gc.freeze()`` that often (from a thread), so its collector skips the chats and
    sockets it already holds: with 20,000 chats and 10,000 sockets its full collections
    otherwise stall its loop for seconds, and it stops reading heartbeats and accepting
    connections meanwhile."""
    with tempfile.TemporaryDirectory(prefix="bench-ca-") as tmp:
        ca_file = os.path.join(tmp, "ca.pem") if tls else None
        tls_args = [] if ca_file is None else ["--tls", "--ca-file", ca_file]
        with _emulator_child([*extra_args, *tls_args], log_file, gc_freeze_every) as url:
            yield Endpoint(url, ca_file)


@contextmanager
def _emulator_child(
    extra_args: list[str], log_file: str | None = None, gc_freeze_every: float | None = None
) -> Iterator[str]:
    freeze = (
        ""
        if gc_freeze_every is None
        else f"_common.freeze_gc_every({gc_freeze_every!r}); "
    )
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import _common; "
        f"_common.die_with_parent(); {freeze}from participant.emulator import "
        "run_emulator_cli; sys.exit(run_emulator_cli(sys.argv[1:]))"
    )
    log = None if log_file is None else open(log_file, "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-rate-limits",
            *extra_args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if log is None else log,
        text=True,
        cwd=ROOT,
    )
    if log is not None:
        log.close()  # the child holds its own descriptor
    EMULATOR_PIDS.append(proc.pid)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        endpoint = None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            found = re.search(r"(https?://127\.0\.0\.1:\d+)", line)
            if found:
                endpoint = found.group(1)
                break
        if endpoint is None:
            hint = (
                " (--tls needs an emulator with 'participant emulator --tls --ca-file')"
                if "--tls" in extra_args
                else ""
            )
            raise RuntimeError(f"the emulator did not start{hint}")
        yield endpoint
    finally:
        EMULATOR_PIDS.remove(proc.pid)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def websocket_urls(endpoint: Endpoint, tokens: Sequence[str], concurrency: int) -> list[str]:
    """The bare baselines' CreateParticipantConnection (plain httpx, ``concurrency`` in
    flight, verified against the endpoint's CA): one websocket URL per ParticipantToken."""
    import httpx
    import trio

    urls: list[str] = []
    context = endpoint.ssl_context()
    async with httpx.AsyncClient(base_url=endpoint.url, timeout=60, verify=context or True) as h:
        limit = trio.Semaphore(concurrency)

        async def create(token: str) -> None:
            async with limit:
                r = await h.post(
                    "/participant/connection",
                    headers={"X-Amz-Bearer": token},
                    json={"Type": ["WEBSOCKET"]},
                )
                r.raise_for_status()
                urls.append(r.json()["Websocket"]["Url"])

        async with trio.open_nursery() as nursery:
            for token in tokens:
                nursery.start_soon(create, token)
    return urls
