"""dltheory.simulators.sweep: spawned seeds make results independent of the executor."""

import concurrent.futures as cf

import numpy as np
import pytest

from dltheory.simulators.deep_linear import gaussian_product_sq_singular_values
from dltheory.simulators.sweep import child_seeds, sweep


def _task(a, seed):
    return (a, seed)


def test_child_seeds_are_stable_and_distinct():
    assert child_seeds(7, 5) == child_seeds(7, 5)
    assert len(set(child_seeds(7, 50))) == 50
    assert child_seeds(7, 3) == child_seeds(7, 5)[:3]  # a task's seed does not depend on the sweep length


def test_same_results_inline_threads_and_processes():
    # a library function: worker processes import it by name (test modules are not importable there)
    task = gaussian_product_sq_singular_values
    points = [{"N": 4, "L": L, "n_samples": 3} for L in range(1, 7)]
    inline = sweep(task, points, seed=3, executor="inline")
    with cf.ThreadPoolExecutor(3) as pool:
        threads = sweep(task, points, seed=3, executor=pool)
    processes = sweep(task, points, seed=3, max_workers=2)
    for a, b, c in zip(inline, threads, processes, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert len({a.tobytes() for a in inline}) == len(points)  # distinct tasks, distinct seeds


@pytest.mark.parametrize("kwargs, match", [({"seed": -1}, "seed"), ({"seed": 0, "executor": "dask"}, "executor")])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sweep(_task, [{"a": 1}], **kwargs)


def test_points_may_not_carry_seed():
    with pytest.raises(ValueError, match="seed"):
        sweep(_task, [{"a": 1, "seed": 2}], seed=0, executor="inline")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"executor": 1.0}, "executor must be a concurrent.futures.Executor"),  # AttributeError before
        ({"executor": True}, "executor"),
        ({"fn": None}, "fn must be a callable"),
        ({"points": None}, "points must be"),
        ({"points": [1]}, "points\\[0\\]"),
        ({"seed": None}, "seed"),
        ({"executor": None, "max_workers": 0}, "max_workers"),
        ({"executor": None, "max_workers": 2.5}, "max_workers"),
    ],
)
def test_invalid_arguments_are_refused_before_any_task_runs(kwargs, match):
    args = {"fn": _task, "points": [{"a": 1}], "seed": 0, "executor": "inline"} | kwargs
    with pytest.raises(ValueError, match=match):
        sweep(args.pop("fn"), args.pop("points"), **args)


def test_child_seeds_caps_n():
    with pytest.raises(ValueError, match="n must be"):
        child_seeds(0, 10**300)
    with pytest.raises(ValueError, match="n must be"):
        child_seeds(0, True)
