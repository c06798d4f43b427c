"""participant.api: error mapping, retries (under MockClock), validation, paging, attachments."""

from __future__ import annotations

import functools
import gzip
import itertools
import json
import logging
import types
from collections.abc import Callable
from typing import Any

import botocore.endpoint_provider
import botocore.loaders
import botocore.session
import httpx
import pytest
import trio
import trio.testing
from botocore import xform_name
from hypothesis import given, settings
from hypothesis import strategies as st

import participant.api
from participant import errors
from participant._backoff import backoff_cap, backoff_delay, full_jitter_delay
from participant.api import (
    DEFAULT_LIMITS,
    USER_AGENT,
    ParticipantClient,
    RetryPolicy,
    _environment_proxy,
    endpoint_for_region,
    retry_after_seconds,
)
from participant.errors import InvalidParameterError, ServiceError, TransportError
from participant.model import OPERATIONS, StartPosition, TextMessage, UploadMetadata

MODEL = botocore.session.get_session().get_service_model("connectparticipant")
ENDPOINT = "https://participant.connect.us-west-2.amazonaws.com"
CONNECTION_TOKEN = "CONN-TOKEN-SECRET-123"
PARTICIPANT_TOKEN = "PART-TOKEN-SECRET-456"

# minimal valid arguments per operation (token first)
VALID_CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "CreateParticipantConnection": (PARTICIPANT_TOKEN, {}),
    "SendMessage": (CONNECTION_TOKEN, {"content_type": "text/plain", "content": "hi"}),
    "SendEvent": (CONNECTION_TOKEN,
                  {"content_type": "application/vnd.amazonaws.connect.event.typing"}),
    "GetTranscript": (CONNECTION_TOKEN, {}),
    "DisconnectParticipant": (CONNECTION_TOKEN, {}),
    "StartAttachmentUpload": (CONNECTION_TOKEN, {"content_type": "text/plain",
                                                 "attachment_size_in_bytes": 3,
                                                 "attachment_name": "a.txt"}),
    "CompleteAttachmentUpload": (CONNECTION_TOKEN, {"attachment_ids": ["att-1"]}),
    "GetAttachment": (CONNECTION_TOKEN, {"attachment_id": "att-1"}),
    "DescribeView": (CONNECTION_TOKEN, {"view_token": "view-1"}),
    "GetAuthenticationUrl": (CONNECTION_TOKEN, {"session_id": "s" * 36,
                                                "redirect_uri": "https://example.invalid/cb"}),
    "CancelParticipantAuthentication": (CONNECTION_TOKEN, {"session_id": "s" * 36}),
}

IDEMPOTENT_OPS = sorted(
    name for name in OPERATIONS
    if any(m.idempotency_token for m in OPERATIONS[name].members)
)


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


class Recorder:
    """An httpx MockTransport handler answering from a script of responses."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[[httpx.Request], Any]):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)  # type: ignore[no-any-return]
        return answer

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


def error_response(name: str, status: int, message: str = "nope") -> httpx.Response:
    return httpx.Response(
        status,
        headers={"x-amzn-ErrorType": f"{name}:http://internal.amazon.com/coral/",
                 "x-amzn-RequestId": "rid-1"},
        json={"message": message},
    )


def client_for(recorder: Recorder, **kw: Any) -> ParticipantClient:
    return ParticipantClient(endpoint_url=ENDPOINT, transport=httpx.MockTransport(recorder), **kw)


async def call(client: ParticipantClient, op_name: str) -> Any:
    token, kwargs = VALID_CALLS[op_name]
    return await getattr(client, xform_name(op_name))(token, **kwargs)


# ---------------------------------------------------------------- error mapping

ERROR_CASES = [
    (op_name, shape.name, shape.metadata["error"]["httpStatusCode"])
    for op_name in sorted(MODEL.operation_names)
    for shape in MODEL.operation_model(op_name).error_shapes
]


@pytest.mark.parametrize(("op_name", "error_name", "status"), ERROR_CASES)
async def test_every_model_error_raises_its_exception(
    op_name: str, error_name: str, status: int, autojump_clock: trio.testing.MockClock
) -> None:
    recorder = Recorder(error_response(error_name, status, f"{error_name} happened"))
    async with client_for(recorder, retry=RetryPolicy(max_attempts=3)) as client:
        with pytest.raises(ServiceError) as info:
            await call(client, op_name)
    err = info.value
    assert type(err) is getattr(errors, error_name)
    assert err.code == error_name and err.status_code == status
    assert err.message == f"{error_name} happened" and err.request_id == "rid-1"
    retryable = error_name == "ThrottlingException" or status >= 500
    assert len(recorder.requests) == (3 if retryable else 1)


async def test_token_echoed_by_service_is_scrubbed() -> None:
    recorder = Recorder(error_response("AccessDeniedException", 403,
                                       f"bad token {CONNECTION_TOKEN} given"))
    async with client_for(recorder) as client:
        with pytest.raises(errors.AccessDeniedException) as info:
            await call(client, "SendMessage")
    for text in (str(info.value), repr(info.value), info.value.message, *map(str, info.value.args)):
        assert CONNECTION_TOKEN not in text


# ---------------------------------------------------------------- retries


@pytest.mark.parametrize("op_name", IDEMPOTENT_OPS)
async def test_retries_reuse_the_client_token(
    op_name: str, autojump_clock: trio.testing.MockClock
) -> None:
    recorder = Recorder(
        error_response("ThrottlingException", 429),
        error_response("InternalServerException", 500),
        httpx.ConnectError("refused"),
        httpx.Response(200, json={}),
    )
    async with client_for(recorder, retry=RetryPolicy(max_attempts=4)) as client:
        await call(client, op_name)
    bodies = recorder.bodies()
    assert len(bodies) == 4
    tokens = {b["ClientToken"] for b in bodies}
    assert len(tokens) == 1 and len(tokens.pop()) == 36
    # a second logical call gets a fresh token
    recorder.answers = [httpx.Response(200, json={})]
    async with client_for(recorder) as client:
        await call(client, op_name)
    assert recorder.bodies()[-1]["ClientToken"] != bodies[0]["ClientToken"]


async def test_caller_client_token_is_kept_across_retries(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder(error_response("ThrottlingException", 429),
                        httpx.Response(200, json={"Id": "m1", "AbsoluteTime": "t"}))
    async with client_for(recorder) as client:
        result = await client.send_message(CONNECTION_TOKEN, content_type="text/plain",
                                           content="x", client_token="mine")
    assert result.id == "m1"
    assert [b["ClientToken"] for b in recorder.bodies()] == ["mine", "mine"]


@pytest.mark.parametrize("max_attempts", [1, 2, 5])
async def test_attempts_are_bounded(max_attempts: int,
                                    autojump_clock: trio.testing.MockClock) -> None:
    recorder = Recorder(error_response("InternalServerException", 500))
    async with client_for(recorder, retry=RetryPolicy(max_attempts=max_attempts)) as client:
        with pytest.raises(errors.InternalServerException):
            await call(client, "SendMessage")
    assert len(recorder.requests) == max_attempts


async def test_transport_errors_become_transport_error(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder(httpx.ReadTimeout("slow"))
    async with client_for(recorder, retry=RetryPolicy(max_attempts=3)) as client:
        with pytest.raises(TransportError) as info:
            await call(client, "GetTranscript")
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert len(recorder.requests) == 3
    assert CONNECTION_TOKEN not in str(info.value)


@pytest.mark.parametrize(
    ("answer", "caps"),
    [  # the caps of the SDKs' standard mode: throttling from 1 s, other failures from 50 ms
        (lambda: error_response("ThrottlingException", 429), [1.0, 2.0, 4.0, 8.0, 16.0, 20.0]),
        (lambda: httpx.Response(429), [1.0, 2.0, 4.0, 8.0, 16.0, 20.0]),  # a bare 429 too
        (lambda: error_response("InternalServerException", 500),
         [0.05, 0.1, 0.2, 0.4, 0.8, 1.6]),
        (lambda: httpx.Response(502), [0.05, 0.1, 0.2, 0.4, 0.8, 1.6]),
    ],
)
async def test_backoff_is_full_jitter_longer_for_throttling_and_capped(
    answer: Callable[[], httpx.Response], caps: list[float],
    autojump_clock: trio.testing.MockClock,
) -> None:
    draws = [0.5, 0.999, 0.25, 0.0, 0.75, 0.5]
    source = iter(draws)
    stamps: list[float] = []

    def respond(request: httpx.Request) -> httpx.Response:
        stamps.append(trio.current_time())
        return answer()

    policy = RetryPolicy(max_attempts=7)
    assert (policy.base_delay, policy.throttling_base_delay, policy.max_delay) == (0.05, 1, 20)
    async with client_for(Recorder(respond), retry=policy, random=lambda: next(source)) as client:
        with pytest.raises((errors.ServiceError, errors.HTTPStatusError)):
            await call(client, "SendMessage")
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert gaps == pytest.approx([draw * cap for draw, cap in zip(draws, caps, strict=True)])


@settings(max_examples=50)
@given(st.integers(1, 30), st.floats(0.001, 2), st.floats(0.001, 30), st.floats(0, 0.999),
       st.booleans())
def test_retry_delay_bounds(retry: int, base: float, cap: float, draw: float,
                            throttled: bool) -> None:
    policy = RetryPolicy(base_delay=base, max_delay=cap, throttling_base_delay=2 * base)
    delay = policy.delay(retry, lambda: draw, throttled=throttled)
    d = min(cap, (2 * base if throttled else base) * 2 ** (retry - 1))
    assert policy.cap(retry, throttled=throttled) == pytest.approx(d)
    assert 0 <= delay <= d * draw + 1e-12
    assert delay == full_jitter_delay(retry - 1, initial=2 * base if throttled else base,
                                      multiplier=2.0, maximum=cap,
                                      rng=types.SimpleNamespace(random=lambda: draw))


@settings(max_examples=50)
@given(st.integers(-3, 200), st.floats(0.001, 5), st.floats(1.0, 1e6), st.floats(0.001, 60),
       st.floats(0, 0.999))
def test_the_actors_backoff_is_equal_jitter(attempt: int, initial: float, multiplier: float,
                                            maximum: float, draw: float) -> None:
    rng = types.SimpleNamespace(random=lambda: draw)
    d = backoff_cap(attempt, initial=initial, multiplier=multiplier, maximum=maximum)
    assert d <= maximum
    delay = backoff_delay(attempt, initial=initial, multiplier=multiplier, maximum=maximum,
                          rng=rng)
    assert delay == pytest.approx(d / 2 + draw * d / 2)


def test_retry_policy_rejects_bad_values() -> None:
    with pytest.raises(InvalidParameterError) as info:
        RetryPolicy(max_attempts=0)
    assert info.value.field == "max_attempts"
    with pytest.raises(InvalidParameterError):
        RetryPolicy(base_delay=-1)


# ---------------------------------------------------------------- validation

INVALID_CALLS: list[tuple[str, str, dict[str, Any], str]] = [
    ("CreateParticipantConnection", "", {}, "participant_token"),
    ("CreateParticipantConnection", PARTICIPANT_TOKEN, {"type": ["TELEGRAPH"]}, "type[0]"),
    ("CreateParticipantConnection", PARTICIPANT_TOKEN, {"type": []}, "type"),
    ("SendMessage", CONNECTION_TOKEN, {"content_type": "text/plain", "content": ""}, "content"),
    ("SendMessage", CONNECTION_TOKEN, {"content_type": "", "content": "x"}, "content_type"),
    ("SendMessage", CONNECTION_TOKEN, {"content_type": "text/plain", "content": "x",
                                       "client_token": "c" * 501}, "client_token"),
    ("SendMessage", "t" * 1001, {"content_type": "text/plain", "content": "x"},
     "connection_token"),
    ("SendEvent", CONNECTION_TOKEN, {"content_type": "x" * 101}, "content_type"),
    ("GetTranscript", CONNECTION_TOKEN, {"max_results": -1}, "max_results"),
    ("GetTranscript", CONNECTION_TOKEN, {"sort_order": "RANDOM"}, "sort_order"),
    ("GetTranscript", CONNECTION_TOKEN, {"scan_direction": "forward"}, "scan_direction"),
    ("GetTranscript", CONNECTION_TOKEN, {"start_position": StartPosition(id="a", most_recent=1)},
     "start_position"),
    ("GetTranscript", CONNECTION_TOKEN, {"start_position": StartPosition(absolute_time="")},
     "start_position.absolute_time"),
    ("GetTranscript", CONNECTION_TOKEN, {"next_token": ""}, "next_token"),
    ("DisconnectParticipant", CONNECTION_TOKEN, {"client_token": "x" * 501}, "client_token"),
    ("StartAttachmentUpload", CONNECTION_TOKEN, {"content_type": "text/plain",
                                                 "attachment_size_in_bytes": 0,
                                                 "attachment_name": "a"},
     "attachment_size_in_bytes"),
    ("StartAttachmentUpload", CONNECTION_TOKEN, {"content_type": "text/plain",
                                                 "attachment_size_in_bytes": 1,
                                                 "attachment_name": "n" * 257}, "attachment_name"),
    ("StartAttachmentUpload", CONNECTION_TOKEN, {"content_type": "text/plain",
                                                 "attachment_size_in_bytes": 1,
                                                 "attachment_name": "a", "client_token": ""},
     "client_token"),
    ("CompleteAttachmentUpload", CONNECTION_TOKEN, {"attachment_ids": []}, "attachment_ids"),
    ("CompleteAttachmentUpload", CONNECTION_TOKEN, {"attachment_ids": ["a", "b"]},
     "attachment_ids"),
    ("CompleteAttachmentUpload", CONNECTION_TOKEN, {"attachment_ids": [""]}, "attachment_ids[0]"),
    ("GetAttachment", CONNECTION_TOKEN, {"attachment_id": "a", "url_expiry_in_seconds": 301},
     "url_expiry_in_seconds"),
    ("GetAttachment", CONNECTION_TOKEN, {"attachment_id": "a",
                                         "url_content_disposition": "DOWNLOAD"},
     "url_content_disposition"),
    ("GetAttachment", CONNECTION_TOKEN, {"attachment_id": "x" * 257}, "attachment_id"),
    ("DescribeView", CONNECTION_TOKEN, {"view_token": ""}, "view_token"),
    ("GetAuthenticationUrl", CONNECTION_TOKEN, {"session_id": "short", "redirect_uri": "u"},
     "session_id"),
    ("GetAuthenticationUrl", CONNECTION_TOKEN, {"session_id": "s" * 36,
                                                "redirect_uri": "u" * 1025}, "redirect_uri"),
    ("CancelParticipantAuthentication", CONNECTION_TOKEN, {"session_id": "s" * 37}, "session_id"),
]


@pytest.mark.parametrize(("op_name", "token", "kwargs", "field"), INVALID_CALLS)
async def test_invalid_input_is_refused_before_sending(
    op_name: str, token: str, kwargs: dict[str, Any], field: str
) -> None:
    recorder = Recorder(httpx.Response(200, json={}))
    async with client_for(recorder) as client:
        with pytest.raises(InvalidParameterError) as info:
            await getattr(client, xform_name(op_name))(token, **kwargs)
    assert recorder.requests == []
    assert info.value.field == field
    assert field in str(info.value) and info.value.limit in str(info.value)
    assert token not in str(info.value) or not token


def test_every_operation_has_an_invalid_case() -> None:
    assert {case[0] for case in INVALID_CALLS} == set(OPERATIONS)


@settings(max_examples=50, deadline=None)
@given(st.one_of(st.just(""), st.integers(16385, 20000).map(lambda n: "x" * n)))
def test_content_length_limits_property(content: str) -> None:
    recorder = Recorder(httpx.Response(200, json={}))

    async def main() -> None:
        async with client_for(recorder) as client:
            await client.send_message(CONNECTION_TOKEN, content_type="text/plain",
                                      content=content)

    with pytest.raises(InvalidParameterError) as info:
        trio.run(main)
    assert info.value.field == "content" and "16384" in info.value.limit
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("content", "refused"),
    [
        ("é" * 8192, False),  # 8192 characters, 16384 bytes: at the limit
        ("é" * 8193, True),  # 16386 bytes although only 8193 characters
        ("😀" * 4096, False),
        ("😀" * 4097, True),
    ],
)
async def test_message_content_is_limited_in_utf8_bytes(content: str, refused: bool) -> None:
    recorder = Recorder(httpx.Response(200, json={"Id": "m", "AbsoluteTime": "t"}))
    async with client_for(recorder) as client:
        if refused:
            with pytest.raises(InvalidParameterError) as info:
                await client.send_message(
                    CONNECTION_TOKEN, content_type="text/plain", content=content
                )
            assert info.value.field == "content" and "16384 bytes" in info.value.limit
            assert recorder.requests == []
        else:
            await client.send_message(CONNECTION_TOKEN, content_type="text/plain", content=content)
            assert recorder.bodies()[0]["Content"] == content


# ---------------------------------------------------------------- operations' results


async def test_create_participant_connection_result_and_header() -> None:
    body = {
        "Websocket": {"Url": "wss://h/connect?x=1", "ConnectionExpiry": "2024-01-01T01:00:00.000Z"},
        "ConnectionCredentials": {"ConnectionToken": "new-conn", "Expiry": "2024-01-02T00:00:00Z"},
    }
    recorder = Recorder(httpx.Response(200, json=body))
    async with client_for(recorder) as client:
        result = await client.create_participant_connection(
            PARTICIPANT_TOKEN, type=["WEBSOCKET"], connect_participant=True
        )
    request = recorder.requests[0]
    assert request.headers["X-Amz-Bearer"] == PARTICIPANT_TOKEN
    assert json.loads(request.content) == {"Type": ["WEBSOCKET"], "ConnectParticipant": True}
    assert result.websocket is not None and result.websocket.url == "wss://h/connect?x=1"
    assert result.connection_credentials is not None
    assert result.connection_credentials.connection_token == "new-conn"


async def test_get_attachment_sends_content_disposition() -> None:
    recorder = Recorder(httpx.Response(200, json={"Url": "https://s/a", "UrlExpiry": "t",
                                                  "AttachmentSizeInBytes": 3}))
    async with client_for(recorder) as client:
        result = await client.get_attachment(CONNECTION_TOKEN, attachment_id="a",
                                             url_expiry_in_seconds=60,
                                             url_content_disposition="INLINE")
    assert json.loads(recorder.requests[0].content) == {
        "AttachmentId": "a", "UrlExpiryInSeconds": 60, "UrlContentDisposition": "INLINE"}
    assert result.attachment_size_in_bytes == 3


def _item(i: int) -> dict[str, Any]:
    return {"Id": f"i{i}", "AbsoluteTime": f"2024-01-01T00:00:{i:02d}.000Z", "Type": "MESSAGE",
            "ContentType": "text/plain", "Content": f"m{i}"}


@pytest.mark.parametrize("last_token", [None, ""])
async def test_iter_transcript_follows_pages(last_token: str | None) -> None:
    pages = [
        {"Transcript": [_item(0), _item(1)], "NextToken": "p2"},
        {"Transcript": [_item(2)], "NextToken": "p3"},
        {"Transcript": [_item(3)], **({} if last_token is None else {"NextToken": last_token})},
    ]
    recorder = Recorder(*[httpx.Response(200, json=p) for p in pages])
    async with client_for(recorder) as client:
        items = [item async for item in client.iter_transcript(
            CONNECTION_TOKEN, max_results=2, sort_order="ASCENDING",
            start_position=StartPosition(most_recent=10), scan_direction="FORWARD")]
    assert [i.id for i in items] == ["i0", "i1", "i2", "i3"]
    assert all(isinstance(i, TextMessage) for i in items)
    sent = recorder.bodies()
    assert [b.get("NextToken") for b in sent] == [None, "p2", "p3"]
    assert all(b["MaxResults"] == 2 and b["StartPosition"] == {"MostRecent": 10} for b in sent)


@pytest.mark.parametrize("tokens", [["same", "same"], ["A", "B", "A"], ["A", "B", "C", "B"]])
async def test_a_repeated_or_cycling_next_token_is_an_error(tokens: list[str]) -> None:
    pages = [httpx.Response(200, json={"Transcript": [_item(i)], "NextToken": t})
             for i, t in enumerate(tokens)]
    recorder = Recorder(*pages, httpx.Response(500))  # never reached
    items: list[Any] = []
    async with client_for(recorder) as client:
        with pytest.raises(errors.TranscriptPagingError) as info:
            async for item in client.iter_transcript(CONNECTION_TOKEN):
                items.append(item)
    err = info.value
    assert isinstance(err, errors.ParticipantError) and err.reason == "repeated_token"
    assert len(recorder.requests) == len(tokens) == err.pages == len(items) == err.items
    assert all(t not in str(err) for t in tokens)


async def test_paging_is_bounded_in_pages_and_items() -> None:
    def endless(request: httpx.Request) -> httpx.Response:
        n = len(recorder.requests)
        return httpx.Response(200, json={"Transcript": [_item(n % 60), _item(1)],
                                         "NextToken": f"t{n}"})

    recorder = Recorder(endless)
    async with client_for(recorder) as client:
        with pytest.raises(errors.TranscriptPagingError) as info:
            async for _ in client.iter_transcript_pages(CONNECTION_TOKEN, max_pages=5):
                pass
        assert info.value.reason == "max_pages" and info.value.pages == 5
        assert len(recorder.requests) == 5 and "max_pages (5)" in str(info.value)
        recorder.requests.clear()
        seen: list[Any] = []
        with pytest.raises(errors.TranscriptPagingError) as info:
            async for page in client.iter_transcript_pages(CONNECTION_TOKEN, max_items=7):
                seen.append(page)
        assert info.value.reason == "max_items" and "max_items (7)" in str(info.value)
        assert len(seen) == 3 and len(recorder.requests) == 4  # the 4th page would make 8
        # the defaults bound an endless transcript too
        recorder.requests.clear()
        with pytest.raises(errors.TranscriptPagingError):
            async for _ in client.iter_transcript_pages(CONNECTION_TOKEN):
                pass
        assert len(recorder.requests) == participant.api.DEFAULT_MAX_TRANSCRIPT_PAGES
        for bad in ({"max_pages": 0}, {"max_items": -1}):
            with pytest.raises(InvalidParameterError, match=next(iter(bad))):
                async for _ in client.iter_transcript_pages(CONNECTION_TOKEN, **bad):
                    pass


async def test_paging_starts_at_a_next_token_and_empty_means_none() -> None:
    recorder = Recorder(httpx.Response(200, json={"Transcript": [_item(5)], "NextToken": ""}))
    async with client_for(recorder) as client:
        pages = [p async for p in client.iter_transcript_pages(CONNECTION_TOKEN, next_token="k")]
        assert len(pages) == 1 and recorder.bodies()[0]["NextToken"] == "k"
        pages = [p async for p in client.iter_transcript_pages(CONNECTION_TOKEN, next_token="")]
        assert len(pages) == 1 and "NextToken" not in recorder.bodies()[1]


async def test_non_json_success_body_is_an_http_status_error() -> None:
    portal = b"<html><body>Sign in to the hotel wifi</body></html>"
    recorder = Recorder(httpx.Response(200, content=portal, headers={"Content-Type": "text/html"}))
    async with client_for(recorder) as client:
        with pytest.raises(errors.HTTPStatusError) as info:
            await call(client, "SendMessage")
    err = info.value
    assert not isinstance(err, ServiceError) and isinstance(err, TransportError)
    assert err.status_code == 200 and err.operation == "SendMessage" and not err.retryable
    assert "participant.connect.us-west-2.amazonaws.com" in str(err)
    assert "text/html" in str(err) and "not the JSON object SendMessage returns" in str(err)
    assert "hotel" not in str(err)
    assert len(recorder.requests) == 1


# protocol.md §10: answers that did not come from the service
NON_SERVICE_ANSWERS = [
    (302, b"", None, False),  # a captive portal redirect
    (403, b"", None, False),  # a firewall's bare 403
    (403, b"<html>Forbidden</html>", "text/html", False),
    (407, b"<html>Proxy Authentication Required</html>", "text/html", False),
    (404, b"<html>Not Found</html>", "text/html", False),  # a web server, not Connect
    (501, b"<html>Unsupported method ('POST')</html>", "text/html", False),
    (400, b'{"message": "Bad Request"}', "application/json", False),  # JSON without __type
    (429, b"Too Many Requests", "text/plain", True),
    (502, b"<html>Bad Gateway</html>", "text/html", True),
    (503, b"", None, True),
    (504, b"Gateway Timeout", "text/plain", True),
]


@pytest.mark.parametrize(("status", "body", "content_type", "retried"), NON_SERVICE_ANSWERS)
async def test_answers_without_an_error_type_are_http_status_errors(
    status: int, body: bytes, content_type: str | None, retried: bool,
    autojump_clock: trio.testing.MockClock,
) -> None:
    headers = {"Server": "nginx/1.25"} | ({"Content-Type": content_type} if content_type else {})
    recorder = Recorder(httpx.Response(status, content=body, headers=headers))
    async with client_for(recorder, retry=RetryPolicy(max_attempts=3)) as client:
        for op_name in ("CreateParticipantConnection", "GetTranscript"):
            recorder.requests.clear()
            with pytest.raises(errors.HTTPStatusError) as info:
                await call(client, op_name)
            err = info.value
            assert not isinstance(err, ServiceError)
            assert not isinstance(err, errors.AccessDeniedException)
            assert isinstance(err, TransportError)
            assert err.status_code == status and err.operation == op_name
            assert err.retryable is retried
            assert len(recorder.requests) == (3 if retried else 1)
            text = str(err)
            assert f"HTTP {status}" in text and "nginx/1.25" in text
            assert "participant.connect.us-west-2.amazonaws.com" in text
            assert "x-amzn-ErrorType" in text
            assert body.decode() not in text or not body
            assert PARTICIPANT_TOKEN not in text and CONNECTION_TOKEN not in text


async def test_a_modelled_403_is_still_access_denied() -> None:
    for headers, body in (
        ({"x-amzn-ErrorType": "AccessDeniedException"}, b'{"message": "no"}'),
        ({"Content-Type": "application/json"}, b'{"__type": "AccessDeniedException"}'),
    ):
        recorder = Recorder(httpx.Response(403, content=body, headers=headers))
        async with client_for(recorder) as client:
            with pytest.raises(errors.AccessDeniedException):
                await call(client, "CreateParticipantConnection")


async def test_empty_success_body_is_fine() -> None:
    recorder = Recorder(httpx.Response(200))
    async with client_for(recorder) as client:
        assert await client.disconnect_participant(CONNECTION_TOKEN) is None


# ---------------------------------------------------------------- attachments' bytes


async def test_upload_sends_every_header_and_the_bytes() -> None:
    headers = {"Content-Type": "text/plain", "Content-Length": "5",
               "Content-Disposition": 'attachment; filename="a.txt"', "x-amz-meta-k": "v",
               "x-amz-acl": "bucket-owner-full-control"}
    recorder = Recorder(httpx.Response(200))
    async with client_for(recorder) as client:
        await client.upload_attachment(
            UploadMetadata(url="https://storage.invalid/put?sig=1", url_expiry="t",
                           headers_to_include=headers), b"hello")
    request = recorder.requests[0]
    assert request.method == "PUT" and str(request.url) == "https://storage.invalid/put?sig=1"
    assert request.content == b"hello"
    for name, value in headers.items():
        assert request.headers[name] == value
    assert "X-Amz-Bearer" not in request.headers


async def test_upload_refuses_size_mismatch_and_reports_storage_errors() -> None:
    recorder = Recorder(httpx.Response(
        403, content=b"<Error><Code>SignatureDoesNotMatch</Code><Message>m</Message></Error>"))
    meta = UploadMetadata(url="https://storage.invalid/put", headers_to_include={
        "Content-Length": "5"})
    async with client_for(recorder) as client:
        with pytest.raises(InvalidParameterError) as info:
            await client.upload_attachment(meta, b"toolong")
        assert info.value.field == "data" and recorder.requests == []
        with pytest.raises(ServiceError) as err:
            await client.upload_attachment(meta, b"12345")
    assert err.value.code == "SignatureDoesNotMatch" and err.value.status_code == 403


async def test_download_returns_bytes(autojump_clock: trio.testing.MockClock) -> None:
    recorder = Recorder(httpx.Response(503), httpx.Response(200, content=b"\x00data"))
    async with client_for(recorder) as client:
        assert await client.download_attachment("https://storage.invalid/get") == b"\x00data"
    assert len(recorder.requests) == 2


# ---------------------------------------------------------------- endpoint, logging


def test_endpoint_from_region_env_or_error(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ParticipantClient(region="eu-west-2").endpoint_url == endpoint_for_region("eu-west-2")
    assert endpoint_for_region("eu-west-2") == "https://participant.connect.eu-west-2.amazonaws.com"
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
    assert "ap-southeast-2" in ParticipantClient().endpoint_url
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(InvalidParameterError) as info:
        ParticipantClient()
    assert info.value.field == "region"
    assert ParticipantClient(endpoint_url="http://127.0.0.1:9/").endpoint_url == "http://127.0.0.1:9"


async def test_logs_never_contain_tokens(caplog: pytest.LogCaptureFixture,
                                         autojump_clock: trio.testing.MockClock) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = Recorder(error_response("ThrottlingException", 429), httpx.ConnectError("x"),
                        httpx.Response(200, json={}))
    async with client_for(recorder) as client:
        await call(client, "SendMessage")
        recorder.answers = [error_response("AccessDeniedException", 403)]
        with pytest.raises(errors.AccessDeniedException):
            await call(client, "CreateParticipantConnection")
    assert caplog.records, "expected retry logging"
    for record in caplog.records:
        text = record.getMessage()
        assert CONNECTION_TOKEN not in text and PARTICIPANT_TOKEN not in text
    assert CONNECTION_TOKEN not in repr(client)


# ---------------------------------------------------------------- Retry-After


@pytest.mark.parametrize(
    ("status", "error_name", "header", "expected_gap"),
    [
        (429, "ThrottlingException", "3", 3.0),
        (503, "InternalServerException", "1.5", 1.5),
        (429, "ThrottlingException", "0", 0.0),
        (429, "ThrottlingException", "120", 5.0),  # bounded by max_delay
        (503, "InternalServerException", "Thu, 01 Jan 1970 00:00:02 GMT", None),  # HTTP-date
        (429, "ThrottlingException", "soon", 0.5),  # unreadable: jitter, 0.5 * 1 s throttled
        (500, "InternalServerException", "3", 0.1),  # not 429/503: jitter (0.5 * 0.2 s)
    ],
)
async def test_retry_after_is_honoured_on_429_and_503(
    status: int,
    error_name: str,
    header: str,
    expected_gap: float | None,
    autojump_clock: trio.testing.MockClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # an HTTP-date is relative to the wall clock: pin it to 0.5 s after the epoch
    monkeypatch.setattr(participant.api, "time", types.SimpleNamespace(time=lambda: 0.5))
    policy = RetryPolicy(max_attempts=2, base_delay=0.2, max_delay=5.0)
    gap = await gap_after(error_name, status, {"Retry-After": header}, policy)
    assert gap == pytest.approx(1.5 if expected_gap is None else expected_gap)


async def gap_after(error_name: str, status: int, headers: dict[str, str],
                    policy: RetryPolicy) -> float:
    """Seconds between a SendMessage answered by this error (with ``headers``) and its
    retry, which succeeds; the jitter draws 0.5."""
    stamps: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        stamps.append(trio.current_time())
        if len(stamps) == 1:
            response = error_response(error_name, status)
            response.headers.update(headers)
            return response
        return httpx.Response(200, json={"Id": "m1", "AbsoluteTime": "t"})

    async with client_for(Recorder(answer), retry=policy, random=lambda: 0.5) as client:
        result = await call(client, "SendMessage")
    assert result.id == "m1" and len(stamps) == 2
    return stamps[1] - stamps[0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 0.25 ", 0.25),
        ("-4", 0.0),
        ("Thu, 01 Jan 1970 00:01:40 GMT", 90.0),  # 100 s after the epoch, now = 10
        ("Thu, 01 Jan 1970 00:00:01 GMT", 0.0),  # in the past
        ("Thu, 01 Jan 1970 00:01:40 -0000", 90.0),
        (None, None),
        ("", None),
        ("tomorrow", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value, now=10.0) == expected


@pytest.mark.parametrize(
    ("status", "error_name", "header", "expected_gap"),
    [  # random 0.5: drawn 0.5 s after throttling (cap 1 s), 0.025 s otherwise (cap 0.05 s)
        (429, "ThrottlingException", "3000", 3.0),  # milliseconds, as the SDKs
        (429, "ThrottlingException", "100", 0.5),  # at least the drawn delay
        (429, "ThrottlingException", "60000", 5.5),  # at most the drawn delay + 5 s
        (500, "InternalServerException", "2000", 2.0),  # any retried answer
        (429, "ThrottlingException", "1.5", 9.0),  # unreadable: Retry-After 9 s applies
        (429, "ThrottlingException", "-100", 9.0),
        (429, "ThrottlingException", "", 9.0),
    ],
)
async def test_x_amz_retry_after_is_honoured_as_the_sdks_do(
    status: int, error_name: str, header: str, expected_gap: float,
    autojump_clock: trio.testing.MockClock,
) -> None:
    # the SDKs' header wins over Retry-After when it is readable
    headers = {"x-amz-retry-after": header, "Retry-After": "9"}
    gap = await gap_after(error_name, status, headers, RetryPolicy(max_attempts=2))
    assert gap == pytest.approx(expected_gap)


def test_x_amz_retry_after_reads_whole_ascii_milliseconds() -> None:
    read = participant.api._amz_retry_after
    assert (read("250"), read(" 0 "), read(None)) == (0.25, 0.0, None)
    # "\xb2" (superscript two, as a header byte decodes) is a digit to str.isdigit
    for bad in ("\xb2", "1e3", "+5", "0x10", "9" * 13):
        assert read(bad) is None


# ---------------------------------------------------------------- transport, headers, ownership


class CountingTransport(httpx.MockTransport):
    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        super().__init__(handler)
        self.closed = 0

    async def aclose(self) -> None:
        self.closed += 1


async def test_requests_carry_user_agent_content_type_and_timeouts() -> None:
    recorder = Recorder(httpx.Response(200, json={}))
    timeout = httpx.Timeout(3.0, connect=1.0, pool=2.0)
    async with client_for(recorder, timeout=timeout) as client:
        await call(client, "SendMessage")
        await call(client, "DescribeView")
        await client.download_attachment("https://storage.invalid/get?sig=1")
    post, get, download = recorder.requests
    for request in recorder.requests:
        assert request.headers["User-Agent"] == USER_AGENT
        assert request.extensions["timeout"] == {
            "connect": 1.0, "read": 3.0, "write": 3.0, "pool": 2.0}
    assert USER_AGENT.startswith("participant/")
    assert post.headers["Content-Type"] == "application/json"
    assert post.url == httpx.URL(ENDPOINT + "/participant/message")
    assert "Content-Type" not in get.headers and get.method == "GET"
    assert "X-Amz-Bearer" not in download.headers
    assert "cookie" not in {k.lower() for k in post.headers}


async def test_a_given_transport_stays_open_and_a_closed_client_refuses() -> None:
    transport = CountingTransport(lambda request: httpx.Response(200, json={}))
    client = ParticipantClient(endpoint_url=ENDPOINT, transport=transport)
    async with client:
        await call(client, "SendMessage")
    assert transport.closed == 0  # the caller's transport is the caller's
    with pytest.raises(RuntimeError, match="closed"):
        await call(client, "SendMessage")
    await client.aclose()  # idempotent
    # another client may share the same transport
    async with ParticipantClient(endpoint_url=ENDPOINT, transport=transport) as other:
        await call(other, "GetTranscript")
    assert transport.closed == 0


async def test_the_client_closes_the_transport_it_created(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created: list[Any] = []
    real = httpx.AsyncHTTPTransport

    class Spy(real):  # type: ignore[misc, valid-type]
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.kwargs = kwargs
            self.closed = 0
            created.append(self)

        async def aclose(self) -> None:
            self.closed += 1
            await super().aclose()

    monkeypatch.setattr(httpx, "AsyncHTTPTransport", Spy)
    async with ParticipantClient(endpoint_url=ENDPOINT):
        pass
    (transport,) = created
    assert transport.closed == 1
    assert transport.kwargs["retries"] == 0 and transport.kwargs["http2"] is False
    assert transport.kwargs["limits"] == DEFAULT_LIMITS


class FailingStream(httpx.AsyncByteStream):
    def __init__(self) -> None:
        self.closed = False

    async def __aiter__(self) -> Any:
        yield b'{"Id":'
        raise httpx.ReadError("connection reset mid-body")

    async def aclose(self) -> None:
        self.closed = True


async def test_a_body_cut_mid_read_is_retried(autojump_clock: trio.testing.MockClock) -> None:
    streams: list[FailingStream] = []

    def cut(request: httpx.Request) -> httpx.Response:
        streams.append(FailingStream())
        return httpx.Response(200, stream=streams[-1])

    recorder = Recorder(cut, httpx.Response(200, json={"Id": "m1", "AbsoluteTime": "t"}))
    async with client_for(recorder, retry=RetryPolicy(max_attempts=2)) as client:
        result = await call(client, "SendMessage")
    assert result.id == "m1" and len(recorder.requests) == 2
    assert streams[0].closed  # the cut response was closed
    assert len({r.content for r in recorder.requests}) == 1  # same ClientToken


@pytest.mark.parametrize("url", ["/relative/path", "ftp://host/file", "https://", "http://[::1"])
async def test_attachment_urls_must_be_absolute_http(url: str) -> None:
    recorder = Recorder(httpx.Response(200))
    async with client_for(recorder) as client:
        with pytest.raises(InvalidParameterError) as info:
            await client.download_attachment(url)
        assert info.value.field == "url"
        with pytest.raises(InvalidParameterError) as info:
            await client.upload_attachment(UploadMetadata(url=url), b"x")
        assert info.value.field == "upload_metadata.url"
    assert recorder.requests == []


def test_environment_proxy_for_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
                 "http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert _environment_proxy(ENDPOINT) is None
    monkeypatch.setenv("HTTPS_PROXY", "proxy.invalid:3128")
    assert _environment_proxy(ENDPOINT) == "http://proxy.invalid:3128"
    assert _environment_proxy("http://127.0.0.1:9") is None  # no HTTP_PROXY
    monkeypatch.setenv("NO_PROXY", "amazonaws.com")
    assert _environment_proxy(ENDPOINT) is None


# ---------------------------------------------------------------- bounded responses


class TricklingStream(httpx.AsyncByteStream):
    """A body that never ends: one byte every second (each read within httpx's timeout)."""

    def __init__(self) -> None:
        self.closed = False

    async def __aiter__(self) -> Any:
        yield b'{"Id":'
        while True:
            await trio.sleep(1.0)
            yield b" "

    async def aclose(self) -> None:
        self.closed = True


async def test_each_attempt_has_a_total_deadline(autojump_clock: trio.testing.MockClock) -> None:
    streams: list[TricklingStream] = []

    def trickle(request: httpx.Request) -> httpx.Response:
        streams.append(TricklingStream())
        return httpx.Response(200, stream=streams[-1])

    recorder = Recorder(trickle)
    policy = RetryPolicy(max_attempts=2, base_delay=0.5, max_delay=0.5)
    async with client_for(recorder, retry=policy, attempt_timeout=7.0) as client:
        start = trio.current_time()
        with pytest.raises(errors.TimeoutException) as info:
            await call(client, "SendMessage")
        elapsed = trio.current_time() - start
    assert len(recorder.requests) == 2 and all(s.closed for s in streams)
    assert 14.0 <= elapsed <= 14.5  # two attempts of 7 s and one backoff of at most 0.5 s
    assert "within 7 s" in str(info.value) and CONNECTION_TOKEN not in str(info.value)
    assert isinstance(info.value, TransportError)


@pytest.mark.parametrize("declared", [True, False])
async def test_a_body_over_the_cap_is_refused_at_once(declared: bool) -> None:
    body = json.dumps({"Transcript": [], "Pad": "x" * 5000}).encode()

    def big(request: httpx.Request) -> httpx.Response:
        if declared:
            return httpx.Response(200, content=body)

        async def chunks() -> Any:
            for i in range(0, len(body), 1000):
                yield body[i:i + 1000]
        return httpx.Response(200, content=chunks())

    recorder = Recorder(big)
    async with client_for(recorder, max_response_bytes=4096) as client:
        with pytest.raises(errors.ResponseTooLargeError) as info:
            await call(client, "GetTranscript")
        assert info.value.limit == 4096 and not info.value.retryable
        assert "max_response_bytes (4096 bytes)" in str(info.value)
        assert "GetTranscript" in str(info.value)
        assert len(recorder.requests) == 1
    async with client_for(recorder, max_download_bytes=4096) as client:
        with pytest.raises(errors.ResponseTooLargeError, match="max_download_bytes"):
            await client.download_attachment("https://storage.invalid/get?sig=1")
    async with client_for(recorder, max_response_bytes=len(body)) as client:
        assert not (await call(client, "GetTranscript")).transcript


async def test_identity_is_asked_for_and_a_compressed_body_is_refused() -> None:
    payload = gzip.compress(b'{"Id": "m1", "AbsoluteTime": "2024-01-01T00:00:00.000Z"}')
    recorder = Recorder(httpx.Response(
        200, content=payload,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}))
    async with client_for(recorder) as client:
        with pytest.raises(errors.HTTPStatusError) as info:
            await call(client, "SendMessage")
        with pytest.raises(errors.HTTPStatusError):
            await client.download_attachment("https://storage.invalid/get?sig=1")
    assert "Content-Encoding 'gzip'" in str(info.value) and not info.value.retryable
    assert len(recorder.requests) == 2
    assert all(r.headers["Accept-Encoding"] == "identity" for r in recorder.requests)


def test_bounds_are_checked() -> None:
    for kw in ({"attempt_timeout": 0}, {"transfer_timeout": -1.0}, {"max_response_bytes": 0},
               {"max_download_bytes": 1.5}):
        with pytest.raises(InvalidParameterError, match=next(iter(kw))):
            ParticipantClient(endpoint_url=ENDPOINT, **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------- bad tokens, scrubbing

BAD_TEXT = ["TOKEN\r\nX-Evil: 1", "TOKEN\n", "TOK\rEN", "TOKEN\x00", "jeton-é", "TOKEN\t"]


@pytest.mark.parametrize("bad", BAD_TEXT)
@pytest.mark.parametrize("op_name", sorted(VALID_CALLS))
async def test_a_bad_token_is_an_input_error_at_once(op_name: str, bad: str) -> None:
    recorder = Recorder(httpx.Response(200, json={}))
    _, kwargs = VALID_CALLS[op_name]
    async with client_for(recorder) as client:
        with pytest.raises(InvalidParameterError) as info:
            await getattr(client, xform_name(op_name))(bad, **kwargs)
    token_field = "participant_token" if op_name == "CreateParticipantConnection" \
        else "connection_token"
    assert info.value.field == token_field and "printable ASCII" in str(info.value)
    assert bad not in str(info.value) and "TOK" not in str(info.value)
    assert recorder.requests == []


@pytest.mark.parametrize("bad", BAD_TEXT)
async def test_an_attachment_content_type_or_header_with_cr_lf_is_refused(bad: str) -> None:
    recorder = Recorder(httpx.Response(200, json={}))
    async with client_for(recorder) as client:
        with pytest.raises(InvalidParameterError) as info:
            await client.start_attachment_upload(
                CONNECTION_TOKEN, content_type=bad, attachment_size_in_bytes=3,
                attachment_name="a.txt")
        assert info.value.field == "content_type" and bad not in str(info.value)
        for headers in ({"Content-Type": bad}, {bad: "v"}):
            meta = UploadMetadata(url="https://storage.invalid/put?sig=1",
                                  headers_to_include=headers)
            with pytest.raises(InvalidParameterError) as info:
                await client.upload_attachment(meta, b"abc")
            assert info.value.field == "upload_metadata.headers_to_include"
            assert bad not in str(info.value)
    assert recorder.requests == []


async def test_tokens_echoed_anywhere_are_scrubbed_from_every_field() -> None:
    secret = CONNECTION_TOKEN
    echo = httpx.Response(
        403,
        headers={"x-amzn-RequestId": f"rid-{secret}", "Content-Type": "application/json"},
        json={"__type": f"AccessDeniedException:{secret}", "message": f"bad {secret}",
              "Token": secret, "Nested": {secret: [f"x{secret}"]}},
    )
    bare = httpx.Response(502, headers={"Server": f"proxy {secret}",
                                        "Content-Type": f"text/{secret}"})
    recorder = Recorder(echo, bare)
    async with client_for(recorder, retry=RetryPolicy(max_attempts=1)) as client:
        with pytest.raises(errors.AccessDeniedException) as info:
            await call(client, "SendMessage")
        with pytest.raises(errors.HTTPStatusError) as bare_info:
            await call(client, "SendMessage")
    err = info.value
    shown = [str(err), repr(err), err.message, err.code, err.request_id,
             json.dumps(err.fields), *map(str, err.args)]
    assert all(secret not in text for text in shown if text)
    assert err.request_id == "rid-<redacted>" and err.fields["Token"] == "<redacted>"
    assert all(secret not in text for text in (str(bare_info.value), bare_info.value.reached))


async def test_a_transport_error_text_is_scrubbed(autojump_clock: trio.testing.MockClock) -> None:
    recorder = Recorder(httpx.ConnectError(f"cannot send header {CONNECTION_TOKEN}"))
    async with client_for(recorder, retry=RetryPolicy(max_attempts=2)) as client:
        with pytest.raises(TransportError) as info:
            await call(client, "SendMessage")
    assert CONNECTION_TOKEN not in str(info.value) and "<redacted>" in str(info.value)


# ---------------------------------------------------------------- boto3's conventions

ENDPOINT_ENV = ("AWS_ENDPOINT_URL_CONNECTPARTICIPANT", "AWS_ENDPOINT_URL", "AWS_REGION",
                "AWS_DEFAULT_REGION", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT",
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")


NO_TRANSPORT = httpx.MockTransport(lambda request: httpx.Response(500))  # never called


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ENDPOINT_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_endpoint_env_order_is_boto3s(clean_env: pytest.MonkeyPatch) -> None:
    env = clean_env
    env.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
    client = ParticipantClient()
    assert client.region == "ap-southeast-2" and "AWS_DEFAULT_REGION" in client.endpoint_source
    env.setenv("AWS_REGION", "eu-west-2")
    client = ParticipantClient()
    assert client.endpoint_url == "https://participant.connect.eu-west-2.amazonaws.com"
    assert client.endpoint_source == f"AWS_REGION eu-west-2: {client.endpoint_url}"
    assert ParticipantClient(region="us-east-1").region == "us-east-1"
    env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:8001/")
    assert ParticipantClient().endpoint_url == "http://127.0.0.1:8001"
    env.setenv("AWS_ENDPOINT_URL_CONNECTPARTICIPANT", "http://127.0.0.1:8002")
    client = ParticipantClient(region="us-east-1")
    assert client.endpoint_url == "http://127.0.0.1:8002"
    assert client.endpoint_source == "AWS_ENDPOINT_URL_CONNECTPARTICIPANT http://127.0.0.1:8002"
    assert ParticipantClient(endpoint_url="http://h:1").endpoint_url == "http://h:1"
    env.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    assert ParticipantClient().endpoint_url.endswith("eu-west-2.amazonaws.com")
    env.delenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
    env.setenv("AWS_ENDPOINT_URL_CONNECTPARTICIPANT", "127.0.0.1:8080")
    with pytest.raises(InvalidParameterError) as info:
        ParticipantClient()
    assert info.value.field == "AWS_ENDPOINT_URL_CONNECTPARTICIPANT"
    assert "did you mean http://127.0.0.1:8080" in str(info.value)


def test_region_form_is_checked(clean_env: pytest.MonkeyPatch) -> None:
    for good in ("us-west-2", "us-gov-west-1", "cn-north-1", "eusc-de-east-1", "us-wst-2"):
        assert ParticipantClient(region=good).region == good
    for bad in ("", "US-WEST-2", "us_west_2", "uswest2", "us-west-2.", "us-west-2\r\n",
                "us-west", "https://participant.connect.us-west-2.amazonaws.com"):
        with pytest.raises(InvalidParameterError) as info:
            ParticipantClient(region=bad)
        assert info.value.field == "region" and "such as us-west-2" in str(info.value)
    clean_env.setenv("AWS_REGION", "Frankfurt")
    with pytest.raises(InvalidParameterError) as info:
        ParticipantClient()
    assert info.value.field == "AWS_REGION" and "Frankfurt" in str(info.value)
    clean_env.delenv("AWS_REGION")
    with pytest.raises(InvalidParameterError) as info:
        ParticipantClient()
    assert info.value.field == "region" and "AWS_ENDPOINT_URL" in str(info.value)


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "localhost:8080", "htp://x", "", "   ",
                                 "http://[::1", "http://", "http:///x", "ftp://h/",
                                 "http://h:99999", "http://h/?q=1", "http://u:p@h/",
                                 "http://h\r\n/", 8080])
def test_a_malformed_endpoint_is_an_input_error_at_once(
    url: Any, clean_env: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InvalidParameterError) as info:
        ParticipantClient(endpoint_url=url)
    assert info.value.field == "endpoint_url" and "http://" in str(info.value)
    assert "p@" not in str(info.value)


@functools.cache
def _botocore_provider() -> Any:
    loader = botocore.loaders.create_loader()
    return botocore.endpoint_provider.EndpointProvider(
        loader.load_service_model("connectparticipant", "endpoint-rule-set-1"),
        loader.load_data("partitions"),
    )


def _botocore_endpoint(region: str, fips: bool, dual: bool) -> str:
    resolved = _botocore_provider().resolve_endpoint(Region=region, UseFIPS=fips, UseDualStack=dual)
    return str(resolved.url)


def _partition_regions() -> list[str]:
    data = botocore.loaders.create_loader().load_data("partitions")
    regions = [r for p in data["partitions"] for r in p["regions"] if not r.endswith("global")]
    return [*regions, "us-wst-2", "xx-foo-9", "cn-south-7", "us-gov-north-3", "us-isob-west-9"]


@pytest.mark.parametrize("fips", [False, True])
@pytest.mark.parametrize("dual", [False, True])
def test_endpoints_match_botocores_rule_set(
    fips: bool, dual: bool, clean_env: pytest.MonkeyPatch
) -> None:
    for region in _partition_regions():
        ours = endpoint_for_region(region, use_fips_endpoint=fips, use_dualstack_endpoint=dual)
        assert ours == _botocore_endpoint(region, fips, dual), region
        client = ParticipantClient(region=region, use_fips_endpoint=fips,
                                   use_dualstack_endpoint=dual, transport=NO_TRANSPORT)
        assert client.endpoint_url == ours
    assert endpoint_for_region("us-west-2", use_dualstack_endpoint=True) == \
        "https://participant.connect.us-west-2.api.aws"
    clean_env.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    clean_env.setenv("AWS_USE_DUALSTACK_ENDPOINT", "TRUE")
    assert ParticipantClient(region="us-east-1").endpoint_url == \
        "https://participant.connect-fips.us-east-1.api.aws"
    assert participant.api._PARTITIONS[0].name == "aws"
    names = {p["id"] for p in botocore.loaders.create_loader().load_data("partitions")[
        "partitions"]}
    assert names == {p.name for p in participant.api._PARTITIONS}


def test_fips_or_dualstack_with_a_custom_endpoint_is_refused(
    clean_env: pytest.MonkeyPatch
) -> None:
    for option in ("use_fips_endpoint", "use_dualstack_endpoint"):
        with pytest.raises(InvalidParameterError) as info:
            ParticipantClient(endpoint_url="http://127.0.0.1:9", **{option: True})
        assert info.value.field == option


# ---------------------------------------------------------------- requests in flight


class InFlight:
    """An async MockTransport handler: each request takes ``seconds`` (trio.sleep, so the
    MockClock drives it); counts the requests inside it at once."""

    def __init__(self, seconds: float = 1.0, first: httpx.Response | None = None) -> None:
        self.seconds = seconds
        self.first = first  # the answer to the first request, at once
        self.now = self.most = 0
        self.entered: list[tuple[float, str]] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.entered.append((trio.current_time(), json.loads(request.content)["Content"]))
        if self.first is not None:
            first, self.first = self.first, None
            return first
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            await trio.sleep(self.seconds)
        finally:
            self.now -= 1
        return httpx.Response(200, json={"Id": "m1", "AbsoluteTime": "2024-01-01T00:00:00.000Z"})


def in_flight_client(handler: InFlight, **kw: Any) -> ParticipantClient:
    return ParticipantClient(endpoint_url=ENDPOINT, transport=httpx.MockTransport(handler), **kw)


async def send(client: ParticipantClient, content: str, done: list[str] | None = None) -> None:
    await client.send_message(CONNECTION_TOKEN, content_type="text/plain", content=content)
    if done is not None:
        done.append(content)


async def asked(client: ParticipantClient, content: str, done: list[str] | None = None, *,
                task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """``send``, for ``nursery.start``: it returns once the request is on the transport or
    waits for a slot (the call runs to there without a checkpoint), so calls ask in order."""
    task_status.started()
    await send(client, content, done)


async def asked_and_failed(client: ParticipantClient, content: str, *,
                           task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    with pytest.raises(errors.TimeoutException):
        await send(client, content)


async def test_at_most_max_in_flight_requests_are_on_the_transport(
    autojump_clock: trio.testing.MockClock,
) -> None:
    handler = InFlight(seconds=1.0)
    done: list[str] = []
    async with in_flight_client(handler, max_in_flight=5) as client:
        assert client.max_in_flight == 5
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            for i in range(50):
                await nursery.start(asked, client, f"m{i}", done)
        elapsed = trio.current_time() - start
    assert handler.most == 5 and len(done) == 50
    assert elapsed == pytest.approx(10.0)  # 50 requests of 1 s, 5 at a time
    # first come first served: the n-th second's five are the n-th five to ask (trio runs
    # the five it wakes together in an order of its own)
    assert sorted((t, int(c[1:]) // 5) for t, c in handler.entered) == [
        (float(i // 5), i // 5) for i in range(50)]
    async with in_flight_client(handler, max_in_flight=None) as client:
        async with trio.open_nursery() as nursery:
            for i in range(200):
                nursery.start_soon(send, client, f"u{i}")
    assert handler.most == 200


def test_the_default_bound_is_the_pool_size_and_bad_bounds_are_refused() -> None:
    assert participant.api.DEFAULT_MAX_IN_FLIGHT == DEFAULT_LIMITS.max_connections == 100
    assert ParticipantClient(endpoint_url=ENDPOINT).max_in_flight == 100
    for bad in (0, -1, 1.5, True, "10"):
        with pytest.raises(InvalidParameterError, match="max_in_flight"):
            ParticipantClient(endpoint_url=ENDPOINT, max_in_flight=bad)  # type: ignore[arg-type]


async def test_a_retrying_call_gives_its_slot_back_while_it_sleeps(
    autojump_clock: trio.testing.MockClock,
) -> None:
    throttled = error_response("ThrottlingException", 429)
    throttled.headers["Retry-After"] = "2"
    handler = InFlight(seconds=1.0, first=throttled)
    done: list[str] = []
    async with in_flight_client(handler, max_in_flight=1) as client:
        async with trio.open_nursery() as nursery:
            await nursery.start(asked, client, "a", done)
            await nursery.start(asked, client, "b", done)
    # a: throttled at 0, sleeps 2 s without its slot; b runs 0..1; a's retry at 2..3
    assert handler.entered == [(0.0, "a"), (0.0, "b"), (2.0, "a")]
    assert done == ["b", "a"] and handler.most == 1


async def test_waiting_for_a_slot_is_bounded_by_the_attempt_and_pool_timeouts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    handler = InFlight(seconds=100.0)
    once = RetryPolicy(max_attempts=1)
    for timeout, waited, cause in ((10.0, 7.0, trio.TooSlowError), (httpx.Timeout(10.0, pool=2.0),
                                                                       2.0, httpx.PoolTimeout)):
        async with in_flight_client(handler, max_in_flight=1, retry=once, attempt_timeout=7.0,
                                    timeout=timeout) as client:
            async with trio.open_nursery() as nursery:
                await nursery.start(asked_and_failed, client, "slow")  # the slot, 7 s
                start = trio.current_time()
                with pytest.raises(errors.TimeoutException) as info:
                    await send(client, "waiting")
                assert trio.current_time() - start == pytest.approx(waited)
                assert isinstance(info.value.__cause__, cause)
                nursery.cancel_scope.cancel()
    assert "no free request slot within 2 s (max_in_flight=1" in str(info.value)
    assert [c for _, c in handler.entered] == ["slow", "slow"]  # "waiting" never sent


async def test_a_cancelled_wait_or_call_leaks_no_slot(
    autojump_clock: trio.testing.MockClock,
) -> None:
    handler = InFlight(seconds=1.0)
    async with in_flight_client(handler, max_in_flight=2) as client:
        async with trio.open_nursery() as nursery:
            for i in range(6):  # 2 on the transport, 4 waiting: all cancelled at 0.5 s
                await nursery.start(asked, client, f"c{i}")
            await trio.sleep(0.5)
            nursery.cancel_scope.cancel()
        handler.most = 0
        async with trio.open_nursery() as nursery:
            for i in range(4):
                nursery.start_soon(send, client, f"d{i}")
    assert handler.most == 2  # both slots came back
