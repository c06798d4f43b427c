"""Hypothesis: over random fault schedules, every message arrives exactly once."""

from __future__ import annotations

import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import open_rig
from .workload import Fault, run_chat

HOURS = 3

faults = st.lists(
    st.builds(
        Fault,
        at=st.floats(min_value=0, max_value=HOURS * 3600 - 1, allow_nan=False),
        kind=st.sampled_from(["drop", "cut", "heartbeats", "throttle", "error500", "expire_url"]),
        arg=st.integers(min_value=1, max_value=40),
    ),
    max_size=8,
)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule=faults, message_every=st.sampled_from([7.0, 31.0, 300.0]))
def test_every_message_exactly_once_under_random_faults(
    schedule: list[Fault], message_every: float
) -> None:
    async def main() -> None:
        async with open_rig() as rig:
            out = await run_chat(
                rig, duration=HOURS * 3600.0, message_every=message_every, faults=schedule
            )
        assert out.missing == set()
        assert out.duplicated == {}
        assert out.participant.stats.items_delivered >= len(out.sent)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
