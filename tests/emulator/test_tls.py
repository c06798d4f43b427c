"""TLS: the library over https/wss with verification on, and certificate failures."""

from __future__ import annotations

import ssl
from pathlib import Path

import boto3
import httpx
import pytest
import trio
from trio_websocket import WebSocketConnection

import participant
from participant.api import ParticipantClient
from participant.emulator import EmulatorServer, serve
from participant.model import TextMessage
from participant.socket import websocket_connector


async def test_library_over_https_and_wss_with_verification(
    emulator_tls_server: EmulatorServer, emulator_ssl_context: ssl.SSLContext
) -> None:
    assert emulator_tls_server.endpoint_url.startswith("https://127.0.0.1:")
    assert emulator_ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert emulator_ssl_context.check_hostname
    emu = emulator_tls_server.emulator
    chat = await emu.start_chat()
    agent = await emu.add_participant(chat.contact_id)
    transport = httpx.AsyncHTTPTransport(verify=emulator_ssl_context)
    async with ParticipantClient(endpoint_url=emulator_tls_server.endpoint_url,
                                 transport=transport) as client:
        async with participant.connect(
            chat.participant_token, client=client,
            websocket_connector=websocket_connector(emulator_ssl_context),
        ) as me:
            await me.send_message("over TLS")
            await emu.send_message_as(chat.contact_id, agent.participant_id, content="hi back")
            with trio.fail_after(10):
                async for item in me:
                    if isinstance(item, TextMessage) and item.participant_role == "AGENT":
                        assert item.text == "hi back"
                        break
    texts = [i.get("Content") for i in emu.transcript(chat.contact_id)]
    assert "over TLS" in texts


class CountingTransport(httpx.AsyncBaseTransport):
    """httpx's default transport (the system's trust store), counting the requests it
    is asked to send: each is one attempt of the client's backoff."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self.transport = transport
        self.requests: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url.path)
        return await self.transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self.transport.aclose()


async def test_untrusted_certificate_on_rest_is_one_clear_error_at_once(
    emulator_tls_server: EmulatorServer,
) -> None:
    chat = await emulator_tls_server.emulator.start_chat()
    transport = CountingTransport(httpx.AsyncHTTPTransport())  # default trust
    with pytest.raises(participant.CertificateError) as caught:
        async with participant.connect(chat.participant_token,
                                       endpoint_url=emulator_tls_server.endpoint_url,
                                       http_transport=transport):
            pass
    # one attempt: a certificate failure is not retried (until connect_timeout, 30 s)
    assert transport.requests == ["/participant/connection"]
    message = str(caught.value)
    assert "CreateParticipantConnection" in message
    assert "certificate" in message and "verif" in message
    assert chat.participant_token not in message


async def test_untrusted_certificate_on_websocket_is_one_clear_error_at_once(
    emulator_tls_server: EmulatorServer, emulator_ssl_context: ssl.SSLContext
) -> None:
    chat = await emulator_tls_server.emulator.start_chat()
    transport = CountingTransport(httpx.AsyncHTTPTransport(verify=emulator_ssl_context))
    default = websocket_connector()  # default wss trust: the test CA is not in it
    attempts: list[str] = []

    async def counting(nursery: trio.Nursery, url: str) -> WebSocketConnection:
        attempts.append(url.split("?")[0])
        return await default(nursery, url)

    with pytest.raises(participant.CertificateError, match=r"websocket.*certificate"):
        async with participant.connect(chat.participant_token,
                                       endpoint_url=emulator_tls_server.endpoint_url,
                                       http_transport=transport,
                                       websocket_connector=counting):
            pass
    # one CreateParticipantConnection, one websocket attempt: no reconnect, no retry
    assert transport.requests == ["/participant/connection"]
    assert len(attempts) == 1 and attempts[0].startswith("wss://127.0.0.1:")


def test_boto3_with_the_ca_bundle(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    ready: list[EmulatorServer] = []
    done = trio.Event()

    async def run() -> None:
        async with serve(port=0, tls=True) as server:
            ready.append(server)
            await trio.to_thread.run_sync(client_side, server)
        done.set()

    def client_side(server: EmulatorServer) -> None:
        assert server.ca_pem is not None
        ca_file.write_bytes(server.ca_pem)
        kw = dict(endpoint_url=server.endpoint_url, region_name="us-east-1",
                  aws_access_key_id="x", aws_secret_access_key="x", verify=str(ca_file))
        chat = boto3.client("connect", **kw).start_chat_contact(
            InstanceId="i", ContactFlowId="f", ParticipantDetails={"DisplayName": "C"})
        conn = boto3.client("connectparticipant", **kw).create_participant_connection(
            ParticipantToken=chat["ParticipantToken"], Type=["WEBSOCKET"])
        assert conn["Websocket"]["Url"].startswith("wss://127.0.0.1:")

    trio.run(run)
    assert done.is_set()


async def test_ssl_context_needs_tls(emulator_server: EmulatorServer) -> None:
    with pytest.raises(RuntimeError, match="tls=True"):
        emulator_server.ssl_context()
