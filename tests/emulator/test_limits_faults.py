"""Limits and faults, in memory under MockClock(autojump_threshold=0)."""

from __future__ import annotations

import json

import pytest
import trio
import trio.testing
import trio_websocket

from participant.emulator import Emulator, StartedChat

from .helpers import Raw, next_chat, rejected_status

TEXT = "text/plain"
EV = "application/vnd.amazonaws.connect.event."


async def connected(emulator: Emulator, chat: StartedChat) -> tuple[Raw, dict[str, str], str]:
    raw = Raw(emulator)
    conn = await raw.connect(chat.participant_token)
    return raw, conn, conn["ConnectionCredentials"]["ConnectionToken"]


async def test_url_refused_after_open_window(
    emulator: Emulator, emulator_chat: StartedChat, autojump_clock: trio.testing.MockClock
) -> None:
    raw, conn, _ = await connected(emulator, emulator_chat)
    autojump_clock.jump(emulator.config.url_open_window + 1)
    assert await rejected_status(emulator, conn["Websocket"]["Url"]) == 403
    fresh = await raw.connect(emulator_chat.participant_token)
    autojump_clock.jump(emulator.config.url_open_window - 1)
    assert await rejected_status(emulator, fresh["Websocket"]["Url"]) is None


async def test_socket_closed_at_connection_expiry(
    emulator: Emulator, emulator_chat: StartedChat, autojump_clock: trio.testing.MockClock
) -> None:
    raw, conn, _ = await connected(emulator, emulator_chat)
    issued = trio.current_time()
    async with trio.open_nursery() as nursery:
        ws = await raw.open_ws(nursery, conn["Websocket"]["Url"])
        with pytest.raises(trio_websocket.ConnectionClosed) as info:
            while True:
                await ws.get_message()
        assert info.value.reason.code == 1000
        assert info.value.reason.reason == "ConnectionExpiry"
        assert trio.current_time() - issued == pytest.approx(emulator.config.connection_expiry)
    assert emulator.open_sockets(emulator_chat.participant_id) == 0


async def test_sixth_socket_refused(emulator: Emulator, emulator_chat: StartedChat) -> None:
    raw = Raw(emulator)
    limit = emulator.config.max_sockets_per_participant
    async with trio.open_nursery() as nursery:
        sockets = []
        for _ in range(limit):
            conn = await raw.connect(emulator_chat.participant_token)
            sockets.append(await raw.open_ws(nursery, conn["Websocket"]["Url"]))
        assert emulator.open_sockets(emulator_chat.participant_id) == limit
        conn = await raw.connect(emulator_chat.participant_token)
        status = await rejected_status(emulator, conn["Websocket"]["Url"])
        assert status is not None and status >= 400
        await sockets[0].aclose()
        # one closed: a new URL opens again
        conn = await raw.connect(emulator_chat.participant_token)
        assert await rejected_status(emulator, conn["Websocket"]["Url"]) is None
        for ws in sockets[1:]:
            await ws.aclose()


async def test_rate_limit_throttles_past_burst(
    emulator: Emulator, emulator_chat: StartedChat, autojump_clock: trio.testing.MockClock
) -> None:
    raw, _, token = await connected(emulator, emulator_chat)
    steady, burst = emulator.config.rate_limit_table["SendMessage"]
    body = {"ContentType": TEXT, "Content": "x"}
    statuses = [(await raw.call("/participant/message", token, body)).status_code
                for _ in range(burst + 1)]
    assert statuses == [200] * burst + [429]
    throttled = await raw.call("/participant/message", token, body)
    assert throttled.headers["x-amzn-ErrorType"] == "ThrottlingException"
    assert "message" in throttled.json()
    autojump_clock.jump(1 / steady)
    assert (await raw.call("/participant/message", token, body)).status_code == 200
    emulator.faults.set_rate_limits(False)
    statuses = [(await raw.call("/participant/message", token, body)).status_code
                for _ in range(burst * 2)]
    assert set(statuses) == {200}


async def test_connection_token_expires_after_a_day(
    emulator: Emulator, emulator_chat: StartedChat, autojump_clock: trio.testing.MockClock
) -> None:
    raw, _conn, token = await connected(emulator, emulator_chat)
    autojump_clock.jump(emulator.config.connection_token_ttl - 1)
    assert (await raw.call("/participant/transcript", token)).status_code == 200
    autojump_clock.jump(2)
    refused = await raw.call("/participant/transcript", token)
    assert refused.status_code == 403
    assert refused.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert token not in refused.text
    renewed = await raw.connect(emulator_chat.participant_token)
    new_token = renewed["ConnectionCredentials"]["ConnectionToken"]
    assert new_token != token
    assert (await raw.call("/participant/transcript", new_token)).status_code == 200


async def test_participant_token_first_use_window(
    emulator: Emulator, emulator_chat: StartedChat, autojump_clock: trio.testing.MockClock
) -> None:
    window = emulator.config.participant_token_first_use_window
    assert window is not None
    autojump_clock.jump(window + 1)
    raw = Raw(emulator)
    response = await raw.call("/participant/connection", emulator_chat.participant_token,
                              {"Type": ["WEBSOCKET"]})
    assert response.status_code == 403


async def test_drop_sockets_with_and_without_close_frame(
    emulator: Emulator, emulator_chat: StartedChat
) -> None:
    raw = Raw(emulator)
    pid = emulator_chat.participant_id
    for close_frame, code in ((True, 1001), (False, 1006)):
        async with trio.open_nursery() as nursery:
            conns = [await raw.connect(emulator_chat.participant_token) for _ in range(2)]
            sockets = [await raw.open_ws(nursery, c["Websocket"]["Url"]) for c in conns]
            assert emulator.faults.drop_sockets(pid, close_frame=close_frame, count=1) == 1
            with pytest.raises(trio_websocket.ConnectionClosed) as info:
                await sockets[0].get_message()
            assert info.value.reason.code == code
            await sockets[1].send_message(json.dumps({"topic": "aws/heartbeat"}))
            assert json.loads(await sockets[1].get_message()) == {"topic": "aws/heartbeat"}
            assert emulator.faults.drop_sockets(pid, close_frame=close_frame) == 1
            with pytest.raises(trio_websocket.ConnectionClosed):
                await sockets[1].get_message()


async def test_stop_heartbeats(emulator: Emulator, emulator_chat: StartedChat,
                               autojump_clock: trio.testing.MockClock) -> None:
    raw, conn, _ = await connected(emulator, emulator_chat)
    async with trio.open_nursery() as nursery:
        ws = await raw.open_ws(nursery, conn["Websocket"]["Url"])
        emulator.faults.stop_heartbeats(emulator_chat.participant_id)
        await ws.send_message(json.dumps({"topic": "aws/heartbeat"}))
        await ws.send_message(json.dumps({"topic": "aws/ping"}))
        # the ping is answered, the heartbeat before it is not
        assert json.loads(await ws.get_message())["topic"] == "aws/ping"
        emulator.faults.resume_heartbeats(emulator_chat.participant_id)
        await ws.send_message(json.dumps({"topic": "aws/heartbeat"}))
        assert json.loads(await ws.get_message()) == {"topic": "aws/heartbeat"}
        await ws.aclose()


async def test_compact_heartbeat_answered_like_any_other(
    emulator: Emulator, emulator_chat: StartedChat, autojump_clock: trio.testing.MockClock
) -> None:
    """The clients' exact frame takes the emulator's fast path: same reply text as the
    general path, same silent-heartbeats fault."""
    compact = '{"topic":"aws/heartbeat"}'
    raw, conn, _ = await connected(emulator, emulator_chat)
    async with trio.open_nursery() as nursery:
        ws = await raw.open_ws(nursery, conn["Websocket"]["Url"])
        await ws.send_message(json.dumps({"topic": "aws/heartbeat"}))
        general = await ws.get_message()
        await ws.send_message(compact)
        assert await ws.get_message() == general
        emulator.faults.stop_heartbeats(emulator_chat.participant_id)
        await ws.send_message(compact)
        await ws.send_message(json.dumps({"topic": "aws/ping"}))
        assert json.loads(await ws.get_message())["topic"] == "aws/ping"
        emulator.faults.resume_heartbeats(emulator_chat.participant_id)
        await ws.send_message(compact)
        assert await ws.get_message() == general
        await ws.aclose()


async def test_expire_token_and_url_now(emulator: Emulator, emulator_chat: StartedChat) -> None:
    raw, conn, token = await connected(emulator, emulator_chat)
    pid = emulator_chat.participant_id
    assert emulator.faults.expire_websocket_url(pid) == 1
    assert await rejected_status(emulator, conn["Websocket"]["Url"]) == 403
    assert emulator.faults.expire_connection_token(pid) == 1
    assert (await raw.call("/participant/transcript", token)).status_code == 403


async def test_delay_and_reorder_frames(emulator: Emulator, emulator_chat: StartedChat,
                                        autojump_clock: trio.testing.MockClock) -> None:
    raw, conn, token = await connected(emulator, emulator_chat)
    async with trio.open_nursery() as nursery:
        ws = await raw.open_ws(nursery, conn["Websocket"]["Url"])
        emulator.faults.delay_frames(7.0, emulator_chat.participant_id)
        sent_at = trio.current_time()
        await raw.ok("/participant/message", token, {"ContentType": TEXT, "Content": "slow"})
        assert (await next_chat(ws))["Content"] == "slow"
        assert trio.current_time() - sent_at == pytest.approx(7.0)
        emulator.faults.delay_frames(0, emulator_chat.participant_id)
        emulator.faults.reorder_frames(3)
        for n in range(3):
            await raw.ok("/participant/message", token, {"ContentType": TEXT, "Content": f"{n}"})
        assert [(await next_chat(ws))["Content"] for _ in range(3)] == ["2", "1", "0"]
        await ws.aclose()


async def test_end_chat_closes_everything(emulator: Emulator, emulator_chat: StartedChat) -> None:
    raw, conn, token = await connected(emulator, emulator_chat)
    async with trio.open_nursery() as nursery:
        ws = await raw.open_ws(nursery, conn["Websocket"]["Url"])
        await emulator.end_chat(emulator_chat.contact_id)
        assert (await next_chat(ws))["ContentType"] == EV + "chat.ended"
        with pytest.raises(trio_websocket.ConnectionClosed):
            await ws.get_message()
    assert (await raw.call("/participant/transcript", token)).status_code == 403
    assert (await raw.call("/participant/connection", emulator_chat.participant_token,
                           {"Type": ["WEBSOCKET"]})).status_code == 403


async def test_chat_duration_ends_the_chat(emulator: Emulator,
                                           autojump_clock: trio.testing.MockClock) -> None:
    chat = await emulator.start_chat(duration_minutes=60)
    started = trio.current_time()
    async with emulator.item_stream() as items:
        async for contact_id, item in items:
            if contact_id == chat.contact_id and item["ContentType"] == EV + "chat.ended":
                break
    assert trio.current_time() - started == pytest.approx(3600)


async def test_receipts_typing_and_transfer(emulator: Emulator, emulator_chat: StartedChat) -> None:
    raw, conn, token = await connected(emulator, emulator_chat)
    agent = await emulator.add_participant(emulator_chat.contact_id)
    async with trio.open_nursery() as nursery:
        ws = await raw.open_ws(nursery, conn["Websocket"]["Url"])
        message = await emulator.send_message_as(emulator_chat.contact_id, agent.participant_id,
                                                 content="hello")
        assert (await next_chat(ws))["Id"] == message["Id"]
        await raw.ok("/participant/event", token, {
            "ContentType": EV + "message.delivered",
            "Content": json.dumps({"messageId": message["Id"]})})
        receipt = await next_chat(ws)
        assert receipt["Type"] == "MESSAGEMETADATA"
        assert receipt["MessageMetadata"]["MessageId"] == message["Id"]
        assert receipt["MessageMetadata"]["Receipts"][0]["DeliveredTimestamp"]
        await emulator.send_event_as(emulator_chat.contact_id, agent.participant_id,
                                     content_type=EV + "typing")
        assert (await next_chat(ws))["ContentType"] == EV + "typing"
        supervisor = await emulator.add_participant(emulator_chat.contact_id, role="CUSTOM_BOT")
        assert (await next_chat(ws))["ParticipantId"] == supervisor.participant_id
        conflict = await raw.call("/participant/event", token, {
            "ContentType": EV + "message.read",
            "Content": json.dumps({"messageId": message["Id"]})})
        assert conflict.status_code == 409
        new_agent = await emulator.transfer(emulator_chat.contact_id, display_name="Agent 2")
        assert new_agent is not None
        kinds = [(await next_chat(ws))["ContentType"] for _ in range(3)]
        assert kinds == [EV + "transfer.succeeded", EV + "participant.left",
                         EV + "participant.joined"]
        await ws.aclose()


async def test_attachment_scan_in_progress_then_approved(
    autojump_clock: trio.testing.MockClock,
) -> None:
    import attrs

    from participant._time import trio_clock
    from participant.emulator import EmulatorConfig

    emu = Emulator(attrs.evolve(EmulatorConfig(), attachment_scan_delay=5.0),
                   wall_clock=trio_clock())
    async with emu.run():
        chat = await emu.start_chat()
        raw, _, token = await connected(emu, chat)
        up = await raw.ok("/participant/start-attachment-upload", token, {
            "ContentType": "image/png", "AttachmentSizeInBytes": 3,
            "AttachmentName": "a.png", "ClientToken": "t"})
        meta = up["UploadMetadata"]
        put = await raw.http.put(meta["Url"], content=b"abc", headers=meta["HeadersToInclude"])
        assert put.status_code == 200
        async with emu.item_stream() as items:
            await raw.ok("/participant/complete-attachment-upload", token,
                         {"AttachmentIds": [up["AttachmentId"]], "ClientToken": "c"})
            statuses = []
            async for _, item in items:
                statuses.append(item["Attachments"][0]["Status"])
                if len(statuses) == 2:
                    break
        assert statuses == ["IN_PROGRESS", "APPROVED"]
        got = await raw.ok("/participant/attachment", token,
                           {"AttachmentId": up["AttachmentId"]})
        assert (await raw.http.get(got["Url"])).content == b"abc"


async def test_admin_http_api_faults(emulator: Emulator, emulator_chat: StartedChat) -> None:
    raw, conn, token = await connected(emulator, emulator_chat)
    pid = emulator_chat.participant_id
    async with trio.open_nursery() as nursery:
        ws = await raw.open_ws(nursery, conn["Websocket"]["Url"])
        agent = (await raw.http.post(
            f"/emulator/contacts/{emulator_chat.contact_id}/participants",
            json={"ParticipantRole": "AGENT", "DisplayName": "Ann"})).json()
        assert (await next_chat(ws))["DisplayName"] == "Ann"
        sent = await raw.http.post(
            f"/emulator/contacts/{emulator_chat.contact_id}/participants/"
            f"{agent['ParticipantId']}/messages", json={"Content": "from admin"})
        assert (await next_chat(ws))["Id"] == sent.json()["Id"]
        dropped = await raw.http.post("/emulator/faults/drop-sockets",
                                      json={"ParticipantId": pid, "CloseFrame": False})
        assert dropped.json() == {"Dropped": 1}
        with pytest.raises(trio_websocket.ConnectionClosed):
            await ws.get_message()
    bad = await raw.http.post("/emulator/faults/fail-next",
                              json={"Operation": "Nope", "Count": 1, "Status": 429})
    assert bad.status_code == 400 and bad.headers["x-amzn-ErrorType"] == "ValidationException"
    await raw.http.post("/emulator/faults/fail-next",
                        json={"Operation": "SendMessage", "Count": 2, "Status": 500})
    body = {"ContentType": TEXT, "Content": "x"}
    statuses = [(await raw.call("/participant/message", token, body)).status_code
                for _ in range(3)]
    assert statuses == [500, 500, 200]
    await raw.http.post(f"/emulator/contacts/{emulator_chat.contact_id}/end")
    assert (await raw.call("/participant/message", token, body)).status_code == 403


def test_tokens_never_in_repr(emulator_config: object) -> None:
    from participant.emulator.core import ParticipantHandle, StartedChat

    chat = StartedChat("c", "p", "SECRET-TOKEN")
    handle = ParticipantHandle("c", "p", "AGENT", "A", "SECRET-TOKEN")
    assert "SECRET" not in repr(chat) and "SECRET" not in repr(handle)
