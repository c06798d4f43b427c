"""``send_receipt_nowait``: a receipt handed to the coalescer without waiting; what cannot
be sent is counted and logged, never raised (issue 11)."""

from __future__ import annotations

import json
import logging

import pytest
import trio
import trio.testing

from participant.errors import InvalidParameterError

from .conftest import Rig
from .test_actor_features import record_events


async def test_send_receipt_nowait_returns_at_once_and_is_coalesced(
    autojump_clock: trio.testing.MockClock, rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = record_events(rig, monkeypatch)
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    m = await rig.send_messages(chat.contact_id, agent.participant_id, ["0", "1", "2"])
    async with rig.connect(chat.participant_token) as p:
        start = trio.current_time()
        for message_id, kind in [(m[0], "delivered"), (m[0], "read"), (m[1], "delivered"),
                                 (m[2], "delivered")]:
            assert p.send_receipt_nowait(message_id, kind) is None  # type: ignore[arg-type, func-returns-value]
        assert trio.current_time() == start  # nothing awaited
        with pytest.raises(InvalidParameterError, match="kind"):
            p.send_receipt_nowait(m[0], "seen")  # type: ignore[arg-type]
        with pytest.raises(InvalidParameterError, match="message_id"):
            p.send_receipt_nowait("")
        await trio.sleep(1.0)  # the 0.3 s hold has passed
        sent = [(c.rsplit(".", 1)[-1], json.loads(body)["messageId"]) for c, body in calls]
        # as send_receipt: the read of m0 replaced its delivered, m2's delivered m1's
        assert sorted(sent) == sorted([("read", m[0]), ("delivered", m[2])])
        assert p.stats.receipts_failed == 0


async def test_receipts_that_cannot_be_sent_are_counted_and_logged_not_raised(
    autojump_clock: trio.testing.MockClock, rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    chat = await rig.emu.start_chat()
    agent = await rig.emu.add_participant(chat.contact_id)
    m = await rig.send_messages(chat.contact_id, agent.participant_id, ["0", "1"])
    caplog.set_level(logging.INFO, logger="participant")
    async with rig.connect(chat.participant_token) as p:
        rig.emu.faults.fail_next("SendEvent", count=2, status=500)  # both attempts fail
        p.send_receipt_nowait(m[0])
        await trio.sleep(1.0)
        assert p.stats.receipts_failed == 1  # SendEvent failed: logged, not raised
        p.send_receipt_nowait(m[1])  # still held when the participant closes
    assert p.stats.receipts_failed == 2
    p.send_receipt_nowait(m[1], "delivered")  # after close: nothing raised
    assert p.stats.receipts_failed == 3
    messages = [r.getMessage() for r in caplog.records if "receipt" in r.getMessage()]
    assert any("InternalServerException" in text for text in messages)
    assert sum("closed" in text for text in messages) == 2
