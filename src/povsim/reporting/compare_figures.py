"""Figures of `povsim compare`: equity-efficiency impact plane, efficiency-equity frontier,
benefit by quintile, EDE gain against inequality aversion, and the allocations themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from povsim.reporting.figure_store import plt, save_figure
from povsim.reporting.run_figures import (
    ARM_HATCHES,
    ARM_MARKERS,
    ARM_PALETTE,
    ARM_STYLES,
    DPI,
    QUINTILE_NAMES,
    STYLE,
    legend_below,
)
from povsim.reporting.who_pays import FIGURE as WHO_PAYS_FIGURE
from povsim.reporting.who_pays import who_pays_figure, who_pays_from_totals

LEVER_PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")

CAPTIONS = {
    "impact_plane": "Equity-efficiency impact plane: net health benefit (QALYs gained less "
    "the QALYs the money would buy at the threshold) against the reduction in "
    "the slope index of inequality of health across quintiles (baseline HLE "
    "plus healthy life-years gained per person). Up and right is better on "
    "both; bars are 95% Monte Carlo intervals.",
    "frontier": "Efficiency-equity frontier found by the optimiser on its response-curve "
    "surrogate: discounted QALYs gained against the narrowing of the Q1-Q5 gap in "
    "health per person, for the allocation that is best at each inequality "
    "aversion. Named strategies (simulated) are shown for reference.",
    "benefit_by_quintile": "Healthy life-years gained per 100,000 people by IMD quintile "
    "(undiscounted, over the horizon), by strategy.",
    "ede_by_aversion": "Gain in equally distributed equivalent health (years per person) "
    "against Atkinson inequality aversion; where lines cross, the ranking "
    "changes.",
    "allocations": "Where the money goes: £ a year by quintile and lever, by strategy.",
}


def _colours(names: list[str]) -> dict[str, str]:
    return {n: ARM_PALETTE[i % len(ARM_PALETTE)] for i, n in enumerate(names)}


def _markers(names: list[str]) -> dict[str, str]:
    return {n: ARM_MARKERS[i % len(ARM_MARKERS)] for i, n in enumerate(names)}


def _save(fig, path: Path) -> None:
    save_figure(fig, path, dpi=DPI, bbox_inches="tight")


def impact_plane(table: pd.DataFrame, threshold: float, col: dict[str, str], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7.2, 5.2), layout="constrained")
    key = f"nhb_{int(threshold)}"
    marks = _markers(list(col))
    for r in table.itertuples():
        x, y = getattr(r, key), -r.health_sii_change
        xe = [[x - getattr(r, f"{key}_lo")], [getattr(r, f"{key}_hi") - x]]
        ye = [[y - (-r.health_sii_change_hi)], [(-r.health_sii_change_lo) - y]]
        has_ci = np.isfinite(getattr(r, f"{key}_lo"))
        ax.errorbar(
            x,
            y,
            xerr=xe if has_ci else None,
            yerr=ye if has_ci else None,
            fmt=marks.get(r.strategy, "o"),
            color=col[r.strategy],
            ms=8,
            capsize=3,
            label=r.strategy,
        )
        ax.annotate(r.strategy, (x, y), textcoords="offset points", xytext=(6, 6), fontsize=8.5)
    ax.axhline(0, color="#888", lw=0.8)
    ax.axvline(0, color="#888", lw=0.8)
    ax.set_xlabel(f"Net health benefit at £{threshold:,.0f}/QALY (QALYs, discounted)")
    ax.set_ylabel("Reduction in SII of health (years per person)")
    ax.set_title("Equity-efficiency impact plane")
    _save(fig, path)


def frontier_figure(
    frontier: pd.DataFrame, table: pd.DataFrame, col: dict[str, str], path: Path
) -> None:
    fig, ax = plt.subplots(figsize=(7.2, 5.6), layout="constrained")
    f = frontier.sort_values("qalys")
    on = f[f.on_frontier]
    ax.plot(on.qalys, on.gap_reduction, "-", color="#1b5e8a", lw=1.5, label="frontier")
    ax.scatter(
        f.qalys,
        f.gap_reduction,
        color="#1b5e8a",
        s=28,
        zorder=3,
        label="optimum for one aversion (surrogate)",
    )
    for r in f.itertuples():
        ax.annotate(
            r.objective,
            (r.qalys, r.gap_reduction),
            textcoords="offset points",
            xytext=(4, -10),
            fontsize=7.5,
            color="#1b5e8a",
        )
    for r in table.itertuples():
        ax.scatter(
            r.qalys_gained,
            r.health_gap_reduction,
            marker="s",
            s=50,
            color=col[r.strategy],
            zorder=4,
            label=f"{r.strategy} (simulated)",
        )
    ax.set_xlabel("QALYs gained (discounted)")
    ax.set_ylabel("Narrowing of Q1-Q5 gap in health (years per person)")
    ax.set_title("Efficiency-equity frontier")
    legend_below(fig, ax, ncol=3)
    _save(fig, path)


def benefit_by_quintile(
    by_q: pd.DataFrame, strategies: list[str], col: dict[str, str], path: Path
) -> None:
    d = by_q[by_q.measure == "healthy_years_gained_per_100k"]
    fig, ax = plt.subplots(figsize=(8, 5.0), layout="constrained")
    width = 0.8 / max(len(strategies), 1)
    for i, s in enumerate(strategies):
        v = d[d.strategy == s].sort_values("quintile")
        ax.bar(
            v.quintile + (i - (len(strategies) - 1) / 2) * width,
            v.value,
            width,
            color=col[s],
            hatch=ARM_HATCHES[i % len(ARM_HATCHES)],
            edgecolor="white",
            label=s,
        )
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(1, 6), [QUINTILE_NAMES[str(q)] for q in range(1, 6)])
    ax.set_ylabel("Healthy life-years gained per 100,000")
    ax.set_title("Benefit by deprivation quintile")
    legend_below(fig, ax, ncol=3)
    _save(fig, path)


def ede_by_aversion(
    ede: pd.DataFrame, switches: list[dict], col: dict[str, str], path: Path
) -> None:
    fig, ax = plt.subplots(figsize=(7.2, 5.0), layout="constrained")
    names = list(dict.fromkeys(ede.strategy))
    for i, s in enumerate(names):
        v = ede[ede.strategy == s]
        ax.plot(
            v.aversion,
            v.ede_change,
            color=col[s],
            lw=1.8,
            linestyle=ARM_STYLES[i % len(ARM_STYLES)],
            marker=ARM_MARKERS[i % len(ARM_MARKERS)],
            markevery=max(1, len(v) // 8),
            ms=4,
            label=s,
        )
    for sw in switches:
        ax.axvline(sw["aversion"], color="#aaa", lw=0.8, ls=":")
    ax.set_xlabel("Atkinson inequality aversion")
    ax.set_ylabel("Gain in EDE health (years per person)")
    ax.set_title("Ranking by equally distributed equivalent health")
    legend_below(fig, ax, ncol=3)
    _save(fig, path)


def allocations_figure(alloc: pd.DataFrame, strategies: list[str], path: Path) -> None:
    levers = list(dict.fromkeys(alloc.lever))
    fig, axes = plt.subplots(
        1,
        len(strategies),
        figsize=(2.4 * len(strategies) + 1, 4.6),
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    for ax, s in zip(axes[0], strategies):
        d = alloc[alloc.strategy == s]
        bottom = np.zeros(5)
        for i, lever in enumerate(levers):
            v = d[d.lever == lever].sort_values("quintile").gbp_per_year.to_numpy() / 1e6
            ax.bar(
                range(1, 6),
                v,
                bottom=bottom,
                color=LEVER_PALETTE[i % len(LEVER_PALETTE)],
                label=lever,
            )
            bottom += v
        ax.set_title(s, fontsize=9.5)
        ax.set_xticks(range(1, 6), [f"Q{q}" for q in range(1, 6)])
    axes[0][0].set_ylabel("£ million a year")
    legend_below(fig, axes[0][-1], ncol=6, fontsize=8)
    fig.suptitle("Allocation of the budget by quintile and lever")
    _save(fig, path)


def write_investment_figures(res, directory: Path) -> list[Path]:
    """Every figure of a `povsim compare` result into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    # One colour per strategy in every figure: file order, the optimiser's last.
    strategies = [
        s for s in [*res.investment.strategies, "optimised"] if s in set(res.table.strategy)
    ]
    col = _colours(strategies)
    thr = float(res.manifest["thresholds"][0])
    out = []
    with plt.rc_context(STYLE):
        jobs = [
            ("impact_plane", lambda p: impact_plane(res.table, thr, col, p)),
            (
                "benefit_by_quintile",
                lambda p: benefit_by_quintile(res.by_quintile, strategies, col, p),
            ),
            ("ede_by_aversion", lambda p: ede_by_aversion(res.ede, res.switches, col, p)),
            ("allocations", lambda p: allocations_figure(res.allocations, strategies, p)),
        ]
        if not res.frontier.empty:
            jobs.insert(1, ("frontier", lambda p: frontier_figure(res.frontier, res.table, col, p)))
        for name, fn in jobs:
            p = directory / f"{name}.png"
            fn(p)
            out.append(p)
        p = directory / WHO_PAYS_FIGURE
        if who_pays_figure(who_pays_from_totals(res.table), p):
            out.append(p)
    return out
