"""Exceptions raised by the library.

Service errors ([protocol](protocol.md#rest-api)) are built from an HTTP response by
:func:`error_from_response`: the error name comes from the ``x-amzn-ErrorType``
header, else from the body's ``__type`` or ``code`` field, else from the HTTP
status. Client-side errors cover bad input, network failures and use of a
closed participant. No exception text ever contains a ParticipantToken or a
ConnectionToken.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ERROR_CLASSES",
    "AccessDeniedException",
    "ChatEndedError",
    "ConflictException",
    "InternalServerException",
    "InvalidFrameError",
    "InvalidParameterError",
    "ParticipantClosedError",
    "ParticipantError",
    "ResourceNotFoundException",
    "ServiceError",
    "ServiceQuotaExceededException",
    "ThrottlingException",
    "TransportError",
    "ValidationException",
    "error_from_response",
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

_BY_STATUS: Mapping[int, type[ServiceError]] = {
    cls.status: cls for cls in ERROR_CLASSES.values() if cls.status is not None
}

_XML_CODE = re.compile(rb"<Code>([^<]{1,128})</Code>")
_XML_MESSAGE = re.compile(rb"<Message>([^<]{0,2000})</Message>")


def error_from_response(
    status_code: int, headers: Mapping[str, str], body: bytes | str | Mapping[str, Any] | None
) -> ServiceError:
    """Build the exception for an HTTP error response of the Participant Service.

    Args:
        status_code: the HTTP status.
        headers: response headers (case-insensitive mapping such as ``httpx.Headers``
            preferred; plain dicts are searched case-insensitively).
        body: the raw body (JSON expected; XML from storage URLs is understood too)
            or an already decoded JSON object.

    Returns:
        An instance of the class named by the response (see :data:`ERROR_CLASSES`);
        for an unknown name, a plain :class:`ServiceError` with that ``code``.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    data: Mapping[str, Any] = {}
    raw: bytes = b""
    if isinstance(body, Mapping):
        data = body
    elif body:
        raw = body.encode() if isinstance(body, str) else body
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
        body_type = data.get("__type") or data.get("code") or data.get("Code")
        if isinstance(body_type, str) and body_type:
            code = body_type.rsplit("#", 1)[-1]
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

    cls: type[ServiceError]
    if code is not None:
        cls = ERROR_CLASSES.get(code, ServiceError)
    else:
        cls = _BY_STATUS.get(status_code, ServiceError)
        code = cls.__name__ if cls is not ServiceError else str(status_code)
    fields = {
        k: v for k, v in data.items() if k not in ("message", "Message", "__type", "code", "Code")
    }
    request_id = lowered.get("x-amzn-requestid") or lowered.get("x-amz-request-id")
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
    """The network failed (connect, read, timeout) and retries are exhausted."""


class ParticipantClosedError(ParticipantError):
    """A method was called on a participant that is disconnected."""


class ChatEndedError(ParticipantClosedError):
    """The chat has ended; the participant cannot be used any more."""
