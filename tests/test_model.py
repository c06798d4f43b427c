"""participant.model: wire round trips for every shape, typed items, frames."""

from __future__ import annotations

import json
from typing import Any

import attrs
import botocore.session
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from participant import model
from participant.errors import InvalidFrameError
from participant.model import (
    CONTENT_TYPES,
    ContentType,
    Item,
    decode_chat_frame,
    encode_chat_frame,
    from_wire,
    item_to_wire,
    parse_item,
    to_wire,
)
from participant.model.operations import snake_name

MODEL = botocore.session.get_session().get_service_model("connectparticipant")

# ---------------------------------------------------------------- strategies from the model

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=6,
)


def _shape_strategy(shape: Any) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if kind == "structure":
        members = {name: _shape_strategy(sub) for name, sub in shape.members.items()}
        unknown = st.dictionaries(
            st.text(min_size=1, max_size=8).filter(lambda k: k not in shape.members),
            JSON_VALUES,
            max_size=2,
        )
        return st.tuples(st.fixed_dictionaries({}, optional=members), unknown).map(
            lambda pair: {**pair[1], **pair[0]}
        )
    if kind == "string":
        text = st.text(max_size=20)
        if shape.enum:
            # known values and values the model does not list (kept as plain str)
            return st.sampled_from(shape.enum) | text
        return text
    if kind in ("integer", "long"):
        return st.integers(min_value=-(2**40), max_value=2**40)
    if kind == "boolean":
        return st.booleans()
    if kind == "list":
        return st.lists(_shape_strategy(shape.member), max_size=3)
    if kind == "map":
        return st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3)
    raise AssertionError(f"unexpected shape type {kind}")


def _all_structures() -> dict[str, Any]:
    found: dict[str, Any] = {}

    def walk(shape: Any) -> None:
        if shape is None:
            return
        if shape.type_name == "structure":
            if shape.name in found:
                return
            if not shape.metadata.get("exception"):
                found[shape.name] = shape
            for sub in shape.members.values():
                walk(sub)
        elif shape.type_name == "list":
            walk(shape.member)

    for name in MODEL.operation_names:
        op = MODEL.operation_model(name)
        walk(op.input_shape)
        walk(op.output_shape)
    return found


STRUCTURES = _all_structures()


def test_every_model_structure_has_a_class_with_every_member() -> None:
    assert len(STRUCTURES) >= 30
    for name, shape in STRUCTURES.items():
        cls = getattr(model, name)
        assert attrs.has(cls) and attrs.fields_dict(cls).get("extra") is not None, name
        fields = attrs.fields_dict(cls)
        for member in shape.members:
            assert snake_name(member) in fields, f"{name}.{member}"


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_wire_roundtrip_is_identity(name: str) -> None:
    shape = STRUCTURES[name]
    cls = getattr(model, name)

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_shape_strategy(shape))
    def check(wire: dict[str, Any]) -> None:
        obj = from_wire(cls, wire)
        assert to_wire(obj) == wire
        # every member the model knows lands in its attribute, never in ``extra``
        for member in shape.members:
            if wire.get(member) is not None:
                assert member not in obj.extra
                assert getattr(obj, snake_name(member)) is not None
        # frozen: equal wire gives equal (and, for hashable content, equal-hash) objects
        assert from_wire(cls, json.loads(json.dumps(wire))) == obj

    check()


def test_nulls_and_wrong_types_are_kept_in_extra() -> None:
    wire = {"Id": None, "Attachments": "not-a-list", "MessageMetadata": [1], "Content": {"a": 1}}
    item = parse_item(wire)
    assert item.id is None and item.attachments is None and item.content is None
    assert item_to_wire(item) == wire


def _spoiled(shape: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Wire dicts of ``shape`` where some members are null or of a wrong JSON type."""
    return _shape_strategy(shape).flatmap(
        lambda wire: st.fixed_dictionaries(
            {key: st.just(value) | st.none() | JSON_VALUES for key, value in wire.items()}
        )
    )


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_compiled_decoder_matches_the_general_one(name: str) -> None:
    """Each class's compiled decoder (slots set directly) gives the object the general
    decoder and the attrs ``__init__`` give, for clean and spoiled wire dicts alike."""
    from participant.model._wire import _from_wire_general

    cls = getattr(model, name)

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_shape_strategy(STRUCTURES[name]) | _spoiled(STRUCTURES[name]))
    def check(wire: dict[str, Any]) -> None:
        obj = from_wire(cls, wire)
        assert obj == _from_wire_general(cls, wire)
        assert obj == cls(**attrs.asdict(obj, recurse=False))  # every slot set
        assert to_wire(obj) == wire

    check()


def test_decoded_objects_are_of_their_own_class_and_frozen() -> None:
    # The compiled decoders call the class (its attrs __init__): no builder class, no
    # __class__ assignment; what they return is the class itself, frozen as ever.
    item = parse_item(ITEM)
    assert type(item) is model.TextMessage
    assert all("builder" not in k.__qualname__ for k in _all_subclasses(Item))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        item.content = "changed"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        del item.content  # type: ignore[misc]
    assert item == model.TextMessage(**attrs.asdict(item, recurse=False))
    assert hash(item) == hash(parse_item(dict(ITEM)))


def _all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_all_subclasses(sub)]
    return out


def test_a_class_with_init_subclass_is_decoded() -> None:
    seen: list[type] = []

    @attrs.frozen(kw_only=True)
    class Noted:
        note: str | None = None

        def __init_subclass__(cls) -> None:
            seen.append(cls)

    noted = from_wire(Noted, {"Note": "n"})
    assert type(noted) is Noted and noted.note == "n" and seen == []  # no subclass made


def test_a_class_that_needs_its_init_is_built_by_calling_it() -> None:
    calls: list[str | None] = []

    @attrs.frozen(kw_only=True)
    class Checked(Item):
        def __attrs_post_init__(self) -> None:
            calls.append(self.content)

    @attrs.define(kw_only=True, slots=False)
    class Unslotted(Item):
        note: str = attrs.field(default="default", validator=attrs.validators.instance_of(str))

    model.register_content_type("application/x-checked", Checked)
    model.register_content_type("application/x-unslotted", Unslotted)
    try:
        item = parse_item({**ITEM, "ContentType": "application/x-checked"})
        assert type(item) is Checked and calls == ["hello"]
        other = parse_item({**ITEM, "ContentType": "application/x-unslotted", "Note": "n"})
        assert type(other) is Unslotted and other.note == "n"
        default = parse_item({**ITEM, "ContentType": "application/x-unslotted"})
        assert default.note == "default"  # the class's own default, not None
    finally:
        del model.items._REGISTRY["application/x-checked"]
        del model.items._REGISTRY["application/x-unslotted"]


@settings(max_examples=300, deadline=None)
@given(
    JSON_VALUES.map(lambda v: json.dumps(v, separators=(",", ":")))
    | st.tuples(JSON_VALUES, st.sampled_from(["", " ", "\n", " x", ",", "]"])).map(
        lambda pair: json.dumps(pair[0]) + pair[1]
    )
    | st.text(max_size=12)
)
def test_loads_is_json_loads(text: str) -> None:
    try:
        expected: Any = json.loads(text)
    except ValueError as exc:
        with pytest.raises(type(exc)) as caught:
            model.loads(text)
        assert str(caught.value) == str(exc)
    else:  # compared as JSON text: "NaN" decodes to a float that is not equal to itself
        assert json.dumps(model.loads(text)) == json.dumps(expected)


# ---------------------------------------------------------------- typed items

ITEM = {
    "Id": "item-1",
    "AbsoluteTime": "2019-11-08T02:41:28.172Z",
    "Type": "MESSAGE",
    "ContentType": "text/plain",
    "Content": "hello",
    "ParticipantId": "p-1",
    "DisplayName": "Customer",
    "ParticipantRole": "CUSTOMER",
    "ContactId": "c-1",
    "InitialContactId": "c-0",
}


@pytest.mark.parametrize("content_type", sorted(CONTENT_TYPES))
def test_registry_gives_the_typed_class(content_type: str) -> None:
    wire = {**ITEM, "ContentType": content_type, "Type": "EVENT"}
    item = parse_item(wire)
    assert type(item) is CONTENT_TYPES[content_type]
    assert isinstance(item, Item)
    assert item.id == "item-1" and item.absolute_time == ITEM["AbsoluteTime"]
    assert item_to_wire(item) == wire


def test_every_protocol_content_type_is_registered() -> None:
    constants = {
        v for k, v in vars(ContentType).items()
        if k.isupper() and isinstance(v, str) and k != "EVENT_PREFIX"
    }
    assert len(constants) >= 30
    assert constants <= set(CONTENT_TYPES)
    names = {cls.__name__ for cls in CONTENT_TYPES.values()}
    assert {"TextMessage", "MarkdownMessage", "JsonMessage", "InteractiveMessage",
            "InteractiveResponse", "Typing", "MessageDelivered", "MessageRead",
            "MessageMetadataEvent", "ParticipantJoined", "ParticipantLeft", "ChatEnded"} <= names


def test_attachment_type_wins_over_content_type() -> None:
    wire = {
        **ITEM,
        "Type": "ATTACHMENT",
        "ContentType": "text/plain",  # the file's MIME type, not a text message
        "Attachments": [{"AttachmentId": "a1", "AttachmentName": "x.txt",
                         "ContentType": "text/plain", "Status": "APPROVED"}],
    }
    item = parse_item(wire)
    assert isinstance(item, model.AttachmentMessage)
    assert item.attachments is not None and item.attachments[0].attachment_id == "a1"


def test_unknown_content_type_and_type_are_kept() -> None:
    wire = {**ITEM, "Type": "BRAND_NEW", "ContentType": "application/vnd.new+json", "Z": [1]}
    item = parse_item(wire)
    assert isinstance(item, model.UnknownItem)
    assert item.type == "BRAND_NEW" and item.extra == {"Z": [1]}
    assert item_to_wire(item) == wire


def test_receipts_arrive_as_messagemetadata() -> None:
    wire = {
        "Id": "r-1",
        "AbsoluteTime": "2019-11-08T02:41:29.000Z",
        "Type": "MESSAGEMETADATA",
        "ContentType": ContentType.MESSAGE_METADATA,
        "MessageMetadata": {
            "MessageId": "item-1",
            "Receipts": [{"DeliveredTimestamp": "2019-11-08T02:41:29.000Z",
                          "RecipientParticipantId": "p-2"}],
        },
    }
    item = parse_item(wire)
    assert isinstance(item, model.MessageMetadataEvent)
    assert item.type == "MESSAGEMETADATA"
    assert item.message_id == "item-1"
    assert item.message_metadata is not None and item.message_metadata.receipts is not None
    assert item.message_metadata.receipts[0].recipient_participant_id == "p-2"
    read = parse_item({**ITEM, "ContentType": ContentType.MESSAGE_READ,
                       "Content": json.dumps({"messageId": "m-9"})})
    assert isinstance(read, model.MessageRead) and read.message_id == "m-9"


def test_items_are_frozen_and_hashable() -> None:
    a = parse_item(ITEM)
    b = parse_item(dict(ITEM))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        a.id = "x"  # type: ignore[misc]
    assert a != parse_item({**ITEM, "ContentType": "text/markdown"})


ITEM_SHAPE = MODEL.shape_for("Item")


@settings(max_examples=100, deadline=None)
@given(_shape_strategy(ITEM_SHAPE) | st.sampled_from(sorted(CONTENT_TYPES)).map(
    lambda ct: {**ITEM, "ContentType": ct}))
def test_transcript_entry_and_socket_frame_give_identical_items(wire: dict[str, Any]) -> None:
    from_transcript = from_wire(model.GetTranscriptResponse, {"Transcript": [wire]}).transcript
    assert from_transcript is not None
    frame = {"topic": "aws/chat", "contentType": "application/json", "content": json.dumps(wire)}
    from_socket = decode_chat_frame(json.loads(json.dumps(frame)))
    assert from_transcript[0] == from_socket
    assert type(from_transcript[0]) is type(from_socket)
    assert item_to_wire(from_socket) == wire
    assert decode_chat_frame(encode_chat_frame(from_socket)) == from_socket


@pytest.mark.parametrize(
    "frame",
    [
        {"topic": "aws/heartbeat"},
        {"topic": "aws/chat", "content": "{not json"},
        {"topic": "aws/chat", "content": "[1, 2]"},
        {"topic": "aws/chat"},
        {"message": "Forbidden", "connectionId": "x", "requestId": "y"},
    ],
)
def test_bad_frames_raise_invalid_frame_error(frame: dict[str, Any]) -> None:
    with pytest.raises(InvalidFrameError):
        decode_chat_frame(frame)


def test_tokens_never_in_repr() -> None:
    secret_p, secret_c, secret_j = "PTOKEN-SECRET", "CTOKEN-SECRET", "JOIN-SECRET"
    objs = [
        from_wire(model.CreateParticipantConnectionResponse, {
            "Websocket": {"Url": "wss://h/?sig=" + secret_c, "ConnectionExpiry": "t"},
            "ConnectionCredentials": {"ConnectionToken": secret_c, "Expiry": "t"},
            "WebRTCConnection": {"Attendee": {"AttendeeId": "a", "JoinToken": secret_j}},
        }),
        model.CreateParticipantConnectionRequest(participant_token=secret_p),
        model.SendMessageRequest(content="x", connection_token=secret_c),
    ]
    for obj in objs:
        text = repr(obj)
        for secret in (secret_p, secret_c, secret_j):
            assert secret not in text
    assert objs[0].connection_credentials.connection_token == secret_c  # type: ignore[union-attr]


def test_start_position_and_request_shapes_serialize() -> None:
    req = model.GetTranscriptRequest(
        max_results=5, start_position=model.StartPosition(most_recent=3), connection_token="c"
    )
    assert to_wire(req) == {"MaxResults": 5, "StartPosition": {"MostRecent": 3},
                            "ConnectionToken": "c"}


# ---------------------------------------------------------------- routing by Type (issue 11)


@pytest.mark.parametrize(
    ("wire", "cls"),
    [
        ({"Type": "MESSAGEMETADATA", "MessageMetadata": {"MessageId": "m"}},
         model.MessageMetadataEvent),
        ({"Type": "MESSAGE", "Content": "hi"}, model.MessageItem),
        ({"Type": "ATTACHMENT", "ContentType": "text/plain"}, model.AttachmentMessage),
        ({"Type": "ATTACHMENT"}, model.AttachmentMessage),
        ({"Type": "TYPING"}, model.Typing),
        ({"Type": "CHAT_ENDED"}, model.ChatEnded),
        ({"Type": "MESSAGE_READ", "Content": '{"messageId":"m"}'}, model.MessageRead),
        ({"Type": "EVENT"}, model.UnknownItem),
        ({"Type": "MESSAGE", "ContentType": "application/x-new"}, model.UnknownItem),
        ({"Type": 7, "ContentType": "text/plain"}, model.TextMessage),
        ({"Type": "MESSAGE", "ContentType": ["text/plain"]}, model.MessageItem),
        ({}, model.UnknownItem),
    ],
)
def test_the_class_is_routed_by_type_then_content_type(wire: dict[str, Any], cls: type) -> None:
    item = parse_item(wire)
    assert type(item) is cls
    assert item_to_wire(item) == wire


def test_a_receipt_without_content_type_names_its_message() -> None:
    item = parse_item({"Type": "MESSAGEMETADATA", "Id": "r",
                       "MessageMetadata": {"MessageId": "m", "Receipts": []}})
    assert isinstance(item, model.MessageMetadataEvent) and item.message_id == "m"


# ---------------------------------------------------------------- wrong JSON types


@pytest.mark.parametrize(
    ("wire", "path", "key"),
    [
        ({**ITEM, "MessageMetadata": {"MessageCompleted": "false"}}, "metadata",
         "MessageCompleted"),
        ({**ITEM, "MessageMetadata": {"ChunkNumber": "2"}}, "metadata", "ChunkNumber"),
        ({**ITEM, "MessageMetadata": {"ChunkNumber": True}}, "metadata", "ChunkNumber"),
        ({**ITEM, "MessageMetadata": {"ChunkNumber": 2.0}}, "metadata", "ChunkNumber"),
        ({**ITEM, "MessageMetadata": {"MessageCompleted": 0}}, "metadata", "MessageCompleted"),
        ({**ITEM, "MessageMetadata": {"MessageId": 5}}, "metadata", "MessageId"),
        ({**ITEM, "Content": 7}, "item", "Content"),
        ({**ITEM, "Id": True}, "item", "Id"),
        ({**ITEM, "AbsoluteTime": 1.5}, "item", "AbsoluteTime"),
        ({**ITEM, "Attachments": [{"Status": 1}]}, "attachment", "Status"),
    ],
)
def test_a_wrong_json_type_never_reaches_an_attribute(
    wire: dict[str, Any], path: str, key: str
) -> None:
    item = parse_item(wire)
    obj: Any = item
    if path == "metadata":
        obj = item.message_metadata
    elif path == "attachment":
        assert item.attachments is not None
        obj = item.attachments[0]
    attr = {"MessageCompleted": "message_completed", "ChunkNumber": "chunk_number",
            "MessageId": "message_id", "Content": "content", "Id": "id",
            "AbsoluteTime": "absolute_time", "Status": "status"}[key]
    assert getattr(obj, attr) is None
    assert key in obj.extra  # the raw value is kept under its wire key
    assert item_to_wire(item) == wire  # nothing lost
    assert item == decode_chat_frame(encode_chat_frame(wire))


def test_right_json_types_reach_their_attributes() -> None:
    item = parse_item({**ITEM, "MessageMetadata": {"MessageCompleted": False, "ChunkNumber": 3}})
    assert item.message_metadata is not None
    assert item.message_metadata.message_completed is False
    assert item.message_metadata.chunk_number == 3 and item.message_metadata.extra == {}


def test_a_float_field_takes_an_int_but_not_a_bool() -> None:
    @attrs.frozen(kw_only=True)
    class Sized:
        size: float | None = None
        extra: dict[str, Any] = model._wire.extra_field()  # noqa: RUF009

    assert from_wire(Sized, {"Size": 2}).size == 2
    assert from_wire(Sized, {"Size": 2.5}).size == 2.5
    flag = from_wire(Sized, {"Size": True})
    assert flag.size is None and flag.extra == {"Size": True}


# ---------------------------------------------------------------- delivery attributes


def test_delivery_attributes_are_not_wire_fields() -> None:
    item = parse_item({**ITEM, "Revision": 5, "Redelivered": True})
    assert item.revision == 1 and item.redelivered is False  # never decoded from the wire
    assert item.extra == {"Revision": 5, "Redelivered": True}
    revised = attrs.evolve(parse_item(ITEM), revision=3, redelivered=True)
    assert item_to_wire(revised) == ITEM  # never encoded
    assert revised == parse_item(ITEM) and hash(revised) == hash(parse_item(ITEM))
    assert "revision=3" in repr(revised)


@pytest.mark.parametrize(
    ("extra", "complete"),
    [
        ({}, True),
        ({"MessageMetadata": {"MessageCompleted": False, "ChunkNumber": 1}}, False),
        ({"MessageMetadata": {"MessageCompleted": True}}, True),
        ({"MessageMetadata": {"MessageCompleted": "false"}}, True),  # wrong type: ignored
        ({"MessageMetadata": {"MessageProcessingStatus": "PROCESSING"}}, False),
        ({"MessageMetadata": {"MessageProcessingStatus": "REJECTED"}}, True),
        ({"Type": "ATTACHMENT", "Attachments": [{"Status": "IN_PROGRESS"}]}, False),
        ({"Type": "ATTACHMENT", "Attachments": [{"Status": "APPROVED"},
                                                {"Status": "IN_PROGRESS"}]}, False),
        ({"Type": "ATTACHMENT", "Attachments": [{"Status": "REJECTED"}]}, True),
    ],
)
def test_complete_follows_the_revisions_table(extra: dict[str, Any], complete: bool) -> None:
    assert parse_item({**ITEM, **extra}).complete is complete
