"""Small helpers for the emulator tests: a raw httpx client and websocket over memory."""

from __future__ import annotations

import json
from typing import Any

import httpx
import trio
import trio_websocket

from participant.emulator import Emulator


class Raw:
    """Raw wire calls to an in-memory emulator (no client logic)."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.http = httpx.AsyncClient(transport=emu.http_transport(), base_url=emu.endpoint_url)

    async def call(self, path: str, token: str | None, body: dict[str, Any] | None = None,
                   method: str = "POST") -> httpx.Response:
        headers = {"X-Amz-Bearer": token} if token else {}
        return await self.http.request(method, path, headers=headers, json=body or {})

    async def ok(self, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
        response = await self.call(path, token, body)
        assert response.status_code == 200, (response.status_code, response.text)
        return response.json()

    async def connect(self, participant_token: str) -> dict[str, Any]:
        return await self.ok(  # type: ignore[no-any-return]
            "/participant/connection", participant_token,
            {"Type": ["WEBSOCKET", "CONNECTION_CREDENTIALS"], "ConnectParticipant": True},
        )

    async def open_ws(self, nursery: trio.Nursery, url: str,
                      subscribe: bool = True) -> trio_websocket.WebSocketConnection:
        ws = await self.emu.websocket_connector()(nursery, url)
        if subscribe:
            await ws.send_message(json.dumps(
                {"topic": "aws/subscribe", "content": {"topics": ["aws/chat"]}}))
            reply = json.loads(await ws.get_message())
            assert reply == {"topic": "aws/subscribe",
                             "content": {"status": "success", "topics": ["aws/chat"]}}
        return ws


async def next_chat(ws: trio_websocket.WebSocketConnection) -> dict[str, Any]:
    """Next aws/chat frame's item (content decoded twice)."""
    while True:
        frame = json.loads(await ws.get_message())
        if frame.get("topic") == "aws/chat":
            assert frame["contentType"] == "application/json"
            assert isinstance(frame["content"], str)
            return json.loads(frame["content"])  # type: ignore[no-any-return]


async def rejected_status(emu: Emulator, url: str) -> int | None:
    """Open ``url`` in its own nursery; the refusal's HTTP status, or None if it opened.

    Like ``trio_websocket.connect_websocket_url``, a refusal is raised by the reader task
    in the nursery given to the connector.
    """
    status: int | None = None
    try:
        async with trio.open_nursery() as nursery:
            ws = await emu.websocket_connector()(nursery, url)
            await ws.aclose()
    except* trio_websocket.ConnectionRejected as group:
        exc = group.exceptions[0]
        assert isinstance(exc, trio_websocket.ConnectionRejected)
        status = exc.status_code
    return status
