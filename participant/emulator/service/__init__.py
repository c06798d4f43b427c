"""Chat state of the emulated Participant Service, independent of any transport.

Everything here works on plain wire dicts (PascalCase JSON, [protocol](protocol.md#rest-api),
[protocol](protocol.md#items)) and shares
no logic with the client. ``ChatService.call(operation, token, body, base_url)`` runs one
REST operation of the Participant Service; ``start_chat_contact`` runs the Connect API's
StartChatContact. Errors are raised as :class:`ApiError` (code, HTTP status, message).

One module per concern; :class:`ChatService` (``dispatch``) is their union:

- ``names``: content types, roles, connection types, operations;
- ``validation``: :class:`ApiError` and ValidationException messages;
- ``records``: contacts, participants, tokens, URLs, entries, attachments, sessions, faults;
- ``state``: the shared state, new items and their delivery (``emit``);
- ``tokens``: token and URL checks, revocation, the sweep;
- ``admission``: rate limits and idempotency by ClientToken;
- ``timers``: chat timers (idle, returned, autodisconnection);
- ``chats``: StartChatContact, joining, leaving, the end of a chat, transfers;
- ``messages``: SendMessage and the message processor, SendEvent and receipts,
  DisconnectParticipant, system messages and streamed replies;
- ``connections``: CreateParticipantConnection;
- ``transcript``: GetTranscript and its paging;
- ``attachments``: upload, scan, signed download;
- ``authentication``: authentication sessions and DescribeView;
- ``dispatch``: ``ChatService.call``, the REST entry.
"""

from participant.emulator.service.dispatch import ChatService
from participant.emulator.service.names import (
    CONNECTION_TYPES,
    CT_AUTH_CANCELLED,
    CT_AUTH_EXPIRED,
    CT_AUTH_FAILED,
    CT_AUTH_INITIATED,
    CT_AUTH_SUCCEEDED,
    CT_AUTH_TIMEOUT,
    CT_AUTODISCONNECTION,
    CT_CHAT_ENDED,
    CT_CONNECTION_ACK,
    CT_DELIVERED,
    CT_IDLE,
    CT_INTERACTIVE,
    CT_INTERACTIVE_RESPONSE,
    CT_JOINED,
    CT_LEFT,
    CT_METADATA,
    CT_READ,
    CT_RETURNED,
    CT_TRANSFER_FAILED,
    CT_TRANSFER_SUCCEEDED,
    CT_TYPING,
    EVENT_CONTENT_TYPES,
    EVENT_PREFIX,
    JSON,
    MESSAGE_CONTENT_TYPES,
    OPERATIONS,
    ROLES,
)
from participant.emulator.service.records import (
    Attachment,
    AuthSession,
    ConnectionCredential,
    Contact,
    Entry,
    FaultState,
    MessageProcessor,
    Participant,
    ProcessedMessage,
    SocketHandle,
    WebRTCAttendee,
    WebsocketUrl,
)
from participant.emulator.service.validation import STATUS_BY_CODE, ApiError

__all__ = [
    "CONNECTION_TYPES",
    "CT_AUTH_CANCELLED",
    "CT_AUTH_EXPIRED",
    "CT_AUTH_FAILED",
    "CT_AUTH_INITIATED",
    "CT_AUTH_SUCCEEDED",
    "CT_AUTH_TIMEOUT",
    "CT_AUTODISCONNECTION",
    "CT_CHAT_ENDED",
    "CT_CONNECTION_ACK",
    "CT_DELIVERED",
    "CT_IDLE",
    "CT_INTERACTIVE",
    "CT_INTERACTIVE_RESPONSE",
    "CT_JOINED",
    "CT_LEFT",
    "CT_METADATA",
    "CT_READ",
    "CT_RETURNED",
    "CT_TRANSFER_FAILED",
    "CT_TRANSFER_SUCCEEDED",
    "CT_TYPING",
    "EVENT_CONTENT_TYPES",
    "EVENT_PREFIX",
    "JSON",
    "MESSAGE_CONTENT_TYPES",
    "OPERATIONS",
    "ROLES",
    "STATUS_BY_CODE",
    "ApiError",
    "Attachment",
    "AuthSession",
    "ChatService",
    "ConnectionCredential",
    "Contact",
    "Entry",
    "FaultState",
    "MessageProcessor",
    "Participant",
    "ProcessedMessage",
    "SocketHandle",
    "WebRTCAttendee",
    "WebsocketUrl",
]
