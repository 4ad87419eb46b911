"""Benchmark: numba GD kernel (dltheory.simulators.deep_linear.train) vs the plain-numpy reference on the same problem.

Run: python benchmarks/bench_deep_linear.py   (prints steps/s for both and the speed-up ratio)
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import best_of

from dltheory.simulators import deep_linear as sim


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"{'widths':>22} {'numba steps/s':>14} {'numpy steps/s':>14} {'ratio':>7} {'max |diff|':>10}")
    for widths in ([6, 10, 8], [8, 16, 16, 16, 8], [32, 64, 64, 32], [128, 128, 128]):
        steps = args.steps if widths[1] <= 16 else args.steps // 20
        task = sim.make_task(np.linspace(3, 0.5, 4), widths[0], widths[-1], seed=0)
        W0 = sim.init_small_random(widths, 0.05, seed=1)
        kw = dict(eta=1e-3, n_steps=steps, record_every=100)
        sim.train(W0, task, eta=1e-3, n_steps=2)  # compile (or load the numba cache) outside the timing
        t_numba = best_of(lambda: sim.train(W0, task, **kw), args.repeat)
        t_numpy = best_of(lambda: sim.train_reference(W0, task, **kw), 1)
        diff = np.abs(sim.train(W0, task, **kw).W_tot - sim.train_reference(W0, task, **kw)).max()
        print(
            f"{str(widths):>22} {steps / t_numba:14.0f} {steps / t_numpy:14.0f} {t_numpy / t_numba:7.1f} {diff:10.1e}"
        )


if __name__ == "__main__":
    main()
