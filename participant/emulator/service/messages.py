"""Messages and events: SendMessage (with the message processor), SendEvent and receipts,
DisconnectParticipant, messages sent by the emulator itself and AI streaming replies."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import trio

from participant.emulator.service.chats import Chats
from participant.emulator.service.names import (
    CT_CONNECTION_ACK,
    CT_DELIVERED,
    CT_METADATA,
    CT_READ,
    CT_TYPING,
    EVENT_CONTENT_TYPES,
    JSON,
    MESSAGE_CONTENT_TYPES,
)
from participant.emulator.service.records import Contact, MessageProcessor, Participant
from participant.emulator.service.validation import (
    ApiError,
    check_content,
    check_content_type,
    validation_error,
)

log = logging.getLogger("participant.emulator")


def _processing(message_id: str, status: str) -> JSON:
    return {"MessageId": message_id, "MessageProcessingStatus": status}


class Messages(Chats):
    """Messages, events and receipts."""

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
        contact = self._contact_while_in(participant)
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
        contact = self.ongoing_contact(contact_id)
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
        contact = self.ongoing_contact(contact_id)
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
        contact = self.ongoing_contact(contact_id)
        item = self._new_item(
            contact, None, type="MESSAGE", content_type="text/plain", content=content
        )
        item.update(Id=message_id, DisplayName=display_name, AbsoluteTime=absolute_time)
        frame = {
            **item,
            "MessageMetadata": {"MessageId": message_id, "MessageCompleted": True},
        }
        return self.emit(contact, item, frame_item=frame)

    def _op_SendMessage(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        content_type = check_content_type(body.get("ContentType"), MESSAGE_CONTENT_TYPES)
        content = body.get("Content")
        check_content("content", content, self.config.max_message_bytes, True)
        if len(str(content).encode("utf-8")) > self.config.max_message_bytes:
            raise validation_error(
                "content",
                content,
                f"Member must be at most {self.config.max_message_bytes} bytes of UTF-8",
            )

        def make() -> JSON:
            item = self._new_item(
                contact,
                participant,
                type="MESSAGE",
                content_type=content_type,
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
        ct = check_content_type(body.get("ContentType"), EVENT_CONTENT_TYPES)
        content = body.get("Content")
        check_content("content", content, self.config.max_message_bytes, False)

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
            raise validation_error(
                "content", content, 'Receipt content must be {"messageId": "<Id>"}'
            ) from None
        active = [p for p in contact.participants.values() if not p.left and p.role != "SUPERVISOR"]
        if len(active) > 2:
            raise ApiError(
                "ConflictException", "Receipts are not supported with more than two participants"
            )
        target = contact.by_id.get(message_id)
        if target is None or target.wire.get("Type") not in ("MESSAGE", "ATTACHMENT"):
            raise validation_error(
                "content", content, "messageId does not name a message of this chat"
            )
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
