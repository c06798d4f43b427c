"""Soak: 20 chats at once under every fault class, in simulated time.

Asserts, for every chat: no item lost, none duplicated, nothing delivered that was not
sent, the actor never failed, it ended ``disconnected``, and no task of the library is
left behind. A second, smaller soak runs with DEBUG logging and checks that no secret the
emulator issued (ParticipantToken, ConnectionToken, websocket AuthToken) appears in any
log record, repr or exception text.
"""

from __future__ import annotations

import logging
from collections import Counter

import pytest
import trio
import trio.testing

from participant.actor import ParticipantConfig
from participant.emulator import EmulatorConfig
from participant.machine import State, Trigger

from .conftest import library_tasks, open_rig
from .soak import FAULT_KINDS, ChatResult, Ending, run_soak

# Short lifetimes so every chat also goes through planned renewals (ConnectionExpiry) and
# ConnectionToken renewals while faults happen. Rate limits stay on (one instance).
SOAK_EMULATOR = EmulatorConfig(connection_expiry=240.0)
# The second soak: the ConnectionToken runs out before ConnectionExpiry (token renewals).
TOKEN_SOAK_EMULATOR = EmulatorConfig(connection_expiry=300.0, connection_token_ttl=200.0)
SOAK_CONFIG = ParticipantConfig()


def _check_chat(r: ChatResult) -> None:
    p = r.participant
    label = f"chat {r.index} ({r.ending}, faults {dict(r.faults)})"
    assert r.duplicated == {}, label
    assert r.unexpected == set(), label
    assert p.error is None, label
    assert p.stats.handler_errors == 0, label
    assert not [c for c in r.changes if c.trigger is Trigger.FAILED], label
    assert p.state is State.DISCONNECTED, label
    assert r.changes[-1].new is State.DISCONNECTED, label
    if r.ending == "no":
        assert r.missing == set(), label
        assert r.chat_ended_items == 0, label
    else:
        # Exactly one ChatEnded (the service's, or the synthetic one after a 403).
        assert r.chat_ended_items == 1, label
        assert any(c.trigger is Trigger.ENDED for c in r.changes), label
        if r.ending == "quiet":
            assert r.missing == set(), label


def _summary(results: list[ChatResult]) -> Counter[str]:
    total: Counter[str] = Counter()
    for r in results:
        s = r.participant.stats
        total.update(
            sent=len(r.sent),
            received=sum(r.received.values()),
            renewals=s.renewals,
            token_renewals=s.token_renewals,
            drops=s.drops,
            reconnects=s.reconnects,
            gap_filled_items=s.gap_filled_items,
            duplicates_dropped=s.duplicates_dropped,
            send_failures=len(r.send_failures),
            lost_after_end=len(r.missing) if r.ending == "fault" else 0,
        )
        total.update({f"fault:{k}": n for k, n in r.faults.items()})
    return total


ENDINGS: dict[int, Ending] = {2: "quiet", 9: "quiet", 13: "fault", 17: "fault"}


async def test_soak_20_chats_every_fault_class_no_loss_no_duplicate_no_crash_no_leak(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_rig(SOAK_EMULATOR) as rig:
        results = await run_soak(
            rig, chats=20, duration=2400.0, seed=6, endings=ENDINGS, config=SOAK_CONFIG
        )
        assert library_tasks() == []
    assert library_tasks(("participant.", "trio_websocket")) == []

    assert len(results) == 20
    for r in results:
        _check_chat(r)
    total = _summary(results)
    print(dict(total))  # shown with -s: the soak's counters
    print(Counter(type(e).__name__ for r in results for e in r.send_failures))
    # Every fault class was injected, and the machinery under test actually ran.
    assert {k for k in FAULT_KINDS if total[f"fault:{k}"] == 0} == set()
    assert total["sent"] > 2000
    assert total["renewals"] > 0
    assert total["reconnects"] > 0 and total["gap_filled_items"] > 0


def _texts(record: logging.LogRecord, formatter: logging.Formatter) -> list[str]:
    out = [formatter.format(record), repr(record.args), repr(record.msg)]
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        out += [str(exc), repr(exc)]
    return out


async def test_no_secret_in_logs_reprs_or_errors_during_a_soak(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with open_rig(TOKEN_SOAK_EMULATOR) as rig:
        results = await run_soak(
            rig,
            chats=6,
            duration=1500.0,
            seed=11,
            endings={1: "quiet", 4: "fault"},
            config=SOAK_CONFIG,
        )
        secrets = rig.secrets()
        texts = [repr(rig.client), repr(rig.emu)]
    for r in results:
        _check_chat(r)
        p = r.participant
        texts += [repr(p), str(p), repr(p.stats), repr(p.config), repr(r.changes)]
        texts += [f"{c.reason} {c!r}" for c in r.changes]
        for exc in [*r.send_failures, p.error]:
            if exc is not None:
                texts += [str(exc), repr(exc), repr(exc.args)]
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        texts += _texts(record, formatter)

    # The check is meaningful: many secrets, many records, the library logged at DEBUG..INFO.
    assert len(secrets) > 6 * 3
    assert len(caplog.records) > 100
    assert any(r.name.startswith("participant.actor") for r in caplog.records)
    assert sum(r.participant.stats.token_renewals for r in results) > 0
    blob = "\n".join(texts)
    leaked = sorted(s for s in secrets if s in blob)
    where = [t[:200] for t in texts if any(s in t for s in leaked)][:5]
    assert leaked == [], where
