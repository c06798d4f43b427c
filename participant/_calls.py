"""The REST side of a :class:`~participant.actor.Participant`: send_message ...
get_transcript, receipts and the own ParticipantId learnt from echoes, as a mixin of the
actor (its state lives in the actor's slots; the types are declared here). Private: the
methods are documented on :class:`~participant.actor.Participant`.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

import trio

from participant._actor_support import ReceiptCoalescer, ReceiptKind
from participant.api import ParticipantClient
from participant.config import ParticipantConfig, ParticipantStats
from participant.errors import (
    ChatEndedError,
    InvalidParameterError,
    ParticipantClosedError,
    TransportError,
)
from participant.machine import State
from participant.model import ContentType, Item, SendEventResponse, SendMessageResponse, View
from participant.view import TranscriptView

if TYPE_CHECKING:
    from participant.core.machine import Core

__all__ = ["ParticipantCalls", "describe"]

log = logging.getLogger("participant.actor")

_R = TypeVar("_R", SendMessageResponse, SendEventResponse)

_IDENTITY_MEMORY: Final = 64
"""Sent Ids / echoed items remembered while the own ParticipantId is unknown."""
_REPLY_NAMESPACE: Final = uuid.UUID("5b0f2a8e-3c1d-4e55-9a57-3f2f1d6c9a10")
"""Namespace of the ClientTokens of replies (uuid5 of ContactId/item Id/reply index)."""


def describe(exc: BaseException) -> str:
    """``Type: message`` of an exception (``Type`` alone without a message)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _Credentials:
    """The current ConnectionToken and deadlines (trio time). Never in repr or logs."""

    __slots__ = ("connection_expiry", "connection_token", "token_expiry")

    def __init__(self, connection_token: str, connection_expiry: float, token_expiry: float):
        self.connection_token = connection_token
        self.connection_expiry = connection_expiry
        self.token_expiry = token_expiry

    def __repr__(self) -> str:
        return "<_Credentials>"


class ParticipantCalls:
    """The REST methods of a participant (a mixin of
    :class:`~participant.actor.Participant`, which holds the state declared here)."""

    __slots__ = (
        "_last_typing",
        "_own_ids",
        "_participant_id",
        "_receipts",
        "_recent_ids",
        "_replies",
        "_sends_in_flight",
    )

    config: ParticipantConfig
    stats: ParticipantStats
    _core: Core
    _ended: bool
    _client: ParticipantClient
    _credentials: _Credentials | None
    _view: TranscriptView | None
    _nursery: trio.Nursery | None
    _replies: dict[str, int] | None
    _recent_ids: OrderedDict[str, str | None] | None
    _own_ids: OrderedDict[str, None] | None
    _participant_id: str | None
    _sends_in_flight: int
    _last_typing: float | None
    _receipts: ReceiptCoalescer | None

    def _init_calls(self) -> None:
        """Nothing sent yet; the own ParticipantId unknown (see ``participant_id``)."""
        self._replies = None  # replies sent per item Id
        self._participant_id = None
        self._sends_in_flight = 0
        self._own_ids = None  # created by the first send
        self._recent_ids = None
        self._last_typing = None
        self._receipts = None

    def _client_token(self, client_token: str | None, item: Item | None) -> str | None:
        """The ClientToken of a send: ``client_token``, or (not both) that of the next
        reply to ``item`` (``in_reply_to``): derived from (ContactId, the item's Id, the
        reply's index among the replies to it), so a resumed program that sends the same
        reply again creates no second message."""
        if item is None:
            return client_token
        if client_token is not None:
            raise InvalidParameterError("client_token", "absent with in_reply_to")
        if not isinstance(item, Item) or not item.id:
            raise InvalidParameterError("in_reply_to", "a delivered Item with an Id")
        replies = self._replies
        if replies is None:
            replies = self._replies = {}
        index = replies.get(item.id, 0)
        replies[item.id] = index + 1
        key = f"{item.contact_id or ''}/{item.id}/{index}"
        return str(uuid.uuid5(_REPLY_NAMESPACE, key))

    # ---- own ParticipantId -----------------------------------------------------------

    def _watch_identity(self, item: Item) -> None:
        item_id = item.id
        if item_id is None:
            return
        if self._own_ids is not None and item_id in self._own_ids:
            self._learn_participant_id(item.participant_id)
        elif self._sends_in_flight:
            recent = self._recent_ids
            if recent is None:
                recent = self._recent_ids = OrderedDict()
            recent[item_id] = item.participant_id
            if len(recent) > _IDENTITY_MEMORY:
                recent.popitem(last=False)

    def _sent_own(self, item_id: str | None) -> None:
        """``item_id`` (a SendMessage/SendEvent response Id) is an item we sent."""
        if self._participant_id is not None or not item_id:
            return
        recent = self._recent_ids
        if recent is not None and item_id in recent:  # the echo came before the response
            self._learn_participant_id(recent[item_id])
            return
        own = self._own_ids
        if own is None:
            own = self._own_ids = OrderedDict()
        own[item_id] = None
        if len(own) > _IDENTITY_MEMORY:
            own.popitem(last=False)

    def _learn_participant_id(self, participant_id: str | None) -> None:
        if not participant_id or self._participant_id is not None:
            return
        self._participant_id = participant_id
        self._own_ids = self._recent_ids = None
        if self._view is not None and self._view.participant_id is None:
            self._view.participant_id = participant_id
        log.info("own ParticipantId learnt from the echo of a sent item: %s", participant_id)

    async def _send_tracked(self, call: Awaitable[_R]) -> _R:
        """Await a SendMessage/SendEvent call, noting its response Id as our own."""
        self._sends_in_flight += 1
        try:
            response = await call
            self._sent_own(response.id)
            return response
        finally:
            self._sends_in_flight -= 1
            if not self._sends_in_flight:
                self._recent_ids = None

    # ---- REST methods ----------------------------------------------------------------

    def _token(self) -> str:
        if self._core.current is State.DISCONNECTED:
            if self._ended:
                raise ChatEndedError("the chat has ended")
            raise ParticipantClosedError("the participant is disconnected")
        creds = self._credentials
        if creds is None:
            raise ParticipantClosedError("the participant is not connected yet")
        return creds.connection_token

    async def send_message(
        self,
        content: str,
        *,
        content_type: str = ContentType.TEXT_PLAIN,
        client_token: str | None = None,
        in_reply_to: Item | None = None,
    ) -> SendMessageResponse:
        """SendMessage: post ``content`` (1..16384 characters) as ``content_type``.

        ``in_reply_to``: the item this answers; the ClientToken is then derived from
        (ContactId, its Id, the reply's index among the replies to it), so sending the
        same reply again (e.g. after a resume) creates no second message (give either it
        or ``client_token``). With a :meth:`transcript_view`, the message appears there
        as SENDING, then SENT (or FAILED).

        Returns the message's ``id`` and ``absolute_time``. Raises
        :class:`ParticipantClosedError` / :class:`ChatEndedError` once disconnected,
        :class:`InvalidParameterError` for both ``client_token`` and ``in_reply_to``, and
        the errors of :meth:`ParticipantClient.send_message`.
        """
        client_token = self._client_token(client_token, in_reply_to)
        token = self._token()
        view = self._view
        if view is not None:
            if client_token is None:
                client_token = str(uuid.uuid4())
            view.sending(client_token, content, content_type)
        try:
            response = await self._send_tracked(
                self._client.send_message(
                    token, content_type=content_type, content=content, client_token=client_token
                )
            )
        except BaseException as exc:
            if view is not None and client_token is not None:
                view.send_failed(client_token, exc)
            raise
        if view is not None and client_token is not None:
            view.sent(client_token, response)
        return response

    async def send_event(
        self,
        content_type: str,
        content: str | None = None,
        *,
        client_token: str | None = None,
        in_reply_to: Item | None = None,
    ) -> SendEventResponse:
        """SendEvent with any event ContentType ([protocol](protocol.md#items));
        ``in_reply_to`` derives the ClientToken as for :meth:`send_message`.

        Returns the event's ``id`` and ``absolute_time``; raises like :meth:`send_message`.
        """
        client_token = self._client_token(client_token, in_reply_to)
        call = self._client.send_event(
            self._token(), content_type=content_type, content=content, client_token=client_token
        )
        if content_type in (ContentType.MESSAGE_DELIVERED, ContentType.MESSAGE_READ):
            return await call  # a receipt's item is not a plain echo: not used for identity
        return await self._send_tracked(call)

    async def send_typing(self) -> bool:
        """Send a typing event, at most one per ``config.typing_interval`` (10 s).

        Returns True if sent, False if skipped by the throttle.
        """
        now = trio.current_time()
        last = self._last_typing
        if last is not None and now - last < self.config.typing_interval:
            return False
        self._last_typing = now
        try:
            await self.send_event(ContentType.TYPING)
        except BaseException:
            self._last_typing = last
            raise
        return True

    async def send_receipt(self, message_id: str, kind: ReceiptKind = "read") -> bool:
        """Send a ``delivered`` or ``read`` receipt for ``message_id``, coalesced
        ([protocol](protocol.md#items)): held 0.3 s so a read replaces a delivered, then
        only the latest receipt of each kind per 5 s window, never the same receipt twice.

        Returns True when this receipt was sent, False when it was coalesced away or
        already sent. Raises the SendEvent error (e.g. ConflictException with more than
        two participants) to the caller whose receipt failed.
        """
        if kind not in ("delivered", "read"):
            raise InvalidParameterError("kind", "'delivered' or 'read'")
        if not message_id:
            raise InvalidParameterError("message_id", "a non-empty string")
        self._token()
        return await self._coalescer().submit(kind, message_id)

    def send_receipt_nowait(self, message_id: str, kind: ReceiptKind = "read") -> None:
        """Hand a ``delivered`` or ``read`` receipt for ``message_id`` to the receipt
        coalescer and return at once (no await): coalesced and sent in the background
        exactly as by :meth:`send_receipt`, so an ``async for`` loop can acknowledge each
        message it shows without stalling for the coalescing window.

        Raises :class:`InvalidParameterError` for a bad ``kind`` or an empty
        ``message_id``. Nothing else is raised: a receipt that cannot be sent - the
        participant is closed or the chat ended (before or while it waits), or SendEvent
        fails (e.g. ConflictException with more than two participants) - is counted in
        ``stats.receipts_failed`` and logged (INFO once closed, WARNING for a SendEvent
        error).
        """
        if kind not in ("delivered", "read"):
            raise InvalidParameterError("kind", "'delivered' or 'read'")
        if not message_id or not isinstance(message_id, str):
            raise InvalidParameterError("message_id", "a non-empty string")
        try:
            self._token()
        except ParticipantClosedError as exc:
            self._receipt_unsent(kind, message_id, exc)
            return
        self._coalescer().submit_nowait(kind, message_id)

    def _coalescer(self) -> ReceiptCoalescer:
        if self._receipts is None:
            self._receipts = ReceiptCoalescer(
                self._send_receipt_now,
                self._spawn,
                hold=self.config.receipt_hold,
                window=self.config.receipt_window,
                on_unsent=self._receipt_unsent,
            )
        return self._receipts

    def _receipt_unsent(
        self, kind: ReceiptKind, message_id: str, error: BaseException | None
    ) -> None:
        """A receipt of :meth:`send_receipt_nowait` was not sent (``error`` None: dropped
        unsent as the participant stopped)."""
        self.stats.receipts_failed += 1
        if error is None or isinstance(error, ParticipantClosedError):
            log.info("%s receipt for %s not sent: the participant is closed", kind, message_id)
        else:
            log.warning("%s receipt for %s not sent: %s", kind, message_id, describe(error))

    async def _send_receipt_now(self, kind: ReceiptKind, message_id: str) -> None:
        content_type = ContentType.MESSAGE_READ if kind == "read" else ContentType.MESSAGE_DELIVERED
        await self.send_event(content_type, json.dumps({"messageId": message_id}))

    def _spawn(self, fn: Callable[[], Awaitable[None]]) -> None:
        assert self._nursery is not None
        self._nursery.start_soon(fn)

    async def send_attachment(self, data: bytes, *, attachment_name: str, content_type: str) -> str:
        """Upload ``data`` (bytes) as an attachment: StartAttachmentUpload, PUT with every
        header of HeadersToInclude, CompleteAttachmentUpload ([protocol](protocol.md#attachments)).

        Returns the AttachmentId.
        """
        token = self._token()
        started = await self._client.start_attachment_upload(
            token,
            content_type=content_type,
            attachment_size_in_bytes=len(data),
            attachment_name=attachment_name,
            client_token=str(uuid.uuid4()),
        )
        if started.upload_metadata is None or started.attachment_id is None:
            raise TransportError("StartAttachmentUpload returned no UploadMetadata")
        await self._client.upload_attachment(started.upload_metadata, data)
        await self._client.complete_attachment_upload(
            self._token(), attachment_ids=[started.attachment_id], client_token=str(uuid.uuid4())
        )
        return started.attachment_id

    async def download_attachment(
        self, attachment_id: str, *, url_expiry_in_seconds: int | None = None
    ) -> bytes:
        """GetAttachment, then download the bytes from the presigned URL."""
        response = await self._client.get_attachment(
            self._token(), attachment_id=attachment_id, url_expiry_in_seconds=url_expiry_in_seconds
        )
        if not response.url:
            raise TransportError("GetAttachment returned no Url")
        return await self._client.download_attachment(response.url)

    async def describe_view(self, view_token: str) -> View:
        """DescribeView: the View (Id, Arn, Name, Version, Content) for ``view_token``."""
        response = await self._client.describe_view(self._token(), view_token=view_token)
        if response.view is None:
            raise TransportError("DescribeView returned no View")
        return response.view

    async def get_authentication_url(self, session_id: str, redirect_uri: str) -> str:
        """GetAuthenticationUrl: the URL to send the customer to (within a minute of the
        authentication.initiated event)."""
        response = await self._client.get_authentication_url(
            self._token(), session_id=session_id, redirect_uri=redirect_uri
        )
        return response.authentication_url or ""

    async def cancel_authentication(self, session_id: str) -> None:
        """CancelParticipantAuthentication for ``session_id``."""
        await self._client.cancel_participant_authentication(self._token(), session_id=session_id)

    async def get_transcript(self, **filters: Any) -> AsyncIterator[Item]:
        """Every item of GetTranscript with ``filters`` (ParticipantClient.iter_transcript's
        keyword arguments), all pages."""
        async for item in self._client.iter_transcript(self._token(), **filters):
            yield item
