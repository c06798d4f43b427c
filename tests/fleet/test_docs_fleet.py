"""docs/fleet.md's Python runs as printed (the region swapped for the loopback emulator)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import trio

from participant.emulator import EmulatorServer
from participant.fleet import Fleet, FleetEvent

from .conftest import new_chat

DOC = Path(__file__).resolve().parents[2] / "docs" / "fleet.md"


async def test_fleet_page_snippet_serves_a_chat(
    emulator_server: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [code] = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert '{"region": "eu-west-2"}' in code
    code = code.replace('{"region": "eu-west-2"}',
                        f'{{"endpoint_url": "{emulator_server.endpoint_url}"}}')
    # learn when the snippet's worker has the chat subscribed (its Fleet gets an on_event)
    connected = trio.Event()
    original = Fleet.__init__

    def init(self: Fleet, *args: Any, **kwargs: Any) -> None:
        def on_event(event: FleetEvent) -> None:
            if event.kind == "connected":
                connected.set()

        kwargs.setdefault("on_event", on_event)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Fleet, "__init__", init)
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/fleet.md", "exec"), namespace)
    emu = emulator_server.emulator
    emu.faults.set_rate_limits(False)
    chat = await new_chat(emu)
    store_url = f"sqlite://{tmp_path / 'fleet.db'}"
    await namespace["webhook"](store_url, chat.bot.participant_token, chat.contact_id)
    with trio.fail_after(30):
        async with emu.item_stream() as items, trio.open_nursery() as nursery:
            nursery.start_soon(namespace["worker"], store_url)
            await connected.wait()
            await emu.send_message_as(chat.contact_id, chat.started.participant_id,
                                      content="hello")
            async for _, item in items:
                if item.get("Content") == "You said: hello":
                    break
            nursery.cancel_scope.cancel()
