"""Figures for the report: one PNG per claim, one panel per :class:`~dltheory.verify.evidence.Panel`.

Line panels draw theory as lines and simulation as markers with SE bars, one colour per series; heatmap
panels draw the grid's cell values with any other series as theory lines on top. The claim's verdict and
the verdict on its controls are in the figure title, coloured, so a figure read alone still says what it shows.
"""

from __future__ import annotations

import io
import math
import numbers
import textwrap
from collections.abc import Sequence

import numpy as np

from dltheory.verify.evidence import ClaimResult, Panel

__all__ = ["figure_png", "VERDICT_COLORS"]

VERDICT_COLORS = {"PASS": "#1a7f37", "FAIL": "#cf222e", "ERROR": "#9a6700"}


def _finite(value) -> bool:
    return isinstance(value, numbers.Real) and math.isfinite(value)


def _panel_rows(result: ClaimResult) -> list[tuple[Panel, list[dict]]]:
    """(panel, rows to draw) for each panel of the published prediction's evidence that has rows.

    Panels come from ``evidence.panels`` (or, if none are declared, from the rows' panel names).
    """
    ev = result.evidence
    panels = ev.panels or tuple(
        Panel(name=str(n), xlabel="x", ylabel="value") for n in dict.fromkeys(r.get("panel") for r in ev.rows)
    )
    out = []
    for p in panels:
        rows = [r for r in ev.rows if str(r.get("panel")) == p.name]
        if rows:
            out.append((p, rows))
    return out


def _series(rows: Sequence[dict]) -> list[str]:
    return list(dict.fromkeys(str(r.get("series")) for r in rows))


_BIG_LEGEND = 5  # panels with more series than this get their legend outside, right of the axes
_LONG_LABEL = 32  # panels with a series label longer than this get their legend below the axes


def _draw_panel(ax, panel: Panel, rows: Sequence[dict], title: str) -> None:
    """Theory rows as lines, simulated rows as markers with SE bars, one colour per series."""
    from matplotlib.lines import Line2D

    handles, styles = [], {}
    series = _series(rows)
    for j, name in enumerate(series):
        color = f"C{j % 10}"
        mine = [r for r in rows if str(r.get("series")) == name and _finite(r.get("x"))]
        theory = sorted((float(r["x"]), float(r["theory"])) for r in mine if _finite(r.get("theory")))
        sim = [
            (float(r["x"]), float(r["simulated"]), float(r["se"]) if _finite(r.get("se")) else math.nan)
            for r in mine
            if _finite(r.get("simulated"))
        ]  # NaN se: no error bar
        if theory:  # a lone theory point has no line to draw: mark it with a dash
            ax.plot(*zip(*theory), "-" if len(theory) > 1 else "_", color=color, lw=2.2, ms=22, mew=2.2, zorder=2)
            styles["theory"] = Line2D([], [], color="0.3", lw=2.2, label="theory")
        if sim:
            x, y, se = zip(*sim)
            ax.errorbar(
                x, y, yerr=se, fmt="o", color=color, ms=6.5, mec="white", mew=0.8, elinewidth=1.6, capsize=3.5, zorder=3
            )
            styles["sim"] = Line2D([], [], color="0.3", marker="o", ls="none", ms=6.5, label="simulation ± SE")
        handles.append(
            Line2D([], [], color=color, lw=2.2 if theory else 0, marker="o" if sim else "", ms=6.5, label=name)
        )
    handles += styles.values()
    if len(series) > _BIG_LEGEND:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    elif max(map(len, series)) > _LONG_LABEL:  # long labels (fitted slopes) would cover the data: put them below
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=10, ncols=1)
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


def _edges(centres: np.ndarray, log: bool) -> np.ndarray:
    """Cell edges around sorted cell centres (geometric midpoints on a log axis)."""
    c = np.log(centres) if log else centres
    if c.size == 1:
        mid = np.array([c[0] - 0.5, c[0] + 0.5])
    else:
        inner = (c[1:] + c[:-1]) / 2
        mid = np.concatenate([[2 * c[0] - inner[0]], inner, [2 * c[-1] - inner[-1]]])
    return np.exp(mid) if log else mid


def _draw_heatmap(ax, panel: Panel, rows: Sequence[dict], title: str) -> None:
    """Series ``grid``: cell values (``simulated``) on the (x, y) grid, annotated with ``label`` (or the value)
    when the grid is small; every other series: a theory line through its (x, y) points."""
    grid = [r for r in rows if str(r.get("series")) == "grid" and _finite(r.get("x")) and _finite(r.get("y"))]
    xs = np.unique([float(r["x"]) for r in grid])
    ys = np.unique([float(r["y"]) for r in grid])
    values = np.full((ys.size, xs.size), np.nan)
    labels: dict[tuple[int, int], str] = {}
    for r in grid:
        i, j = np.searchsorted(ys, float(r["y"])), np.searchsorted(xs, float(r["x"]))
        values[i, j] = float(r["simulated"]) if _finite(r.get("simulated")) else np.nan
        labels[i, j] = str(r["label"]) if r.get("label") not in (None, "") else f"{values[i, j]:.2g}"
    mesh = ax.pcolormesh(
        _edges(xs, panel.xscale == "log"),
        _edges(ys, panel.yscale == "log"),
        np.ma.masked_invalid(values),
        cmap="viridis",
        shading="flat",
    )
    ax.figure.colorbar(mesh, ax=ax, label=panel.clabel or "value")
    if values.size <= 64:
        lo, hi = np.nanmin(values), np.nanmax(values)
        for (i, j), text in labels.items():
            dark = np.isfinite(values[i, j]) and values[i, j] < lo + 0.55 * (hi - lo)
            ax.text(xs[j], ys[i], text, ha="center", va="center", fontsize=9, color="white" if dark else "black")
    for k, name in enumerate(s for s in _series(rows) if s != "grid"):
        pts = [
            (float(r["x"]), float(r["y"]))
            for r in rows
            if str(r.get("series")) == name and _finite(r.get("x")) and _finite(r.get("y"))
        ]
        if pts:
            ax.plot(*zip(*pts), "--", color=("#d62728", "#ff7f0e", "white")[k % 3], lw=3, label=name)
    if len(_series(rows)) > 1:
        ax.legend(loc="upper right", framealpha=0.85)
    ax.set(xlabel=panel.xlabel, ylabel=panel.ylabel, xscale=panel.xscale, yscale=panel.yscale, title=title)
    ax.grid(False)


def figure_png(o) -> bytes | None:
    """PNG of an outcome's panels (``o``: a :class:`dltheory.verify.runner.Outcome` with a result), verdict in the
    title; None if there are no rows to draw."""
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
    wide_legends = len(
        {i % ncols for i, (_, rows) in enumerate(panels) if len(_series(rows)) > _BIG_LEGEND}
    )  # columns that need room for an outside legend
    rc = {
        "font.size": 13,
        "axes.titlesize": 14,
        "axes.labelsize": 14,
        "xtick.labelsize": 12,
        "ytick.labelsize": 12,
        "legend.fontsize": 11,
        "axes.grid": True,
        "grid.alpha": 0.35,
    }
    with matplotlib.rc_context(rc):
        # one-panel figures get the width of 1.6 panels so the title does not wrap into a tower
        fig = Figure(figsize=(max(5.8 * ncols, 9.3) + 2.4 * wide_legends, 4.6 * nrows + 1.0), layout="constrained")
        FigureCanvasAgg(fig)
        for i, (panel, rows) in enumerate(panels):
            title = textwrap.fill(panel.title or panel.name, 52)
            draw = _draw_heatmap if panel.kind == "heatmap" else _draw_panel
            draw(fig.add_subplot(nrows, ncols, i + 1), panel, rows, title)
        width = int(fig.get_figwidth() * 7.2)  # characters per line of the 15 pt bold title
        head = f"{o.verdict} (controls {o.control_verdict}): {o.claim.title}"
        ref = textwrap.shorten(o.claim.reference, max(width - len(o.claim.id) - 3, 20), placeholder=" …")
        fig.suptitle(
            "\n".join([*textwrap.wrap(head, width), f"{o.claim.id} · {ref}"]),
            color=VERDICT_COLORS[o.verdict],
            fontsize=15,
            fontweight="bold",
        )
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()
