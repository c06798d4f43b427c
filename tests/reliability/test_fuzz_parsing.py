"""Hypothesis fuzzing of frame and item parsing (participant.model).

``decode_chat_frame`` and ``parse_item`` take anything a websocket or GetTranscript can
carry. They return a typed :class:`Item` or raise the documented
:class:`~participant.errors.InvalidFrameError`; never another exception. Whatever they
return has ``id`` and ``absolute_time``, is hashable, and goes back to the same wire dict.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from participant.errors import InvalidFrameError
from participant.model import (
    ChatItemType,
    ContentType,
    Item,
    UnknownItem,
    decode_chat_frame,
    item_to_wire,
    parse_item,
)

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

ITEM_KEYS = [
    "Id",
    "AbsoluteTime",
    "Type",
    "ContentType",
    "Content",
    "ParticipantId",
    "DisplayName",
    "ParticipantRole",
    "ContactId",
    "InitialContactId",
    "RelatedContactId",
    "Attachments",
    "MessageMetadata",
]
known_content_types = st.sampled_from(
    [v for k, v in vars(ContentType).items() if k.isupper() and isinstance(v, str)]
)
known_types = st.sampled_from(
    [v for k, v in vars(ChatItemType).items() if k.isupper() and isinstance(v, str)]
    + ["MESSAGEMETADATA", "SOMETHING_NEW"]
)

# Item-shaped dicts: known keys with plausible or arbitrary values, plus unknown keys.
field_values: dict[str, st.SearchStrategy[Any]] = {
    "Id": st.text(max_size=40) | json_values,
    "AbsoluteTime": st.sampled_from(
        ["2019-11-08T02:41:28.172Z", "2019-11-08T02:41:28Z", "not a time", ""]
    )
    | json_values,
    "Type": known_types | json_values,
    "ContentType": known_content_types | json_values,
    "Attachments": st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "AttachmentId": json_values,
                "AttachmentName": json_values,
                "ContentType": json_values,
                "Status": st.sampled_from(["APPROVED", "REJECTED", "IN_PROGRESS", "X"]),
            },
        ),
        max_size=3,
    )
    | json_values,
    "MessageMetadata": st.fixed_dictionaries(
        {},
        optional={
            "MessageId": json_values,
            "Receipts": st.lists(st.dictionaries(st.text(max_size=25), json_values), max_size=2)
            | json_values,
            "MessageProcessingStatus": json_values,
            "MessageCompleted": st.booleans() | json_values,
            "ChunkNumber": st.integers(0, 5) | json_values,
        },
    )
    | json_values,
}
item_dicts = st.fixed_dictionaries(
    {},
    optional={k: field_values.get(k, st.text(max_size=30) | json_values) for k in ITEM_KEYS},
).flatmap(
    lambda d: st.dictionaries(st.text(max_size=10), json_values, max_size=3).map(
        lambda extra: {**extra, **d}
    )
)


def _check_item(item: Item, wire: dict[str, Any]) -> None:
    assert isinstance(item, Item)
    # documented attributes are always present
    _ = (item.id, item.absolute_time, item.content_type, item.type)
    hash(item)
    repr(item)
    assert item_to_wire(item) == wire
    _check_types(item)
    assert isinstance(item.complete, bool)


def _is(value: Any, *types: type) -> bool:
    return value is None or (type(value) in types)


def _check_types(item: Item) -> None:
    """No attribute holds a value of a JSON type other than its annotation's (issue 11,
    point 14): a wrong-typed value stays in ``extra``."""
    for name in ("id", "absolute_time", "type", "content_type", "content", "participant_id",
                 "display_name", "participant_role", "related_contact_id", "contact_id",
                 "initial_contact_id"):
        assert _is(getattr(item, name), str), name
    for attachment in item.attachments or ():
        for name in ("content_type", "attachment_id", "attachment_name", "status"):
            assert _is(getattr(attachment, name), str), name
    metadata = item.message_metadata
    if metadata is not None:
        assert _is(metadata.message_id, str) and _is(metadata.message_processing_status, str)
        assert _is(metadata.message_completed, bool)
        assert _is(metadata.chunk_number, int)
        for receipt in metadata.receipts or ():
            for name in ("delivered_timestamp", "read_timestamp", "recipient_participant_id"):
                assert _is(getattr(receipt, name), str), name


@FUZZ
@given(wire=item_dicts)
def test_parse_item_on_item_shaped_dicts(wire: dict[str, Any]) -> None:
    _check_item(parse_item(wire), wire)


@FUZZ
@given(wire=json_values)
def test_parse_item_on_any_json_value(wire: Any) -> None:
    try:
        item = parse_item(wire)
    except InvalidFrameError:
        assert not isinstance(wire, dict)
        return
    _check_item(item, wire)


@st.composite
def chat_frames(draw: st.DrawFn) -> dict[str, Any]:
    content = draw(
        st.one_of(
            item_dicts.map(json.dumps),  # the service's form: JSON inside a string
            item_dicts,  # already decoded
            json_values.map(json.dumps),  # a JSON string of anything
            st.text(max_size=30),  # not JSON
            json_values,
        )
    )
    frame: dict[str, Any] = {"topic": draw(st.sampled_from(["aws/chat"]) | json_values)}
    if draw(st.booleans()):
        frame["content"] = content
    if draw(st.booleans()):
        frame["contentType"] = draw(st.just("application/json") | json_values)
    return frame


@FUZZ
@given(frame=chat_frames())
def test_decode_chat_frame_gives_an_item_or_invalid_frame_error(frame: dict[str, Any]) -> None:
    try:
        item = decode_chat_frame(frame)
    except InvalidFrameError as exc:
        assert str(exc)  # says what is wrong
        return
    assert frame["topic"] == "aws/chat"
    content = frame["content"]
    wire = json.loads(content) if isinstance(content, str) else content
    _check_item(item, wire)


@FUZZ
@given(frame=json_values)
def test_decode_chat_frame_on_any_json_value(frame: Any) -> None:
    try:
        decode_chat_frame(frame)
    except InvalidFrameError:
        pass


def test_unknown_content_types_are_kept_not_dropped() -> None:
    wire = {"Id": "x", "Type": "EVENT", "ContentType": "application/vnd.example.new"}
    item = decode_chat_frame({"topic": "aws/chat", "content": json.dumps(wire)})
    assert isinstance(item, UnknownItem)
    assert item_to_wire(item) == wire
