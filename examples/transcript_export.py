"""Export a chat's whole transcript to a JSON-lines file (one wire item per line).

REST only (no websocket): CreateParticipantConnection for a ConnectionToken, then
GetTranscript page by page (``ParticipantClient.iter_transcript``), oldest first.

    PARTICIPANT_TOKEN=... python examples/transcript_export.py --region us-west-2 -o chat.jsonl

Without ``PARTICIPANT_TOKEN`` it starts a chat on the emulator at ``--endpoint-url`` (or on
an embedded one), fills it with a few messages and exports that.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import httpx
import trio

from participant.api import ParticipantClient
from participant.errors import ParticipantError, one_line
from participant.model import Item, item_to_wire, parse_absolute_time


async def export(client: ParticipantClient, participant_token: str, path: Path) -> list[Item]:
    """Write every item of the chat to ``path`` as JSON lines, oldest first; return them."""
    conn = await client.create_participant_connection(
        participant_token, type=("CONNECTION_CREDENTIALS",)
    )
    assert conn.connection_credentials is not None
    connection_token = conn.connection_credentials.connection_token
    assert connection_token is not None
    items = [
        item
        async for item in client.iter_transcript(
            connection_token, max_results=100, scan_direction="BACKWARD", sort_order="ASCENDING"
        )
    ]
    items.sort(key=lambda item: parse_absolute_time(item.absolute_time or "1970-01-01T00:00:00Z"))
    lines = "".join(json.dumps(item_to_wire(item)) + "\n" for item in items)
    await trio.Path(path).write_text(lines, encoding="utf-8")
    return items


async def _demo_chat(endpoint_url: str, messages: int) -> str:
    """Start a chat on the emulator (admin API) with ``messages`` messages; the customer's token."""
    async with httpx.AsyncClient(base_url=endpoint_url) as http:
        chat = (await http.post("/emulator/contacts", json={"DisplayName": "Customer"}))
        chat = chat.raise_for_status().json()
        base = f"/emulator/contacts/{chat['ContactId']}/participants"
        agent = (await http.post(base, json={"ParticipantRole": "AGENT"})).raise_for_status().json()
        for i in range(messages):
            sender = agent["ParticipantId"] if i % 2 else chat["ParticipantId"]
            body = {"Content": f"message {i + 1}"}
            sent = await http.post(f"{base}/{sender}/messages", json=body)
            sent.raise_for_status()
    token: str = chat["ParticipantToken"]
    return token


async def main(
    endpoint_url: str | None = None,
    region: str | None = None,
    output: Path = Path("transcript.jsonl"),
    messages: int = 25,
) -> list[Item]:
    """Export the chat of ``PARTICIPANT_TOKEN``, or of a new emulator chat; returns the items."""
    token = os.environ.get("PARTICIPANT_TOKEN")
    if token:
        async with ParticipantClient(endpoint_url=endpoint_url, region=region) as client:
            return await export(client, token, output)
    if endpoint_url is None:
        from participant.emulator import serve

        async with serve() as server:
            return await main(server.endpoint_url, output=output, messages=messages)
    token = await _demo_chat(endpoint_url, messages)
    async with ParticipantClient(endpoint_url=endpoint_url) as client:
        return await export(client, token, output)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url")
    parser.add_argument("--region")
    parser.add_argument("-o", "--output", type=Path, default=Path("transcript.jsonl"))
    args = parser.parse_args()
    try:
        exported = trio.run(main, args.endpoint_url, args.region, args.output)
    except* (OSError, ParticipantError, httpx.HTTPError) as errors:
        sys.exit(f"{parser.prog}: error: {one_line(errors)}")
    print(f"wrote {len(exported)} items to {args.output}")
