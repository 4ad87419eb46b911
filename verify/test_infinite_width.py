"""Infinite width: each claim holds and its negative control is rejected (verify.claims.infinite_width)."""

from verify.assertions import claim_tests

CLAIMS = ["ntk.kernels_mc", "ntk.finite_width_rates", "ntk.gd_dynamics"]

test_claim, test_claim_full, test_claim_fresh_seed = claim_tests(CLAIMS)
