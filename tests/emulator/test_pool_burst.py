"""The library's default transport under a burst of requests (many participants
reconnecting at once), against the loopback emulator: it reuses its connections instead
of closing each one as it finishes and opening another (docs/benchmarks.md, Scale)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import trio

from participant.api import (
    DEFAULT_LIMITS,
    DEFAULT_MAX_IN_FLIGHT,
    ParticipantClient,
    default_transport,
)
from participant.emulator import serve
from participant.emulator.config import EmulatorConfig
from participant.errors import AccessDeniedException


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


class Counting(httpx.AsyncBaseTransport):
    """Counts the requests inside ``inner`` at once."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.now = self.most = self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.now += 1
        self.requests += 1
        self.most = max(self.most, self.now)
        try:
            response = await self.inner.handle_async_request(request)
            await response.aread()
            return response
        finally:
            self.now -= 1

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_clients_burst_never_queues_in_the_pool() -> None:
    burst = 3 * DEFAULT_LIMITS.max_connections
    async with serve(EmulatorConfig(rate_limits=False)) as server:
        counting = Counting(default_transport(server.endpoint_url))
        async with counting, ParticipantClient(
            endpoint_url=server.endpoint_url, transport=counting
        ) as client:

            async def one() -> None:
                with pytest.raises(AccessDeniedException):  # an unknown token: not retried
                    await client.get_transcript("not-a-connection-token")

            async with trio.open_nursery() as nursery:
                for _ in range(burst):
                    nursery.start_soon(one)
    assert counting.requests == burst
    assert counting.most == DEFAULT_MAX_IN_FLIGHT == DEFAULT_LIMITS.max_connections
