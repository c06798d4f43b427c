"""pytest plugin of ``participant`` (entry point ``participant = participant.testing``).

Fixtures (all names start with ``participant_`` or ``emulator`` to stay distinctive):

- ``emulator``: an in-memory :class:`~participant.emulator.Emulator`, running. When the test
  also requests pytest-trio's clock fixtures (``autojump_clock`` / ``mock_clock``), its wall
  clock follows trio's clock (``participant._time.trio_clock()``), so lifetimes follow the
  mock clock. Talk to it with ``emulator.http_transport()`` and
  ``emulator.websocket_connector()``.
- ``emulator_config``: the :class:`~participant.emulator.EmulatorConfig` used by
  ``emulator`` (override this fixture to shorten lifetimes or switch rate limits off).
- ``emulator_server``: the same app served on loopback by hypercorn (real sockets),
  ``emulator_server.endpoint_url``.
- ``emulator_chat``: a started chat on ``emulator``
  (:class:`~participant.emulator.StartedChat`: contact_id, participant_id, participant_token).
- ``emulator_tls_server``: like ``emulator_server`` over https/wss, with a certificate from a
  throwaway CA (trustme) made for this test: ``endpoint_url`` is ``https://127.0.0.1:<port>``.
- ``emulator_ssl_context``: an :class:`ssl.SSLContext` that trusts only that CA
  (verification on). Give it to the library as
  ``ParticipantClient(transport=httpx.AsyncHTTPTransport(verify=emulator_ssl_context))`` and
  ``websocket_connector=participant.socket.websocket_connector(emulator_ssl_context)``
  (``emulator_tls_server.ca_pem`` is the CA as PEM, e.g. for boto3's ``verify=`` file).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import pytest

from participant._time import system_clock, trio_clock
from participant.emulator import Emulator, EmulatorConfig, EmulatorServer, StartedChat, serve


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """The configuration of the ``emulator`` fixture (service defaults)."""
    return EmulatorConfig()


@pytest.fixture
async def emulator(
    request: pytest.FixtureRequest, emulator_config: EmulatorConfig
) -> AsyncIterator[Emulator]:
    """A running in-memory emulator (see the module docstring)."""
    mocked = any(name in request.fixturenames for name in ("autojump_clock", "mock_clock"))
    clock = trio_clock() if mocked else system_clock
    emu = Emulator(emulator_config, wall_clock=clock)
    async with emu.run():
        yield emu


@pytest.fixture
async def emulator_chat(emulator: Emulator) -> StartedChat:
    """A chat started on ``emulator`` (customer "Customer")."""
    return await emulator.start_chat(display_name="Customer")


@pytest.fixture
async def emulator_server(emulator_config: EmulatorConfig) -> AsyncIterator[EmulatorServer]:
    """The emulator on a free loopback port (hypercorn, real sockets, system clock):
    ``emulator_server.endpoint_url`` and ``emulator_server.emulator``."""
    async with serve(emulator_config, "127.0.0.1", 0) as server:
        yield server


@pytest.fixture
async def emulator_tls_server(emulator_config: EmulatorConfig) -> AsyncIterator[EmulatorServer]:
    """The emulator on a free loopback port over TLS (https/wss) with a certificate from a
    new throwaway CA; ``emulator_tls_server.ca_pem`` is that CA (PEM bytes)."""
    async with serve(emulator_config, "127.0.0.1", 0, tls=True) as server:
        yield server


@pytest.fixture
def emulator_ssl_context(emulator_tls_server: EmulatorServer) -> ssl.SSLContext:
    """A client :class:`ssl.SSLContext` trusting only ``emulator_tls_server``'s CA."""
    return emulator_tls_server.ssl_context()
