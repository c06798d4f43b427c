"""The admin/fault HTTP API under ``/emulator/`` (JSON in, JSON out; see docs/emulator.md).

It lets a test in another process drive a chat: add agents or bots, send as them,
transfer, end the chat, and inject faults. Errors use the service's error format.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from participant.emulator.service import JSON, ApiError

if TYPE_CHECKING:
    from participant.emulator.core import Emulator

_CONTACT = re.compile(r"^/emulator/contacts/(?P<contact>[^/]+)(?P<rest>/.*)?$")
_PARTICIPANT = re.compile(r"^/participants/(?P<participant>[^/]+)/(?P<action>[a-z-]+)$")
_ATTACHMENT = re.compile(r"^/emulator/attachments/(?P<attachment>[^/]+)/status$")
_AUTH = re.compile(r"^/emulator/authentication/(?P<session>[^/]+)(?P<rest>/complete|/expire)?$")


def _str(data: dict[str, Any], name: str, default: str | None = None) -> str:
    value = data.get(name, default)
    if not isinstance(value, str) or not value:
        raise ApiError("ValidationException", f"{name} is required (a non-empty string)")
    return value


def _opt_seconds(data: dict[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ApiError("ValidationException", f"Value '{value}' at '{name}': must be a number > 0")
    return float(value)


def _opt_str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise ApiError("ValidationException", f"{name} must be a string")
    return value


async def handle_admin(
    emulator: Emulator, method: str, path: str, data: dict[str, Any]
) -> tuple[int, JSON]:
    """Route one admin request; returns (status, JSON answer) or raises ApiError."""
    readable = path.startswith(("/emulator/contacts/", "/emulator/authentication/"))
    if method != "POST" and not (method == "GET" and readable):
        raise ApiError(
            "ValidationException",
            "Admin routes are POST (GET for a contact or an authentication session)",
            405,
        )
    faults = emulator.faults
    auth = _AUTH.match(path)
    if auth is not None:
        return 200, await _authentication(emulator, method, auth, data)
    if path == "/emulator/contacts":
        chat = await emulator.start_chat(
            _str(data, "DisplayName", "Customer"),
            instance_id=_opt_str(data, "InstanceId"),
            initial_message=_opt_str(data, "InitialMessage"),
            source_contact_id=_opt_str(data, "SourceContactId"),
        )
        return 200, {
            "ContactId": chat.contact_id,
            "ParticipantId": chat.participant_id,
            "ParticipantToken": chat.participant_token,
        }
    if path.startswith("/emulator/faults/"):
        return 200, _fault(emulator, path.removeprefix("/emulator/faults/"), data)
    attachment = _ATTACHMENT.match(path)
    if attachment is not None:
        item = await emulator.set_attachment_status(
            attachment.group("attachment"), _str(data, "Status")
        )
        return 200, {"Id": item["Id"], "AbsoluteTime": item["AbsoluteTime"]}
    if path == "/emulator/rate-limits":
        enabled = data.get("Enabled")
        if not isinstance(enabled, bool):
            raise ApiError("ValidationException", "Enabled must be a boolean")
        faults.set_rate_limits(enabled)
        return 200, {"Enabled": enabled}
    match = _CONTACT.match(path)
    if match is None:
        raise ApiError("ResourceNotFoundException", "Unknown admin route", 404)
    contact_id = match.group("contact")
    rest = match.group("rest") or ""
    contact = emulator.service.contact(contact_id)
    if method == "GET" and rest == "":
        return 200, {
            "ContactId": contact.contact_id,
            "InstanceId": contact.instance_id,
            "Ended": contact.ended,
            "Participants": [
                {
                    "ParticipantId": p.participant_id,
                    "ParticipantRole": p.role,
                    "DisplayName": p.display_name,
                    "Left": p.left,
                    "OpenSockets": len(p.sockets),
                }
                for p in contact.participants.values()
            ],
            "Transcript": emulator.transcript(contact_id),
        }
    if method == "GET":
        raise ApiError("ResourceNotFoundException", "Unknown admin route", 404)
    if rest == "/participants":
        handle = await emulator.add_participant(
            contact_id,
            role=_str(data, "ParticipantRole", "AGENT"),
            display_name=_str(data, "DisplayName", "Agent"),
        )
        return 200, {
            "ParticipantId": handle.participant_id,
            "ParticipantToken": handle.participant_token,
        }
    if rest == "/end":
        await emulator.end_chat(contact_id)
        return 200, {}
    if rest == "/interactive-messages":
        template = data.get("Template")
        if template is None:
            raise ApiError("ValidationException", "Template is required (an object or JSON text)")
        if not isinstance(template, dict | str):
            raise ApiError("ValidationException", "Template must be an object or JSON text")
        item = await emulator.send_interactive_message(
            contact_id, template, participant_id=_opt_str(data, "ParticipantId")
        )
        return 200, {"Id": item["Id"], "AbsoluteTime": item["AbsoluteTime"]}
    if rest == "/streamed-reply":
        chunks = data.get("Chunks")
        if (
            not isinstance(chunks, list)
            or not chunks
            or not all(isinstance(c, str) and c for c in chunks)
        ):
            raise ApiError("ValidationException", "Chunks must be a non-empty list of strings")
        interval = data.get("Interval", 0.05)
        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval < 0:
            raise ApiError("ValidationException", f"Value '{interval}' at 'Interval': must be >= 0")
        try:
            message_id = emulator.start_streamed_reply(
                contact_id,
                chunks,
                interval=float(interval),
                display_name=_str(data, "DisplayName", "BOT"),
            )
        except ValueError as exc:
            raise ApiError("ValidationException", str(exc)) from None
        return 200, {"Id": message_id}
    if rest == "/timeouts":
        emulator.set_chat_timeouts(
            contact_id,
            customer_idle=_opt_seconds(data, "CustomerIdle"),
            customer_auto_disconnect=_opt_seconds(data, "CustomerAutoDisconnect"),
            agent_idle=_opt_seconds(data, "AgentIdle"),
            agent_auto_disconnect=_opt_seconds(data, "AgentAutoDisconnect"),
        )
        return 200, {}
    if rest == "/transfer":
        succeeded = data.get("Succeeded", True)
        if not isinstance(succeeded, bool):
            raise ApiError("ValidationException", "Succeeded must be a boolean")
        new = await emulator.transfer(
            contact_id, succeeded=succeeded, display_name=_opt_str(data, "DisplayName")
        )
        if new is None:
            return 200, {}
        return 200, {"ParticipantId": new.participant_id, "ParticipantToken": new.participant_token}
    sub = _PARTICIPANT.match(rest)
    if sub is None:
        raise ApiError("ResourceNotFoundException", "Unknown admin route", 404)
    participant_id = sub.group("participant")
    action = sub.group("action")
    if action == "messages":
        item = await emulator.send_message_as(
            contact_id,
            participant_id,
            content=_str(data, "Content"),
            content_type=_str(data, "ContentType", "text/plain"),
        )
        return 200, {"Id": item["Id"], "AbsoluteTime": item["AbsoluteTime"]}
    if action == "events":
        item = await emulator.send_event_as(
            contact_id,
            participant_id,
            content_type=_str(data, "ContentType"),
            content=_opt_str(data, "Content"),
        )
        return 200, {"Id": item["Id"], "AbsoluteTime": item["AbsoluteTime"]}
    if action == "disconnect":
        emulator.check_member(contact_id, participant_id)
        await emulator.disconnect_participant(participant_id)
        return 200, {}
    if action == "authentication":
        emulator.check_member(contact_id, participant_id)
        return 200, {"SessionId": await emulator.initiate_authentication(participant_id)}
    raise ApiError("ResourceNotFoundException", "Unknown admin route", 404)


async def _authentication(
    emulator: Emulator, method: str, match: re.Match[str], data: dict[str, Any]
) -> JSON:
    session_id = match.group("session")
    if method == "GET":
        if match.group("rest"):
            raise ApiError("ResourceNotFoundException", "Unknown admin route", 404)
        session = emulator.service.auth_session(session_id)
        return {
            "SessionId": session.session_id,
            "ContactId": session.contact_id,
            "ParticipantId": session.participant_id,
            "State": session.state,
            "RedirectUri": session.redirect_uri,
        }
    if not match.group("rest"):
        raise ApiError("ResourceNotFoundException", "Unknown admin route", 404)
    if match.group("rest") == "/expire":
        item = await emulator.expire_authentication(session_id)
        return {"Id": item["Id"], "AbsoluteTime": item["AbsoluteTime"]}
    succeeded = data.get("Succeeded", True)
    if not isinstance(succeeded, bool):
        raise ApiError("ValidationException", "Succeeded must be a boolean")
    item = await emulator.complete_authentication(session_id, succeeded=succeeded)
    return {"Id": item["Id"], "AbsoluteTime": item["AbsoluteTime"]}


def _fault(emulator: Emulator, name: str, data: dict[str, Any]) -> JSON:
    faults = emulator.faults
    try:
        if name == "drop-sockets":
            count = data.get("Count")
            if count is not None and (not isinstance(count, int) or count < 1):
                raise ApiError("ValidationException", "Count must be a positive integer")
            dropped = faults.drop_sockets(
                _str(data, "ParticipantId"),
                close_frame=bool(data.get("CloseFrame", True)),
                count=count,
            )
            return {"Dropped": dropped}
        if name == "stop-heartbeats":
            faults.stop_heartbeats(_str(data, "ParticipantId"))
            return {}
        if name == "resume-heartbeats":
            faults.resume_heartbeats(_str(data, "ParticipantId"))
            return {}
        if name == "fail-next":
            count = data.get("Count", 1)
            status = data.get("Status", 429)
            if not isinstance(count, int) or not isinstance(status, int):
                raise ApiError("ValidationException", "Count and Status must be integers")
            faults.fail_next(_str(data, "Operation"), count, status=status)
            return {}
        if name == "expire-connection-token":
            return {"Expired": faults.expire_connection_token(_str(data, "ParticipantId"))}
        if name == "expire-websocket-url":
            return {"Expired": faults.expire_websocket_url(_str(data, "ParticipantId"))}
        if name == "expire-connection":
            return {"Closed": faults.expire_connection(_str(data, "ParticipantId"))}
        if name == "delay-frames":
            seconds = data.get("Seconds")
            if not isinstance(seconds, int | float):
                raise ApiError("ValidationException", "Seconds must be a number")
            faults.delay_frames(float(seconds), _opt_str(data, "ParticipantId"))
            return {}
        if name == "reorder-frames":
            batch = data.get("Batch")
            if not isinstance(batch, int):
                raise ApiError("ValidationException", "Batch must be an integer")
            faults.reorder_frames(batch, _opt_str(data, "ParticipantId"))
            return {}
        if name == "end-chat":
            faults.end_chat(_str(data, "ContactId"))
            return {}
        if name == "reset":
            faults.reset()
            return {}
    except ValueError as exc:
        raise ApiError("ValidationException", str(exc)) from None
    raise ApiError("ResourceNotFoundException", "Unknown fault", 404)
