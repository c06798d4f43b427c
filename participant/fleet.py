"""A fleet of workers sharing many chats through a store (docs/fleet.md).

Chats are submitted to a store (``await fleet.submit(participant_token, key=...)``, e.g. from
the webhook that called StartChatContact). Each worker (``Fleet(store, handler, ...)``, ``await
fleet.run()``) claims chats whose lease is free (released, or expired because its holder
died), renews its leases every ``lease_ttl / 3`` seconds, runs one participant actor per chat
and calls the program's ``async def handler(chat, item)`` for every item, acknowledging the
item when the handler returns. At chat end the lease is released and the chat marked ended.

Fencing: a lease is held while its epoch is the store's. The worker keeps, per chat, a local
deadline (the last renewal's start + ``lease_ttl`` less a tenth for clock skew) that is the
chat's trio cancel-scope deadline: if renewals stop succeeding, the actor is cancelled when
the lease may have passed to another worker. Every send the handler makes through
:class:`FleetChat` first checks that deadline and then the store (``store.check(lease)``:
same owner and epoch, expiry ahead); a renewal that finds the epoch moved cancels the actor
at once. Replies are sent ``in_reply_to`` the item (a ClientToken derived from ContactId, the
item's Id and the reply's index), so a reply re-sent after a takeover creates no second
message.

Resumes are spread: after a claim each chat waits a random ``0..resume_jitter`` seconds, then
takes a slot of a rate shared by every worker on the store (``resume_rate`` per second,
default 4: each resume costs one CreateParticipantConnection, limit 6/s, and at least one
GetTranscript, limit 8/s per instance, [protocol](protocol.md#rate-limits)); and every
GetTranscript and CreateParticipantConnection call of the worker's participants is paced by
fleet-wide rates (``get_transcript_rate`` 6/s, ``create_connection_rate`` 4/s;
:class:`PacedTransport`).
"""

from __future__ import annotations

import inspect
import logging
import math
import os
import random
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Literal

import attrs
import httpx
import trio

from participant.actor import Participant, ParticipantConfig, connect
from participant.api import ParticipantClient, default_transport
from participant.cursor import Cursor
from participant.errors import AccessDeniedException, InvalidParameterError
from participant.model import Item
from participant.store import Lease, LeaseLost, Renewal, Store, StoreCursor, StoreError

__all__ = [
    "Fleet",
    "FleetChat",
    "FleetEvent",
    "FleetEventKind",
    "Handler",
    "PacedTransport",
]

log = logging.getLogger("participant.fleet")

Handler = Callable[["FleetChat", Item], Awaitable[None]]
"""``async def handler(chat: FleetChat, item: Item) -> None``: called once per delivered
item (revision); the item is acknowledged when it returns."""

FleetEventKind = Literal["claimed", "connected", "lost", "released", "ended", "failed"]

RESUME_RATE_NAME = "resume"


@attrs.frozen
class FleetEvent:
    """Something that happened to one chat of a worker (``Fleet(on_event=...)``).

    Attributes:
        kind: ``"claimed"`` (lease taken), ``"connected"`` (its actor is subscribed),
            ``"lost"`` (the epoch moved or the local lease deadline passed: actor stopped),
            ``"released"`` (lease given up on stop or after a failure), ``"ended"`` (the
            chat ended; never claimed again), ``"failed"`` (the actor or handler raised;
            ``detail`` is the exception's type name, the lease is released with a retry
            delay).
        key: the chat's key.
        epoch: the lease's epoch.
        detail: an exception type name or ``""``.
    """

    kind: FleetEventKind
    key: str
    epoch: int
    detail: str = ""


class _OrderedCursor:
    """The chat's fenced cursor handle, saves in the order they were asked for: the actor
    (after acknowledgements) and the fleet (before each handler call) both save, each a
    snapshot taken just before calling ``save``; a StrictFIFOLock keeps that order, so an older
    snapshot never overwrites a newer one."""

    __slots__ = ("_inner", "_lock")

    def __init__(self, inner: StoreCursor) -> None:
        self._inner = inner
        self._lock = trio.StrictFIFOLock()

    async def load(self) -> Cursor | None:
        return await self._inner.load()

    async def save(self, cursor: Cursor) -> None:
        async with self._lock:
            await self._inner.save(cursor)


class _Held:
    """A chat this worker holds: its lease, local deadline and the actor's cancel scope."""

    __slots__ = ("acked", "cursor", "lease", "lost", "newest", "scope", "stopping")

    def __init__(self, lease: Lease, deadline: float) -> None:
        self.lease = lease
        self.cursor: _OrderedCursor | None = None  # the fenced handle given to connect
        self.scope = trio.CancelScope(deadline=deadline)
        self.lost = False
        self.stopping = False
        self.acked: tuple[str | None, str | None] = (None, None)
        self.newest: str | None = None

    @property
    def deadline(self) -> float:
        return self.scope.deadline


class FleetChat:
    """The chat as a fleet handler sees it: fenced sends, the underlying participant for
    reads. One per (chat, item) delivery; messages and events sent through it are replies to
    the item (``in_reply_to``: ClientTokens derived from the ContactId, the item's Id and
    the reply's index, docs/concepts.md "Replies that cannot double").

    Sends raise :class:`~participant.store.LeaseLost` (nothing sent) when this worker no
    longer holds the chat's lease; the actor is being stopped then.
    """

    __slots__ = ("_fleet", "_held", "_item", "participant")

    def __init__(self, fleet: Fleet, held: _Held, participant: Participant, item: Item) -> None:
        self._fleet = fleet
        self._held = held
        self._item = item
        self.participant = participant
        """The :class:`~participant.Participant` (read from it freely; its own send methods
        are not fenced)."""

    def __repr__(self) -> str:
        return f"<FleetChat key={self.key!r} epoch={self.epoch}>"

    @property
    def key(self) -> str:
        """The chat's key in the store."""
        return self._held.lease.key

    @property
    def contact_id(self) -> str | None:
        """ContactId given at submit."""
        return self._held.lease.contact_id

    @property
    def epoch(self) -> int:
        """The lease epoch this worker holds the chat at."""
        return self._held.lease.epoch

    @property
    def participant_id(self) -> str | None:
        """Own ParticipantId (once known)."""
        return self.participant.participant_id

    async def check_lease(self) -> None:
        """Raise :class:`~participant.store.LeaseLost` unless this worker still holds the
        lease: the local deadline first, then the store (one query)."""
        await self._fleet._fence(self._held)

    def _reply(self, client_token: str | None) -> dict[str, Any]:
        if client_token is not None or self._item.id is None:
            return {"client_token": client_token}
        return {"in_reply_to": self._item}

    async def send_message(
        self, content: str, *, content_type: str | None = None, client_token: str | None = None
    ) -> Any:
        """SendMessage, fenced (see the class); without ``client_token`` it is a reply to
        the item being handled (``in_reply_to``: the ClientToken is derived from the
        ContactId, the item's Id and the reply's index). Returns the SendMessageResponse."""
        await self.check_lease()
        kwargs = self._reply(client_token)
        if content_type is not None:
            kwargs["content_type"] = content_type
        return await self.participant.send_message(content, **kwargs)

    async def send_event(
        self, content_type: str, content: str | None = None, *, client_token: str | None = None
    ) -> Any:
        """SendEvent, fenced; a reply to the item like :meth:`send_message`'s."""
        await self.check_lease()
        return await self.participant.send_event(
            content_type, content, **self._reply(client_token)
        )

    async def send_typing(self) -> bool:
        """A typing event (throttled by the participant), fenced."""
        await self.check_lease()
        return await self.participant.send_typing()

    async def send_receipt(
        self, message_id: str, kind: Literal["delivered", "read"] = "read"
    ) -> bool:
        """A receipt (coalesced by the participant), fenced."""
        await self.check_lease()
        return await self.participant.send_receipt(message_id, kind)

    async def send_attachment(self, data: bytes, *, attachment_name: str, content_type: str) -> str:
        """Upload an attachment ([protocol](protocol.md#attachments)), fenced; returns the
        AttachmentId."""
        await self.check_lease()
        return await self.participant.send_attachment(
            data, attachment_name=attachment_name, content_type=content_type
        )

    async def disconnect(self) -> None:
        """DisconnectParticipant, fenced: the chat ends for this participant."""
        await self.check_lease()
        await self.participant.disconnect()


ConnectFn = Callable[..., AbstractAsyncContextManager[Participant]]

GET_TRANSCRIPT_PATH = "/participant/transcript"
CREATE_CONNECTION_PATH = "/participant/connection"


class PacedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that paces chosen Participant Service operations by a rate shared
    through a store by every worker of a fleet (``store.take_rate``), then hands the
    request to ``inner``. The fleet puts one under its :class:`~participant.api.
    ParticipantClient` so that resumes after a mass failover stay under the service's
    per-instance limits ([protocol](protocol.md#rate-limits)).

    Args:
        inner: the transport that sends (closed with this one; the attribute ``inner``
            may be set later, before the first request).
        store: where the rate lives.
        rates: request path -> (rate name, calls per second), e.g.
            ``{"/participant/transcript": ("GetTranscript", 6.0)}``.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport | None,
        store: Store,
        rates: dict[str, tuple[str, float]],
    ) -> None:
        self.inner = inner
        self._store = store
        self._rates = dict(rates)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        paced = self._rates.get(request.url.path)
        if paced is not None:
            name, rate = paced
            await trio.sleep(await self._store.take_rate(name, rate=rate))
        if self.inner is None:
            raise RuntimeError("PacedTransport.inner is not set")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self.inner is not None:
            await self.inner.aclose()


def _default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(24):06x}"


def _positive(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InvalidParameterError(name, "a finite number > 0")
    return float(value)


class Fleet:
    """One worker of a fleet (and the place to submit chats to).

    Args:
        store: the shared :class:`~participant.store.Store`.
        handler: ``async def handler(chat: FleetChat, item: Item)``; needed by :meth:`run`,
            not by :meth:`submit`.
        max_chats: most chats this worker holds at once (>= 1).
        lease_ttl: seconds a lease lasts without renewal (renewed every third of it); a
            dead worker's chats are taken over after about ``lease_ttl`` to
            ``2 * lease_ttl``.
        owner: this worker's name in the store (default ``host:pid:random``).
        resume_rate: resumes per second for the whole fleet (a rate shared through the
            store), to stay under the service's CreateParticipantConnection (6/s) and
            GetTranscript (8/s) limits after a mass failover.
        resume_jitter: a resume first waits a random 0..``resume_jitter`` seconds
            (default ``lease_ttl / 4``).
        get_transcript_rate: GetTranscript calls per second for the whole fleet (default
            6, under the service's 8/s per instance), and
        create_connection_rate: CreateParticipantConnection calls per second (default 4,
            under 6/s): every call of the worker's participants is paced through a rate
            shared in the store (:class:`PacedTransport`). Not applied when
            ``connect_kwargs`` brings its own ``client``.
        retry_after: seconds a chat whose actor or handler failed stays unclaimable
            (default ``lease_ttl``).
        claim_interval: seconds between claim attempts while below ``max_chats``
            (default ``min(lease_ttl / 3, 2)``): how soon a released or expired chat is
            picked up.
        fence_with_store: check the store before every send (default); ``False`` checks
            only the local lease deadline.
        connect: the function opening a participant (default :func:`participant.connect`);
            called as ``connect(participant_token, **connect_kwargs)`` plus ``cursor=`` (the
            store's cursor handle for the chat, fenced by its lease) when it accepts one.
        connect_kwargs: passed to ``connect`` (``endpoint_url``, ``region``, ``config``...);
            the fleet sets ``config.ack = "manual"``: an item is acknowledged only when
            its handler returned.
        on_event: called with every :class:`FleetEvent` (synchronously; keep it quick).
        rng: random source for the jitter (seed it in tests).

    Raises:
        InvalidParameterError: a bad ``max_chats``, ``lease_ttl``, ``resume_rate``,
            ``resume_jitter``, ``get_transcript_rate``, ``create_connection_rate``,
            ``retry_after`` or ``claim_interval``.
    """

    def __init__(
        self,
        store: Store,
        handler: Handler | None = None,
        *,
        max_chats: int = 100,
        lease_ttl: float = 30.0,
        owner: str | None = None,
        resume_rate: float = 4.0,
        resume_jitter: float | None = None,
        get_transcript_rate: float = 6.0,
        create_connection_rate: float = 4.0,
        retry_after: float | None = None,
        claim_interval: float | None = None,
        fence_with_store: bool = True,
        connect: ConnectFn = connect,
        connect_kwargs: dict[str, Any] | None = None,
        on_event: Callable[[FleetEvent], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not isinstance(max_chats, int) or max_chats < 1:
            raise InvalidParameterError("max_chats", "an integer >= 1")
        self.store = store
        self.handler = handler
        self.max_chats = max_chats
        self.lease_ttl = _positive("lease_ttl", lease_ttl)
        self.owner = owner or _default_owner()
        self.resume_rate = _positive("resume_rate", resume_rate)
        jitter = self.lease_ttl / 4 if resume_jitter is None else resume_jitter
        if not math.isfinite(jitter) or jitter < 0:
            raise InvalidParameterError("resume_jitter", "a finite number of seconds >= 0")
        self.resume_jitter = float(jitter)
        self.get_transcript_rate = _positive("get_transcript_rate", get_transcript_rate)
        self.create_connection_rate = _positive("create_connection_rate",
                                                create_connection_rate)
        retry = self.lease_ttl if retry_after is None else retry_after
        if not math.isfinite(retry) or retry < 0:
            raise InvalidParameterError("retry_after", "a finite number of seconds >= 0")
        self.retry_after = float(retry)
        self.claim_interval = _positive(
            "claim_interval",
            min(self.lease_ttl / 3, 2.0) if claim_interval is None else claim_interval,
        )
        self.fence_with_store = fence_with_store
        self._connect = connect
        self._connect_kwargs = dict(connect_kwargs or {})
        try:
            self._takes_cursor = "cursor" in inspect.signature(connect).parameters
        except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
            self._takes_cursor = False
        self._on_event = on_event
        self._rng = rng or random.Random()
        self._held: dict[str, _Held] = {}
        self._stop = trio.Event()
        self._wake = trio.Event()  # set when a slot frees up or on stop
        self._running = False
        self._client_now: ParticipantClient | None = None

    def __repr__(self) -> str:
        return f"<Fleet owner={self.owner!r} chats={len(self._held)}/{self.max_chats}>"

    # ---- submitting --------------------------------------------------------------------
    async def submit(
        self, participant_token: str, *, key: str | None = None, contact_id: str | None = None
    ) -> str:
        """Add a chat for the fleet: its ParticipantToken (from StartChatContact; stored,
        never logged) under ``key`` (default ``contact_id``). Idempotent for the same key
        and token. Returns the key. Raises InvalidParameterError, StoreError."""
        return await self.store.submit(participant_token, key=key, contact_id=contact_id)

    # ---- running -----------------------------------------------------------------------
    @property
    def chats(self) -> list[str]:
        """Keys of the chats this worker holds now."""
        return list(self._held)

    def stop(self) -> None:
        """Stop :meth:`run`: claim no more, stop every actor, release every lease at once
        (other workers can claim them immediately: a rolling deploy). Idempotent; a
        stopped Fleet stays stopped (a later :meth:`run` returns at once)."""
        self._stop.set()
        self._wake.set()

    async def run(
        self,
        *,
        signals: Iterable[int] = (),
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Work until :meth:`stop` (or one of ``signals``, e.g. ``(signal.SIGTERM,)``:
        then the same as :meth:`stop`; main thread only). Returns after every lease was
        released.

        Raises:
            InvalidParameterError: no ``handler`` was given.
            RuntimeError: ``run`` is already running.
        """
        if self.handler is None:
            raise InvalidParameterError("handler", "an async function (chat, item)")
        if self._running:
            raise RuntimeError("Fleet.run is already running")
        self._running = True
        wanted = tuple(signals)
        try:
            async with self._client() as client, trio.open_nursery() as outer:
                self._client_now = client
                if wanted:
                    await outer.start(self._watch_signals, wanted)
                outer.start_soon(self._renew_loop)
                async with trio.open_nursery() as chats:
                    task_status.started()
                    await self._claim_loop(chats)
                    for held in list(self._held.values()):
                        held.stopping = True
                        held.scope.cancel()
                outer.cancel_scope.cancel()
        finally:
            self._running = False
            self._client_now = None

    async def _watch_signals(
        self, wanted: tuple[int, ...], *, task_status: trio.TaskStatus[None]
    ) -> None:
        with trio.open_signal_receiver(*wanted) as received:
            task_status.started()
            async for signum in received:
                log.info("fleet %s: %s, releasing leases", self.owner, signal.Signals(signum).name)
                self.stop()
                return

    def _emit(self, kind: FleetEventKind, lease: Lease, detail: str = "") -> None:
        if self._on_event is not None:
            self._on_event(FleetEvent(kind, lease.key, lease.epoch, detail))

    def _local_deadline(self, started: float) -> float:
        return started + self.lease_ttl * 0.9

    async def _claim_loop(self, chats: trio.Nursery) -> None:
        while not self._stop.is_set():
            free = self.max_chats - len(self._held)
            if free > 0:
                started = trio.current_time()
                try:
                    leases = await self.store.claim(self.owner, ttl=self.lease_ttl, limit=free)
                except StoreError as exc:
                    log.warning("fleet %s: claim failed: %s", self.owner, exc)
                    leases = []
                for lease in leases:
                    held = _Held(lease, self._local_deadline(started))
                    self._held[lease.key] = held
                    self._emit("claimed", lease)
                    chats.start_soon(self._run_chat, held)
            with trio.move_on_after(self.claim_interval):
                await self._wake.wait()
            self._wake = trio.Event()

    async def _renew_loop(self) -> None:
        interval = self.lease_ttl / 3
        while True:
            await trio.sleep(interval)
            batch = [h for h in self._held.values() if not (h.lost or h.stopping)]
            if not batch:
                continue
            started = trio.current_time()
            try:
                renewed = await self.store.renew_many(
                    [Renewal(h.lease, *h.acked, h.newest) for h in batch], ttl=self.lease_ttl
                )
            except StoreError as exc:
                # keep the old deadlines: the actors stop when they pass
                log.warning("fleet %s: renewing %d leases failed: %s", self.owner,
                            len(batch), exc)
                continue
            for held, lease in zip(batch, renewed, strict=True):
                if lease is None:
                    self._lose(held, "epoch moved")
                elif not held.lost:
                    held.lease = lease
                    held.scope.deadline = self._local_deadline(started)

    def _lose(self, held: _Held, why: str) -> None:
        if not held.lost:
            held.lost = True
            log.warning("fleet %s: lost chat %r at epoch %d (%s)", self.owner,
                        held.lease.key, held.lease.epoch, why)
            held.scope.cancel()

    async def _fence(self, held: _Held) -> None:
        if held.lost or trio.current_time() >= held.deadline:
            self._lose(held, "lease deadline passed")
            raise LeaseLost(held.lease.key, held.lease.epoch)
        if self.fence_with_store and not await self.store.check(held.lease):
            self._lose(held, "store check")
            raise LeaseLost(held.lease.key, held.lease.epoch)

    async def _resume_delay(self) -> None:
        await trio.sleep(self._rng.uniform(0, self.resume_jitter))
        wait = await self.store.take_rate(RESUME_RATE_NAME, rate=self.resume_rate)
        await trio.sleep(wait)

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[ParticipantClient | None]:
        """One ParticipantClient for every chat of this worker, its calls paced (none when
        ``connect_kwargs`` has a ``client``: that one is used as it is)."""
        if "client" in self._connect_kwargs:
            yield None
            return
        kwargs = self._connect_kwargs
        transport = PacedTransport(None, self.store, {
            GET_TRANSCRIPT_PATH: ("GetTranscript", self.get_transcript_rate),
            CREATE_CONNECTION_PATH: ("CreateParticipantConnection",
                                     self.create_connection_rate),
        })
        # max_in_flight=None: a paced request sleeps inside the transport, and holding one
        # of the client's slots meanwhile would make every other call wait behind it
        client = ParticipantClient(region=kwargs.get("region"),
                                   endpoint_url=kwargs.get("endpoint_url"), transport=transport,
                                   max_in_flight=None)
        transport.inner = kwargs.get("http_transport") or default_transport(client.endpoint_url)
        try:
            async with client:
                yield client
        finally:
            with trio.CancelScope(shield=True):
                await transport.aclose()

    def _open(self, held: _Held) -> AbstractAsyncContextManager[Participant]:
        kwargs = dict(self._connect_kwargs)
        # only the fleet acknowledges, after the handler returned: with implicit
        # acknowledgement, leaving the actor after a failing handler would acknowledge
        # the item it failed on, and a resume would skip it
        config = kwargs.get("config") or ParticipantConfig()
        kwargs["config"] = attrs.evolve(config, ack="manual")
        if self._client_now is not None:
            for name in ("region", "endpoint_url", "http_transport"):
                kwargs.pop(name, None)
            kwargs["client"] = self._client_now
        if self._takes_cursor:
            held.cursor = _OrderedCursor(self.store.cursor(held.lease.key, lease=held.lease))
            kwargs["cursor"] = held.cursor
        return self._connect(held.lease.participant_token, **kwargs)

    async def _run_chat(self, held: _Held) -> None:
        lease = held.lease
        ended = False
        error: str | None = None
        try:
            with held.scope:
                await self._resume_delay()
                async with self._open(held) as participant:
                    self._emit("connected", held.lease)
                    await self._deliver(held, participant)
                ended = True
        except AccessDeniedException:
            ended, error = True, "AccessDeniedException"  # the chat is over
        except LeaseLost:
            held.lost = True  # a fenced send found the lease gone; nothing was sent
        except Exception as exc:
            error = type(exc).__name__
            log.warning("fleet %s: chat %r stopped: %s", self.owner, lease.key, error)
            self._emit("failed", held.lease, error)
        finally:
            del self._held[lease.key]
            self._wake.set()
            if held.lost:
                self._emit("lost", held.lease)
            elif held.scope.cancelled_caught and not held.stopping:
                # the local deadline passed without a successful renewal
                self._emit("lost", held.lease, "lease deadline passed")
            else:
                await self._release(held, ended=ended, error=error)

    async def _deliver(self, held: _Held, participant: Participant) -> None:
        assert self.handler is not None
        # The actor saves the cursor write-ahead (the item on record as delivered, not
        # acknowledged, before the iterator hands it out), so after a crash an item
        # handled here comes again marked redelivered.
        async for item in participant:
            held.newest = item.absolute_time or held.newest
            await self.handler(FleetChat(self, held, participant, item), item)
            await participant.ack(item)
            held.acked = (item.id, item.absolute_time)

    async def _release(self, held: _Held, *, ended: bool, error: str | None) -> None:
        with trio.CancelScope(shield=True), trio.move_on_after(10):
            try:
                done = await self.store.release(
                    held.lease, ended=ended, error=error,
                    retry_after=0.0 if error is None or ended else self.retry_after,
                )
            except StoreError as exc:
                log.warning("fleet %s: releasing %r failed: %s", self.owner, held.lease.key, exc)
                return
            if done:
                self._emit("ended" if ended else "released", held.lease, error or "")
