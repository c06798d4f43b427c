"""Customer authentication sessions (GetAuthenticationUrl, CancelParticipantAuthentication, the
authentication.* events) and DescribeView."""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Mapping
from typing import Any

from participant.emulator._wire import new_id
from participant.emulator.service.names import (
    CT_AUTH_CANCELLED,
    CT_AUTH_EXPIRED,
    CT_AUTH_FAILED,
    CT_AUTH_INITIATED,
    CT_AUTH_SUCCEEDED,
    CT_AUTH_TIMEOUT,
    JSON,
)
from participant.emulator.service.records import AuthSession, Contact, Participant
from participant.emulator.service.state import ServiceState
from participant.emulator.service.validation import ApiError, check_content, validation_error

log = logging.getLogger("participant.emulator")


class Authentication(ServiceState):
    """Authentication sessions and views."""

    def initiate_authentication(self, participant_id: str) -> str:
        """Emit authentication.initiated (Content ``{"SessionId": ...}``) as the Authenticate
        Customer flow block does; returns the SessionId for GetAuthenticationUrl.

        Unless completed, cancelled or ended first, the session emits authentication.timeout
        ``EmulatorConfig.authentication_timeout`` seconds later.
        """
        participant = self.participant(participant_id)
        contact = self._contact_while_in(participant, code="InvalidRequestException")
        session = AuthSession(
            session_id=new_id(),
            contact_id=contact.contact_id,
            participant_id=participant_id,
            initiated_at=self.now(),
        )
        contact.auth_sessions[session.session_id] = session
        self._emit_auth(contact, session, CT_AUTH_INITIATED)
        timeout = self.config.authentication_timeout
        if timeout is not None:

            def expire() -> None:
                if session.state == "INITIATED" and not contact.ended:
                    self._finish_auth(contact, session, "TIMEOUT")

            self._spawn_at(session.initiated_at + timeout, expire)
        return session.session_id

    def auth_session(self, session_id: str) -> AuthSession:
        """The authentication session ``session_id`` (any contact); ResourceNotFound if none."""
        for contact in self.contacts.values():
            session = contact.auth_sessions.get(session_id)
            if session is not None:
                return session
        raise ApiError("ResourceNotFoundException", "Authentication session not found")

    def complete_authentication(self, session_id: str, *, succeeded: bool = True) -> JSON:
        """The customer finishes signing in: emits authentication.succeeded (or .failed).

        Returns the emitted item. Raises ApiError: ResourceNotFoundException for an unknown
        session, ConflictException when the session already ended (succeeded, failed,
        cancelled, timed out) or the chat is over.
        """
        contact, session = self._auth_session_in(
            session_id, "INITIATED", "Authentication session already ended"
        )
        return self._finish_auth(contact, session, "SUCCEEDED" if succeeded else "FAILED")

    def expire_authentication(self, session_id: str) -> JSON:
        """The customer's authentication runs out: emits authentication.expired.

        The service does not say when this happens ([protocol](protocol.md#items) only lists the
        event),
        so the emulator never does it on its own: tests call this. Returns the emitted
        item. Raises ApiError: ResourceNotFoundException for an unknown session,
        ConflictException unless the session succeeded (and has not expired yet), or when
        the chat is over.
        """
        contact, session = self._auth_session_in(
            session_id, "SUCCEEDED", "Only a succeeded authentication can expire"
        )
        return self._finish_auth(contact, session, "EXPIRED")

    def _auth_session_in(
        self, session_id: str, state: str, refusal: str
    ) -> tuple[Contact, AuthSession]:
        """The session and its contact, if the chat goes on and the session is in
        ``state``; else ConflictException (``refusal`` and the session's state)."""
        session = self.auth_session(session_id)
        contact = self.contact(session.contact_id)
        if contact.ended:
            raise ApiError("ConflictException", "The chat has ended")
        if session.state != state:
            raise ApiError("ConflictException", f"{refusal} ({session.state})")
        return contact, session

    def _finish_auth(self, contact: Contact, session: AuthSession, state: str) -> JSON:
        session.state = state
        content_type = {
            "SUCCEEDED": CT_AUTH_SUCCEEDED,
            "FAILED": CT_AUTH_FAILED,
            "CANCELLED": CT_AUTH_CANCELLED,
            "TIMEOUT": CT_AUTH_TIMEOUT,
            "EXPIRED": CT_AUTH_EXPIRED,
        }[state]
        log.info("authentication session of contact %s: %s", contact.contact_id, state)
        return self._emit_auth(contact, session, content_type)

    def _emit_auth(self, contact: Contact, session: AuthSession, content_type: str) -> JSON:
        return self.emit(
            contact,
            self._new_item(
                contact,
                None,
                type="EVENT",
                content_type=content_type,
                content=json.dumps({"SessionId": session.session_id}),
            ),
        )

    def _op_DescribeView(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        view_token = body.get("ViewToken")
        check_content("viewToken", view_token, 1000, True)
        view = self.views.get(str(view_token))
        if view is None:
            raise ApiError("ResourceNotFoundException", "View not found")
        return {"View": json.loads(json.dumps(view))}

    def _auth_session(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any]
    ) -> AuthSession:
        session_id = body.get("SessionId")
        if session_id is None:
            raise validation_error("sessionId", None, "Member must not be null")
        if not isinstance(session_id, str) or len(session_id) != 36:
            raise validation_error("sessionId", session_id, "Member must have length 36")
        session = contact.auth_sessions.get(session_id)
        if session is None or session.participant_id != participant.participant_id:
            raise validation_error(
                "sessionId", session_id, "No authentication session with this SessionId"
            )
        if session.state != "INITIATED":
            raise validation_error(
                "sessionId", session_id, f"Authentication session already ended ({session.state})"
            )
        return session

    def _op_GetAuthenticationUrl(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        session = self._auth_session(contact, participant, body)
        redirect = body.get("RedirectUri")
        check_content("redirectUri", redirect, 1024, True)
        if self.now() > session.initiated_at + self.config.authentication_url_window:
            window = self.config.authentication_url_window
            raise validation_error(
                "sessionId",
                session.session_id,
                f"GetAuthenticationUrl is only allowed within {window:g} s of the "
                "authentication.initiated event",
            )
        session.redirect_uri = str(redirect)
        query = urllib.parse.urlencode({"SessionId": session.session_id})
        return {"AuthenticationUrl": f"{base_url.rstrip('/')}/emulator/authenticate?{query}"}

    def _op_CancelParticipantAuthentication(
        self, contact: Contact, participant: Participant, body: Mapping[str, Any], base_url: str
    ) -> JSON:
        session = self._auth_session(contact, participant, body)
        self._finish_auth(contact, session, "CANCELLED")
        return {}
