"""participant.model.operations: our constants match botocore's model of the service."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from participant.errors import InvalidParameterError
from participant.model import OPERATIONS, Member, validate
from participant.model.operations import snake_name, validate_member

MODEL = botocore.session.get_session().get_service_model("connectparticipant")

# Members documented by the service (protocol.md §1) that the installed botocore may predate.
NEWER_THAN_INSTALLED_MODEL = {("GetAttachment", "UrlContentDisposition")}


def test_same_operations() -> None:
    assert set(OPERATIONS) == set(MODEL.operation_names)
    assert len(OPERATIONS) == 11


def _compare(ours: Member, theirs: Any, required: bool, where: str) -> None:
    assert ours.required == required, where
    kind = theirs.type_name
    assert ours.kind == kind, where
    meta = theirs.metadata
    assert ours.min == meta.get("min"), where
    assert ours.max == meta.get("max"), where
    enum = getattr(theirs, "enum", None) or None
    assert ours.enum == (frozenset(enum) if enum else None), where
    assert ours.idempotency_token == bool(meta.get("idempotencyToken")), where
    location = theirs.serialization.get("location", "body")
    assert ours.location == location, where
    if kind == "list":
        assert ours.member is not None
        _compare(ours.member, theirs.member, False, where + "[]")
    if kind == "structure":
        assert {m.wire for m in ours.members} == set(theirs.members), where
        for sub in ours.members:
            _compare(sub, theirs.members[sub.wire], sub.wire in theirs.required_members,
                     f"{where}.{sub.wire}")


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_operation_matches_model(name: str) -> None:
    op = OPERATIONS[name]
    theirs = MODEL.operation_model(name)
    assert op.method == theirs.http["method"]
    assert op.path == theirs.http["requestUri"]
    assert set(op.errors) == {e.name for e in theirs.error_shapes}
    assert op.request.__name__ == theirs.input_shape.name
    assert op.response.__name__ == theirs.output_shape.name
    shape = theirs.input_shape
    ours = {m.wire: m for m in op.members}
    expected = set(shape.members) | {w for (o, w) in NEWER_THAN_INSTALLED_MODEL if o == name}
    assert set(ours) == expected
    for wire, member in ours.items():
        assert member.param == xform_name(wire) == snake_name(wire)
        if wire in shape.members:
            _compare(member, shape.members[wire], wire in shape.required_members,
                     f"{name}.{wire}")


def test_snake_name_matches_botocore_everywhere() -> None:
    for name in MODEL.shape_names:
        shape = MODEL.shape_for(name)
        if shape.type_name == "structure":
            for member in shape.members:
                assert snake_name(member) == xform_name(member)


@pytest.mark.parametrize(
    ("operation", "params", "field", "limit_part"),
    [
        ("SendMessage", {"ContentType": "text/plain", "ConnectionToken": "c"}, "content",
         "required"),
        ("SendMessage", {"ContentType": "text/plain", "Content": "", "ConnectionToken": "c"},
         "content", "1..16384"),
        ("SendMessage", {"ContentType": "text/plain", "Content": "x" * 16385,
                         "ConnectionToken": "c"}, "content", "1..16384"),
        ("SendMessage", {"ContentType": "t", "Content": "x", "ConnectionToken": "c" * 1001},
         "connection_token", "1..1000"),
        ("GetTranscript", {"ConnectionToken": "c", "MaxResults": 101}, "max_results", "0..100"),
        ("GetTranscript", {"ConnectionToken": "c", "MaxResults": True}, "max_results", "integer"),
        ("GetTranscript", {"ConnectionToken": "c", "ScanDirection": "SIDEWAYS"},
         "scan_direction", "FORWARD"),
        ("GetTranscript", {"ConnectionToken": "c", "StartPosition": {}}, "start_position",
         "exactly one"),
        ("GetTranscript", {"ConnectionToken": "c", "StartPosition": {"MostRecent": 101}},
         "start_position.most_recent", "0..100"),
        ("CreateParticipantConnection", {"ParticipantToken": "p", "Type": ["SMOKE_SIGNAL"]},
         "type[0]", "WEBSOCKET"),
        ("CreateParticipantConnection", {"ParticipantToken": "p", "Type": []}, "type", "1.."),
        ("CompleteAttachmentUpload", {"ConnectionToken": "c", "ClientToken": "t",
                                      "AttachmentIds": ["a", "b"]}, "attachment_ids", "1..1"),
        ("GetAttachment", {"ConnectionToken": "c", "AttachmentId": "a",
                           "UrlExpiryInSeconds": 4}, "url_expiry_in_seconds", "5..300"),
        ("GetAuthenticationUrl", {"ConnectionToken": "c", "SessionId": "x" * 35,
                                  "RedirectUri": "u"}, "session_id", "36..36"),
    ],
)
def test_validate_names_field_and_limit(
    operation: str, params: dict[str, Any], field: str, limit_part: str
) -> None:
    with pytest.raises(InvalidParameterError) as info:
        validate(operation, params)
    assert info.value.field == field
    assert limit_part in info.value.limit
    assert field in str(info.value)


def test_validate_never_echoes_free_text() -> None:
    token = "SECRET-" + "x" * 1000
    with pytest.raises(InvalidParameterError) as info:
        validate("SendMessage", {"ContentType": "t", "Content": "c", "ConnectionToken": token})
    assert "SECRET" not in str(info.value)
    with pytest.raises(InvalidParameterError) as info2:
        validate_member(OPERATIONS["SendMessage"].members[1], 12345)
    assert "str" in str(info2.value)
