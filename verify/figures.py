"""Figures for the report: one PNG per claim, one panel per :class:`~dltheory.verify.evidence.Panel`.

Line panels draw theory as lines and simulation as markers with SE bars, one legend entry per series (its colour,
marker and dash); the legend's title says what lines and markers are, for the kinds the panel shows, and a
legend never covers data (inside the axes only where it measurably covers none, else outside them). Heatmap
panels draw the grid's cell values with any other series as theory lines on top. Ticks are kept readable (at
most six on a linear axis, plain numbers on short log axes, labels rotated if they would still touch), panel
titles take at most two lines, and a panel whose points share one x is centred on it. The claim's verdict and
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

__all__ = ["figure_png", "figure", "VERDICT_COLORS"]

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
_CHAR_IN = 0.085  # width of one legend character at 11 pt, inches (DejaVu Sans, measured on digits and letters)
_HANDLE_IN = 0.9  # legend handle, padding and frame, inches
_KEY_CHAR_IN = 0.078  # width of one legend-title character at 10 pt, inches
_KEY_PAD_IN = 0.35  # legend title's padding and frame, inches
_MARKERS = "osD^vP<>X*"
_DASHES = ("-", "--", "-.", ":")


def _legend_place(series: Sequence[str]) -> str:
    """Where a line panel's legend goes: "right" (many series), "below" (long labels) or "inside"."""
    longest = max(map(len, series), default=0)
    if longest > _LONG_LABEL:
        return "below"
    return "right" if len(series) > _BIG_LEGEND else "inside"


def _legend_width(series: Sequence[str], key: str = "") -> float:
    """Approximate width of a one-column legend of these labels under the title ``key``, inches."""
    return max(_CHAR_IN * max(map(len, series), default=0) + _HANDLE_IN, _KEY_CHAR_IN * len(key) + _KEY_PAD_IN)


def _key(rows: Sequence[dict]) -> str:
    """A line panel's legend title: what lines and markers are, for the kinds of data its rows draw."""
    drawn = [r for r in rows if _finite(r.get("x"))]
    has_theory = any(_finite(r.get("theory")) for r in drawn)
    has_sim = any(_finite(r.get("simulated")) for r in drawn)
    return " · ".join(["lines: theory"] * has_theory + ["markers: simulation ± SE"] * has_sim)


def _colours(series: Sequence[str], kinds: dict[str, set]) -> dict[str, int]:
    """Colour index per series; a theory-only series named after a simulated one ("E rho: limit" after "E rho")
    gets that series' colour, so a line and the markers it predicts match."""
    out: dict[str, int] = {}
    for name in series:
        parent = next(
            (
                other
                for other in series
                if other != name and kinds[name] == {"theory"} and "sim" in kinds[other] and name.startswith(other)
            ),
            None,
        )
        out[name] = out[parent] if parent in out else len(set(out.values()))
    return out


def _draw_panel(ax, panel: Panel, rows: Sequence[dict], title: str) -> tuple[list, str]:
    """Theory rows as lines, simulated rows as markers with SE bars; one colour (and marker and dash) per series.

    Returns the legend handles (one per series) and the legend's title, which says what lines and markers are:
    the generic key appears only for the kinds of data the panel shows."""
    from matplotlib.lines import Line2D

    series = _series(rows)
    kinds: dict[str, set] = {}
    points = {}
    for name in series:
        mine = [r for r in rows if str(r.get("series")) == name and _finite(r.get("x"))]
        theory = sorted((float(r["x"]), float(r["theory"])) for r in mine if _finite(r.get("theory")))
        sim = [
            (float(r["x"]), float(r["simulated"]), float(r["se"]) if _finite(r.get("se")) else math.nan)
            for r in mine
            if _finite(r.get("simulated"))
        ]  # NaN se: no error bar
        points[name] = theory, sim
        kinds[name] = {k for k, present in (("theory", theory), ("sim", sim)) if present}
    colours = _colours(series, kinds)
    handles = []
    for j, name in enumerate(series):
        theory, sim = points[name]
        color, marker, dash = f"C{colours[name] % 10}", _MARKERS[j % len(_MARKERS)], _DASHES[j % len(_DASHES)]
        if theory:  # a lone theory point has no line to draw: mark it with a dash
            ax.plot(*zip(*theory), dash if len(theory) > 1 else "_", color=color, lw=2.2, ms=22, mew=2.2, zorder=2)
        if sim:
            x, y, se = zip(*sim)
            ax.errorbar(
                x,
                y,
                yerr=se,
                fmt=marker,
                color=color,
                ms=6.5,
                mec="white",
                mew=0.8,
                elinewidth=1.6,
                capsize=3.5,
                zorder=3,
            )
        handles.append(
            Line2D(
                [], [], color=color, lw=2.2 if theory else 0, ls=dash, marker=marker if sim else "", ms=6.5, label=name
            )
        )
    ax.set(xlabel=panel.xlabel, ylabel=panel.ylabel, xscale=panel.xscale, yscale=panel.yscale, title=title)
    _single_x(ax, [x for theory, sim in points.values() for x, *_ in (*theory, *sim)])
    return handles, _key(rows)


def _single_x(ax, xs: Sequence[float]) -> None:
    """A panel whose points all share one x: centre it in a window around that x with a single tick there."""
    from matplotlib.ticker import NullFormatter

    values = sorted(set(xs))
    if len(values) != 1:
        return
    x = values[0]
    if ax.get_xscale() == "log":
        ax.set_xlim(x / 3, x * 3)
    else:
        half = abs(x) / 2 or 1.0
        ax.set_xlim(x - half, x + half)
    ax.set_xticks([x])
    ax.xaxis.set_minor_formatter(NullFormatter())


def _readable_ticks(ax) -> None:
    """At most 6 major ticks on linear axes; plain numbers on log axes spanning less than 5 decades (10, 20, 50
    rather than 10^1, 2x10^1, 5x10^1), labelling only the 2x and 5x minor ticks when one decade is in view."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        if axis.get_scale() == "linear":
            if len(axis.get_majorticklocs()) > 1:
                axis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
            continue
        if axis.get_scale() != "log":
            continue
        axis.grid(True, which="minor", alpha=0.12)
        lo, hi = sorted(limits)
        if lo <= 0:
            continue
        plain = 1e-3 <= lo and hi <= 1e5
        if plain:
            axis.set_major_formatter(FuncFormatter(lambda v, pos=None: f"{v:g}"))
        if plain and hi / lo < 10:  # less than a decade: matplotlib labels the minor ticks; plainly, then
            axis.set_minor_formatter(FuncFormatter(lambda v, pos=None: f"{v:g}"))
        elif math.floor(math.log10(hi)) - math.ceil(math.log10(lo)) == 0:
            _declutter_log(axis, plain)


def _declutter_log(axis, plain: bool) -> None:
    """With exactly one decade in view matplotlib labels minor ticks 2, 3, 4, 6 of every decade, which
    collide at talk font sizes: label only the 2x and 5x ticks there."""
    from matplotlib.ticker import FuncFormatter, LogFormatterSciNotation

    sci = LogFormatterSciNotation(labelOnlyBase=False)
    sci.set_axis(axis)

    def label(value: float, pos=None) -> str:
        if round(value / 10 ** math.floor(math.log10(value))) not in (2, 5):
            return ""
        return f"{value:g}" if plain else sci(value, pos)

    axis.set_minor_formatter(FuncFormatter(label))


def _overlapping(labels, renderer) -> bool:
    boxes = [t.get_window_extent(renderer) for t in labels if t.get_visible() and t.get_text()]
    return any(a.x1 > b.x0 - 2 for a, b in zip(boxes, boxes[1:]))


def _unclutter_x(fig, axes) -> None:
    """Rotate the x tick labels of any axes whose labels (major or minor) still touch after layout."""
    renderer = fig.canvas.get_renderer()
    for ax in axes:
        for labels in (ax.get_xticklabels(), ax.get_xticklabels(minor=True)):
            labels = sorted((t for t in labels if t.get_text()), key=lambda t: t.get_window_extent(renderer).x0)
            if _overlapping(labels, renderer):
                for t in labels:
                    t.set(rotation=30, ha="right", rotation_mode="anchor")


def _distinct_ticks(axes) -> bool:
    """An axis whose tick labels repeat a value (a range far below the labels' precision: eight networks whose margins
    agree to 1e-9 all read "0.0171448") is redrawn linear, labelled relative to an offset shown at its end. Returns
    whether any axis changed."""
    from matplotlib.ticker import MaxNLocator, NullFormatter, ScalarFormatter

    changed = False
    for ax in axes:
        for axis, set_scale in ((ax.xaxis, ax.set_xscale), (ax.yaxis, ax.set_yscale)):
            texts = [t.get_text() for t in (*axis.get_ticklabels(), *axis.get_ticklabels(minor=True)) if t.get_text()]
            if len(texts) == len(set(texts)):
                continue
            set_scale("linear")
            axis.set_major_locator(MaxNLocator(nbins=5))
            axis.set_major_formatter(ScalarFormatter(useOffset=True, useMathText=True))
            axis.set_minor_formatter(NullFormatter())
            changed = True
    return changed


def _edges(centres: np.ndarray, log: bool) -> np.ndarray:
    """Cell edges around sorted cell centres (geometric midpoints on a log axis)."""
    c = np.log(centres) if log else centres
    if c.size == 1:
        mid = np.array([c[0] - 0.5, c[0] + 0.5])
    else:
        inner = (c[1:] + c[:-1]) / 2
        mid = np.concatenate([[2 * c[0] - inner[0]], inner, [2 * c[-1] - inner[-1]]])
    return np.exp(mid) if log else mid


def _draw_heatmap(ax, panel: Panel, rows: Sequence[dict], title: str) -> list:
    """Series ``grid``: cell values (``simulated``) on the (x, y) grid, annotated with ``label`` (or the value)
    when the grid is small; every other series: a theory line through its (x, y) points. Returns the lines (the
    legend's handles)."""
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
    ax.set(xlabel=panel.xlabel, ylabel=panel.ylabel, xscale=panel.xscale, yscale=panel.yscale, title=title)
    ax.grid(False)
    return ax.get_lines()


def _title(text: str, width: int) -> str:
    """A panel title in at most two lines of ``width`` characters (shortened with an ellipsis if longer)."""
    lines = textwrap.wrap(text, width)
    if len(lines) <= 2:
        return "\n".join(lines)
    return "\n".join([lines[0], textwrap.shorten(" ".join(lines[1:]), width, placeholder=" …")])


def _suptitle(fig, head: str, ref: str, color: str) -> None:
    """Two bold title lines, each shortened (with an ellipsis) until it fits the figure's width as rendered."""
    renderer = fig.canvas.get_renderer()
    width = int(fig.get_figwidth() * 8)  # characters per line: a first guess, corrected by measuring
    for _ in range(30):
        lines = [textwrap.shorten(text, width, placeholder=" …") for text in (head, ref)]
        title = fig.suptitle("\n".join(lines), color=color, fontsize=15, fontweight="bold")
        if title.get_window_extent(renderer).width <= 0.98 * fig.get_figwidth() * fig.dpi:
            return
        width = int(width * 0.95)


_INSIDE_LOCS = (
    "upper right",
    "upper left",
    "lower left",
    "lower right",
    "center right",
    "center left",
    "upper center",
    "lower center",
    "center",
)


def _runs(xy: np.ndarray) -> list[np.ndarray]:
    """The stretches of finite consecutive points of an (n, 2) array (a line is not drawn across NaN)."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    ok = np.isfinite(xy).all(axis=1)
    cuts = np.flatnonzero(np.diff(ok.astype(int))) + 1
    return [run for run in np.split(xy, cuts) if run.size and np.isfinite(run).all()]


def _covers(box, ax, renderer) -> bool:
    """Whether the display box ``box`` (a legend's window extent) covers data drawn in ``ax``: a marker (with
    its size), a line segment (with its width), an error bar or a cell annotation. A heatmap's cells are its
    background, not data a legend could hide."""
    from matplotlib.collections import LineCollection
    from matplotlib.path import Path

    px = ax.figure.dpi / 72  # display pixels per point
    pieces = []  # (display points, drawn as a line?, padding in pixels)
    for line in ax.get_lines():
        if not line.get_visible():
            continue
        xy = line.get_transform().transform(np.asarray(line.get_xydata(), dtype=float))
        marker = line.get_marker() not in (None, "", " ", "None", "none")
        joined = line.get_linestyle() not in ("None", "", " ") and line.get_linewidth() > 0
        pad = px * max(line.get_linewidth() / 2 * joined, line.get_markersize() / 2 * marker)
        pieces += [(run, joined, pad) for run in _runs(xy)]
    for coll in ax.collections:
        if isinstance(coll, LineCollection) and coll.get_visible():
            pad = px * max(np.atleast_1d(coll.get_linewidth()), default=1.0) / 2
            pieces += [
                (run, True, pad) for seg in coll.get_segments() for run in _runs(coll.get_transform().transform(seg))
            ]
    for run, joined, pad in pieces:
        grown = box.padded(pad)
        if joined and len(run) > 1:
            if Path(run).intersects_bbox(grown, filled=False):
                return True
        elif np.any(
            (run[:, 0] >= grown.x0) & (run[:, 0] <= grown.x1) & (run[:, 1] >= grown.y0) & (run[:, 1] <= grown.y1)
        ):
            return True
    return any(t.get_visible() and t.get_window_extent(renderer).overlaps(box) for t in ax.texts)


def _free_corner(ax, legend, renderer) -> bool:
    """Place an inside legend where it covers no data (its current place first, then the nine inside places);
    False if every place covers some."""
    if not _covers(legend.get_window_extent(renderer), ax, renderer):
        return True
    for loc in _INSIDE_LOCS:
        legend.set_loc(loc)
        if not _covers(legend.get_window_extent(renderer), ax, renderer):
            return True
    return False


def figure_png(o) -> bytes | None:
    """PNG of an outcome's panels (``o``: a :class:`dltheory.verify.runner.Outcome` with a result), verdict in the
    title; None if there are no rows to draw.

    Each panel is a subfigure with its own legend (inside the axes, below them for long labels, right of them for
    many series), so constrained layout sizes legends, labels and titles without overlaps. A legend inside the
    axes must cover no data (markers, lines, error bars, cell labels, measured on the drawn figure): it goes to the
    first free place inside, and if there is none the figure is drawn again with that legend outside (right of a
    line panel, below a heatmap, whose colour bar is on the right). The figure title is two lines: verdict and
    claim title (shortened), then id and reference (shortened); the report prints both in full.
    """
    fig = figure(o)
    if fig is None:
        return None
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def figure(o):
    """The drawn :class:`matplotlib.figure.Figure` that :func:`figure_png` saves (at 110 dpi), or None if there
    are no rows to draw."""
    panels = _panel_rows(o.result)
    if not panels:
        return None
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError("report figures need matplotlib: pip install matplotlib") from exc

    places = [_legend_place(_series(rows)) if p.kind == "line" else "inside" for p, rows in panels]
    fig, crowded = _figure(o, panels, places)
    if crowded:
        places = [
            ("below" if panels[i][0].kind == "heatmap" else "right") if i in crowded else place
            for i, place in enumerate(places)
        ]
        fig, _ = _figure(o, panels, places)
    return fig


def _figure(o, panels: Sequence[tuple[Panel, list[dict]]], places: Sequence[str]):
    """The drawn figure of ``panels`` with legends at ``places``, and the indices of the panels whose legend is
    inside and covers data wherever it goes there."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    widths = [_legend_width(_series(rows), _key(rows) if p.kind == "line" else "") for p, rows in panels]
    below = [w for w, place in zip(widths, places) if place == "below"]
    # two columns (wider figures get scaled down in the HTML page until fonts are tiny), or one when a legend
    # below its panel would not fit a panel's width
    ncols = 1 if any(w > 5.8 for w in below) else min(len(panels), 2)
    nrows = math.ceil(len(panels) / ncols)
    panel_w = max(5.8, 9.3 / ncols)  # one-panel figures get the width of 1.6 panels so the title does not wrap
    col_extra = [
        max(
            (widths[i] for i in range(c, len(panels), ncols) if places[i] == "right"),
            default=0.0,
        )
        for c in range(ncols)
    ]
    row_extra = [
        max(
            (0.3 * len(_series(panels[i][1])) + 0.4) * (places[i] == "below")
            for i in range(r * ncols, min((r + 1) * ncols, len(panels)))
        )
        for r in range(nrows)
    ]
    rc = {
        "font.size": 13,
        "axes.titlesize": 14,
        "axes.labelsize": 14,
        "xtick.labelsize": 12,
        "ytick.labelsize": 12,
        "legend.fontsize": 11,
        "legend.title_fontsize": 10,
        "axes.grid": True,
        "grid.alpha": 0.35,
    }
    with matplotlib.rc_context(rc):
        col_w = [panel_w + e for e in col_extra]
        heights = [4.6 + e for e in row_extra]
        fig = Figure(figsize=(sum(col_w), sum(heights) + 0.9), layout="constrained")
        FigureCanvasAgg(fig)
        subfigs = fig.subfigures(nrows, ncols, squeeze=False, width_ratios=col_w, height_ratios=heights)
        axes = []
        inside = {}
        for i, ((panel, rows), place) in enumerate(zip(panels, places)):
            sub = subfigs[i // ncols, i % ncols]
            ax = sub.add_subplot()
            title = _title(panel.title or panel.name, int(panel_w * 8.2))
            if panel.kind == "heatmap":
                handles, key = _draw_heatmap(ax, panel, rows, title), ""
            else:
                handles, key = _draw_panel(ax, panel, rows, title)
            kw = dict(handles=handles, title=key or None, framealpha=0.9)
            if handles and place == "right":
                sub.legend(loc="outside right upper", **kw)
            elif handles and place == "below":
                sub.legend(loc="outside lower center", ncols=1, **kw)
            elif handles:
                inside[i] = ax.legend(loc="best" if panel.kind == "line" else "upper right", **kw)
            _readable_ticks(ax)
            axes.append(ax)
        _suptitle(
            fig,
            f"{o.verdict} (controls {o.control_verdict}): {o.claim.title}",
            f"{o.claim.id} · {o.claim.reference}",
            VERDICT_COLORS[o.verdict],
        )
        fig.canvas.draw()
        if _distinct_ticks(axes):
            fig.canvas.draw()
        _unclutter_x(fig, axes)
        fig.canvas.draw()  # rotated tick labels change the layout: measure legends on the final one
        renderer = fig.canvas.get_renderer()
        crowded = {i for i, legend in inside.items() if not _free_corner(axes[i], legend, renderer)}
    return fig, crowded
