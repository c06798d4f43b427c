"""REST benchmark: SendMessage and GetTranscript through this library, boto3 and
aiobotocore, against one emulator running in ANOTHER process (loopback, rate limits off).

For each client and operation: calls per second (sequential, one keep-alive connection),
per-call latency p50/p99, and the CLIENT process's CPU time per call
(``time.process_time``; the emulator's CPU is not counted). Rounds alternate between the
clients; the table shows the median of the rounds. Ratios are against boto3 measured in
the same run. Targets (issue 6): our CPU per SendMessage <= 0.85 x boto3's and below
aiobotocore's.

    python benchmarks/bench_rest.py            # 1000 calls x 3 rounds per client and op
    python benchmarks/bench_rest.py --quick    # 300 calls x 2 rounds
    python benchmarks/bench_rest.py --profile  # also cProfile our SendMessage loop
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import boto3
import botocore.config
import httpcore
import httpx
import trio
from _common import emulator_process, median, percentile, table, write_result

from participant.api import ParticipantClient

CREDS = {
    "region_name": "us-east-1",
    "aws_access_key_id": "x",
    "aws_secret_access_key": "x",
}
BOTO_CONFIG = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})
WARMUP = 50


def measure(n: int, call: Callable[[], Any]) -> dict[str, float]:
    lat = []
    cpu0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        s = time.perf_counter()
        call()
        lat.append(time.perf_counter() - s)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return _stats(n, wall, cpu, lat)


async def ameasure(n: int, call: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    lat = []
    cpu0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        s = time.perf_counter()
        await call()
        lat.append(time.perf_counter() - s)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return _stats(n, wall, cpu, lat)


def _stats(n: int, wall: float, cpu: float, lat: list[float]) -> dict[str, float]:
    return {
        "calls_per_s": n / wall,
        "p50_ms": percentile(lat, 50) * 1e3,
        "p99_ms": percentile(lat, 99) * 1e3,
        "cpu_us_per_call": cpu / n * 1e6,
    }


def setup(endpoint: str) -> tuple[str, str]:
    """Two chats: one to send to, one with 30 messages to read. Returns ConnectionTokens."""
    connect = boto3.client("connect", endpoint_url=endpoint, **CREDS)
    cp = boto3.client("connectparticipant", endpoint_url=endpoint, **CREDS)
    tokens = []
    for name in ("sender", "reader"):
        chat = connect.start_chat_contact(
            InstanceId="bench", ContactFlowId="bench", ParticipantDetails={"DisplayName": name}
        )
        conn = cp.create_participant_connection(
            ParticipantToken=chat["ParticipantToken"], Type=["CONNECTION_CREDENTIALS"]
        )
        tokens.append(conn["ConnectionCredentials"]["ConnectionToken"])
    for i in range(30):
        cp.send_message(ConnectionToken=tokens[1], ContentType="text/plain", Content=f"m{i}")
    return tokens[0], tokens[1]


async def _warm_and_measure(
    n: int, send: Callable[[], Awaitable[Any]], read: Callable[[], Awaitable[Any]]
) -> dict[str, Any]:
    """Warm up with WARMUP send/read pairs, then time n of each (async clients)."""
    for _ in range(WARMUP):
        await send()
        await read()
    return {
        "SendMessage": await ameasure(n, send),
        "GetTranscript": await ameasure(n, read),
    }


def run_ours(endpoint: str, send_tok: str, read_tok: str, n: int) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        async with ParticipantClient(endpoint_url=endpoint) as c:

            async def send() -> Any:
                return await c.send_message(send_tok, content_type="text/plain", content="hello")

            async def read() -> Any:
                return await c.get_transcript(read_tok, max_results=10)

            return await _warm_and_measure(n, send, read)

    return trio.run(main)


def run_boto3(endpoint: str, send_tok: str, read_tok: str, n: int) -> dict[str, Any]:
    c = boto3.client("connectparticipant", endpoint_url=endpoint, config=BOTO_CONFIG, **CREDS)

    def send() -> Any:
        return c.send_message(ConnectionToken=send_tok, ContentType="text/plain", Content="hello")

    def read() -> Any:
        return c.get_transcript(ConnectionToken=read_tok, MaxResults=10)

    for _ in range(WARMUP):
        send()
        read()
    out = {"SendMessage": measure(n, send), "GetTranscript": measure(n, read)}
    c.close()
    return out


def run_aiobotocore(endpoint: str, send_tok: str, read_tok: str, n: int) -> dict[str, Any]:
    import aiobotocore.session

    async def main() -> dict[str, Any]:
        session = aiobotocore.session.get_session()
        async with session.create_client(
            "connectparticipant", endpoint_url=endpoint, config=BOTO_CONFIG, **CREDS
        ) as c:

            async def send() -> Any:
                return await c.send_message(
                    ConnectionToken=send_tok, ContentType="text/plain", Content="hello"
                )

            async def read() -> Any:
                return await c.get_transcript(ConnectionToken=read_tok, MaxResults=10)

            return await _warm_and_measure(n, send, read)

    return asyncio.run(main())


def _bare_request(
    send_tok: str, read_tok: str
) -> tuple[bytes, dict[str, str], bytes, dict[str, str]]:
    send_body = json.dumps(
        {"ContentType": "text/plain", "Content": "hello", "ClientToken": "x"}
    ).encode()
    read_body = json.dumps({"MaxResults": 10}).encode()
    h = {"Content-Type": "application/json"}
    return send_body, {**h, "X-Amz-Bearer": send_tok}, read_body, {**h, "X-Amz-Bearer": read_tok}


def _fresh_send_body() -> bytes:
    """A SendMessage body with a new ClientToken (the bare baselines send one per call)."""
    return json.dumps(
        {"ContentType": "text/plain", "Content": "hello", "ClientToken": str(uuid.uuid4())}
    ).encode()


def run_httpx(endpoint: str, send_tok: str, read_tok: str, n: int) -> dict[str, Any]:
    """Baseline: a plain httpx.AsyncClient.post on trio (no validation, no parsing
    beyond json.loads). Not a usable client; the floor of the transport we use."""
    _, send_h, read_body, read_h = _bare_request(send_tok, read_tok)

    async def main() -> dict[str, Any]:
        async with httpx.AsyncClient() as c:

            async def send() -> Any:
                body = _fresh_send_body()
                r = await c.post(endpoint + "/participant/message", content=body, headers=send_h)
                return json.loads(r.content)

            async def read() -> Any:
                r = await c.post(
                    endpoint + "/participant/transcript", content=read_body, headers=read_h
                )
                return json.loads(r.content)

            return await _warm_and_measure(n, send, read)

    return trio.run(main)


def run_httpx_transport(endpoint: str, send_tok: str, read_tok: str, n: int) -> dict[str, Any]:
    """Baseline: httpx.AsyncHTTPTransport.handle_async_request with a prebuilt httpx.Request
    (what an injectable-transport client costs without httpx.AsyncClient's layers)."""
    _, send_h, read_body, read_h = _bare_request(send_tok, read_tok)
    send_url = httpx.URL(endpoint + "/participant/message")
    read_url = httpx.URL(endpoint + "/participant/transcript")

    async def main() -> dict[str, Any]:
        async with httpx.AsyncHTTPTransport() as t:

            async def call(url: httpx.URL, body: bytes, headers: dict[str, str]) -> Any:
                response = await t.handle_async_request(
                    httpx.Request("POST", url, content=body, headers=headers)
                )
                try:
                    raw = await response.aread()
                finally:
                    await response.aclose()
                return json.loads(raw)

            async def send() -> Any:
                body = _fresh_send_body()
                return await call(send_url, body, send_h)

            async def read() -> Any:
                return await call(read_url, read_body, read_h)

            return await _warm_and_measure(n, send, read)

    return trio.run(main)


def run_httpcore(endpoint: str, send_tok: str, read_tok: str, n: int) -> dict[str, Any]:
    """Baseline: a bare httpcore.AsyncConnectionPool on trio (the floor under httpx)."""
    _, send_h, read_body, read_h = _bare_request(send_tok, read_tok)

    async def main() -> dict[str, Any]:
        async with httpcore.AsyncConnectionPool() as pool:

            async def send() -> Any:
                body = _fresh_send_body()
                r = await pool.request(
                    "POST", endpoint + "/participant/message", content=body, headers=send_h
                )
                return json.loads(r.content)

            async def read() -> Any:
                r = await pool.request(
                    "POST", endpoint + "/participant/transcript", content=read_body, headers=read_h
                )
                return json.loads(r.content)

            return await _warm_and_measure(n, send, read)

    return trio.run(main)


CLIENTS = {
    "participant": run_ours,
    "boto3": run_boto3,
    "aiobotocore": run_aiobotocore,
    "httpx (bare post, baseline)": run_httpx,
    "httpx transport (no AsyncClient, baseline)": run_httpx_transport,
    "httpcore (bare pool, baseline)": run_httpcore,
}


def profile_ours(endpoint: str, send_tok: str, n: int) -> str:
    async def main() -> None:
        async with ParticipantClient(endpoint_url=endpoint) as c:
            for _ in range(WARMUP):
                await c.send_message(send_tok, content_type="text/plain", content="hello")
            prof = cProfile.Profile(time.process_time)  # CPU time, not wall
            prof.enable()
            for _ in range(n):
                await c.send_message(send_tok, content_type="text/plain", content="hello")
            prof.disable()
            out = io.StringIO()
            stats = pstats.Stats(prof, stream=out)
            stats.sort_stats("tottime").print_stats(30)
            stats.sort_stats("cumulative").print_stats("participant|httpx/_client|json|uuid", 30)
            profile_text.append(out.getvalue())

    profile_text: list[str] = []
    trio.run(main)
    return profile_text[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per op per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="300 calls x 2 rounds")
    parser.add_argument("--profile", action="store_true", help="cProfile our SendMessage")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.rounds = 300, 2

    with emulator_process() as endpoint:
        send_tok, read_tok = setup(endpoint)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in CLIENTS}
        for r in range(args.rounds):
            order = list(CLIENTS) if r % 2 == 0 else list(reversed(CLIENTS))
            for name in order:
                runs[name].append(CLIENTS[name](endpoint, send_tok, read_tok, args.calls))
        profile = profile_ours(endpoint, send_tok, args.calls) if args.profile else None

    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, rounds in runs.items():
        results[name] = {}
        for op in ("SendMessage", "GetTranscript"):
            results[name][op] = {k: median([rd[op][k] for rd in rounds]) for k in rounds[0][op]}
    rows = []
    for op in ("SendMessage", "GetTranscript"):
        base = results["boto3"][op]["cpu_us_per_call"]
        for name in CLIENTS:
            m = results[name][op]
            rows.append(
                [
                    op,
                    name,
                    m["calls_per_s"],
                    m["p50_ms"],
                    m["p99_ms"],
                    m["cpu_us_per_call"],
                    m["cpu_us_per_call"] / base,
                ]
            )
    print(
        f"REST against the emulator in another process ({args.calls} calls x {args.rounds} "
        "rounds, median of rounds)\n"
    )
    print(
        table(
            ["operation", "client", "calls/s", "p50 ms", "p99 ms", "CPU µs/call", "CPU vs boto3"],
            rows,
        )
    )
    ours = results["participant"]["SendMessage"]["cpu_us_per_call"]
    boto = results["boto3"]["SendMessage"]["cpu_us_per_call"]
    aio = results["aiobotocore"]["SendMessage"]["cpu_us_per_call"]
    verdict = {
        "cpu_vs_boto3": ours / boto,
        "cpu_vs_aiobotocore": ours / aio,
        "target_vs_boto3": 0.85,
        "meets_boto3_target": ours / boto <= 0.85,
        "meets_aiobotocore_target": ours < aio,
    }
    print(
        f"\nSendMessage CPU/call: participant/boto3 = {ours / boto:.2f} (target <= 0.85: "
        f"{'met' if verdict['meets_boto3_target'] else 'MISSED'}), participant/aiobotocore = "
        f"{ours / aio:.2f} (target < 1: "
        f"{'met' if verdict['meets_aiobotocore_target'] else 'MISSED'})"
    )
    if profile:
        print("\ncProfile of our SendMessage loop (top 25 by own time):\n" + profile)
    path = write_result(
        "rest",
        {
            "calls": args.calls,
            "rounds": args.rounds,
            "results": results,
            "rounds_raw": runs,
            "verdict": verdict,
            "profile": profile,
        },
    )
    print(f"\nwrote {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
