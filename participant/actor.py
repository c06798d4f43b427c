"""The participant actor: one chat participant as a trio actor (issue 4).

``async with connect(participant_token, ...) as participant:`` yields a :class:`Participant`
once its websocket is subscribed. The actor owns one nursery; inside it run the websocket
reader and heartbeat (:mod:`participant.socket`), the supervisor (renewal timer and reconnect
loop, which also runs gap fill) and the item handlers. Its life is the state machine of
:mod:`participant.machine`. Leaving the block, cancelling the surrounding scope, the chat
ending or :meth:`Participant.disconnect` all end in state ``disconnected`` with no task left.

Guarantees and policies (docs/concepts.md has the timelines):

- **Renewal, make-before-break** ([protocol](protocol.md#tokens-and-lifetimes)): at
  ``ConnectionExpiry`` minus a margin and at the ConnectionToken ``Expiry`` minus a
  margin, CreateParticipantConnection is called again with the ParticipantToken; the new
  URL is opened within ``ParticipantConfig.url_window`` seconds of the response (else it
  is never used and a new one is fetched), subscribed, and only then is the old socket
  closed. The margin is ``min(renewal_margin, renewal_fraction * lifetime)``.
- **Reconnection**: a socket closed, failing or with a heartbeat unanswered at the next tick
  is lost; the actor backs off exponentially with jitter (``backoff_initial`` 1 s doubling
  to ``backoff_max`` 30 s, each delay drawn from ``[d/2, d]``), fetches a new URL and
  resubscribes. ThrottlingException, 5xx and network errors are retried this way; the
  backoff starts afresh only after a connection stayed up ``backoff_reset_after``.
  Only a modelled AccessDeniedException while reconnecting means the chat ended: a
  synthetic :class:`~participant.model.ChatEnded` item is delivered and the state becomes
  ``disconnected``. Other non-retryable errors end the participant with ``error`` set.
- **Gap fill and exactly-once**: after every unplanned reconnect GetTranscript is paged
  FORWARD from ``gap_fill_overlap`` (5 s) before the newest AbsoluteTime seen, and by
  default after each planned renewal from ``renewal_fill_overlap`` (1 s) before it (with
  make-before-break only items still unread in the old socket can be missing, and they
  are newer than what it delivered). The items are delivered in AbsoluteTime order,
  before any item the new socket carried meanwhile (its items are held, up to
  ``held_items_max``, until the fill is done; beyond that they are dropped and one more
  fill recovers them: the reader never waits for a fill, so the heartbeat watchdog runs).
  The fill runs in its own task; fills requested while one runs are coalesced into one
  more. Transient errors are retried ``fill_max_attempts`` times; a fill that gives up
  (or meets a non-retryable answer, or pages without end:
  :class:`~participant.errors.TranscriptPagingError`)
  replaces the socket and fills again from the same point; a second failure in a row
  ends the participant with ``error`` set. Without ``history`` it never delivers items
  older than the first subscription (less ``clock_skew``: the items' AbsoluteTime is the service's
  clock). Items are deduplicated by Id: the Ids of items within ``dedupe_window``
  seconds of the newest AbsoluteTime are remembered; beyond ``dedupe_max_ids`` the
  oldest are forgotten, but never one within gap fill's reach, so a gap fill can never
  deliver an item twice (memory: ``max(dedupe_max_ids, rate * gap_fill_overlap) + 64``
  Ids: old Ids are dropped every 64 items).
  AbsoluteTimes all come from the service's clock, so the overlaps only cover items the
  service delivered out of order.
- **Slow consumer: the reader never waits, nothing is lost.** Items go to the iterator
  through a buffer of ``max_buffered_items``. An item is accepted (its Id marked seen,
  counted, buffered) in one step only when there is room. A live item without room (or
  without a free handler slot) is dropped, counted in ``stats.live_items_dropped``, and
  its socket's later items are held behind a refill that starts, once the consumer has
  caught up, from the oldest dropped AbsoluteTime less ``gap_fill_overlap``: each item
  arrives once, in order. The websocket reader thus keeps reading heartbeat echoes, so
  the watchdog detects a dead socket during any stall; only the gap fill task waits for
  room. The supervisor never waits for the consumer, so renewals and reconnects go on
  while it does not read. A program that only uses handlers sets ``iterate=False``
  (then nothing is buffered for the iterator).
- **First connection**: transient errors are retried with backoff for at most
  ``connect_timeout`` seconds (30 s), then :func:`connect` raises the last error.
- **Own ParticipantId**: :attr:`Participant.participant_id`, learnt from the echo of the
  first message or event this participant sends.
- **Handlers** registered with :meth:`Participant.on` run on a bounded pool in the actor's
  nursery (one task per item, at most ``handler_concurrency``; the actor waits when it is
  full); a failing handler is logged with the item's Id and never stops the actor.
- **Failures surface**: a fatal error after start is raised by the iterator and out of
  the :func:`connect` block (cancelling its body); the body's own exceptions leave the
  block unchanged.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Final

import httpx
import trio

from participant._calls import describe
from participant._connecting import Connecting
from participant._delivery_io import _Gate
from participant._observe import ItemHandler
from participant._time import WallClock, format_timestamp, system_clock
from participant.api import ParticipantClient
from participant.config import ParticipantConfig, ParticipantStats
from participant.core.delivery import Fills
from participant.core.log import ItemLog
from participant.core.machine import (
    Abort,
    Action,
    Attempt,
    Close,
    Core,
    DeliverChatEnded,
    Fill,
    FirstSubscription,
    Interrupt,
    OpenGate,
    Sleep,
    Stop,
    Subscribe,
)
from participant.core.machine import Event as CoreEvent
from participant.cursor import Cursor, CursorHandle
from participant.errors import (
    InvalidParameterError,
    TransportError,
)
from participant.machine import State, StateChange, Trigger
from participant.model import (
    ChatItemType,
    ContentType,
    Item,
    parse_item,
)
from participant.socket import (
    Flag,
    WebSocketConnector,
    default_connector,
)
from participant.view import TranscriptView

__all__ = [
    "ItemHandler",
    "Participant",
    "ParticipantConfig",
    "ParticipantStats",
    "connect",
]

log = logging.getLogger("participant.actor")

_RNG: Final = random.Random()
DEFAULT_CONFIG: Final = ParticipantConfig()
"""The :class:`ParticipantConfig` :func:`connect` uses when given none."""

# Task names given to trio (else it formats one string per task spawned).
_CONNECTION_TASK: Final = "participant.actor.Participant._run_connection"


def _gate(handle: object) -> _Gate:
    """The core's opaque socket handle is the socket's gate."""
    assert isinstance(handle, _Gate)
    return handle


class Participant(Connecting):
    """One participant of one chat, as a trio actor. Create with :func:`connect`.

    Consume items with ``async for item in participant`` (typed :class:`Item` subclasses,
    each Id once, ending when the participant is disconnected; if it ended on a fatal
    error, the iterator raises that error), or with handlers registered by :meth:`on`.
    Observe the state with :attr:`state`, :meth:`on_state_change` and
    :meth:`state_changes`; counters are in :attr:`stats`.
    """

    # Slots, and the parts an idle participant never uses (the item buffer, the parking
    # lots, the identity and listener collections) created on first use: a process holds
    # thousands of idle participants (docs/benchmarks.md, "Scale").
    __slots__ = (
        "_action_scope",
        "_actions",
        "_client",
        "_conn_nursery",
        "_connect_participant",
        "_connector",
        "_core",
        "_ended",
        "_history",
        "_implicit_ack",
        "_log",
        "_nursery",
        "_participant_token",
        "_rng",
        "_stopped",
        "_wakeup",
        "_wall_clock",
        "config",
        "error",
        "stats",
    )

    def __init__(
        self,
        participant_token: str,
        *,
        client: ParticipantClient,
        connector: WebSocketConnector,
        wall_clock: WallClock,
        connect_participant: bool | None,
        history: bool,
        config: ParticipantConfig,
        rng: random.Random | None = None,
        cursor: Cursor | None = None,
        cursor_handle: CursorHandle | None = None,
    ) -> None:
        if not participant_token:
            raise InvalidParameterError("participant_token", "a non-empty string")
        self._participant_token = participant_token
        self._client = client
        self._connector = connector
        self._wall_clock = wall_clock
        self._connect_participant = connect_participant
        self._history = history
        self.config = config
        self._rng = rng or _RNG
        self.stats = ParticipantStats()
        self._init_delivery(config)
        self._init_observing()
        self._init_calls()
        self._init_connecting()
        # What to deliver of each item (duplicates, revisions) and what was acknowledged.
        self._log = ItemLog(
            config.dedupe_window,
            config.dedupe_max_ids,
            reach=max(config.gap_fill_overlap, config.renewal_fill_overlap),
            streaming=config.streaming,
        )
        self._implicit_ack = config.ack == "implicit"
        self._last_yielded: Item | None = None  # acknowledged by the next __anext__
        self._cursor_handle = cursor_handle
        self._cursor_dirty = False
        self._saving = False
        # Write-ahead: the items accepted (stats.items_delivered) when the last completed
        # save's snapshot was taken; the iterator and handlers wait here for theirs.
        self._saved_seq = 0
        self._saved_lot: trio.lowlevel.ParkingLot | None = None
        self._contact: str | None = None  # ContactId, learnt from the items (for the cursor)
        resume_from: float | None = None  # a resumed first fill starts here
        if cursor is not None:
            # Resume: skip what was acknowledged, redeliver what was not, and fill FORWARD
            # from the cursor before any live item.
            self._log = ItemLog.restore(
                cursor,
                config.dedupe_window,
                config.dedupe_max_ids,
                reach=max(config.gap_fill_overlap, config.renewal_fill_overlap),
                streaming=config.streaming,
            )
            self._contact = cursor.contact_id
            resume = self._log.resume_from
            resume_from = wall_clock() if resume is None else resume
            history = True
        # The connection core: its state machine is the participant's life; this shell
        # executes its actions (see _feed).
        self._core = Core(
            config, self.stats, self._backoff, history=history, listener=self._on_state_change
        )
        self._actions: list[Attempt | Subscribe | Close | Sleep] = [
            a for a in self._core.outbox if isinstance(a, Attempt)
        ]
        self._core.outbox = []
        self._action_scope: trio.CancelScope | None = None
        self._failure: BaseException | None = None  # the error a FAILED transition reports
        self._view: TranscriptView | None = None
        self._wakeup = Flag()
        # Gap fill (see _filler): what is owed, coalesced; the plans (sans-IO core).
        self._fills: Fills[_Gate] = Fills(
            gap_fill_overlap=config.gap_fill_overlap,
            dedupe_window=config.dedupe_window,
            clock_skew=config.clock_skew,
            resume_from=resume_from,
        )
        self._nursery: trio.Nursery | None = None
        self._conn_nursery: trio.Nursery | None = None
        self._ended = False
        #: The fatal error that disconnected the participant, if any.
        self.error: BaseException | None = None
        self._stopped = Flag()

    def __repr__(self) -> str:
        return (
            f"<Participant {self._core.state} delivered={self.stats.items_delivered} "
            f"renewals={self.stats.renewals} reconnects={self.stats.reconnects}>"
        )

    @property
    def participant_id(self) -> str | None:
        """This participant's own ParticipantId, ``None`` until known.

        The service does not return it to the participant (CreateParticipantConnection
        has no ParticipantId), so it is learnt from the first message or event this
        participant sends (:meth:`send_message`, :meth:`send_event`, :meth:`send_typing`;
        not receipts): the service echoes it back over the websocket
        ([protocol](protocol.md#the-websocket)) as
        an item with the Id of the SendMessage/SendEvent response, and that item's
        ParticipantId is ours. The echo may arrive before or after the response; both
        orders are matched. It then stays set for the participant's life.
        """
        return self._participant_id

    def _end_if_pending(self) -> None:
        if self._end_pending is not None:
            reason, self._end_pending = self._end_pending, None
            self._finish(Trigger.ENDED, reason)

    def _finish(self, trigger: Trigger, reason: str, error: BaseException | None = None) -> None:
        """Feed the core the event that ends the participant (no-op once disconnected)."""
        if error is not None:
            self._failure = error
        if trigger is Trigger.ENDED:
            self._feed(self._core.chat_ended, reason)
        elif trigger is Trigger.CLOSED:
            self._feed(self._core.close_requested, reason)
        else:
            self._feed(self._core.fatal, reason)

    # ---- the shell: feed events to the core, execute its actions -----------------------
    #
    # Every input (a result of an action, a socket's loss, the end of a fill, a close)
    # is an event of the core (participant.core.machine). The actions it emits are run
    # here: the synchronous ones at once (_run_now), the ones that await (an attempt, a
    # subscribe, a close, the renewal timer) one at a time by the supervisor task
    # (_supervise), each in its own cancel scope so that an Interrupt (a state change
    # that made it stale) cancels it.

    def _feed(self, event: Callable[..., None], *args: Any) -> None:
        event(*args)
        core = self._core
        while core.outbox:
            actions, core.outbox = core.outbox, []
            for action in actions:
                self._run_now(action)

    def _run_now(self, action: Action) -> None:
        if isinstance(action, (Attempt, Subscribe, Close, Sleep)):
            self._actions.append(action)
            self._wakeup.set()
        elif isinstance(action, Interrupt):
            self._actions.clear()
            scope, self._action_scope = self._action_scope, None
            if scope is not None:
                scope.cancel()
        elif isinstance(action, Fill):
            gate = _gate(action.sock)
            if self._fills.request(gate, history=action.history, overlap=action.overlap):
                self._start_filler()
        elif isinstance(action, OpenGate):
            _gate(action.sock).is_open = True
        elif isinstance(action, Abort):
            _gate(action.sock).sock.abort(action.reason)
        elif isinstance(action, FirstSubscription):
            # Without history, items older than this never come from gap fill.
            self._fills.first_subscription(self._wall_clock(), history=self._history)
        elif isinstance(action, DeliverChatEnded):
            self._deliver_chat_ended()
        else:
            assert isinstance(action, Stop)
            self._stop(action)

    def _stop(self, stop: Stop) -> None:
        """Disconnected: stop the connection tasks, end the iterator."""
        if stop.trigger is Trigger.ENDED:
            self._ended = True
        self.error = self._failure if stop.trigger is Trigger.FAILED else None
        if self._not_empty is not None:
            self._not_empty.unpark_all()
        if self._not_full is not None:
            self._not_full.unpark_all()
        self._wakeup.set()
        if self._conn_nursery is not None:
            self._conn_nursery.cancel_scope.cancel()

    async def _supervise(self, until: Callable[[], bool] | None = None) -> None:
        """Execute the core's awaiting actions one at a time (until ``until()`` holds)."""
        actions = self._actions
        while until is None or not until():
            if not actions:
                self._wakeup = Flag()
                await self._wakeup.wait()
                continue
            action = actions.pop(0)
            # One scope per action: an Interrupt cancels it; a Sleep is its deadline (an
            # idle participant waits here: no further frame or scope, see bench_scale).
            with trio.CancelScope() as scope:
                self._action_scope = scope
                try:
                    if isinstance(action, Attempt):
                        await self._attempt(action)
                    elif isinstance(action, Subscribe):
                        await self._subscribe(_gate(action.sock))
                    elif isinstance(action, Close):
                        await _gate(action.sock).sock.aclose()
                        if action.then is not None:
                            self._checkpoint_free_feed(action.then)
                    else:
                        self._wakeup = Flag()
                        scope.deadline = action.until
                        await self._wakeup.wait()
                finally:
                    interrupted = self._action_scope is not scope  # see Interrupt
                    self._action_scope = None
            if isinstance(action, Sleep) and not interrupted:  # the timer fired, or woken
                self._feed(self._core.tick, trio.current_time(), self._renew_reason)

    def _checkpoint_free_feed(self, event: CoreEvent) -> None:
        if self._action_scope is None:
            return  # interrupted meanwhile: the result is stale
        if event is CoreEvent.RENEWAL_DONE:
            self._feed(self._core.renewal_done, "renewal: new socket subscribed, old one closed")

    def _deliver_chat_ended(self) -> None:
        wire = {
            "Id": None,
            "AbsoluteTime": format_timestamp(self._wall_clock()),
            "Type": ChatItemType.CHAT_ENDED,
            "ContentType": ContentType.CHAT_ENDED,
            "ParticipantRole": "SYSTEM",
            "Synthetic": True,
        }
        item = parse_item({k: v for k, v in wire.items() if v is not None})
        self._offer(item, force=True)  # terminal: never waits for room
        self._end_pending = None

    # ---- life ------------------------------------------------------------------------

    async def _connect_first(self) -> None:
        """The first connection, bounded by ``config.connect_timeout``."""
        timeout = self.config.connect_timeout
        core = self._core
        with trio.move_on_after(math.inf if timeout is None else timeout) as scope:
            await self._supervise(until=lambda: core.ever_up)
        if scope.cancelled_caught:
            error = self._last_connect_error or TransportError(
                f"no connection within connect_timeout ({timeout:g} s)"
            )
            log.error(
                "no connection within connect_timeout (%g s); last error: %s",
                timeout,
                describe(error),
            )
            raise error

    def _fail(self, error: BaseException) -> None:
        """End the participant on a fatal error: ``error`` is set, the iterator and the
        :func:`connect` block raise it (the connection task re-raises it)."""
        self._finish(Trigger.FAILED, f"fatal: {describe(error)}", error)

    async def _run_connection(self, *, task_status: trio.TaskStatus[None]) -> None:
        """The connection task. Before it started, an error raises out of
        ``nursery.start`` (so out of :func:`connect`); after, a fatal error is raised in
        the program's nursery, which cancels the ``async with`` body and raises it
        there: a program that only uses handlers does not run on beside a dead
        participant."""
        started = False
        try:
            async with trio.open_nursery() as nursery:
                self._conn_nursery = nursery
                if self._core.current is State.DISCONNECTED:  # closed before it started
                    nursery.cancel_scope.cancel()
                try:
                    await self._connect_first()
                    task_status.started()
                    started = True
                    await self._supervise()
                except Exception as exc:
                    self._fail(exc)
                nursery.cancel_scope.cancel()
        except Exception as group:  # a task of the connection failed: a bug, not a loss
            single = _single(group) if isinstance(group, BaseExceptionGroup) else group
            self._fail(single if single is not None else group)
        finally:
            self._conn_nursery = None
            self._stopped.set()
        if self.error is not None:
            log.error("participant failed: %s", describe(self.error))
            raise self.error
        if not started:
            task_status.started()

    async def _start(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        await nursery.start(self._run_connection, name=_CONNECTION_TASK)

    def _enter(self) -> None:
        """Handed to the program (the last step before :func:`connect`'s block runs, with
        no schedule point after it): delivery starts; producers waiting for it go on."""
        self._entered = True
        if self._producers_waiting:
            assert self._not_full is not None
            self._not_full.unpark_all()

    async def _close(self, reason: str) -> None:
        """Close the current socket cleanly (bounded, shielded) and go to disconnected."""
        current = self._core.sock
        if current is not None and self._core.current is not State.DISCONNECTED:
            with trio.CancelScope(shield=True):
                await _gate(current).sock.aclose()
        self._finish(Trigger.CLOSED, reason)

    async def disconnect(self) -> None:
        """DisconnectParticipant, then close: the state becomes ``disconnected`` and the
        connection tasks are gone when this returns."""
        token = self._token()
        try:
            await self._client.disconnect_participant(token)
        finally:
            await self._close("closed: DisconnectParticipant")
            await self.wait_stopped()

    async def wait_stopped(self) -> None:
        """Wait until the participant is disconnected and its connection tasks (sockets,
        supervisor) have exited. Handler tasks may still be finishing."""
        await self._stopped.wait()


def _single(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            leaves.append(exc)

    walk(group)
    return leaves[0] if len(leaves) == 1 else None


@asynccontextmanager
async def connect(
    participant_token: str,
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    use_fips_endpoint: bool | None = None,
    use_dualstack_endpoint: bool | None = None,
    client: ParticipantClient | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
    websocket_connector: WebSocketConnector | None = None,
    wall_clock: WallClock | None = None,
    connect_participant: bool | None = None,
    history: bool = False,
    config: ParticipantConfig = DEFAULT_CONFIG,
    rng: random.Random | None = None,
    on_state_change: Callable[[StateChange], None] | None = None,
    cursor: CursorHandle | None = None,
) -> AsyncIterator[Participant]:
    """Connect a participant and yield it once its websocket is subscribed.

    Args:
        participant_token: from StartChatContact (secret; never logged).
        region: AWS region of the service endpoint, for the :class:`ParticipantClient`
            built when ``client`` is not given (that one is closed on exit; a given one
            is not).
        endpoint_url: base URL of the service (e.g. an emulator), for that client.
        use_fips_endpoint, use_dualstack_endpoint: the region's FIPS and/or dual-stack
            (IPv6) endpoint, for that client (:class:`ParticipantClient`'s arguments of
            the same names; ``None``: from ``AWS_USE_FIPS_ENDPOINT`` /
            ``AWS_USE_DUALSTACK_ENDPOINT``). Not with ``client`` (set them on it) nor
            with a custom ``endpoint_url``.
        client: a :class:`ParticipantClient` to use (shared by many participants).
        http_transport: an ``httpx`` transport for the built client (e.g. in memory).
        websocket_connector: opens websockets (default: TCP/TLS via trio-websocket).
        wall_clock: epoch seconds now (default ``time.time``); it turns ConnectionExpiry
            and Expiry into deadlines. Under MockClock use :func:`participant._time.trio_clock`.
        connect_participant: ConnectParticipant of CreateParticipantConnection. ``None``
            (default): True on the first call (the customer side of a streaming chat and
            agents using this API need it; it replaces connection.acknowledged), omitted
            on renewals. ``True``/``False``: sent on every call.
        history: start with the chat's transcript (paged GetTranscript), then continue
            live without a seam.
        config: :class:`ParticipantConfig`.
        rng: the random source of the backoff jitter (default: a module-level
            ``random.Random``); pass a seeded one for reproducible delays in tests.
        on_state_change: called with every :class:`StateChange` from the very first
            one (token -> connected -> subscribed happen before ``connect`` yields), as
            :meth:`Participant.on_state_change` registers it.
        cursor: a :class:`~participant.cursor.CursorHandle` to resume from: its cursor is
            loaded first; if there is one the participant fills FORWARD from it before
            any live item, delivers every later item once and marks ``redelivered`` the
            items delivered but not acknowledged before. The cursor is saved after
            acknowledgements, before an item is handed to the program (write-ahead:
            an item handled just before a crash comes again marked ``redelivered``;
            coalesced, one save in flight) and on exit (docs/concepts.md).

    Raises:
        InvalidParameterError: ``use_fips_endpoint`` / ``use_dualstack_endpoint`` given
            with ``client`` or with a custom endpoint; a bad ``region`` or
            ``endpoint_url`` (:class:`ParticipantClient`).
        AccessDeniedException: the ParticipantToken is not valid (bad, or the chat over).
        ServiceError, TransportError: a non-retryable error on the first connection, or
            the last transient one when no connection succeeded within
            ``config.connect_timeout`` seconds (e.g. TransportError for a refused or
            unreachable endpoint, ThrottlingException).
    """
    owned = client is None
    if client is None:
        client = ParticipantClient(
            region=region,
            endpoint_url=endpoint_url,
            use_fips_endpoint=use_fips_endpoint,
            use_dualstack_endpoint=use_dualstack_endpoint,
            transport=http_transport,
        )
    else:
        for name, value in (
            ("use_fips_endpoint", use_fips_endpoint),
            ("use_dualstack_endpoint", use_dualstack_endpoint),
        ):
            if value is not None:
                raise InvalidParameterError(name, "None with client (set it on the client)")
    saved = None if cursor is None else await cursor.load()
    participant = Participant(
        participant_token,
        cursor=saved,
        cursor_handle=cursor,
        client=client,
        connector=websocket_connector or default_connector,
        wall_clock=wall_clock or system_clock,
        connect_participant=connect_participant,
        history=history,
        config=config,
        rng=rng,
    )
    if on_state_change is not None:
        participant.on_state_change(on_state_change)
    # The body's exception is caught inside the nursery and re-raised after it, so it
    # leaves unchanged (never wrapped in the nursery's group, context intact); a fatal
    # error of the participant cancels the body and comes out of the nursery instead.
    body_error: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            await participant._start(nursery)
            try:
                participant._enter()
                yield participant
            except BaseException as exc:
                body_error = exc
            finally:
                await participant._close("closed by the program")
                await participant._flush_cursor(acknowledge_last=body_error is None)
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        fatal = participant.error
        if fatal is None or _single(group) is not fatal:
            raise
        error: BaseException = fatal
    else:
        if body_error is None:
            return
        error = body_error
    finally:
        participant._finish(Trigger.CLOSED, "closed by the program")
        if owned:
            with trio.CancelScope(shield=True):
                await client.aclose()
    raise error
