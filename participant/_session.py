"""``connect()``: one :class:`~participant.actor.Participant` run inside the program's
``async with`` block, and the exception passing around it (the body's own exceptions
leave the block unchanged, a fatal error of the participant cancels the body and comes
out instead). Private: :func:`connect` is public as :func:`participant.actor.connect` and
:func:`participant.connect`; docs/concepts.md, "Ending".
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final

import httpx
import trio

from participant._time import WallClock, system_clock
from participant.api import ParticipantClient
from participant.config import ParticipantConfig
from participant.cursor import CursorHandle
from participant.errors import InvalidParameterError
from participant.machine import StateChange, Trigger
from participant.socket import WebSocketConnector, default_connector

if TYPE_CHECKING:
    from participant.actor import Participant

__all__ = ["DEFAULT_CONFIG", "connect", "single_leaf"]

DEFAULT_CONFIG: Final = ParticipantConfig()
"""The :class:`ParticipantConfig` :func:`connect` uses when given none."""


def single_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The one exception inside ``group`` (nested groups included), or ``None`` when it
    holds more than one."""
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
        use_fips_endpoint: the region's FIPS endpoint, for that client
            (:class:`ParticipantClient`'s argument of the same name; ``None``: from
            ``AWS_USE_FIPS_ENDPOINT``). Not with ``client`` (set it on it) nor with a
            custom ``endpoint_url``.
        use_dualstack_endpoint: the same for the dual-stack (IPv6) endpoint
            (``AWS_USE_DUALSTACK_ENDPOINT``).
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
    # participant.actor re-exports this function, so its class is imported when called.
    from participant.actor import Participant

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
        if fatal is None or single_leaf(group) is not fatal:
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
