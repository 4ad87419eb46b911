"""Grokking simulators: the public import path ``dltheory.simulators.grokking`` (implemented in the sibling modules).

- Exact discrete GD for the one- and two-layer linear teacher-student models (Levi et al. 2023):
  ``dltheory.simulators.grokking_linear``.
- Full-batch MLP training on addition mod p (JAX, vmap over seeds): ``dltheory.simulators.grokking_modular``.
"""

from dltheory.simulators.grokking_linear import *  # noqa: F401,F403
from dltheory.simulators.grokking_linear import __all__ as _linear_all
from dltheory.simulators.grokking_modular import *  # noqa: F401,F403
from dltheory.simulators.grokking_modular import __all__ as _modular_all

__all__ = [*_linear_all, *_modular_all]
