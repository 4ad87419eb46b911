"""Exact unit tests for dltheory.theory.grokking: golden values from the reference note (sec. 2, 4-7) and values derived
independently in the tests (numerical integration, optimisation, explicit constructions)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import quad

from dltheory.theory import grokking as th

# ----------------------------------------------------------------------------- linear estimator (Levi et al.)


@pytest.mark.parametrize(
    "lam, t_tr, t_gen", [(0.1, 273.2, 296.5), (0.3, 440.8, 560.9), (0.5, 725.1, 1156.4), (0.7, 1289.9, 3139.3)]
)
def test_grokking_times_golden(lam, t_tr, t_gen):
    """Reference note sec. 2 table (MP-exact roots, lr = 0.01, eps = 1e-3)."""
    got = th.linear_estimator_grokking_times(lam, 0.01, 1e-3)
    assert got == pytest.approx((t_tr, t_gen), abs=0.06)


@pytest.mark.parametrize("lam", [0.05, 0.3, 0.7, 0.95])
def test_bessel_closed_form_matches_quadrature(lam):
    t = np.array([0.0, 3.0, 70.0, 900.0, 2e4])
    quad_tr, _ = th.linear_estimator_losses(t, lam, 0.01)
    np.testing.assert_allclose(th.linear_estimator_train_loss_bessel(t, lam, 0.01), quad_tr, rtol=1e-10)


def test_mp_moments():
    lam = 0.4
    assert th.mp_expectation(lambda nu: np.ones_like(nu), lam) == pytest.approx(1.0, rel=1e-12)
    assert th.mp_expectation(lambda nu: nu, lam) == pytest.approx(1.0, rel=1e-12)
    assert th.mp_expectation(lambda nu: nu**2, lam) == pytest.approx(1.0 + lam, rel=1e-12)
    assert th.mp_expectation(lambda nu: 1 / nu, lam) == pytest.approx(1 / (1 - lam), rel=1e-10)
    assert th.mp_expectation(lambda nu: 1 / nu**2, lam) == pytest.approx(1 / (1 - lam) ** 3, rel=1e-10)


def test_gen_loss_derivative_is_minus_4_lr_train_loss():
    """[LBB23] eq. 21 (flow, gamma = 0): L_gen(t) = 4 eta int_t^inf L_tr."""
    lam, lr, t = 0.5, 0.01, 300.0
    tail, _ = quad(
        lambda s: th.linear_estimator_train_loss_bessel(s, lam, lr), t, np.inf, epsabs=0, epsrel=1e-12, limit=200
    )
    assert th.linear_estimator_losses(t, lam, lr)[1] == pytest.approx(4 * lr * tail, rel=1e-9)


def test_weight_decay_floors_and_critical_gamma():
    tr, gen = th.linear_estimator_loss_floors(0.5, 1e-4)
    small = th.linear_estimator_loss_floors_small_gamma(0.5, 1e-4)
    assert (tr, gen) == pytest.approx(small, rel=3e-3)  # O(gamma) corrections
    assert small == pytest.approx((1e-8 / 4, 1e-8), rel=1e-12)
    # reference note: exact MP gamma_c at eps = 1e-3
    for lam, gc in [(0.1, 0.0392), (0.3, 0.0271), (0.5, 0.0166), (0.7, 0.0079), (0.9, 0.0016)]:
        assert th.linear_estimator_critical_weight_decay(lam, 1e-3) == pytest.approx(gc, abs=6e-5)
    g = th.linear_estimator_critical_weight_decay(0.3, 1e-3)
    assert th.linear_estimator_loss_floors(0.3, g)[1] == pytest.approx(1e-3 / 4, rel=1e-10)
    assert th.linear_estimator_grokking_times(0.3, 0.01, 1e-3, weight_decay=1.01 * g)[1] == math.inf


def test_weight_decay_delay_golden():
    """Reference note: at lam = 0.5, weight decay lengthens the delay: 431 (0), 438 (1e-3), 596 (1e-2)."""
    for gamma, delay in [(0.0, 431.3), (1e-3, 438.5), (1e-2, 595.8)]:
        t_tr, t_gen = th.linear_estimator_grokking_times(0.5, 0.01, 1e-3, weight_decay=gamma)
        assert t_gen - t_tr == pytest.approx(delay, abs=1.0)


def test_eq12_is_only_the_small_eps_limit():
    """Delay / eq. 12 is 0.60 at eps = 1e-3 and tends to 1 only for tiny eps (reference note)."""
    lam, lr = 0.5, 0.01
    ratio = [
        np.subtract(*th.linear_estimator_grokking_times(lam, lr, e)[::-1])
        / th.linear_estimator_delay_asymptote(lam, lr)
        for e in (1e-3, 1e-6, 1e-20)
    ]
    assert ratio[0] == pytest.approx(0.60, abs=0.01) and ratio[1] == pytest.approx(0.81, abs=0.01)
    assert abs(ratio[2] - 1) < 0.06


@given(lam=st.floats(0.05, 0.9), lr=st.floats(1e-3, 0.05))
def test_discrete_close_to_flow_and_ordered(lam, lr):
    flow = th.linear_estimator_grokking_times(lam, lr, 1e-3)
    disc = th.linear_estimator_grokking_times(lam, lr, 1e-3, discrete=True)
    assert flow[0] < flow[1] and disc[0] < disc[1]
    # log(1 - x) < -x: GD decays faster than flow, by a relative O(x), x = 2 lr nu <= 2 lr lam_+
    bound = 2 * lr * th.mp_edges(lam)[1]
    for f, d in zip(flow, disc):
        assert d <= f and f - d <= bound * f


def test_accuracy_at_eps_over_4():
    assert th.accuracy_from_loss(2.5e-4, 1e-3) == pytest.approx(th.ACCURACY_AT_EPS_OVER_4, rel=1e-14)
    assert th.ACCURACY_AT_EPS_OVER_4 == pytest.approx(0.9545, abs=1e-4)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(lam=1.0), "lam"),
        (dict(lam=0.0), "lam"),
        (dict(lam=-0.2), "lam"),
        (dict(lr=-0.1), "lr"),
        (dict(lr=0.0), "lr"),
        (dict(eps=0.0), "eps"),
        (dict(weight_decay=-1e-3), "weight_decay"),
    ],
)
def test_bad_input(kwargs, name):
    args = dict(lam=0.5, lr=0.01, eps=1e-3) | kwargs
    wd = args.pop("weight_decay", 0.0)
    with pytest.raises(ValueError, match=name):
        th.linear_estimator_grokking_times(args["lam"], args["lr"], args["eps"], weight_decay=wd)


def test_discrete_needs_small_lr():
    with pytest.raises(ValueError, match="lr"):
        th.linear_estimator_losses(10.0, 0.5, 0.5, discrete=True)


# ----------------------------------------------------------------------- modular addition (Gromov, Nanda, Morwani)

_PRIMES = [19, 23, 29, 31, 37, 41, 43]


@given(p=st.sampled_from(_PRIMES), seed=st.integers(0, 3))
def test_analytic_solution_is_exact_at_width_8p(p, seed):
    """Width 8p: 100 % for every prime 19..43 (width 4p fails with probability ~10 % at p = 23-31 and ~1 % at
    p = 37-43 from the O(sqrt N) random-phase sums, measured over 200 seeds; none at p >= 47)."""
    assert th.modular_addition_accuracy(*th.modular_addition_solution(p, 8 * p, seed)) == 1.0


def test_analytic_solution_structure():
    p, N = 23, 44
    U, V, W = th.modular_addition_solution(p, N, seed=5)
    assert U.shape == V.shape == (N, p) and W.shape == (p, N)
    k, share = th.dominant_frequency(U)
    assert np.array_equal(k, 1 + np.arange(N) % 11) and np.allclose(share, 1.0)
    assert np.allclose(th.inverse_participation_ratio(U), 1.0) and np.allclose(th.inverse_participation_ratio(W.T), 1.0)
    assert th.phase_constraint_residual(U, V, W).max() < 1e-12
    # same frequencies, unrelated output phases: residual is not small
    _, _, W2 = th.modular_addition_solution(p, N, seed=6)
    assert np.median(th.phase_constraint_residual(U, V, W2)) > 0.5


def test_single_neuron_expansion():
    """One neuron per frequency: f = (1/2) sum_k cos(omega k (a+b-q)) + spurious cosines of mean square N ([G23]
    eq. 11)."""
    p = 13
    N = (p - 1) // 2
    U, V, W = th.modular_addition_solution(p, N, seed=2)
    f = th.modular_addition_logits(U, V, W)
    s = (np.arange(p)[:, None, None] + np.arange(p)[None, :, None] - np.arange(p)[None, None, :]) % p
    signal = 0.5 * np.cos(2 * np.pi * s[..., None] * np.arange(1, N + 1) / p).sum(axis=-1)
    assert np.mean((f - signal) ** 2) == pytest.approx(N, rel=1e-12)
    h = (U[:, 3] + V[:, 7]) ** 2
    np.testing.assert_allclose(f[3, 7], W @ h, rtol=1e-13)


def test_ipr_and_power():
    p = 11
    x = np.arange(p)
    flat = np.ones((1, p)) + np.stack([np.cos(2 * np.pi * k * x / p) for k in range(1, 6)]).sum(axis=0)
    assert th.inverse_participation_ratio(flat[None, 0] - 1) == pytest.approx(1 / 5)
    P = th.frequency_power(np.cos(2 * np.pi * 3 * x / p + 0.4)[None])
    assert P.shape == (1, 6) and P[0, 3] == pytest.approx(p**2 / 2) and P[0, [0, 1, 2, 4, 5]].max() < 1e-20
    assert th.neuron_phases(np.cos(2 * np.pi * 3 * x / p + 0.4)[None], 3)[0] == pytest.approx(0.4)


def test_restricted_and_excluded_losses_match_reference_table():
    """Reference note sec. 5 (P = 113, 30 % train): circuit logits 3 sum_key cos(w_k(a+b-c))."""
    P, key = 113, [14, 35, 41, 42, 52]
    rng = np.random.default_rng(0)
    s = (np.arange(P)[:, None, None] + np.arange(P)[None, :, None] - np.arange(P)[None, None, :]) % P
    circuit = 3 * sum(np.cos(2 * np.pi * k * s / P) for k in key)
    mask = rng.random((P, P)) < 0.3
    assert th.restricted_loss(circuit, key) == pytest.approx(0.004, abs=5e-4)
    assert th.excluded_loss(circuit, key, mask) == pytest.approx(np.log(P), abs=1e-6)
    y = (np.arange(P)[:, None] + np.arange(P)[None, :]) % P
    memo = 15.0 * (np.arange(P)[None, None, :] == y[..., None]) * mask[..., None] + rng.normal(0, 1, (P, P, P))
    assert th.excluded_loss(memo, key, mask) < 1e-3
    assert th.restricted_loss(memo, key) > 4.0


def test_morwani_margin_golden():
    assert th.max_margin_quadratic(97) == pytest.approx(2.87856483e-4, rel=1e-8)


@pytest.mark.parametrize("p", [1, 4, 9, 15, 3.0, True, "7"])
def test_non_prime_or_small_p_raises(p):
    with pytest.raises(ValueError, match="p must be a prime"):
        th.modular_addition_solution(p, 10)


def test_bad_width_raises():
    with pytest.raises(ValueError, match="width"):
        th.modular_addition_solution(11, 0)


def test_liu_uniqueness_matches_reference_table():
    """Reference note sec. 7 (p = 10 integer addition, 2000 sets): P = 0.04, 0.42, 0.96 at n = 18, 22, 28."""
    for n, prob in [(18, 0.04), (22, 0.42), (28, 0.96)]:
        got = th.liu_uniqueness_probability(10, n, n_sets=400, seed=1)
        assert abs(got - prob) < 4 * np.sqrt(prob * (1 - prob) / 400) + 0.02


def test_representation_nullity_full_data():
    p = 7
    full = np.array([(a, b) for a in range(p) for b in range(p)])
    assert th.representation_nullity(full, p) == 1  # Z_p: only the constant
    ints = np.array([(i, j) for i in range(p) for j in range(i, p)])
    assert th.representation_nullity(ints, p, modular=False) == 2  # E_k = a + k b
    assert th.representation_nullity(full[:1], p) == p


def test_liu_critical_fraction_is_liu_r_c():
    """[L22] sec. 3.2 / Fig. 4a: r_c ~ 0.4 for addition of {0..9} (55 unordered pairs); the note's exact-rank table
    puts the 50 % crossing between 22 and 24 pairs (0.40-0.44)."""
    assert 22 / 55 <= th.liu_critical_fraction(10, n_sets=400, seed=3) <= 24 / 55
    with pytest.raises(ValueError, match="n_train"):
        th.liu_uniqueness_probability(10, 56)


@pytest.mark.parametrize("M", [7, 23])
def test_tian_single_frequency_maxima_equal_M_over_4(M):
    """Reference note sec. 6: every single-frequency [u; +-Pu] has E = M/4 (literal conventions); random unit
    vectors are lower; projected gradient ascent is not repeated here."""
    E = [
        th.tian_energy(th.tian_single_frequency(M, k, phase=ph, sign=sg), M)
        for k in range(1, (M - 1) // 2 + 1)
        for ph in (0.0, 0.7)
        for sg in (1.0, -1.0)
    ]
    np.testing.assert_allclose(E, M / 4, rtol=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(20):
        w = rng.standard_normal(2 * M)
        assert th.tian_energy(w / np.linalg.norm(w), M) < M / 4


def test_rubin_closed_forms_golden():
    """Reference note sec. 3: N=1000, P=401, sigma_a^2 = 0.002/N, gamma = 1e-4."""
    args = (401, 1000, 0.002 / 1000, 1e-4)
    sc, s2 = th.rubin_modular_phase_boundaries(*args)
    assert sc == pytest.approx(0.2360, abs=1e-4) and s2 == pytest.approx(0.1760, abs=1e-4)
    np.testing.assert_allclose(
        th.rubin_unlearned_fraction([0.3, 0.22, 0.20], *args), [-1.0, -0.9321, -0.8474], atol=1e-4
    )
    with pytest.raises(ValueError, match="gamma"):
        th.rubin_modular_phase_boundaries(401, 1000, 2e-6, 0.0)


# ----------------------------------------------------------------------------- golden values derived independently


def _mp_density(lam):
    lo, hi = th.mp_edges(lam)
    return lo, hi, lambda nu: np.sqrt((hi - nu) * (nu - lo)) / (2 * np.pi * lam * nu)


@pytest.mark.parametrize("t", [0, 7, 60, 400])
def test_weight_decay_loss_curves_match_second_moment_recursion(t):
    """[LBB23] eq. 15 (discrete form) against the per-mode GD recursion d <- r d - lr gamma tau, r = 1 - 2 lr (nu +
    gamma/2), iterated numerically for the second moments of (d, tau) (S_0, T i.i.d. with E s^2 = E tau^2 = 1/2 per
    unit of |.|^2) and integrated over the MP density with scipy's quad (not the theory's Gauss-Legendre nodes)."""
    lam, lr, gamma = 0.3, 0.05, 0.03
    lo, hi, rho = _mp_density(lam)

    def second_moment(nu):
        r = 1 - 2 * lr * (nu + gamma / 2)
        dd, dt, tt = 1.0, -0.5, 0.5  # E d^2, E d tau, E tau^2 at t = 0 (d = s - tau)
        for _ in range(t):
            dd, dt = r * r * dd - 2 * r * lr * gamma * dt + (lr * gamma) ** 2 * tt, r * dt - lr * gamma * tt
        return dd

    want = [
        quad(lambda nu: q(nu) * second_moment(nu) * rho(nu), lo, hi, epsabs=0, epsrel=1e-12, limit=200)[0]
        for q in (lambda nu: nu, lambda nu: 1.0)
    ]
    got = th.linear_estimator_losses(float(t), lam, lr, weight_decay=gamma, discrete=True)
    np.testing.assert_allclose(np.array(got, float), want, rtol=1e-9)


def test_chi2_accuracy_map_and_its_inverse():
    """[LBB23] eq. 13 against scipy's chi^2 CDF: P(chi^2_d < d eps / L); eps/4 at 95.45 % for d_out = 1."""
    from scipy.stats import chi2

    eps, L = 1e-3, np.array([1e-5, 2e-4, 1e-3, 0.4])
    for d_out in (1, 2, 5):
        np.testing.assert_allclose(th.accuracy_from_loss(L, eps, d_out), chi2.cdf(d_out * eps / L, d_out), rtol=1e-12)
        level = th.loss_at_accuracy(0.9, eps, d_out)
        assert chi2.cdf(d_out * eps / level, d_out) == pytest.approx(0.9, rel=1e-12)
    assert th.loss_at_accuracy(th.ACCURACY_AT_EPS_OVER_4, eps) == eps / 4
    with pytest.raises(ValueError, match="accuracy"):
        th.loss_at_accuracy(1.0, eps)


def test_d_out_grokking_times_use_lr_over_d_out():
    """[LBB23] eq. 13: with d_out outputs the losses are L^1(lr/d_out)/d_out; d_out = 1 is the eps/4 root."""
    lam, lr, eps = 0.3, 0.02, 1e-3
    level = th.loss_at_accuracy(th.ACCURACY_AT_EPS_OVER_4, eps, 3)
    assert th.linear_estimator_grokking_times(lam, lr, eps, d_out=3) == pytest.approx(
        th.linear_estimator_crossing_times(lam, lr / 3, 3 * level)
    )
    assert th.linear_estimator_grokking_times(lam, lr, eps) == th.linear_estimator_crossing_times(lam, lr, eps / 4)


def test_two_layer_constants():
    """[LBB23] eq. 19 and App. A/E: lr / (2 d_out^2); |D_0|_F^2 / d_out with both networks' products
    E|S0 S1|_F^2 = tr(E[S0^T S0] E[S1 S1^T]) = d_h (d_in / (2 d_in d_h)) (d_out / (2 d_out d_h)) = 1 / (4 d_h)."""
    d_in, d_h, d_out = 30, 7, 3
    per_product = d_h * (d_in / (2 * d_in * d_h)) * (d_out / (2 * d_out * d_h))
    assert th.two_layer_initial_loss(d_h, d_out) == pytest.approx(2 * per_product / d_out, rel=1e-15)
    assert th.two_layer_learning_rate(0.36, 3) == pytest.approx(0.02, rel=1e-15)
    eps = 1e-3 * th.two_layer_initial_loss(d_h, d_out)
    level = th.loss_at_accuracy(th.ACCURACY_AT_EPS_OVER_4, eps, d_out) / th.two_layer_initial_loss(d_h, d_out)
    assert th.two_layer_grokking_times(0.5, 0.36, eps, d_out=d_out, d_h=d_h) == pytest.approx(
        th.linear_estimator_crossing_times(0.5, 0.02, level)
    )


def test_phase_constraint_residual_reads_known_phases():
    """Neurons built with phi3 = phi1 + phi2 + delta at frequency k: the residual is |delta| wrapped to [0, pi]."""
    p, N = 13, 9
    rng = np.random.default_rng(4)
    k = 1 + np.arange(N) % 6
    phi1, phi2 = rng.uniform(0, 2 * np.pi, (2, N))
    delta = np.array([0.0, 0.3, -0.3, 1.0, -2.5, 3.0, 0.05, 2 * np.pi - 0.2, np.pi - 1e-3])
    angle = 2 * np.pi * np.outer(k, np.arange(p)) / p
    U, V = np.cos(angle + phi1[:, None]), np.cos(angle + phi2[:, None])
    W = np.cos(angle + (phi1 + phi2 + delta)[:, None]).T
    want = np.abs(np.angle(np.exp(1j * delta)))
    np.testing.assert_allclose(th.phase_constraint_residual(U, V, W), want, atol=1e-12)


@pytest.mark.parametrize("p", [5, 11, 23])
def test_morwani_margin_attained_by_explicit_construction(p):
    """[M23] Thm 7: 4(p-1) neurons, 8 per frequency zeta = 2 pi k / p with u = s cos(zeta a + alpha), v =
    cos(zeta b + beta), w = s cos(zeta c + alpha + beta), (alpha, beta) in {0, pi/2}^2, s = +-1: the sign pairs cancel
    u^2 and v^2, the phase grid cancels the (a - b) and (a + b + c) terms, so f[c](a, b) = 4 sum_k cos(zeta_k (a + b
    - c)) = 2 (p delta - 1): raw margin 2p. Its L_{2,3}-normalised margin (degree-3 homogeneous) is the max."""
    x = np.arange(p)
    U, V, W = [], [], []
    for kk in range(1, (p - 1) // 2 + 1):
        z = 2 * np.pi * kk / p
        for alpha in (0.0, np.pi / 2):
            for beta in (0.0, np.pi / 2):
                for s in (1.0, -1.0):
                    U.append(s * np.cos(z * x + alpha))
                    V.append(np.cos(z * x + beta))
                    W.append(s * np.cos(z * x + alpha + beta))
    U, V, W = np.array(U), np.array(V), np.array(W).T
    f = th.modular_addition_logits(U, V, W)
    y = (x[:, None] + x[None, :]) % p
    correct = np.take_along_axis(f, y[..., None], axis=2)[..., 0]
    margin = np.min(correct - np.where(np.arange(p) == y[..., None], -np.inf, f).max(axis=2))
    norm3 = np.sum((np.sum(U**2, 1) + np.sum(V**2, 1) + np.sum(W.T**2, 1)) ** 1.5)
    assert len(U) == 4 * (p - 1) and margin == pytest.approx(2 * p, rel=1e-12)
    assert margin / norm3 == pytest.approx(th.max_margin_quadratic(p), rel=1e-12)


@pytest.mark.parametrize("M", [7, 11])
def test_tian_energy_maximum_by_numerical_ascent(M):
    """Tian 2025 Thm 2 / Cor. 2 with the literal conventions: direct maximisation of E(w / |w|) from random starts
    (scipy L-BFGS on -E) reaches M/4, the value of every equal-amplitude single-frequency pair [u; v] whatever
    the phases (E = 1/2 sum_q cos^2(omega k q + phi_u + phi_v) = M/4, derived in the module docstring's terms)."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(M)
    best = max(
        -minimize(
            lambda w: -th.tian_energy(w / np.linalg.norm(w), M), rng.standard_normal(2 * M), method="L-BFGS-B"
        ).fun
        for _ in range(4)
    )
    assert best == pytest.approx(M / 4, rel=1e-6)
    h = np.arange(M)
    for _ in range(3):
        k, (pu, pv) = rng.integers(1, (M - 1) // 2 + 1), rng.uniform(0, 2 * np.pi, 2)
        w = np.concatenate([np.cos(2 * np.pi * k * h / M + pu), np.cos(2 * np.pi * k * h / M + pv)])
        assert th.tian_energy(w / np.linalg.norm(w), M) == pytest.approx(M / 4, rel=1e-12)


def test_rubin_boundaries_from_the_action():
    """Rubin et al. eq. 16 at |w|^2 = |v|^2 = s, per unit P: S(s) = s - u a^2 s^2 + (gamma/3) s^3, u = 2 sigma_a^2 P^2
    / (N sigma^4). Solved numerically: sigma_c^2 where min_s S = 0 at a = -1; in the mixed phase a(sigma^2) with min_s
    S = 0; GMFL-II where sigma^2 = sigma_c^2 - lambda, lambda = sigma_a^2 s*^2 at the degenerate minimum (eq. 38)."""
    from scipy.optimize import brentq, minimize_scalar

    P, N, sa2, gamma = 401, 1000, 0.002 / 1000, 1e-4

    def min_action(sigma2, a):
        u = 2 * sa2 * P**2 / (N * sigma2**2)
        res = minimize_scalar(
            lambda s: s - u * a * a * s * s + gamma / 3 * s**3,
            bounds=(1e-6, 1e6),
            method="bounded",
            options=dict(xatol=1e-12),
        )
        return res.fun, res.x

    sigma_c2 = brentq(lambda s2: min_action(s2, -1.0)[0], 0.05, 1.0, xtol=1e-14)
    s_star = min_action(0.2, brentq(lambda a: min_action(0.2, a)[0], -1.0, -0.01, xtol=1e-14))[1]
    sc, s2 = th.rubin_modular_phase_boundaries(P, N, sa2, gamma)
    assert sc == pytest.approx(sigma_c2, rel=1e-6)
    assert s2 == pytest.approx(sigma_c2 - sa2 * s_star**2, rel=1e-4)
    for sigma2 in (0.21, 0.19):
        a = brentq(lambda a: min_action(sigma2, a)[0], -1.0, -0.01, xtol=1e-14)
        assert th.rubin_unlearned_fraction(sigma2, P, N, sa2, gamma) == pytest.approx(a, rel=1e-6)


def test_analytic_solution_phase_sums_average_to_width():
    """[G23] eq. 15: the random-phase sums have mean square exactly N on average over the phases (demoted from the
    legacy claim grok.analytic_solution). Neurons of different frequencies are orthogonal over (a, b, q), so only
    same-frequency pairs can add cross terms; a pair's cross term is a trig polynomial of degree <= 2 in each of its
    four phases, so averaging over 5 equally spaced values of each phase is exact: it must vanish."""
    p = 7
    x, grid = np.arange(p), 2 * np.pi * np.arange(5) / 5
    s = (x[:, None, None] + x[None, :, None] - x[None, None, :]) % p
    signal = 0.5 * np.cos(2 * np.pi * s / p)  # one neuron's signal at frequency 1

    def spurious(p1, p2):
        a = 2 * np.pi * x / p
        u, v, w = np.cos(a + p1), np.cos(a + p2), np.cos(a + p1 + p2)
        return ((u[:, None] + v[None, :]) ** 2)[..., None] * w[None, None, :] - signal

    cross = np.mean(
        [np.mean(spurious(a1, a2) * spurious(b1, b2)) for a1 in grid for a2 in grid for b1 in grid for b2 in grid]
    )
    assert abs(cross) < 1e-12
    assert np.mean(spurious(0.3, 1.1) ** 2) == pytest.approx(1.0, rel=1e-12)  # each neuron adds exactly 1
