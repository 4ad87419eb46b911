"""Closed-form and exactly solvable theory: formulas from the papers, with numpy/scipy/sympy only."""
