"""Contacts and participants: StartChatContact, joining, leaving, the end of a chat, transfers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from participant.emulator._wire import new_id, new_secret
from participant.emulator.service.admission import Admission
from participant.emulator.service.names import (
    CT_CHAT_ENDED,
    CT_JOINED,
    CT_LEFT,
    CT_TRANSFER_FAILED,
    CT_TRANSFER_SUCCEEDED,
    JSON,
    ROLES,
)
from participant.emulator.service.records import Contact, Participant
from participant.emulator.service.timers import ChatTimers
from participant.emulator.service.tokens import Tokens
from participant.emulator.service.validation import ApiError

log = logging.getLogger("participant.emulator")


class Chats(ChatTimers, Admission, Tokens):
    """The life of contacts and their participants."""

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
