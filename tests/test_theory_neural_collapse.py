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


def test_metrics_zero_on_etf_and_pitfall_on_frame():
    o = th.ufm_optimum([7] * 5, 5e-3, 5e-3, loss="ce", d=6)
    H, y = _collapsed(o, 7)
    m = th.nc_metrics(H, y, o.W)
    for k in ("nc1", "nc2", "nc2_W", "nc3", "nc4", "equinorm_H", "equinorm_W", "equiangular_H", "maxangle_W"):
        assert abs(m[k]) < 1e-12, k
    f = th.ufm_optimum([7] * 5, 5e-3, 5e-3, loss="mse", d=6)
    H, y = _collapsed(f, 7)
    m = th.nc_metrics(H, y, f.W)
    assert m["nc3_uncentred"] < 1e-12 and m["orthframe_W"] < 1e-12 and m["nc2"] < 1e-12
    assert m["nc3"] == pytest.approx(th.orthogonal_frame_nc3(5), abs=1e-12)


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
