"""Grokking: each claim holds and its negative control is rejected (verify.claims.grokking)."""

import pytest

from verify import registry
from verify.assertions import assert_claim

CLAIMS = ["grok.linear_times", "grok.linear_weight_decay", "grok.analytic_solution", "grok.mlp_grokking",
          "grok.fourier_mechanism", "grok.phase_diagram"]


@pytest.mark.parametrize("claim_id", CLAIMS)
def test_claim(claim_id):
    assert_claim(registry.run(claim_id, quick=True))


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", CLAIMS)
def test_claim_full(claim_id):
    assert_claim(registry.run(claim_id, quick=False))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("claim_id", CLAIMS)
def test_claim_fresh_seed(claim_id, seed):
    """Fresh seeds (not the pinned ones): measures the real false-failure rate of each quick check."""
    assert_claim(registry.run(claim_id, quick=True, seed=seed))
