"""Items that change in place (protocol.md §9) and chat timers, in memory under MockClock."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
import trio
import trio.testing
import trio_websocket

from participant._time import trio_clock
from participant.emulator import ApiError, Emulator, EmulatorConfig, ProcessedMessage, StartedChat

from .helpers import Raw, next_chat

EV = "application/vnd.amazonaws.connect.event."


async def joined(
    emu: Emulator, nursery: trio.Nursery, token: str
) -> tuple[Raw, str, trio_websocket.WebSocketConnection]:
    """Connect a participant: (raw client, ConnectionToken, subscribed socket)."""
    raw = Raw(emu)
    conn = await raw.connect(token)
    ws = await raw.open_ws(nursery, conn["Websocket"]["Url"])
    return raw, conn["ConnectionCredentials"]["ConnectionToken"], ws


async def items_until(ws: trio_websocket.WebSocketConnection, n: int) -> list[dict[str, Any]]:
    return [await next_chat(ws) for _ in range(n)]


async def transcript(raw: Raw, token: str) -> list[dict[str, Any]]:
    page = await raw.ok("/participant/transcript", token, {"MaxResults": 100})
    return page["Transcript"]  # type: ignore[no-any-return]


async def test_streamed_reply_chunks_then_completed(
    emulator: Emulator, emulator_chat: StartedChat, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        raw, token, ws = await joined(emulator, nursery, emulator_chat.participant_token)
        start = trio.current_time()
        message_id = await emulator.send_streamed_reply(
            emulator_chat.contact_id, ["Hel", "lo ", "there"], interval=0.5
        )
        assert trio.current_time() - start == pytest.approx(1.5)
        frames = await items_until(ws, 4)
        assert {f["Id"] for f in frames} == {message_id}
        assert all(f["ParticipantRole"] == "SYSTEM" and f["Type"] == "MESSAGE" for f in frames)
        assert all(f["DisplayName"] == "BOT" for f in frames)
        assert [f["MessageMetadata"] for f in frames[:3]] == [
            {"MessageId": message_id, "MessageCompleted": False, "ChunkNumber": n}
            for n in (1, 2, 3)
        ]
        assert [f["Content"] for f in frames] == ["Hel", "lo ", "there", "Hello there"]
        assert frames[3]["MessageMetadata"] == {"MessageId": message_id, "MessageCompleted": True}
        assert frames[3]["AbsoluteTime"] == frames[0]["AbsoluteTime"]
        assert frames[1]["AbsoluteTime"] != frames[0]["AbsoluteTime"]
        stored = [i for i in await transcript(raw, token) if i["Id"] == message_id]
        assert len(stored) == 1
        assert stored[0]["Content"] == "Hello there"
        assert stored[0]["AbsoluteTime"] == frames[0]["AbsoluteTime"]
        assert "MessageMetadata" not in stored[0]
        await ws.aclose()


async def test_streamed_reply_over_admin_http_and_end_midway(
    emulator: Emulator, emulator_chat: StartedChat, autojump_clock: trio.testing.MockClock
) -> None:
    raw = Raw(emulator)
    path = f"/emulator/contacts/{emulator_chat.contact_id}/streamed-reply"
    bad = await raw.call(path, None, {"Chunks": [], "Interval": 0.1})
    assert bad.status_code == 400
    assert bad.headers["x-amzn-errortype"] == "ValidationException"
    negative = await raw.call(path, None, {"Chunks": ["a"], "Interval": -1})
    assert negative.status_code == 400 and "'-1'" in negative.json()["message"]
    async with emulator.item_stream() as items:
        answer = await raw.ok(path, "", {"Chunks": ["a", "b", "c"], "Interval": 10})
        _, first = await items.receive()
        assert first["Id"] == answer["Id"]
        assert first["MessageMetadata"]["ChunkNumber"] == 1
        await trio.sleep(15)  # chunk 2 went out at 10 s
        await emulator.end_chat(emulator_chat.contact_id)
        await trio.sleep(100)
        rest = []
        while True:
            try:
                rest.append(items.receive_nowait()[1])
            except trio.WouldBlock:
                break
    assert [i.get("MessageMetadata", {}).get("ChunkNumber") for i in rest] == [2, None]
    assert rest[1]["ContentType"] == EV + "chat.ended"
    assert all(i["Id"] != answer["Id"] for i in emulator.transcript(emulator_chat.contact_id))
    with pytest.raises(ApiError, match="AccessDenied"):
        await emulator.send_streamed_reply(emulator_chat.contact_id, ["x"])
    with pytest.raises(ValueError, match="non-empty"):
        await emulator.send_streamed_reply(emulator_chat.contact_id, "text")


async def upload(raw: Raw, token: str, name: str = "a.png") -> str:
    up = await raw.ok("/participant/start-attachment-upload", token, {
        "ContentType": "image/png", "AttachmentSizeInBytes": 3,
        "AttachmentName": name, "ClientToken": name})
    meta = up["UploadMetadata"]
    put = await raw.http.put(meta["Url"], content=b"abc", headers=meta["HeadersToInclude"])
    assert put.status_code == 200
    await raw.ok("/participant/complete-attachment-upload", token,
                 {"AttachmentIds": [up["AttachmentId"]], "ClientToken": "c" + name})
    return str(up["AttachmentId"])


@pytest.mark.parametrize("verdict", ["APPROVED", "REJECTED"])
async def test_attachment_scan_same_id_and_verdict(
    verdict: str, autojump_clock: trio.testing.MockClock
) -> None:
    config = attrs.evolve(EmulatorConfig(), attachment_scan_delay=3.0,
                          attachment_scan_verdict=verdict)
    emu = Emulator(config, wall_clock=trio_clock())
    async with emu.run(), trio.open_nursery() as nursery:
        chat = await emu.start_chat()
        raw, token, ws = await joined(emu, nursery, chat.participant_token)
        attachment_id = await upload(raw, token)
        first, second = await items_until(ws, 2)
        assert first["Id"] == second["Id"]
        assert first["AbsoluteTime"] == second["AbsoluteTime"]
        assert [first["Attachments"][0]["Status"], second["Attachments"][0]["Status"]] == [
            "IN_PROGRESS", verdict]
        stored = [i for i in await transcript(raw, token) if i["Type"] == "ATTACHMENT"]
        assert len(stored) == 1
        assert stored[0]["Attachments"][0]["Status"] == verdict
        got = await raw.call("/participant/attachment", token, {"AttachmentId": attachment_id})
        assert got.status_code == (200 if verdict == "APPROVED" else 400)
        await ws.aclose()


async def test_attachment_verdict_set_by_hand(autojump_clock: trio.testing.MockClock) -> None:
    emu = Emulator(attrs.evolve(EmulatorConfig(), attachment_scan_delay=1e6),
                   wall_clock=trio_clock())
    async with emu.run():
        chat = await emu.start_chat()
        raw = Raw(emu)
        token = (await raw.connect(chat.participant_token))["ConnectionCredentials"][
            "ConnectionToken"]
        attachment_id = await upload(raw, token)
        answer = await raw.ok(f"/emulator/attachments/{attachment_id}/status", "",
                              {"Status": "REJECTED"})
        (stored,) = [i for i in emu.transcript(chat.contact_id) if i["Type"] == "ATTACHMENT"]
        assert stored["Id"] == answer["Id"]
        assert stored["Attachments"][0]["Status"] == "REJECTED"
        bad = await raw.call(f"/emulator/attachments/{attachment_id}/status", None,
                             {"Status": "MAYBE"})
        assert bad.status_code == 400


async def test_message_processor_redacts_rejects_and_fails(
    emulator: Emulator, emulator_chat: StartedChat, autojump_clock: trio.testing.MockClock
) -> None:
    def processor(item: dict[str, Any]) -> ProcessedMessage | None:
        text = item["Content"]
        if "card" in text:
            return ProcessedMessage(content=text.replace("4111", "****"))
        if "spam" in text:
            return ProcessedMessage(rejected=True)
        if "boom" in text:
            raise RuntimeError("processor bug")
        return None

    emulator.message_processor = processor
    agent = await emulator.add_participant(emulator_chat.contact_id)
    async with trio.open_nursery() as nursery:
        raw, token, customer_ws = await joined(emulator, nursery, emulator_chat.participant_token)
        _, _, agent_ws = await joined(emulator, nursery, agent.participant_token)
        await items_until(customer_ws, 1)  # the agent's connection ack
        sent = {}
        for text in ("card 4111", "spam", "boom", "plain"):
            answer = await raw.ok("/participant/message", token,
                                  {"ContentType": "text/plain", "Content": text})
            assert answer["MessageMetadata"] == {"MessageProcessingStatus": "PROCESSING"}
            sent[text] = answer["Id"]
        pending = await items_until(customer_ws, 4)
        assert [p["MessageMetadata"]["MessageProcessingStatus"] for p in pending] == [
            "PROCESSING"] * 4
        await trio.sleep(emulator.config.message_processing_delay)
        finals = {f["Id"]: f for f in await items_until(customer_ws, 4)}
        assert finals[sent["card 4111"]]["Content"] == "card ****"
        assert "MessageMetadata" not in finals[sent["card 4111"]]
        assert finals[sent["spam"]]["MessageMetadata"]["MessageProcessingStatus"] == "REJECTED"
        assert finals[sent["boom"]]["MessageMetadata"]["MessageProcessingStatus"] == "FAILED"
        assert finals[sent["plain"]]["Content"] == "plain"
        seen = await items_until(agent_ws, 2)  # only what passed: redacted, then plain
        assert [s["Content"] for s in seen] == ["card ****", "plain"]
        stored = [i["Content"] for i in await transcript(raw, token) if i["Type"] == "MESSAGE"]
        assert sorted(stored) == ["card ****", "plain"]
        await customer_ws.aclose()
        await agent_ws.aclose()


async def test_idle_returned_and_agent_autodisconnection(
    emulator: Emulator, emulator_chat: StartedChat, autojump_clock: trio.testing.MockClock
) -> None:
    emulator.set_chat_timeouts(emulator_chat.contact_id, customer_idle=120, agent_idle=120,
                               agent_auto_disconnect=300)
    raw = Raw(emulator)
    token = (await raw.connect(emulator_chat.participant_token))["ConnectionCredentials"][
        "ConnectionToken"]
    async with emulator.item_stream() as items:
        await trio.sleep(1000)  # no agent yet: no timer runs
        assert items.statistics().current_buffer_used == 0
        agent = await emulator.add_participant(emulator_chat.contact_id)
        start = trio.current_time()
        await items.receive()  # joined
        await trio.sleep(60)
        await raw.ok("/participant/message", token, {"ContentType": "text/plain", "Content": "hi"})
        await items.receive()
        events = []
        while len(events) < 7:
            _, item = await items.receive()
            events.append((item["ContentType"].removeprefix(EV), item["ParticipantRole"],
                           round(trio.current_time() - start)))
            if len(events) == 2:  # the customer comes back after both went idle
                await raw.ok("/participant/message", token,
                             {"ContentType": "text/plain", "Content": "back"})
    assert events == [
        ("participant.idle", "AGENT", 120),
        ("participant.idle", "CUSTOMER", 180),
        ("participant.returned", "CUSTOMER", 180),
        ("text/plain", "CUSTOMER", 180),
        ("participant.idle", "CUSTOMER", 300),  # idle again 120 s after coming back
        ("participant.autodisconnection", "AGENT", 420),
        ("participant.left", "AGENT", 420),
    ]
    assert emulator.service.participant(agent.participant_id).left
    assert not emulator.service.contact(emulator_chat.contact_id).ended


async def test_customer_auto_disconnect_disconnects_the_agent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    config = attrs.evolve(EmulatorConfig(), customer_auto_disconnect_timeout=200.0)
    emu = Emulator(config, wall_clock=trio_clock())
    async with emu.run():
        chat = await emu.start_chat()
        async with emu.item_stream() as items:
            await emu.add_participant(chat.contact_id, role="CUSTOM_BOT", display_name="Bot")
            start = trio.current_time()
            got = [(await items.receive())[1]["ContentType"].removeprefix(EV) for _ in range(3)]
        assert got == ["participant.joined", "participant.autodisconnection",
                       "participant.left"]
        assert trio.current_time() - start == pytest.approx(200)
    with pytest.raises(ValueError, match="> 0"):
        emu.set_chat_timeouts(chat.contact_id, agent_idle=-1)


async def test_repeated_client_token_with_other_content_is_a_new_request(
    emulator: Emulator, emulator_chat: StartedChat
) -> None:
    # chatjs sends every read receipt with ClientToken "INCOMING_READ_RECEIPT"
    agent = await emulator.add_participant(emulator_chat.contact_id)
    raw = Raw(emulator)
    token = (await raw.connect(emulator_chat.participant_token))["ConnectionCredentials"][
        "ConnectionToken"]
    ids = [(await emulator.send_message_as(emulator_chat.contact_id, agent.participant_id,
                                           content=t))["Id"] for t in ("one", "two")]
    answers = []
    for message_id in ids:
        answers.append(await raw.ok("/participant/event", token, {
            "ContentType": EV + "message.read", "Content": json.dumps({"messageId": message_id}),
            "ClientToken": "INCOMING_READ_RECEIPT"}))
    assert answers[0]["Id"] != answers[1]["Id"]
    again = await raw.ok("/participant/event", token, {
        "ContentType": EV + "message.read", "Content": json.dumps({"messageId": ids[1]}),
        "ClientToken": "INCOMING_READ_RECEIPT"})
    assert again == answers[1]
    stored = {i["Id"]: i for i in emulator.transcript(emulator_chat.contact_id)}
    for message_id in ids:
        receipts = stored[message_id]["MessageMetadata"]["Receipts"]
        assert receipts[0]["RecipientParticipantId"] == emulator_chat.participant_id
