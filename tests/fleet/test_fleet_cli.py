"""``participant fleet submit | status | run``: in process for submit and status, a real
worker process on the loopback emulator for run (SIGTERM releases its leases at once)."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
import trio

from participant.emulator import EmulatorServer
from participant.fleet_cli import load_handler, run_fleet_cli
from participant.store import open_store

from .conftest import new_chat
from .workers import WorkerProcess

TOKEN = "very-secret-participant-token-42"


def cli(*argv: str, env_token: str | None = None,
        monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_fleet_cli(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_submit_then_status_never_shows_the_token(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = store_url
    monkeypatch.setenv("PARTICIPANT_TOKEN", TOKEN)
    assert cli("submit", "--store", url, "--contact-id", "contact-1") == (0, "contact-1\n", "")
    monkeypatch.delenv("PARTICIPANT_TOKEN")
    code, out, err = cli("submit", "--store", url, "--key", "k2",
                         "--participant-token", TOKEN + "-2")
    assert (code, out) == (0, "k2\n")
    code, table, err = cli("status", "--store", url)
    assert code == 0 and err == ""
    lines = table.splitlines()
    assert lines[0].split() == ["KEY", "CONTACT", "STATE", "OWNER", "EPOCH", "LEASE",
                                "EXPIRES", "ACKED", "LAG"]
    assert lines[1].split() == ["contact-1", "contact-1", "active", "-", "0", "never", "-",
                                "-", "-"]
    assert lines[-1] == "2 chats"
    code, text, _ = cli("status", "--store", url, "--json")
    rows = [json.loads(line) for line in text.splitlines()]
    assert [r["key"] for r in rows] == ["contact-1", "k2"]
    assert "participant_token" not in rows[0]
    for output in (table, text):
        assert TOKEN not in output


def test_status_shows_owner_expiry_position_and_lag(store_url: str) -> None:
    url = store_url

    async def setup() -> None:
        async with open_store(url) as store:
            await store.submit(TOKEN, key="k")
            [lease] = await store.claim("worker-1", ttl=60, limit=1)
            await store.renew(lease, ttl=60, acked_id="msg-9",
                              acked_time="2026-12-01T10:00:00.000Z",
                              newest_time="2026-12-01T10:00:02.500Z")

    async def expiry() -> float:
        async with open_store(url) as store:
            [status] = await store.chats()
            return status.expiry

    trio.run(setup)
    before = time.time()
    code, table, _ = cli("status", "--store", url)
    after = time.time()
    row = table.splitlines()[1].split()
    assert code == 0
    assert row[:6] == ["k", "-", "active", "worker-1", "1", "held"]
    # EXPIRES is the lease's expiry less the time of the call, in whole seconds
    assert row[6] == "in" and row[7].endswith("s")
    lease_expiry = trio.run(expiry)
    assert lease_expiry - after - 0.5 <= int(row[7][:-1]) <= lease_expiry - before + 0.5
    assert "msg-9 @ 2026-12-01T10:00:00.000Z" in table
    assert row[-1] == "2.5s"
    assert TOKEN not in table


def test_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARTICIPANT_TOKEN", raising=False)
    monkeypatch.delenv("PARTICIPANT_STORE", raising=False)
    code, _, err = cli("status")
    assert code == 2 and "no store" in err
    code, _, err = cli("submit", "--store", f"sqlite://{tmp_path}/f.db", "--key", "k")
    assert code == 2 and "no ParticipantToken" in err
    code, _, err = cli("status", "--store", "mysql://x")
    assert code == 1 and "url" in err
    with pytest.raises(Exception, match="MODULE:FUNCTION"):
        load_handler("nocolon")
    with pytest.raises(Exception, match="no function"):
        load_handler("json:no_such_function")
    assert load_handler("tests/fleet/crash_bot.py:handle").__name__ == "handle"


async def test_run_replies_and_sigterm_releases_at_once(
    emulator_server: EmulatorServer, tmp_path: Path
) -> None:
    emulator = emulator_server.emulator
    url = f"sqlite://{tmp_path / 'fleet.db'}"
    log_path = tmp_path / "handled.jsonl"
    chats = [await new_chat(emulator) for _ in range(2)]
    async with open_store(url) as store:
        for chat in chats:
            await store.submit(chat.bot.participant_token, key=chat.contact_id)
    worker = await WorkerProcess.start(url, emulator_server.endpoint_url, log_path, "w1",
                                       "--lease-ttl", "60", "--resume-rate", "100",
                                       "--resume-jitter", "0")
    try:
        with trio.fail_after(30):
            await worker.wait_events("connected", 2)
            async with emulator.item_stream() as items:
                for chat in chats:
                    await emulator.send_message_as(chat.contact_id, chat.started.participant_id,
                                                   content="hello")
                echoes = 0
                async for _, item in items:
                    if item.get("Content") == "echo: hello":
                        echoes += 1
                        if echoes == 2:
                            break
            worker.terminate()
            await worker.wait_events("released", 2)
            assert await worker.wait() == 0
        stderr = await worker.stderr()
    finally:
        await worker.aclose()
    assert TOKEN not in stderr and all(c.bot.participant_token not in stderr for c in chats)
    async with open_store(url) as store:
        statuses = await store.chats()
    # released, not merely expired: with a 60 s TTL the leases would still be held
    assert [(s.owner, s.epoch, s.state) for s in statuses] == [(None, 1, "active")] * 2
    handled = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert sorted(h["key"] for h in handled) == sorted(c.contact_id for c in chats)
