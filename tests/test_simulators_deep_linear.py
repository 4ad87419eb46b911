"""Unit tests of dltheory.simulators.deep_linear: numba kernel vs numpy reference, inits, bad input, divergence."""

import numpy as np
import pytest

from dltheory.simulators import deep_linear as sim


@pytest.fixture(scope="module")
def task():
    return sim.make_task([3.0, 1.0, 0.5], 5, 4, seed=0)


@pytest.mark.parametrize("widths", [[5, 6, 4], [5, 7, 7, 4], [5, 3, 6, 2, 4]])
def test_kernel_matches_numpy_reference(task, widths):
    W0 = sim.init_small_random(widths, 0.3, seed=1)
    tr = sim.train(W0, task, eta=0.05, n_steps=60, record_every=7)
    ref = sim.train_reference(W0, task, eta=0.05, n_steps=60, record_every=7)
    np.testing.assert_allclose(tr.W_tot[: len(ref)], ref, atol=1e-13)
    assert tr.steps[-1] == 60 and np.allclose(tr.t, 0.05 * tr.steps)


def test_input_weights_not_modified(task):
    W0 = sim.init_small_random([5, 6, 4], 0.3, seed=1)
    copy = [w.copy() for w in W0]
    sim.train(W0, task, eta=0.05, n_steps=10)
    assert all(np.array_equal(a, b) for a, b in zip(W0, copy))


def test_decoupled_init_starts_at_u0_and_stays_diagonal(task):
    W0 = sim.init_decoupled(task, [5, 6, 6, 4], 0.2, seed=2)
    tr = sim.train(W0, task, eta=0.01, n_steps=200, record_every=50)
    u = tr.mode_strengths(task)
    np.testing.assert_allclose(u[0], 0.2**3, rtol=1e-12)
    M = np.einsum("oa,koi,ib->kab", task.U[:, :3], tr.W_tot, task.V[:, :3])
    off = M - np.einsum("kaa->ka", M)[:, :, None] * np.eye(3)
    assert np.abs(off).max() < 1e-13


@pytest.mark.parametrize("widths", [[5, 3, 4], [5, 4, 6, 4]])
def test_balanced_init_is_balanced_with_given_spectrum(widths):
    W = sim.init_balanced(widths, [1.0, 0.5, 0.1], seed=3)
    assert sim.balancedness(W) < 1e-13
    W_tot = np.linalg.multi_dot(W[::-1])
    np.testing.assert_allclose(np.linalg.svd(W_tot, compute_uv=False)[:3], [1.0, 0.5, 0.1], rtol=1e-12)


def test_orthogonal_init_and_products():
    W = sim.init_orthogonal([6, 6, 6], seed=4)
    assert all(np.allclose(w @ w.T, np.eye(6), atol=1e-14) for w in W)
    assert np.abs(sim.orthogonal_product_singular_values(32, 5, seed=5) - 1).max() < 1e-13


def test_crossing_steps_and_early_stop(task):
    W0 = sim.init_decoupled(task, [5, 6, 4], 0.05, seed=2)
    tr = sim.train(W0, task, eta=0.01, n_steps=10_000, record_every=100, targets=task.s / 2, stop_when_crossed=True)
    c = tr.crossing_step
    assert np.all(c > 0) and np.all(np.diff(c) > 0) and tr.steps[-1] == c.max()
    u = sim.train(W0, task, eta=0.01, n_steps=int(c[0]), record_every=1).mode_strengths(task)
    assert u[-1, 0] >= task.s[0] / 2 > u[-2, 0]


def test_gaussian_product_moments_match_the_svd_reference():
    sq = sim.gaussian_product_sq_singular_values(12, 3, 4, seed=3)
    moments = sim.gaussian_product_moments(12, 3, 4, (1, 2, 3, 5), seed=3)
    np.testing.assert_allclose(moments, np.stack([(sq**m).mean(axis=1) for m in (1, 2, 3, 5)], axis=1), rtol=1e-12)


def _exact_second_moment(N: int, L: int) -> float:
    """E (1/N) tr((P^T P)^2) for P = W_L ... W_1, N(0, 1/N) entries, at finite N (Wick). With B = P P^T before a
    layer W: E tr((W^T W B)^2) = (1 + 1/N) tr(B^2) + (tr B)^2 / N and E (tr W^T W B)^2 = (tr B)^2 + 2 tr(B^2) / N."""
    z, y = float(N), float(N) ** 2  # E tr(B^2), E (tr B)^2 at B = I
    for _ in range(L):
        z, y = (1 + 1 / N) * z + y / N, y + 2 * z / N
    return z / N


def test_exact_second_moment_tends_to_fuss_catalan():
    assert _exact_second_moment(5, 1) == pytest.approx(2 + 1 / 5, rel=1e-14)
    assert [round(_exact_second_moment(10**7, L), 4) for L in (1, 2, 4)] == [2.0, 3.0, 5.0]


@pytest.mark.parametrize("N, L", [(8, 1), (8, 3), (32, 2)])
def test_gaussian_product_moments_at_finite_width(N, L):
    """E (1/N) tr(P^T P) = 1 at every N (the 1/N normalisation), and the second moment is the exact finite-N value.
    z-test at 4.4 SE (alpha ~ 1e-5 per moment)."""
    m = sim.gaussian_product_moments(N, L, 2000, (1, 2), seed=11)
    se = m.std(axis=0, ddof=1) / np.sqrt(m.shape[0])
    assert abs(m[:, 0].mean() - 1.0) < 4.4 * se[0]
    assert abs(m[:, 1].mean() - _exact_second_moment(N, L)) < 4.4 * se[1]


def test_seeds_reproduce():
    a = sim.gaussian_product_sq_singular_values(8, 2, 3, seed=7)
    b = sim.gaussian_product_sq_singular_values(8, 2, 3, seed=np.random.SeedSequence(7))
    assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="seed"):
        sim.make_task([1.0], 2, 2, seed=-1)


def test_divergence_raises_with_eta_and_step(task):
    W0 = sim.init_small_random([5, 6, 4], 0.3, seed=1)
    with pytest.raises(FloatingPointError, match=r"diverged at step \d+ with eta=3.0"):
        sim.train(W0, task, eta=3.0, n_steps=10_000)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(eta=0.0), "eta"),
        (dict(eta=np.nan), "eta"),
        (dict(n_steps=-1), "n_steps"),
        (dict(record_every=0), "record_every"),
        (dict(targets=[1.0]), "targets"),
    ],
)
def test_train_rejects_bad_arguments(task, kwargs, match):
    W0 = sim.init_small_random([5, 6, 4], 0.1, seed=1)
    args = dict(eta=0.01, n_steps=10) | kwargs
    with pytest.raises(ValueError, match=match):
        sim.train(W0, task, **args)


def test_bad_shapes_and_parameters(task):
    with pytest.raises(ValueError, match="weights"):
        sim.train([np.zeros((3, 5)), np.zeros((4, 2))], task, eta=0.1, n_steps=1)
    with pytest.raises(ValueError, match="task needs"):
        sim.train([np.zeros((3, 2)), np.zeros((4, 3))], task, eta=0.1, n_steps=1)
    with pytest.raises(ValueError, match="s must"):
        sim.make_task([1.0, -1.0], 3, 3, seed=0)
    with pytest.raises(ValueError, match="len"):
        sim.make_task([1.0, 1.0, 1.0], 2, 3, seed=0)
    with pytest.raises(ValueError, match="hidden widths"):
        sim.init_decoupled(task, [5, 2, 4], 0.1, seed=0)
    with pytest.raises(ValueError, match="a0"):
        sim.init_decoupled(task, [5, 6, 4], -0.1, seed=0)
    with pytest.raises(ValueError, match="widths"):
        sim.init_small_random([5, 4], 0.1, seed=0)
    with pytest.raises(ValueError, match="sigma0"):
        sim.init_small_random([5, 6, 4], 0.0, seed=0)
    with pytest.raises(ValueError, match="N must"):
        sim.gaussian_product_sq_singular_values(0, 1, 1, seed=0)
    with pytest.raises(ValueError, match="L must"):
        sim.gaussian_product_moments(4, 0, 1, seed=0)
    with pytest.raises(ValueError, match="orders"):
        sim.gaussian_product_moments(4, 1, 1, (0, 2), seed=0)


def _run_args(**kw):
    task = sim.make_task([1.0], 2, 2, seed=0)
    return dict(weights=sim.init_small_random([2, 3, 2], 0.1, seed=1), task=task, eta=0.1, n_steps=3) | kw


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sim.random_orthogonal(2.0, seed=0), "n must be an integer"),
        (lambda: sim.random_orthogonal(10**300, seed=0), "n must be an integer"),
        (lambda: sim.make_task([1.0], True, 2, seed=0), "n_in"),
        (lambda: sim.make_task([1.0], 2, 2, seed=None), "seed"),
        (lambda: sim.make_task([1.0], 2, 2, seed=0, S11=[[1, 2], [2, 1]]), "S11"),
        (lambda: sim.init_small_random([2, 3.5, 2], 0.1, seed=0), "widths"),
        (lambda: sim.init_small_random("232", 0.1, seed=0), "widths"),
        (lambda: sim.init_orthogonal([2, 3, 2], "1", seed=0), "scale"),
        (lambda: sim.init_decoupled(None, [2, 3, 2], 0.1, seed=0), "task"),
        (lambda: sim.train(**_run_args(n_steps=1e300)), "n_steps"),
        (lambda: sim.train(**_run_args(n_steps=10**300)), "n_steps"),
        (lambda: sim.train(**_run_args(eta=None)), "eta"),
        (lambda: sim.train(**_run_args(weights=1.0)), "weights"),
        (lambda: sim.train(**_run_args(stop_when_crossed="no")), "stop_when_crossed"),
        (lambda: sim.train(**_run_args(targets="abc")), "targets"),
        (lambda: sim.train_reference(**_run_args(record_every=0)), "record_every"),
        (lambda: sim.balancedness([np.eye(2)]), "weights"),
        (lambda: sim.gaussian_product_sq_singular_values(4, 2.0, 3, seed=0), "L must be"),
        (lambda: sim.gaussian_product_moments(4, 2, 3, orders="12", seed=0), "orders"),
        (lambda: sim.orthogonal_product_singular_values(4, np.inf, seed=0), "L must be"),
    ],
)
def test_invalid_input_is_refused_naming_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_reference_gd_divergence_names_the_step():
    with pytest.raises(FloatingPointError, match="step"):
        sim.train_reference(**_run_args(eta=1e60, n_steps=50))


# ----------------------------------------------------------------------------- learning times of deep networks


@pytest.mark.parametrize("level", [0.15, 0.3, 0.5, 1.234, 2.9])
def test_crossing_time_is_exact_for_cubics(level):
    t = np.linspace(0.0, 3.0, 13)
    u = 0.1 + t + 0.2 * t**2 - 0.03 * t**3  # increasing on [0, 3]
    r = np.roots([-0.03, 0.2, 1.0, 0.1 - level])
    want = float(r[(abs(r.imag) < 1e-12) & (r.real >= 0) & (r.real <= 3)].real.min())
    assert sim.crossing_time(t, u, level) == pytest.approx(want, abs=1e-12)


def test_crossing_time_edges_and_bad_input():
    t = np.arange(6.0)
    assert sim.crossing_time(t, t, -1.0) == 0.0  # already above at the start
    for args, match in [
        ((t, t, 7.0), "never reaches"),
        ((np.array([0.0, 1.0, 3.0, 4.0]), np.arange(4.0), 2.0), "equally spaced"),
        ((t[:3], t[:3], 1.0), "t must"),
        ((t, t[:5], 1.0), "u must"),
        ((t, t, None), "level"),
    ]:
        with pytest.raises(ValueError, match=match):
            sim.crossing_time(*args)


def test_orthogonal_layers_product_and_law():
    P = np.array([sim.random_orthogonal(5, seed=k) for k in range(3)])
    layers = sim.orthogonal_layers(5, 4, 3, seed=1, product=P)
    assert layers.shape == (3, 4, 5, 5)
    eye = np.broadcast_to(np.eye(5), (3, 4, 5, 5))
    np.testing.assert_allclose(layers @ np.swapaxes(layers, -1, -2), eye, atol=1e-12)
    prod = layers[:, 3] @ layers[:, 2] @ layers[:, 1] @ layers[:, 0]
    np.testing.assert_allclose(prod, P, atol=1e-12)
    free = sim.orthogonal_layers(5, 4, 3, seed=1)
    np.testing.assert_array_equal(free[:, :3], layers[:, :3])  # the same draws; only the last layer is tied


def test_gaussian_layers_variance_one_over_n():
    G = sim.gaussian_layers(6, 3, 400, seed=2)
    assert G.shape == (400, 3, 6, 6)
    assert abs(G.var() * 6 - 1) < 0.03  # 43200 entries: SE of the variance ~ 0.7 %


def _steps_reference(layers, s, eta, level, max_steps):
    """Plain numpy GD on 1/2 ||s e1 e1^T - W_tot||^2; integer step of the first u >= level and the u record."""
    Ws = [w.copy() for w in layers]
    N, us = Ws[0].shape[0], []
    for step in range(max_steps + 1):
        pre = [np.eye(N)]
        for W in Ws:
            pre.append(W @ pre[-1])
        us.append(pre[-1][0, 0])
        if us[-1] >= level:
            return step, np.array(us)
        G = -pre[-1]
        G[0, 0] += s
        suf, new = np.eye(N), [None] * len(Ws)
        for l in range(len(Ws) - 1, -1, -1):
            new[l] = Ws[l] + eta * suf.T @ G @ pre[l].T
            suf = suf @ Ws[l]
        Ws = new
    raise AssertionError("reference did not cross")


@pytest.mark.parametrize("init", ["orthogonal", "gaussian"])
def test_steps_to_learn_matches_numpy_reference(init):
    make = sim.orthogonal_layers if init == "orthogonal" else sim.gaussian_layers
    layers = make(4, 3, 3, seed=5)
    got = sim.steps_to_learn(layers, 1.0, eta=0.05, fraction=0.8, max_steps=5000)
    for k in range(3):
        step, us = _steps_reference(list(layers[k]), 1.0, 0.05, 0.8, 5000)
        assert step - 1 < got[k] <= step
        if step >= 3:  # the cubic through the last four records
            want = sim.crossing_time(np.arange(4.0), us[step - 3 : step + 1], 0.8) + step - 3
            assert got[k] == pytest.approx(want, abs=1e-9)


def test_steps_to_learn_failures():
    layers = sim.orthogonal_layers(3, 2, 2, seed=0)
    with pytest.raises(RuntimeError, match="max_steps"):
        sim.steps_to_learn(layers, 1.0, eta=1e-4, fraction=0.9, max_steps=3)
    with pytest.raises(FloatingPointError, match="step"):
        sim.steps_to_learn(layers, 1.0, eta=1e3, fraction=0.9, max_steps=100)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sim.steps_to_learn(np.ones((2, 2, 3, 4)), 1.0, eta=0.1, fraction=0.5, max_steps=10), "square"),
        (lambda: sim.steps_to_learn(np.ones((2, 3, 3)), 1.0, eta=0.1, fraction=0.5, max_steps=10), "layers"),
        (lambda: sim.steps_to_learn(np.ones((1, 1, 2, 2)), 1.0, eta=0.1, fraction=1.0, max_steps=10), "fraction"),
        (lambda: sim.steps_to_learn(np.ones((1, 1, 2, 2)), -1.0, eta=0.1, fraction=0.5, max_steps=10), "s must"),
        (lambda: sim.steps_to_learn(np.ones((1, 1, 2, 2)), 1.0, eta=True, fraction=0.5, max_steps=10), "eta"),
        (lambda: sim.steps_to_learn(np.ones((1, 1, 2, 2)), 1.0, eta=0.1, fraction=0.5, max_steps=0), "max_steps"),
        (lambda: sim.orthogonal_layers(3, 0, 2, seed=0), "D must"),
        (lambda: sim.orthogonal_layers(3, 2, 2, seed=None), "seed"),
        (lambda: sim.orthogonal_layers(3, 2, 2, seed=0, product=2 * np.ones((2, 3, 3))), "orthogonal"),
        (lambda: sim.orthogonal_layers(3, 2, 2, seed=0, product=np.ones((1, 3, 3))), "product"),
        (lambda: sim.gaussian_layers(2.5, 2, 2, seed=0), "N must"),
        (lambda: sim.gaussian_layers(3, 2, 0, seed=0), "n_nets"),
    ],
)
def test_learning_time_helpers_refuse_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
