"""Unit tests of dltheory.simulators.grokking: exact GD vs a plain iteration, bad input, divergence."""

import numpy as np
import pytest

from dltheory.simulators import grokking as sim


def _plain_gd(lam, lr, eps, d_in, n_steps, n_test, gamma, seed, k=1):
    """Iterate D_{t+1} = D_t - 2 lr Sigma D_t - lr gamma (D_t + T) in the original basis for k teachers (columns),
    same draws; losses and accuracies averaged over the teachers."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    n_tr = int(round(d_in / lam))
    X, X_test = rng.standard_normal((n_tr, d_in)), rng.standard_normal((n_test, d_in))
    T = rng.standard_normal((d_in, k)) / np.sqrt(2.0 * d_in)
    S0 = rng.standard_normal((d_in, k)) / np.sqrt(2.0 * d_in)
    Sigma, D = X.T @ X / n_tr, S0 - T
    out = []
    for _ in range(n_steps + 1):
        out.append(
            (
                np.trace(D.T @ Sigma @ D) / k,
                np.sum(D * D) / k,
                np.mean((X @ D) ** 2 < eps),
                np.mean((X_test @ D) ** 2 < eps),
            )
        )
        D = D - 2 * lr * Sigma @ D - lr * gamma * (D + T)
    return np.array(out).T


@pytest.mark.parametrize("gamma", [0.0, 0.02])
def test_eigenbasis_gd_matches_plain_gd(gamma):
    run = sim.linear_teacher_student(0.5, 0.05, 1e-3, d_in=20, n_steps=60, n_test=50, weight_decay=gamma, seed=3)
    ref = _plain_gd(0.5, 0.05, 1e-3, 20, 60, 50, gamma, 3)
    np.testing.assert_allclose(run.train_loss[0], ref[0], rtol=1e-10)
    np.testing.assert_allclose(run.gen_loss[0], ref[1], rtol=1e-10)
    np.testing.assert_array_equal(run.train_acc[0], ref[2])
    np.testing.assert_array_equal(run.test_acc[0], ref[3])


def test_many_teachers_match_plain_gd():
    """n_teachers = 3: the average over three teachers and student inits sharing one training set."""
    run = sim.linear_teacher_student(
        0.4, 0.05, 1e-3, d_in=15, n_steps=50, n_test=40, weight_decay=0.01, accuracy_every=10, n_teachers=3, seed=7
    )
    ref = _plain_gd(0.4, 0.05, 1e-3, 15, 50, 40, 0.01, 7, k=3)
    np.testing.assert_allclose(run.train_loss[0], ref[0], rtol=1e-10)
    np.testing.assert_allclose(run.gen_loss[0], ref[1], rtol=1e-10)
    np.testing.assert_array_equal(run.test_acc[0], ref[3][::10])


def test_crossing_time_interpolates_geometric_decay():
    """A loss decaying geometrically crosses a level at exactly log(level) / log(rate): log-linear interpolation
    between steps is exact for it; 0 when already below, -1 when never."""
    steps = np.arange(40)
    curves = np.stack([0.8**steps, 0.5**steps, np.full(40, 1e-9), np.ones(40)])
    run = sim.TwoLayerRun(train_loss=curves, gen_loss=curves)
    got = run.crossing_time("gen_loss", 1e-3)
    np.testing.assert_allclose(got[:2], np.log(1e-3) / np.log([0.8, 0.5]), rtol=1e-12)
    assert got[2] == 0.0 and got[3] == -1.0


def _plain_two_layer(lam, lr, d_in, d_h, d_out, n_steps, seed):
    """GD on the parameters S0, S1 themselves (same draws), loss Tr[D^T Sigma D] / d_out ([LBB23] eq. 38)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    n_tr = int(round(d_in / lam))
    X = rng.standard_normal((n_tr, d_in))
    S0, T0 = rng.standard_normal((2, d_in, d_h)) / np.sqrt(2.0 * d_in * d_h)
    S1, T1 = rng.standard_normal((2, d_h, d_out)) / np.sqrt(2.0 * d_out * d_h)
    Sigma, T, out = X.T @ X / n_tr, T0 @ T1, []
    for _ in range(n_steps + 1):
        D = S0 @ S1 - T
        out.append((np.trace(D.T @ Sigma @ D) / d_out, np.sum(D**2) / d_out))
        G = Sigma @ D
        S0, S1 = S0 - (2 * lr / d_out) * G @ S1.T, S1 - (2 * lr / d_out) * S0.T @ G
    return np.array(out).T


def test_two_layer_gram_recursion_is_exact_gd():
    run = sim.two_layer_teacher_student(0.5, 3.0, d_in=12, d_h=30, d_out=3, n_steps=80, n_seeds=1, seed=5)
    ref = _plain_two_layer(0.5, 3.0, 12, 30, 3, 80, 5)
    np.testing.assert_allclose(run.train_loss[0], ref[0], rtol=1e-11)
    np.testing.assert_allclose(run.gen_loss[0], ref[1], rtol=1e-11)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(lam=1.0), "lam"),
        (dict(lr=0.0), "lr"),
        (dict(d_h=0), "d_h"),
        (dict(d_out=1.5), "d_out"),
        (dict(seed=-1), "seed"),
    ],
)
def test_two_layer_bad_input(kwargs, name):
    args = dict(lam=0.5, lr=0.1, d_in=10, d_h=20, d_out=2, n_steps=5, seed=0) | kwargs
    with pytest.raises(ValueError, match=name):
        sim.two_layer_teacher_student(args.pop("lam"), args.pop("lr"), **args)


def test_two_layer_diverging_run_raises():
    with pytest.raises(FloatingPointError, match="diverged at step"):
        sim.two_layer_teacher_student(0.5, 500.0, d_in=10, d_h=20, d_out=2, n_steps=200, seed=0)


def test_accuracy_every_and_first_step():
    run = sim.linear_teacher_student(
        0.3, 0.05, 1e-3, d_in=30, n_steps=400, n_seeds=2, n_test=200, accuracy_every=4, seed=1
    )
    assert run.train_acc.shape == (2, 101) and np.array_equal(run.acc_steps, np.arange(0, 401, 4))
    first = run.first_step("gen_loss", 2.5e-4, below=True)
    assert np.all(first > 0) and np.all(run.gen_loss[np.arange(2), first] <= 2.5e-4)
    assert np.all(run.gen_loss[np.arange(2), first - 1] > 2.5e-4)
    assert np.all(run.first_step("test_acc", 0.9545, below=False) % 4 == 0)
    none = sim.linear_teacher_student(0.3, 0.05, 1e-3, d_in=30, n_steps=10, accuracy_every=None, seed=1)
    assert none.train_acc.shape == (1, 0) and none.acc_steps.size == 0


def test_diverging_run_raises():
    with pytest.raises(FloatingPointError, match="diverged at step"):
        sim.linear_teacher_student(0.5, 1.5, 1e-3, d_in=20, n_steps=200, seed=0)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(lam=1.2), "lam"),
        (dict(lr=-1.0), "lr"),
        (dict(eps=0.0), "eps"),
        (dict(weight_decay=-0.1), "weight_decay"),
        (dict(d_in=1), "d_in"),
        (dict(accuracy_every=3), "accuracy_every"),
        (dict(n_teachers=0), "n_teachers"),
    ],
)
def test_bad_input(kwargs, name):
    args = dict(lam=0.5, lr=0.01, eps=1e-3, d_in=20, n_steps=10, seed=0) | kwargs
    with pytest.raises(ValueError, match=name):
        sim.linear_teacher_student(args.pop("lam"), args.pop("lr"), args.pop("eps"), **args)


# ----------------------------------------------------------------------------- modular-addition MLP


@pytest.fixture(scope="module")
def mlp_run():
    return sim.train_modular_addition(
        11, 16, 0.5, lr=1e-2, weight_decay=0.1, n_steps=40, record_every=20, n_seeds=2, seed=4
    )


def test_mlp_records_match_numpy_on_final_weights(mlp_run):
    from dltheory.theory import grokking as th

    r, p = mlp_run, 11
    for s in range(2):
        U, V, W = r.U[s], r.V[s], r.W[s]
        h = (U.T[:, None, :] + V.T[None, :, :]) / np.sqrt(2 * p)
        f = (h**2) @ W.T / U.shape[0]
        y = (np.arange(p)[:, None] + np.arange(p)[None, :]) % p
        err = ((f - np.eye(p)[y]) ** 2).sum(-1)
        m = r.train_mask[s]
        assert m.sum() == round(0.5 * p * p)
        np.testing.assert_allclose(r.train_loss[s, -1], err[m].mean(), rtol=1e-4)
        np.testing.assert_allclose(r.test_loss[s, -1], err[~m].mean(), rtol=1e-4)
        np.testing.assert_allclose(r.test_acc[s, -1], (f.argmax(-1) == y)[~m].mean(), atol=1e-6)
        np.testing.assert_allclose(r.ipr[s, -1], th.inverse_participation_ratio(U).mean(), rtol=1e-4)
        np.testing.assert_allclose(r.top_share[s, -1], np.median(th.dominant_frequency(U)[1]), rtol=1e-4)
        np.testing.assert_allclose(
            r.phase_residual[s, -1], np.median(th.phase_constraint_residual(U, V, W)), rtol=1e-3, atol=1e-5
        )
        np.testing.assert_allclose(r.weight_norm[s, -1], (U**2).sum() + (V**2).sum() + (W**2).sum(), rtol=1e-5)
    assert not np.array_equal(r.train_mask[0], r.train_mask[1])


def test_mlp_reproducible_and_steps(mlp_run):
    again = sim.train_modular_addition(
        11, 16, 0.5, lr=1e-2, weight_decay=0.1, n_steps=40, record_every=20, n_seeds=2, seed=4
    )
    np.testing.assert_array_equal(again.train_loss, mlp_run.train_loss)
    assert np.array_equal(mlp_run.steps, [0, 20, 40]) and mlp_run.train_acc.shape == (2, 3)


def test_mlp_gd_learns_training_set():
    r = sim.train_modular_addition(11, 32, 0.9, lr=100.0, n_steps=1500, record_every=500, optimizer="gd", seed=0)
    assert r.train_loss[0, -1] < 0.5 * r.train_loss[0, 0] and r.train_acc[0, -1] > 0.9


def test_mlp_diverging_run_raises():
    with pytest.raises(FloatingPointError, match="diverged by step"):
        sim.train_modular_addition(11, 16, 0.5, lr=1e6, n_steps=200, record_every=100, optimizer="gd", seed=0)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(p=9), "p must be a prime"),
        (dict(p=3), "p must be a prime"),
        (dict(fraction=0.0), "fraction"),
        (dict(fraction=1.5), "fraction"),
        (dict(lr=-1.0), "lr"),
        (dict(weight_decay=-0.1), "weight_decay"),
        (dict(activation="tanh"), "activation"),
        (dict(optimizer="sgd"), "optimizer"),
        (dict(record_every=7), "record_every"),
        (dict(optimizer="gd", weight_decay=0.1), "weight_decay"),
    ],
)
def test_mlp_bad_input(kwargs, name):
    args = dict(p=11, width=8, fraction=0.5, lr=1e-2, n_steps=20, record_every=10, seed=0) | kwargs
    with pytest.raises(ValueError, match=name):
        sim.train_modular_addition(args.pop("p"), args.pop("width"), args.pop("fraction"), **args)


def test_classify_phase():
    codes = sim.classify_phase([-1, 100, 100, 100], [-1, -1, 250, 150])
    assert codes.tolist() == [0, 1, 2, 3] and sim.PHASES[2] == "grokking"


def test_phase_diagram_independent_of_executor():
    import concurrent.futures as cf

    kw = dict(p=11, width=8, lr=1e-2, n_steps=20, record_every=10, n_seeds=1, seed=3)
    inline = sim.phase_diagram([0.3, 0.6], [0.0, 0.1], executor="inline", **kw)
    with cf.ThreadPoolExecutor(2) as pool:
        threaded = sim.phase_diagram([0.3, 0.6], [0.0, 0.1], executor=pool, **kw)
    assert [c["fraction"] for c in inline] == [0.3, 0.3, 0.6, 0.6]
    for a, b in zip(inline, threaded):
        np.testing.assert_array_equal(a["final_test_acc"], b["final_test_acc"])
    with pytest.raises(ValueError, match="fraction"):
        sim.phase_diagram([0.0], [0.1], executor="inline", **kw)


def test_mlp_relu_forward_matches_numpy():
    r = sim.train_modular_addition(11, 8, 0.5, lr=1e-2, n_steps=10, record_every=10, activation="relu", seed=2)
    p, U, V, W = 11, r.U[0], r.V[0], r.W[0]
    f = np.maximum((U.T[:, None, :] + V.T[None, :, :]) / np.sqrt(2 * p), 0) @ W.T / U.shape[0]
    y = (np.arange(p)[:, None] + np.arange(p)[None, :]) % p
    err = ((f - np.eye(p)[y]) ** 2).sum(-1)
    np.testing.assert_allclose(r.train_loss[0, -1], err[r.train_mask[0]].mean(), rtol=1e-4)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sim.linear_teacher_student("0.5", 0.1, 0.01, d_in=4, n_steps=3, seed=0), "lam"),
        (lambda: sim.linear_teacher_student(0.5, 0.1, 0.01, d_in=4, n_steps=10**300, seed=0), "n_steps"),
        (lambda: sim.linear_teacher_student(1e-300, 0.1, 0.01, d_in=4, n_steps=3, seed=0), "N_tr"),
        (lambda: sim.two_layer_teacher_student(0.5, None, d_in=4, d_h=2, d_out=1, n_steps=3, seed=0), "lr"),
        (lambda: sim.classify_phase([1, 2], [3]), "t_test"),
        (lambda: sim.classify_phase([1], [3], lag_ratio=np.nan), "lag_ratio"),
        (lambda: sim.modular_addition_trainer_spec(5, 4, "0.5", 0.1, 0.0, 2, 1, "quadratic", "gd"), "fraction"),
        (lambda: sim.modular_addition_trainer_spec(5, 4, 0.5, 0.1, 0.0, 2, 1, None, "gd"), "activation"),
        (
            lambda: sim.train_modular_addition(5, 4, 0.5, lr=0.1, n_steps=2, record_every=1, betas=(0.9,), seed=0),
            "betas",
        ),
        (
            lambda: sim.phase_diagram(
                [0.5], [0.1], p=5, width=4, lr=0.1, n_steps=2, record_every=1, n_seeds=1, seed=0, executor=1.0
            ),
            "executor",
        ),
    ],
)
def test_invalid_input_is_refused_naming_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()
