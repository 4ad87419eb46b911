"""The ``dltheory`` command line, on fake claims registered here (ids ``test.cli.*``)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import sympy as sp

from dltheory.verify import registry
from dltheory.verify.cli import main
from dltheory.verify.evidence import Check
from dltheory.verify.prediction import Prediction


def _simulate(ctx):
    return {"estimate": 1.0}


def _judge(ctx: registry.ClaimContext, data, prediction):
    """|estimate - prediction| / 0.1, a tolerance of 10 % of the prediction 1."""
    statistic = abs(data["estimate"] - prediction["value"]) / 0.1
    check = Check("estimate vs theory", statistic=statistic, threshold=1.0, relation="<=", detail=f"seed={ctx.seed}")
    row = dict(panel="p", series="s", x=1.0, theory=prediction["value"], simulated=data["estimate"], se=0.1)
    return ctx.evidence([check], [row])


CONTROLS = {"prediction doubled": Prediction(value=2.0), "prediction halved": Prediction(value=0.5)}
VALUE = sp.Symbol("v")
registry.claim(
    "test.cli.holds",
    area="testing",
    title="A claim that holds",
    reference="Fake 2024 (arXiv:2401.00001), eq. 1",
    seed=3,
    quick={"n": 4},
    simulate=_simulate,
    predictions={"published": Prediction(value=1.0), **CONTROLS},
    resolution=0.2,
    formulas={"published": sp.Eq(VALUE, sp.sqrt(sp.Symbol("n")) / 2), "prediction doubled": sp.Eq(VALUE, 2)},
)(_judge)
registry.claim(
    "test.cli.fails",
    area="testing",
    title="A claim that fails",
    reference="Fake 2024, eq. 2",
    seed=3,
    quick={"n": 4},
    simulate=_simulate,
    predictions={"published": Prediction(value=1.3), **CONTROLS},
    resolution=0.2,
)(_judge)


def test_list_shows_claims(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "== testing (" in out
    block = out[out.index("\ntest.cli.holds\n") :].split("\n\n")[0]
    assert "A claim that holds" in block and "reference: Fake 2024 (arXiv:2401.00001), eq. 1" in block
    assert "control: prediction doubled" in block and "control: prediction halved" in block
    assert "resolution: declared <= 20 %" in block


def test_list_resolution_reads_the_cache(tmp_path, capsys):
    cache = tmp_path / "cache"
    assert (
        main(
            [
                "report",
                "--executor",
                "inline",
                "--claims",
                "test.cli.holds",
                "--out",
                str(tmp_path / "o"),
                "--cache-dir",
                str(cache),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["list", "--claims", "test.cli.*", "--resolution", "--cache-dir", str(cache)]) == 0
    out = capsys.readouterr().out
    holds = out[out.index("test.cli.holds") :].split("\n\n")[0]
    # |1 - (1 + d)| / 0.1 > 1 from d = 10 %; bisection brackets it within a factor 1.1 from above
    assert re.search(r"measured 1[01] % \(rejects 1 - 1[01] % and 1 \+ 1[01] %\)", holds), holds
    assert "not in" in out[out.index("test.cli.fails") :]


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


def test_show_prints_formula_reference_params_controls_and_cached_evidence(tmp_path, capsys):
    cache = tmp_path / "cache"
    assert main(["show", "test.cli.holds", "--cache-dir", str(cache)]) == 0
    out = capsys.readouterr().out
    assert "reference: Fake 2024 (arXiv:2401.00001), eq. 1" in out and "https://arxiv.org/abs/2401.00001" in out
    assert "v = " in out and "√n" in out  # sympy's pretty form of the published formula
    assert "  - prediction doubled" in out and "  - prediction halved" in out and "  n = 4" in out
    assert "last evidence: none in" in out
    args = ["report", "--executor", "inline", "--claims", "test.cli.holds", "--out", str(tmp_path / "o")]
    assert main([*args, "--cache-dir", str(cache)]) == 0
    capsys.readouterr()
    assert main(["show", "test.cli.holds", "--cache-dir", str(cache)]) == 0
    out = capsys.readouterr().out
    assert "last evidence (quick tier" in out and "[pass] estimate vs theory: statistic 0 <= threshold 1" in out
    assert "control 'prediction doubled': REJECTED" in out


def test_show_without_formulas_says_so(capsys):
    assert main(["show", "test.cli.fails", "--cache-dir", "/nonexistent/cache"]) == 0
    assert "(no closed-form formula declared)" in capsys.readouterr().out


def test_check_exit_code_follows_the_verdict(capsys):
    assert main(["check", "test.cli.holds", "--seed", "11"]) == 0
    out = capsys.readouterr().out
    assert "published: PASS (seed 11)" in out and "resolution: 1" in out and "verdict: PASS" in out
    assert main(["check", "test.cli.fails"]) == 1
    assert "verdict: FAIL" in capsys.readouterr().out
    assert main(["check", "test.cli.holds", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["claim"] == "test.cli.holds" and record["verdict"] == "PASS" and record["evidence"]["seed"] == 3


@pytest.mark.parametrize(
    "argv, named, hint",
    [
        (["show", "test.cli.hold"], "argument CLAIM", "did you mean test.cli.holds"),
        (["check", "nonsense.claim"], "argument CLAIM", "unknown claim 'nonsense.claim'"),
        (["check", "test.cli.holds", "--seed", "-1"], "argument --seed", "integer in [0,"),
        (["check", "test.cli.holds", "--seed", "1.5"], "argument --seed", "got '1.5'"),
        (["check", "test.cli.holds", "--seed", str(2**64)], "argument --seed", "integer in [0,"),
        (["report", "--workers", "0"], "argument --workers", ">= 1"),
        (["report", "--executor", "threads"], "argument --executor", "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_naming_the_argument(argv, named, hint, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and named in err and hint in err and "Traceback" not in err


def test_unwritable_cache_dir_exits_2_naming_it(tmp_path, capsys):
    (tmp_path / "file").write_text("not a directory")
    argv = ["report", "--executor", "inline", "--claims", "test.cli.holds", "--out", str(tmp_path / "o")]
    assert main([*argv, "--cache-dir", str(tmp_path / "file" / "c")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dltheory: error: argument --cache-dir:") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # --out was not left behind
