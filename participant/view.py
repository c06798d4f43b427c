"""The live transcript view: what AWS's chat UIs keep (chatjs 5.x, the mobile SDKs).

A :class:`TranscriptView` holds a chat's items ordered by AbsoluteTime, keyed by Id,
each the latest revision delivered (docs/concepts.md, "The live transcript view"). The
actor feeds it every delivered item (:meth:`TranscriptView.apply`) and reports the
program's own sends (:meth:`~TranscriptView.sending`, :meth:`~TranscriptView.sent`,
:meth:`~TranscriptView.send_failed`); receipts from the other participants move the
program's own messages along ``SENDING -> SENT -> DELIVERED -> READ`` (or ``FAILED``).
Changes are observable with ``async for change in view.changes()``.

Receipts (``message.delivered``, ``message.read``, ``message.metadata`` items) and typing
events update the view but are not items of it, as in chatjs's transcript.

Everything but :meth:`ViewChanges.__anext__` is synchronous and does no I/O.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator
from typing import Final, Protocol

import attrs

from ._feed import Feed
from .core.log import canonical_time
from .model.items import (
    Item,
    MessageDelivered,
    MessageMetadataEvent,
    MessageProcessingStatus,
    MessageRead,
    TextMessage,
    Typing,
)

__all__ = [
    "MessageStatus",
    "SendResult",
    "TranscriptView",
    "ViewChange",
    "ViewChanges",
    "ViewEntry",
]


class MessageStatus:
    """Status of one of the program's own messages (chatjs 5.x's message states)."""

    SENDING: Final = "SENDING"  # SendMessage called, no answer yet
    SENT: Final = "SENT"  # the service answered with the message's Id
    DELIVERED: Final = "DELIVERED"  # another participant's client received it
    READ: Final = "READ"  # another participant read it
    FAILED: Final = "FAILED"  # SendMessage failed, or the message was rejected


_RANK: Final = {
    MessageStatus.SENDING: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.READ: 3,
}


class SendResult(Protocol):
    """What :meth:`TranscriptView.sent` reads of a send's answer
    (:class:`~participant.model.SendMessageResponse` or SendEventResponse)."""

    @property
    def id(self) -> str | None: ...

    @property
    def absolute_time(self) -> str | None: ...


@attrs.frozen
class ViewEntry:
    """One item of the view: the latest revision of ``item``; ``status`` is a
    :class:`MessageStatus` for the program's own messages, ``None`` for the others';
    ``client_token`` the ClientToken of an own send (``None`` for items not sent through
    :meth:`TranscriptView.sending`)."""

    item: Item
    status: str | None = None
    client_token: str | None = None


@attrs.frozen
class ViewChange:
    """A change of the view. ``kind``: ``"added"`` (a new item, or an own message being
    sent: its ``item.id`` is ``None`` until the service answers), ``"updated"`` (a new
    revision of an item), ``"status"`` (an own message's ``status`` changed; when the
    service answered a send, ``item`` now has its Id and AbsoluteTime).
    ``item``: the item as the view now holds it; ``status``: its status (own messages);
    ``client_token``: the ClientToken of an own send (match a ``SENDING`` entry with it)."""

    kind: str
    item: Item
    status: str | None = None
    client_token: str | None = None


class ViewChanges(Feed[ViewChange]):
    """An async iterator of :class:`ViewChange` for one observer (from
    :meth:`TranscriptView.changes`).

    Holds at most ``maxlen`` unread changes; when the observer falls further behind, the
    oldest unread ones are discarded and counted in :attr:`missed` (the view itself is
    complete: re-read :attr:`TranscriptView.entries` after a miss). Ends when the view is
    closed (:meth:`TranscriptView.close`) or on :meth:`aclose`. For one task at a time.
    """

    def __init__(self, view: TranscriptView, maxlen: int) -> None:
        super().__init__(maxlen)
        self._view = view

    async def aclose(self) -> None:
        """Stop observing: the iterator ends once the changes already queued are read."""
        self._view._feeds.discard(self)
        self.end()


_NO_TIME: Final = "\uffff"  # sorts after every AbsoluteTime: a send not yet answered
_MAX_EARLY_RECEIPTS: Final = 1024


class TranscriptView:
    """A chat's transcript as the program's UI shows it (see the module docstring).

    Args:
        participant_id: the program's own ParticipantId (its messages get a ``status``);
            may be set later (:attr:`participant_id`) once the actor knows it.

    Items are ordered by AbsoluteTime (then by arrival); an own message not yet answered
    by the service (``SENDING``) comes last, under its ClientToken.
    """

    def __init__(self, participant_id: str | None = None) -> None:
        self.participant_id = participant_id
        self._entries: dict[str, ViewEntry] = {}  # key (Id, or ClientToken while sending)
        self._order: list[tuple[str, int, str]] = []  # (canonical time, arrival, key)
        self._sort_keys: dict[str, tuple[str, int, str]] = {}
        self._arrivals = itertools.count()
        self._tokens: dict[str, str] = {}  # ClientToken -> key of its entry
        self._early: dict[str, str] = {}  # receipts for Ids not in the view yet
        self._feeds: set[ViewChanges] = set()
        self._closed = False

    # ---- reading ---------------------------------------------------------------------

    @property
    def entries(self) -> tuple[ViewEntry, ...]:
        """Every entry, in order (a snapshot)."""
        return tuple(self._entries[key] for _time, _n, key in self._order)

    @property
    def items(self) -> tuple[Item, ...]:
        """Every item (latest revision), in order (a snapshot)."""
        return tuple(self._entries[key].item for _time, _n, key in self._order)

    def get(self, key: str) -> Item | None:
        """The item of Id ``key`` (or of ClientToken ``key`` while it is being sent)."""
        entry = self._entry(key)
        return None if entry is None else entry.item

    def status(self, key: str) -> str | None:
        """The :class:`MessageStatus` of the own message of Id or ClientToken ``key``;
        ``None`` for another participant's item or an unknown key."""
        entry = self._entry(key)
        return None if entry is None else entry.status

    def _entry(self, key: str) -> ViewEntry | None:
        entry = self._entries.get(key)
        if entry is None and key in self._tokens:
            entry = self._entries.get(self._tokens[key])
        return entry

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __contains__(self, key: object) -> bool:
        return key in self._entries or key in self._tokens

    # ---- changes ---------------------------------------------------------------------

    def changes(self, maxlen: int = 256) -> ViewChanges:
        """A new async iterator of the changes from now on (see :class:`ViewChanges`).

        Raises:
            ValueError: ``maxlen < 1``.
        """
        if maxlen < 1:
            raise ValueError(f"maxlen must be >= 1, got {maxlen}")
        feed = ViewChanges(self, maxlen)
        if self._closed:
            feed.end()
        else:
            self._feeds.add(feed)
        return feed

    def close(self) -> None:
        """No more changes: every :meth:`changes` iterator ends after its queued ones (the
        actor calls this when the participant is disconnected). The view stays readable."""
        self._closed = True
        for feed in self._feeds:
            feed.end()
        self._feeds.clear()

    def _emit(self, kind: str, entry: ViewEntry) -> ViewChange:
        change = ViewChange(kind, entry.item, entry.status, entry.client_token)
        for feed in self._feeds:
            feed.push(change)
        return change

    # ---- updating --------------------------------------------------------------------

    def _place(self, key: str, entry: ViewEntry, time: str) -> None:
        old = self._sort_keys.get(key)
        if old is not None:
            if old[0] == time:
                self._entries[key] = entry
                return
            self._order.pop(bisect.bisect_left(self._order, old))
        sort_key = (time, next(self._arrivals), key)
        bisect.insort(self._order, sort_key)
        self._sort_keys[key] = sort_key
        self._entries[key] = entry

    def _remove(self, key: str) -> None:
        old = self._sort_keys.pop(key)
        self._order.pop(bisect.bisect_left(self._order, old))
        del self._entries[key]

    def _is_own(self, item: Item) -> bool:
        return self.participant_id is not None and item.participant_id == self.participant_id

    def apply(self, item: Item) -> ViewChange | None:
        """Apply a delivered item (a result of :meth:`ItemLog.accept
        <participant.core.log.ItemLog.accept>`): a new Id is ``"added"``, a new revision
        of a known Id ``"updated"``; a receipt moves an own message's status
        (``"status"``); a typing event changes nothing. Returns the change made (also
        sent to every :meth:`changes` iterator), ``None`` when nothing changed."""
        if isinstance(item, (MessageDelivered, MessageRead, MessageMetadataEvent)):
            return self._receipt(item)
        if isinstance(item, Typing):
            return None
        key = item.id
        if key is None:
            key = f"#{next(self._arrivals)}"  # no Id: kept, never updated
        time = canonical_time(item.absolute_time) or _NO_TIME
        entry = self._entries.get(key)
        if entry is not None:
            if entry.item == item and entry.item.revision == item.revision:
                return None
            new = attrs.evolve(entry, item=item)
            self._place(key, new, time)
            return self._emit("updated", new)
        status = None
        if self._is_own(item):
            status = MessageStatus.SENT
        early = self._early.pop(key, None)
        if early is not None and status is not None and _RANK[early] > _RANK[status]:
            status = early
        new = ViewEntry(item, status)
        self._place(key, new, time)
        return self._emit("added", new)

    def _receipt(self, item: Item) -> ViewChange | None:
        message_id = getattr(item, "message_id", None)
        if not isinstance(message_id, str):
            return None
        if self.participant_id is not None and item.participant_id == self.participant_id:
            return None  # the program's own receipt about another's message
        status: str | None = None
        if isinstance(item, MessageRead):
            status = MessageStatus.READ
        elif isinstance(item, MessageDelivered):
            status = MessageStatus.DELIVERED
        else:  # message.metadata: its receipts
            metadata = item.message_metadata
            for receipt in (metadata.receipts if metadata is not None else None) or ():
                if receipt.recipient_participant_id == self.participant_id:
                    continue
                if receipt.read_timestamp:
                    status = MessageStatus.READ
                elif receipt.delivered_timestamp and status is None:
                    status = MessageStatus.DELIVERED
        if status is None:
            return None
        entry = self._entries.get(message_id)
        if entry is None:
            if len(self._early) >= _MAX_EARLY_RECEIPTS:
                del self._early[next(iter(self._early))]
            previous = self._early.get(message_id)
            if previous is None or _RANK[status] > _RANK[previous]:
                self._early[message_id] = status
            return None
        return self._advance(message_id, entry, status)

    def _advance(self, key: str, entry: ViewEntry, status: str) -> ViewChange | None:
        current = entry.status
        if current is None or current == MessageStatus.FAILED:
            return None  # not an own message, or a failed send
        if _RANK[status] <= _RANK[current]:
            return None  # statuses never go back
        new = attrs.evolve(entry, status=status)
        self._entries[key] = new
        return self._emit("status", new)

    def sending(
        self, client_token: str, content: str, content_type: str = "text/plain"
    ) -> ViewChange:
        """An own message is being sent (SendMessage called with ``client_token``): it is
        ``"added"`` with status ``SENDING``, keyed by its ClientToken, after every item.

        Raises:
            ValueError: ``client_token`` is already in the view.
        """
        if client_token in self._tokens:
            raise ValueError(f"client_token {client_token!r} is already being sent")
        placeholder = TextMessage(
            content=content,
            content_type=content_type,
            type="MESSAGE",
            participant_id=self.participant_id,
        )
        key = f"token:{client_token}"
        self._tokens[client_token] = key
        entry = ViewEntry(placeholder, MessageStatus.SENDING, client_token)
        self._place(key, entry, _NO_TIME)
        return self._emit("added", entry)

    def sent(self, client_token: str, response: SendResult) -> ViewChange | None:
        """The service answered the send of ``client_token`` with ``response`` (its Id and
        AbsoluteTime; a ``MessageProcessingStatus`` FAILED or REJECTED in its
        MessageMetadata makes it ``FAILED``). The entry moves to its Id and AbsoluteTime,
        status ``SENT`` (or further, if its item or receipts came first).

        Raises:
            KeyError: ``client_token`` was not given to :meth:`sending`.
        """
        key = self._tokens[client_token]
        entry = self._entries[key]
        item_id = response.id
        metadata = getattr(response, "message_metadata", None)
        rejected = getattr(metadata, "message_processing_status", None) in (
            MessageProcessingStatus.FAILED,
            MessageProcessingStatus.REJECTED,
        )
        if item_id is None:
            return self._fail(client_token, key, entry) if rejected else None
        status = MessageStatus.FAILED if rejected else MessageStatus.SENT
        existing = self._entries.get(item_id)
        if key != item_id:
            self._remove(key)
            self._tokens[client_token] = item_id
        if existing is not None:  # the item itself came first (its echo on the socket)
            current = existing.status or MessageStatus.SENT
            if status == MessageStatus.FAILED:
                current = status
            merged = attrs.evolve(existing, status=current, client_token=client_token)
            self._entries[item_id] = merged
            return self._emit("status", merged)
        early = self._early.pop(item_id, None)
        if early is not None and status != MessageStatus.FAILED:
            status = early if _RANK[early] > _RANK[status] else status
        item = attrs.evolve(entry.item, id=item_id, absolute_time=response.absolute_time)
        new = ViewEntry(item, status, client_token)
        self._place(item_id, new, canonical_time(response.absolute_time) or _NO_TIME)
        return self._emit("status", new)

    def send_failed(self, client_token: str, error: BaseException | None = None) -> ViewChange:
        """The send of ``client_token`` failed (``error``, not kept): status ``FAILED``.

        Raises:
            KeyError: ``client_token`` was not given to :meth:`sending`.
        """
        key = self._tokens[client_token]
        return self._fail(client_token, key, self._entries[key])

    def _fail(self, client_token: str, key: str, entry: ViewEntry) -> ViewChange:
        new = attrs.evolve(entry, status=MessageStatus.FAILED)
        self._entries[key] = new
        return self._emit("status", new)
