"""Fault injection on an emulator: :class:`Faults`, the Python side of
``/emulator/faults/...`` (docs/emulator.md, "Faults")."""

from __future__ import annotations

from collections import deque

from participant.emulator.service import OPERATIONS, ChatService


class Faults:
    """Fault injection (Python side of ``/emulator/faults/...``)."""

    def __init__(self, service: ChatService) -> None:
        self._service = service

    def drop_sockets(
        self,
        participant_id: str,
        *,
        close_frame: bool = True,
        count: int | None = None,
        code: int = 1001,
        reason: str = "Going away",
    ) -> int:
        """Drop ``count`` (default all) open sockets of the participant, oldest first, with a
        close frame (``code``, ``reason``) or without one (transport cut). Returns how many."""
        sockets = list(self._service.participant(participant_id).sockets)
        chosen = sockets if count is None else sockets[:count]
        for sock in chosen:
            sock.drop(close_frame=close_frame, code=code, reason=reason)
        return len(chosen)

    def stop_heartbeats(self, participant_id: str) -> None:
        """Stop echoing ``aws/heartbeat`` on every socket of the participant."""
        self._service.participant(participant_id)
        self._service.faults.silent_heartbeats.add(participant_id)

    def resume_heartbeats(self, participant_id: str) -> None:
        """Echo heartbeats again."""
        self._service.faults.silent_heartbeats.discard(participant_id)

    def fail_next(self, operation: str, count: int = 1, *, status: int = 429) -> None:
        """Answer the next ``count`` calls of ``operation`` (e.g. ``"SendMessage"``,
        ``"StartChatContact"``) with 429 (ThrottlingException) or 500 (InternalServerException)."""
        if operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {OPERATIONS}, got {operation!r}")
        if status not in (429, 500):
            raise ValueError(f"status must be 429 or 500, got {status}")
        queue = self._service.faults.fail_next.setdefault(operation, deque())
        queue.extend([status] * count)

    def expire_connection_token(self, participant_id: str) -> int:
        """Every ConnectionToken of the participant expires now (then AccessDeniedException)."""
        return self._service.revoke_connection_tokens(participant_id)

    def expire_websocket_url(self, participant_id: str) -> int:
        """Every issued, unopened websocket URL of the participant expires now."""
        return self._service.revoke_websocket_urls(participant_id)

    def expire_connection(self, participant_id: str) -> int:
        """ConnectionExpiry now: the server closes every socket of the participant."""
        return self.drop_sockets(
            participant_id, close_frame=True, code=1000, reason="ConnectionExpiry"
        )

    def delay_frames(self, seconds: float, participant_id: str | None = None) -> None:
        """Delay every frame to the participant (``None``: everyone) by ``seconds``; 0 stops."""
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        if seconds == 0:
            self._service.faults.frame_delay.pop(participant_id, None)
        else:
            self._service.faults.frame_delay[participant_id] = seconds

    def reorder_frames(self, batch: int, participant_id: str | None = None) -> None:
        """Hold chat frames in batches of ``batch`` and send each batch reversed; 0/1 stops."""
        if batch <= 1:
            self._service.faults.reorder.pop(participant_id, None)
        else:
            self._service.faults.reorder[participant_id] = batch

    def end_chat(self, contact_id: str) -> None:
        """End the chat now (CHAT_ENDED, tokens stop working, sockets close)."""
        self._service.end_chat(contact_id, reason="fault")

    def set_rate_limits(self, enabled: bool) -> None:
        """Switch the per-instance rate limits ([protocol](protocol.md#rate-limits)) on or off."""
        self._service.rate_limits_enabled = enabled

    def reset(self) -> None:
        """Clear every fault switch."""
        state = self._service.faults
        state.fail_next.clear()
        state.silent_heartbeats.clear()
        state.frame_delay.clear()
        state.reorder.clear()
