"""Unit tests of the verify core: statistics helpers, evidence records, registry, the no-check hook."""

import json
import pathlib

import numpy as np
import pytest

from dltheory.verify import registry, stats
from dltheory.verify.evidence import Check, ClaimResult, Evidence, Panel

pytest_plugins = ["pytester"]


def test_claims_declare_reference_control_and_seed():
    for c in registry.all_claims():
        assert c.reference and c.control and isinstance(c.seed, int) and c.quick, c.id


def test_deterministic_check_passes_and_fails():
    assert stats.deterministic("x", 1.0 + 1e-12, 1.0, atol=1e-10, reason="r").passed
    assert not stats.deterministic("x", 1.0 + 1e-8, 1.0, atol=1e-10, reason="r").passed
    assert not stats.deterministic("x", np.nan, 1.0, atol=1e-10, reason="r").passed


def test_mean_matches_uses_standard_error():
    g = np.random.default_rng(0)
    samples = g.normal(1.0, 1.0, size=(400, 3))
    assert stats.mean_matches("m", samples, 1.0, alpha=1e-3).passed
    # a shift of 10 standard errors must be rejected
    assert not stats.mean_matches("m", samples, 1.0 + 10 / np.sqrt(400), alpha=1e-3).passed
    # ... unless the stated bias bound covers it
    assert stats.mean_matches("m", samples, 1.5, alpha=1e-3, bias=0.6, bias_reason="test").passed


def test_false_failure_rate_of_mean_matches_is_at_most_alpha():
    g = np.random.default_rng(1)
    fails = sum(not stats.mean_matches("m", g.normal(size=(50, 1)), 0.0, alpha=0.05).passed for _ in range(2000))
    # Binomial(2000, ~0.05 + small t-vs-z excess): mean ~100-130, SD ~ 10
    assert 60 < fails < 170


def test_distribution_matches():
    g = np.random.default_rng(2)
    x = g.normal(size=2000)
    from scipy import stats as st

    assert stats.distribution_matches("ks", x, st.norm.cdf, alpha=1e-3).passed
    assert not stats.distribution_matches("ks", x, st.norm(0.3).cdf, alpha=1e-3).passed
    assert stats.distribution_matches("ks2", x, g.normal(size=2000), alpha=1e-3).passed


def test_rate_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="decade"):
        stats.fit_rate([1, 2, 3, 4], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="positive"):
        stats.fit_rate([1, 3, 10, 30, 100], [1, 0, 3, 4, 5])
    with pytest.raises(ValueError, match="alpha"):
        stats.bonferroni(1.5, 2)


def test_evidence_roundtrip_and_verdict():
    ok = Check("a", 0.5, 1.0, "<=", "d")
    bad = Check("b", 0.01, 0.05, ">=", "p")
    ev = Evidence(
        "c",
        "ref",
        {"x": np.float64(1.0)},
        3,
        (ok, bad),
        ({"panel": "p", "x": np.float64(1)},),
        (Panel("p", "x", "y"),),
        "published",
    )
    assert not ev.passed and ev.failures() == [bad]
    ctrl = Evidence("c", "ref", {}, 3, (bad,), prediction="wrong")
    res = ClaimResult(ev, (ctrl, ctrl), (0.01, float("inf")), 0.1, 1.0)
    back = ClaimResult.from_dict(json.loads(json.dumps(res.to_dict())))
    assert back == res and back.resolution_delta == float("inf") and not back.resolved
    assert not Evidence("c", "r", {}, 0, ()).passed  # no check means no pass


def test_hook_fails_a_verify_test_without_checks(pytester):
    conftest = pathlib.Path(registry.__file__).parent / "suite" / "conftest.py"
    pytester.makeconftest(conftest.read_text())
    pytester.makepyfile(test_empty="def test_nothing():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*recorded no check*"])


def test_rate_fit_rows_draw_points_and_the_predicted_slope():
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    fit = stats.fit_rate(x, 3.0 * x**-0.5)
    rows = fit.rows("p", "err", -0.5)
    points = [r for r in rows if np.isfinite(r["simulated"])]
    line = [r for r in rows if np.isfinite(r["theory"])]
    assert [r["x"] for r in points] == x.tolist() and "fitted slope -0.500" in points[0]["series"]
    np.testing.assert_allclose([r["theory"] for r in line], [3.0 * r["x"] ** -0.5 for r in line], rtol=1e-12)


def test_readme_claims_table_is_generated_from_the_registry():
    """README.md holds `dltheory list --markdown` verbatim between its claims markers."""
    from dltheory.verify.cli import claims_markdown

    readme = (pathlib.Path(registry.__file__).parents[1] / "README.md").read_text()
    start, end = "<!-- claims table: dltheory list --markdown -->\n", "<!-- end of claims table -->"
    assert start in readme and end in readme, "README.md lacks the claims-table markers"
    table = readme[readme.index(start) + len(start) : readme.index(end)].strip()
    real = [c for c in registry.all_claims() if not c.id.startswith("test.")]
    assert table == claims_markdown(real).strip(), "README.md's claims table is stale: regenerate it"


def test_rate_matches_uses_known_ses_and_rejects_a_wrong_slope():
    rng = np.random.default_rng(0)
    n = np.array([16.0, 32, 64, 128, 256, 512])
    se = 0.01 / n
    values = 1.0 / n + se * rng.standard_normal(n.size)
    assert stats.rate_matches("slope", n, values, se, -1.0, alpha=1e-3).passed
    # a 5 % error in the exponent is far outside the slope's SE (~0.005): a t(dof=4) test would pass it
    assert not stats.rate_matches("slope", n, values, se, -1.05, alpha=1e-3).passed


def test_limit_matches_extrapolates_with_known_ses():
    x = 1.0 / np.array([8.0, 16, 32, 64, 128])
    values, se = 2.0 + 3.0 * x, np.full(5, 1e-3)
    assert stats.limit_matches("limit", x, values, se, 2.0, alpha=1e-3).passed
    assert not stats.limit_matches("limit", x, values, se, 2.02, alpha=1e-3).passed
    assert stats.fixed_limit_matches("fixed", x, values, se, 2.0, degree=1, alpha=1e-3).passed
    assert not stats.fixed_limit_matches("fixed", x, values, se, 2.02, degree=1, alpha=1e-3).passed


def test_local_slope_matches_the_order_of_a_deterministic_error():
    eta = 0.04 / 2.0 ** np.arange(6)
    err = 3.0 * eta * (1 + 5.0 * eta)  # O(eta) with an O(eta^2) correction
    assert stats.local_slope_matches("order", eta, err, 1.0).passed
    assert not stats.local_slope_matches("order", eta, err, 1.1).passed
    assert not stats.local_slope_matches("order", eta, err + 1e-2, 1.0).passed  # error not tending to 0


def test_binomial_and_two_proportions():
    assert stats.binomial_matches("rate", 52, 1000, 0.05, alpha=1e-3).passed
    assert not stats.binomial_matches("rate", 52, 1000, 0.2, alpha=1e-3).passed
    assert stats.proportions_match("same", 10, 1000, 12, 1000, alpha=1e-3).passed
    assert not stats.proportions_match("differ", 10, 1000, 40, 1000, alpha=1e-3).passed
