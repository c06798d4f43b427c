"""Hostile input: every case is bounded and answered as the service would (issue 12)."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from participant._time import trio_clock
from participant.emulator import Emulator, EmulatorConfig, StartedChat, serve
from participant.emulator.websocket import AdapterClosed, run_session

from .helpers import Raw

TEXT = {"ContentType": "text/plain", "Content": "hi"}


async def connection_token(raw: Raw, chat: StartedChat) -> str:
    conn = await raw.connect(chat.participant_token)
    return str(conn["ConnectionCredentials"]["ConnectionToken"])


async def test_body_larger_than_the_limit_is_413_before_parsing(
    emulator: Emulator, emulator_chat: StartedChat
) -> None:
    raw = Raw(emulator)
    token = await connection_token(raw, emulator_chat)
    limit = emulator.config.max_request_bytes
    big = json.dumps({"ContentType": "text/plain", "Content": "x" * limit})
    answer = await raw.http.post("/participant/message", content=big,
                                 headers={"X-Amz-Bearer": token})
    assert answer.status_code == 413
    assert answer.headers["x-amzn-errortype"] == "ValidationException"
    assert str(limit) in answer.json()["message"]
    for path in ("/contact/chat", "/emulator/contacts"):
        method = "PUT" if path == "/contact/chat" else "POST"
        assert (await raw.http.request(method, path, content=big)).status_code == 413
    assert all(i.get("Content") != "x" * limit for i in emulator.transcript(
        emulator_chat.contact_id))


@pytest.mark.parametrize("depth", [40, 100_000])
async def test_deeply_nested_json_is_400_on_every_route(
    emulator: Emulator, emulator_chat: StartedChat, depth: int
) -> None:
    raw = Raw(emulator)
    token = await connection_token(raw, emulator_chat)
    nested = '{"ContentType": "text/plain", "Content": ' + "[" * depth + "]" * depth + "}"
    routes = [("POST", "/participant/message"), ("POST", "/participant/event"),
              ("POST", "/participant/transcript"), ("PUT", "/contact/chat"),
              ("POST", "/emulator/contacts"),
              ("POST", f"/emulator/contacts/{emulator_chat.contact_id}/participants")]
    for method, path in routes:
        answer = await raw.http.request(method, path, content=nested,
                                        headers={"X-Amz-Bearer": token})
        assert answer.status_code == 400, (path, answer.status_code)
        assert answer.headers["x-amzn-errortype"] in ("ValidationException",
                                                      "InvalidRequestException")
        assert "deep" in answer.json()["message"] or "JSON" in answer.json()["message"]


async def test_deep_frame_on_the_websocket_is_an_error_frame_not_a_close(
    emulator: Emulator, emulator_chat: StartedChat
) -> None:
    raw = Raw(emulator)
    conn = await raw.connect(emulator_chat.participant_token)
    async with trio.open_nursery() as nursery:
        ws = await raw.open_ws(nursery, conn["Websocket"]["Url"])
        for depth in (40, 50_000):  # 100 kB: under max_frame_bytes
            await ws.send_message('{"topic": ' + "[" * depth + "]" * depth + "}")
            error = json.loads(await ws.get_message())
            assert error["message"] == "Bad Request"
        await ws.send_message('{"topic": "aws/heartbeat"}')
        assert json.loads(await ws.get_message()) == {"topic": "aws/heartbeat"}
        assert emulator.open_sockets(emulator_chat.participant_id) == 1
        await ws.aclose()


async def test_too_big_frame_closes_with_1009(emulator: Emulator,
                                              emulator_chat: StartedChat) -> None:
    import trio_websocket

    raw = Raw(emulator)
    conn = await raw.connect(emulator_chat.participant_token)
    async with trio.open_nursery() as nursery:
        ws = await raw.open_ws(nursery, conn["Websocket"]["Url"])
        await ws.send_message("x" * (emulator.config.max_frame_bytes + 1))
        with pytest.raises(trio_websocket.ConnectionClosed) as closed:
            await ws.get_message()
        assert closed.value.reason.code == 1009


class StuckClient:
    """A websocket peer that subscribes, then never reads (its sends block)."""

    def __init__(self) -> None:
        self.subscribed = False
        self.sent = 0
        self.closed: tuple[int, str] | None = None

    async def receive_text(self) -> str:
        if not self.subscribed:
            self.subscribed = True
            return json.dumps({"topic": "aws/subscribe", "content": {"topics": ["aws/chat"]}})
        await trio.sleep_forever()
        raise AssertionError

    async def send_text(self, text: str) -> None:
        self.sent += 1
        if self.sent > 1:  # the subscribe reply goes out; then the client stops reading
            await trio.sleep_forever()

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    async def abort(self) -> None:
        raise AdapterClosed


async def test_socket_that_falls_behind_is_closed(autojump_clock: trio.testing.MockClock) -> None:
    emu = Emulator(attrs.evolve(EmulatorConfig(), max_socket_queue=50), wall_clock=trio_clock())
    async with emu.run():
        chat = await emu.start_chat()
        agent = await emu.add_participant(chat.contact_id)
        raw = Raw(emu)
        url = (await raw.connect(chat.participant_token))["Websocket"]["Url"]
        token = url.split("AuthToken=", 1)[1]
        client = StuckClient()

        async def reject(status: int) -> None:
            raise AssertionError(status)

        async def accept() -> StuckClient:
            return client

        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_session, emu.service, token, accept, reject)
            await trio.sleep(1)
            assert emu.open_sockets(chat.participant_id) == 1
            for n in range(200):
                await emu.send_message_as(chat.contact_id, agent.participant_id, content=f"{n}")
            # run_session returns once the socket is closed
        assert client.closed == (1008, "Send queue full")
        assert emu.open_sockets(chat.participant_id) == 0


async def test_headers_then_no_body_get_408_and_the_connection_closes() -> None:
    config = attrs.evolve(EmulatorConfig(), request_body_timeout=0.5)
    async with serve(config) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        await stream.send_all(b"POST /participant/message HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n")
        received = b""
        with trio.fail_after(5):
            while chunk := await stream.receive_some():
                received += chunk
        assert received.startswith(b"HTTP/1.1 408")
        await stream.aclose()


async def test_duplicated_bearer_header_is_refused(emulator: Emulator,
                                                   emulator_chat: StartedChat) -> None:
    raw = Raw(emulator)
    token = await connection_token(raw, emulator_chat)
    answer = await raw.http.post("/participant/message", json=TEXT,
                                 headers=[("X-Amz-Bearer", "forged"), ("X-Amz-Bearer", token)])
    assert answer.status_code == 403
    assert answer.headers["x-amzn-errortype"] == "AccessDeniedException"
    assert "once" in answer.json()["message"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "latin-1"])
async def test_body_that_is_not_utf8_is_refused(emulator: Emulator, emulator_chat: StartedChat,
                                                encoding: str) -> None:
    raw = Raw(emulator)
    token = await connection_token(raw, emulator_chat)
    body = json.dumps({"ContentType": "text/plain", "Content": "h\u00e9"},
                      ensure_ascii=False).encode(encoding)
    answer = await raw.http.post("/participant/message", content=body,
                                 headers={"X-Amz-Bearer": token})
    assert answer.status_code == 400
    assert "UTF-8" in answer.json()["message"]


async def test_transcript_cursor_expires(emulator: Emulator, emulator_chat: StartedChat,
                                         autojump_clock: trio.testing.MockClock) -> None:
    emulator.faults.set_rate_limits(False)
    raw = Raw(emulator)
    token = await connection_token(raw, emulator_chat)
    for _ in range(3):
        await raw.ok("/participant/message", token, TEXT)
    page = await raw.ok("/participant/transcript", token, {"MaxResults": 1})
    await trio.sleep(emulator.config.transcript_cursor_ttl + 1)
    late = await raw.call("/participant/transcript", token,
                          {"MaxResults": 1, "NextToken": page["NextToken"]})
    assert late.status_code == 400
    assert "nextToken" in late.json()["message"]


async def test_tokens_urls_cursors_and_keys_are_freed(
    emulator: Emulator, autojump_clock: trio.testing.MockClock
) -> None:
    emulator.faults.set_rate_limits(False)
    service = emulator.service
    raw = Raw(emulator)
    before = dict(service.retained())
    for _ in range(20):
        chat = await emulator.start_chat()
        token = await connection_token(raw, chat)
        for n in range(3):
            await raw.ok("/participant/message", token, {**TEXT, "ClientToken": f"c{n}"})
        await raw.ok("/participant/transcript", token, {"MaxResults": 1})
        await emulator.end_chat(chat.contact_id)
    service.sweep(force=True)
    assert service.retained() == before
    # a live chat: its unopened URL goes after the open window, keys after their TTL
    chat = await emulator.start_chat()
    token = await connection_token(raw, chat)
    await raw.ok("/participant/message", token, {**TEXT, "ClientToken": "k"})
    assert service.retained()["websocket_urls"] == 1
    assert service.retained()["idempotency_keys"] == 1
    await trio.sleep(emulator.config.url_open_window + 1)
    service.sweep(force=True)
    assert service.retained()["websocket_urls"] == 0
    # the next request sweeps by itself once sweep_interval has passed
    await trio.sleep(emulator.config.idempotency_ttl)
    chat2 = await emulator.start_chat()
    await connection_token(raw, chat2)
    assert service.retained()["idempotency_keys"] == 0


class NoScan(list[Any]):
    """A transcript that refuses to be iterated whole (paging must index into it)."""

    def __iter__(self) -> Any:
        raise AssertionError("the transcript was scanned")


async def test_transcript_paging_indexes_instead_of_scanning(
    emulator: Emulator, emulator_chat: StartedChat
) -> None:
    emulator.faults.set_rate_limits(False)
    raw = Raw(emulator)
    token = await connection_token(raw, emulator_chat)
    for n in range(30):
        await raw.ok("/participant/message", token, {"ContentType": "text/plain",
                                                     "Content": f"m{n}"})
    contact = emulator.service.contact(emulator_chat.contact_id)
    contact.entries = NoScan(contact.entries)
    seen: list[str] = []
    body: dict[str, Any] = {"MaxResults": 7, "SortOrder": "ASCENDING"}
    while True:
        page = await raw.ok("/participant/transcript", token, body)
        seen.extend(i["Content"] for i in page["Transcript"] if i["Type"] == "MESSAGE")
        if not page.get("NextToken"):
            break
        body = {**body, "NextToken": page["NextToken"]}
    assert sorted(seen, key=lambda c: int(c[1:])) == [f"m{n}" for n in range(30)]
    forward = await raw.ok("/participant/transcript", token, {
        "MaxResults": 3, "ScanDirection": "FORWARD", "SortOrder": "ASCENDING",
        "StartPosition": {"Id": page["Transcript"][0]["Id"]}})
    assert len(forward["Transcript"]) == 3


