"""Hypothesis fuzzing of the actor: bad frames on its socket, bad input to its methods.

- Bad frames (binary, not JSON, not an object, error frames, unknown topics, chat frames
  whose content is junk or an item with fields of the wrong type) reach the actor's socket
  from the emulator's side. Each is logged and skipped or, when it decodes to an item,
  delivered as one; the actor keeps its socket (no drop), stays subscribed and still
  delivers the next real message.
- Every public method gets input around the limits of the service model (read from
  botocore): input outside a limit gives the documented
  :class:`~participant.errors.InvalidParameterError` before anything is sent; input inside
  gives a result or a :class:`~participant.errors.ServiceError` from the emulator. Never
  another exception, and the actor keeps running.

Each example is one ``trio.run`` under ``MockClock`` with a fresh in-memory emulator.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import botocore.session
import httpx
import pytest
import trio
import trio.testing
import trio_websocket
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from participant.actor import Participant, ParticipantConfig
from participant.errors import InvalidParameterError, ParticipantError, ServiceError
from participant.machine import State
from participant.model import Item, TextMessage

from .conftest import Rig, library_tasks, open_rig

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class InjectingConnection:
    """Wraps the client side of a websocket: raw messages put in ``injected`` are
    returned by ``get_message`` before the next real one (binary and non-JSON frames,
    which the emulator's JSON queue cannot carry)."""

    def __init__(self, ws: trio_websocket.WebSocketConnection) -> None:
        self._ws = ws
        self.injected: deque[str | bytes] = deque()

    async def get_message(self) -> str | bytes:
        if self.injected:
            await trio.lowlevel.checkpoint()
            return self.injected.popleft()
        message: str | bytes = await self._ws.get_message()
        return message

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ws, name)


def _run(scenario: Callable[[Rig], Awaitable[None]]) -> None:
    async def main() -> None:
        async with open_rig() as rig:
            await scenario(rig)
        assert library_tasks(("participant.", "trio_websocket")) == []

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
odd_items = st.dictionaries(
    st.sampled_from(
        [
            "Id",
            "AbsoluteTime",
            "Type",
            "ContentType",
            "Content",
            "ParticipantId",
            "Attachments",
            "MessageMetadata",
            "RelatedContactId",
            "Other",
        ]
    ),
    json_values | st.sampled_from(["text/plain", "MESSAGE", "2019-11-08T02:41:28.172Z"]),
    max_size=6,
)
# Frames the emulator can queue (JSON objects) ...
json_frames = st.one_of(
    st.dictionaries(st.text(max_size=8), json_values, max_size=4),  # no/odd topic
    st.fixed_dictionaries({"topic": st.sampled_from(["aws/heartbeat", "aws/ping", "aws/x"])}),
    st.fixed_dictionaries({"message": st.text(max_size=10)}),  # error frame
    st.fixed_dictionaries({"topic": st.just("aws/subscribe"), "content": json_values}),
    st.fixed_dictionaries(
        {"topic": st.just("aws/chat"), "content": st.text(max_size=20) | json_values}
    ),
    st.fixed_dictionaries({"topic": st.just("aws/chat"), "content": odd_items.map(json.dumps)}),
)
# ... and raw messages only a broken peer sends.
raw_frames = st.one_of(
    st.binary(max_size=20),
    st.text(max_size=30),
    st.sampled_from(["", "null", "[]", "42", '"aws/chat"', "{", '{"topic":"aws/chat"']),
)


@FUZZ
@given(frames=st.lists(json_frames, max_size=8), raws=st.lists(raw_frames, max_size=6))
@example(  # found by this test: a non-string AbsoluteTime once crashed the actor's dedupe
    frames=[{"topic": "aws/chat", "content": json.dumps({"Id": "x", "AbsoluteTime": True})}],
    raws=[],
)
def test_bad_frames_are_skipped_and_the_actor_keeps_running(
    frames: list[dict[str, Any]], raws: list[str | bytes]
) -> None:
    wrapped: list[InjectingConnection] = []

    async def scenario(rig: Rig) -> None:
        base = rig.connector

        async def connector(nursery: trio.Nursery, url: str) -> Any:
            conn = InjectingConnection(await base(nursery, url))
            wrapped.append(conn)
            return conn

        chat = await rig.emu.start_chat()
        agent = await rig.emu.add_participant(chat.contact_id)
        seen: list[Item] = []
        async with rig.connect(chat.participant_token, websocket_connector=connector) as p:
            assert p.state is State.SUBSCRIBED
            (server_socket,) = rig.emu.service.participant(chat.participant_id).sockets
            for frame in frames:
                server_socket.deliver(frame)
            wrapped[-1].injected.extend(raws)
            first = await rig.emu.send_message_as(
                chat.contact_id, agent.participant_id, content="one"
            )
            # The injected raw frames are read right after "one"; "two" comes after them.
            await _receive(p, first["Id"], seen)
            second = await rig.emu.send_message_as(
                chat.contact_id, agent.participant_id, content="two"
            )
            await _receive(p, second["Id"], seen)
            assert p.state is State.SUBSCRIBED
            assert p.error is None
            assert p.stats.drops == 0 and p.stats.reconnects == 0
            assert not wrapped[-1].injected
        assert p.state is State.DISCONNECTED and p.error is None

    _run(scenario)


async def _receive(p: Participant, item_id: str, seen: list[Item]) -> None:
    with trio.fail_after(60):
        async for item in p:
            seen.append(item)
            if isinstance(item, TextMessage) and item.id == item_id:
                return
    raise AssertionError("iterator ended")


async def test_bad_frames_are_logged(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="participant")
    async with open_rig() as rig:
        chat = await rig.emu.start_chat()
        agent = await rig.emu.add_participant(chat.contact_id)
        async with rig.connect(chat.participant_token) as p:
            (sock,) = rig.emu.service.participant(chat.participant_id).sockets
            # the error frame first: a bad chat frame starts a gap fill, which may deliver
            # "ok" before the reader reaches a frame queued after it
            sock.deliver({"message": "Forbidden", "connectionId": "c", "requestId": "r"})
            sock.deliver({"topic": "aws/chat", "content": "{not json"})
            sock.deliver({"topic": "aws/chat", "content": "[1, 2]"})
            sent = await rig.emu.send_message_as(
                chat.contact_id, agent.participant_id, content="ok"
            )
            await _receive(p, sent["Id"], [])
            assert p.state is State.SUBSCRIBED
    text = "\n".join(r.getMessage() for r in caplog.records)
    # Rate-limited (one WARNING per socket per 10 s) and never quoting the frame's text.
    assert text.count("skipping bad frame") == 1
    assert "not json" not in text and "[1, 2]" not in text
    assert "error frame" in text


# ---- input validation of every public method --------------------------------------------

_MODEL = botocore.session.get_session().get_service_model("connectparticipant")


def _limits(operation: str, member: str) -> tuple[int | None, int | None]:
    shape = _MODEL.operation_model(operation).input_shape.members[member]
    return shape.metadata.get("min"), shape.metadata.get("max")


def _outside(value: Any, limits: tuple[int | None, int | None]) -> bool:
    low, high = limits
    size = value if isinstance(value, int) else len(value)
    return (low is not None and size < low) or (high is not None and size > high)


def strings_around(operation: str, member: str) -> st.SearchStrategy[str]:
    """Strings whose length is near the model's limits (and a few odd characters)."""
    low, high = _limits(operation, member)
    lengths = [0, 1, 2, 35, 36, 37, 100, 101]
    for bound in (low, high):
        if bound is not None:
            lengths += [bound - 1, bound, bound + 1]
    alphabet = st.sampled_from("aZ9-_ é€\U0001f600\x00\n\"'\\/?&%")
    return st.sampled_from(sorted({n for n in lengths if n >= 0})).flatmap(
        lambda n: st.text(alphabet, max_size=min(n, 8)).map(lambda s: (s + "a" * n)[:n])
    )


def ints_around(operation: str, member: str) -> st.SearchStrategy[int]:
    low, high = _limits(operation, member)
    picks = [-1, 0, 1, 2**31, 2**63]
    for bound in (low, high):
        if bound is not None:
            picks += [bound - 1, bound, bound + 1]
    return st.sampled_from(sorted(set(picks)))


# Each call: (method name, kwargs, [(operation, member, argument)] checked against limits).
Call = tuple[str, dict[str, Any], list[tuple[str, str, str]]]


def _calls() -> st.SearchStrategy[Call]:
    def call(name: str, checks: list[tuple[str, str, str]], **kw: Any) -> Any:
        return st.fixed_dictionaries(kw).map(lambda d: (name, d, checks))

    return st.one_of(
        call(
            "send_message",
            [("SendMessage", "Content", "content"), ("SendMessage", "ClientToken", "client_token")],
            content=strings_around("SendMessage", "Content"),
            client_token=st.none() | strings_around("SendMessage", "ClientToken"),
        ),
        call(
            "send_message_type",
            [("SendMessage", "ContentType", "content_type")],
            content_type=strings_around("SendMessage", "ContentType"),
        ),
        call(
            "send_event",
            [("SendEvent", "ContentType", "content_type"), ("SendEvent", "Content", "content")],
            content_type=strings_around("SendEvent", "ContentType"),
            content=strings_around("SendEvent", "Content"),
        ),
        call(
            "send_receipt",
            [],
            message_id=strings_around("GetAttachment", "AttachmentId"),
            kind=st.sampled_from(["read", "delivered", "seen", ""]),
        ),
        call(
            "send_attachment",
            [
                ("StartAttachmentUpload", "AttachmentName", "attachment_name"),
                ("StartAttachmentUpload", "ContentType", "content_type"),
            ],
            attachment_name=strings_around("StartAttachmentUpload", "AttachmentName"),
            content_type=strings_around("StartAttachmentUpload", "ContentType"),
            data=st.binary(max_size=8),
        ),
        call(
            "download_attachment",
            [
                ("GetAttachment", "AttachmentId", "attachment_id"),
                ("GetAttachment", "UrlExpiryInSeconds", "url_expiry_in_seconds"),
            ],
            attachment_id=strings_around("GetAttachment", "AttachmentId"),
            url_expiry_in_seconds=st.none() | ints_around("GetAttachment", "UrlExpiryInSeconds"),
        ),
        call(
            "describe_view",
            [("DescribeView", "ViewToken", "view_token")],
            view_token=strings_around("DescribeView", "ViewToken"),
        ),
        call(
            "get_authentication_url",
            [
                ("GetAuthenticationUrl", "SessionId", "session_id"),
                ("GetAuthenticationUrl", "RedirectUri", "redirect_uri"),
            ],
            session_id=strings_around("GetAuthenticationUrl", "SessionId"),
            redirect_uri=strings_around("GetAuthenticationUrl", "RedirectUri"),
        ),
        call(
            "cancel_authentication",
            [("CancelParticipantAuthentication", "SessionId", "session_id")],
            session_id=strings_around("CancelParticipantAuthentication", "SessionId"),
        ),
        call(
            "get_transcript",
            [
                ("GetTranscript", "MaxResults", "max_results"),
                ("GetTranscript", "ContactId", "contact_id"),
            ],
            max_results=st.none() | ints_around("GetTranscript", "MaxResults"),
            contact_id=st.none() | strings_around("GetTranscript", "ContactId"),
            scan_direction=st.sampled_from([None, "FORWARD", "BACKWARD", "SIDEWAYS"]),
            sort_order=st.sampled_from([None, "ASCENDING", "DESCENDING", "RANDOM"]),
        ),
        call("on", [], key=st.sampled_from([TextMessage, "text/plain", 5, None, int, object()])),
    )


async def _invoke(p: Participant, name: str, kw: dict[str, Any]) -> None:
    if name == "send_message_type":
        await p.send_message("hi", content_type=kw["content_type"])
    elif name == "send_attachment":
        await p.send_attachment(
            kw["data"], attachment_name=kw["attachment_name"], content_type=kw["content_type"]
        )
    elif name == "get_transcript":
        async for _ in p.get_transcript(**{k: v for k, v in kw.items() if v is not None}):
            pass
    elif name == "on":
        p.on(kw["key"])(lambda item: None)
    else:
        await getattr(p, name)(**{k: v for k, v in kw.items() if v is not None})


def _violates(kw: dict[str, Any], checks: list[tuple[str, str, str]]) -> list[str]:
    bad = []
    for operation, member, arg in checks:
        value = kw.get(arg)
        if value is None:
            continue
        if _outside(value, _limits(operation, member)):
            bad.append(arg)
    return bad


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=st.lists(_calls(), min_size=1, max_size=6))
def test_public_methods_raise_only_documented_errors_and_the_actor_survives(
    calls: list[Call],
) -> None:
    async def scenario(rig: Rig) -> None:
        chat = await rig.emu.start_chat()
        async with rig.connect(
            chat.participant_token, config=ParticipantConfig(iterate=False)
        ) as p:
            for name, kw, checks in calls:
                bad = _violates(kw, checks)
                try:
                    await _invoke(p, name, kw)
                    event("ok")
                except InvalidParameterError as exc:
                    event(f"InvalidParameterError {exc.field}")
                    # the message names the field and the limit; no token in it
                    assert exc.field and exc.limit
                except ServiceError as exc:
                    event(f"{type(exc).__name__} {name}")
                    assert not bad, f"{name}{kw} broke {bad} but reached the service: {exc!r}"
                except ParticipantError as exc:  # e.g. TransportError
                    assert not bad, f"{name}: {exc!r}"
                else:
                    assert not bad, f"{name} accepted {bad} outside the model's limits"
                assert p.state is State.SUBSCRIBED, name
                assert p.error is None
        assert p.error is None

    _run(scenario)


def test_lone_surrogates_give_documented_errors() -> None:
    """A str that is not valid Unicode (a lone surrogate) is bad input for every string
    argument: InvalidParameterError before sending, or the service's ValidationException;
    never UnicodeEncodeError or a crash."""
    bad = "a\ud800b"
    failures: list[str] = []

    async def scenario(rig: Rig) -> None:
        chat = await rig.emu.start_chat()
        async with rig.connect(chat.participant_token) as p:
            calls: dict[str, Callable[[], Awaitable[Any]]] = {
                "send_message content": lambda: p.send_message(bad),
                "send_message content_type": lambda: p.send_message("x", content_type=bad),
                "send_message client_token": lambda: p.send_message("x", client_token=bad),
                "send_event": lambda: p.send_event(bad),
                "send_receipt": lambda: p.send_receipt(bad),
                "describe_view": lambda: p.describe_view(bad),
                "download_attachment": lambda: p.download_attachment(bad),
                "get_authentication_url": lambda: p.get_authentication_url(
                    "a" * 35 + "\ud800", "x"
                ),
                "cancel_authentication": lambda: p.cancel_authentication("a" * 35 + "\ud800"),
                "send_attachment": lambda: p.send_attachment(
                    b"x", attachment_name=bad + ".txt", content_type="text/plain"
                ),
            }
            for name, fn in calls.items():
                try:
                    await fn()
                except (InvalidParameterError, ServiceError):
                    pass  # (a 5xx here is the emulator's bug: see the test below)
                except Exception as exc:
                    failures.append(f"{name}: {type(exc).__name__}: {exc}")
                assert p.state is State.SUBSCRIBED and p.error is None

    _run(scenario)
    assert failures == []


def test_emulator_rejects_a_lone_surrogate_attachment_name_with_validation() -> None:
    # Sent raw: the client itself refuses such text before sending (InvalidParameterError).
    async def scenario(rig: Rig) -> None:
        chat = await rig.emu.start_chat()
        async with httpx.AsyncClient(
            transport=rig.emu.http_transport(), base_url=rig.emu.endpoint_url
        ) as http:
            r = await http.post(
                "/participant/connection",
                headers={"X-Amz-Bearer": chat.participant_token},
                json={"Type": ["CONNECTION_CREDENTIALS"]},
            )
            token = r.json()["ConnectionCredentials"]["ConnectionToken"]
            r = await http.post(
                "/participant/start-attachment-upload",
                headers={"X-Amz-Bearer": token},
                content=(
                    '{"ContentType":"text/plain","AttachmentSizeInBytes":1,'
                    '"AttachmentName":"a\\ud800.txt","ClientToken":"c"}'
                ),
            )
            assert r.status_code == 400, r.text
            assert r.headers["x-amzn-ErrorType"] == "ValidationException"

    _run(scenario)
