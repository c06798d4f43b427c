"""ParticipantClient against the in-memory emulator: the 11 operations end to end."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import trio
import trio.testing

from participant import errors
from participant._time import parse_timestamp, trio_clock
from participant.api import ParticipantClient, RetryPolicy
from participant.emulator import Emulator, EmulatorConfig, serve
from participant.model import ContentType, StartPosition, TextMessage


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


async def test_chat_round_trip_through_the_emulator(
    autojump_clock: trio.testing.MockClock,
) -> None:
    emu = Emulator(EmulatorConfig(), wall_clock=trio_clock())
    async with emu.run():
        chat = await emu.start_chat(display_name="Customer")
        async with ParticipantClient(
            endpoint_url=emu.endpoint_url, transport=emu.http_transport(),
            retry=RetryPolicy(max_attempts=2),
        ) as client:
            conn = await client.create_participant_connection(
                chat.participant_token, connect_participant=True
            )
            assert conn.websocket is not None and conn.websocket.url
            assert conn.connection_credentials is not None
            token = conn.connection_credentials.connection_token
            assert token
            assert conn.connection_credentials.expiry is not None
            expiry = parse_timestamp(conn.connection_credentials.expiry)
            assert expiry > parse_timestamp(conn.websocket.connection_expiry or "")

            sent = []
            for i in range(5):
                result = await client.send_message(
                    token, content_type=ContentType.TEXT_PLAIN, content=f"message {i}"
                )
                assert result.id
                sent.append(result.id)
            await client.send_event(token, content_type=ContentType.TYPING)

            page = await client.get_transcript(token, max_results=2, sort_order="ASCENDING",
                                               start_position=StartPosition(most_recent=100),
                                               scan_direction="FORWARD")
            assert page.transcript is not None and len(page.transcript) <= 2
            items = [item async for item in client.iter_transcript(
                token, max_results=2, sort_order="ASCENDING")]
            texts = [i for i in items if isinstance(i, TextMessage)]
            assert {i.id for i in texts} >= set(sent)
            assert len({i.id for i in items}) == len(items)

            # a receipt: Content {"messageId": ...}
            await emu.add_participant(chat.contact_id, role="AGENT")
            await client.send_event(token, content_type=ContentType.MESSAGE_READ,
                                    content=f'{{"messageId":"{sent[0]}"}}')

            # attachments: start, PUT with every header, complete, get, download
            data = b"hello attachment"
            started = await client.start_attachment_upload(
                token, content_type="text/plain", attachment_size_in_bytes=len(data),
                attachment_name="note.txt")
            assert started.attachment_id and started.upload_metadata is not None
            await client.upload_attachment(started.upload_metadata, data)
            await client.complete_attachment_upload(token, attachment_ids=[started.attachment_id])
            got = await client.get_attachment(token, attachment_id=started.attachment_id,
                                              url_expiry_in_seconds=60)
            assert got.attachment_size_in_bytes == len(data) and got.url
            assert await client.download_attachment(got.url) == data

            with pytest.raises(errors.ResourceNotFoundException):
                await client.describe_view(token, view_token="no-such-view")

            # the ParticipantToken is not a ConnectionToken
            with pytest.raises(errors.AccessDeniedException) as info:
                await client.send_message(chat.participant_token, content_type="text/plain",
                                          content="x")
            assert chat.participant_token not in str(info.value)

            await client.disconnect_participant(token)
            with pytest.raises(errors.AccessDeniedException):
                await client.send_message(token, content_type="text/plain", content="late")


async def test_own_transport_over_loopback() -> None:
    """No transport given: the client's own pooled httpx.AsyncHTTPTransport, real sockets."""
    async with serve(EmulatorConfig(), host="127.0.0.1", port=0) as server:
        chat = await server.emulator.start_chat(display_name="Customer")
        async with ParticipantClient(endpoint_url=server.endpoint_url) as client:
            conn = await client.create_participant_connection(
                chat.participant_token, type=["CONNECTION_CREDENTIALS"]
            )
            assert conn.connection_credentials is not None
            token = conn.connection_credentials.connection_token
            sent = [
                (await client.send_message(token, content_type="text/plain", content=f"m{i}")).id
                for i in range(3)
            ]
            items = [item async for item in client.iter_transcript(token, max_results=2)]
            assert set(sent) <= {item.id for item in items}
            data = b"over loopback"
            started = await client.start_attachment_upload(
                token, content_type="text/plain", attachment_size_in_bytes=len(data),
                attachment_name="a.txt")
            assert started.upload_metadata is not None
            await client.upload_attachment(started.upload_metadata, data)
            await client.complete_attachment_upload(token, attachment_ids=[started.attachment_id])
            got = await client.get_attachment(token, attachment_id=started.attachment_id)
            assert got.url and await client.download_attachment(got.url) == data
            with pytest.raises(errors.ResourceNotFoundException):
                await client.describe_view(token, view_token="no such view")
        with pytest.raises(RuntimeError):
            await client.send_message(token, content_type="text/plain", content="closed")


async def test_refused_connection_is_a_transport_error_after_the_attempts() -> None:
    # port 1 on loopback: nothing listens; retries without delay (base_delay 0)
    policy = RetryPolicy(max_attempts=2, base_delay=0.0, max_delay=0.0)
    async with ParticipantClient(endpoint_url="http://127.0.0.1:1", retry=policy) as client:
        with pytest.raises(errors.ConnectError) as info:
            await client.send_message("CONN-SECRET", content_type="text/plain", content="x")
    assert "after 2 attempt(s)" in str(info.value) and "CONN-SECRET" not in str(info.value)
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert "connection refused by 127.0.0.1:1" in str(info.value)


# ---------------------------------------------------------------- wrong endpoints, real sockets


@contextlib.contextmanager
def plain_web_server(status: int | None = None) -> Iterator[str]:
    """Python's own http.server on loopback (answers POST with 501), or one that answers
    every request with ``status`` and an HTML page; yields its http:// URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            if status is None:
                self.send_error(501, "Unsupported method ('POST')")
                return
            page = b"<html><body>Not here</body></html>"
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


ONE_ATTEMPT = RetryPolicy(max_attempts=1)


@pytest.mark.parametrize("status", [None, 404, 403])
async def test_a_plain_web_server_is_named_not_taken_for_the_service(status: int | None) -> None:
    with plain_web_server(status) as url:
        async with ParticipantClient(endpoint_url=url, retry=ONE_ATTEMPT) as client:
            with pytest.raises(errors.HTTPStatusError) as info:
                await client.send_message("CONN-SECRET", content_type="text/plain", content="x")
    err = info.value
    assert err.status_code == (status or 501) and not isinstance(err, errors.ServiceError)
    text = str(err)
    assert "host 127.0.0.1" in text and "text/html" in text  # what was reached
    assert "BaseHTTP" in text  # its Server header
    assert "Amazon Connect Participant Service" in text  # what was expected
    assert "CONN-SECRET" not in text and "Not here" not in text


async def test_https_against_an_http_port_says_so() -> None:
    with plain_web_server() as url:
        https = url.replace("http://", "https://")
        async with ParticipantClient(endpoint_url=https, retry=ONE_ATTEMPT) as client:
            with pytest.raises(errors.ConnectError) as info:
                await client.send_message("CONN-SECRET", content_type="text/plain", content="x")
    text = str(info.value)
    assert https.removeprefix("https://") in text and "does not speak TLS" in text
    assert "http:// port" in text and "CONN-SECRET" not in text


async def test_an_unknown_host_is_named() -> None:
    host = "participant.connect.us-wst-2.invalid"
    async with ParticipantClient(endpoint_url=f"https://{host}", retry=ONE_ATTEMPT) as client:
        with pytest.raises(errors.ConnectError) as info:
            await client.send_message("CONN-SECRET", content_type="text/plain", content="x")
    assert f"cannot resolve the host name {host!r}" in str(info.value)
