"""The 11 operations: HTTP binding and input constraints ([protocol](protocol.md#rest-api)).

:data:`OPERATIONS` maps each operation name to its method, path, request/response
classes and input members with the service model's constraints (required, length
and value ranges, enums the service enforces). :func:`validate` checks a request's
wire parameters against them; the client calls it before sending and the emulator
may use it to answer ValidationException. A test checks these constants against
botocore's model of the service.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from ..errors import InvalidParameterError
from . import shapes

__all__ = ["OPERATIONS", "Member", "Operation", "snake_name", "validate", "validate_member"]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_name(wire: str) -> str:
    """``UrlExpiryInSeconds`` -> ``url_expiry_in_seconds``, ``WebRTCConnection`` ->
    ``web_rtc_connection``."""
    return _CAMEL.sub("_", wire).lower()


@attrs.frozen
class Member:
    """One input member. ``kind``: string | integer | long | boolean | list | structure.
    ``min``/``max`` bound a string's or list's length or a number's value.
    ``max_bytes``: a string's limit in bytes of UTF-8, where the API reference gives one
    on top of the model's length (SendMessage Content: 16384 bytes).
    ``location``: body | header (``X-Amz-Bearer``) | uri (path label).
    ``header_safe``: a string that is sent in (or becomes) an HTTP header value — the
    tokens, an attachment's ContentType — must be printable ASCII: no CR/LF, no other
    control character, no non-ASCII character."""

    wire: str
    kind: str
    required: bool = False
    min: int | None = None
    max: int | None = None
    max_bytes: int | None = None
    enum: frozenset[str] | None = None
    location: str = "body"
    idempotency_token: bool = False
    member: Member | None = None
    members: tuple[Member, ...] = ()
    exactly_one: bool = False
    header_safe: bool = False
    param: str = attrs.field(
        init=False, default=attrs.Factory(lambda s: snake_name(s.wire), takes_self=True)
    )

    def limit(self) -> str:
        """The constraint as text, e.g. ``"a string of length 1..16384"``."""
        if self.enum is not None:
            return "one of " + ", ".join(sorted(self.enum))
        bounds = _bounds(self.min, self.max)
        if self.kind == "string":
            return f"a string of length {bounds}" if bounds else "a string"
        if self.kind in ("integer", "long"):
            return f"an integer in {bounds}" if bounds else "an integer"
        if self.kind == "boolean":
            return "a boolean"
        if self.kind == "list":
            return f"a list of {bounds} items" if bounds else "a list"
        return "an object"


def _bounds(lo: int | None, hi: int | None) -> str:
    if lo is None and hi is None:
        return ""
    if hi is None:
        return f"{lo}.."
    if lo is None:
        return f"..{hi}"
    return f"{lo}..{hi}"


@attrs.frozen
class Operation:
    """An operation's binding: ``method`` and ``path`` (``{ViewToken}`` is a label),
    its input members, the request/response classes and the error names it may raise."""

    name: str
    method: str
    path: str
    members: tuple[Member, ...]
    request: type[Any]
    response: type[Any]
    errors: tuple[str, ...]


def _s(wire: str, lo: int | None = None, hi: int | None = None, **kw: Any) -> Member:
    return Member(wire, "string", min=lo, max=hi, **kw)


def _token(wire: str = "ConnectionToken") -> Member:
    return Member(
        wire, "string", required=True, min=1, max=1000, location="header", header_safe=True
    )


_CONTENT: Final = (1, 16384)
_BASE_ERRORS: Final = (
    "AccessDeniedException",
    "InternalServerException",
    "ThrottlingException",
    "ValidationException",
)

OPERATIONS: Mapping[str, Operation] = {
    op.name: op
    for op in (
        Operation(
            "CreateParticipantConnection",
            "POST",
            "/participant/connection",
            (
                Member(
                    "Type",
                    "list",
                    min=1,
                    member=Member(
                        "ConnectionType",
                        "string",
                        enum=frozenset(
                            {"WEBSOCKET", "CONNECTION_CREDENTIALS", "WEBRTC_CONNECTION"}
                        ),
                    ),
                ),
                _token("ParticipantToken"),
                Member("ConnectParticipant", "boolean"),
            ),
            shapes.CreateParticipantConnectionRequest,
            shapes.CreateParticipantConnectionResponse,
            _BASE_ERRORS,
        ),
        Operation(
            "SendMessage",
            "POST",
            "/participant/message",
            (
                _s("ContentType", 1, 100, required=True),
                _s("Content", *_CONTENT, required=True, max_bytes=_CONTENT[1]),
                _s("ClientToken", None, 500, idempotency_token=True),
                _token(),
            ),
            shapes.SendMessageRequest,
            shapes.SendMessageResponse,
            _BASE_ERRORS,
        ),
        Operation(
            "SendEvent",
            "POST",
            "/participant/event",
            (
                _s("ContentType", 1, 100, required=True),
                _s("Content", *_CONTENT),
                _s("ClientToken", None, 500, idempotency_token=True),
                _token(),
            ),
            shapes.SendEventRequest,
            shapes.SendEventResponse,
            (*_BASE_ERRORS, "ConflictException"),
        ),
        Operation(
            "GetTranscript",
            "POST",
            "/participant/transcript",
            (
                _s("ContactId", 1, 256),
                Member("MaxResults", "integer", min=0, max=100),
                _s("NextToken", 1, 1000),
                _s("ScanDirection", enum=frozenset({"FORWARD", "BACKWARD"})),
                _s("SortOrder", enum=frozenset({"DESCENDING", "ASCENDING"})),
                Member(
                    "StartPosition",
                    "structure",
                    exactly_one=True,
                    members=(
                        _s("Id", 1, 256),
                        _s("AbsoluteTime", 1, 100),
                        Member("MostRecent", "integer", min=0, max=100),
                    ),
                ),
                _token(),
            ),
            shapes.GetTranscriptRequest,
            shapes.GetTranscriptResponse,
            _BASE_ERRORS,
        ),
        Operation(
            "DisconnectParticipant",
            "POST",
            "/participant/disconnect",
            (_s("ClientToken", None, 500, idempotency_token=True), _token()),
            shapes.DisconnectParticipantRequest,
            shapes.DisconnectParticipantResponse,
            _BASE_ERRORS,
        ),
        Operation(
            "StartAttachmentUpload",
            "POST",
            "/participant/start-attachment-upload",
            (
                _s("ContentType", 1, 255, required=True, header_safe=True),
                Member("AttachmentSizeInBytes", "long", required=True, min=1),
                _s("AttachmentName", 1, 256, required=True),
                _s("ClientToken", 1, 500, required=True, idempotency_token=True),
                _token(),
            ),
            shapes.StartAttachmentUploadRequest,
            shapes.StartAttachmentUploadResponse,
            (*_BASE_ERRORS, "ServiceQuotaExceededException"),
        ),
        Operation(
            "CompleteAttachmentUpload",
            "POST",
            "/participant/complete-attachment-upload",
            (
                Member(
                    "AttachmentIds",
                    "list",
                    required=True,
                    min=1,
                    max=1,
                    member=_s("ArtifactId", 1, 256),
                ),
                _s("ClientToken", 1, 500, required=True, idempotency_token=True),
                _token(),
            ),
            shapes.CompleteAttachmentUploadRequest,
            shapes.CompleteAttachmentUploadResponse,
            (*_BASE_ERRORS, "ServiceQuotaExceededException", "ConflictException"),
        ),
        Operation(
            "GetAttachment",
            "POST",
            "/participant/attachment",
            (
                _s("AttachmentId", 1, 256, required=True),
                _token(),
                Member("UrlExpiryInSeconds", "integer", min=5, max=300),
                _s("UrlContentDisposition", enum=frozenset({"INLINE", "ATTACHMENT"})),
            ),
            shapes.GetAttachmentRequest,
            shapes.GetAttachmentResponse,
            _BASE_ERRORS,
        ),
        Operation(
            "DescribeView",
            "GET",
            "/participant/views/{ViewToken}",
            (_s("ViewToken", 1, 1000, required=True, location="uri"), _token()),
            shapes.DescribeViewRequest,
            shapes.DescribeViewResponse,
            (*_BASE_ERRORS, "ResourceNotFoundException"),
        ),
        Operation(
            "GetAuthenticationUrl",
            "POST",
            "/participant/authentication-url",
            (
                _s("SessionId", 36, 36, required=True),
                _s("RedirectUri", 1, 1024, required=True),
                _token(),
            ),
            shapes.GetAuthenticationUrlRequest,
            shapes.GetAuthenticationUrlResponse,
            _BASE_ERRORS,
        ),
        Operation(
            "CancelParticipantAuthentication",
            "POST",
            "/participant/cancel-authentication",
            (_s("SessionId", 36, 36, required=True), _token()),
            shapes.CancelParticipantAuthenticationRequest,
            shapes.CancelParticipantAuthenticationResponse,
            _BASE_ERRORS,
        ),
    )
}
"""Operation name -> :class:`Operation`."""


def validate_member(member: Member, value: Any, field: str | None = None) -> None:
    """Check one value against ``member``'s constraints (``None`` = not given).

    Raises:
        InvalidParameterError: naming ``field`` (default: the member's snake_case name)
            and the limit. The message never contains the value of a string that is
            not an enum (it could be a token).
    """
    name = field or member.param
    if value is None:
        if member.required:
            raise InvalidParameterError(name, "given (it is required)")
        return
    kind = member.kind
    if kind == "string":
        if not isinstance(value, str):
            raise InvalidParameterError(name, "a string", f"got {type(value).__name__}")
        if member.header_safe and not (value.isascii() and value.isprintable()):
            raise InvalidParameterError(
                name, "printable ASCII (it is sent as an HTTP header: no CR, LF, other "
                "control or non-ASCII characters)"
            )
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidParameterError(
                    name, "valid Unicode text (no lone surrogates)"
                ) from None
        if member.enum is not None:
            if value not in member.enum:
                raise InvalidParameterError(name, member.limit(), f"got {value[:64]!r}")
            return
        n = len(value)
        if (member.min is not None and n < member.min) or (
            member.max is not None and n > member.max
        ):
            raise InvalidParameterError(name, member.limit(), f"got length {n}")
        limit_bytes = member.max_bytes
        # A UTF-8 character is at most 4 bytes: only long strings need encoding.
        if limit_bytes is not None and n > limit_bytes // 4:
            size = len(value.encode("utf-8"))
            if size > limit_bytes:
                raise InvalidParameterError(
                    name, f"at most {limit_bytes} bytes of UTF-8", f"got {size} bytes"
                )
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidParameterError(name, member.limit(), f"got {type(value).__name__}")
        if (member.min is not None and value < member.min) or (
            member.max is not None and value > member.max
        ):
            raise InvalidParameterError(name, member.limit(), f"got {value}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidParameterError(name, "a boolean", f"got {type(value).__name__}")
    elif kind == "list":
        if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
            raise InvalidParameterError(name, member.limit(), f"got {type(value).__name__}")
        n = len(value)
        if (member.min is not None and n < member.min) or (
            member.max is not None and n > member.max
        ):
            raise InvalidParameterError(name, member.limit(), f"got {n} items")
        if member.member is not None:
            for i, element in enumerate(value):
                if element is None:
                    raise InvalidParameterError(f"{name}[{i}]", member.member.limit())
                validate_member(member.member, element, f"{name}[{i}]")
    elif kind == "structure":
        if not isinstance(value, Mapping):
            raise InvalidParameterError(name, "an object", f"got {type(value).__name__}")
        given = 0
        for sub in member.members:
            sub_value = value.get(sub.wire)
            if sub_value is not None:
                given += 1
            validate_member(sub, sub_value, f"{name}.{sub.param}")
        if member.exactly_one and given != 1:
            choices = ", ".join(sub.param for sub in member.members)
            raise InvalidParameterError(name, f"exactly one of {choices}", f"got {given}")


def validate(operation: str | Operation, params: Mapping[str, Any]) -> None:
    """Check an operation's input, given as wire names -> values (``None`` = absent).

    Raises:
        InvalidParameterError: the first member that breaks a constraint.
        KeyError: unknown operation name.
    """
    op = OPERATIONS[operation] if isinstance(operation, str) else operation
    for member in op.members:
        validate_member(member, params.get(member.wire))
