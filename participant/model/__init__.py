"""The wire model: attrs shapes of the 11 operations, typed transcript items, the
ContentType registry, the converters to and from PascalCase wire dicts, and
:func:`parse_absolute_time` / :func:`format_absolute_time` (AbsoluteTime <-> epoch seconds).

No I/O. See :mod:`participant.model.items`, :mod:`participant.model.shapes` and
:mod:`participant.model.operations`.
"""

from .._time import format_absolute_time, parse_absolute_time
from ._wire import from_wire, loads, to_wire, wire_name
from .items import *  # noqa: F403
from .items import __all__ as _items_all
from .operations import OPERATIONS, Member, Operation, validate, validate_member
from .shapes import *  # noqa: F403
from .shapes import __all__ as _shapes_all

__all__ = [
    "OPERATIONS",
    "Member",
    "Operation",
    "format_absolute_time",
    "from_wire",
    "loads",
    "parse_absolute_time",
    "to_wire",
    "validate",
    "validate_member",
    "wire_name",
    *_items_all,
    *_shapes_all,
]
