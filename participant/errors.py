"""Exceptions raised by the library.

Service errors ([protocol](protocol.md#rest-api)) are built from an HTTP response by
:func:`error_from_response`: the error name comes from the ``x-amzn-ErrorType``
header, else from the ``__type`` field of a JSON body. A response that names no
error did not come from the service (a proxy, captive portal, load balancer or
firewall, [protocol](protocol.md#errors-that-are-not-the-services)): it is an
:class:`HTTPStatusError`, a
:class:`TransportError`, never a :class:`ServiceError`. Client-side errors cover bad
input, network failures and use of a closed participant. No exception text (nor
``fields``, ``request_id``, ``code``) ever contains a ParticipantToken or a
ConnectionToken: :func:`error_from_response` replaces any token it is given.
"""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = [
    "ERROR_CLASSES",
    "AccessDeniedException",
    "CertificateError",
    "ChatEndedError",
    "ConflictException",
    "ConnectError",
    "HTTPStatusError",
    "InternalServerException",
    "InvalidFrameError",
    "InvalidParameterError",
    "ParticipantClosedError",
    "ParticipantError",
    "ResourceNotFoundException",
    "ResponseTooLargeError",
    "ServiceError",
    "ServiceQuotaExceededException",
    "ThrottlingException",
    "TimeoutException",
    "TranscriptPagingError",
    "TransportError",
    "ValidationException",
    "certificate_failure",
    "error_from_response",
    "one_line",
    "scrub",
]


class ParticipantError(Exception):
    """Base class of every exception raised by ``participant``."""


class ServiceError(ParticipantError):
    """An error answered by the service (or a storage URL) as an HTTP error response.

    Attributes:
        code: the error name, e.g. ``"ThrottlingException"`` (or the HTTP status as a
            string when the response names no error).
        message: the service's message (``message``/``Message`` in the JSON body).
        status_code: the HTTP status code.
        request_id: the ``x-amzn-RequestId`` header, if any.
        fields: every other field of the error body (e.g. ``ResourceId``, ``ResourceType``
            of ResourceNotFoundException).
    """

    status: int | None = None  # the HTTP status the service model gives this error

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        self.code: str = code or type(self).__name__
        self.message: str = message
        self.status_code: int = status_code if status_code is not None else (self.status or 0)
        self.request_id: str | None = request_id
        self.fields: dict[str, Any] = dict(fields or {})
        super().__init__(message)

    @property
    def retryable(self) -> bool:
        """True for throttling and server-side (5xx) errors, which are worth retrying."""
        return self.code == "ThrottlingException" or self.status_code >= 500

    def __str__(self) -> str:
        text = f"{self.code} (HTTP {self.status_code})"
        if self.message:
            text += f": {self.message}"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"status_code={self.status_code!r}, request_id={self.request_id!r})"
        )

    def __reduce__(self) -> Any:
        return (
            _rebuild_service_error,
            (type(self), self.message, self.code, self.status_code, self.request_id, self.fields),
        )


def _rebuild_service_error(
    cls: type[ServiceError],
    message: str,
    code: str,
    status_code: int,
    request_id: str | None,
    fields: dict[str, Any],
) -> ServiceError:
    return cls(message, code=code, status_code=status_code, request_id=request_id, fields=fields)


class AccessDeniedException(ServiceError):
    """HTTP 403: the token is invalid, expired, of the wrong kind, or the chat has ended."""

    status = 403


class ValidationException(ServiceError):
    """HTTP 400: the service rejected the request's parameters."""

    status = 400


class ThrottlingException(ServiceError):
    """HTTP 429: the request rate is over the instance's limit
    ([protocol](protocol.md#rate-limits))."""

    status = 429


class InternalServerException(ServiceError):
    """HTTP 500: the service failed."""

    status = 500


class ConflictException(ServiceError):
    """HTTP 409: e.g. a receipt in a chat with more than two participants (SendEvent)."""

    status = 409


class ServiceQuotaExceededException(ServiceError):
    """HTTP 402: a quota is exhausted (e.g. attachments per chat)."""

    status = 402


class ResourceNotFoundException(ServiceError):
    """HTTP 404: e.g. an unknown view (DescribeView). ``fields`` may hold ResourceId/Type."""

    status = 404


ERROR_CLASSES: Mapping[str, type[ServiceError]] = {
    cls.__name__: cls
    for cls in (
        AccessDeniedException,
        ValidationException,
        ThrottlingException,
        InternalServerException,
        ConflictException,
        ServiceQuotaExceededException,
        ResourceNotFoundException,
    )
}
"""Error name (as in the service model) -> exception class."""

_XML_CODE = re.compile(rb"<Error>.{0,2000}?<Code>([^<]{1,128})</Code>", re.DOTALL)
_XML_MESSAGE = re.compile(rb"<Message>([^<]{0,2000})</Message>")
_REDACTED: Final = "<redacted>"
_MIN_SECRET: Final = 8
_RETRYABLE_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


def scrub(value: Any, secrets: Sequence[str | None]) -> Any:
    """``value`` with every occurrence of each secret replaced by ``<redacted>``:
    strings, and the keys and values of dicts and lists, recursively. Secrets shorter
    than 8 characters are no real tokens (those are hundreds long) and are left alone:
    replacing them would garble the text."""
    if isinstance(value, str):
        for secret in secrets:
            if secret and len(secret) >= _MIN_SECRET and secret in value:
                value = value.replace(secret, _REDACTED)
        return value
    if isinstance(value, Mapping):
        return {scrub(k, secrets): scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    return value


def describe_reached(host: str | None, headers: Mapping[str, str]) -> str:
    """A short description of what answered: the host, the response's Content-Type and
    ``Server`` header (printable ASCII, at most 64 characters each). Never the body."""
    lowered = headers if hasattr(headers, "multi_items") else _lower(headers)

    def short(value: str | None) -> str:
        return _UNPRINTABLE.sub("?", value or "")[:64]

    parts = [f"host {short(host) or '?'}"]
    parts.append(f"Content-Type {short(lowered.get('content-type')) or 'none'}")
    server = short(lowered.get("server"))
    if server:
        parts.append(f"Server {server}")
    return ", ".join(parts)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def error_from_response(
    status_code: int,
    headers: Mapping[str, str],
    body: bytes | str | Mapping[str, Any] | None,
    *,
    operation: str = "",
    host: str | None = None,
    secrets: Sequence[str | None] = (),
) -> ServiceError | HTTPStatusError:
    """Build the exception for an HTTP error response ([protocol](protocol.md#rest-api), §10).

    Args:
        status_code: the HTTP status.
        headers: response headers (case-insensitive mapping such as ``httpx.Headers``
            preferred; plain dicts are searched case-insensitively).
        body: the raw body (JSON expected; an S3-style XML ``<Error><Code>`` from
            storage URLs is understood too) or an already decoded JSON object.
        operation: the operation's name, for :class:`HTTPStatusError`.
        host: the host that was reached, for :class:`HTTPStatusError`.
        secrets: tokens in use: every occurrence in the exception's fields is replaced
            by ``<redacted>``.

    Returns:
        When the response names its error (``x-amzn-ErrorType`` header, else ``__type``
        in a JSON object body, else an XML ``<Error><Code>``): an instance of the class
        of that name (see :data:`ERROR_CLASSES`), or a plain :class:`ServiceError` with
        that ``code`` for an unknown name. Otherwise an :class:`HTTPStatusError`: the
        answer of something that is not the service (a bare 403, a proxy's 407, a load
        balancer's 502), never an AccessDeniedException.
    """
    lowered = _lower(headers)
    data: Mapping[str, Any] = {}
    raw: bytes = b""
    if isinstance(body, Mapping):
        data = body
    elif body:
        raw = body.encode() if isinstance(body, str) else body
        if raw[:1] in (b"{", b" ", b"\n", b"\r", b"\t"):
            try:
                decoded = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                decoded = None
            if isinstance(decoded, dict):
                data = decoded

    code: str | None = None
    header_type = lowered.get("x-amzn-errortype")
    if header_type:
        code = header_type.split(":", 1)[0].strip() or None
    if code is None:
        body_type = data.get("__type")
        if isinstance(body_type, str) and body_type:
            code = body_type.rsplit("#", 1)[-1].split(":", 1)[0].strip() or None
    message = data.get("message", data.get("Message", ""))
    if not isinstance(message, str):
        message = str(message)
    if code is None and raw and not data:
        xml_code = _XML_CODE.search(raw)
        if xml_code:
            code = xml_code.group(1).decode(errors="replace")
            xml_message = _XML_MESSAGE.search(raw)
            if xml_message and not message:
                message = xml_message.group(1).decode(errors="replace")

    if code is None:
        return HTTPStatusError(
            status_code,
            operation=operation,
            reached=scrub(describe_reached(host, lowered), secrets),
        )
    cls = ERROR_CLASSES.get(code, ServiceError)
    fields = {k: v for k, v in data.items() if k not in ("message", "Message", "__type")}
    request_id = lowered.get("x-amzn-requestid") or lowered.get("x-amz-request-id")
    if secrets:
        code = scrub(code, secrets)
        message = scrub(message, secrets)
        request_id = scrub(request_id, secrets)
        fields = scrub(fields, secrets)
    return cls(message, code=code, status_code=status_code, request_id=request_id, fields=fields)


class InvalidParameterError(ParticipantError, ValueError):
    """A parameter broke a constraint of the service model; nothing was sent.

    Attributes:
        field: the parameter's name (snake_case, e.g. ``"content"``, ``"start_position.id"``).
        limit: the constraint broken, e.g. ``"length 1..16384"``, ``"one of FORWARD, BACKWARD"``.
    """

    def __init__(self, field: str, limit: str, detail: str = "") -> None:
        self.field = field
        self.limit = limit
        self.detail = detail
        text = f"invalid {field}: must be {limit}"
        if detail:
            text += f" ({detail})"
        super().__init__(text)


class InvalidFrameError(ParticipantError, ValueError):
    """A websocket frame or item could not be decoded (logged and skipped by the socket)."""


class TransportError(ParticipantError):
    """The network failed (connect, read, timeout) and retries are exhausted, or what
    answered was not the service (:class:`HTTPStatusError`).

    Attributes:
        retryable: whether trying again later may succeed (True for network failures).
    """

    retryable: bool = True


class HTTPStatusError(TransportError):
    """An HTTP answer that did not come from the service
    ([protocol](protocol.md#errors-that-are-not-the-services)): no
    ``x-amzn-ErrorType`` header and no ``__type`` in a JSON body — a proxy (407), a
    captive portal (an HTML 200), a firewall's bare 403, a load balancer's 502, a plain
    web server at a wrong endpoint (404, 501) — or a 2xx whose body is not the JSON
    object the operation returns. Named as httpx's exception for a bad status.

    Never a :class:`ServiceError`: a bare 403 is not AccessDeniedException and does not
    mean the chat is over.

    Attributes:
        status_code: the HTTP status.
        operation: the operation (e.g. ``"SendMessage"``), ``""`` if unknown.
        reached: what answered: host, Content-Type and Server header (never the body,
            never a token).
        problem: what was wrong, e.g. ``"no x-amzn-ErrorType"``.
        retryable: True for 408, 429, 500, 502, 503 and 504 (transient trouble of a
            proxy or load balancer in front of the service); the client retries those
            with its :class:`~participant.api.RetryPolicy` first.
    """

    def __init__(
        self,
        status_code: int,
        *,
        operation: str = "",
        reached: str = "",
        problem: str = "",
    ) -> None:
        self.status_code = status_code
        self.operation = operation
        self.reached = reached
        self.problem = problem or (
            "not an answer of the Amazon Connect Participant Service (expected a JSON "
            "answer, errors named by x-amzn-ErrorType; this one names none)"
        )
        self.retryable = status_code in _RETRYABLE_STATUSES
        text = f"{operation}: " if operation else ""
        text += f"HTTP {status_code}"
        if reached:
            text += f" from {reached}"
        text += f": {self.problem}; check the endpoint URL, proxy and network"
        super().__init__(text)

    def __reduce__(self) -> Any:
        return (
            _rebuild_http_status_error,
            (self.status_code, self.operation, self.reached, self.problem),
        )


class ConnectError(TransportError):
    """Every attempt failed to connect: the host name did not resolve, the port refused,
    the TLS handshake failed (e.g. ``https://`` to a plain-HTTP port). The text names the
    host and what failed. Named as httpx's exception."""


class TimeoutException(TransportError):
    """Every attempt ran out of time: httpx's connect/read/write/pool timeout, or the
    client's total deadline per attempt (``attempt_timeout``) for sending the request
    and reading the whole response. Named as httpx's timeout exception."""


class ResponseTooLargeError(TransportError):
    """A response body is larger than the client's cap; the rest is not read and the
    request is not retried.

    Attributes:
        operation: the operation (e.g. ``"GetTranscript"``).
        limit: the cap in bytes (``max_response_bytes`` or, for attachment downloads,
            ``max_download_bytes`` of :class:`~participant.api.ParticipantClient`).
    """

    retryable = False

    def __init__(self, operation: str, limit: int, setting: str = "max_response_bytes") -> None:
        self.operation = operation
        self.limit = limit
        self.setting = setting
        super().__init__(
            f"{operation}: the response body is larger than {setting} ({limit} bytes)"
        )

    def __reduce__(self) -> Any:
        return (type(self), (self.operation, self.limit, self.setting))


def _rebuild_http_status_error(
    status_code: int, operation: str, reached: str, problem: str
) -> HTTPStatusError:
    return HTTPStatusError(status_code, operation=operation, reached=reached, problem=problem)


class TranscriptPagingError(ParticipantError):
    """GetTranscript paging went wrong: a NextToken came back that was already followed
    (a repeated or cycling token), or a bound of the pager was reached (``max_pages``,
    ``max_items`` of :meth:`~participant.api.ParticipantClient.iter_transcript_pages`).
    The NextToken itself is never shown.

    Attributes:
        reason: ``"repeated_token"``, ``"max_pages"`` or ``"max_items"``.
        pages: pages fetched so far; items: items yielded so far (or received, for
            ``max_items``).
    """

    def __init__(self, reason: str, *, pages: int, items: int, detail: str) -> None:
        self.reason = reason
        self.pages = pages
        self.items = items
        super().__init__(f"GetTranscript paging stopped after {pages} page(s): {detail}")

    def __reduce__(self) -> Any:
        return (_rebuild_paging_error, (self.reason, self.pages, self.items, self.args[0]))


def _rebuild_paging_error(reason: str, pages: int, items: int, text: str) -> TranscriptPagingError:
    err = TranscriptPagingError(reason, pages=pages, items=items, detail="")
    err.args = (text,)
    return err


class CertificateError(TransportError):
    """The server's TLS certificate failed verification (an unknown CA, another host
    name, expired): raised at once, without retries (trying again cannot help), by REST
    calls and by opening the websocket. The message gives the verifier's reason."""


def certificate_failure(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The :class:`ssl.SSLCertVerificationError` behind ``exc`` (its cause/context
    chain, exception groups included), or ``None``."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                todo.append(linked)
    return None


class ParticipantClosedError(ParticipantError):
    """A method was called on a participant that is disconnected."""


class ChatEndedError(ParticipantClosedError):
    """The chat has ended; the participant cannot be used any more."""


def one_line(exc: BaseException) -> str:
    """``exc`` as one line for a person, e.g. a program's ``error: ...`` message: an
    exception group (trio nests errors in them) by its first leaf; a
    :class:`ParticipantError` by the first line of its message (it names the operation
    and never a token); an :class:`OSError` by its file name and ``strerror``; anything
    else as ``Type: first line``."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    if isinstance(exc, OSError) and exc.strerror:
        if exc.filename:
            return f"{exc.filename}: {exc.strerror}"
        return f"{type(exc).__name__}: {exc.strerror}"
    lines = str(exc).strip().splitlines()
    detail = lines[0] if lines else ""
    if isinstance(exc, ParticipantError):
        return detail or type(exc).__name__
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
