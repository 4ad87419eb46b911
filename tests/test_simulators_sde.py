"""Unit tests of dltheory.simulators.sde: strong order 1/2 and weak order 1 of Euler-Maruyama, the exact covariance of the
structured matrix noise, PSD projection, blow-up accounting and bad input."""

import math

import numpy as np
import pytest

from dltheory.simulators import sde
from dltheory.theory import shaped as th

MU, SIG, X0, T = 0.4, 0.8, 1.0, 1.0


def test_strong_order_one_half_on_geometric_brownian_motion():
    """E|X_EM - X_exact| ~ dt^(1/2) with one Brownian path per sample reused across step sizes."""
    rng = np.random.default_rng(0)
    fine = 2**10
    dW = rng.standard_normal((fine, 4000)) * math.sqrt(T / fine)
    exact = X0 * np.exp((MU - SIG**2 / 2) * T + SIG * dW.sum(0))
    dts, errs = [], []
    for k in (3, 4, 5, 6, 7):
        steps = 2**k
        inc = dW.reshape(steps, fine // steps, -1).sum(1)
        x = sde.euler_maruyama_scalar(X0, lambda x: MU * x, lambda x: SIG * x, T=T, dt=T / steps, increments=inc)
        dts.append(T / steps)
        errs.append(np.abs(x - exact).mean())
    slope = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    assert slope == pytest.approx(0.5, abs=0.1)  # theory 1/2; 0.1 covers the O(dt) term over 1.2 decades


def test_weak_order_one_second_moment():
    """EM's E X_N^2 = x0^2 ((1 + mu dt)^2 + sigma^2 dt)^N exactly; its error to x0^2 e^{(2 mu + sigma^2) T} is O(dt)."""
    dt = 0.1
    x = sde.euler_maruyama_scalar(X0, lambda x: MU * x, lambda x: SIG * x, T=T, dt=dt, n_paths=200000, seed=1)
    em = X0**2 * ((1 + MU * dt) ** 2 + SIG**2 * dt) ** round(T / dt)
    se = (x**2).std() / math.sqrt(x.size)
    assert abs((x**2).mean() - em) < 4.5 * se  # alpha ~ 7e-6
    dts = np.array([0.02, 0.01, 0.005, 0.0025])  # small enough that the O(dt^2) term shifts the slope < 0.05
    err = [abs(((1 + MU * h) ** 2 + SIG**2 * h) ** round(T / h) - math.exp((2 * MU + SIG**2) * T)) for h in dts]
    assert np.polyfit(np.log(dts), np.log(err), 1)[0] == pytest.approx(1.0, abs=0.05)


def test_clipping_keeps_correlation_in_range():
    s = th.relu_correlation_sde(0, -2)
    x = sde.euler_maruyama_scalar(0.9, s.drift, s.diffusion, T=0.5, dt=0.05, n_paths=2000, seed=2, lo=-1, hi=1)
    assert np.all(np.abs(x) <= 1)


@pytest.mark.parametrize("gamma, tau0", [(math.sqrt(0.5), 1.0), (1.0, 0.7)])
def test_structured_noise_covariance_is_exactly_sigma(gamma, tau0):
    """xi is linear in (G1, G2): sum over unit inputs of xi (x) xi equals Sigma(V) (theory) to round-off."""
    V = np.array([[1.2, 0.3, 0.1], [0.3, 0.8, 0.5], [0.1, 0.5, 1.0]])
    L = np.linalg.cholesky(V)[None]
    lin, attn = th.attention_noise_scales(gamma, tau0)
    S = np.zeros((3, 3, 3, 3))
    for which in (0, 1):
        for a in range(3):
            for b in range(3):
                E = np.zeros((1, 3, 3))
                E[0, a, b] = 1.0
                G = [np.zeros((1, 3, 3)), np.zeros((1, 3, 3))]
                G[which] = E
                xi = sde.structured_noise(V[None], L, G[0], G[1], lin, attn)[0]
                S += np.einsum("ij,kl->ijkl", xi, xi)
    np.testing.assert_allclose(S, th.attention_diffusion(V, gamma, tau0), atol=1e-13)


def test_matrix_em_wishart_moments():
    """dV = Sigma_lin^{1/2} dB: E V_T = V_0, and EM's E (V^11)^2 = (V_0^11)^2 (1 + 2 dt)^N (projection inactive)."""
    V0 = np.array([[1.0, 0.3], [0.3, 0.5]])
    r = sde.euler_maruyama_matrix(V0, np.zeros_like, T=0.5, dt=0.01, n_paths=20000, seed=3, lin_scale=1.0)
    VT = r.V[:, -1]
    se = VT.std(0) / math.sqrt(VT.shape[0])
    assert np.all(np.abs(VT.mean(0) - V0) < 4.5 * se) and r.blowup_fraction == 0
    sq = VT[:, 0, 0] ** 2
    assert abs(sq.mean() - (1 + 2 * 0.01) ** 50) < 4.5 * sq.std() / math.sqrt(sq.size)
    assert np.all(np.linalg.eigvalsh(VT) >= -1e-12)


def test_psd_projection_of_indefinite_steps():
    V0 = np.array([[1.0, 0.999], [0.999, 1.0]])  # near-singular: large steps leave the cone, projection returns
    r = sde.euler_maruyama_matrix(
        V0, np.zeros_like, T=1.0, dt=0.25, n_paths=500, seed=4, lin_scale=1.0, record_every=1, blowup=1e6
    )
    assert np.linalg.eigvalsh(r.V.reshape(-1, 2, 2)).min() >= -1e-12 and r.V.shape == (500, 5, 2, 2)


def test_blown_paths_are_frozen_counted_and_kept():
    r = sde.euler_maruyama_matrix(
        np.eye(1), lambda V: 4 * V @ V, T=1.0, dt=0.01, n_paths=300, seed=5, lin_scale=1.0, blowup=50.0
    )
    assert 0 < r.blown.sum() < 300 and r.V.shape[0] == 300
    assert np.all(np.isfinite(r.blowup_time[r.blown])) and np.all(np.isinf(r.blowup_time[~r.blown]))
    assert np.all(np.abs(r.V[:, -1]) <= 50.0)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sde.euler_maruyama_scalar(0.0, abs, abs, T=0.0, dt=0.1, n_paths=2, seed=0), "T must be"),
        (lambda: sde.euler_maruyama_scalar(0.0, abs, abs, T=1.0, dt=0.3, n_paths=2, seed=0), "integer"),
        (lambda: sde.euler_maruyama_scalar(2.0, abs, abs, T=1.0, dt=0.5, n_paths=2, seed=0, lo=-1, hi=1), "x0"),
        (lambda: sde.euler_maruyama_scalar(0.0, abs, abs, T=1.0, dt=0.5, n_paths=0, seed=0), "n_paths"),
        (
            lambda: sde.euler_maruyama_matrix(
                [[1, 0.2], [0.3, 1]], np.zeros_like, T=1, dt=0.5, n_paths=2, seed=0, lin_scale=1
            ),
            "symmetric",
        ),
        (
            lambda: sde.euler_maruyama_matrix(
                [[1, 2], [2, 1]], np.zeros_like, T=1, dt=0.5, n_paths=2, seed=0, lin_scale=1
            ),
            "positive semi-definite",
        ),
        (
            lambda: sde.euler_maruyama_matrix(np.eye(2), np.zeros_like, T=-1, dt=0.5, n_paths=2, seed=0, lin_scale=1),
            "T must be",
        ),
        (
            lambda: sde.euler_maruyama_matrix(np.eye(2), np.zeros_like, T=1, dt=0.5, n_paths=2, seed=0, lin_scale=-1),
            "lin_scale",
        ),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_coupled_pair_has_exact_em_moments_and_a_precise_richardson_difference():
    """dV = sqrt(2) V dB (m = 1): EM's E V_N^2 = (1 + 2 h)^N at h = dt and 2 dt exactly; on the SAME Brownian paths
    the difference V_dt^2 - V_2dt^2 has an SE far below either run's (the pair is coupled path by path), and the
    Richardson combination 2 V_dt^2 - V_2dt^2 estimates e^{2T} (error O(dt^2) = 9e-4 here)."""
    T, dt = 0.5, 0.01
    fine, coarse = sde.euler_maruyama_matrix_pair(
        np.eye(1), np.zeros_like, T=T, dt=dt, n_paths=40000, seed=6, lin_scale=1.0, blowup=1e6
    )
    f2, c2 = fine.V[:, -1, 0, 0] ** 2, coarse.V[:, -1, 0, 0] ** 2
    se = lambda x: x.std() / math.sqrt(x.size)  # noqa: E731
    assert abs(f2.mean() - (1 + 2 * dt) ** 50) < 4.5 * se(f2) and abs(c2.mean() - (1 + 4 * dt) ** 25) < 4.5 * se(c2)
    diff, exact_diff = f2 - c2, (1 + 2 * dt) ** 50 - (1 + 4 * dt) ** 25
    assert se(diff) < 0.3 * se(f2) and abs(diff.mean() - exact_diff) < 4.5 * se(diff)
    rich = 2 * f2 - c2
    assert abs(rich.mean() - math.exp(2 * T)) < 4.5 * se(rich) + 2e-3  # 2e-3: twice the O(dt^2) remainder
    assert fine.t.tolist() == coarse.t.tolist() == [0.0, T]


def test_pair_needs_an_even_number_of_steps():
    with pytest.raises(ValueError, match="T / dt must be an integer"):
        sde.euler_maruyama_matrix_pair(np.eye(1), np.zeros_like, T=0.25, dt=0.05, n_paths=2, seed=0, lin_scale=1.0)


def _em_matrix(**kw):
    args = dict(V0=np.eye(2), drift=lambda V: -V, T=0.1, dt=0.05, n_paths=2, seed=0, lin_scale=0.1) | kw
    return sde.euler_maruyama_matrix(**args)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sde.euler_maruyama_scalar(0.1, -1.0, lambda x: x, T=1, dt=0.1, n_paths=2, seed=0), "drift"),
        (lambda: sde.euler_maruyama_scalar(0.1, abs, abs, T="1", dt=0.1, n_paths=2, seed=0), "T must be"),
        (lambda: sde.euler_maruyama_scalar(0.1, abs, abs, T=1, dt=True, n_paths=2, seed=0), "dt must be"),
        (lambda: sde.euler_maruyama_scalar(0.1, abs, abs, T=1, dt=0.1, n_paths=2, seed=0, lo=np.nan), "lo"),
        (lambda: sde.euler_maruyama_scalar([0.1, 0.2], abs, abs, T=1, dt=0.1, n_paths=3, seed=0), "x0"),
        (lambda: sde.euler_maruyama_scalar(0.1, abs, abs, T=1, dt=0.1, n_paths=2, seed=None), "seed"),
        (lambda: _em_matrix(T=1e300), "T / dt"),  # 1e301 steps: refused, never started
        (lambda: _em_matrix(n_paths=10**300), "n_paths"),
        (lambda: _em_matrix(lin_scale="0.1"), "lin_scale"),
        (lambda: _em_matrix(V0=[[1.0, 2.0], [2.0, 1.0]]), "V0 must be positive semi-definite"),
        (lambda: _em_matrix(record_every=1.5), "record_every"),
        (lambda: _em_matrix(drift=None), "drift"),
        (lambda: sde.euler_maruyama_matrix_pair(np.eye(2), abs, T=1, dt="x", n_paths=2, seed=0, lin_scale=0), "dt"),
    ],
)
def test_invalid_input_is_refused_naming_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_structured_noise_validates_its_input():
    V = np.broadcast_to(np.eye(2), (3, 2, 2))
    G = np.ones((3, 2, 2))
    assert sde.structured_noise(V, V, G, G, 0.5, 0.1).shape == (3, 2, 2)
    for kwargs, match in [
        (dict(L=np.eye(3)), "L must have the shape"),
        (dict(G1=np.full((3, 2, 2), np.nan)), "G1"),
        (dict(G2="abc"), "G2"),
        (dict(V=None), "V must be"),
        (dict(lin_scale=-1.0), "lin_scale"),
        (dict(attn_scale=1j), "attn_scale"),
    ]:
        args = dict(V=V, L=V, G1=G, G2=G, lin_scale=0.5, attn_scale=0.1) | kwargs
        with pytest.raises(ValueError, match=match):
            sde.structured_noise(**args)


def test_scalar_divergence_names_the_step():
    with pytest.raises(FloatingPointError, match="step"):
        sde.euler_maruyama_scalar(1.0, lambda x: x**3 * 1e100, lambda x: 0 * x, T=1, dt=0.1, n_paths=1, seed=0)
