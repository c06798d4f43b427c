"""Crash tests: real worker processes (``participant fleet run``) killed with SIGKILL, on
SQLite and PostgreSQL, against the loopback emulator's transcript.

- ``test_sigkill_takeover``: the surviving worker takes a killed worker's chats over (each
  claimed once, at the next epoch, after the lease expired), and every customer message
  sent before and after the kill is answered exactly once (no duplicate reply in the
  transcript, no item handed to the handler twice unless marked redelivered).
- ``test_busy_chats_survive_seeded_kills`` and ``test_resume_by_hand_after_kill``: kills at
  seeded random moments of busy chats, 0 items lost; these need the actor's resume from a
  cursor (``connect(..., cursor=...)``) and skip until it exists.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import trio

from participant.emulator import Emulator, EmulatorServer
from participant.store import open_store

from .conftest import Chat, new_chat
from .workers import ROOT, WorkerProcess

TTL = 1.0

def handled(log_path: Path) -> list[dict[str, Any]]:
    if not log_path.exists():
        return []
    return [json.loads(line) for line in log_path.read_text().splitlines() if line]


def replies(emulator: Emulator, chat: Chat) -> list[str]:
    return [e["Content"] for e in emulator.transcript(chat.contact_id)
            if e.get("ParticipantRole") == "CUSTOM_BOT" and e.get("Type") == "MESSAGE"]


def customer_messages(emulator: Emulator, chat: Chat) -> list[dict[str, Any]]:
    return [e for e in emulator.transcript(chat.contact_id)
            if e.get("ParticipantRole") == "CUSTOMER" and e.get("ContentType") == "text/plain"]


async def echoed(emulator: Emulator, items: Any, expected: set[str]) -> None:
    """Wait (on the emulator's item stream) until every text of ``expected`` was echoed."""
    missing = set(expected)
    async for _, item in items:
        content = item.get("Content") or ""
        if item.get("ParticipantRole") == "CUSTOM_BOT" and content.startswith("echo: "):
            missing.discard(content[len("echo: "):])
            if not missing:
                return


def check_once(emulator: Emulator, chats: list[Chat], log: list[dict[str, Any]]) -> None:
    """Every customer message answered exactly once in the transcript; handed to a handler
    once, or again only marked redelivered."""
    for chat in chats:
        texts = [m["Content"] for m in customer_messages(emulator, chat)]
        counts = Counter(replies(emulator, chat))
        assert {t: counts[f"echo: {t}"] for t in texts} == {t: 1 for t in texts}
        assert sum(counts.values()) == len(texts)  # no other reply
    seen: set[tuple[str, str]] = set()
    for record in log:
        key = (record["key"], record["id"])
        if key in seen:
            assert record["redelivered"], f"handed twice without redelivered: {record}"
        seen.add(key)


async def test_sigkill_takeover(
    emulator_server: EmulatorServer, store_url: str, tmp_path: Path
) -> None:
    emulator = emulator_server.emulator
    emulator.faults.set_rate_limits(False)
    chats = [await new_chat(emulator) for _ in range(3)]
    async with open_store(store_url) as store:
        for chat in chats:
            await store.submit(chat.bot.participant_token, key=chat.contact_id)
    log_path = tmp_path / "handled.jsonl"
    options = ("--lease-ttl", str(TTL), "--resume-jitter", "0.1", "--resume-rate", "50")
    a = await WorkerProcess.start(store_url, emulator_server.endpoint_url, log_path, "a",
                                  *options)
    b: WorkerProcess | None = None
    try:
        with trio.fail_after(60):
            await a.wait_events("connected", 3)
            b = await WorkerProcess.start(store_url, emulator_server.endpoint_url, log_path,
                                          "b", *options)
            async with emulator.item_stream() as items:
                first = {f"{c.contact_id[:8]} before" for c in chats}
                for chat, text in zip(chats, sorted(first), strict=True):
                    await emulator.send_message_as(chat.contact_id, chat.started.participant_id,
                                                   content=text)
                await echoed(emulator, items, first)
            # the kill lands at a seeded moment of the lease (0..TTL after the last echo)
            await trio.sleep(random.Random(14).uniform(0, TTL))
            a.kill()
            assert await a.wait() == -9
            await b.wait_events("connected", 3)  # b takes every chat over (within 60 s)
            async with emulator.item_stream() as items:
                after = {f"{c.contact_id[:8]} after" for c in chats}
                for chat in chats:
                    await emulator.send_message_as(chat.contact_id, chat.started.participant_id,
                                                   content=f"{chat.contact_id[:8]} after")
                await echoed(emulator, items, after)
            b.terminate()
            await b.wait_events("released", 3)
            assert await b.wait() == 0
    finally:
        await a.aclose()
        if b is not None:
            await b.aclose()
    # b claimed each chat once, at the epoch after a's (a's lease had to expire first: a
    # compare-and-set on the epoch), and a never got one back
    claims = {w.owner: [(e["key"], e["epoch"]) for e in w.events if e["kind"] == "claimed"]
              for w in (a, b)}
    assert sorted(claims["a"]) == sorted((c.contact_id, 1) for c in chats)
    assert sorted(claims["b"]) == sorted((c.contact_id, 2) for c in chats)
    check_once(emulator, chats, handled(log_path))
    async with open_store(store_url) as store:
        statuses = await store.chats()
    assert {(s.epoch, s.owner) for s in statuses} == {(2, None)}  # b released at SIGTERM


async def test_busy_chats_survive_seeded_kills(
    emulator_server: EmulatorServer, store_url: str, tmp_path: Path
) -> None:
    rng = random.Random(2026)
    emulator = emulator_server.emulator
    emulator.faults.set_rate_limits(False)
    chats = [await new_chat(emulator) for _ in range(3)]
    async with open_store(store_url) as store:
        for chat in chats:
            await store.submit(chat.bot.participant_token, key=chat.contact_id)
    log_path = tmp_path / "handled.jsonl"
    options = ("--lease-ttl", str(TTL), "--resume-jitter", "0.1", "--resume-rate", "50")
    url = emulator_server.endpoint_url
    workers = [await WorkerProcess.start(store_url, url, log_path, f"w{n}", *options)
               for n in range(3)]
    sent: set[str] = set()
    try:
        with trio.fail_after(90):
            async with emulator.item_stream() as items, trio.open_nursery() as nursery:

                async def customers() -> None:
                    for n in range(40):
                        for chat in chats:
                            text = f"{chat.contact_id[:8]} {n}"
                            await emulator.send_message_as(
                                chat.contact_id, chat.started.participant_id, content=text)
                            sent.add(text)
                        await trio.sleep(0.05)

                async def killer() -> None:
                    for n in range(3):
                        await trio.sleep(rng.uniform(0.2, 0.8))
                        # a seeded pick among the workers holding chats at that moment
                        async with open_store(store_url) as store:
                            holders = {s.owner for s in await store.chats() if s.owner}
                        candidates = [w for w in workers if w.owner in holders] or workers
                        victim = rng.choice(candidates)
                        workers.remove(victim)
                        victim.kill()
                        await victim.wait()
                        await victim.aclose()
                        workers.append(await WorkerProcess.start(
                            store_url, url, log_path, f"r{n}", *options))

                nursery.start_soon(customers)
                nursery.start_soon(killer)
            async with emulator.item_stream() as items:
                answered = {r[len("echo: "):] for c in chats for r in replies(emulator, c)}
                if sent - answered:
                    await echoed(emulator, items, sent - answered)
    finally:
        for worker in workers:
            await worker.aclose()
    log = handled(log_path)
    assert {r["content"] for r in log} == sent  # 0 lost
    check_once(emulator, chats, log)
    async with open_store(store_url) as store:
        epochs = [s.epoch for s in await store.chats()]
    assert max(epochs) >= 2  # the kills did take chats away from their holder


async def test_resume_by_hand_after_kill(
    emulator_server: EmulatorServer, tmp_path: Path
) -> None:
    emulator = emulator_server.emulator
    emulator.faults.set_rate_limits(False)
    chat = await new_chat(emulator)
    url = f"sqlite://{tmp_path / 'cursor.db'}"
    async with open_store(url) as store:
        await store.submit(chat.bot.participant_token, key="hand")
    log_path = tmp_path / "handled.jsonl"
    script = tmp_path / "by_hand.py"
    script.write_text(BY_HAND)
    env = dict(os.environ, PARTICIPANT_TOKEN=chat.bot.participant_token,
               PYTHONPATH=str(ROOT))
    rng = random.Random(11)
    sent: list[str] = []

    async def start() -> WorkerProcess:
        proc = await trio.lowlevel.open_process(
            [sys.executable, str(script), url, emulator_server.endpoint_url, str(log_path)],
            stdout=subprocess.PIPE, cwd=ROOT, env=env,
        )
        reader = WorkerProcess(proc, "by-hand")
        await reader.next_event("subscribed")
        return reader

    with trio.fail_after(60):
        for round_ in range(3):
            reader = await start()
            try:
                for n in range(10):
                    text = f"round {round_} message {n}"
                    await emulator.send_message_as(chat.contact_id,
                                                   chat.started.participant_id, content=text)
                    sent.append(text)
                    await trio.sleep(rng.uniform(0, 0.05))  # the kill's seeded moment
            finally:
                await reader.aclose()  # SIGKILL
            # a message while no process runs: the next one must fill it from the cursor
            text = f"round {round_} while down"
            await emulator.send_message_as(chat.contact_id, chat.started.participant_id,
                                           content=text)
            sent.append(text)
        reader = await start()
        try:
            async with emulator.item_stream() as items:
                answered = {r[len("echo: "):] for r in replies(emulator, chat)}
                if set(sent) - answered:
                    await echoed(emulator, items, set(sent) - answered)
        finally:
            await reader.aclose()
    log = handled(log_path)
    assert {r["content"] for r in log} == set(sent)  # 0 lost
    check_once(emulator, [chat], log)


BY_HAND = """
import json, os, sys
import trio
from participant import connect
from participant.model import TextMessage
from participant.store import open_store

async def main(store_url, endpoint_url, log_path):
    async with open_store(store_url) as store:
        async with connect(os.environ["PARTICIPANT_TOKEN"], endpoint_url=endpoint_url,
                           cursor=store.cursor("hand")) as chat:
            print(json.dumps({"kind": "subscribed"}), flush=True)
            async for item in chat:
                if isinstance(item, TextMessage) and item.participant_role == "CUSTOMER":
                    with open(log_path, "a") as f:
                        f.write(json.dumps({"key": "hand", "id": item.id,
                                            "content": item.content,
                                            "redelivered": item.redelivered}) + "\\n")
                    await chat.send_message(f"echo: {item.content}", in_reply_to=item)

trio.run(main, *sys.argv[1:])
"""
