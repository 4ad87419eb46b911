"""The import rule of the design: theory/ and simulators/ never import each other, except that simulators may
import the shared specification modules (dltheory.theory.spec: activations, parameterisations, constants;
dltheory.theory._validate: input validators). A simulator that imports a prediction could build its network from
the formula it is meant to test, and the check would be circular. Checked on the source (every import statement,
including those inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = {"dltheory.theory.spec", "dltheory.theory._validate"}


def _imports(path: Path) -> list[str]:
    """Every module an ``import``/``from ... import`` in the file names, as a dotted path (``from a import b`` gives
    both ``a`` and ``a.b``, as b may be a module)."""
    package = "dltheory." + path.parent.name
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the file's package
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            out += [base] + [f"{base}.{a.name}" for a in node.names]
    return out


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).glob("*.py"))


@pytest.mark.parametrize("path", _modules("simulators"), ids=lambda p: p.name)
def test_simulators_import_no_prediction(path):
    bad = [
        m
        for m in _imports(path)
        if (m.startswith("dltheory.theory.") and m not in SHARED and not any(m.startswith(s + ".") for s in SHARED))
        or m.startswith(("dltheory.verify", "theory", "verify"))
    ]
    assert not bad, f"{path.name} imports {bad}: simulators may import only {sorted(SHARED)} from theory"


@pytest.mark.parametrize("path", _modules("theory"), ids=lambda p: p.name)
def test_theory_imports_no_simulator(path):
    bad = [
        m for m in _imports(path) if m.startswith(("dltheory.simulators", "dltheory.verify", "simulators", "verify"))
    ]
    assert not bad, f"{path.name} imports {bad}: theory never imports simulators or verify"


def test_the_rule_sees_a_violation(tmp_path):
    """The parser resolves the import forms used in this repository (a check that cannot fail is no check)."""
    sim = tmp_path / "simulators"
    sim.mkdir()
    f = sim / "x.py"
    f.write_text(
        "from dltheory.theory import deep_linear as dl\n"
        "def g():\n    from dltheory.theory.spec import get_activation\n    import dltheory.verify.stats\n"
        "from ..theory import shaped\n"
    )
    found = _imports(f)
    assert "dltheory.theory.deep_linear" in found and "dltheory.verify.stats" in found
    assert "dltheory.theory.shaped" in found and "dltheory.theory.spec" in found
