"""ItemLog with an AbsoluteTime that has the service's shape but is no time: it is an
unknown time (``canonical_time`` -> None), never a ValueError later (newest, prune, cursor)."""

from __future__ import annotations

import pytest

from participant.core.log import ItemLog, canonical_time
from participant.model import TextMessage

BAD_TIME = "2026-13-45T99:99:99.999Z"


@pytest.mark.parametrize("text", [BAD_TIME, "2026-02-30T10:00:00.000Z", "abcd-ef-ghTij:kl:mn.opqZ"])
def test_canonical_time_gives_none_for_a_well_shaped_non_time(text: str) -> None:
    assert canonical_time(text) is None


def test_a_well_shaped_non_time_is_an_unknown_time() -> None:
    log = ItemLog(window=600.0, max_ids=10, reach=5.0)
    good = TextMessage(id="a", absolute_time="2026-12-01T10:00:00.000Z", content="a")
    bad = TextMessage(id="bad", absolute_time=BAD_TIME, content="b")
    for item in (good, bad):
        out = log.accept(item)
        assert out is not None
        log.delivered(out)
        log.acked(out)
    assert log.newest_time == good.absolute_time
    assert log.newest is not None
    log.prune()
    cursor = log.snapshot()
    restored = ItemLog.restore(cursor, 600.0, 10, 5.0)
    assert restored.resume_from is not None
