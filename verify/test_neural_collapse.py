"""Neural collapse: each claim holds and its negative control is rejected (verify.claims.neural_collapse)."""

from verify.assertions import claim_tests

CLAIMS = ["nc.metrics", "nc.ufm_gd", "nc.imbalance", "nc.deep_linear", "nc.minority_collapse", "nc.terminal_phase"]

test_claim, test_claim_full, test_claim_fresh_seed = claim_tests(CLAIMS)
