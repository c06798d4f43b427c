"""Configuration of the emulator: every lifetime and limit of the service, with its defaults.

Units: seconds for durations, bytes for sizes, requests per second for rate limits.
Sources: [protocol](protocol.md): lifetimes, attachments, rate limits.
"""

from __future__ import annotations

import attrs

#: [protocol](protocol.md#rate-limits): (steady, burst) requests per second per instance and
#: operation.
DEFAULT_RATE_LIMITS: dict[str, tuple[float, int]] = {
    "CreateParticipantConnection": (6.0, 9),
    "DisconnectParticipant": (3.0, 5),
    "GetTranscript": (8.0, 12),
    "GetAttachment": (8.0, 12),
    "SendMessage": (10.0, 15),
    "SendEvent": (10.0, 15),
    "StartAttachmentUpload": (2.0, 5),
    "CompleteAttachmentUpload": (2.0, 5),
    "StartChatContact": (5.0, 8),
}

#: [protocol](protocol.md#attachments): file name extensions accepted by StartAttachmentUpload.
DEFAULT_ATTACHMENT_EXTENSIONS: frozenset[str] = frozenset(
    ".csv .doc .docx .heic .jfif .jpeg .jpg .mov .mp4 .pdf .png .ppt .pptx .rtf .txt .wav"
    " .xls .xlsx".split()
)


@attrs.frozen(kw_only=True)
class EmulatorConfig:
    """Lifetimes and limits of the emulated service (defaults: the service's values).

    Attributes (seconds unless stated):
        url_open_window: a websocket URL must be opened within this time (§2: 100 s).
        connection_expiry: the server closes a websocket this long after its URL was issued;
            returned as ``Websocket.ConnectionExpiry`` (§2: about an hour).
        connection_token_ttl: lifetime of a ConnectionToken (``ConnectionCredentials.Expiry``,
            §2: 1 day).
        participant_token_first_use_window: CreateParticipantConnection must first be called
            within this time of the participant joining (§2: 5 minutes); ``None`` disables it.
        max_sockets_per_participant: open websockets per participant (§2: 5); one more is refused.
        rate_limits: apply the per-instance token buckets of ``rate_limit_table`` (§8).
        rate_limit_table: operation -> (steady per second, burst).
        default_chat_duration_minutes: ChatDurationInMinutes when not given (§7: 1500).
        max_message_bytes: Content limit of SendMessage/SendEvent (16384; SendMessage also
            counts it in bytes of UTF-8, as the API reference does).
        max_attachment_bytes: largest attachment (§6: 20 MB).
        max_attachments_per_chat: attachments per contact (§6: 35).
        attachment_extensions: accepted file name extensions (§6).
        upload_url_ttl: lifetime of an upload URL from StartAttachmentUpload.
        default_attachment_url_expiry: GetAttachment's UrlExpiryInSeconds when not given.
        attachment_scan_delay: ``None``: no scanner, attachments are APPROVED at completion;
            a number: the scanner is on, the ATTACHMENT item says IN_PROGRESS and the same
            item (same Id) comes again with ``attachment_scan_verdict`` after that delay.
        attachment_scan_verdict: the scanner's verdict, ``"APPROVED"`` or ``"REJECTED"``
            (a REJECTED attachment cannot be downloaded: GetAttachment refuses it).
        message_processing_delay: with a message processor (``Emulator.message_processor``),
            how long a message stays PROCESSING before the processed item is sent.
        customer_idle_timeout, agent_idle_timeout: a CUSTOMER / AGENT that sends no message
            for this long is marked idle (``participant.idle``); ``None``: no such timer.
            UpdateParticipantRoleConfig's IDLE timer, in seconds (the service takes 2..480
            minutes).
        customer_auto_disconnect_timeout, agent_auto_disconnect_timeout: the
            DISCONNECT_NONCUSTOMER timer: after this long (counted from the idle event when
            there is an idle timer, else from the last message) ``participant.autodisconnection``
            is emitted and the agent (and custom bot) is disconnected; ``None``: no such timer.
        authentication_url_window: GetAuthenticationUrl works this long after the
            authentication.initiated event (§1: a minute).
        authentication_timeout: an authentication session neither completed nor cancelled
            this long after authentication.initiated emits authentication.timeout; ``None``
            never times out. Default 180 s: the service publishes no figure; the sign-in page
            is an Amazon Cognito hosted sign-in, whose authentication sessions last 3 minutes
            by default (``AuthSessionValidity``). This is the emulator's choice, not a
            documented service value.
        max_request_bytes: largest REST/admin request body (bytes); a larger one gets 413
            ValidationException before it is read. Attachment uploads (the presigned PUT)
            are bounded by ``max_attachment_bytes`` instead (400 EntityTooLarge).
        max_json_depth: deepest nesting of arrays/objects in a request body or websocket
            frame; deeper is a 400 ValidationException (an error frame on the websocket).
        request_body_timeout: a request body not complete this long after its headers gets
            408 RequestTimeout and the connection is closed.
        connection_idle_timeout: on loopback, a connection (HTTP or websocket) that sends
            nothing for this long is closed (hypercorn's ``read_timeout``; API Gateway's
            websocket idle timeout is 10 minutes).
        max_frame_bytes: largest websocket message a client may send; a larger one closes
            the socket with 1009 (message too big).
        max_socket_queue: frames queued for one socket that the client has not taken; one
            more closes that socket (1008, "send queue full"), as a server drops a client
            that does not keep up, instead of holding memory without end.
        transcript_cursor_ttl: a GetTranscript NextToken works this long (the service does
            not document a lifetime).
        idempotency_ttl: a ClientToken's answer is kept this long (at least the service's
            window, which the Participant Service API reference does not give; Amazon's
            SDKs treat ClientTokens as valid for a day); everything of an ended chat is
            freed sooner, since its tokens no longer work.
        sweep_interval: how often expired tokens, URLs, cursors and idempotency keys are
            freed (lazily, on the next request).
        last_page_next_token: NextToken of a transcript's last page: ``""`` (as the service
            may send, §5) or ``None`` to leave it out.
        transcript_includes_typing: whether typing events are stored in the transcript
            (the service only streams them).
        default_instance_id: InstanceId of chats started from Python without one.
    """

    url_open_window: float = 100.0
    connection_expiry: float = 3600.0
    connection_token_ttl: float = 86400.0
    participant_token_first_use_window: float | None = 300.0
    max_sockets_per_participant: int = 5
    rate_limits: bool = True
    rate_limit_table: dict[str, tuple[float, int]] = attrs.field(
        factory=lambda: dict(DEFAULT_RATE_LIMITS)
    )
    default_chat_duration_minutes: int = 1500
    max_message_bytes: int = 16384
    max_attachment_bytes: int = 20 * 1024 * 1024
    max_attachments_per_chat: int = 35
    attachment_extensions: frozenset[str] = DEFAULT_ATTACHMENT_EXTENSIONS
    upload_url_ttl: float = 300.0
    default_attachment_url_expiry: int = 300
    attachment_scan_delay: float | None = None
    attachment_scan_verdict: str = attrs.field(
        default="APPROVED", validator=attrs.validators.in_(("APPROVED", "REJECTED"))
    )
    message_processing_delay: float = 0.5
    customer_idle_timeout: float | None = None
    customer_auto_disconnect_timeout: float | None = None
    agent_idle_timeout: float | None = None
    agent_auto_disconnect_timeout: float | None = None
    authentication_url_window: float = 60.0
    authentication_timeout: float | None = 180.0
    max_request_bytes: int = 256 * 1024
    max_json_depth: int = 32
    request_body_timeout: float = 10.0
    connection_idle_timeout: float = 600.0
    max_frame_bytes: int = 128 * 1024
    max_socket_queue: int = 1000
    transcript_cursor_ttl: float = 3600.0
    idempotency_ttl: float = 86400.0
    sweep_interval: float = 60.0
    last_page_next_token: str | None = ""
    transcript_includes_typing: bool = False
    default_instance_id: str = "00000000-0000-4000-8000-000000000000"
