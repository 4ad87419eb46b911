"""dltheory: deep-learning theory made executable and falsifiable.

Three subpackages, imported by their full names:

- :mod:`dltheory.theory`: what papers predict (closed forms, exact learning dynamics, kernels, SDEs), each
  function citing its paper and equation;
- :mod:`dltheory.simulators`: what finite networks do (numba and JAX simulators with explicit seeds);
- :mod:`dltheory.verify`: claims that compare the two, their statistics, the report and the ``dltheory`` CLI.
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("dltheory")
except _metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
