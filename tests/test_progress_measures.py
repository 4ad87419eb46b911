"""The embedded modular-addition trainer (simulators.grokking_modular) and grok.progress_measures' event times and
formulas."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from scipy.special import log_softmax

from dltheory.simulators import grokking_modular as sm


@pytest.fixture(scope="module")
def tiny_run():
    return sm.train_embedded_modular_addition(
        5, 3, 8, 0.6, lr=0.01, weight_decay=0.1, n_steps=6, record_every=2, n_seeds=2, seed=3
    )


def test_embedded_run_records_are_consistent(tiny_run):
    run = tiny_run
    assert run.steps.tolist() == [0, 2, 4, 6]
    assert run.logits.shape == (2, 4, 5, 5, 5) and run.E.shape == (2, 3, 5) and run.train_mask.shape == (2, 5, 5)
    assert np.all(run.train_mask.sum(axis=(1, 2)) == 15)
    labels = (np.arange(5)[:, None] + np.arange(5)[None, :]) % 5
    for s in range(2):
        for r in range(4):
            f = run.logits[s, r].astype(float)
            ce = -np.take_along_axis(log_softmax(f, axis=-1), labels[..., None], axis=-1)[..., 0]
            m = run.train_mask[s]
            assert run.train_loss[s, r] == pytest.approx(ce[m].mean(), rel=1e-4)
            assert run.test_loss[s, r] == pytest.approx(ce[~m].mean(), rel=1e-4)
            assert run.test_acc[s, r] == pytest.approx(np.mean(f.argmax(-1)[~m] == labels[~m]), abs=1e-6)
    assert not np.allclose(run.logits[:, 0], run.logits[:, -1])  # it trains


def test_embedded_run_is_deterministic_and_validates(tiny_run):
    again = sm.train_embedded_modular_addition(
        5, 3, 8, 0.6, lr=0.01, weight_decay=0.1, n_steps=6, record_every=2, n_seeds=2, seed=3
    )
    np.testing.assert_array_equal(again.logits, tiny_run.logits)
    base = dict(p=5, d_embed=3, width=8, fraction=0.6, lr=0.01, weight_decay=0.1, n_steps=6, record_every=2, seed=0)
    for kwargs, name in ((dict(d_embed=0), "d_embed"), (dict(p=9), "p"), (dict(record_every=4), "record_every")):
        with pytest.raises(ValueError, match=name):
            sm.train_embedded_modular_addition(**(base | kwargs))


def test_event_times():
    from dltheory.verify.claims import grok

    steps = np.arange(0, 70, 10)
    curve = np.array([1.0, 3.0, 2.0, 1.6, 1.4, 1.0, 0.5])
    assert grok._fall_time(steps, curve, 1.5) == 40  # below 1.5 first at step 40, after the peak at step 10
    assert grok._fall_time(steps, curve, 1.1) == 50
    assert grok._fall_time(steps, np.array([1.0, 3.0, 2.0, 2.0, 2.0, 2.0, 2.0]), 1.5) == np.inf
    # trough 0.01 at step 20; a rise needs > 0.01 + RISE_FLOOR = 0.11: step 50
    assert grok._rise_times(steps, np.array([3.0, 0.5, 0.01, 0.05, 0.1, 0.2, 0.3])) == (20.0, 50.0)
    assert grok._rise_times(steps, np.array([3.0, 2.0, 1.0, 0.5, 0.4, 0.3, 0.2])) == (60.0, np.inf)


def test_progress_formulas_match_predictions():
    from dltheory.verify import registry
    from dltheory.verify.claims import grok

    c = registry.get("grok.progress_measures")
    preds, formulas = c.predictions_for(c.quick), c.formulas_for(c.quick)
    assert set(formulas) == set(preds)
    for name, exprs in formulas.items():  # each P_<field>[^variant] = the prediction's predicted fraction
        for e in exprs:
            assert isinstance(e, sp.Equality)
            field = "p_" + str(e.lhs)[2:].split("^")[0]
            assert float(e.rhs) == preds[name][field], (name, field)
    assert preds[grok.PM_NAMES[1]]["excluded_on"] == "test" and preds[grok.PM_NAMES[2]]["keys"] == "random"
