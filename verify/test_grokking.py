"""Grokking: each claim holds and its negative control is rejected (verify.claims.grokking)."""

from verify.assertions import claim_tests

CLAIMS = ["grok.linear_times", "grok.linear_weight_decay", "grok.analytic_solution", "grok.mlp_grokking",
          "grok.fourier_mechanism", "grok.phase_diagram"]

test_claim, test_claim_full, test_claim_fresh_seed = claim_tests(CLAIMS)
