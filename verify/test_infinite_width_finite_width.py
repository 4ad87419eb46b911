"""Finite-width corrections (PDLT): each claim holds and its negative control is rejected (verify.claims.finite_width)."""

from verify.assertions import claim_tests

CLAIMS = ["pdlt.relu_kurtosis", "pdlt.tanh_vertex"]

test_claim, test_claim_full, test_claim_fresh_seed = claim_tests(CLAIMS)
