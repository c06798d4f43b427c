"""CreateParticipantConnection: websocket URLs, ConnectionTokens, the stand-in WebRTC connection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from participant.emulator._wire import new_id, new_secret
from participant.emulator.service.names import CONNECTION_TYPES, CT_CONNECTION_ACK, JSON
from participant.emulator.service.records import (
    ConnectionCredential,
    Contact,
    Participant,
    WebRTCAttendee,
    WebsocketUrl,
)
from participant.emulator.service.tokens import Tokens
from participant.emulator.service.validation import validation_error


class Connections(Tokens):
    """CreateParticipantConnection."""

    def _op_CreateParticipantConnection(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        types = body.get("Type")
        connect_participant = body.get("ConnectParticipant")
        if connect_participant is not None and not isinstance(connect_participant, bool):
            raise validation_error(
                "connectParticipant", connect_participant, "Member must be boolean"
            )
        if types is None:
            if not connect_participant:
                raise validation_error("type", types, "Member must not be null")
            types = []
        if not isinstance(types, list) or (not types and not connect_participant):
            raise validation_error(
                "type", types, "Member must have length greater than or equal to 1"
            )
        for t in types:
            if t not in CONNECTION_TYPES:
                raise validation_error(
                    "type", types, f"Member must satisfy enum value set: {sorted(CONNECTION_TYPES)}"
                )
        participant.connected_once = True
        now = self.now()
        answer: JSON = {}
        if "WEBSOCKET" in types:
            url = WebsocketUrl(
                participant_id=participant.participant_id,
                issued_at=now,
                open_deadline=now + self.config.url_open_window,
                connection_expiry=now + self.config.connection_expiry,
                url_token=new_secret(),
            )
            self._urls[url.url_token] = url
            answer["Websocket"] = {
                "Url": self.websocket_url(base_url, url.url_token),
                "ConnectionExpiry": self.timestamp(url.connection_expiry),
            }
        if "CONNECTION_CREDENTIALS" in types:
            cred = ConnectionCredential(
                participant_id=participant.participant_id,
                expiry=now + self.config.connection_token_ttl,
                connection_token=new_secret(),
            )
            self._connection_tokens[cred.connection_token] = cred
            answer["ConnectionCredentials"] = {
                "ConnectionToken": cred.connection_token,
                "Expiry": self.timestamp(cred.expiry),
            }
        if "WEBRTC_CONNECTION" in types:
            answer["WebRTCConnection"] = self._webrtc_connection(contact, participant)
        if connect_participant and not participant.acknowledged:
            participant.acknowledged = True
            self.emit(
                contact,
                self._new_item(
                    contact, participant, type="CONNECTION_ACK", content_type=CT_CONNECTION_ACK
                ),
            )
        return answer

    def _webrtc_connection(self, contact: Contact, participant: Participant) -> JSON:
        """A stand-in ``WebRTCConnection`` (botocore shapes WebRTCConnection, Attendee,
        WebRTCMeeting, WebRTCMediaPlacement, MeetingFeaturesConfiguration): one meeting per
        contact, one attendee per participant, kept across calls. Fake values only: the
        URLs are under ``.invalid`` hosts and nothing carries media."""
        if contact.meeting_id is None:
            contact.meeting_id = new_id()
        if participant.attendee is None:
            participant.attendee = WebRTCAttendee(attendee_id=new_id(), join_token=new_secret())
        meeting = contact.meeting_id
        return {
            "Attendee": {
                "AttendeeId": participant.attendee.attendee_id,
                "JoinToken": participant.attendee.join_token,
            },
            "Meeting": {
                "MediaPlacement": {
                    "AudioHostUrl": f"{meeting}.audio.webrtc.emulator.invalid:3478",
                    "AudioFallbackUrl": f"wss://audio.webrtc.emulator.invalid:443/calls/{meeting}",
                    "SignalingUrl": f"wss://signal.webrtc.emulator.invalid/control/{meeting}",
                    "EventIngestionUrl": "https://events.webrtc.emulator.invalid/v1/client-events",
                },
                "MeetingFeatures": {"Audio": {"EchoReduction": "AVAILABLE"}},
                "MeetingId": meeting,
            },
        }
