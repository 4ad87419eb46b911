"""Predictions as data: named quantities that a claim's judge reads and the registry can perturb.

A :class:`Prediction` maps names to quantities. The judge reads ``prediction["u"]`` (a number, an array or a
function) and never learns which prediction it judges. The registry measures a claim's resolution by
perturbing every quantity of the published prediction by a relative size delta (:meth:`Prediction.perturbed`):

- :func:`scaled` (the default for plain values): a predicted number, array or function output, times (1 + delta);
- :func:`exponent`: a predicted exponent or rate, shifted by + delta;
- :func:`zero`: a predicted zero, offset by delta times the quantity's natural ``scale``;
- :func:`fixed`: a setting that is part of the claim, not of its numbers (a sign, a count): never perturbed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Quantity", "Prediction", "scaled", "exponent", "zero", "fixed"]

KINDS = ("scaled", "exponent", "zero", "fixed")


@dataclass(frozen=True)
class Quantity:
    """A predicted value (number, array or callable) and how a relative error ``delta`` perturbs it."""

    value: Any
    kind: str = "scaled"
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Quantity.kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "zero" and not (np.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"a zero prediction needs a positive finite natural scale, got scale={self.scale!r}")

    def perturbed(self, delta: float) -> Quantity:
        if self.kind == "fixed" or delta == 0:
            return self
        if callable(self.value):
            return Quantity(_perturbed_fn(self.value, self.kind, delta, self.scale), self.kind, self.scale)
        return Quantity(_perturb(self.value, self.kind, delta, self.scale), self.kind, self.scale)


def _perturb(v, kind: str, delta: float, scale: float):
    if kind == "scaled":
        return v * (1 + delta) if not isinstance(v, list | tuple) else [x * (1 + delta) for x in v]
    if kind == "exponent":
        return v + delta if not isinstance(v, list | tuple) else [x + delta for x in v]
    return v + delta * scale if not isinstance(v, list | tuple) else [x + delta * scale for x in v]


def _perturbed_fn(fn: Callable, kind: str, delta: float, scale: float) -> Callable:
    def perturbed(*args, **kwargs):
        return _perturb(np.asarray(fn(*args, **kwargs), float), kind, delta, scale)

    perturbed.__name__ = getattr(fn, "__name__", "prediction")
    return perturbed


def scaled(value) -> Quantity:
    """A predicted number, array or function; perturbed as value * (1 + delta)."""
    return Quantity(value, "scaled")


def exponent(value) -> Quantity:
    """A predicted exponent (slope, rate); perturbed as value + delta."""
    return Quantity(value, "exponent")


def zero(scale: float, value=0.0) -> Quantity:
    """A predicted zero (or a function predicted to vanish); perturbed as value + delta * ``scale``."""
    return Quantity(value, "zero", float(scale))


def fixed(value) -> Quantity:
    """Part of the claim's set-up rather than of its predicted numbers: never perturbed."""
    return Quantity(value, "fixed")


class Prediction(Mapping):
    """Named predicted quantities; ``prediction[name]`` is the value (number, array or callable).

    Plain values passed as keywords are :func:`scaled`.
    """

    def __init__(self, **quantities) -> None:
        if not quantities:
            raise ValueError("a Prediction needs at least one quantity")
        self._q = {k: v if isinstance(v, Quantity) else scaled(v) for k, v in quantities.items()}

    def __getitem__(self, name: str):
        try:
            return self._q[name].value
        except KeyError:
            raise KeyError(f"prediction has no quantity {name!r}; it has {sorted(self._q)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._q)

    def __len__(self) -> int:
        return len(self._q)

    def quantity(self, name: str) -> Quantity:
        return self._q[name]

    @property
    def perturbable(self) -> bool:
        return any(q.kind != "fixed" for q in self._q.values())

    def perturbed(self, delta: float) -> Prediction:
        """Every quantity perturbed by the signed relative error ``delta`` (see the module docstring)."""
        return Prediction(**{k: q.perturbed(delta) for k, q in self._q.items()})

    def replace(self, **quantities) -> Prediction:
        """A copy with some quantities replaced (how a control states its one mistake)."""
        unknown = set(quantities) - set(self._q)
        if unknown:
            raise KeyError(f"replace: unknown quantities {sorted(unknown)}; known {sorted(self._q)}")
        return Prediction(**{**self._q, **quantities})
