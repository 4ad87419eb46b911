"""Parameter sweeps through any ``concurrent.futures.Executor``, with one spawned seed per task.

Each task ``i`` gets ``seed=child_seed(seed, i, n)``, an int drawn from the i-th child of
``numpy.random.SeedSequence(seed).spawn(n)``, so results depend only on ``(seed, points)`` and never on the
executor, the number of workers or the completion order. Pass a Dask distributed executor
(``distributed.Client(address).get_executor()``) to run on a cluster; by default the tasks run in local
processes (``spawn`` start method: ``fn`` must be importable, i.e. defined at module level).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence

import numpy as np

__all__ = ["sweep", "child_seeds"]


def child_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent int seeds spawned from ``seed`` (``SeedSequence.spawn``); stable across runs."""
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return [int(c.generate_state(1, dtype=np.uint32)[0]) for c in np.random.SeedSequence(int(seed)).spawn(n)]


def sweep(
    fn: Callable,
    points: Sequence[Mapping],
    *,
    seed: int,
    executor: cf.Executor | str | None = None,
    max_workers: int | None = None,
) -> list:
    """Run ``fn(**point, seed=s_i)`` for every point and return the results in the order of ``points``.

    ``executor``: any ``concurrent.futures.Executor`` (not shut down here), ``"inline"`` to run in this
    process one after the other, or None for a local process pool of ``max_workers`` (default: CPU count)
    created and shut down by this call.
    """
    points = [dict(p) for p in points]
    for p in points:
        if "seed" in p:
            raise ValueError("sweep points must not contain 'seed': each task gets a spawned child seed")
    seeds = child_seeds(seed, len(points))
    if executor == "inline":
        return [fn(**p, seed=s) for p, s in zip(points, seeds)]
    if isinstance(executor, str):
        raise ValueError(f"executor must be a concurrent.futures.Executor, 'inline' or None, got {executor!r}")
    if executor is None:
        workers = max_workers or os.cpu_count() or 1
        with cf.ProcessPoolExecutor(
            max_workers=min(workers, max(len(points), 1)), mp_context=multiprocessing.get_context("spawn")
        ) as pool:
            return _collect(pool, fn, points, seeds)
    return _collect(executor, fn, points, seeds)


def _collect(executor: cf.Executor, fn: Callable, points: list[dict], seeds: list[int]) -> list:
    futures = [executor.submit(fn, **p, seed=s) for p, s in zip(points, seeds)]
    try:
        return [f.result() for f in futures]
    except BaseException:
        for f in futures:
            f.cancel()
        raise
