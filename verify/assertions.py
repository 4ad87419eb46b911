"""The one place the pytest suite turns a ClaimResult into pass/fail, counting checks as it goes.

``verify/conftest.py`` fails any verify test that asserted no check through here.
"""

from __future__ import annotations

from verify.evidence import ClaimResult, Evidence

__all__ = ["assert_claim", "assert_evidence", "checks_recorded", "reset_recorded"]

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
    """Assert the claim holds and its negative control is rejected."""
    global _recorded
    assert_evidence(result.evidence)
    if not result.control.checks:
        raise AssertionError(f"{result.control.claim_id}: negative control holds no check")
    _recorded += len(result.control.checks)
    assert not result.control.passed, (
        "negative control PASSED (the check cannot tell the published prediction from a wrong one):\n"
        + result.control.describe())
