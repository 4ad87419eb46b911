"""muP coordinate check: the claim holds and its negative control is rejected (verify.claims.mup)."""

from verify.assertions import claim_tests

CLAIMS = ["mup.coord_check"]

test_claim, test_claim_full, test_claim_fresh_seed = claim_tests(CLAIMS)
