"""The one place the pytest suite turns a ClaimResult into pass/fail, counting checks as it goes.

``verify/suite/conftest.py`` fails any verify test that asserted no check through here.
"""

from __future__ import annotations

from dltheory.verify.evidence import ClaimResult, Evidence

__all__ = ["assert_claim", "assert_evidence", "checks_recorded", "claim_tests", "reset_recorded"]

_recorded = 0


def checks_recorded() -> int:
    return _recorded


def reset_recorded() -> None:
    global _recorded
    _recorded = 0


def assert_evidence(evidence: Evidence) -> None:
    """Assert that every check of ``evidence`` passes (and that it has at least one)."""
    global _recorded
    if not evidence.checks:
        raise AssertionError(f"{evidence.claim_id}: evidence holds no check")
    _recorded += len(evidence.checks)
    assert evidence.passed, "claim rejected:\n" + evidence.describe()


def assert_claim(result: ClaimResult) -> None:
    """Assert the claim holds, every control is rejected, and the resolution meets the declared bound."""
    global _recorded
    assert_evidence(result.evidence)
    for control in result.controls:
        if not control.checks:
            raise AssertionError(f"{control.claim_id}: control {control.prediction!r} holds no check")
        _recorded += len(control.checks)
        assert not control.passed, (
            f"control {control.prediction!r} PASSED (the check cannot tell the published prediction from this "
            "plausible mistake):\n" + control.describe()
        )
    assert len(result.controls) >= 2, f"{result.evidence.claim_id}: needs >= 2 controls, has {len(result.controls)}"
    _recorded += 1
    lo, hi = result.resolution
    assert result.resolved, (
        f"{result.evidence.claim_id}: resolution {result.resolution_delta:.3g} (rejects 1 - {lo:.3g} and "
        f"1 + {hi:.3g}) is worse than the declared bound {result.resolution_bound:.3g}"
    )


FRESH_SEEDS = (1, 2, 3, 4, 5)


def claim_tests(claims: list[str]):
    """The three pytest tests every verify module runs over its ``claims``:

    ``test_claim`` (quick tier, pinned seed), ``test_claim_full`` (slow: full sizes) and
    ``test_claim_fresh_seed`` (slow: quick tier with seeds 1-5, which measures the real false-failure
    rate of each check). Use as ``test_claim, test_claim_full, test_claim_fresh_seed = claim_tests(CLAIMS)``.
    """
    import pytest

    from dltheory.verify import registry

    @pytest.mark.parametrize("claim_id", claims)
    def test_claim(claim_id):
        assert_claim(registry.run(claim_id, quick=True))

    @pytest.mark.slow
    @pytest.mark.parametrize("claim_id", claims)
    def test_claim_full(claim_id):
        assert_claim(registry.run(claim_id, quick=False))

    @pytest.mark.slow
    @pytest.mark.parametrize("seed", FRESH_SEEDS)
    @pytest.mark.parametrize("claim_id", claims)
    def test_claim_fresh_seed(claim_id, seed):
        assert_claim(registry.run(claim_id, quick=True, seed=seed))

    return test_claim, test_claim_full, test_claim_fresh_seed
