"""Evidence records: what one claim check found, in a form pytest asserts on and the report draws.

A claim run produces a :class:`ClaimResult`: the :class:`Evidence` of the check against the published
prediction, the Evidence of the same check against each control (a plausible wrong prediction, which must be
rejected), and the claim's resolution. Evidence holds a list of :class:`Check` decisions plus tidy rows
(theory vs simulation with standard errors) and plot hints for the report.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Check", "Evidence", "ClaimResult", "Panel", "percent"]


def _plain(value: Any) -> Any:
    """Convert numpy scalars/arrays (recursively) to JSON-friendly Python objects."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True)
class Check:
    """One pass/fail decision: ``statistic <relation> threshold``.

    ``relation`` is ``"<="`` (e.g. |estimate - theory| <= z SE + bias) or ``">="`` (e.g. p-value >= alpha).
    ``detail`` carries theory value, estimate, SE, z or p and the seed, for failure messages.
    """

    name: str
    statistic: float
    threshold: float
    relation: str
    detail: str

    def __post_init__(self) -> None:
        if self.relation not in ("<=", ">="):
            raise ValueError(f"relation must be '<=' or '>=', got {self.relation!r}")

    @property
    def passed(self) -> bool:
        s, t = float(self.statistic), float(self.threshold)
        if math.isnan(s) or math.isnan(t):
            return False
        return s <= t if self.relation == "<=" else s >= t

    def summary(self) -> str:
        verdict = "pass" if self.passed else "FAIL"
        return f"[{verdict}] {self.name}: {self.statistic:.4g} {self.relation} {self.threshold:.4g} -- {self.detail}"


@dataclass(frozen=True)
class Panel:
    """Plot hints for one figure panel; rows of the tidy table with the same ``panel`` go in it.

    ``kind="line"``: each series is drawn as a theory curve (``theory``) and/or simulated points with
    error bars (``simulated``, ``se``) against ``x``. ``kind="heatmap"``: rows carry ``x``, ``y`` and the
    cell value in ``simulated`` (series ``"grid"``); rows of any other series are drawn as a theory line
    through their ``(x, y)`` points over the map (e.g. a predicted phase boundary). ``clabel`` names the
    colour scale of a heatmap.
    """

    name: str
    xlabel: str
    ylabel: str
    xscale: str = "linear"
    yscale: str = "linear"
    title: str = ""
    kind: str = "line"
    clabel: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("line", "heatmap"):
            raise ValueError(f"Panel.kind must be 'line' or 'heatmap', got {self.kind!r}")


@dataclass(frozen=True)
class Evidence:
    """What a claim check found.

    ``rows``: tidy records with keys ``panel, series, x, theory, simulated, se`` (simulated/se may be
    NaN for theory-only curve points, theory may be NaN for simulation-only points); heatmap panels add
    ``y``.
    """

    claim_id: str
    reference: str
    params: dict
    seed: int
    checks: tuple[Check, ...]
    rows: tuple[dict, ...] = ()
    panels: tuple[Panel, ...] = ()
    prediction: str = "published"

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def describe(self) -> str:
        head = f"{self.claim_id} vs {self.prediction} prediction ({self.reference}), seed={self.seed}"
        return "\n".join([head, *("  " + c.summary() for c in self.checks)])

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        return _plain(d)

    @classmethod
    def from_dict(cls, d: dict) -> Evidence:
        return cls(
            claim_id=d["claim_id"],
            reference=d["reference"],
            params=d["params"],
            seed=d["seed"],
            checks=tuple(Check(**c) for c in d["checks"]),
            rows=tuple(d["rows"]),
            panels=tuple(Panel(**p) for p in d["panels"]),
            prediction=d["prediction"],
        )


@dataclass(frozen=True)
class ClaimResult:
    """A claim's run: the evidence against the published prediction, against each control, and the resolution.

    ``resolution`` is (delta_minus, delta_plus): the smallest relative perturbations 1 - delta and 1 + delta
    of the published prediction that the same judge rejects (NaN when the published prediction failed);
    ``resolution_bound`` is what the claim declares it must reach.
    """

    evidence: Evidence
    controls: tuple[Evidence, ...]
    resolution: tuple[float, float] = (math.nan, math.nan)
    resolution_bound: float = math.nan
    runtime_s: float = field(default=0.0, compare=False)

    @property
    def resolution_delta(self) -> float:
        """The claim's resolution: the worse of the two signs."""
        return max(self.resolution)

    @property
    def resolved(self) -> bool:
        return self.resolution_delta <= self.resolution_bound

    @property
    def controls_rejected(self) -> bool:
        return bool(self.controls) and not any(c.passed for c in self.controls)

    @property
    def ok(self) -> bool:
        """The claim holds, every control is rejected, and the resolution meets the declared bound."""
        return self.evidence.passed and self.controls_rejected and self.resolved

    def to_dict(self) -> dict:
        return {
            "evidence": self.evidence.to_dict(),
            "controls": [c.to_dict() for c in self.controls],
            "resolution": list(self.resolution),
            "resolution_bound": self.resolution_bound,
            "runtime_s": self.runtime_s,
        }

    @classmethod
    def from_dict(cls, d: dict) -> ClaimResult:
        return cls(
            Evidence.from_dict(d["evidence"]),
            tuple(Evidence.from_dict(c) for c in d["controls"]),
            tuple(float(x) for x in d["resolution"]),
            float(d["resolution_bound"]),
            float(d["runtime_s"]),
        )


def percent(delta: float) -> str:
    """A relative error for display: "2.1 %", "3.0e-09", "> 100 %" (inf), "n/a" (NaN)."""
    if delta != delta:  # NaN: the published prediction failed, so no resolution was measured
        return "n/a"
    if delta == float("inf"):
        return "> 100 %"
    return f"{delta * 100:.2g} %" if delta >= 1e-4 else f"{delta:.1e}"
