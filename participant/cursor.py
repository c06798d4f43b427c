"""Durable delivery cursors: where a participant resumes (docs/concepts.md, "Acknowledgement
and the cursor").

A :class:`Cursor` is a frozen snapshot of a participant's delivery state, made by
:meth:`participant.core.log.ItemLog.snapshot` and turned back into a log by
:meth:`~participant.core.log.ItemLog.restore`. It holds no token of any kind: only the
ContactId, the own ParticipantId, item Ids, AbsoluteTimes, revision numbers, content
fingerprints and the stitched text of a streaming reply in progress. It is JSON text with
:meth:`Cursor.to_json` / :meth:`Cursor.from_json` (versioned: ``{"version": 1, ...}``).

A :class:`CursorHandle` is where a cursor is kept: any object with ``async load()`` and
``async save(cursor)``. :class:`MemoryCursor` keeps it in memory (tests, examples).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Protocol, runtime_checkable

import attrs

__all__ = [
    "Cursor",
    "CursorError",
    "CursorHandle",
    "CursorItem",
    "CursorStream",
    "MemoryCursor",
]


class CursorError(ValueError):
    """A cursor's JSON text is not a valid cursor (the message names the field)."""


@attrs.frozen(kw_only=True)
class CursorItem:
    """One item of a cursor: an acknowledged one, or one delivered but not acknowledged.

    ``id``: the item's Id. ``absolute_time``: its AbsoluteTime (``YYYY-MM-DDTHH:MM:SS.mmmZ``,
    UTC), ``None`` when the item had none. ``revision``: the revision delivered (1, 2, ...).
    ``fingerprint``: 16 hex digits identifying that revision's content (Content,
    MessageProcessingStatus, attachment Ids and Statuses;
    :func:`participant.core.log.fingerprint`), set for unacknowledged items and for
    items that change in place (``None`` for other acknowledged ones). ``complete``: that
    revision's ``Item.complete``. ``in_place``: the item changes in place (its repeats are
    compared by fingerprint; see docs/concepts.md, "Revisions").
    """

    id: str
    absolute_time: str | None = None
    revision: int = 1
    fingerprint: str | None = None
    complete: bool = True
    in_place: bool = False


@attrs.frozen(kw_only=True)
class CursorStream:
    """A streaming reply in progress ([protocol](protocol.md#items-that-change-in-place)): its Id,
    the AbsoluteTime of its first
    chunk, the revision last delivered, the last ChunkNumber stitched and the stitched text
    of chunks 1..``chunk_number``."""

    id: str
    absolute_time: str | None = None
    revision: int = 1
    chunk_number: int = 1
    content: str = ""


@attrs.frozen(kw_only=True)
class Cursor:
    """Where a participant resumes (docs/concepts.md, "Acknowledgement and the cursor").

    - ``contact_id``, ``participant_id``: the chat (ContactId) and the own ParticipantId;
    - ``acked_id``, ``acked_time``: the newest acknowledged item (by AbsoluteTime);
    - ``acked``: acknowledged items from ``reach`` seconds before the oldest of
      ``acked_time`` and the ``unacked`` items' times on (so that a resumed gap fill skips
      them);
    - ``unacked``: items delivered but not acknowledged (delivered again with
      ``redelivered=True`` after a resume);
    - ``unacked_from``, ``unacked_until``: AbsoluteTimes (same form) bounding the items
      delivered but not acknowledged that ``unacked`` does not list (more than
      ``dedupe_max_ids`` were outstanding), ``None`` when there are none: a resume fills
      from ``unacked_from`` and delivers every item of that range it does not know as
      acknowledged again, marked ``redelivered=True``;
    - ``streams``: streaming replies in progress (continued after a resume).

    Frozen; make one with :meth:`ItemLog.snapshot
    <participant.core.log.ItemLog.snapshot>` or :meth:`from_json`.
    """

    VERSION: ClassVar[int] = 1

    contact_id: str | None = None
    participant_id: str | None = None
    acked_id: str | None = None
    acked_time: str | None = None
    acked: tuple[CursorItem, ...] = ()
    unacked: tuple[CursorItem, ...] = ()
    unacked_from: str | None = None
    unacked_until: str | None = None
    streams: tuple[CursorStream, ...] = ()

    def to_json(self) -> str:
        """This cursor as compact JSON text: ``{"version": 1, "contact_id": ..., ...}``
        (``unacked_from`` / ``unacked_until`` only when set)."""
        data: dict[str, Any] = {"version": self.VERSION}
        data.update(attrs.asdict(self))
        for name in ("unacked_from", "unacked_until"):
            if data[name] is None:
                del data[name]
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Cursor:
        """The cursor of ``text`` (what :meth:`to_json` wrote).

        Raises:
            CursorError: ``text`` is not JSON, not a JSON object, of another ``version``
                than :attr:`VERSION`, has an unknown key, or a field of a wrong type (the
                message names the field, e.g. ``unacked[2].revision``).
        """
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CursorError(f"cursor: not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise CursorError(f"cursor: expected a JSON object, got {type(data).__name__}")
        version = data.pop("version", None)
        if version != cls.VERSION:
            raise CursorError(
                f"cursor.version: expected {cls.VERSION}, got {version!r} "
                "(a cursor written by another version of the library)"
            )
        fields = _check_object("", data, _CURSOR_SCALARS, ("acked", "unacked", "streams"))
        return cls(
            **fields,
            acked=_items("acked", data.get("acked", [])),
            unacked=_items("unacked", data.get("unacked", [])),
            streams=tuple(
                CursorStream(**_check_object(f"streams[{i}]", entry, _STREAM_FIELDS, ()))
                for i, entry in enumerate(_list("streams", data.get("streams", [])))
            ),
        )


_OPT_STR = (str, type(None))
_CURSOR_SCALARS: dict[str, tuple[tuple[type, ...], bool]] = {
    # name: (accepted types, required)
    "contact_id": (_OPT_STR, False),
    "participant_id": (_OPT_STR, False),
    "acked_id": (_OPT_STR, False),
    "acked_time": (_OPT_STR, False),
    "unacked_from": (_OPT_STR, False),
    "unacked_until": (_OPT_STR, False),
}
_ITEM_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "id": ((str,), True),
    "absolute_time": (_OPT_STR, False),
    "revision": ((int,), False),
    "fingerprint": (_OPT_STR, False),
    "complete": ((bool,), False),
    "in_place": ((bool,), False),
}
_STREAM_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "id": ((str,), True),
    "absolute_time": (_OPT_STR, False),
    "revision": ((int,), False),
    "chunk_number": ((int,), False),
    "content": ((str,), False),
}


def _list(where: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise CursorError(f"cursor.{where}: expected a list, got {type(value).__name__}")
    return value


def _check_object(
    where: str,
    value: Any,
    scalars: dict[str, tuple[tuple[type, ...], bool]],
    lists: tuple[str, ...],
) -> dict[str, Any]:
    """The scalar fields of the JSON object ``value``, checked (see :meth:`Cursor.from_json`)."""
    where = f"cursor.{where}" if where else "cursor"
    if not isinstance(value, dict):
        raise CursorError(f"{where}: expected a JSON object, got {type(value).__name__}")
    unknown = sorted(set(value) - set(scalars) - set(lists))
    if unknown:
        raise CursorError(f"{where}: unknown key {unknown[0]!r}")
    out: dict[str, Any] = {}
    for name, (types, required) in scalars.items():
        if name not in value:
            if required:
                raise CursorError(f"{where}.{name}: missing")
            continue
        field = value[name]
        wrong_bool = isinstance(field, bool) and bool not in types
        if not isinstance(field, types) or wrong_bool:
            expected = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise CursorError(
                f"{where}.{name}: expected {expected}, got {type(field).__name__}"
            )
        if int in types and isinstance(field, int) and field < 1:
            raise CursorError(f"{where}.{name}: must be >= 1, got {field}")
        out[name] = field
    return out


def _items(where: str, value: Any) -> tuple[CursorItem, ...]:
    return tuple(
        CursorItem(**_check_object(f"{where}[{i}]", entry, _ITEM_FIELDS, ()))
        for i, entry in enumerate(_list(where, value))
    )


@runtime_checkable
class CursorHandle(Protocol):
    """Where a participant's :class:`Cursor` is kept (a file, a database row, ...).

    ``load()`` returns the saved cursor, or ``None`` when none was saved yet; ``save``
    replaces it. The actor calls ``save`` after acknowledgements (coalesced, at most one
    in flight), so a handle need not be safe for concurrent saves. Errors raised by either
    are the handle's own and reach the program.
    """

    async def load(self) -> Cursor | None: ...

    async def save(self, cursor: Cursor) -> None: ...


class MemoryCursor:
    """A :class:`CursorHandle` in memory: ``cursor`` is the last one saved (or the one it
    was made with); ``saves`` counts the saves. For tests and examples: it does not
    survive the process. Each save stores the cursor as JSON and each load parses it
    again, so what a real store would reject (a cursor that does not round-trip) fails
    here too."""

    def __init__(self, cursor: Cursor | None = None) -> None:
        self._text: str | None = None if cursor is None else cursor.to_json()
        self.saves = 0

    @property
    def cursor(self) -> Cursor | None:
        """The cursor last saved, ``None`` before any."""
        return None if self._text is None else Cursor.from_json(self._text)

    async def load(self) -> Cursor | None:
        """The cursor last saved, ``None`` before any."""
        return self.cursor

    async def save(self, cursor: Cursor) -> None:
        """Keep ``cursor`` (replacing the one before)."""
        self._text = cursor.to_json()
        self.saves += 1
