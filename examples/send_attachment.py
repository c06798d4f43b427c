"""Send a file as a chat attachment, then read it back.

StartAttachmentUpload -> HTTP PUT with every header of HeadersToInclude ->
CompleteAttachmentUpload (``Participant.send_attachment``); the ATTACHMENT item arrives on
the websocket; GetAttachment + download (``Participant.download_attachment``) returns the
same bytes.

    PARTICIPANT_TOKEN=... python examples/send_attachment.py report.pdf --region us-west-2

Without ``PARTICIPANT_TOKEN`` it uses a new chat on the emulator at ``--endpoint-url`` (or
on an embedded one).
"""

from __future__ import annotations

import argparse
import mimetypes
import os
import sys
from pathlib import Path

import httpx
import trio

from participant.actor import connect
from participant.errors import ParticipantError, one_line
from participant.model import AttachmentMessage


async def send_and_verify(
    participant_token: str,
    path: Path,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> str:
    """Send the file at ``path``; wait for its ATTACHMENT item; download it and compare.

    Returns the AttachmentId. Raises ``RuntimeError`` if the bytes differ.
    """
    data = await trio.Path(path).read_bytes()
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    async with connect(participant_token, endpoint_url=endpoint_url, region=region) as participant:
        attachment_id = await participant.send_attachment(
            data, attachment_name=path.name, content_type=content_type
        )
        async for item in participant:
            if isinstance(item, AttachmentMessage) and any(
                a.attachment_id == attachment_id for a in item.attachments or ()
            ):
                break
        downloaded = await participant.download_attachment(attachment_id)
    if downloaded != data:
        raise RuntimeError(f"{path.name}: downloaded {len(downloaded)} bytes, sent {len(data)}")
    return attachment_id


async def main(
    path: Path | None = None, endpoint_url: str | None = None, region: str | None = None
) -> str:
    """Send ``path`` (default: a small generated .txt) in the chat of ``PARTICIPANT_TOKEN``,
    or in a new emulator chat. Returns the AttachmentId."""
    if path is None:
        path = Path(os.environ.get("TMPDIR", "/tmp")) / "participant-example.txt"
        await trio.Path(path).write_text("hello from examples/send_attachment.py\n")
    token = os.environ.get("PARTICIPANT_TOKEN")
    if token:
        return await send_and_verify(token, path, endpoint_url=endpoint_url, region=region)
    if endpoint_url is None:
        from participant.emulator import serve

        async with serve() as server:
            return await main(path, server.endpoint_url)
    async with httpx.AsyncClient(base_url=endpoint_url) as http:
        chat = (await http.post("/emulator/contacts", json={"DisplayName": "Customer"}))
        chat = chat.raise_for_status().json()
    return await send_and_verify(chat["ParticipantToken"], path, endpoint_url=endpoint_url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, nargs="?")
    parser.add_argument("--endpoint-url")
    parser.add_argument("--region")
    args = parser.parse_args()
    try:
        attachment_id = trio.run(main, args.file, args.endpoint_url, args.region)
    except* (OSError, ParticipantError, httpx.HTTPError) as errors:  # file, type, network
        sys.exit(f"{parser.prog}: error: {one_line(errors)}")
    print(f"sent and verified: AttachmentId {attachment_id}")
