"""Input validation shared by theory/ and simulators/: one place, one order of checks, one message style.

Every validator takes the caller's parameter ``name`` first and checks, in this order: the type (a bool is not a
number, None / str / complex / object are refused), finiteness, the range, then the shape. The error names the
parameter and its allowed range, e.g. ``"sigma_b2 must be a finite number >= 0, got nan"``.

A wrong type raises :class:`InvalidType`, which is both a TypeError and a ValueError (as numpy's AxisError is both an
IndexError and a ValueError), so ``except ValueError`` catches every bad input. A value of the right type outside its
range raises ValueError.

Caps. A function whose cost grows with an argument (steps, samples, widths) passes ``upper=`` with one of the caps
below, so a call never runs for hours because of a typo (``n_steps=1e9``) and never loops forever. The caps are far
above anything the claims use (which need at most ~1e5 steps or widths ~1e4) and are documented here once.

Extremes. Inputs that pass validation but leave the float64 range inside a computation (1e300 squared) raise
FloatingPointError naming the function and its arguments (:func:`overflow_guard`), never OverflowError,
ZeroDivisionError or a silent inf / NaN.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Iterable

import numpy as np

__all__ = [
    "InvalidType",
    "MAX_STEPS",
    "MAX_SAMPLES",
    "MAX_WIDTH",
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "PSD_RTOL",
    "real_scalar",
    "positive",
    "nonnegative",
    "probability",
    "integer",
    "integer_at_least",
    "flag",
    "choice",
    "instance",
    "function",
    "real_array",
    "psd_matrix",
    "labels",
    "integer_array",
    "widths",
    "mask",
    "seed",
    "generator",
    "overflow_guard",
]

MAX_STEPS = 10_000_000
"""Cap on iteration / integration steps (gradient steps, Euler steps, fixed-point iterations)."""
MAX_SAMPLES = 10_000_000
"""Cap on Monte Carlo samples, networks, paths, seeds drawn in one call."""
MAX_WIDTH = 100_000
"""Cap on a layer width, an input dimension or a number of data points (an n x n array of 1e10 floats is 80 GB)."""
MAX_DEPTH = 100_000
"""Cap on a number of layers."""
MAX_ELEMENTS = 100_000_000
"""Cap on the number of floats one call allocates (800 MB in float64)."""
PSD_RTOL = 1e-9
"""Round-off allowed in :func:`psd_matrix`: |K - K^T| <= PSD_RTOL max|K_ij| entrywise and the smallest eigenvalue
>= -PSD_RTOL n max|K_ij| (n x n), far above float64 round-off of a computed Gram matrix, far below a real defect."""


class InvalidType(TypeError, ValueError):
    """An argument of the wrong type (bool for a number, None, str, complex, ...): a TypeError and a ValueError."""


def _describe(value) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    kind = type(value).__name__
    return text if isinstance(value, float | int) and not isinstance(value, bool) else f"{text} ({kind})"


def _range_text(lower, upper, strict: bool, upper_strict: bool) -> str:
    if lower is None and upper is None:
        return ""
    if upper is None:
        return f" {'>' if strict else '>='} {lower:g}"
    if lower is None:
        return f" {'<' if upper_strict else '<='} {upper:g}"
    return f" in {'(' if strict else '['}{lower:g}, {upper:g}{')' if upper_strict else ']'}"


def _is_real_number(value) -> bool:
    """True for real numbers (int, float, numpy ints and floats, Fraction, 0-d real arrays); False for bool, complex."""
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and value.dtype.kind in "iuf"
    return isinstance(value, numbers.Real)


def real_scalar(
    name: str,
    value,
    *,
    lower: float | None = None,
    strict: bool = False,
    upper: float | None = None,
    upper_strict: bool = False,
) -> float:
    """``value`` as a finite float, optionally >= ``lower`` (> if ``strict``) and <= ``upper`` (< if ``upper_strict``)."""
    what = f"{name} must be a finite number{_range_text(lower, upper, strict, upper_strict)}"
    if not _is_real_number(value):
        raise InvalidType(f"{what}, got {_describe(value)}")
    try:
        out = float(value)
    except (OverflowError, ValueError, TypeError):  # an int beyond float range, an exotic Real
        raise ValueError(f"{what}, got {_describe(value)}") from None
    if not math.isfinite(out):
        raise ValueError(f"{what}, got {out}")
    if lower is not None and (out < lower or (strict and out == lower)):
        raise ValueError(f"{what}, got {out!r}")
    if upper is not None and (out > upper or (upper_strict and out == upper)):
        raise ValueError(f"{what}, got {out!r}")
    return out


def positive(name: str, value, *, upper: float | None = None) -> float:
    """``value`` as a finite float > 0 (and <= ``upper`` if given)."""
    return real_scalar(name, value, lower=0.0, strict=True, upper=upper)


def nonnegative(name: str, value, *, upper: float | None = None) -> float:
    """``value`` as a finite float >= 0 (and <= ``upper`` if given)."""
    return real_scalar(name, value, lower=0.0, upper=upper)


def probability(name: str, value, *, open_lower: bool = False, open_upper: bool = False) -> float:
    """``value`` as a float in [0, 1] (ends excluded on request)."""
    return real_scalar(name, value, lower=0.0, strict=open_lower, upper=1.0, upper_strict=open_upper)


def integer(name: str, value, *, lower: int | None = None, upper: int | None = None) -> int:
    """``value`` as a Python int in [``lower``, ``upper``]: ints and numpy ints only (bools and floats are refused)."""
    if lower is None and upper is None:
        what = f"{name} must be an integer"
    elif upper is None:
        what = f"{name} must be an integer >= {lower}"
    elif lower is None:
        what = f"{name} must be an integer <= {upper}"
    else:
        what = f"{name} must be an integer in [{lower}, {upper}]"
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise InvalidType(f"{what}, got {_describe(value)}")
    out = int(value)
    if (lower is not None and out < lower) or (upper is not None and out > upper):
        raise ValueError(f"{what}, got {out}")
    return out


def integer_at_least(name: str, value, lower: int, *, upper: int | None = None) -> int:
    """``value`` as an int >= ``lower`` (and <= ``upper`` if given); bools and floats are refused."""
    return integer(name, value, lower=lower, upper=upper)


def flag(name: str, value) -> bool:
    """``value`` as a bool: only True / False (or numpy bools); 0, 1, "no" and None are refused."""
    if not isinstance(value, bool | np.bool_):
        raise InvalidType(f"{name} must be True or False, got {_describe(value)}")
    return bool(value)


def _same_kind(value, allowed) -> bool:
    """``value`` has the kind of ``allowed`` (str subclasses such as numpy.str_ count as str; bool is not an int)."""
    if isinstance(allowed, bool | np.bool_):
        return isinstance(value, bool | np.bool_)
    if isinstance(value, bool | np.bool_):
        return False
    for kind in (str, numbers.Integral, numbers.Real):
        if isinstance(allowed, kind):
            return isinstance(value, kind)
    return type(value) is type(allowed)


def choice(name: str, value, allowed: Iterable):
    """``value`` if it equals one of ``allowed`` (of the same kind: "1" is not 1, True is not 1); the message lists
    them. Returns the matching allowed value."""
    allowed = tuple(allowed)
    listed = ", ".join(repr(a) for a in allowed)
    for a in allowed:
        try:
            if _same_kind(value, a) and value == a:
                return a
        except (TypeError, ValueError):  # arrays and other objects without a boolean ==
            break
    err = ValueError if any(_same_kind(value, a) for a in allowed) else InvalidType
    raise err(f"{name} must be one of {listed}, got {_describe(value)}")


def instance(name: str, value, cls: type | tuple[type, ...], what: str | None = None):
    """``value`` if it is an instance of ``cls``; else InvalidType saying what was expected."""
    if not isinstance(value, cls):
        if what is None:
            names = cls if isinstance(cls, tuple) else (cls,)
            what = " or ".join(c.__name__ for c in names)
        raise InvalidType(f"{name} must be {what}, got {_describe(value)}")
    return value


def function(name: str, value):
    """``value`` if it is callable; else InvalidType."""
    if not callable(value):
        raise InvalidType(f"{name} must be a callable, got {_describe(value)}")
    return value


def real_array(
    name: str,
    value,
    *,
    ndim: int | tuple[int, ...] | None = None,
    shape: tuple[int | None, ...] | None = None,
    min_size: int = 1,
    lower: float | None = None,
    strict: bool = False,
    upper: float | None = None,
    max_size: int = MAX_ELEMENTS,
) -> np.ndarray:
    """``value`` as a finite float64 array of the given ``ndim`` / ``shape`` (None entries are free), with at least
    ``min_size`` elements, entries in the given range. Bool, complex, string and object arrays are refused."""
    what = f"{name} must be a finite real array"
    if value is None or isinstance(value, str | bytes | bool | np.bool_):
        raise InvalidType(f"{what}, got {_describe(value)}")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):  # ragged nested lists
        raise InvalidType(f"{what}, got {_describe(value)}") from None
    if arr.dtype.kind not in "iuf":
        raise InvalidType(f"{what}, got an array of dtype {arr.dtype}")
    if arr.size > max_size:
        raise ValueError(f"{name} must have at most {max_size} elements, got {arr.size}")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what}, got non-finite entries")
    if ndim is not None:
        ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in ndims:
            raise ValueError(f"{name} must be a real {'- or '.join(map(str, ndims))}-D array, got shape {arr.shape}")
    if shape is not None:
        if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{name} must have at least {min_size} element(s), got shape {arr.shape}")
    if arr.size and (lower is not None or upper is not None):
        bad = np.zeros(arr.shape, dtype=bool)
        if lower is not None:
            bad |= (arr < lower) | (arr == lower) if strict else arr < lower
        if upper is not None:
            bad |= arr > upper
        if bad.any():
            rng = _range_text(lower, upper, strict, False)
            what = f"must lie{rng}" if lower is not None and upper is not None else f"must have entries{rng}"
            raise ValueError(f"{name} {what}, got an entry {arr[bad].flat[0]!r}")
    return arr


def psd_matrix(name: str, value, *, size: int | None = None, rtol: float = PSD_RTOL) -> np.ndarray:
    """``value`` as a finite symmetric positive semi-definite float64 matrix (optionally ``size`` x ``size``).

    Round-off: |K - K^T| <= rtol * max|K| entrywise, and eigenvalues >= -rtol * max|K| * n."""
    arr = real_array(name, value, ndim=2)
    if arr.shape[0] != arr.shape[1] or (size is not None and arr.shape[0] != size):
        want = f"{size} x {size}" if size is not None else "square"
        raise ValueError(f"{name} must be a {want} symmetric PSD matrix, got shape {arr.shape}")
    scale = float(np.max(np.abs(arr)))
    if np.max(np.abs(arr - arr.T)) > rtol * scale:
        raise ValueError(
            f"{name} must be symmetric (to {rtol:g} of max|K|), got max|K - K^T| = {np.max(np.abs(arr - arr.T)):.3g}"
        )
    lam_min = float(np.linalg.eigvalsh(0.5 * (arr + arr.T))[0]) if arr.size else 0.0
    if lam_min < -rtol * scale * arr.shape[0]:
        raise ValueError(f"{name} must be positive semi-definite, got an eigenvalue {lam_min:.3g}")
    return arr


def integer_array(
    name: str,
    value,
    *,
    ndim: int | None = None,
    shape: tuple[int | None, ...] | None = None,
    lower: int | None = None,
    upper: int | None = None,
    min_size: int = 1,
) -> np.ndarray:
    """``value`` as an int64 array (ints only: bool and float arrays are refused) of the given ``ndim`` / ``shape``
    (None entries are free), at least ``min_size`` elements, entries in [``lower``, ``upper``]."""
    what = f"{name} must be an integer array" + (
        f" with entries{_range_text(lower, upper, False, False)}" if lower is not None or upper is not None else ""
    )
    if value is None or isinstance(value, str | bytes | bool | np.bool_):
        raise InvalidType(f"{what}, got {_describe(value)}")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        raise InvalidType(f"{what}, got {_describe(value)}") from None
    if arr.dtype.kind not in "iu" and not (arr.size == 0 and arr.dtype.kind == "f"):
        raise InvalidType(f"{what}, got an array of dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D integer array, got shape {arr.shape}")
    if shape is not None and (
        arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape))
    ):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{name} must have at least {min_size} element(s), got shape {arr.shape}")
    if arr.size and ((lower is not None and arr.min() < lower) or (upper is not None and arr.max() > upper)):
        raise ValueError(f"{what}, got entries in [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64, copy=False)


def widths(name: str, value, *, lower: int = 1, upper: int = MAX_WIDTH) -> list[int]:
    """``value`` as a non-empty list of ints in [``lower``, ``upper``] (a 1-D sequence; bools and floats refused)."""
    what = f"{name} must be a non-empty 1-D sequence of integers in [{lower}, {upper}]"
    if value is None or isinstance(value, str | bytes | bool | np.bool_) or np.ndim(value) != 1:
        raise InvalidType(f"{what}, got {_describe(value)}")
    out = []
    for v in value:
        if isinstance(v, bool | np.bool_) or not isinstance(v, int | np.integer):
            raise InvalidType(f"{what}, got an entry {_describe(v)}")
        if not lower <= v <= upper:
            raise ValueError(f"{what}, got an entry {int(v)}")
        out.append(int(v))
    if not out:
        raise ValueError(f"{what}, got an empty sequence")
    return out


def labels(name: str, value, *, n_classes: int | None = None, length: int | None = None) -> np.ndarray:
    """``value`` as a non-empty 1-d int64 array of class labels in [0, ``n_classes``) (of ``length`` if given)."""
    what = f"{name} must be a non-empty 1-d array of integer labels" + (
        f" in [0, {n_classes})" if n_classes is not None else " >= 0"
    )
    if value is None or isinstance(value, str | bytes | bool):
        raise InvalidType(f"{what}, got {_describe(value)}")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        raise InvalidType(f"{what}, got {_describe(value)}") from None
    if arr.dtype.kind not in "iu":
        raise InvalidType(f"{what}, got an array of dtype {arr.dtype}")
    if arr.ndim != 1 or arr.size == 0 or (length is not None and arr.size != length):
        extra = f" of length {length}" if length is not None else ""
        raise ValueError(f"{what}{extra}, got shape {arr.shape}")
    if arr.min() < 0 or (n_classes is not None and arr.max() >= n_classes):
        raise ValueError(f"{what}, got values in [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64, copy=False)


def mask(name: str, value, *, shape: tuple[int, ...] | None = None, nonempty: bool = True) -> np.ndarray:
    """``value`` as a bool array (optionally of ``shape``) with at least one True entry when ``nonempty``."""
    if value is None or isinstance(value, str | bytes):
        raise InvalidType(f"{name} must be a boolean mask, got {_describe(value)}")
    arr = np.asarray(value)
    if arr.dtype != np.bool_:
        raise InvalidType(f"{name} must be a boolean mask, got an array of dtype {arr.dtype}")
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"{name} must be a boolean mask of shape {tuple(shape)}, got {arr.shape}")
    if nonempty and not arr.any():
        raise ValueError(f"{name} must select at least one entry, got an all-False mask of shape {arr.shape}")
    return arr


def seed(name: str, value):
    """``value`` if it is a seed: an int >= 0 (numpy ints too), a numpy SeedSequence or Generator. None is refused:
    an unseeded call could not be reproduced (the same rule as the simulators' seeding)."""
    if isinstance(value, np.random.Generator | np.random.SeedSequence):
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        if value >= 0:
            return int(value)
        raise ValueError(f"{name} must be an int >= 0, a numpy SeedSequence or a Generator, got {value}")
    raise InvalidType(f"{name} must be an int >= 0, a numpy SeedSequence or a Generator, got {_describe(value)}")


def generator(name: str, value) -> np.random.Generator:
    """A numpy Generator from a seed (see :func:`seed`); a Generator is passed through, not copied."""
    value = seed(name, value)
    return value if isinstance(value, np.random.Generator) else np.random.default_rng(value)


def overflow_guard(fn):
    """Decorator: an overflow, division by zero or invalid operation inside ``fn`` (inputs that pass validation but
    leave the float64 range, e.g. a shaping constant 1e300 squared) becomes a FloatingPointError that names the
    function and lists its arguments, the library's exception for a diverging computation. Python's OverflowError /
    ZeroDivisionError are caught, and numpy runs under errstate(over, divide, invalid = "raise"); code that expects
    such values (log 0, inf) sets its own local errstate."""
    sig = inspect.signature(fn)

    @functools.wraps(fn)
    def guarded(*args, **kwargs):
        try:
            with np.errstate(over="raise", divide="raise", invalid="raise"):  # numpy's overflow too (thread-local)
                return fn(*args, **kwargs)
        except FloatingPointError as e:
            if "encountered in" not in str(e):  # the library's own divergence message: keep it
                raise
            error = e
        except (OverflowError, ZeroDivisionError) as e:
            error = e
        except ValueError as e:
            if str(e) != "math domain error":  # math.log(0.0) / math.sqrt(-tiny) after an underflow
                raise
            error = e
        try:
            given = sig.bind(*args, **kwargs).arguments.items()
        except TypeError:
            given = kwargs.items()
        listed = ", ".join(f"{k}={_describe(v).split(' (')[0]}" for k, v in given)
        raise FloatingPointError(f"{fn.__name__}({listed}) leaves the float64 range: {error}") from None

    return guarded
