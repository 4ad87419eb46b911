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

from dltheory.theory import _validate as val

__all__ = ["sweep", "child_seeds"]

MAX_WORKERS = 4096
"""Cap on ``max_workers`` of the default local process pool."""


def child_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent int seeds spawned from ``seed`` (``SeedSequence.spawn``); stable across runs.
    ``n`` <= MAX_SAMPLES (dltheory.theory._validate)."""
    seed = val.integer("seed", seed, lower=0)
    n = val.integer("n", n, lower=0, upper=val.MAX_SAMPLES)
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

    ``executor``: any ``concurrent.futures.Executor`` instance (not shut down here; a Dask client's
    ``get_executor()`` is one), ``"inline"`` to run in this process one after the other, or None for a local
    process pool of ``max_workers`` (default: CPU count; at most MAX_WORKERS) created and shut down by this call.
    Everything is validated before the first task runs.
    """
    val.instance("fn", fn, Callable, "a callable")
    if isinstance(points, str | bytes | Mapping) or not isinstance(points, Sequence):
        raise val.InvalidType(
            f"points must be a sequence of mappings (one dict of keyword arguments per task), got {points!r}"
        )
    for i, p in enumerate(points):
        val.instance(f"points[{i}]", p, Mapping, "a mapping of keyword arguments")
        if "seed" in p:
            raise ValueError("sweep points must not contain 'seed': each task gets a spawned child seed")
        if not all(isinstance(k, str) for k in p):
            raise val.InvalidType(f"points[{i}] keys must be parameter names (str), got {list(p)!r}")
    points = [dict(p) for p in points]
    inline = isinstance(executor, str) and executor == "inline"
    if not (executor is None or inline or isinstance(executor, cf.Executor)):
        err = ValueError if isinstance(executor, str) else val.InvalidType
        raise err(f"executor must be a concurrent.futures.Executor, 'inline' or None, got {executor!r}")
    if max_workers is not None:
        max_workers = val.integer("max_workers", max_workers, lower=1, upper=MAX_WORKERS)
    seeds = child_seeds(seed, len(points))
    if inline:
        return [fn(**p, seed=s) for p, s in zip(points, seeds)]
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
