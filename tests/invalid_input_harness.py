"""Machinery of tests/test_invalid_input.py (also used by the probe script): discover every public function of
dltheory.theory and dltheory.simulators, build its valid call from a recipe (tests/invalid_input_recipes.py), make
one argument invalid at a time, run the call under a time limit and classify the outcome.

A recipe is ``{"param": value_or_P, ...}``; ``P(value, domain, ok=..., bad=...)`` declares the parameter's valid
domain (the invalid values follow from it), ``ok`` the invalid-looking classes that are valid here (each with its
reason), ``bad`` extra invalid values. Without a domain it is inferred from the value: bool -> "flag", float -> ">0",
int -> "Z>=1", str -> "choice", ndarray -> "array", callable -> "fn", anything else -> "obj".

Domains: real intervals "R", ">0", ">=0", "<0", "(0,1)", "[0,1]", "(0,1]", "[-1,1]", ... (a trailing "?" admits
None); integers "Z>=1", "Z[1,1e7]" (caps); "flag"; "choice"; "array" / "array>=0" / "array>0" (finite real array of
the valid value's ndim); "psd" (symmetric PSD matrix); "ints" (non-negative integer array); "mask" (bool array, not
all False); "widths" (sequence of ints >= 1); "reals" (sequence of finite reals, may be empty); "seed"; "obj"; "fn";
"name" (str or None); "any" (nothing tested: the reason goes in ``ok``).

Outcomes of an invalid call: "ok" (ValueError / TypeError / FloatingPointError whose message names the parameter),
"noname" (right type, message without the name), "wrongtype" (another exception), "finite" / "nonfinite" (a result
was returned), "hang" (over the time limit). A "probe" value (an in-domain extreme: 1e300, 1e-300, a huge int
without a cap) may also return a finite result; it must not return NaN/Inf, raise another type or hang.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import pkgutil
import re
import signal
import warnings
from collections.abc import Callable

import numpy as np

PACKAGES = ("dltheory.theory", "dltheory.simulators")
HUGE_INT = 10**30


class Lazy:
    """A value built on demand (fresh per call unless ``cache``): objects, arrays derived from other calls."""

    def __init__(self, make: Callable, cache: bool = False):
        self.make, self.cache, self._value = make, cache, None

    def get(self):
        if not self.cache:
            return self.make()
        if self._value is None:
            self._value = self.make()
        return self._value


@dataclasses.dataclass
class P:
    value: object
    domain: str | None = None
    ok: dict = dataclasses.field(default_factory=dict)  # class label -> reason it is valid here
    bad: tuple = ()  # extra invalid values


def P_(value, domain=None, ok=None, bad=()):
    return P(value, domain, dict(ok or {}), tuple(bad))


# --------------------------------------------------------------------------------------------- discovery


def public_functions() -> dict[str, Callable]:
    """{key: function} for every public function; key = defining module (without "dltheory.") + "." + name.

    Public = listed in ``__all__`` when the module defines it, else a name not starting with "_" defined in the
    module. Re-exports (theory.grokking) are the same objects and are tested once, under the defining module."""
    out: dict[str, Callable] = {}
    for pkg_name in PACKAGES:
        pkg = importlib.import_module(pkg_name)
        for info in pkgutil.iter_modules(pkg.__path__):
            if info.name.startswith("_"):
                continue
            mod = importlib.import_module(f"{pkg_name}.{info.name}")
            names = getattr(mod, "__all__", None)
            if names is None:
                names = [
                    n
                    for n, o in vars(mod).items()
                    if not n.startswith("_") and getattr(o, "__module__", None) == mod.__name__
                ]
            for name in names:
                obj = getattr(mod, name)
                # plain functions, and functions behind functools wrappers (lru_cache) or numba's dispatcher
                if inspect.isfunction(inspect.unwrap(getattr(obj, "py_func", obj))):
                    key = f"{obj.__module__.removeprefix('dltheory.')}.{obj.__name__}"
                    out.setdefault(key, obj)
    return dict(sorted(out.items()))


# --------------------------------------------------------------------------------------------- invalid values


def _interval(domain: str):
    """(lo, lo_open, hi, hi_open) of a real domain string; None bounds are infinite."""
    d = domain.replace(" ", "")
    if d == "R":
        return None, True, None, True
    m = re.fullmatch(r"(>=|>|<=|<)(-?[\d.e+-]+)", d)
    if m:
        op, v = m.group(1), float(m.group(2))
        return (v, op == ">", None, True) if op[0] == ">" else (None, True, v, op == "<")
    m = re.fullmatch(r"([\[(])(-?[\d.e+-]+|-inf),(-?[\d.e+-]+|inf)([\])])", d)
    if m:
        lo, hi = float(m.group(2)), float(m.group(3))
        return (None if math.isinf(lo) else lo, m.group(1) == "(", None if math.isinf(hi) else hi, m.group(4) == ")")
    raise ValueError(f"unknown real domain {domain!r}")


def _inside(x, lo, lo_open, hi, hi_open) -> bool:
    return not (
        (lo is not None and (x < lo or (lo_open and x == lo))) or (hi is not None and (x > hi or (hi_open and x == hi)))
    )


_TYPES = {"str": "abc", "None": None, "bool": True, "complex": 1 + 1j}


def _real_cases(domain: str):
    lo, lo_open, hi, hi_open = _interval(domain)
    yield from ((k, v, "reject") for k, v in _TYPES.items())
    yield from (("nan", math.nan, "reject"), ("inf", math.inf, "reject"), ("-inf", -math.inf, "reject"))
    cands = {"neg": -1.0, "zero": 0.0, "huge": 1e300, "-huge": -1e300, "tiny": 1e-300}
    if lo is not None:
        cands |= {"lo-1": lo - 1.0, "lo": lo, "lo-eps": lo - 1e-9 * max(1.0, abs(lo))}
    if hi is not None:
        cands |= {"hi+1": hi + 1.0, "hi": hi, "hi+eps": hi + 1e-9 * max(1.0, abs(hi))}
    for k, v in cands.items():
        yield k, v, ("probe" if _inside(v, lo, lo_open, hi, hi_open) else "reject")


def _int_cases(domain: str, value):
    m = re.fullmatch(r"Z(?:>=(-?\d+)|\[(-?\d+),([\d.e+]+)\])?", domain)
    if not m:
        raise ValueError(f"unknown integer domain {domain!r}")
    lo = (
        -HUGE_INT
        if m.group(1) is None and m.group(2) is None
        else int(m.group(1) if m.group(1) is not None else m.group(2))
    )
    hi = None if m.group(3) is None else int(float(m.group(3)))
    yield from ((k, v, "reject") for k, v in _TYPES.items())
    yield from (("nan", math.nan, "reject"), ("inf", math.inf, "reject"), ("-inf", -math.inf, "reject"))
    yield from (("float", float(value), "reject"), ("half", value + 0.5, "reject"), ("1e300", 1e300, "reject"))
    if lo > -HUGE_INT:
        yield "lo-1", lo - 1, "reject"
    yield "neg", -1, ("reject" if lo > -1 else "probe")
    yield "zero", 0, ("reject" if lo > 0 else "probe")
    if hi is not None:
        yield "hi+1", hi + 1, "reject"
    yield "bigint", HUGE_INT, ("reject" if hi is not None else "probe")


def _array_cases(value, lower: str | None):
    a = np.asarray(value, dtype=float)
    yield from ((k, v, "reject") for k, v in _TYPES.items())
    if a.size:
        for label, x in (("nan_entry", np.nan), ("inf_entry", np.inf)):
            b = a.copy()
            b.flat[0] = x
            yield label, b, "reject"
        yield "complex_array", a.astype(complex) + 1j, "reject"
        yield "empty", np.empty((0,) * max(a.ndim, 1)), "reject"
        yield "ndim+1", a[..., None] if a.ndim else np.array([[float(a)]]), "reject"
        if a.ndim:
            yield "string_array", a.astype(str), "reject"
        if lower is not None:
            b = a.copy()
            b.flat[0] = -1.0 if lower == ">=0" else 0.0
            yield "bound_entry", b, "reject"


def _psd_cases(value):
    K = np.asarray(value, dtype=float)
    yield from _array_cases(K, None)
    yield "negated", -K, "reject"
    B = K.copy()
    B[0, -1] += 0.5 * (1 + abs(B).max())
    yield "asymmetric", B, "reject"
    yield "nonsquare", K[:, :-1], "reject"
    yield "indefinite", K - 2 * np.linalg.eigvalsh(K)[-1] * np.eye(len(K)), "reject"


def _int_array_cases(value):
    a = np.asarray(value)
    yield from ((k, v, "reject") for k, v in _TYPES.items())
    yield "float_array", a + 0.5, "reject"
    b = a.copy()
    b.flat[0] = -1
    yield "negative_entry", b, "reject"
    yield "empty", np.empty((0,) * a.ndim, dtype=np.int64), "reject"
    yield "bool_array", a > 0, "reject"


def cases(p: P):
    """(label, invalid value, "reject" | "probe") for one parameter, after the recipe's exemptions."""
    domain, value = p.domain, p.value
    if isinstance(value, Lazy):
        value = value.get()
    if domain is None:
        domain = _default_domain(value)
    optional = domain.endswith("?")
    domain = domain.rstrip("?")
    if value is None and domain in ("psd", "array", "array>=0", "array>0"):
        value = np.eye(2) if domain == "psd" else np.ones(2)  # an optional array: perturb a plain one
    if value is None and domain.startswith("Z"):
        value = 2
    if domain == "any":
        gen = iter(())
    elif domain == "flag":
        gen = (
            (k, v, "reject") for k, v in {"str": "no", "None": None, "int": 1, "float": 1.0, "str_true": "True"}.items()
        )
    elif domain == "choice":
        gen = (
            (k, v, "reject") for k, v in {"other": "__not_a_choice__", "None": None, "float": 1.0, "bool": True}.items()
        )
    elif domain == "seed":
        gen = (
            (k, v, "reject")
            for k, v in {"None": None, "neg": -1, "float": 1.5, "str": "0", "bool": True, "complex": 1j}.items()
        )
    elif domain in ("obj", "fn"):
        gen = ((k, v, "reject") for k, v in {"None": None, "str": "abc", "float": 1.0}.items())
    elif domain == "name":
        gen = ((k, v, "reject") for k, v in {"float": 1.0, "bool": True}.items())
    elif domain.startswith("array"):
        gen = _array_cases(value, domain[5:] or None)
    elif domain == "psd":
        gen = _psd_cases(value)
    elif domain == "ints":
        gen = _int_array_cases(value)
    elif domain == "mask":
        m = np.asarray(value)
        gen = iter(
            [
                ("all_false", np.zeros_like(m), "reject"),
                ("None", None, "reject"),
                ("str", "no", "reject"),
                ("float_array", m.astype(float), "reject"),
            ]
        )
    elif domain == "widths":
        w = list(value)
        gen = iter(
            [
                ("None", None, "reject"),
                ("str", "abc", "reject"),
                ("empty", [], "reject"),
                ("zero", [0] + w[1:], "reject"),
                ("neg", [-1] + w[1:], "reject"),
            ]
            + [
                ("half", [2.5] + w[1:], "reject"),
                ("bool", [True] + w[1:], "reject"),
                ("nan", [math.nan] + w[1:], "reject"),
                ("2d", [w], "reject"),
            ]
        )
    elif domain == "reals":
        gen = iter(
            [
                ("None", None, "reject"),
                ("str", "abc", "reject"),
                ("nan", [math.nan], "reject"),
                ("inf", [math.inf], "reject"),
                ("complex", [1j], "reject"),
            ]
        )
    elif domain.startswith("Z"):
        gen = _int_cases(domain, value)
    else:
        gen = _real_cases(domain)
    for label, v, kind in gen:
        if label in p.ok or (optional and v is None):
            continue
        yield label, v, kind
    for i, v in enumerate(p.bad):
        yield f"bad{i}", v, "reject"


def _default_domain(value) -> str:
    if isinstance(value, bool):
        return "flag"
    if isinstance(value, float):
        return ">0"
    if isinstance(value, int):
        return "Z>=1"
    if isinstance(value, str):
        return "choice"
    if isinstance(value, np.ndarray):
        return "array"
    if callable(value):
        return "fn"
    return "obj"


def default_cases(default):
    """Type-only invalid values for a defaulted parameter the recipe does not list (invalid whatever its range)."""
    if isinstance(default, bool):
        return [("str", "no"), ("None", None), ("float", 1.5)]
    if isinstance(default, float) and math.isfinite(default):
        return [("str", "abc"), ("None", None), ("complex", 1j), ("nan", math.nan)]
    if isinstance(default, int):
        return [("str", "abc"), ("None", None), ("half", 2.5), ("nan", math.nan)]
    return []


# --------------------------------------------------------------------------------------------- running


class CallTimeout(BaseException):
    """Raised by the alarm; a BaseException so library code's ``except Exception`` cannot swallow it."""


_ARMED = [False]  # a timer signal that arrives after the call returned (a race at disarming) is ignored


def _alarm(signum, frame):
    if _ARMED[0]:
        signal.setitimer(signal.ITIMER_REAL, 0.5)  # fire again if this one is swallowed (e.g. inside a gc callback)
        raise CallTimeout


WALL_FACTOR = 20.0  # the wall-clock limit, a multiple of the CPU limit: catches a call blocked without using CPU


def call_with_timeout(fn, kwargs, seconds: float | None):
    """(result, exception) of fn(**kwargs); CallTimeout as the exception when it uses over ``seconds`` of CPU time
    (ITIMER_PROF: a loaded machine does not turn a slow call into a "hang") or WALL_FACTOR times that in wall time
    (a call waiting on a lock or a process pool uses no CPU)."""
    old = {sig: signal.signal(sig, _alarm) for sig in (signal.SIGPROF, signal.SIGALRM)}
    if seconds is not None:
        _ARMED[0] = True
        signal.setitimer(signal.ITIMER_PROF, seconds)
        signal.setitimer(signal.ITIMER_REAL, WALL_FACTOR * seconds)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an overflow or a discarded imaginary part is not a silent success
            return fn(**kwargs), None
    except CallTimeout as e:
        return None, e
    except Exception as e:  # noqa: BLE001 - classified by the caller
        return None, e
    finally:
        _ARMED[0] = False
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _nonfinite(x, depth: int = 0, bad=lambda a: ~np.isfinite(a)) -> bool:
    """True if a NaN/Inf float (``bad``) hides anywhere in a result (arrays, tuples, dicts, dataclasses, JAX arrays)."""
    if depth > 6:
        return False
    if isinstance(x, float | np.floating | np.ndarray) and np.asarray(x).dtype.kind in "fc":
        return bool(np.any(bad(np.asarray(x))))
    if hasattr(x, "__array__") and hasattr(x, "dtype") and not isinstance(x, np.ndarray):  # jax arrays
        return _nonfinite(np.asarray(x), depth + 1, bad)
    if isinstance(x, list | tuple):
        return any(_nonfinite(v, depth + 1, bad) for v in x[:1000])
    if isinstance(x, dict):
        return any(_nonfinite(v, depth + 1, bad) for v in x.values())
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return any(_nonfinite(getattr(x, f.name), depth + 1, bad) for f in dataclasses.fields(x))
    return False


def names_param(message: str, name: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message) is not None


def classify(result, exc, param: str, kind: str, all_params=()) -> str:
    """Outcome label of one invalid (or probe) call; see the module docstring."""
    if isinstance(exc, CallTimeout):
        return "hang"
    if exc is not None:
        if not isinstance(exc, ValueError | TypeError | FloatingPointError):
            return "wrongtype"
        msg = str(exc)
        if names_param(msg, param) or (kind == "probe" and any(names_param(msg, q) for q in all_params)):
            return "ok"
        return "noname"
    if kind == "probe":  # a valid extreme input: inf may be a documented sentinel (a time never reached), NaN not
        return "nonfinite" if _nonfinite(result, bad=np.isnan) else "ok"
    return "nonfinite" if _nonfinite(result) else "finite"


def resolve(recipe: dict) -> dict:
    out = {}
    for k, v in recipe.items():
        v = v.value if isinstance(v, P) else v
        out[k] = v.get() if isinstance(v, Lazy) else v
    return out


def invalid_calls(fn, recipe: dict):
    """Yield (param, label, kind, kwargs) for every single-argument perturbation of the recipe's valid call."""
    sig = inspect.signature(fn)
    for name, spec in recipe.items():
        p = spec if isinstance(spec, P) else P(spec)
        for label, v, kind in cases(p):
            kwargs = resolve(recipe)
            kwargs[name] = v
            yield name, label, kind, kwargs
    for name, par in sig.parameters.items():
        if name in recipe or par.default is inspect.Parameter.empty:
            continue
        for label, v in default_cases(par.default):
            kwargs = resolve(recipe)
            kwargs[name] = v
            yield name, f"default:{label}", "reject", kwargs


def check_function(fn, recipe: dict, seconds: float = 2.0):
    """(valid-call error or None, list of (param, label, kind, outcome, detail)) for one function."""
    result, exc = call_with_timeout(fn, resolve(recipe), None)  # no alarm: it may JIT-compile
    valid_error = None if exc is None else f"{type(exc).__name__}: {exc}"
    rows = []
    all_params = tuple(inspect.signature(fn).parameters)
    for name, label, kind, kwargs in invalid_calls(fn, recipe):
        result, exc = call_with_timeout(fn, kwargs, seconds)
        outcome = classify(result, exc, name, kind, all_params)
        detail = "" if exc is None else f"{type(exc).__name__}: {str(exc)[:160]}"
        rows.append((name, label, kind, outcome, detail))
    return valid_error, rows
