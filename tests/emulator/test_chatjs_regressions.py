"""Differences between the emulator and the service that AWS's own chat client
(amazon-connect-chatjs 5.x, tests/chatjs) found: one regression test each, in memory.

Each test sends what chatjs sends on the wire (its bundled AWS SDK client's request bodies).
"""

from __future__ import annotations

import json

import pytest
import trio
import trio_websocket

from participant.emulator import Emulator, StartedChat

from .helpers import Raw, next_chat

CT_DELIVERED = "application/vnd.amazonaws.connect.event.message.delivered"
CT_READ = "application/vnd.amazonaws.connect.event.message.read"


async def _customer_and_agent(emulator: Emulator, chat: StartedChat) -> tuple[Raw, str, str]:
    raw = Raw(emulator)
    conn = await raw.connect(chat.participant_token)
    agent = await emulator.add_participant(chat.contact_id, role="AGENT", display_name="Agent")
    return raw, conn["ConnectionCredentials"]["ConnectionToken"], agent.participant_id


async def test_receipts_with_chatjs_literal_client_token_each_count(
    emulator: Emulator, emulator_chat: StartedChat
) -> None:
    """chatjs sends every read receipt with ClientToken "INCOMING_READ_RECEIPT" (and every
    delivered one with "INCOMING_DELIVERED_RECEIPT"): SendEvent idempotency keyed on the
    ClientToken alone answered the second receipt with the first one's Id and never
    recorded it."""
    raw, token, agent = await _customer_and_agent(emulator, emulator_chat)
    cid = emulator_chat.contact_id
    first = await emulator.send_message_as(cid, agent, content="one")
    second = await emulator.send_message_as(cid, agent, content="two")
    answers = []
    for message in (first, second):
        for content_type, client_token in (
            (CT_DELIVERED, "INCOMING_DELIVERED_RECEIPT"),
            (CT_READ, "INCOMING_READ_RECEIPT"),
        ):
            answers.append(await raw.ok("/participant/event", token, {
                "ContentType": content_type,
                "Content": json.dumps({"messageId": message["Id"]}),
                "ClientToken": client_token,
            }))
    assert len({a["Id"] for a in answers}) == 4
    stored = {e["Id"]: e for e in emulator.transcript(cid)}
    for message in (first, second):
        (receipt,) = stored[message["Id"]]["MessageMetadata"]["Receipts"]
        assert receipt["ReadTimestamp"] and receipt["DeliveredTimestamp"]


async def test_send_event_retry_with_same_client_token_is_idempotent(
    emulator: Emulator, emulator_chat: StartedChat
) -> None:
    """The same request again (same ClientToken, same ContentType and Content) still gets
    the first answer: only the key changed, not idempotency."""
    raw, token, agent = await _customer_and_agent(emulator, emulator_chat)
    message = await emulator.send_message_as(emulator_chat.contact_id, agent, content="one")
    body = {
        "ContentType": CT_READ,
        "Content": json.dumps({"messageId": message["Id"]}),
        "ClientToken": "retry-1",
    }
    assert await raw.ok("/participant/event", token, body) == await raw.ok(
        "/participant/event", token, body
    )


async def test_get_transcript_with_chatjs_defaults_empty_start_position(
    emulator: Emulator, emulator_chat: StartedChat
) -> None:
    """chatjs's getTranscript() with no arguments sends ScanDirection BACKWARD, SortOrder
    ASCENDING, MaxResults 15 and ``StartPosition: {}`` (its SDK client drops the undefined
    Id, AbsoluteTime and MostRecent but keeps the structure). The service answers the newest
    page; the emulator refused it ("Exactly one of Id, AbsoluteTime, MostRecent")."""
    raw, token, agent = await _customer_and_agent(emulator, emulator_chat)
    cid = emulator_chat.contact_id
    for n in range(20):
        await emulator.send_message_as(cid, agent, content=f"message {n}")
    body = {"StartPosition": {}, "ScanDirection": "BACKWARD", "SortOrder": "ASCENDING",
            "MaxResults": 15}
    page = await raw.ok("/participant/transcript", token, body)
    expected = [e["Id"] for e in emulator.transcript(cid)][-15:]
    assert [i["Id"] for i in page["Transcript"]] == expected
    assert page["NextToken"]
    rest = await raw.ok("/participant/transcript", token, {**body, "NextToken": page["NextToken"]})
    assert [i["Id"] for i in rest["Transcript"]] == [
        e["Id"] for e in emulator.transcript(cid)
    ][:-15]
    # without a ScanDirection an empty StartPosition is no StartPosition: BACKWARD, not FORWARD
    newest = await raw.ok("/participant/transcript", token, {"StartPosition": {}, "MaxResults": 1})
    assert [i["Id"] for i in newest["Transcript"]] == expected[-1:]


@pytest.mark.parametrize("close_frame", [True, False])
async def test_item_emitted_after_a_drop_does_not_reach_the_dropped_socket(
    emulator: Emulator, emulator_chat: StartedChat, close_frame: bool
) -> None:
    """tests/chatjs sends a message into the gap of a socket drop and expects chatjs to fetch
    it with getTranscript, not to receive it: a socket told to close took new frames and a
    clean close flushed them (the message reached the old socket before the close frame)."""
    raw, _, agent = await _customer_and_agent(emulator, emulator_chat)
    conn = await raw.connect(emulator_chat.participant_token)
    async with trio.open_nursery() as nursery:
        ws = await raw.open_ws(nursery, conn["Websocket"]["Url"])
        assert emulator.faults.drop_sockets(emulator_chat.participant_id,
                                            close_frame=close_frame) == 1
        await emulator.send_message_as(emulator_chat.contact_id, agent, content="in the gap")
        with pytest.raises(trio_websocket.ConnectionClosed):
            while True:
                item = await next_chat(ws)
                assert item.get("Content") != "in the gap"


async def test_customer_disconnect_still_sends_left_and_chat_ended_to_the_customer(
    emulator: Emulator, emulator_chat: StartedChat
) -> None:
    """chatjs's disconnectParticipant() is followed by participant.left and chat.ended on its
    own socket, then the close (the customer leaving ends the chat)."""
    raw, token, _ = await _customer_and_agent(emulator, emulator_chat)
    conn = await raw.connect(emulator_chat.participant_token)
    async with trio.open_nursery() as nursery:
        ws = await raw.open_ws(nursery, conn["Websocket"]["Url"])
        await raw.ok("/participant/disconnect", token, {})
        seen = []
        with pytest.raises(trio_websocket.ConnectionClosed):
            while True:
                seen.append((await next_chat(ws))["ContentType"].rsplit(".", 2)[-2:])
        assert seen[-2:] == [["participant", "left"], ["chat", "ended"]]
