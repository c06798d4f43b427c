"""CreateParticipantConnection with Type WEBRTC_CONNECTION: a stand-in WebRTCConnection
with the shape of botocore's model (no media)."""

from __future__ import annotations

import re
from typing import Any

import botocore.session
import httpx

from participant.emulator import Emulator, StartedChat

from .conftest import ThreadedServer
from .helpers import Raw
from .test_boto3 import add_agent, start

MODEL = botocore.session.get_session().get_service_model("connectparticipant")


def leaves(shape: Any, prefix: str = "") -> set[str]:
    """Dotted paths of every scalar member under a structure shape of the model."""
    paths: set[str] = set()
    for name, member in shape.members.items():
        if member.type_name == "structure":
            paths |= leaves(member, f"{prefix}{name}.")
        else:
            paths.add(prefix + name)
    return paths


def check_against_model(value: Any, shape: Any, where: str) -> None:
    """Raw wire JSON against a model shape: known members, types, enums, lengths, patterns."""
    if shape.type_name == "structure":
        assert isinstance(value, dict), where
        assert set(value) <= set(shape.members), (where, set(value) - set(shape.members))
        for name, sub in value.items():
            check_against_model(sub, shape.members[name], f"{where}.{name}")
        return
    assert shape.type_name == "string", where
    assert isinstance(value, str), where
    meta = shape.metadata
    assert meta.get("min", 0) <= len(value) <= meta.get("max", 10**6), where
    if "enum" in meta:
        assert value in meta["enum"], where
    if "pattern" in meta:
        assert re.fullmatch(meta["pattern"], value), where


def test_webrtc_connection_matches_model(threaded_server: ThreadedServer) -> None:
    server = threaded_server
    cp = server.client("connectparticipant")
    chat = start(server)
    first = cp.create_participant_connection(
        ParticipantToken=chat["ParticipantToken"],
        Type=["WEBRTC_CONNECTION", "CONNECTION_CREDENTIALS"])
    assert "Websocket" not in first
    webrtc = first["WebRTCConnection"]
    shape = MODEL.shape_for("WebRTCConnection")
    # boto3 keeps only modelled members: every one of them arrived, so every name is right.
    got: set[str] = set()
    stack: list[tuple[str, Any]] = [("", webrtc)]
    while stack:
        prefix, node = stack.pop()
        for key, value in node.items():
            if isinstance(value, dict):
                stack.append((f"{prefix}{key}.", value))
            else:
                got.add(prefix + key)
    assert got == leaves(shape)

    # The raw answer obeys the model's constraints too (GuidString pattern, enum, lengths).
    agent = add_agent(server, chat["ContactId"])
    raw = httpx.post(f"{server.endpoint_url}/participant/connection",
                     headers={"X-Amz-Bearer": agent["ParticipantToken"]},
                     json={"Type": ["WEBRTC_CONNECTION"]})
    assert raw.status_code == 200, raw.text
    check_against_model(raw.json()["WebRTCConnection"], shape, "WebRTCConnection")

    # One meeting per contact, one attendee per participant, stable across calls.
    agent_rtc = raw.json()["WebRTCConnection"]
    assert agent_rtc["Meeting"]["MeetingId"] == webrtc["Meeting"]["MeetingId"]
    assert agent_rtc["Attendee"]["AttendeeId"] != webrtc["Attendee"]["AttendeeId"]
    again = cp.create_participant_connection(ParticipantToken=chat["ParticipantToken"],
                                             Type=["WEBRTC_CONNECTION"])["WebRTCConnection"]
    assert again["Attendee"] == webrtc["Attendee"]
    # Stand-in: nothing there carries media, and it says so by its host names.
    placement = webrtc["Meeting"]["MediaPlacement"]
    assert all(".invalid" in url for url in placement.values())


async def test_webrtc_only_when_requested(emulator: Emulator, emulator_chat: StartedChat) -> None:
    raw = Raw(emulator)
    plain = await raw.connect(emulator_chat.participant_token)
    assert "WebRTCConnection" not in plain
    other = await emulator.start_chat()
    rtc = await raw.ok("/participant/connection", other.participant_token,
                       {"Type": ["WEBRTC_CONNECTION"]})
    assert set(rtc) == {"WebRTCConnection"}
    mine = await raw.ok("/participant/connection", emulator_chat.participant_token,
                        {"Type": ["WEBRTC_CONNECTION"]})
    assert mine["WebRTCConnection"]["Meeting"]["MeetingId"] != (
        rtc["WebRTCConnection"]["Meeting"]["MeetingId"])
    # The join token is a secret: never in the repr of the emulator's bookkeeping.
    join_token = mine["WebRTCConnection"]["Attendee"]["JoinToken"]
    participant = emulator.service.participant(emulator_chat.participant_id)
    assert join_token not in repr(participant)
    assert join_token not in repr(participant.attendee)
