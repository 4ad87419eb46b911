"""Benchmark: steps per second of the modular-addition MLP trainer (dltheory.simulators.grokking.train_modular_addition).

Run: python benchmarks/bench_grokking.py [--steps N]   (CPU by default; on a GPU machine JAX uses the GPU).
Prints compile time and seed-steps/s for a few (p, width, seeds) and the exact linear GD simulator's speed.
"""

from __future__ import annotations

import argparse
import time

import jax

from dltheory.simulators import grokking as sim


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=2000)
    args = ap.parse_args()
    print(f"JAX backend: {jax.default_backend()}")
    print(f"{'p':>4} {'width':>6} {'seeds':>6} {'compile+run s':>14} {'run s':>8} {'seed-steps/s':>13}")
    for p, width, seeds in ((23, 64, 1), (23, 64, 4), (31, 128, 4), (47, 128, 1)):
        kw = dict(lr=1e-2, weight_decay=0.3, n_steps=args.steps, record_every=100, n_seeds=seeds)
        start = time.perf_counter()
        sim.train_modular_addition(p, width, 0.5, seed=0, **kw)
        first = time.perf_counter() - start
        start = time.perf_counter()
        sim.train_modular_addition(p, width, 0.5, seed=1, **kw)
        run = time.perf_counter() - start
        print(f"{p:>4} {width:>6} {seeds:>6} {first:14.2f} {run:8.2f} {seeds * args.steps / run:13.0f}")
    start = time.perf_counter()
    sim.linear_teacher_student(0.5, 0.02, 1e-3, d_in=200, n_steps=2000, n_seeds=8, accuracy_every=None, seed=0)
    print(
        f"linear teacher-student, d_in=200, 8 seeds x 2000 exact GD steps (losses only): "
        f"{time.perf_counter() - start:.2f} s"
    )


if __name__ == "__main__":
    main()
