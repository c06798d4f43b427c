"""The library's default transport under a burst of requests (many participants
reconnecting at once), against the loopback emulator: it reuses its connections instead
of closing each one as it finishes and opening another (docs/benchmarks.md, Scale)."""

from __future__ import annotations

from typing import Any

import httpx
import trio

from participant.api import DEFAULT_LIMITS, default_transport
from participant.emulator import serve
from participant.emulator.config import EmulatorConfig


async def test_a_burst_reuses_the_pools_connections() -> None:
    connects = 0

    async def trace(name: str, info: dict[str, Any]) -> None:
        nonlocal connects
        if name == "connection.connect_tcp.complete":
            connects += 1

    burst = 2 * DEFAULT_LIMITS.max_connections  # more requests at once than connections
    async with serve(EmulatorConfig(rate_limits=False)) as server:
        transport = default_transport(server.endpoint_url)
        async with httpx.AsyncClient(transport=transport, base_url=server.endpoint_url) as http:

            async def one() -> None:
                r = await http.post(
                    "/emulator/contacts", json={"DisplayName": "c"}, extensions={"trace": trace}
                )
                assert r.status_code == 200

            for _ in range(3):
                async with trio.open_nursery() as nursery:
                    for _ in range(burst):
                        nursery.start_soon(one)
    # every request was served; no connection was opened twice for the same slot
    assert connects <= DEFAULT_LIMITS.max_connections
