"""GetTranscript semantics (protocol.md §5), driven with boto3's connectparticipant client."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import ThreadedServer
from .test_boto3 import TEXT, connect, start


@pytest.fixture(scope="module")
def filled(threaded_server: ThreadedServer) -> tuple[Any, str, list[dict[str, Any]], str]:
    """A chat with 25 messages: (client, connection token, all items oldest first, contact)."""
    cp = threaded_server.client("connectparticipant")
    chat = start(threaded_server)
    token = connect(threaded_server, chat["ParticipantToken"])[
        "ConnectionCredentials"]["ConnectionToken"]
    for n in range(25):
        cp.send_message(ConnectionToken=token, ContentType=TEXT, Content=f"m{n}")
    contact = httpx.get(
        f"{threaded_server.endpoint_url}/emulator/contacts/{chat['ContactId']}").json()
    return cp, token, contact["Transcript"], chat["ContactId"]


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [i["Id"] for i in items]


def all_pages(cp: Any, token: str, **kw: Any) -> tuple[list[list[dict[str, Any]]], Any]:
    pages = []
    last_token: Any = None
    while True:
        answer = cp.get_transcript(ConnectionToken=token, **kw)
        pages.append(answer["Transcript"])
        last_token = answer.get("NextToken")
        if not last_token:
            return pages, last_token
        kw["NextToken"] = last_token


def test_default_is_backward_descending_ten(filled: Any) -> None:
    cp, token, items, _ = filled
    answer = cp.get_transcript(ConnectionToken=token)
    assert ids(answer["Transcript"]) == ids(items[::-1][:10])
    assert answer["InitialContactId"] and answer["NextToken"]


@pytest.mark.parametrize("sort_order", ["ASCENDING", "DESCENDING"])
@pytest.mark.parametrize("max_results", [1, 7, 10, 100])
def test_backward_pages_cover_everything_once(filled: Any, sort_order: str,
                                              max_results: int) -> None:
    cp, token, items, _ = filled
    pages, last = all_pages(cp, token, SortOrder=sort_order, MaxResults=max_results)
    assert last == ""  # the last page carries an empty NextToken
    newest_first = ids(items[::-1])
    for n, page in enumerate(pages):
        expected = newest_first[n * max_results:(n + 1) * max_results]
        if sort_order == "ASCENDING":
            expected = expected[::-1]
        assert ids(page) == expected
    assert sum(len(p) for p in pages) == len(items)


@pytest.mark.parametrize("sort_order", ["ASCENDING", "DESCENDING"])
@pytest.mark.parametrize("scan", ["FORWARD", "BACKWARD", None])
@pytest.mark.parametrize("kind", ["Id", "AbsoluteTime", "MostRecent"])
def test_start_positions(filled: Any, sort_order: str, scan: str | None, kind: str) -> None:
    cp, token, items, _ = filled
    anchor_index = 12
    anchor = items[anchor_index]
    start: dict[str, Any]
    if kind == "Id":
        start = {"Id": anchor["Id"]}
        forward = items[anchor_index:]
        backward = items[:anchor_index + 1][::-1]
    elif kind == "AbsoluteTime":
        start = {"AbsoluteTime": anchor["AbsoluteTime"]}
        forward = [i for i in items if i["AbsoluteTime"] >= anchor["AbsoluteTime"]]
        backward = [i for i in items if i["AbsoluteTime"] <= anchor["AbsoluteTime"]][::-1]
    else:
        most_recent = len(items) - 1 - anchor_index
        start = {"MostRecent": most_recent}
        forward = items[anchor_index:]
        backward = items[:anchor_index + 1][::-1]
    kw: dict[str, Any] = {"StartPosition": start, "SortOrder": sort_order, "MaxResults": 4}
    if scan is not None:
        kw["ScanDirection"] = scan
    pages, _ = all_pages(cp, token, **kw)
    scanned = forward if scan in ("FORWARD", None) else backward  # default with a start: FORWARD
    for n, page in enumerate(pages):
        expected = scanned[n * 4:(n + 1) * 4]
        ascending = sorted(expected, key=items.index)
        assert ids(page) == ids(ascending if sort_order == "ASCENDING" else ascending[::-1])
    assert sum(len(p) for p in pages) == len(scanned)


def test_max_results_zero_means_default(filled: Any) -> None:
    cp, token, _items, _ = filled
    assert len(cp.get_transcript(ConnectionToken=token, MaxResults=0)["Transcript"]) == 10


def test_foreign_next_token_refused(filled: Any, threaded_server: ThreadedServer) -> None:
    cp, token, _, _ = filled
    next_token = cp.get_transcript(ConnectionToken=token)["NextToken"]
    other = start(threaded_server)
    other_token = connect(threaded_server, other["ParticipantToken"])[
        "ConnectionCredentials"]["ConnectionToken"]
    with pytest.raises(cp.exceptions.ValidationException):
        cp.get_transcript(ConnectionToken=other_token, NextToken=next_token)


def test_persistent_chat_carries_related_contact_id(threaded_server: ThreadedServer) -> None:
    cp = threaded_server.client("connectparticipant")
    first = start(threaded_server)
    token = connect(threaded_server, first["ParticipantToken"])[
        "ConnectionCredentials"]["ConnectionToken"]
    old = cp.send_message(ConnectionToken=token, ContentType=TEXT, Content="before")
    cp.disconnect_participant(ConnectionToken=token)
    second = start(threaded_server, PersistentChat={
        "RehydrationType": "ENTIRE_PAST_SESSION", "SourceContactId": first["ContactId"]})
    assert second["ContinuedFromContactId"] == first["ContactId"]
    token2 = connect(threaded_server, second["ParticipantToken"])[
        "ConnectionCredentials"]["ConnectionToken"]
    new = cp.send_message(ConnectionToken=token2, ContentType=TEXT, Content="after")
    items = cp.get_transcript(ConnectionToken=token2, MaxResults=100,
                              SortOrder="ASCENDING")["Transcript"]
    by_id = {i["Id"]: i for i in items}
    assert by_id[old["Id"]]["RelatedContactId"] == first["ContactId"]
    assert "RelatedContactId" not in by_id[new["Id"]]
    assert ids(items).index(old["Id"]) < ids(items).index(new["Id"])
    # a StartPosition only applies to the current contact's items
    forward = cp.get_transcript(ConnectionToken=token2, MaxResults=100,
                                StartPosition={"MostRecent": 100})["Transcript"]
    assert old["Id"] not in ids(forward) and new["Id"] in ids(forward)
    past_only = cp.get_transcript(ConnectionToken=token2, ContactId=first["ContactId"],
                                  MaxResults=100)["Transcript"]
    assert old["Id"] in ids(past_only) and new["Id"] not in ids(past_only)
