"""The in-memory emulator: REST through its httpx transport, websocket through its connector."""

from __future__ import annotations

import json

import trio

from participant.emulator import Emulator, StartedChat

from .helpers import Raw, next_chat, rejected_status

TEXT = "text/plain"


async def test_chat_round_trip_in_memory(emulator: Emulator, emulator_chat: StartedChat) -> None:
    raw = Raw(emulator)
    conn = await raw.connect(emulator_chat.participant_token)
    token = conn["ConnectionCredentials"]["ConnectionToken"]
    assert conn["Websocket"]["Url"].startswith("ws://")
    async with trio.open_nursery() as nursery:
        ws = await raw.open_ws(nursery, conn["Websocket"]["Url"])
        await ws.send_message(json.dumps({"topic": "aws/heartbeat"}))
        assert json.loads(await ws.get_message()) == {"topic": "aws/heartbeat"}
        await ws.send_message(json.dumps({"topic": "aws/ping"}))
        assert json.loads(await ws.get_message()) == {
            "topic": "aws/ping", "statusCode": 200, "statusContent": "OK"}
        sent = await raw.ok("/participant/message", token,
                            {"ContentType": TEXT, "Content": "hello", "ClientToken": "c1"})
        echo = await next_chat(ws)
        assert echo["Id"] == sent["Id"] and echo["Content"] == "hello"
        assert echo["ParticipantRole"] == "CUSTOMER"
        agent = await emulator.add_participant(emulator_chat.contact_id, role="AGENT",
                                               display_name="Agent")
        joined = await next_chat(ws)
        assert joined["ContentType"].endswith("participant.joined")
        assert joined["ParticipantId"] == agent.participant_id
        await emulator.send_message_as(emulator_chat.contact_id, agent.participant_id,
                                       content="hi there")
        reply = await next_chat(ws)
        assert (reply["Content"], reply["ParticipantRole"]) == ("hi there", "AGENT")
        transcript = await raw.ok("/participant/transcript", token, {"SortOrder": "ASCENDING"})
        contents = [i.get("Content") for i in transcript["Transcript"] if i["Type"] == "MESSAGE"]
        assert contents == ["hello", "hi there"]
        await ws.aclose()


async def test_bad_frame_answered_with_error(emulator: Emulator,
                                             emulator_chat: StartedChat) -> None:
    raw = Raw(emulator)
    conn = await raw.connect(emulator_chat.participant_token)
    async with trio.open_nursery() as nursery:
        ws = await raw.open_ws(nursery, conn["Websocket"]["Url"])
        await ws.send_message("{not json")
        error = json.loads(await ws.get_message())
        assert "topic" not in error and error["message"] and error["connectionId"]
        await ws.send_message(json.dumps({"topic": "aws/chat", "content": "x"}))
        assert json.loads(await ws.get_message())["message"] == "Forbidden"
        await ws.send_message(json.dumps({"topic": "aws/heartbeat"}))
        assert json.loads(await ws.get_message()) == {"topic": "aws/heartbeat"}
        await ws.aclose()


async def test_url_is_single_use(emulator: Emulator, emulator_chat: StartedChat) -> None:
    raw = Raw(emulator)
    conn = await raw.connect(emulator_chat.participant_token)
    url = conn["Websocket"]["Url"]
    async with trio.open_nursery() as nursery:
        ws = await raw.open_ws(nursery, url)
        assert await rejected_status(emulator, url) == 403
        await ws.aclose()
