"""The hypercorn-served emulator over real loopback sockets (REST + websocket, one port)."""

from __future__ import annotations

import json

import httpx
import pytest
import trio
import trio_websocket

from participant.emulator import EmulatorServer


async def test_websocket_over_loopback(emulator_server: EmulatorServer) -> None:
    emu = emulator_server.emulator
    chat = await emu.start_chat()
    async with httpx.AsyncClient(base_url=emulator_server.endpoint_url) as http:
        conn = (await http.post("/participant/connection",
                                headers={"X-Amz-Bearer": chat.participant_token},
                                json={"Type": ["WEBSOCKET", "CONNECTION_CREDENTIALS"]})).json()
        url = conn["Websocket"]["Url"]
        assert url.startswith(emulator_server.endpoint_url.replace("http", "ws"))
        token = conn["ConnectionCredentials"]["ConnectionToken"]
        async with trio_websocket.open_websocket_url(url) as ws:
            await ws.send_message(json.dumps(
                {"topic": "aws/subscribe", "content": {"topics": ["aws/chat"]}}))
            assert json.loads(await ws.get_message())["content"]["status"] == "success"
            await ws.send_message(json.dumps({"topic": "aws/heartbeat"}))
            assert json.loads(await ws.get_message()) == {"topic": "aws/heartbeat"}
            sent = (await http.post("/participant/message", headers={"X-Amz-Bearer": token},
                                    json={"ContentType": "text/plain", "Content": "hi"})).json()
            frame = json.loads(await ws.get_message())
            assert json.loads(frame["content"])["Id"] == sent["Id"]
            emu.faults.drop_sockets(chat.participant_id, close_frame=True)
            with pytest.raises(trio_websocket.ConnectionClosed) as info:
                await ws.get_message()
            assert info.value.reason.code == 1001
        # the used URL is refused
        with pytest.raises(trio_websocket.HandshakeError):
            async with trio_websocket.open_websocket_url(url):
                pass


async def test_socket_drop_without_close_frame_over_loopback(
    emulator_server: EmulatorServer,
) -> None:
    emu = emulator_server.emulator
    chat = await emu.start_chat()
    async with httpx.AsyncClient(base_url=emulator_server.endpoint_url) as http:
        conn = (await http.post("/participant/connection",
                                headers={"X-Amz-Bearer": chat.participant_token},
                                json={"Type": ["WEBSOCKET"]})).json()
    async with trio_websocket.open_websocket_url(conn["Websocket"]["Url"]) as ws:
        await ws.send_message(json.dumps({"topic": "aws/heartbeat"}))
        assert json.loads(await ws.get_message()) == {"topic": "aws/heartbeat"}
        emu.faults.drop_sockets(chat.participant_id, close_frame=False)
        with pytest.raises(trio_websocket.ConnectionClosed) as info:
            with trio.fail_after(5):
                await ws.get_message()
        assert info.value.reason.code != 1000, info.value.reason
