"""`record`: a frozen class with ordered fields, like `dataclass(frozen=True, eq=False)`, made without exec.

`dataclasses` writes each class's `__init__`/`__repr__`/`__setattr__` as source text and exec()s it
at import time: about 0.3 ms a class, and the manifest's eight records came to a fifth of edgernn's
cold start against a bare interpreter that takes ~5 ms in all (benchmarks/cold_start.py). Here the
methods are shared closures over the field names, so defining a record costs microseconds.

    @record
    class Entry:
        file: str
        ops: Mapping[str, int] = factory(dict)    # dataclasses.field(default_factory=dict)

    Entry("a.onnx").with_... / replace(entry, file="b.onnx") / Entry.FIELDS == ("file", "ops")
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, Callable, TypeVar

T = TypeVar("T")


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a record (as dataclasses.FrozenInstanceError)."""


class Factory:
    """A default made fresh for every instance (dataclasses.field(default_factory=...))."""

    __slots__ = ("make", "repr")

    def __init__(self, make: Callable[[], Any], repr: bool = True) -> None:  # noqa: A002 - as field(repr=)
        self.make, self.repr = make, repr


def factory(make: Callable[[], Any], *, repr: bool = True) -> Any:  # noqa: A002
    return Factory(make, repr)


def record(cls: type[T]) -> type[T]:
    """Make `cls` a frozen record of its annotated fields, in order, with their class-level defaults."""
    names = tuple(cls.__dict__.get("__annotations__", {}))
    defaults = {n: cls.__dict__[n] for n in names if n in cls.__dict__}
    shown = tuple(n for n in names if not (isinstance(defaults.get(n), Factory) and not defaults[n].repr))
    title = cls.__qualname__
    known = frozenset(names)
    made = {n: d.make for n, d in defaults.items() if type(d) is Factory}
    plain = {n: d for n, d in defaults.items() if n not in made}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args:
            if len(args) > len(names):
                raise TypeError(f"{title}() takes {len(names)} arguments, got {len(args)}")
            repeated = kwargs.keys() & names[: len(args)]
            if repeated:
                raise TypeError(f"{title}() got an unexpected or repeated argument {sorted(repeated)[0]!r}")
            kwargs.update(zip(names, args))
        if not kwargs.keys() <= known:
            raise TypeError(f"{title}() got an unexpected or repeated argument {sorted(kwargs.keys() - known)[0]!r}")
        put = self.__dict__  # the instance dict itself: __setattr__ refuses, and a manifest makes ~30 records
        for name in names:
            if name in kwargs:
                put[name] = kwargs[name]
            elif name in plain:
                put[name] = plain[name]
            elif name in made:
                put[name] = made[name]()
            else:
                raise TypeError(f"{title}() missing required argument {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r} of a {title}: build a new one (replace())")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r} of a {title}")

    def __repr__(self) -> str:
        return f"{title}(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in shown) + ")"

    for name, default in defaults.items():
        if type(default) is Factory:
            delattr(cls, name)
    cls.__init__, cls.__setattr__, cls.__delattr__, cls.__repr__ = __init__, __setattr__, __delattr__, __repr__
    cls.FIELDS = names
    return cls


def named_tuple(cls: type[T]) -> type[T]:
    """`cls` as a tuple of its annotated fields, like `typing.NamedTuple` (equality, unpacking, hashing),
    without the source text namedtuple exec()s: ~10 us a class instead of ~60 (cold start)."""
    names = tuple(cls.__dict__.get("__annotations__", {}))
    defaults = {n: cls.__dict__[n] for n in names if n in cls.__dict__}
    title = cls.__qualname__

    def __new__(klass: type, *args: Any, **kwargs: Any) -> Any:
        if len(args) > len(names):
            raise TypeError(f"{title}() takes {len(names)} arguments, got {len(args)}")
        values = list(args)
        for name in names[len(args) :]:
            if name in kwargs:
                values.append(kwargs.pop(name))
            elif name in defaults:
                values.append(defaults[name])
            else:
                raise TypeError(f"{title}() missing required argument {name!r}")
        if kwargs:
            raise TypeError(f"{title}() got an unexpected or repeated argument {sorted(kwargs)[0]!r}")
        return tuple.__new__(klass, values)

    def __repr__(self: Any) -> str:
        return f"{title}(" + ", ".join(f"{n}={v!r}" for n, v in zip(names, self)) + ")"

    def __getnewargs__(self: Any) -> tuple:  # pickling and copy
        return tuple(self)

    namespace = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__", *names)}
    namespace.update({n: property(itemgetter(i), doc=f"field {i}") for i, n in enumerate(names)})
    namespace.update(__slots__=(), __new__=__new__, __repr__=__repr__, __getnewargs__=__getnewargs__, FIELDS=names)
    return type(cls.__name__, (tuple,), namespace)  # type: ignore[return-value]


def replace(obj: T, **changes: Any) -> T:
    """A copy of the record `obj` with `changes` (dataclasses.replace)."""
    return type(obj)(**{**{n: getattr(obj, n) for n in type(obj).FIELDS}, **changes})
