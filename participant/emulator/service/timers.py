"""The chat timers (Administrator Guide, "Set up chat timeouts"): participant.idle,
participant.returned and participant.autodisconnection."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from participant.emulator.service.names import CT_AUTODISCONNECTION, CT_IDLE, CT_RETURNED
from participant.emulator.service.records import Contact, Participant
from participant.emulator.service.state import ServiceState


class ChatTimers(ServiceState):
    """Idle and auto-disconnect timers of every contact."""

    if TYPE_CHECKING:

        def disconnect(self, participant_id: str) -> None:
            """Defined by :class:`~participant.emulator.service.chats.Chats`."""

    def set_timeouts(
        self,
        contact_id: str,
        *,
        customer_idle: float | None = None,
        customer_auto_disconnect: float | None = None,
        agent_idle: float | None = None,
        agent_auto_disconnect: float | None = None,
    ) -> None:
        """The contact's chat timers in seconds (UpdateParticipantRoleConfig; ``None``:
        unset), replacing ``EmulatorConfig``'s for this contact. Raises ValueError for a
        value <= 0."""
        contact = self.contact(contact_id)
        values = {
            ("CUSTOMER", "idle"): customer_idle,
            ("CUSTOMER", "disconnect"): customer_auto_disconnect,
            ("AGENT", "idle"): agent_idle,
            ("AGENT", "disconnect"): agent_auto_disconnect,
        }
        for (role, kind), value in values.items():
            if value is not None and not value > 0:
                raise ValueError(f"{role.lower()} {kind} timeout must be > 0 seconds, got {value}")
        contact.timeouts = values
        contact.timers_started = False
        self._wake_timers(contact)

    def _default_timeouts(self) -> dict[tuple[str, str], float | None]:
        c = self.config
        return {
            ("CUSTOMER", "idle"): c.customer_idle_timeout,
            ("CUSTOMER", "disconnect"): c.customer_auto_disconnect_timeout,
            ("AGENT", "idle"): c.agent_idle_timeout,
            ("AGENT", "disconnect"): c.agent_auto_disconnect_timeout,
        }

    def _note_activity(self, contact: Contact, participant: Participant) -> None:
        """A participant sent a message: its timers restart; an idle one has returned."""
        participant.last_active = self.now()
        if participant.idle_at is not None:
            participant.idle_at = None
            self.emit(
                contact,
                self._new_item(contact, participant, type="EVENT", content_type=CT_RETURNED),
            )
        self._wake_timers(contact)

    def _timers_run(self, contact: Contact) -> bool:
        """Timers run while a CUSTOMER and an AGENT or CUSTOM_BOT are in the chat."""
        roles = {p.role for p in contact.participants.values() if not p.left}
        return "CUSTOMER" in roles and bool(roles & {"AGENT", "CUSTOM_BOT"})

    def _timer_due(self, contact: Contact, p: Participant) -> float | None:
        idle = contact.timeouts.get((p.role, "idle"))
        disconnect = contact.timeouts.get((p.role, "disconnect"))
        if p.idle_at is not None:
            return None if disconnect is None else p.idle_at + disconnect
        if idle is not None:
            return p.last_active + idle
        return None if disconnect is None else p.last_active + disconnect

    def _wake_timers(self, contact: Contact) -> None:
        if contact.timer_scope is not None:
            contact.timer_scope.cancel()
        elif self.nursery is not None and not contact.ended:
            if not contact.timeouts:
                contact.timeouts = self._default_timeouts()
            if any(v is not None for v in contact.timeouts.values()):
                contact.timer_scope = trio.CancelScope()
                self.nursery.start_soon(self._run_timers, contact)

    async def _run_timers(self, contact: Contact) -> None:
        """The chat timers of one contact (Administrator Guide, "Set up chat timeouts"):
        started when the pair forms, each participant's restarted by its messages."""
        while not contact.ended:
            timed = [
                p
                for p in contact.participants.values()
                if not p.left and p.role in ("CUSTOMER", "AGENT")
            ]
            running = self._timers_run(contact)
            if running and not contact.timers_started:
                contact.timers_started = True
                for p in timed:
                    p.last_active, p.idle_at = self.now(), None
            elif not running:
                contact.timers_started = False
            dues = [d for p in timed if (d := self._timer_due(contact, p)) is not None]
            scope = trio.CancelScope()
            if running and dues:
                scope.deadline = self.trio_deadline(min(dues))
            contact.timer_scope = scope
            with scope:
                await trio.sleep_forever()
            if not running:
                continue
            now = self.now()
            for p in timed:
                due = self._timer_due(contact, p)
                if due is not None and due <= now + 1e-3 and not p.left and not contact.ended:
                    self._fire_timer(contact, p, now)
        contact.timer_scope = None

    def _fire_timer(self, contact: Contact, p: Participant, now: float) -> None:
        if p.idle_at is None and contact.timeouts.get((p.role, "idle")) is not None:
            p.idle_at = now
            self.emit(contact, self._new_item(contact, p, type="EVENT", content_type=CT_IDLE))
            return
        self.emit(
            contact, self._new_item(contact, p, type="EVENT", content_type=CT_AUTODISCONNECTION)
        )
        p.idle_at = None
        p.last_active = now
        if p.role == "AGENT":
            self.disconnect(p.participant_id)
        else:
            for other in list(contact.participants.values()):
                if other.role in ("AGENT", "CUSTOM_BOT") and not other.left:
                    self.disconnect(other.participant_id)
