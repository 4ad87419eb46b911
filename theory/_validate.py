"""Input validation shared by the theory modules: each raises ValueError naming the parameter and its range."""

from __future__ import annotations

import math
import operator

import numpy as np

__all__ = ["real_scalar", "positive", "nonnegative", "integer_at_least"]


def real_scalar(name: str, value, *, lower: float | None = None, strict: bool = False) -> float:
    """``value`` as a finite float, optionally >= ``lower`` (> ``lower`` if ``strict``)."""
    arr = np.asarray(value)
    if arr.ndim != 0 or arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be a real scalar, got {value!r}")
    out = float(arr)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {out}")
    if lower is not None and (out < lower or (strict and out == lower)):
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {lower:g}, got {out}")
    return out


def positive(name: str, value) -> float:
    """``value`` as a float > 0."""
    return real_scalar(name, value, lower=0.0, strict=True)


def nonnegative(name: str, value) -> float:
    """``value`` as a float >= 0."""
    return real_scalar(name, value, lower=0.0)


def integer_at_least(name: str, value, lower: int) -> int:
    """``value`` as an int >= ``lower`` (bools and floats are refused)."""
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be an integer >= {lower}, got {value!r}")
    try:
        out = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer >= {lower}, got {value!r}") from None
    if out < lower:
        raise ValueError(f"{name} must be an integer >= {lower}, got {out}")
    return out
