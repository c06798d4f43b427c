"""The sans-IO plans (participant.core.plan), without trio: renewal deadlines, gap fill
start, paging bounds."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

import participant.core
from participant.core.plan import FillPlan, Pager, fill_plan, renewal_plan
from participant.errors import TranscriptPagingError

CORE = Path(participant.core.__file__).parent


def test_the_core_imports_no_io_library() -> None:
    banned = {
        "trio",
        "trio_websocket",
        "httpx",
        "socket",
        "participant.actor",
        "participant.socket",
        "participant._time",
        "participant.api",
    }
    for path in CORE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not any(name == b or name.startswith(b + ".") for b in banned), (
                    path.name,
                    name,
                )


def test_renewal_at_the_earlier_deadline_less_the_margin() -> None:
    # Created at shell time 100 when the wall clock read 1000: ConnectionExpiry in 3600 s,
    # the token's Expiry in a day.
    plan = renewal_plan(
        at=100.0,
        wall=1000.0,
        connection_expiry=4600.0,
        token_expiry=1000.0 + 86400,
        margin=60.0,
        fraction=0.2,
    )
    assert plan.connection_expiry == 3700.0
    assert plan.token_expiry == 100.0 + 86400
    assert plan.renew_at == 3640.0 and not plan.for_token
    assert plan.reason == "renewal: ConnectionExpiry in 60 s"


def test_renewal_for_the_token_and_short_lifetimes() -> None:
    # The token expires first; a 10 s lifetime renews at 20 % of it, not 60 s early.
    plan = renewal_plan(
        at=0.0,
        wall=0.0,
        connection_expiry=3600.0,
        token_expiry=10.0,
        margin=60.0,
        fraction=0.2,
    )
    assert plan.for_token and plan.renew_at == pytest.approx(8.0)
    assert plan.reason == "renewal: ConnectionToken Expiry in 2 s"


def test_renewal_without_deadlines_never_comes() -> None:
    plan = renewal_plan(
        at=5.0,
        wall=50.0,
        connection_expiry=None,
        token_expiry=None,
        margin=60.0,
        fraction=0.2,
    )
    assert plan.renew_at == math.inf and plan.connection_expiry == math.inf


def test_a_gap_fill_starts_overlap_before_the_newest_item_never_before_the_floor() -> None:
    plan = fill_plan(
        history=False, overlap=5.0, floor=990.0, newest=1000.0, wall=2000.0, dedupe_window=600.0
    )
    assert plan == FillPlan(False, 995.0, "FORWARD")
    plan = fill_plan(
        history=False, overlap=5.0, floor=998.0, newest=1000.0, wall=2000.0, dedupe_window=600.0
    )
    assert plan.start == 998.0
    # Nothing seen yet: from the floor.
    assert (
        fill_plan(
            history=False, overlap=5.0, floor=990.0, newest=None, wall=2000.0, dedupe_window=600.0
        ).start
        == 990.0
    )


def test_a_gap_fill_in_history_mode_with_nothing_seen_goes_back_one_dedupe_window() -> None:
    plan = fill_plan(
        history=False, overlap=5.0, floor=-math.inf, newest=None, wall=2000.0, dedupe_window=600.0
    )
    assert plan.start == 1400.0


def test_a_fill_after_one_that_gave_up_starts_no_later_than_it() -> None:
    plan = fill_plan(
        history=False,
        overlap=5.0,
        floor=0.0,
        newest=1000.0,
        wall=2000.0,
        dedupe_window=600.0,
        retry_from=900.0,
    )
    assert plan.start == 900.0
    plan = fill_plan(
        history=False,
        overlap=5.0,
        floor=0.0,
        newest=1000.0,
        wall=2000.0,
        dedupe_window=600.0,
        retry_from=999.0,
    )
    assert plan.start == 995.0


def test_a_refill_starts_no_later_than_the_oldest_dropped_item_less_the_overlap() -> None:
    def start(dropped: float | None, floor: float = 0.0) -> float:
        return fill_plan(
            history=False,
            overlap=5.0,
            floor=floor,
            newest=1000.0,
            wall=2000.0,
            dedupe_window=600.0,
            dropped=dropped,
        ).start

    assert start(None) == 995.0
    assert start(920.0) == 915.0  # dropped long after its AbsoluteTime: still fetched
    assert start(1003.0) == 995.0  # newer than newest: the usual start
    assert start(920.0, floor=918.0) == 918.0  # never before the floor


def test_the_history_keeps_everything_a_gap_fill_only_its_own_items() -> None:
    history = fill_plan(
        history=True, overlap=5.0, floor=None, newest=None, wall=0.0, dedupe_window=600.0
    )
    assert history.scan_direction == "BACKWARD" and history.keeps(1.0, "related")
    gap = FillPlan(False, 100.0, "FORWARD")
    assert gap.keeps(100.0, None) and gap.keeps(None, None)
    assert not gap.keeps(99.9, None) and not gap.keeps(200.0, "earlier-contact")


def test_the_pager_follows_tokens_until_the_last_page() -> None:
    pager = Pager(max_pages=10, max_items=100)
    assert pager.page("a", 10) == "a"
    assert pager.page("b", 10) == "b"
    assert pager.page(None, 5) is None
    assert (pager.pages, pager.items) == (3, 25)
    assert Pager(max_pages=1, max_items=0).page("", 0) is None


@pytest.mark.parametrize(
    ("tokens", "reason"),
    [
        (["a", "b", "a"], "repeated_token"),
        (["a", "a"], "repeated_token"),
        ([f"t{n}" for n in range(10)], "max_pages"),
    ],
)
def test_the_pager_stops_cycles_and_endless_paging(tokens: list[str], reason: str) -> None:
    pager = Pager(max_pages=3, max_items=1000)
    with pytest.raises(TranscriptPagingError) as raised:
        for token in tokens:
            pager.page(token, 1)
    assert raised.value.reason == reason
    assert "t3" not in str(raised.value) and "'a'" not in str(raised.value)


def test_the_pager_bounds_items() -> None:
    pager = Pager(max_pages=100, max_items=15)
    pager.page("a", 10)
    with pytest.raises(TranscriptPagingError) as raised:
        pager.page("b", 10)
    assert raised.value.reason == "max_items" and raised.value.items == 20
