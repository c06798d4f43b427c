"""The one converter between PascalCase wire dicts and the model's attrs classes.

Every model class is a frozen attrs class whose fields are snake_case forms of the
wire names (``absolute_time`` <-> ``AbsoluteTime``), plus ``extra``: the wire fields
the class does not know, kept verbatim so that ``to_wire(from_wire(cls, d)) == d``.
A field whose wire value is ``null`` or of an unexpected JSON type is kept in
``extra`` as well, and the attribute stays ``None``.
"""

from __future__ import annotations

import inspect
import json
import types
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


class _Spec:
    """Per-class field tables, computed once (see :func:`_spec`).

    ``fields``: ``(attr, wire, kind, sub, custom)`` in attrs order, for :func:`to_wire`
    and the compiled decoders.
    ``by_wire``: wire name -> ``(attr, kind, sub, custom)``, for :func:`from_wire`;
    ``custom`` is a field's own ``decode`` override (``None``: ``from_wire(sub, ...)``).
    """

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
            custom = f.metadata.get("decode")
            fields.append((f.name, wire, kind, sub, custom))
            by_wire[wire] = (f.name, kind, sub, custom)
        self.fields = tuple(fields)
        self.by_wire = by_wire


_SPECS: dict[type[Any], _Spec] = {}


def _spec(cls: type[Any]) -> _Spec:
    spec = _SPECS.get(cls)
    if spec is None:
        spec = _SPECS[cls] = _Spec(cls)
    return spec


# the exact types json.loads produces for scalars: one set lookup instead of isinstance
_SCALAR_EXACT = frozenset(_SCALAR_TYPES)


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
# data.get, checks their JSON types and, when the dict holds nothing else (no unknown
# key, no null, no value of an unexpected type: the usual case), builds the object by
# setting its slots directly (through a builder subclass: see _builder). Anything else
# falls back to _from_wire_general, which keeps the odd values in ``extra``. A class
# that needs its __init__ (validators, converters, defaults other than None,
# __attrs_post_init__, no slots: e.g. a class a user registers with
# register_content_type) is always built by calling it.

_DECODERS: dict[type[Any], Callable[[Mapping[str, Any]], Any]] = {}


def _plain_slots(cls: type[Any]) -> tuple[tuple[str, Any], ...] | None:
    """``(attr, slot descriptor)`` for every field when ``cls`` can be built without its
    ``__init__`` (what that attrs-generated ``__init__`` would do: set each slot, None
    by default, a new dict for ``extra``); ``None`` when it cannot."""
    code = getattr(cls.__init__, "__code__", None)
    if code is None or not code.co_filename.startswith("<attrs generated"):
        return None  # a hand-written __init__
    if hasattr(cls, "__attrs_pre_init__") or hasattr(cls, "__attrs_post_init__"):
        return None
    out = []
    for f in attrs.fields(cls):
        if not f.init or f.validator is not None or f.converter is not None:
            return None
        if f.metadata.get("extra"):
            default = f.default
            if not (
                isinstance(default, attrs.Factory)  # type: ignore[arg-type]
                and default.factory is dict
                and not default.takes_self
            ):
                return None
        elif f.default is not None:
            return None
        descriptor = inspect.getattr_static(cls, f.name, None)
        if type(descriptor) is not types.MemberDescriptorType:
            return None  # not a slotted class
        out.append((f.name, descriptor))
    return tuple(out)


_BUILDERS: dict[type[Any], type[Any] | None] = {}


def _builder(cls: type[Any]) -> type[Any] | None:
    """A class with the memory layout of ``cls`` that sets attributes the plain way
    (``object.__setattr__``, where attrs' frozen classes raise): the compiled decoder
    fills an instance of it with ordinary attribute stores, about 4 x faster than calling
    each slot descriptor's ``__set__``, then makes it a ``cls`` by ``__class__``
    assignment, which CPython allows between classes of the same layout. ``None`` when
    CPython refuses that assignment, or when making the builder could have side effects
    (a metaclass other than ``type``, an ``__init_subclass__``).

    The builder subclasses the class that defines the slots (e.g. one builder, a subclass
    of :class:`~participant.model.items.Item`, serves every typed item), so it shows in
    that class's ``__subclasses__()``; no object of its class ever leaves the decoder.
    """
    solid = cls  # the class that adds the slots: its subclasses add nothing to the layout
    base = solid.__base__
    while base is not None and base is not object and solid.__basicsize__ == base.__basicsize__:
        solid, base = base, base.__base__
    if solid not in _BUILDERS:
        builder: type[Any] | None = None
        if type(solid) is type and not any(
            "__init_subclass__" in vars(k) for k in solid.__mro__[:-1]
        ):
            namespace = {
                "__slots__": (),
                "__module__": solid.__module__,
                "__qualname__": f"{solid.__qualname__}.<decoder builder>",
                "__setattr__": object.__setattr__,
                "__delattr__": object.__delattr__,
            }
            builder = type(solid.__name__, (solid,), namespace)
        _BUILDERS[solid] = builder
    builder = _BUILDERS[solid]
    if builder is None:
        return None
    probe: Any = object.__new__(builder)
    try:
        probe.__class__ = cls
    except TypeError:
        return None
    return builder


def _compile(cls: type[Any]) -> Callable[[Mapping[str, Any]], Any]:
    """The decoder of ``cls`` (see the comment above)."""
    slots = _plain_slots(cls)
    if slots is None:
        return lambda data: _from_wire_general(cls, data)
    spec = _spec(cls)
    env: dict[str, Any] = {
        "new": object.__new__,
        "cls": cls,
        "general": _from_wire_general,
        "fw": _from_wire,
        "SCALAR": _SCALAR_EXACT,
        "dict": dict,
        "list": list,
        "tuple": tuple,
        "type": type,
        "len": len,
    }
    fallback = "return general(cls, data)"
    lines = ["def decode(data):", " get = data.get", " n = 0"]
    values: dict[str, str] = {}
    for i, (attr, wire, kind, sub, custom) in enumerate(spec.fields):
        v = f"v{i}"
        values[attr] = v
        env[f"sub{i}"] = sub
        env[f"custom{i}"] = custom
        lines += [f" {v} = get({wire!r})", f" if {v} is not None:"]
        if kind == _SCALAR:
            lines += [f"  if type({v}) not in SCALAR: {fallback}"]
        elif kind == _STRUCT:
            if custom is None and sub is None:
                lines += [f"  {fallback}"]
                continue
            call = f"custom{i}({v})" if custom is not None else f"fw(sub{i}, {v})"
            lines += [f"  if type({v}) is not dict: {fallback}", f"  {v} = {call}"]
        elif kind == _LIST:
            lines += [f"  if type({v}) is not list: {fallback}"]
            if sub is None and custom is None:
                lines += [f"  for x in {v}:", f"   if type(x) not in SCALAR: {fallback}"]
                lines += [f"  {v} = tuple({v})"]
            else:
                call = f"custom{i}(x)" if custom is not None else f"fw(sub{i}, x)"
                lines += [f"  for x in {v}:", f"   if type(x) is not dict: {fallback}"]
                lines += [f"  {v} = tuple([{call} for x in {v}])"]
        else:  # _MAP
            lines += [f"  if type({v}) is not dict: {fallback}", f"  {v} = dict({v})"]
        lines += ["  n += 1"]
    lines += [f" if n != len(data): {fallback}"]
    builder = _builder(cls)
    if builder is not None:
        env["builder"] = builder
        lines += [" obj = new(builder)"]
        lines += [f" obj.{name} = {values.get(name, '{}')}" for name, _descriptor in slots]
        lines += [" obj.__class__ = cls"]
    else:
        lines += [" obj = new(cls)"]
        for i, (name, descriptor) in enumerate(slots):
            env[f"set{i}"] = descriptor.__set__
            lines += [f" set{i}(obj, {values.get(name, '{}')})"]
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
    scalar_exact = _SCALAR_EXACT
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] | None = None
    for key, value in data.items():
        entry = by_wire.get(key)
        if entry is None or value is None:
            if extra is None:
                extra = {}
            extra[key] = value
            continue
        attr, kind, sub, custom = entry
        if kind == _SCALAR:
            if type(value) in scalar_exact or isinstance(value, _SCALAR_TYPES):
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
                        if not (type(v) in scalar_exact or isinstance(v, _SCALAR_TYPES)):
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
    for attr, wire, kind, _sub, _custom in _spec(type(obj)).fields:
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
