"""The one converter between PascalCase wire dicts and the model's attrs classes.

Every model class is a frozen attrs class whose fields are snake_case forms of the
wire names (``absolute_time`` <-> ``AbsoluteTime``), plus ``extra``: the wire fields
the class does not know, kept verbatim so that ``to_wire(from_wire(cls, d)) == d``.
A field whose wire value is ``null`` or of a JSON type other than its annotation's
(``"MessageCompleted": "false"`` for a ``bool | None``, ``"Content": 7`` for a
``str | None``, ``true`` for an ``int | None``) is kept in ``extra`` under its wire key
as well, and the attribute stays ``None``: no attribute ever holds a value of the wrong
type, and nothing is lost. Delivery attributes (``Item.revision``, ``Item.redelivered``)
are not wire fields: never decoded, never encoded.
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

__all__ = ["from_wire", "list_of", "loads", "struct", "to_wire", "wire_name"]

T = TypeVar("T")

# field kinds
_SCALAR = 0
_STRUCT = 1
_LIST = 2
_MAP = 3

_SCALAR_TYPES = (str, int, float, bool)

Decoder = Callable[[Mapping[str, Any]], Any]


# the C scanner json.loads ends in (not in typeshed)
_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def loads(text: str) -> Any:
    """``json.loads(text)`` for a ``str``, without json.loads' Python layers when
    ``text`` is one JSON value with no surrounding whitespace (every frame the service
    sends); any other text, and every error, goes through ``json.loads`` itself, so
    results and exceptions are the same.

    Raises:
        json.JSONDecodeError: ``text`` is not JSON (a ``ValueError``).
    """
    try:
        value, end = _scan_once(text, 0)
    except Exception:
        return json.loads(text)
    if end != len(text):
        return json.loads(text)
    return value


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


_FIELD_TYPES: dict[Any, frozenset[type]] = {
    str: frozenset({str}),
    int: frozenset({int}),
    bool: frozenset({bool}),
    float: frozenset({float, int}),
}
"""A scalar field's annotated type -> the exact types ``json.loads`` gives that it
accepts (an int is a valid float, a bool is never an int)."""

_ANY_SCALAR = frozenset(_SCALAR_TYPES)


def _exact_types(cls: type[Any], f: attrs.Attribute[Any], kind: int) -> frozenset[type]:
    """The exact JSON scalar types a scalar field (or a plain list's elements) accepts,
    from its annotation (``str | None`` -> ``{str}``); any JSON scalar when the
    annotation is not one of str, int, bool, float (or cannot be resolved)."""
    annotation: Any = f.type
    if isinstance(annotation, str):
        try:
            annotation = typing.get_type_hints(cls).get(f.name, annotation)
        except Exception:  # a name the annotation uses is not resolvable here
            return _ANY_SCALAR
    args = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    if kind == _LIST:  # tuple[str, ...] | None -> the element type
        if len(args) != 1:
            return _ANY_SCALAR
        args = [a for a in typing.get_args(args[0]) if a is not Ellipsis]
    if len(args) == 1 and args[0] in _FIELD_TYPES:
        return _FIELD_TYPES[args[0]]
    return _ANY_SCALAR


def _type_ok(value: Any, exact: frozenset[type]) -> bool:
    """``value`` is of one of the ``exact`` JSON scalar types (or a subclass of one,
    ``bool`` never counting as ``int``)."""
    if type(value) in exact:
        return True
    if isinstance(value, bool):
        return bool in exact
    return isinstance(value, tuple(exact))


class _Spec:
    """Per-class field tables, computed once (see :func:`_spec`).

    ``fields``: ``(attr, wire, kind, sub, custom, exact)`` in attrs order, for
    :func:`to_wire` and the compiled decoders.
    ``by_wire``: wire name -> ``(attr, kind, sub, custom, exact)``, for :func:`from_wire`;
    ``custom`` is a field's own ``decode`` override (``None``: ``from_wire(sub, ...)``);
    ``exact`` the JSON scalar types a scalar field (or a plain list's element) accepts.
    The ``extra`` field and delivery attributes (``metadata={"delivery": True}``, e.g.
    ``Item.revision``) are not wire fields and are in neither table.
    """

    __slots__ = ("by_wire", "fields")

    def __init__(self, cls: type[Any]) -> None:
        fields: list[tuple[str, str, int, Any, Decoder | None, frozenset[type]]] = []
        by_wire: dict[str, tuple[str, int, Any, Decoder | None, frozenset[type]]] = {}
        for f in attrs.fields(cls):
            if f.metadata.get("extra") or f.metadata.get("delivery"):
                continue
            wire = f.metadata.get("wire") or wire_name(f.name)
            kind = f.metadata.get("kind", _SCALAR)
            sub = f.metadata.get("sub")
            if sub is not None and not attrs.has(sub):
                sub = sub()  # a lazy reference: a function returning the class
            custom = f.metadata.get("decode")
            exact = (
                _exact_types(cls, f, kind)
                if kind == _SCALAR or (kind == _LIST and sub is None and custom is None)
                else _ANY_SCALAR
            )
            fields.append((f.name, wire, kind, sub, custom, exact))
            by_wire[wire] = (f.name, kind, sub, custom, exact)
        self.fields = tuple(fields)
        self.by_wire = by_wire


_SPECS: dict[type[Any], _Spec] = {}


def _spec(cls: type[Any]) -> _Spec:
    spec = _SPECS.get(cls)
    if spec is None:
        spec = _SPECS[cls] = _Spec(cls)
    return spec


def from_wire(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build a model object of class ``cls`` from a wire dict (PascalCase keys).

    Nothing is dropped: unknown keys, ``null`` values and values of an unexpected
    JSON type go to ``extra``. Enum-like values the model does not list are kept as
    plain ``str``. Never raises for well-formed JSON objects.

    Raises:
        TypeError: ``data`` is not a mapping.
    """
    if type(data) is not dict and not isinstance(data, Mapping):
        raise TypeError(f"{cls.__name__} expects a JSON object, got {type(data).__name__}")
    return _from_wire(cls, data)


# ---- compiled decoders ------------------------------------------------------------------
#
# Every chat item goes through from_wire, so each class gets a decoder compiled for it
# (as attrs compiles __init__): one function that reads the known wire keys with
# data.get, checks each value's JSON type against its field's type and, when the dict
# holds nothing else (no unknown key, no null, no value of a wrong type: the usual case),
# builds the object. Anything else falls back to _from_wire_general, which keeps the odd
# values in ``extra`` and calls the class.
#
# How the object is built: the model's own classes (defined in participant.model, frozen
# slotted attrs classes without validators, converters or __attrs_post_init__, every
# field defaulting to None but ``extra``, ``revision`` and ``redelivered``) are made with
# ``object.__new__`` and each slot set through its slot descriptor's ``__set__`` (the
# public data model of ``__slots__``; what attrs' ``__init__`` does through
# ``object.__setattr__``, about 40 % cheaper for a 16-field item). Any other class (e.g.
# one a user registers with register_content_type) is called with the fields as
# keywords, or, when a wire field's default is not None, decoded by _from_wire_general,
# which passes only the fields present so that the class's own defaults apply.

_DECODERS: dict[type[Any], Callable[[Mapping[str, Any]], Any]] = {}


def _compilable(cls: type[Any]) -> bool:
    """Whether every wire field of ``cls`` is an ``__init__`` keyword defaulting to None
    (so passing None for an absent key is what the default would give)."""
    for f in attrs.fields(cls):
        if f.metadata.get("extra") or f.metadata.get("delivery"):
            continue
        if not f.init or f.default is not None or f.alias != f.name:
            return False
    return True


def _own_slots(cls: type[Any]) -> list[tuple[str, Any, Any]] | None:
    """``(attr, slot descriptor, default)`` for every field of a model class of this
    package that may be built slot by slot (see the comment above); ``None`` otherwise."""
    if not cls.__module__.startswith(__name__.rpartition(".")[0] + "."):
        return None
    if "__attrs_post_init__" in dir(cls) or "__attrs_pre_init__" in dir(cls):
        return None
    out: list[tuple[str, Any, Any]] = []
    for f in attrs.fields(cls):
        if f.validator is not None or f.converter is not None or not f.init:
            return None
        default = f.default
        if f.metadata.get("extra"):
            if not (isinstance(default, attrs.Factory) and default.factory is dict):  # type: ignore[arg-type]
                return None
        elif isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            return None
        descriptor = inspect.getattr_static(cls, f.name, None)
        if type(descriptor) is not types.MemberDescriptorType:
            return None  # not a slotted class
        out.append((f.name, descriptor, default))
    return out


def _compile(cls: type[Any]) -> Callable[[Mapping[str, Any]], Any]:
    """The decoder of ``cls`` (see the comment above)."""
    if not _compilable(cls):
        return lambda data: _from_wire_general(cls, data)
    spec = _spec(cls)
    env: dict[str, Any] = {
        "cls": cls,
        "general": _from_wire_general,
        "fw": _from_wire,
        "dict": dict,
        "list": list,
        "tuple": tuple,
        "type": type,
        "len": len,
    }
    fallback = "return general(cls, data)"
    lines = ["def decode(data):", " get = data.get", " n = 0"]
    args: list[str] = []
    for i, (attr, wire, kind, sub, custom, exact) in enumerate(spec.fields):
        v = f"v{i}"
        args.append(f"{attr}={v}")
        env[f"sub{i}"] = sub
        env[f"custom{i}"] = custom
        env[f"exact{i}"] = exact
        lines += [f" {v} = get({wire!r})", f" if {v} is not None:"]
        if kind == _SCALAR:
            if len(exact) == 1:
                (only,) = exact
                env[f"only{i}"] = only
                lines += [f"  if type({v}) is not only{i}: {fallback}"]
            else:
                lines += [f"  if type({v}) not in exact{i}: {fallback}"]
        elif kind == _STRUCT:
            if custom is None and sub is None:
                lines += [f"  {fallback}"]
                continue
            call = f"custom{i}({v})" if custom is not None else f"fw(sub{i}, {v})"
            lines += [f"  if type({v}) is not dict: {fallback}", f"  {v} = {call}"]
        elif kind == _LIST:
            lines += [f"  if type({v}) is not list: {fallback}"]
            if sub is None and custom is None:
                lines += [f"  for x in {v}:", f"   if type(x) not in exact{i}: {fallback}"]
                lines += [f"  {v} = tuple({v})"]
            else:
                call = f"custom{i}(x)" if custom is not None else f"fw(sub{i}, x)"
                lines += [f"  for x in {v}:", f"   if type(x) is not dict: {fallback}"]
                lines += [f"  {v} = tuple([{call} for x in {v}])"]
        else:  # _MAP
            lines += [f"  if type({v}) is not dict: {fallback}", f"  {v} = dict({v})"]
        lines += ["  n += 1"]
    lines += [f" if n != len(data): {fallback}"]
    slots = _own_slots(cls)
    if slots is None:
        lines += [f" return cls({', '.join(args)})"]
    else:
        values = {attr: f"v{i}" for i, (attr, *_rest) in enumerate(spec.fields)}
        env["new"] = object.__new__
        lines += [" obj = new(cls)"]
        for i, (name, descriptor, default) in enumerate(slots):
            env[f"set{i}"] = descriptor.__set__
            env[f"default{i}"] = default
            value = values.get(name, "{}" if name == "extra" else f"default{i}")
            lines += [f" set{i}(obj, {value})"]
        lines += [" return obj"]
    source = "\n".join(lines) + "\n"
    filename = f"<participant decoder {cls.__module__}.{cls.__qualname__}>"
    exec(compile(source, filename, "exec"), env)
    decode: Callable[[Mapping[str, Any]], Any] = env["decode"]
    return decode


def _from_wire(cls: type[T], data: Mapping[str, Any]) -> T:
    """:func:`from_wire` once ``data`` is known to be a mapping (the hot path: every
    websocket chat item goes through here): the class's compiled decoder."""
    decode = _DECODERS.get(cls)
    if decode is None:
        decode = _DECODERS[cls] = _compile(cls)
    result: T = decode(data)
    return result


def _from_wire_general(cls: type[T], data: Mapping[str, Any]) -> T:
    """Every case of :func:`from_wire`: unknown keys, ``null`` values and values of an
    unexpected type go to ``extra`` (the compiled decoders fall back to this)."""
    spec = _SPECS.get(cls)
    if spec is None:
        spec = _spec(cls)
    by_wire = spec.by_wire
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] | None = None
    for key, value in data.items():
        entry = by_wire.get(key)
        if entry is None or value is None:
            if extra is None:
                extra = {}
            extra[key] = value
            continue
        attr, kind, sub, custom, exact = entry
        if kind == _SCALAR:
            if _type_ok(value, exact):
                kwargs[attr] = value
                continue
        elif kind == _STRUCT:
            if (custom is not None or sub is not None) and (
                type(value) is dict or isinstance(value, Mapping)
            ):
                kwargs[attr] = _from_wire(sub, value) if custom is None else custom(value)
                continue
        elif kind == _LIST:
            if isinstance(value, list):
                if sub is None and custom is None:
                    for v in value:
                        if not _type_ok(v, exact):
                            break
                    else:
                        kwargs[attr] = tuple(value)
                        continue
                else:
                    for v in value:
                        if not (type(v) is dict or isinstance(v, Mapping)):
                            break
                    else:
                        if custom is None:
                            kwargs[attr] = tuple([_from_wire(sub, v) for v in value])
                        else:
                            kwargs[attr] = tuple([custom(v) for v in value])
                        continue
        elif type(value) is dict or isinstance(value, Mapping):  # _MAP
            kwargs[attr] = dict(value)
            continue
        if extra is None:  # a value of an unexpected JSON type
            extra = {}
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
    for attr, wire, kind, _sub, _custom, _exact in _spec(type(obj)).fields:
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
