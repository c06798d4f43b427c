"""The one converter between PascalCase wire dicts and the model's attrs classes.

Every model class is a frozen attrs class whose fields are snake_case forms of the
wire names (``absolute_time`` <-> ``AbsoluteTime``), plus ``extra``: the wire fields
the class does not know, kept verbatim so that ``to_wire(from_wire(cls, d)) == d``.
A field whose wire value is ``null`` or of an unexpected JSON type is kept in
``extra`` as well, and the attribute stays ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

__all__ = ["from_wire", "list_of", "struct", "to_wire", "wire_name"]

T = TypeVar("T")

# field kinds
_SCALAR = 0
_STRUCT = 1
_LIST = 2
_MAP = 3

_SCALAR_TYPES = (str, int, float, bool)

Decoder = Callable[[Mapping[str, Any]], Any]


def wire_name(attr: str) -> str:
    """``absolute_time`` -> ``AbsoluteTime`` (the default mapping; fields may override)."""
    return "".join(part[:1].upper() + part[1:] for part in attr.split("_"))


def struct(cls: type[Any] | Callable[[], type[Any]], *, wire: str | None = None) -> Any:
    """An optional field holding a nested model object (``None`` when absent)."""
    return attrs.field(default=None, metadata={"kind": _STRUCT, "sub": cls, "wire": wire})


def list_of(
    cls: type[Any] | Callable[[], type[Any]] | None = None,
    *,
    wire: str | None = None,
    decode: Decoder | None = None,
) -> Any:
    """An optional field holding a tuple (a JSON list on the wire).

    ``cls`` is the element's model class; ``None`` means plain JSON values (e.g. str).
    ``decode`` overrides how an element dict is turned into an object (used for items).
    """
    return attrs.field(
        default=None,
        metadata={"kind": _LIST, "sub": cls, "wire": wire, "decode": decode},
    )


def mapping(*, wire: str | None = None) -> Any:
    """An optional field holding a JSON object of plain values (``dict``, not hashed)."""
    return attrs.field(default=None, hash=False, metadata={"kind": _MAP, "wire": wire})


def scalar(*, wire: str | None = None, repr: bool = True) -> Any:
    """An optional scalar field with an explicit wire name or hidden from ``repr``."""
    return attrs.field(default=None, repr=repr, metadata={"kind": _SCALAR, "wire": wire})


def extra_field(*, repr: bool = True) -> Any:
    """The ``extra`` field: unknown wire fields, kept verbatim (not part of the hash)."""
    return attrs.field(factory=dict, hash=False, repr=repr, metadata={"extra": True})


class _Spec:
    __slots__ = ("by_wire", "fields")

    def __init__(self, cls: type[Any]) -> None:
        fields: list[tuple[str, str, int, Any, Decoder | None]] = []
        by_wire: dict[str, tuple[str, int, Any, Decoder | None]] = {}
        for f in attrs.fields(cls):
            if f.metadata.get("extra"):
                continue
            wire = f.metadata.get("wire") or wire_name(f.name)
            kind = f.metadata.get("kind", _SCALAR)
            sub = f.metadata.get("sub")
            if sub is not None and not attrs.has(sub):
                sub = sub()  # a lazy reference: a function returning the class
            decode = f.metadata.get("decode")
            if decode is None and sub is not None:
                decode = _decoder(sub)
            fields.append((f.name, wire, kind, sub, decode))
            by_wire[wire] = (f.name, kind, sub, decode)
        self.fields = tuple(fields)
        self.by_wire = by_wire


_SPECS: dict[type[Any], _Spec] = {}


def _spec(cls: type[Any]) -> _Spec:
    spec = _SPECS.get(cls)
    if spec is None:
        spec = _SPECS[cls] = _Spec(cls)
    return spec


def _decoder(cls: type[Any]) -> Decoder:
    def decode(data: Mapping[str, Any]) -> Any:
        return from_wire(cls, data)

    return decode


def from_wire(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build a model object of class ``cls`` from a wire dict (PascalCase keys).

    Nothing is dropped: unknown keys, ``null`` values and values of an unexpected
    JSON type go to ``extra``. Enum-like values the model does not list are kept as
    plain ``str``. Never raises for well-formed JSON objects.

    Raises:
        TypeError: ``data`` is not a mapping.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"{cls.__name__} expects a JSON object, got {type(data).__name__}")
    by_wire = _spec(cls).by_wire
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        entry = by_wire.get(key)
        if entry is None or value is None:
            extra[key] = value
            continue
        attr, kind, _sub, decode = entry
        if kind == _SCALAR:
            if isinstance(value, _SCALAR_TYPES):
                kwargs[attr] = value
            else:
                extra[key] = value
        elif kind == _STRUCT:
            if isinstance(value, Mapping) and decode is not None:
                kwargs[attr] = decode(value)
            else:
                extra[key] = value
        elif kind == _LIST:
            if not isinstance(value, list):
                extra[key] = value
            elif decode is None:
                if all(isinstance(v, _SCALAR_TYPES) for v in value):
                    kwargs[attr] = tuple(value)
                else:
                    extra[key] = value
            elif all(isinstance(v, Mapping) for v in value):
                kwargs[attr] = tuple(decode(v) for v in value)
            else:
                extra[key] = value
        else:  # _MAP
            if isinstance(value, Mapping):
                kwargs[attr] = dict(value)
            else:
                extra[key] = value
    if extra:
        kwargs["extra"] = extra
    return cls(**kwargs)


def to_wire(obj: Any) -> dict[str, Any]:
    """Turn a model object into its wire dict (PascalCase keys, JSON-ready values).

    Fields that are ``None`` are left out; ``extra`` is merged back in, so
    ``to_wire(from_wire(cls, d)) == d`` for every JSON object ``d``.
    """
    out: dict[str, Any] = {}
    for attr, wire, kind, _sub, _decode in _spec(type(obj)).fields:
        value = getattr(obj, attr)
        if value is None:
            continue
        if kind == _SCALAR:
            out[wire] = value
        elif kind == _STRUCT:
            out[wire] = to_wire(value)
        elif kind == _LIST:
            if _sub is None:
                out[wire] = list(value)
            else:
                out[wire] = [to_wire(v) for v in value]
        else:
            out[wire] = dict(value)
    extra = getattr(obj, "extra", None)
    if extra:
        out.update(extra)
    return out
