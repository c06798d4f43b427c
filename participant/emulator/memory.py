"""The emulator's websockets over in-memory streams: the real websocket protocol
(trio-websocket on both ends), no socket."""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable
from typing import Any

import trio
import trio.testing
import trio_websocket

from participant.emulator.service import ChatService
from participant.emulator.websocket import AdapterClosed, WebSocketAdapter, run_session

log = logging.getLogger("participant.emulator")


class _TrioWebSocketAdapter:
    def __init__(self, connection: trio_websocket.WebSocketConnection, stream: trio.abc.Stream):
        self._connection = connection
        self._stream = stream

    async def receive_text(self) -> str:
        try:
            message = await self._connection.get_message()
        except trio_websocket.ConnectionClosed as exc:
            raise AdapterClosed from exc
        if isinstance(message, bytes):
            return message.decode("utf-8", errors="replace")
        return str(message)

    async def send_text(self, text: str) -> None:
        try:
            await self._connection.send_message(text)
        except trio_websocket.ConnectionClosed as exc:
            raise AdapterClosed from exc

    async def close(self, code: int, reason: str) -> None:
        await self._connection.aclose(code, reason)

    async def abort(self) -> None:
        await trio.aclose_forcefully(self._stream)


def memory_websocket_connector(
    service: ChatService, own_nursery: Callable[[], trio.Nursery]
) -> Callable[[trio.Nursery, str], Any]:
    """``async (nursery, url) -> trio_websocket.WebSocketConnection``: each connection's
    server side runs in ``own_nursery()`` (the emulator's; it raises RuntimeError when the
    emulator is not running) and is served by :func:`serve_memory_socket`."""

    async def connect(nursery: trio.Nursery, url: str) -> trio_websocket.WebSocketConnection:
        own = own_nursery()
        parts = urllib.parse.urlsplit(url)
        client_stream, server_stream = trio.testing.memory_stream_pair()
        own.start_soon(serve_memory_socket, service, server_stream)
        resource = parts.path or "/"
        if parts.query:
            resource += "?" + parts.query
        return await trio_websocket.wrap_client_stream(
            nursery,
            client_stream,  # type: ignore[arg-type]  # any trio Stream works
            parts.netloc or "localhost",
            resource,
        )

    return connect


async def serve_memory_socket(service: ChatService, stream: trio.abc.Stream) -> None:
    """Serve one in-memory websocket (the server side of ``stream``) as ``/connect`` does."""
    try:
        async with trio.open_nursery() as nursery:
            request = await trio_websocket.wrap_server_stream(
                nursery,
                stream,
                max_message_size=service.config.max_frame_bytes,
            )
            parts = urllib.parse.urlsplit(request.path)
            query = urllib.parse.parse_qs(parts.query)
            values = query.get("AuthToken") if parts.path == "/connect" else None
            token = values[0] if values else None
            holder: list[trio_websocket.WebSocketConnection] = []

            async def accept() -> WebSocketAdapter:
                connection = await request.accept()
                holder.append(connection)
                return _TrioWebSocketAdapter(connection, stream)

            async def reject(status: int) -> None:
                await request.reject(status, body=b'{"message":"Forbidden"}')

            await run_session(service, token, accept, reject)
            if holder and not holder[0].closed:
                await holder[0].aclose()
            nursery.cancel_scope.cancel()
    except (
        trio.BrokenResourceError,
        trio.ClosedResourceError,
        trio_websocket.ConnectionClosed,
    ) as exc:
        log.debug("in-memory socket ended: %r", exc)
    finally:
        await trio.aclose_forcefully(stream)
