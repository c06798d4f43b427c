"""AWS's own chat client (amazon-connect-chatjs 5.x) against the loopback emulator.

``driver.js`` runs one CUSTOMER chat under Node; this test is the conductor and the AGENT (the
emulator's own helpers, in the same trio run as the server). chatjs and ``ws`` are installed by
``npm ci`` into ``~/.cache/participant-chatjs/<hash of package.json and package-lock.json>``
(override the cache root with ``PARTICIPANT_CHATJS_CACHE``), never into the repository.

Without ``node``/``npm`` the test skips, except under ``CI=true`` where it fails.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NoReturn

import attrs
import pytest
import trio

from participant.emulator import EmulatorConfig, EmulatorServer, StartedChat, serve

HERE = Path(__file__).parent
DRIVER = HERE / "driver.js"
REGION = "us-west-2"
CT_TYPING = "application/vnd.amazonaws.connect.event.typing"
CT_READ = "application/vnd.amazonaws.connect.event.message.read"
CT_DELIVERED = "application/vnd.amazonaws.connect.event.message.delivered"
#: chatjs holds receipts this long (its default is 5000 ms; the test shortens it).
RECEIPT_THROTTLE_MS = 200
#: Every wait on chatjs is bounded by this (seconds); the whole test takes a few seconds.
STEP_TIMEOUT = 15.0
TOKEN_LIKE = re.compile(r"[A-Za-z0-9_-]{40,}")


def _scrub(text: str) -> str:
    return TOKEN_LIKE.sub("<redacted>", text)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _missing(reason: str) -> NoReturn:
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: .ci/run installs Node and npm)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chatjs_modules() -> Path:
    """``node_modules`` with the pinned chatjs and ws, installed once per package.json."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _missing("node and npm are needed for the chatjs test (apt-get install nodejs npm)")
    assert npm is not None
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((HERE / name).read_bytes())
    root = Path(
        os.environ.get("PARTICIPANT_CHATJS_CACHE", Path.home() / ".cache" / "participant-chatjs")
    )
    target = root / digest.hexdigest()[:16]
    modules = target / "node_modules"
    if (target / ".complete").exists():
        return modules
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="install-", dir=root))
    try:
        for name in ("package.json", "package-lock.json"):
            shutil.copy(HERE / name, work / name)
        try:
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                cwd=work,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.fail("npm ci of tests/chatjs took more than 300 s", pytrace=False)
        if done.returncode != 0:
            pytest.fail(
                f"npm ci of tests/chatjs failed ({done.returncode}):\n"
                f"{_scrub(done.stdout[-3000:])}\n{_scrub(done.stderr[-3000:])}",
                pytrace=False,
            )
        (work / ".complete").write_text("ok\n")
        try:
            work.rename(target)
        except OSError:  # another run installed it first
            if not (target / ".complete").exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return modules


class ChatJSError(AssertionError):
    pass


@attrs.define
class ChatJS:
    """The Node process: ``call`` a command and get its step's result, ``wait_event`` for
    a chatjs event. Every line it printed is kept for the failure message."""

    process: trio.Process
    lines: list[str] = attrs.field(factory=list)
    events: list[dict[str, Any]] = attrs.field(factory=list)
    stderr: list[str] = attrs.field(factory=list)
    answers: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    changed: trio.Event = attrs.field(factory=trio.Event)
    next_id: int = 0
    closed: bool = False

    def output(self) -> str:
        return _scrub(
            "--- driver stdout ---\n" + "\n".join(self.lines[-80:])
            + "\n--- driver stderr ---\n" + "".join(self.stderr)[-6000:]
        )

    def fail(self, message: str) -> ChatJSError:
        return ChatJSError(f"{message}\n{self.output()}")

    def _notify(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    async def read_stdout(self) -> None:
        assert self.process.stdout is not None
        buffer = b""
        async for chunk in self.process.stdout:
            buffer += chunk
            while b"\n" in buffer:
                raw, buffer = buffer.split(b"\n", 1)
                line = raw.decode("utf-8", "replace")
                self.lines.append(line)
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if "event" in obj:
                    self.events.append(obj)
                elif "id" in obj:
                    self.answers[obj["id"]] = obj
                self._notify()
        self.closed = True
        self._notify()

    async def read_stderr(self) -> None:
        assert self.process.stderr is not None
        async for chunk in self.process.stderr:
            self.stderr.append(chunk.decode("utf-8", "replace"))

    async def _until(self, check: Callable[[], Any], what: str, within: float) -> Any:
        with trio.move_on_after(within):
            while True:
                found = check()
                if found is not None:
                    return found
                if self.closed:
                    raise self.fail(f"driver exited while waiting for {what}")
                await self.changed.wait()
        raise self.fail(f"no {what} within {within} s")

    async def call(self, cmd: str, within: float = STEP_TIMEOUT, **args: Any) -> Any:
        """Run one step; returns its result, raises with the driver's output if it failed."""
        self.next_id += 1
        ident = self.next_id
        assert self.process.stdin is not None
        line = json.dumps({"id": ident, "cmd": cmd, "args": args}) + "\n"
        await self.process.stdin.send_all(line.encode())
        answer = await self._until(lambda: self.answers.get(ident), f"answer to {cmd}", within)
        if not answer["ok"]:
            raise self.fail(f"step {cmd} failed: {answer.get('error')}")
        return answer["result"]

    async def call_refused(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Run one step that must fail; returns chatjs's rejection (``type``, ``statusCode``,
        ``message`` of its SDK client's error)."""
        self.next_id += 1
        ident = self.next_id
        assert self.process.stdin is not None
        line = json.dumps({"id": ident, "cmd": cmd, "args": args}) + "\n"
        await self.process.stdin.send_all(line.encode())
        answer = await self._until(
            lambda: self.answers.get(ident), f"answer to {cmd}", STEP_TIMEOUT
        )
        if answer["ok"]:
            raise self.fail(f"step {cmd} succeeded, expected a refusal: {answer['result']}")
        try:
            error = json.loads(answer["error"])
        except ValueError:
            raise self.fail(f"step {cmd}: rejection is not chatjs's error object") from None
        assert isinstance(error, dict)
        return error

    async def wait_event(
        self,
        name: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda data: True,
        *,
        after: int = 0,
        within: float = STEP_TIMEOUT,
    ) -> dict[str, Any]:
        """The first event ``name`` (from index ``after``) whose data satisfies ``predicate``."""

        def check() -> dict[str, Any] | None:
            for event in self.events[after:]:
                if event["event"] == name and predicate(event.get("data") or {}):
                    return event.get("data") or {}
            return None

        return await self._until(check, f"chatjs event {name}", within)  # type: ignore[no-any-return]

    def mark(self) -> int:
        """Index for ``wait_event(after=...)``: only events from now on."""
        return len(self.events)


@asynccontextmanager
async def open_chatjs(modules: Path) -> AsyncIterator[ChatJS]:
    node = shutil.which("node")
    assert node is not None
    env = dict(os.environ, CHATJS_NODE_MODULES=str(modules))
    async with trio.open_nursery() as nursery:
        process = await trio.lowlevel.open_process(
            [node, str(DRIVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        driver = ChatJS(process)
        nursery.start_soon(driver.read_stdout)
        nursery.start_soon(driver.read_stderr)
        try:
            await driver.wait_event("ready", within=30)
            yield driver
        finally:
            print(driver.output())  # captured: pytest shows it with a failure
            with trio.move_on_after(5) as scope:
                scope.shield = True
                if not driver.closed and process.returncode is None:
                    try:
                        await driver.call("exit", within=3)
                    except (ChatJSError, trio.BrokenResourceError, trio.ClosedResourceError):
                        pass
                    await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()
            nursery.cancel_scope.cancel()


@pytest.fixture
async def loopback() -> AsyncIterator[EmulatorServer]:
    config = attrs.evolve(EmulatorConfig(), rate_limits=False)
    async with serve(config, "127.0.0.1", 0) as server:
        yield server


def _is_from(participant_id: str, content_type: str) -> Callable[[tuple[str, Any]], bool]:
    def check(pair: tuple[str, Any]) -> bool:
        item = pair[1]
        return bool(
            item.get("ParticipantId") == participant_id and item.get("ContentType") == content_type
        )

    return check


async def _next_item(
    items: trio.MemoryReceiveChannel[tuple[str, Any]],
    predicate: Callable[[tuple[str, Any]], bool],
    what: str,
    driver: ChatJS,
) -> dict[str, Any]:
    """The next item the emulator emits that satisfies ``predicate`` (the agent's view)."""
    with trio.move_on_after(STEP_TIMEOUT):
        async for pair in items:
            if predicate(pair):
                return pair[1]  # type: ignore[no-any-return]
    raise driver.fail(f"the emulator emitted no {what} within {STEP_TIMEOUT} s")


CT_METADATA = "application/vnd.amazonaws.connect.event.message.metadata"
CT_LEFT = "application/vnd.amazonaws.connect.event.participant.left"
CT_ENDED = "application/vnd.amazonaws.connect.event.chat.ended"


async def _connect(js: ChatJS, server: EmulatorServer, chat: StartedChat) -> None:
    """Step ``setup``: setGlobalConfig (region, endpoint) + ChatSession.create(CUSTOMER) +
    connect(): CreateParticipantConnection through chatjs's bundled SDK client, then the
    websocket at ws://127.0.0.1:PORT, subscribed."""
    mark = js.mark()
    connected = await js.call(
        "setup",
        endpoint=server.endpoint_url,
        region=REGION,
        contactId=chat.contact_id,
        participantId=chat.participant_id,
        participantToken=chat.participant_token,
        receiptThrottleMs=RECEIPT_THROTTLE_MS,
    )
    assert connected == {"connectSuccess": True, "connectCalled": True}
    await js.wait_event("connectionEstablished", after=mark)
    # frames sent before the subscribe answer are not delivered (protocol.md §3)
    assert await js.wait_event("wsSubscribe", after=mark) == {"status": "success"}
    assert server.emulator.open_sockets(chat.participant_id) == 1


def _has(item_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda data: data.get("Id") == item_id


def _view_has(item_id: str, status: str | None = None) -> Callable[[dict[str, Any]], bool]:
    """A transcriptUpdated event whose view holds ``item_id`` (with that Status)."""

    def check(data: dict[str, Any]) -> bool:
        return any(
            i["Id"] == item_id and (status is None or i.get("Status") == status)
            for i in data["items"]
        )

    return check


async def test_chatjs_customer_chat(loopback: EmulatorServer, chatjs_modules: Path) -> None:
    emu = loopback.emulator
    chat = await emu.start_chat(display_name="Customer")
    agent = await emu.add_participant(chat.contact_id, role="AGENT", display_name="Agent")
    cid, me, them = chat.contact_id, chat.participant_id, agent.participant_id
    async with emu.item_stream() as items, open_chatjs(chatjs_modules) as js:
        await _connect(js, loopback, chat)

        # --- receive a message from the agent
        mark = js.mark()
        sent = await emu.send_message_as(cid, them, content="Hello from the agent")
        got = await js.wait_event("message", _has(sent["Id"]), after=mark)
        assert (got["Content"], got["ParticipantRole"], got["Type"]) == (
            "Hello from the agent", "AGENT", "MESSAGE"
        )

        # --- the customer sends a message; it comes back on the socket too
        mark = js.mark()
        answer = await js.call("sendMessage", message="Hello from chatjs", contentType="text/plain")
        assert answer["Id"] and answer["AbsoluteTime"] and answer["attempts"] == 1
        echoed = await js.wait_event("message", _has(answer["Id"]), after=mark)
        assert (echoed["Content"], echoed["ParticipantId"]) == ("Hello from chatjs", me)
        stored = [e["Content"] for e in emu.transcript(cid) if e["Id"] == answer["Id"]]
        assert stored == ["Hello from chatjs"]
        # chatjs's own view holds it under the service's Id (SENT, or the echo's copy when the
        # echo came before the SendMessage answer)
        await js.wait_event("transcriptUpdated", _view_has(answer["Id"]), after=mark)

        # --- typing both ways
        mark = js.mark()
        await emu.send_event_as(cid, them, content_type=CT_TYPING)
        assert (await js.wait_event("typing", after=mark))["ParticipantId"] == them
        assert (await js.call("sendEvent", contentType=CT_TYPING))["Id"]
        await _next_item(items, _is_from(me, CT_TYPING), "typing event from chatjs", js)

        # --- receipts from chatjs (its MessageReceiptsUtil; ClientToken
        # "INCOMING_DELIVERED_RECEIPT" / "INCOMING_READ_RECEIPT" for every message)
        receipt_ids = set()
        for content_type in (CT_DELIVERED, CT_READ):
            result = await js.call(
                "sendEvent", contentType=content_type, content=json.dumps({"messageId": sent["Id"]})
            )
            receipt_ids.add(result["Id"])
            receipt = await _next_item(
                items, _is_from(me, CT_METADATA), f"receipt ({content_type}) from chatjs", js
            )
            assert receipt["MessageMetadata"]["MessageId"] == sent["Id"]
        mark = js.mark()
        second = await emu.send_message_as(cid, them, content="Second message")
        await js.wait_event("message", _has(second["Id"]), after=mark)
        result = await js.call(
            "sendEvent", contentType=CT_READ, content=json.dumps({"messageId": second["Id"]})
        )
        assert result["Id"] not in receipt_ids, "the same ClientToken replayed an old answer"
        receipt = await _next_item(
            items, _is_from(me, CT_METADATA), "read receipt for the second message", js
        )
        assert receipt["MessageMetadata"]["MessageId"] == second["Id"]
        (stamps,) = receipt["MessageMetadata"]["Receipts"]
        assert stamps["ReadTimestamp"] and stamps["RecipientParticipantId"] == me
        # --- receipts from the agent reach chatjs (onDeliveredReceipt, onReadReceipt) and
        # move chatjs's own message to DELIVERED, then READ
        mark = js.mark()
        body = json.dumps({"messageId": answer["Id"]})
        await emu.send_event_as(cid, them, content_type=CT_DELIVERED, content=body)
        delivered = await js.wait_event("delivered", after=mark)
        assert delivered["MessageMetadata"]["MessageId"] == answer["Id"]
        await js.wait_event("transcriptUpdated", _view_has(answer["Id"], "DELIVERED"), after=mark)
        await emu.send_event_as(cid, them, content_type=CT_READ, content=body)
        read = await js.wait_event("read", after=mark)
        assert read["MessageMetadata"]["MessageId"] == answer["Id"]
        assert read["MessageMetadata"]["Receipts"][0]["RecipientParticipantId"] == them
        await js.wait_event("transcriptUpdated", _view_has(answer["Id"], "READ"), after=mark)

        # --- getTranscript with chatjs's defaults (BACKWARD, ASCENDING, 15, StartPosition {})
        page = await js.call("getTranscript")
        ids = [i["Id"] for i in page["Transcript"]]
        assert {sent["Id"], answer["Id"], second["Id"]} <= set(ids)
        assert ids == [e["Id"] for e in emu.transcript(cid)][-15:]
        # --- and with paging: 2 a page, BACKWARD from the newest, until no NextToken
        for n in range(4):
            await emu.send_message_as(cid, them, content=f"page filler {n}")
        expected = [e["Id"] for e in emu.transcript(cid)]
        pages: list[list[str]] = []
        token: str | None = None
        for _ in range(len(expected)):
            args: dict[str, Any] = {"maxResults": 2}
            if token:
                args["nextToken"] = token
            got_page = await js.call("getTranscript", **args)
            pages.append([i["Id"] for i in got_page["Transcript"]])
            token = got_page["NextToken"]
            if not token:
                break
        assert len(pages) == -(-len(expected) // 2) and all(len(p) <= 2 for p in pages)
        assert [i for p in reversed(pages) for i in p] == expected  # newest page first

        # --- errors as chatjs's SDK client reads them: a throttled SendMessage is retried by
        # the SDK and lands once; a ValidationException reaches the caller typed, with 400
        emu.faults.fail_next("SendMessage", 1, status=429)
        retried = await js.call("sendMessage", message="after a 429", contentType="text/plain")
        assert retried["attempts"] == 2
        assert [e["Content"] for e in emu.transcript(cid) if e["Id"] == retried["Id"]] == [
            "after a 429"
        ]
        refused = await js.call_refused("getTranscript", maxResults=101)
        assert (refused["type"], refused["statusCode"]) == ("ValidationException", 400)
        assert "maxResults" in refused["message"]

        # --- send an attachment (StartAttachmentUpload, PUT with HeadersToInclude,
        # CompleteAttachmentUpload) and download it (GetAttachment, GET)
        mark = js.mark()
        data = b"chatjs attachment \x00\x01\x02 bytes\n" * 10
        await js.call(
            "sendAttachment", name="note.txt", type="text/plain",
            base64=base64.b64encode(data).decode(),
        )
        attached = await js.wait_event("message", lambda d: d.get("Type") == "ATTACHMENT",
                                       after=mark)
        (info,) = attached["Attachments"]
        assert (info["AttachmentName"], info["ContentType"], info["Status"]) == (
            "note.txt", "text/plain", "APPROVED"
        )
        downloaded = await js.call("downloadAttachment", attachmentId=info["AttachmentId"])
        assert base64.b64decode(downloaded["base64"]) == data
        assert downloaded["size"] == len(data)

        # --- a forced socket drop with a close frame, then chatjs's own reconnect
        # (CreateParticipantConnection for a new URL, a new socket, subscribed again)
        mark = js.mark()
        assert emu.faults.drop_sockets(me) == 1
        assert (await js.wait_event("wsClose", after=mark))["code"] == 1001
        await js.wait_event("connectionLost", after=mark)
        await js.wait_event("connectionEstablished", after=mark)
        assert await js.wait_event("wsSubscribe", after=mark) == {"status": "success"}
        assert emu.open_sockets(me) == 1
        after_drop = await emu.send_message_as(cid, them, content="after the drop")
        got = await js.wait_event("message", _has(after_drop["Id"]), after=mark)
        assert got["Content"] == "after the drop"

        # --- a cut without a close frame while the agent writes: the message sent into the
        # gap never reaches the old socket; chatjs fetches it with getTranscript on reconnect
        mark = js.mark()
        assert emu.faults.drop_sockets(me, close_frame=False) == 1
        in_gap = await emu.send_message_as(cid, them, content="sent while the socket was down")
        assert (await js.wait_event("wsClose", after=mark))["code"] != 1000
        assert await js.wait_event("wsSubscribe", after=mark) == {"status": "success"}
        await js.wait_event("transcriptUpdated", _view_has(in_gap["Id"]), after=mark)
        assert not [e for e in js.events[mark:]
                    if e["event"] == "message" and e["data"].get("Id") == in_gap["Id"]]

        # --- disconnect: DisconnectParticipant; the customer leaving ends the chat, and
        # chatjs sees participant.left, chat.ended and its onEnded
        mark = js.mark()
        await js.call("disconnectParticipant")
        await _next_item(items, _is_from(me, CT_LEFT), "participant.left of the customer", js)
        await js.wait_event("message", lambda d: d.get("ContentType") == CT_LEFT, after=mark)
        await js.wait_event("message", lambda d: d.get("ContentType") == CT_ENDED, after=mark)
        await js.wait_event("ended", after=mark)
        assert emu.transcript(cid)[-1]["ContentType"] == CT_ENDED


async def test_chatjs_streamed_bot_reply(loopback: EmulatorServer, chatjs_modules: Path) -> None:
    """A streamed reply (protocol.md §9): chatjs stitches the chunks of one Id into one
    growing message, ends with the completed item, and getTranscript holds only that."""
    emu = loopback.emulator
    chat = await emu.start_chat(display_name="Customer")
    chunks = ["Hel", "lo, ", "I am ", "a streamed ", "reply."]
    whole = "".join(chunks)
    async with open_chatjs(chatjs_modules) as js:
        await _connect(js, loopback, chat)
        mark = js.mark()
        send_streamed_reply = getattr(emu, "send_streamed_reply")  # noqa: B009 - not on main yet
        await send_streamed_reply(chat.contact_id, chunks, interval=0.02)
        final = await js.wait_event(
            "message",
            lambda d: (d.get("MessageMetadata") or {}).get("MessageCompleted") is True,
            after=mark,
        )
        assert final["Content"] == whole
        seen = [e["data"]["Content"] for e in js.events[mark:]
                if e["event"] == "message" and e["data"].get("Id") == final["Id"]]
        # chatjs stitched the partials (it does so for ParticipantRole SYSTEM only): each one
        # shown is the text so far
        assert len(seen) > 1 and seen[-1] == whole
        assert all(whole.startswith(text) for text in seen)
        page = await js.call("getTranscript")
        same = [i for i in page["Transcript"] if i["Id"] == final["Id"]]
        assert [i["Content"] for i in same] == [whole]


async def test_chatjs_chat_ended_while_socket_down(
    loopback: EmulatorServer, chatjs_modules: Path
) -> None:
    """The agent ends the chat while chatjs's socket is cut: the chat.ended frame never
    reaches it, its reconnect gets 403 AccessDeniedException from CreateParticipantConnection,
    and chatjs reports the chat as ended by itself (its background chat-ended path)."""
    emu = loopback.emulator
    chat = await emu.start_chat(display_name="Customer")
    async with open_chatjs(chatjs_modules) as js:
        await _connect(js, loopback, chat)
        mark = js.mark()
        # one synchronous step: the chat ends before the cut can reach chatjs
        assert emu.faults.drop_sockets(chat.participant_id, close_frame=False) == 1
        emu.faults.end_chat(chat.contact_id)
        await js.wait_event("connectionLost", after=mark)
        await js.wait_event("ended", after=mark)
        ended = await js.wait_event(
            "message", lambda d: d.get("ContentType") == CT_ENDED, after=mark
        )
        assert ended["Id"] == "", "chatjs's own stand-in, not the service's item"
        assert not [e for e in js.events[mark:] if e["event"] == "wsOpen"]
