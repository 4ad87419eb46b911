"""dltheory.verify.runner: the same numbers on every executor, clean errors, interrupt and resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dltheory.simulators.deep_linear import gaussian_product_sq_singular_values
from dltheory.simulators.sweep import sweep
from dltheory.verify import registry
from dltheory.verify.cli import main
from dltheory.verify.evidence import Check
from dltheory.verify.prediction import Prediction
from dltheory.verify.runner import check_device, open_executor, run_claims

REAL = ["dln.learning_times", "dln.end_to_end"]  # two cheap real claims (well under a second each)
SWEEP = [{"N": 8, "L": L, "n_samples": 40} for L in (1, 2, 3, 4)]


def _numbers(outcomes) -> list[str]:
    return [json.dumps({**o.result.to_dict(), "runtime_s": None}) for o in outcomes]


def _sweep(executor) -> list[np.ndarray]:
    return sweep(gaussian_product_sq_singular_values, SWEEP, seed=11, executor=executor)


def test_claims_and_sweeps_give_identical_numbers_inline_local_and_on_a_dask_cluster():
    claims = [registry.get(c) for c in REAL]
    inline = run_claims(claims, executor="inline")
    assert all(o.verdict == "PASS" for o in inline)
    reference = _sweep("inline")
    for kind in ("local", "dask"):
        with open_executor(kind, workers=2) as ex:
            assert _numbers(run_claims(claims, executor=ex)) == _numbers(inline), kind
            assert all(np.array_equal(a, b) for a, b in zip(_sweep(ex), reference, strict=True)), kind


def test_unreachable_scheduler_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(ValueError, match="cannot reach the Dask scheduler"):
        with open_executor("dask", scheduler="tcp://127.0.0.1:9", timeout_s=0.5):
            pass


def test_scheduler_without_dask_exits_2_and_writes_nothing(tmp_path, capsys):
    argv = ["report", "--claims", "dln.end_to_end", "--out", str(tmp_path / "out")]
    assert main([*argv, "--executor", "local", "--scheduler", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "--scheduler: needs --executor dask" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_zero_workers_is_an_argparse_error_and_writes_nothing(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report", "--claims", "dln.end_to_end", "--out", str(tmp_path / "out"), "--workers", "0"])
    assert exc.value.code == 2
    assert "argument --workers: must be an integer >= 1, got 0" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_missing_gpu_is_a_clear_error(tmp_path, capsys):
    import jax

    if any(d.platform == "gpu" for d in jax.devices()):
        pytest.skip("this machine has a GPU: the no-GPU error cannot be provoked")
    with pytest.raises(ValueError, match="JAX sees no GPU"):
        check_device("gpu")
    assert main(["report", "--device", "gpu", "--claims", "dln.end_to_end", "--out", str(tmp_path / "o")]) == 2
    assert "JAX sees no GPU" in capsys.readouterr().err and list(tmp_path.iterdir()) == []


def test_device_cpu_runs(tmp_path):
    check_device("cpu")
    (o,) = run_claims([registry.get("dln.learning_times")], executor="inline", device="cpu")
    assert o.verdict == "PASS"


def test_bad_device_name():
    with pytest.raises(ValueError, match="device must be one of cpu, gpu"):
        check_device("tpu0")


INTERRUPT = {"armed": True}


def _once(ctx):
    if ctx.claim.id.endswith("interrupted") and INTERRUPT["armed"]:
        INTERRUPT["armed"] = False
        raise KeyboardInterrupt
    return 1.0


def _ok(ctx, data, prediction):
    statistic = abs(data - prediction["x"]) / 0.1
    return ctx.evidence([Check("c", statistic, 1.0, "<=", "d")])


PREDICTIONS = {"published": Prediction(x=1.0), "x2": Prediction(x=2.0), "x0.5": Prediction(x=0.5)}
for _id, _title in (("test.runner.a_first", "finishes"), ("test.runner.b_interrupted", "interrupted once")):
    registry.claim(
        _id,
        area="testing",
        title=_title,
        reference="Fake 2024",
        seed=1,
        quick={"n": 1},
        simulate=_once,
        predictions=PREDICTIONS,
        resolution=0.2,
    )(_ok)


def test_ctrl_c_stops_cleanly_and_a_rerun_resumes_from_the_cache(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["report", "--executor", "inline", "--claims", "test.runner.*", "--out", str(out)]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert "interrupted after 1 of 2 claims" in err and "rerun to resume" in err
    assert not (out / "index.html").exists()  # no half-written report
    assert len(list((tmp_path / "_cache").glob("*.json"))) == 1  # the finished claim is kept
    assert main(argv) == 0
    assert "2 claims: 2 passed" in capsys.readouterr().out
    assert "(from cache)" in (out / "index.html").read_text()


def test_python_api_returns_evidence_and_tidy_frames():
    from dltheory.verify import api

    outcomes = api.run("dln.learning_times")
    assert [o.claim.id for o in outcomes] == ["dln.learning_times"] and outcomes[0].result.ok
    tidy = api.tidy_frame(outcomes)
    assert list(tidy.columns)[:5] == ["claim_id", "prediction", "panel", "series", "x"]
    result = outcomes[0].result
    assert set(tidy["prediction"]) == {"published", *(c.prediction for c in result.controls)}
    assert len(tidy) == sum(len(ev.rows) for ev in (result.evidence, *result.controls))
    checks = api.checks_frame(outcomes)
    assert checks["check_passed"][checks["prediction"] == "published"].all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"pattern": 1.0}, "pattern"),
        ({"quick": "no"}, "quick"),
        ({"executor": "threads"}, "executor"),
        ({"workers": 0}, "workers"),
        ({"workers": "2"}, "workers"),
        ({"scheduler": 9}, "scheduler"),
        ({"device": "tpu"}, "device"),
        ({"cache_dir": 1.0}, "cache_dir"),
    ],
)
def test_api_run_refuses_bad_arguments_before_running(kwargs, match):
    from dltheory.verify import api

    with pytest.raises(ValueError, match=match):
        api.run(**({"pattern": "dln.end_to_end"} | kwargs))


def test_api_run_refuses_an_unusable_cache_dir(tmp_path):
    from dltheory.verify import api

    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ValueError, match="cache_dir must be a directory"):
        api.run("dln.end_to_end", cache_dir=afile)
    with pytest.raises(ValueError, match="cache_dir .* cannot be created"):
        api.run("dln.end_to_end", cache_dir=afile / "sub")
