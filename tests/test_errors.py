"""participant.errors: building service errors from HTTP responses."""

from __future__ import annotations

import json
import pickle

import botocore.session
import pytest

from participant import errors
from participant.errors import (
    ERROR_CLASSES,
    HTTPStatusError,
    InvalidParameterError,
    ServiceError,
    ThrottlingException,
    error_from_response,
)

MODEL = botocore.session.get_session().get_service_model("connectparticipant")


def _model_error_shapes() -> dict[str, int]:
    found: dict[str, int] = {}
    for name in MODEL.operation_names:
        for shape in MODEL.operation_model(name).error_shapes:
            found[shape.name] = shape.metadata["error"]["httpStatusCode"]
    return found


MODEL_ERRORS = _model_error_shapes()


def test_every_model_error_has_a_class_with_its_status() -> None:
    assert set(MODEL_ERRORS) == set(ERROR_CLASSES)
    for name, status in MODEL_ERRORS.items():
        cls = getattr(errors, name)
        assert issubclass(cls, ServiceError)
        assert cls.status == status


@pytest.mark.parametrize("name", sorted(MODEL_ERRORS))
@pytest.mark.parametrize("where", ["header", "body", "body-qualified"])
def test_error_shape_maps_to_exception(name: str, where: str) -> None:
    status = MODEL_ERRORS[name]
    headers = {"x-amzn-RequestId": "req-1"}
    body: dict[str, str] = {"message": f"text for {name}"}
    if where == "header":
        headers["x-amzn-ErrorType"] = f"{name}:http://internal.amazon.com/coral/"
    elif where == "body":
        body["__type"] = name
    elif where == "body-qualified":
        body["__type"] = f"com.amazonaws.connectparticipant#{name}"
    err = error_from_response(status, headers, json.dumps(body).encode())
    assert type(err) is getattr(errors, name)
    assert err.code == name
    assert err.status_code == status
    assert err.message == f"text for {name}"
    assert err.request_id == "req-1"
    assert name in str(err) and "req-1" in str(err)
    assert err.retryable == (name == "ThrottlingException" or status >= 500)


def test_header_wins_over_status_and_body() -> None:
    err = error_from_response(
        400, {"X-Amzn-ErrorType": "ConflictException"}, b'{"__type": "X", "Message": "m"}'
    )
    assert isinstance(err, errors.ConflictException)
    assert err.message == "m"
    assert err.status_code == 400


def test_unknown_code_and_extra_fields_are_kept() -> None:
    body = {"message": "gone", "ResourceId": "r1", "ResourceType": "NEW_KIND"}
    err = error_from_response(
        404, {"x-amzn-ErrorType": "ResourceNotFoundException"}, json.dumps(body)
    )
    assert isinstance(err, errors.ResourceNotFoundException)
    assert err.fields == {"ResourceId": "r1", "ResourceType": "NEW_KIND"}
    other = error_from_response(418, {"x-amzn-ErrorType": "TeapotException"}, b"{}")
    assert type(other) is ServiceError and other.code == "TeapotException"


def test_non_json_bodies() -> None:
    err = error_from_response(503, {}, b"<html>busy</html>", operation="SendMessage",
                              host="proxy.example")
    assert type(err) is HTTPStatusError and err.retryable and err.status_code == 503
    assert "proxy.example" in str(err) and "busy" not in str(err)
    s3 = error_from_response(
        403,
        {},
        b"<?xml version='1.0'?><Error><Code>SignatureDoesNotMatch</Code>"
        b"<Message>bad sig</Message></Error>",
    )
    assert isinstance(s3, ServiceError)
    assert s3.code == "SignatureDoesNotMatch" and s3.message == "bad sig"
    assert type(error_from_response(429, {}, None)) is HTTPStatusError
    assert type(error_from_response(429, {"x-amzn-ErrorType": "ThrottlingException"}, None)) \
        is ThrottlingException


@pytest.mark.parametrize("status", [200, 400, 401, 403, 404, 407, 500, 501, 502, 503])
def test_no_error_type_is_never_a_service_error(status: int) -> None:
    for body in (b"", b"<html>x</html>", b'{"message": "m"}', b'{"code": "AccessDenied"}',
                 b"[1]", b"\xff\xfe"):
        err = error_from_response(status, {"content-type": "text/html"}, body)
        assert type(err) is HTTPStatusError, body
        assert err.retryable == (status in (429, 500, 502, 503, 504))
        assert pickle.loads(pickle.dumps(err)).status_code == status


def test_type_in_the_body_names_the_error() -> None:
    err = error_from_response(
        403, {}, b'{"__type": "com.amazon#AccessDeniedException:http://x", "message": "m"}'
    )
    assert type(err) is errors.AccessDeniedException and err.message == "m"


def test_service_error_pickles() -> None:
    err = error_from_response(409, {"x-amzn-ErrorType": "ConflictException"}, b'{"message":"c"}')
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is type(err) and copy.message == "c" and copy.status_code == 409


def test_invalid_parameter_error_names_field_and_limit() -> None:
    err = InvalidParameterError("content", "a string of length 1..16384", "got length 0")
    assert isinstance(err, ValueError)
    assert err.field == "content" and err.limit == "a string of length 1..16384"
    assert "content" in str(err) and "1..16384" in str(err)


def test_hierarchy() -> None:
    assert issubclass(errors.ChatEndedError, errors.ParticipantClosedError)
    assert issubclass(HTTPStatusError, errors.TransportError)
    for cls in (errors.ConnectError, errors.TimeoutException, errors.ResponseTooLargeError):
        assert issubclass(cls, errors.TransportError) and not issubclass(cls, ServiceError)
    assert issubclass(errors.TranscriptPagingError, errors.ParticipantError)
    assert errors.TransportError("x").retryable
    assert not errors.ResponseTooLargeError("Op", 1).retryable
    for err in (errors.ResponseTooLargeError("Op", 9),
                errors.TranscriptPagingError("max_pages", pages=2, items=3, detail="d")):
        copy = pickle.loads(pickle.dumps(err))
        assert type(copy) is type(err) and str(copy) == str(err)
    assert not issubclass(HTTPStatusError, ServiceError)
    for cls in (errors.TransportError, errors.ParticipantClosedError, ServiceError,
                InvalidParameterError, errors.InvalidFrameError):
        assert issubclass(cls, errors.ParticipantError)


def test_scrub_replaces_tokens_everywhere_but_leaves_non_tokens() -> None:
    token = "TOKEN-0123456789"
    value = {"a": f"x{token}y", token: [token, 3], "n": None}
    assert errors.scrub(value, [token, None, ""]) == {
        "a": "x<redacted>y", "<redacted>": ["<redacted>", 3], "n": None}
    assert errors.scrub("The Test", ["T"]) == "The Test"  # not a token: kept readable
