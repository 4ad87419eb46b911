"""What finite networks actually do: numba and JAX simulators with explicit seeds (CPU by default)."""
