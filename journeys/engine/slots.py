"""Fast constructors for the frozen, slotted dataclasses a durable run makes by the thousand.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__`` (a lookup of
the name, then the call): for the history entries a run writes (about four a milestone) and
the log entries a replay reads (thousands a call), that costs more than the rest of making
them. :func:`constructor` writes a function that sets the slots straight through their
descriptors. Its objects are the class's own in every way (type, equality, hash, repr,
immutability), and it is written out from the dataclass's fields, as :mod:`dataclasses`
writes ``__init__``, so it cannot drift from them.

:func:`copier` writes one that copies an object slot by slot, from the class's slots:
``copy.copy`` goes through ``__reduce_ex__`` and a dict of the slots, 16 us for a run's record
(the memory store copies it twice a run, a tenth of an in-memory run), where the copier takes 1.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["constructor", "copier"]

T = TypeVar("T")


def constructor(cls: type[T]) -> Callable[..., T]:
    """``cls(...)``, taking the same arguments (defaults included), for a frozen dataclass
    with ``slots=True``, no ``default_factory``, no ``__post_init__`` and no ``InitVar``."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if hasattr(cls, "__post_init__") or any(
        field.default_factory is not dataclasses.MISSING or not field.init for field in fields
    ):
        raise TypeError(f"{cls.__name__}: constructor() cannot make it; use the class")
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls}
    parameters = []
    for field in fields:
        scope[f"set_{field.name}"] = getattr(cls, field.name).__set__
        if field.default is dataclasses.MISSING:
            parameters.append(field.name)
        else:
            scope[f"default_{field.name}"] = field.default
            parameters.append(f"{field.name}=default_{field.name}")
    lines = [f"def made({', '.join(parameters)}):", "    made = new(cls)"]
    lines += [f"    set_{field.name}(made, {field.name})" for field in fields]
    lines.append("    return made")
    exec("\n".join(lines), scope)  # our own text, written from the dataclass's fields
    made: Callable[..., T] = scope["made"]
    made.__doc__ = f"{cls.__name__}(...), made faster (journeys.engine.slots)."
    return made


def copier(cls: type[T]) -> Callable[[T], T]:
    """``copy.copy`` for instances of a dataclass with ``slots=True``: a shallow copy, every
    slot (fields or not) set to the same object as the original's."""
    bases = [base for base in cls.__mro__ if base is not object]
    names = [name for base in bases for name in vars(base).get("__slots__", ())]
    if any("__slots__" not in vars(base) for base in bases) or "__dict__" in names:
        raise TypeError(f"{cls.__name__}: copier() copies slotted classes only")
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls}
    lines = ["def copied(source):", "    made = new(cls)"]
    params = getattr(cls, "__dataclass_params__", None)
    for name in names:
        if params is not None and not params.frozen:  # a plain store: the fastest there is
            lines.append(f"    made.{name} = source.{name}")
        else:  # past a frozen class's __setattr__, as its own __init__ goes
            scope[f"set_{name}"] = getattr(cls, name).__set__
            lines.append(f"    set_{name}(made, source.{name})")
    lines.append("    return made")
    exec("\n".join(lines), scope)  # our own text, written from the class's slots
    copied: Callable[[T], T] = scope["copied"]
    copied.__doc__ = f"copy.copy() of a {cls.__name__}, made faster (journeys.engine.slots)."
    return copied
