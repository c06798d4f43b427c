"""24 simulated hours with renewals and faults: every message exactly once."""

from __future__ import annotations

import random

import trio
import trio.testing

from participant.actor import ParticipantConfig
from participant.emulator import EmulatorConfig
from participant.machine import State, Trigger

from .conftest import Rig, open_rig
from .workload import Fault, run_chat

DAY = 24 * 3600.0


def day_of_faults(seed: int) -> list[Fault]:
    rng = random.Random(seed)
    kinds = ["drop", "cut", "heartbeats", "throttle", "error500", "expire_url"]
    faults = []
    for hour in range(24):
        for _ in range(2):
            kind = rng.choice(kinds)
            arg = {
                "heartbeats": rng.choice([15, 45, 120]),
                "throttle": rng.randint(1, 6),
                "error500": rng.randint(1, 6),
            }.get(kind, 1)
            faults.append(Fault(hour * 3600 + rng.uniform(0, 3600), kind, arg))
    return faults


async def test_a_day_with_renewals_and_faults_delivers_every_message_once(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    faults = day_of_faults(seed=4)
    out = await run_chat(rig, duration=DAY, message_every=29.0, faults=faults)
    assert len(out.sent) > 800
    assert out.missing == set()
    assert out.duplicated == {}
    stats = out.participant.stats
    assert stats.renewals > 0
    assert stats.reconnects >= len(faults) // 2
    assert stats.gap_filled_items > 0
    # Renewal always came before the service's ConnectionExpiry closed a socket.
    assert not [
        c for c in out.changes if c.trigger is Trigger.LOST and "ConnectionExpiry" in c.reason
    ]
    triggers = {c.trigger for c in out.changes}
    assert {
        Trigger.EXPIRY_DUE,
        Trigger.RENEWED,
        Trigger.LOST,
        Trigger.BACKOFF,
        Trigger.RETRY,
        Trigger.ACKNOWLEDGED,
    } <= triggers
    assert out.changes[-1].new is State.DISCONNECTED


async def test_a_quiet_day_renews_before_every_connection_expiry(
    autojump_clock: trio.testing.MockClock, rig: Rig
) -> None:
    cfg = ParticipantConfig()
    out = await run_chat(rig, duration=DAY / 2, message_every=600.0, faults=[], config=cfg)
    assert out.missing == set() and out.duplicated == {}
    stats = out.participant.stats
    expiry = rig.emu.config.connection_expiry
    assert stats.renewals == int(DAY / 2 // (expiry - cfg.renewal_margin))
    assert stats.drops == stats.reconnects == 0
    # each renewal's fill starts renewal_fill_overlap (1 s) before the newest item: with
    # messages 600 s apart it returns exactly that one again, dropped as a duplicate, and
    # nothing new (no message was missed while the sockets changed)
    assert stats.gap_fills == stats.renewals and stats.gap_filled_items == 0
    assert stats.duplicates_dropped == stats.renewals
    renewal_changes = [c for c in out.changes if c.trigger is Trigger.RENEWED]
    assert len(renewal_changes) == stats.renewals


async def test_token_expiry_before_connection_expiry_triggers_a_token_renewal(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cfg = EmulatorConfig(connection_expiry=4 * 3600.0, connection_token_ttl=3 * 3600.0)
    async with open_rig(cfg) as rig:
        out = await run_chat(rig, duration=DAY / 2, message_every=900.0, faults=[])
    assert out.missing == set() and out.duplicated == {}
    stats = out.participant.stats
    assert stats.token_renewals == stats.renewals == int(DAY / 2 // (3 * 3600.0 - 60.0))
    assert any("ConnectionToken Expiry" in c.reason for c in out.changes)
