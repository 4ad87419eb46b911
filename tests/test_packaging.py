"""The installed package has one import name, ``dltheory``, and does not shadow (or get shadowed by) user modules."""

import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

import dltheory

ROOT = pathlib.Path(dltheory.__file__).parent
USER_MODULES = {"theory.py": "MINE = 'theory'\n", "verify.py": "MINE = 'verify'\n", "simulators.py": "MINE = 'sim'\n"}
IMPORTS = (
    "import theory, verify, simulators; assert theory.MINE == 'theory' and verify.MINE == 'verify'; "
    "from dltheory.theory import deep_linear; from dltheory.verify import registry; import dltheory; "
    "assert deep_linear.learning_time(2.0, 0.01, 1.0) > 0; print(dltheory.__version__)"
)


def _user_folder(tmp_path: pathlib.Path) -> pathlib.Path:
    folder = tmp_path / "project"
    folder.mkdir()
    for name, text in USER_MODULES.items():
        (folder / name).write_text(text)
    return folder


def _run(cwd, env=None) -> str:
    proc = subprocess.run([sys.executable, "-c", IMPORTS], cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> pathlib.Path:
    out, src = tmp_path_factory.mktemp("wheel"), tmp_path_factory.mktemp("src") / "dltheory"
    # build from a copy: an in-tree build/ left by an earlier build could ship files the tree no longer has
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".*", "build", "reports", "*.egg-info", "__pycache__"))
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (path,) = out.glob("dltheory-*.whl")
    return path


def test_wheel_installs_exactly_one_top_level_name(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"dltheory"}, top
    assert {"dltheory/theory/deep_linear.py", "dltheory/simulators/sweep.py", "dltheory/verify/cli.py"} <= set(names)
    assert "dltheory/py.typed" in names
    assert not [n for n in names if n.endswith("conftest.py") or "/test_" in n or "/tests/" in n], names


def test_wheel_imports_next_to_user_modules_named_theory_and_verify(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    folder = _user_folder(tmp_path)
    # PYTHONPATH comes after the script folder (the user's modules) and before the editable install's finder
    assert _run(folder, env) == dltheory.__version__


def test_editable_install_imports_next_to_user_modules(tmp_path):
    assert _run(_user_folder(tmp_path)) == dltheory.__version__ != "0+unknown"
