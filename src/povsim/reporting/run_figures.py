"""Figures of a run (matplotlib, written as PNG).

Levels for every arm (expectancies, inequality, outcomes), and when the scenario has arms,
comparisons with the baseline (change in HLE by quintile, HLE gap over time, cost against
healthy life-years gained). ``feedback_loops.png`` shows the system-dynamics stocks when the
run recorded them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from povsim.inputs.prices import PRICE_YEAR
from povsim.model import registry as R
from povsim.reporting.figure_store import plt, save_figure  # pyplot, its backend chosen
from povsim.reporting.summary import gap_ends
from povsim.reporting.who_pays import FIGURE as WHO_PAYS_FIGURE
from povsim.reporting.who_pays import who_pays_figure, who_pays_table

QUINTILE_COLOURS = {
    "1": "#b2182b",
    "2": "#ef8a62",
    "3": "#999999",
    "4": "#67a9cf",
    "5": "#2166ac",
    "all": "#000000",
}
QUINTILE_NAMES = {
    "1": "Q1 most deprived",
    "2": "Q2",
    "3": "Q3",
    "4": "Q4",
    "5": "Q5 least deprived",
    "all": "England",
}
BASELINE_COLOUR = "#4d4d4d"
# Okabe-Ito (colour-blind safe; its yellow left out: unreadable on white), and every arm also
# gets its own line style and marker, so arms stay apart in grey print and for any eye.
ARM_PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
ARM_STYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)), (0, (8, 2)))
ARM_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
ARM_HATCHES = ("", "//", "..", "xx", "\\\\", "++", "oo")
DPI = 110

STYLE: Any = {  # rc parameters; Any: matplotlib types rc keys as one long Literal
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "figure.titlesize": 13,
    "figure.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
}

# Panels of the outcomes figure: the registry's prevalence measures that have a figure label,
# in results-table order (a new binary risk factor gets its panel from its registry row).
OUTCOME_LABELS = {m.name: m.label for m in R.REGISTRY.prevalences if m.label is not None}


def arm_colours(arms) -> dict[str, str]:
    """Baseline dark grey; other arms from ARM_PALETTE in order."""
    out, k = {}, 0
    for arm in arms:
        if arm == "baseline":
            out[arm] = BASELINE_COLOUR
        else:
            out[arm] = ARM_PALETTE[k % len(ARM_PALETTE)]
            k += 1
    return out


def arm_styles(arms) -> dict[str, Any]:
    """Baseline solid; other arms dashed, dash-dot, dotted and further dash patterns."""
    others = ARM_STYLES[1:]
    out: dict[str, Any] = {}
    k = 0
    for arm in arms:
        if arm == "baseline":
            out[arm] = "-"
        else:
            out[arm] = others[k % len(others)]
            k += 1
    return out


def arm_markers(arms) -> dict[str, str]:
    """One marker per arm (baseline a circle), so arms differ by more than colour."""
    return {arm: ARM_MARKERS[i % len(ARM_MARKERS)] for i, arm in enumerate(arms)}


def legend_below(fig, ax=None, ncol: int = 4, **kw) -> Any:
    """The legend under the panels, outside every axis (constrained layout makes room for it;
    a figure with a fixed layout, see :func:`fixed_layout`, leaves the room), so it never
    covers data; ``ax`` picks the handles (default: the first axis)."""
    src = ax if ax is not None else fig.axes[0]
    handles, labels = src.get_legend_handles_labels()
    if not handles:
        return None
    if fig.get_layout_engine() is None:  # a fixed layout: at the bottom edge
        where: dict[str, Any] = {"loc": "lower center", "bbox_to_anchor": (0.5, 0.0)}
    else:
        where = {"loc": "outside lower center"}
    return fig.legend(handles, labels, ncol=min(ncol, len(handles)), **where, **kw)


def fixed_layout(
    fig,
    nrows: int,
    ncols: int,
    *,
    left: float,
    top: float,
    bottom: float,
    right: float = 0.15,
    wgap: float = 0.0,
    hgap: float = 0.0,
) -> None:
    """Place a grid of panels with fixed margins and gaps (inches) instead of constrained
    layout. Constrained layout measures every text of a figure in a draw of its own before
    the real one, about a third of the time a run spends on figures; the per-arm figures,
    whose texts are of known length (quintile names, years, fixed titles), get fixed room
    instead: ``top`` for the suptitle and panel titles, ``bottom`` for the x-axis and the
    legend below, ``left`` and ``wgap`` for y tick labels and labels, ``hgap`` between rows."""
    w, h = fig.get_size_inches()
    aw = (w - left - right - (ncols - 1) * wgap) / ncols
    ah = (h - top - bottom - (nrows - 1) * hgap) / nrows
    fig.subplots_adjust(
        left=left / w,
        right=1 - right / w,
        top=1 - top / h,
        bottom=bottom / h,
        wspace=wgap / aw,
        hspace=hgap / ah,
    )


def no_data(ax, message: str) -> None:
    """A panel with nothing to plot says why instead of showing an empty axis."""
    ax.cla()
    ax.set_axis_off()
    ax.text(
        0.5,
        0.5,
        message,
        ha="center",
        va="center",
        wrap=True,
        fontsize=10,
        transform=ax.transAxes,
        color="#333333",
    )


def include_zero(ax) -> None:
    """Changes and differences are read against zero: the y-axis always shows it."""
    lo, hi = ax.get_ylim()
    ax.set_ylim(min(lo, 0.0), max(hi, 0.0))


def _ordered_arms(arms) -> list[str]:
    arms = list(dict.fromkeys(arms))
    return (["baseline"] if "baseline" in arms else []) + [a for a in arms if a != "baseline"]


def _has_se(se: np.ndarray) -> bool:
    se = np.asarray(se, dtype=float)
    return bool(np.isfinite(se).any() and np.nanmax(se) > 0)


def _band(ax, x, y, se, colour, label, style: Any = "-", marker: str | None = None):
    ax.plot(
        x,
        y,
        linestyle=style,
        color=colour,
        label=label,
        lw=1.6,
        marker=marker,
        markevery=max(1, len(x) // 8) if marker else None,
        ms=4,
    )
    se = np.asarray(se, dtype=float)
    if _has_se(se):
        ax.fill_between(x, y - 1.96 * se, y + 1.96 * se, color=colour, alpha=0.15, lw=0)


def _save(fig, path: Path) -> None:
    save_figure(fig, path, dpi=DPI)  # the layout is the figure's own (no "tight" bbox)


def expectancies_figure(
    frame: pd.DataFrame, arm: str, path: Path, area_name: str = "England"
) -> None:
    """LE and HLE at birth by quintile and sex over the horizon (95% Monte Carlo bands)."""
    f = frame[frame.arm == arm]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.6), sharex=True)
    fixed_layout(fig, 2, 2, left=0.7, top=1.0, bottom=1.02, wgap=0.8, hgap=0.42)
    for col, sex in enumerate(("male", "female")):
        for row, (m, title) in enumerate(
            (("le0", "Life expectancy at birth"), ("hle0", "Healthy life expectancy at birth"))
        ):
            ax = axes[row, col]
            for q in ("1", "2", "3", "4", "5", "all"):
                d = f[(f.sex == sex) & (f.quintile == q) & (f.measure == m)].sort_values("year")
                _band(
                    ax,
                    d.year.to_numpy(),
                    d.value.to_numpy(),
                    d.se.to_numpy(),
                    QUINTILE_COLOURS[q],
                    area_name if q == "all" else QUINTILE_NAMES[q],
                    "--" if q == "all" else "-",
                )
            ax.set_title(f"{title}, {sex}s (years)")
            ax.set_ylabel("years")
    # Levels, not changes: a zero baseline would flatten the differences between quintiles,
    # so each row shares a range starting at a round number below the data, stated on the
    # figure.
    starts = []
    for row in range(2):
        lo = min(a.get_ylim()[0] for a in axes[row])
        hi = max(a.get_ylim()[1] for a in axes[row])
        lo = 5.0 * np.floor(lo / 5.0)
        for a in axes[row]:
            a.set_ylim(lo, hi)
        starts.append(f"{lo:.0f}")
    legend_below(fig, axes[0, 0], ncol=6, title="IMD quintile")
    for ax in axes[1]:
        ax.set_xlabel("year")
    fig.suptitle(
        f"Life expectancy and healthy life expectancy by IMD quintile ({arm}); "
        f"shading: 95% interval\ny-axes start at {starts[0]} (LE) and {starts[1]} (HLE) years, "
        "not zero"
    )
    _save(fig, path)


def inequality_figure(frame: pd.DataFrame, arm: str, path: Path) -> None:
    """Gap (Q5 - Q1, or between the quintiles an area has) and SII of LE and HLE at birth
    over time, by sex; from zero, as differences are."""
    f = frame[(frame.arm == arm) & (frame.quintile == "all")]
    lo, hi = gap_ends(frame)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharey=True)
    fixed_layout(fig, 1, 2, left=0.8, top=0.62, bottom=0.9, wgap=0.25)
    styles = {"male": "#1b7837", "female": "#762a83"}
    for ax, m, title in (
        (axes[0], "le0", "Life expectancy"),
        (axes[1], "hle0", "Healthy life expectancy"),
    ):
        for sex, colour in styles.items():
            for suffix, style in (("sii", "-"), ("gap", ":")):
                d = f[(f.sex == sex) & (f.measure == f"{m}_{suffix}")].sort_values("year")
                _band(
                    ax,
                    d.year.to_numpy(),
                    d.value.to_numpy(),
                    d.se.to_numpy(),
                    colour,
                    f"{sex}s, {'SII' if suffix == 'sii' else f'gap Q{hi}-Q{lo}'}",
                    style,
                )
        ax.set_title(f"{title} at birth: inequality (years)")
        ax.set_xlabel("year")
    axes[0].set_ylabel("years (least minus most deprived)")
    if not np.isfinite(f[f.measure.isin(["le0_gap", "hle0_gap"])].value.to_numpy(float)).any():
        for ax in axes:
            no_data(ax, "No gap or slope: the area has residents in only one IMD quintile.")
    else:
        include_zero(axes[0])
        legend_below(fig, axes[0], ncol=4)
    fig.suptitle(f"Inequality between IMD quintiles ({arm})")
    _save(fig, path)


def outcomes_figure(frame: pd.DataFrame, arm: str, path: Path) -> None:
    """Outcomes-framework prevalences by quintile in the first and last year."""
    f = frame[(frame.arm == arm) & (frame.sex == "all")]
    # The grid follows the data: every labelled outcome the frame has gets a panel (a new
    # outcome only needs its label), and panels left over in the last row are hidden.
    measures = [m for m in OUTCOME_LABELS if m in set(f.measure)]
    years = sorted(f.year.unique())
    first, last = years[0], years[-1]
    ncols = 3
    nrows = max(1, -(-len(measures) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(11, 2.85 * nrows + 0.6), squeeze=False)
    # Between rows: tick labels and the next row's titles, and an x label where the panel
    # below is hidden (a last row not full).
    hgap = 0.52 + (0.2 if len(measures) % ncols else 0.0)
    fixed_layout(fig, nrows, ncols, left=0.55, top=0.66, bottom=1.0, wgap=0.6, hgap=hgap)
    for ax in axes.ravel()[len(measures) :]:
        ax.set_visible(False)
    for ax, m in zip(axes.ravel(), measures):
        for k, (yr, alpha) in enumerate(((first, 0.45), (last, 1.0))):
            d = f[(f.year == yr) & (f.measure == m) & (f.quintile != "all")].sort_values("quintile")
            ax.bar(
                d.quintile.astype(int) + (k - 0.5) * 0.38,
                100 * d.value,
                width=0.38,
                color=[QUINTILE_COLOURS[q] for q in d.quintile],
                alpha=alpha,
                label=str(yr),
            )
        ax.set_title(OUTCOME_LABELS[m], fontsize=10)
        ax.set_xticks(range(1, 6))
        ax.set_ylabel("%")
        ax.grid(axis="x", visible=False)
    legend_below(fig, axes[0, 0], title="year (pale = first)")
    for ax in axes.ravel()[max(0, len(measures) - ncols) : len(measures)]:
        ax.set_xlabel("IMD quintile (1 = most deprived)")
    fig.suptitle(f"Outcomes by IMD quintile, {first} and {last} ({arm})")
    _save(fig, path)


# --- arms against the baseline ---------------------------------------------------------------


def _yerr(d: pd.DataFrame) -> np.ndarray | None:
    """Asymmetric error bars from lo/hi (95%), or None without replicates."""
    if "lo" not in d or not np.isfinite(d.lo.to_numpy(dtype=float)).any():
        return None
    v = d.value.to_numpy(dtype=float)
    return np.vstack(
        [
            np.clip(v - d.lo.to_numpy(dtype=float), 0, None),
            np.clip(d.hi.to_numpy(dtype=float) - v, 0, None),
        ]
    )


def hle_change_figure(comparison: pd.DataFrame, path: Path) -> None:
    """Change in HLE at birth against the baseline by quintile, final year, both sexes."""
    c = comparison[(comparison.measure == "hle0_change") & (comparison.sex == "all")]
    last = int(c.year.max())
    c = c[c.year == last]
    arms = _ordered_arms(c.arm)
    colours = arm_colours(["baseline", *arms])
    qs = ["1", "2", "3", "4", "5", "all"]
    x = np.arange(len(qs))
    width = 0.8 / max(len(arms), 1)
    fig, ax = plt.subplots(figsize=(9, 5.2), layout="constrained")
    intervals = False
    for i, arm in enumerate(arms):
        d = c[c.arm == arm].set_index("quintile").reindex(qs)
        yerr = _yerr(d)
        intervals |= yerr is not None
        ax.bar(
            x + (i - (len(arms) - 1) / 2) * width,
            d.value.to_numpy(dtype=float),
            width,
            color=colours[arm],
            hatch=ARM_HATCHES[i % len(ARM_HATCHES)],
            edgecolor="white",
            label=arm,
            yerr=yerr,
            capsize=3,
            error_kw={"elinewidth": 1, "ecolor": "#222222"},
        )
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, [QUINTILE_NAMES[q].replace(" ", "\n", 1) for q in qs])
    for tick, q in zip(ax.get_xticklabels(), qs):
        tick.set_color(QUINTILE_COLOURS[q])
    ax.grid(axis="x", visible=False)
    ax.set_xlabel("IMD quintile")
    ax.set_ylabel("years (arm minus baseline)")
    ax.set_title(
        f"Change in healthy life expectancy at birth vs baseline, {last} (years, males and females)"
    )
    include_zero(ax)
    legend_below(fig, ax, ncol=4, title="arm" + (" (bars: 95% interval)" if intervals else ""))
    _save(fig, path)


def gap_over_time_figure(frame: pd.DataFrame, path: Path) -> None:
    """HLE gap (Q5 - Q1) and SII at birth over time for the baseline and every arm."""
    f = frame[(frame.sex == "all") & (frame.quintile == "all")]
    arms = _ordered_arms(f.arm)
    colours, styles, markers = arm_colours(arms), arm_styles(arms), arm_markers(arms)
    lo, hi = gap_ends(frame)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharey=True, layout="constrained")
    for ax, suffix, title in (
        (axes[0], "gap", f"HLE gap, Q{hi} minus Q{lo}"),
        (axes[1], "sii", "Slope index of inequality in HLE"),
    ):
        for arm in arms:
            d = f[(f.arm == arm) & (f.measure == f"hle0_{suffix}")].sort_values("year")
            _band(
                ax,
                d.year.to_numpy(),
                d.value.to_numpy(dtype=float),
                d.se.to_numpy(dtype=float),
                colours[arm],
                arm,
                styles[arm],
                markers[arm],
            )
        ax.set_title(f"{title} (years)")
        ax.set_xlabel("year")
    axes[0].set_ylabel("years of healthy life expectancy at birth")
    if not np.isfinite(f[f.measure == "hle0_gap"].value.to_numpy(float)).any():
        no_data(axes[0], "No gap: the area has residents in only one IMD quintile.")
    include_zero(axes[1])
    legend_below(fig, axes[1], ncol=6, title="arm")
    fig.suptitle("Inequality in healthy life expectancy at birth, males and females")
    _save(fig, path)


def cost_vs_healthy_years_figure(comparison: pd.DataFrame, path: Path) -> None:
    """Each arm's cumulative cost against cumulative healthy life-years gained over time."""
    c = comparison[(comparison.sex == "all") & (comparison.quintile == "all")]
    arms = _ordered_arms(c.arm)
    colours = arm_colours(["baseline", *arms])
    markers = arm_markers(["baseline", *arms])
    first, last = int(c.year.min()), int(c.year.max())
    fig, ax = plt.subplots(figsize=(8.5, 5.5), layout="constrained")
    ymin = 0.0
    for arm in arms:
        a = c[c.arm == arm]
        cost = a[a.measure == "cost_cumulative"].set_index("year").sort_index()
        hy = a[a.measure == "healthy_years_gained_cumulative"].set_index("year").sort_index()
        years = cost.index.intersection(hy.index)
        if len(years) == 0:
            continue
        cx, hyy = cost.loc[years], hy.loc[years]
        x, y = cx.value.to_numpy(dtype=float) / 1e6, hyy.value.to_numpy(dtype=float)
        ymin = min(ymin, float(np.nanmin(y)))
        ax.plot(x, y, "-", color=colours[arm], lw=1.2, alpha=0.6, marker=markers[arm], ms=3)
        xe, ye = _yerr(cx.iloc[[-1]]), _yerr(hyy.iloc[[-1]])
        ax.errorbar(
            x[-1],
            y[-1],
            xerr=None if xe is None else xe / 1e6,
            yerr=ye,
            fmt=markers[arm],
            ms=9,
            color=colours[arm],
            ecolor=colours[arm],
            capsize=3,
        )
        label = arm
        cph = a[(a.measure == "cost_per_healthy_year") & (a.year == years[-1])].value
        if y[-1] > 0 and len(cph) and np.isfinite(cph.iloc[0]):
            label += f"\n£{cph.iloc[0]:,.0f} per healthy life-year"
        ax.annotate(
            label,
            (x[-1], y[-1]),
            xytext=(8, 6),
            textcoords="offset points",
            fontsize=9,
            color=colours[arm],
        )
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlim(left=0)
    ax.margins(x=0.25, y=0.15)
    if ymin >= 0:
        ax.set_ylim(bottom=0)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"£{v:,.0f}m"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel(f"cumulative cost (£ million, undiscounted, {PRICE_YEAR} prices)")
    ax.set_ylabel("cumulative healthy life-years gained (England)")
    ax.set_title(
        f"Cost against healthy life-years gained, {first}-{last}\n"
        f"(£ million vs healthy life-years; small dots: each year, large: {last})"
    )
    _save(fig, path)


def has_loops(frame: pd.DataFrame) -> bool:
    return bool(frame.measure.isin(["access_ratio", "trust"]).any())


def feedback_loops_figure(frame: pd.DataFrame, path: Path) -> None:
    """Capacity/demand ratio over time for every arm and community trust by quintile."""
    arms = _ordered_arms(frame.arm)
    colours, styles = arm_colours(arms), arm_styles(arms)
    panels = [m for m in ("access_ratio", "trust") if (frame.measure == m).any()]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5.5 * len(panels) + 0.5, 5.0), squeeze=False, layout="constrained"
    )
    for ax, m in zip(axes[0], panels):
        f = frame[frame.measure == m]
        if m == "access_ratio":
            for arm in arms:
                d = f[f.arm == arm].sort_values("year")
                ax.plot(
                    d.year, d.value, linestyle=styles[arm], color=colours[arm], lw=1.8, label=arm
                )
            ax.axhline(1, color="black", lw=0.8, alpha=0.6)
            ax.set_title("Service capacity relative to demand (ratio)")
            ax.set_ylabel("capacity / demand (1 = demand met)")
            ax.legend(
                title="arm", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, fontsize=8
            )
        else:
            for arm in arms:
                for q in ("1", "2", "3", "4", "5"):
                    d = f[(f.arm == arm) & (f.quintile == q)].sort_values("year")
                    ax.plot(
                        d.year,
                        d.value,
                        linestyle=styles[arm],
                        color=QUINTILE_COLOURS[q],
                        lw=1.5,
                        label=QUINTILE_NAMES[q] if arm == arms[0] else None,
                    )
            for arm in arms:  # legend entries for the line styles
                ax.plot([], [], linestyle=styles[arm], color="#555555", label=arm)
            ax.set_title("Community trust by IMD quintile (share, 0-1)")
            ax.set_ylabel("share trusting local services and people")
            ax.legend(ncol=4, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16))
        ax.set_xlabel("year")
    fig.suptitle("Feedback loops")
    _save(fig, path)


SEX_COLOURS = {"male": "#1f78b4", "female": "#e7298a"}
PATHWAY_LABELS = {
    "smoking": "Smoking",
    "obesity": "Obesity",
    "inactivity": "Physical inactivity",
    "alcohol": "Alcohol > 14 units",
    "income": "Income / poverty",
    "housing": "Housing (cold home)",
    "isolation": "Isolation (loneliness)",
    "access": "Access (unmet need)",
    "long_term_conditions": "Long-term conditions",
    "residual": "Residual (not explained)",
}


def decomposition_figure(decomposition: pd.DataFrame, path: Path) -> None:
    """What explains the baseline gap: one horizontal bar per pathway (and the residual) by
    sex, in years of the Q5 - Q1 gap of LE and of HLE at birth (Shapley rows)."""
    d = decomposition[decomposition.method == "shapley"]
    paths = [p for p in PATHWAY_LABELS if p in set(d.pathway)]
    y = np.arange(len(paths))[::-1].astype(float)
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.42 * len(paths) + 2.3), sharey=True)
    # The left margin holds the longest pathway label ("Residual (not explained)").
    fixed_layout(fig, 1, 2, left=1.78, top=0.62, bottom=0.9, wgap=0.22)
    totals: dict[str, list[str]] = {"male": [], "female": []}
    for ax, (meas, title) in zip(
        axes, (("le0", "Life expectancy at birth"), ("hle0", "Healthy life expectancy at birth"))
    ):
        for k, sex in enumerate(("male", "female")):
            g = d[(d.measure == meas) & (d.sex == sex)].set_index("pathway")
            v = np.array([float(g.years.get(p, np.nan)) for p in paths])
            total = float(g.years.get("total", np.nan))
            totals[sex].append(f"{'LE' if meas == 'le0' else 'HLE'} gap {total:.1f} y")
            ax.barh(
                y + (0.2 if k == 0 else -0.2),
                v,
                height=0.38,
                color=SEX_COLOURS[sex],
                label=sex,
            )
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(f"{title}: gap Q5 - Q1")
        ax.set_xlabel("years of the gap (Shapley)")
    handles, _ = axes[0].get_legend_handles_labels()
    labels = [f"{sex} ({', '.join(totals[sex])})" for sex in ("male", "female")]
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=2)
    axes[0].set_yticks(y)
    axes[0].set_yticklabels([PATHWAY_LABELS[p] for p in paths])
    fig.suptitle("What explains the deprivation gap (baseline, first year)")
    _save(fig, path)


def write_figures(
    frame: pd.DataFrame,
    directory: Path,
    comparison: pd.DataFrame | None = None,
    decomposition: pd.DataFrame | None = None,
    area_name: str = "England",
) -> list[Path]:
    """Every figure of a run into ``directory``; arm figures when ``comparison`` has rows;
    ``decomposition.png`` when the run decomposed the baseline gap; the whole-area lines are
    labelled ``area_name``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    with plt.rc_context(STYLE):
        if decomposition is not None and not decomposition.empty:
            p = directory / "decomposition.png"
            decomposition_figure(decomposition, p)
            written.append(p)
        if comparison is not None and not comparison.empty:
            for name, fn, data in (
                ("hle_change_by_quintile", hle_change_figure, comparison),
                ("gap_over_time", gap_over_time_figure, frame),
                ("cost_vs_healthy_years", cost_vs_healthy_years_figure, comparison),
            ):
                p = directory / f"{name}.png"
                fn(data, p)
                written.append(p)
            p = directory / WHO_PAYS_FIGURE
            if who_pays_figure(who_pays_table(comparison), p):
                written.append(p)
        if has_loops(frame):
            p = directory / "feedback_loops.png"
            feedback_loops_figure(frame, p)
            written.append(p)
        for arm in _ordered_arms(frame.arm):
            suffix = "" if arm == "baseline" else f"_{arm}"
            for name, arm_fn in (
                ("expectancies", expectancies_figure),
                ("inequality", inequality_figure),
                ("outcomes", outcomes_figure),
            ):
                p = directory / f"{name}{suffix}.png"
                if arm_fn is expectancies_figure:
                    expectancies_figure(frame, arm, p, area_name)
                else:
                    arm_fn(frame, arm, p)
                written.append(p)
    return written
