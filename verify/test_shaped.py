"""Shaped networks: each claim holds and its negative control is rejected (verify.claims.shaped)."""

from verify.assertions import claim_tests

CLAIMS = ["shaped.relu_correlation", "shaped.relu_norm", "shaped.hanin_nica", "shaped.rank_collapse",
          "shaped.attention_generator", "shaped.attention_trajectory", "shaped.block_trajectory",
          "shaped.block_diffusion"]

test_claim, test_claim_full, test_claim_fresh_seed = claim_tests(CLAIMS)
