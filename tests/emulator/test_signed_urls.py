"""Presigned attachment download URLs are signed (HMAC over path + expiry) and checked."""

from __future__ import annotations

import urllib.parse

import trio
import trio.testing

from participant.emulator import Emulator, StartedChat

from .helpers import Raw


async def attachment_url(emulator: Emulator, chat: StartedChat,
                         **extra: object) -> tuple[Raw, str, str]:
    raw = Raw(emulator)
    token = (await raw.connect(chat.participant_token))["ConnectionCredentials"][
        "ConnectionToken"]
    up = await raw.ok("/participant/start-attachment-upload", token, {
        "ContentType": "text/plain", "AttachmentSizeInBytes": 3,
        "AttachmentName": "a.txt", "ClientToken": "u"})
    meta = up["UploadMetadata"]
    assert (await raw.http.put(meta["Url"], content=b"abc",
                               headers=meta["HeadersToInclude"])).status_code == 200
    await raw.ok("/participant/complete-attachment-upload", token,
                 {"AttachmentIds": [up["AttachmentId"]], "ClientToken": "c"})
    got = await raw.ok("/participant/attachment", token,
                       {"AttachmentId": up["AttachmentId"], **extra})
    return raw, token, str(got["Url"])


def edited(url: str, **changes: str | None) -> str:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


async def test_edited_download_url_is_refused(emulator: Emulator,
                                              emulator_chat: StartedChat) -> None:
    raw, _, url = await attachment_url(emulator, emulator_chat, UrlExpiryInSeconds=5)
    assert (await raw.http.get(url)).content == b"abc"
    for forged in (
        edited(url, Expires="99999999999"),  # "download forever"
        edited(url, **{"X-Amz-Expires": "300"}),
        edited(url, **{"X-Amz-Signature": None}),
        edited(url, **{"X-Amz-Signature": "0" * 64}),
        edited(url, **{"response-content-disposition": "inline"}),
        url.replace("/emulator-storage/", "/emulator-storage/x"),
        url + "&Expires=99999999999",  # a repeated parameter
    ):
        answer = await raw.http.get(forged)
        assert answer.status_code == 403, forged
        assert b"<Code>" in answer.content
        assert b"abc" not in answer.content


async def test_signature_is_per_emulator(emulator_chat: StartedChat, emulator: Emulator) -> None:
    _, _, url = await attachment_url(emulator, emulator_chat)
    other = Emulator()
    async with other.run():
        chat = await other.start_chat()
        other_raw, _, other_url = await attachment_url(other, chat)
        # the same path and expiry signed by this emulator's key does not open the other's
        swapped = edited(other_url, **{
            "X-Amz-Signature": dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))[
                "X-Amz-Signature"]})
        assert (await other_raw.http.get(swapped)).status_code == 403


async def test_download_url_expires(emulator: Emulator, emulator_chat: StartedChat,
                                    autojump_clock: trio.testing.MockClock) -> None:
    raw, _, url = await attachment_url(emulator, emulator_chat, UrlExpiryInSeconds=5)
    await trio.sleep(6)
    answer = await raw.http.get(url)
    assert answer.status_code == 403
    assert b"expired" in answer.content


async def test_custom_bot_may_not_get_attachments(emulator: Emulator,
                                                  emulator_chat: StartedChat) -> None:
    raw, _, _ = await attachment_url(emulator, emulator_chat)
    bot = await emulator.add_participant(emulator_chat.contact_id, role="CUSTOM_BOT",
                                         display_name="Bot")
    bot_token = (await raw.connect(bot.participant_token))["ConnectionCredentials"][
        "ConnectionToken"]
    (item,) = [i for i in emulator.transcript(emulator_chat.contact_id)
               if i["Type"] == "ATTACHMENT"]
    answer = await raw.call("/participant/attachment", bot_token,
                            {"AttachmentId": item["Attachments"][0]["AttachmentId"]})
    assert answer.status_code == 403
    assert answer.headers["x-amzn-errortype"] == "AccessDeniedException"


async def test_rejected_attachment_cannot_be_downloaded_with_an_old_url(
    emulator: Emulator, emulator_chat: StartedChat
) -> None:
    raw, _, url = await attachment_url(emulator, emulator_chat)
    (item,) = [i for i in emulator.transcript(emulator_chat.contact_id)
               if i["Type"] == "ATTACHMENT"]
    await emulator.set_attachment_status(item["Attachments"][0]["AttachmentId"], "REJECTED")
    assert (await raw.http.get(url)).status_code == 403
