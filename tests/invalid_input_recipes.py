"""One valid call per public function of dltheory.theory and dltheory.simulators, with each parameter's domain
(syntax: tests/invalid_input_harness.py). Keys are the defining module (without "dltheory.") and the function name.
Sizes are tiny: every valid call must run in milliseconds. A new public function needs an entry here (the test
fails until it has one)."""

from __future__ import annotations

import numpy as np
from invalid_input_harness import P_ as P
from invalid_input_harness import Lazy

A2 = np.array([[1.0, 0.5], [0.2, 0.8]])
K2 = np.array([[1.0, 0.3], [0.3, 0.8]])
K3 = np.array([[1.0, 0.3, 0.1], [0.3, 0.9, 0.2], [0.1, 0.2, 0.8]])
X23 = np.array([[1.0, 0.0, 0.5], [0.2, 1.0, -0.3]])
T2 = np.array([0.0, 0.5])
ACT = P("tanh", "choice")
RELU = P("relu", "choice")


def _act(name):
    from dltheory.theory import spec

    return Lazy(lambda: spec.get_activation(name), cache=True)


def _modsol():
    from dltheory.theory import grokking_modular as gm

    return gm.modular_addition_solution(5, 4, seed=0)


MOD = Lazy(_modsol, cache=True)
U5 = Lazy(lambda: MOD.get()[0], cache=True)
V5 = Lazy(lambda: MOD.get()[1], cache=True)
W5 = Lazy(lambda: MOD.get()[2], cache=True)


def _logits():
    from dltheory.theory import grokking_modular as gm

    return gm.modular_addition_logits(*MOD.get())


LOGITS = Lazy(_logits, cache=True)
MASK5 = np.eye(5, dtype=bool) | np.eye(5, k=1, dtype=bool)


def _abc():
    from dltheory.theory import mup

    return mup.parametrization("muP", 2)


ABC = P(Lazy(_abc, cache=True), "obj")

# neural collapse: N = 6 features in d = 3, K = 3 classes
H63 = np.array([[1.0, 0.1, 0.0], [0.9, 0.0, 0.1], [0.0, 1.0, 0.1], [0.1, 0.9, 0.0], [0.0, 0.1, 1.0], [0.1, 0.0, 0.9]])
Y6 = np.array([0, 0, 1, 1, 2, 2])
W33 = np.eye(3)
B3 = np.zeros(3)
COUNTS = np.array([2, 2, 2])

THEORY = {
    # deep_linear
    "theory.deep_linear.mode_strength": dict(t=P(0.5, ">=0"), s=2.0, u0=0.1, depth=P(3, "Z>=1"), tau=1.0),
    "theory.deep_linear.learning_time": dict(s=2.0, u0=0.1, uf=1.0, depth=P(2, "Z>=1"), tau=1.0),
    "theory.deep_linear.learning_time_deep_limit": dict(s=2.0, u0=0.1, uf=1.0, n_layers=P(3, "Z>=3"), tau=1.0),
    "theory.deep_linear.mode_strength_expr": {},
    "theory.deep_linear.learning_time_expr": {},
    "theory.deep_linear.balanced_riccati_solution": dict(
        S31=P(A2, "array"),
        W1_0=P(0.1 * np.eye(2), "array"),
        W2_0=P(0.1 * np.eye(2), "array"),
        t=P(
            T2, "array>=0", ok={"empty": "t may have any shape (empty: empty result)", "ndim+1": "t may have any shape"}
        ),
        tau=1.0,
    ),
    "theory.deep_linear.end_to_end_velocity": dict(
        W_e=P(A2, "array"), grad=P(K2, "array"), N=P(2, "Z>=1"), weight_decay=P(0.0, ">=0")
    ),
    "theory.deep_linear.end_to_end_trajectory": dict(
        W_e0=P(0.1 * A2, "array"),
        grad_fn=lambda W: W - A2,
        t=P(
            T2, "array>=0", ok={"empty": "t may have any shape (empty: empty result)", "ndim+1": "t may have any shape"}
        ),
        N=P(2, "Z>=1"),
        weight_decay=P(0.0, ">=0"),
        max_steps=P(1000, "Z[1,1e7]"),
    ),
    "theory.deep_linear.fuss_catalan_moment": dict(L=P(2, "Z>=0"), m=P(3, "Z>=0")),
    # dual_kernels
    "theory.dual_kernels.plan": dict(act=P(_act("relu"), "obj")),
    "theory.dual_kernels.method": dict(activation=RELU),
    "theory.dual_kernels.dual_kernel": dict(activation=RELU, q1=P(1.0, ">=0"), q2=P(0.8, ">=0"), k=P(0.3, "R")),
    "theory.dual_kernels.hermite_coefficients": dict(
        act=P(_act("tanh"), "obj"),
        variances=P(np.array([1.0, 0.5]), "array>=0", ok={"ndim+1": "any shape (raveled)"}),
        tol=P(
            1e-13,
            "[1e-15,1)",
            ok={
                "lo": "documented HermiteDidNotConverge (a FloatingPointError) when the tolerance is below what 2048 nodes certify"
            },
        ),
    ),
    "theory.dual_kernels.bvn_upper": dict(
        h=P(
            0.1,
            "any",
            ok={
                "*": "a scalar numba/JAX primitive of the kernel dialect (compiled into the fused recursion): no Python-level checks"
            },
        ),
        k=P(-0.2, "any"),
        r=P(0.3, "any"),
    ),
    "theory.dual_kernels.arccos_j_terms": dict(n=P(2, "Z>=0")),
    "theory.dual_kernels.jax_pair": dict(
        kind=P(0, "Z>=0"), P=P(np.array([0.0, 1.0]), "array", ok={"empty": "gelu's parameter vector is empty"})
    ),
    "theory.dual_kernels.jax_kernel_map": dict(dual=P(Lazy(lambda: _act("relu").get().dual), "obj")),
    # finite_width
    "theory.finite_width.kernel_recursion": dict(
        K1=P(1.0, ">=0"), depth=P(3, "Z>=1"), C_W=1.0, C_b=P(0.1, ">=0"), activation=ACT
    ),
    "theory.finite_width.sigma_moments": dict(activation=ACT, K=P(1.0, ">=0")),
    "theory.finite_width.chi_parallel": dict(K=P(1.0, ">=0"), C_W=1.0, activation=ACT),
    "theory.finite_width.chi_perp": dict(K=P(1.0, ">=0"), C_W=1.0, activation=ACT),
    "theory.finite_width.criticality": dict(activation=ACT),
    "theory.finite_width.four_point_recursion": dict(
        K1=P(1.0, ">=0"),
        widths=P([4, 4], "widths", ok={"empty": "no hidden layer: layer 1 only"}),
        C_W=1.0,
        C_b=P(0.0, ">=0"),
        activation=ACT,
    ),
    "theory.finite_width.relu_kurtosis_exact": dict(
        widths=P([4, 4], "widths", ok={"empty": "no hidden layer: layer 1 only"})
    ),
    # gaussian
    "theory.gaussian.legendre_panels": dict(lo=P(-1.0, "R"), hi=P(1.0, "R"), cuts=P((0.0,), "reals")),
    "theory.gaussian.standard_normal_rule": dict(scale=1.0, kinks=P((0.5,), "reals")),
    "theory.gaussian.gaussian_expectation": dict(f=np.square, K=P(1.0, ">=0"), kinks=P((), "reals")),
    "theory.gaussian.bivariate_expectation": dict(
        f=np.tanh, g=np.tanh, q11=1.0, q22=0.8, q12=P(0.3, "R"), kinks=P((), "reals")
    ),
    # grokking_linear
    "theory.grokking_linear.mp_edges": dict(lam=P(0.5, "(0,1)")),
    "theory.grokking_linear.mp_expectation": dict(f=np.sqrt, lam=P(0.5, "(0,1)")),
    "theory.grokking_linear.linear_estimator_losses": dict(
        t=P(10.0, ">=0"), lam=P(0.5, "(0,1)"), lr=0.1, weight_decay=P(0.0, ">=0"), discrete=False
    ),
    "theory.grokking_linear.linear_estimator_train_loss_bessel": dict(t=P(10.0, ">=0"), lam=P(0.5, "(0,1)"), lr=0.1),
    "theory.grokking_linear.linear_estimator_crossing_times": dict(
        lam=P(0.5, "(0,1)"), lr=0.1, level=P(0.1, "(0,1]"), weight_decay=P(0.0, ">=0"), discrete=False
    ),
    "theory.grokking_linear.linear_estimator_grokking_times": dict(
        lam=P(0.5, "(0,1)"), lr=0.1, eps=P(0.1, "(0,4]"), weight_decay=P(0.0, ">=0"), discrete=False, d_out=1
    ),
    "theory.grokking_linear.two_layer_learning_rate": dict(lr=0.1, d_out=2),
    "theory.grokking_linear.two_layer_initial_loss": dict(d_h=8, d_out=2),
    "theory.grokking_linear.two_layer_grokking_times": dict(
        lam=P(0.5, "(0,1)"), lr=0.1, eps=P(0.1, "(0,0.25]"), d_out=1, d_h=8, discrete=False
    ),
    "theory.grokking_linear.linear_estimator_delay_asymptote": dict(
        lam=P(0.5, "(0,1)"), lr=0.1, weight_decay=P(0.0, ">=0")
    ),
    "theory.grokking_linear.linear_estimator_loss_floors": dict(lam=P(0.5, "(0,1)"), weight_decay=P(0.01, ">=0")),
    "theory.grokking_linear.linear_estimator_loss_floors_small_gamma": dict(
        lam=P(0.5, "(0,1)"), weight_decay=P(0.01, ">=0")
    ),
    "theory.grokking_linear.linear_estimator_critical_weight_decay": dict(lam=P(0.5, "(0,1)"), eps=P(0.1, "(0,2)")),
    "theory.grokking_linear.accuracy_from_loss": dict(loss=P(0.1, ">=0"), eps=0.1, d_out=1),
    "theory.grokking_linear.loss_at_accuracy": dict(accuracy=P(0.9, "(0,1)"), eps=0.1, d_out=1),
    # grokking_modular
    "theory.grokking_modular.check_prime": dict(p=P(7, "Z>=2", bad=(9,)), minimum=P(5, "Z>=2")),
    "theory.grokking_modular.modular_addition_solution": dict(
        p=P(5, "Z>=5", bad=(9,)), width=P(4, "Z>=1"), seed=P(0, "seed")
    ),
    "theory.grokking_modular.modular_addition_logits": dict(U=P(U5, "array"), V=P(V5, "array"), W=P(W5, "array")),
    "theory.grokking_modular.modular_addition_accuracy": dict(U=P(U5, "array"), V=P(V5, "array"), W=P(W5, "array")),
    "theory.grokking_modular.logits_accuracy": dict(f=P(LOGITS, "array")),
    "theory.grokking_modular.frequency_power": dict(weights=P(U5, "array")),
    "theory.grokking_modular.inverse_participation_ratio": dict(weights=P(U5, "array"), r=P(2, "Z>=1")),
    "theory.grokking_modular.dominant_frequency": dict(weights=P(U5, "array")),
    "theory.grokking_modular.neuron_phases": dict(weights=P(U5, "array"), k=P(np.array([1, 2, 1, 2]), "ints")),
    "theory.grokking_modular.phase_constraint_residual": dict(U=P(U5, "array"), V=P(V5, "array"), W=P(W5, "array")),
    "theory.grokking_modular.restricted_loss": dict(logits=P(LOGITS, "array"), key=P(np.array([1]), "ints")),
    "theory.grokking_modular.excluded_loss": dict(
        logits=P(LOGITS, "array"), key=P(np.array([1]), "ints"), train_mask=P(MASK5, "mask")
    ),
    "theory.grokking_modular.max_margin_quadratic": dict(p=P(5, "Z>=2", bad=(9,))),
    "theory.grokking_modular.representation_nullity": dict(
        train_pairs=P(np.array([[0, 1], [1, 2], [0, 2]]), "ints"), n=P(3, "Z>=1"), modular=True
    ),
    "theory.grokking_modular.liu_uniqueness_probability": dict(
        n=P(4, "Z>=2"), n_train=P(5, "Z>=1"), n_sets=P(5, "Z[1,1e7]"), seed=P(0, "seed")
    ),
    "theory.grokking_modular.liu_critical_fraction": dict(n=P(4, "Z>=2"), n_sets=P(5, "Z[1,1e7]"), seed=P(0, "seed")),
    "theory.grokking_modular.tian_energy": dict(
        w=P(np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]) / np.sqrt(2), "array"), M=P(4, "Z>=2")
    ),
    "theory.grokking_modular.tian_single_frequency": dict(
        M=P(4, "Z>=2"), k=P(1, "Z"), phase=P(0.0, "R"), sign=P(1.0, "R", bad=(0.5, 2.0))
    ),
    "theory.grokking_modular.rubin_modular_phase_boundaries": dict(P=5.0, N=100.0, sigma_a2=1.0, gamma=1.0),
    "theory.grokking_modular.rubin_unlearned_fraction": dict(
        sigma2=P(10.0, ">=0"),
        P=P(5.0, ok={"huge": "documented NaN: sigma2 then lies below sigma_II^2 (GMFL-II), outside the model"}),
        N=P(100.0, ok={"tiny": "documented NaN: sigma2 then lies below sigma_II^2 (GMFL-II), outside the model"}),
        sigma_a2=1.0,
        gamma=1.0,
    ),
    # infinite_width
    "theory.infinite_width.kernels": dict(
        x1=P(X23, "array"),
        x2=P(None, "any", ok={"*": "None means x2 = x1"}),
        depth=P(1, "Z>=0"),
        activation=RELU,
        weight_var=1.0,
        bias_var=P(0.1, ">=0"),
        parameterization="ntk",
        width=1.0,
        train_bias=True,
        backend="numba",
    ),
    "theory.infinite_width.numerical": dict(fn=np.tanh, name=P("tanh_cb", "name")),
    "theory.infinite_width.gaussian_expectations": dict(
        k11=P(1.0, ">=0"), k22=P(0.8, ">=0"), k12=P(0.3, "R"), activation=ACT
    ),
    # kernel_dynamics
    "theory.kernel_dynamics.propagator": dict(
        ntk_train_train=P(K2, "psd"), t=P(T2, "array>=0"), n_outputs=1, eta=P(0.5, ">0?")
    ),
    "theory.kernel_dynamics.mean_prediction": dict(
        ntk=P(K3, "psd"),
        y_train=P(np.array([1.0, -1.0]), "array"),
        t=P(T2, "array>=0"),
        f0=P(np.zeros(3), "array"),
        n_train=P(2, "Z>=1"),
        eta=P(None, ">0?"),
    ),
    "theory.kernel_dynamics.ensemble_prediction": dict(
        nngp=P(K3, "psd"),
        ntk=P(K3, "psd"),
        y_train=P(np.array([1.0, -1.0]), "array", ok={"ndim+1": "(n_train, 1): one output channel"}),
        t=P(T2, "array>=0"),
        n_train=P(2, "Z>=1"),
        eta=P(None, ">0?"),
    ),
    "theory.kernel_dynamics.max_learning_rate": dict(ntk_train_train=P(K2, "psd"), n_outputs=1),
    # kernel_recursion
    "theory.kernel_recursion.nngp_ntk": dict(
        x1=P(X23, "array"),
        x2=P(None, "any", ok={"*": "None means x2 = x1"}),
        depth=P(1, "Z>=0"),
        plan=P(
            Lazy(
                lambda: __import__("dltheory.theory.dual_kernels", fromlist=["plan"]).plan(_act("relu").get()),
                cache=True,
            ),
            "obj",
        ),
        weight_var=1.0,
        bias_var=P(0.1, ">=0"),
        standard=False,
        width=1.0,
        train_bias=True,
        backend="numba",
    ),
    # mup
    "theory.mup.parametrization": dict(name="muP", L=P(2, "Z>=1"), c=P(None, "R?")),
    "theory.mup.r_exponent": dict(p=ABC),
    "theory.mup.first_step_exponent": dict(p=ABC),
    "theory.mup.is_stable": dict(p=ABC),
    "theory.mup.is_nontrivial": dict(p=ABC),
    "theory.mup.is_feature_learning": dict(p=ABC),
    "theory.mup.table": dict(L=P(2, "Z>=1")),
    "theory.mup.unit_multiplier_form": dict(p=ABC),
    # neural_collapse
    "theory.neural_collapse.nc_metrics": dict(
        H=P(H63, "array"), y=P(Y6, "ints"), W=P(W33, "array?"), b=P(B3, "array?"), global_mean="samples"
    ),
    "theory.neural_collapse.nc1_within_class_noise": dict(
        n_per_class=P(COUNTS, "ints", bad=(np.array([0, 2, 2]),)), eps=P(0.1, ">=0"), trace_SigmaB_pinv=P(2.0, ">=0")
    ),
    "theory.neural_collapse.etf_distance": dict(G=P(K3, "array")),
    "theory.neural_collapse.simplex_etf": dict(K=P(3, "Z>=2")),
    "theory.neural_collapse.ufm_optimum": dict(
        n_per_class=P(COUNTS, "ints", bad=(np.array([0, 2, 2]),)),
        lambda_W=0.01,
        lambda_H=0.01,
        loss="ce",
        depth=P(1, "Z>=1"),
        bias=False,
        d=P(3, "Z>=1?"),
    ),
    "theory.neural_collapse.ufm_objective": dict(
        layers=P([W33], "obj"),
        H=P(H63.T.copy(), "array"),
        y=P(Y6, "ints"),
        lambda_W=P(0.01, ">=0"),
        lambda_H=P(0.01, ">=0"),
        b=P(None, "array?"),
        loss="ce",
    ),
    "theory.neural_collapse.deep_ufm_singular_value": dict(
        n_k=2.0, N=6.0, lambda_W=0.01, lambda_H=0.01, depth=P(2, "Z>=1")
    ),
    "theory.neural_collapse.deep_ufm_stationary_points": dict(
        n_k=2.0, N=6.0, lambda_W=0.01, lambda_H=0.01, depth=P(2, "Z>=1")
    ),
    "theory.neural_collapse.deep_ufm_collapse_lambda": dict(n_k=2.0, N=6.0, depth=P(2, "Z>=1")),
    "theory.neural_collapse.orthogonal_frame_nc3": dict(K=P(4, "Z>=2")),
    "theory.neural_collapse.ce_ufm_weight_norm_sq": dict(n=P(2, "Z>=1"), K=P(3, "Z>=2"), lambda_W=0.01, lambda_H=0.01),
    "theory.neural_collapse.mse_ufm_within_class_rate": dict(
        n=P(2, "Z>=1"), K=P(3, "Z>=2"), lambda_W=0.01, lambda_H=0.01
    ),
    "theory.neural_collapse.mse_decomposition": dict(
        H=P(H63, "array"), y=P(Y6, "ints"), W=P(W33, "array"), b=P(B3, "array"), lam=P(0.01, ">=0")
    ),
    "theory.neural_collapse.layer_peeled_balanced": dict(K=P(3, "Z>=2"), E_W=1.0, E_H=P(1.0, ">=0"), d=P(3, "Z>=2?")),
    "theory.neural_collapse.layer_peeled_optimum": dict(
        K_A=P(2, "Z>=1"), K_B=P(2, "Z>=1"), R=P(2.0, ">=1"), E_W=1.0, E_H=1.0, feature_budget="per_class"
    ),
    "theory.neural_collapse.layer_peeled_minority_threshold": dict(
        K_A=P(2, "Z>=1"), K_B=P(2, "Z>=1"), E_W=1.0, E_H=1.0, feature_budget="per_class"
    ),
    # shaped
    "theory.shaped.relu_correlation_sde": dict(c_plus=P(0.5, "R"), c_minus=P(-0.5, "R"), n=P(None, "Z>=1?"), ito=True),
    "theory.shaped.relu_correlation_moments": dict(
        sde=P(
            Lazy(
                lambda: __import__("dltheory.theory.shaped", fromlist=["x"]).relu_correlation_sde(0.5, -0.5), cache=True
            ),
            "obj",
        ),
        rho0=P(np.array([0.2, 0.5]), "array"),
        T=P(0.1, ">=0"),
        powers=P((1, 2), "obj"),
        grid=P(21, "Z[11,1e6]"),
        steps=P(10, "Z[1,1e7]?"),
    ),
    "theory.shaped.relu_nu": dict(rho=P(0.3, "[-1,1]"), c_plus=P(0.5, "R"), c_minus=P(-0.5, "R")),
    "theory.shaped.relu_kappa": dict(c_plus=P(0.5, "R"), c_minus=P(-0.5, "R"), n=P(100, "Z>=1")),
    "theory.shaped.relu_correlation_map": dict(
        rho=P(0.3, "[-1,1]"), c_plus=P(0.5, "R"), c_minus=P(-0.5, "R"), n=P(100, "Z>=1")
    ),
    "theory.shaped.relu_covariance_drift": dict(V=P(K2, "psd"), c_plus=P(0.5, "R"), c_minus=P(-0.5, "R"), check=True),
    "theory.shaped.wishart_diffusion": dict(V=P(K2, "psd")),
    "theory.shaped.smooth_drift": dict(V=P(K2, "psd"), phi2=P(0.1, "R"), phi3=P(-2.0, "R"), a=1.0),
    "theory.shaped.smooth_norm_beta": dict(phi2=P(0.1, "R"), phi3=P(-2.0, "R"), a=1.0),
    "theory.shaped.smooth_norm_blows_up": dict(phi2=P(0.1, "R"), phi3=P(-2.0, "R"), a=1.0),
    "theory.shaped.shaped_log_norm_law": dict(T=P(1.0, ">=0"), V0=1.0),
    "theory.shaped.relu_log_factor_moments": dict(s_plus=1.1, s_minus=0.9, n=P(8, "Z>=1")),
    "theory.shaped.shaped_relu_log_norm_moments": dict(
        c_plus=P(0.5, "R"), c_minus=P(-0.5, "R"), n=P(8, "Z>=1"), depth=P(3, "Z>=1")
    ),
    "theory.shaped.hanin_nica_log_factor_moments": dict(n=P(8, "Z>=1")),
    "theory.shaped.hanin_nica_log_norm_moments": dict(ns=P([4, 8], "widths")),
    "theory.shaped.hanin_nica_moment_ratio": dict(ns=P([4, 8], "widths")),
    "theory.shaped.hanin_nica_log_normal_limit": dict(ns=P([4, 8], "widths")),
    "theory.shaped.attention_drift": dict(V=P(K3, "psd"), gamma=P(0.5, "(0,1]"), tau0=1.0, check=True),
    "theory.shaped.attention_drift_parts": dict(V=P(K3, "psd"), gamma=P(0.5, "(0,1]"), tau0=1.0, check=True),
    "theory.shaped.attention_diffusion": dict(V=P(K3, "psd"), gamma=P(0.5, "(0,1]"), tau0=1.0),
    "theory.shaped.attention_noise_scales": dict(gamma=P(0.5, "(0,1]"), tau0=1.0),
    "theory.shaped.block_drift": dict(
        V=P(K3, "psd"), gamma=P(0.5, "(0,1]"), tau0=1.0, c_plus=P(0.5, "R"), c_minus=P(-0.5, "R"), check=True
    ),
    "theory.shaped.block_diffusion": dict(V=P(K3, "psd"), gamma=P(0.5, "(0,1]"), tau0=1.0),
    "theory.shaped.block_noise_scales": dict(gamma=P(0.5, "(0,1]"), tau0=1.0),
    "theory.shaped.unshaped_attention_collapse_factor": dict(
        V=P(K3, "psd"), lam=P(0.8, "[0,1]"), gamma=P(0.6, "(0,1]"), tau0=1.0, n=P(16, "Z>=1")
    ),
    "theory.shaped.uniform_attention_difference_energy": dict(V0=P(K3, "psd"), lam=P(0.8, "[0,1]"), depth=P(3, "Z>=0")),
    # signal_propagation
    "theory.signal_propagation.q_map": dict(q=P(1.0, ">=0"), sigma_w2=1.5, sigma_b2=P(0.05, ">=0"), activation=ACT),
    "theory.signal_propagation.q_fixed_point": dict(
        sigma_w2=1.5, sigma_b2=P(0.05, ">=0"), activation=ACT, q0=P(1.0, ">=0")
    ),
    "theory.signal_propagation.kernel_iterates": dict(
        q11=P(1.0, ">=0"),
        q22=P(0.8, ">=0"),
        q12=P(0.3, "R"),
        depth=P(3, "Z>=1"),
        sigma_w2=1.5,
        sigma_b2=P(0.05, ">=0"),
        activation=ACT,
    ),
    "theory.signal_propagation.c_map": dict(
        c=P(0.3, "[-1,1]"), q_star=1.0, sigma_w2=1.5, sigma_b2=P(0.05, ">=0"), activation=ACT
    ),
    "theory.signal_propagation.c_fixed_point": dict(q_star=1.0, sigma_w2=1.5, sigma_b2=P(0.05, ">=0"), activation=ACT),
    "theory.signal_propagation.chi_1": dict(sigma_w2=1.5, sigma_b2=P(0.05, ">=0"), activation=ACT),
    "theory.signal_propagation.depth_scales": dict(sigma_w2=1.5, sigma_b2=P(0.05, ">=0"), activation=ACT),
    "theory.signal_propagation.edge_of_chaos": dict(
        sigma_b2=P(
            0.05,
            ">=0",
            ok={"tiny": "critical slowing of the q-map as q* -> 0: a correct ValueError, after ~3 s of CPU"},
        ),
        activation=ACT,
    ),
    "theory.signal_propagation.relu_c_map": dict(c=P(0.3, "[-1,1]")),
    "theory.signal_propagation.relu_critical_correlation": dict(c0=P(0.3, "[-1,1]"), depth=P(3, "Z>=1")),
    "theory.signal_propagation.selu_parameters": {},
    # spec
    "theory.spec.get_activation": dict(activation=RELU),
    "theory.spec.ab_relu": dict(a=P(0.1, "R"), b=P(1.0, "R")),
    "theory.spec.leaky_relu": dict(alpha=P(0.1, "R")),
    "theory.spec.selu": dict(lam=1.05, alpha=P(1.67, ">=0")),
    "theory.spec.elu": dict(alpha=P(1.0, "R")),
    "theory.spec.swish": dict(beta=P(1.0, "R")),
    "theory.spec.scaled_erf": dict(a=P(1.0, "R"), b=P(1.0, "R"), c=P(0.0, "R")),
    "theory.spec.sin": dict(a=P(1.0, "R"), b=P(1.0, "R"), c=P(0.0, "R")),
    "theory.spec.cos": dict(a=P(1.0, "R"), b=P(1.0, "R"), c=P(0.0, "R")),
    "theory.spec.rbf": dict(gamma=1.0),
    "theory.spec.exponential": dict(a=P(1.0, "R"), b=P(1.0, "R")),
    "theory.spec.gaussian": dict(a=P(1.0, "R"), b=P(-1.0, "<0")),
    "theory.spec.polynomial": dict(coef=P(np.array([0.0, 1.0, 0.5]), "array")),
    "theory.spec.monomial": dict(degree=P(2, "Z>=0")),
    "theory.spec.rectified_monomial": dict(degree=P(1, "Z>=0")),
    "theory.spec.relu_slopes": dict(c_plus=P(0.5, "R"), c_minus=P(-0.5, "R"), n=P(100, "Z>=1"), unshaped=False),
}


# ------------------------------------------------------------------------------------------------ simulators


def _sim(module):
    return __import__(f"dltheory.simulators.{module}", fromlist=["x"])


TASK = Lazy(lambda: _sim("deep_linear").make_task(np.array([2.0, 1.0]), 2, 2, seed=0), cache=True)
WEIGHTS = Lazy(lambda: _sim("deep_linear").init_small_random([2, 3, 2], 0.1, seed=0), cache=True)
MLP = Lazy(lambda: _sim("mlp").MLP(d=3, width=4, depth=1), cache=True)
MLP_PARAMS = Lazy(lambda: _sim("mlp").init(MLP.get(), 2, seed=0), cache=True)
UFM_RUN = Lazy(
    lambda: _sim("neural_collapse").train_ufm(np.array([2, 2, 2]), 0.01, 0.01, n_steps=20, seed=0), cache=True
)
LPM_RUN = Lazy(
    lambda: _sim("neural_collapse").train_layer_peeled(np.array([2, 2, 1]), 1.0, 1.0, n_steps=20, seed=0), cache=True
)
X_GM = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
Y_GM = np.array([0, 0, 1, 1])
SEED = P(0, "seed")
XB = np.array([[1.0, 0.0, 0.5], [0.2, 1.0, -0.3], [0.0, 0.3, 1.0]])

# C_b -> 0 with ReLU: a whole layer can be dead (z = 0 exactly), where ForwardStats.corr is documented NaN (undefined)
_DEAD_RELU = {
    c: "corr is NaN where a layer's preactivation vector is 0 (documented: undefined)" for c in ("zero", "tiny", "lo")
}
SIMULATORS = {
    # abc_mlp
    "simulators.abc_mlp.forward_full": dict(
        x=P(X23, "array"),
        widths=P([3, 4, 4], "widths"),
        activation=RELU,
        C_W=2.0,
        C_b=P(0.1, ">=0", ok=_DEAD_RELU),
        n_nets=P(2, "Z[1,1e7]"),
        seed=SEED,
    ),
    "simulators.abc_mlp.forward_gram": dict(
        x=P(X23, "array"),
        widths=P([3, 4, 4], "widths"),
        activation=RELU,
        C_W=2.0,
        C_b=P(0.1, ">=0", ok=_DEAD_RELU),
        n_nets=P(2, "Z[1,1e7]"),
        seed=SEED,
    ),
    "simulators.abc_mlp.train_abc": dict(
        width=P(4, "Z[1,1e5]"),
        a=P((0.0, 0.5), "obj"),
        b=P(0.0, "R"),
        c=P(0.0, "R"),
        X=P(XB[:, :2], "array"),
        y=P(np.array([1.0, -1.0, 0.5]), "array"),
        eta=0.1,
        n_steps=P(2, "Z[1,1e7]"),
        n_seeds=P(1, "Z[1,1e7]"),
        seed=SEED,
        activation=RELU,
    ),
    # deep_linear
    "simulators.deep_linear.make_task": dict(
        s=P(np.array([2.0, 1.0]), "array>0"), n_in=P(2, "Z>=1"), n_out=P(2, "Z>=1"), seed=SEED, S11=P(None, "psd?")
    ),
    "simulators.deep_linear.random_orthogonal": dict(n=P(3, "Z[1,1e5]"), m=P(2, "Z[1,1e5]?"), seed=SEED),
    "simulators.deep_linear.init_decoupled": dict(
        task=P(TASK, "obj"), widths=P([2, 3, 2], "widths"), a0=P(0.1, ">0"), seed=SEED
    ),
    "simulators.deep_linear.init_small_random": dict(widths=P([2, 3, 2], "widths"), sigma0=0.1, seed=SEED),
    "simulators.deep_linear.init_balanced": dict(
        widths=P([2, 3, 2], "widths"), sigma=P(np.array([0.1, 0.2]), "array>0"), seed=SEED
    ),
    "simulators.deep_linear.init_orthogonal": dict(widths=P([2, 3, 2], "widths"), scale=1.0, seed=SEED),
    "simulators.deep_linear.train": dict(
        weights=P(WEIGHTS, "obj"),
        task=P(TASK, "obj"),
        eta=0.1,
        n_steps=P(4, "Z[0,1e7]"),
        record_every=P(2, "Z>=1"),
        targets=P(None, "array?", ok={"nan_entry": "NaN = an untracked mode (documented)"}),
        stop_when_crossed=False,
    ),
    "simulators.deep_linear.train_reference": dict(
        weights=P(WEIGHTS, "obj"), task=P(TASK, "obj"), eta=0.1, n_steps=P(4, "Z[0,1e7]"), record_every=P(2, "Z>=1")
    ),
    "simulators.deep_linear.balancedness": dict(weights=P(WEIGHTS, "obj")),
    "simulators.deep_linear.gaussian_product_sq_singular_values": dict(
        N=P(3, "Z[1,1e5]"), L=P(2, "Z[1,1e5]"), n_samples=P(4, "Z[1,1e7]"), seed=SEED
    ),
    "simulators.deep_linear.gaussian_product_moments": dict(
        N=P(3, "Z[1,1e5]"), L=P(2, "Z[1,1e5]"), n_samples=P(4, "Z[1,1e7]"), orders=P((1, 2), "obj"), seed=SEED
    ),
    "simulators.deep_linear.orthogonal_product_singular_values": dict(
        N=P(3, "Z[1,1e5]"), L=P(2, "Z[1,1e5]"), seed=SEED
    ),
    # grokking_linear
    "simulators.grokking_linear.linear_teacher_student": dict(
        lam=P(0.5, "(0,1)"),
        lr=0.1,
        eps=0.1,
        d_in=P(8, "Z[1,1e5]"),
        n_steps=P(4, "Z[1,1e7]"),
        n_seeds=P(1, "Z[1,1e7]"),
        n_test=P(16, "Z[1,1e7]"),
        weight_decay=P(0.0, ">=0"),
        accuracy_every=P(1, "Z>=1?"),
        n_teachers=P(1, "Z[1,1e7]"),
        seed=SEED,
    ),
    "simulators.grokking_linear.two_layer_teacher_student": dict(
        lam=P(0.5, "(0,1)"),
        lr=0.1,
        d_in=P(8, "Z[1,1e5]"),
        d_h=P(4, "Z[1,1e5]"),
        d_out=P(2, "Z[1,1e5]"),
        n_steps=P(4, "Z[1,1e7]"),
        n_seeds=P(1, "Z[1,1e7]"),
        seed=SEED,
    ),
    # grokking_modular
    "simulators.grokking_modular.train_modular_addition": dict(
        p=P(5, "Z>=3", bad=(9,)),
        width=P(4, "Z[1,1e5]"),
        fraction=P(0.5, "(0,1]"),
        lr=0.01,
        n_steps=P(4, "Z[1,1e7]"),
        record_every=P(2, "Z>=1"),
        weight_decay=P(0.0, ">=0"),
        activation="quadratic",
        optimizer="adamw",
        betas=P((0.9, 0.98), "obj"),
        n_seeds=P(1, "Z[1,1e7]"),
        seed=SEED,
    ),
    "simulators.grokking_modular.modular_addition_trainer_spec": dict(
        p=P(5, "Z>=3", bad=(9,)),
        width=P(4, "Z[1,1e5]"),
        fraction=P(0.5, "(0,1]"),
        lr=0.01,
        weight_decay=P(0.0, ">=0"),
        n_steps=P(4, "Z[1,1e7]"),
        record_every=P(2, "Z>=1"),
        activation="quadratic",
        optimizer="adamw",
    ),
    "simulators.grokking_modular.classify_phase": dict(
        t_train=P(np.array([10, -1]), "obj"), t_test=P(np.array([50, -1]), "obj"), lag_ratio=P(2.0, ">0")
    ),
    "simulators.grokking_modular.phase_point": dict(
        p=P(5, "Z>=3"),
        width=P(4, "Z[1,1e5]"),
        fraction=P(0.5, "(0,1]"),
        weight_decay=P(0.0, ">=0"),
        lr=0.01,
        n_steps=P(4, "Z[1,1e7]"),
        record_every=P(2, "Z>=1"),
        n_seeds=P(1, "Z[1,1e7]"),
        lag_ratio=P(2.0, ">0"),
        seed=SEED,
    ),
    "simulators.grokking_modular.phase_diagram": dict(
        fractions=P([0.5], "reals"),
        weight_decays=P([0.0], "reals"),
        p=P(5, "Z>=3"),
        width=P(4, "Z[1,1e5]"),
        lr=0.01,
        n_steps=P(4, "Z[1,1e7]"),
        record_every=P(2, "Z>=1"),
        n_seeds=P(1, "Z[1,1e7]"),
        seed=SEED,
        executor=P(
            "inline",
            "choice",
            ok={
                "None": "None = a local process pool: valid (the recipe's lambda cannot be pickled, and a pool is slow)"
            },
        ),
    ),
    # mlp
    "simulators.mlp.init": dict(mlp=P(MLP, "obj"), n_nets=P(2, "Z[1,1e7]"), seed=SEED),
    "simulators.mlp.outputs": dict(mlp=P(MLP, "obj"), params=P(MLP_PARAMS, "obj"), x=P(XB, "array")),
    "simulators.mlp.empirical_nngp": dict(
        mlp=P(MLP, "obj"), params=P(MLP_PARAMS, "obj"), x1=P(XB, "array"), x2=P(None, "array?")
    ),
    "simulators.mlp.empirical_ntk": dict(
        mlp=P(MLP, "obj"),
        params=P(MLP_PARAMS, "obj"),
        x1=P(XB, "array"),
        x2=P(None, "array?"),
        batch_size=P(None, "Z>=1?"),
    ),
    "simulators.mlp.train": dict(
        mlp=P(MLP, "obj"),
        params=P(MLP_PARAMS, "obj"),
        x_train=P(XB[:2], "array"),
        y_train=P(np.array([[1.0], [-1.0]]), "array"),
        x_test=P(XB[2:], "array"),
        eta=0.1,
        n_steps=P(2, "Z[0,1e7]"),
        record_every=P(1, "Z>=1"),
    ),
    "simulators.mlp.kernel_sample": dict(mlp=P(MLP, "obj"), x=P(XB, "array"), n_nets=P(2, "Z[1,1e7]"), seed=SEED),
    # neural_collapse
    "simulators.neural_collapse.train_ufm": dict(
        n_per_class=P(COUNTS, "ints", bad=(np.array([0, 2, 2]),)),
        lambda_W=P(0.01, ">=0"),
        lambda_H=P(0.01, ">=0"),
        loss="ce",
        depth=P(1, "Z[1,1e5]"),
        bias=False,
        d=P(None, "Z[1,1e5]?"),
        lr=0.5,
        momentum=P(0.9, "[0,1)"),
        n_steps=P(5, "Z[1,1e7]"),
        init_std=P(0.1, ">=0"),
        init=P(None, "obj?"),
        record_every=P(None, "Z>=1?"),
        history=False,
        seed=SEED,
    ),
    "simulators.neural_collapse.train_layer_peeled": dict(
        n_per_class=P(np.array([2, 2, 1]), "ints", bad=(np.array([0, 2, 2]),)),
        E_W=1.0,
        E_H=1.0,
        d=P(None, "Z[1,1e5]?"),
        lr=0.1,
        momentum=P(0.9, "[0,1)"),
        n_steps=P(5, "Z[1,1e7]"),
        record_every=P(None, "Z>=1?"),
        seed=SEED,
    ),
    "simulators.neural_collapse.ufm_certificate": dict(run=P(UFM_RUN, "obj")),
    "simulators.neural_collapse.lpm_certificate": dict(run=P(LPM_RUN, "obj")),
    "simulators.neural_collapse.gaussian_mixture": dict(
        K=P(3, "Z[2,1e5]"), n=P(2, "Z[1,1e7]"), dim=P(3, "Z[1,1e5]"), separation=P(3.0, ">=0"), seed=SEED
    ),
    "simulators.neural_collapse.train_mlp": dict(
        X=P(X_GM, "array"),
        y=P(Y_GM, "ints"),
        widths=P((4,), "widths"),
        weight_decay=P(0.0005, ">=0"),
        lr=0.05,
        momentum=P(0.9, "[0,1)"),
        n_epochs=P(4, "Z[1,1e7]"),
        record_every=P(2, "Z>=1?"),
        seed=SEED,  # None: record the last epoch only (documented)
    ),
    # ntk_gram
    "simulators.ntk_gram.empirical_ntk": dict(
        mlp=P(MLP, "obj"),
        params=P(MLP_PARAMS, "obj"),
        x1=P(XB, "array"),
        x2=P(None, "array?"),
        batch_size=P(None, "Z>=1?"),
        block_size=P(1024, "Z>=1"),
    ),
    "simulators.ntk_gram.gemm_flops": dict(mlp=P(MLP, "obj"), n1=P(3, "Z>=1"), n2=P(None, "Z>=1?")),
    # sde
    "simulators.sde.euler_maruyama_scalar": dict(
        x0=P(1.0, "R"),
        drift=lambda x: -x,
        diffusion=lambda x: 0.5 + 0 * x,
        T=P(0.1, ">0"),
        dt=P(0.05, ">0"),
        n_paths=P(3, "Z[1,1e7]"),
        seed=SEED,
        increments=P(None, "array?", ok={"ndim+1": "a (T/dt, n_paths) array of this shape is valid"}),
        lo=P(-np.inf, "any", ok={"*": "lo is a lower clip: -inf is valid"}),
        hi=P(np.inf, "any", ok={"*": "hi is an upper clip: +inf is valid"}),
    ),
    "simulators.sde.euler_maruyama_matrix": dict(
        V0=P(K2, "psd"),
        drift=lambda V: 0 * V,
        T=P(0.1, ">0"),
        dt=P(0.05, ">0"),
        n_paths=P(3, "Z[1,1e7]"),
        seed=SEED,
        lin_scale=P(1.0, ">=0"),
        attn_scale=P(0.0, ">=0"),
        blowup=P(100.0, ">0"),
        record_every=P(None, "Z>=1?"),
    ),
    "simulators.sde.euler_maruyama_matrix_pair": dict(
        V0=P(K2, "psd"),
        drift=lambda V: 0 * V,
        T=P(0.1, ">0"),
        dt=P(0.05, ">0"),
        n_paths=P(3, "Z[1,1e7]"),
        seed=SEED,
        lin_scale=P(1.0, ">=0"),
        attn_scale=P(0.0, ">=0"),
        blowup=P(100.0, ">0"),
    ),
    "simulators.sde.structured_noise": dict(
        V=P(K2[None], "array"),
        L=P(np.linalg.cholesky(K2)[None], "array"),
        G1=P(np.ones((1, 2, 2)), "array"),
        G2=P(np.ones((1, 2, 2)), "array"),
        lin_scale=P(1.0, ">=0"),
        attn_scale=P(0.5, ">=0"),
    ),
    # shaped
    "simulators.shaped.relu_mlp_chain": dict(
        V0=P(K2, "psd"),
        n=P(8, "Z[1,1e5]"),
        depth=P(3, "Z[1,1e5]"),
        c_plus=P(0.5, "R"),
        c_minus=P(-0.5, "R"),
        n_paths=P(3, "Z[1,1e7]"),
        seed=SEED,
        unshaped=False,
        record_every=P(None, "Z>=1?"),
    ),
    "simulators.shaped.relu_log_norm": dict(
        widths=P([4, 8], "widths"),
        c_plus=P(0.5, "R"),
        c_minus=P(-0.5, "R"),
        n_paths=P(3, "Z[1,1e7]"),
        seed=SEED,
        unshaped=False,
    ),
    "simulators.shaped.relu_mlp_naive": dict(
        x=P(X23, "array"),
        n=P(8, "Z[1,1e5]"),
        depth=P(3, "Z[1,1e5]"),
        c_plus=P(0.5, "R"),
        c_minus=P(-0.5, "R"),
        n_samples=P(3, "Z[1,1e7]"),
        seed=SEED,
        unshaped=False,
    ),
    "simulators.shaped.attention_chain": dict(
        V0=P(K3, "psd"),
        n=P(8, "Z[1,1e5]"),
        n_k=P(4, "Z[1,1e5]"),
        depth=P(2, "Z[1,1e5]"),
        lam=P(0.8, "[0,1]"),
        gamma=P(0.6, "(0,1]"),
        tau0=1.0,
        n_paths=P(3, "Z[1,1e7]"),
        seed=SEED,
        shaped=True,
        record_every=P(None, "Z>=1?"),
    ),
    "simulators.shaped.attention_naive": dict(
        X0=P(np.hstack([XB, XB]), "array"),
        n_k=P(4, "Z[1,1e5]"),
        depth=P(2, "Z[1,1e5]"),
        lam=P(0.8, "[0,1]"),
        gamma=P(0.6, "(0,1]"),
        tau0=1.0,
        n_samples=P(3, "Z[1,1e7]"),
        seed=SEED,
        shaped=True,
    ),
    "simulators.shaped.attention_step_moments": dict(
        V=P(K3, "psd"),
        n=P(8, "Z[1,1e5]"),
        n_k=P(4, "Z[1,1e5]"),
        gamma=P(0.6, "(0,1]"),
        tau0=1.0,
        n_samples=P(4, "Z[2,1e7]"),
        seed=SEED,
        shaped=True,
    ),
    "simulators.shaped.block_chain": dict(
        V0=P(K3, "psd"),
        n=P(8, "Z[1,1e5]"),
        n_k=P(4, "Z[1,1e5]"),
        depth=P(2, "Z[1,1e5]"),
        lam=P(0.8, "[0,1]"),
        gamma=P(0.6, "(0,1]"),
        tau0=1.0,
        c_plus=P(0.5, "R"),
        c_minus=P(-0.5, "R"),
        n_paths=P(3, "Z[1,1e7]"),
        seed=SEED,
        record_every=P(None, "Z>=1?"),
    ),
    "simulators.shaped.block_naive": dict(
        X0=P(np.hstack([XB, XB]), "array"),
        n_k=P(4, "Z[1,1e5]"),
        depth=P(2, "Z[1,1e5]"),
        lam=P(0.8, "[0,1]"),
        gamma=P(0.6, "(0,1]"),
        tau0=1.0,
        c_plus=P(0.5, "R"),
        c_minus=P(-0.5, "R"),
        n_samples=P(3, "Z[1,1e7]"),
        seed=SEED,
    ),
    # sweep
    "simulators.sweep.sweep": dict(
        fn=lambda x, seed: x,
        points=P([{"x": 1}], "obj"),
        seed=SEED,
        executor=P(
            "inline",
            "choice",
            ok={
                "None": "None = a local process pool: valid (the recipe's lambda cannot be pickled, and a pool is slow)"
            },
        ),
        max_workers=P(None, "Z[1,1e4]?"),
    ),
    "simulators.sweep.child_seeds": dict(seed=SEED, n=P(3, "Z[0,1e7]")),
}

RECIPES = THEORY | SIMULATORS

# issue 15: continual learning, associative memories, early learning
W_TASKS = np.array([[1.0, 0.0, 0.0, 0.0, 0.0], [0.6, 0.8, 0.0, 0.0, 0.0]])
P_TOKENS = np.array([0.5, 0.3, 0.2])
_CONTINUAL = dict(w_star=P(W_TASKS, "array"), n=P(2, "Z[1,1e5]"), sigma=P(0.1, "[0,1e100]"))
_NOISY = dict(n=P(20, "Z[2,1e5]"), p=P(10, "Z[2,1e5]"), sigma=P(0.5, "(0,1e100]"), Delta=P(0.2, "(0,0.5)"))
_MEMORY = dict(
    p=P(P_TOKENS, "array>=0"), q=P(np.array([1.0, 1.0, 0.0]), "array>=0"), d=P(5, "Z[1,1e9]"), M=P(2, "Z[2,1e5]")
)
ISSUE15 = {
    "theory.continual.expected_model_error": _CONTINUAL,
    "theory.continual.expected_generalization_error": _CONTINUAL,
    "theory.continual.expected_forgetting": _CONTINUAL,
    "simulators.continual.sequential_min_norm": _CONTINUAL | dict(n_runs=P(2, "Z[1,1e7]"), seed=SEED),
    "theory.associative_memory.zipf": dict(N=P(5, "Z[2,1e5]"), alpha=P(2.0, ">1")),
    "theory.associative_memory.seen_memory_error": dict(
        T=P(np.array([0.0, 3.0]), "array>=0"), p=P(P_TOKENS, "array>=0"), M=P(2, "Z[2,1e5]")
    ),
    "theory.associative_memory.sample_exponent": dict(alpha=P(2.0, ">1")),
    "theory.associative_memory.missing_mass_asymptotic": dict(T=P(np.array([10.0]), "array>0"), alpha=P(2.0, ">1")),
    "theory.associative_memory.frequency_memory_error": dict(
        d=P(np.array([10.0]), "array>0"), p=P(P_TOKENS, "array>=0")
    ),
    "theory.associative_memory.frequency_memory_exponent": dict(alpha=P(2.0, ">1")),
    "simulators.associative_memory.sample_counts": dict(
        p=P(P_TOKENS, "array>=0"), T=P(5, "Z[0,1e7]"), n_sets=P(2, "Z[1,1e7]"), seed=SEED
    ),
    "simulators.associative_memory.wishart_gram": dict(n=P(3, "Z[1,1e5]"), d=P(5, "Z[1,1e9]"), seed=SEED),
    "simulators.associative_memory.memory_error": _MEMORY | dict(n_memories=P(2, "Z[1,1e7]"), seed=SEED),
    "simulators.associative_memory.memory_error_naive": _MEMORY | dict(n_memories=P(2, "Z[1,1e7]"), seed=SEED),
    "theory.early_learning.first_step_flipped_accuracy": _NOISY,
    "theory.early_learning.early_learning_condition": _NOISY,
    "theory.early_learning.memorization_guaranteed": dict(n=P(20, "Z[2,1e5]"), p=P(10, "Z[2,1e5]")),
    "simulators.early_learning.gd_noisy_labels": _NOISY
    | dict(max_steps=P(5, "Z[1,1e7]"), seed=SEED, eta=P(None, ">0?")),
}
RECIPES = RECIPES | ISSUE15

# issue 15: delta rule, self-distillation, random-feature ridge regression
_K_DR = np.array([[0.6, 0.8, 0.0], [0.0, 0.6, 0.8]])  # unit keys, L = 2, d_k = 3
_Q_DR = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
_V_DR = np.array([[1.0, -1.0], [0.5, 2.0]])
_B_DR = np.array([0.5, 1.5])
_DR = dict(q=P(_Q_DR, "array"), k=P(_K_DR, "array"), v=P(_V_DR, "array"), beta=P(_B_DR, "array"), S0=P(None, "array?"))
_DP = dict(
    q=P(_Q_DR, "array"), k=P(_K_DR[:, None], "array"), v=P(_V_DR[:, None], "array"), beta=P(_B_DR[:, None], "array")
)
_PHI_SD = np.array([[1.0, 0.2, 0.0, 0.1], [0.3, 1.0, 0.2, 0.0], [0.0, 0.1, 1.0, 0.4]])
_Y_SD = np.array([1.0, -0.5, 0.3])
_F_SD = np.array([0.8, -0.4, 0.5])
_K_SD = _PHI_SD @ _PHI_SD.T
_LAM_RF = np.array([1.0, 0.5, 0.25, 0.125])
_V_RF = np.array([0.7, 0.5, 0.4, 0.3])
_RF = dict(eigvals=P(_LAM_RF, "array>0"), eigcoeffs=P(_V_RF, "array"), n=P(3.0, "(0,1e15]"), k=P(2.0, "(0,1e15]"))
ISSUE15_DELTA_SD_RF = {
    "theory.delta_rule.delta_rule_recurrent": _DR,
    "theory.delta_rule.deltaproduct_recurrent": _DP | dict(S0=P(None, "array?")),
    "theory.delta_rule.delta_rule_chunkwise": _DR | dict(chunk_size=P(1, "Z>=1")),
    "theory.delta_rule.ut_transform": dict(k=P(_K_DR, "array"), beta=P(_B_DR, "array")),
    "theory.delta_rule.wy_representation": dict(k=P(_K_DR, "array"), beta=P(_B_DR, "array")),
    "theory.delta_rule.householder_product": dict(k=P(_K_DR, "array"), beta=P(_B_DR, "array")),
    "theory.delta_rule.householder_eigenvalues": dict(beta=P(0.5, "R"), d_k=P(3, "Z[1,1e8]")),
    "simulators.delta_rule.online_gd": dict(
        k=P(_K_DR[:, None], "array"),
        v=P(_V_DR[:, None], "array"),
        beta=P(_B_DR[:, None], "array"),
        q=P(_Q_DR, "array?"),
        S0=P(None, "array?"),
    ),
    "simulators.delta_rule.token_transition": dict(k=P(_K_DR, "array"), beta=P(_B_DR, "array")),
    "theory.self_distillation.distillation_factors": dict(
        eigvals=P(np.array([1.0, 0.5]), "array>=0"), lam=P(0.2, ">0"), alpha=P(0.5, "[-10,10]"), steps=P(3, "Z[1,1e6]")
    ),
    "theory.self_distillation.distilled_predictions": dict(
        K=P(_K_SD, "psd"),
        y=P(_Y_SD, "array"),
        lam=P(0.2, ">0"),
        alpha=P(0.5, "[-10,10]"),
        steps=P(3, "Z[1,1e6]"),
        K_test=P(None, "array?"),
    ),
    "theory.self_distillation.limit_predictions": dict(
        K=P(_K_SD, "psd"), y=P(_Y_SD, "array"), lam=P(0.2, ">0"), alpha=P(0.5, "(0,1]"), K_test=P(None, "array?")
    ),
    "theory.self_distillation.optimal_alphas": dict(
        K=P(_K_SD, "psd"), y=P(_Y_SD, "array"), f_star=P(_F_SD, "array"), lam=P(0.2, ">0"), steps=P(3, "Z[2,1e6]")
    ),
    "simulators.self_distillation.distill": dict(
        Phi=P(_PHI_SD, "array"),
        y=P(_Y_SD, "array"),
        lam=P(0.2, ">0"),
        alpha=P(0.5, "[-10,10]"),
        steps=P(3, "Z>=1"),
        Phi_test=P(None, "array?"),
    ),
    "simulators.self_distillation.greedy_alphas": dict(
        Phi=P(_PHI_SD, "array"),
        y=P(_Y_SD, "array"),
        f_star=P(_F_SD, "array"),
        lam=P(0.2, ">0"),
        steps=P(3, "Z>=2"),
        bounds=P((0.0, 1.0), "reals"),
    ),
    "theory.random_features.rf_fixed_point": dict(
        eigvals=P(_LAM_RF, "array>0"), n=P(3.0, "(0,1e15]"), k=P(2.0, "(0,1e15]"), delta=P(0.1, "[0,1e100]")
    ),
    "theory.random_features.rf_risk": _RF | dict(delta=P(0.1, "[0,1e100]"), sigma2=P(0.1, ">=0")),
    "theory.random_features.krr_risk": dict(
        eigvals=P(_LAM_RF, "array>0"),
        eigcoeffs=P(_V_RF, "array"),
        n=P(3.0, "(0,1e15]"),
        delta=P(0.1, "[0,1e100]"),
        sigma2=P(0.1, ">=0"),
    ),
    "theory.random_features.rf_optimal_ridge": _RF | dict(sigma2=P(0.1, ">=0"), log10_bounds=P((-3.0, 1.0), "reals")),
    "simulators.random_features.rf_ridge_risks": dict(
        eigvals=P(_LAM_RF, "array>0"),
        eigcoeffs=P(_V_RF, "array"),
        n=P(3, "Z>=1"),
        k=P(2, "Z>=1"),
        ridges=P(np.array([0.1, 1.0]), "array>0"),
        sigma2=P(0.1, ">=0"),
        n_trials=P(2, "Z>=1"),
        seed=SEED,
    ),
}
RECIPES = RECIPES | ISSUE15_DELTA_SD_RF

# issue 13: NTK depth-to-width fluctuations, scale mixtures of the NNGP, the NLO mean kernel
ISSUE13 = {
    "theory.ntk_fluctuations.relu_ntk_ratio": dict(
        widths=P([4, 8], "widths"), c_same=P(5.0, "[0,100]"), c_cross=P(1.0, "[0,100]")
    ),
    "theory.ntk_fluctuations.relu_ntk_variance_coefficient": dict(
        depth=P(3, "Z[1,1e5]"), c_same=P(5.0, "[0,100]"), c_cross=P(1.0, "[0,100]")
    ),
    "theory.scale_mixture.student_t_process": dict(a=P(2.0, ">0"), b=P(1.5, ">0"), K=P(K2, "psd")),
    "theory.finite_width.nlo_kernel_recursion": dict(
        K1=P(1.0, ">0"),
        depth=P(3, "Z[1,1e4]"),
        C_W=1.0,
        C_b=P(0.0, ">=0"),
        activation=ACT,
        vertex_coefficient=P(0.125, "R"),
        susceptibility=P("parallel", "choice"),
    ),
    "simulators.ntk_diagonal.relu_ntk_diagonal": dict(
        widths=P([4, 4], "widths"), n_nets=P(3, "Z[1,1e7]"), seed=SEED, C0=P(1.0, ">0")
    ),
    "simulators.scale_mixture.scale_mixture_outputs": dict(
        x=P(X23, "array"),
        widths=P([4], "widths"),
        activation=RELU,
        C_W=2.0,
        C_b=P(0.1, ">=0"),
        a=P(2.0, ">0"),
        b=P(1.5, ">0"),
        n_nets=P(3, "Z[2,1e7]"),
        seed=SEED,
    ),
}
RECIPES = RECIPES | ISSUE13

# issue 15: in-context learning, steepest descent under a norm, memorisation by construction
_X_IC = np.array([[[1.0, 0.5], [0.2, -0.3], [0.4, 1.0]]])  # one task, N = 3 context points, d = 2
_Y_IC = np.array([[0.3, -0.1, 0.8]])
_XQ_IC = np.array([[0.5, -0.5]])
_CTX_IC = np.concatenate([_X_IC, _Y_IC[..., None]], axis=-1)
_QRY_IC = np.array([[0.5, -0.5, 0.0]])
_W3 = np.array([[1.0, 0.2, 0.0], [0.1, 0.9, 0.3], [0.0, 0.4, 1.1]])
_V3 = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.1, -0.2, -0.3]])
_Q3 = np.array([[1.0, 0.1, 0.0], [0.0, 0.9, 0.0], [0.2, 0.1, 0.0]])
_G23 = np.array([[1.0, -0.5, 0.3], [0.2, 0.8, -1.1]])
_Z_MEM = np.array([[1.0, 0.0], [0.3, 0.8], [-0.5, 0.2]])
_Y_MEM = np.array([0.5, -1.0, 2.0])
_X_MEM = np.array([0.0, 1.0, 3.0])
_B_MEM = np.array([-0.5, 0.5, 2.0])


def _ic_tasks():
    from dltheory.simulators import in_context

    return in_context.sample_tasks(4, 3, 2, seed=0)


ISSUE15_ICL_SD_MEM = {
    "theory.in_context.lsa_gd_weights": dict(
        d=P(2, "Z[1,1e4]"), eta=P(0.5, ">0"), N=P(3, "Z>=1"), w0=P(None, "array?")
    ),
    "theory.in_context.gd_step_prediction": dict(
        x=P(_X_IC, "array"), y=P(_Y_IC, "array"), x_q=P(_XQ_IC, "array"), eta=P(0.5, ">0"), w0=P(None, "array?")
    ),
    "theory.in_context.lsa_gd_risk": dict(eta=P(0.5, "R"), N=P(3, "Z>=1"), d=P(2, "Z>=1")),
    "theory.in_context.lsa_optimal_step": dict(N=P(3, "Z>=1"), d=P(2, "Z>=1")),
    "theory.in_context.lsa_optimal_risk": dict(N=P(3, "Z>=1"), d=P(2, "Z>=1")),
    "theory.in_context.lsa_gd_risk_expr": {},
    "simulators.in_context.sample_tasks": dict(
        n_tasks=P(4, "Z[1,1e8]"), N=P(3, "Z[1,1e8]"), d=P(2, "Z[1,1e8]"), seed=SEED
    ),
    "simulators.in_context.lsa_layer": dict(
        context=P(_CTX_IC, "array"),
        query=P(_QRY_IC, "array"),
        W_K=P(_W3, "array"),
        W_Q=P(_W3.T, "array"),
        W_V=P(_V3, "array"),
        P=P(0.5 * np.eye(3), "array"),
        include_query=P(False, "flag"),
    ),
    "simulators.in_context.gd_step": dict(
        x=P(_X_IC, "array"), y=P(_Y_IC, "array"), x_q=P(_XQ_IC, "array"), eta=P(0.5, ">0"), w0=P(None, "array?")
    ),
    "simulators.in_context.train_lsa": dict(
        N=P(3, "Z[1,1e5]"),
        d=P(2, "Z[1,64]"),
        n_tasks=P(8, "Z[2,1e7]"),
        n_seeds=P(1, "Z[1,1e4]"),
        seed=SEED,
        n_restarts=P(2, "Z[1,1e4]"),
        n_steps=P(3, "Z[0,1e6]"),
        lr=P(0.2, ">0"),
        decay=P(0.01, ">0"),
        n_polish=P(2, "Z[0,1e5]"),
        init_scale=P(0.3, ">0"),
        d_pad=P(None, "Z[2,64]?"),
    ),
    "simulators.in_context.lsa_squared_errors": dict(
        V=P(_V3, "array"), Q=P(_Q3, "array"), tasks=P(Lazy(_ic_tasks, cache=True), "obj")
    ),
    "simulators.in_context.effective_preconditioner": dict(
        V=P(_V3[None], "array"), Q=P(_Q3[None], "array"), N=P(3, "Z>=1")
    ),
    "theory.steepest_descent.dual_norm": dict(G=P(_G23, "array"), norm=P("spectral", "choice")),
    "theory.steepest_descent.steepest_direction": dict(G=P(_G23, "array"), norm=P("spectral", "choice")),
    "theory.steepest_descent.steepest_step": dict(
        G=P(_G23, "array"), norm=P("l_inf", "choice"), sharpness=P(2.0, ">0")
    ),
    "theory.steepest_descent.shampoo_direction": dict(G=P(_G23, "array")),
    "simulators.steepest_descent.ball_norm": dict(T=P(_G23, "array"), norm=P("l_inf", "choice")),
    "simulators.steepest_descent.adam_updates": dict(
        grads=P(_G23[None], "array"), beta1=P(0.0, "[0,1)"), beta2=P(0.0, "[0,1)"), eps=P(1e-12, ">=0")
    ),
    "simulators.steepest_descent.shampoo_updates": dict(
        grads=P(_G23[None], "array"), beta=P(0.0, "[0,1]"), eps=P(1e-12, ">0")
    ),
    "simulators.steepest_descent.unit_ball_values": dict(
        G=P(_G23, "array"), norm=P("spectral", "choice"), n_samples=P(6, "Z[3,1e7]"), seed=SEED
    ),
    "theory.memorisation.memorising_network": dict(z=P(_Z_MEM, "array"), y=P(_Y_MEM, "array"), a=P(None, "array?")),
    "theory.memorisation.generic_direction": dict(d=P(2, "Z[1,1e8]")),
    "theory.memorisation.interleaved_biases": dict(x_sorted=P(_X_MEM, "array")),
    "theory.memorisation.first_layer_matrix": dict(x=P(_X_MEM, "array"), b=P(_B_MEM, "array")),
    "theory.memorisation.relu_network": dict(
        z=P(_Z_MEM, "array"), a=P(np.array([1.0, 0.5]), "array"), b=P(_B_MEM, "array"), w=P(_Y_MEM, "array")
    ),
    "theory.memorisation.interpolation_error_bound": dict(
        z=P(_Z_MEM, "array"), a=P(np.array([1.0, 0.5]), "array"), b=P(_B_MEM, "array"), w=P(_Y_MEM, "array")
    ),
}
RECIPES = RECIPES | ISSUE15_ICL_SD_MEM

ISSUE17_THEORY_LATE = {  # theory functions added while issue 17 was worked on
    "theory.deep_linear.learning_time_deep_correction": dict(s=2.0, u0=0.1, uf=1.0, tau=1.0),
    "theory.signal_propagation.gradient_second_moments": dict(
        q1=P(1.0, ">=0"), depth=P(3, "Z>=1"), sigma_w2=1.5, sigma_b2=P(0.05, ">=0"), activation=ACT
    ),
}
RECIPES = RECIPES | ISSUE17_THEORY_LATE

# issue 14 (neural collapse): the deep linear CE UFM's ETF scales
ISSUE14_NC = {
    "theory.neural_collapse.deep_ce_ufm_etf": dict(
        n=P(5, "Z>=1"), K=P(4, "Z>=2"), lambda_W=0.005, lambda_H=0.005, depth=P(2, "Z>=1")
    ),
    "theory.neural_collapse.deep_ce_ufm_mode_objective": dict(
        x=P(np.array([0.5, 1.0]), "array>=0", ok={"ndim+1": "x may have any shape (vectorised)"}),
        n=P(5, "Z>=1"),
        K=P(4, "Z>=2"),
        lambda_W=0.005,
        lambda_H=0.005,
        depth=P(2, "Z>=1"),
    ),
}
RECIPES = RECIPES | ISSUE14_NC


# issue 14 items 4 (grok.linear_asymptotics) and 5 (grok.progress_measures)
ISSUE14_GROK_ITEMS_4_5 = {
    "theory.grokking_linear.linear_estimator_delay_rate": dict(lam=P(0.5, "(0,1)")),
    "theory.grokking_linear.linear_estimator_gen_loss_limit": dict(lam=P(2.0, ">0")),
    "theory.grokking_linear.init_scale_loss_factor": dict(alpha=P(0.5, ">=0")),
    "simulators.grokking_linear.linear_teacher_student_spectrum": dict(
        lam=P(2.0, ">0"),
        d_in=P(8, "Z[2,1e5]"),
        d_out=P(2, "Z[1,1e5]"),
        alpha=P(1.0, ">=0"),
        n_seeds=P(2, "Z[1,1e7]"),
        seed=SEED,
    ),
    # issue 14 item 5 (grok.progress_measures)
    "simulators.grokking_modular.train_embedded_modular_addition": dict(
        p=P(5, "Z>=3", bad=(9,)),
        d_embed=P(2, "Z[1,1e5]"),
        width=P(4, "Z[1,1e5]"),
        fraction=P(0.5, "(0,1]"),
        lr=0.01,
        weight_decay=P(0.1, ">=0"),
        n_steps=P(4, "Z[1,1e7]"),
        record_every=P(2, "Z>=1"),
        betas=P((0.9, 0.98), "obj"),
        n_seeds=P(1, "Z[1,1e7]"),
        seed=SEED,
    ),
}
RECIPES = RECIPES | ISSUE14_GROK_ITEMS_4_5

# issue 13, mup.transfer: learning-rate exponents and the lr sweep
ISSUE13_MUTRANSFER = {
    "theory.mup.stable_lr_exponent": dict(p=ABC),
    "theory.mup.optimal_lr_exponent": dict(p=ABC),
    "simulators.abc_mlp.lr_sweep": dict(
        width=P(4, "Z[1,1e5]"),
        a=P((0.0, 0.5), "obj"),
        b=P(0.0, "R"),
        c=P(0.0, "R"),
        X=P(XB[:, :2], "array"),
        y=P(np.array([1.0, -1.0, 0.5]), "array"),
        etas=P(np.array([0.1, 0.2]), "array>0"),
        n_steps=P(2, "Z[1,1e7]"),
        n_seeds=P(1, "Z[1,1e7]"),
        seed=SEED,
        activation=RELU,
    ),
}
RECIPES = RECIPES | ISSUE13_MUTRANSFER


# issue 14 (grok.max_margin, grok.frequency_lottery): theory.modular_margin, simulators.modular_features
def _construction5():
    from dltheory.theory import modular_margin as mm

    return mm.max_margin_construction(5)


CON5 = Lazy(_construction5, cache=True)
CU5 = Lazy(lambda: CON5.get()[0], cache=True)
CV5 = Lazy(lambda: CON5.get()[1], cache=True)
CW5 = Lazy(lambda: CON5.get()[2], cache=True)
_LOT = np.random.default_rng(0).standard_normal((2, 3, 5))
_AB = np.array([0.3, 0.2])
ISSUE14_MARGIN_LOTTERY = {
    "theory.modular_margin.l23_norm": dict(U=P(CU5, "array"), V=P(CV5, "array"), W=P(CW5, "array")),
    "theory.modular_margin.normalised_margin": dict(U=P(CU5, "array"), V=P(CV5, "array"), W=P(CW5, "array")),
    "theory.modular_margin.max_margin_construction": dict(p=P(5, "Z[3,1e5]", bad=(9,))),
    "theory.modular_margin.top_frequency_share": dict(U=P(CU5, "array"), V=P(CV5, "array"), W=P(CW5, "array")),
    "theory.modular_margin.fourier_modes": dict(weights=P(_LOT[0], "array", bad=(np.ones((2, 4)),))),
    "theory.modular_margin.misalignment": dict(
        phi=P(_AB, "array", ok={"ndim+1": "phi may have any shape (psi's)"}),
        psi=P(_AB, "array", ok={"ndim+1": "psi may have any shape (phi's)"}),
    ),
    "theory.modular_margin.decoupled_flow_rhs": dict(
        alpha=P(_AB, "array>=0"),
        beta=P(_AB, "array>0"),
        D=P(_AB, "array"),
        p=P(5, "Z>=3"),
        phase=P(True, "flag"),
        input_factor=P(2.0, ">0"),
    ),
    "theory.modular_margin.blowup_times": dict(
        alpha=P(_AB, "array>0"),
        beta=P(_AB, "array>0"),
        D=P(_AB, "array"),
        p=P(5, "Z>=3"),
        phase=P(True, "flag"),
        input_factor=P(2.0, ">0"),
        growth=P(10.0, ">1"),
        step=P(0.1, "(0,0.5]"),
        max_steps=P(1000, "Z[1,1e7]"),
    ),
    "theory.modular_margin.lottery_scores": dict(
        theta=P(_LOT[0], "array"), xi=P(_LOT[1], "array"), rule=P("flow", "choice")
    ),
    "theory.modular_margin.lottery_winner": dict(
        theta=P(_LOT[0], "array"), xi=P(_LOT[1], "array"), rule=P("phase", "choice")
    ),
    "simulators.modular_features.train_max_margin": dict(
        p=P(3, "Z[3,199]"),
        width=P(2, "Z[1,4096]"),
        temperatures=P(np.array([30.0]), "array>0"),
        n_steps=P(2, "Z[1,1e6]"),
        lr=P(0.01, "(0,1]"),
        n_seeds=P(1, "Z[1,4096]"),
        seed=SEED,
    ),
    "simulators.modular_features.train_lottery": dict(
        p=P(3, "Z[3,199]"),
        width=P(2, "Z[1,4096]"),
        init_scale=P(0.1, "(0,10]"),
        lr=P(1.0, "(0,1e6]"),
        n_steps=P(2, "Z[1,1e7]"),
        record_every=P(1, "Z>=1"),
        n_seeds=P(1, "Z[1,4096]"),
        seed=SEED,
    ),
}
RECIPES = RECIPES | ISSUE14_MARGIN_LOTTERY

# issue 14 (shaped networks): smooth-activation exit law, attention weight gradients
ISSUE14_SHAPED_SMOOTH_QK = {
    "theory.shaped.smooth_norm_exit_probability": dict(
        beta=P(0.5, "R"), V0=P(2.0, ">0"), lower=P(1.0, ">0"), upper=P(4.0, ">0")
    ),
    "theory.shaped.smooth_norm_scale": dict(V=P(np.array([[1.0, 2.0]]), "array>=0"), beta=P(0.5, "R")),
    "theory.shaped.attention_gradient_log_slopes": dict(lam=P(0.7, "(0,1)"), shaped=P(False, "flag")),
    "simulators.shaped.smooth_step": dict(
        V=P(K2, "psd"),
        n=P(8, "Z[2,1e5]"),
        activation=P("tanh", "choice"),
        a=P(1.0, ">0"),
        n_samples=P(4, "Z[2,1e7]"),
        seed=SEED,
    ),
    "simulators.shaped.smooth_norm_exit": dict(
        V0=P(2.0, ">0"),
        n=P(8, "Z[2,1e5]"),
        activation=P("gelu", "choice"),
        a=P(1.0, ">0"),
        lower=P(1.0, ">0"),
        upper=P(4.0, ">0"),
        max_depth=P(3, "Z[1,1e5]"),
        n_paths=P(3, "Z[1,1e7]"),
        seed=SEED,
    ),
    "simulators.shaped.attention_weight_gradients": dict(
        X0=P(X23, "array"),
        n_k=P(2, "Z[1,1e5]"),
        depth=P(2, "Z[1,1e5]"),
        lam=P(0.8, "[0,1]"),
        gamma=P(0.6, "(0,1]"),
        tau0=1.0,
        n_samples=P(2, "Z[1,1e7]"),
        seed=SEED,
        shaped=True,
    ),
}
RECIPES = RECIPES | ISSUE14_SHAPED_SMOOTH_QK

# issue 13, ntk.wide_deep_classifiers: depth limit of the critical ReLU NTK and the limit classifiers
_X_WD = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
_Y_WD = np.array([1.0, 1.0, -1.0])
_T_WD = np.array([[-0.9, 0.1], [0.1, 0.8]])
ISSUE13_WIDE_DEEP = {
    "theory.wide_deep.relu_ntk_depth_limit": {},
    "theory.wide_deep.relu_ntk_depth_limit_expr": dict(exponent=P(3, "R")),
    "theory.wide_deep.majority_vote": dict(
        x_test=P(_T_WD, "array"), x_train=P(_X_WD, "array"), y_train=P(_Y_WD, "array")
    ),
    "theory.wide_deep.nearest_neighbour": dict(
        x_test=P(_T_WD, "array"), x_train=P(_X_WD, "array"), y_train=P(_Y_WD, "array")
    ),
}
RECIPES = RECIPES | ISSUE13_WIDE_DEEP

# issue 13, dln.linear_cnn: the circular linear CNN and its per-frequency time constant
_A_CNN = np.array([1.0, 0.5, 0.0, 0.5])
_W_CNN = np.array([[0.1, -0.2, 0.05, 0.0]])
_V_CNN = np.array([[0.1, 0.0, 0.05, -0.2]])
ISSUE13_LINEAR_CNN = {
    "theory.linear_cnn.frequency_strengths": dict(a=P(_A_CNN, "array")),
    "theory.linear_cnn.cnn_time_constant": dict(N=P(4, "Z[1,1e8]"), eta=P(0.1, ">0")),
    "simulators.linear_cnn.init_balanced": dict(N=P(4, "Z[2,1e5]"), C=P(2, "Z[1,1e5]"), scale=P(0.1, ">0"), seed=SEED),
    "simulators.linear_cnn.loss": dict(w=P(_W_CNN, "array"), v=P(_V_CNN, "array"), a=P(_A_CNN, "array")),
    "simulators.linear_cnn.train": dict(
        w=P(_W_CNN, "array"),
        v=P(_V_CNN, "array"),
        a=P(_A_CNN, "array"),
        eta=P(0.1, ">0"),
        n_steps=P(3, "Z[0,1e7]"),
        k=P(None, "Z[1,1e5]?"),
        record_every=P(1, "Z[1,1e7]"),
    ),
}
RECIPES = RECIPES | ISSUE13_LINEAR_CNN
ISSUE13_LINEAR_CNN_GROWTH = {
    "theory.linear_cnn.early_growth_rate": dict(
        s=P(1.0, ">0"), omega=P(1, "Z[1,1e8]"), N=P(8, "Z[3,1e8]"), k=P(3, "Z[1,1e8]"), eta=P(0.01, ">0")
    ),
}
RECIPES = RECIPES | ISSUE13_LINEAR_CNN_GROWTH

# issue 13, dln.deep_limit / dln.orthogonal_vs_gaussian / sigprop.backward
_LAYERS_OG = np.stack([np.stack([np.eye(2)] * 2)] * 2)  # (nets, depth, N, N) = (2, 2, 2, 2)
_BACKWARD = dict(
    x=P(np.array([1.0, 0.5]), "array"),
    widths=P([3, 4], "widths"),
    activation=P("tanh", "choice"),
    C_W=2.0,
    C_b=P(0.1, ">=0"),
    n_nets=P(2, "Z[2,1e7]"),
    seed=SEED,
)
ISSUE13_DLN_SIGPROP = {
    "simulators.deep_linear.crossing_time": dict(
        t=P(np.linspace(0, 1.5, 4), "array"), u=P(np.array([0, 0.4, 0.8, 1.2]), "array"), level=P(0.5, "R")
    ),
    "simulators.deep_linear.orthogonal_layers": dict(
        N=P(3, "Z[1,1e5]"), D=P(2, "Z[1,1e5]"), n_nets=P(2, "Z[1,1e7]"), seed=SEED, product=P(None, "array?")
    ),
    "simulators.deep_linear.gaussian_layers": dict(
        N=P(3, "Z[1,1e5]"), D=P(2, "Z[1,1e5]"), n_nets=P(2, "Z[1,1e7]"), seed=SEED
    ),
    "simulators.deep_linear.steps_to_learn": dict(
        layers=P(_LAYERS_OG, "array"), s=1.0, eta=0.1, fraction=P(0.5, "(0,1)"), max_steps=P(200, "Z[1,1e7]")
    ),
    "simulators.abc_mlp.backward_gram": _BACKWARD,
    "simulators.abc_mlp.backward_full": _BACKWARD,
}
RECIPES = RECIPES | ISSUE13_DLN_SIGPROP

# issue 14, nc.central_path (theory.central_path, simulators.central_path)
_CP_H = np.random.default_rng(0).standard_normal((8, 2))  # 2 classes x 4 samples, Sigma_W positive definite
_CP_Y = np.repeat(np.arange(2), 4)
ISSUE14_NC_CENTRAL_PATH = {
    "theory.central_path.snr_singular_values": dict(H=P(_CP_H, "array"), y=P(_CP_Y, "ints")),
    "theory.central_path.central_path_loss": dict(omega=P(np.array([0.5, 2.0]), "array>=0"), C=P(3, "Z[2,1e7]")),
    "theory.central_path.central_path_rate": dict(  # omega, t, omega0: arrays of up to 2 dimensions
        omega=P(np.array([[0.5, 2.0]]), "array>=0"), N=P(10, "Z[2,1e9]"), C=P(2, "Z[2,10]")
    ),
    "theory.central_path.central_path_clock": dict(
        omega=P(np.array([[0.5, 2.0]]), "array>0"), N=P(10, "Z[2,1e9]"), C=P(2, "Z[2,10]")
    ),
    "theory.central_path.central_path_omega": dict(
        t=P(np.array([[0.0, 5.0]]), "array>=0"),
        omega0=P(np.array([[0.5, 2.0]]), "array>0"),
        N=P(10, "Z[2,1e9]"),
        C=P(2, "Z[2,10]"),
    ),
    "simulators.central_path.train_central_path": dict(
        n=P(3, "Z[2,1e5]"),
        C=P(2, "Z[2,1e4]"),
        d=P(2, "Z[1,4]"),
        mean_scale=P(0.5, ">0"),
        lr=0.5,
        n_steps=P(2, "Z[1,1e7]"),
        record_every=P(1, "Z[1,2]"),
        seed=SEED,
    ),
}
RECIPES = RECIPES | ISSUE14_NC_CENTRAL_PATH

# issue 14 (grok.energy_features): theory.grokking_modular (Li_2 energy ascent), simulators.tian_li2
_W4 = np.array([1.0, 0.2, -0.3, 0.1, 0.5, -0.2, 0.4, 0.3])  # [u; v] at M = 4
_PAIRS4 = np.array([[0, 1], [2, 3], [1, 1]])
ISSUE14_GROK_ENERGY = {
    "theory.grokking_modular.tian_energy_gradient": dict(
        w=P(_W4, "array"),
        M=P(4, "Z[2,400]"),
        pairs=P(_PAIRS4, "ints", ok={"None": "None is the full table of M^2 pairs"}),
        centred=P(True, "flag"),
    ),
    "theory.grokking_modular.tian_energy_ascent": dict(
        w0=P(_W4, "array"),
        M=P(4, "Z[2,400]"),
        pairs=P(_PAIRS4, "ints", ok={"None": "None is the full table of M^2 pairs"}),
        centred=P(True, "flag"),
        step=P(0.05, "(0,1]"),
        n_steps=P(3, "Z[1,1e6]"),
        record_every=P(1, "Z>=1"),
    ),
    "simulators.tian_li2.train_li2": dict(
        M=P(3, "Z[2,199]"),
        K=P(2, "Z[1,4096]"),
        n_train=P(9, "Z>=2"),
        weight_decay=P(0.01, ">=0"),
        lr_W=P(0.01, ">0"),
        lr_V=P(0.1, ">0"),
        n_steps=P(2, "Z[1,1e6]"),
        record_every=P(1, "Z>=1"),
        init_scale_W=P(0.1, ">0"),
        init_scale_V=P(0.0, ">=0"),
        n_nets=P(1, "Z[1,4096]"),
        seed=SEED,
    ),
}
RECIPES = RECIPES | ISSUE14_GROK_ENERGY

# grok.droplets (issue 14, item 6): the Langevin sampler and the finite-P mean field of Rubin et al.'s model B
ISSUE14_GROK_DROPLETS = {
    "theory.grokking_modular.rubin_modular_mean_field_a": dict(
        sigma2=P(0.01, ">0"),
        P=P(7, "Z[3,100000]", bad=(9,)),
        N=P(40.0, ">0"),
        sigma_a2=P(1e-4, ">0"),
        gamma=P(0.5, ">0"),
    ),
    "simulators.langevin_two_layer.sample_modular_quadratic": dict(
        P=P(5, "Z[3,31]", bad=(9,)),
        N=P(2, "Z[1,2000]"),
        sigma2=P(0.1, ">0"),
        sigma_a2=P(0.1, ">0"),
        gamma=P(0.5, ">=0"),
        n_chains=P(1, "Z[1,100000]"),
        n_steps=P(3, "Z[1,1e9]"),
        n_burn=P(0, "Z>=0", bad=(3,)),
        dt=P(0.01, "(0,1]"),
        record_every=P(1, "Z>=1"),
        seed=SEED,
    ),
}
RECIPES = RECIPES | ISSUE14_GROK_DROPLETS


# issue 14 (grok.three_stage): theory.modular_margin (stage diagnostics), simulators.modular_features.train_grokking
_MASK3 = np.array([[True, True, False], [False, True, True], [True, False, True]])
ISSUE14_THREE_STAGE = {
    "theory.modular_margin.grokking_stages": dict(
        steps=P(np.array([0.0, 10.0, 20.0]), "array", bad=(np.array([0.0, 0.0, 1.0]),)),
        train_accuracy=P(np.array([0.1, 0.96, 1.0]), "array", bad=(np.array([0.1, 1.5, 1.0]), np.array([0.1, 0.2]))),
        test_accuracy=P(np.array([0.0, 0.5, 0.97]), "array", bad=(np.array([-0.1, 0.5, 0.9]),)),
        level=P(0.95, "(0,1]"),
    ),
    "theory.modular_margin.memorisation_test_accuracy": dict(
        train_mask=P(_MASK3, "mask", bad=(np.ones((3, 3), bool), np.ones((2, 3), bool)))
    ),
    "simulators.modular_features.train_grokking": dict(
        p=P(3, "Z[3,199]"),
        width=P(2, "Z[1,4096]"),
        train_fraction=P(0.75, "(0,1]", bad=(0.01,)),
        weight_decay=P(1.0, ">=0"),
        lr=P(1e-3, "(0,1]"),
        init_scale=P(0.03, "(0,10]"),
        activation=P("quad", "choice"),
        n_steps=P(2, "Z[1,1e7]"),
        record_every=P(1, "Z>=1"),
        n_seeds=P(1, "Z[1,4096]"),
        seed=SEED,
    ),
}
RECIPES = RECIPES | ISSUE14_THREE_STAGE

# nc.nc4_and_decay (issue 14, item 8): the ReLU MLP on orthonormal inputs and its UFM optimum
ISSUE14_NC_DECAY = {
    "theory.nc_weight_decay.relu_mlp_collapse_norms": dict(
        n_per_class=P(np.array([3, 2]), "ints", bad=(np.array([0, 2]), np.array([3]))),
        lambda_W=P(0.1, ">0"),
        lambda_A=P(0.1, ">0"),
    ),
    "simulators.nc_weight_decay.orthonormal_inputs": dict(
        n_per_class=P(np.array([2, 2]), "ints", bad=(np.array([0, 2]), np.array([2]))),
        dim=P(4, "Z[1,1e5]", bad=(3,)),  # dim >= N = 4
        seed=SEED,
    ),
    "simulators.nc_weight_decay.train_relu_mlp_decay": dict(
        X=P(X_GM, "array"),
        y=P(Y_GM, "ints", bad=(np.array([0, 0, 0, 0]), np.array([0, 2, 2, 0]))),
        weight_decays=P(np.array([0.0, 0.1]), "array>=0"),
        width=P(2, "Z[1,1e5]"),
        lr=P(0.1, ">0"),
        momentum=P(0.0, "[0,1)"),
        n_steps=P(4, "Z[1,1e7]"),
        record_every=P(2, "Z>=1?", bad=(3,)),  # a divisor of n_steps; None: the last step only
        seed=SEED,
    ),
}
RECIPES = RECIPES | ISSUE14_NC_DECAY

# nc.central_path, proximity check (theory.central_path.classifier_hessian / classifier_lag; burst recording)
_CP_WT = np.arange(18.0).reshape(3, 2, 3) / 10  # 3 consecutive least-squares classifiers, C = 2, d + 1 = 3
ISSUE14_NC_CENTRAL_PATH_LAG = {
    "theory.central_path.classifier_hessian": dict(H=P(_CP_H, "array"), lam=P(0.1, ">=0")),
    "theory.central_path.classifier_lag": dict(
        Wt_LS=P(_CP_WT, "array"),
        M=P(np.broadcast_to(0.5 * np.eye(3), (2, 3, 3)).copy(), "array"),
        order=P(1, "Z[0,1]"),
    ),
    "simulators.central_path.train_regularised_mse": dict(
        n=P(3, "Z[2,1e5]"),
        C=P(2, "Z[2,1e4]"),
        d=P(2, "Z[1,1e5]"),
        lam=P(0.1, ">=0"),
        lam_H=P(0.01, ">=0"),
        lr=0.5,
        n_steps=P(2, "Z[1,1e7]"),
        record_every=P(2, "Z[1,2]"),
        burst=P(1, "Z[1,2]"),
        init_std=P(0.3, ">0"),
        seed=SEED,
    ),
}
RECIPES = RECIPES | ISSUE14_NC_CENTRAL_PATH_LAG
