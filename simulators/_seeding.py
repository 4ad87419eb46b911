"""Seed handling: every simulator takes ``seed`` (int, SeedSequence or Generator); no global RNG."""

from __future__ import annotations

import numpy as np


def rng(seed) -> np.random.Generator:
    """A numpy Generator from an int >= 0, a SeedSequence or a Generator (passed through, not copied)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, int | np.integer) and not isinstance(seed, bool) and seed >= 0:
        return np.random.default_rng(int(seed))
    raise TypeError(f"seed must be an int >= 0, a numpy SeedSequence or a Generator, got {seed!r}")
