"""REST benchmark: SendMessage, a GetTranscript page and CreateParticipantConnection through
this library, its nearest Python peer capo-connectparticipant (on trio), boto3 and
aiobotocore, and bare transports, against one emulator running in ANOTHER process
(loopback, rate limits off).

For each client and operation: calls per second (sequential, one keep-alive connection),
per-call latency p50/p99, and the CLIENT process's CPU time per call
(``time.process_time``; the emulator's CPU is not counted). All trio clients are open
at once in one trio run and measured in blocks of ``--block`` calls; each round runs one
block of every client and operation in a new random order, and a client's CPU ratio to
capo is the median of its per-round ratios (this shared machine's speed drifts by 2 x over
minutes; pairing within a round cancels most of it). aiobotocore needs asyncio and runs
after them, unpaired. Target (issue 15): our CPU per call <= 0.75 x capo's. The ``baseline`` rows
are not clients: the cost of the transport layers alone (httpcore is the floor under
httpx, which the library uses).

    python benchmarks/bench_rest.py                  # 1000 calls per client and operation
    python benchmarks/bench_rest.py --quick          # 300 calls
    python benchmarks/bench_rest.py --quick --tls    # over https (the emulator's trustme CA)
    python benchmarks/bench_rest.py --profile        # also cProfile ours and capo's calls
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.config
import httpcore
import httpx
import trio
from _common import (
    Endpoint,
    add_tls_argument,
    emulator_process,
    median,
    percentile,
    profile_layers,
    table,
    write_result,
)

CREDS = {
    "region_name": "us-east-1",
    "aws_access_key_id": "x",
    "aws_secret_access_key": "x",
}
BOTO_CONFIG = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})
WARMUP = 50
OPS = ("SendMessage", "GetTranscript", "CreateParticipantConnection")
CONNECTION_TYPES = ["WEBSOCKET", "CONNECTION_CREDENTIALS"]  # what the actor asks for
TARGET_VS_CAPO = 0.75
BASELINE = "capo-connectparticipant (trio)"


@dataclass(frozen=True)
class Chats:
    """What every client calls with: a ConnectionToken to send to, one of a chat with 30
    messages to read a page of 10 from, and a ParticipantToken to connect again and again."""

    send_token: str
    read_token: str
    participant_token: str


def _boto_kwargs(ep: Endpoint) -> dict[str, Any]:
    return {"endpoint_url": ep.url, "verify": ep.ca_file, **CREDS}


def setup(ep: Endpoint) -> Chats:
    """Three chats (boto3 against the emulator): one to send to, one with 30 messages to
    read, one whose customer connects again and again."""
    connect = boto3.client("connect", **_boto_kwargs(ep))
    cp = boto3.client("connectparticipant", **_boto_kwargs(ep))
    conn_tokens, participant_tokens = [], []
    for name in ("sender", "reader", "connector"):
        chat = connect.start_chat_contact(
            InstanceId="bench", ContactFlowId="bench", ParticipantDetails={"DisplayName": name}
        )
        participant_tokens.append(chat["ParticipantToken"])
        conn = cp.create_participant_connection(
            ParticipantToken=chat["ParticipantToken"], Type=["CONNECTION_CREDENTIALS"]
        )
        conn_tokens.append(conn["ConnectionCredentials"]["ConnectionToken"])
    for i in range(30):
        cp.send_message(ConnectionToken=conn_tokens[1], ContentType="text/plain", Content=f"m{i}")
    return Chats(conn_tokens[0], conn_tokens[1], participant_tokens[2])


Call = Callable[[], Awaitable[Any]]
Opener = Callable[[Endpoint, Chats], AbstractAsyncContextManager[dict[str, Call]]]


@asynccontextmanager
async def open_ours(ep: Endpoint, chats: Chats) -> AsyncIterator[dict[str, Call]]:
    async with ep.participant_client() as c:
        yield _our_calls(c, chats)


def _our_calls(c: Any, chats: Chats) -> dict[str, Call]:
    async def send() -> Any:
        return await c.send_message(chats.send_token, content_type="text/plain", content="hello")

    async def read() -> Any:
        return await c.get_transcript(chats.read_token, max_results=10)

    async def create() -> Any:
        return await c.create_participant_connection(chats.participant_token, type=CONNECTION_TYPES)

    return {"SendMessage": send, "GetTranscript": read, "CreateParticipantConnection": create}


def _capo_client(ep: Endpoint) -> Any:
    """capo-connectparticipant's async client on trio: zapros's standard handler with its
    trio transport (the emulator's CA over TLS), unsigned (the Participant Service takes
    the tokens as X-Amz-Bearer, no SigV4), one attempt like every other row."""
    from capo_connectparticipant import AsyncConnectParticipantClient
    from zapros import AsyncStdNetworkHandler, TrioTransport

    context = ep.ssl_context()
    handler = AsyncStdNetworkHandler(
        transport=TrioTransport() if context is None else TrioTransport(ssl_context=context)
    )
    return AsyncConnectParticipantClient(
        http_handler=handler,
        endpoint=ep.url,
        region="us-east-1",
        anonymous=True,
        retry_max_attempts=1,
    )


def _capo_calls(c: Any, chats: Chats) -> dict[str, Call]:
    # a fresh ClientToken per SendMessage, as the library and boto3 make one
    async def send() -> Any:
        return await c.send_message(
            "text/plain", "hello", chats.send_token, client_token=str(uuid.uuid4())
        )

    async def read() -> Any:
        return await c.get_transcript(chats.read_token, max_results=10)

    async def create() -> Any:
        return await c.create_participant_connection(chats.participant_token, type=CONNECTION_TYPES)

    return {"SendMessage": send, "GetTranscript": read, "CreateParticipantConnection": create}


@asynccontextmanager
async def open_capo(ep: Endpoint, chats: Chats) -> AsyncIterator[dict[str, Call]]:
    async with _capo_client(ep) as c:
        yield _capo_calls(c, chats)


@asynccontextmanager
async def open_boto3(ep: Endpoint, chats: Chats) -> AsyncIterator[dict[str, Call]]:
    """boto3 is synchronous: each call blocks the trio loop, which has nothing else to do."""
    c = boto3.client("connectparticipant", config=BOTO_CONFIG, **_boto_kwargs(ep))

    async def send() -> Any:
        return c.send_message(
            ConnectionToken=chats.send_token, ContentType="text/plain", Content="hello"
        )

    async def read() -> Any:
        return c.get_transcript(ConnectionToken=chats.read_token, MaxResults=10)

    async def create() -> Any:
        return c.create_participant_connection(
            ParticipantToken=chats.participant_token, Type=CONNECTION_TYPES
        )

    try:
        yield {"SendMessage": send, "GetTranscript": read, "CreateParticipantConnection": create}
    finally:
        c.close()


def run_aiobotocore(ep: Endpoint, chats: Chats, n: int, block: int) -> dict[str, Any]:
    """aiobotocore needs asyncio, so it runs apart from the interleaved trio clients: its
    blocks are measured after theirs, and its ratio is of medians, not paired."""
    import aiobotocore.session

    async def main() -> dict[str, Any]:
        session = aiobotocore.session.get_session()
        async with session.create_client(
            "connectparticipant", config=BOTO_CONFIG, **_boto_kwargs(ep)
        ) as c:

            async def send() -> Any:
                return await c.send_message(
                    ConnectionToken=chats.send_token, ContentType="text/plain", Content="hello"
                )

            async def read() -> Any:
                return await c.get_transcript(ConnectionToken=chats.read_token, MaxResults=10)

            async def create() -> Any:
                return await c.create_participant_connection(
                    ParticipantToken=chats.participant_token, Type=CONNECTION_TYPES
                )

            calls = {
                "SendMessage": send,
                "GetTranscript": read,
                "CreateParticipantConnection": create,
            }
            for _ in range(WARMUP):
                for call in calls.values():
                    await call()
            return {op: [await _block(calls[op], block) for _ in range(n // block)] for op in OPS}

    return asyncio.run(main())


@dataclass(frozen=True)
class _Bare:
    """The three requests as (path, headers, body-maker) for the bare baselines."""

    requests: dict[str, tuple[str, dict[str, str], Callable[[], bytes]]]


def _bare_requests(chats: Chats) -> _Bare:
    h = {"Content-Type": "application/json"}
    read_body = json.dumps({"MaxResults": 10}).encode()
    create_body = json.dumps({"Type": CONNECTION_TYPES}).encode()
    return _Bare(
        {
            "SendMessage": (
                "/participant/message",
                {**h, "X-Amz-Bearer": chats.send_token},
                _fresh_send_body,
            ),
            "GetTranscript": (
                "/participant/transcript",
                {**h, "X-Amz-Bearer": chats.read_token},
                lambda: read_body,
            ),
            "CreateParticipantConnection": (
                "/participant/connection",
                {**h, "X-Amz-Bearer": chats.participant_token},
                lambda: create_body,
            ),
        }
    )


def _fresh_send_body() -> bytes:
    """A SendMessage body with a new ClientToken (the bare baselines send one per call)."""
    return json.dumps(
        {"ContentType": "text/plain", "Content": "hello", "ClientToken": str(uuid.uuid4())}
    ).encode()


@asynccontextmanager
async def open_httpx(ep: Endpoint, chats: Chats) -> AsyncIterator[dict[str, Call]]:
    """Baseline: a plain httpx.AsyncClient.post on trio (no validation, no parsing
    beyond json.loads). Not a usable client; the floor of the transport we use."""
    bare = _bare_requests(chats)
    async with httpx.AsyncClient(verify=ep.ssl_context() or True) as c:

        def make(path: str, headers: dict[str, str], body: Callable[[], bytes]) -> Call:
            async def call() -> Any:
                r = await c.post(ep.url + path, content=body(), headers=headers)
                return json.loads(r.content)

            return call

        yield {op: make(*req) for op, req in bare.requests.items()}


@asynccontextmanager
async def open_httpx_transport(ep: Endpoint, chats: Chats) -> AsyncIterator[dict[str, Call]]:
    """Baseline: httpx.AsyncHTTPTransport.handle_async_request with a prebuilt httpx.Request
    (what an injectable-transport client costs without httpx.AsyncClient's layers)."""
    bare = _bare_requests(chats)
    async with httpx.AsyncHTTPTransport(verify=ep.ssl_context() or True) as t:

        def make(path: str, headers: dict[str, str], body: Callable[[], bytes]) -> Call:
            url = httpx.URL(ep.url + path)

            async def call() -> Any:
                response = await t.handle_async_request(
                    httpx.Request("POST", url, content=body(), headers=headers)
                )
                try:
                    raw = await response.aread()
                finally:
                    await response.aclose()
                return json.loads(raw)

            return call

        yield {op: make(*req) for op, req in bare.requests.items()}


@asynccontextmanager
async def open_httpcore(ep: Endpoint, chats: Chats) -> AsyncIterator[dict[str, Call]]:
    """Baseline: a bare httpcore.AsyncConnectionPool on trio (the floor under httpx)."""
    bare = _bare_requests(chats)
    async with httpcore.AsyncConnectionPool(ssl_context=ep.ssl_context()) as pool:

        def make(path: str, headers: dict[str, str], body: Callable[[], bytes]) -> Call:
            async def call() -> Any:
                r = await pool.request("POST", ep.url + path, content=body(), headers=headers)
                return json.loads(r.content)

            return call

        yield {op: make(*req) for op, req in bare.requests.items()}


CLIENTS: dict[str, Opener] = {
    "participant": open_ours,
    BASELINE: open_capo,
    "boto3": open_boto3,
    "httpx (bare post, baseline)": open_httpx,
    "httpx transport (no AsyncClient, baseline)": open_httpx_transport,
    "httpcore (bare pool, floor)": open_httpcore,
}
AIOBOTOCORE = "aiobotocore (asyncio, not interleaved)"


async def _block(call: Call, n: int) -> dict[str, Any]:
    """n sequential calls: CPU and wall time, each call's latency."""
    lat = []
    cpu0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        s = time.perf_counter()
        await call()
        lat.append(time.perf_counter() - s)
    return {
        "cpu_s": time.process_time() - cpu0,
        "wall_s": time.perf_counter() - t0,
        "lat_s": lat,
    }


def run_interleaved(ep: Endpoint, chats: Chats, n: int, block: int) -> dict[str, Any]:
    """Every trio client open at once in one trio run; n // block rounds, each running one
    block of every client and operation in a new random order. Ratios are taken within a
    round, so the machine's drift hits both sides of a ratio alike."""

    async def main() -> dict[str, Any]:
        rng = random.Random(15)
        async with AsyncExitStack() as stack:
            calls = {
                name: await stack.enter_async_context(o(ep, chats)) for name, o in CLIENTS.items()
            }
            for _ in range(WARMUP):
                for by_op in calls.values():
                    for call in by_op.values():
                        await call()
            out: dict[str, Any] = {name: {op: [] for op in OPS} for name in CLIENTS}
            for _ in range(n // block):
                for op in OPS:
                    order = list(CLIENTS)
                    rng.shuffle(order)
                    for name in order:
                        out[name][op].append(await _block(calls[name][op], block))
            return out

    return trio.run(main)


def _summary(blocks: list[dict[str, Any]], base: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Per client and operation: calls/s and CPU per call over all blocks, latency
    percentiles over all calls, and the median and range of per-block CPU ratios to
    ``base`` (the same round's capo block)."""
    calls = sum(len(b["lat_s"]) for b in blocks)
    lat = [x for b in blocks for x in b["lat_s"]]
    out = {
        "calls": calls,
        "calls_per_s": calls / sum(b["wall_s"] for b in blocks),
        "p50_ms": percentile(lat, 50) * 1e3,
        "p99_ms": percentile(lat, 99) * 1e3,
        "cpu_us_per_call": median([b["cpu_s"] / len(b["lat_s"]) for b in blocks]) * 1e6,
    }
    if base is not None:
        ratios = [b["cpu_s"] / c["cpu_s"] for b, c in zip(blocks, base, strict=True)]
        out["cpu_vs_capo"] = median(ratios)
        out["cpu_vs_capo_range"] = [min(ratios), max(ratios)]
    return out


def _profile(
    n: int, open_client: Callable[[], Any], calls_for: Callable[[Any], dict[str, Call]]
) -> dict[str, Any]:
    """cProfile (CPU time) of n calls of each operation after a warm-up: the own time per
    layer (µs per call, profiler overhead included) and the top functions."""

    async def main() -> dict[str, Any]:
        async with open_client() as c:
            bound = calls_for(c)
            for _ in range(WARMUP):
                for call in bound.values():
                    await call()
            out: dict[str, Any] = {}
            for op in OPS:
                prof = cProfile.Profile(time.process_time)  # CPU time, not wall
                prof.enable()
                for _ in range(n):
                    await bound[op]()
                prof.disable()
                total, layers = profile_layers(prof)
                text = io.StringIO()
                pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(20)
                out[op] = {
                    "total_us_per_call": total / n * 1e6,
                    "layers_us_per_call": {
                        k: v / n * 1e6 for k, v in sorted(layers.items(), key=lambda kv: -kv[1])
                    },
                    "top": text.getvalue(),
                }
            return out

    return trio.run(main)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per client and op")
    parser.add_argument("--block", type=int, default=50, help="calls per measured block")
    parser.add_argument("--quick", action="store_true", help="300 calls")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile ours and capo's calls per layer"
    )
    add_tls_argument(parser)
    args = parser.parse_args()
    if args.quick:
        args.calls = 300

    profiles: dict[str, Any] = {}
    with emulator_process(tls=args.tls) as ep:
        chats = setup(ep)
        blocks = run_interleaved(ep, chats, args.calls, args.block)
        blocks[AIOBOTOCORE] = run_aiobotocore(ep, chats, args.calls, args.block)
        if args.profile:
            profiles["participant"] = _profile(
                args.calls, ep.participant_client, lambda c: _our_calls(c, chats)
            )
            profiles[BASELINE] = _profile(
                args.calls, lambda: _capo_client(ep), lambda c: _capo_calls(c, chats)
            )

    names = [*CLIENTS, AIOBOTOCORE]
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for name in names:
        results[name] = {}
        for op in OPS:
            paired = name in CLIENTS
            m = _summary(blocks[name][op], blocks[BASELINE][op] if paired else None)
            if not paired:
                m["cpu_vs_capo"] = (
                    m["cpu_us_per_call"] / _summary(blocks[BASELINE][op], None)["cpu_us_per_call"]
                )
            results[name][op] = m
    rows = []
    for op in OPS:
        for name in names:
            m = results[name][op]
            span = m.get("cpu_vs_capo_range")
            rows.append(
                [
                    op,
                    name,
                    m["calls_per_s"],
                    m["p50_ms"],
                    m["p99_ms"],
                    m["cpu_us_per_call"],
                    m["cpu_vs_capo"],
                    "-" if span is None else f"{span[0]:.2f}-{span[1]:.2f}",
                ]
            )
    over = "https" if args.tls else "plain http"
    print(
        f"REST against the emulator in another process over {over} ({args.calls} calls per "
        f"client and operation in blocks of {args.block}, clients interleaved)\n"
    )
    print(
        table(
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
    verdict: dict[str, Any] = {"target_vs_capo": TARGET_VS_CAPO}
    for op in OPS:
        ratio = results["participant"][op]["cpu_vs_capo"]
        verdict[op] = {"cpu_vs_capo": ratio, "met": ratio <= TARGET_VS_CAPO}
        print(
            f"{op}: participant/capo CPU per call = {ratio:.2f} (target <= {TARGET_VS_CAPO}: "
            f"{'met' if ratio <= TARGET_VS_CAPO else 'MISSED'})"
        )
    for name, prof in profiles.items():
        print(f"\ncProfile of {name}: share of own CPU time by layer")
        for op in OPS:
            total = prof[op]["total_us_per_call"]
            layers = ", ".join(
                f"{k} {v / total:.0%}" for k, v in list(prof[op]["layers_us_per_call"].items())[:9]
            )
            print(f"  {op}: {layers}")
    if profiles:
        print("\nparticipant SendMessage, top functions by own time:\n")
        print(profiles["participant"]["SendMessage"]["top"])
    path = write_result(
        "rest_tls" if args.tls else "rest",
        {
            "tls": args.tls,
            "calls": args.calls,
            "block": args.block,
            "baseline": BASELINE,
            "results": results,
            "blocks_cpu_s": {
                name: {op: [b["cpu_s"] for b in blocks[name][op]] for op in OPS} for name in names
            },
            "verdict": verdict,
            "profile": profiles or None,
        },
    )
    print(f"\nwrote {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
