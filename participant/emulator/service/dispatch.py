"""The REST entry: :class:`ChatService`, every part of the service in one object."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from participant.emulator.service.attachments import Attachments
from participant.emulator.service.authentication import Authentication
from participant.emulator.service.connections import Connections
from participant.emulator.service.messages import Messages
from participant.emulator.service.names import JSON
from participant.emulator.service.records import Contact, Participant
from participant.emulator.service.transcript import Transcript
from participant.emulator.service.validation import ApiError


class ChatService(Messages, Connections, Transcript, Attachments, Authentication):
    """All chats of one emulator. Synchronous; timers run in ``nursery`` once it is set.

    Each base class is one concern of the service (``participant/emulator/service/``)."""

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
