"""Exact unit tests for dltheory.theory.mup: the abc table recomputed with sympy (Tensor Programs IV)."""

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from dltheory.theory import mup

R = sp.Rational


@pytest.mark.parametrize("L", [2, 5])
def test_table_values(L):
    rows = {r["name"]: r for r in mup.table(L)}
    expected = {
        "SP (c=0)": (R(-1), R(-1, 2), False, False),
        "SP (c=1)": (R(1, 2), R(1, 2), True, False),
        "NTP": (R(1, 2), R(1, 2), True, False),
        "MFP": (0, 0, True, True),
        "muP": (0, 0, True, True),
    }
    for name, (r, r1, stable, fl) in expected.items():
        row = rows[name]
        assert (row["r"], row["r_1"], row["stable"], row["feature_learning"]) == (r, r1, stable, fl), name
    assert rows["NTP"]["nontrivial"] and rows["muP"]["nontrivial"] and not rows["SP (c=0)"]["nontrivial"]


def test_one_hidden_layer_table():
    """L = 1: the hidden-layer term of r is the input layer's 2 a_1 + 1, so SP (c=0) has r = 0 but is unstable
    (2 a_2 + c = 0 < 1: the readout update alone moves the output by Theta(n))."""
    rows = {r["name"]: r for r in mup.table(1)}
    assert (rows["SP (c=0)"]["r"], rows["SP (c=0)"]["r_1"], rows["SP (c=0)"]["stable"]) == (0, R(1, 2), False)
    assert (rows["SP (c=1)"]["r"], rows["SP (c=1)"]["stable"], rows["SP (c=1)"]["nontrivial"]) == (R(3, 2), True, True)
    assert rows["muP"]["feature_learning"] and rows["MFP"]["feature_learning"] and not rows["NTP"]["feature_learning"]


def test_exponents_are_exact_sympy_rationals():
    r = mup.r_exponent(mup.parametrization("NTP", 3))
    assert isinstance(r, sp.Rational) and r == R(1, 2)


@given(st.fractions(-2, 2, max_denominator=4), st.sampled_from(["SP", "NTP", "muP"]), st.integers(1, 4))
def test_r_is_invariant_under_the_abc_symmetry(theta, name, L):
    """(a, b, c) -> (a - theta, b + theta, c + 2 theta) in every layer leaves r, r_1 and stability unchanged."""
    p = mup.parametrization(name, L)
    t = R(theta.numerator, theta.denominator)
    q = mup.ABC(name, tuple(a - t for a in p.a), tuple(b + t for b in p.b), p.c + 2 * t)
    assert mup.r_exponent(q) == mup.r_exponent(p)
    assert mup.first_step_exponent(q) == mup.first_step_exponent(p)
    assert mup.is_stable(q) == mup.is_stable(p)


def test_unit_multiplier_form_of_mup():
    """TP5 practical muP for SGD (references/ntk.md sec. 5.2): b = (0, 1/2, 1), c = (-1, 0, 1)."""
    form = mup.unit_multiplier_form(mup.parametrization("muP", 2))
    assert form == {"b": (0, R(1, 2), 1), "c": (-1, 0, 1)}
    assert mup.PRACTICAL_MUP["output"]["init_var"] == "1/fan_in^2"


def test_first_step_exponent_equals_r_when_the_readout_update_is_not_dominant():
    for name, c in (("muP", None), ("NTP", None), ("SP", 1)):
        p = mup.parametrization(name, 3, c=c)
        assert mup.first_step_exponent(p) == mup.r_exponent(p)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: mup.parametrization("muP", 0), "L"),
        (lambda: mup.parametrization("XP", 2), "parametrization"),
        (lambda: mup.parametrization("MFP", 2), "MFP"),
        (lambda: mup.parametrization("SP", 2, c="x"), "c"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _stable_by_hand(a, b, c) -> bool:
    """[TP4] Thm 3.3 written out with Fractions: (1) a_1 + b_1 = 0, a_l + b_l = 1/2 (2 <= l <= L),
    a_{L+1} + b_{L+1} >= 1/2; (2) r >= 0; (3) a_{L+1} + b_{L+1} + r >= 1 and 2 a_{L+1} + c >= 1."""
    from fractions import Fraction as F

    a, b, c = [F(v) for v in a], [F(v) for v in b], F(c)
    L = len(a) - 1
    r = min(a[L] + b[L], 2 * a[L] + c) + c - 1 + min([2 * a[0] + 1] + [2 * a[l] for l in range(1, L)])
    init = a[0] + b[0] == 0 and all(a[l] + b[l] == F(1, 2) for l in range(1, L)) and a[L] + b[L] >= F(1, 2)
    return init and r >= 0 and a[L] + b[L] + r >= 1 and 2 * a[L] + c >= 1


@pytest.mark.parametrize(
    "a, b, c, r, stable",
    [
        (("-1/2", 0, "1/2"), ("1/2", "1/2", "1/2"), 0, 0, True),  # muP, L = 2
        ((0, "1/2", "1/2"), (0, 0, 0), 0, R(1, 2), True),  # NTP
        ((0, 0, 0), (0, "1/2", "1/2"), 1, R(1, 2), True),  # SP, c = 1
        ((0, 0, 0), (0, "1/2", "1/2"), 0, -1, False),  # SP, c = 0: r < 0
        ((0, 0), (0, "1/2"), 0, 0, False),  # SP, c = 0, L = 1: r = 0 but a + b + r = 1/2 and 2a + c = 0 < 1
        ((0, 0, "1/4"), (0, "1/2", "1/4"), "1/2", 0, False),  # only a_{L+1} + b_{L+1} + r = 1/2 < 1 fails
        ((0, "1/4"), (0, "3/4"), "1/4", 1, False),  # only 2 a_{L+1} + c = 3/4 < 1 fails
        ((0, "1/2", "1/2"), ("1/2", 0, 0), 0, R(1, 2), False),  # NTP with b_1 = 1/2: a_1 + b_1 != 0
        (("-1/2", 0, "1/2"), ("1/2", "1/2", "3/2"), 0, 0, True),  # muP with a shrunk readout (mup.coord_check)
    ],
)
def test_is_stable_matches_thm_3_3_written_out(a, b, c, r, stable):
    p = mup.ABC("row", tuple(R(v) for v in a), tuple(R(v) for v in b), R(c))
    assert mup.r_exponent(p) == r
    assert _stable_by_hand(a, b, c) is stable
    assert mup.is_stable(p) is stable
