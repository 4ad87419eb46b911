"""Benchmark dltheory.simulators.abc_mlp: the in-law Gram sampler vs explicit weight matrices, and abc-SGD steps.

Run: python benchmarks/bench_abc_mlp.py   (prints networks/s for both forward samplers and their ratio, and
SGD steps/s of train_abc with the achieved GFLOP/s next to this machine's float64 matmul GFLOP/s). A batch-4
SGD step is matrix-vector work on (seeds, n, n) weights, so it is memory-bound: expect a few % of matmul peak;
each timed call includes drawing the initial weights.
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import best_of

from dltheory.simulators import abc_mlp as sim


def matmul_gflops(n: int = 1024, repeat: int = 3) -> float:
    a, b = np.random.default_rng(0).standard_normal((2, n, n))
    return 2 * n**3 / best_of(lambda: a @ b, repeat) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    x = np.random.default_rng(0).standard_normal((2, 16))
    print(f"{'width x depth':>14} {'gram nets/s':>12} {'full nets/s':>12} {'ratio':>7}")
    for n, L, S in ((64, 8, 2000), (256, 8, 500), (512, 8, 100)):
        kw = dict(activation="tanh", C_W=1.5, C_b=0.05, n_nets=S, seed=0)
        tg = best_of(lambda: sim.forward_gram(x, [n] * L, **kw), args.repeat)
        tf = best_of(lambda: sim.forward_full(x, [n] * L, **kw), args.repeat)
        print(f"{f'{n} x {L}':>14} {S / tg:12.0f} {S / tf:12.0f} {tf / tg:7.1f}")
    peak = matmul_gflops()
    X, y = np.random.default_rng(1).standard_normal((4, 8)), np.ones(4)
    print(f"\nfloat64 matmul (1024^3): {peak:.1f} GFLOP/s")
    print(f"{'width':>6} {'seeds':>6} {'SGD steps/s':>12} {'GFLOP/s':>8} {'% of matmul':>12}")
    for n, S in ((256, 8), (1024, 8)):
        steps = 5
        t = best_of(
            lambda: sim.train_abc(
                n, a=[-0.5, 0, 0.5], b=0.5, c=0.0, X=X, y=y, eta=0.5, n_steps=steps, n_seeds=S, seed=0
            ),
            args.repeat,
        )
        flops = S * steps * 3 * 2 * 4 * n * n  # hidden n x n layer: forward, backward, weight gradient (batch 4)
        print(f"{n:6d} {S:6d} {S * steps / t:12.1f} {flops / t / 1e9:8.2f} {100 * flops / t / 1e9 / peak:11.1f}%")


if __name__ == "__main__":
    main()
