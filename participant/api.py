"""An async client of the Amazon Connect Participant Service ([protocol](protocol.md#rest-api)).

:class:`ParticipantClient` covers the 11 operations. It drives an
``httpx.AsyncBaseTransport`` directly (a pooled ``httpx.AsyncHTTPTransport`` by
default, or the one given, e.g. the emulator's in-memory transport) with prebuilt
``httpx.Request`` objects: no ``httpx.AsyncClient`` layers (cookies, auth, redirects,
URL and header merging) on the hot path, so a call costs little more CPU than the
transport itself (``benchmarks/bench_rest.py``).

Each call validates its input against the service model's constraints before anything
is sent (:class:`~participant.errors.InvalidParameterError`), authenticates with the
``X-Amz-Bearer`` header, fills ``ClientToken`` with a UUID when the caller gives none
(once per logical call: retries reuse it), and retries ThrottlingException, 5xx answers
and transport errors with exponential backoff and full jitter (:class:`RetryPolicy`;
sleeps with ``trio.sleep`` so ``MockClock`` drives them), honouring a ``Retry-After``
header on 429 and 503 answers.

Tokens are never logged and never appear in exception text.
"""

from __future__ import annotations

import datetime
import email.utils
import importlib.metadata
import json
import logging
import math
import os
import random as _random
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Self, TypeVar
from urllib.parse import quote, urlsplit

import attrs
import httpx
import trio

from .errors import (
    InvalidParameterError,
    ServiceError,
    TransportError,
    error_from_response,
)
from .model import OPERATIONS, from_wire, to_wire
from .model.items import Item
from .model.operations import Operation, validate
from .model.shapes import (
    CompleteAttachmentUploadResponse,
    CreateParticipantConnectionResponse,
    DescribeViewResponse,
    GetAttachmentResponse,
    GetAuthenticationUrlResponse,
    GetTranscriptResponse,
    SendEventResponse,
    SendMessageResponse,
    StartAttachmentUploadResponse,
    StartPosition,
    UploadMetadata,
)

__all__ = [
    "DEFAULT_CONNECTION_TYPES",
    "DEFAULT_LIMITS",
    "USER_AGENT",
    "ParticipantClient",
    "RetryPolicy",
    "endpoint_for_region",
    "retry_after_seconds",
]

log = logging.getLogger("participant.api")

T = TypeVar("T")

DEFAULT_CONNECTION_TYPES: Final = ("WEBSOCKET", "CONNECTION_CREDENTIALS")


def _version() -> str:
    try:
        return importlib.metadata.version("participant")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


USER_AGENT: Final = f"participant/{_version()} httpx/{httpx.__version__}"
"""The ``User-Agent`` header of every request."""

DEFAULT_LIMITS: Final = httpx.Limits(
    max_connections=100, max_keepalive_connections=20, keepalive_expiry=30.0
)
"""Connection pool limits of the transport the client creates when given none."""

_JSON_CONTENT_TYPE: Final = "application/json"
_RETRY_AFTER_STATUSES: Final = frozenset({429, 503})
_NOT_IN_BODY: Final = frozenset({"ConnectionToken", "ParticipantToken", "ViewToken"})
_OPS: Final = OPERATIONS
_SEPARATORS: Final = (",", ":")


def endpoint_for_region(region: str) -> str:
    """``https://participant.connect.{region}.amazonaws.com`` ([protocol](protocol.md#rest-api))."""
    return f"https://participant.connect.{region}.amazonaws.com"


def _positive(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise InvalidParameterError(attribute.name, ">= 0", f"got {value}")


def _at_least_one(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 1:
        raise InvalidParameterError(attribute.name, ">= 1", f"got {value}")


@attrs.frozen
class RetryPolicy:
    """Retries of throttled (429), failed (5xx) and network-failed requests.

    Attributes:
        max_attempts: total attempts per call, first one included (>= 1).
        base_delay: seconds; the cap of the n-th retry's delay is
            ``min(max_delay, base_delay * 2 ** (n - 1))``.
        max_delay: seconds; the largest cap.

    The actual delay is drawn uniformly from ``[0, cap]`` ("full jitter"), except after
    a 429 or 503 answer carrying a ``Retry-After`` header: then the delay is the
    header's (seconds or HTTP-date), at most ``max_delay``.
    """

    max_attempts: int = attrs.field(default=4, validator=_at_least_one)
    base_delay: float = attrs.field(default=0.2, validator=_positive)
    max_delay: float = attrs.field(default=5.0, validator=_positive)

    def cap(self, retry: int) -> float:
        """The upper bound (seconds) of the delay before retry number ``retry`` (1-based)."""
        return float(min(self.max_delay, self.base_delay * 2.0 ** (retry - 1)))

    def delay(self, retry: int, random: Callable[[], float]) -> float:
        """The delay (seconds) before retry number ``retry``; ``random()`` in [0, 1)."""
        return random() * self.cap(retry)


def _scrub(text: str, secrets: Sequence[str | None]) -> str:
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, "<redacted>")
    return text


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """The delay (seconds, >= 0) a ``Retry-After`` header value asks for, or None.

    Accepts delta-seconds (``"3"``, also fractional ``"0.5"``) and an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``, relative to ``now``, epoch seconds, default
    ``time.time()``); None for an absent or unreadable value (RFC 9110 §10.2.3).
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000": UTC as well (RFC 5322 §3.3)
            when = when.replace(tzinfo=datetime.UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _environment_proxy(url: str) -> str | None:
    """The proxy URL the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``,
    ``NO_PROXY``) names for ``url``, as ``httpx.AsyncClient(trust_env=True)`` would."""
    proxies = urllib.request.getproxies()
    parts = urlsplit(url)
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or not parts.hostname:
        return None
    if urllib.request.proxy_bypass(parts.hostname):  # NO_PROXY (and OS settings)
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


class ParticipantClient:
    """Async client of the Participant Service's 11 operations.

    Use as ``async with ParticipantClient(region="us-west-2") as client: ...`` or call
    :meth:`aclose`.

    Args:
        region: AWS region; the endpoint is ``https://participant.connect.{region}.amazonaws.com``.
            Defaults to ``AWS_REGION``/``AWS_DEFAULT_REGION`` when no ``endpoint_url`` is given.
        endpoint_url: explicit base URL (e.g. the emulator's), wins over ``region``.
        transport: an ``httpx.AsyncBaseTransport`` (e.g. the emulator's in-memory one, or
            an ``httpx.AsyncHTTPTransport`` with your own TLS, proxy or pool settings).
            **It stays yours**: :meth:`aclose` does not close it, so one transport may
            serve several clients; close it yourself when done. When omitted the client
            creates (and :meth:`aclose` closes) an ``httpx.AsyncHTTPTransport`` with
            :data:`DEFAULT_LIMITS`, HTTP/1.1, no transport-level retries (the
            :class:`RetryPolicy` retries), TLS verification from the environment
            (``SSL_CERT_FILE``...) and the environment's proxy for ``endpoint_url``
            (``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` unless ``NO_PROXY`` excludes it).
            Every request of the client, attachment uploads and downloads included, goes
            through this one transport.
        retry: the :class:`RetryPolicy`.
        timeout: seconds for each of connect/read/write/pool of one attempt (or an
            ``httpx.Timeout`` giving them separately).
        random: the jitter source, a function returning floats in [0, 1) (tests inject
            a deterministic one); default ``random.random``.

    Every request carries ``User-Agent:`` :data:`USER_AGENT`; operations add
    ``X-Amz-Bearer`` and, with a body, ``Content-Type: application/json``. Redirects are
    not followed and no cookies are kept.

    Raises (from every operation):
        InvalidParameterError: the input breaks a constraint of the model; nothing sent.
        ServiceError: a subclass per service error (AccessDeniedException, ...), raised
            at once or, for retryable ones, when attempts are exhausted.
        TransportError: the network failed on every attempt.
        RuntimeError: the client was closed.
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy = RetryPolicy(),
        timeout: float | httpx.Timeout = 10.0,
        random: Callable[[], float] | None = None,
    ) -> None:
        if endpoint_url is None:
            region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            if not region:
                raise InvalidParameterError("region", "given (or endpoint_url)")
            endpoint_url = endpoint_for_region(region)
        self.endpoint_url: str = endpoint_url.rstrip("/")
        self.region = region
        self.retry = retry
        self._random = random or _random.random
        # absolute URLs of the fixed operation paths, built once (cheaper per call)
        self._urls: dict[str, httpx.URL] = {
            op.path: httpx.URL(self.endpoint_url + op.path)
            for op in _OPS.values()
            if "{" not in op.path
        }
        # the per-attempt timeouts, as httpx transports read them from request extensions
        self._extensions: dict[str, Any] = {"timeout": httpx.Timeout(timeout).as_dict()}
        self._owns_transport = transport is None
        self._transport: httpx.AsyncBaseTransport = transport or httpx.AsyncHTTPTransport(
            http1=True,
            http2=False,
            limits=DEFAULT_LIMITS,
            retries=0,
            proxy=_environment_proxy(self.endpoint_url),
        )
        self._closed = False

    def __repr__(self) -> str:
        return f"ParticipantClient(endpoint_url={self.endpoint_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client: its own transport's connections are closed (a transport
        given to the constructor is left open: it belongs to the caller). The client
        cannot be used afterwards; calling ``aclose`` again does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._owns_transport:
            await self._transport.aclose()

    # ------------------------------------------------------------------ plumbing

    async def _attempt(
        self,
        method: str,
        url: str | httpx.URL,
        content: bytes | None,
        headers: Mapping[str, str],
    ) -> httpx.Response:
        """One request on the transport; the returned response's body is read."""
        if self._closed:
            raise RuntimeError("ParticipantClient is closed")
        request = httpx.Request(
            method, url, content=content, headers=headers, extensions=self._extensions
        )
        response = await self._transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    async def _send(
        self,
        operation: str,
        method: str,
        url: str | httpx.URL,
        content: bytes | None,
        headers: Mapping[str, str],
        secrets: Sequence[str | None],
    ) -> httpx.Response:
        """Send with retries; return the 2xx response (body read) or raise."""
        policy = self.retry
        attempt = 1
        while True:
            retry_after: float | None = None
            try:
                response = await self._attempt(method, url, content, headers)
            except httpx.TransportError as exc:
                if attempt >= policy.max_attempts:
                    raise TransportError(
                        _scrub(
                            f"{operation}: network error after {attempt} attempt(s): "
                            f"{type(exc).__name__}: {exc}",
                            secrets,
                        )
                    ) from exc
                reason = type(exc).__name__
            else:
                status = response.status_code
                if status < 300:
                    if attempt > 1 or log.isEnabledFor(logging.DEBUG):
                        log.debug("%s: HTTP %d (attempt %d)", operation, status, attempt)
                    return response
                error = error_from_response(status, response.headers, response.content)
                if error.message:
                    clean = _scrub(error.message, secrets)
                    if clean != error.message:
                        error.message = clean
                        error.args = (clean,)
                if not error.retryable or attempt >= policy.max_attempts:
                    log.debug("%s: %s after %d attempt(s)", operation, error.code, attempt)
                    raise error
                reason = f"{error.code} (HTTP {status})"
                if status in _RETRY_AFTER_STATUSES:
                    retry_after = retry_after_seconds(response.headers.get("retry-after"))
            if retry_after is None:
                delay = policy.delay(attempt, self._random)
            else:
                delay = min(policy.max_delay, retry_after)
                reason += f", Retry-After {retry_after:g} s"
            log.info("%s: %s; retry %d in %.3f s", operation, reason, attempt, delay)
            await trio.sleep(delay)
            attempt += 1

    async def _call(
        self, op: Operation, params: dict[str, Any], token_member: str, path: str | None = None
    ) -> Any:
        validate(op, params)
        token: str = params[token_member]
        headers = {"X-Amz-Bearer": token, "User-Agent": USER_AGENT}
        content: bytes | None = None
        if op.method != "GET":
            body = {k: v for k, v in params.items() if v is not None and k not in _NOT_IN_BODY}
            content = json.dumps(body, separators=_SEPARATORS).encode()
            headers["Content-Type"] = _JSON_CONTENT_TYPE
        url = self._urls[op.path] if path is None else httpx.URL(self.endpoint_url + path)
        response = await self._send(op.name, op.method, url, content, headers, (token,))
        raw = response.content
        if not raw:
            return from_wire(op.response, {})
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ServiceError(
                f"{op.name}: the response is not a JSON object",
                code="InvalidResponse",
                status_code=response.status_code,
                request_id=response.headers.get("x-amzn-RequestId"),
            )
        return from_wire(op.response, data)

    # ------------------------------------------------------------------ operations

    async def create_participant_connection(
        self,
        participant_token: str,
        *,
        type: Sequence[str] = DEFAULT_CONNECTION_TYPES,
        connect_participant: bool | None = None,
    ) -> CreateParticipantConnectionResponse:
        """CreateParticipantConnection: a websocket URL and/or a ConnectionToken.

        Args:
            participant_token: from StartChatContact (sent as ``X-Amz-Bearer``).
            type: subset of WEBSOCKET, CONNECTION_CREDENTIALS, WEBRTC_CONNECTION (≥ 1).
            connect_participant: acknowledge the connection (replaces the deprecated
                connection.acknowledged event).

        Returns: ``websocket`` (url to open within 100 s, connection_expiry) and
        ``connection_credentials`` (connection_token, expiry ~1 day).
        """
        params = {
            "Type": list(type) if isinstance(type, (list, tuple)) else type,
            "ParticipantToken": participant_token,
            "ConnectParticipant": connect_participant,
        }
        result: CreateParticipantConnectionResponse = await self._call(
            _OPS["CreateParticipantConnection"], params, "ParticipantToken"
        )
        return result

    async def send_message(
        self,
        connection_token: str,
        *,
        content_type: str,
        content: str,
        client_token: str | None = None,
    ) -> SendMessageResponse:
        """SendMessage: post a message (``content``: 1..16384 characters and at most
        16384 bytes of UTF-8, the limit the SendMessage API reference gives).

        ``content_type``: text/plain, text/markdown, application/json or an interactive
        type (:class:`participant.model.ContentType`). ``client_token`` (≤ 500 chars) is
        the idempotency key; a UUID when omitted. Returns the item's ``id`` and
        ``absolute_time``.

        Raises:
            InvalidParameterError: a field out of its limits (nothing is sent).
        """
        params = {
            "ContentType": content_type,
            "Content": content,
            "ClientToken": str(uuid.uuid4()) if client_token is None else client_token,
            "ConnectionToken": connection_token,
        }
        result: SendMessageResponse = await self._call(
            _OPS["SendMessage"], params, "ConnectionToken"
        )
        return result

    async def send_event(
        self,
        connection_token: str,
        *,
        content_type: str,
        content: str | None = None,
        client_token: str | None = None,
    ) -> SendEventResponse:
        """SendEvent: typing, receipts (``content`` ``{"messageId": ...}``) and other events.

        Raises ConflictException for receipts in chats with more than two participants.
        """
        params = {
            "ContentType": content_type,
            "Content": content,
            "ClientToken": str(uuid.uuid4()) if client_token is None else client_token,
            "ConnectionToken": connection_token,
        }
        result: SendEventResponse = await self._call(_OPS["SendEvent"], params, "ConnectionToken")
        return result

    async def get_transcript(
        self,
        connection_token: str,
        *,
        contact_id: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
        scan_direction: str | None = None,
        sort_order: str | None = None,
        start_position: StartPosition | None = None,
    ) -> GetTranscriptResponse:
        """GetTranscript: one page of items ([protocol](protocol.md#gettranscript)).

        ``max_results`` 0..100 (service default 10); ``scan_direction`` FORWARD | BACKWARD;
        ``sort_order`` ASCENDING | DESCENDING; ``start_position`` with exactly one of
        id, absolute_time, most_recent (0..100). The returned ``transcript`` holds typed
        items; ``next_token`` is absent or ``""`` on the last page.
        """
        params = {
            "ContactId": contact_id,
            "MaxResults": max_results,
            "NextToken": next_token,
            "ScanDirection": scan_direction,
            "SortOrder": sort_order,
            "StartPosition": None if start_position is None else _start_position(start_position),
            "ConnectionToken": connection_token,
        }
        result: GetTranscriptResponse = await self._call(
            _OPS["GetTranscript"], params, "ConnectionToken"
        )
        return result

    async def iter_transcript(
        self,
        connection_token: str,
        *,
        contact_id: str | None = None,
        max_results: int | None = None,
        scan_direction: str | None = None,
        sort_order: str | None = None,
        start_position: StartPosition | None = None,
    ) -> AsyncIterator[Item]:
        """Yield the items of every GetTranscript page, in the order the pages give them.

        Follows ``NextToken`` until it is absent or ``""``; stops (with a warning) if the
        service hands back the token it was just given. Raises as :meth:`get_transcript`.
        """
        next_token: str | None = None
        while True:
            page = await self.get_transcript(
                connection_token,
                contact_id=contact_id,
                max_results=max_results,
                next_token=next_token,
                scan_direction=scan_direction,
                sort_order=sort_order,
                start_position=start_position,
            )
            for item in page.transcript or ():
                yield item
            if not page.next_token:
                return
            if page.next_token == next_token:
                log.warning("GetTranscript returned the same NextToken again; stopping")
                return
            next_token = page.next_token

    async def disconnect_participant(
        self, connection_token: str, *, client_token: str | None = None
    ) -> None:
        """DisconnectParticipant: leave the chat (the ConnectionToken stops working)."""
        params = {
            "ClientToken": str(uuid.uuid4()) if client_token is None else client_token,
            "ConnectionToken": connection_token,
        }
        await self._call(_OPS["DisconnectParticipant"], params, "ConnectionToken")

    async def start_attachment_upload(
        self,
        connection_token: str,
        *,
        content_type: str,
        attachment_size_in_bytes: int,
        attachment_name: str,
        client_token: str | None = None,
    ) -> StartAttachmentUploadResponse:
        """StartAttachmentUpload: get an attachment id and a presigned upload URL.

        ``content_type`` the file's MIME type (1..255), ``attachment_size_in_bytes`` the
        exact size (≥ 1 byte), ``attachment_name`` 1..256 characters. Raises
        ServiceQuotaExceededException when the chat's attachment quota is used up.
        """
        params = {
            "ContentType": content_type,
            "AttachmentSizeInBytes": attachment_size_in_bytes,
            "AttachmentName": attachment_name,
            "ClientToken": str(uuid.uuid4()) if client_token is None else client_token,
            "ConnectionToken": connection_token,
        }
        result: StartAttachmentUploadResponse = await self._call(
            _OPS["StartAttachmentUpload"], params, "ConnectionToken"
        )
        return result

    async def complete_attachment_upload(
        self,
        connection_token: str,
        *,
        attachment_ids: Sequence[str],
        client_token: str | None = None,
    ) -> CompleteAttachmentUploadResponse:
        """CompleteAttachmentUpload: publish uploaded attachments (exactly one id).

        Raises ConflictException / ServiceQuotaExceededException as the service does.
        """
        params = {
            "AttachmentIds": (
                list(attachment_ids)
                if isinstance(attachment_ids, (list, tuple))
                else attachment_ids
            ),
            "ClientToken": str(uuid.uuid4()) if client_token is None else client_token,
            "ConnectionToken": connection_token,
        }
        result: CompleteAttachmentUploadResponse = await self._call(
            _OPS["CompleteAttachmentUpload"], params, "ConnectionToken"
        )
        return result

    async def get_attachment(
        self,
        connection_token: str,
        *,
        attachment_id: str,
        url_expiry_in_seconds: int | None = None,
        url_content_disposition: str | None = None,
    ) -> GetAttachmentResponse:
        """GetAttachment: a presigned download URL (``url_expiry_in_seconds`` 5..300,
        ``url_content_disposition`` INLINE | ATTACHMENT), its expiry and the size in bytes."""
        params = {
            "AttachmentId": attachment_id,
            "ConnectionToken": connection_token,
            "UrlExpiryInSeconds": url_expiry_in_seconds,
            "UrlContentDisposition": url_content_disposition,
        }
        result: GetAttachmentResponse = await self._call(
            _OPS["GetAttachment"], params, "ConnectionToken"
        )
        return result

    async def describe_view(
        self, connection_token: str, *, view_token: str
    ) -> DescribeViewResponse:
        """DescribeView (``GET /participant/views/{ViewToken}``): a step-by-step guide view.

        Raises ResourceNotFoundException for an unknown view.
        """
        op = _OPS["DescribeView"]
        params = {"ViewToken": view_token, "ConnectionToken": connection_token}
        validate(op, params)
        path = "/participant/views/" + quote(view_token, safe="-._~")
        result: DescribeViewResponse = await self._call(op, params, "ConnectionToken", path)
        return result

    async def get_authentication_url(
        self, connection_token: str, *, session_id: str, redirect_uri: str
    ) -> GetAuthenticationUrlResponse:
        """GetAuthenticationUrl: the sign-in URL (``session_id`` 36 characters from the
        authentication.initiated event, ``redirect_uri`` 1..1024)."""
        params = {
            "SessionId": session_id,
            "RedirectUri": redirect_uri,
            "ConnectionToken": connection_token,
        }
        result: GetAuthenticationUrlResponse = await self._call(
            _OPS["GetAuthenticationUrl"], params, "ConnectionToken"
        )
        return result

    async def cancel_participant_authentication(
        self, connection_token: str, *, session_id: str
    ) -> None:
        """CancelParticipantAuthentication (``session_id`` 36 characters)."""
        params = {"SessionId": session_id, "ConnectionToken": connection_token}
        await self._call(_OPS["CancelParticipantAuthentication"], params, "ConnectionToken")

    # ------------------------------------------------------------------ attachments' bytes

    async def upload_attachment(self, upload_metadata: UploadMetadata, data: bytes) -> None:
        """PUT ``data`` to ``upload_metadata.url`` with every header of
        ``headers_to_include`` unchanged ([protocol](protocol.md#attachments)). Retried like the
        operations.

        Raises:
            InvalidParameterError: no absolute http(s) URL, or ``data`` differs from a
                Content-Length header the upload requires.
            ServiceError: the storage answered an error (e.g. 403 SignatureDoesNotMatch).
            TransportError: the network failed on every attempt.
        """
        url = upload_metadata.url
        if not url:
            raise InvalidParameterError("upload_metadata.url", "given")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidParameterError("data", "bytes", f"got {type(data).__name__}")
        headers = dict(upload_metadata.headers_to_include or {})
        for name, value in headers.items():
            if name.lower() == "content-length" and value.strip() != str(len(data)):
                raise InvalidParameterError(
                    "data",
                    f"exactly {value.strip()} bytes (the upload's Content-Length)",
                    f"got {len(data)}",
                )
        headers.setdefault("User-Agent", USER_AGENT)
        await self._send(
            "UploadAttachment",
            "PUT",
            _absolute_url("upload_metadata.url", url),
            bytes(data),
            headers,
            (),
        )

    async def download_attachment(self, url: str) -> bytes:
        """GET the bytes at a presigned ``url`` (from :meth:`get_attachment`).

        Raises InvalidParameterError (not an absolute http(s) URL), ServiceError
        (storage error answer) or TransportError.
        """
        if not url:
            raise InvalidParameterError("url", "given")
        response = await self._send(
            "DownloadAttachment",
            "GET",
            _absolute_url("url", url),
            None,
            {"User-Agent": USER_AGENT},
            (),
        )
        return response.content


def _start_position(value: StartPosition | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(value, StartPosition):
        return to_wire(value)
    if isinstance(value, Mapping):
        return value
    raise InvalidParameterError("start_position", "a StartPosition", f"got {type(value).__name__}")


def _absolute_url(field: str, url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):  # no detail: a presigned URL carries a signature
        raise InvalidParameterError(field, "an absolute http(s) URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidParameterError(field, "an absolute http(s) URL")
    return parsed
