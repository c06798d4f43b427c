"""participant.socket against an in-memory fake server, under MockClock."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from functools import partial

import pytest
import trio
import trio.testing
import trio_websocket

from participant.model import Item, TextMessage, UnknownItem
from participant.socket import (
    ChatSocket,
    IdleHook,
    ItemSink,
    SocketConfig,
    SocketOpenError,
    SubscribeError,
    serve_socket,
)

from .conftest import FakeConnection, FakeServer


def text_item(n: int) -> dict[str, object]:
    return {
        "Id": f"m{n}",
        "Type": "MESSAGE",
        "ContentType": "text/plain",
        "Content": f"hi {n}",
        "AbsoluteTime": "2024-01-01T00:00:00.000Z",
        "ParticipantRole": "AGENT",
    }


class Sink:
    def __init__(self) -> None:
        self.items: list[Item] = []
        self.changed = trio.Event()
        self.gate: trio.Event | None = None

    async def __call__(self, item: Item) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.items.append(item)
        self.changed.set()
        self.changed = trio.Event()

    async def wait_for(self, count: int) -> None:
        while len(self.items) < count:
            await self.changed.wait()


async def open_socket(
    nursery: trio.Nursery,
    server: FakeServer,
    sink: ItemSink,
    on_idle: IdleHook | None = None,
    **config: float,
) -> tuple[ChatSocket, FakeConnection]:
    sock: ChatSocket = await nursery.start(
        partial(
            serve_socket,
            "wss://fake.invalid/connect?X-Amz-Security-Token=secret",
            connector=server.connector,
            on_item=sink,
            on_idle=on_idle,
            config=SocketConfig(**config),
        )
    )
    return sock, server.connections[-1]


async def test_subscribe_then_items_flow_and_bad_frames_are_skipped(
    autojump_clock: trio.testing.MockClock,
    fake_server: FakeServer,
    nursery: trio.Nursery,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = Sink()
    sock, conn = await open_socket(nursery, fake_server, sink)
    await sock.subscribe()
    assert sock.subscribed
    assert conn.sent("aws/subscribe")[0]["content"] == {"topics": ["aws/chat"]}
    await conn.send_chat(text_item(1))
    await conn.send_raw(b"\x00binary")
    await conn.send_raw("not json")
    await conn.send_raw("[1, 2]")
    await conn.send_raw(json.dumps({"topic": "aws/chat", "content": "{broken"}))
    await conn.send_raw(json.dumps({"message": "Forbidden", "connectionId": "c", "requestId": "r"}))
    await conn.send_raw(json.dumps({"topic": "aws/something-new"}))
    await conn.send_chat({**text_item(2), "ContentType": "application/x-new"})
    await sink.wait_for(2)
    assert isinstance(sink.items[0], TextMessage)
    assert sink.items[0].content == "hi 1"
    assert isinstance(sink.items[1], UnknownItem)
    assert sock.bad_frames == 4
    assert not sock.lost.is_set()
    assert "secret" not in caplog.text
    await sock.aclose()


async def test_heartbeat_on_open_and_every_interval(
    autojump_clock: trio.testing.MockClock, fake_server: FakeServer, nursery: trio.Nursery
) -> None:
    sock, conn = await open_socket(nursery, fake_server, Sink(), heartbeat_interval=10.0)
    beats = await conn.wait_for("aws/heartbeat", 4)
    times = [b["_at"] for b in beats]
    assert [round(b - a, 6) for a, b in itertools.pairwise(times)] == [10.0] * 3
    assert not sock.lost.is_set()
    await sock.aclose()


async def test_unanswered_heartbeat_means_dead_socket(
    autojump_clock: trio.testing.MockClock, fake_server: FakeServer, nursery: trio.Nursery
) -> None:
    fake_server.answer_heartbeats = False
    start = trio.current_time()
    sock, conn = await open_socket(nursery, fake_server, Sink(), heartbeat_interval=10.0)
    await sock.lost.wait()
    assert sock.lost_reason == "heartbeat unanswered"
    assert trio.current_time() - start == pytest.approx(10.0)
    await conn.closed.wait()
    await sock.done.wait()


async def test_ping_is_sent_when_configured(
    autojump_clock: trio.testing.MockClock, fake_server: FakeServer, nursery: trio.Nursery
) -> None:
    sock, conn = await open_socket(nursery, fake_server, Sink(), ping_interval=30.0)
    await conn.wait_for("aws/ping", 2)
    assert not sock.lost.is_set()
    await sock.aclose()


@pytest.mark.parametrize("ignored", [0, 1, 2])
async def test_subscribe_is_resent_after_a_second_without_reply(
    autojump_clock: trio.testing.MockClock,
    fake_server: FakeServer,
    nursery: trio.Nursery,
    ignored: int,
) -> None:
    fake_server.ignore_subscribes = ignored
    sock, conn = await open_socket(nursery, fake_server, Sink())
    await sock.subscribe()
    sends = conn.sent("aws/subscribe")
    assert len(sends) == ignored + 1
    assert [round(b["_at"] - a["_at"], 6) for a, b in itertools.pairwise(sends)] == (
        [1.0] * ignored
    )
    await sock.aclose()


async def test_subscribe_sends_three_frames_and_gives_up_after_subscribe_max_wait(
    autojump_clock: trio.testing.MockClock, fake_server: FakeServer, nursery: trio.Nursery
) -> None:
    fake_server.ignore_subscribes = 3
    sock, conn = await open_socket(nursery, fake_server, Sink())
    start = trio.current_time()
    with pytest.raises(SubscribeError, match=r"within 10 s \(3 tries\)"):
        await sock.subscribe()
    assert trio.current_time() - start == pytest.approx(10.0)
    sends = conn.sent("aws/subscribe")
    assert [round(f["_at"] - start, 6) for f in sends] == [0.0, 1.0, 2.0]
    await sock.aclose()


async def test_a_late_subscribe_reply_is_not_given_up_on(
    autojump_clock: trio.testing.MockClock, fake_server: FakeServer, nursery: trio.Nursery
) -> None:
    # A loaded service answers 7 s late: the socket is kept (not re-created: no storm).
    fake_server.subscribe_reply_delay = 7.0
    sock, conn = await open_socket(nursery, fake_server, Sink())
    start = trio.current_time()
    await sock.subscribe()
    assert sock.subscribed
    assert trio.current_time() - start == pytest.approx(7.0)
    await conn.wait_for("aws/subscribe", 3)  # the server reads them as slowly
    with trio.move_on_after(60):  # a minute later: no frame after the first three
        await trio.Event().wait()
    assert len(conn.sent("aws/subscribe")) == 3
    await sock.aclose()


@pytest.mark.parametrize(("failures", "ok"), [(5, True), (6, False)])
async def test_non_success_reply_is_retried_every_half_second_up_to_five_times(
    autojump_clock: trio.testing.MockClock,
    fake_server: FakeServer,
    nursery: trio.Nursery,
    failures: int,
    ok: bool,
) -> None:
    fake_server.fail_subscribes = failures
    sock, conn = await open_socket(nursery, fake_server, Sink())
    if ok:
        await sock.subscribe()
        sends = conn.sent("aws/subscribe")
        assert len(sends) == 6
        gaps = {round(b["_at"] - a["_at"], 6) for a, b in itertools.pairwise(sends)}
        assert gaps == {0.5}
    else:
        with pytest.raises(SubscribeError, match="failed 6 times"):
            await sock.subscribe()
    await sock.aclose()


async def test_server_close_is_a_loss(
    autojump_clock: trio.testing.MockClock, fake_server: FakeServer, nursery: trio.Nursery
) -> None:
    sock, conn = await open_socket(nursery, fake_server, Sink())
    await sock.subscribe()
    await conn.drop(1011)
    await sock.lost.wait()
    assert sock.lost_reason is not None and "1011" in sock.lost_reason
    await sock.done.wait()
    with pytest.raises(SubscribeError):
        await sock.subscribe()


async def test_aclose_is_not_a_loss(
    autojump_clock: trio.testing.MockClock, fake_server: FakeServer, nursery: trio.Nursery
) -> None:
    sock, conn = await open_socket(nursery, fake_server, Sink())
    await sock.subscribe()
    await sock.aclose()
    await sock.aclose()  # idempotent
    assert sock.done.is_set()
    assert not sock.lost.is_set()
    await conn.closed.wait()


async def test_rejected_handshake_raises_socket_open_error(
    autojump_clock: trio.testing.MockClock, fake_server: FakeServer, nursery: trio.Nursery
) -> None:
    fake_server.reject = True
    with pytest.raises(SocketOpenError):
        await open_socket(nursery, fake_server, Sink())


async def test_slow_consumer_does_not_kill_the_socket(
    autojump_clock: trio.testing.MockClock, fake_server: FakeServer, nursery: trio.Nursery
) -> None:
    sink = Sink()
    sink.gate = trio.Event()
    sock, conn = await open_socket(nursery, fake_server, sink, heartbeat_interval=10.0)
    await sock.subscribe()
    await conn.send_chat(text_item(1))
    await conn.send_chat(text_item(2))
    # The consumer stalls for a minute of virtual time: the reader is blocked, so it cannot
    # read heartbeat echoes; the socket must not be declared dead for that.
    with trio.move_on_after(60):
        await sock.lost.wait()
    assert not sock.lost.is_set()
    sink.gate.set()
    await sink.wait_for(2)
    await conn.wait_for("aws/heartbeat", len(conn.sent("aws/heartbeat")) + 1)
    assert not sock.lost.is_set()
    await sock.aclose()


async def test_aclose_stops_waiting_for_the_close_reply_when_the_socket_is_torn_down(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # A peer that accepted the websocket and then went silent (never answers the close).
    async def silent_peer(stream: trio.abc.Stream) -> None:
        async with trio.open_nursery() as peer:
            request = await trio_websocket.wrap_server_stream(peer, stream)
            await request.accept()
            peer.cancel_scope.cancel()  # its reader stops: no close reply, ever
        await trio.sleep_forever()

    async with trio.open_nursery() as outside:

        async def connector(nursery: trio.Nursery, url: str) -> trio_websocket.WebSocketConnection:
            client_stream, server_stream = trio.testing.memory_stream_pair()
            outside.start_soon(silent_peer, server_stream)
            return await trio_websocket.wrap_client_stream(
                nursery,
                client_stream,
                "fake.invalid",
                "/connect",  # type: ignore[arg-type]
            )

        config = SocketConfig(close_timeout=100.0)
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                sock: ChatSocket = await nursery.start(
                    partial(
                        serve_socket, "wss://x", connector=connector, on_item=Sink(), config=config
                    )
                )
                start = trio.current_time()
                nursery.start_soon(sock.aclose)
                await trio.testing.wait_all_tasks_blocked()  # the close frame is sent
                scope.cancel()  # the socket's nursery is torn down while aclose waits
        # The reply could never be read any more: aclose returned at once.
        assert trio.current_time() - start < config.close_timeout
        assert sock.done.is_set() and not sock.lost.is_set()
        outside.cancel_scope.cancel()


async def test_aclose_waits_for_the_close_reply_of_a_live_peer(
    autojump_clock: trio.testing.MockClock, fake_server: FakeServer, nursery: trio.Nursery
) -> None:
    sock, conn = await open_socket(nursery, fake_server, Sink(), close_timeout=100.0)
    start = trio.current_time()
    await sock.aclose()
    assert trio.current_time() - start < 100.0
    await conn.closed.wait()  # the server saw a clean close
    assert sock.done.is_set() and not sock.lost.is_set()


class BatchingSink:
    """A synchronous sink with an idle hook, like the actor's: each item sets the hook's
    ``pending``; the hook records how many items were buffered when the reader idled."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.hook = IdleRecorder(self)
        self.on_first: Callable[[], object] | None = None
        self.changed = trio.Event()

    def __call__(self, item: Item) -> None:
        self.items.append(item)
        self.hook.pending = True
        self.changed.set()
        self.changed = trio.Event()
        if len(self.items) == 1 and self.on_first is not None:
            self.on_first()

    async def wait_for(self, count: int) -> None:
        while len(self.items) < count:
            await self.changed.wait()


class IdleRecorder:
    def __init__(self, sink: BatchingSink) -> None:
        self.sink = sink
        self.pending = False
        self.calls: list[int] = []
        self.called = trio.Event()

    def __call__(self) -> None:
        self.pending = False
        self.calls.append(len(self.sink.items))
        self.called.set()


async def subscribed_batching_socket(
    nursery: trio.Nursery, server: FakeServer
) -> tuple[BatchingSink, ChatSocket, FakeConnection]:
    sink = BatchingSink()
    sock, conn = await open_socket(nursery, server, sink, sink.hook)
    await sock.subscribe()
    return sink, sock, conn


async def test_idle_hook_runs_after_a_single_item_without_waiting_for_more(
    autojump_clock: trio.testing.MockClock, fake_server: FakeServer, nursery: trio.Nursery
) -> None:
    sink, sock, conn = await subscribed_batching_socket(nursery, fake_server)
    start = trio.current_time()
    await conn.send_chat(text_item(1))
    await sink.hook.called.wait()
    assert sink.hook.calls == [1]
    assert trio.current_time() == start  # no timer involved: called as the reader idles
    await sock.aclose()


class Wrapper:
    """A connector's own wrapper around a connection (e.g. to log or filter frames)."""

    def __init__(self, ws: trio_websocket.WebSocketConnection) -> None:
        self._ws = ws
        self.read = 0

    async def get_message(self) -> str | bytes:
        self.read += 1
        message: str | bytes = await self._ws.get_message()
        return message

    def __getattr__(self, name: str) -> object:
        return getattr(self._ws, name)


async def test_every_frame_comes_through_the_connections_get_message(
    autojump_clock: trio.testing.MockClock, fake_server: FakeServer, nursery: trio.Nursery
) -> None:
    # Public API only (issue 11): a connector's wrapper sees every frame.
    wrappers: list[Wrapper] = []

    async def connector(nursery: trio.Nursery, url: str) -> trio_websocket.WebSocketConnection:
        wrappers.append(Wrapper(await fake_server.connector(nursery, url)))
        return wrappers[-1]  # type: ignore[return-value]

    sink = BatchingSink()
    sock = await nursery.start(
        partial(serve_socket, "wss://fake.invalid/", connector=connector, on_item=sink)
    )
    await sock.subscribe()
    conn = fake_server.connections[-1]
    for n in range(3):
        await conn.send_chat(text_item(n))
    await sink.wait_for(3)
    assert wrappers[0].read >= 4  # the subscribe reply and the three items
    await sock.aclose()


class SpawnCounter(trio.abc.Instrument):
    """Counts the tasks spawned from participant.socket (a trio Instrument: public API)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        if task.name.startswith("participant.socket"):
            self.names.append(task.name)


async def test_one_task_per_socket_reads_heartbeats_and_pings(
    autojump_clock: trio.testing.MockClock, fake_server: FakeServer, nursery: trio.Nursery
) -> None:
    # Issue 15 (idle CPU): reading, the heartbeat and the ping share the socket's one task
    # (besides trio-websocket's reader); no task is spawned per tick either.
    counter = SpawnCounter()
    trio.lowlevel.add_instrument(counter)
    try:
        sock, conn = await open_socket(
            nursery, fake_server, Sink(), heartbeat_interval=10.0, ping_interval=30.0
        )
        await sock.subscribe()
        beats = await conn.wait_for("aws/heartbeat", 7)
        pings = await conn.wait_for("aws/ping", 2)
    finally:
        trio.lowlevel.remove_instrument(counter)
    assert counter.names == ["participant.socket.serve_socket"]
    start = beats[0]["_at"]
    assert [round(b["_at"] - start, 6) for b in beats] == [0, 10, 20, 30, 40, 50, 60]
    assert [round(p["_at"] - start, 6) for p in pings] == [30, 60]
    assert not sock.lost.is_set()
    await sock.aclose()


async def test_heartbeats_keep_their_interval_while_frames_flow(
    autojump_clock: trio.testing.MockClock, fake_server: FakeServer, nursery: trio.Nursery
) -> None:
    # The tick is a deadline on the reads: frames arriving faster than the interval never
    # postpone it.
    sink = Sink()
    sock, conn = await open_socket(nursery, fake_server, sink, heartbeat_interval=10.0)
    await sock.subscribe()
    start = conn.sent("aws/heartbeat")[0]["_at"]
    for n in range(45):
        await trio.sleep(0.7)
        await conn.send_chat(text_item(n))
    await sink.wait_for(45)
    beats = [round(b["_at"] - start, 6) for b in conn.sent("aws/heartbeat")]
    assert beats == [0, 10, 20, 30]
    assert not sock.lost.is_set()
    await sock.aclose()


async def test_unanswered_heartbeat_is_a_loss_even_while_frames_flow(
    autojump_clock: trio.testing.MockClock, fake_server: FakeServer, nursery: trio.Nursery
) -> None:
    # A service that still sends chat frames but no longer echoes heartbeats is lost at
    # the first tick after the unanswered heartbeat, as when it sends nothing.
    fake_server.answer_heartbeats = False
    sink = Sink()
    start = trio.current_time()
    sock, conn = await open_socket(nursery, fake_server, sink, heartbeat_interval=10.0)
    await sock.subscribe()

    async def chatter() -> None:
        for n in range(100):
            await trio.sleep(0.5)
            await conn.send_chat(text_item(n))

    nursery.start_soon(chatter)
    await sock.lost.wait()
    assert sock.lost_reason == "heartbeat unanswered"
    assert trio.current_time() - start == pytest.approx(10.0)
    assert len(sink.items) >= 18
    await sock.done.wait()


async def test_a_stalled_sink_gets_one_more_tick_then_a_dead_socket_is_lost(
    autojump_clock: trio.testing.MockClock, fake_server: FakeServer, nursery: trio.Nursery
) -> None:
    # While the sink blocks the reader no tick counts against the socket; after the
    # stall, a heartbeat that stays unanswered is a loss within two intervals.
    sink = Sink()
    sink.gate = trio.Event()
    sock, conn = await open_socket(nursery, fake_server, sink, heartbeat_interval=10.0)
    await sock.subscribe()
    fake_server.answer_heartbeats = False
    await conn.send_chat(text_item(1))
    await trio.sleep(35)
    assert not sock.lost.is_set()
    released = trio.current_time()
    sink.gate.set()
    await sock.lost.wait()
    assert sock.lost_reason == "heartbeat unanswered"
    assert 0 < trio.current_time() - released <= 20.0


async def test_a_peer_gone_while_the_sink_blocks_is_found_by_the_next_heartbeat(
    autojump_clock: trio.testing.MockClock, fake_server: FakeServer, nursery: trio.Nursery
) -> None:
    # The socket's task is blocked in the sink, so it reads nothing; the heartbeat still
    # goes out on time (a helper task while the sink waits), and its failed send is what
    # finds the closed connection.
    sink = Sink()
    sink.gate = trio.Event()
    sock, conn = await open_socket(nursery, fake_server, sink, heartbeat_interval=10.0)
    await sock.subscribe()
    opened = conn.sent("aws/heartbeat")[0]["_at"]
    await conn.send_chat(text_item(1))
    await trio.testing.wait_all_tasks_blocked()
    await conn.drop()
    with trio.fail_after(60):
        await sock.lost.wait()
    assert sock.lost_reason is not None and sock.lost_reason.startswith("send failed")
    assert trio.current_time() - opened == pytest.approx(10.0)
    await sock.done.wait()
    assert not sink.items


async def _late_first_tick(clock: trio.testing.MockClock) -> None:
    """The process stops for 6 s just before the first tick (due 10 s after the first
    heartbeat): the tick wakes 5 s late and runs before anything else."""
    await trio.sleep(9.0)
    clock.jump(6.0)
    await trio.testing.wait_all_tasks_blocked()


async def test_a_tick_that_wakes_late_does_not_count_the_unread_echo(
    autojump_clock: trio.testing.MockClock, fake_server: FakeServer, nursery: trio.Nursery
) -> None:
    fake_server.answer_heartbeats = False
    sock, conn = await open_socket(nursery, fake_server, Sink(), heartbeat_interval=10.0)
    await conn.wait_for("aws/heartbeat", 1)
    await _late_first_tick(autojump_clock)
    # the echo comes now: while the process stood still it could not have been read
    await conn.send_raw(json.dumps({"topic": "aws/heartbeat"}))
    fake_server.answer_heartbeats = True
    await conn.wait_for("aws/heartbeat", 4)
    assert not sock.lost.is_set()
    await sock.aclose()


async def test_a_late_tick_is_forgiven_once_then_a_dead_socket_is_lost(
    autojump_clock: trio.testing.MockClock, fake_server: FakeServer, nursery: trio.Nursery
) -> None:
    fake_server.answer_heartbeats = False
    start = trio.current_time()
    sock, conn = await open_socket(nursery, fake_server, Sink(), heartbeat_interval=10.0)
    await conn.wait_for("aws/heartbeat", 1)
    await _late_first_tick(autojump_clock)
    assert not sock.lost.is_set()
    await sock.lost.wait()
    assert sock.lost_reason == "heartbeat unanswered"
    assert trio.current_time() - start == pytest.approx(25.0)  # the on-time tick after it


async def _burst_server(frames: list[str], listeners: list[trio.SocketListener]) -> None:
    """A websocket server on loopback (wsproto over TCP): accepts one client, answers its
    subscribe and heartbeats, and writes ``frames`` as ONE write after the subscribe
    reply: a burst that reaches the client in a few network reads."""
    import wsproto
    import wsproto.events as ev

    stream = await listeners[0].accept()
    conn = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
    while True:
        data = await stream.receive_some(65536)
        if not data:
            return
        conn.receive_data(data)
        for event in conn.events():
            if isinstance(event, ev.Request):
                await stream.send_all(conn.send(ev.AcceptConnection()))
            elif isinstance(event, ev.TextMessage):
                topic = json.loads(event.data).get("topic")
                if topic == "aws/heartbeat":
                    await stream.send_all(conn.send(ev.TextMessage(data=event.data)))
                elif topic == "aws/subscribe":
                    ack = {"topic": "aws/subscribe", "content": {"status": "success"}}
                    burst = conn.send(ev.TextMessage(data=json.dumps(ack)))
                    for frame in frames:
                        burst += conn.send(ev.TextMessage(data=frame))
                    await stream.send_all(burst)
            elif isinstance(event, ev.CloseConnection):
                await stream.send_all(conn.send(event.response()))
                await stream.aclose()
                return


async def test_over_the_default_connector_the_idle_hook_runs_per_network_read_not_per_frame(
    nursery: trio.Nursery,
) -> None:
    # Real loopback TCP, the default connector: its watched transport tells the socket
    # when trio-websocket's reader is back on the network, so a burst of 300 frames
    # (about 60 KB: a few network reads) costs a few hook calls, not one per frame -
    # and the last frame of the burst still gets one (it is not left waiting).
    from participant.socket import default_connector

    n = 300
    frames = [
        json.dumps({"topic": "aws/chat", "content": json.dumps(text_item(i))}) for i in range(n)
    ]
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    nursery.start_soon(_burst_server, frames, listeners)
    sink = BatchingSink()
    hook_called = trio.Event()

    class Hook(IdleRecorder):
        def __call__(self) -> None:
            nonlocal hook_called
            super().__call__()
            hook_called.set()
            hook_called = trio.Event()

    sink.hook = Hook(sink)
    with trio.fail_after(20):  # a guard against hanging, not a timing assertion
        sock = await nursery.start(
            partial(
                serve_socket,
                f"ws://127.0.0.1:{port}/connect?AuthToken=secret",
                connector=default_connector,
                on_item=sink,
                on_idle=sink.hook,
            )
        )
        await sock.subscribe()
        while not (sink.hook.calls and sink.hook.calls[-1] == n):
            await hook_called.wait()
        assert [i.id for i in sink.items] == [f"m{i}" for i in range(n)]
        assert not sink.hook.pending
        assert len(sink.hook.calls) < n // 4, sink.hook.calls  # not per frame
        await sock.aclose()
    for listener in listeners:
        await listener.aclose()


async def test_a_write_while_the_reader_waits_leaves_the_transport_marked_waiting(
    nursery: trio.Nursery,
) -> None:
    # The watched transport counts reads and writes in progress: a heartbeat written
    # while trio-websocket's reader waits for the network must not make the socket
    # believe that reader busy (it would not wake its consumer for a frame taken then).
    from participant.socket import _Watched

    ours, peer = trio.testing.memory_stream_pair()
    watched = _Watched(ours)  # type: ignore[arg-type]  # any trio Stream works
    got: list[bytes | bytearray] = []

    async def read() -> None:
        got.append(await watched.receive_some())

    nursery.start_soon(read)
    await trio.testing.wait_all_tasks_blocked()
    assert watched.waiting == 1
    await watched.send_all(b"heartbeat")
    assert watched.waiting == 1  # the read still waits
    await peer.send_all(b"frame")
    await trio.testing.wait_all_tasks_blocked()
    assert got == [b"frame"] and watched.waiting == 0
