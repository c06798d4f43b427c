"""The handler the subprocess tests run (``participant fleet run --handler
tests/fleet/crash_bot.py:handle``): it appends one JSON line per customer text it is handed
to ``$FLEET_TEST_LOG`` (pid, key, item Id, redelivered) before replying "echo: <text>"."""

from __future__ import annotations

import json
import os

from participant.fleet import FleetChat
from participant.model import Item, TextMessage


async def handle(chat: FleetChat, item: Item) -> None:
    if not (isinstance(item, TextMessage) and item.participant_role == "CUSTOMER"):
        return
    record = {
        "pid": os.getpid(), "key": chat.key, "id": item.id, "content": item.content,
        "redelivered": bool(getattr(item, "redelivered", False)),
    }
    fd = os.open(os.environ["FLEET_TEST_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(record) + "\n").encode())
    finally:
        os.close(fd)
    await chat.send_message(f"echo: {item.content}")
