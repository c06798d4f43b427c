"""Failures surface (issue 11, points 3, 4, 6, 7, 8, 9 and the backoff reset): each test
runs over the in-memory emulator under MockClock; an ``httpx`` transport in front of the
emulator's answers the chosen operation badly (an HTML 200 from a captive portal, a 500,
a NextToken that cycles, a ValidationException)."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import trio
import trio.testing

from participant import errors
from participant._time import trio_clock
from participant.actor import ParticipantConfig
from participant.api import ParticipantClient, RetryPolicy
from participant.emulator import Emulator, EmulatorConfig
from participant.errors import ServiceError, ValidationException
from participant.machine import State, StateChange
from participant.model import TextMessage

from .conftest import Rig, take_texts
from .test_actor_delivery import until

Answer = Callable[[httpx.Request], "httpx.Response | None"]


class Intercept(httpx.AsyncBaseTransport):
    """The emulator's transport, with ``answers[path]`` answering first when it returns a
    response (``None``: pass the request on)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.answers: dict[str, Answer] = {}
        self.calls: dict[str, int] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls[path] = self.calls.get(path, 0) + 1
        answer = self.answers.get(path)
        if answer is not None:
            response = answer(request)
            if response is not None:
                return response
        return await self.inner.handle_async_request(request)


TRANSCRIPT = "/participant/transcript"
CONNECTION = "/participant/connection"


def html_200(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, text="<html>Sign in to the hotel Wi-Fi</html>")


def status_500(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        500, headers={"x-amzn-ErrorType": "InternalServerException"}, json={"message": "oops"}
    )


@asynccontextmanager
async def intercepted_rig(
    cfg: EmulatorConfig | None = None,
) -> AsyncIterator[tuple[Rig, Intercept]]:
    emu = Emulator(cfg or EmulatorConfig(rate_limits=False), wall_clock=trio_clock())
    async with emu.run():
        transport = Intercept(emu.http_transport())
        client = ParticipantClient(
            endpoint_url=emu.endpoint_url,
            transport=transport,
            retry=RetryPolicy(max_attempts=2, base_delay=0.2, max_delay=1.0),
        )
        async with client:
            yield Rig(emu, client), transport


async def drop_and_send(rig: Rig, chat: Any, agent: Any, texts: list[str]) -> list[str]:
    """Cut the participant's sockets, then send ``texts`` (only the transcript has them)."""
    rig.emu.faults.drop_sockets(chat.participant_id, close_frame=False)
    return await rig.send_messages(chat.contact_id, agent.participant_id, texts)


# ---- 3: a gap fill that fails ---------------------------------------------------------


async def test_a_gap_fill_that_cannot_finish_reconnects_then_ends_with_the_error(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with intercepted_rig() as (rig, transport):
        chat = await rig.emu.start_chat()
        agent = await rig.emu.add_participant(chat.contact_id)
        changes: list[StateChange] = []
        with trio.fail_after(600), pytest.raises(errors.HTTPStatusError) as raised:
            async with rig.connect(chat.participant_token, on_state_change=changes.append) as p:
                transport.answers[TRANSCRIPT] = html_200  # a captive portal from now on
                await drop_and_send(rig, chat, agent, ["during the outage"])
                with pytest.raises(errors.HTTPStatusError) as from_iterator:
                    async for _item in p:
                        pass
        assert raised.value is from_iterator.value is p.error
        assert raised.value.status_code == 200
        assert p.state is State.DISCONNECTED
        assert changes[-1].trigger == "failed"
        # The fill failed once, the participant reconnected and tried again, then ended.
        assert p.stats.reconnects == 2
        assert transport.calls[TRANSCRIPT] == 2  # non-retryable: no blind retries


async def test_a_gap_fill_that_fails_once_is_tried_again_after_a_reconnect(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with intercepted_rig() as (rig, transport):
        chat = await rig.emu.start_chat()
        agent = await rig.emu.add_participant(chat.contact_id)
        with trio.fail_after(600):
            async with rig.connect(chat.participant_token) as p:
                failures = [1]

                def once(request: httpx.Request) -> httpx.Response | None:
                    if failures:
                        failures.pop()
                        return html_200(request)
                    return None

                transport.answers[TRANSCRIPT] = once
                sent = await drop_and_send(rig, chat, agent, ["a", "b", "c"])
                got = [m.id for m in await take_texts(p, 3)]
                assert got == sent
                assert p.error is None and p.stats.reconnects == 2


async def test_an_expired_connection_token_during_a_gap_fill_does_not_end_the_chat(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """AccessDenied on GetTranscript means the ConnectionToken no longer works, not that
    the chat is over (only CreateParticipantConnection says that): the participant gets a
    new connection (a new ConnectionToken) and fills again; nothing is lost."""
    async with intercepted_rig() as (rig, transport):
        chat = await rig.emu.start_chat()
        agent = await rig.emu.add_participant(chat.contact_id)
        with trio.fail_after(600):
            async with rig.connect(chat.participant_token) as p:
                denied = [1]

                def expired_once(request: httpx.Request) -> httpx.Response | None:
                    if denied:  # the ConnectionToken ran out between the two calls
                        denied.pop()
                        return httpx.Response(
                            403,
                            headers={"x-amzn-ErrorType": "AccessDeniedException"},
                            json={"message": "expired"},
                        )
                    return None

                transport.answers[TRANSCRIPT] = expired_once
                sent = await drop_and_send(rig, chat, agent, ["a", "b", "c"])
                got = [m.id for m in await take_texts(p, 3)]
                assert got == sent
                assert p.state is State.SUBSCRIBED and p.error is None


async def test_transient_gap_fill_errors_are_retried_with_capped_backoff(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with intercepted_rig() as (rig, transport):
        chat = await rig.emu.start_chat()
        agent = await rig.emu.add_participant(chat.contact_id)
        config = ParticipantConfig(fill_max_attempts=4)
        with trio.fail_after(600), pytest.raises(ServiceError) as raised:
            async with rig.connect(chat.participant_token, config=config) as p:
                transport.answers[TRANSCRIPT] = status_500
                await drop_and_send(rig, chat, agent, ["x"])
                async for _item in p:
                    pass
        assert raised.value.code == "InternalServerException"
        # 4 attempts (2 HTTP requests each: the client's own retry) per fill, 2 fills.
        assert transport.calls[TRANSCRIPT] == 2 * 4 * 2


# ---- 4: the watchdog runs while a fill retries ------------------------------------------


async def test_the_heartbeat_watchdog_runs_while_a_gap_fill_retries(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with intercepted_rig() as (rig, transport):
        chat = await rig.emu.start_chat()
        agent = await rig.emu.add_participant(chat.contact_id)
        changes: list[StateChange] = []
        config = ParticipantConfig(fill_max_attempts=1000)  # the fill retries for ages
        with trio.fail_after(300):
            async with rig.connect(
                chat.participant_token, config=config, on_state_change=changes.append
            ) as p:
                transport.answers[TRANSCRIPT] = status_500
                await drop_and_send(rig, chat, agent, ["gap"])
                await until(p, lambda: p.state is State.SUBSCRIBED and p.stats.reconnects == 1)
                # A live item arrives while the fill retries; then the socket goes dead.
                await rig.send_messages(chat.contact_id, agent.participant_id, ["live"])
                rig.emu.faults.stop_heartbeats(chat.participant_id)
                stopped = trio.current_time()
                await until(p, lambda: any("heartbeat" in c.reason for c in changes))
                assert trio.current_time() - stopped <= 2 * config.socket.heartbeat_interval + 1
                assert p.stats.drops == 2


# ---- 6: bounded paging ------------------------------------------------------------------


def endless_pages(cycle: bool) -> Answer:
    count = [0]

    def answer(_request: httpx.Request) -> httpx.Response:
        count[0] += 1
        if count[0] > 2000:  # a guard for the old code: end the test, not the machine
            return html_200(_request)
        token = "AAAA" if cycle and count[0] % 2 else ("BBBB" if cycle else f"T{count[0]}")
        return httpx.Response(200, json={"Transcript": [], "NextToken": token})

    return answer


@pytest.mark.parametrize("cycle", [True, False], ids=["cycling-token", "endless-tokens"])
async def test_paging_is_bounded(autojump_clock: trio.testing.MockClock, cycle: bool) -> None:
    async with intercepted_rig() as (rig, transport):
        chat = await rig.emu.start_chat()
        agent = await rig.emu.add_participant(chat.contact_id)
        config = ParticipantConfig(transcript_max_pages=50)
        with trio.fail_after(600), pytest.raises(errors.TranscriptPagingError):
            async with rig.connect(chat.participant_token, config=config) as p:
                transport.answers[TRANSCRIPT] = endless_pages(cycle)
                await drop_and_send(rig, chat, agent, ["x"])
                async for _item in p:
                    pass
        assert transport.calls[TRANSCRIPT] <= 2 * 51


# ---- 7: handlers on a bounded pool --------------------------------------------------------


async def test_handlers_run_on_a_bounded_pool_and_miss_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with intercepted_rig() as (rig, _transport):
        chat = await rig.emu.start_chat()
        agent = await rig.emu.add_participant(chat.contact_id)
        config = ParticipantConfig(iterate=False)
        running = peak = 0
        seen: list[str] = []
        all_seen = trio.Event()
        async with rig.connect(chat.participant_token, config=config) as p:

            @p.on(TextMessage)
            async def slow(item: TextMessage) -> None:
                nonlocal running, peak
                running += 1
                peak = max(peak, running)
                await trio.sleep(1)
                seen.append(str(item.id))
                running -= 1
                if len(seen) == 500:
                    all_seen.set()

            sent = await rig.send_messages(
                chat.contact_id, agent.participant_id, (f"m{n}" for n in range(500))
            )
            with trio.fail_after(3600):
                await all_seen.wait()
        assert peak <= 16  # 500 concurrent handler tasks before the pool
        assert ParticipantConfig().handler_concurrency == 16
        assert sorted(seen) == sorted(sent)


# ---- 8: the body's exceptions pass through unchanged ------------------------------------


async def test_the_bodys_exceptions_pass_through_unchanged(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    with pytest.raises(ValueError) as raised:
        async with rig.connect(chat.participant_token):
            try:
                raise KeyError("first")
            except KeyError:
                raise ValueError("second")  # noqa: B904 - the implicit context is the point
    assert isinstance(raised.value.__context__, KeyError)
    assert not raised.value.__suppress_context__

    mine = ExceptionGroup("mine", [ValueError("only leaf")])
    with pytest.raises(ExceptionGroup) as group:
        async with rig.connect(chat.participant_token):
            raise mine
    assert group.value is mine

    caught = []
    try:
        async with rig.connect(chat.participant_token):
            raise ExceptionGroup("two", [KeyError("k"), ValueError("v")])
    except* KeyError as keys:
        caught.append(keys)
    except* ValueError as values:
        caught.append(values)
    assert len(caught) == 2


# ---- 9: a fatal error after start raises out of connect() --------------------------------


async def test_a_fatal_error_after_start_raises_out_of_a_handler_only_program(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with intercepted_rig() as (rig, transport):
        chat = await rig.emu.start_chat()
        config = ParticipantConfig(iterate=False)
        with trio.fail_after(600), pytest.raises(ValidationException):
            async with rig.connect(chat.participant_token, config=config) as p:
                p.on(TextMessage)(lambda item: None)
                transport.answers[CONNECTION] = lambda _r: httpx.Response(
                    400,
                    headers={"x-amzn-ErrorType": "ValidationException"},
                    content=json.dumps({"message": "bad"}).encode(),
                )
                rig.emu.faults.drop_sockets(chat.participant_id, close_frame=False)
                await trio.sleep_forever()
        assert p.state is State.DISCONNECTED and isinstance(p.error, ValidationException)


# ---- backoff resets only after a connection stayed up --------------------------------


async def test_backoff_grows_when_each_new_connection_drops_at_once(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    delays: list[float] = []
    config = ParticipantConfig(backoff_initial=1.0, backoff_max=30.0)

    def watch(change: StateChange) -> None:
        if change.delay is not None:
            delays.append(change.delay)
        if change.trigger == "acknowledged" and len(delays) < 5:
            rig.emu.faults.drop_sockets(chat.participant_id, close_frame=False)

    with trio.fail_after(600):
        async with rig.connect(chat.participant_token, config=config) as p:
            p.on_state_change(watch)
            rig.emu.faults.drop_sockets(chat.participant_id, close_frame=False)
            await until(p, lambda: len(delays) >= 5 and p.state is State.SUBSCRIBED)
    # Delay n is drawn from [d/2, d], d = 2**n: the fifth is at least 8 s.
    assert delays[4] >= 8.0
    assert all(b > a / 2 for a, b in itertools.pairwise(delays))


# ---- only a modelled AccessDeniedException ends the chat ---------------------------------


async def test_a_bare_403_on_reconnect_is_a_transport_error_not_the_end_of_the_chat(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with intercepted_rig() as (rig, transport):
        chat = await rig.emu.start_chat()
        agent = await rig.emu.add_participant(chat.contact_id)
        with trio.fail_after(600):
            async with rig.connect(chat.participant_token) as p:
                firewall = [1]

                def page_403(_request: httpx.Request) -> httpx.Response | None:
                    if firewall:
                        firewall.pop()
                        return httpx.Response(403, text="<html>Blocked by policy</html>")
                    return None

                transport.answers[CONNECTION] = page_403
                sent = await drop_and_send(rig, chat, agent, ["still here"])
                got = await take_texts(p, 1)  # no ChatEnded: the chat goes on
                assert [m.id for m in got] == sent
                assert p.state is State.SUBSCRIBED and p.stats.failed_attempts >= 1
