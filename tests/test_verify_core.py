"""Unit tests of the verify core: statistics helpers, evidence records, registry, the no-check hook."""

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


def test_rate_fit_and_limit():
    x = np.array([0.1, 0.05, 0.02, 0.01, 0.005])
    fit = stats.fit_rate(x, 3 * x + 0.5 * x**2)
    assert stats.rate_matches("r", fit, 1.0, alpha=1e-3).passed
    assert not stats.rate_matches("r", fit, 2.0, alpha=1e-3).passed
    err = 3 * x + 0.5 * x**2
    assert stats.limit_matches("l", x, err, 1e-12 + 0 * x, 0.0, order=1, alpha=1e-3).passed
    assert not stats.limit_matches("l", x, err + 0.01, 1e-12 + 0 * x, 0.0, order=1, alpha=1e-3).passed


def test_rate_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="decade"):
        stats.fit_rate([1, 2, 3, 4], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="positive"):
        stats.fit_rate([1, 3, 10, 30], [1, 0, 3, 4])
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
    res = ClaimResult(ev, ctrl, 1.0)
    assert ClaimResult.from_dict(res.to_dict()) == res
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


def test_readme_lists_every_claim():
    readme = (pathlib.Path(registry.__file__).parents[1] / "README.md").read_text()
    missing = [c.id for c in registry.all_claims() if not c.id.startswith("test.") and f"`{c.id}`" not in readme]
    assert not missing, f"README.md's claims table lacks {missing}"
