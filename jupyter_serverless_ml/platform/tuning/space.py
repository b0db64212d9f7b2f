"""Search spaces: ``C=loguniform(1e-3,10)`` as text, as JSON, and as Optuna distributions.

The text form is what ``%%tune --param`` and ``jsml tune --param`` take:

- ``loguniform(LOW,HIGH)``: a float sampled on a log scale (``0 < LOW < HIGH``)
- ``uniform(LOW,HIGH)``: a float
- ``int(LOW,HIGH[,STEP])``: an integer from LOW to HIGH inclusive
- ``choice(A,B,...)``: one of the values, typed like ``--hp`` values (int, float, bool, str)

The JSON form (:func:`parse_param` returns it, :func:`check_space` validates it,
the platform stores it) is ``{"kind": "loguniform", "low": 0.001, "high": 10}``,
``{"kind": "int", "low": 2, "high": 10, "step": 1}`` or
``{"kind": "choice", "values": ["l1", "l2"]}``. Nothing here imports Optuna until
:func:`distributions` is called.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ...errors import UsageError
from ...options import parse_value

KINDS = ("loguniform", "uniform", "int", "choice")
_SPEC = re.compile(r"^\s*([a-z]+)\s*\((.*)\)\s*$", re.S)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EXAMPLES = "C=loguniform(1e-3,10), depth=int(2,10), penalty=choice(l1,l2) or ratio=uniform(0,1)"


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{what}: {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"{what}: {text.strip()!r} must be a finite number")
    return value


def parse_spec(name: str, text: str) -> dict[str, Any]:
    """One distribution's text (``loguniform(1e-3,10)``) as its JSON form."""
    match = _SPEC.match(text)
    if not match or match.group(1) not in KINDS:
        raise UsageError(
            f"--param {name}={text!r}: write one of loguniform(LOW,HIGH), uniform(LOW,HIGH), "
            f"int(LOW,HIGH) or choice(A,B,...), e.g. --param {EXAMPLES.split(', ')[0]}"
        )
    kind, inner = match.group(1), match.group(2)
    args = [a.strip() for a in inner.split(",")] if inner.strip() else []
    what = f"--param {name}={text.strip()}"
    if kind == "choice":
        if not args or any(a == "" for a in args):
            raise UsageError(
                f"{what}: choice() needs values separated by commas, e.g. choice(l1,l2)"
            )
        return check_spec(name, {"kind": kind, "values": [parse_value(a) for a in args]})
    if kind == "int":
        if len(args) not in (2, 3):
            raise UsageError(f"{what}: int() takes LOW,HIGH or LOW,HIGH,STEP, e.g. int(2,10)")
        numbers = [_number(a, what) for a in args]
        if any(n != int(n) for n in numbers):
            raise UsageError(f"{what}: int() bounds and step must be whole numbers")
        spec: dict[str, Any] = {"kind": kind, "low": int(numbers[0]), "high": int(numbers[1])}
        spec["step"] = int(numbers[2]) if len(numbers) == 3 else 1
        return check_spec(name, spec)
    if len(args) != 2:
        raise UsageError(f"{what}: {kind}() takes LOW,HIGH, e.g. {kind}(1e-3,10)")
    low, high = (_number(a, what) for a in args)
    return check_spec(name, {"kind": kind, "low": low, "high": high})


def parse_param(item: str) -> tuple[str, dict[str, Any]]:
    """``NAME=SPEC`` as ``(NAME, JSON form)``."""
    name, sep, text = item.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"--param expects NAME=DISTRIBUTION, got {item!r}; for example {EXAMPLES}")
    return name.strip(), parse_spec(name.strip(), text)


def parse_space(items: Iterable[str] | Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A search space from ``--param`` items, or from a mapping of names to text or JSON specs
    (a list or tuple is a choice)."""
    space: dict[str, dict[str, Any]] = {}
    if isinstance(items, Mapping):
        for name, spec in items.items():
            if isinstance(spec, str):
                space[name] = parse_spec(name, spec)
            elif isinstance(spec, list | tuple):
                space[name] = check_spec(name, {"kind": "choice", "values": list(spec)})
            else:
                space[name] = check_spec(name, spec)
        return check_space(space)
    for item in items:
        name, spec = parse_param(item)
        if name in space:
            raise UsageError(f"--param {name} given twice; give each parameter once")
        space[name] = spec
    return check_space(space)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_spec(name: str, spec: Any) -> dict[str, Any]:
    """Validate one JSON spec (it may come over HTTP); returns a clean copy."""
    if not _NAME.match(str(name)):
        raise UsageError(
            f"parameter name {name!r} is not an identifier (it is read as hp.{name}); "
            "use letters, digits and _"
        )
    if not isinstance(spec, Mapping) or spec.get("kind") not in KINDS:
        raise UsageError(
            f"parameter {name}: a spec needs a kind ({', '.join(KINDS)}), e.g. {EXAMPLES}"
        )
    kind = spec["kind"]
    if kind == "choice":
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            raise UsageError(f"parameter {name}: choice needs a non-empty list of values")
        for value in values:
            if value is not None and not isinstance(value, str | int | float | bool):
                raise UsageError(
                    f"parameter {name}: choice values must be strings, numbers or booleans, "
                    f"not {type(value).__name__}"
                )
        if len({repr(v) for v in values}) != len(values):
            raise UsageError(f"parameter {name}: choice values must differ: {values}")
        return {"kind": kind, "values": list(values)}
    low, high = spec.get("low"), spec.get("high")
    if not (_finite(low) and _finite(high)):
        raise UsageError(f"parameter {name}: {kind} needs finite numbers low and high")
    assert isinstance(low, int | float) and isinstance(high, int | float)
    if not low < high:
        raise UsageError(f"parameter {name}: {kind}({low},{high}) needs LOW < HIGH")
    if kind == "loguniform" and low <= 0:
        raise UsageError(
            f"parameter {name}: loguniform({low},{high}) needs LOW > 0 (a log scale); "
            "use uniform() for ranges that include 0"
        )
    if kind == "int":
        step = spec.get("step", 1)
        if any(not isinstance(n, int) or isinstance(n, bool) for n in (low, high, step)):
            raise UsageError(f"parameter {name}: int bounds and step must be whole numbers")
        if step < 1:
            raise UsageError(f"parameter {name}: int step must be 1 or more, not {step}")
        return {"kind": kind, "low": low, "high": high, "step": step}
    return {"kind": kind, "low": float(low), "high": float(high)}


def check_space(space: Any) -> dict[str, dict[str, Any]]:
    """Validate a whole space (at least one parameter)."""
    if not isinstance(space, Mapping) or not space:
        raise UsageError(f"a study needs at least one --param, e.g. --param {EXAMPLES}")
    return {str(name): check_spec(str(name), spec) for name, spec in space.items()}


def grid(space: Mapping[str, Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Every value of each parameter, for grid search; continuous parameters are refused."""
    values: dict[str, list[Any]] = {}
    for name, spec in space.items():
        if spec["kind"] == "choice":
            values[name] = list(spec["values"])
        elif spec["kind"] == "int":
            values[name] = list(range(spec["low"], spec["high"] + 1, spec["step"]))
        else:
            raise UsageError(
                f"--strategy grid needs values it can list: {name} is {spec['kind']}(); "
                "write it as int(...) or choice(...), or use --strategy tpe or random"
            )
    return values


def grid_size(space: Mapping[str, Mapping[str, Any]]) -> int:
    """How many points the grid of ``space`` has."""
    return math.prod(len(v) for v in grid(space).values())


def distributions(space: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The space as Optuna distributions."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    for name, spec in space.items():
        kind = spec["kind"]
        if kind == "choice":
            out[name] = CategoricalDistribution(spec["values"])
        elif kind == "int":
            out[name] = IntDistribution(spec["low"], spec["high"], step=spec["step"])
        else:
            out[name] = FloatDistribution(spec["low"], spec["high"], log=kind == "loguniform")
    return out


def describe(spec: Mapping[str, Any]) -> str:
    """A spec back as its text form (``loguniform(0.001,10)``)."""
    if spec["kind"] == "choice":
        return f"choice({','.join(str(v) for v in spec['values'])})"
    step = f",{spec['step']}" if spec["kind"] == "int" and spec.get("step", 1) != 1 else ""
    return f"{spec['kind']}({spec['low']:g},{spec['high']:g}{step})"


__all__ = [
    "KINDS",
    "check_space",
    "check_spec",
    "describe",
    "distributions",
    "grid",
    "grid_size",
    "parse_param",
    "parse_space",
    "parse_spec",
]
