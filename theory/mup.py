"""abc-parametrisations of MLPs: stability, nontriviality, feature learning and the r exponent (sympy).

References
----------
- [TP4] G. Yang, E. J. Hu, "Tensor Programs IV: Feature learning in infinite-width neural networks",
  ICML 2021, arXiv:2011.14522, sec. 3 (abc-parametrisation, Def. 3.1 [K]), Def. 3.2 (r), Thm 3.3
  (stability / nontriviality conditions), Cor. 3.9 (dichotomy: feature learning iff r = 0) [K].
- [TP5] G. Yang et al., "Tensor Programs V: Tuning large neural networks via zero-shot hyperparameter
  transfer", arXiv:2203.03466, Table 3 (practical muP rules) [K].

Conventions
-----------
L hidden layers of width n; weight matrices l = 1 (input, d -> n, d fixed), 2..L (n -> n), L+1 (readout,
n -> 1). W^l = n^{-a_l} w^l, w^l_ij ~ N(0, n^{-2 b_l}), SGD on w^l with learning rate eta n^{-c} ([TP4]) or
eta n^{-c_l} per layer. Exponents are sympy Rationals; every quantity below is an exact sympy expression.

  r = min(a_{L+1} + b_{L+1}, 2 a_{L+1} + c) + c - 1 + min_{l=1..L} [2 a_l + 1(l = 1)]          ([TP4] Def. 3.2)

Feature updates Delta x^L_t of the last hidden layer are Theta(n^{-r}) at every step t of a stable
parametrisation ([TP4] Thm 3.3). At the FIRST step the readout has not moved yet, so its update term
2 a_{L+1} + c drops out of the first min [D, here]:

  r_1 = (a_{L+1} + b_{L+1}) + c - 1 + min_{l=1..L} [2 a_l + 1(l = 1)],

which equals r whenever 2 a_{L+1} + c >= a_{L+1} + b_{L+1} (muP, NTP, SP with c = 1) and differs for SP with
c = 0 (r = -1, r_1 = -1/2): there the output is Theta(n) after one step and the loss derivative is no
longer O(1), outside the table's assumptions. A coordinate check of step 1 therefore tests r_1.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import sympy as sp

from dltheory.theory._validate import MAX_DEPTH, InvalidType, choice, instance, integer_at_least

__all__ = [
    "ABC",
    "PARAMETRIZATIONS",
    "parametrization",
    "r_exponent",
    "first_step_exponent",
    "is_stable",
    "is_nontrivial",
    "is_feature_learning",
    "table",
    "unit_multiplier_form",
    "PRACTICAL_MUP",
    "stable_lr_exponent",
    "optimal_lr_exponent",
]

half = sp.Rational(1, 2)


@dataclass(frozen=True)
class ABC:
    """Exponents a_l, b_l (l = 1..L+1) and a global c, as sympy Rationals."""

    name: str
    a: tuple
    b: tuple
    c: sp.Rational

    @property
    def L(self) -> int:
        return len(self.a) - 1


def _rat(name: str, v) -> sp.Rational:
    """``v`` as a sympy Rational: ints, Fractions, sympy Rationals or finite floats (exact binary value)."""
    ok = isinstance(v, numbers.Rational | float | sp.Rational) and not isinstance(v, bool)
    if not ok:
        raise InvalidType(f"{name} must be a finite rational number (int, Fraction, float), got {v!r}")
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"{name} must be a finite rational number (int, Fraction, float), got {v!r}")
    return sp.Rational(v)


def _abc(p) -> ABC:
    return instance("p", p, ABC, "an ABC (from parametrization)")


def parametrization(name: str, L: int, *, c=None) -> ABC:
    """The named abc row of [TP4] Table 1 [K] for L hidden layers: "SP", "NTP", "MFP" (L = 1 only), "muP".

    ``c`` overrides the learning-rate exponent (SP: 0 is the usual constant lr, 1 the stable kernel lr).
    """
    L = integer_at_least("L", L, 1, upper=MAX_DEPTH)
    name = choice("name (the parametrization)", name, PARAMETRIZATIONS)
    c = None if c is None else _rat("c", c)
    hidden = L - 1
    rows = {
        "SP": ((0, *[0] * hidden, 0), (0, *[half] * hidden, half), 0),
        "NTP": ((0, *[half] * hidden, half), (0, *[0] * hidden, 0), 0),
        "muP": ((-half, *[0] * hidden, half), (half, *[half] * hidden, half), 0),
        "MFP": ((0, 1), (0, 0), -1),
    }
    if name == "MFP" and L != 1:
        raise ValueError(f"MFP is defined here for L = 1 hidden layer only, got L={L}")
    a, b, c0 = rows[name]
    return ABC(
        name, tuple(sp.Rational(v) for v in a), tuple(sp.Rational(v) for v in b), sp.Rational(c0) if c is None else c
    )


PARAMETRIZATIONS = ("SP", "NTP", "MFP", "muP")


def _hidden_min(p: ABC):
    return sp.Min(*[2 * p.a[l] + (1 if l == 0 else 0) for l in range(p.L)])


def r_exponent(p: ABC):
    """r of [TP4] Def. 3.2 (module docstring): Delta x^L_t = Theta(n^{-r})."""
    aL, bL = _abc(p).a[-1], p.b[-1]
    return sp.Min(aL + bL, 2 * aL + p.c) + p.c - 1 + _hidden_min(p)


def first_step_exponent(p: ABC):
    """r_1: Delta x^L after ONE SGD step from init is Theta(n^{-r_1}) (module docstring, [D])."""
    return _abc(p).a[-1] + p.b[-1] + p.c - 1 + _hidden_min(p)


def is_stable(p: ABC) -> bool:
    """[TP4] Thm 3.3 [K]: at init a_1 + b_1 = 0, a_l + b_l = 1/2 (2 <= l <= L), a_{L+1} + b_{L+1} >= 1/2; during
    training r >= 0 (features) and a_{L+1} + b_{L+1} + r >= 1, 2 a_{L+1} + c >= 1 (the output's two update terms).

    The last two conditions are easy to drop from a summary of [TP4] Thm 3.3; without them SP with c = 0 and L = 1
    (r = 0) would count as stable, although its readout update alone moves f by Theta(n^{1 - 2a_{L+1} - c}) =
    Theta(n) after one step [D]. Nontriviality is equality in one of them (is_nontrivial)."""
    ok = _abc(p).a[0] + p.b[0] == 0 and all(p.a[l] + p.b[l] == half for l in range(1, p.L))
    r = r_exponent(p)
    return bool(ok and p.a[-1] + p.b[-1] >= half and r >= 0 and p.a[-1] + p.b[-1] + r >= 1 and 2 * p.a[-1] + p.c >= 1)


def is_nontrivial(p: ABC) -> bool:
    """[TP4] Thm 3.3 (iii): a_{L+1} + b_{L+1} + r = 1 or 2 a_{L+1} + c = 1 (the output moves at Theta(1))."""
    return bool(_abc(p).a[-1] + p.b[-1] + r_exponent(p) == 1 or 2 * p.a[-1] + p.c == 1)


def is_feature_learning(p: ABC) -> bool:
    """Stable, nontrivial and r = 0 ([TP4] Cor. 3.9, dichotomy); r > 0 is the kernel regime."""
    return bool(is_stable(_abc(p)) and is_nontrivial(p) and r_exponent(p) == 0)


def table(L: int = 2) -> list[dict]:
    """The [TP4] table recomputed: one row per parametrisation (SP with c = 0 and c = 1)."""
    L = integer_at_least("L", L, 1, upper=MAX_DEPTH)
    rows = []
    for name, c in (("SP", 0), ("SP", 1), ("NTP", None), ("MFP", None), ("muP", None)):
        p = parametrization(name, 1 if name == "MFP" else L, c=c)
        rows.append(
            {
                "name": f"{name} (c={p.c})" if name == "SP" else name,
                "abc": p,
                "r": r_exponent(p),
                "r_1": first_step_exponent(p),
                "stable": is_stable(p),
                "nontrivial": is_nontrivial(p),
                "feature_learning": is_feature_learning(p),
            }
        )
    return rows


def unit_multiplier_form(p: ABC) -> dict:
    """The equivalent parametrisation with all multipliers 1 (a_l = 0), per-layer SGD exponents c_l.

    [TP5] symmetry: W = n^{-a} w with (a, b, c) -> (a - theta, b + theta, c + 2 theta) leaves SGD
    training invariant (it keeps a + b, the init scale, and 2a + c, the update scale). With theta_l = a_l:
    b'_l = a_l + b_l (init std n^{-b'}), c'_l = c + 2 a_l. muP, L = 2: b' = (0, 1/2, 1), c' = (-1, 0, 1).
    """
    p = _abc(p)
    return {"b": tuple(a + b for a, b in zip(p.a, p.b)), "c": tuple(p.c + 2 * a for a in p.a)}


# [TP5] Table 3 [K], fan_in/fan_out of each weight matrix (SP value in parentheses in the paper).
PRACTICAL_MUP = {
    "input": {"init_var": "1/fan_in", "sgd_lr": "fan_out", "adam_lr": "1"},
    "hidden": {"init_var": "1/fan_in", "sgd_lr": "1", "adam_lr": "1/fan_in"},
    "output": {"init_var": "1/fan_in^2", "sgd_lr": "1/fan_in", "adam_lr": "1/fan_in"},
}


def _c_at(p: ABC, r_target):
    """The smallest c with r(c) >= r_target: r = min(a_{L+1} + b_{L+1} + c, 2 a_{L+1} + 2c) - 1 + min_l(...) is a
    min of two increasing functions of c, so r >= t iff both are, i.e. c >= the max of the two inverses."""
    t = r_target + 1 - _hidden_min(p)
    return sp.Max(t - p.a[-1] - p.b[-1], (t - 2 * p.a[-1]) / 2)


def stable_lr_exponent(p: ABC):
    """c*: the smallest learning-rate exponent c for which (a, b, c) is stable ([TP4] Thm 3.3; see is_stable).

    The training conditions r >= 0, a_{L+1} + b_{L+1} + r >= 1 and 2 a_{L+1} + c >= 1 are monotone in c, so
    c* = max(1 - 2 a_{L+1}, c(r = 0), c(r = 1 - a_{L+1} - b_{L+1})) and one of them holds with equality at c*:
    eta n^{-c*} is the largest learning rate whose infinite-width limit exists. SP: c* = 1, muP, NTP: 0, MFP: -1.
    Raises ValueError when the init conditions fail (no c is stable).
    """
    p = _abc(p)
    if not (p.a[0] + p.b[0] == 0 and all(p.a[l] + p.b[l] == half for l in range(1, p.L)) and p.a[-1] + p.b[-1] >= half):
        raise ValueError(f"p ({p.name}) violates the initialisation conditions of [TP4] Thm 3.3: no c is stable")
    return sp.Max(1 - 2 * p.a[-1], _c_at(p, 0), _c_at(p, 1 - p.a[-1] - p.b[-1]))


def optimal_lr_exponent(p: ABC):
    """e with the loss-optimal learning rate eta* ~ n^e for SGD with lr eta n^{-c} (c = p.c): e = c - c*.

    muTransfer ([TP5] sec. 1-3; proved for linear MLPs under muP by Hayou et al. 2025, arXiv:2511.01734): at
    c = c* (stable_lr_exponent) the loss after K steps, as a function of eta, converges as n -> infinity to the
    loss of the nontrivial infinite-width limit, whose minimiser eta0* is a width-independent constant; with the
    exponent c instead, eta n^{-c} = eta0* n^{-c*} gives eta* = eta0* n^{c - c*}. muP: e = 0 (the optimum
    transfers); SP with c = 0: e = -1 (the optimum shrinks like 1/n).

    The argument needs a nontrivial limit at c* (the output moves at Theta(1)); where only r >= 0 binds at c*
    (features at the edge, output frozen in the limit) the limiting loss is flat in eta and no optimum is
    predicted: ValueError.
    """
    c_star = stable_lr_exponent(p)
    if not is_nontrivial(ABC(p.name, p.a, p.b, c_star)):
        raise ValueError(
            f"p ({p.name}) is trivial at its largest stable lr exponent c* = {c_star}: no optimum predicted"
        )
    return p.c - c_star
