"""Transcript items, typed by Type and ContentType ([protocol](protocol.md#items)).

An :class:`Item` is one transcript entry, as returned by GetTranscript and as carried
(JSON in a string) by ``aws/chat`` websocket frames. :func:`parse_item` routes by Type
first, then by ContentType (:data:`CONTENT_TYPES`): an item of Type ``ATTACHMENT`` is an
:class:`AttachmentMessage` whatever its ContentType, a receipt (Type ``MESSAGEMETADATA``)
without ContentType a :class:`MessageMetadataEvent`, a Type ``MESSAGE`` without
ContentType a :class:`MessageItem`; an unknown ContentType gives :class:`UnknownItem`,
which still carries every field. A GetTranscript
entry and a socket frame with the same payload give equal objects.
"""

# ruff: noqa: RUF009  (attrs field helpers as defaults are intended)
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar, Final

import attrs

from ..errors import InvalidFrameError
from ._wire import _from_wire, extra_field, list_of, loads, struct, to_wire

__all__ = [
    "CONTENT_TYPES",
    "ArtifactStatus",
    "AttachmentItem",
    "AttachmentMessage",
    "AuthenticationCancelled",
    "AuthenticationExpired",
    "AuthenticationFailed",
    "AuthenticationInitiated",
    "AuthenticationSucceeded",
    "AuthenticationTimeout",
    "ChatEnded",
    "ChatItemType",
    "ChatRehydrated",
    "ConnectionAcknowledged",
    "ContentType",
    "EventItem",
    "InteractiveMessage",
    "InteractiveResponse",
    "Item",
    "JsonMessage",
    "MarkdownMessage",
    "MessageDelivered",
    "MessageItem",
    "MessageMetadata",
    "MessageMetadataEvent",
    "MessageProcessingStatus",
    "MessageRead",
    "ParticipantActive",
    "ParticipantAutoDisconnection",
    "ParticipantDisplayNameUpdated",
    "ParticipantIdle",
    "ParticipantInactive",
    "ParticipantInvited",
    "ParticipantJoined",
    "ParticipantLeft",
    "ParticipantReturned",
    "ParticipantRole",
    "Receipt",
    "TextMessage",
    "TransferFailed",
    "TransferSucceeded",
    "Typing",
    "UnknownItem",
    "WorkflowCancelled",
    "decode_chat_frame",
    "encode_chat_frame",
    "item_to_wire",
    "parse_item",
    "register_content_type",
]

_EVENT = "application/vnd.amazonaws.connect.event."


class ContentType:
    """ContentType values of [protocol](protocol.md#items) (plain ``str`` constants; others
    exist)."""

    TEXT_PLAIN: Final = "text/plain"
    TEXT_MARKDOWN: Final = "text/markdown"
    APPLICATION_JSON: Final = "application/json"
    INTERACTIVE_MESSAGE: Final = "application/vnd.amazonaws.connect.message.interactive"
    INTERACTIVE_RESPONSE: Final = "application/vnd.amazonaws.connect.message.interactive.response"
    TYPING: Final = _EVENT + "typing"
    MESSAGE_DELIVERED: Final = _EVENT + "message.delivered"
    MESSAGE_READ: Final = _EVENT + "message.read"
    MESSAGE_METADATA: Final = _EVENT + "message.metadata"
    CONNECTION_ACKNOWLEDGED: Final = _EVENT + "connection.acknowledged"
    PARTICIPANT_JOINED: Final = _EVENT + "participant.joined"
    PARTICIPANT_LEFT: Final = _EVENT + "participant.left"
    PARTICIPANT_INVITED: Final = _EVENT + "participant.invited"
    PARTICIPANT_IDLE: Final = _EVENT + "participant.idle"
    PARTICIPANT_RETURNED: Final = _EVENT + "participant.returned"
    PARTICIPANT_AUTODISCONNECTION: Final = _EVENT + "participant.autodisconnection"
    PARTICIPANT_DISPLAYNAME_UPDATED: Final = _EVENT + "participant.displayname.updated"
    PARTICIPANT_ACTIVE: Final = _EVENT + "participant.active"
    PARTICIPANT_INACTIVE: Final = _EVENT + "participant.inactive"
    TRANSFER_SUCCEEDED: Final = _EVENT + "transfer.succeeded"
    TRANSFER_FAILED: Final = _EVENT + "transfer.failed"
    CHAT_ENDED: Final = _EVENT + "chat.ended"
    CHAT_REHYDRATED: Final = _EVENT + "chat.rehydrated"
    WORKFLOW_CANCELLED: Final = _EVENT + "workflow.cancelled"
    AUTHENTICATION_INITIATED: Final = _EVENT + "authentication.initiated"
    AUTHENTICATION_SUCCEEDED: Final = _EVENT + "authentication.succeeded"
    AUTHENTICATION_FAILED: Final = _EVENT + "authentication.failed"
    AUTHENTICATION_TIMEOUT: Final = _EVENT + "authentication.timeout"
    AUTHENTICATION_EXPIRED: Final = _EVENT + "authentication.expired"
    AUTHENTICATION_CANCELLED: Final = _EVENT + "authentication.cancelled"

    EVENT_PREFIX: Final = _EVENT
    MESSAGE_TYPES: Final = frozenset(
        {TEXT_PLAIN, TEXT_MARKDOWN, APPLICATION_JSON, INTERACTIVE_MESSAGE, INTERACTIVE_RESPONSE}
    )
    """ContentTypes accepted by SendMessage."""


class ChatItemType:
    """Item ``Type`` values (ChatItemType in the model, plus ``MESSAGEMETADATA``)."""

    MESSAGE: Final = "MESSAGE"
    EVENT: Final = "EVENT"
    ATTACHMENT: Final = "ATTACHMENT"
    CONNECTION_ACK: Final = "CONNECTION_ACK"
    TYPING: Final = "TYPING"
    PARTICIPANT_JOINED: Final = "PARTICIPANT_JOINED"
    PARTICIPANT_LEFT: Final = "PARTICIPANT_LEFT"
    CHAT_ENDED: Final = "CHAT_ENDED"
    TRANSFER_SUCCEEDED: Final = "TRANSFER_SUCCEEDED"
    TRANSFER_FAILED: Final = "TRANSFER_FAILED"
    MESSAGE_DELIVERED: Final = "MESSAGE_DELIVERED"
    MESSAGE_READ: Final = "MESSAGE_READ"
    MESSAGEMETADATA: Final = "MESSAGEMETADATA"


class ParticipantRole:
    """ParticipantRole values (others are kept as plain ``str``)."""

    AGENT: Final = "AGENT"
    CUSTOMER: Final = "CUSTOMER"
    SYSTEM: Final = "SYSTEM"
    CUSTOM_BOT: Final = "CUSTOM_BOT"
    SUPERVISOR: Final = "SUPERVISOR"


class ArtifactStatus:
    """AttachmentItem ``Status`` values."""

    APPROVED: Final = "APPROVED"
    REJECTED: Final = "REJECTED"
    IN_PROGRESS: Final = "IN_PROGRESS"


class MessageProcessingStatus:
    """MessageMetadata ``MessageProcessingStatus`` values."""

    PROCESSING: Final = "PROCESSING"
    FAILED: Final = "FAILED"
    REJECTED: Final = "REJECTED"


@attrs.frozen(kw_only=True)
class AttachmentItem:
    """One attachment of an item (``Attachments[]``): ids, name, MIME type and scan status."""

    content_type: str | None = None
    attachment_id: str | None = None
    attachment_name: str | None = None
    status: str | None = None
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class Receipt:
    """A delivery/read receipt: timestamps (ISO-8601 strings) for one recipient."""

    delivered_timestamp: str | None = None
    read_timestamp: str | None = None
    recipient_participant_id: str | None = None
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class MessageMetadata:
    """``MessageMetadata`` of an item: the message it describes and its receipts.

    ``message_completed``/``chunk_number`` are set on streaming bot replies.
    """

    message_id: str | None = None
    receipts: tuple[Receipt, ...] | None = list_of(Receipt)
    message_processing_status: str | None = None
    message_completed: bool | None = None
    chunk_number: int | None = None
    extra: dict[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class Item:
    """A transcript item (GetTranscript ``Transcript[]`` entry or ``aws/chat`` payload).

    All fields are optional and kept as on the wire: ``absolute_time`` is the ISO-8601
    string (:func:`participant.model.parse_absolute_time` gives epoch seconds), ``type``
    and ``participant_role`` are plain strings so unknown values survive.

    Two **delivery attributes** are not wire fields (never decoded from or encoded to the
    wire, and not part of ``==`` or ``hash``: two items with the same wire fields are
    equal whatever their revision): ``revision`` (1 for the first delivery of an Id, then
    2, 3, ... for each change of that Id; set by
    :class:`participant.core.log.ItemLog`) and ``redelivered`` (``True`` only for an item
    delivered before a resume but not acknowledged). :attr:`complete` says whether the
    item can still change. See docs/concepts.md, "Revisions".
    """

    kind: ClassVar[str] = "item"

    id: str | None = None
    absolute_time: str | None = None
    type: str | None = None
    content_type: str | None = None
    content: str | None = None
    participant_id: str | None = None
    display_name: str | None = None
    participant_role: str | None = None
    attachments: tuple[AttachmentItem, ...] | None = list_of(AttachmentItem)
    message_metadata: MessageMetadata | None = struct(MessageMetadata)
    related_contact_id: str | None = None
    contact_id: str | None = None
    initial_contact_id: str | None = None
    extra: dict[str, Any] = extra_field()
    revision: int = attrs.field(default=1, eq=False, metadata={"delivery": True})
    redelivered: bool = attrs.field(default=False, eq=False, metadata={"delivery": True})

    @property
    def complete(self) -> bool:
        """Whether this item will not change any more (docs/concepts.md, "Revisions"):
        ``False`` for a streaming reply's partial (``MessageMetadata.MessageCompleted`` is
        ``false``), an attachment still ``IN_PROGRESS`` (being scanned) or a message whose
        ``MessageProcessingStatus`` is ``PROCESSING``; ``True`` otherwise."""
        metadata = self.message_metadata
        if metadata is not None and (
            metadata.message_completed is False
            or metadata.message_processing_status == MessageProcessingStatus.PROCESSING
        ):
            return False
        attachments = self.attachments
        if attachments:
            for attachment in attachments:
                if attachment.status == ArtifactStatus.IN_PROGRESS:
                    return False
        return True

    def content_json(self) -> Any:
        """``content`` decoded as JSON, or ``None`` when absent or not JSON."""
        if self.content is None:
            return None
        try:
            return json.loads(self.content)
        except ValueError:
            return None


@attrs.frozen(kw_only=True)
class MessageItem(Item):
    """Base of the message ContentTypes (sent with SendMessage)."""

    kind: ClassVar[str] = "message"


@attrs.frozen(kw_only=True)
class EventItem(Item):
    """Base of the event ContentTypes (``application/vnd.amazonaws.connect.event.*``)."""

    kind: ClassVar[str] = "event"


@attrs.frozen(kw_only=True)
class TextMessage(MessageItem):
    """``text/plain`` message; ``text`` is the content."""

    @property
    def text(self) -> str:
        return self.content or ""


@attrs.frozen(kw_only=True)
class MarkdownMessage(MessageItem):
    """``text/markdown`` message; ``text`` is the Markdown source."""

    @property
    def text(self) -> str:
        return self.content or ""


@attrs.frozen(kw_only=True)
class JsonMessage(MessageItem):
    """``application/json`` message; ``content_json()`` decodes it."""


@attrs.frozen(kw_only=True)
class InteractiveMessage(MessageItem):
    """Interactive message template (list picker, time picker...), JSON content."""


@attrs.frozen(kw_only=True)
class InteractiveResponse(MessageItem):
    """The customer's answer to an interactive message, JSON content."""


@attrs.frozen(kw_only=True)
class AttachmentMessage(Item):
    """An item of Type ``ATTACHMENT``: see ``attachments`` for ids, names and Status."""

    kind: ClassVar[str] = "attachment"


@attrs.frozen(kw_only=True)
class Typing(EventItem):
    """``...event.typing``."""


@attrs.frozen(kw_only=True)
class _ReceiptEvent(EventItem):
    @property
    def message_id(self) -> str | None:
        """The receipted message's Id (from ``content`` or ``MessageMetadata``)."""
        data = self.content_json()
        if isinstance(data, dict) and isinstance(data.get("messageId"), str):
            return str(data["messageId"])
        if self.message_metadata is not None:
            return self.message_metadata.message_id
        return None


@attrs.frozen(kw_only=True)
class MessageDelivered(_ReceiptEvent):
    """``...event.message.delivered``: ``message_id`` names the delivered message."""


@attrs.frozen(kw_only=True)
class MessageRead(_ReceiptEvent):
    """``...event.message.read``: ``message_id`` names the read message."""


@attrs.frozen(kw_only=True)
class MessageMetadataEvent(_ReceiptEvent):
    """``...event.message.metadata`` (Type ``MESSAGEMETADATA``): receipts and status."""


@attrs.frozen(kw_only=True)
class ConnectionAcknowledged(EventItem):
    """``...event.connection.acknowledged`` (deprecated by the service)."""


@attrs.frozen(kw_only=True)
class ParticipantJoined(EventItem):
    """``...event.participant.joined``."""


@attrs.frozen(kw_only=True)
class ParticipantLeft(EventItem):
    """``...event.participant.left``."""


@attrs.frozen(kw_only=True)
class ParticipantInvited(EventItem):
    """``...event.participant.invited``."""


@attrs.frozen(kw_only=True)
class ParticipantIdle(EventItem):
    """``...event.participant.idle``."""


@attrs.frozen(kw_only=True)
class ParticipantReturned(EventItem):
    """``...event.participant.returned``."""


@attrs.frozen(kw_only=True)
class ParticipantAutoDisconnection(EventItem):
    """``...event.participant.autodisconnection``."""


@attrs.frozen(kw_only=True)
class ParticipantDisplayNameUpdated(EventItem):
    """``...event.participant.displayname.updated``."""


@attrs.frozen(kw_only=True)
class ParticipantActive(EventItem):
    """``...event.participant.active``."""


@attrs.frozen(kw_only=True)
class ParticipantInactive(EventItem):
    """``...event.participant.inactive``."""


@attrs.frozen(kw_only=True)
class TransferSucceeded(EventItem):
    """``...event.transfer.succeeded``."""


@attrs.frozen(kw_only=True)
class TransferFailed(EventItem):
    """``...event.transfer.failed``."""


@attrs.frozen(kw_only=True)
class ChatEnded(EventItem):
    """``...event.chat.ended``: the chat is over; no more items follow."""


@attrs.frozen(kw_only=True)
class ChatRehydrated(EventItem):
    """``...event.chat.rehydrated`` (persistent chat)."""


@attrs.frozen(kw_only=True)
class WorkflowCancelled(EventItem):
    """``...event.workflow.cancelled``."""


@attrs.frozen(kw_only=True)
class AuthenticationInitiated(EventItem):
    """``...event.authentication.initiated``: call GetAuthenticationUrl within a minute."""


@attrs.frozen(kw_only=True)
class AuthenticationSucceeded(EventItem):
    """``...event.authentication.succeeded``."""


@attrs.frozen(kw_only=True)
class AuthenticationFailed(EventItem):
    """``...event.authentication.failed``."""


@attrs.frozen(kw_only=True)
class AuthenticationTimeout(EventItem):
    """``...event.authentication.timeout``."""


@attrs.frozen(kw_only=True)
class AuthenticationExpired(EventItem):
    """``...event.authentication.expired``."""


@attrs.frozen(kw_only=True)
class AuthenticationCancelled(EventItem):
    """``...event.authentication.cancelled``."""


@attrs.frozen(kw_only=True)
class UnknownItem(Item):
    """An item whose ContentType is not registered; every field is still present."""

    kind: ClassVar[str] = "unknown"


_REGISTRY: dict[str, type[Item]] = {
    ContentType.TEXT_PLAIN: TextMessage,
    ContentType.TEXT_MARKDOWN: MarkdownMessage,
    ContentType.APPLICATION_JSON: JsonMessage,
    ContentType.INTERACTIVE_MESSAGE: InteractiveMessage,
    ContentType.INTERACTIVE_RESPONSE: InteractiveResponse,
    ContentType.TYPING: Typing,
    ContentType.MESSAGE_DELIVERED: MessageDelivered,
    ContentType.MESSAGE_READ: MessageRead,
    ContentType.MESSAGE_METADATA: MessageMetadataEvent,
    ContentType.CONNECTION_ACKNOWLEDGED: ConnectionAcknowledged,
    ContentType.PARTICIPANT_JOINED: ParticipantJoined,
    ContentType.PARTICIPANT_LEFT: ParticipantLeft,
    ContentType.PARTICIPANT_INVITED: ParticipantInvited,
    ContentType.PARTICIPANT_IDLE: ParticipantIdle,
    ContentType.PARTICIPANT_RETURNED: ParticipantReturned,
    ContentType.PARTICIPANT_AUTODISCONNECTION: ParticipantAutoDisconnection,
    ContentType.PARTICIPANT_DISPLAYNAME_UPDATED: ParticipantDisplayNameUpdated,
    ContentType.PARTICIPANT_ACTIVE: ParticipantActive,
    ContentType.PARTICIPANT_INACTIVE: ParticipantInactive,
    ContentType.TRANSFER_SUCCEEDED: TransferSucceeded,
    ContentType.TRANSFER_FAILED: TransferFailed,
    ContentType.CHAT_ENDED: ChatEnded,
    ContentType.CHAT_REHYDRATED: ChatRehydrated,
    ContentType.WORKFLOW_CANCELLED: WorkflowCancelled,
    ContentType.AUTHENTICATION_INITIATED: AuthenticationInitiated,
    ContentType.AUTHENTICATION_SUCCEEDED: AuthenticationSucceeded,
    ContentType.AUTHENTICATION_FAILED: AuthenticationFailed,
    ContentType.AUTHENTICATION_TIMEOUT: AuthenticationTimeout,
    ContentType.AUTHENTICATION_EXPIRED: AuthenticationExpired,
    ContentType.AUTHENTICATION_CANCELLED: AuthenticationCancelled,
}

CONTENT_TYPES: Mapping[str, type[Item]] = _REGISTRY
"""ContentType -> Item subclass (a live view; extend with :func:`register_content_type`)."""


def register_content_type(content_type: str, cls: type[Item]) -> None:
    """Map ``content_type`` to ``cls`` (a frozen attrs subclass of :class:`Item`)."""
    if not (isinstance(cls, type) and issubclass(cls, Item)):
        raise TypeError("cls must be a subclass of Item")
    _REGISTRY[content_type] = cls
    _ROUTES.clear()


_TYPE_DEFAULTS: dict[str, type[Item]] = {
    ChatItemType.MESSAGE: MessageItem,
    ChatItemType.ATTACHMENT: AttachmentMessage,
    ChatItemType.MESSAGEMETADATA: MessageMetadataEvent,
    ChatItemType.TYPING: Typing,
    ChatItemType.CONNECTION_ACK: ConnectionAcknowledged,
    ChatItemType.PARTICIPANT_JOINED: ParticipantJoined,
    ChatItemType.PARTICIPANT_LEFT: ParticipantLeft,
    ChatItemType.CHAT_ENDED: ChatEnded,
    ChatItemType.TRANSFER_SUCCEEDED: TransferSucceeded,
    ChatItemType.TRANSFER_FAILED: TransferFailed,
    ChatItemType.MESSAGE_DELIVERED: MessageDelivered,
    ChatItemType.MESSAGE_READ: MessageRead,
}
"""Type -> the class of an item of that Type without a (known) ContentType."""

_ROUTES: dict[tuple[str | None, str | None], type[Item]] = {}
_ROUTES_MAX = 1024  # distinct (Type, ContentType) pairs cached; beyond, resolved each time


def _resolve(item_type: str | None, content_type: str | None) -> type[Item]:
    """The class of an item of ``item_type`` and ``content_type`` (see :func:`parse_item`)."""
    if item_type == ChatItemType.ATTACHMENT:
        return AttachmentMessage
    if content_type is None:
        default = _TYPE_DEFAULTS.get(item_type) if item_type is not None else None
        return default if default is not None else UnknownItem
    found = _REGISTRY.get(content_type)
    return found if found is not None else UnknownItem


def parse_item(wire: Mapping[str, Any]) -> Item:
    """Build the typed item for a wire dict (a GetTranscript entry or a frame's payload).

    The class is routed by ``Type`` first, then ``ContentType``:

    - Type ``ATTACHMENT`` -> :class:`AttachmentMessage`, whatever its ContentType;
    - no ContentType -> the Type's own class: ``MESSAGE`` -> :class:`MessageItem`,
      ``MESSAGEMETADATA`` -> :class:`MessageMetadataEvent`, ``TYPING`` ->
      :class:`Typing`, ``CHAT_ENDED`` -> :class:`ChatEnded`, ... (``_TYPE_DEFAULTS``);
      :class:`UnknownItem` for ``EVENT`` or a Type not listed;
    - otherwise the class registered for the ContentType (:data:`CONTENT_TYPES`), or
      :class:`UnknownItem` for a ContentType not registered.

    A ``Type`` or ``ContentType`` that is not a string counts as absent. Unknown fields,
    nulls and values of a wrong JSON type go to ``extra`` (see :mod:`._wire`).

    Raises:
        InvalidFrameError: ``wire`` is not a JSON object.
    """
    if type(wire) is not dict and not isinstance(wire, Mapping):
        raise InvalidFrameError(f"an item must be a JSON object, got {type(wire).__name__}")
    item_type = wire.get("Type")
    content_type = wire.get("ContentType")
    if type(item_type) is not str and not isinstance(item_type, str):
        item_type = None
    if type(content_type) is not str and not isinstance(content_type, str):
        content_type = None
    key = (item_type, content_type)
    cls = _ROUTES.get(key)
    if cls is None:
        cls = _resolve(item_type, content_type)
        if len(_ROUTES) < _ROUTES_MAX:
            _ROUTES[key] = cls
    return _from_wire(cls, wire)


def item_to_wire(item: Item) -> dict[str, Any]:
    """The wire dict of an item (inverse of :func:`parse_item`)."""
    return to_wire(item)


CHAT_TOPIC: Final = "aws/chat"


def decode_chat_frame(frame: Mapping[str, Any]) -> Item:
    """Decode an ``aws/chat`` websocket frame ([protocol](protocol.md#the-websocket)) into a typed
    item.

    ``frame["content"]`` is the item as a JSON string (an already decoded object is
    accepted too).

    Raises:
        InvalidFrameError: not an ``aws/chat`` frame, or its content is not a JSON object.
    """
    if type(frame) is not dict and not isinstance(frame, Mapping):
        raise InvalidFrameError(f"a frame must be a JSON object, got {type(frame).__name__}")
    topic = frame.get("topic")
    if topic != CHAT_TOPIC:
        raise InvalidFrameError(f"not an aws/chat frame (topic {topic!r})")
    content = frame.get("content")
    if isinstance(content, (str, bytes)):
        try:
            content = loads(content) if type(content) is str else json.loads(content)
        except ValueError as exc:
            raise InvalidFrameError(f"aws/chat content is not JSON: {exc}") from None
    if type(content) is not dict and not isinstance(content, Mapping):
        raise InvalidFrameError("aws/chat content is not a JSON object")
    return parse_item(content)


def encode_chat_frame(item: Item | Mapping[str, Any]) -> dict[str, Any]:
    """The ``aws/chat`` frame carrying ``item`` (what the service sends;
    [protocol](protocol.md#the-websocket))."""
    wire = item_to_wire(item) if isinstance(item, Item) else dict(item)
    return {
        "topic": CHAT_TOPIC,
        "contentType": "application/json",
        "content": json.dumps(wire, separators=(",", ":")),
    }
