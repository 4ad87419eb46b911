"""The claim shape: simulate once, judge every prediction on identical data, measure the resolution."""

import math

import numpy as np
import pytest

from dltheory.verify import registry, stats
from dltheory.verify.prediction import Prediction, exponent, fixed, scaled, zero

SEEN: list = []


def _simulate(ctx):
    rng = np.random.default_rng(ctx.seed)
    return {"samples": rng.normal(2.0, 1.0, size=(ctx.params["n"], 3))}


@registry.claim(
    "test.registry.mean",
    area="testing",
    title="the mean is 2",
    reference="Fake 2024, eq. 1",
    seed=5,
    quick={"n": 10_000},
    simulate=_simulate,
    predictions={
        "published": Prediction(mean=2.0),
        "mean off by 10 %": Prediction(mean=2.2),
        "mean of the square": Prediction(mean=5.0),
    },
    resolution=0.1,
)
def _judge(ctx, data, prediction):
    SEEN.append(id(data))
    check = stats.mean_matches("mean", data["samples"], prediction["mean"], alpha=stats.ALPHA, seed=ctx.seed)
    return ctx.evidence([check])


def test_run_simulates_once_and_judges_every_prediction_on_the_same_data():
    SEEN.clear()
    result = registry.run("test.registry.mean")
    assert result.evidence.passed and result.evidence.prediction == "published"
    assert [c.prediction for c in result.controls] == ["mean off by 10 %", "mean of the square"]
    assert result.controls_rejected and result.ok
    assert len(set(SEEN)) == 1 and len(SEEN) > 3  # one data object for all judges (resolution included)


def test_resolution_is_the_smallest_rejected_relative_error():
    result = registry.run("test.registry.mean")
    # SE of the mean = 0.01, z(1e-3 / 3) = 3.59: a shift of ~0.036 + |sampling error| is rejected, i.e. ~2 %
    lo, hi = result.resolution
    assert 0.005 < lo < 0.05 and 0.005 < hi < 0.05
    assert result.resolution_delta <= result.resolution_bound


def test_a_judge_that_mutates_the_data_is_an_error():
    c = registry.get("test.registry.mean")

    def judge(ctx, data, prediction):
        data["samples"] = data["samples"] * 1.5
        return _judge(ctx, data, prediction)

    bad = registry.Claim(**{**c.__dict__, "id": "test.registry.mutating", "judge": judge})
    with pytest.raises(RuntimeError, match="changed the simulated data"):
        registry.run(bad)


def test_a_claim_needs_published_and_two_controls():
    c = registry.get("test.registry.mean")
    one = registry.Claim(**{**c.__dict__, "predictions": {"published": Prediction(mean=2.0), "x": Prediction(mean=1)}})
    with pytest.raises(ValueError, match=">= 2 controls"):
        registry.run(one)


def test_perturbations_by_kind():
    p = Prediction(a=scaled(2.0), e=exponent(-0.5), z=zero(scale=3.0), f=fixed(7), g=lambda x: x**2)
    q = p.perturbed(0.1)
    assert q["a"] == pytest.approx(2.2) and q["e"] == pytest.approx(-0.4) and q["z"] == pytest.approx(0.3)
    assert q["f"] == 7 and q["g"](3.0) == pytest.approx(9.9)
    assert p["g"](3.0) == 9.0 and math.isclose(p.perturbed(-0.1)["a"], 1.8)
    with pytest.raises(KeyError, match="no quantity"):
        p["missing"]
