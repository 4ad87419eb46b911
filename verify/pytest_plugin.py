"""pytest plugin for dltheory's suites (tests/ and verify/): float64 JAX, hypothesis profiles, slow/gpu tiers.

Loaded by ``-p dltheory.verify.pytest_plugin`` (pyproject's addopts), so the repository needs no top-level
conftest.py and the installed package ships no stray conftest.
"""

from __future__ import annotations

import os

# The suites make many small LAPACK calls (2x2 to 64x64 eigh, svd, lstsq) next to numba and JAX threads; on the
# 2-core machines the suite targets, a multithreaded BLAS made them 10-100x slower (measured under load). One BLAS
# thread, set before numpy loads, unless the user chose otherwise.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# Deterministic by default (CI); `--hypothesis-profile=dev` or HYPOTHESIS_PROFILE=dev for random exploration.
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    max_examples=50,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("nightly", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config: pytest.Config) -> None:
    # float64 everywhere in tests; the library itself never flips this at import.
    import jax

    jax.config.update("jax_enable_x64", True)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def _gpu_visible() -> bool:
    import jax

    try:
        return any(d.platform == "gpu" for d in jax.devices())
    except RuntimeError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_slow = pytest.mark.skip(reason="slow tier: run with --runslow")
    gpu = None
    for item in items:
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(skip_slow)
        if "gpu" in item.keywords:
            gpu = _gpu_visible() if gpu is None else gpu
            if not gpu:
                item.add_marker(pytest.mark.skip(reason="no GPU visible to JAX (jax.devices() has none)"))
