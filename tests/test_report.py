"""The report generator and its result cache, on fake claims registered here (ids ``test.report.*``)."""

from __future__ import annotations

import csv
import dataclasses
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import dltheory
from dltheory.verify import registry, stats
from dltheory.verify.cache import CacheWarning, atomic_write, cached_run
from dltheory.verify.evidence import Panel
from dltheory.verify.prediction import Prediction
from dltheory.verify.report import ROW_COLUMNS, SUMMARY_COLUMNS, build_report

CALLS: Counter[str] = Counter()  # claim id -> number of times its function ran
PANELS = (
    Panel("loss", xlabel="time t", ylabel="loss", title="loss curve"),
    Panel("rate", xlabel="width n", ylabel="|error|", xscale="log", yscale="log", title="finite-width error"),
)


def _simulate_decay(ctx):
    """Noisy samples of exp(-t) at two widths; a finite-width error ~ 2/n for the log-log panel."""
    CALLS[ctx.claim.id] += 1
    rng = np.random.default_rng(ctx.seed)
    t = np.linspace(0.0, 2.0, 6)
    samples = {w: np.exp(-t) + noise * rng.standard_normal((ctx.params["n_seeds"], t.size)) for w, noise in NOISE}
    n = np.array([16, 64, 256, 1024])
    return {"t": t, "samples": samples, "n": n, "err": 2.0 / n * (1 + 0.05 * rng.standard_normal(n.size))}


NOISE = ((64, 0.08), (256, 0.04))
T = sp.Symbol("t", nonnegative=True)
DECAY_RATES = {"published": 1, "rate x1.2": sp.Rational(6, 5), "rate x0.8": sp.Rational(4, 5)}


def _judge_decay(ctx, data, prediction):
    """Each width's mean loss against exp(-rate t)."""
    rate, t, dense = prediction["rate"], data["t"], np.linspace(0.0, 2.0, 41)
    rows, checks = [], []
    for width, _ in NOISE:
        samples = data["samples"][width]
        checks.append(
            stats.mean_matches(f"loss at width {width}", samples, np.exp(-rate * t), alpha=1e-3, seed=ctx.seed)
        )
        label = f"n={width}"
        rows += [
            dict(panel="loss", series=label, x=x, theory=np.exp(-rate * x), simulated=np.nan, se=np.nan) for x in dense
        ]
        rows += [
            dict(panel="loss", series=label, x=x, theory=np.nan, simulated=m, se=s)
            for x, m, s in zip(t, samples.mean(axis=0), stats.standard_error(samples))
        ]
    rows += [
        dict(panel="rate", series="error", x=x, theory=2.0 / x, simulated=e, se=0.05 * e if i else np.nan)
        for i, (x, e) in enumerate(zip(data["n"], data["err"]))
    ]
    return ctx.evidence(checks, rows, PANELS)


registry.claim(
    "test.report.decay",
    area="testing",
    title="Loss decays as exp(-t) at every width",
    reference="Fake et al. 2024 (arXiv:2401.01234), eq. 3",
    seed=7,
    quick={"n_seeds": 32},
    full={"n_seeds": 128},
    simulate=_simulate_decay,
    predictions={
        "published": Prediction(rate=1.0),
        "rate x1.2": Prediction(rate=1.2),
        "rate x0.8": Prediction(rate=0.8),
    },
    resolution=0.25,
    formulas={name: sp.Eq(sp.Function("L")(T), sp.exp(-r * T)) for name, r in DECAY_RATES.items()},
)(_judge_decay)


def _diverges(ctx):
    CALLS[ctx.claim.id] += 1
    raise FloatingPointError("simulation diverged at step 3 (lr=10)")


registry.claim(
    "test.report.broken",
    area="testing",
    title="A claim whose simulation diverges",
    reference="Fake 2024",
    seed=1,
    quick={"steps": 3},
    simulate=_diverges,
    predictions={"published": Prediction(x=1.0), "a": Prediction(x=2.0), "b": Prediction(x=3.0)},
    resolution=0.1,
)(_judge_decay)


@pytest.fixture
def decay() -> registry.Claim:
    return registry.get("test.report.decay")


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_report_writes_html_figure_and_tidy_csv(tmp_path):
    index = build_report(tmp_path / "out", pattern="test.report.*", cache_dir=tmp_path / "cache")
    assert index == tmp_path / "out" / "index.html"
    page = index.read_text()
    assert "test.report.decay" in page and "PASS" in page and "REJECTED" in page
    assert 'src="test.report.decay.png"' in page and 'href="test.report.decay.csv"' in page
    assert (tmp_path / "out" / "test.report.decay.png").read_bytes().startswith(b"\x89PNG")

    rows = _read_csv(tmp_path / "out" / "test.report.decay.csv")
    assert tuple(rows[0]) == ROW_COLUMNS
    assert {r["prediction"] for r in rows} == {"published", "rate x1.2", "rate x0.8"}
    assert {r["panel"] for r in rows} == {"loss", "rate"}
    assert all(r["claim_id"] == "test.report.decay" for r in rows)

    summary = _read_csv(tmp_path / "out" / "summary.csv")
    assert tuple(summary[0]) == SUMMARY_COLUMNS
    verdicts = {(r["claim"], r["prediction"]): (r["verdict"], r["control_verdict"]) for r in summary}
    assert verdicts[("test.report.decay", "published")] == ("PASS", "REJECTED")


def test_claim_that_raises_is_shown_as_error(tmp_path):
    index = build_report(tmp_path / "out", pattern="test.report.*", use_cache=False)
    page = index.read_text()
    assert "ERROR" in page and "simulation diverged at step 3 (lr=10)" in page
    assert "test.report.decay" in page  # the rest still renders
    assert not (tmp_path / "out" / "test.report.broken.png").exists()
    broken = [r for r in _read_csv(tmp_path / "out" / "summary.csv") if r["claim"] == "test.report.broken"]
    assert [r["verdict"] for r in broken] == ["ERROR"]
    assert "FloatingPointError" in broken[0]["error"]


def test_second_run_hits_cache(tmp_path, decay):
    before = CALLS[decay.id]
    first, hit1 = cached_run(decay, quick=True, cache_dir=tmp_path)
    second, hit2 = cached_run(decay, quick=True, cache_dir=tmp_path)
    assert (hit1, hit2) == (False, True)
    assert CALLS[decay.id] == before + 1
    assert json.dumps(first.to_dict()) == json.dumps(second.to_dict())
    assert cached_run(decay, quick=True, cache_dir=tmp_path, seed=8)[1] is False  # another seed: a miss
    assert cached_run(decay, quick=False, cache_dir=tmp_path)[1] is False  # another tier: a miss


def test_report_rerun_uses_cache(tmp_path):
    build_report(tmp_path / "out", pattern="test.report.decay")
    calls = CALLS["test.report.decay"]
    index = build_report(tmp_path / "out", pattern="test.report.decay")
    assert CALLS["test.report.decay"] == calls
    assert "(from cache)" in index.read_text()
    assert {r["cached"] for r in _read_csv(tmp_path / "out" / "summary.csv")} == {"True"}
    assert list((tmp_path / "_cache").glob("*.json"))  # default cache: <out>/../_cache


def test_corrupt_cache_entry_is_a_miss(tmp_path, decay):
    cached_run(decay, quick=True, cache_dir=tmp_path)
    (entry,) = tmp_path.glob("*.json")
    entry.write_text('{"evidence": {"claim_id": "test.report.decay", "trunc')
    before = CALLS[decay.id]
    with pytest.warns(CacheWarning, match="corrupted cache entry"):
        result, hit = cached_run(decay, quick=True, cache_dir=tmp_path)
    assert not hit and CALLS[decay.id] == before + 1 and result.ok
    assert cached_run(decay, quick=True, cache_dir=tmp_path)[1]  # overwritten with a good entry


def test_no_temp_files_left(tmp_path):
    build_report(tmp_path / "out", pattern="test.report.*", cache_dir=tmp_path / "cache")
    leftovers = [p for p in tmp_path.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
    assert leftovers == []


def test_interrupted_atomic_write_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "index.html"
    target.write_text("old")

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr("os.replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, b"new")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_bad_pattern_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="matches no claim"):
        build_report(tmp_path / "out", pattern="test.report.nope*")
    assert list(tmp_path.iterdir()) == []


def _phase_grid(ctx):
    xs, ys = np.linspace(0.1, 0.9, ctx.params["n"]), np.geomspace(1e-3, 1e-1, 3)
    return {"xs": xs, "ys": ys, "boundary": 0.5}


def _judge_phase(ctx, data, prediction):
    xs, ys = data["xs"], data["ys"]
    rows = [
        dict(
            panel="phase",
            series="grid",
            x=x,
            y=y,
            simulated=float(x > 0.5),
            theory=np.nan,
            se=np.nan,
            label="grok" if x > 0.5 else "memo",
        )
        for x in xs
        for y in ys
    ]
    rows += [
        dict(
            panel="phase",
            series="theory boundary",
            x=prediction["boundary"],
            y=y,
            theory=np.nan,
            simulated=np.nan,
            se=np.nan,
        )
        for y in (ys[0], ys[-1])
    ]
    panels = (Panel("phase", "training fraction", "weight decay", yscale="log", kind="heatmap", clabel="generalised"),)
    check = stats.deterministic("boundary", data["boundary"], prediction["boundary"], atol=1e-12, reason="exact")
    return ctx.evidence([check], rows, panels)


registry.claim(
    "test.report.phase",
    area="testing",
    title="A phase diagram with a predicted boundary",
    reference="Fake 2024, eq. 9",
    seed=2,
    quick={"n": 4},
    simulate=_phase_grid,
    predictions={
        "published": Prediction(boundary=0.5),
        "boundary shifted up": Prediction(boundary=0.6),
        "boundary shifted down": Prediction(boundary=0.4),
    },
    resolution=1e-6,
)(_judge_phase)


def test_heatmap_panel_and_markdown_summary(tmp_path):
    index = build_report(tmp_path / "out", pattern="test.report.phase", use_cache=False)
    page = index.read_text()
    assert "could not be drawn" not in page and 'src="test.report.phase.png"' in page
    assert (tmp_path / "out" / "test.report.phase.png").read_bytes().startswith(b"\x89PNG")
    rows = _read_csv(tmp_path / "out" / "test.report.phase.csv")
    assert {r["label"] for r in rows if r["series"] == "grid"} == {"grok", "memo"} and all(r["y"] for r in rows)
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "| claim | area | paper, equation | verdict |" in md
    assert "![test.report.phase](test.report.phase.png)" in md and "**PASS**" in md and "REJECTED" in md


def test_tightest_check_prefers_failures_then_the_closest_margin():
    from dltheory.verify.evidence import Check
    from dltheory.verify.report import tightest_check

    a = Check("a", 0.5, 1.0, "<=", "")
    b = Check("b", 0.02, 0.01, ">=", "")  # p = 0.02 >= alpha = 0.01: load 0.5
    c = Check("c", 0.9, 1.0, "<=", "")
    assert tightest_check([a, b, c]) is c
    assert tightest_check([c, Check("bad", 3.0, 1.0, "<=", "")]).name == "bad"
    assert tightest_check([]) is None


def test_report_shows_formulas_links_direction_and_version(tmp_path):
    index = build_report(tmp_path / "out", pattern="test.report.*", use_cache=False)
    page = index.read_text()
    decay = page[page.index('<section id="test.report.decay">') :].split("</section>")[0]
    assert decay.count('<math display="block">') == 3 and "<msup>" in decay  # published and the two controls
    assert '<a href="https://arxiv.org/abs/2401.01234">arXiv:2401.01234</a>' in decay
    assert decay.index("<math") < decay.index("<img")  # the formula is shown next to (before) the figure
    broken = page[page.index('<section id="test.report.broken">') :].split("</section>")[0]
    assert "<math" not in broken
    # direction: every check row states its pass condition the same way
    assert "statistic " in decay and " &lt;= threshold " in decay and "passes if" in decay
    assert f"<b>dltheory</b> {dltheory.__version__}" in page and "0+unknown" not in page
    # the index table: filter controls and sort keys, no external resources
    assert 'id="f-area"' in page and 'id="f-verdict"' in page and 'data-verdict="ERROR"' in page
    assert 'data-area="testing"' in page and "<script>" in page and 'src="http' not in page
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "$L{\\left(t \\right)} = e^{- t}$" in md


def test_condition_and_arxiv_ids():
    from dltheory.verify.evidence import Check
    from dltheory.verify.report import arxiv_ids, condition

    assert condition(Check("a", 0.5, 1.0, "<=", "")) == "statistic 0.5 <= threshold 1"
    assert condition(Check("b", 0.02, 0.001, ">=", "")) == "p 0.02 >= alpha 0.001"
    assert arxiv_ids("Saxe 2014 (arXiv:1312.6120), eq. 12; Yang (arXiv: 2011.14522v2); arXiv:hep-th/9901001") == [
        "1312.6120",
        "2011.14522",
        "hep-th/9901001",
    ]
    assert arxiv_ids("Fake 2024, eq. 1") == []


def test_formula_naming_no_prediction_is_rejected():
    c = registry.get("test.report.decay")
    bad = dataclasses.replace(c, formulas={"typo": sp.Integer(1)})
    with pytest.raises(ValueError, match="name no prediction"):
        bad.formulas_for(c.quick, c.predictions_for(c.quick))
    with pytest.raises(TypeError, match="sympy"):
        dataclasses.replace(c, formulas={"published": "exp(-t)"}).formulas_for(c.quick)
    assert dataclasses.replace(c, formulas=None).formulas_for(c.quick) == {}


_DOM_MOCK = """
function cell(text, key) { return {textContent: text, dataset: key === undefined ? {} : {key: key}}; }
function row(area, verdict, cells) { return {dataset: {area, verdict}, cells, hidden: false}; }
const rows = [row('b', 'PASS', [cell('z.c'), cell('x', '3.5')]), row('a', 'FAIL', [cell('a.c'), cell('x', '')]),
              row('a', 'PASS', [cell('m.c'), cell('x', '0.1')])];
const body = {rows: rows.slice(), appendChild(r) { this.rows.splice(this.rows.indexOf(r), 1); this.rows.push(r); }};
const ths = [{dataset: {}}, {dataset: {}}];
const t = {tBodies: [body], tHead: {rows: [{cells: ths}]}};
const sel = {'f-area': {value: ''}, 'f-verdict': {value: ''}}, count = {textContent: ''};
global.document = {getElementById(id) { return id === 'claims' ? t : id === 'f-count' ? count : sel[id]; }};
"""
_DOM_RUN = """
const ids = () => body.rows.map(r => r.cells[0].textContent).join(',');
const out = [count.textContent];
sel['f-area'].value = 'a'; sel['f-area'].onchange(); out.push(count.textContent, rows.map(r => r.hidden).join(','));
ths[1].onclick(); out.push(ids()); ths[1].onclick(); out.push(ids()); ths[0].onclick(); out.push(ids());
console.log(out.join('|'));
"""


def test_index_filter_and_sort_script(tmp_path):
    """The index table's inline script on a minimal DOM (Node.js): filter by area, sort by a numeric key (missing
    values last) and by text, both directions."""
    import shutil
    import subprocess

    from dltheory.verify.report import _FILTER_JS

    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the inline script is exercised in tests/test_report_browser.py")
    script = tmp_path / "t.js"
    script.write_text(_DOM_MOCK + _FILTER_JS + _DOM_RUN)
    out = subprocess.run([node, str(script)], capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    assert out.split("|") == [
        "3 of 3 claims",
        "2 of 3 claims",
        "true,false,false",
        "m.c,z.c,a.c",
        "a.c,z.c,m.c",
        "a.c,m.c,z.c",
    ]


def _crowded(ctx):
    return {"n": ctx.params["n"]}


def _judge_crowded(ctx, data, prediction):
    n = data["n"]
    grid = np.linspace(0.0, 1.0, n)
    rows = [  # "full": markers on an n x n grid fill the axes, so no place inside is free
        dict(panel="full", series=f"s{(i + j) % 3}", x=x, y=y, simulated=y, theory=np.nan, se=0.01)
        for i, x in enumerate(grid)
        for j, y in enumerate(grid)
    ]
    rows += [  # "diagonal": a line with markers along y = x leaves the upper-left and lower-right corners free
        dict(panel="diagonal", series=name, x=x, y=x + dy, simulated=x + dy, theory=x, se=0.01)
        for name, dy in (("a", 0.0), ("b", 0.02))
        for x in grid
    ]
    panels = (Panel("full", "x", "y", title="data everywhere"), Panel("diagonal", "x", "y", title="data on y = x"))
    check = stats.deterministic("n", n, prediction["n"], atol=1e-12, reason="exact")
    return ctx.evidence([check], rows, panels)


registry.claim(
    "test.report.crowded",
    area="testing",
    title="Panels whose data leave no room for a legend",
    reference="Fake 2024, eq. 1",
    seed=3,
    quick={"n": 12},
    simulate=_crowded,
    predictions={
        "published": Prediction(n=12),
        "one more": Prediction(n=13),
        "one fewer": Prediction(n=11),
    },
    resolution=0.1,
)(_judge_crowded)


def test_legends_never_cover_data():
    from dltheory.verify.figures import figure
    from dltheory.verify.runner import run_claims

    (outcome,) = run_claims([registry.get("test.report.crowded")])
    fig = figure(outcome)
    renderer = fig.canvas.get_renderer()
    axes = {ax.get_title(): ax for ax in fig.get_axes()}
    legends = [leg for sub in fig.subfigs for leg in sub.legends] + [ax.get_legend() for ax in axes.values()]
    boxes = [leg.get_window_extent(renderer) for leg in legends if leg is not None]
    assert len(boxes) == 2
    for ax in axes.values():
        for line in ax.get_lines():
            xy = line.get_transform().transform(np.asarray(line.get_xydata(), dtype=float))
            for box in boxes:
                inside = (xy[:, 0] >= box.x0) & (xy[:, 0] <= box.x1) & (xy[:, 1] >= box.y0) & (xy[:, 1] <= box.y1)
                assert not inside.any(), f"legend at {box} covers data of {ax.get_title()!r}"
    # the full panel's legend is moved outside its axes; the diagonal one stays inside, in a free corner
    assert axes["data everywhere"].get_legend() is None and axes["data on y = x"].get_legend() is not None


def _narrow(ctx):
    return {"n": ctx.params["n"]}


def _judge_narrow(ctx, data, prediction):
    g = 0.0171448 * (1 + 1e-9 * np.arange(4))  # four values agreeing to 1e-9, on a log axis (grok.max_margin)
    rows = [dict(panel="narrow", series="networks", x=7.0, simulated=v, theory=np.nan, se=np.nan) for v in g]
    rows.append(dict(panel="narrow", series="prediction", x=7.0, simulated=np.nan, theory=g[-1], se=np.nan))
    panels = (Panel("narrow", "p", "margin", "linear", "log", title="margins within 1e-9"),)
    check = stats.deterministic("n", data["n"], prediction["n"], atol=1e-12, reason="exact")
    return ctx.evidence([check], rows, panels)


registry.claim(
    "test.report.narrow",
    area="testing",
    title="A panel whose values agree to far more digits than tick labels show",
    reference="Fake 2024, eq. 1",
    seed=3,
    quick={"n": 4},
    simulate=_narrow,
    predictions={"published": Prediction(n=4), "one more": Prediction(n=5), "one fewer": Prediction(n=3)},
    resolution=0.3,
)(_judge_narrow)


def test_tick_labels_are_distinct():
    """A narrow range is labelled relative to an offset, never by repeated values."""
    from dltheory.verify.figures import figure
    from dltheory.verify.runner import run_claims

    (outcome,) = run_claims([registry.get("test.report.narrow")])
    fig = figure(outcome)
    (ax,) = fig.get_axes()
    for axis in (ax.xaxis, ax.yaxis):
        texts = [t.get_text() for t in (*axis.get_ticklabels(), *axis.get_ticklabels(minor=True)) if t.get_text()]
        assert texts and len(texts) == len(set(texts)), texts
    assert ax.yaxis.get_offset_text().get_text(), "the offset the labels are relative to is shown"


def test_mathml_keeps_function_names_and_shows_cases():
    """sympy's MathML printer lower-cases undefined functions (T(x) would read t(x)) and prints piecewise expressions
    as ``piecewise((value, condition), ...)``; the report's printer keeps names and typesets cases."""
    import sympy as sp

    from dltheory.verify.report import formula_mathml

    t, x = sp.symbols("t x")
    out = formula_mathml(sp.Eq(sp.Function("L_train")(t), sp.Function("T")(sp.Function("alpha")(t))))
    assert "<msub><mi>L</mi><mi>train</mi></msub>" in out and "<mi>T</mi>" in out and "&#945;" in out
    assert "<mi>t</mi><mrow><mo>(</mo>" not in out  # no function printed as lower-case t(...)
    assert "<mi>sin</mi>" in formula_mathml(sp.sin(t))  # known functions keep sympy's names
    cases = formula_mathml(sp.Piecewise((x**2, x > 0), (0, True)))
    assert "piecewise" not in cases and cases.count("<mtr>") == 2 and "otherwise" in cases and "<mtable" in cases
