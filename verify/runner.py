"""Running claims: through the cache, on an executor (in-process, local processes or Dask), on a JAX device.

Each claim is one task. Cache hits are answered in this process; misses are submitted to the executor and
stored as they finish, so an interrupted run keeps every finished claim and a rerun resumes from there.
Results do not depend on the executor: a claim's seed is fixed by the registry (or the caller), and sweeps
inside a claim spawn their per-task seeds from it (:mod:`dltheory.simulators.sweep`).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from dltheory.verify import registry
from dltheory.verify.cache import lookup, store
from dltheory.verify.evidence import ClaimResult, percent
from dltheory.verify.registry import Claim

__all__ = ["Outcome", "EXECUTORS", "DEVICES", "check_device", "open_executor", "run_claims"]

EXECUTORS = ("local", "dask", "inline")
DEVICES = ("cpu", "gpu")


@dataclass(frozen=True)
class Outcome:
    """One claim's run: its result (None when the claim raised), whether it came from the cache, the error."""

    claim: Claim
    result: ClaimResult | None
    cached: bool = False
    error: str = ""
    traceback: str = ""

    @property
    def verdict(self) -> str:
        """PASS when the claim holds, every control is rejected and the resolution meets its bound; FAIL
        otherwise; ERROR if it raised."""
        if self.result is None:
            return "ERROR"
        return "PASS" if self.result.ok else "FAIL"

    @property
    def control_verdict(self) -> str:
        """REJECTED (good: every control rejected) or "ACCEPTED k of n" (bad); empty on ERROR."""
        if self.result is None:
            return ""
        accepted = sum(c.passed for c in self.result.controls)
        return "REJECTED" if self.result.controls_rejected else f"ACCEPTED {accepted} of {len(self.result.controls)}"

    @property
    def resolution_text(self) -> str:
        """``"2.1 % <= 10 %"``: the measured resolution against the declared bound; empty on ERROR."""
        if self.result is None:
            return ""
        return f"{percent(self.result.resolution_delta)} {'<=' if self.result.resolved else '>'} " + percent(
            self.result.resolution_bound
        )


def check_device(device: str | None) -> None:
    """Raise ValueError unless ``device`` is None or a JAX platform with at least one device here."""
    if device is None:
        return
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    import jax

    try:
        jax.devices(device)
    except RuntimeError:
        seen = ", ".join(sorted({d.platform for d in jax.devices()}))
        raise ValueError(
            f"--device {device}: JAX sees no {device.upper()} here (devices: {seen}); "
            f"install jax with GPU support (pip install -e '.[gpu]') or use --device cpu"
        ) from None


@contextlib.contextmanager
def _on_device(device: str | None) -> Iterator[None]:
    if device is None:
        yield
        return
    import jax

    with jax.default_device(jax.devices(device)[0]):
        yield


def run_one(claim_id: str, quick: bool, seed: int, device: str | None = None) -> ClaimResult:
    """Run one claim by id on ``device`` (a task function: importable, so process pools and Dask can ship it)."""
    with _on_device(device):
        return registry.run(claim_id, quick=quick, seed=seed)


@contextlib.contextmanager
def open_executor(
    kind: str = "local", *, scheduler: str | None = None, workers: int | None = None, timeout_s: float = 10.0
) -> Iterator[cf.Executor | str]:
    """The executor named ``kind``: ``"inline"`` (this process), ``"local"`` (a process pool of ``workers``)
    or ``"dask"`` (Dask distributed: the cluster at ``scheduler``, else a LocalCluster of ``workers``).

    A scheduler that does not answer within ``timeout_s`` raises ValueError (one line) before any claim runs.
    """
    if kind not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {kind!r}")
    if scheduler is not None and kind != "dask":
        raise ValueError("--scheduler needs --executor dask")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if kind == "inline":
        yield "inline"
    elif kind == "local":
        with cf.ProcessPoolExecutor(
            max_workers=workers or os.cpu_count() or 1, mp_context=multiprocessing.get_context("spawn")
        ) as pool:
            yield pool
    else:
        with _dask_client(scheduler, workers, timeout_s) as client:
            yield client.get_executor()


@contextlib.contextmanager
def _dask_client(scheduler: str | None, workers: int | None, timeout_s: float):
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ImportError("--executor dask needs Dask distributed: pip install 'dltheory[dask]'") from exc
    if scheduler is None:
        with (
            LocalCluster(
                n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(scheduler, timeout=f"{timeout_s}s")
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from None
    with client:
        yield client


def run_claims(
    claims: Sequence[Claim],
    *,
    quick: bool = True,
    cache_dir: str | os.PathLike | None = None,
    executor: cf.Executor | str = "inline",
    device: str | None = None,
    on_done: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Run each claim (cache first); a claim that raises becomes an ERROR outcome, the others go on.

    ``on_done(outcome)`` is called in this process as each claim finishes (progress bars). Returns the
    outcomes in the order of ``claims``. On KeyboardInterrupt the pending tasks are cancelled and the
    interrupt propagates; finished claims are already in the cache.
    """
    done: dict[str, Outcome] = {}

    def finish(outcome: Outcome) -> None:
        done[outcome.claim.id] = outcome
        if on_done is not None:
            on_done(outcome)

    pending = []
    for c in claims:
        hit = lookup(c, quick=quick, cache_dir=cache_dir)
        if hit is not None:
            finish(Outcome(c, hit, cached=True))
        else:
            pending.append(c)
    if executor == "inline":
        for c in pending:
            finish(_settle(c, lambda c=c: run_one(c.id, quick, c.seed, device), quick, cache_dir))
    else:
        futures = {executor.submit(run_one, c.id, quick, c.seed, device): c for c in pending}
        try:
            for fut in cf.as_completed(futures):
                finish(_settle(futures[fut], fut.result, quick, cache_dir))
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
    return [done[c.id] for c in claims]


def _settle(c: Claim, get: Callable[[], ClaimResult], quick: bool, cache_dir) -> Outcome:
    """The outcome of ``get()``: stored in the cache if it returned, ERROR with its traceback if it raised."""
    try:
        result = get()
    except Exception as exc:  # a failing claim must not take the run down
        return Outcome(
            c, None, error=f"{type(exc).__name__}: {exc}", traceback="".join(traceback.format_exception(exc))
        )
    store(c, result, quick=quick, cache_dir=cache_dir)
    return Outcome(c, result)
