"""The state every part of the service shares, and the two primitives they all use: a new
item (:meth:`ServiceState._new_item`) and its delivery (:meth:`ServiceState.emit`)."""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import trio

from participant.emulator._wire import WallClock, format_timestamp, new_id
from participant.emulator.config import EmulatorConfig
from participant.emulator.service.names import JSON
from participant.emulator.service.records import (
    Attachment,
    ConnectionCredential,
    Contact,
    Entry,
    FaultState,
    MessageProcessor,
    Participant,
    RateBucket,
    TranscriptCursor,
    WebsocketUrl,
)
from participant.emulator.service.validation import ApiError


class ServiceState:
    """The state of all chats of one emulator, which every part of the service shares."""

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
        self._buckets: dict[tuple[str, str], RateBucket] = {}
        self._cursors: dict[str, TranscriptCursor] = {}
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

    def ongoing_contact(self, contact_id: str) -> Contact:
        """The contact while its chat goes on. Raises ApiError: ResourceNotFoundException
        (unknown contact), AccessDeniedException (the chat has ended)."""
        contact = self.contact(contact_id)
        if contact.ended:
            raise ApiError("AccessDeniedException", "The chat has ended")
        return contact

    def _contact_while_in(
        self,
        participant: Participant,
        message: str = "Participant is no longer in the chat",
        code: str = "AccessDeniedException",
    ) -> Contact:
        """The participant's contact while the participant is in the chat; else
        ApiError(``code``, ``message``)."""
        contact = self.contact(participant.contact_id)
        if contact.ended or participant.left:
            raise ApiError(code, message)
        return contact

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
