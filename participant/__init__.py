"""participant: a reliable trio participant of an Amazon Connect chat.

The public names most programs need are re-exported here::

    import participant

    async with participant.connect(participant_token, region="us-east-1") as chat:
        await chat.send_message("Hello")
        async for item in chat:
            ...

Modules: :mod:`participant.model` (wire shapes and typed items),
:mod:`participant.api` (REST client), :mod:`participant.actor` (the actor),
:mod:`participant.machine` (the state table), :mod:`participant.errors`,
:mod:`participant.emulator` (needs the ``emulator`` extra; not imported here).
See ``docs/`` for the guide and the API reference.
"""

import logging

from participant.actor import (
    ItemHandler,
    Participant,
    ParticipantConfig,
    ParticipantStats,
    connect,
)
from participant.api import ParticipantClient, RetryPolicy
from participant.cursor import Cursor, CursorError, CursorHandle, MemoryCursor
from participant.errors import (
    AccessDeniedException,
    CertificateError,
    ChatEndedError,
    ConflictException,
    ConnectError,
    HTTPStatusError,
    InternalServerException,
    InvalidFrameError,
    InvalidParameterError,
    ParticipantClosedError,
    ParticipantError,
    ResourceNotFoundException,
    ResponseTooLargeError,
    ServiceError,
    ServiceQuotaExceededException,
    ThrottlingException,
    TimeoutException,
    TranscriptPagingError,
    TransportError,
    ValidationException,
)
from participant.machine import State, StateChange
from participant.model import (
    ContentType,
    Item,
    StartPosition,
    UploadMetadata,
    parse_item,
)
from participant.view import MessageStatus, TranscriptView, ViewChange

__version__ = "0.1.0"

# A library logs, the program decides where logs go: without this, Python's last-resort
# handler prints the library's warnings as bare lines on stderr in a program that set up
# no logging (the logging HOWTO's advice for libraries).
logging.getLogger("participant").addHandler(logging.NullHandler())

__all__ = [
    "AccessDeniedException",
    "CertificateError",
    "ChatEndedError",
    "ConflictException",
    "ConnectError",
    "ContentType",
    "Cursor",
    "CursorError",
    "CursorHandle",
    "HTTPStatusError",
    "InternalServerException",
    "InvalidFrameError",
    "InvalidParameterError",
    "Item",
    "ItemHandler",
    "MemoryCursor",
    "MessageStatus",
    "Participant",
    "ParticipantClient",
    "ParticipantClosedError",
    "ParticipantConfig",
    "ParticipantError",
    "ParticipantStats",
    "ResourceNotFoundException",
    "ResponseTooLargeError",
    "RetryPolicy",
    "ServiceError",
    "ServiceQuotaExceededException",
    "StartPosition",
    "State",
    "StateChange",
    "ThrottlingException",
    "TimeoutException",
    "TranscriptPagingError",
    "TranscriptView",
    "TransportError",
    "UploadMetadata",
    "ValidationException",
    "ViewChange",
    "__version__",
    "connect",
    "parse_item",
]
