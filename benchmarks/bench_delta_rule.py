"""Benchmark: DeltaNet's chunkwise parallel form (WY / UT transform) vs the sequential delta rule, over lengths.

Both from dltheory.theory.delta_rule (numpy, float64), plus the compiled JAX scan of online GD
(dltheory.simulators.delta_rule) as a sequential baseline without Python-loop overhead.
Run: python benchmarks/bench_delta_rule.py   (prints tokens/s and the speed-up ratios per sequence length)
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import best_of

from dltheory.simulators import delta_rule as sim
from dltheory.theory import delta_rule as th


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--d", type=int, default=64, help="d_k = d_v")
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, 4096, 16384])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    d, C = args.d, args.chunk
    print(f"d_k = d_v = {d}, chunk {C}")
    print(
        f"{'L':>7} {'recurrent tok/s':>16} {'chunkwise tok/s':>16} {'jax scan tok/s':>15} "
        f"{'chunk/rec':>9} {'chunk/jax':>9} {'max |diff|':>10}"
    )
    for L in args.lengths:
        k = rng.standard_normal((L, d))
        k /= np.linalg.norm(k, axis=1, keepdims=True)
        q, v, b = rng.standard_normal((L, d)), rng.standard_normal((L, d)), rng.uniform(0, 2, L)
        sim.online_gd(k[:, None], v[:, None], b[:, None], q)  # compile outside the timing
        t_rec = best_of(lambda: th.delta_rule_recurrent(q, k, v, b), args.repeat)
        t_chunk = best_of(lambda: th.delta_rule_chunkwise(q, k, v, b, C), args.repeat)
        t_jax = best_of(lambda: sim.online_gd(k[:, None], v[:, None], b[:, None], q), args.repeat)
        diff = np.abs(th.delta_rule_recurrent(q, k, v, b)[0] - th.delta_rule_chunkwise(q, k, v, b, C)[0]).max()
        print(
            f"{L:7d} {L / t_rec:16.0f} {L / t_chunk:16.0f} {L / t_jax:15.0f} "
            f"{t_rec / t_chunk:9.1f} {t_jax / t_chunk:9.1f} {diff:10.1e}"
        )


if __name__ == "__main__":
    main()
