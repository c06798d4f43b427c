"""The service's errors: :class:`ApiError` and ValidationException messages worded as the
service words them."""

from __future__ import annotations

import json
from typing import Any

STATUS_BY_CODE = {
    "AccessDeniedException": 403,
    "ValidationException": 400,
    "ThrottlingException": 429,
    "InternalServerException": 500,
    "ConflictException": 409,
    "ServiceQuotaExceededException": 402,
    "ResourceNotFoundException": 404,
    # Connect API (StartChatContact)
    "InvalidRequestException": 400,
    "InvalidParameterException": 400,
    "LimitExceededException": 429,
    "InternalServiceException": 500,
}


class ApiError(Exception):
    """An error answer of the service: ``code`` (x-amzn-ErrorType), ``status`` and ``message``."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status if status is not None else STATUS_BY_CODE.get(code, 400)


def shown_value(value: object) -> str:
    """A value as the service's validation messages quote it (``null`` when missing; long
    text cut at 200 characters)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 200 else text[:200] + "..."


def validation_error(field: str, value: object, constraint: str) -> ApiError:
    """A ValidationException as the service words it: ``1 validation error detected: Value
    '<value>' at '<field>' failed to satisfy constraint: <constraint>``."""
    shown = shown_value(value)
    return ApiError(
        "ValidationException",
        f"1 validation error detected: Value '{shown}' at '{field}' failed to satisfy "
        f"constraint: {constraint}",
    )


def check_content_type(value: Any, allowed: frozenset[str]) -> str:
    """Check a request's ContentType: a string of 1..100 characters in ``allowed``. Raises
    ValidationException naming ``contentType``."""
    check_content("contentType", value, 100, True)
    if value not in allowed:
        raise validation_error("contentType", value, f"Member must be one of {sorted(allowed)}")
    return str(value)


def check_content(field: str, value: Any, limit: int, required: bool) -> None:
    """Check a string member: present if ``required``, a str of 1..``limit`` characters.
    Raises ValidationException naming ``field`` (camelCase, as the service does)."""
    if value is None:
        if required:
            raise validation_error(field, None, "Member must not be null")
        return
    if not isinstance(value, str):
        raise validation_error(field, value, "Member must be a string")
    if len(value) < 1:
        raise validation_error(field, "", "Member must have length greater than or equal to 1")
    if len(value) > limit:
        raise validation_error(
            field, value, f"Member must have length less than or equal to {limit}"
        )
