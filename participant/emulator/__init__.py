"""A local, faithful emulator of the Amazon Connect Participant Service.

REST (the 11 operations), the websocket protocol, StartChatContact (``PUT /contact/chat``),
the documented limits and a fault API; in memory (httpx transport + websocket connector)
or on loopback under hypercorn's trio worker. See ``docs/emulator.md``.
"""

from participant.emulator.config import DEFAULT_RATE_LIMITS, EmulatorConfig
from participant.emulator.core import (
    MEMORY_ENDPOINT_URL,
    Emulator,
    ParticipantHandle,
    StartedChat,
)
from participant.emulator.faults import Faults
from participant.emulator.interactive import interactive_content, list_picker
from participant.emulator.server import EmulatorServer, main, run_emulator_cli, serve
from participant.emulator.service import ApiError, MessageProcessor, ProcessedMessage

__all__ = [
    "DEFAULT_RATE_LIMITS",
    "MEMORY_ENDPOINT_URL",
    "ApiError",
    "Emulator",
    "EmulatorConfig",
    "EmulatorServer",
    "Faults",
    "MessageProcessor",
    "ParticipantHandle",
    "ProcessedMessage",
    "StartedChat",
    "interactive_content",
    "list_picker",
    "main",
    "run_emulator_cli",
    "serve",
]
