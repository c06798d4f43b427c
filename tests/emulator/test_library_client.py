"""This library's ParticipantClient against the in-memory emulator (no socket)."""

from __future__ import annotations

from participant.api import ParticipantClient
from participant.emulator import Emulator, StartedChat


async def test_participant_client_in_memory(emulator: Emulator,
                                            emulator_chat: StartedChat) -> None:
    async with ParticipantClient(endpoint_url=emulator.endpoint_url,
                                 transport=emulator.http_transport()) as client:
        conn = await client.create_participant_connection(emulator_chat.participant_token)
        token = conn.connection_credentials.connection_token
        sent = await client.send_message(token, content_type="text/plain", content="hi")
        page = await client.get_transcript(token, max_results=100)
        assert sent.id in [item.id for item in page.transcript]
        up = await client.start_attachment_upload(
            token, content_type="text/plain", attachment_size_in_bytes=3,
            attachment_name="a.txt")
        await client.upload_attachment(up.upload_metadata, b"abc")
        await client.complete_attachment_upload(token, attachment_ids=[up.attachment_id])
        got = await client.get_attachment(token, attachment_id=up.attachment_id)
        assert await client.download_attachment(got.url) == b"abc"
