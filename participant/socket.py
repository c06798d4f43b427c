"""One websocket to the Participant Service: subscribe, heartbeat, frames
([protocol](protocol.md#the-websocket)).

A :class:`ChatSocket` wraps one :class:`trio_websocket.WebSocketConnection`. It is
started with :func:`serve_socket` (via ``nursery.start``), which opens the URL with an
injectable :data:`WebSocketConnector` (trio-websocket's reader task runs in the socket's own
nursery), reads frames, heartbeats and pings in one task (the one that called it), and
hands the :class:`ChatSocket` back once the socket is open. The caller then
awaits :meth:`ChatSocket.subscribe` and, later, :meth:`ChatSocket.aclose` or
:attr:`ChatSocket.lost`.

Behaviour ([protocol](protocol.md#the-websocket), numbers from AWS's JS client, all in
:class:`SocketConfig`):

- subscribe to ``aws/chat``; re-send after ``subscribe_timeout`` (1 s) without a reply, up
  to ``subscribe_max_misses`` (3) frames like AWS's JS client, then keep waiting for a
  (late) reply to any of them: give up only ``subscribe_max_wait`` (10 s) after the first
  frame. A slow but live service (a loaded emulator, a busy process) is not abandoned and
  re-created, which would add load (a retry storm); retry a non-success reply every
  ``subscribe_retry_interval`` (0.5 s) up to ``subscribe_max_retries`` (5) times;
- heartbeat on open and every ``heartbeat_interval`` (10 s); a heartbeat still unanswered at
  the next tick means the socket is dead. While the reader is blocked handing an item to a
  slow consumer it cannot read the echo, so such a tick is not counted against the socket;
- ``aws/ping`` deep heartbeat every ``ping_interval`` seconds when set (off by default);
  its answer is logged and never forces a reconnect;
- chat frames are decoded twice (``content`` is JSON inside a string) by
  :func:`participant.model.decode_chat_frame`; a bad frame is logged and skipped.

Nothing but subscribe, heartbeat and ping frames is ever sent on the socket.
"""

from __future__ import annotations

import json
import logging
import math
import re
import ssl
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import attrs
import trio
import trio_websocket

from participant.errors import CertificateError, TransportError, certificate_failure
from participant.model import Item, decode_chat_frame, loads

__all__ = [
    "ChatSocket",
    "IdleHook",
    "ItemSink",
    "RedactTokens",
    "SocketConfig",
    "SocketOpenError",
    "SubscribeError",
    "WebSocketConnector",
    "default_connector",
    "redact_query_secrets",
    "serve_socket",
    "websocket_connector",
]

log = logging.getLogger("participant.socket")

WebSocketConnector = Callable[[trio.Nursery, str], Awaitable[trio_websocket.WebSocketConnection]]
"""Opens a websocket to a URL, running its background task in the given nursery."""

ItemSink = Callable[[Item], Awaitable[None] | None]
"""Receives each decoded chat item: a plain function (returns None) or an async one, or a
plain function that returns an awaitable only when it has to wait. The reader awaits it
before reading the next frame, so a waiting sink is backpressure on the socket."""


class IdleHook(Protocol):
    """Optional companion of an :data:`ItemSink` that batches work per burst of frames.

    While ``pending`` is True, the hook is called once the socket has no further frame
    ready, and when the socket's task ends; the hook clears ``pending``. A sink sets
    ``pending`` when it deferred something (e.g. waking its consumer) that must happen
    before the reader goes quiet. Over a websocket opened by :func:`websocket_connector`
    (the default) "no further frame ready" is known: trio-websocket's reader has handed
    on every frame it received and reads (or writes) the network again, so a burst of
    frames costs about one call per read of the network (64 KiB); over any other
    websocket the hook is called before every read of a frame that may wait.
    """

    pending: bool

    def __call__(self) -> None: ...


TOPIC_SUBSCRIBE: Final = "aws/subscribe"
TOPIC_HEARTBEAT: Final = "aws/heartbeat"
TOPIC_PING: Final = "aws/ping"
TOPIC_CHAT: Final = "aws/chat"

_SUBSCRIBE_FRAME: Final = json.dumps(
    {"topic": TOPIC_SUBSCRIBE, "content": {"topics": [TOPIC_CHAT]}}, separators=(",", ":")
)
_HEARTBEAT_FRAME: Final = json.dumps({"topic": TOPIC_HEARTBEAT}, separators=(",", ":"))

_PING_FRAME: Final = json.dumps({"topic": TOPIC_PING}, separators=(",", ":"))
# A heartbeat tick woken this much (seconds) after its time finds the process, not the
# socket, behind: it is not counted against the socket (see ChatSocket._tick).
_LATE_TICK: Final = 1.0
_RECEIVE_BYTES: Final = 65536
"""Bytes trio-websocket's reader asks the network for at once, over
:func:`websocket_connector` (trio-websocket's default is 4 KiB): a burst of frames takes
fewer reads, each waking the consumer once (about 5 % fewer instructions per item in
``benchmarks/count_dispatch.py``)."""
_BAD_FRAME_LOG_INTERVAL: Final = 10.0
"""A socket logs at most one bad-frame WARNING per this many seconds."""

_SECRET_QUERY: Final = re.compile(
    r"(?i)((?:authtoken|token|x-amz-security-token|x-amz-signature|x-amz-credential)=)[^&\s'\"]+"
)


def redact_query_secrets(text: str, marker: str = "<redacted>") -> str:
    """``text`` with the value of every secret query parameter (``AuthToken``, ``token``,
    ``X-Amz-Security-Token``, ``X-Amz-Signature``, ``X-Amz-Credential``; any case)
    replaced by ``marker``: the one rule for URLs in log lines (this module's filter on
    trio-websocket's logger, the CLI's log handler)."""
    return _SECRET_QUERY.sub(lambda m: m.group(1) + marker, text)


class RedactTokens(logging.Filter):
    """A :class:`logging.Filter` that replaces the values of secret query parameters
    (``AuthToken``, ``token``, ``X-Amz-Security-Token``, ``X-Amz-Signature``,
    ``X-Amz-Credential``) in a record's message and string arguments with
    ``<redacted>``. Installed on the ``trio-websocket`` logger when this module is
    imported: trio-websocket's DEBUG line "Connecting to ..." prints the websocket URL,
    whose AuthToken is a secret ([protocol](protocol.md#the-websocket))."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_query_secrets(record.msg)
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, str) for a in args):
            record.args = tuple(
                redact_query_secrets(a) if isinstance(a, str) else a for a in args
            )
        return True


def _install_redaction() -> None:
    logger = logging.getLogger("trio-websocket")
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())


_install_redaction()


def websocket_connector(ssl_context: ssl.SSLContext | None = None) -> WebSocketConnector:
    """A :data:`WebSocketConnector` over TCP (trio-websocket), TLS for ``wss`` URLs.

    ``ssl_context``: how ``wss`` servers are verified (default:
    :func:`ssl.create_default_context`, the system's trust store); e.g. a context that
    trusts a test CA. The TLS handshake is completed before the websocket handshake, so a
    certificate that fails verification raises at once (the socket turns it into
    :class:`~participant.errors.CertificateError`) instead of leaving trio-websocket's
    handshake waiting.
    """

    async def connect(nursery: trio.Nursery, url: str) -> trio_websocket.WebSocketConnection:
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss"):
            raise ValueError('WebSocket URL scheme must be "ws:" or "wss:"')
        host = parts.hostname
        if host is None:
            raise ValueError("WebSocket URL host must not be None")
        tls = parts.scheme == "wss"
        default_port = 443 if tls else 80
        port = parts.port or default_port
        # trio-websocket's own connect logs this line (redacted by RedactTokens); here
        # the URL is redacted before it is logged
        log.debug("Connecting to %s", redact_query_secrets(url))
        watched = _Watched(await trio.open_tcp_stream(host, port))
        stream: trio.abc.Stream = watched
        if tls:
            context = ssl_context if ssl_context is not None else ssl.create_default_context()
            stream = trio.SSLStream(watched, context, server_hostname=host, https_compatible=True)
            try:
                await stream.do_handshake()
            except BaseException:
                await trio.aclose_forcefully(stream)
                raise
        resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = host if port == default_port else f"{host}:{port}"
        ws = await trio_websocket.wrap_client_stream(
            nursery,
            stream,  # type: ignore[arg-type]  # any trio Stream works
            host_header,
            resource,
            receive_buffer_size=_RECEIVE_BYTES,
        )
        _WATCHED[ws] = watched
        return ws

    return connect


class _Watched(trio.abc.Stream):
    """The TCP stream under a websocket opened by :func:`websocket_connector` (under
    TLS, if any): ``waiting`` counts the reads and writes in progress, and trio-websocket's
    reader reads the network only once it has handed on every frame it received (a write
    of its is a pong or a close reply); entering a read or write calls the socket's
    :class:`IdleHook` when it is ``pending``. So the socket learns when it has no
    further frame ready without a cancel scope or a private attribute (see
    :meth:`ChatSocket._run`). A count, not a flag: a heartbeat written while the
    reader waits must not look like the reader being busy once the write is done (a
    write while the reader is busy only costs a needless call of the hook)."""

    __slots__ = ("_stream", "hook", "waiting")

    def __init__(self, stream: trio.SocketStream) -> None:
        self._stream = stream
        self.hook: IdleHook | None = None  # set by the ChatSocket
        self.waiting = 0

    @property
    def socket(self) -> trio.socket.SocketType:
        """The TCP socket (as :attr:`trio.SocketStream.socket`)."""
        return self._stream.socket

    def _idle(self) -> None:
        self.waiting += 1
        hook = self.hook
        if hook is not None and hook.pending:
            hook()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        self._idle()
        try:
            return await self._stream.receive_some(max_bytes)
        finally:
            self.waiting -= 1

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self._idle()
        try:
            await self._stream.send_all(data)
        finally:
            self.waiting -= 1

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self._stream.aclose()


_WATCHED: Final[weakref.WeakKeyDictionary[trio_websocket.WebSocketConnection, _Watched]] = (
    weakref.WeakKeyDictionary()
)
"""The watched transport of each websocket :func:`websocket_connector` opened."""


_DEFAULT_CONNECT: Final = websocket_connector()


async def default_connector(nursery: trio.Nursery, url: str) -> trio_websocket.WebSocketConnection:
    """Open ``url`` over TCP, TLS for wss (the system's trust store): see
    :func:`websocket_connector`."""
    return await _DEFAULT_CONNECT(nursery, url)


class SocketOpenError(TransportError):
    """The websocket could not be opened (handshake rejected, network error)."""


class SubscribeError(TransportError):
    """The ``aws/chat`` subscription was not acknowledged
    ([protocol](protocol.md#the-websocket))."""


async def wait_in(waiters: list[trio.lowlevel.Task]) -> None:
    """Wait in ``waiters`` (a list of tasks) until a waker takes this task out of it and
    reschedules it (:func:`trio.lowlevel.reschedule`); cancelled meanwhile, the task
    removes itself. The wait of :class:`Flag` and of the actor's iterator: trio's public
    low-level API, lighter than a :class:`trio.lowlevel.ParkingLot` per waiter."""
    task = trio.lowlevel.current_task()
    waiters.append(task)

    def abort(_raise_cancel: object) -> trio.lowlevel.Abort:
        if task in waiters:  # still listed: nobody rescheduled it
            waiters.remove(task)
        return trio.lowlevel.Abort.SUCCEEDED

    await trio.lowlevel.wait_task_rescheduled(abort)


class Flag:
    """A set-once event with :class:`trio.Event`'s ``set``, ``is_set`` and ``wait``.

    Lighter than a :class:`trio.Event` (which allocates a set of waiting tasks up front):
    an idle participant holds several of these and most are never waited on; the list of
    waiting tasks exists only while a task waits. ``wait`` is a checkpoint, like
    :meth:`trio.Event.wait`.
    """

    __slots__ = ("_flag", "_waiters")

    def __init__(self) -> None:
        self._flag = False
        self._waiters: list[trio.lowlevel.Task] | None = None

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        if self._flag:
            return
        self._flag = True
        waiters, self._waiters = self._waiters, None
        if waiters:
            for task in waiters:
                trio.lowlevel.reschedule(task)

    async def wait(self) -> None:
        if self._flag:
            await trio.lowlevel.checkpoint()
            return
        waiters = self._waiters
        if waiters is None:
            waiters = self._waiters = []
        await wait_in(waiters)

    def __repr__(self) -> str:
        return f"<Flag {'set' if self._flag else 'unset'}>"


def _positive(_inst: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be a positive number of seconds, got {value!r}")


@attrs.frozen
class SocketConfig:
    """Timing of one websocket, in seconds (defaults: [protocol](protocol.md#the-websocket) / AWS's
    JS client)."""

    heartbeat_interval: float = attrs.field(default=10.0, validator=_positive)
    subscribe_timeout: float = attrs.field(default=1.0, validator=_positive)
    subscribe_max_misses: int = 3
    subscribe_retry_interval: float = attrs.field(default=0.5, validator=_positive)
    subscribe_max_retries: int = 5
    subscribe_max_wait: float = attrs.field(default=10.0, validator=_positive)
    ping_interval: float | None = None
    close_timeout: float = attrs.field(default=2.0, validator=_positive)


class ChatSocket:
    """One open websocket; see the module docstring. Created by :func:`serve_socket`."""

    __slots__ = (
        "_bad_logged_at",
        "_closing",
        "_config",
        "_delivering",
        "_heartbeat_outstanding",
        "_next_beat",
        "_next_ping",
        "_nursery",
        "_on_idle",
        "_on_item",
        "_on_lost",
        "_scope",
        "_stalled",
        "_sub_event",
        "_sub_reply",
        "_ticking",
        "_watched",
        "_ws",
        "bad_frames",
        "done",
        "frames_received",
        "lost",
        "lost_reason",
        "name",
        "subscribed",
    )

    def __init__(
        self,
        ws: trio_websocket.WebSocketConnection,
        nursery: trio.Nursery,
        on_item: ItemSink,
        config: SocketConfig,
        name: str,
        on_lost: Callable[[ChatSocket], None] | None = None,
        on_idle: IdleHook | None = None,
    ) -> None:
        self._ws = ws
        self._on_lost = on_lost
        self._on_idle = on_idle
        # the transport of a websocket opened by websocket_connector: it tells when the
        # socket has no further frame ready (None: any other connector)
        self._watched = _WATCHED.get(ws)
        if self._watched is not None:
            self._watched.hook = on_idle
        self._nursery = nursery
        self._scope = nursery.cancel_scope
        self._on_item = on_item
        self._config = config
        self.name = name
        #: Set once the socket is gone, for any reason (loss or :meth:`aclose`).
        self.done = Flag()
        #: Set when the socket was lost (close by peer, error, missed heartbeat).
        self.lost = Flag()
        #: Why the socket was lost, ``None`` while it is not.
        self.lost_reason: str | None = None
        self.subscribed = False
        self._closing = False
        self._sub_event = Flag()
        self._sub_reply: Mapping[str, Any] | None = None
        self._heartbeat_outstanding = False
        self._stalled = False
        self._delivering = False  # the socket's task is waiting for its sink
        self._ticking = False  # _tick_while_delivering runs
        now = trio.current_time()
        self._next_beat = now  # a heartbeat on open
        self._next_ping = math.inf if config.ping_interval is None else now + config.ping_interval
        #: Frames received and chat items decoded (for stats).
        self.frames_received = 0
        self.bad_frames = 0
        self._bad_logged_at = -math.inf

    def __repr__(self) -> str:
        state = "lost" if self.lost.is_set() else "subscribed" if self.subscribed else "open"
        return f"<ChatSocket {self.name} {state}>"

    # ---- lifecycle -------------------------------------------------------------------

    def _mark_lost(self, reason: str) -> None:
        if self._closing or self.lost.is_set():
            return
        log.info("socket %s lost: %s", self.name, reason)
        self.lost_reason = reason
        self.lost.set()
        self._sub_event.set()
        self._scope.cancel()
        if self._on_lost is not None:
            self._on_lost(self)

    async def aclose(self) -> None:
        """Close the socket: send a close frame and wait for the peer's close reply, at
        most ``close_timeout`` seconds; idempotent. Shielded from the caller's
        cancellation (so it stays bounded by ``close_timeout``).

        The handshake runs as a task in the socket's own nursery, next to
        trio-websocket's reader task that receives the reply: if that nursery is
        cancelled (the socket is being torn down), nobody could read the reply, so the
        transport is closed at once instead of waiting ``close_timeout`` for nothing.
        Not counted as a loss: :attr:`lost` stays unset.
        """
        if self._closing:
            await self.done.wait()
            return
        self._closing = True
        self._sub_event.set()
        handshake_done = trio.Event()

        async def handshake() -> None:
            try:
                await self._ws.aclose()
            except Exception:  # the peer may already be gone
                log.debug("socket %s: error while closing", self.name, exc_info=True)
            finally:
                handshake_done.set()

        with trio.CancelScope(shield=True):
            try:
                self._nursery.start_soon(handshake)
            except RuntimeError:  # the socket's nursery is already closing
                pass
            else:
                with trio.move_on_after(self._config.close_timeout):
                    await handshake_done.wait()
            self._scope.cancel()
            await self.done.wait()

    def abort(self, reason: str) -> None:
        """Declare the socket lost now (``reason`` becomes :attr:`lost_reason`): its tasks
        are cancelled and ``on_lost`` is called, as for a drop. No-op once lost or
        closing. Used when the socket can no longer be trusted (e.g. a gap fill failed
        on it)."""
        self._mark_lost(reason)

    async def _send(self, frame: str) -> None:
        try:
            await self._ws.send_message(frame)
        except (trio_websocket.ConnectionClosed, trio.BrokenResourceError) as exc:
            self._mark_lost(f"send failed: {_close_text(exc)}")
            raise SubscribeError("websocket closed") from None

    # ---- subscribe -------------------------------------------------------------------

    async def subscribe(self) -> None:
        """Subscribe to ``aws/chat``; returns when the service acknowledged it.

        Raises:
            SubscribeError: no reply within ``subscribe_max_wait`` seconds of the first
                frame (after ``subscribe_max_misses`` frames ``subscribe_timeout`` apart),
                a non-success reply more than ``subscribe_max_retries`` times, or the
                socket closed.
        """
        config = self._config
        failures = 0
        while True:
            # One attempt: up to subscribe_max_misses frames; a reply to any counts.
            self._sub_event = Flag()
            self._sub_reply = None
            total = max(
                config.subscribe_max_wait, config.subscribe_timeout * config.subscribe_max_misses
            )
            give_up_at = trio.current_time() + total
            frames = 0
            while self._subscribe_reply() is None:
                self._raise_if_closed()
                if frames < max(1, config.subscribe_max_misses):
                    await self._send(_SUBSCRIBE_FRAME)
                    frames += 1
                    wait_until = min(give_up_at, trio.current_time() + config.subscribe_timeout)
                else:
                    wait_until = give_up_at
                with trio.move_on_at(wait_until):
                    await self._sub_event.wait()
                self._raise_if_closed()
                if self._subscribe_reply() is None:
                    log.debug("socket %s: subscribe unanswered (%d)", self.name, frames)
                    if trio.current_time() >= give_up_at:
                        raise SubscribeError(
                            f"no subscribe reply within {total:g} s ({frames} tries)"
                        )
            reply = self._subscribe_reply()
            assert reply is not None
            if reply.get("status") == "success":
                self.subscribed = True
                return
            failures += 1
            log.info("socket %s: subscribe reply %r (%d)", self.name, reply.get("status"), failures)
            if failures > self._config.subscribe_max_retries:
                raise SubscribeError(f"subscribe failed {failures} times: {reply.get('status')!r}")
            await trio.sleep(self._config.subscribe_retry_interval)

    def _raise_if_closed(self) -> None:
        if self.lost.is_set() or self._closing:
            raise SubscribeError(f"websocket closed: {self.lost_reason or 'closed'}")

    def _subscribe_reply(self) -> Mapping[str, Any] | None:
        return self._sub_reply  # set by the reader task

    # ---- the socket's task -----------------------------------------------------------

    async def _run(self) -> None:
        """Read frames and heartbeat, in one task (the task of :func:`serve_socket`).

        Frames are read until the next heartbeat (or ping) is due: the read runs in a
        cancel scope whose deadline is that time (``get_message`` is cancel-safe: a
        message is either returned or left queued), then the tick is done and reading
        resumes in a new scope. One scope per tick, not per frame.

        A pending idle hook (the sink deferred waking its consumer) is called before a
        read when no further frame may be ready: over a watched transport
        (:func:`websocket_connector`) only while trio-websocket's reader is on the
        network (which calls the hook itself as it gets there, so a frame taken just
        before is not left waiting either), over any other before every read; and
        before each tick.
        """
        ws = self._ws
        on_idle = self._on_idle
        on_item = self._on_item
        handle = self._handle
        watched = self._watched
        try:
            while True:
                if on_idle is not None and on_idle.pending:
                    on_idle()
                await self._tick()
                waiting: Awaitable[None] | None = None
                with trio.CancelScope(deadline=min(self._next_beat, self._next_ping)):
                    while True:
                        if (
                            on_idle is not None
                            and on_idle.pending
                            and (watched is None or watched.waiting > 0)
                        ):
                            on_idle()
                        message = await ws.get_message()
                        self.frames_received += 1
                        item = handle(message)
                        if item is not None:
                            waiting = on_item(item)
                            if waiting is not None:
                                break
                if waiting is not None:
                    # Outside the tick's scope: a sink's wait is never cancelled by a tick.
                    await self._wait_delivered(waiting)
        except trio_websocket.ConnectionClosed as exc:
            self._mark_lost(f"closed: {_close_text(exc)}")
        except trio.BrokenResourceError as exc:
            self._mark_lost(f"broken: {exc}")
        finally:
            if on_idle is not None and on_idle.pending:
                on_idle()

    async def _tick(self) -> None:
        """The heartbeat and ping, when due. A heartbeat still unanswered at the next tick
        means the socket is dead, unless the reader was blocked handing an item to a slow
        sink since the last tick, or this tick woke over ``_LATE_TICK`` (1 s) late (the
        process was not running): either way it could not read the echo, and the socket
        gets another tick."""
        now = trio.current_time()
        if now >= self._next_beat:
            # A tick that wakes over _LATE_TICK late means this process was not running (a
            # long GC pass, a starved CPU): the echo may be queued unread, so the socket gets
            # one more tick, like a stalled reader. Without this, one 10 s stall of a
            # process with many chats declared their live sockets dead at once.
            late = now - self._next_beat > _LATE_TICK
            self._next_beat = now + self._config.heartbeat_interval
            if not self._heartbeat_outstanding:
                self._stalled = False
                self._heartbeat_outstanding = True
                try:
                    await self._send(_HEARTBEAT_FRAME)
                except SubscribeError:
                    return  # lost (or closing): the next read ends the task
            elif self._stalled or self._delivering or late:
                self._stalled = False
            else:
                self._mark_lost("heartbeat unanswered")
                return
        if now >= self._next_ping:
            interval = self._config.ping_interval
            assert interval is not None
            self._next_ping = now + interval
            try:
                await self._send(_PING_FRAME)
            except SubscribeError:
                return

    def _handle(self, message: str | bytes) -> Item | None:
        """Act on one frame; return the chat item it carries, if any."""
        if isinstance(message, bytes):
            self._bad(message, "binary frame")
            return None
        try:
            frame = loads(message)
        except ValueError:
            self._bad(message, "not JSON")
            return None
        if not isinstance(frame, dict):
            self._bad(message, "not a JSON object")
            return None
        topic = frame.get("topic")
        if topic == TOPIC_CHAT:
            try:
                return decode_chat_frame(frame)
            except Exception as exc:  # bad frames never crash the reader
                self._bad(message, f"undecodable chat frame: {exc}")
                # A chat item was lost here: a sink with a ``bad_frame()`` method is told,
                # so it can fetch the item again (the actor fills from the transcript).
                report = getattr(self._on_item, "bad_frame", None)
                if report is not None:
                    report()
                return None
        elif topic == TOPIC_HEARTBEAT:
            self._heartbeat_outstanding = False
        elif topic == TOPIC_SUBSCRIBE:
            content = frame.get("content")
            self._sub_reply = content if isinstance(content, dict) else {"status": None}
            self._sub_event.set()
        elif topic == TOPIC_PING:
            log.debug(
                "socket %s: ping %s %s",
                self.name,
                frame.get("statusCode"),
                frame.get("statusContent"),
            )
        elif topic is None and "message" in frame:
            log.warning(
                "socket %s: error frame %r (requestId %s)",
                self.name,
                frame.get("message"),
                frame.get("requestId"),
            )
        else:
            log.debug("socket %s: ignoring frame with topic %r", self.name, topic)
        return None

    def _bad(self, message: str | bytes, why: str) -> None:
        """Count and skip a bad frame. The WARNING names the reason and the frame's size,
        never its text (it may carry chat content), at most once per
        ``_BAD_FRAME_LOG_INTERVAL`` seconds per socket (the rest are counted in it)."""
        self.bad_frames += 1
        now = trio.current_time()
        if now >= self._bad_logged_at + _BAD_FRAME_LOG_INTERVAL:
            self._bad_logged_at = now
            log.warning(
                "socket %s: skipping bad frame (%s, %d characters; %d bad so far)",
                self.name,
                why.split(":", 1)[0],
                len(message),
                self.bad_frames,
            )

    async def _wait_delivered(self, waiting: Awaitable[None]) -> None:
        """Await the sink (it may wait: a slow consumer). Meanwhile this task reads
        nothing, so a helper task keeps the heartbeat going (its send is what finds a
        broken transport); a tick during the wait, and the one after it, are not counted
        against the socket (the echo could not be read: see :meth:`_tick`). The helper is
        started by the first wait and lives until a tick finds no wait in progress, so a
        sink that waits on every item (a slow consumer) costs one task, not one per item.
        """
        self._delivering = True
        if not self._ticking:
            self._ticking = True
            self._nursery.start_soon(self._tick_while_delivering)
        started = trio.current_time()
        try:
            await waiting
        finally:
            self._delivering = False
            if trio.current_time() > started:
                self._stalled = True

    async def _tick_while_delivering(self) -> None:
        try:
            while True:
                await trio.sleep_until(min(self._next_beat, self._next_ping))
                if not self._delivering:
                    return  # the socket's task ticks again
                await self._tick()
        finally:
            self._ticking = False


def _close_text(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if reason is None:
        return type(exc).__name__
    return f"code {getattr(reason, 'code', '?')} {getattr(reason, 'reason', '') or ''}".strip()


async def serve_socket(
    url: str,
    *,
    connector: WebSocketConnector,
    on_item: ItemSink,
    config: SocketConfig = SocketConfig(),
    name: str = "ws",
    on_lost: Callable[[ChatSocket], None] | None = None,
    on_idle: IdleHook | None = None,
    task_status: trio.TaskStatus[ChatSocket] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Open ``url`` and run the socket until it is lost or closed.

    Use as ``sock = await nursery.start(partial(serve_socket, url, ...))``: ``start``
    returns the open (not yet subscribed) :class:`ChatSocket`, or raises
    :class:`SocketOpenError` if the websocket could not be opened. ``on_lost`` is called
    (synchronously, once) when the socket is lost, not when it is closed by
    :meth:`ChatSocket.aclose`. ``on_idle`` (an :class:`IdleHook`, optional) lets the
    sink batch work per burst of frames (e.g. wake its consumer once per burst instead of
    once per item). The URL is a secret (presigned): it is never logged.
    """
    error: BaseException | None = None
    sock: ChatSocket | None = None
    ws: trio_websocket.WebSocketConnection | None = None
    try:
        async with trio.open_nursery() as nursery:
            ws = await connector(nursery, url)
            sock = ChatSocket(ws, nursery, on_item, config, name, on_lost, on_idle)
            task_status.started(sock)
            # Reading, heartbeat and ping run in this task (one task per socket, besides
            # trio-websocket's own reader): it ends by an exception or by the socket's
            # nursery being cancelled.
            await sock._run()
    except* _OPEN_ERRORS as group:
        # trio-websocket raises handshake failures from its background task, so they
        # arrive here in a group. Before start: an open error; after: a loss.
        error = group.exceptions[0]
    finally:
        if ws is not None:
            # Release the transport now: aclose() cancelled at once still closes the stream.
            with trio.CancelScope(shield=True, deadline=trio.current_time()):
                try:
                    await ws.aclose()
                except Exception:
                    log.debug("socket %s: error while aborting", name, exc_info=True)
        if sock is not None:
            if not sock.lost.is_set() and not sock._closing:
                reason = "socket ended" if error is None else f"error: {type(error).__name__}"
                sock._mark_lost(reason)
            sock.done.set()
    if sock is None and error is not None:
        cert = certificate_failure(error)
        if cert is not None:
            raise CertificateError(
                "could not open websocket: the TLS certificate failed verification: "
                f"{cert.verify_message or cert.reason}"
            ) from error
        raise SocketOpenError(f"could not open websocket: {_close_text(error)}") from error


_OPEN_ERRORS: Final = (
    OSError,
    trio_websocket.HandshakeError,
    trio.BrokenResourceError,
    trio_websocket.ConnectionClosed,
)
