"""Frozen dataclasses for the geometry core, built without importing :mod:`dataclasses`.

``import dataclasses`` imports :mod:`inspect` (and with it ``ast``, ``dis``, ``tokenize``), and
``@dataclasses.dataclass`` compiles six methods per class: together about half of a cold
``convgeom shape`` (see the "CLI start-up" section of BENCHMARKS.md). The core modules write
``@dataclass(frozen=True)`` as usual and import :func:`dataclass` from here at run time, the
standard one under ``TYPE_CHECKING`` (so mypy checks them as the dataclasses they are)::

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from dataclasses import dataclass
    else:
        from .frozen import dataclass

The classes behave as ``dataclasses.dataclass(frozen=True)`` makes them: the same ``__init__``
signature, ``repr``, ``==`` (same class, equal fields), ``hash`` (of the fields' tuple),
``dataclasses.FrozenInstanceError`` on assignment or deletion, ``__match_args__``; and
:func:`dataclasses.fields`, :func:`~dataclasses.replace`, :func:`~dataclasses.asdict` and
:func:`~dataclasses.is_dataclass` work on them: ``__dataclass_fields__`` is built by the standard
module itself, from the same annotations and defaults, the first time anything asks for it.
Nothing is compiled until used (``__init__`` on the class's first instance; the other methods
are shared functions and closures). Only what the core uses is supported (annotated fields with
plain defaults, no base classes); the rest raises :class:`TypeError` at class creation rather
than behaving differently.
``tests/test_frozen.py`` compares every core class with the standard decorator's result.
"""

from __future__ import annotations

import sys
from operator import attrgetter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    T = TypeVar("T", bound=type)

#: the class attributes the standard module sets, built on first use (see :class:`_Standard`);
#: also ``__doc__`` (the signature) where the class has no docstring
_STANDARD = ("__dataclass_fields__", "__dataclass_params__")


def dataclass(cls: None = None, /, *, frozen: bool = False) -> Callable[[T], T]:
    """``dataclasses.dataclass(frozen=True)``, for the classes of the geometry core."""
    if cls is not None or frozen is not True:
        raise TypeError("convgeom.frozen.dataclass makes frozen dataclasses only: write @dataclass(frozen=True)")
    return _make_frozen


def _make_frozen(cls: T) -> T:
    if cls.__bases__ != (object,):
        raise TypeError(f"{cls.__name__}: convgeom.frozen.dataclass takes no base classes; use dataclasses")
    annotations: dict[str, str] = cls.__dict__.get("__annotations__", {})
    names = tuple(annotations)
    defaults: dict[str, Any] = {}
    for name in names:
        if str(annotations[name]).split("[")[0].rsplit(".")[-1] in ("ClassVar", "InitVar"):
            raise TypeError(f"{cls.__name__}.{name}: convgeom.frozen.dataclass takes plain fields only; "
                            "use dataclasses")
        if name in cls.__dict__:
            default = cls.__dict__[name]
            if type(default).__module__ == "dataclasses" or type(default).__hash__ is None:
                raise TypeError(f"{cls.__name__}.{name}: convgeom.frozen.dataclass takes plain immutable "
                                "defaults only (no field(), no list/dict/set); use dataclasses")
            defaults[name] = default
        elif defaults:
            raise TypeError(f"non-default argument {name!r} follows default argument")
    methods: dict[str, object] = {"__init__": _LazyInit(defaults, annotations), **_compare(cls, names),
                                  "__setattr__": _frozen_setattr, "__delattr__": _frozen_delattr,
                                  "__match_args__": names}
    if sys.version_info >= (3, 13):
        methods["__replace__"] = _replace
    for name, value in methods.items():
        setattr(cls, name, value)
    for attribute in _STANDARD + (() if cls.__doc__ else ("__doc__",)):
        setattr(cls, attribute, _Standard(attribute))
    return cls


class _LazyInit:
    """The ``__init__`` the standard module writes for a frozen class (the fields as parameters
    in order, stored past the frozen ``__setattr__``), compiled the first time the class is
    instantiated or asked for ``__init__`` (a cold start never instantiates most classes), and
    then stored on the class in place of this descriptor."""

    def __init__(self, defaults: dict[str, Any], annotations: dict[str, str]) -> None:
        self.defaults = defaults
        self.annotations = annotations

    def __get__(self, instance: object, owner: type) -> Any:
        cls = next(c for c in owner.__mro__ if c.__dict__.get("__init__") is self)  # owner or a base
        names: tuple[str, ...] = cls.__match_args__  # type: ignore[attr-defined]
        params = ", ".join(f"{n}=__default_{n}" if n in self.defaults else n for n in names)
        # a setattr per field, as the standard module does: updating self.__dict__ at once would
        # compile faster but give every instance a full dict, slowing each attribute read
        body = "".join(f"    __set(self, {n!r}, {n})\n" for n in names) or "    pass\n"
        namespace: dict[str, Any] = {f"__default_{n}": v for n, v in self.defaults.items()}
        namespace["__set"] = object.__setattr__
        exec(f"def __init__(self, {params}):\n{body}", namespace)
        init: Callable[..., None] = namespace["__init__"]
        init.__qualname__ = f"{cls.__qualname__}.__init__"
        init.__annotations__ = {**{n: self.annotations[n] for n in names}, "return": None}
        type.__setattr__(cls, "__init__", init)
        return init if instance is None else init.__get__(instance, owner)


def _compare(cls: type, names: tuple[str, ...]) -> dict[str, Callable[..., Any]]:
    """``__eq__``, ``__hash__`` and ``__repr__`` over the fields' tuple, as the standard module
    writes them, but not compiled: the tuple comes from :func:`operator.attrgetter` (``==``, ``hash``
    and ``repr`` take 1.6x to 2x the standard ones' few microseconds; no hot path calls them)."""
    values: Callable[[Any], tuple[Any, ...]]
    if len(names) > 1:
        values = attrgetter(*names)
    else:
        def values(self: Any) -> tuple[Any, ...]:
            return tuple(getattr(self, name) for name in names)

    def __eq__(self: Any, other: object) -> object:
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented

    def __hash__(self: Any) -> int:
        return hash(values(self))

    def __repr__(self: Any) -> str:
        shown = ", ".join(f"{n}={v!r}" for n, v in zip(names, values(self)))
        return f"{type(self).__qualname__}({shown})"

    methods: dict[str, Callable[..., Any]] = {"__eq__": __eq__, "__hash__": __hash__, "__repr__": __repr__}
    for function in methods.values():
        function.__qualname__ = f"{cls.__qualname__}.{function.__name__}"
    return methods


def _replace(self: Any, /, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(self, **changes)


def _frozen_setattr(self: Any, name: str, value: object) -> None:
    if name in self.__match_args__ or type(self).__dict__.get("__setattr__") is _frozen_setattr:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot assign to field {name!r}")
    object.__setattr__(self, name, value)  # a subclass's own attribute, as the standard module allows


def _frozen_delattr(self: Any, name: str) -> None:
    if name in self.__match_args__ or type(self).__dict__.get("__delattr__") is _frozen_delattr:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot delete field {name!r}")
    object.__delattr__(self, name)


class _Standard:
    """``__dataclass_fields__``, ``__dataclass_params__`` (and ``__doc__`` where the class has
    none), made by :mod:`dataclasses` itself on first access: a stand-in class with the same name,
    annotations and defaults goes through the standard decorator, and its values are stored on
    the class in place of these descriptors."""

    def __init__(self, attribute: str) -> None:
        self.attribute = attribute

    def __get__(self, instance: object, owner: type) -> Any:
        import dataclasses

        cls = next(c for c in owner.__mro__ if c.__dict__.get(self.attribute) is self)  # owner or a base
        names = cls.__match_args__  # type: ignore[attr-defined]
        body = {n: cls.__dict__[n] for n in names if n in cls.__dict__}
        body.update(__annotations__=cls.__dict__.get("__annotations__", {}), __module__=cls.__module__,
                    __qualname__=cls.__qualname__)
        standard: type = dataclasses.dataclass(frozen=True)(type(cls.__name__, (), body))
        for attribute in _STANDARD + ("__doc__",):
            if attribute in _STANDARD or isinstance(cls.__dict__.get(attribute), _Standard):
                type.__setattr__(cls, attribute, standard.__dict__[attribute])
        return cls.__dict__[self.attribute]
