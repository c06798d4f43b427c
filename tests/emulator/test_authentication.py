"""Customer authentication (protocol.md §1): GetAuthenticationUrl, the sign-in page it points
at, completion from the page / Python / admin HTTP, cancellation and timeout."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import attrs
import httpx
import pytest
import trio
import trio.testing

from participant._time import trio_clock
from participant.emulator import ApiError, Emulator, EmulatorConfig, StartedChat

from .conftest import ThreadedServer
from .helpers import Raw, next_chat
from .test_boto3 import add_agent, connect, customer

EV = "application/vnd.amazonaws.connect.event."
REDIRECT = "https://app.example.invalid/after-sign-in?x=1"


def initiate(server: ThreadedServer, chat: dict[str, Any]) -> str:
    response = httpx.post(
        f"{server.endpoint_url}/emulator/contacts/{chat['ContactId']}/participants/"
        f"{chat['ParticipantId']}/authentication")
    assert response.status_code == 200, response.text
    session_id: str = response.json()["SessionId"]
    return session_id


def auth_events(cp: Any, token: str) -> list[tuple[str, str]]:
    """(event suffix, SessionId) of every authentication.* item, oldest first."""
    items = cp.get_transcript(ConnectionToken=token, SortOrder="ASCENDING",
                              MaxResults=100)["Transcript"]
    return [(i["ContentType"].removeprefix(EV), json.loads(i["Content"])["SessionId"])
            for i in items if i["ContentType"].startswith(EV + "authentication.")]


def customer_with_session(server: ThreadedServer) -> tuple[Any, str, str]:
    """A boto3 connectparticipant client, a new chat's customer ConnectionToken and an
    authentication session initiated for that customer."""
    cp = server.client("connectparticipant")
    chat, token = customer(server)
    return cp, token, initiate(server, chat)


def test_sign_in_page_success_redirects_and_emits(threaded_server: ThreadedServer) -> None:
    server = threaded_server
    cp, token, session = customer_with_session(server)
    url = cp.get_authentication_url(ConnectionToken=token, SessionId=session,
                                    RedirectUri=REDIRECT)["AuthenticationUrl"]
    assert url.startswith(server.endpoint_url + "/emulator/authenticate?")

    page = httpx.get(url)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    links = dict(re.findall(r'id="(success|failure)" href="([^"]+)"', page.text))
    assert set(links) == {"success", "failure"}

    done = httpx.get(server.endpoint_url + links["success"].replace("&amp;", "&"))
    assert done.status_code == 303
    assert done.headers["location"] == REDIRECT
    assert auth_events(cp, token) == [("authentication.initiated", session),
                                      ("authentication.succeeded", session)]
    state = httpx.get(f"{server.endpoint_url}/emulator/authentication/{session}").json()
    assert (state["State"], state["RedirectUri"]) == ("SUCCEEDED", REDIRECT)

    # The session is over: the page, the URL and a second completion are refused.
    assert httpx.get(url).status_code == 409
    assert httpx.get(url + "&outcome=failure").status_code == 409
    with pytest.raises(cp.exceptions.ValidationException):
        cp.get_authentication_url(ConnectionToken=token, SessionId=session, RedirectUri=REDIRECT)
    with pytest.raises(cp.exceptions.ValidationException):
        cp.cancel_participant_authentication(ConnectionToken=token, SessionId=session)
    assert len(auth_events(cp, token)) == 2


def test_sign_in_failure_by_form_post(threaded_server: ThreadedServer) -> None:
    server = threaded_server
    cp, token, session = customer_with_session(server)
    url = cp.get_authentication_url(ConnectionToken=token, SessionId=session,
                                    RedirectUri=REDIRECT)["AuthenticationUrl"]
    done = httpx.post(url, data={"outcome": "failure"})
    assert (done.status_code, done.headers["location"]) == (303, REDIRECT)
    assert auth_events(cp, token)[-1] == ("authentication.failed", session)
    assert httpx.get(url.split("?")[0] + "?SessionId=" + str(uuid.uuid4())).status_code == 404
    bad = httpx.post(url, data={"outcome": "maybe"})
    assert bad.status_code == 400


def test_cancel_emits_cancelled_and_session_checks(threaded_server: ThreadedServer) -> None:
    server = threaded_server
    cp = server.client("connectparticipant")
    chat, token = customer(server)
    agent = add_agent(server, chat["ContactId"])
    agent_token = connect(server, agent["ParticipantToken"])[
        "ConnectionCredentials"]["ConnectionToken"]
    session = initiate(server, chat)

    with pytest.raises(cp.exceptions.ValidationException):   # no such session
        cp.get_authentication_url(ConnectionToken=token, SessionId=str(uuid.uuid4()),
                                  RedirectUri=REDIRECT)
    with pytest.raises(cp.exceptions.ValidationException):   # not the agent's session
        cp.get_authentication_url(ConnectionToken=agent_token, SessionId=session,
                                  RedirectUri=REDIRECT)
    with pytest.raises(cp.exceptions.ValidationException):
        cp.cancel_participant_authentication(ConnectionToken=agent_token, SessionId=session)

    cp.cancel_participant_authentication(ConnectionToken=token, SessionId=session)
    assert auth_events(cp, token) == [("authentication.initiated", session),
                                      ("authentication.cancelled", session)]
    with pytest.raises(cp.exceptions.ValidationException):
        cp.get_authentication_url(ConnectionToken=token, SessionId=session, RedirectUri=REDIRECT)
    state = httpx.get(f"{server.endpoint_url}/emulator/authentication/{session}").json()
    assert state["State"] == "CANCELLED"
    refused = httpx.post(f"{server.endpoint_url}/emulator/authentication/{session}/complete",
                         json={})
    assert (refused.status_code, refused.headers["x-amzn-errortype"]) == (
        409, "ConflictException")


def test_admin_http_completion(threaded_server: ThreadedServer) -> None:
    server = threaded_server
    cp, token, session = customer_with_session(server)
    done = httpx.post(f"{server.endpoint_url}/emulator/authentication/{session}/complete",
                      json={"Succeeded": False})
    assert done.status_code == 200, done.text
    last = cp.get_transcript(ConnectionToken=token, MaxResults=1)["Transcript"][0]
    assert last["Id"] == done.json()["Id"]
    assert last["ContentType"] == EV + "authentication.failed"
    assert last["ParticipantRole"] == "SYSTEM"
    missing = httpx.post(
        f"{server.endpoint_url}/emulator/authentication/{uuid.uuid4()}/complete", json={})
    assert missing.status_code == 404
    assert httpx.post(f"{server.endpoint_url}/emulator/authentication/{session}/complete",
                      json={"Succeeded": "yes"}).status_code == 400


def test_admin_http_expiry_of_a_succeeded_session(threaded_server: ThreadedServer) -> None:
    server = threaded_server
    cp, token, session = customer_with_session(server)
    base = f"{server.endpoint_url}/emulator/authentication/{session}"
    too_early = httpx.post(f"{base}/expire")
    assert too_early.status_code == 409  # not succeeded yet
    assert httpx.post(f"{base}/complete", json={}).status_code == 200
    expired = httpx.post(f"{base}/expire")
    assert expired.status_code == 200, expired.text
    last = cp.get_transcript(ConnectionToken=token, MaxResults=1)["Transcript"][0]
    assert last["Id"] == expired.json()["Id"]
    assert last["ContentType"] == EV + "authentication.expired"
    assert json.loads(last["Content"]) == {"SessionId": session}
    assert httpx.get(base).json()["State"] == "EXPIRED"
    assert httpx.post(f"{base}/expire").status_code == 409  # once only


# ------------------------------------------------------------------ timing, in memory


async def test_url_only_within_window_of_initiated(
    emulator: Emulator, emulator_chat: StartedChat, autojump_clock: trio.testing.MockClock
) -> None:
    raw = Raw(emulator)
    token = (await raw.connect(emulator_chat.participant_token))[
        "ConnectionCredentials"]["ConnectionToken"]
    window = emulator.config.authentication_url_window
    assert window == 60.0   # protocol.md §1: within a minute
    late = await emulator.initiate_authentication(emulator_chat.participant_id)
    autojump_clock.jump(window + 0.5)
    answer = await raw.call("/participant/authentication-url", token,
                            {"SessionId": late, "RedirectUri": REDIRECT})
    assert answer.status_code == 400
    assert answer.headers["x-amzn-errortype"] == "ValidationException"
    assert "within 60 s" in answer.json()["message"]

    in_time = await emulator.initiate_authentication(emulator_chat.participant_id)
    autojump_clock.jump(window - 0.5)
    ok = await raw.ok("/participant/authentication-url", token,
                      {"SessionId": in_time, "RedirectUri": REDIRECT})
    assert in_time in ok["AuthenticationUrl"]


async def test_window_and_timeout_configurable(autojump_clock: trio.testing.MockClock) -> None:
    config = attrs.evolve(EmulatorConfig(), authentication_url_window=5.0,
                          authentication_timeout=30.0)
    emu = Emulator(config, wall_clock=trio_clock())
    async with emu.run():
        chat = await emu.start_chat()
        raw = Raw(emu)
        token = (await raw.connect(chat.participant_token))[
            "ConnectionCredentials"]["ConnectionToken"]
        async with emu.item_stream() as items:
            session = await emu.initiate_authentication(chat.participant_id)
            started = trio.current_time()
            autojump_clock.jump(5.5)
            late = await raw.call("/participant/authentication-url", token,
                                  {"SessionId": session, "RedirectUri": REDIRECT})
            assert late.status_code == 400
            while True:
                _, item = await items.receive()
                if item["ContentType"] == EV + "authentication.timeout":
                    break
            assert trio.current_time() - started == pytest.approx(30.0)
            assert json.loads(item["Content"]) == {"SessionId": session}
        assert emu.authentication_state(session) == "TIMEOUT"


async def test_timeout_at_default_unless_completed(
    emulator: Emulator, emulator_chat: StartedChat, autojump_clock: trio.testing.MockClock
) -> None:
    timeout = emulator.config.authentication_timeout
    assert timeout == 180.0
    raw = Raw(emulator)
    conn = await raw.connect(emulator_chat.participant_token)
    async with trio.open_nursery() as nursery:
        ws = await raw.open_ws(nursery, conn["Websocket"]["Url"])
        completed = await emulator.initiate_authentication(emulator_chat.participant_id)
        assert json.loads((await next_chat(ws))["Content"]) == {"SessionId": completed}
        item = await emulator.complete_authentication(completed)
        assert (await next_chat(ws))["Id"] == item["Id"]
        assert item["ContentType"] == EV + "authentication.succeeded"

        started = trio.current_time()
        left = await emulator.initiate_authentication(emulator_chat.participant_id)
        assert (await next_chat(ws))["ContentType"] == EV + "authentication.initiated"
        with trio.move_on_after(timeout - 1):
            await next_chat(ws)
            pytest.fail("an item arrived before the timeout")
        timed_out = await next_chat(ws)
        assert timed_out["ContentType"] == EV + "authentication.timeout"
        assert json.loads(timed_out["Content"]) == {"SessionId": left}
        assert trio.current_time() - started == pytest.approx(timeout)
        await ws.aclose()
    states = (emulator.authentication_state(completed), emulator.authentication_state(left))
    assert states == ("SUCCEEDED", "TIMEOUT")
    with pytest.raises(ApiError) as info:
        await emulator.complete_authentication(left)
    assert info.value.code == "ConflictException"
    kinds = [i["ContentType"].removeprefix(EV) for i in emulator.transcript(
        emulator_chat.contact_id) if "authentication." in i["ContentType"]]
    assert kinds.count("authentication.timeout") == 1   # the completed one never times out


async def test_no_timeout_after_chat_ended(
    emulator: Emulator, emulator_chat: StartedChat, autojump_clock: trio.testing.MockClock
) -> None:
    await emulator.initiate_authentication(emulator_chat.participant_id)
    await emulator.end_chat(emulator_chat.contact_id)
    assert emulator.config.authentication_timeout is not None
    autojump_clock.jump(emulator.config.authentication_timeout + 1)
    await trio.testing.wait_all_tasks_blocked()   # the session's timer has run by now
    kinds = [i["ContentType"] for i in emulator.transcript(emulator_chat.contact_id)]
    assert EV + "authentication.timeout" not in kinds
    assert kinds[-1] == EV + "chat.ended"


async def test_unknown_session_from_python(emulator: Emulator) -> None:
    for call in (emulator.complete_authentication, emulator.expire_authentication):
        with pytest.raises(ApiError) as info:
            await call(str(uuid.uuid4()))
        assert info.value.code == "ResourceNotFoundException"


async def test_expiry_reaches_the_participant_as_a_typed_item(
    emulator: Emulator, emulator_chat: StartedChat, autojump_clock: trio.testing.MockClock
) -> None:
    from participant.actor import connect as connect_participant
    from participant.api import ParticipantClient
    from participant.model import AuthenticationExpired

    session = await emulator.initiate_authentication(emulator_chat.participant_id)
    await emulator.complete_authentication(session)
    async with (
        ParticipantClient(endpoint_url=emulator.endpoint_url,
                          transport=emulator.http_transport()) as client,
        connect_participant(emulator_chat.participant_token, client=client,
                            websocket_connector=emulator.websocket_connector(),
                            wall_clock=trio_clock()) as p,
    ):
        expired = await emulator.expire_authentication(session)
        async for item in p:
            if item.id == expired["Id"]:
                assert isinstance(item, AuthenticationExpired)
                assert json.loads(item.content or "") == {"SessionId": session}
                break
    assert emulator.authentication_state(session) == "EXPIRED"
    await emulator.end_chat(emulator_chat.contact_id)
    with pytest.raises(ApiError) as info:
        await emulator.expire_authentication(session)
    assert info.value.code == "ConflictException"

