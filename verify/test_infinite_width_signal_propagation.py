"""Signal propagation: each claim holds and its negative control is rejected (verify.claims.signal_propagation)."""

from verify.assertions import claim_tests

CLAIMS = ["sigprop.maps", "sigprop.selu"]

test_claim, test_claim_full, test_claim_fresh_seed = claim_tests(CLAIMS)
