"""The store protocol against both backends (parametrized ``store``: a real SQLite file and a
real PostgreSQL database): chats, leases by compare-and-set on the epoch, fenced cursors,
the shared rate, and token secrecy; several real processes claiming at once."""

from __future__ import annotations

import json
import os
import stat
import sys
import textwrap
from pathlib import Path

import attrs
import pytest
import trio

from participant.errors import InvalidParameterError
from participant.store import (
    CursorCodec,
    LeaseLost,
    PostgresStore,
    SQLiteStore,
    SQLStore,
    StoreError,
    open_store,
)

from .conftest import FakeWallClock

TOKEN = "secret-participant-token-0123456789"


async def test_submit_claim_renew_release(store: SQLStore, wall_clock: FakeWallClock) -> None:
    assert await store.submit(TOKEN, contact_id="contact-1") == "contact-1"
    assert await store.submit(TOKEN, key="contact-1") == "contact-1"  # idempotent
    [lease] = await store.claim("worker-a", ttl=10, limit=5)
    assert (lease.key, lease.owner, lease.epoch, lease.contact_id) == (
        "contact-1", "worker-a", 1, "contact-1")
    assert lease.participant_token == TOKEN
    assert lease.expiry == wall_clock.now + 10
    assert await store.claim("worker-b", ttl=10, limit=5) == []  # held
    assert await store.check(lease)

    wall_clock.now += 5
    renewed = await store.renew(
        lease, ttl=10, acked_id="id-7", acked_time="2026-12-01T00:00:07.000Z",
        newest_time="2026-12-01T00:00:09.000Z",
    )
    assert renewed is not None and renewed.expiry == wall_clock.now + 10
    [status] = await store.chats()
    assert (status.owner, status.epoch, status.acked_id, status.state) == (
        "worker-a", 1, "id-7", "active")
    assert status.newest_time == "2026-12-01T00:00:09.000Z"
    assert status.held(wall_clock.now)

    assert await store.release(renewed)
    assert not await store.check(renewed)
    assert not await store.release(renewed)  # not held any more
    [again] = await store.claim("worker-b", ttl=10, limit=5)
    assert (again.owner, again.epoch) == ("worker-b", 2)


async def test_expired_lease_is_taken_over_and_the_old_holder_is_fenced(
    store: SQLStore, wall_clock: FakeWallClock
) -> None:
    await store.submit(TOKEN, key="k")
    [old] = await store.claim("a", ttl=3, limit=1)
    await store.save_cursor("k", '{"v": 1}', lease=old)
    wall_clock.now += 2.9
    assert await store.claim("b", ttl=3, limit=1) == []
    wall_clock.now += 0.2  # past the expiry
    assert not await store.check(old)
    [new] = await store.claim("b", ttl=3, limit=1)
    assert new.epoch == old.epoch + 1
    # the old holder can neither renew, nor move the cursor, nor release
    assert await store.renew(old, ttl=3) is None
    with pytest.raises(LeaseLost) as caught:
        await store.save_cursor("k", '{"v": 2}', lease=old)
    assert caught.value.key == "k" and caught.value.epoch == old.epoch
    assert not await store.release(old, ended=True)
    assert await store.load_cursor("k") == '{"v": 1}'
    await store.save_cursor("k", '{"v": 3}', lease=new)
    assert await store.load_cursor("k") == '{"v": 3}'
    [status] = await store.chats()
    assert (status.owner, status.epoch, status.state) == ("b", 2, "active")


async def test_ended_chats_are_not_claimed_and_retry_after_delays(
    store: SQLStore, wall_clock: FakeWallClock
) -> None:
    await store.submit(TOKEN, key="ends")
    await store.submit(TOKEN + "x", key="fails")
    leases = {lease.key: lease for lease in await store.claim("a", ttl=5, limit=10)}
    assert set(leases) == {"ends", "fails"}
    assert await store.release(leases["ends"], ended=True)
    assert await store.release(leases["fails"], error="TransportError", retry_after=4)
    assert await store.claim("b", ttl=5, limit=10) == []
    wall_clock.now += 4
    [lease] = await store.claim("b", ttl=5, limit=10)
    assert lease.key == "fails" and lease.epoch == 2
    by_key = {s.key: s for s in await store.chats()}
    assert by_key["ends"].state == "ended"
    assert by_key["fails"].last_error == "TransportError"


async def test_claim_honours_limit_and_oldest_first(
    store: SQLStore, wall_clock: FakeWallClock
) -> None:
    for i in range(5):
        wall_clock.now += 1
        await store.submit(f"{TOKEN}{i}", key=f"chat-{i}")
    first = await store.claim("a", ttl=5, limit=2)
    assert [lease.key for lease in first] == ["chat-0", "chat-1"]
    assert [lease.key for lease in await store.claim("b", ttl=5, limit=0)] == []
    rest = await store.claim("b", ttl=5, limit=10)
    assert [lease.key for lease in rest] == ["chat-2", "chat-3", "chat-4"]


async def test_submit_with_another_token_is_refused_without_quoting_it(store: SQLStore) -> None:
    await store.submit(TOKEN, key="k")
    with pytest.raises(InvalidParameterError) as caught:
        await store.submit("another-secret-token", key="k")
    assert caught.value.field == "key"
    assert TOKEN not in str(caught.value) and "another-secret" not in str(caught.value)
    with pytest.raises(InvalidParameterError) as no_key:
        await store.submit(TOKEN)
    assert no_key.value.field == "key"
    with pytest.raises(InvalidParameterError) as empty:
        await store.submit("", key="k2")
    assert empty.value.field == "participant_token"


async def test_tokens_never_in_repr_or_status(store: SQLStore) -> None:
    await store.submit(TOKEN, key="k", contact_id="c")
    [lease] = await store.claim("a", ttl=5, limit=1)
    assert TOKEN not in repr(lease)
    [status] = await store.chats()
    assert TOKEN not in repr(status)
    assert TOKEN not in repr(attrs.asdict(status))
    assert TOKEN not in repr(store)


async def test_cursor_handle_roundtrip_and_fencing(
    store: SQLStore, wall_clock: FakeWallClock
) -> None:
    await store.submit(TOKEN, key="k")
    assert await store.cursor("k").load() is None
    assert await store.load_cursor("k") is None

    @attrs.frozen
    class FakeCursor:
        last_id: str

        def to_json(self) -> str:
            return json.dumps({"last_id": self.last_id})

    codec = CursorCodec(decode=lambda text: FakeCursor(**json.loads(text)))
    [lease] = await store.claim("a", ttl=5, limit=1)
    handle = store.cursor("k", lease=lease, codec=codec)
    await handle.save(FakeCursor("m-1"))
    assert await handle.load() == FakeCursor("m-1")
    assert await store.load_cursor("k") == '{"last_id": "m-1"}'  # stored as JSON text
    wall_clock.now += 6
    with pytest.raises(LeaseLost):
        await handle.save(FakeCursor("m-2"))
    # a participant resumed by hand (no lease) saves without fencing
    await store.cursor("k", codec=codec).save('{"last_id": "m-3"}')  # str stored as is
    assert await handle.load() == FakeCursor("m-3")
    with pytest.raises(InvalidParameterError) as unknown:
        await store.save_cursor("nope", "{}")
    assert unknown.value.field == "key"


async def test_take_rate_is_shared_between_store_objects(
    store: SQLStore, store_url: str, wall_clock: FakeWallClock
) -> None:
    async with open_store(store_url, wall_clock=wall_clock) as other:
        waits = []
        for s in (store, other, store, other, store):
            waits.append(await s.take_rate("get_transcript", rate=4, burst=2))
    assert waits == pytest.approx([0, 0, 0.25, 0.5, 0.75])
    wall_clock.now += 10  # an idle period refills the burst, no more
    assert await store.take_rate("get_transcript", rate=4, burst=2) == 0
    assert await store.take_rate("get_transcript", rate=4, burst=2) == 0
    assert await store.take_rate("get_transcript", rate=4, burst=2) == pytest.approx(0.25)


async def test_bad_arguments_name_the_field(store: SQLStore) -> None:
    for call, field in [
        (store.claim("a", ttl=0, limit=1), "ttl"),
        (store.claim("", ttl=1, limit=1), "owner"),
        (store.claim("a", ttl=1, limit=-1), "limit"),
        (store.take_rate("r", rate=0), "rate"),
        (store.submit(TOKEN, key="x" * 257), "key"),
    ]:
        with pytest.raises(InvalidParameterError) as caught:
            await call
        assert caught.value.field == field


async def test_closed_store_raises(store_url: str) -> None:
    s = open_store(store_url)
    await s.submit(TOKEN, key="k")
    await s.aclose()
    with pytest.raises(StoreError, match="closed"):
        await s.chats()


def test_open_store_urls(tmp_path: Path) -> None:
    assert isinstance(open_store(f"sqlite://{tmp_path}/a.db"), SQLiteStore)
    rel = open_store("sqlite:rel.db")
    assert isinstance(rel, SQLiteStore) and str(rel.path) == "rel.db"
    pg = open_store("postgresql://u:hunter2@db.example:5433/fleet")
    assert isinstance(pg, PostgresStore)
    assert "hunter2" not in repr(pg) and "db.example:5433/fleet" in repr(pg)
    for bad in ("mysql://x", "sqlite://", "fleet.db"):
        with pytest.raises(InvalidParameterError) as caught:
            open_store(bad)
        assert caught.value.field == "url"


async def test_sqlite_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "fleet.db"
    old = os.umask(0o022)
    try:
        async with SQLiteStore(path) as s:
            await s.submit(TOKEN, key="k")
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
    finally:
        os.umask(old)
    assert modes["fleet.db"] == 0o600
    assert modes.get("fleet.db-wal", 0o600) == 0o600
    assert "fleet.db-wal" in modes  # WAL mode


async def test_postgres_unreachable_is_a_store_error_without_the_password(tmp_path: Path) -> None:
    s = PostgresStore(f"postgresql://u:hunter2@/db?host={tmp_path}&port=1", connect_timeout=1)
    with pytest.raises(StoreError) as caught:
        await s.chats()
    assert "hunter2" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


CLAIMER = textwrap.dedent(
    """
    import json, sys, trio
    from participant.store import open_store

    async def main(url, owner):
        got = []
        async with open_store(url) as store:
            while True:
                leases = await store.claim(owner, ttl=60, limit=1)
                if not leases:
                    break
                got += [(lease.key, lease.epoch) for lease in leases]
        print(json.dumps(got))

    trio.run(main, sys.argv[1], sys.argv[2])
    """
)


async def test_several_processes_claim_at_once(store: SQLStore, store_url: str) -> None:
    chats = 60
    for i in range(chats):
        await store.submit(f"{TOKEN}-{i}", key=f"chat-{i:02d}")
    # real processes, started together, each claiming one chat at a time until none is left
    results: dict[int, list[list[object]]] = {}

    async def claimer(n: int) -> None:
        done = await trio.run_process(
            [sys.executable, "-c", CLAIMER, store_url, f"worker-{n}"],
            capture_stdout=True, capture_stderr=True, check=False,
        )
        assert done.returncode == 0, done.stderr.decode()
        results[n] = json.loads(done.stdout)

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for n in range(4):
                nursery.start_soon(claimer, n)
    claimed = [key for got in results.values() for key, _ in got]
    assert sorted(claimed) == [f"chat-{i:02d}" for i in range(chats)]  # each exactly once
    assert {epoch for got in results.values() for _, epoch in got} == {1}
    owners = {s.key: s.owner for s in await store.chats()}
    for n, got in results.items():
        assert all(owners[str(key)] == f"worker-{n}" for key, _ in got)
