"""Interactive messages (list pickers) sent into a chat by an agent, a bot or the SYSTEM,
answered by the customer with ContentType ...interactive.response."""

from __future__ import annotations

import json

import httpx
import pytest
import trio

from participant.emulator import ApiError, Emulator, StartedChat, list_picker

from .conftest import ThreadedServer
from .helpers import Raw, next_chat
from .test_boto3 import add_agent, customer

INTERACTIVE = "application/vnd.amazonaws.connect.message.interactive"
RESPONSE = INTERACTIVE + ".response"


def test_list_picker_template() -> None:
    template = list_picker("Pick a fruit", ["Apple", {"title": "Pear", "subtitle": "$2"}],
                           subtitle="Tap one", image_url="https://img.example.invalid/f.png",
                           reply_title="Thanks")
    assert template["templateType"] == "ListPicker"
    assert template["version"] == "1.0"
    content = template["data"]["content"]
    assert [e["title"] for e in content["elements"]] == ["Apple", "Pear"]
    assert content["elements"][1]["subtitle"] == "$2"
    assert (content["imageType"], content["subtitle"]) == ("URL", "Tap one")
    assert template["data"]["replyMessage"] == {"title": "Thanks"}
    with pytest.raises(ValueError, match="elements"):
        list_picker("Pick", [])
    with pytest.raises(ValueError, match=r"elements\[1\].title"):
        list_picker("Pick", ["A", {"subtitle": "no title"}])


async def test_bot_list_picker_and_customer_answer(
    emulator: Emulator, emulator_chat: StartedChat
) -> None:
    raw = Raw(emulator)
    conn = await raw.connect(emulator_chat.participant_token)
    token = conn["ConnectionCredentials"]["ConnectionToken"]
    bot = await emulator.add_participant(emulator_chat.contact_id, role="CUSTOM_BOT",
                                         display_name="Bot")
    template = list_picker("Pick a fruit", ["Apple", "Pear"])
    async with trio.open_nursery() as nursery:
        ws = await raw.open_ws(nursery, conn["Websocket"]["Url"])
        sent = await emulator.send_interactive_message(
            emulator_chat.contact_id, template, participant_id=bot.participant_id)
        frame = await next_chat(ws)
        assert frame["Id"] == sent["Id"]
        assert (frame["Type"], frame["ContentType"]) == ("MESSAGE", INTERACTIVE)
        assert (frame["ParticipantRole"], frame["ParticipantId"]) == (
            "CUSTOM_BOT", bot.participant_id)
        assert json.loads(frame["Content"]) == template

        system = await emulator.send_interactive_message(
            emulator_chat.contact_id, json.dumps(template))
        frame = await next_chat(ws)
        assert frame["Id"] == system["Id"]
        assert frame["ParticipantRole"] == "SYSTEM" and "ParticipantId" not in frame

        answer = json.dumps({"templateType": "ListPicker", "title": "Apple"})
        reply = await raw.ok("/participant/message", token,
                             {"ContentType": RESPONSE, "Content": answer})
        echo = await next_chat(ws)
        assert (echo["Id"], echo["ContentType"], echo["Content"]) == (
            reply["Id"], RESPONSE, answer)
        await ws.aclose()
    kinds = [(i["ContentType"], i["ParticipantRole"])
             for i in emulator.transcript(emulator_chat.contact_id) if i["Type"] == "MESSAGE"]
    assert kinds == [(INTERACTIVE, "CUSTOM_BOT"), (INTERACTIVE, "SYSTEM"),
                     (RESPONSE, "CUSTOMER")]


@pytest.mark.parametrize("template, field", [
    ("{not json", "JSON"),
    ({"version": "1.0", "data": {}}, "templateType"),
    ({"templateType": "ListPicker", "data": {}}, "version"),
    ({"templateType": "ListPicker", "version": "1.0", "data": []}, "data"),
])
async def test_bad_templates_refused(emulator: Emulator, emulator_chat: StartedChat,
                                     template: object, field: str) -> None:
    with pytest.raises(ApiError) as info:
        await emulator.send_interactive_message(emulator_chat.contact_id, template)  # type: ignore[arg-type]
    assert info.value.code == "ValidationException"
    assert field in info.value.message
    assert not [i for i in emulator.transcript(emulator_chat.contact_id)
                if i["ContentType"] == INTERACTIVE]


async def test_template_size_limit_and_sender_checks(
    emulator: Emulator, emulator_chat: StartedChat
) -> None:
    limit = emulator.config.max_message_bytes
    big = list_picker("x" * limit, ["A"])
    with pytest.raises(ApiError, match=f"{limit} bytes"):
        await emulator.send_interactive_message(emulator_chat.contact_id, big)
    other = await emulator.start_chat()
    with pytest.raises(ApiError) as info:   # a participant of another contact
        await emulator.send_interactive_message(
            emulator_chat.contact_id, list_picker("t", ["A"]), participant_id=other.participant_id)
    assert info.value.code == "ResourceNotFoundException"
    await emulator.end_chat(emulator_chat.contact_id)
    with pytest.raises(ApiError) as info:
        await emulator.send_interactive_message(emulator_chat.contact_id, list_picker("t", ["A"]))
    assert info.value.code == "AccessDeniedException"


def test_admin_http_interactive_and_boto3_answer(threaded_server: ThreadedServer) -> None:
    server = threaded_server
    cp = server.client("connectparticipant")
    chat, token = customer(server)
    agent = add_agent(server, chat["ContactId"])
    url = f"{server.endpoint_url}/emulator/contacts/{chat['ContactId']}/interactive-messages"
    template = list_picker("Which plan?", ["Basic", "Pro"])
    by_agent = httpx.post(url, json={"Template": template,
                                     "ParticipantId": agent["ParticipantId"]})
    assert by_agent.status_code == 200, by_agent.text
    by_system = httpx.post(url, json={"Template": json.dumps(template)})
    assert by_system.status_code == 200, by_system.text
    bad = httpx.post(url, json={"Template": {"templateType": "ListPicker"}})
    assert (bad.status_code, bad.headers["x-amzn-errortype"]) == (400, "ValidationException")
    assert httpx.post(url, json={}).status_code == 400

    cp.send_message(ConnectionToken=token, ContentType=RESPONSE,
                    Content=json.dumps({"title": "Pro"}))
    items = [i for i in cp.get_transcript(ConnectionToken=token, SortOrder="ASCENDING",
                                          MaxResults=100)["Transcript"] if i["Type"] == "MESSAGE"]
    assert [(i["ContentType"], i["ParticipantRole"]) for i in items] == [
        (INTERACTIVE, "AGENT"), (INTERACTIVE, "SYSTEM"), (RESPONSE, "CUSTOMER")]
    assert items[0]["Id"] == by_agent.json()["Id"]
    assert json.loads(items[1]["Content"]) == template
