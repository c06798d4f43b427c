"""An undecodable ``aws/chat`` frame is logged and skipped, and the item it carried is not
lost: the socket reports it and the actor fills the gap from the transcript (issue 11)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
import trio.testing
import trio_websocket

from participant.model import TextMessage

from .conftest import Rig


class CorruptingConnection:
    """Wraps the client side of a websocket: the first ``aws/chat`` frame whose content
    mentions ``marker`` arrives with its ``content`` cut (not JSON any more)."""

    def __init__(self, ws: trio_websocket.WebSocketConnection, marker: str, how: str) -> None:
        self._ws = ws
        self._marker = marker
        self._how = how
        self.corrupted = 0

    async def get_message(self) -> str | bytes:
        message: str | bytes = await self._ws.get_message()
        if self.corrupted or not isinstance(message, str) or self._marker not in message:
            return message
        frame = json.loads(message)
        if frame.get("topic") != "aws/chat":
            return message
        self.corrupted += 1
        if self._how == "json":
            frame["content"] = frame["content"][: len(frame["content"]) // 2]
        else:  # valid JSON, but not an item (a list where an object is needed)
            frame["content"] = json.dumps([json.loads(frame["content"])])
        return json.dumps(frame)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ws, name)


@pytest.mark.parametrize("how", ["json", "item"])
async def test_an_undecodable_chat_frame_is_recovered_from_the_transcript(
    autojump_clock: trio.testing.MockClock, rig: Rig, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    wrapped: list[CorruptingConnection] = []

    async def connector(nursery: trio.Nursery, url: str) -> Any:
        conn = CorruptingConnection(await rig.connector(nursery, url), "lost-in-transit", how)
        if not wrapped:  # only the first socket corrupts its frame
            wrapped.append(conn)
            return conn
        return conn._ws

    async with rig.connect(chat.participant_token, websocket_connector=connector) as p:
        sent = await rig.send_messages(
            chat.contact_id, agent.participant_id, ["before", "lost-in-transit", "after"]
        )
        got: list[str] = []
        with trio.move_on_after(120):
            async for item in p:
                if isinstance(item, TextMessage):
                    got.append(str(item.id))
                    if len(got) == len(sent):
                        break
        assert wrapped[0].corrupted == 1
        assert got == sent  # in order, once: the skipped item came from a gap fill
        assert p.stats.gap_fills >= 1 and p.stats.drops == 0
    warnings = [r.getMessage() for r in caplog.records if "bad frame" in r.getMessage()]
    assert warnings and not any("lost-in-transit" in w for w in warnings)
