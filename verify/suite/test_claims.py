"""The claim suite: every registered claim holds and its negative control is rejected (parametrised from the registry).

A claim id names its module: ``pdlt.relu_kurtosis`` is defined in ``dltheory/verify/claims/pdlt.py``; select one
area with ``pytest verify -k pdlt``.
"""

from dltheory.verify import registry
from dltheory.verify.assertions import claim_tests

test_claim, test_claim_full, test_claim_fresh_seed = claim_tests([c.id for c in registry.all_claims()])
