"""convgeom.frozen.dataclass against the standard ``dataclasses.dataclass(frozen=True)``: every
frozen class of the geometry core is rebuilt from its own annotations and defaults by the
standard decorator, and the two must agree on everything a caller can see."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import pickle
import sys
from typing import Any

import pytest

from convgeom import frozen

CORE = ("convgeom.params", "convgeom.padding", "convgeom.dialects.base", "convgeom.geometry",
        "convgeom.receptive_field", "convgeom.solve")


def core_classes() -> list[type]:
    found = []
    for name in CORE:
        module = importlib.import_module(name)
        found += [v for v in vars(module).values()
                  if isinstance(v, type) and v.__module__ == name and v.__dict__.get("__setattr__") is frozen._frozen_setattr]
    return found


CLASSES = core_classes()


def test_every_core_result_class_is_a_frozen_dataclass() -> None:
    names = {c.__name__ for c in CLASSES}
    assert {"LayerGeometry", "AxisGeometry", "Request", "Plan", "AxisPlan", "PadSplit", "Padding", "RawPads",
            "RFStep", "ReceptiveField", "SamePadding"} <= names, names
    for name in CORE:  # no class in the core still uses the standard decorator at run time
        for value in vars(sys.modules[name]).values():
            if isinstance(value, type) and value.__module__ == name and "__dataclass_fields__" in value.__dict__:
                assert value in CLASSES, value


def standard_twin(cls: type) -> type:
    """The same class body through the standard decorator (a fresh class: ``cls`` is untouched)."""
    body = {n: cls.__dict__[n] for n in cls.__match_args__ if n in cls.__dict__}  # type: ignore[attr-defined]
    body.update(__annotations__=cls.__dict__["__annotations__"], __module__=cls.__module__,
                __qualname__=cls.__qualname__, __doc__=cls.__dict__.get("__doc__"))
    if not isinstance(body["__doc__"], str):
        body["__doc__"] = None
    return dataclasses.dataclass(frozen=True)(type(cls.__name__, (), body))


def sample_values(cls: type, offset: int = 0) -> list[Any]:
    """One distinct hashable value per field (the classes store, they do not validate)."""
    return [(i + offset, f"v{i}") for i in range(len(cls.__match_args__))]  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_class_matches_the_standard_decorator(cls: type) -> None:
    twin = standard_twin(cls)
    assert inspect.signature(cls) == inspect.signature(twin)
    assert cls.__init__.__annotations__ == twin.__init__.__annotations__  # type: ignore[misc]
    assert cls.__init__.__qualname__ == twin.__init__.__qualname__  # type: ignore[misc]
    assert cls.__doc__ == twin.__doc__
    assert cls.__match_args__ == twin.__match_args__  # type: ignore[attr-defined]
    assert dataclasses.is_dataclass(cls)
    ours, theirs = dataclasses.fields(cls), dataclasses.fields(twin)
    assert [(f.name, f.type, f.default, f.init, f.repr, f.compare, f.hash) for f in ours] == \
           [(f.name, f.type, f.default, f.init, f.repr, f.compare, f.hash) for f in theirs]
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]

    values = sample_values(cls)
    a, b, other = cls(*values), cls(*values), cls(*sample_values(cls, 1))
    t = twin(*values)
    assert repr(a) == repr(t)
    assert a == b and hash(a) == hash(b) == hash(t) and a != other
    assert a != t and t != a  # different classes never compare equal, as with the standard one
    assert cls(**dict(zip(cls.__match_args__, values))) == a  # type: ignore[attr-defined]
    assert dataclasses.asdict(a) == dataclasses.asdict(t)
    assert dataclasses.astuple(a) == dataclasses.astuple(t)
    changed = dataclasses.replace(a, **{cls.__match_args__[0]: "x"})  # type: ignore[attr-defined]
    assert type(changed) is cls and getattr(changed, cls.__match_args__[0]) == "x"  # type: ignore[attr-defined]
    assert pickle.loads(pickle.dumps(a)) == a and copy.deepcopy(a) == a and copy.copy(a) == a


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_instances_are_frozen_like_the_standard_ones(cls: type) -> None:
    twin = standard_twin(cls)
    a, t = cls(*sample_values(cls)), twin(*sample_values(cls))
    field = cls.__match_args__[0]  # type: ignore[attr-defined]
    for target in (a, t):
        for name in (field, "not_a_field"):
            with pytest.raises(dataclasses.FrozenInstanceError) as set_error:
                setattr(target, name, 1)
            with pytest.raises(dataclasses.FrozenInstanceError) as del_error:
                delattr(target, name)
            assert str(set_error.value) == f"cannot assign to field {name!r}"
            assert str(del_error.value) == f"cannot delete field {name!r}"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_wrong_arguments_raise_as_the_standard_init_does(cls: type) -> None:
    twin = standard_twin(cls)
    n = len(cls.__match_args__)  # type: ignore[attr-defined]
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [((), {}), (tuple(range(n + 1)), {}),
                                                           ((), {"no_such_field": 1})]
    for args, kwargs in calls:
        errors = []
        for target in (cls, twin):
            try:
                target(*args, **kwargs)
                errors.append(None)
            except TypeError as err:
                errors.append(str(err))
        assert errors[0] == errors[1], errors


def test_a_subclass_may_add_its_own_attributes_but_not_change_fields() -> None:
    from convgeom.padding import PadSplit

    class Tagged(PadSplit):
        pass

    tagged = Tagged(1, 2, "note")
    tagged.tag = "mine"  # type: ignore[attr-defined]
    assert tagged.tag == "mine"  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        tagged.before = 5  # type: ignore[misc]
    assert [f.name for f in dataclasses.fields(tagged)] == ["before", "after", "note"]


@pytest.mark.parametrize("body, message", [
    ({"__annotations__": {"x": "list[int]"}, "x": []}, "immutable defaults"),
    ({"__annotations__": {"x": "int"}, "x": dataclasses.field(default=1)}, "no field()"),
    ({"__annotations__": {"x": "ClassVar[int]"}}, "plain fields only"),
    ({"__annotations__": {"x": "int", "y": "int"}, "x": 1}, "non-default argument 'y' follows default argument"),
])
def test_what_it_does_not_support_is_refused(body: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        frozen.dataclass(frozen=True)(type("Bad", (), body))


def test_only_frozen_and_no_bases() -> None:
    with pytest.raises(TypeError, match="frozen=True"):
        frozen.dataclass()
    with pytest.raises(TypeError, match="frozen=True"):
        frozen.dataclass(type("Bare", (), {}))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="no base classes"):
        frozen.dataclass(frozen=True)(type("Derived", (ValueError,), {"__annotations__": {}}))
