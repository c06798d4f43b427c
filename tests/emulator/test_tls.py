"""TLS: the library over https/wss with verification on, and certificate failures."""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import boto3
import httpx
import pytest
import trio

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


async def test_untrusted_certificate_on_rest_is_one_clear_error_fast(
    emulator_tls_server: EmulatorServer,
) -> None:
    chat = await emulator_tls_server.emulator.start_chat()
    start = time.monotonic()
    with pytest.raises(participant.CertificateError) as caught:
        async with participant.connect(chat.participant_token,
                                       endpoint_url=emulator_tls_server.endpoint_url):
            pass
    assert time.monotonic() - start < 5  # no retries until connect_timeout (30 s)
    message = str(caught.value)
    assert "CreateParticipantConnection" in message
    assert "certificate" in message and "verif" in message
    assert chat.participant_token not in message


async def test_untrusted_certificate_on_websocket_is_one_clear_error_fast(
    emulator_tls_server: EmulatorServer, emulator_ssl_context: ssl.SSLContext
) -> None:
    chat = await emulator_tls_server.emulator.start_chat()
    transport = httpx.AsyncHTTPTransport(verify=emulator_ssl_context)
    start = time.monotonic()
    with pytest.raises(participant.CertificateError, match=r"websocket.*certificate"):
        async with participant.connect(chat.participant_token,
                                       endpoint_url=emulator_tls_server.endpoint_url,
                                       http_transport=transport):  # default wss trust
            pass
    assert time.monotonic() - start < 5


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
