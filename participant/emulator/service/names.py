"""The service's vocabulary: content types, roles, connection types, operations."""

from __future__ import annotations

from typing import Any

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
