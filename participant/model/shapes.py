"""Request and response shapes of the 11 Participant Service operations
([protocol](protocol.md#rest-api)).

Frozen attrs classes with the service's member names in snake_case. Tokens
(``participant_token``, ``connection_token``, ``join_token``) are hidden from ``repr``.
Timestamps (``connection_expiry``, ``expiry``, ``url_expiry``, ``absolute_time``) are the
ISO-8601 strings of the wire; :func:`participant.model.parse_absolute_time` gives epoch seconds.
Convert with :func:`participant.model.to_wire` / :func:`participant.model.from_wire`;
request wire dicts hold every member, including those sent as the ``X-Amz-Bearer``
header (``ParticipantToken``/``ConnectionToken``) or in the path (``ViewToken``).
"""

# ruff: noqa: RUF009  (attrs field helpers as defaults are intended)
from __future__ import annotations

from typing import Any

import attrs

from ._wire import extra_field, list_of, mapping, scalar, struct
from .items import Item, parse_item

__all__ = [
    "Attendee",
    "AudioFeatures",
    "CancelParticipantAuthenticationRequest",
    "CancelParticipantAuthenticationResponse",
    "CompleteAttachmentUploadRequest",
    "CompleteAttachmentUploadResponse",
    "ConnectionCredentials",
    "CreateParticipantConnectionRequest",
    "CreateParticipantConnectionResponse",
    "DescribeViewRequest",
    "DescribeViewResponse",
    "DisconnectParticipantRequest",
    "DisconnectParticipantResponse",
    "GetAttachmentRequest",
    "GetAttachmentResponse",
    "GetAuthenticationUrlRequest",
    "GetAuthenticationUrlResponse",
    "GetTranscriptRequest",
    "GetTranscriptResponse",
    "MeetingFeaturesConfiguration",
    "MessageProcessingMetadata",
    "SendEventRequest",
    "SendEventResponse",
    "SendMessageRequest",
    "SendMessageResponse",
    "StartAttachmentUploadRequest",
    "StartAttachmentUploadResponse",
    "StartPosition",
    "UploadMetadata",
    "View",
    "ViewContent",
    "WebRTCConnection",
    "WebRTCMediaPlacement",
    "WebRTCMeeting",
    "Websocket",
]


def _token() -> Any:
    return scalar(repr=False)


# --- CreateParticipantConnection -------------------------------------------------


@attrs.frozen(kw_only=True)
class CreateParticipantConnectionRequest:
    """CreateParticipantConnection input. ``type`` ⊆ {WEBSOCKET, CONNECTION_CREDENTIALS,
    WEBRTC_CONNECTION}; ``participant_token`` travels as the ``X-Amz-Bearer`` header."""

    type: tuple[str, ...] | None = list_of()
    participant_token: str | None = _token()
    connect_participant: bool | None = None
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class Websocket:
    """The websocket URL (open within 100 s) and ``connection_expiry`` (ISO-8601): when to
    call CreateParticipantConnection again for a new URL
    ([protocol](protocol.md#tokens-and-lifetimes))."""

    url: str | None = scalar(repr=False)
    connection_expiry: str | None = None
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class ConnectionCredentials:
    """The ConnectionToken (hidden from repr) and its ``expiry`` (ISO-8601, ~1 day)."""

    connection_token: str | None = _token()
    expiry: str | None = None
    extra: dict[str, Any] = extra_field(repr=False)


@attrs.frozen(kw_only=True)
class Attendee:
    """WebRTC attendee; ``join_token`` is sensitive (hidden from repr)."""

    attendee_id: str | None = None
    join_token: str | None = _token()
    extra: dict[str, Any] = extra_field(repr=False)


@attrs.frozen(kw_only=True)
class WebRTCMediaPlacement:
    """WebRTC media URLs."""

    audio_host_url: str | None = None
    audio_fallback_url: str | None = None
    signaling_url: str | None = None
    event_ingestion_url: str | None = None
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class AudioFeatures:
    """``echo_reduction``: AVAILABLE | UNAVAILABLE (others kept)."""

    echo_reduction: str | None = None
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class MeetingFeaturesConfiguration:
    """WebRTC meeting features."""

    audio: AudioFeatures | None = struct(AudioFeatures)
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class WebRTCMeeting:
    """WebRTC meeting."""

    media_placement: WebRTCMediaPlacement | None = struct(WebRTCMediaPlacement)
    meeting_features: MeetingFeaturesConfiguration | None = struct(MeetingFeaturesConfiguration)
    meeting_id: str | None = None
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class WebRTCConnection:
    """WebRTC connection data (when ``WEBRTC_CONNECTION`` was requested)."""

    attendee: Attendee | None = struct(Attendee)
    meeting: WebRTCMeeting | None = struct(WebRTCMeeting)
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class CreateParticipantConnectionResponse:
    """CreateParticipantConnection output."""

    websocket: Websocket | None = struct(Websocket)
    connection_credentials: ConnectionCredentials | None = struct(ConnectionCredentials)
    web_rtc_connection: WebRTCConnection | None = struct(WebRTCConnection, wire="WebRTCConnection")
    extra: dict[str, Any] = extra_field()


# --- SendMessage / SendEvent -----------------------------------------------------


@attrs.frozen(kw_only=True)
class SendMessageRequest:
    """SendMessage input: ``content`` 1..16384 characters, ``client_token`` ≤ 500."""

    content_type: str | None = None
    content: str | None = None
    client_token: str | None = None
    connection_token: str | None = _token()
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class MessageProcessingMetadata:
    """SendMessage's ``MessageMetadata``: PROCESSING | FAILED | REJECTED (others kept)."""

    message_processing_status: str | None = None
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class SendMessageResponse:
    """SendMessage output: the new item's ``id`` and ``absolute_time`` (ISO-8601)."""

    id: str | None = None
    absolute_time: str | None = None
    message_metadata: MessageProcessingMetadata | None = struct(MessageProcessingMetadata)
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class SendEventRequest:
    """SendEvent input: ``content_type`` 1..100, optional ``content`` 1..16384."""

    content_type: str | None = None
    content: str | None = None
    client_token: str | None = None
    connection_token: str | None = _token()
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class SendEventResponse:
    """SendEvent output: the new item's ``id`` and ``absolute_time`` (ISO-8601)."""

    id: str | None = None
    absolute_time: str | None = None
    extra: dict[str, Any] = extra_field()


# --- GetTranscript ---------------------------------------------------------------


@attrs.frozen(kw_only=True)
class StartPosition:
    """Where GetTranscript starts: exactly one of ``id`` (an item Id), ``absolute_time``
    (ISO-8601) or ``most_recent`` (0..100 items back)."""

    id: str | None = None
    absolute_time: str | None = None
    most_recent: int | None = None
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class GetTranscriptRequest:
    """GetTranscript input ([protocol](protocol.md#gettranscript))."""

    contact_id: str | None = None
    max_results: int | None = None
    next_token: str | None = None
    scan_direction: str | None = None
    sort_order: str | None = None
    start_position: StartPosition | None = struct(StartPosition)
    connection_token: str | None = _token()
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class GetTranscriptResponse:
    """GetTranscript output: typed items (see :func:`participant.model.parse_item`) and
    ``next_token`` (``""`` or absent on the last page)."""

    initial_contact_id: str | None = None
    transcript: tuple[Item, ...] | None = list_of(Item, decode=parse_item)
    next_token: str | None = None
    extra: dict[str, Any] = extra_field()


# --- DisconnectParticipant -------------------------------------------------------


@attrs.frozen(kw_only=True)
class DisconnectParticipantRequest:
    """DisconnectParticipant input."""

    client_token: str | None = None
    connection_token: str | None = _token()
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class DisconnectParticipantResponse:
    """DisconnectParticipant output (empty)."""

    extra: dict[str, Any] = extra_field()


# --- Attachments -----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class StartAttachmentUploadRequest:
    """StartAttachmentUpload input: MIME ``content_type`` 1..255, exact
    ``attachment_size_in_bytes`` ≥ 1, ``attachment_name`` 1..256, ``client_token`` 1..500."""

    content_type: str | None = None
    attachment_size_in_bytes: int | None = None
    attachment_name: str | None = None
    client_token: str | None = None
    connection_token: str | None = _token()
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class UploadMetadata:
    """Where to PUT the bytes: ``url`` (presigned, hidden from repr), ``url_expiry``
    (ISO-8601) and ``headers_to_include`` (send every one unchanged;
    [protocol](protocol.md#attachments))."""

    url: str | None = scalar(repr=False)
    url_expiry: str | None = None
    headers_to_include: dict[str, str] | None = mapping()
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class StartAttachmentUploadResponse:
    """StartAttachmentUpload output."""

    attachment_id: str | None = None
    upload_metadata: UploadMetadata | None = struct(UploadMetadata)
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class CompleteAttachmentUploadRequest:
    """CompleteAttachmentUpload input: exactly one id in ``attachment_ids``."""

    attachment_ids: tuple[str, ...] | None = list_of()
    client_token: str | None = None
    connection_token: str | None = _token()
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class CompleteAttachmentUploadResponse:
    """CompleteAttachmentUpload output (empty)."""

    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class GetAttachmentRequest:
    """GetAttachment input: ``url_expiry_in_seconds`` 5..300,
    ``url_content_disposition`` INLINE | ATTACHMENT."""

    attachment_id: str | None = None
    connection_token: str | None = _token()
    url_expiry_in_seconds: int | None = None
    url_content_disposition: str | None = None
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class GetAttachmentResponse:
    """GetAttachment output: presigned download ``url`` (hidden from repr), its
    ``url_expiry`` (ISO-8601) and ``attachment_size_in_bytes``."""

    url: str | None = scalar(repr=False)
    url_expiry: str | None = None
    attachment_size_in_bytes: int | None = None
    extra: dict[str, Any] = extra_field()


# --- Views and authentication ----------------------------------------------------


@attrs.frozen(kw_only=True)
class DescribeViewRequest:
    """DescribeView input; ``view_token`` goes in the path."""

    view_token: str | None = None
    connection_token: str | None = _token()
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class ViewContent:
    """A view's content: ``input_schema`` and ``template`` (JSON strings), ``actions``."""

    input_schema: str | None = None
    template: str | None = None
    actions: tuple[str, ...] | None = list_of()
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class View:
    """A step-by-step guide view."""

    id: str | None = None
    arn: str | None = None
    name: str | None = None
    version: int | None = None
    content: ViewContent | None = struct(ViewContent)
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class DescribeViewResponse:
    """DescribeView output."""

    view: View | None = struct(View)
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class GetAuthenticationUrlRequest:
    """GetAuthenticationUrl input: ``session_id`` exactly 36 characters,
    ``redirect_uri`` 1..1024."""

    session_id: str | None = None
    redirect_uri: str | None = None
    connection_token: str | None = _token()
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class GetAuthenticationUrlResponse:
    """GetAuthenticationUrl output."""

    authentication_url: str | None = None
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class CancelParticipantAuthenticationRequest:
    """CancelParticipantAuthentication input."""

    session_id: str | None = None
    connection_token: str | None = _token()
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class CancelParticipantAuthenticationResponse:
    """CancelParticipantAuthentication output (empty)."""

    extra: dict[str, Any] = extra_field()
