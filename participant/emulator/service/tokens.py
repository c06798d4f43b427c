"""ParticipantTokens, ConnectionTokens and websocket URLs: checks, revocation, and the sweep
that frees what can no longer be used."""

from __future__ import annotations

import urllib.parse

from participant.emulator.service.records import Participant, WebsocketUrl
from participant.emulator.service.state import ServiceState
from participant.emulator.service.validation import ApiError


class Tokens(ServiceState):
    """Tokens and websocket URLs of every participant."""

    def revoke_connection_tokens(self, participant_id: str) -> int:
        """Fault: every ConnectionToken of the participant expires now. Returns how many."""
        count = 0
        for cred in self._connection_tokens.values():
            if cred.participant_id == participant_id and not cred.revoked:
                cred.revoked = True
                count += 1
        return count

    def revoke_websocket_urls(self, participant_id: str) -> int:
        """Fault: every unopened websocket URL of the participant expires now."""
        count = 0
        for url in self._urls.values():
            if url.participant_id == participant_id and not url.used and not url.revoked:
                url.revoked = True
                count += 1
        return count

    def claim_websocket_url(self, url_token: str | None) -> tuple[Participant, WebsocketUrl]:
        """Open a websocket URL once (§2). Raises ApiError(403) when refused."""
        url = self._urls.get(url_token or "")
        if url is None:
            raise ApiError("AccessDeniedException", "Forbidden")
        if url.used or url.revoked:
            raise ApiError("AccessDeniedException", "Forbidden: URL already used or revoked")
        if self.now() > url.open_deadline:
            raise ApiError("AccessDeniedException", "Forbidden: URL expired")
        participant = self.participant(url.participant_id)
        self._contact_while_in(participant, "Forbidden: chat ended")
        if len(participant.sockets) >= self.config.max_sockets_per_participant:
            raise ApiError("LimitExceededException", "Too many connections", status=429)
        url.used = True
        return participant, url

    def websocket_url(self, base_url: str, url_token: str) -> str:
        parts = urllib.parse.urlsplit(base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        query = urllib.parse.urlencode({"AuthToken": url_token})
        return urllib.parse.urlunsplit((scheme, parts.netloc, "/connect", query, ""))

    def sweep(self, *, force: bool = False) -> None:
        """Free what can no longer be used: connection tokens past Expiry or revoked,
        websocket URLs opened or past their open window, transcript cursors past
        ``transcript_cursor_ttl``, idempotency answers past ``idempotency_ttl``, and every
        token, URL, cursor and idempotency answer of a participant that left or whose chat
        ended. Runs at most every ``sweep_interval`` seconds (on the next request) unless
        ``force``."""
        now = self.now()
        if not force and now < self._next_sweep:
            return
        self._next_sweep = now + self.config.sweep_interval

        def gone(participant_id: str) -> bool:
            p = self.participants.get(participant_id)
            return p is None or p.left or self.contacts[p.contact_id].ended

        for token, p in list(self._participant_tokens.items()):
            if gone(p.participant_id):
                del self._participant_tokens[token]
        for token, cred in list(self._connection_tokens.items()):
            if cred.revoked or now >= cred.expiry or gone(cred.participant_id):
                del self._connection_tokens[token]
        for token, url in list(self._urls.items()):
            if url.used or url.revoked or now > url.open_deadline or gone(url.participant_id):
                del self._urls[token]
        for token, cursor in list(self._cursors.items()):
            if now > cursor.expires or gone(cursor.participant_id):
                del self._cursors[token]
        for key, (expiry, _) in list(self._idempotency.items()):
            owner = key[0]
            if now > expiry or (owner in self.participants and gone(owner)):
                del self._idempotency[key]

    def retained(self) -> dict[str, int]:
        """How many of each kind of secret state the service holds now (after a sweep):
        ``participant_tokens``, ``connection_tokens``, ``websocket_urls``,
        ``transcript_cursors``, ``idempotency_keys``."""
        return {
            "participant_tokens": len(self._participant_tokens),
            "connection_tokens": len(self._connection_tokens),
            "websocket_urls": len(self._urls),
            "transcript_cursors": len(self._cursors),
            "idempotency_keys": len(self._idempotency),
        }

    def _participant_token(self, token: str) -> Participant:
        participant = self._participant_tokens.get(token)
        if participant is None:
            raise ApiError("AccessDeniedException", "Invalid participant token")
        self._contact_while_in(participant)
        window = self.config.participant_token_first_use_window
        if (
            window is not None
            and not participant.connected_once
            and self.now() > participant.joined_at + window
        ):
            raise ApiError("AccessDeniedException", "Participant token expired")
        return participant

    def _connection_token(self, token: str) -> Participant:
        cred = self._connection_tokens.get(token)
        if cred is None:
            raise ApiError("AccessDeniedException", "Invalid connection token")
        if cred.revoked or self.now() >= cred.expiry:
            raise ApiError("AccessDeniedException", "Connection token expired")
        participant = self.participant(cred.participant_id)
        self._contact_while_in(participant)
        return participant
