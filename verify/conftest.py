"""Verify-suite hooks: a verify test that asserted no check through verify.assertions fails."""

from __future__ import annotations

import pytest

from verify import assertions


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    assertions.reset_recorded()
    result = yield
    if assertions.checks_recorded() == 0:
        raise pytest.fail.Exception(
            f"{item.nodeid} recorded no check: verify tests must assert through "
            "verify.assertions.assert_claim / assert_evidence", pytrace=False)
    return result
