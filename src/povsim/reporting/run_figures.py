"""Figures of a run (matplotlib, written as PNG).

Levels for every arm (expectancies, inequality, outcomes), and when the scenario has arms,
comparisons with the baseline (change in HLE by quintile, HLE gap over time, cost against
healthy life-years gained). ``feedback_loops.png`` shows the system-dynamics stocks when the
run recorded them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from povsim.model import registry as R  # noqa: E402
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
# Dark2: distinct from the red-blue quintile scale.
ARM_PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d")
ARM_STYLES = ("-", "--", "-.", ":")
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


def arm_styles(arms) -> dict[str, str]:
    """Baseline solid; other arms dashed, dash-dot, dotted in order."""
    others = ARM_STYLES[1:]
    out, k = {}, 0
    for arm in arms:
        if arm == "baseline":
            out[arm] = "-"
        else:
            out[arm] = others[k % len(others)]
            k += 1
    return out


def _ordered_arms(arms) -> list[str]:
    arms = list(dict.fromkeys(arms))
    return (["baseline"] if "baseline" in arms else []) + [a for a in arms if a != "baseline"]


def _has_se(se: np.ndarray) -> bool:
    se = np.asarray(se, dtype=float)
    return bool(np.isfinite(se).any() and np.nanmax(se) > 0)


def _band(ax, x, y, se, colour, label, style="-"):
    ax.plot(x, y, style, color=colour, label=label, lw=1.6)
    se = np.asarray(se, dtype=float)
    if _has_se(se):
        ax.fill_between(x, y - 1.96 * se, y + 1.96 * se, color=colour, alpha=0.15, lw=0)


def _save(fig, path: Path) -> None:
    fig.savefig(path, dpi=DPI)  # figures call tight_layout; "tight" bbox would lay out twice
    plt.close(fig)


def expectancies_figure(
    frame: pd.DataFrame, arm: str, path: Path, area_name: str = "England"
) -> None:
    """LE and HLE at birth by quintile and sex over the horizon (95% Monte Carlo bands)."""
    f = frame[frame.arm == arm]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), sharex=True)
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
    axes[0, 0].legend(loc="lower left", title="IMD quintile")
    for ax in axes[1]:
        ax.set_xlabel("year")
    fig.suptitle(
        f"Life expectancy and healthy life expectancy by IMD quintile ({arm}); "
        "shading: 95% interval"
    )
    fig.tight_layout()
    _save(fig, path)


def inequality_figure(frame: pd.DataFrame, arm: str, path: Path) -> None:
    """Gap (Q5 - Q1) and SII of LE and HLE at birth over time, by sex."""
    f = frame[(frame.arm == arm) & (frame.quintile == "all")]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
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
                    f"{sex}s, {'SII' if suffix == 'sii' else 'gap Q5-Q1'}",
                    style,
                )
        ax.set_title(f"{title} at birth: inequality (years)")
        ax.set_xlabel("year")
    axes[0].set_ylabel("years (least minus most deprived)")
    axes[0].legend()
    fig.suptitle(f"Inequality between IMD quintiles ({arm})")
    fig.tight_layout()
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
    fig, axes = plt.subplots(nrows, ncols, figsize=(11, 2.85 * nrows), squeeze=False)
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
    axes[0, 0].legend(title="year (pale = first)")
    for ax in axes.ravel()[max(0, len(measures) - ncols) : len(measures)]:
        ax.set_xlabel("IMD quintile (1 = most deprived)")
    fig.suptitle(f"Outcomes by IMD quintile, {first} and {last} ({arm})")
    fig.tight_layout()
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
    fig, ax = plt.subplots(figsize=(9, 4.8))
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
    ax.legend(title="arm" + (" (bars: 95% interval)" if intervals else ""))
    fig.tight_layout()
    _save(fig, path)


def gap_over_time_figure(frame: pd.DataFrame, path: Path) -> None:
    """HLE gap (Q5 - Q1) and SII at birth over time for the baseline and every arm."""
    f = frame[(frame.sex == "all") & (frame.quintile == "all")]
    arms = _ordered_arms(f.arm)
    colours, styles = arm_colours(arms), arm_styles(arms)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    for ax, suffix, title in (
        (axes[0], "gap", "HLE gap, Q5 minus Q1"),
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
            )
        ax.set_title(f"{title} (years)")
        ax.set_xlabel("year")
    axes[0].set_ylabel("years of healthy life expectancy at birth")
    axes[0].legend(title="arm")
    fig.suptitle("Inequality in healthy life expectancy at birth, males and females")
    fig.tight_layout()
    _save(fig, path)


def cost_vs_healthy_years_figure(comparison: pd.DataFrame, path: Path) -> None:
    """Each arm's cumulative cost against cumulative healthy life-years gained over time."""
    c = comparison[(comparison.sex == "all") & (comparison.quintile == "all")]
    arms = _ordered_arms(c.arm)
    colours = arm_colours(["baseline", *arms])
    first, last = int(c.year.min()), int(c.year.max())
    fig, ax = plt.subplots(figsize=(8.5, 5.5))
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
        ax.plot(x, y, "-", color=colours[arm], lw=1.2, alpha=0.6, marker="o", ms=3)
        xe, ye = _yerr(cx.iloc[[-1]]), _yerr(hyy.iloc[[-1]])
        ax.errorbar(
            x[-1],
            y[-1],
            xerr=None if xe is None else xe / 1e6,
            yerr=ye,
            fmt="o",
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
    ax.set_xlabel("cumulative cost (£ million, undiscounted, start-year prices)")
    ax.set_ylabel("cumulative healthy life-years gained (England)")
    ax.set_title(
        f"Cost against healthy life-years gained, {first}-{last}\n"
        f"(£ million vs healthy life-years; small dots: each year, large: {last})"
    )
    fig.tight_layout()
    _save(fig, path)


def has_loops(frame: pd.DataFrame) -> bool:
    return bool(frame.measure.isin(["access_ratio", "trust"]).any())


def feedback_loops_figure(frame: pd.DataFrame, path: Path) -> None:
    """Capacity/demand ratio over time for every arm and community trust by quintile."""
    arms = _ordered_arms(frame.arm)
    colours, styles = arm_colours(arms), arm_styles(arms)
    panels = [m for m in ("access_ratio", "trust") if (frame.measure == m).any()]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels) + 0.5, 4.4), squeeze=False)
    for ax, m in zip(axes[0], panels):
        f = frame[frame.measure == m]
        if m == "access_ratio":
            for arm in arms:
                d = f[f.arm == arm].sort_values("year")
                ax.plot(d.year, d.value, styles[arm], color=colours[arm], lw=1.8, label=arm)
            ax.axhline(1, color="black", lw=0.8, alpha=0.6)
            ax.set_title("Service capacity relative to demand (ratio)")
            ax.set_ylabel("capacity / demand (1 = demand met)")
            ax.legend(title="arm")
        else:
            for arm in arms:
                for q in ("1", "2", "3", "4", "5"):
                    d = f[(f.arm == arm) & (f.quintile == q)].sort_values("year")
                    ax.plot(
                        d.year,
                        d.value,
                        styles[arm],
                        color=QUINTILE_COLOURS[q],
                        lw=1.5,
                        label=QUINTILE_NAMES[q] if arm == arms[0] else None,
                    )
            for arm in arms:  # legend entries for the line styles
                ax.plot([], [], styles[arm], color="#555555", label=arm)
            ax.set_title("Community trust by IMD quintile (share, 0-1)")
            ax.set_ylabel("share trusting local services and people")
            ax.legend(ncol=4, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16))
        ax.set_xlabel("year")
    fig.suptitle("Feedback loops")
    fig.tight_layout()
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
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.42 * len(paths) + 1.8), sharey=True)
    for ax, (meas, title) in zip(
        axes, (("le0", "Life expectancy at birth"), ("hle0", "Healthy life expectancy at birth"))
    ):
        for k, sex in enumerate(("male", "female")):
            g = d[(d.measure == meas) & (d.sex == sex)].set_index("pathway")
            v = np.array([float(g.years.get(p, np.nan)) for p in paths])
            total = float(g.years.get("total", np.nan))
            ax.barh(
                y + (0.2 if k == 0 else -0.2),
                v,
                height=0.38,
                color=SEX_COLOURS[sex],
                label=f"{sex} (gap {total:.1f} y)",
            )
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(f"{title}: gap Q5 - Q1")
        ax.set_xlabel("years of the gap (Shapley)")
        ax.legend(loc="upper right")
    axes[0].set_yticks(y)
    axes[0].set_yticklabels([PATHWAY_LABELS[p] for p in paths])
    fig.suptitle("What explains the deprivation gap (baseline, first year)")
    fig.tight_layout()
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
