"""ValidationException messages quote the offending value, as the service words them."""

from __future__ import annotations

import pytest

from participant.emulator import Emulator, StartedChat

from .helpers import Raw


@pytest.mark.parametrize(("path", "body", "expected"), [
    ("/participant/start-attachment-upload",
     {"ContentType": "text/plain", "AttachmentSizeInBytes": 3, "AttachmentName": "run.exe",
      "ClientToken": "a"},
     "Value 'run.exe' at 'attachmentName' failed to satisfy constraint: File type .exe"),
    ("/participant/transcript", {"SortOrder": "SIDEWAYS"},
     "Value 'SIDEWAYS' at 'sortOrder' failed to satisfy constraint"),
    ("/participant/message", {"ContentType": "text/html", "Content": "x"},
     "Value 'text/html' at 'contentType' failed to satisfy constraint"),
    ("/participant/message", {"ContentType": "text/plain"},
     "Value 'null' at 'content' failed to satisfy constraint: Member must not be null"),
    ("/participant/transcript", {"MaxResults": 101},
     "Value '101' at 'maxResults' failed to satisfy constraint"),
    ("/participant/attachment", {"AttachmentId": "no-such-id"},
     "Value 'no-such-id' at 'attachmentId' failed to satisfy constraint"),
])
async def test_message_quotes_the_value(emulator: Emulator, emulator_chat: StartedChat,
                                        path: str, body: dict[str, object],
                                        expected: str) -> None:
    raw = Raw(emulator)
    token = (await raw.connect(emulator_chat.participant_token))["ConnectionCredentials"][
        "ConnectionToken"]
    answer = await raw.call(path, token, body)
    assert answer.status_code == 400
    message = answer.json()["message"]
    assert message.startswith("1 validation error detected: ")
    assert expected in message


async def test_long_values_are_cut(emulator: Emulator, emulator_chat: StartedChat) -> None:
    raw = Raw(emulator)
    token = (await raw.connect(emulator_chat.participant_token))["ConnectionCredentials"][
        "ConnectionToken"]
    answer = await raw.call("/participant/message", token,
                            {"ContentType": "x" * 500, "Content": "hi"})
    message = answer.json()["message"]
    assert "Value '" + "x" * 200 + "...' at 'contentType'" in message


def test_emulator_tokens_never_start_like_a_command_line_option() -> None:
    # secrets.token_urlsafe starts with "-" about once in 64; such a token broke
    # `participant chat --participant-token TOKEN` (argparse took it for an option)
    from participant.emulator._wire import new_secret

    assert all(new_secret()[0].isalnum() for _ in range(2000))
