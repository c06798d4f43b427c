"""The service's side of the websocket protocol ([protocol](protocol.md#the-websocket)), once, over
a small adapter.

Both the ASGI websocket (loopback server) and the in-memory trio-websocket server side
implement :class:`WebSocketAdapter`; :func:`run_session` does the rest: subscribe reply,
heartbeat echo, ``aws/ping`` reply, error frames, chat frames, the close at
ConnectionExpiry and the faults (drop, silent heartbeats, delayed or reordered frames).
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any, Final, Protocol

import trio

from participant.emulator._wire import json_too_deep, new_id
from participant.emulator.service import JSON, ChatService, Participant, WebsocketUrl

log = logging.getLogger("participant.emulator.websocket")

HEARTBEAT_FRAME: Final = '{"topic":"aws/heartbeat"}'
"""The heartbeat as clients send it ([protocol](protocol.md#the-websocket)): answered without a JSON
round."""
HEARTBEAT_REPLY: Final = json.dumps({"topic": "aws/heartbeat"})
"""The echo, encoded once (the same text as before the fast path)."""

Frame = JSON | str
"""A frame queued for a socket: a JSON object, or text already encoded."""


class AdapterClosed(Exception):
    """The peer closed the websocket (or the transport broke)."""


class WebSocketAdapter(Protocol):
    """What a session needs from one accepted websocket."""

    async def receive_text(self) -> str:
        """Next text message; raises :class:`AdapterClosed` when the socket is closed."""
        ...

    async def send_text(self, text: str) -> None:
        """Send a text message; raises :class:`AdapterClosed` when the socket is closed."""
        ...

    async def close(self, code: int, reason: str) -> None:
        """Close with a close frame."""
        ...

    async def abort(self) -> None:
        """Drop the transport without a close frame."""
        ...


class ServerSocket:
    """One open websocket of a participant (the service sees it as a ``SocketHandle``)."""

    def __init__(self, service: ChatService, participant: Participant, url: WebsocketUrl) -> None:
        self.service = service
        self.socket_id = new_id()
        self.participant_id = participant.participant_id
        self.connection_expiry = url.connection_expiry
        self.subscribed = False
        self._send, self._receive = trio.open_memory_channel[Frame](math.inf)
        self._unsent = 0  # frames queued or held by the writer, not yet sent
        self._queue_limit = service.config.max_socket_queue
        self._overflowed = False
        self._bad_frames = 0
        self._bad_logged_at = -math.inf
        self._dropped: tuple[bool, int, str] | None = None
        self._drop_event = trio.Event()

    def __repr__(self) -> str:
        return f"ServerSocket(socket_id={self.socket_id!r}, participant_id={self.participant_id!r})"

    def deliver(self, frame: Frame) -> None:
        """Queue a frame (a JSON object, or encoded text) for this socket (never blocks).

        A socket told to close takes no new frame: what was queued before goes out with a
        clean close, an item emitted later is only in the transcript
        ([protocol](protocol.md#the-websocket)). Past ``max_socket_queue`` unsent frames
        the socket is closed (1008, "send queue full") and what is queued is discarded: a
        client that does not read does not hold the server's memory."""
        if self._dropped is not None:
            return
        if self._unsent >= self._queue_limit:
            self._overflowed = True
            log.warning(
                "socket %s: %d frames not taken by the client; closing it",
                self.socket_id,
                self._unsent,
            )
            self.drop(close_frame=True, code=1008, reason="Send queue full")
            return
        try:
            self._send.send_nowait(frame)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass
        else:
            self._unsent += 1

    def drop(self, *, close_frame: bool, code: int = 1000, reason: str = "") -> None:
        """Close this socket soon: with a close frame (``code``, ``reason``) or without."""
        if self._dropped is None:
            self._dropped = (close_frame, code, reason)
            self._drop_event.set()

    async def run(self, adapter: WebSocketAdapter) -> None:
        """Serve the socket until the peer closes, a drop, or ConnectionExpiry."""
        participant = self.service.participant(self.participant_id)
        if self not in participant.sockets:
            participant.sockets.append(self)
        log.info("socket %s opened for participant %s", self.socket_id, self.participant_id)
        try:
            async with trio.open_nursery() as nursery:
                writer_done = trio.Event()
                nursery.start_soon(self._reader, adapter)
                nursery.start_soon(self._writer, adapter, writer_done)
                nursery.start_soon(self._expiry_timer)
                await self._drop_event.wait()
                if self._dropped is not None and self._dropped[0] and not self._overflowed:
                    # a clean close sends what is queued first (e.g. the chat.ended frame)
                    self._send.close()
                    with trio.move_on_after(5):
                        await writer_done.wait()
                nursery.cancel_scope.cancel()
        finally:
            if self in participant.sockets:
                participant.sockets.remove(self)
            self._send.close()
        if self._dropped is None:
            return
        close_frame, code, reason = self._dropped
        with trio.CancelScope(shield=True):
            with trio.move_on_after(5):
                try:
                    if close_frame:
                        await adapter.close(code, reason)
                    else:
                        await adapter.abort()
                except AdapterClosed:
                    pass
        log.info("socket %s closed by the server (%s)", self.socket_id, reason or "dropped")

    async def _expiry_timer(self) -> None:
        await trio.sleep_until(self.service.trio_deadline(self.connection_expiry))
        self.drop(close_frame=True, code=1000, reason="ConnectionExpiry")

    async def _reader(self, adapter: WebSocketAdapter) -> None:
        faults = self.service.faults
        try:
            while True:
                text = await adapter.receive_text()
                if text == HEARTBEAT_FRAME and not self._unsent and not faults.frame_delay:
                    # Fast path for an idle socket's only frame (every 10 s per socket):
                    # nothing is waiting to be sent before it, so the echo goes out from
                    # this task, without a hop through the writer.
                    if self.participant_id in faults.silent_heartbeats:
                        continue
                    try:
                        await adapter.send_text(HEARTBEAT_REPLY)
                    except AdapterClosed:
                        self.drop(close_frame=False, reason="transport closed")
                        return
                    continue
                self._handle(text)
        except AdapterClosed:
            if self._dropped is None:
                log.info("socket %s closed by the client", self.socket_id)
                self._drop_event.set()

    def _bad_frame(self) -> None:
        """Log a bad frame (never its text), at most once a minute per socket."""
        now = trio.current_time()
        self._bad_frames += 1
        if now - self._bad_logged_at >= 60.0:
            log.warning(
                "socket %s: %d bad frame(s) (not a JSON object), answered with errors",
                self.socket_id,
                self._bad_frames,
            )
            self._bad_logged_at, self._bad_frames = now, 0

    def _error(self, message: str) -> JSON:
        return {"message": message, "connectionId": self.socket_id, "requestId": new_id()}

    def _handle(self, text: str) -> None:
        if text == HEARTBEAT_FRAME:
            # Frames are queued (or a delay fault is on): the echo waits its turn, still
            # without decoding the frame or encoding the reply (see _reader).
            if self.participant_id not in self.service.faults.silent_heartbeats:
                self.deliver(HEARTBEAT_REPLY)
            return
        try:
            if json_too_deep(text, self.service.config.max_json_depth):
                raise ValueError("nested too deep")
            frame: Any = json.loads(text)
            if not isinstance(frame, dict):
                raise ValueError("not an object")
        except (ValueError, RecursionError):
            self._bad_frame()
            self.deliver(self._error("Bad Request"))
            return
        topic = frame.get("topic")
        if topic == "aws/heartbeat":
            if self.participant_id not in self.service.faults.silent_heartbeats:
                self.deliver({"topic": "aws/heartbeat"})
        elif topic == "aws/ping":
            self.deliver({"topic": "aws/ping", "statusCode": 200, "statusContent": "OK"})
        elif topic == "aws/subscribe":
            content = frame.get("content")
            topics = content.get("topics") if isinstance(content, dict) else None
            if isinstance(topics, list) and topics and all(t == "aws/chat" for t in topics):
                self.subscribed = True
                self.deliver(
                    {
                        "topic": "aws/subscribe",
                        "content": {"status": "success", "topics": ["aws/chat"]},
                    }
                )
            else:
                log.warning("socket %s: subscribe to unknown topics", self.socket_id)
                self.deliver(
                    {
                        "topic": "aws/subscribe",
                        "content": {"status": "failure", "topics": [], "message": "Bad topics"},
                    }
                )
        elif topic == "aws/unsubscribe":
            self.subscribed = False
            self.deliver(
                {"topic": "aws/unsubscribe", "content": {"status": "success", "topics": []}}
            )
        else:
            log.warning("socket %s: frame with topic %r refused", self.socket_id, topic)
            self.deliver(self._error("Forbidden"))

    async def _writer(self, adapter: WebSocketAdapter, done: trio.Event) -> None:
        try:
            await self._write_frames(adapter)
        finally:
            done.set()

    async def _write_frames(self, adapter: WebSocketAdapter) -> None:
        faults = self.service.faults
        held: list[Frame] = []
        async for frame in self._receive:
            if faults.frame_delay:
                delay = faults.delay_for(self.participant_id)
                if delay > 0:
                    await trio.sleep(delay)
            batch = faults.reorder_for(self.participant_id) if faults.reorder else 0
            if batch > 1 and isinstance(frame, dict) and frame.get("topic") == "aws/chat":
                held.append(frame)
                if len(held) < batch:
                    continue
                frames, held = held[::-1], []
            else:
                frames, held = [*held, frame], []
            for out in frames:
                try:
                    await adapter.send_text(out if isinstance(out, str) else json.dumps(out))
                except AdapterClosed:
                    self.drop(close_frame=False, reason="transport closed")
                    return
                self._unsent -= 1
        for out in held:  # the channel closed: flush what the reorder fault held back
            try:
                await adapter.send_text(out if isinstance(out, str) else json.dumps(out))
            except AdapterClosed:
                return


async def run_session(
    service: ChatService, url_token: str | None, accept: _Accept, reject: _Reject
) -> None:
    """Claim the URL, accept or reject the handshake, then serve the socket."""
    try:
        participant, url = service.claim_websocket_url(url_token)
    except Exception as exc:
        status = getattr(exc, "status", 403)
        log.info("websocket refused (%s)", getattr(exc, "message", "error"))
        await reject(int(status))
        return
    socket = ServerSocket(service, participant, url)
    participant.sockets.append(socket)  # counts against the limit from the handshake on
    try:
        adapter = await accept()
        await socket.run(adapter)
    finally:
        if socket in participant.sockets:
            participant.sockets.remove(socket)


class _Accept(Protocol):
    async def __call__(self) -> WebSocketAdapter: ...


class _Reject(Protocol):
    async def __call__(self, status: int) -> None: ...
