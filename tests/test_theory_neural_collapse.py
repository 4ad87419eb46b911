"""Exact unit tests for dltheory.theory.neural_collapse (golden values from dln_nc.md part B, derived identities)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dltheory.theory import neural_collapse as th

# ----------------------------------------------------------------------------- golden values (B2, B3, B6)


def test_ce_norm_golden_values():
    assert th.ce_ufm_weight_norm_sq(25, 4, 5e-3, 5e-3) == pytest.approx(13.540942172, rel=1e-10)
    assert th.ce_ufm_weight_norm_sq(500, 10, 5e-4, 5e-4) == pytest.approx(88.298, abs=5e-4)
    assert th.ce_ufm_weight_norm_sq(100, 4, 5e-3, 5e-3) == pytest.approx(21.249, abs=5e-4)
    assert th.ce_ufm_weight_norm_sq(100, 4, 0.025, 0.025) == 0.0  # rho = 0.25 = 1/K: collapsed


def test_ce_optimum_structure():
    o = th.ufm_optimum([25] * 4, 5e-3, 5e-3, loss="ce")
    assert np.allclose(np.linalg.norm(o.W, axis=1), 3.67980, atol=5e-6)
    assert np.allclose(np.linalg.norm(o.H_mean, axis=0), 0.73596, atol=5e-6)
    G = o.W @ o.W.T
    assert np.allclose(G, 13.540942172 * 4 / 3 * (np.eye(4) - 0.25), atol=1e-9)
    assert o.b is None and o.geometry == "etf"
    assert th.ufm_optimum([25] * 4, 5e-3, 5e-3, loss="ce", bias=True).b.tolist() == [0.0] * 4


def test_mse_golden_values():
    o = th.ufm_optimum([25] * 4, 5e-3, 5e-3, loss="mse")
    assert np.allclose(o.W @ o.W.T, 4.5 * np.eye(4), atol=1e-12)
    assert np.allclose(o.W @ o.H_mean, 0.9 * np.eye(4), atol=1e-12)
    ob = th.ufm_optimum([25] * 4, 5e-3, 5e-3, loss="mse", bias=True)
    assert np.allclose(np.diag(ob.W @ ob.W.T), 3.375) and np.allclose(ob.b, 0.25)
    assert np.allclose(np.sum(ob.H_mean**2, axis=0), 0.135)
    assert np.allclose(ob.W @ ob.H_mean, 0.9 * (np.eye(4) - 0.25), atol=1e-12)
    o100 = th.ufm_optimum([100] * 4, 5e-3, 5e-3, loss="mse")
    assert np.allclose(np.diag(o100.W @ o100.W.T), 8.0)
    assert np.allclose(
        np.diag(
            th.ufm_optimum([100] * 4, 5e-3, 5e-3, loss="mse", bias=True).W
            @ th.ufm_optimum([100] * 4, 5e-3, 5e-3, loss="mse", bias=True).W.T
        ),
        6.0,
    )


def test_imbalanced_and_deep_golden_values():
    n = [200, 100, 50, 50]
    o1 = th.ufm_optimum(n, 5e-4, 5e-4, loss="mse")
    assert np.allclose(np.diag(o1.W @ o1.W.T), [13.942, 9.800, 6.871, 6.871], atol=5e-4)
    assert np.allclose(o1.singular_values[0], [3.73392, 3.13050, 2.62127, 2.62127], atol=5e-6)
    assert np.allclose(np.linalg.norm(o1.H_mean, axis=0), [0.26403, 0.31305, 0.37070, 0.37070], atol=5e-6)
    o3 = th.ufm_optimum(n, 5e-4, 5e-4, loss="mse", depth=3)
    assert np.allclose(o3.singular_values, [[1.93740, 1.77545, 1.62631, 1.62631]] * 3, atol=5e-6)
    assert np.allclose(np.linalg.norm(o3.W, axis=1), [7.27205, 5.59663, 4.30142, 4.30142], atol=5e-5)
    assert np.allclose(np.linalg.norm(o3.H_mean, axis=0), [0.13699, 0.17755, 0.23000, 0.23000], atol=5e-6)
    for Wj in o3.layers:  # every layer carries the per-class singular values
        assert np.allclose(
            np.sort(np.linalg.svd(Wj, compute_uv=False))[::-1][:4], [1.93740, 1.77545, 1.62631, 1.62631], atol=5e-6
        )


def test_deep_singular_value_is_global_minimum_of_f():
    for M in (1, 2, 3, 6):
        for nk, lam in ((200, 5e-4), (50, 5e-3), (100, 0.02)):
            s = th.deep_ufm_singular_value(nk, 400, lam, lam, M)
            grid = np.linspace(0, 5, 200001)
            f = th._f_deep(grid, nk, 400, lam, lam, M)
            assert th._f_deep(s, nk, 400, lam, lam, M) <= f.min() + 1e-12


def test_collapse_thresholds():
    assert th.deep_ufm_collapse_lambda(100, 400, 1) == pytest.approx(0.025)
    assert th.deep_ufm_collapse_lambda(100, 400, 2) == pytest.approx(0.0214, abs=1e-4)
    assert th.deep_ufm_collapse_lambda(100, 400, 3) == pytest.approx(0.0215, abs=1e-4)
    lam = th.deep_ufm_collapse_lambda(100, 400, 2)
    assert th.deep_ufm_singular_value(100, 400, lam * (1 - 1e-6), lam * (1 - 1e-6), 2) == pytest.approx(1.71, abs=0.01)
    assert th.deep_ufm_singular_value(100, 400, lam * (1 + 1e-6), lam * (1 + 1e-6), 2) == 0.0
    # depth 1: continuous at n_k = N^2 lW lH
    lam1 = math.sqrt(50) / 400
    assert th.deep_ufm_singular_value(50, 400, lam1 * 0.999, lam1 * 0.999, 1) ** 2 < 0.01  # s^2 -> 0 linearly
    assert th.ufm_optimum([200, 100, 50, 50], lam1 * 1.001, lam1 * 1.001, loss="mse").singular_values[
        0, 2:
    ].tolist() == [0, 0]


def test_orthogonal_frame_nc3_pitfall_value():
    assert th.orthogonal_frame_nc3(4) == pytest.approx(math.sqrt(2 - math.sqrt(3)), rel=1e-14)
    assert th.orthogonal_frame_nc3(4) == pytest.approx(0.5176, abs=1e-4)


def test_optimum_minimises_objective_locally():
    rng = np.random.default_rng(0)
    for kw in (
        dict(loss="ce"),
        dict(loss="ce", bias=True),
        dict(loss="mse"),
        dict(loss="mse", bias=True),
        dict(loss="mse", depth=3),
    ):
        n = [10] * 3
        o = th.ufm_optimum(n, 5e-3, 5e-3, d=5, **kw)
        y = np.repeat(np.arange(3), 10)
        H = np.repeat(o.H_mean, 10, axis=1)
        f0 = th.ufm_objective(o.layers, H, y, 5e-3, 5e-3, b=o.b, loss=kw["loss"])
        for _ in range(20):
            eps = 1e-3
            layers = [L + eps * rng.standard_normal(L.shape) for L in o.layers]
            Hp = H + eps * rng.standard_normal(H.shape)
            bp = None if o.b is None else o.b + eps * rng.standard_normal(3)
            assert th.ufm_objective(layers, Hp, y, 5e-3, 5e-3, b=bp, loss=kw["loss"]) >= f0 - 1e-12


def test_layer_peeled_balanced():
    W, H = th.layer_peeled_balanced(6, 1.0, 5.0)
    assert np.allclose(np.linalg.norm(W, axis=1), 1.0)
    assert np.allclose(np.linalg.norm(H, axis=0), 2.23607, atol=5e-6)
    C = W @ W.T
    assert np.allclose(C[~np.eye(6, dtype=bool)], -0.2)


def test_not_implemented_cases():
    with pytest.raises(NotImplementedError, match="CE UFM"):
        th.ufm_optimum([10, 20], 1e-3, 1e-3, loss="ce")
    with pytest.raises(NotImplementedError, match="CE UFM"):
        th.ufm_optimum([10, 10], 1e-3, 1e-3, loss="ce", depth=2)
    with pytest.raises(NotImplementedError, match="bias and imbalanced"):
        th.ufm_optimum([10, 20], 1e-3, 1e-3, loss="mse", bias=True)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_per_class=[10], lambda_W=1e-3, lambda_H=1e-3), "n_per_class"),
        (dict(n_per_class=[10, 0], lambda_W=1e-3, lambda_H=1e-3), "empty class"),
        (dict(n_per_class=[10, 10], lambda_W=-1e-3, lambda_H=1e-3), "lambda_W must be a finite number >= 0"),
        (dict(n_per_class=[10, 10], lambda_W=1e-3, lambda_H=-1.0), "lambda_H"),
        (dict(n_per_class=[10, 10], lambda_W=0.0, lambda_H=1e-3), "must be > 0"),
        (dict(n_per_class=[10, 10, 10], lambda_W=1e-3, lambda_H=1e-3, d=1), "d must be >= 2"),
        (dict(n_per_class=[10, 10, 10], lambda_W=1e-3, lambda_H=1e-3, loss="mse", d=2), "d must be >= 3"),
        (dict(n_per_class=[10, 10], lambda_W=1e-3, lambda_H=1e-3, loss="hinge"), "loss"),
        (dict(n_per_class=[10, 10], lambda_W=1e-3, lambda_H=1e-3, depth=0), "depth"),
    ],
)
def test_ufm_optimum_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        th.ufm_optimum(**kwargs)


# ----------------------------------------------------------------------------- metrics


def _collapsed(o, n):
    K = o.W.shape[0]
    y = np.repeat(np.arange(K), n)
    return o.H_mean.T[y], y


@pytest.mark.parametrize("rotate", [False, True])
def test_metrics_zero_on_etf_and_pitfall_on_frame(rotate):
    # collapsed optima, optionally rotated in feature space (d = 9 > K): every metric of the collapsed geometry is 0
    Q = np.linalg.qr(np.random.default_rng(5).standard_normal((9, 9)))[0] if rotate else np.eye(9)
    o = th.ufm_optimum([7] * 5, 5e-3, 5e-3, loss="ce", d=9)
    H, y = _collapsed(o, 7)
    m = th.nc_metrics(H @ Q.T, y, o.W @ Q.T)
    for k in (
        "nc1",
        "nc2",
        "nc2_W",
        "nc3",
        "nc4",
        "equinorm_H",
        "equinorm_W",
        "equiangular_H",
        "maxangle_H",
        "maxangle_W",
    ):
        assert abs(m[k]) < 1e-12, k
    f = th.ufm_optimum([7] * 5, 5e-3, 5e-3, loss="mse", d=9)
    H, y = _collapsed(f, 7)
    m = th.nc_metrics(H @ Q.T, y, f.W @ Q.T)
    for k in ("nc1", "nc2", "nc3_uncentred", "nc4", "orthframe_H", "orthframe_W", "equinorm_W"):
        assert abs(m[k]) < 1e-12, k
    assert m["nc3"] == pytest.approx(th.orthogonal_frame_nc3(5), abs=1e-12)  # centred NC3 is not 0 there


def test_metrics_golden_on_simple_geometry():
    # two classes on a line: h = +-1 with within-class spread +-0.5 along an orthogonal axis
    H = np.array([[1, 0.5], [1, -0.5], [-1, 0.5], [-1, -0.5]], float)
    y = np.array([0, 0, 1, 1])
    m = th.nc_metrics(H, y)
    assert m["nc1"] == 0.0  # within-class spread orthogonal to the between-class direction
    H2 = np.array([[1.5, 0], [0.5, 0], [-1.5, 0], [-0.5, 0]], float)
    # Sigma_W = 0.25 along x, Sigma_B = 1 along x: tr(Sw Sb^+)/K = 0.25/2
    assert th.nc_metrics(H2, y)["nc1"] == pytest.approx(0.125, rel=1e-14)
    assert th.nc_metrics(H2, y)["nc1_unnormalised"] == pytest.approx(0.25, rel=1e-14)
    assert th.nc_metrics(H2, y)["trace_SigmaB_pinv"] == pytest.approx(1.0, rel=1e-14)  # Sigma_B = 1 along x
    assert th.nc_metrics(1e-120 * H2, y)["trace_SigmaB_pinv"] == pytest.approx(1e240, rel=1e-12)  # rescaled inside


def test_nc1_within_class_noise_law():
    assert th.nc1_within_class_noise([3, 3], 0.5, 2.0) == pytest.approx(0.25 * 4 / 6 * 2 / 2, rel=1e-15)
    with pytest.raises(ValueError, match="eps"):
        th.nc1_within_class_noise([3, 3], -1.0, 1.0)
    with pytest.raises(ValueError, match="n_per_class"):
        th.nc1_within_class_noise([3], 1.0, 1.0)


def test_nc4_counts_mismatches():
    H = np.array([[1.0, 0], [0.9, 0.2], [-1.0, 0], [0.2, 0.1]])
    y = np.array([0, 0, 1, 1])
    W = np.array([[0.0, 1.0], [0.0, -1.0]])  # classifies by the sign of the second coordinate
    m = th.nc_metrics(H, y, W)
    # NCC: means (0.95, 0.1), (-0.4, 0.05) give [0, 0, 1, 1]; argmax W h = [0 (tie -> first), 0, 0 (tie), 0]
    assert m["nc4"] == 0.5


def test_global_mean_conventions_agree_when_balanced_only():
    rng = np.random.default_rng(1)
    H = rng.standard_normal((40, 5))
    yb = np.repeat(np.arange(4), 10)
    assert th.nc_metrics(H, yb)["nc1"] == pytest.approx(th.nc_metrics(H, yb, global_mean="classes")["nc1"], rel=1e-12)
    yi = np.repeat(np.arange(4), [19, 11, 5, 5])
    a, b = th.nc_metrics(H, yi)["mu_G"], th.nc_metrics(H, yi, global_mean="classes")["mu_G"]
    assert np.allclose(a, H.mean(axis=0)) and not np.allclose(a, b)


@given(seed=st.integers(0, 2**32 - 1), K=st.integers(2, 6), n=st.integers(2, 6), extra=st.integers(0, 3))
def test_metrics_invariant_to_rotation_relabelling_and_scale(seed, K, n, extra):
    rng = np.random.default_rng(seed)
    d = K + extra
    y = np.repeat(np.arange(K), n)
    H = rng.standard_normal((K * n, d)) + 2 * np.repeat(rng.standard_normal((K, d)), n, axis=0)
    W, b = rng.standard_normal((K, d)), rng.standard_normal(K)
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    perm = rng.permutation(K)
    inv = np.argsort(perm)
    base = th.nc_metrics(H, y, W, b)
    variants = [
        th.nc_metrics(H @ Q.T, y, W @ Q.T, b),
        th.nc_metrics(H, perm[y], W[inv], b[inv]),
        th.nc_metrics(3.0 * H, y, 7.0 * W, 21.0 * b),
    ]  # logits scale by 21
    for v in variants:
        for k in (
            "nc1",
            "nc2",
            "nc2_W",
            "nc3",
            "nc3_uncentred",
            "nc4",
            "equinorm_H",
            "equinorm_W",
            "equiangular_H",
            "equiangular_W",
            "maxangle_H",
            "maxangle_W",
            "orthframe_H",
            "orthframe_W",
        ):
            assert v[k] == pytest.approx(base[k], rel=1e-8, abs=1e-12), k


@given(seed=st.integers(0, 2**32 - 1))
def test_metrics_positive_off_collapse(seed):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), 4)
    m = th.nc_metrics(rng.standard_normal((12, 4)), y, rng.standard_normal((3, 4)))
    assert m["nc1"] > 0 and m["nc2"] > 0 and m["nc3"] > 0 and m["nc2_W"] > 0


def test_metrics_near_zero_scale_no_warning():
    o = th.ufm_optimum([5] * 3, 5e-3, 5e-3, loss="ce")
    H, y = _collapsed(o, 5)
    m = th.nc_metrics(1e-250 * H, y, 1e-250 * o.W)
    assert m["nc2"] < 1e-12 and m["nc3"] < 1e-12
    z = th.nc_metrics(np.zeros((15, 3)), y, np.zeros((3, 3)))
    assert np.isnan(z["nc1"]) and np.isnan(z["nc3"])


@pytest.mark.parametrize(
    "H, y, W, b, match",
    [
        (np.zeros((4, 2)), np.array([0, 0, 1, 1, 1]), None, None, "length N = 4"),
        (np.zeros((4, 2)), np.array([0, 0, 0, 0]), None, None, ">= 2 classes"),
        (np.zeros((4, 2)), np.array([0, 0, 2, 2]), None, None, "empty classes: \\[1\\]"),
        (np.zeros((4, 2)), np.array([0, -1, 1, 1]), None, None, "labels y must lie in"),
        (np.zeros((4, 2)), np.array([0, 0, 1, 2]), np.zeros((2, 2)), None, "max\\(y\\) = 2"),
        (np.zeros((4, 2)), np.array([0.0, 0, 1, 1]), None, None, "integer labels"),
        (np.zeros((4, 2)), np.array([0, 0, 1, 1]), np.zeros((2, 3)), None, "W must be K x d"),
        (np.zeros((4, 2)), np.array([0, 0, 1, 1]), np.zeros((2, 2)), np.zeros(3), "b must have shape"),
        (np.zeros(4), np.array([0, 0, 1, 1]), None, None, "H must be a real 2-D"),
        (np.full((4, 2), np.nan), np.array([0, 0, 1, 1]), None, None, "finite"),
    ],
)
def test_metrics_bad_input(H, y, W, b, match):
    with pytest.raises(ValueError, match=match):
        th.nc_metrics(H, y, W, b)


# ----------------------------------------------------------------------------- Han et al. decomposition


@given(seed=st.integers(0, 2**32 - 1), lam=st.floats(0.0, 1.0), balanced=st.booleans())
def test_mse_decomposition_is_exact(seed, lam, balanced):
    rng = np.random.default_rng(seed)
    counts = [6, 6, 6] if balanced else [9, 5, 4]
    y = np.repeat(np.arange(3), counts)
    H = rng.standard_normal((18, 4)) + np.repeat(rng.standard_normal((3, 4)), counts, axis=0)
    W, b = rng.standard_normal((3, 4)), rng.standard_normal(3)
    r = th.mse_decomposition(H, y, W, b, lam)
    assert r["total"] == pytest.approx(r["loss"], rel=1e-10)
    assert min(r["L_NC1"], r["L_NC23"], r["L_perp"]) >= -1e-12
    at_ls = th.mse_decomposition(H, y, r["W_LS"], r["b_LS"], lam)
    assert abs(at_ls["L_perp"]) < 1e-12
    assert at_ls["loss"] <= r["loss"] + 1e-12


def test_mse_decomposition_min_ls_loss_at_zero_lambda():
    # dln_nc.md B4: at lam = 0, min LS loss = (1/(2C)) (C - 1 - tr(Sigma_T^{-1} Sigma_B)), balanced classes
    rng = np.random.default_rng(3)
    C, n, d = 3, 8, 5
    y = np.repeat(np.arange(C), n)
    H = rng.standard_normal((C * n, d)) + np.repeat(rng.standard_normal((C, d)), n, axis=0)
    r = th.mse_decomposition(H, y, np.zeros((C, d)), np.zeros(C), 0.0)
    mu = H.mean(axis=0)
    M = np.stack([H[y == c].mean(axis=0) for c in range(C)]) - mu
    Sigma_T = (H - mu).T @ (H - mu) / (C * n)
    Sigma_B = M.T @ M / C
    assert r["L_NC1"] + r["L_NC23"] == pytest.approx(
        (C - 1 - np.trace(np.linalg.solve(Sigma_T, Sigma_B))) / (2 * C), rel=1e-10
    )


def test_mse_decomposition_bad_input():
    with pytest.raises(ValueError, match="lam must be"):
        th.mse_decomposition(np.zeros((4, 2)), np.array([0, 0, 1, 1]), np.zeros((2, 2)), np.zeros(2), -1.0)
    with pytest.raises(ValueError, match="W must be K x d"):
        th.mse_decomposition(np.zeros((4, 2)), np.array([0, 0, 1, 1]), np.zeros((2, 3)), np.zeros(2), 0.1)


def _ridge_brute_force(H, y, lam):
    """(W, b) minimising the regularised MSE loss, by least squares on an augmented system (not the closed form)."""
    N, d = H.shape
    K = int(y.max()) + 1
    X = np.hstack([H, np.ones((N, 1))]) / np.sqrt(N)
    Y = np.eye(K)[y] / np.sqrt(N)
    Xa = np.vstack([X, np.sqrt(lam) * np.eye(d + 1)])
    Ya = np.vstack([Y, np.zeros((d + 1, K))])
    sol = np.linalg.lstsq(Xa, Ya, rcond=None)[0].T
    return sol[:, :d], sol[:, d]


@pytest.mark.parametrize("counts, lam", [([6, 6, 6], 0.3), ([9, 5, 4], 0.05), ([7, 7, 7], 0.0)])
def test_mse_decomposition_terms_by_brute_force(counts, lam):
    """Each term recomputed from its definition with an independently minimised classifier: a wrong constant
    (1/2, 1/K, pi_c, the lam on b) in any term fails."""
    rng = np.random.default_rng(11)
    y = np.repeat(np.arange(3), counts)
    H = rng.standard_normal((y.size, 4)) + np.repeat(2 * rng.standard_normal((3, 4)), counts, axis=0)
    W, b = rng.standard_normal((3, 4)), rng.standard_normal(3)
    r = th.mse_decomposition(H, y, W, b, lam)
    W_ls, b_ls = _ridge_brute_force(H, y, lam)
    assert np.allclose(r["W_LS"], W_ls, atol=1e-10) and np.allclose(r["b_LS"], b_ls, atol=1e-10)

    def loss(Wx, bx, Hx):
        return 0.5 / y.size * np.sum((Hx @ Wx.T + bx - np.eye(3)[y]) ** 2) + 0.5 * lam * (np.sum(Wx**2) + bx @ bx)

    M = np.stack([H[y == c].mean(axis=0) for c in range(3)])
    assert r["loss"] == pytest.approx(loss(W, b, H), rel=1e-12)
    assert r["L_perp"] == pytest.approx(loss(W, b, H) - loss(W_ls, b_ls, H), rel=1e-9, abs=1e-12)
    L_nc23 = 0.5 / y.size * np.sum((M[y] @ W_ls.T + b_ls - np.eye(3)[y]) ** 2)  # collapsed features, no penalty
    L_nc1 = 0.5 / y.size * np.sum(((H - M[y]) @ W_ls.T) ** 2) + 0.5 * lam * (np.sum(W_ls**2) + b_ls @ b_ls)
    assert r["L_NC23"] == pytest.approx(L_nc23, rel=1e-9)
    assert r["L_NC1"] == pytest.approx(L_nc1, rel=1e-9)


# ----------------------------------------------------------------------------- MSE UFM feature dynamics


def test_within_class_rate_golden_and_equals_feature_hessian():
    # K = 4, n = 25, lW = lH = 5e-3: sigma = 0.9, s_w^2 = sqrt(25) 0.9 = 4.5, a = 5e-3 + 4.5/100
    assert th.mse_ufm_within_class_rate(25, 4, 5e-3, 5e-3) == pytest.approx(0.05, rel=1e-14)
    for bias in (False, True):  # the nonzero eigenvalue of W^T W/N + lH on the class-mean span, both geometries
        o = th.ufm_optimum([10] * 4, 2e-2, 1e-2, loss="mse", bias=bias, d=6)
        Md = o.H_mean - o.H_mean.mean(axis=1, keepdims=True)
        U = np.linalg.svd(Md, full_matrices=False)[0][:, :3]
        A = U.T @ (o.W.T @ o.W / 40 + 1e-2 * np.eye(6)) @ U
        assert np.allclose(A, th.mse_ufm_within_class_rate(10, 4, 2e-2, 1e-2) * np.eye(3), atol=1e-14)
    assert th.mse_ufm_within_class_rate(25, 4, 0.1, 0.1) == 0.1  # beyond the threshold W = 0: a = lH
    with pytest.raises(ValueError, match="lambda_W"):
        th.mse_ufm_within_class_rate(25, 4, 0.0, 0.1)


# ----------------------------------------------------------------------------- layer-peeled model


def _lpm_full_objective(z, n, K, d, E_W, E_H):
    W, H = z[: K * d].reshape(K, d), z[K * d :].reshape(d, K)
    Z = W @ H
    m = Z.max(axis=0)
    ce = m + np.log(np.exp(Z - m).sum(axis=0)) - np.diag(Z)
    return float(n @ ce / n.sum())


def test_layer_peeled_balanced_limit():
    o = th.layer_peeled_optimum(3, 3, 1.0, 1.0, 5.0)
    W, H = th.layer_peeled_balanced(6, 1.0, 5.0)
    assert np.allclose(o.WWt, W @ W.T, atol=1e-12) and np.allclose(o.HtH, H.T @ H, atol=1e-12)
    assert np.allclose(o.logits, H.T @ W.T, atol=1e-12)
    assert o.minority_cos == pytest.approx(-0.2, abs=1e-13)
    per_sample = th.layer_peeled_optimum(3, 3, 1.0, 1.0, 5.0, feature_budget="per_sample")
    assert np.allclose(per_sample.WWt, o.WWt, atol=1e-13)  # the two budgets agree when balanced


def test_layer_peeled_optimum_beats_every_factorised_point():
    """Brute force on the factorised LPM (SLSQP from random starts, d = K): none goes below the convex optimum,
    the best reaches it, and the solver's Gram matrices realise its objective within the budgets."""
    from scipy.optimize import minimize

    K_A, K_B, R, E_W, E_H = 2, 2, 3.0, 1.0, 2.0
    n = np.array([3, 3, 1, 1])
    K = d = 4
    o = th.layer_peeled_optimum(K_A, K_B, R, E_W, E_H)
    Z = o.logits
    m = Z.max(axis=1)
    ce = m + np.log(np.exp(Z - m[:, None]).sum(axis=1)) - np.diag(Z)
    assert n @ ce / n.sum() == pytest.approx(o.objective, rel=1e-13)
    assert np.trace(o.WWt) / K == pytest.approx(E_W, rel=1e-12) and np.trace(o.HtH) / K == pytest.approx(E_H, rel=1e-12)
    G = np.block([[o.HtH, o.logits], [o.logits.T, o.WWt]])  # Gram of [H; W] must be PSD
    assert np.linalg.eigvalsh(G).min() > -1e-12
    cons = [
        {"type": "ineq", "fun": lambda z: E_W - np.sum(z[: K * d] ** 2) / K},
        {"type": "ineq", "fun": lambda z: E_H - np.sum(z[K * d :] ** 2) / K},
    ]
    rng = np.random.default_rng(0)
    best = np.inf
    for _ in range(6):
        res = minimize(
            _lpm_full_objective,
            0.3 * rng.standard_normal(2 * K * d),
            args=(n, K, d, E_W, E_H),
            method="SLSQP",
            constraints=cons,
            options=dict(ftol=1e-14, maxiter=2000),
        )
        assert res.fun >= o.objective - 1e-9
        best = min(best, res.fun)
    assert best == pytest.approx(o.objective, abs=1e-7)


def test_minority_threshold_is_the_exact_onset():
    R_star = th.layer_peeled_minority_threshold(5, 5, 1.0, 5.0)
    assert R_star == pytest.approx(12.192447, abs=1e-6)  # dln_nc.md B5 measured ~12.2 by projected GD
    below = th.layer_peeled_optimum(5, 5, R_star * (1 - 1e-6), 1.0, 5.0)
    above = th.layer_peeled_optimum(5, 5, R_star * (1 + 1e-6), 1.0, 5.0)
    assert below.margins[3] > 0 and below.minority_cos < 1
    assert above.margins[3] == 0 and above.minority_cos == pytest.approx(1.0, abs=1e-14)
    # the budgets enter only through E_W E_H
    a, b = th.layer_peeled_optimum(5, 5, 4.0, 1.0, 5.0), th.layer_peeled_optimum(5, 5, 4.0, 2.5, 2.0)
    assert np.allclose(a.logits, b.logits, atol=1e-12) and a.minority_cos == pytest.approx(b.minority_cos, abs=1e-12)
    assert th.layer_peeled_minority_threshold(5, 5, 2.5, 2.0) == pytest.approx(R_star, rel=1e-12)


def test_layer_peeled_small_budget_and_bad_input():
    o = th.layer_peeled_optimum(5, 5, 4.0, 0.1, 0.5)  # so small a budget that the minority classifiers vanish
    assert np.isnan(o.minority_cos) and np.allclose(o.WWt[5:, 5:], 0.0)
    for kwargs, match in (
        (dict(K_A=1), "K_A"),
        (dict(K_B=1), "K_B"),
        (dict(R=0.5), "R"),
        (dict(E_W=0.0), "E_W"),
        (dict(feature_budget="total"), "feature_budget"),
    ):
        args = dict(K_A=3, K_B=3, R=2.0, E_W=1.0, E_H=1.0) | kwargs
        with pytest.raises(ValueError, match=match):
            th.layer_peeled_optimum(**args)
