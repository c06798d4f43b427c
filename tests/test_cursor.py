"""participant.cursor: the Cursor's JSON form, its validation, MemoryCursor."""

from __future__ import annotations

import json

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from participant.cursor import (
    Cursor,
    CursorError,
    CursorHandle,
    CursorItem,
    CursorStream,
    MemoryCursor,
)

TIME = "2026-12-01T10:00:00.000Z"

CURSOR = Cursor(
    contact_id="c-1",
    participant_id="p-1",
    acked_id="m2",
    acked_time=TIME,
    acked=(CursorItem(id="m1", absolute_time=TIME), CursorItem(id="m2", absolute_time=TIME,
                                                               revision=2, fingerprint="0" * 16,
                                                               complete=False)),
    unacked=(CursorItem(id="m3"),),
    streams=(CursorStream(id="r", absolute_time=TIME, revision=3, chunk_number=3,
                          content="Hé, wörld"),),
)


def test_round_trip_and_version() -> None:
    text = CURSOR.to_json()
    data = json.loads(text)
    assert data["version"] == Cursor.VERSION == 1
    assert Cursor.from_json(text) == CURSOR
    assert Cursor.from_json(text.encode()) == CURSOR
    assert Cursor.from_json(Cursor().to_json()) == Cursor()


def test_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        CURSOR.acked_id = "x"  # type: ignore[misc]


texts = st.text(max_size=5)
items = st.builds(CursorItem, id=texts, absolute_time=st.none() | texts,
                  revision=st.integers(1, 9), fingerprint=st.none() | texts,
                  complete=st.booleans())
streams = st.builds(CursorStream, id=texts, absolute_time=st.none() | texts,
                    revision=st.integers(1, 9), chunk_number=st.integers(1, 9), content=texts)


@given(st.builds(Cursor, contact_id=st.none() | texts, participant_id=st.none() | texts,
                 acked_id=st.none() | texts, acked_time=st.none() | texts,
                 acked=st.lists(items, max_size=3).map(tuple),
                 unacked=st.lists(items, max_size=3).map(tuple),
                 unacked_from=st.none() | texts, unacked_until=st.none() | texts,
                 streams=st.lists(streams, max_size=2).map(tuple)))
def test_any_cursor_round_trips(cursor: Cursor) -> None:
    assert Cursor.from_json(cursor.to_json()) == cursor


def _with(**changes: object) -> str:
    data = json.loads(CURSOR.to_json())
    for path, value in changes.items():
        target = data
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        target[keys[-1]] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{nope", "cursor: not JSON"),
        ("[1]", "cursor: expected a JSON object, got list"),
        (_with(version=2), "cursor.version: expected 1, got 2"),
        (json.dumps({"acked": []}), "cursor.version: expected 1, got None"),
        (_with(surprise=1), "cursor: unknown key 'surprise'"),
        (_with(contact_id=5), "cursor.contact_id: expected str or null, got int"),
        (_with(acked="x"), "cursor.acked: expected a list, got str"),
        (_with(acked__1__revision=True), "cursor.acked[1].revision: expected int, got bool"),
        (_with(acked__0__revision=0), "cursor.acked[0].revision: must be >= 1, got 0"),
        (_with(unacked__0__id=None), "cursor.unacked[0].id: expected str, got NoneType"),
        (_with(unacked=[{}]), "cursor.unacked[0].id: missing"),
        (_with(unacked=[7]), "cursor.unacked[0]: expected a JSON object, got int"),
        (_with(streams__0__content=["x"]), "cursor.streams[0].content: expected str, got list"),
        (_with(streams__0__x=1), "cursor.streams[0]: unknown key 'x'"),
        (_with(acked__0__complete="yes"), "cursor.acked[0].complete: expected bool, got str"),
    ],
)
def test_bad_cursors_name_the_field(text: str, message: str) -> None:
    with pytest.raises(CursorError) as caught:
        Cursor.from_json(text)
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, ValueError)


async def test_memory_cursor_is_a_cursor_handle() -> None:
    handle = MemoryCursor()
    assert isinstance(handle, CursorHandle)
    assert await handle.load() is None and handle.cursor is None and handle.saves == 0
    await handle.save(CURSOR)
    assert await handle.load() == CURSOR and handle.saves == 1
    assert await MemoryCursor(CURSOR).load() == CURSOR


def test_a_cursor_carries_no_token_fields() -> None:
    names = {f.name for f in attrs.fields(Cursor)}
    assert not any("token" in name for name in names)
