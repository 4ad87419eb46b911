"""Theory-vs-simulation report: run claims (through the cache), then write HTML, Markdown, figures, tidy data.

``out_dir`` receives ``index.html`` (self-contained apart from the figures beside it), ``summary.md`` (the
same summary for a code host), ``summary.csv`` (one row per check) and, per claim, ``<id>.png`` (one panel
per :class:`~dltheory.verify.evidence.Panel`) and ``<id>.csv`` (tidy rows of the evidence against the published
prediction and against each control). Every file is written atomically and the two pages last, so an interrupted run never leaves a
half-written page. The figures and pages draw the same :class:`~dltheory.verify.evidence.ClaimResult` that pytest
asserts on.

The HTML page needs no server and fetches nothing: each claim's formulas (the sympy expressions it declares, see
:mod:`dltheory.verify.registry`) are inlined as presentation MathML, which browsers render natively; arXiv ids in
references link to their abstract pages; a small inline script sorts the index table by any column and filters it
by area and verdict. Every check is stated as its pass condition, "statistic <= threshold" or "p >= alpha".
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import numbers
import os
import platform
import re
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from importlib import metadata
from pathlib import Path

import dltheory
from dltheory.verify import registry
from dltheory.verify.cache import atomic_write, code_version
from dltheory.verify.evidence import Check, ClaimResult, percent
from dltheory.verify.figures import figure_png
from dltheory.verify.runner import Outcome, run_claims

__all__ = [
    "prepare_dirs",
    "write_report",
    "build_report",
    "summary_line",
    "summary_rows",
    "tidy_rows",
    "stem",
    "tightest_check",
    "condition",
    "arxiv_ids",
    "formula_mathml",
]

ROW_COLUMNS = ("claim_id", "prediction", "panel", "series", "x", "y", "theory", "simulated", "se", "label")
SUMMARY_COLUMNS = (
    "claim",
    "area",
    "reference",
    "verdict",
    "control_verdict",
    "resolution",
    "resolution_bound",
    "prediction",
    "check",
    "statistic",
    "relation",
    "threshold",
    "check_passed",
    "runtime_s",
    "seed",
    "cached",
    "error",
)


def stem(claim_id: str) -> str:
    """File-name stem for a claim's figure and CSV."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", claim_id)


def _load_ratio(k: Check) -> float:
    """How close a check is to failing: statistic/threshold for "<=", threshold/statistic for ">=" (1 = edge)."""
    num, den = (float(k.statistic), float(k.threshold))[:: 1 if k.relation == "<=" else -1]
    if math.isnan(num) or math.isnan(den):
        return math.inf
    return abs(num) / abs(den) if den else (0.0 if num == 0 else math.inf)


def tightest_check(checks: Sequence[Check]) -> Check | None:
    """The failing check with the largest load, else the passing check closest to its threshold."""
    return max(checks, key=lambda k: (not k.passed, _load_ratio(k)), default=None)


def condition(k: Check) -> str:
    """The check's pass condition with its numbers, worded the same way in every row and page:
    ``"statistic 1.23 <= threshold 3.29"`` or ``"p 0.41 >= alpha 0.001"`` (every ">=" check is a p-value)."""
    s, t = float(k.statistic), float(k.threshold)
    return f"statistic {s:.4g} <= threshold {t:.4g}" if k.relation == "<=" else f"p {s:.4g} >= alpha {t:.4g}"


_ARXIV = re.compile(r"arXiv:\s*((?:\d{4}\.\d{4,5})|(?:[a-z-]+(?:\.[A-Z]{2})?/\d{7}))(v\d+)?", re.IGNORECASE)


def arxiv_ids(reference: str) -> list[str]:
    """The arXiv identifiers cited in a reference string (``arXiv:2310.16441``, ``arXiv:hep-th/9901001``), in order."""
    return list(dict.fromkeys(m.group(1) for m in _ARXIV.finditer(reference)))


_ACCENTS = {"tilde": "\u02dc", "hat": "^", "bar": "\u00af"}
_GREEK = "alpha|beta|gamma|delta|epsilon|zeta|eta|theta|kappa|lambda|mu|nu|xi|pi|rho|sigma|tau|phi|chi|psi|omega"
_ACCENTED = re.compile(rf"([A-Za-z]|{_GREEK})(tilde|hat|bar)((?:[_^].*)?)", re.IGNORECASE)


def _mathml_printer():
    """sympy's presentation-MathML printer with repairs: piecewise expressions as cases (a brace, one row per piece:
    value, then "if condition" or "otherwise"; sympy prints ``piecewise((value, condition), ...)``), undefined
    functions under their own names (sympy lower-cases them), O(x) for Order, accents for ``ytilde``-style names."""
    import sympy as sp
    from sympy.core.function import AppliedUndef
    from sympy.printing.mathml import MathMLPresentationPrinter

    class Printer(MathMLPresentationPrinter):
        def _print_Function(self, e):
            """An undefined function keeps its name as written (sympy lower-cases it: T(x) would read t(x)),
            typeset like a symbol (Greek letters, subscripts)."""
            if not isinstance(e, AppliedUndef):
                return super()._print_Function(e)
            mrow = self.dom.createElement("mrow")
            mrow.appendChild(self._print(sp.Symbol(e.func.__name__)))
            mrow.appendChild(self._paren_comma_separated(*e.args))
            return mrow

        def _print_Symbol(self, sym, style="plain"):
            """``ytilde``, ``yhat``, ``alphabar`` (a letter or Greek name, then the accent) as y with the accent."""
            m = _ACCENTED.fullmatch(sym.name)
            if m is None:
                return super()._print_Symbol(sym, style)
            out = super()._print_Symbol(sp.Symbol(m.group(1) + m.group(3)), style)
            base = out if out.tagName == "mi" else out.getElementsByTagName("mi")[0]
            over = self.dom.createElement("mover")
            over.setAttribute("accent", "true")
            if base is not out:
                base.parentNode.replaceChild(over, base)
            accent = self.dom.createElement("mo")
            accent.appendChild(self.dom.createTextNode(_ACCENTS[m.group(2)]))
            over.appendChild(base)
            over.appendChild(accent)
            return over if base is out else out

        def _print_Order(self, e):
            """O(x) (sympy prints order(x, (x, 0)))."""
            mrow = self.dom.createElement("mrow")
            mrow.appendChild(self._print(sp.Symbol("O")))
            mrow.appendChild(self._paren_comma_separated(e.expr))
            return mrow

        def _print_Piecewise(self, e):
            table = self.dom.createElement("mtable")
            table.setAttribute("columnalign", "left left")
            for value, cond in e.args:
                row = self.dom.createElement("mtr")
                cells = [self._print(value), self.dom.createElement("mrow")]
                text = self.dom.createElement("mtext")
                text.appendChild(self.dom.createTextNode("otherwise" if cond == True else "if\u2009"))  # noqa: E712
                cells[1].appendChild(text)
                if cond != True:  # noqa: E712
                    cells[1].appendChild(self._print(cond))
                for cell in cells:
                    td = self.dom.createElement("mtd")
                    td.appendChild(cell)
                    row.appendChild(td)
                table.appendChild(row)
            brace = self.dom.createElement("mo")
            brace.setAttribute("stretchy", "true")
            brace.appendChild(self.dom.createTextNode("{"))
            out = self.dom.createElement("mrow")
            out.appendChild(brace)
            out.appendChild(table)
            return out

    return Printer()


def formula_mathml(expr) -> str:
    """A sympy expression or equation as a presentation-MathML ``<math>`` element (rendered natively by browsers)."""
    return f'<math display="block">{_mathml_printer().doprint(expr)}</math>'


def prepare_dirs(
    out_dir: str | os.PathLike, cache_dir: str | os.PathLike | None = None, use_cache: bool = True
) -> tuple[Path, Path | None]:
    """Create the output and cache directories and make sure they are writable (raises OSError if not).

    The default cache directory is ``<out_dir>/../_cache`` (``reports/_cache`` for ``reports/latest``).
    """
    out = Path(out_dir)
    cache = (Path(cache_dir) if cache_dir is not None else out.parent / "_cache") if use_cache else None
    for d in (out, cache):
        if d is not None:
            d.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=d):
                pass
    return out, cache


def summary_line(outcomes: Sequence[Outcome]) -> str:
    """``"<n> claims: <p> passed, <f> failed, <e> errored"``."""
    n = Counter(o.verdict for o in outcomes)
    return (
        f"{len(outcomes)} claim{'s' * (len(outcomes) != 1)}: {n['PASS']} passed, {n['FAIL']} failed, "
        f"{n['ERROR']} errored"
    )


# --- tidy data ----------------------------------------------------------------------------------------


def _cell(value) -> str:
    """CSV cell: empty for None/NaN, full precision for floats (numpy scalars included)."""
    if value is None:
        return ""
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return "" if math.isnan(value) else repr(float(value))
    return str(value)


def _csv(header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return buf.getvalue().encode()


def tidy_rows(result: ClaimResult) -> list[tuple]:
    """The plotted points of the evidence and of every control as tuples in ``ROW_COLUMNS`` order."""
    return [
        (
            ev.claim_id,
            ev.prediction,
            r.get("panel"),
            r.get("series"),
            r.get("x"),
            r.get("y"),
            r.get("theory"),
            r.get("simulated"),
            r.get("se"),
            r.get("label"),
        )
        for ev in (result.evidence, *result.controls)
        for r in ev.rows
    ]


def summary_rows(outcomes: Sequence[Outcome]) -> list[tuple]:
    """One tuple per check (``SUMMARY_COLUMNS`` order), one per errored claim."""
    rows = []
    for o in outcomes:
        c = o.claim
        if o.result is None:
            head = (c.id, c.area, c.reference, o.verdict, o.control_verdict, None, c.resolution)
            rows.append((*head, "", "", None, "", None, "", "", c.seed, o.cached, o.error))
            continue
        res = o.result
        head = (c.id, c.area, c.reference, o.verdict, o.control_verdict, res.resolution_delta, res.resolution_bound)
        tail = (o.result.runtime_s, o.result.evidence.seed, o.cached, "")
        rows += [
            (*head, ev.prediction, k.name, float(k.statistic), k.relation, float(k.threshold), k.passed, *tail)
            for ev in (res.evidence, *res.controls)
            for k in ev.checks
        ]
    return rows


# --- environment --------------------------------------------------------------------------------------


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_commit() -> str:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return proc.stdout.strip() or "unknown"


def _cpu() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
    except OSError:
        pass
    return f"{model or platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def _accelerators() -> str:
    try:
        import jax

        devices = Counter(f"{d.platform} ({d.device_kind})" for d in jax.devices())
    except Exception as exc:  # no usable JAX backend must not stop the report
        return f"unavailable ({type(exc).__name__})"
    return ", ".join(f"{n}× {kind}" for kind, n in devices.items())


def _environment(quick: bool) -> dict[str, str]:
    return {
        "dltheory": dltheory.__version__,
        "code version": code_version().rsplit("+", 1)[-1][:16],
        "tier": "quick" if quick else "full",
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        "git commit": _git_commit(),
        "jax devices": _accelerators(),
        "CPU": _cpu(),
        "python": platform.python_version(),
        **{name: _dist_version(name) for name in ("numpy", "scipy", "jax", "numba")},
    }


# --- HTML ---------------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1200px;margin:2em auto;
 padding:0 1em;color:#1f2328;line-height:1.45}
h1{margin-bottom:.2em} h2{margin:.2em 0} h3{margin:1.2em 0 .3em;font-size:1.05em}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:.92em}
th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f6f8fa} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.env{display:flex;flex-wrap:wrap;gap:.25em 2em;font-size:.88em;margin:.6em 0 1.2em;padding:.6em .8em;
 background:#f6f8fa;border:1px solid #d0d7de} .env span{white-space:nowrap} .env b{color:#59636e}
.badge{display:inline-block;padding:.05em .5em;border-radius:4px;color:#fff;font-weight:700}
.big{font-size:1.7em;padding:.1em .6em;margin:.3em 0}
.PASS,.REJECTED{background:#1a7f37} .FAIL,.ACCEPTED{background:#cf222e} .ERROR{background:#9a6700}
.ok{color:#1a7f37;font-weight:700} .bad{color:#cf222e;font-weight:700}
section{border-top:3px solid #d0d7de;margin-top:2.5em;padding-top:1em}
.meta{color:#59636e} .reason{font-weight:600;color:#cf222e}
.detail{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.82em}
pre{background:#f6f8fa;padding:.7em;overflow-x:auto;font-size:.85em}
img{max-width:100%;border:1px solid #d0d7de}
.formulas{display:flex;flex-wrap:wrap;gap:.4em 1.2em;margin:.6em 0}
.formula{border:1px solid #d0d7de;border-radius:4px;padding:.3em .8em;background:#fbfcfd;max-width:100%;
 box-sizing:border-box;overflow-x:auto}
.fname{font-size:.82em;color:#59636e} math{font-size:1.1em} math[display=block]{margin:.45em 0}
#claims{width:100%} #claims td.detail{overflow-wrap:anywhere;min-width:13em} #claims td.res{white-space:normal}
.badge,.nw{white-space:nowrap}
#claims th{cursor:pointer} #claims th[data-dir=asc]::after{content:" ▲"} #claims th[data-dir=desc]::after{content:" ▼"}
.filters label{margin-right:1em}
"""


def _e(value) -> str:
    return html.escape(str(value))


def _badge(text: str, big: bool = False) -> str:
    return f'<span class="badge {_e(text)}{" big" if big else ""}">{_e(text)}</span>' if text else "–"


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1e3:.0f} ms" if seconds >= 1e-3 else "<1 ms"
    return f"{seconds:.2f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def _checks_table(checks: Sequence[Check]) -> str:
    rows = "".join(
        f'<tr><td class="{"ok" if k.passed else "bad"}">{"pass" if k.passed else "FAIL"}</td>'
        f'<td>{_e(k.name)}</td><td class="num">{_e(condition(k))}</td><td class="detail">{_e(k.detail)}</td></tr>'
        for k in checks
    )
    return (
        "<table><tr><th></th><th>check</th><th>passes if (statistic &lt;= threshold, or p &gt;= alpha)</th>"
        f"<th>detail</th></tr>{rows}</table>"
    )


def _reference_html(reference: str) -> str:
    """The reference with every arXiv id linked to its abstract page."""
    out, last = [], 0
    for m in _ARXIV.finditer(reference):
        out += [
            _e(reference[last : m.start()]),
            f'<a href="https://arxiv.org/abs/{_e(m.group(1))}">{_e(m.group(0))}</a>',
        ]
        last = m.end()
    return "".join([*out, _e(reference[last:])])


def _formulas_html(c: registry.Claim, params: dict) -> str:
    """The published prediction and each control as typeset formulas (MathML), or a note when none is declared."""
    try:
        formulas = c.formulas_for(params)
    except Exception as exc:  # a broken formula must not take the report down: say so in the section
        return f'<p class="reason">formulas could not be rendered: {_e(type(exc).__name__)}: {_e(exc)}</p>'
    if not formulas:
        return '<p class="meta">no closed-form formula declared for this claim</p>'
    items = "".join(
        f'<div class="formula"><div class="fname">{_e(name)}</div>{"".join(map(formula_mathml, exprs))}</div>'
        for name, exprs in formulas.items()
    )
    return f'<div class="formulas">{items}</div>'


def _reasons(result: ClaimResult) -> list[str]:
    reasons = []
    if not result.evidence.passed:
        n = len(result.evidence.failures())
        reasons.append(
            f"the published prediction failed {n} of {len(result.evidence.checks)} check(s)"
            if result.evidence.checks
            else "the evidence holds no check"
        )
    reasons += [
        f"the control '{c.prediction}' was ACCEPTED: this check cannot tell the published prediction from it"
        for c in result.controls
        if c.passed
    ]
    if result.evidence.passed and not result.resolved:
        reasons.append(
            f"resolution {result.resolution_delta:.3g} is worse than the declared bound {result.resolution_bound:.3g}"
        )
    return reasons


def _resolution_sentence(result: ClaimResult) -> str:
    lo, hi = result.resolution
    if lo != lo:
        return "Resolution not measured: the published prediction failed."
    return (
        f"Resolution {percent(result.resolution_delta)} (declared bound {percent(result.resolution_bound)}): "
        f"the same judge on the same data rejects the published prediction scaled by 1 - {percent(lo)} and by "
        f"1 + {percent(hi)} (exponents shifted, zeros offset by as much)."
    )


def _section(o: Outcome, figure: str | Exception | None) -> str:
    c, r = o.claim, o.result
    head = (
        f'<section id="{_e(stem(o.claim.id))}"><h2>{_e(c.title)}</h2>'
        f'<div class="meta"><code>{_e(c.id)}</code> · area: {_e(c.area)} · {_reference_html(c.reference)}</div>'
        f"{_badge(o.verdict, big=True)}"
    )
    if r is None:
        return (
            f'{head}<p class="reason">{_e(o.error)}</p>'
            f"<details><summary>traceback</summary><pre>{_e(o.traceback)}</pre></details></section>"
        )
    params = "".join(
        f"<tr><td>{_e(k)}</td><td><code>{_e(json.dumps(v, default=repr))}</code></td></tr>"
        for k, v in r.evidence.params.items()
    )
    reasons = "".join(f'<p class="reason">{_e(text)}</p>' for text in _reasons(r))
    if isinstance(figure, str):
        fig = f'<p><a href="{_e(figure)}"><img src="{_e(figure)}" alt="figure for {_e(c.id)}"></a></p>'
    elif figure is None:
        fig = '<p class="meta">no figure: the evidence has no tidy rows to draw</p>'
    else:
        fig = f'<p class="reason">figure could not be drawn: {_e(type(figure).__name__)}: {_e(figure)}</p>'

    return (
        f"{head}{reasons}"
        f'<p class="meta">seed {r.evidence.seed} · runtime {_duration(r.runtime_s)}'
        f"{' (from cache)' if o.cached else ' (computed now)'} · "
        f'tidy data: <a href="{_e(stem(o.claim.id))}.csv">{_e(stem(o.claim.id))}.csv</a></p>'
        f"{_formulas_html(c, r.evidence.params)}{fig}"
        f'<p class="meta">{_e(_resolution_sentence(r))}</p>'
        f"<h3>Checks against the published prediction</h3>{_checks_table(r.evidence.checks)}"
        + "".join(
            f"<h3>Control: {_e(k.prediction)} {_badge('ACCEPTED' if k.passed else 'REJECTED')}</h3>"
            f'<p class="meta">a plausible mistake — must be REJECTED.</p>{_checks_table(k.checks)}'
            for k in r.controls
        )
        + f"<h3>Parameters</h3><table>{params}</table></section>"
    )


def _tightest_text(o: Outcome) -> str:
    k = None if o.result is None else tightest_check(o.result.evidence.checks)
    return "–" if k is None else f"{k.name}: {condition(k)}"


_FILTER_JS = """
(function(){
 var t=document.getElementById('claims'),rows=Array.prototype.slice.call(t.tBodies[0].rows);
 var fa=document.getElementById('f-area'),fv=document.getElementById('f-verdict'),n=document.getElementById('f-count');
 function filter(){var k=0;rows.forEach(function(r){var show=(!fa.value||r.dataset.area===fa.value)&&
  (!fv.value||r.dataset.verdict===fv.value);r.hidden=!show;if(show)k++;});n.textContent=k+' of '+rows.length+' claims';}
 fa.onchange=filter;fv.onchange=filter;
 Array.prototype.forEach.call(t.tHead.rows[0].cells,function(th,i){th.onclick=function(){
  var asc=th.dataset.dir!=='asc';Array.prototype.forEach.call(t.tHead.rows[0].cells,function(h){delete h.dataset.dir;});
  th.dataset.dir=asc?'asc':'desc';
  function key(r){var c=r.cells[i];return c.dataset.key!==undefined?(c.dataset.key===''?Infinity:parseFloat(c.dataset.key)):c.textContent;}
  rows.sort(function(a,b){var x=key(a),y=key(b);
   var c=typeof x==='number'?(x===y?0:(x<y?-1:1)):x.localeCompare(y,undefined,{numeric:true});return asc?c:-c;});
  rows.forEach(function(r){t.tBodies[0].appendChild(r);});};});
 filter();
})();
"""


def _breakable(claim_id: str) -> str:
    """A claim id that may wrap after its dots and underscores (and nowhere else) in a narrow column."""
    return re.sub(r"([._])", r"\1<wbr>", _e(claim_id))


def _nowrap(text: str) -> str:
    return f'<span class="nw">{_e(text)}</span>'


def _words(text: str) -> str:
    """Text that may wrap between its words only (never inside a number such as 1.0e-09)."""
    return " ".join(map(_nowrap, text.split(" ")))


def _options(values: Iterable[str]) -> str:
    return "".join(f'<option value="{_e(v)}">{_e(v)}</option>' for v in sorted(set(values)))


def _html(outcomes: Sequence[Outcome], env: dict[str, str], figures: dict[str, str | Exception]) -> str:
    def runtime_key(o: Outcome) -> str:
        return "" if o.result is None else repr(float(o.result.runtime_s))

    def resolution_key(o: Outcome) -> str:
        return "" if o.result is None else repr(float(o.result.resolution_delta))

    summary = "".join(
        f'<tr data-area="{_e(o.claim.area)}" data-verdict="{_e(o.verdict)}">'
        f'<td><a href="#{_e(stem(o.claim.id))}">{_breakable(o.claim.id)}</a></td><td>{_e(o.claim.area)}</td>'
        f"<td>{_reference_html(o.claim.reference)}</td><td>{_badge(o.verdict)}</td>"
        f'<td class="detail">{_e(_tightest_text(o))}</td><td>{_badge(o.control_verdict.split()[0] if o.result else "")}'
        f"{_e(o.control_verdict.partition(' ')[2])}</td>"
        f'<td class="num res" data-key="{resolution_key(o)}">{_words(o.resolution_text or "–")}</td>'
        f'<td class="num res" data-key="{runtime_key(o)}">{"–" if o.result is None else _nowrap(_duration(o.result.runtime_s))}'
        f"{' (cached)' if o.cached else ''}</td>"
        f'<td class="num">{o.claim.seed if o.result is None else o.result.evidence.seed}</td></tr>'
        for o in outcomes
    )
    env_items = "".join(f"<span><b>{_e(k)}</b> {_e(v)}</span>" for k, v in env.items())
    sections = "".join(_section(o, figures.get(o.claim.id)) for o in outcomes)
    filters = (
        '<p class="filters"><label>area <select id="f-area"><option value="">all</option>'
        f"{_options(o.claim.area for o in outcomes)}</select></label> "
        '<label>verdict <select id="f-verdict"><option value="">all</option>'
        f"{_options(o.verdict for o in outcomes)}</select></label> "
        '<span id="f-count" class="meta"></span> <span class="meta">· click a column header to sort</span></p>'
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>dltheory report ({_e(env['tier'])})</title><style>{_CSS}</style></head><body>"
        f"<h1>dltheory: theory vs simulation</h1>"
        f'<p class="meta">{_e(summary_line(outcomes))} · {_e(env["tier"])} tier · '
        f'<a href="summary.md">summary.md</a> · <a href="summary.csv">summary.csv</a></p>'
        f'<div class="env">{env_items}</div>{filters}'
        f'<table id="claims"><thead><tr><th>claim</th><th>area</th><th>paper, equation</th><th>verdict</th>'
        f"<th>tightest check (passes if statistic &lt;= threshold, or p &gt;= alpha)</th><th>controls</th>"
        f"<th>resolution vs bound</th><th>runtime</th><th>seed</th></tr></thead><tbody>{summary}</tbody></table>"
        f"{sections}<script>{_FILTER_JS}</script></body></html>\n"
    )


def _md(text) -> str:
    """A Markdown table cell: pipes escaped, newlines flattened."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _formulas_markdown(c: registry.Claim, params: dict) -> list[str]:
    """The formulas as GitHub-flavoured Markdown maths (``$...$``), one bullet per prediction."""
    try:
        formulas = c.formulas_for(params)
    except Exception as exc:  # as in the HTML page: reported, never fatal
        return ["", f"Formulas could not be rendered: `{_md(exc)}`"]
    if not formulas:
        return []
    import sympy

    return [
        "",
        *(f"- {_md(name)}: " + ", ".join(f"${sympy.latex(e)}$" for e in exprs) for name, exprs in formulas.items()),
    ]


def _markdown(outcomes: Sequence[Outcome], env: dict[str, str], figures: dict[str, str | Exception]) -> str:
    """The summary as GitHub-flavoured Markdown: header, summary table, one section per claim with its figure."""
    lines = [
        "# dltheory: theory vs simulation",
        "",
        f"**{summary_line(outcomes)}** ({env['tier']} tier). Every claim is checked against its published "
        "prediction and against at least two controls (plausible mistakes), which must all be REJECTED; its "
        "resolution is the smallest relative error in the published prediction that the same check rejects.",
        "",
        " · ".join(f"**{k}** {_md(v)}" for k, v in env.items()),
        "",
        "| claim | area | paper, equation | verdict | tightest check (passes if statistic <= threshold, or p >= alpha) "
        "| controls | resolution vs bound | runtime | seed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        runtime = "–" if o.result is None else _duration(o.result.runtime_s) + (" (cached)" if o.cached else "")
        seed = o.claim.seed if o.result is None else o.result.evidence.seed
        lines.append(
            f"| [`{o.claim.id}`](#{stem(o.claim.id).replace('.', '')}) | {_md(o.claim.area)} "
            f"| {_md(o.claim.reference)} | **{o.verdict}** | {_md(_tightest_text(o))} "
            f"| {o.control_verdict or '–'} | {o.resolution_text or '–'} | {runtime} | {seed} |"
        )
    for o in outcomes:
        lines += [
            "",
            f'<a id="{stem(o.claim.id).replace(".", "")}"></a>',
            "",
            f"## {_md(o.claim.title)}",
            "",
            f"`{o.claim.id}` · {_md(o.claim.area)} · {_md(o.claim.reference)} · **{o.verdict}**",
        ]
        if o.result is None:
            lines += ["", f"Error: `{_md(o.error)}`"]
            continue
        lines[-1] += f"; controls: **{o.control_verdict}**"
        lines += ["", _md(_resolution_sentence(o.result)), ""]
        lines += [
            f"- control *{_md(k.prediction)}*: {'ACCEPTED' if k.passed else 'REJECTED'}" for k in o.result.controls
        ]
        lines += [f"- {_md(text)}" for text in _reasons(o.result)]
        lines += _formulas_markdown(o.claim, o.result.evidence.params)
        figure = figures.get(o.claim.id)
        if isinstance(figure, str):
            lines += ["", f"![{o.claim.id}]({figure})"]
        lines += ["", "| check | passes if (statistic <= threshold, or p >= alpha) | |", "|---|---|---|"]
        lines += [
            f"| {_md(k.name)} | {condition(k)} | {'pass' if k.passed else '**FAIL**'} |"
            for k in o.result.evidence.checks
        ]
        lines += ["", f"Tidy data: [{stem(o.claim.id)}.csv]({stem(o.claim.id)}.csv)"]
    return "\n".join(lines) + "\n"


# --- entry points -------------------------------------------------------------------------------------


def write_report(out_dir: str | os.PathLike, outcomes: Sequence[Outcome], *, quick: bool) -> Path:
    """Write figures, CSVs, summary.csv and (last) summary.md and index.html into an existing ``out_dir``."""
    out = Path(out_dir)
    figures: dict[str, str | Exception] = {}  # claim id -> PNG file name, or why it could not be drawn
    for o in outcomes:
        if o.result is None:
            continue
        atomic_write(out / f"{stem(o.claim.id)}.csv", _csv(ROW_COLUMNS, tidy_rows(o.result)))
        try:
            png = figure_png(o)
        except Exception as exc:  # e.g. a panel with an invalid scale: report it in the section instead
            figures[o.claim.id] = exc
            continue
        if png is not None:
            atomic_write(out / f"{stem(o.claim.id)}.png", png)
            figures[o.claim.id] = f"{stem(o.claim.id)}.png"
    atomic_write(out / "summary.csv", _csv(SUMMARY_COLUMNS, summary_rows(outcomes)))
    env = _environment(quick)
    atomic_write(out / "summary.md", _markdown(outcomes, env, figures).encode())
    index = out / "index.html"
    atomic_write(index, _html(outcomes, env, figures).encode())
    return index


def build_report(
    out_dir: str | os.PathLike,
    *,
    quick: bool = True,
    pattern: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    executor="inline",
    device: str | None = None,
    on_done=None,
) -> Path:
    """Run the claims matching ``pattern`` (all if None) and write the report; returns index.html's path.

    Raises ValueError for a pattern that matches no claim or an unavailable device and OSError for an
    unwritable directory, all before any claim runs. ``cache_dir`` defaults to ``<out_dir>/../_cache``;
    ``use_cache=False`` disables it. ``executor`` and ``device``: see :func:`dltheory.verify.runner.run_claims`.
    """
    from dltheory.verify.runner import check_device

    claims = registry.select(pattern)
    check_device(device)
    out, cache = prepare_dirs(out_dir, cache_dir, use_cache)
    outcomes = run_claims(claims, quick=quick, cache_dir=cache, executor=executor, device=device, on_done=on_done)
    return write_report(out, outcomes, quick=quick)
