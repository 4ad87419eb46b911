"""Deep linear networks: each claim holds and its negative control is rejected (verify.claims.deep_linear)."""

from verify.assertions import claim_tests

CLAIMS = ["dln.two_layer_trajectory", "dln.learning_times", "dln.depth", "dln.balanced_riccati",
          "dln.end_to_end", "dln.dynamical_isometry"]

test_claim, test_claim_full, test_claim_fresh_seed = claim_tests(CLAIMS)
