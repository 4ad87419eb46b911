"""Grokking theory: the public import path ``dltheory.theory.grokking`` (see the sibling modules for the derivations).

- Linear estimator, one and two layers (Levi, Beck & Bar-Sinai 2023, arXiv:2310.16441):
  ``dltheory.theory.grokking_linear``.
- Modular addition (Gromov 2023, arXiv:2301.02679; Nanda et al. 2023; Morwani et al. 2023; Liu et al. 2022; Tian
  2025; Rubin et al. 2023): ``dltheory.theory.grokking_modular``.
"""

from dltheory.theory.grokking_linear import *  # noqa: F401,F403
from dltheory.theory.grokking_linear import __all__ as _linear_all
from dltheory.theory.grokking_modular import *  # noqa: F401,F403
from dltheory.theory.grokking_modular import __all__ as _modular_all

__all__ = [*_linear_all, *_modular_all]
