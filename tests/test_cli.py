"""The ``dltheory`` command line, on fake claims registered here (ids ``test.cli.*``)."""

from __future__ import annotations

import subprocess
import sys

from dltheory.verify import registry
from dltheory.verify.cli import main
from dltheory.verify.evidence import Check


def _evidence(ctx: registry.ClaimContext, statistic: float, prediction: str):
    check = Check(
        "estimate vs theory",
        statistic=statistic,
        threshold=1.0,
        relation="<=",
        detail=f"|dev|/tol={statistic}; seed={ctx.seed}",
    )
    row = dict(panel="p", series="s", x=1.0, theory=1.0, simulated=1.0 + 0.1 * statistic, se=0.1)
    return ctx.evidence([check], [row], prediction=prediction)


@registry.claim(
    "test.cli.holds",
    area="testing",
    title="A claim that holds",
    reference="Fake 2024, eq. 1",
    control="prediction doubled",
    seed=3,
    quick={"n": 4},
)
def _holds(ctx):
    return _evidence(ctx, 0.5, "published"), _evidence(ctx, 4.0, "doubled")


@registry.claim(
    "test.cli.fails",
    area="testing",
    title="A claim that fails",
    reference="Fake 2024, eq. 2",
    control="prediction halved",
    seed=3,
    quick={"n": 4},
)
def _fails(ctx):
    return _evidence(ctx, 3.0, "published"), _evidence(ctx, 4.0, "halved")


def test_list_shows_claims(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "== testing (" in out
    block = out[out.index("\ntest.cli.holds\n") :].split("\n\n")[0]
    assert "A claim that holds" in block and "reference: Fake 2024, eq. 1" in block
    assert "negative control: prediction doubled" in block


def test_report_on_passing_claim_exits_0(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["report", "--executor", "inline", "--claims", "test.cli.holds", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert (out / "index.html").is_file() and str(out / "index.html") in stdout
    assert "1 claim: 1 passed, 0 failed, 0 errored" in stdout
    assert "test.cli.holds" in (out / "index.html").read_text()


def test_report_with_failing_claim_exits_1(tmp_path, capsys):
    assert (
        main(["report", "--executor", "inline", "--claims", "test.cli.*", "--out", str(tmp_path / "out"), "--no-cache"])
        == 1
    )
    assert "2 claims: 1 passed, 1 failed, 0 errored" in capsys.readouterr().out
    assert not (tmp_path / "_cache").exists()


def test_bad_pattern_exits_2_with_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["report", "--executor", "inline", "--claims", "test.cli.nope*", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dltheory: error:") and "matches no claim" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_unwritable_out_dir_exits_2(tmp_path, capsys):
    (tmp_path / "file").write_text("not a directory")
    assert (
        main(["report", "--executor", "inline", "--claims", "test.cli.holds", "--out", str(tmp_path / "file" / "out")])
        == 2
    )
    assert capsys.readouterr().err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_python_dash_m_works():
    proc = subprocess.run(
        [sys.executable, "-m", "dltheory.verify.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and "report" in proc.stdout
