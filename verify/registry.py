"""The claim registry: one source for `dltheory list`, `pytest verify` and `dltheory report`.

A claim is three parts, declared with :func:`claim` in a module of ``verify/claims/`` named after the claim
id's prefix (``pdlt.*`` lives in ``verify/claims/pdlt.py``):

- ``simulate(ctx) -> data``: runs the finite networks once (seeds from ``ctx.seed``);
- ``predictions``: named :class:`~dltheory.verify.prediction.Prediction` objects (or a function of the
  parameter set returning them): ``"published"`` and at least two controls, each named after the plausible
  mistake it makes;
- ``judge(ctx, data, prediction) -> Evidence``: the decorated function. It is called once per prediction with
  the same ``data`` and never learns which prediction it judges;
- ``formulas`` (optional): the predictions in mathematical notation, a mapping prediction name -> sympy
  expression or equation (or a tuple of them), or a function of the parameter set returning one. Symbols carry
  the paper's names. Where a claim evaluates a closed form numerically, the numeric function is lambdified from
  (or tested equal to) the expression shown, so the report's formula is the one the check used.

:func:`run` simulates once, judges every prediction, checks that no judge changed the data, and measures the
claim's resolution: the smallest relative perturbation delta of the published prediction (see
:meth:`~dltheory.verify.prediction.Prediction.perturbed`) that the same judge rejects on the same data, taken
over both signs. A claim holds when the published prediction passes, every control is rejected, and the
resolution is at most the bound the claim declares.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import importlib
import math
import pickle
import pkgutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from dltheory.verify.evidence import Check, ClaimResult, Evidence, Panel
from dltheory.verify.prediction import Prediction

__all__ = ["Claim", "ClaimContext", "claim", "all_claims", "get", "select", "run", "resolution"]

PUBLISHED = "published"
RESOLUTION_RANGE = (1e-12, 1.0)  # the resolution search: delta below the floor counts as the floor, above 1 as inf
RESOLUTION_STEP = 1.1  # bisection stops when the bracket's ratio is below this (resolution known to 10 %)


def child_seeds(seed: int, k: int) -> list[int]:
    """k independent int seeds for the simulators of one claim (children of one SeedSequence)."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(k)]


@dataclass(frozen=True)
class ClaimContext:
    """What simulate and judge receive: the claim, the parameter set, the seed and an executor.

    Claims that sweep (widths, depths, phase diagrams) pass ``executor`` to :func:`dltheory.simulators.sweep.sweep`;
    ``"inline"`` (the default) runs the tasks in this process, a ``concurrent.futures.Executor`` (local
    processes, Dask distributed) spreads them. Results do not depend on it: seeds are spawned per task.
    """

    claim: Claim
    params: dict
    seed: int
    quick: bool
    executor: object = "inline"

    def evidence(self, checks: Sequence[Check], rows: Sequence[dict] = (), panels: Sequence[Panel] = ()) -> Evidence:
        """Package checks and tidy rows as an Evidence record (the registry names the prediction)."""
        return Evidence(
            claim_id=self.claim.id,
            reference=self.claim.reference,
            params=dict(self.params),
            seed=self.seed,
            checks=tuple(checks),
            rows=tuple(rows),
            panels=tuple(panels),
        )


@dataclass(frozen=True)
class Claim:
    """A published, falsifiable statement with its simulation, predictions and judge.

    ``quick`` parameters are the default tier (CI, ``dltheory report``); ``full`` the slow tier.
    ``resolution`` is the bound the claim declares on its measured resolution (a relative error).
    """

    id: str
    area: str
    title: str
    reference: str
    seed: int
    quick: dict
    full: dict
    resolution: float
    simulate: Callable[[ClaimContext], object] = field(repr=False, compare=False)
    judge: Callable[[ClaimContext, object, Prediction], Evidence] = field(repr=False, compare=False)
    predictions: Mapping[str, Prediction] | Callable[[dict], Mapping[str, Prediction]] = field(
        repr=False, compare=False
    )
    formulas: Mapping[str, object] | Callable[[dict], Mapping[str, object]] | None = field(
        default=None, repr=False, compare=False
    )

    def params(self, quick: bool = True) -> dict:
        return dict(self.quick if quick else self.full)

    def predictions_for(self, params: dict) -> dict[str, Prediction]:
        preds = dict(self.predictions(params) if callable(self.predictions) else self.predictions)
        if PUBLISHED not in preds or len(preds) < 3:
            raise ValueError(f"claim {self.id}: predictions need 'published' and >= 2 controls, got {sorted(preds)}")
        bad = [k for k, v in preds.items() if not isinstance(v, Prediction)]
        if bad:
            raise TypeError(f"claim {self.id}: predictions {bad} are not Prediction objects")
        return preds

    def formulas_for(self, params: dict, predictions: Mapping[str, Prediction] | None = None) -> dict[str, tuple]:
        """Prediction name -> tuple of sympy expressions/equations, "published" first ({} if none declared).

        Raises TypeError for a formula that is not a sympy object and, given the ``predictions`` to check against
        (:func:`run` passes them), ValueError for a formula naming no prediction."""
        if self.formulas is None:
            return {}
        import sympy

        raw = dict(self.formulas(params) if callable(self.formulas) else self.formulas)
        if predictions is not None and set(raw) - set(predictions):
            raise ValueError(
                f"claim {self.id}: formulas {sorted(set(raw) - set(predictions))} name no prediction; "
                f"predictions are {list(predictions)}"
            )
        out = {}
        for name in sorted(raw, key=lambda k: k != PUBLISHED):
            value = raw[name]
            exprs = tuple(value) if isinstance(value, list | tuple) else (value,)
            bad = [e for e in exprs if not isinstance(e, sympy.Basic)]
            if not exprs or bad:
                raise TypeError(
                    f"claim {self.id}: formula for {name!r} must be sympy expressions, got {bad or value!r}"
                )
            out[name] = exprs
        return out

    @property
    def controls(self) -> list[str]:
        """The controls' names (each states the plausible mistake it makes)."""
        return [k for k in self.predictions_for(self.quick) if k != PUBLISHED]

    @property
    def control(self) -> str:
        return "; ".join(self.controls)


_REGISTRY: dict[str, Claim] = {}


def claim(
    id: str,
    *,
    area: str,
    title: str,
    reference: str,
    seed: int,
    quick: dict,
    full: dict | None = None,
    simulate: Callable[[ClaimContext], object],
    predictions: Mapping[str, Prediction] | Callable[[dict], Mapping[str, Prediction]],
    resolution: float,
    formulas: Mapping[str, object] | Callable[[dict], Mapping[str, object]] | None = None,
) -> Callable:
    """Register the decorated ``judge(ctx, data, prediction) -> Evidence`` as claim ``id``.

    ``formulas`` (optional): prediction name -> sympy expression(s), or a function of the parameter set
    returning that mapping (see the module docstring)."""
    if not (isinstance(resolution, float | int) and 0 < resolution <= 1):
        raise ValueError(f"claim {id}: resolution (the declared bound) must lie in (0, 1], got {resolution!r}")

    def decorate(judge: Callable) -> Callable:
        if id in _REGISTRY and _REGISTRY[id].judge.__qualname__ != judge.__qualname__:
            raise ValueError(f"claim id {id!r} registered twice")
        _REGISTRY[id] = Claim(
            id=id,
            area=area,
            title=title,
            reference=reference,
            seed=seed,
            quick=dict(quick),
            full=dict(full if full is not None else quick),
            resolution=float(resolution),
            simulate=simulate,
            judge=judge,
            predictions=predictions,
            formulas=formulas,
        )
        return judge

    return decorate


def _load() -> None:
    import dltheory.verify.claims as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if not mod.name.startswith("_"):
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


def _fingerprint(data) -> str:
    return hashlib.sha256(pickle.dumps(data, protocol=5)).hexdigest()


def _judge(c: Claim, ctx: ClaimContext, data, prediction: Prediction, name: str) -> Evidence:
    evidence = c.judge(ctx, data, prediction)
    if not isinstance(evidence, Evidence):
        raise TypeError(f"claim {c.id}: judge must return an Evidence, got {type(evidence).__name__}")
    return dataclasses.replace(evidence, prediction=name)


def _rejects(c: Claim, ctx: ClaimContext, data, prediction: Prediction) -> bool:
    try:
        return not c.judge(ctx, data, prediction).passed
    except (ArithmeticError, ValueError):  # a perturbed prediction the judge cannot even evaluate is rejected
        return True


def resolution(c: Claim, ctx: ClaimContext, data, published: Prediction) -> tuple[float, float]:
    """Smallest delta in RESOLUTION_RANGE with the published prediction scaled by 1 - delta, resp. 1 + delta,
    rejected (to 10 %, by bisection in log delta); inf where even delta = 1 is accepted."""
    lo_end, hi_end = RESOLUTION_RANGE
    out = []
    for sign in (-1.0, 1.0):
        if not _rejects(c, ctx, data, published.perturbed(sign * hi_end)):
            out.append(math.inf)
            continue
        if _rejects(c, ctx, data, published.perturbed(sign * lo_end)):
            out.append(lo_end)
            continue
        lo, hi = lo_end, hi_end
        while hi / lo > RESOLUTION_STEP:
            mid = math.sqrt(lo * hi)
            lo, hi = (lo, mid) if _rejects(c, ctx, data, published.perturbed(sign * mid)) else (mid, hi)
        out.append(hi)
    return out[0], out[1]


def run(
    claim_id: str | Claim,
    *,
    quick: bool = True,
    seed: int | None = None,
    params: dict | None = None,
    executor: object = "inline",
) -> ClaimResult:
    """Run one claim: simulate once, judge every prediction on the same data, measure the resolution."""
    c = claim_id if isinstance(claim_id, Claim) else get(claim_id)
    ctx = ClaimContext(
        claim=c,
        params=params if params is not None else c.params(quick),
        seed=c.seed if seed is None else int(seed),
        quick=quick,
        executor=executor,
    )
    start = time.perf_counter()
    preds = c.predictions_for(ctx.params)
    c.formulas_for(ctx.params, preds)  # a formula naming no prediction is a defect of the claim: fail early
    data = c.simulate(ctx)
    before = _fingerprint(data)
    evidence = _judge(c, ctx, data, preds[PUBLISHED], PUBLISHED)
    controls = tuple(_judge(c, ctx, data, p, name) for name, p in preds.items() if name != PUBLISHED)
    res = resolution(c, ctx, data, preds[PUBLISHED]) if evidence.passed else (math.nan, math.nan)
    if _fingerprint(data) != before:
        raise RuntimeError(f"claim {c.id}: a judge changed the simulated data (judges must not mutate it)")
    return ClaimResult(
        evidence, controls, resolution=res, resolution_bound=c.resolution, runtime_s=time.perf_counter() - start
    )
