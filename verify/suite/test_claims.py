"""The claim suite: every library claim holds, its controls are rejected and its resolution meets its declared bound.

A claim id names its module: ``pdlt.relu_kurtosis`` is defined in ``dltheory/verify/claims/pdlt.py``; select one
area with ``pytest verify -k pdlt``.
"""

from dltheory.verify import registry
from dltheory.verify.assertions import claim_tests

# the library's claims only (unit tests in tests/ register fake ones in the same session)
LIBRARY = [c.id for c in registry.all_claims() if c.judge.__module__.startswith("dltheory.verify.claims.")]
test_claim, test_claim_full, test_claim_fresh_seed = claim_tests(LIBRARY)
