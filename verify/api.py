"""Python API for scripts: run claims and get the Evidence back, as records or as a tidy DataFrame.

    from dltheory.verify import api
    outcomes = api.run("dln.*", executor="local")          # list of dltheory.verify.runner.Outcome
    df = api.tidy_frame(outcomes)                           # one row per plotted point, theory vs simulation
    checks = api.checks_frame(outcomes)                     # one row per check (statistic, threshold, verdict)

Sweeps: :func:`dltheory.simulators.sweep.sweep` runs any simulator over a parameter grid on any executor.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from dltheory.simulators.sweep import MAX_WORKERS
from dltheory.theory import _validate as val
from dltheory.verify import registry
from dltheory.verify.cache import check_cache_dir
from dltheory.verify.report import ROW_COLUMNS, SUMMARY_COLUMNS, summary_rows, tidy_rows
from dltheory.verify.runner import DEVICES, EXECUTORS, Outcome, check_device, open_executor, run_claims

__all__ = ["run", "tidy_frame", "checks_frame"]


def run(
    pattern: str | None = None,
    *,
    quick: bool = True,
    executor: str = "inline",
    scheduler: str | None = None,
    workers: int | None = None,
    device: str | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> list[Outcome]:
    """Run the claims matching ``pattern`` (glob over ids; all if None) and return their outcomes.

    ``executor``: ``"inline"``, ``"local"`` or ``"dask"`` (see :func:`dltheory.verify.runner.open_executor`);
    ``cache_dir``: reuse and store results there (None: always run, store nothing); it must be a writable
    directory (created if missing). Every argument is validated before any claim runs.
    """
    if pattern is not None:
        val.instance("pattern", pattern, str, "a glob over claim ids (str) or None")
    val.flag("quick", quick)
    val.choice("executor", executor, EXECUTORS)
    if scheduler is not None:
        val.instance("scheduler", scheduler, str, "a Dask scheduler address (str) or None")
    if workers is not None:
        val.integer("workers", workers, lower=1, upper=MAX_WORKERS)
    if device is not None:
        val.choice("device", device, DEVICES)
    check_cache_dir(cache_dir)
    try:
        claims = registry.select(pattern)
    except ValueError as exc:
        raise ValueError(f"pattern: {exc}") from None
    check_device(device)
    with open_executor(executor, scheduler=scheduler, workers=workers) as ex:
        return run_claims(claims, quick=quick, cache_dir=cache_dir, executor=ex, device=device)


def _frame(columns: Sequence[str], rows: list[tuple]):
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(
            "DataFrames need pandas: pip install 'dltheory[dataframe]' (or use the Evidence records)"
        ) from exc
    return pd.DataFrame(rows, columns=list(columns))


def tidy_frame(outcomes: Sequence[Outcome]):
    """Every plotted point of every claim (evidence and negative control): the report's per-claim CSVs, stacked."""
    return _frame(ROW_COLUMNS, [row for o in outcomes if o.result is not None for row in tidy_rows(o.result)])


def checks_frame(outcomes: Sequence[Outcome]):
    """One row per check (and one per errored claim): the report's summary.csv."""
    return _frame(SUMMARY_COLUMNS, summary_rows(outcomes))
