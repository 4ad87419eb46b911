"""Claim-suite hook: a test here that asserted no check through dltheory.verify.assertions fails."""

from __future__ import annotations

import pytest

from dltheory.verify import assertions


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    assertions.reset_recorded()
    result = yield
    if assertions.checks_recorded() == 0:
        raise pytest.fail.Exception(
            f"{item.nodeid} recorded no check: claim tests must assert through "
            "dltheory.verify.assertions.assert_claim / assert_evidence",
            pytrace=False,
        )
    return result
