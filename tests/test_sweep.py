"""simulators.sweep: spawned seeds make results independent of the executor."""

import concurrent.futures as cf

import pytest

from simulators.sweep import child_seeds, sweep


def _task(a, seed):
    return (a, seed)


def test_child_seeds_are_stable_and_distinct():
    assert child_seeds(7, 5) == child_seeds(7, 5)
    assert len(set(child_seeds(7, 50))) == 50
    assert child_seeds(7, 3) == child_seeds(7, 5)[:3]  # a task's seed does not depend on the sweep length


def test_same_results_inline_threads_and_processes():
    points = [{"a": i} for i in range(6)]
    inline = sweep(_task, points, seed=3, executor="inline")
    with cf.ThreadPoolExecutor(3) as pool:
        threads = sweep(_task, points, seed=3, executor=pool)
    processes = sweep(_task, points, seed=3, max_workers=2)
    assert inline == threads == processes
    assert [a for a, _ in inline] == list(range(6))


@pytest.mark.parametrize("kwargs, match", [({"seed": -1}, "seed"), ({"seed": 0, "executor": "dask"}, "executor")])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sweep(_task, [{"a": 1}], **kwargs)


def test_points_may_not_carry_seed():
    with pytest.raises(ValueError, match="seed"):
        sweep(_task, [{"a": 1, "seed": 2}], seed=0, executor="inline")
