"""Chat state of the emulated Participant Service, independent of any transport.

Everything here works on plain wire dicts (PascalCase JSON, [protocol](protocol.md#rest-api),
[protocol](protocol.md#items)) and shares
no logic with the client. ``ChatService.call(operation, token, body, base_url)`` runs one
REST operation of the Participant Service; ``start_chat_contact`` runs the Connect API's
StartChatContact. Errors are raised as :class:`ApiError` (code, HTTP status, message).
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import json
import logging
import math
import posixpath
import secrets
import urllib.parse
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs
import trio

from participant.emulator._wire import (
    WallClock,
    format_timestamp,
    new_id,
    new_secret,
    parse_timestamp,
)
from participant.emulator.config import EmulatorConfig

log = logging.getLogger("participant.emulator")

JSON = dict[str, Any]

EVENT_PREFIX = "application/vnd.amazonaws.connect.event."
CT_TYPING = EVENT_PREFIX + "typing"
CT_DELIVERED = EVENT_PREFIX + "message.delivered"
CT_READ = EVENT_PREFIX + "message.read"
CT_METADATA = EVENT_PREFIX + "message.metadata"
CT_CONNECTION_ACK = EVENT_PREFIX + "connection.acknowledged"
CT_JOINED = EVENT_PREFIX + "participant.joined"
CT_LEFT = EVENT_PREFIX + "participant.left"
CT_CHAT_ENDED = EVENT_PREFIX + "chat.ended"
CT_TRANSFER_SUCCEEDED = EVENT_PREFIX + "transfer.succeeded"
CT_TRANSFER_FAILED = EVENT_PREFIX + "transfer.failed"
CT_AUTH_INITIATED = EVENT_PREFIX + "authentication.initiated"
CT_AUTH_CANCELLED = EVENT_PREFIX + "authentication.cancelled"
CT_AUTH_SUCCEEDED = EVENT_PREFIX + "authentication.succeeded"
CT_AUTH_FAILED = EVENT_PREFIX + "authentication.failed"
CT_AUTH_TIMEOUT = EVENT_PREFIX + "authentication.timeout"
CT_AUTH_EXPIRED = EVENT_PREFIX + "authentication.expired"
CT_IDLE = EVENT_PREFIX + "participant.idle"
CT_RETURNED = EVENT_PREFIX + "participant.returned"
CT_AUTODISCONNECTION = EVENT_PREFIX + "participant.autodisconnection"
CT_INTERACTIVE = "application/vnd.amazonaws.connect.message.interactive"
CT_INTERACTIVE_RESPONSE = "application/vnd.amazonaws.connect.message.interactive.response"

#: SendMessage content types. Content is limited to ``EmulatorConfig.max_message_bytes``
#: (16,384 bytes of UTF-8 for every type: the SendMessage API reference and
#: [protocol](protocol.md#rest-api);
#: older references gave 1024 characters for text and 12000 for JSON).
MESSAGE_CONTENT_TYPES = frozenset(
    {"text/plain", "text/markdown", "application/json", CT_INTERACTIVE_RESPONSE}
)
#: SendEvent content types.
EVENT_CONTENT_TYPES = frozenset({CT_TYPING, CT_DELIVERED, CT_READ, CT_CONNECTION_ACK})
ROLES = frozenset({"CUSTOMER", "AGENT", "CUSTOM_BOT", "SUPERVISOR"})
CONNECTION_TYPES = frozenset({"WEBSOCKET", "CONNECTION_CREDENTIALS", "WEBRTC_CONNECTION"})

OPERATIONS = (
    "CreateParticipantConnection",
    "SendMessage",
    "SendEvent",
    "GetTranscript",
    "DisconnectParticipant",
    "StartAttachmentUpload",
    "CompleteAttachmentUpload",
    "GetAttachment",
    "DescribeView",
    "GetAuthenticationUrl",
    "CancelParticipantAuthentication",
    "StartChatContact",
)

STATUS_BY_CODE = {
    "AccessDeniedException": 403,
    "ValidationException": 400,
    "ThrottlingException": 429,
    "InternalServerException": 500,
    "ConflictException": 409,
    "ServiceQuotaExceededException": 402,
    "ResourceNotFoundException": 404,
    # Connect API (StartChatContact)
    "InvalidRequestException": 400,
    "InvalidParameterException": 400,
    "LimitExceededException": 429,
    "InternalServiceException": 500,
}


class ApiError(Exception):
    """An error answer of the service: ``code`` (x-amzn-ErrorType), ``status`` and ``message``."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status if status is not None else STATUS_BY_CODE.get(code, 400)


def _shown(value: object) -> str:
    """A value as the service's validation messages quote it (``null`` when missing; long
    text cut at 200 characters)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 200 else text[:200] + "..."


def _validation(field: str, value: object, constraint: str) -> ApiError:
    """A ValidationException as the service words it: ``1 validation error detected: Value
    '<value>' at '<field>' failed to satisfy constraint: <constraint>``."""
    shown = _shown(value)
    return ApiError(
        "ValidationException",
        f"1 validation error detected: Value '{shown}' at '{field}' failed to satisfy "
        f"constraint: {constraint}",
    )


def _seq_of(entry: Entry) -> float:
    return entry.seq


def _processing(message_id: str, status: str) -> JSON:
    return {"MessageId": message_id, "MessageProcessingStatus": status}


class SocketHandle(Protocol):
    """What the service needs from an open websocket (implemented in ``websocket.py``)."""

    socket_id: str
    participant_id: str
    subscribed: bool

    def deliver(self, frame: JSON) -> None: ...

    def drop(self, *, close_frame: bool, code: int = 1000, reason: str = "") -> None: ...


@attrs.define(eq=False)
class Participant:
    """One participant of a contact. The token is never shown in repr."""

    participant_id: str
    contact_id: str
    role: str
    display_name: str
    joined_at: float
    participant_token: str = attrs.field(repr=False)
    connected_once: bool = False
    acknowledged: bool = False
    left: bool = False
    last_active: float = 0.0  # wall time of its last message (chat timers)
    idle_at: float | None = None  # wall time of its participant.idle event, while idle
    attendee: WebRTCAttendee | None = attrs.field(default=None, repr=False)
    sockets: list[SocketHandle] = attrs.field(factory=list, repr=False)


@attrs.define(eq=False)
class ConnectionCredential:
    participant_id: str
    expiry: float
    connection_token: str = attrs.field(repr=False)
    revoked: bool = False


@attrs.define(eq=False)
class WebsocketUrl:
    participant_id: str
    issued_at: float
    open_deadline: float
    connection_expiry: float
    url_token: str = attrs.field(repr=False)
    used: bool = False
    revoked: bool = False


@attrs.define(eq=False)
class Entry:
    """One transcript item with its global sequence number (order of AbsoluteTime)."""

    seq: int
    wire: JSON


@attrs.define(eq=False)
class Attachment:
    attachment_id: str
    contact_id: str
    participant_id: str
    name: str
    content_type: str
    size: int
    upload_expiry: float
    headers_to_include: dict[str, str]
    upload_signature: str = attrs.field(repr=False)
    data: bytes | None = attrs.field(default=None, repr=False)
    completed: bool = False
    status: str = "IN_PROGRESS"
    item_id: str | None = None  # Id of its ATTACHMENT item (the same for every Status)
    absolute_time: str | None = None  # AbsoluteTime of the first ATTACHMENT item


@attrs.define(eq=False)
class AuthSession:
    """One customer authentication session ([protocol](protocol.md#rest-api), GetAuthenticationUrl).

    ``state``: INITIATED until it ends as SUCCEEDED, FAILED, CANCELLED or TIMEOUT; a
    SUCCEEDED session can later become EXPIRED (:meth:`Service.expire_authentication`).
    ``redirect_uri``: the RedirectUri of the latest GetAuthenticationUrl (``None`` before).
    """

    session_id: str
    contact_id: str
    participant_id: str
    initiated_at: float
    state: str = "INITIATED"
    redirect_uri: str | None = None


@attrs.define(eq=False)
class WebRTCAttendee:
    """The stand-in Chime attendee of a participant (no media behind it)."""

    attendee_id: str
    join_token: str = attrs.field(repr=False)


@attrs.define(eq=False)
class Contact:
    contact_id: str
    instance_id: str
    initial_contact_id: str
    started_at: float
    end_at: float
    related_contact_id: str | None = None
    past_contact_ids: list[str] = attrs.field(factory=list)
    entries: list[Entry] = attrs.field(factory=list, repr=False)
    by_id: dict[str, Entry] = attrs.field(factory=dict, repr=False)
    participants: dict[str, Participant] = attrs.field(factory=dict, repr=False)
    attachments: dict[str, Attachment] = attrs.field(factory=dict, repr=False)
    auth_sessions: dict[str, AuthSession] = attrs.field(factory=dict, repr=False)
    meeting_id: str | None = None
    ended: bool = False
    attributes: dict[str, str] = attrs.field(factory=dict)
    #: (role, "idle" | "disconnect") -> seconds (None: unset); see ChatService.set_timeouts
    timeouts: dict[tuple[str, str], float | None] = attrs.field(factory=dict)
    timer_scope: trio.CancelScope | None = attrs.field(default=None, repr=False)
    timers_started: bool = False
    processing_tail: trio.Event | None = attrs.field(default=None, repr=False)


@attrs.frozen
class ProcessedMessage:
    """A message processor's answer (``Emulator.message_processor``).

    ``content``: the Content recipients see (``None``: unchanged), e.g. redacted text.
    ``rejected``: the message is REJECTED: only its sender gets it back, with
    ``MessageMetadata.MessageProcessingStatus`` REJECTED; it is not stored.
    """

    content: str | None = None
    rejected: bool = False


MessageProcessor = Callable[[JSON], "ProcessedMessage | None"]
"""``(item) -> ProcessedMessage | None`` (``None``: deliver unchanged); ``item`` is a copy of
the wire item as sent; an exception makes the message FAILED."""


@attrs.define
class _Bucket:
    tokens: float
    last: float


@attrs.define
class _TranscriptCursor:
    contact_id: str
    participant_id: str
    scan_direction: str
    sort_order: str
    last_seq: int
    include_contact: frozenset[str]
    expires: float = math.inf


class FaultState:
    """Mutable fault switches read by the service and the websocket sessions."""

    def __init__(self) -> None:
        self.fail_next: dict[str, deque[int]] = {}
        self.silent_heartbeats: set[str] = set()  # participant ids
        self.frame_delay: dict[str | None, float] = {}  # participant id (None: all) -> seconds
        self.reorder: dict[str | None, int] = {}  # participant id (None: all) -> batch size

    def take_failure(self, operation: str) -> int | None:
        queue = self.fail_next.get(operation)
        if queue:
            status = queue.popleft()
            if not queue:
                del self.fail_next[operation]
            return status
        return None

    def delay_for(self, participant_id: str) -> float:
        return self.frame_delay.get(participant_id, self.frame_delay.get(None, 0.0))

    def reorder_for(self, participant_id: str) -> int:
        return self.reorder.get(participant_id, self.reorder.get(None, 0))


class ChatService:
    """All chats of one emulator. Synchronous; timers run in ``nursery`` once it is set."""

    def __init__(self, config: EmulatorConfig, wall_clock: WallClock) -> None:
        self.config = config
        self.now = wall_clock
        self.faults = FaultState()
        self.rate_limits_enabled = config.rate_limits
        self.nursery: trio.Nursery | None = None
        self.contacts: dict[str, Contact] = {}
        self.participants: dict[str, Participant] = {}
        self._participant_tokens: dict[str, Participant] = {}
        self._connection_tokens: dict[str, ConnectionCredential] = {}
        self._urls: dict[str, WebsocketUrl] = {}
        self._attachments: dict[str, Attachment] = {}
        #: key -> (expiry, answer); the key's first part is a participant id or an instance id
        self._idempotency: dict[tuple[Any, ...], tuple[float, JSON]] = {}
        self._next_sweep = -math.inf
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._cursors: dict[str, _TranscriptCursor] = {}
        self._seq = 0
        self.views: dict[str, JSON] = {}
        self.on_item: list[Callable[[str, JSON], None]] = []
        self.message_processor: MessageProcessor | None = None
        self._url_key = secrets.token_bytes(32)  # signs presigned download URLs

    # ------------------------------------------------------------------ helpers
    def timestamp(self, epoch: float | None = None) -> str:
        return format_timestamp(self.now() if epoch is None else epoch)

    def trio_deadline(self, wall_deadline: float) -> float:
        """Convert a wall-clock deadline (epoch seconds) to a trio deadline."""
        return trio.current_time() + (wall_deadline - self.now())

    def _spawn_at(self, wall_deadline: float, fn: Callable[[], None]) -> None:
        if self.nursery is None:
            return
        deadline = self.trio_deadline(wall_deadline)

        async def timer() -> None:
            await trio.sleep_until(deadline)
            fn()

        self.nursery.start_soon(timer)

    def contact(self, contact_id: str) -> Contact:
        try:
            return self.contacts[contact_id]
        except KeyError:
            raise ApiError("ResourceNotFoundException", "Contact not found") from None

    def participant(self, participant_id: str) -> Participant:
        try:
            return self.participants[participant_id]
        except KeyError:
            raise ApiError("ResourceNotFoundException", "Participant not found") from None

    # ------------------------------------------------------------------ items
    def _new_item(
        self,
        contact: Contact,
        participant: Participant | None,
        *,
        type: str,
        content_type: str,
        content: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> JSON:
        item: JSON = {
            "AbsoluteTime": self.timestamp(),
            "ContentType": content_type,
            "Id": new_id(),
            "Type": type,
        }
        if content is not None:
            item["Content"] = content
        if participant is not None:
            item["ParticipantId"] = participant.participant_id
            item["DisplayName"] = participant.display_name
            item["ParticipantRole"] = participant.role
        else:
            item["ParticipantRole"] = "SYSTEM"
            item["DisplayName"] = "SYSTEM_MESSAGE"
        item["InitialContactId"] = contact.initial_contact_id
        item["ContactId"] = contact.contact_id
        if extra:
            item.update(extra)
        return item

    def emit(
        self,
        contact: Contact,
        item: JSON,
        *,
        store: bool = True,
        only: Participant | None = None,
        frame_item: JSON | None = None,
    ) -> JSON:
        """Store ``item`` in the transcript (if ``store``) and deliver it to every socket
        (only ``only``'s sockets when given). An item whose Id is already stored replaces
        the stored one in place (a revision, [protocol](protocol.md#items-that-change-in-place)),
        keeping its receipts.
        ``frame_item``: what the sockets get instead of ``item`` (default ``item``)."""
        if store:
            old = contact.by_id.get(item["Id"])
            if old is not None:
                receipts = (old.wire.get("MessageMetadata") or {}).get("Receipts")
                if receipts and "MessageMetadata" not in item:
                    item["MessageMetadata"] = {"MessageId": item["Id"], "Receipts": receipts}
                old.wire = item
            else:
                self._seq += 1
                entry = Entry(self._seq, item)
                contact.entries.append(entry)
                contact.by_id[item["Id"]] = entry
        frame = {
            "topic": "aws/chat",
            "contentType": "application/json",
            "content": json.dumps(item if frame_item is None else frame_item),
        }
        targets = contact.participants.values() if only is None else (only,)
        for p in targets:
            for sock in list(p.sockets):
                if sock.subscribed:
                    sock.deliver(frame)
        for hook in list(self.on_item):
            hook(contact.contact_id, item)
        return item

    # ------------------------------------------------------------------ connect side
    def start_chat_contact(self, body: Mapping[str, Any]) -> JSON:
        """Connect API StartChatContact ([protocol](protocol.md#starting-a-chat)). Returns the wire
        answer."""
        self.sweep()
        for name in ("InstanceId", "ContactFlowId"):
            if not isinstance(body.get(name), str) or not body.get(name):
                raise ApiError("InvalidParameterException", f"{name} is required")
        instance_id = str(body["InstanceId"])
        self._rate_limit(instance_id, "StartChatContact", connect=True)
        details = body.get("ParticipantDetails")
        if not isinstance(details, Mapping) or not isinstance(details.get("DisplayName"), str):
            raise ApiError(
                "InvalidParameterException", "ParticipantDetails.DisplayName is required"
            )
        display_name = str(details["DisplayName"])
        if not 1 <= len(display_name) <= 256:
            raise ApiError("InvalidParameterException", "DisplayName must have length 1..256")
        client_token = body.get("ClientToken")
        key = (instance_id, "StartChatContact", str(client_token))
        if client_token and key in self._idempotency:
            return dict(self._idempotency[key][1])
        duration = body.get("ChatDurationInMinutes", self.config.default_chat_duration_minutes)
        if not isinstance(duration, int) or not 60 <= duration <= 10080:
            raise ApiError("InvalidParameterException", "ChatDurationInMinutes must be 60..10080")
        related = body.get("RelatedContactId")
        persistent = body.get("PersistentChat")
        source_id: str | None = None
        if isinstance(persistent, Mapping) and persistent.get("SourceContactId"):
            source_id = str(persistent["SourceContactId"])
            if persistent.get("RehydrationType") not in ("ENTIRE_PAST_SESSION", "FROM_SEGMENT"):
                raise ApiError("InvalidParameterException", "PersistentChat.RehydrationType")
        for ref in (related, source_id):
            if ref is not None and ref not in self.contacts:
                raise ApiError("ResourceNotFoundException", "Related contact not found")
        if source_id is not None and not self.contacts[source_id].ended:
            raise ApiError("InvalidRequestException", "Source contact is still active")
        attributes = body.get("Attributes") or {}
        initial = body.get("InitialMessage")
        if initial is not None and (
            not isinstance(initial, Mapping)
            or not initial.get("ContentType")
            or not initial.get("Content")
        ):
            raise ApiError("InvalidParameterException", "InitialMessage needs ContentType, Content")
        contact, customer = self.create_contact(
            instance_id=instance_id,
            display_name=display_name,
            duration_minutes=duration,
            related_contact_id=str(related) if related else None,
            source_contact_id=source_id,
            attributes={str(k): str(v) for k, v in dict(attributes).items()},
        )
        if initial is not None:
            assert isinstance(initial, Mapping)
            item = self._new_item(
                contact,
                customer,
                type="MESSAGE",
                content_type=str(initial["ContentType"]),
                content=str(initial["Content"]),
            )
            self.emit(contact, item)
        answer: JSON = {
            "ContactId": contact.contact_id,
            "ParticipantId": customer.participant_id,
            "ParticipantToken": customer.participant_token,
        }
        if source_id is not None:
            answer["ContinuedFromContactId"] = source_id
        if client_token:
            self._idempotency[key] = (self.now() + self.config.idempotency_ttl, dict(answer))
        return answer

    def create_contact(
        self,
        *,
        instance_id: str | None = None,
        display_name: str = "Customer",
        duration_minutes: int | None = None,
        related_contact_id: str | None = None,
        source_contact_id: str | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> tuple[Contact, Participant]:
        """Create a contact with its CUSTOMER participant (who joins at once)."""
        now = self.now()
        minutes = duration_minutes or self.config.default_chat_duration_minutes
        contact_id = new_id()
        past: list[str] = []
        if source_contact_id is not None:
            source = self.contacts[source_contact_id]
            past = [*source.past_contact_ids, source.contact_id]
        contact = Contact(
            contact_id=contact_id,
            instance_id=instance_id or self.config.default_instance_id,
            initial_contact_id=contact_id,
            started_at=now,
            end_at=now + minutes * 60.0,
            related_contact_id=related_contact_id or source_contact_id,
            past_contact_ids=past,
            attributes=dict(attributes or {}),
        )
        self.contacts[contact_id] = contact
        customer = self.add_participant(contact_id, role="CUSTOMER", display_name=display_name)
        self._spawn_at(contact.end_at, lambda: self.end_chat(contact_id, reason="duration"))
        log.info("contact %s started (instance %s)", contact_id, contact.instance_id)
        return contact, customer

    def add_participant(self, contact_id: str, *, role: str, display_name: str) -> Participant:
        """Add a participant (CUSTOMER, AGENT, CUSTOM_BOT, SUPERVISOR) and emit its join event."""
        contact = self.contact(contact_id)
        if contact.ended:
            raise ApiError("InvalidRequestException", "Contact has ended")
        if role not in ROLES:
            raise ApiError("InvalidParameterException", f"role must be one of {sorted(ROLES)}")
        participant = Participant(
            participant_id=new_id(),
            contact_id=contact_id,
            role=role,
            display_name=display_name,
            joined_at=self.now(),
            participant_token=new_secret(),
        )
        contact.participants[participant.participant_id] = participant
        self.participants[participant.participant_id] = participant
        self._participant_tokens[participant.participant_token] = participant
        self.emit(
            contact,
            self._new_item(contact, participant, type="EVENT", content_type=CT_JOINED),
        )
        self._wake_timers(contact)
        return participant

    def send_as(
        self,
        participant_id: str,
        *,
        content_type: str,
        content: str | None,
        kind: str = "MESSAGE",
    ) -> JSON:
        """Emit a message (``kind="MESSAGE"``) or an event as a participant, no validation."""
        participant = self.participant(participant_id)
        contact = self.contact(participant.contact_id)
        if contact.ended or participant.left:
            raise ApiError("AccessDeniedException", "Participant is no longer in the chat")
        if kind == "EVENT" and content_type in (CT_DELIVERED, CT_READ):
            return self._receipt(contact, participant, content_type, content or "")
        item = self._new_item(
            contact, participant, type=kind, content_type=content_type, content=content
        )
        if kind == "MESSAGE":
            self._note_activity(contact, participant)
        store = not (content_type == CT_TYPING and not self.config.transcript_includes_typing)
        return self.emit(contact, item, store=store)

    def send_system_message(self, contact_id: str, *, content_type: str, content: str) -> JSON:
        """Emit a MESSAGE from the SYSTEM (no participant), as a flow block would."""
        contact = self.contact(contact_id)
        if contact.ended:
            raise ApiError("AccessDeniedException", "The chat has ended")
        item = self._new_item(
            contact, None, type="MESSAGE", content_type=content_type, content=content
        )
        return self.emit(contact, item)

    def streamed_chunk(
        self, contact_id: str, message_id: str, chunk_number: int, content: str, display_name: str
    ) -> JSON:
        """Emit one chunk of an AI streaming reply
        ([protocol](protocol.md#items-that-change-in-place)): a SYSTEM MESSAGE under
        ``message_id`` with ``MessageMetadata{MessageId, MessageCompleted: false,
        ChunkNumber}``; not stored. Raises ApiError(AccessDeniedException) once ended."""
        contact = self.contact(contact_id)
        if contact.ended:
            raise ApiError("AccessDeniedException", "The chat has ended")
        item = self._new_item(
            contact, None, type="MESSAGE", content_type="text/plain", content=content
        )
        item["Id"] = message_id
        item["DisplayName"] = display_name
        item["MessageMetadata"] = {
            "MessageId": message_id,
            "MessageCompleted": False,
            "ChunkNumber": chunk_number,
        }
        return self.emit(contact, item, store=False)

    def streamed_completion(
        self,
        contact_id: str,
        message_id: str,
        content: str,
        display_name: str,
        absolute_time: str,
    ) -> JSON:
        """Emit the completed item of a streaming reply (``MessageCompleted: true``, the
        whole text, the first chunk's AbsoluteTime) and store it (without the streaming
        fields, which the REST Item shape does not have). Returns the stored item."""
        contact = self.contact(contact_id)
        if contact.ended:
            raise ApiError("AccessDeniedException", "The chat has ended")
        item = self._new_item(
            contact, None, type="MESSAGE", content_type="text/plain", content=content
        )
        item.update(Id=message_id, DisplayName=display_name, AbsoluteTime=absolute_time)
        frame = {
            **item,
            "MessageMetadata": {"MessageId": message_id, "MessageCompleted": True},
        }
        return self.emit(contact, item, frame_item=frame)

    # ------------------------------------------------------------------ chat timers
    def set_timeouts(
        self,
        contact_id: str,
        *,
        customer_idle: float | None = None,
        customer_auto_disconnect: float | None = None,
        agent_idle: float | None = None,
        agent_auto_disconnect: float | None = None,
    ) -> None:
        """The contact's chat timers in seconds (UpdateParticipantRoleConfig; ``None``:
        unset), replacing ``EmulatorConfig``'s for this contact. Raises ValueError for a
        value <= 0."""
        contact = self.contact(contact_id)
        values = {
            ("CUSTOMER", "idle"): customer_idle,
            ("CUSTOMER", "disconnect"): customer_auto_disconnect,
            ("AGENT", "idle"): agent_idle,
            ("AGENT", "disconnect"): agent_auto_disconnect,
        }
        for (role, kind), value in values.items():
            if value is not None and not value > 0:
                raise ValueError(f"{role.lower()} {kind} timeout must be > 0 seconds, got {value}")
        contact.timeouts = values
        contact.timers_started = False
        self._wake_timers(contact)

    def _default_timeouts(self) -> dict[tuple[str, str], float | None]:
        c = self.config
        return {
            ("CUSTOMER", "idle"): c.customer_idle_timeout,
            ("CUSTOMER", "disconnect"): c.customer_auto_disconnect_timeout,
            ("AGENT", "idle"): c.agent_idle_timeout,
            ("AGENT", "disconnect"): c.agent_auto_disconnect_timeout,
        }

    def _note_activity(self, contact: Contact, participant: Participant) -> None:
        """A participant sent a message: its timers restart; an idle one has returned."""
        participant.last_active = self.now()
        if participant.idle_at is not None:
            participant.idle_at = None
            self.emit(
                contact,
                self._new_item(contact, participant, type="EVENT", content_type=CT_RETURNED),
            )
        self._wake_timers(contact)

    def _timers_run(self, contact: Contact) -> bool:
        """Timers run while a CUSTOMER and an AGENT or CUSTOM_BOT are in the chat."""
        roles = {p.role for p in contact.participants.values() if not p.left}
        return "CUSTOMER" in roles and bool(roles & {"AGENT", "CUSTOM_BOT"})

    def _timer_due(self, contact: Contact, p: Participant) -> float | None:
        idle = contact.timeouts.get((p.role, "idle"))
        disconnect = contact.timeouts.get((p.role, "disconnect"))
        if p.idle_at is not None:
            return None if disconnect is None else p.idle_at + disconnect
        if idle is not None:
            return p.last_active + idle
        return None if disconnect is None else p.last_active + disconnect

    def _wake_timers(self, contact: Contact) -> None:
        if contact.timer_scope is not None:
            contact.timer_scope.cancel()
        elif self.nursery is not None and not contact.ended:
            if not contact.timeouts:
                contact.timeouts = self._default_timeouts()
            if any(v is not None for v in contact.timeouts.values()):
                contact.timer_scope = trio.CancelScope()
                self.nursery.start_soon(self._run_timers, contact)

    async def _run_timers(self, contact: Contact) -> None:
        """The chat timers of one contact (Administrator Guide, "Set up chat timeouts"):
        started when the pair forms, each participant's restarted by its messages."""
        while not contact.ended:
            timed = [
                p
                for p in contact.participants.values()
                if not p.left and p.role in ("CUSTOMER", "AGENT")
            ]
            running = self._timers_run(contact)
            if running and not contact.timers_started:
                contact.timers_started = True
                for p in timed:
                    p.last_active, p.idle_at = self.now(), None
            elif not running:
                contact.timers_started = False
            dues = [d for p in timed if (d := self._timer_due(contact, p)) is not None]
            scope = trio.CancelScope()
            if running and dues:
                scope.deadline = self.trio_deadline(min(dues))
            contact.timer_scope = scope
            with scope:
                await trio.sleep_forever()
            if not running:
                continue
            now = self.now()
            for p in timed:
                due = self._timer_due(contact, p)
                if due is not None and due <= now + 1e-3 and not p.left and not contact.ended:
                    self._fire_timer(contact, p, now)
        contact.timer_scope = None

    def _fire_timer(self, contact: Contact, p: Participant, now: float) -> None:
        if p.idle_at is None and contact.timeouts.get((p.role, "idle")) is not None:
            p.idle_at = now
            self.emit(contact, self._new_item(contact, p, type="EVENT", content_type=CT_IDLE))
            return
        self.emit(
            contact, self._new_item(contact, p, type="EVENT", content_type=CT_AUTODISCONNECTION)
        )
        p.idle_at = None
        p.last_active = now
        if p.role == "AGENT":
            self.disconnect(p.participant_id)
        else:
            for other in list(contact.participants.values()):
                if other.role in ("AGENT", "CUSTOM_BOT") and not other.left:
                    self.disconnect(other.participant_id)

    def disconnect(self, participant_id: str) -> None:
        """The participant leaves: PARTICIPANT_LEFT, tokens stop working, its sockets close.

        When the CUSTOMER leaves, the chat ends.
        """
        participant = self.participant(participant_id)
        contact = self.contact(participant.contact_id)
        if participant.left or contact.ended:
            return
        self.emit(contact, self._new_item(contact, participant, type="EVENT", content_type=CT_LEFT))
        participant.left = True
        if participant.role == "CUSTOMER":
            # chat.ended still reaches the customer's own sockets, then every socket closes
            self.end_chat(contact.contact_id, reason="customer left")
        else:
            self._close_sockets(participant, reason="Participant disconnected")
            self._wake_timers(contact)

    def end_chat(self, contact_id: str, *, reason: str = "ended") -> None:
        """Emit CHAT_ENDED, then every token of the contact stops working; sockets close."""
        contact = self.contact(contact_id)
        if contact.ended:
            return
        self.emit(contact, self._new_item(contact, None, type="EVENT", content_type=CT_CHAT_ENDED))
        contact.ended = True
        if contact.timer_scope is not None:
            contact.timer_scope.cancel()
        for p in contact.participants.values():
            self._close_sockets(p, reason="Chat ended")
        log.info("contact %s ended (%s)", contact_id, reason)

    def transfer(
        self, contact_id: str, *, succeeded: bool = True, display_name: str | None = None
    ) -> Participant | None:
        """Transfer the chat: TRANSFER_SUCCEEDED (agents leave, a new agent joins if
        ``display_name``) or TRANSFER_FAILED."""
        contact = self.contact(contact_id)
        if contact.ended:
            raise ApiError("InvalidRequestException", "Contact has ended")
        if not succeeded:
            self.emit(
                contact,
                self._new_item(contact, None, type="EVENT", content_type=CT_TRANSFER_FAILED),
            )
            return None
        self.emit(
            contact,
            self._new_item(contact, None, type="EVENT", content_type=CT_TRANSFER_SUCCEEDED),
        )
        for p in list(contact.participants.values()):
            if p.role == "AGENT" and not p.left:
                self.disconnect(p.participant_id)
        if display_name is None:
            return None
        return self.add_participant(contact_id, role="AGENT", display_name=display_name)

    def _close_sockets(self, participant: Participant, *, reason: str) -> None:
        for sock in list(participant.sockets):
            sock.drop(close_frame=True, code=1000, reason=reason)

    def initiate_authentication(self, participant_id: str) -> str:
        """Emit authentication.initiated (Content ``{"SessionId": ...}``) as the Authenticate
        Customer flow block does; returns the SessionId for GetAuthenticationUrl.

        Unless completed, cancelled or ended first, the session emits authentication.timeout
        ``EmulatorConfig.authentication_timeout`` seconds later.
        """
        participant = self.participant(participant_id)
        contact = self.contact(participant.contact_id)
        if contact.ended or participant.left:
            raise ApiError("InvalidRequestException", "Participant is no longer in the chat")
        session = AuthSession(
            session_id=new_id(),
            contact_id=contact.contact_id,
            participant_id=participant_id,
            initiated_at=self.now(),
        )
        contact.auth_sessions[session.session_id] = session
        self._emit_auth(contact, session, CT_AUTH_INITIATED)
        timeout = self.config.authentication_timeout
        if timeout is not None:

            def expire() -> None:
                if session.state == "INITIATED" and not contact.ended:
                    self._finish_auth(contact, session, "TIMEOUT")

            self._spawn_at(session.initiated_at + timeout, expire)
        return session.session_id

    def auth_session(self, session_id: str) -> AuthSession:
        """The authentication session ``session_id`` (any contact); ResourceNotFound if none."""
        for contact in self.contacts.values():
            session = contact.auth_sessions.get(session_id)
            if session is not None:
                return session
        raise ApiError("ResourceNotFoundException", "Authentication session not found")

    def complete_authentication(self, session_id: str, *, succeeded: bool = True) -> JSON:
        """The customer finishes signing in: emits authentication.succeeded (or .failed).

        Returns the emitted item. Raises ApiError: ResourceNotFoundException for an unknown
        session, ConflictException when the session already ended (succeeded, failed,
        cancelled, timed out) or the chat is over.
        """
        contact, session = self._auth_session_in(
            session_id, "INITIATED", "Authentication session already ended"
        )
        return self._finish_auth(contact, session, "SUCCEEDED" if succeeded else "FAILED")

    def expire_authentication(self, session_id: str) -> JSON:
        """The customer's authentication runs out: emits authentication.expired.

        The service does not say when this happens ([protocol](protocol.md#items) only lists the
        event),
        so the emulator never does it on its own: tests call this. Returns the emitted
        item. Raises ApiError: ResourceNotFoundException for an unknown session,
        ConflictException unless the session succeeded (and has not expired yet), or when
        the chat is over.
        """
        contact, session = self._auth_session_in(
            session_id, "SUCCEEDED", "Only a succeeded authentication can expire"
        )
        return self._finish_auth(contact, session, "EXPIRED")

    def _auth_session_in(
        self, session_id: str, state: str, refusal: str
    ) -> tuple[Contact, AuthSession]:
        """The session and its contact, if the chat goes on and the session is in
        ``state``; else ConflictException (``refusal`` and the session's state)."""
        session = self.auth_session(session_id)
        contact = self.contact(session.contact_id)
        if contact.ended:
            raise ApiError("ConflictException", "The chat has ended")
        if session.state != state:
            raise ApiError("ConflictException", f"{refusal} ({session.state})")
        return contact, session

    def _finish_auth(self, contact: Contact, session: AuthSession, state: str) -> JSON:
        session.state = state
        content_type = {
            "SUCCEEDED": CT_AUTH_SUCCEEDED,
            "FAILED": CT_AUTH_FAILED,
            "CANCELLED": CT_AUTH_CANCELLED,
            "TIMEOUT": CT_AUTH_TIMEOUT,
            "EXPIRED": CT_AUTH_EXPIRED,
        }[state]
        log.info("authentication session of contact %s: %s", contact.contact_id, state)
        return self._emit_auth(contact, session, content_type)

    def _emit_auth(self, contact: Contact, session: AuthSession, content_type: str) -> JSON:
        return self.emit(
            contact,
            self._new_item(
                contact,
                None,
                type="EVENT",
                content_type=content_type,
                content=json.dumps({"SessionId": session.session_id}),
            ),
        )

    # ------------------------------------------------------------------ tokens and sockets
    def revoke_connection_tokens(self, participant_id: str) -> int:
        """Fault: every ConnectionToken of the participant expires now. Returns how many."""
        count = 0
        for cred in self._connection_tokens.values():
            if cred.participant_id == participant_id and not cred.revoked:
                cred.revoked = True
                count += 1
        return count

    def revoke_websocket_urls(self, participant_id: str) -> int:
        """Fault: every unopened websocket URL of the participant expires now."""
        count = 0
        for url in self._urls.values():
            if url.participant_id == participant_id and not url.used and not url.revoked:
                url.revoked = True
                count += 1
        return count

    def claim_websocket_url(self, url_token: str | None) -> tuple[Participant, WebsocketUrl]:
        """Open a websocket URL once (§2). Raises ApiError(403) when refused."""
        url = self._urls.get(url_token or "")
        if url is None:
            raise ApiError("AccessDeniedException", "Forbidden")
        if url.used or url.revoked:
            raise ApiError("AccessDeniedException", "Forbidden: URL already used or revoked")
        if self.now() > url.open_deadline:
            raise ApiError("AccessDeniedException", "Forbidden: URL expired")
        participant = self.participant(url.participant_id)
        contact = self.contact(participant.contact_id)
        if contact.ended or participant.left:
            raise ApiError("AccessDeniedException", "Forbidden: chat ended")
        if len(participant.sockets) >= self.config.max_sockets_per_participant:
            raise ApiError("LimitExceededException", "Too many connections", status=429)
        url.used = True
        return participant, url

    def websocket_url(self, base_url: str, url_token: str) -> str:
        parts = urllib.parse.urlsplit(base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        query = urllib.parse.urlencode({"AuthToken": url_token})
        return urllib.parse.urlunsplit((scheme, parts.netloc, "/connect", query, ""))

    # ------------------------------------------------------------------ REST entry
    def call(
        self, operation: str, token: str | None, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        """Run one Participant Service operation; returns the wire answer or raises ApiError."""
        status = self.faults.take_failure(operation)
        if status is not None:
            code = {429: "ThrottlingException", 500: "InternalServerException"}.get(
                status, "InternalServerException"
            )
            raise ApiError(code, f"Injected fault ({status})", status=status)
        self.sweep()
        if not token:
            raise ApiError("AccessDeniedException", "Missing X-Amz-Bearer token")
        if operation == "CreateParticipantConnection":
            participant = self._participant_token(token)
        else:
            participant = self._connection_token(token)
        contact = self.contact(participant.contact_id)
        self._rate_limit(contact.instance_id, operation)
        handler: Callable[[Contact, Participant, Mapping[str, Any], str], JSON] = getattr(
            self, "_op_" + operation
        )
        return handler(contact, participant, body, base_url)

    def sweep(self, *, force: bool = False) -> None:
        """Free what can no longer be used: connection tokens past Expiry or revoked,
        websocket URLs opened or past their open window, transcript cursors past
        ``transcript_cursor_ttl``, idempotency answers past ``idempotency_ttl``, and every
        token, URL, cursor and idempotency answer of a participant that left or whose chat
        ended. Runs at most every ``sweep_interval`` seconds (on the next request) unless
        ``force``."""
        now = self.now()
        if not force and now < self._next_sweep:
            return
        self._next_sweep = now + self.config.sweep_interval

        def gone(participant_id: str) -> bool:
            p = self.participants.get(participant_id)
            return p is None or p.left or self.contacts[p.contact_id].ended

        for token, p in list(self._participant_tokens.items()):
            if gone(p.participant_id):
                del self._participant_tokens[token]
        for token, cred in list(self._connection_tokens.items()):
            if cred.revoked or now >= cred.expiry or gone(cred.participant_id):
                del self._connection_tokens[token]
        for token, url in list(self._urls.items()):
            if url.used or url.revoked or now > url.open_deadline or gone(url.participant_id):
                del self._urls[token]
        for token, cursor in list(self._cursors.items()):
            if now > cursor.expires or gone(cursor.participant_id):
                del self._cursors[token]
        for key, (expiry, _) in list(self._idempotency.items()):
            owner = key[0]
            if now > expiry or (owner in self.participants and gone(owner)):
                del self._idempotency[key]

    def retained(self) -> dict[str, int]:
        """How many of each kind of secret state the service holds now (after a sweep):
        ``participant_tokens``, ``connection_tokens``, ``websocket_urls``,
        ``transcript_cursors``, ``idempotency_keys``."""
        return {
            "participant_tokens": len(self._participant_tokens),
            "connection_tokens": len(self._connection_tokens),
            "websocket_urls": len(self._urls),
            "transcript_cursors": len(self._cursors),
            "idempotency_keys": len(self._idempotency),
        }

    def _participant_token(self, token: str) -> Participant:
        participant = self._participant_tokens.get(token)
        if participant is None:
            raise ApiError("AccessDeniedException", "Invalid participant token")
        contact = self.contact(participant.contact_id)
        if contact.ended or participant.left:
            raise ApiError("AccessDeniedException", "Participant is no longer in the chat")
        window = self.config.participant_token_first_use_window
        if (
            window is not None
            and not participant.connected_once
            and self.now() > participant.joined_at + window
        ):
            raise ApiError("AccessDeniedException", "Participant token expired")
        return participant

    def _connection_token(self, token: str) -> Participant:
        cred = self._connection_tokens.get(token)
        if cred is None:
            raise ApiError("AccessDeniedException", "Invalid connection token")
        if cred.revoked or self.now() >= cred.expiry:
            raise ApiError("AccessDeniedException", "Connection token expired")
        participant = self.participant(cred.participant_id)
        contact = self.contact(participant.contact_id)
        if contact.ended or participant.left:
            raise ApiError("AccessDeniedException", "Participant is no longer in the chat")
        return participant

    def _rate_limit(self, instance_id: str, operation: str, *, connect: bool = False) -> None:
        if not self.rate_limits_enabled:
            return
        limits = self.config.rate_limit_table.get(operation)
        if limits is None:
            return
        steady, burst = limits
        now = self.now()
        bucket = self._buckets.setdefault((instance_id, operation), _Bucket(float(burst), now))
        bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.last) * steady)
        bucket.last = now
        if bucket.tokens < 1.0 - 1e-6:  # float slack: epoch seconds are large numbers
            if connect:
                raise ApiError("LimitExceededException", "Rate exceeded")
            raise ApiError("ThrottlingException", "Rate exceeded")
        bucket.tokens -= 1.0

    def _idempotent(
        self,
        participant: Participant,
        operation: str,
        client_token: Any,
        make: Callable[[], JSON],
        body: Mapping[str, Any] | None = None,
    ) -> JSON:
        """Run ``make`` once per (participant, operation, ClientToken, rest of the body).

        The key holds the request's other fields too: chatjs sends every read receipt with
        the literal ClientToken ``INCOMING_READ_RECEIPT``, and the service delivers each."""
        if client_token is not None and not isinstance(client_token, str):
            raise _validation("clientToken", client_token, "Member must be a string")
        if isinstance(client_token, str) and len(client_token) > 500:
            raise _validation(
                "clientToken", client_token, "Member must have length less than or equal to 500"
            )
        if not client_token:
            return make()
        rest = {k: v for k, v in (body or {}).items() if k != "ClientToken"}
        fingerprint = json.dumps(rest, sort_keys=True, separators=(",", ":"))
        key = (participant.participant_id, operation, client_token + "\x00" + fingerprint)
        if key in self._idempotency:
            return json.loads(json.dumps(self._idempotency[key][1]))  # type: ignore[no-any-return]
        answer = make()
        expiry = self.now() + self.config.idempotency_ttl
        self._idempotency[key] = (expiry, json.loads(json.dumps(answer)))
        return answer

    # ------------------------------------------------------------------ operations
    def _op_CreateParticipantConnection(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        types = body.get("Type")
        connect_participant = body.get("ConnectParticipant")
        if connect_participant is not None and not isinstance(connect_participant, bool):
            raise _validation("connectParticipant", connect_participant, "Member must be boolean")
        if types is None:
            if not connect_participant:
                raise _validation("type", types, "Member must not be null")
            types = []
        if not isinstance(types, list) or (not types and not connect_participant):
            raise _validation("type", types, "Member must have length greater than or equal to 1")
        for t in types:
            if t not in CONNECTION_TYPES:
                raise _validation(
                    "type", types, f"Member must satisfy enum value set: {sorted(CONNECTION_TYPES)}"
                )
        participant.connected_once = True
        now = self.now()
        answer: JSON = {}
        if "WEBSOCKET" in types:
            url = WebsocketUrl(
                participant_id=participant.participant_id,
                issued_at=now,
                open_deadline=now + self.config.url_open_window,
                connection_expiry=now + self.config.connection_expiry,
                url_token=new_secret(),
            )
            self._urls[url.url_token] = url
            answer["Websocket"] = {
                "Url": self.websocket_url(base_url, url.url_token),
                "ConnectionExpiry": self.timestamp(url.connection_expiry),
            }
        if "CONNECTION_CREDENTIALS" in types:
            cred = ConnectionCredential(
                participant_id=participant.participant_id,
                expiry=now + self.config.connection_token_ttl,
                connection_token=new_secret(),
            )
            self._connection_tokens[cred.connection_token] = cred
            answer["ConnectionCredentials"] = {
                "ConnectionToken": cred.connection_token,
                "Expiry": self.timestamp(cred.expiry),
            }
        if "WEBRTC_CONNECTION" in types:
            answer["WebRTCConnection"] = self._webrtc_connection(contact, participant)
        if connect_participant and not participant.acknowledged:
            participant.acknowledged = True
            self.emit(
                contact,
                self._new_item(
                    contact, participant, type="CONNECTION_ACK", content_type=CT_CONNECTION_ACK
                ),
            )
        return answer

    def _webrtc_connection(self, contact: Contact, participant: Participant) -> JSON:
        """A stand-in ``WebRTCConnection`` (botocore shapes WebRTCConnection, Attendee,
        WebRTCMeeting, WebRTCMediaPlacement, MeetingFeaturesConfiguration): one meeting per
        contact, one attendee per participant, kept across calls. Fake values only: the
        URLs are under ``.invalid`` hosts and nothing carries media."""
        if contact.meeting_id is None:
            contact.meeting_id = new_id()
        if participant.attendee is None:
            participant.attendee = WebRTCAttendee(attendee_id=new_id(), join_token=new_secret())
        meeting = contact.meeting_id
        return {
            "Attendee": {
                "AttendeeId": participant.attendee.attendee_id,
                "JoinToken": participant.attendee.join_token,
            },
            "Meeting": {
                "MediaPlacement": {
                    "AudioHostUrl": f"{meeting}.audio.webrtc.emulator.invalid:3478",
                    "AudioFallbackUrl": f"wss://audio.webrtc.emulator.invalid:443/calls/{meeting}",
                    "SignalingUrl": f"wss://signal.webrtc.emulator.invalid/control/{meeting}",
                    "EventIngestionUrl": "https://events.webrtc.emulator.invalid/v1/client-events",
                },
                "MeetingFeatures": {"Audio": {"EchoReduction": "AVAILABLE"}},
                "MeetingId": meeting,
            },
        }

    def _check_content(self, field: str, value: Any, limit: int, required: bool) -> None:
        if value is None:
            if required:
                raise _validation(field, None, "Member must not be null")
            return
        if not isinstance(value, str):
            raise _validation(field, value, "Member must be a string")
        if len(value) < 1:
            raise _validation(field, "", "Member must have length greater than or equal to 1")
        if len(value) > limit:
            raise _validation(
                field, value, f"Member must have length less than or equal to {limit}"
            )

    def _op_SendMessage(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        content_type = body.get("ContentType")
        self._check_content("contentType", content_type, 100, True)
        if content_type not in MESSAGE_CONTENT_TYPES:
            raise _validation(
                "contentType",
                content_type,
                f"Member must be one of {sorted(MESSAGE_CONTENT_TYPES)}",
            )
        content = body.get("Content")
        self._check_content("content", content, self.config.max_message_bytes, True)
        if len(str(content).encode("utf-8")) > self.config.max_message_bytes:
            raise _validation(
                "content",
                content,
                f"Member must be at most {self.config.max_message_bytes} bytes of UTF-8",
            )

        def make() -> JSON:
            item = self._new_item(
                contact,
                participant,
                type="MESSAGE",
                content_type=str(content_type),
                content=str(body["Content"]),
            )
            self._note_activity(contact, participant)
            processor = self.message_processor
            if processor is None:
                self.emit(contact, item)
                return {"Id": item["Id"], "AbsoluteTime": item["AbsoluteTime"]}
            pending = {**item, "MessageMetadata": _processing(item["Id"], "PROCESSING")}
            self.emit(contact, pending, store=False, only=participant)

            if self.nursery is None:
                self._finish_processing(contact, participant, item, processor)
            else:
                previous, done = contact.processing_tail, trio.Event()
                contact.processing_tail = done
                deadline = self.trio_deadline(self.now() + self.config.message_processing_delay)

                async def finish() -> None:
                    await trio.sleep_until(deadline)
                    if previous is not None:
                        await previous.wait()  # processed in the order sent
                    try:
                        self._finish_processing(contact, participant, item, processor)
                    finally:
                        done.set()

                self.nursery.start_soon(finish)
            return {
                "Id": item["Id"],
                "AbsoluteTime": item["AbsoluteTime"],
                "MessageMetadata": {"MessageProcessingStatus": "PROCESSING"},
            }

        return self._idempotent(participant, "SendMessage", body.get("ClientToken"), make, body)

    def _finish_processing(
        self, contact: Contact, sender: Participant, item: JSON, processor: MessageProcessor
    ) -> None:
        """Run the processor on a PROCESSING message and send the result under its Id:
        the (maybe rewritten) item to everyone, or REJECTED / FAILED to the sender only."""
        if contact.ended:
            return
        final = dict(item)
        status: str | None = None
        try:
            verdict = processor(json.loads(json.dumps(item)))
        except Exception:
            log.exception("message processor failed (contact %s)", contact.contact_id)
            status = "FAILED"
        else:
            if verdict is not None:
                if verdict.content is not None:
                    final["Content"] = verdict.content
                if verdict.rejected:
                    status = "REJECTED"
        if status is None:
            self.emit(contact, final)
        else:
            final["MessageMetadata"] = _processing(item["Id"], status)
            self.emit(contact, final, store=False, only=sender)

    def _op_SendEvent(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        content_type = body.get("ContentType")
        self._check_content("contentType", content_type, 100, True)
        if content_type not in EVENT_CONTENT_TYPES:
            raise _validation(
                "contentType", content_type, f"Member must be one of {sorted(EVENT_CONTENT_TYPES)}"
            )
        content = body.get("Content")
        self._check_content("content", content, self.config.max_message_bytes, False)
        ct = str(content_type)

        def make() -> JSON:
            if ct in (CT_DELIVERED, CT_READ):
                item = self._receipt(contact, participant, ct, str(content or ""))
            elif ct == CT_CONNECTION_ACK:
                participant.acknowledged = True
                item = self.emit(
                    contact,
                    self._new_item(contact, participant, type="CONNECTION_ACK", content_type=ct),
                )
            else:
                item = self._new_item(
                    contact,
                    participant,
                    type="EVENT",
                    content_type=ct,
                    content=None if content is None else str(content),
                )
                self.emit(contact, item, store=self.config.transcript_includes_typing)
            return {"Id": item["Id"], "AbsoluteTime": item["AbsoluteTime"]}

        return self._idempotent(participant, "SendEvent", body.get("ClientToken"), make, body)

    def _receipt(
        self, contact: Contact, participant: Participant, content_type: str, content: str
    ) -> JSON:
        try:
            message_id = json.loads(content)["messageId"]
            if not isinstance(message_id, str) or not message_id:
                raise ValueError
        except (ValueError, TypeError, KeyError):
            raise _validation(
                "content", content, 'Receipt content must be {"messageId": "<Id>"}'
            ) from None
        active = [p for p in contact.participants.values() if not p.left and p.role != "SUPERVISOR"]
        if len(active) > 2:
            raise ApiError(
                "ConflictException", "Receipts are not supported with more than two participants"
            )
        target = contact.by_id.get(message_id)
        if target is None or target.wire.get("Type") not in ("MESSAGE", "ATTACHMENT"):
            raise _validation("content", content, "messageId does not name a message of this chat")
        stamp = self.timestamp()
        metadata = target.wire.setdefault(
            "MessageMetadata", {"MessageId": message_id, "Receipts": []}
        )
        receipts: list[JSON] = metadata.setdefault("Receipts", [])
        receipt = next(
            (r for r in receipts if r.get("RecipientParticipantId") == participant.participant_id),
            None,
        )
        if receipt is None:
            receipt = {"RecipientParticipantId": participant.participant_id}
            receipts.append(receipt)
        receipt["DeliveredTimestamp" if content_type == CT_DELIVERED else "ReadTimestamp"] = stamp
        if content_type == CT_READ:
            receipt.setdefault("DeliveredTimestamp", stamp)
        frame_item = self._new_item(
            contact,
            participant,
            type="MESSAGEMETADATA",
            content_type=CT_METADATA,
            extra={
                "MessageMetadata": {
                    "MessageId": message_id,
                    "Receipts": [dict(receipt)],
                }
            },
        )
        return self.emit(contact, frame_item, store=False)

    def _op_DisconnectParticipant(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        def make() -> JSON:
            self.disconnect(participant.participant_id)
            return {}

        return self._idempotent(
            participant, "DisconnectParticipant", body.get("ClientToken"), make, body
        )

    # ------------------------------------------------------------------ transcript
    def _op_GetTranscript(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        max_results = body.get("MaxResults", 10)
        if not isinstance(max_results, int) or isinstance(max_results, bool):
            raise _validation("maxResults", max_results, "Member must be an integer")
        if not 0 <= max_results <= 100:
            raise _validation("maxResults", max_results, "Member must have value between 0 and 100")
        if max_results == 0:
            max_results = 10
        contact_filter = body.get("ContactId")
        if contact_filter is not None:
            if contact_filter != contact.contact_id and contact_filter not in (
                contact.past_contact_ids
            ):
                raise _validation(
                    "contactId", contact_filter, "ContactId is not in this contact chain"
                )
        sort_order = body.get("SortOrder", "DESCENDING")
        if sort_order not in ("ASCENDING", "DESCENDING"):
            raise _validation(
                "sortOrder",
                sort_order,
                "Member must satisfy enum value set: [DESCENDING, ASCENDING]",
            )
        scan = body.get("ScanDirection")
        if scan is not None and scan not in ("FORWARD", "BACKWARD"):
            raise _validation(
                "scanDirection", scan, "Member must satisfy enum value set: [FORWARD, BACKWARD]"
            )
        next_token = body.get("NextToken")
        own = (
            self.contacts[contact_filter]
            if isinstance(contact_filter, str) and contact_filter != contact.contact_id
            else contact
        )
        past_ids = [] if own is not contact else list(contact.past_contact_ids)
        if next_token is not None and next_token != "":
            cursor = self._cursors.get(str(next_token))
            if cursor is None or cursor.participant_id != participant.participant_id:
                raise _validation("nextToken", next_token, "Invalid NextToken")
            if self.now() > cursor.expires:
                raise _validation("nextToken", next_token, "NextToken has expired")
            return self._transcript_page(
                contact,
                own,
                past_ids,
                cursor.scan_direction,
                str(sort_order),
                max_results,
                after_seq=cursor.last_seq,
                participant=participant,
            )
        start = body.get("StartPosition")
        if isinstance(start, Mapping) and all(
            start.get(k) is None for k in ("Id", "AbsoluteTime", "MostRecent")
        ):
            # chatjs's default getTranscript() sends StartPosition {} (its SDK client keeps
            # the structure without members); the service takes that as no StartPosition.
            start = None
        if scan is None:
            scan = "FORWARD" if start is not None else "BACKWARD"
        if start is None:
            if scan == "FORWARD":
                raise _validation("scanDirection", "FORWARD", "FORWARD requires a StartPosition")
            return self._transcript_page(
                contact,
                own,
                past_ids,
                "BACKWARD",
                str(sort_order),
                max_results,
                participant=participant,
            )
        if not isinstance(start, Mapping):
            raise _validation("startPosition", start, "Member must be a structure")
        given = [k for k in ("Id", "AbsoluteTime", "MostRecent") if start.get(k) is not None]
        if len(given) != 1:
            raise _validation(
                "startPosition", start, "Exactly one of Id, AbsoluteTime, MostRecent is required"
            )
        own_entries = own.entries
        anchor: int  # seq of the start item (inclusive); may be a sentinel
        if "Id" in given:
            found = own.by_id.get(str(start["Id"]))
            if found is None:
                raise _validation("startPosition.id", start["Id"], "No item with this Id")
            anchor = found.seq
        elif "AbsoluteTime" in given:
            try:
                moment = parse_timestamp(str(start["AbsoluteTime"]))
            except ValueError:
                raise _validation(
                    "startPosition.absoluteTime",
                    start["AbsoluteTime"],
                    "Must be an ISO-8601 timestamp",
                ) from None
            times = [(e.seq, parse_timestamp(e.wire["AbsoluteTime"])) for e in own_entries]
            if scan == "FORWARD":
                later = [s for s, t in times if t >= moment - 0.0005]
                anchor = later[0] if later else math.inf  # type: ignore[assignment]
            else:
                earlier = [s for s, t in times if t <= moment + 0.0005]
                anchor = earlier[-1] if earlier else -1
        else:
            most_recent = start["MostRecent"]
            if not isinstance(most_recent, int) or not 0 <= most_recent <= 100:
                raise _validation(
                    "startPosition.mostRecent",
                    most_recent,
                    "Member must have value between 0 and 100",
                )
            if not own_entries:
                anchor = -1 if scan == "BACKWARD" else math.inf  # type: ignore[assignment]
            else:
                index = max(0, len(own_entries) - 1 - most_recent)
                anchor = own_entries[index].seq
        after = anchor - 1 if scan == "FORWARD" else anchor + 1
        return self._transcript_page(
            contact,
            own,
            past_ids,
            str(scan),
            str(sort_order),
            max_results,
            after_seq=after,
            participant=participant,
            past_in_scope=False,
        )

    def _transcript_page_entries(
        self,
        own: Contact,
        past_ids: list[str],
        scan: str,
        after_seq: float | None,
        count: int,
    ) -> list[tuple[Entry, str | None]]:
        """Up to ``count`` (entry, RelatedContactId) in scan order after ``after_seq``
        (exclusive), found by bisection: O(log n + count), not a scan of the transcript.

        Past contacts ended before the next one of the chain started, so the chain's
        entries (past contacts oldest first, then ``own``) are in ``seq`` order."""
        segments: list[tuple[list[Entry], str | None]] = [
            (self.contacts[past_id].entries, past_id) for past_id in past_ids
        ]
        segments.append((own.entries, None))
        result: list[tuple[Entry, str | None]] = []
        if scan == "FORWARD":
            lo = -math.inf if after_seq is None else after_seq
            for entries, related in segments:
                index = bisect.bisect_right(entries, lo, key=_seq_of)
                while index < len(entries) and len(result) < count:
                    result.append((entries[index], related))
                    index += 1
                if len(result) >= count:
                    break
        else:
            hi = math.inf if after_seq is None else after_seq
            for entries, related in reversed(segments):
                index = bisect.bisect_left(entries, hi, key=_seq_of) - 1
                while index >= 0 and len(result) < count:
                    result.append((entries[index], related))
                    index -= 1
                if len(result) >= count:
                    break
        return result

    def _transcript_page(
        self,
        contact: Contact,
        own: Contact,
        past_ids: list[str],
        scan: str,
        sort_order: str,
        max_results: int,
        *,
        participant: Participant,
        after_seq: float | None = None,
        past_in_scope: bool = True,
    ) -> JSON:
        found = self._transcript_page_entries(own, past_ids, scan, after_seq, max_results + 1)
        page = found[:max_results]
        more = len(found) > max_results
        items: list[JSON] = []
        for entry, related in page:
            wire = json.loads(json.dumps(entry.wire))
            if related is not None:
                wire["RelatedContactId"] = related
            items.append(wire)
        ordered = sorted(
            zip(page, items, strict=True),
            key=lambda pair: pair[0][0].seq,
            reverse=sort_order == "DESCENDING",
        )
        answer: JSON = {
            "InitialContactId": contact.initial_contact_id,
            "Transcript": [wire for _, wire in ordered],
        }
        if more:
            token = new_secret(24)
            self._cursors[token] = _TranscriptCursor(
                contact_id=contact.contact_id,
                participant_id=participant.participant_id,
                scan_direction=scan,
                sort_order=sort_order,
                last_seq=page[-1][0].seq,
                include_contact=frozenset(past_ids),
                expires=self.now() + self.config.transcript_cursor_ttl,
            )
            answer["NextToken"] = token
        elif self.config.last_page_next_token is not None:
            answer["NextToken"] = self.config.last_page_next_token
        return answer

    # ------------------------------------------------------------------ attachments
    def _op_StartAttachmentUpload(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        content_type = body.get("ContentType")
        self._check_content("contentType", content_type, 255, True)
        name = body.get("AttachmentName")
        self._check_content("attachmentName", name, 256, True)
        size = body.get("AttachmentSizeInBytes")
        if size is None:
            raise _validation("attachmentSizeInBytes", None, "Member must not be null")
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise _validation(
                "attachmentSizeInBytes", size, "Member must have value greater than or equal to 1"
            )
        client_token = body.get("ClientToken")
        self._check_content("clientToken", client_token, 500, True)
        assert isinstance(name, str) and isinstance(content_type, str)
        if size > self.config.max_attachment_bytes:
            raise ApiError(
                "ServiceQuotaExceededException",
                f"Attachment size exceeds {self.config.max_attachment_bytes} bytes",
            )
        extension = posixpath.splitext(name.lower())[1]
        if extension not in self.config.attachment_extensions:
            raise _validation(
                "attachmentName", name, f"File type {extension or '(none)'} is not supported"
            )

        def make() -> JSON:
            if len(contact.attachments) >= self.config.max_attachments_per_chat:
                raise ApiError(
                    "ServiceQuotaExceededException",
                    f"At most {self.config.max_attachments_per_chat} attachments per chat",
                )
            attachment_id = new_id()
            quoted = urllib.parse.quote(name)
            headers = {
                "Content-Type": content_type,
                "Content-Length": str(size),
                "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
                "x-amz-meta-contact_id": contact.contact_id,
                "x-amz-acl": "bucket-owner-full-control",
            }
            expiry = self.now() + self.config.upload_url_ttl
            attachment = Attachment(
                attachment_id=attachment_id,
                contact_id=contact.contact_id,
                participant_id=participant.participant_id,
                name=name,
                content_type=content_type,
                size=size,
                upload_expiry=expiry,
                headers_to_include=headers,
                upload_signature=new_secret(24),
            )
            contact.attachments[attachment_id] = attachment
            self._attachments[attachment_id] = attachment
            url = (
                f"{base_url.rstrip('/')}/emulator-storage/{attachment_id}?"
                + urllib.parse.urlencode(
                    {
                        "X-Amz-Expires": int(self.config.upload_url_ttl),
                        "X-Amz-Signature": attachment.upload_signature,
                    }
                )
            )
            return {
                "AttachmentId": attachment_id,
                "UploadMetadata": {
                    "Url": url,
                    "UrlExpiry": self.timestamp(expiry),
                    "HeadersToInclude": dict(headers),
                },
            }

        return self._idempotent(participant, "StartAttachmentUpload", client_token, make, body)

    def upload(
        self, attachment_id: str, signature: str | None, headers: Mapping[str, str], data: bytes
    ) -> None:
        """The presigned PUT. Raises ApiError('SignatureDoesNotMatch'/'AccessDenied', 403)."""
        attachment = self._attachments.get(attachment_id)
        if attachment is None or signature != attachment.upload_signature:
            raise ApiError("SignatureDoesNotMatch", "The request signature does not match", 403)
        if self.now() > attachment.upload_expiry:
            raise ApiError("AccessDenied", "Request has expired", 403)
        lowered = {k.lower(): v for k, v in headers.items()}
        for name, value in attachment.headers_to_include.items():
            if lowered.get(name.lower()) != value:
                raise ApiError(
                    "SignatureDoesNotMatch",
                    f"The request signature we calculated does not match: header {name}",
                    403,
                )
        if len(data) != attachment.size:
            raise ApiError(
                "SignatureDoesNotMatch", "Body length differs from the declared size", 403
            )
        attachment.data = data

    def _op_CompleteAttachmentUpload(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        ids = body.get("AttachmentIds")
        if not isinstance(ids, list) or len(ids) != 1:
            raise _validation(
                "attachmentIds", ids, "Member must have length less than or equal to 1 and >= 1"
            )
        client_token = body.get("ClientToken")
        self._check_content("clientToken", client_token, 500, True)
        attachment = contact.attachments.get(str(ids[0]))
        if attachment is None or attachment.participant_id != participant.participant_id:
            raise _validation("attachmentIds", ids, "Unknown attachment")

        def make() -> JSON:
            if attachment.completed:
                raise ApiError("ConflictException", "Attachment upload already completed")
            if attachment.data is None:
                raise ApiError("ConflictException", "The attachment was not uploaded")
            attachment.completed = True
            self._note_activity(contact, participant)
            scan = self.config.attachment_scan_delay
            attachment.status = "APPROVED" if scan is None else "IN_PROGRESS"
            self._emit_attachment(contact, participant, attachment)
            if scan is not None:
                verdict = self.config.attachment_scan_verdict

                def decide() -> None:
                    if attachment.status != "IN_PROGRESS":
                        return
                    attachment.status = verdict
                    if not contact.ended:
                        self._emit_attachment(contact, participant, attachment)

                if self.nursery is None:
                    decide()
                else:
                    self._spawn_at(self.now() + scan, decide)
            return {}

        return self._idempotent(participant, "CompleteAttachmentUpload", client_token, make, body)

    def _emit_attachment(
        self, contact: Contact, participant: Participant, attachment: Attachment
    ) -> None:
        """Emit the attachment's ATTACHMENT item with its current Status: the first time a
        new item, then the same Id again (same AbsoluteTime) replacing the stored one."""
        item = self._new_item(
            contact,
            participant,
            type="ATTACHMENT",
            content_type=attachment.content_type,
            extra={
                "Attachments": [
                    {
                        "AttachmentId": attachment.attachment_id,
                        "AttachmentName": attachment.name,
                        "ContentType": attachment.content_type,
                        "Status": attachment.status,
                    }
                ]
            },
        )
        if attachment.item_id is None:
            attachment.item_id = item["Id"]
            attachment.absolute_time = item["AbsoluteTime"]
        else:
            item["Id"] = attachment.item_id
            item["AbsoluteTime"] = attachment.absolute_time
        self.emit(contact, item)

    def set_attachment_status(self, attachment_id: str, status: str) -> JSON:
        """Give a completed attachment a scan verdict now (APPROVED or REJECTED): emits the
        ATTACHMENT item again under its Id. Raises ApiError ResourceNotFoundException
        (unknown or not completed), ValidationException (bad status), AccessDenied (ended)."""
        if status not in ("APPROVED", "REJECTED"):
            raise ApiError(
                "ValidationException", f"Status must be APPROVED or REJECTED, got {status!r}"
            )
        attachment = self._attachments.get(attachment_id)
        if attachment is None or not attachment.completed:
            raise ApiError("ResourceNotFoundException", "Attachment not found")
        contact = self.contact(attachment.contact_id)
        if contact.ended:
            raise ApiError("AccessDeniedException", "The chat has ended")
        attachment.status = status
        self._emit_attachment(contact, self.participant(attachment.participant_id), attachment)
        entry = contact.by_id[str(attachment.item_id)]
        return json.loads(json.dumps(entry.wire))  # type: ignore[no-any-return]

    def _op_GetAttachment(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        if participant.role == "CUSTOM_BOT":
            raise ApiError(
                "AccessDeniedException", "CUSTOM_BOT participants may not get attachments"
            )
        attachment_id = body.get("AttachmentId")
        self._check_content("attachmentId", attachment_id, 256, True)
        expiry_s = body.get("UrlExpiryInSeconds", self.config.default_attachment_url_expiry)
        if not isinstance(expiry_s, int) or not 5 <= expiry_s <= 300:
            raise _validation(
                "urlExpiryInSeconds", expiry_s, "Member must have value between 5 and 300"
            )
        disposition = body.get("UrlContentDisposition")
        if disposition is not None and disposition not in ("INLINE", "ATTACHMENT"):
            raise _validation(
                "urlContentDisposition", disposition, "Member must be INLINE or ATTACHMENT"
            )
        chain = [contact.contact_id, *contact.past_contact_ids]
        attachment = self._attachments.get(str(attachment_id))
        if attachment is None or attachment.contact_id not in chain or not attachment.completed:
            raise _validation("attachmentId", attachment_id, "Unknown attachment")
        if attachment.status != "APPROVED":
            raise _validation("attachmentId", attachment_id, "Attachment is not approved")
        expires = self.now() + expiry_s
        query = {"X-Amz-Expires": str(expiry_s), "Expires": repr(expires)}
        if disposition is not None:
            query["response-content-disposition"] = disposition.lower()
        query["X-Amz-Signature"] = self._sign_download(attachment.attachment_id, query)
        url = (
            f"{base_url.rstrip('/')}/emulator-storage/{attachment.attachment_id}?"
            + urllib.parse.urlencode(query)
        )
        return {
            "Url": url,
            "UrlExpiry": self.timestamp(expires),
            "AttachmentSizeInBytes": attachment.size,
        }

    def _sign_download(self, attachment_id: str, query: Mapping[str, str]) -> str:
        """HMAC-SHA256 (this emulator's key) over the method, the storage path and every
        signed query parameter (expiry, content disposition), as presigned URLs are."""
        canonical = "\n".join(
            [
                "GET",
                f"/emulator-storage/{attachment_id}",
                *(f"{k}={query[k]}" for k in sorted(query) if k != "X-Amz-Signature"),
            ]
        )
        return hmac.new(self._url_key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()

    def download(
        self, attachment_id: str, query: Mapping[str, list[str]]
    ) -> tuple[Attachment, bytes]:
        """The presigned GET of a GetAttachment URL. ``query``: its parsed query string.

        Raises ApiError 403: SignatureDoesNotMatch (an edited, unsigned or foreign URL: the
        signature covers the path, ``Expires``, ``X-Amz-Expires`` and
        ``response-content-disposition``), AccessDenied (expired, or the attachment is
        unknown or not APPROVED)."""
        if any(len(values) != 1 for values in query.values()):
            raise ApiError("SignatureDoesNotMatch", "A query parameter is repeated", 403)
        flat = {k: v[0] for k, v in query.items()}
        given = flat.get("X-Amz-Signature", "")
        expected = self._sign_download(attachment_id, flat)
        if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("ascii")):
            raise ApiError(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided",
                403,
            )
        try:
            deadline = float(flat.get("Expires") or "")
        except ValueError:
            raise ApiError("AccessDenied", "Access Denied", 403) from None
        if self.now() > deadline:
            raise ApiError("AccessDenied", "Request has expired", 403)
        attachment = self._attachments.get(attachment_id)
        if (
            attachment is None
            or attachment.data is None
            or not attachment.completed
            or attachment.status != "APPROVED"
        ):
            raise ApiError("AccessDenied", "Access Denied", 403)
        return attachment, attachment.data

    # ------------------------------------------------------------------ views and authentication
    def _op_DescribeView(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        view_token = body.get("ViewToken")
        self._check_content("viewToken", view_token, 1000, True)
        view = self.views.get(str(view_token))
        if view is None:
            raise ApiError("ResourceNotFoundException", "View not found")
        return {"View": json.loads(json.dumps(view))}

    def _auth_session(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any]
    ) -> AuthSession:
        session_id = body.get("SessionId")
        if session_id is None:
            raise _validation("sessionId", None, "Member must not be null")
        if not isinstance(session_id, str) or len(session_id) != 36:
            raise _validation("sessionId", session_id, "Member must have length 36")
        session = contact.auth_sessions.get(session_id)
        if session is None or session.participant_id != participant.participant_id:
            raise _validation(
                "sessionId", session_id, "No authentication session with this SessionId"
            )
        if session.state != "INITIATED":
            raise _validation(
                "sessionId", session_id, f"Authentication session already ended ({session.state})"
            )
        return session

    def _op_GetAuthenticationUrl(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        session = self._auth_session(contact, participant, body)
        redirect = body.get("RedirectUri")
        self._check_content("redirectUri", redirect, 1024, True)
        if self.now() > session.initiated_at + self.config.authentication_url_window:
            window = self.config.authentication_url_window
            raise _validation(
                "sessionId",
                session.session_id,
                f"GetAuthenticationUrl is only allowed within {window:g} s of the "
                "authentication.initiated event",
            )
        session.redirect_uri = str(redirect)
        query = urllib.parse.urlencode({"SessionId": session.session_id})
        return {"AuthenticationUrl": f"{base_url.rstrip('/')}/emulator/authenticate?{query}"}

    def _op_CancelParticipantAuthentication(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        session = self._auth_session(contact, participant, body)
        self._finish_auth(contact, session, "CANCELLED")
        return {}
