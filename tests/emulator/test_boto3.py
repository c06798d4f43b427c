"""boto3's own clients against the loopback emulator (conformance with botocore's model)."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import httpx
import pytest

from .conftest import ThreadedServer

TEXT = "text/plain"
EV = "application/vnd.amazonaws.connect.event."


def start(server: ThreadedServer, name: str = "Customer", **kw: Any) -> dict[str, Any]:
    connect = server.client("connect")
    answer: dict[str, Any] = connect.start_chat_contact(
        InstanceId=server.config.default_instance_id,
        ContactFlowId="flow",
        ParticipantDetails={"DisplayName": name},
        **kw,
    )
    return answer


def connect(server: ThreadedServer, participant_token: str) -> dict[str, Any]:
    cp = server.client("connectparticipant")
    answer: dict[str, Any] = cp.create_participant_connection(
        ParticipantToken=participant_token,
        Type=["WEBSOCKET", "CONNECTION_CREDENTIALS"],
        ConnectParticipant=True,
    )
    return answer


def customer(server: ThreadedServer) -> tuple[dict[str, Any], str]:
    """A new chat (StartChatContact's answer) and its customer's ConnectionToken."""
    chat = start(server)
    token: str = connect(server, chat["ParticipantToken"])["ConnectionCredentials"][
        "ConnectionToken"
    ]
    return chat, token


def add_agent(server: ThreadedServer, contact_id: str, role: str = "AGENT") -> dict[str, Any]:
    response = httpx.post(
        f"{server.endpoint_url}/emulator/contacts/{contact_id}/participants",
        json={"ParticipantRole": role, "DisplayName": role.title()},
    )
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


def test_output_shapes_follow_botocore_model(threaded_server: ThreadedServer) -> None:
    chat = start(threaded_server, InitialMessage={"ContentType": TEXT, "Content": "hi"})
    assert set(chat) - {"ResponseMetadata"} == {"ContactId", "ParticipantId", "ParticipantToken"}
    conn = connect(threaded_server, chat["ParticipantToken"])
    model = botocore.session.get_session().get_service_model("connectparticipant")
    out = model.operation_model("CreateParticipantConnection").output_shape
    assert set(conn) - {"ResponseMetadata"} <= set(out.members)
    assert conn["Websocket"]["Url"].startswith("ws://127.0.0.1:")
    cp = threaded_server.client("connectparticipant")
    token = conn["ConnectionCredentials"]["ConnectionToken"]
    page = cp.get_transcript(ConnectionToken=token)
    item_shape = model.shape_for("Item")
    for item in page["Transcript"]:
        assert set(item) <= set(item_shape.members), item
    assert [i["Content"] for i in page["Transcript"] if i["Type"] == "MESSAGE"] == ["hi"]


def test_full_chat_every_operation(threaded_server: ThreadedServer) -> None:
    server = threaded_server
    cp = server.client("connectparticipant")
    chat = start(server)
    conn = connect(server, chat["ParticipantToken"])
    token = conn["ConnectionCredentials"]["ConnectionToken"]
    agent = add_agent(server, chat["ContactId"])
    agent_conn = connect(server, agent["ParticipantToken"])
    agent_token = agent_conn["ConnectionCredentials"]["ConnectionToken"]

    sent = cp.send_message(ConnectionToken=token, ContentType=TEXT, Content="hello")
    assert sent["Id"] and sent["AbsoluteTime"].endswith("Z")
    typing = cp.send_event(ConnectionToken=token, ContentType=EV + "typing")
    assert typing["Id"]
    read = cp.send_event(ConnectionToken=agent_token, ContentType=EV + "message.read",
                         Content=json.dumps({"messageId": sent["Id"]}))
    assert read["Id"]

    up = cp.start_attachment_upload(
        ConnectionToken=token, ContentType="text/plain", AttachmentSizeInBytes=5,
        AttachmentName="notes.txt", ClientToken="up-1")
    meta = up["UploadMetadata"]
    put = httpx.put(meta["Url"], content=b"12345", headers=meta["HeadersToInclude"])
    assert put.status_code == 200, put.text
    cp.complete_attachment_upload(ConnectionToken=token, AttachmentIds=[up["AttachmentId"]],
                                  ClientToken="done-1")
    got = cp.get_attachment(ConnectionToken=agent_token, AttachmentId=up["AttachmentId"])
    assert got["AttachmentSizeInBytes"] == 5
    assert httpx.get(got["Url"]).content == b"12345"

    view_token = "view/1 x"  # "/" travels as %2F and must not split the path
    server.call(server.server.emulator.add_view, view_token,  # type: ignore[union-attr]
                {"Id": "v1", "Arn": "arn:aws:connect:us-east-1:1:view/v1", "Name": "Form",
                 "Version": 1, "Content": {"InputSchema": "{}", "Template": "{}",
                                           "Actions": ["Submit"]}})
    view = cp.describe_view(ConnectionToken=token, ViewToken=view_token)["View"]
    assert view["Content"]["Actions"] == ["Submit"]

    session = httpx.post(
        f"{server.endpoint_url}/emulator/contacts/{chat['ContactId']}/participants/"
        f"{chat['ParticipantId']}/authentication").json()["SessionId"]
    auth = cp.get_authentication_url(ConnectionToken=token, SessionId=session,
                                     RedirectUri="https://example.invalid/back")
    assert auth["AuthenticationUrl"].startswith(server.endpoint_url)
    cp.cancel_participant_authentication(ConnectionToken=token, SessionId=session)

    transcript = cp.get_transcript(ConnectionToken=token, SortOrder="ASCENDING",
                                   MaxResults=100)["Transcript"]
    message = next(i for i in transcript if i.get("Id") == sent["Id"])
    receipts = message["MessageMetadata"]["Receipts"]
    assert receipts[0]["RecipientParticipantId"] == agent["ParticipantId"]
    assert receipts[0]["ReadTimestamp"]
    attachment = next(i for i in transcript if i["Type"] == "ATTACHMENT")
    assert attachment["Attachments"][0]["Status"] == "APPROVED"
    assert not any(i["ContentType"] == EV + "typing" for i in transcript)

    cp.disconnect_participant(ConnectionToken=token)
    with pytest.raises(cp.exceptions.AccessDeniedException):
        cp.send_message(ConnectionToken=token, ContentType=TEXT, Content="late")
    contact = httpx.get(f"{server.endpoint_url}/emulator/contacts/{chat['ContactId']}").json()
    assert contact["Ended"] is True
    assert contact["Transcript"][-1]["ContentType"] == EV + "chat.ended"


def test_client_token_idempotency(threaded_server: ThreadedServer) -> None:
    cp = threaded_server.client("connectparticipant")
    chat = start(threaded_server)
    token = connect(threaded_server, chat["ParticipantToken"])[
        "ConnectionCredentials"]["ConnectionToken"]
    first = cp.send_message(ConnectionToken=token, ContentType=TEXT, Content="a",
                            ClientToken="same")
    again = cp.send_message(ConnectionToken=token, ContentType=TEXT, Content="a",
                            ClientToken="same")
    assert (again["Id"], again["AbsoluteTime"]) == (first["Id"], first["AbsoluteTime"])
    items = cp.get_transcript(ConnectionToken=token, MaxResults=100)["Transcript"]
    assert sum(1 for i in items if i["Type"] == "MESSAGE") == 1
    start_again = threaded_server.client("connect").start_chat_contact(
        InstanceId="i", ContactFlowId="f", ParticipantDetails={"DisplayName": "C"},
        ClientToken="chat-1")
    assert threaded_server.client("connect").start_chat_contact(
        InstanceId="i", ContactFlowId="f", ParticipantDetails={"DisplayName": "C"},
        ClientToken="chat-1")["ContactId"] == start_again["ContactId"]


def test_errors_are_botocore_modelled_exceptions(threaded_server: ThreadedServer) -> None:
    cp = threaded_server.client("connectparticipant")
    chat = start(threaded_server)
    conn = connect(threaded_server, chat["ParticipantToken"])
    token = conn["ConnectionCredentials"]["ConnectionToken"]
    # wrong token type both ways
    with pytest.raises(cp.exceptions.AccessDeniedException):
        cp.create_participant_connection(ParticipantToken=token, Type=["WEBSOCKET"])
    with pytest.raises(cp.exceptions.AccessDeniedException):
        cp.send_message(ConnectionToken=chat["ParticipantToken"], ContentType=TEXT, Content="x")
    with pytest.raises(cp.exceptions.ValidationException) as info:
        cp.get_transcript(ConnectionToken=token, ScanDirection="FORWARD")
    assert "FORWARD" in info.value.response["Error"]["Message"]
    with pytest.raises(cp.exceptions.ValidationException):
        cp.send_message(ConnectionToken=token, ContentType="text/html", Content="x")
    # Content: at most 16384 bytes of UTF-8 (boto3 only checks 16384 characters)
    cp.send_message(ConnectionToken=token, ContentType=TEXT, Content="é" * 8192)
    with pytest.raises(cp.exceptions.ValidationException) as info:
        cp.send_message(ConnectionToken=token, ContentType=TEXT, Content="é" * 8193)
    assert "16384 bytes" in info.value.response["Error"]["Message"]
    unchecked = threaded_server.client("connectparticipant", validate=False)
    for bad in ({"MaxResults": 101}, {"SortOrder": "SIDEWAYS"},
                {"StartPosition": {"Id": "a", "MostRecent": 1}},
                {"StartPosition": {"AbsoluteTime": "yesterday"}}):
        with pytest.raises(unchecked.exceptions.ValidationException):
            unchecked.get_transcript(ConnectionToken=token, **bad)
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.describe_view(ConnectionToken=token, ViewToken="missing")
    with pytest.raises(cp.exceptions.ConflictException):
        up = cp.start_attachment_upload(
            ConnectionToken=token, ContentType="text/plain", AttachmentSizeInBytes=3,
            AttachmentName="a.txt", ClientToken="u")
        cp.complete_attachment_upload(ConnectionToken=token,
                                      AttachmentIds=[up["AttachmentId"]], ClientToken="c")
    with pytest.raises(cp.exceptions.ServiceQuotaExceededException):
        cp.start_attachment_upload(
            ConnectionToken=token, ContentType="text/plain",
            AttachmentSizeInBytes=threaded_server.config.max_attachment_bytes + 1,
            AttachmentName="big.txt", ClientToken="u2")
    for status, exc in ((429, cp.exceptions.ThrottlingException),
                        (500, cp.exceptions.InternalServerException)):
        response = httpx.post(f"{threaded_server.endpoint_url}/emulator/faults/fail-next",
                              json={"Operation": "GetTranscript", "Count": 1, "Status": status})
        assert response.status_code == 200
        with pytest.raises(exc):
            cp.get_transcript(ConnectionToken=token)
    cp.get_transcript(ConnectionToken=token)  # faults used up
    connect_client = threaded_server.client("connect", validate=False)
    with pytest.raises(connect_client.exceptions.ResourceNotFoundException):
        connect_client.start_chat_contact(
            InstanceId="i", ContactFlowId="f", ParticipantDetails={"DisplayName": "C"},
            PersistentChat={"RehydrationType": "ENTIRE_PAST_SESSION",
                            "SourceContactId": "no-such-contact"})
    with pytest.raises(connect_client.exceptions.InvalidParameterException):
        connect_client.start_chat_contact(InstanceId="i", ContactFlowId="f",
                                          ParticipantDetails={"DisplayName": "C"},
                                          ChatDurationInMinutes=59)
    # after the chat ends, every token is refused
    httpx.post(f"{threaded_server.endpoint_url}/emulator/contacts/{chat['ContactId']}/end")
    with pytest.raises(cp.exceptions.AccessDeniedException):
        cp.create_participant_connection(ParticipantToken=chat["ParticipantToken"],
                                         Type=["WEBSOCKET"])
    with pytest.raises(cp.exceptions.AccessDeniedException):
        cp.get_transcript(ConnectionToken=token)


def test_upload_with_changed_headers_is_refused(threaded_server: ThreadedServer) -> None:
    cp = threaded_server.client("connectparticipant")
    chat = start(threaded_server)
    token = connect(threaded_server, chat["ParticipantToken"])[
        "ConnectionCredentials"]["ConnectionToken"]
    up = cp.start_attachment_upload(ConnectionToken=token, ContentType="application/pdf",
                                    AttachmentSizeInBytes=4, AttachmentName="r.pdf",
                                    ClientToken="x")
    meta = up["UploadMetadata"]
    headers = dict(meta["HeadersToInclude"])
    for name in list(headers):
        changed = {k: v for k, v in headers.items() if k != name}
        if name.lower() != "content-length":  # httpx always sets the true length
            response = httpx.put(meta["Url"], content=b"abcd", headers=changed)
            assert response.status_code == 403, name
            assert b"SignatureDoesNotMatch" in response.content
    wrong_size = httpx.put(meta["Url"], content=b"abc",
                           headers={k: v for k, v in headers.items()
                                    if k.lower() != "content-length"})
    assert wrong_size.status_code == 403
    assert httpx.put(meta["Url"], content=b"abcd", headers=headers).status_code == 200
