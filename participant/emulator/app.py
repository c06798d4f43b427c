"""The emulator's ASGI application: REST (Participant Service and StartChatContact),
presigned attachment URLs, the admin/fault API under ``/emulator/`` and the websocket.

One app serves everything on one port (loopback under hypercorn) and in memory (through
``httpx.ASGITransport``). Routes are documented in ``docs/emulator.md``.
"""

from __future__ import annotations

import html
import json
import logging
import re
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import trio

from participant.emulator._wire import json_too_deep
from participant.emulator.service import JSON, ApiError
from participant.emulator.websocket import AdapterClosed, run_session

if TYPE_CHECKING:
    from participant.emulator.core import Emulator

log = logging.getLogger("participant.emulator.app")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: (method, path) -> operation of the Participant Service ([protocol](protocol.md#rest-api)).
REST_ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/participant/connection"): "CreateParticipantConnection",
    ("POST", "/participant/message"): "SendMessage",
    ("POST", "/participant/event"): "SendEvent",
    ("POST", "/participant/transcript"): "GetTranscript",
    ("POST", "/participant/disconnect"): "DisconnectParticipant",
    ("POST", "/participant/start-attachment-upload"): "StartAttachmentUpload",
    ("POST", "/participant/complete-attachment-upload"): "CompleteAttachmentUpload",
    ("POST", "/participant/attachment"): "GetAttachment",
    ("POST", "/participant/authentication-url"): "GetAuthenticationUrl",
    ("POST", "/participant/cancel-authentication"): "CancelParticipantAuthentication",
}
_VIEW_PATH = re.compile(r"^/participant/views/(?P<token>[^/]+)$")
_STORAGE_PATH = re.compile(r"^/emulator-storage/(?P<id>[^/]+)$")


class _Response:
    def __init__(
        self, status: int, body: bytes = b"", headers: list[tuple[str, str]] | None = None
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or []


def _json(status: int, data: JSON, headers: list[tuple[str, str]] | None = None) -> _Response:
    return _Response(
        status,
        json.dumps(data).encode(),
        [("content-type", "application/json"), *(headers or [])],
    )


def _error(exc: ApiError, request_id: str) -> _Response:
    return _json(
        exc.status,
        {"message": exc.message},
        [("x-amzn-errortype", exc.code), ("x-amzn-requestid", request_id)],
    )


def _s3_error(exc: ApiError) -> _Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>'
        f"{exc.code}</Code><Message>{exc.message}</Message></Error>"
    )
    return _Response(exc.status, body.encode(), [("content-type", "application/xml")])


def _page(status: int, title: str, text: str, *, raw: bool = False) -> _Response:
    """A minimal HTML page (``text`` escaped unless ``raw``)."""
    content = text if raw else f"<p>{html.escape(text)}</p>"
    page = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n"
        f"<body><h1>{html.escape(title)}</h1>\n{content}\n</body></html>\n"
    )
    return _Response(status, page.encode(), [("content-type", "text/html; charset=utf-8")])


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _base_url(scope: Scope, fallback: str) -> str:
    headers = dict(scope.get("headers") or [])
    host = headers.get(b"host")
    if not host:
        return fallback
    scheme = scope.get("scheme", "http")
    scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    return f"{scheme}://{host.decode('latin-1')}"


class EmulatorApp:
    """ASGI 3 application over an :class:`~participant.emulator.core.Emulator`."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self._request_counter = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "http":
            try:
                body = await self._read_body(scope, receive)
                response = await self._http(scope, body)
            except _Refused as refused:
                response = refused.response
            except Exception:
                log.exception("internal error on %s %s", scope.get("method"), scope.get("path"))
                response = _error(
                    ApiError("InternalServerException", "Internal error"), self._request_id()
                )
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": [
                        (k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers
                    ]
                    + [(b"content-length", str(len(response.body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": response.body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        """The request body, refused (:class:`_Refused`) when larger than the limit of its
        route or not complete within ``request_body_timeout`` seconds."""
        config = self.emulator.config
        storage = _STORAGE_PATH.match(scope.get("path", "")) is not None
        limit = config.max_attachment_bytes if storage else config.max_request_bytes
        declared = [v for k, v in scope.get("headers") or [] if k.lower() == b"content-length"]
        if declared and declared[0].strip().isdigit() and int(declared[0]) > limit:
            raise _Refused(self._too_large(storage, limit))
        chunks: list[bytes] = []
        size = 0
        with trio.move_on_after(config.request_body_timeout) as scope_timer:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    break
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise _Refused(self._too_large(storage, limit))
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        if scope_timer.cancelled_caught:
            log.info("request body not received within %g s", config.request_body_timeout)
            error = ApiError("RequestTimeout", "The request body was not received in time", 408)
            raise _Refused(_s3_error(error) if storage else _error(error, self._request_id()))
        return b"".join(chunks)

    def _too_large(self, storage: bool, limit: int) -> _Response:
        if storage:
            return _s3_error(
                ApiError("EntityTooLarge", f"Your proposed upload exceeds {limit} bytes", 400)
            )
        return _error(
            ApiError("ValidationException", f"Request body is larger than {limit} bytes", 413),
            self._request_id(),
        )

    def _request_id(self) -> str:
        self._request_counter += 1
        return f"emulator-{self._request_counter:08d}"

    async def _http(self, scope: Scope, body: bytes) -> _Response:
        method = scope["method"]
        path = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
        base_url = _base_url(scope, self.emulator.endpoint_url)
        service = self.emulator.service
        request_id = self._request_id()
        operation = REST_ROUTES.get((method, path))
        view = None
        if method == "GET":
            # Match on the raw path: a ViewToken may hold an encoded "/" (%2F).
            raw = scope.get("raw_path")
            view = _VIEW_PATH.match(raw.decode("latin-1").split("?", 1)[0] if raw else path)
        if operation is not None or view is not None:
            try:
                bearers = [v for k, v in scope["headers"] if k.lower() == b"x-amz-bearer"]
                if len(bearers) > 1:
                    raise ApiError("AccessDeniedException", "X-Amz-Bearer must be given once")
                data = self._parse_json(body)
                if view is not None:
                    operation = "DescribeView"
                    data["ViewToken"] = urllib.parse.unquote(view.group("token"))
                assert operation is not None
                answer = service.call(operation, headers.get("x-amz-bearer"), data, base_url)
            except ApiError as exc:
                log.info("%s -> %s", operation, exc.code)
                return _error(exc, request_id)
            return _json(200, answer, [("x-amzn-requestid", request_id)])
        if method == "PUT" and path == "/contact/chat":
            try:
                status = service.faults.take_failure("StartChatContact")
                if status is not None:
                    code = "LimitExceededException" if status == 429 else "InternalServiceException"
                    raise ApiError(code, f"Injected fault ({status})", status)
                answer = service.start_chat_contact(self._parse_json(body, connect=True))
            except ApiError as exc:
                return _error(exc, request_id)
            return _json(200, answer, [("x-amzn-requestid", request_id)])
        storage = _STORAGE_PATH.match(path)
        if storage is not None:
            return self._storage(method, storage.group("id"), query, headers, body)
        if path == "/emulator/authenticate":
            return self._authenticate(method, query, headers, body)
        if path.startswith("/emulator/"):
            try:
                return await self._admin(method, path, self._parse_json(body), query)
            except ApiError as exc:
                return _error(exc, request_id)
        return _error(ApiError("UnknownOperationException", "Unknown operation", 404), request_id)

    def _parse_json(self, body: bytes, *, connect: bool = False) -> dict[str, Any]:
        """The JSON object of a request body. Raises ApiError (400 ValidationException, or
        InvalidRequestException for StartChatContact): not UTF-8, not JSON, nested deeper
        than ``max_json_depth``, not an object, lone surrogates."""
        if not body.strip():
            return {}
        code = "InvalidRequestException" if connect else "ValidationException"
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(code, "Request body is not UTF-8 text") from None
        limit = self.emulator.config.max_json_depth
        if json_too_deep(text, limit):
            raise ApiError(code, f"Request body nests JSON more than {limit} levels deep")
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise ApiError(code, "Request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ApiError("ValidationException", "Request body must be a JSON object")
        if b"\\u" in body:
            # A JSON escape may decode to a lone surrogate, which is not text: the service
            # refuses it as a validation error rather than failing later.
            try:
                json.dumps(data, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                code = "InvalidRequestException" if connect else "ValidationException"
                raise ApiError(code, "Request body contains invalid Unicode text") from None
        return data

    def _storage(
        self,
        method: str,
        attachment_id: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> _Response:
        service = self.emulator.service
        try:
            if method == "PUT":
                signature = _first(query, "X-Amz-Signature")
                service.upload(attachment_id, signature, headers, body)
                return _Response(200, b"", [("etag", '"emulator"')])
            if method == "GET":
                attachment, data = service.download(attachment_id, query)
                disposition = (query.get("response-content-disposition") or ["attachment"])[0]
                quoted = urllib.parse.quote(attachment.name)
                return _Response(
                    200,
                    data,
                    [
                        ("content-type", attachment.content_type),
                        ("content-disposition", f"{disposition}; filename*=UTF-8''{quoted}"),
                    ],
                )
        except ApiError as exc:
            return _s3_error(exc)
        return _s3_error(ApiError("MethodNotAllowed", "Method not allowed", 405))

    def _authenticate(
        self, method: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes
    ) -> _Response:
        """The AuthenticationUrl of GetAuthenticationUrl: the customer's sign-in stand-in.

        ``GET ?SessionId=...``: a small HTML page with two choices. ``GET`` (or a form
        ``POST``) with ``outcome=success|failure`` completes the session (the chat gets
        authentication.succeeded / authentication.failed) and redirects (303) to the
        RedirectUri given to GetAuthenticationUrl.
        """
        if method not in ("GET", "POST"):
            return _page(405, "Method not allowed", "Use GET or POST.")
        if method == "POST":
            form = urllib.parse.parse_qs(body.decode("latin-1"))
            query = {**query, **form}
        session_id = _first(query, "SessionId") or ""
        outcome = _first(query, "outcome")
        service = self.emulator.service
        try:
            session = service.auth_session(session_id)
        except ApiError:
            return _page(404, "Unknown sign-in session", "This sign-in link is not valid.")
        if outcome is None:
            if session.state != "INITIATED":
                return _page(409, "Sign-in finished", f"This session ended ({session.state}).")
            link = "/emulator/authenticate?" + urllib.parse.urlencode({"SessionId": session_id})
            body_html = (
                "<p>Participant Service emulator: customer sign-in stand-in.</p>\n"
                f'<p><a id="success" href="{html.escape(link)}&amp;outcome=success">'
                "Sign in (success)</a></p>\n"
                f'<p><a id="failure" href="{html.escape(link)}&amp;outcome=failure">'
                "Fail sign-in</a></p>"
            )
            return _page(200, "Sign in", body_html, raw=True)
        if outcome not in ("success", "failure"):
            return _page(400, "Bad outcome", "outcome must be success or failure.")
        try:
            service.complete_authentication(session_id, succeeded=outcome == "success")
        except ApiError as exc:
            return _page(exc.status, "Sign-in not completed", exc.message)
        if session.redirect_uri:
            return _Response(303, b"", [("location", session.redirect_uri)])
        done = "Signed in." if outcome == "success" else "Sign-in failed."
        return _page(200, "Sign-in finished", done + " You can close this page.")

    async def _admin(
        self, method: str, path: str, data: dict[str, Any], query: dict[str, list[str]]
    ) -> _Response:
        from participant.emulator.admin import handle_admin

        status, answer = await handle_admin(self.emulator, method, path, data)
        return _json(status, answer)

    # ------------------------------------------------------------------ websocket
    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        first = await receive()
        if first["type"] != "websocket.connect":
            return
        query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
        token = _first(query, "AuthToken") if scope["path"] == "/connect" else None
        extensions = scope.get("extensions") or {}

        async def accept() -> _AsgiAdapter:
            await send({"type": "websocket.accept"})
            return _AsgiAdapter(receive, send)

        async def reject(status: int) -> None:
            if "websocket.http.response" in extensions:
                body = json.dumps({"message": "Forbidden"}).encode()
                await send(
                    {
                        "type": "websocket.http.response.start",
                        "status": status,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "websocket.http.response.body", "body": body})
            else:
                await send({"type": "websocket.close", "code": 1008})

        await run_session(self.emulator.service, token, accept, reject)


class _Refused(Exception):
    """A request refused before routing (too large, too slow); carries the answer."""

    def __init__(self, response: _Response) -> None:
        super().__init__(response.status)
        self.response = response


class _AbortSocket(Exception):
    """Raised out of the ASGI app to make the server drop the connection."""


class _AsgiAdapter:
    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self._closed = False

    async def receive_text(self) -> str:
        while True:
            if self._closed:
                raise AdapterClosed
            message = await self._receive()
            if message["type"] == "websocket.disconnect":
                self._closed = True
                raise AdapterClosed
            if message["type"] == "websocket.receive":
                text = message.get("text")
                if text is None:
                    raw = message.get("bytes") or b""
                    text = raw.decode("utf-8", errors="replace")
                return str(text)

    async def send_text(self, text: str) -> None:
        if self._closed:
            raise AdapterClosed
        try:
            await self._send({"type": "websocket.send", "text": text})
        except Exception as exc:
            self._closed = True
            raise AdapterClosed from exc

    async def close(self, code: int, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except Exception as exc:
            raise AdapterClosed from exc

    async def abort(self) -> None:
        self._closed = True
        raise _AbortSocket
