"""The claim registry: one source for `dltheory list`, `pytest verify` and `dltheory report`.

A claim module in ``verify/claims/`` declares each claim with :func:`claim`. The decorated function
takes a :class:`ClaimContext` (parameters, seed) and returns ``(evidence, control)``: the Evidence of
its check against the published prediction and against a deliberately wrong one. It runs the
simulation once and judges both predictions with the same code path.
"""

from __future__ import annotations

import fnmatch
import importlib
import pkgutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from dltheory.verify.evidence import Check, ClaimResult, Evidence, Panel

__all__ = ["Claim", "ClaimContext", "claim", "all_claims", "get", "select", "run"]


@dataclass(frozen=True)
class ClaimContext:
    """What a claim function receives: its metadata, the parameter set, the seed and an executor.

    Claims that sweep (widths, depths, phase diagrams) pass ``executor`` to :func:`dltheory.simulators.sweep.sweep`;
    ``"inline"`` (the default) runs the tasks in this process, a ``concurrent.futures.Executor`` (local
    processes, Dask distributed) spreads them. Results do not depend on it: seeds are spawned per task.
    """

    claim: Claim
    params: dict
    seed: int
    quick: bool
    executor: object = "inline"

    def evidence(
        self,
        checks: Sequence[Check],
        rows: Sequence[dict] = (),
        panels: Sequence[Panel] = (),
        *,
        prediction: str = "published",
    ) -> Evidence:
        """Package checks and tidy rows as an Evidence record for this claim."""
        return Evidence(
            claim_id=self.claim.id,
            reference=self.claim.reference,
            params=dict(self.params),
            seed=self.seed,
            checks=tuple(checks),
            rows=tuple(rows),
            panels=tuple(panels),
            prediction=prediction,
        )


@dataclass(frozen=True)
class Claim:
    """A published, falsifiable statement with its check.

    ``quick`` parameters are the default tier (CI, ``dltheory report --quick``); ``full`` the slow tier.
    ``control`` says in words which wrong prediction the negative control uses.
    """

    id: str
    area: str
    title: str
    reference: str
    control: str
    seed: int
    quick: dict
    full: dict
    fn: Callable[[ClaimContext], tuple[Evidence, Evidence]] = field(repr=False, compare=False)

    def params(self, quick: bool = True) -> dict:
        return dict(self.quick if quick else self.full)


_REGISTRY: dict[str, Claim] = {}


def claim(
    id: str, *, area: str, title: str, reference: str, control: str, seed: int, quick: dict, full: dict | None = None
) -> Callable:
    """Register a claim function under ``id`` (decorator)."""

    def decorate(fn: Callable[[ClaimContext], tuple[Evidence, Evidence]]) -> Callable:
        if id in _REGISTRY and _REGISTRY[id].fn.__qualname__ != fn.__qualname__:
            raise ValueError(f"claim id {id!r} registered twice")
        _REGISTRY[id] = Claim(
            id=id,
            area=area,
            title=title,
            reference=reference,
            control=control,
            seed=seed,
            quick=dict(quick),
            full=dict(full if full is not None else quick),
            fn=fn,
        )
        return fn

    return decorate


def _load() -> None:
    import dltheory.verify.claims as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")


def all_claims() -> list[Claim]:
    """Every registered claim, sorted by id."""
    _load()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get(claim_id: str) -> Claim:
    _load()
    try:
        return _REGISTRY[claim_id]
    except KeyError:
        raise KeyError(f"unknown claim {claim_id!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def select(pattern: str | None = None) -> list[Claim]:
    """Claims whose id matches the glob ``pattern`` (substring match if it has no wildcard)."""
    claims = all_claims()
    if not pattern:
        return claims
    if not any(ch in pattern for ch in "*?["):
        pattern = f"*{pattern}*"
    chosen = [c for c in claims if fnmatch.fnmatch(c.id, pattern)]
    if not chosen:
        raise ValueError(f"--claims {pattern!r} matches no claim; known: {', '.join(c.id for c in claims)}")
    return chosen


def run(
    claim_id: str | Claim,
    *,
    quick: bool = True,
    seed: int | None = None,
    params: dict | None = None,
    executor: object = "inline",
) -> ClaimResult:
    """Run one claim (simulation + both verdicts) and time it. No caching here; see dltheory.verify.cache."""
    c = claim_id if isinstance(claim_id, Claim) else get(claim_id)
    ctx = ClaimContext(
        claim=c,
        params=params if params is not None else c.params(quick),
        seed=c.seed if seed is None else int(seed),
        quick=quick,
        executor=executor,
    )
    start = time.perf_counter()
    evidence, control = c.fn(ctx)
    if control.prediction == "published":
        raise RuntimeError(f"claim {c.id}: the negative control must name its wrong prediction")
    return ClaimResult(evidence, control, runtime_s=time.perf_counter() - start)
