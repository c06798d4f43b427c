from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import attrs
import boto3
import pytest
import trio
import trio.testing
from botocore.config import Config

from participant.emulator import EmulatorConfig, EmulatorServer, serve


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


class ThreadedServer:
    """The emulator served by hypercorn in a background thread with its own trio.run."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.server: EmulatorServer | None = None
        self._ready = threading.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        async with serve(self.config) as server:
            self.server = server
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        assert self._ready.wait(10), "emulator did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self._thread.join(10)

    @property
    def endpoint_url(self) -> str:
        assert self.server is not None
        return self.server.endpoint_url

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` in the server's trio thread (sync function)."""
        return trio.from_thread.run_sync(fn, *args, trio_token=self._token)

    def client(self, service: str, *, validate: bool = True) -> Any:
        """A boto3 client of the emulator; ``validate=False`` skips botocore's own checks so
        the server's validation answers."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"},
                          parameter_validation=validate),
        )


@pytest.fixture(scope="module")
def threaded_server() -> Iterator[ThreadedServer]:
    with ThreadedServer(attrs.evolve(EmulatorConfig(), rate_limits=False)) as server:
        yield server
