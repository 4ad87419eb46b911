"""Benchmark: dltheory.theory.neural_collapse.nc_metrics at N = 50,000, d = 512, K = 100 (target: under 1 s).

Run: python benchmarks/bench_neural_collapse.py   (prints best-of-repeat seconds per call and the verdict;
also a naive per-sample-loop NC1/NC4 reference at a smaller N for the speed-up ratio). On a shared, loaded
machine multithreaded OpenBLAS oversubscribes the cores and small LAPACK calls (QR/SVD of the K x d means)
slow down by 10-100x: time with OPENBLAS_NUM_THREADS=1 there. The load average is printed.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from dltheory.theory.neural_collapse import nc_metrics


def best_of(fn, repeat: int, clock=time.perf_counter) -> float:
    times = []
    for _ in range(repeat):
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times)


def naive_nc1_nc4(H, y, W):
    """Per-sample Python loops (what the vectorised metric replaces); same conventions as nc_metrics."""
    K = W.shape[0]
    M = np.stack([H[y == k].mean(axis=0) for k in range(K)])
    mu = H.mean(axis=0)
    Sw = np.zeros((H.shape[1],) * 2)
    mismatches = 0
    for h, c in zip(H, y):
        r = h - M[c]
        Sw += np.outer(r, r)
        mismatches += int(np.argmax(W @ h) != np.argmin(np.sum((M - h) ** 2, axis=1)))
    Sw /= len(y)
    Md = M - mu
    U, s, _ = np.linalg.svd(Md.T, full_matrices=False)
    Sb_pinv = U[:, : K - 1] @ np.diag(K / s[: K - 1] ** 2) @ U[:, : K - 1].T
    return np.trace(Sw @ Sb_pinv) / K, mismatches / len(y)


def problem(N, d, K, seed=0):
    g = np.random.default_rng(seed)
    y = g.integers(0, K, N)
    H = g.standard_normal((N, d)) + 3 * g.standard_normal((K, d))[y]
    return H, y, g.standard_normal((K, d)), g.standard_normal(K)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    )
    H, y, W, b = problem(50_000, 512, 100)
    nc_metrics(H, y, W, b)  # warm-up (BLAS threads, page faults)
    t = best_of(lambda: nc_metrics(H, y, W, b), args.repeat)
    cpu = best_of(lambda: nc_metrics(H, y, W, b), args.repeat, clock=time.process_time)
    print(
        f"nc_metrics N=50000 d=512 K=100: {t:.3f} s wall, {cpu:.3f} s CPU (all threads) per call "
        f"({'PASS' if t < 1.0 else 'FAIL'} on wall: budget 1 s)"
    )
    Hs, ys, Ws, _ = problem(5_000, 512, 100, seed=1)
    m = nc_metrics(Hs, ys, Ws)
    t_vec = best_of(lambda: nc_metrics(Hs, ys, Ws), args.repeat)
    start = time.perf_counter()
    nc1, nc4 = naive_nc1_nc4(Hs, ys, Ws)
    t_naive = time.perf_counter() - start
    print(
        f"N=5000: vectorised {t_vec:.3f} s, per-sample loop {t_naive:.3f} s, ratio {t_naive / t_vec:.1f}x; "
        f"|NC1 diff| = {abs(nc1 - m['nc1']):.2e}, |NC4 diff| = {abs(nc4 - m['nc4']):.2e}"
    )


if __name__ == "__main__":
    main()
