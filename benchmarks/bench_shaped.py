"""Benchmark: SDE path-steps per second (scalar rho-SDE, 2x2 ReLU covariance SDE, 3x3 shaped-attention SDE) and
the exact reduced Gram-matrix chain against the naive network (MLP and attention), same law, both reported.

Run: python benchmarks/bench_shaped.py   (prints throughput and the reduced/naive speed-up)
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from _timing import best_of

from dltheory.simulators import sde
from dltheory.simulators import shaped as sim
from dltheory.theory import shaped as th


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    N, T, dt = args.paths, 0.1, 1e-3
    steps = round(T / dt)
    rho_sde = th.relu_correlation_sde(0, -2)
    V2 = np.array([[1.0, 0.3], [0.3, 1.0]])
    V3 = np.array([[1.0, 0.3, 0.1], [0.3, 1.0, 0.5], [0.1, 0.5, 1.0]])
    lin, attn = th.attention_noise_scales(math.sqrt(0.5), 1.0)
    cases = {
        "rho-SDE (scalar)": lambda: sde.euler_maruyama_scalar(
            0.3, rho_sde.drift, rho_sde.diffusion, T=T, dt=dt, n_paths=N, seed=0, lo=-1, hi=1
        ),
        "ReLU covariance SDE (2x2)": lambda: sde.euler_maruyama_matrix(
            V2, lambda V: th.relu_covariance_drift(V, 0, -2, check=False), T=T, dt=dt, n_paths=N, seed=0, lin_scale=1.0
        ),
        "attention SDE (3x3)": lambda: sde.euler_maruyama_matrix(
            V3,
            lambda V: th.attention_drift(V, math.sqrt(0.5), 1.0, check=False),
            T=T,
            dt=dt,
            n_paths=N,
            seed=0,
            lin_scale=lin,
            attn_scale=attn,
        ),
    }
    print(f"{'SDE (Euler-Maruyama, numpy over paths)':>42} {'path-steps/s':>14}")
    for name, fn in cases.items():
        print(f"{name:>42} {N * steps / best_of(fn, args.repeat):14.3g}")

    print(
        f"\n{'network (same law)':>30} {'n':>5} {'depth':>6} {'reduced samples/s':>18} {'naive samples/s':>16} "
        f"{'ratio':>7}"
    )
    x = np.array([[1.0, 0.0], [0.3, math.sqrt(1 - 0.09)]]) * math.sqrt(2)
    for n in (16, 64, 128):
        d, S = n // 2, 200
        t_red = best_of(lambda: sim.relu_mlp_chain(x @ x.T / 2, n, d, 0, -2, n_paths=S, seed=1), args.repeat)
        t_nai = best_of(lambda: sim.relu_mlp_naive(x, n, d, 0, -2, n_samples=S // 4, seed=1), 1) * 4
        print(f"{'shaped ReLU MLP':>30} {n:5d} {d:6d} {S / t_red:18.3g} {S / t_nai:16.3g} {t_nai / t_red:7.1f}")
    for n in (16, 64, 128):
        d, S = n // 2, 200
        X0 = math.sqrt(n) * np.linalg.cholesky(V3) @ np.eye(3, n)
        kw = dict(lam=0.0, gamma=1.0, tau0=0.7)
        t_red = best_of(lambda: sim.attention_chain(V3, n, 16, d, n_paths=S, seed=1, **kw), args.repeat)
        t_nai = best_of(lambda: sim.attention_naive(X0, 16, d, n_samples=S // 4, seed=1, **kw), 1) * 4
        print(f"{'shaped attention':>30} {n:5d} {d:6d} {S / t_red:18.3g} {S / t_nai:16.3g} {t_nai / t_red:7.1f}")


if __name__ == "__main__":
    main()
