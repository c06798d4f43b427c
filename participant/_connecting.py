"""Connection attempts of a :class:`~participant.actor.Participant`: the execution of the
core's ``Attempt`` and ``Subscribe`` actions (CreateParticipantConnection, the renewal
plan of its answer, the websocket opened within the URL's window, the ``aws/chat``
subscription) with each outcome fed back to the core, as a slotted base of the actor.
Private: documented on :class:`~participant.actor.Participant` and in docs/concepts.md,
"State machine".
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Final

import httpx
import trio

from participant._calls import _Credentials, describe
from participant._delivery_io import _Gate, epoch
from participant._fill_io import Filling
from participant.core.machine import Attempt
from participant.core.plan import RenewalPlan, renewal_plan
from participant.errors import (
    AccessDeniedException,
    CertificateError,
    ServiceError,
    TransportError,
)
from participant.model import CreateParticipantConnectionResponse
from participant.socket import ChatSocket, SocketOpenError, WebSocketConnector, serve_socket

__all__ = ["Connecting"]

log = logging.getLogger("participant.actor")

_SOCKET_TASK: Final = "participant.socket.serve_socket"
"""The socket task's name given to trio (else it formats one string per task spawned)."""


def _is_transient(exc: BaseException) -> bool:
    """Worth another connection attempt: a retryable service error, or any transport
    failure (a network error, or an answer that did not come from the service such as
    a firewall's bare 403 or a captive portal: it may clear up) except a certificate
    that fails verification (retrying cannot fix it)."""
    if isinstance(exc, CertificateError):
        return False
    if isinstance(exc, ServiceError):
        return exc.retryable
    return isinstance(exc, (TransportError, httpx.TransportError, OSError))


class Connecting(Filling):
    """Connection attempts (a base of :class:`~participant.actor.Participant`, on top of
    :class:`Filling`: one slotted layout)."""

    __slots__ = (
        "_connected_once",
        "_credentials",
        "_last_connect_error",
        "_renew_reason",
        "_sockets_opened",
    )

    _connected_once: bool  # a CreateParticipantConnection succeeded once
    _last_connect_error: BaseException | None  # raised if the first connection times out
    _renew_reason: str  # why the current renewal timer fires (the plan's reason)
    _sockets_opened: int  # names the socket tasks ws1, ws2, ...
    _connect_participant: bool | None
    _connector: WebSocketConnector
    _participant_token: str

    def _init_connecting(self) -> None:
        """No connection yet."""
        self._connected_once = False
        self._credentials = None
        self._last_connect_error = None
        self._renew_reason = ""
        self._sockets_opened = 0

    async def _attempt(self, action: Attempt) -> None:
        """CreateParticipantConnection and open the websocket; feed the outcome."""
        if action.delay > 0:
            await trio.sleep(action.delay)
        gate = _Gate(self, is_open=not action.gate)
        try:
            response, at = await self._create_connection()
            gate.sock = await self._open(response, at, gate)
        except Exception as exc:
            if isinstance(exc, AccessDeniedException):  # modelled: bad token / chat over
                self._failure = exc
                self._feed(
                    self._core.access_denied,
                    "end: AccessDeniedException on CreateParticipantConnection",
                )
                return
            if not _is_transient(exc):
                raise
            self._last_connect_error = exc
            self.stats.failed_attempts += 1
            log.warning("connection attempt failed: %s", describe(exc))
            self._feed(self._core.attempt_failed, f"connect failed: {describe(exc)}")
            return
        plan = self._adopt(response, at)
        self._feed(self._core.socket_opened, gate, plan.renew_at, plan.for_token, "websocket open")

    async def _subscribe(self, gate: _Gate) -> None:
        sock = gate.sock
        try:
            await sock.subscribe()
        except TransportError as exc:
            self._last_connect_error = exc
            await sock.aclose()
            self.stats.failed_attempts += 1
            log.warning("subscribe failed: %s", exc)
            self._feed(self._core.attempt_failed, f"subscribe failed: {exc}")
            return
        self._feed(self._core.subscribed, gate, trio.current_time(), "subscribed to aws/chat")
        if sock.lost.is_set():  # lost before it became current
            self._on_socket_lost(gate, sock)

    def _on_socket_lost(self, gate: _Gate, sock: ChatSocket) -> None:
        self._feed(self._core.socket_lost, gate, trio.current_time(), f"drop: {sock.lost_reason}")

    async def _create_connection(self) -> tuple[CreateParticipantConnectionResponse, float]:
        connect_participant = self._connect_participant
        if connect_participant is None and not self._connected_once:
            connect_participant = True
        response = await self._client.create_participant_connection(
            self._participant_token, connect_participant=connect_participant
        )
        self._connected_once = True
        return response, trio.current_time()

    def _adopt(self, response: CreateParticipantConnectionResponse, at: float) -> RenewalPlan:
        ws = response.websocket
        creds = response.connection_credentials
        assert ws is not None and creds is not None and creds.connection_token is not None
        c = self.config
        plan = renewal_plan(
            at=at,
            wall=self._wall_clock(),
            connection_expiry=epoch(ws.connection_expiry),
            token_expiry=epoch(creds.expiry),
            margin=c.renewal_margin,
            fraction=c.renewal_fraction,
        )
        self._credentials = _Credentials(
            creds.connection_token, plan.connection_expiry, plan.token_expiry
        )
        self._renew_reason = plan.reason
        return plan

    async def _open(
        self, response: CreateParticipantConnectionResponse, at: float, gate: _Gate
    ) -> ChatSocket:
        ws = response.websocket
        creds = response.connection_credentials
        if ws is None or not ws.url or creds is None or not creds.connection_token:
            raise TransportError("CreateParticipantConnection returned no Websocket URL or token")
        nursery = self._conn_nursery
        assert nursery is not None
        self._sockets_opened += 1
        with trio.move_on_at(at + self.config.url_window) as window:
            sock: ChatSocket = await nursery.start(
                partial(
                    serve_socket,
                    ws.url,
                    connector=self._connector,
                    on_item=gate,
                    on_lost=gate.lost,
                    on_idle=self._waker,
                    config=self.config.socket,
                    name=f"ws{self._sockets_opened}",
                ),
                name=_SOCKET_TASK,
            )
        if window.cancelled_caught:
            raise SocketOpenError("websocket URL not opened within its window; not used")
        return sock
