"""The records the service keeps: contacts, participants, tokens, URLs, transcript entries,
attachments, authentication sessions; the fault switches."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Protocol

import attrs
import trio

from participant.emulator.service.names import JSON


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
class RateBucket:
    tokens: float
    last: float


@attrs.define
class TranscriptCursor:
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
