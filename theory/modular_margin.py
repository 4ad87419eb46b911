"""Feature emergence in quadratic networks on Z_p addition: Morwani et al.'s L_{2,3} max margin, and He et al.'s
lottery-ticket rule for each neuron's frequency.

References
----------
- [M24] D. Morwani, B. L. Edelman, C.-A. Oncescu, R. Zhao, S. Kakade, "Feature emergence via margin maximization:
  case studies in algebraic tasks", ICLR 2024, arXiv:2311.07568, sec. 4 and Thm 7: the network
  f(theta; a, b)[c] = sum_i w_i[c] (u_i[a] + v_i[b])^2, the norm ||theta||_{2,3} = (sum_i ||(u_i, v_i, w_i)||_2^3)^{1/3},
  the normalised margin min_{a,b} (f[a+b] - max_{c != a+b} f[c]) / ||theta||_{2,3}^3 (f is 3-homogeneous) and, for
  width >= 4(p - 1), its maximum gamma* = sqrt(2/27) / (sqrt(p) (p - 1)) (dltheory.theory.grokking_modular.
  max_margin_quadratic), attained only by single-frequency neurons.
- [H26] J. He, L. Wang, S. Chen, Z. Yang, "On the Mechanism and Dynamics of Modular Addition: Fourier Features,
  Lottery Ticket, and Grokking", arXiv:2602.16849 (2026): f(x, y)[j] = sum_m xi_m[j] (theta_m[x] + theta_m[y])^2
  (one input vector per neuron for both operands). Writing theta_m[x] = sum_k alpha_k cos(omega_k x + phi_k),
  xi_m[j] = sum_k beta_k cos(omega_k j + psi_k) (+ constants), omega_k = 2 pi k / p, the small-initialisation
  gradient flow of the cross-entropy decouples into one four-variable ODE per (neuron, frequency):
      d alpha/dt = 2 p alpha beta cos D,  d beta/dt = p alpha^2 cos D,  dD/dt = -p (4 beta + alpha^2 / beta) sin D,
  with the phase misalignment D = 2 phi - psi (mod 2 pi); alpha^2 - 2 beta^2 is conserved. Frequencies compete
  within a neuron and the one whose flow blows up first (largest magnitudes, smallest |D|) takes the neuron (the
  lottery ticket). Derivation here (time in units of GD on the SUM of the p^2 pair losses; softmax at uniform
  logits): the centred output gradient is sum_{x+y=j} 2 theta[x] theta[y] = p alpha^2 cos(omega j + 2 phi) per
  frequency and the input gradient 2 p alpha beta cos(omega x + psi - phi); distinct frequencies do not mix because
  sum_x cos(omega_k x + a) cos(omega_l (j - x) + b) = 0 for k != l. The authors' demonstration page prints the
  phase equations with the opposite sign convention for psi; the magnitude equations agree.
"""

from __future__ import annotations

import math

import numpy as np

from dltheory.theory._validate import MAX_STEPS, flag, integer, mask, real_array, real_scalar
from dltheory.theory.grokking_modular import check_prime, frequency_power, modular_addition_logits

__all__ = [
    "l23_norm",
    "normalised_margin",
    "max_margin_construction",
    "top_frequency_share",
    "fourier_modes",
    "misalignment",
    "decoupled_flow_rhs",
    "blowup_times",
    "RULES",
    "lottery_scores",
    "lottery_winner",
    "grokking_stages",
    "memorisation_test_accuracy",
]


def _network(U, V, W) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    U, V, W = (real_array(n, x, ndim=2) for n, x in (("U", U), ("V", V), ("W", W)))
    if U.shape != V.shape or W.shape != U.shape[::-1] or U.shape[1] < 3:
        raise ValueError(
            f"need U, V of shape (N, p) with p >= 3 and W of shape (p, N); got {U.shape}, {V.shape}, {W.shape}"
        )
    return U, V, W


def l23_norm(U, V, W) -> float:
    """||theta||_{2,3} = (sum_i ||(U[i], V[i], W[:, i])||_2^3)^{1/3} ([M24] sec. 4)."""
    U, V, W = _network(U, V, W)
    sq = np.sum(U**2, 1) + np.sum(V**2, 1) + np.sum(W**2, 0)
    return float(np.sum(sq**1.5) ** (1 / 3))


def normalised_margin(U, V, W) -> float:
    """[M24]'s normalised margin of f(a, b)[c] = sum_i W[c, i] (U[i, a] + V[i, b])^2 on all p^2 pairs:
    min_{a,b} (f[a+b] - max_{c != a+b} f[c]) / ||theta||_{2,3}^3 (scale-invariant: f is 3-homogeneous)."""
    U, V, W = _network(U, V, W)
    norm = l23_norm(U, V, W)
    if norm == 0:
        raise ValueError("the network must not be zero (its margin is 0/0)")
    f = modular_addition_logits(U, V, W)
    p = f.shape[0]
    y = (np.arange(p)[:, None] + np.arange(p)[None, :]) % p
    correct = np.take_along_axis(f, y[..., None], 2)[..., 0]
    other = np.where(np.arange(p)[None, None, :] == y[..., None], -np.inf, f).max(axis=2)
    return float(np.min(correct - other) / norm**3)


def max_margin_construction(p) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An explicit width-4(p-1) network (U, V, W) attaining [M24]'s gamma*: per frequency z = 1..(p-1)/2 and phases
    (phi, phi') in {0, pi/2}^2, the neuron pair (u, v, w) and (u, -v, -w) with u[a] = cos(omega z a + phi),
    v[b] = cos(omega z b + phi'), w[c] = cos(omega z c + phi + phi'). A pair gives 4 u v w; summed over the four
    phase choices every term but 4 cos(omega z (a + b - c)) cancels, so f(a, b)[c] = 2 p [c = a + b] - 2: raw margin
    2 p, and each of the 4(p-1) neurons has ||(u, v, w)||^2 = 3p/2, so the margin is
    2p / (4 (p-1) (3p/2)^{3/2}) = sqrt(2/27) / (sqrt(p) (p-1)) (derivation in the spirit of [M24] Thm 7)."""
    p = check_prime(p, minimum=3)
    x = np.arange(p)
    rows = []
    for z in range(1, (p - 1) // 2 + 1):
        for phi in (0.0, np.pi / 2):
            for phi2 in (0.0, np.pi / 2):
                u = np.cos(2 * np.pi * z * x / p + phi)
                v = np.cos(2 * np.pi * z * x / p + phi2)
                w = np.cos(2 * np.pi * z * x / p + phi + phi2)
                rows += [(u, v, w), (u, -v, -w)]
    U, V, W = (np.array(r) for r in zip(*rows))
    return U, V, W.T


def top_frequency_share(U, V, W) -> tuple[np.ndarray, np.ndarray]:
    """(share, weight) per neuron: the fraction of the power of (U[i], V[i], W[:, i]) in its strongest non-DC
    frequency (DC counted in the total; 1 for [M24]'s single-frequency neurons), and the neuron's share
    ||theta_i||^3 / ||theta||_{2,3}^3 of the norm (neurons with no weight carry no feature)."""
    U, V, W = _network(U, V, W)
    P = frequency_power(U) + frequency_power(V) + frequency_power(W.T)  # (N, K + 1), DC first
    total = P.sum(axis=1)
    if np.any(total <= 0):
        raise ValueError("every neuron must carry some weight (a zero neuron has no frequency), got one")
    cube = total**1.5
    return P[:, 1:].max(axis=1) / total, cube / cube.sum()


def fourier_modes(weights) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, phi), each (rows, K), K = (p-1)/2: row[x] = c + sum_k alpha_k cos(2 pi k x / p + phi_k) exactly
    (p odd). ``weights``: (rows, p)."""
    w = real_array("weights", weights, ndim=2)
    p = w.shape[1]
    if p < 3 or p % 2 == 0:
        raise ValueError(f"weights must have an odd number p >= 3 of columns (tokens of Z_p), got shape {w.shape}")
    c = np.fft.rfft(w, axis=1)[:, 1 : (p - 1) // 2 + 1]  # sum_x w[x] e^{-i omega k x} = (p/2) alpha e^{i phi}
    return 2 * np.abs(c) / p, np.angle(c)


def misalignment(phi, psi) -> np.ndarray:
    """[H26]'s phase misalignment D = 2 phi - psi wrapped to (-pi, pi]."""
    phi, psi = real_array("phi", phi), real_array("psi", psi)
    if phi.shape != psi.shape:
        raise ValueError(f"phi and psi must have the same shape, got {phi.shape} and {psi.shape}")
    d = np.angle(np.exp(1j * (2 * phi - psi)))
    return np.where(d == -np.pi, np.pi, d)


def decoupled_flow_rhs(alpha, beta, D, p, *, phase=True, input_factor=2.0) -> tuple[np.ndarray, ...]:
    """[H26]'s decoupled flow (module docstring): (d alpha, d beta, dD) / dt at (alpha, beta, D), elementwise.

    ``phase=False`` freezes cos D = 1, sin D = 0 (a rule that ignores phases); ``input_factor`` is the 2 in
    d alpha/dt = 2 p alpha beta cos D and in dD/dt's 4 beta = 2 x 2 beta (two operand slots share theta)."""
    a, b, d = (real_array(n, x) for n, x in (("alpha", alpha), ("beta", beta), ("D", D)))
    if not (a.shape == b.shape == d.shape):
        raise ValueError(f"alpha, beta and D must have one shape, got {a.shape}, {b.shape}, {d.shape}")
    if np.any(a < 0) or np.any(b <= 0):
        raise ValueError("alpha must be >= 0 and beta > 0 (magnitudes; the phase rate divides by beta)")
    p = integer("p", p, lower=3)
    phase = flag("phase", phase)
    input_factor = real_scalar("input_factor", input_factor, lower=0.0, strict=True, upper=1e6)
    return _rhs(a, b, d, p, phase, input_factor)


def _rhs(a, b, d, p, phase, c):
    cos, sin = (np.cos(d), np.sin(d)) if phase else (np.ones_like(d), np.zeros_like(d))
    return c * p * a * b * cos, p * a**2 * cos, -p * (2 * c * b + a**2 / b) * sin


def blowup_times(alpha, beta, D, p, *, phase=True, input_factor=2.0, growth=1e3, step=0.1, max_steps=100_000):
    """Blow-up time T of the decoupled flow from (alpha, beta, D) for every entry (arrays of one shape, alpha,
    beta > 0): RK4 with step ``step`` / (current rate) until alpha + beta reaches ``growth`` times its start, plus the
    remaining time 1 / (sqrt(c) p alpha) of the aligned flow (alpha' = sqrt(c) p alpha^2 once beta = alpha / sqrt(c),
    c = ``input_factor``, alpha^2 - c beta^2 being conserved); the
    truncation leaves a relative error O(1 / growth). Entries still short after ``max_steps`` steps (D pinned at
    pi) get T = inf."""
    a, b, d = (real_array(n, x) for n, x in (("alpha", alpha), ("beta", beta), ("D", D)))
    if not (a.shape == b.shape == d.shape):
        raise ValueError(f"alpha, beta and D must have one shape, got {a.shape}, {b.shape}, {d.shape}")
    if np.any(a <= 0) or np.any(b <= 0):
        raise ValueError("alpha and beta must be > 0 (a zero magnitude never grows)")
    p = integer("p", p, lower=3)
    phase = flag("phase", phase)
    input_factor = real_scalar("input_factor", input_factor, lower=0.0, strict=True, upper=1e6)
    growth = real_scalar("growth", growth, lower=1.0, strict=True)
    step = real_scalar("step", step, lower=0.0, strict=True, upper=0.5)
    max_steps = integer("max_steps", max_steps, lower=1, upper=MAX_STEPS)
    a, b, d = a.ravel().copy(), b.ravel().copy(), d.ravel().copy()
    target = growth * (a + b)
    t = np.zeros_like(a)
    live = np.ones(a.shape, bool)

    def rhs(x, y, z):
        return _rhs(x, y, z, p, phase, input_factor)

    for _ in range(max_steps):
        if not live.any():
            break
        x, y, z = a[live], b[live], d[live]
        h = step / (p * (2 * input_factor * y + x**2 / y + x))
        k1 = rhs(x, y, z)
        k2 = rhs(*(v + h / 2 * k for v, k in zip((x, y, z), k1)))
        k3 = rhs(*(v + h / 2 * k for v, k in zip((x, y, z), k2)))
        k4 = rhs(*(v + h * k for v, k in zip((x, y, z), k3)))
        new = [v + h / 6 * (q1 + 2 * q2 + 2 * q3 + q4) for v, q1, q2, q3, q4 in zip((x, y, z), k1, k2, k3, k4)]
        a[live], b[live], d[live] = new
        t[live] += h
        done = np.zeros_like(live)
        done[live] = new[0] + new[1] >= target[live]
        t[done] += 1 / (math.sqrt(input_factor) * p * a[done])
        live &= ~done
    t[live] = np.inf
    return t.reshape(np.shape(alpha))


RULES = ("flow", "magnitude", "phase", "output")
"""Lottery rules: [H26]'s "flow" and its nearest plausible mistakes (see :func:`lottery_scores`)."""


def lottery_scores(theta, xi, *, rule="flow", **flow) -> np.ndarray:
    """Per neuron and frequency k = 1..K, a score whose smallest entry is the neuron's predicted final frequency,
    from its initial input / output weights ``theta``, ``xi`` (N, p) ([H26]'s lottery ticket):

    - "flow": the blow-up time of the decoupled flow (:func:`blowup_times`, options ``flow``), [H26]'s rule;
    - "magnitude": the same flow with the phases ignored (cos D = 1): initial magnitudes alone;
    - "phase": |D|, the initial phase misalignment alone;
    - "output": 1 / beta, the largest initial output-weight component.
    Returns shape (N, K)."""
    theta, xi = real_array("theta", theta, ndim=2), real_array("xi", xi, ndim=2)
    if theta.shape != xi.shape:
        raise ValueError(f"theta and xi must have one shape (N, p), got {theta.shape} and {xi.shape}")
    if not isinstance(rule, str) or rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    alpha, phi = fourier_modes(theta)
    beta, psi = fourier_modes(xi)
    D = misalignment(phi, psi)
    if rule == "phase":
        return np.abs(D)
    if rule == "output":
        if np.any(beta <= 0):
            raise ValueError("xi must carry power at every frequency (beta > 0) for the 'output' rule")
        return 1 / beta
    return blowup_times(alpha, beta, D, theta.shape[1], phase=rule == "flow", **flow)


def lottery_winner(theta, xi, *, rule="flow", **flow) -> np.ndarray:
    """Predicted final frequency (1..K) of every neuron: the argmin of :func:`lottery_scores`."""
    return np.argmin(lottery_scores(theta, xi, rule=rule, **flow), axis=1) + 1


# ---------------------------------------------------------------------------------------------------
# [H26]'s grokking diagnostics (a fraction of the pairs with weight decay): stage boundaries and the memorisation
# stage's test accuracy. The stages as the authors describe them (their demonstration of the paper, grokking
# section): (I) memorisation: training accuracy reaches 1 while the test accuracy stays at the level the symmetry
# f(x, y) = f(y, x) of the tied-embedding network gives away (~70 % at a 75 % split, "not ~50 %"); (II) fast
# generalisation: weight decay prunes the non-feature frequencies (the IPR of the neurons' Fourier spectra rises)
# and the test accuracy jumps; (III) slow cleanup: both losses ~ 0, weight decay shrinks the norms. The IPR is
# dltheory.theory.grokking_modular.inverse_participation_ratio (sum_k A_k^4 / (sum_k A_k^2)^2, [H26]'s definition).


def grokking_stages(steps, train_accuracy, test_accuracy, *, level=0.95) -> tuple[float, float]:
    """[H26]'s stage boundaries from the accuracy curves: (end of memorisation, end of generalisation) = the first
    recorded step at which the training, resp. test, accuracy reaches ``level`` (the authors use 0.95); inf where
    it never does. ``steps`` strictly increasing, accuracies in [0, 1], all of one length."""
    s = real_array("steps", steps, ndim=1)
    tr = real_array("train_accuracy", train_accuracy, ndim=1, lower=0.0, upper=1.0)
    te = real_array("test_accuracy", test_accuracy, ndim=1, lower=0.0, upper=1.0)
    level = real_scalar("level", level, lower=0.0, strict=True, upper=1.0)
    if not (s.size == tr.size == te.size) or s.size == 0:
        raise ValueError(
            f"steps, train_accuracy and test_accuracy must have one nonzero length, got {s.size}, {tr.size}, {te.size}"
        )
    if np.any(np.diff(s) <= 0):
        raise ValueError("steps must be strictly increasing")

    def first(a):
        hit = np.flatnonzero(a >= level)
        return float(s[hit[0]]) if hit.size else math.inf

    return first(tr), first(te)


def memorisation_test_accuracy(train_mask) -> float:
    """Test accuracy of a memorising tied-embedding network ([H26], stage I): f(x, y) = f(y, x) exactly, so a
    network right on every training pair (x, y) is right on the test pair (y, x); on the other test pairs (neither
    order trained) it is at chance 1/p. ``train_mask`` (p, p) bool, True where (x, y) is a training pair, with at
    least one test pair. Returns q + (1 - q) / p, q the fraction of test pairs whose transpose is trained."""
    m = mask("train_mask", train_mask)
    p = m.shape[0]
    if m.shape != (p, p) or p < 2:
        raise ValueError(f"train_mask must have shape (p, p) with p >= 2, got {m.shape}")
    test = ~m
    if not test.any():
        raise ValueError("train_mask must leave at least one test pair (an all-True mask has no test accuracy)")
    q = float(np.sum(test & m.T) / np.sum(test))
    return q + (1 - q) / p
