"""The :class:`Emulator`: chat state (``service/``) + ASGI app (``app.py``) + in-memory transports
(``memory.py``) + faults (``faults.py``)."""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import attrs
import httpx
import trio
import trio.testing

from participant.emulator._wire import WallClock, new_id, system_clock
from participant.emulator.app import EmulatorApp
from participant.emulator.config import EmulatorConfig
from participant.emulator.faults import Faults as Faults  # also participant.emulator.core.Faults
from participant.emulator.interactive import interactive_content
from participant.emulator.memory import memory_websocket_connector
from participant.emulator.service import (
    CT_INTERACTIVE,
    JSON,
    ApiError,
    ChatService,
    MessageProcessor,
    Participant,
)

log = logging.getLogger("participant.emulator")

#: Base URL of an emulator used in memory (never resolved: the transports route it).
MEMORY_ENDPOINT_URL = "http://participant.emulator.invalid"


@attrs.frozen
class StartedChat:
    """A chat started on the emulator (StartChatContact's answer)."""

    contact_id: str
    participant_id: str
    participant_token: str = attrs.field(repr=False)


@attrs.frozen
class ParticipantHandle:
    """A participant added to a contact (its token goes to CreateParticipantConnection)."""

    contact_id: str
    participant_id: str
    role: str
    display_name: str
    participant_token: str = attrs.field(repr=False)


def _handle(p: Participant) -> ParticipantHandle:
    return ParticipantHandle(
        contact_id=p.contact_id,
        participant_id=p.participant_id,
        role=p.role,
        display_name=p.display_name,
        participant_token=p.participant_token,
    )


class Emulator:
    """A local Amazon Connect Participant Service (plus StartChatContact and faults).

    ``wall_clock`` gives epoch seconds (default: the system clock); under
    ``trio.testing.MockClock`` pass ``participant._time.trio_clock()`` so lifetimes follow
    the mock clock. Use inside ``async with emulator.run():``.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        wall_clock: WallClock | None = None,
        endpoint_url: str = MEMORY_ENDPOINT_URL,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.service = ChatService(self.config, wall_clock or system_clock)
        self.faults = Faults(self.service)
        self.endpoint_url = endpoint_url
        self.app = EmulatorApp(self)
        self._nursery: trio.Nursery | None = None

    def __repr__(self) -> str:
        return f"Emulator(endpoint_url={self.endpoint_url!r})"

    @asynccontextmanager
    async def run(self) -> AsyncIterator[Emulator]:
        """Run the emulator's timers (chat duration, scans) and in-memory sockets."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self.service.nursery = nursery
            try:
                yield self
            finally:
                self.service.nursery = None
                self._nursery = None
                nursery.cancel_scope.cancel()

    def _require_nursery(self) -> trio.Nursery:
        if self._nursery is None:
            raise RuntimeError("use the emulator inside `async with emulator.run():`")
        return self._nursery

    # ------------------------------------------------------------------ in-memory transports
    def http_transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport that hands requests to the emulator's ASGI app (no socket)."""
        return httpx.ASGITransport(app=self.app)

    def websocket_connector(
        self,
    ) -> Callable[[trio.Nursery, str], Any]:
        """``async (nursery, url) -> trio_websocket.WebSocketConnection`` over in-memory
        streams: the real websocket protocol, no socket. Refusals raise
        ``trio_websocket.ConnectionRejected`` (status 403, or 429 past 5 sockets)."""
        return memory_websocket_connector(self.service, self._require_nursery)

    # ------------------------------------------------------------------ driving a chat
    async def start_chat(
        self,
        display_name: str = "Customer",
        *,
        instance_id: str | None = None,
        initial_message: str | None = None,
        duration_minutes: int | None = None,
        source_contact_id: str | None = None,
        related_contact_id: str | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> StartedChat:
        """Start a chat as StartChatContact does: a contact whose CUSTOMER has joined.

        ``source_contact_id`` starts a persistent chat (ENTIRE_PAST_SESSION) continuing an
        ended contact. Raises :class:`ApiError` like the Connect API.
        """
        await trio.lowlevel.checkpoint()
        self._require_nursery()
        body: JSON = {
            "InstanceId": instance_id or self.config.default_instance_id,
            "ContactFlowId": "emulator-flow",
            "ParticipantDetails": {"DisplayName": display_name},
        }
        if initial_message is not None:
            body["InitialMessage"] = {"ContentType": "text/plain", "Content": initial_message}
        if duration_minutes is not None:
            body["ChatDurationInMinutes"] = duration_minutes
        if source_contact_id is not None:
            body["PersistentChat"] = {
                "RehydrationType": "ENTIRE_PAST_SESSION",
                "SourceContactId": source_contact_id,
            }
        if related_contact_id is not None:
            body["RelatedContactId"] = related_contact_id
        if attributes:
            body["Attributes"] = dict(attributes)
        answer = self.service.start_chat_contact(body)
        return StartedChat(
            contact_id=answer["ContactId"],
            participant_id=answer["ParticipantId"],
            participant_token=answer["ParticipantToken"],
        )

    async def add_participant(
        self, contact_id: str, *, role: str = "AGENT", display_name: str = "Agent"
    ) -> ParticipantHandle:
        """Add an AGENT, CUSTOM_BOT, SUPERVISOR (or CUSTOMER) participant; emits
        participant.joined."""
        await trio.lowlevel.checkpoint()
        return _handle(
            self.service.add_participant(contact_id, role=role, display_name=display_name)
        )

    async def send_message_as(
        self,
        contact_id: str,
        participant_id: str,
        *,
        content: str,
        content_type: str = "text/plain",
    ) -> JSON:
        """Send a message as a participant (any ContentType, e.g. interactive templates).
        Returns the item (wire dict)."""
        await trio.lowlevel.checkpoint()
        self.check_member(contact_id, participant_id)
        return self.service.send_as(participant_id, content_type=content_type, content=content)

    async def send_event_as(
        self,
        contact_id: str,
        participant_id: str,
        *,
        content_type: str,
        content: str | None = None,
    ) -> JSON:
        """Send an event (typing, receipts ``{"messageId": ...}``, ...) as a participant."""
        await trio.lowlevel.checkpoint()
        self.check_member(contact_id, participant_id)
        return self.service.send_as(
            participant_id, content_type=content_type, content=content, kind="EVENT"
        )

    def check_member(self, contact_id: str, participant_id: str) -> None:
        """Check that ParticipantId ``participant_id`` is a participant of the chat
        ``contact_id`` (what the admin API's per-participant routes require).

        Raises:
            ApiError: ``ResourceNotFoundException`` (404) when the participant is unknown
                or belongs to another contact.
        """
        if self.service.participant(participant_id).contact_id != contact_id:
            raise ApiError("ResourceNotFoundException", "Participant is not in this contact")

    async def disconnect_participant(self, participant_id: str) -> None:
        """The participant leaves (as DisconnectParticipant)."""
        await trio.lowlevel.checkpoint()
        self.service.disconnect(participant_id)

    async def transfer(
        self, contact_id: str, *, succeeded: bool = True, display_name: str | None = None
    ) -> ParticipantHandle | None:
        """Transfer: TRANSFER_SUCCEEDED (agents leave; a new agent joins if ``display_name``)
        or TRANSFER_FAILED."""
        await trio.lowlevel.checkpoint()
        p = self.service.transfer(contact_id, succeeded=succeeded, display_name=display_name)
        return None if p is None else _handle(p)

    async def end_chat(self, contact_id: str) -> None:
        """End the chat: CHAT_ENDED, then tokens give AccessDeniedException, sockets close."""
        await trio.lowlevel.checkpoint()
        self.service.end_chat(contact_id)

    async def initiate_authentication(self, participant_id: str) -> str:
        """Emit authentication.initiated; returns the SessionId for GetAuthenticationUrl."""
        await trio.lowlevel.checkpoint()
        return self.service.initiate_authentication(participant_id)

    async def complete_authentication(self, session_id: str, *, succeeded: bool = True) -> JSON:
        """The customer finishes the sign-in page: emits authentication.succeeded (or
        authentication.failed when ``succeeded`` is false). Returns the item (wire dict).

        Raises ApiError: ResourceNotFoundException (unknown SessionId), ConflictException
        (the session already succeeded, failed, was cancelled or timed out; the chat ended).
        """
        await trio.lowlevel.checkpoint()
        return self.service.complete_authentication(session_id, succeeded=succeeded)

    async def expire_authentication(self, session_id: str) -> JSON:
        """A succeeded authentication runs out: emits authentication.expired. The service
        does not document when that happens, so the emulator only does it when asked.
        Returns the item (wire dict).

        Raises ApiError: ResourceNotFoundException (unknown SessionId), ConflictException
        (the session is not SUCCEEDED, e.g. already expired; the chat ended).
        """
        await trio.lowlevel.checkpoint()
        return self.service.expire_authentication(session_id)

    def authentication_state(self, session_id: str) -> str:
        """State of an authentication session: INITIATED, SUCCEEDED, FAILED, CANCELLED,
        TIMEOUT or EXPIRED. Raises ApiError(ResourceNotFoundException) for an unknown
        SessionId."""
        return self.service.auth_session(session_id).state

    async def send_interactive_message(
        self,
        contact_id: str,
        template: Mapping[str, Any] | str,
        *,
        participant_id: str | None = None,
    ) -> JSON:
        """Send an interactive message (ContentType
        ``application/vnd.amazonaws.connect.message.interactive``, e.g. a ListPicker built
        with :func:`participant.emulator.list_picker`) into the chat, as ``participant_id``
        (an AGENT or CUSTOM_BOT ...) or, when ``None``, as the SYSTEM (a flow block).

        ``template``: the template as a mapping or JSON text; its Content is limited to
        ``EmulatorConfig.max_message_bytes`` bytes of UTF-8. Returns the item (wire dict).
        Raises ApiError: ValidationException (bad template, too long), ResourceNotFound
        (unknown contact/participant), AccessDenied (the sender left or the chat ended).
        The customer answers with SendMessage, ContentType ``...interactive.response``.
        """
        await trio.lowlevel.checkpoint()
        try:
            content = interactive_content(template)
        except ValueError as exc:
            raise ApiError("ValidationException", str(exc)) from None
        limit = self.config.max_message_bytes
        if len(content.encode("utf-8")) > limit:
            raise ApiError(
                "ValidationException", f"template is more than {limit} bytes of UTF-8 as JSON"
            )
        if participant_id is None:
            return self.service.send_system_message(
                contact_id, content_type=CT_INTERACTIVE, content=content
            )
        self.check_member(contact_id, participant_id)
        return self.service.send_as(participant_id, content_type=CT_INTERACTIVE, content=content)

    # ------------------------------------------------------------------ item kinds (§9)
    def _check_reply(self, contact_id: str, chunks: Sequence[str], interval: float) -> list[str]:
        if isinstance(chunks, str) or not chunks:
            raise ValueError("chunks must be a non-empty sequence of strings")
        if any(not isinstance(c, str) or not c for c in chunks):
            raise ValueError("every chunk must be a non-empty string")
        if not interval >= 0:
            raise ValueError(f"interval must be >= 0 seconds, got {interval}")
        limit = self.config.max_message_bytes
        if len("".join(chunks).encode("utf-8")) > limit:
            raise ValueError(f"the whole reply must be at most {limit} bytes of UTF-8")
        self.service.ongoing_contact(contact_id)
        return list(chunks)

    async def _stream_rest(
        self,
        contact_id: str,
        message_id: str,
        chunks: list[str],
        interval: float,
        display_name: str,
        absolute_time: str,
    ) -> None:
        service = self.service
        for number, chunk in enumerate(chunks[1:], start=2):
            await trio.sleep(interval)
            if service.contact(contact_id).ended:
                return
            service.streamed_chunk(contact_id, message_id, number, chunk, display_name)
        await trio.sleep(interval)
        if not service.contact(contact_id).ended:
            service.streamed_completion(
                contact_id, message_id, "".join(chunks), display_name, absolute_time
            )

    def _start_reply(
        self, contact_id: str, chunks: Sequence[str], interval: float, display_name: str
    ) -> tuple[str, Callable[[], Awaitable[None]]]:
        """Check a streamed reply's arguments and send its first chunk; returns its message
        Id and the async function that sends the rest."""
        pieces = self._check_reply(contact_id, chunks, interval)
        message_id = new_id()
        first = self.service.streamed_chunk(contact_id, message_id, 1, pieces[0], display_name)
        rest = functools.partial(
            self._stream_rest,
            contact_id,
            message_id,
            pieces,
            interval,
            display_name,
            first["AbsoluteTime"],
        )
        return message_id, rest

    async def send_streamed_reply(
        self,
        contact_id: str,
        chunks: Sequence[str],
        *,
        interval: float = 0.05,
        display_name: str = "BOT",
    ) -> str:
        """Send an AI streaming reply ([protocol](protocol.md#items-that-change-in-place)) and
        return its message Id.

        Each of ``chunks`` goes out as a SYSTEM MESSAGE under one Id with
        ``MessageMetadata{MessageId, MessageCompleted: false, ChunkNumber: n}`` (n from 1),
        ``interval`` seconds (trio time) apart; then, ``interval`` after the last chunk, one
        item with ``MessageCompleted: true`` whose Content is the whole text and whose
        AbsoluteTime is the first chunk's. Only that completed item is stored in the
        transcript (when it is sent). If the chat ends meanwhile the reply stops (no
        completed item). Returns when the reply is complete.

        Raises ValueError (no chunks, an empty chunk, ``interval`` < 0, more than
        ``max_message_bytes`` in all), ApiError (ResourceNotFoundException: unknown
        contact; AccessDeniedException: the chat ended).
        """
        await trio.lowlevel.checkpoint()
        message_id, rest = self._start_reply(contact_id, chunks, interval, display_name)
        await rest()
        return message_id

    def start_streamed_reply(
        self,
        contact_id: str,
        chunks: Sequence[str],
        *,
        interval: float = 0.05,
        display_name: str = "BOT",
    ) -> str:
        """Like :meth:`send_streamed_reply`, in the background: checks the arguments (same
        errors), sends the first chunk now and returns the message Id at once."""
        nursery = self._require_nursery()
        message_id, rest = self._start_reply(contact_id, chunks, interval, display_name)
        nursery.start_soon(rest)
        return message_id

    @property
    def message_processor(self) -> MessageProcessor | None:
        """The message processor (in-flight redaction / Lambda message processors, §9):
        ``(item) -> ProcessedMessage | None``, or ``None`` (default: none).

        With one, SendMessage answers ``MessageMetadata.MessageProcessingStatus``
        PROCESSING and its sender gets the item with that status at once; after
        ``EmulatorConfig.message_processing_delay`` the processor runs and the item goes to
        everyone under the same Id (Content rewritten if the processor says so) and is
        stored; a REJECTED message (or FAILED, when the processor raises) goes back to its
        sender only, with that status, and is not stored."""
        return self.service.message_processor

    @message_processor.setter
    def message_processor(self, processor: MessageProcessor | None) -> None:
        self.service.message_processor = processor

    async def set_attachment_status(self, attachment_id: str, status: str) -> JSON:
        """Give an attachment its scan verdict now (APPROVED or REJECTED); the ATTACHMENT
        item comes again under its Id. Returns the stored item (wire dict).
        Raises ApiError (ResourceNotFoundException, ValidationException)."""
        await trio.lowlevel.checkpoint()
        return self.service.set_attachment_status(attachment_id, status)

    def set_chat_timeouts(
        self,
        contact_id: str,
        *,
        customer_idle: float | None = None,
        customer_auto_disconnect: float | None = None,
        agent_idle: float | None = None,
        agent_auto_disconnect: float | None = None,
    ) -> None:
        """Set the contact's chat timers in seconds (as UpdateParticipantRoleConfig does;
        ``None``: unset), replacing the ``EmulatorConfig`` defaults for this contact; the
        timers restart. Rules: docs/emulator.md "Chat timeouts". Raises ValueError for a
        value <= 0, ApiError(ResourceNotFoundException) for an unknown contact."""
        self.service.set_timeouts(
            contact_id,
            customer_idle=customer_idle,
            customer_auto_disconnect=customer_auto_disconnect,
            agent_idle=agent_idle,
            agent_auto_disconnect=agent_auto_disconnect,
        )

    def add_view(self, view_token: str, view: Mapping[str, Any]) -> None:
        """Register a view for DescribeView (``view``: the wire ``View`` shape)."""
        self.service.views[view_token] = dict(view)

    def transcript(self, contact_id: str) -> list[JSON]:
        """Every stored item of the contact, oldest first (copies of the wire dicts)."""
        import json as _json

        return [_json.loads(_json.dumps(e.wire)) for e in self.service.contact(contact_id).entries]

    def open_sockets(self, participant_id: str) -> int:
        """How many websockets of the participant are open."""
        return len(self.service.participant(participant_id).sockets)

    @asynccontextmanager
    async def item_stream(self) -> AsyncIterator[trio.MemoryReceiveChannel[tuple[str, JSON]]]:
        """A channel of ``(contact_id, item)`` for every item emitted while it is open."""
        send, receive = trio.open_memory_channel[tuple[str, JSON]](math.inf)

        def hook(contact_id: str, item: JSON) -> None:
            send.send_nowait((contact_id, dict(item)))

        self.service.on_item.append(hook)
        try:
            yield receive
        finally:
            self.service.on_item.remove(hook)
            send.close()
