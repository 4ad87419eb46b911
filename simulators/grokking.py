"""Grokking simulators: the public import path ``simulators.grokking`` (implementations in the sibling modules).

- Exact discrete GD for the linear teacher-student model (Levi et al. 2023): ``simulators.grokking_linear``.
"""

from simulators.grokking_linear import *  # noqa: F401,F403
from simulators.grokking_linear import __all__ as _linear_all

__all__ = [*_linear_all]
