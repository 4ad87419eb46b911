"""Benchmark: analytic NNGP/NTK Gram matrices (dltheory.theory.infinite_width) and the empirical NTK (dltheory.simulators.mlp).

Run: python benchmarks/bench_infinite_width.py [--n 2000] [--depth 10] [--width 1024]
Prints wall times (best of --repeat, after a compile call) and ratios against the time of one float64 n x n
matrix multiply on this machine (numpy/BLAS), and for the empirical NTK (layer-wise Gram products,
dltheory.simulators.ntk_gram) the achieved GFLOP/s of its GEMMs (ntk_gram.gemm_flops) against the matmul's.
Side by side with neural-tangents: bench_kernels_vs_neural_tangents.py.
"""

from __future__ import annotations

import argparse

import jax
import numpy as np
from _timing import best_of

from dltheory.simulators import mlp as sim
from dltheory.simulators import ntk_gram
from dltheory.theory import infinite_width as iw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--ntk-points", type=int, default=64)
    ap.add_argument("--quad-n", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    g = np.random.default_rng(0)
    x = g.standard_normal((args.n, 10))
    A = g.standard_normal((args.n, args.n))
    t_mm = best_of(lambda: A @ A, args.repeat)
    gflops_mm = 2 * args.n**3 / t_mm / 1e9
    print(f"float64 {args.n}x{args.n} matmul: {t_mm * 1e3:.1f} ms ({gflops_mm:.1f} GFLOP/s)")
    print(f"{'kernel':>28} {'time [s]':>9} {'/ matmul':>9}")
    for act in ("relu", "erf"):
        iw.kernels(x, depth=args.depth, activation=act, weight_var=2.0, bias_var=0.1)  # compile
        t = best_of(lambda: iw.kernels(x, depth=args.depth, activation=act, weight_var=2.0, bias_var=0.1), args.repeat)
        print(f"{f'{act} {args.n}^2 depth {args.depth}':>28} {t:9.3f} {t / t_mm:9.1f}")
    xq = x[: args.quad_n]
    for act in ("tanh", "gelu"):
        iw.kernels(xq[:4], depth=args.depth, activation=act, weight_var=1.5, bias_var=0.1)
        t = best_of(lambda: iw.kernels(xq, depth=args.depth, activation=act, weight_var=1.5, bias_var=0.1), 1)
        print(
            f"{f'{act} (quad) {args.quad_n}^2 d{args.depth}':>28} {t:9.3f} {t / t_mm:9.1f}"
            f"   ({t / args.quad_n**2 / args.depth * 1e6:.1f} us per pair-layer)"
        )
    with jax.enable_x64(True):
        m = sim.MLP(d=10, width=args.width, depth=2, activation="relu", weight_var=2.0, bias_var=0.1)
        p = sim.init(m, 1, seed=0)
        xp = x[: args.ntk_points]
        jax.block_until_ready(sim.empirical_ntk(m, p, xp))
        t = best_of(lambda: jax.block_until_ready(sim.empirical_ntk(m, p, xp)), args.repeat)
    n_params = sum(a.size for a in jax.tree.leaves(p))
    gflops = ntk_gram.gemm_flops(m, args.ntk_points) / t / 1e9
    print(
        f"empirical NTK, width {args.width}, depth 2, {args.ntk_points} points ({n_params} params): {t:.3f} s, "
        f"{t / t_mm:.1f} x matmul, GEMMs at {gflops:.2f} GFLOP/s = {gflops / gflops_mm:.2f} x matmul rate"
    )


if __name__ == "__main__":
    main()
