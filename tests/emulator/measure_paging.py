"""Measure GetTranscript paging on a long transcript (not a test; run it by hand):

    python -m tests.emulator.measure_paging [N]

Prints the time per page of 100 items over 50 pages of an N-item transcript (default
20,000), in memory (no socket). Paging bisects the item order, so it does not grow with N.
"""

from __future__ import annotations

import sys
import time

import attrs
import httpx
import trio

from participant.emulator import Emulator, EmulatorConfig


async def measure(n: int) -> None:
    emu = Emulator(attrs.evolve(EmulatorConfig(), rate_limits=False))
    async with emu.run():
        chat = await emu.start_chat()
        agent = await emu.add_participant(chat.contact_id)
        for i in range(n):
            await emu.send_message_as(chat.contact_id, agent.participant_id, content=f"m{i}")
        async with httpx.AsyncClient(transport=emu.http_transport(),
                                     base_url=emu.endpoint_url) as client:
            answer = await client.post(
                "/participant/connection", headers={"X-Amz-Bearer": chat.participant_token},
                json={"Type": ["CONNECTION_CREDENTIALS"]})
            token = answer.json()["ConnectionCredentials"]["ConnectionToken"]
            body: dict[str, object] = {"MaxResults": 100}
            start, pages = time.perf_counter(), 0
            while pages < 50:
                page = (await client.post("/participant/transcript",
                                          headers={"X-Amz-Bearer": token}, json=body)).json()
                pages += 1
                if not page.get("NextToken"):
                    break
                body = {"MaxResults": 100, "NextToken": page["NextToken"]}
            elapsed = time.perf_counter() - start
    print(f"N={n}: {pages} pages of 100 in {elapsed * 1000:.0f} ms, "
          f"{elapsed / pages * 1000:.2f} ms/page")


if __name__ == "__main__":
    trio.run(measure, int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
