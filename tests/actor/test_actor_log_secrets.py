"""No token of any kind in any log record (issue 11, point 10): a DEBUG run of every
logger over real loopback sockets with the default connector (trio-websocket's own
"Connecting to ..." DEBUG line prints the websocket URL, AuthToken included)."""

from __future__ import annotations

import logging

import pytest
import trio

from participant.actor import ParticipantConfig, connect
from participant.emulator import EmulatorConfig, serve
from participant.model import TextMessage


async def test_a_debug_run_over_loopback_logs_no_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: every library's DEBUG records
    cfg = EmulatorConfig(url_open_window=1.5, connection_expiry=2.0, rate_limits=False)
    pcfg = ParticipantConfig(url_window=1.0, backoff_initial=0.2, backoff_max=1.0)
    async with serve(cfg, host="127.0.0.1", port=0) as server:
        emu = server.emulator
        chat = await emu.start_chat()
        agent = await emu.add_participant(chat.contact_id)
        with trio.fail_after(20):  # a guard against hanging, not a timing assertion
            async with connect(
                chat.participant_token, endpoint_url=server.endpoint_url, config=pcfg
            ) as p:
                await emu.send_message_as(chat.contact_id, agent.participant_id, content="hi")
                async for item in p:
                    if isinstance(item, TextMessage):
                        break
                # One renewal: a second URL opened, a second ConnectionToken.
                async for change in p.state_changes():
                    if change.trigger == "renewed":
                        break
        # Every secret the emulator issued (our own emulator's tables, read by the test):
        # ParticipantTokens, ConnectionTokens, websocket URL AuthTokens.
        service = emu.service
        secrets = {chat.participant_token}
        secrets.update(service._participant_tokens, service._connection_tokens, service._urls)
    assert len(secrets) >= 5  # two URLs and two ConnectionTokens at least
    records = caplog.records
    assert any(r.name == "trio-websocket" for r in records)  # DEBUG was really on
    assert any("Connecting to" in r.getMessage() for r in records)
    texts = [r.getMessage() for r in records]
    for secret in secrets:
        assert len(secret) >= 8
        leaks = [t for t in texts if secret in t]
        assert not leaks, leaks[:3]
    # The AuthToken query parameter of every websocket URL opened is redacted.
    connecting = [t for t in texts if "Connecting to" in t]
    assert connecting and all("AuthToken=<redacted>" in t for t in connecting)
