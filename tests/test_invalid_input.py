"""Every public function of dltheory.theory and dltheory.simulators refuses invalid input clearly (issue 17).

Discovered automatically (tests/invalid_input_harness.py): a public function without a recipe in
tests/invalid_input_recipes.py fails ``test_every_public_function_has_a_recipe``. For each function the valid call
must succeed; then each argument in turn is made invalid (wrong type, NaN, +-inf, out of range, wrong shape, empty,
non-integer, ...) and the call must raise ValueError / TypeError (FloatingPointError for a divergence) naming that
argument, within CALL_SECONDS: never another exception, never a result. In-domain extremes ("probes": 1e300, 1e-300,
huge ints without a cap) may return a result, but never a NaN/Inf, another exception type or a hang.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st


def _load(name: str):
    """The sibling helper modules (tests/ is not a package; pytest runs with --import-mode=importlib)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


harness = _load("invalid_input_harness")
RECIPES = _load("invalid_input_recipes").RECIPES
FUNCTIONS = harness.public_functions()
CALL_SECONDS = 2.0  # per invalid call; a rejection takes microseconds, a probe at most milliseconds
MIN_INVALID_CALLS = 5000


def test_every_public_function_has_a_recipe():
    missing = sorted(set(FUNCTIONS) - set(RECIPES))
    assert not missing, (
        f"public functions without an invalid-input recipe; add one to tests/invalid_input_recipes.py: {missing}"
    )
    stale = sorted(set(RECIPES) - set(FUNCTIONS))
    assert not stale, f"recipes for functions that are no longer public: {stale}"


@pytest.mark.parametrize("key", sorted(set(FUNCTIONS) & set(RECIPES)))
def test_invalid_input_is_refused(key):
    valid_error, rows = harness.check_function(FUNCTIONS[key], RECIPES[key], CALL_SECONDS)
    assert valid_error is None, f"the recipe's valid call of {key} failed: {valid_error}"
    bad = [
        f"{name}={label} [{kind}] -> {outcome} {detail}"
        for name, label, kind, outcome, detail in rows
        if outcome != "ok"
    ]
    assert not bad, f"{key}: {len(bad)} of {len(rows)} calls misbehaved:\n  " + "\n  ".join(bad)


def test_summary_counts_invalid_calls(request):
    """The number of invalid calls the parametrised test makes (generated here without calling anything)."""
    n_invalid = n_probe = 0
    for key in set(FUNCTIONS) & set(RECIPES):
        for _, _, kind, _ in harness.invalid_calls(FUNCTIONS[key], RECIPES[key]):
            n_invalid += kind == "reject"
            n_probe += kind == "probe"
    line = f"invalid-input property test: {n_invalid} invalid calls and {n_probe} in-domain extremes over {len(FUNCTIONS)} public functions"
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
    assert n_invalid >= MIN_INVALID_CALLS, line


# Hypothesis picks out-of-range reals for the parameters with an interval domain: any value outside must be refused.
_INTERVALS = [
    (key, name, harness._interval(spec.domain.rstrip("?")))
    for key, recipe in sorted(RECIPES.items())
    if key in FUNCTIONS
    for name, spec in recipe.items()
    if isinstance(spec, harness.P) and spec.domain and spec.domain[0] in "<>[(" and not spec.ok
]


@given(st.sampled_from(_INTERVALS), st.floats(min_value=1e-12, max_value=1e12), st.booleans())
def test_out_of_range_reals_are_refused(target, distance, below):
    key, name, (lo, lo_open, hi, hi_open) = target
    bound = lo if below else hi
    if bound is None:
        return
    value = bound - distance * max(1.0, abs(bound)) if below else bound + distance * max(1.0, abs(bound))
    if value == bound or not math.isfinite(value):
        return
    kwargs = harness.resolve(RECIPES[key]) | {name: value}
    result, exc = harness.call_with_timeout(FUNCTIONS[key], kwargs, CALL_SECONDS)
    outcome = harness.classify(result, exc, name, "reject")
    assert outcome == "ok", f"{key}({name}={value!r}) -> {outcome}: {exc!r}"


def test_validators_reject_in_the_documented_order():
    from dltheory.theory import _validate as v

    with pytest.raises(TypeError, match=r"sigma_b2 must be a finite number >= 0, got True \(bool\)"):
        v.nonnegative("sigma_b2", True)
    with pytest.raises(ValueError, match=r"sigma_b2 must be a finite number >= 0, got nan"):
        v.nonnegative("sigma_b2", math.nan)
    with pytest.raises(TypeError, match="n_steps must be an integer in"):
        v.integer_at_least("n_steps", math.inf, 1, upper=v.MAX_STEPS)
    with pytest.raises(ValueError, match="n_steps must be an integer in"):
        v.integer_at_least("n_steps", v.MAX_STEPS + 1, 1, upper=v.MAX_STEPS)
    assert v.integer_at_least("n", np.int8(3), 1) == 3
    assert v.real_scalar("x", np.float32(0.5)) == 0.5
    with pytest.raises(TypeError, match="flag must be True or False"):
        v.flag("flag", "no")
    with pytest.raises(ValueError, match="K must be positive semi-definite"):
        v.psd_matrix("K", -np.eye(2))
    with pytest.raises(ValueError, match="K must be symmetric"):
        v.psd_matrix("K", np.array([[1.0, 0.5], [0.0, 1.0]]))
    v.psd_matrix("K", np.array([[1.0, 1.0], [1.0, 1.0 - 1e-15]]))  # singular to round-off: accepted
    with pytest.raises(ValueError, match="mask must select at least one entry"):
        v.mask("mask", np.zeros(3, bool))
    with pytest.raises(TypeError, match="activation must be one of 'relu', 'tanh'"):
        v.choice("activation", None, ("relu", "tanh"))
    with pytest.raises(TypeError, match="seed must be an int >= 0"):
        v.seed("seed", None)
    assert isinstance(v.generator("seed", 3), np.random.Generator)
    with pytest.raises(ValueError, match=r"y must be a non-empty 1-d array of integer labels in \[0, 3\)"):
        v.labels("y", np.array([0, 3]), n_classes=3)
