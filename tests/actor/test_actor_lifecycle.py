"""Ending a participant: leave the block, cancel the scope, chat ended, disconnect."""

from __future__ import annotations

import httpx
import pytest
import trio
import trio.lowlevel
import trio.testing

from participant.actor import connect
from participant.errors import (
    AccessDeniedException,
    ChatEndedError,
    InvalidParameterError,
    ParticipantClosedError,
)
from participant.machine import State, Trigger
from participant.model import ChatEnded, Item, TextMessage

from .conftest import Rig

ACTOR_FILES = (
    "participant/actor.py",
    "participant/socket.py",
    "participant/_actor_support.py",
    "participant/_fill_io.py",
)


def actor_tasks() -> list[str]:
    """Names of running tasks whose coroutine lives in the actor's modules."""
    found: list[str] = []

    def walk(task: trio.lowlevel.Task) -> None:
        code = getattr(task.coro, "cr_code", None)
        if code is not None and code.co_filename.endswith(ACTOR_FILES):
            found.append(task.name)
        for nursery in task.child_nurseries:
            for child in nursery.child_tasks:
                walk(child)

    walk(trio.lowlevel.current_root_task())
    return found


async def test_leaving_the_block_stops_every_task(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    async with rig.connect(chat.participant_token) as p:
        assert actor_tasks()
        assert rig.emu.open_sockets(chat.participant_id) == 1
    assert p.state is State.DISCONNECTED
    assert actor_tasks() == []
    assert rig.emu.open_sockets(chat.participant_id) == 0
    with pytest.raises(ParticipantClosedError):
        await p.send_message("too late")


async def test_an_exception_in_the_block_propagates_unwrapped(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    with pytest.raises(KeyError, match="boom"):
        async with rig.connect(chat.participant_token) as p:
            raise KeyError("boom")
    assert p.state is State.DISCONNECTED
    assert actor_tasks() == []


async def test_cancelling_the_surrounding_scope_stops_every_task(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    seen: list[Item] = []
    with trio.CancelScope() as scope:
        async with rig.connect(chat.participant_token) as p:
            await rig.emu.send_message_as(chat.contact_id, agent.participant_id, content="x")
            async for item in p:
                seen.append(item)
                if isinstance(item, TextMessage):
                    scope.cancel()
    assert scope.cancelled_caught
    assert any(isinstance(i, TextMessage) for i in seen)
    assert p.state is State.DISCONNECTED
    assert actor_tasks() == []
    assert rig.emu.open_sockets(chat.participant_id) == 0


async def test_chat_ended_by_the_other_side(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    async with rig.connect(chat.participant_token) as p:
        await rig.emu.send_message_as(chat.contact_id, agent.participant_id, content="bye")
        await rig.emu.end_chat(chat.contact_id)
        items = [item async for item in p]  # the iterator ends with the chat
        assert isinstance(items[-1], ChatEnded)
        assert [i.content for i in items if isinstance(i, TextMessage)] == ["bye"]
        assert p.state is State.DISCONNECTED
        assert actor_tasks() == []  # still inside the block: nothing left running
        with pytest.raises(ChatEndedError):
            await p.send_message("hello?")
    assert p.state is State.DISCONNECTED


async def test_access_denied_while_reconnecting_means_chat_ended(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    async with rig.connect(chat.participant_token) as p:
        changes = p.state_changes()
        # The socket is cut (no close frame, no chat.ended frame reaches us), then the
        # chat ends: the reconnect's CreateParticipantConnection gets AccessDenied.
        rig.emu.faults.drop_sockets(chat.participant_id, close_frame=False)
        rig.emu.service.end_chat(chat.contact_id)
        items = [item async for item in p]
        assert isinstance(items[-1], ChatEnded)
        triggers = [c.trigger async for c in changes]
        assert triggers[-1] is Trigger.ENDED
        assert p.state is State.DISCONNECTED
        assert actor_tasks() == []


async def test_disconnect_leaves_the_chat(autojump_clock: trio.testing.MockClock, rig: Rig) -> None:
    chat = await rig.emu.start_chat()
    await rig.emu.add_participant(chat.contact_id)
    async with rig.connect(chat.participant_token) as p:
        await p.disconnect()
        assert p.state is State.DISCONNECTED
        assert actor_tasks() == []
        rest = [i async for i in p]  # the iterator ends (items before the close, if any)
        assert all(isinstance(i, Item) for i in rest)
    assert rig.emu.service.participant(chat.participant_id).left


async def test_a_bad_participant_token_raises_access_denied(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    with pytest.raises(AccessDeniedException):
        async with rig.connect("not-a-token"):
            pass  # pragma: no cover
    assert actor_tasks() == []


async def test_on_state_change_given_to_connect_sees_every_change_from_the_first(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    chat = await rig.emu.start_chat()
    seen: list[tuple[State, State, Trigger]] = []
    async with rig.connect(
        chat.participant_token, on_state_change=lambda c: seen.append((c.old, c.new, c.trigger))
    ) as p:
        assert seen == [
            (State.TOKEN, State.CONNECTED, Trigger.OPENED),
            (State.CONNECTED, State.SUBSCRIBED, Trigger.ACKNOWLEDGED),
        ]
    assert p.state is State.DISCONNECTED
    assert seen[-1] == (State.SUBSCRIBED, State.DISCONNECTED, Trigger.CLOSED)


@pytest.mark.parametrize(
    ("fips", "dualstack", "host"),
    [
        (True, None, "participant.connect-fips.us-east-1.amazonaws.com"),
        (None, True, "participant.connect.us-east-1.api.aws"),
        (False, False, "participant.connect.us-east-1.amazonaws.com"),
    ],
)
async def test_connect_passes_the_fips_and_dualstack_choice_to_its_client(
    fips: bool | None, dualstack: bool | None, host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CONNECTPARTICIPANT",
                 "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    hosts: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return httpx.Response(
            403, headers={"x-amzn-ErrorType": "AccessDeniedException"}, json={"message": "no"}
        )

    with pytest.raises(AccessDeniedException):
        async with connect(
            "a-participant-token",
            region="us-east-1",
            use_fips_endpoint=fips,
            use_dualstack_endpoint=dualstack,
            http_transport=httpx.MockTransport(answer),
        ):
            pass  # pragma: no cover
    assert hosts == [host]


async def test_fips_with_a_given_client_is_refused(rig: Rig) -> None:
    with pytest.raises(InvalidParameterError, match="use_fips_endpoint"):
        async with connect("a-participant-token", client=rig.client, use_fips_endpoint=True):
            pass  # pragma: no cover
