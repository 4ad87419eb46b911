"""Seed handling: every simulator takes ``seed`` (int, SeedSequence or Generator); no global RNG."""

from __future__ import annotations

import numpy as np

from dltheory.theory._validate import generator


def rng(seed) -> np.random.Generator:
    """A numpy Generator from an int >= 0, a SeedSequence or a Generator (passed through, not copied).

    None is refused (an unseeded call could not be reproduced): TypeError for a wrong type, ValueError for a
    negative int (dltheory.theory._validate.generator)."""
    return generator("seed", seed)
