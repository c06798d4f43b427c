"""The participant actor: one chat participant as a trio actor (issue 4).

``async with connect(participant_token, ...) as participant:`` yields a :class:`Participant`
once its websocket is subscribed. The participant's life is the state machine of the
sans-IO core (:mod:`participant.core.machine`; public names in :mod:`participant.machine`).
This module is the shell around it: :class:`Participant` feeds the core its events,
executes the actions it emits and runs the connection task (first connection, supervisor,
close and stop). The rest of the actor is private, one job a module: :func:`connect` and
its exception passing (``participant._session``) and the participant's slotted bases:
connection attempts (``_connecting``), gap fill (``_fill_io``), the iterator and its buffer
(``_delivery_io``), observation and handlers (``_observe``), acknowledgement and the cursor
(``_cursor_io``), the REST methods (``_calls``); settings and counters are in
:mod:`participant.config`.

The guarantees and policies (renewal make-before-break, reconnection and backoff, gap fill
and exactly-once delivery, a slow consumer, the first connection, the own ParticipantId,
handlers, how failures surface) are described, with their timelines and settings, in
[concepts](concepts.md#state-machine).
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from typing import Any, Final

import trio

from participant._calls import describe
from participant._connecting import Connecting
from participant._delivery_io import _Gate
from participant._observe import ItemHandler
from participant._session import DEFAULT_CONFIG, connect, single_leaf
from participant._time import WallClock, format_timestamp
from participant.api import ParticipantClient
from participant.config import ParticipantConfig, ParticipantStats
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
from participant.errors import InvalidParameterError, TransportError
from participant.machine import State, Trigger
from participant.model import ChatItemType, ContentType, parse_item
from participant.socket import Flag, WebSocketConnector

__all__ = [
    "DEFAULT_CONFIG",
    "ItemHandler",
    "Participant",
    "ParticipantConfig",
    "ParticipantStats",
    "connect",
]

log = logging.getLogger("participant.actor")

_RNG: Final = random.Random()

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
        # What to deliver of each item (duplicates, revisions) and what was acknowledged;
        # from a cursor: skip what it acknowledged, redeliver what it did not.
        settings = (
            config.dedupe_window,
            config.dedupe_max_ids,
            max(config.gap_fill_overlap, config.renewal_fill_overlap),
            config.streaming,
        )
        self._log = ItemLog(*settings) if cursor is None else ItemLog.restore(cursor, *settings)
        self._implicit_ack = config.ack == "implicit"
        self._init_cursor(cursor_handle, None if cursor is None else cursor.contact_id)
        resume_from: float | None = None  # a resumed first fill starts here
        if cursor is not None:  # fill FORWARD from the cursor before any live item
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
        self._wakeup = Flag()
        self._init_filling(config, resume_from)
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
                        # Unless interrupted meanwhile (then the result is stale).
                        if action.then is CoreEvent.RENEWAL_DONE and self._action_scope is scope:
                            reason = "renewal: new socket subscribed, old one closed"
                            self._feed(self._core.renewal_done, reason)
                    else:
                        self._wakeup = Flag()
                        scope.deadline = action.until
                        await self._wakeup.wait()
                finally:
                    interrupted = self._action_scope is not scope  # see Interrupt
                    self._action_scope = None
            if isinstance(action, Sleep) and not interrupted:  # the timer fired, or woken
                self._feed(self._core.tick, trio.current_time(), self._renew_reason)

    def _deliver_chat_ended(self) -> None:
        item = parse_item(
            {
                "AbsoluteTime": format_timestamp(self._wall_clock()),
                "Type": ChatItemType.CHAT_ENDED,
                "ContentType": ContentType.CHAT_ENDED,
                "ParticipantRole": "SYSTEM",
                "Synthetic": True,
            }
        )
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
            single = single_leaf(group) if isinstance(group, BaseExceptionGroup) else group
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
        self._wake_producers()

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
