"""Theory-vs-simulation report: run claims (through the cache), then write HTML, figures and tidy data.

``out_dir`` receives ``index.html``, ``summary.csv`` (one row per check) and, per claim, ``<id>.png`` (one
panel per :class:`~verify.evidence.Panel`) and ``<id>.csv`` (tidy rows of the evidence and of the negative
control). Every file is written atomically and ``index.html`` last, so an interrupted run never leaves a
half-written page. The figures and HTML draw the same :class:`~verify.evidence.ClaimResult` that pytest
asserts on.
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
import textwrap
import traceback
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path

from verify import registry
from verify.cache import atomic_write, cached_run, code_version, package_version
from verify.evidence import Check, ClaimResult, Panel
from verify.registry import Claim

__all__ = ["Outcome", "prepare_dirs", "run_claims", "write_report", "build_report", "summary_line"]

ROW_COLUMNS = ("claim_id", "prediction", "panel", "series", "x", "theory", "simulated", "se")
SUMMARY_COLUMNS = ("claim", "area", "reference", "verdict", "control_verdict", "prediction", "check",
                   "statistic", "relation", "threshold", "check_passed", "runtime_s", "seed", "cached", "error")
_COLORS = {"PASS": "#1a7f37", "FAIL": "#cf222e", "ERROR": "#9a6700"}


@dataclass(frozen=True)
class Outcome:
    """One claim's run: its result (None when the claim raised), whether it came from the cache, the error."""

    claim: Claim
    result: ClaimResult | None
    cached: bool = False
    error: str = ""
    traceback: str = ""

    @property
    def verdict(self) -> str:
        """PASS when the claim holds and its negative control is rejected, FAIL otherwise, ERROR if it raised."""
        if self.result is None:
            return "ERROR"
        return "PASS" if self.result.ok else "FAIL"

    @property
    def control_verdict(self) -> str:
        """REJECTED (good) or ACCEPTED (bad: the check cannot tell right from wrong); empty on ERROR."""
        if self.result is None:
            return ""
        return "ACCEPTED" if self.result.control.passed else "REJECTED"

    @property
    def stem(self) -> str:
        """File-name stem for this claim's figure and CSV."""
        return re.sub(r"[^A-Za-z0-9._-]", "_", self.claim.id)


def prepare_dirs(out_dir: str | os.PathLike, cache_dir: str | os.PathLike | None = None,
                 use_cache: bool = True) -> tuple[Path, Path | None]:
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


def _progress(items: Sequence[Claim]):
    try:
        from tqdm import tqdm
    except ImportError as exc:
        raise ImportError("progress bars need tqdm: pip install tqdm") from exc
    return tqdm(items, desc="claims", unit="claim")


def run_claims(claims: Sequence[Claim], *, quick: bool = True, cache_dir: str | os.PathLike | None = None,
               progress: bool = False) -> list[Outcome]:
    """Run each claim through the cache (``cache_dir=None``: no cache); a claim that raises becomes ERROR."""
    outcomes = []
    items = _progress(claims) if progress else claims
    for c in items:
        if progress:
            items.set_postfix_str(c.id)
        try:
            result, cached = cached_run(c, quick=quick, cache_dir=cache_dir)
        except Exception as exc:  # a failing claim must not take the report down
            outcomes.append(Outcome(c, None, error=f"{type(exc).__name__}: {exc}",
                                    traceback=traceback.format_exc()))
        else:
            outcomes.append(Outcome(c, result, cached))
    return outcomes


def summary_line(outcomes: Sequence[Outcome]) -> str:
    """``"<n> claims: <p> passed, <f> failed, <e> errored"``."""
    n = Counter(o.verdict for o in outcomes)
    return (f"{len(outcomes)} claim{'s' * (len(outcomes) != 1)}: {n['PASS']} passed, {n['FAIL']} failed, "
            f"{n['ERROR']} errored")


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


def _tidy_rows(result: ClaimResult) -> list[tuple]:
    return [(ev.claim_id, ev.prediction, r.get("panel"), r.get("series"), r.get("x"), r.get("theory"),
             r.get("simulated"), r.get("se"))
            for ev in (result.evidence, result.control) for r in ev.rows]


def _summary_rows(outcomes: Sequence[Outcome]) -> list[tuple]:
    rows = []
    for o in outcomes:
        c = o.claim
        head = (c.id, c.area, c.reference, o.verdict, o.control_verdict)
        if o.result is None:
            rows.append((*head, "", "", None, "", None, "", "", c.seed, o.cached, o.error))
            continue
        tail = (o.result.runtime_s, o.result.evidence.seed, o.cached, "")
        rows += [(*head, ev.prediction, k.name, float(k.statistic), k.relation, float(k.threshold), k.passed,
                  *tail) for ev in (o.result.evidence, o.result.control) for k in ev.checks]
    return rows


# --- figures ------------------------------------------------------------------------------------------

def _finite(value) -> bool:
    return isinstance(value, numbers.Real) and math.isfinite(value)


def _panel_rows(result: ClaimResult) -> list[tuple[Panel, list[dict], bool]]:
    """(panel, rows to draw, rows-are-from-the-control) for each panel that has rows.

    Panels come from ``evidence.panels`` (or, if none are declared, from the rows' panel names); a panel
    shows the evidence rows, or the control's when the evidence has none for it.
    """
    ev, ctl = result.evidence, result.control
    panels = ev.panels or tuple(Panel(name=str(n), xlabel="x", ylabel="value")
                                for n in dict.fromkeys(r.get("panel") for r in ev.rows + ctl.rows))
    out = []
    for p in panels:
        own = [r for r in ev.rows if str(r.get("panel")) == p.name]
        rows = own or [r for r in ctl.rows if str(r.get("panel")) == p.name]
        if rows:
            out.append((p, rows, not own))
    return out


def _series(rows: Sequence[dict]) -> list[str]:
    return list(dict.fromkeys(str(r.get("series")) for r in rows))


_BIG_LEGEND = 5  # panels with more series than this get their legend outside, right of the axes


def _draw_panel(ax, panel: Panel, rows: Sequence[dict], title: str) -> None:
    """Theory rows as lines, simulated rows as markers with SE bars, one colour per series."""
    from matplotlib.lines import Line2D

    handles, styles = [], {}
    series = _series(rows)
    for j, name in enumerate(series):
        color = f"C{j % 10}"
        mine = [r for r in rows if str(r.get("series")) == name and _finite(r.get("x"))]
        theory = sorted((float(r["x"]), float(r["theory"])) for r in mine if _finite(r.get("theory")))
        sim = [(float(r["x"]), float(r["simulated"]), float(r["se"]) if _finite(r.get("se")) else math.nan)
               for r in mine if _finite(r.get("simulated"))]  # NaN se: no error bar
        if theory:  # a lone theory point has no line to draw: mark it with a dash
            ax.plot(*zip(*theory), "-" if len(theory) > 1 else "_", color=color, lw=2.2, ms=22, mew=2.2,
                    zorder=2)
            styles["theory"] = Line2D([], [], color="0.3", lw=2.2, label="theory")
        if sim:
            x, y, se = zip(*sim)
            ax.errorbar(x, y, yerr=se, fmt="o", color=color, ms=6.5, mec="white", mew=0.8, elinewidth=1.6,
                        capsize=3.5, zorder=3)
            styles["sim"] = Line2D([], [], color="0.3", marker="o", ls="none", ms=6.5, label="simulation ± SE")
        handles.append(Line2D([], [], color=color, lw=2.2 if theory else 0, marker="o" if sim else "",
                              ms=6.5, label=name))
    handles += styles.values()
    if len(series) > _BIG_LEGEND:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    else:
        ax.legend(handles=handles, loc="best", framealpha=0.9)
    ax.set(xlabel=panel.xlabel, ylabel=panel.ylabel, xscale=panel.xscale, yscale=panel.yscale, title=title)
    for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        if axis.get_scale() == "log":
            _declutter_log(axis, *limits)
            axis.grid(True, which="minor", alpha=0.12)


def _declutter_log(axis, lo: float, hi: float) -> None:
    """With exactly one decade in view matplotlib labels minor ticks 2, 3, 4, 6 of every decade, which
    collide at talk font sizes: label only the 2x and 5x ticks there."""
    from matplotlib.ticker import FuncFormatter, LogFormatterSciNotation

    if math.floor(math.log10(hi)) - math.ceil(math.log10(lo)) != 0:
        return
    sci = LogFormatterSciNotation(labelOnlyBase=False)
    sci.set_axis(axis)

    def label(value: float, pos=None) -> str:
        return sci(value, pos) if round(value / 10 ** math.floor(math.log10(value))) in (2, 5) else ""

    axis.set_minor_formatter(FuncFormatter(label))


def _figure_png(o: Outcome) -> bytes | None:
    """PNG of the claim's panels with the verdict in the title; None if there are no rows to draw."""
    panels = _panel_rows(o.result)
    if not panels:
        return None
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("report figures need matplotlib: pip install matplotlib") from exc

    ncols = min(len(panels), 2)  # wider figures get scaled down in the HTML page until fonts are tiny
    nrows = math.ceil(len(panels) / ncols)
    wide_legends = len({i % ncols for i, (_, rows, _) in enumerate(panels)
                        if len(_series(rows)) > _BIG_LEGEND})  # columns that need room for an outside legend
    rc = {"font.size": 13, "axes.titlesize": 14, "axes.labelsize": 14, "xtick.labelsize": 12,
          "ytick.labelsize": 12, "legend.fontsize": 11, "axes.grid": True, "grid.alpha": 0.35}
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(5.8 * ncols + 2.4 * wide_legends, 4.6 * nrows + 1.0), layout="constrained")
        FigureCanvasAgg(fig)
        for i, (panel, rows, from_control) in enumerate(panels):
            title = textwrap.fill(panel.title or panel.name, 52)
            if from_control:
                title += f"\n(negative control: {o.result.control.prediction})"
            _draw_panel(fig.add_subplot(nrows, ncols, i + 1), panel, rows, title)
        width = int(fig.get_figwidth() * 7.2)  # characters per line of the 15 pt bold title
        head = f"{o.verdict} (control {o.control_verdict}): {o.claim.title}"
        fig.suptitle("\n".join([*textwrap.wrap(head, width), *textwrap.wrap(
            f"{o.claim.id} · {o.claim.reference}", width)]), color=_COLORS[o.verdict], fontsize=15,
            fontweight="bold")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


# --- environment --------------------------------------------------------------------------------------

def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_commit() -> str:
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                              capture_output=True, text=True, timeout=10, check=True)
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
        "dltheory": package_version(),
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
        f'<td>{_e(k.name)}</td><td class="num">{float(k.statistic):.4g}</td><td>{_e(k.relation)}</td>'
        f'<td class="num">{float(k.threshold):.4g}</td><td class="detail">{_e(k.detail)}</td></tr>'
        for k in checks)
    return ("<table><tr><th></th><th>check</th><th>statistic</th><th></th><th>threshold</th>"
            f"<th>detail</th></tr>{rows}</table>")


def _reasons(result: ClaimResult) -> list[str]:
    reasons = []
    if not result.evidence.passed:
        n = len(result.evidence.failures())
        reasons.append(f"the published prediction failed {n} of {len(result.evidence.checks)} check(s)"
                       if result.evidence.checks else "the evidence holds no check")
    if result.control.passed:
        reasons.append("the negative control was ACCEPTED: this check cannot tell the published "
                       "prediction from a wrong one")
    return reasons


def _section(o: Outcome, figure: str | Exception | None) -> str:
    c, r = o.claim, o.result
    head = (f'<section id="{_e(o.stem)}"><h2>{_e(c.title)}</h2>'
            f'<div class="meta"><code>{_e(c.id)}</code> · area: {_e(c.area)} · {_e(c.reference)}</div>'
            f"{_badge(o.verdict, big=True)}")
    if r is None:
        return (f'{head}<p class="reason">{_e(o.error)}</p>'
                f"<details><summary>traceback</summary><pre>{_e(o.traceback)}</pre></details></section>")
    params = "".join(f"<tr><td>{_e(k)}</td><td><code>{_e(json.dumps(v, default=repr))}</code></td></tr>"
                     for k, v in r.evidence.params.items())
    reasons = "".join(f'<p class="reason">{_e(text)}</p>' for text in _reasons(r))
    if isinstance(figure, str):
        fig = f'<p><a href="{_e(figure)}"><img src="{_e(figure)}" alt="figure for {_e(c.id)}"></a></p>'
    elif figure is None:
        fig = '<p class="meta">no figure: the evidence has no tidy rows to draw</p>'
    else:
        fig = f'<p class="reason">figure could not be drawn: {_e(type(figure).__name__)}: {_e(figure)}</p>'

    return (f"{head}{reasons}"
            f'<p class="meta">seed {r.evidence.seed} · runtime {_duration(r.runtime_s)}'
            f'{" (from cache)" if o.cached else " (computed now)"} · '
            f'tidy data: <a href="{_e(o.stem)}.csv">{_e(o.stem)}.csv</a></p>{fig}'
            f"<h3>Checks against the published prediction</h3>{_checks_table(r.evidence.checks)}"
            f"<h3>Negative control: {_e(r.control.prediction)} {_badge(o.control_verdict)}</h3>"
            f'<p class="meta">{_e(c.control)} — must be REJECTED.</p>{_checks_table(r.control.checks)}'
            f"<h3>Parameters</h3><table>{params}</table></section>")


def _html(outcomes: Sequence[Outcome], env: dict[str, str], figures: dict[str, str | Exception]) -> str:
    summary = "".join(
        f'<tr><td><a href="#{_e(o.stem)}">{_e(o.claim.id)}</a></td><td>{_e(o.claim.area)}</td>'
        f"<td>{_e(o.claim.reference)}</td><td>{_badge(o.verdict)}</td><td>{_badge(o.control_verdict)}</td>"
        f'<td class="num">{"–" if o.result is None else _duration(o.result.runtime_s)}'
        f'{" (cached)" if o.cached else ""}</td>'
        f'<td class="num">{o.claim.seed if o.result is None else o.result.evidence.seed}</td></tr>'
        for o in outcomes)
    env_items = "".join(f"<span><b>{_e(k)}</b> {_e(v)}</span>" for k, v in env.items())
    sections = "".join(_section(o, figures.get(o.claim.id)) for o in outcomes)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>dltheory report ({_e(env['tier'])})</title><style>{_CSS}</style></head><body>"
            f"<h1>dltheory: theory vs simulation</h1>"
            f'<p class="meta">{_e(summary_line(outcomes))} · {_e(env["tier"])} tier · '
            f'<a href="summary.csv">summary.csv</a></p>'
            f'<div class="env">{env_items}</div>'
            f"<table><tr><th>claim</th><th>area</th><th>reference</th><th>verdict</th>"
            f"<th>negative control</th><th>runtime</th><th>seed</th></tr>{summary}</table>"
            f"{sections}</body></html>\n")


# --- entry points -------------------------------------------------------------------------------------

def write_report(out_dir: str | os.PathLike, outcomes: Sequence[Outcome], *, quick: bool) -> Path:
    """Write figures, CSVs, summary.csv and (last) index.html into an existing ``out_dir``."""
    out = Path(out_dir)
    figures: dict[str, str | Exception] = {}  # claim id -> PNG file name, or why it could not be drawn
    for o in outcomes:
        if o.result is None:
            continue
        atomic_write(out / f"{o.stem}.csv", _csv(ROW_COLUMNS, _tidy_rows(o.result)))
        try:
            png = _figure_png(o)
        except Exception as exc:  # e.g. a panel with an invalid scale: report it in the section instead
            figures[o.claim.id] = exc
            continue
        if png is not None:
            atomic_write(out / f"{o.stem}.png", png)
            figures[o.claim.id] = f"{o.stem}.png"
    atomic_write(out / "summary.csv", _csv(SUMMARY_COLUMNS, _summary_rows(outcomes)))
    index = out / "index.html"
    atomic_write(index, _html(outcomes, _environment(quick), figures).encode())
    return index


def build_report(out_dir: str | os.PathLike, *, quick: bool = True, pattern: str | None = None,
                 cache_dir: str | os.PathLike | None = None, use_cache: bool = True,
                 progress: bool = False) -> Path:
    """Run the claims matching ``pattern`` (all if None) and write the report; returns index.html's path.

    Raises ValueError for a pattern that matches no claim and OSError for an unwritable directory, both
    before any claim runs. ``cache_dir`` defaults to ``<out_dir>/../_cache``; ``use_cache=False`` disables it.
    """
    claims = registry.select(pattern)
    out, cache = prepare_dirs(out_dir, cache_dir, use_cache)
    return write_report(out, run_claims(claims, quick=quick, cache_dir=cache, progress=progress), quick=quick)
