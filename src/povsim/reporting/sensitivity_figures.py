"""Figures of a sensitivity analysis (PNG): indices with intervals, convergence of ST as N
grows, cost-effectiveness acceptability curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from povsim.reporting.figure_store import save_figure
from povsim.reporting.run_figures import (
    ARM_MARKERS,
    ARM_PALETTE,
    ARM_STYLES,
    BASELINE_COLOUR,
    DPI,
    STYLE,
    include_zero,
    legend_below,
    plt,
)

# Outputs shown in the figures (the tables hold every output).
FIGURE_OUTPUTS = ("hle0_gap_change", "hle0_sii_change", "healthy_years_gained", "cost")
CONVERGENCE_COLUMNS = 3


def _short(p: str) -> str:
    """A readable parameter label: the last two path parts."""
    parts = p.replace("arms.*.interventions.", "").split(".")
    return ".".join(parts[-2:]) if len(parts) > 1 else p


def _shown(indices: pd.DataFrame) -> list[str]:
    outs = list(dict.fromkeys(indices.output))
    keep = [o for o in outs if o.split(".", 1)[-1] in FIGURE_OUTPUTS]
    return keep or outs[:4]


def indices_figure(indices: pd.DataFrame, method: str, path: Path) -> None:
    """Bars of S1 and ST (Sobol) or mu_star (Morris) per parameter with their intervals,
    one panel per output."""
    outs = _shown(indices)
    cols = min(2, len(outs))
    rows = int(np.ceil(len(outs) / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(6.2 * cols, 0.45 * 4 + 2.6 * rows), squeeze=False, layout="constrained"
    )
    kinds = ("S1", "ST") if method == "sobol" else ("mu_star",)
    for ax, out in zip(axes.ravel(), outs):
        f = indices[(indices.output == out) & (indices["index"].isin(kinds))]
        params = list(dict.fromkeys(f.parameter))
        y = np.arange(len(params))
        h = 0.8 / len(kinds)
        for i, kind in enumerate(kinds):
            d = f[f["index"] == kind].set_index("parameter").reindex(params)
            err = d.conf.to_numpy(float)
            ax.barh(
                y + (i - (len(kinds) - 1) / 2) * h,
                d.value,
                height=h,
                xerr=np.where(np.isfinite(err), err, 0),
                color=ARM_PALETTE[i],
                label=kind,
                capsize=2,
            )
        ax.set_yticks(y, [_short(p) for p in params])
        ax.invert_yaxis()
        ax.set_title(out, fontsize=10)
        ax.axvline(0, color="black", lw=0.6)
    for ax in axes.ravel()[len(outs) :]:
        ax.set_visible(False)
    what = (
        "Sobol indices (bars: 95% bootstrap intervals)"
        if method == "sobol"
        else "Morris mu* (per unit of each input's quantile range; bars: 95% intervals)"
    )
    legend_below(fig, axes[0][0])
    fig.suptitle(what)
    save_figure(fig, path, dpi=DPI)


def convergence_figure(conv: pd.DataFrame, path: Path) -> None:
    """ST against the number of base samples N' (first N' of the design), with intervals."""
    outs = _shown(conv)
    # A grid (at most CONVERGENCE_COLUMNS across), not one long row of narrow panels.
    cols = min(CONVERGENCE_COLUMNS, len(outs))
    rows = int(np.ceil(len(outs) / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.6 * cols, 3.4 * rows + 1.2), squeeze=False, layout="constrained"
    )
    for ax in axes.ravel()[len(outs) :]:
        ax.set_visible(False)
    for ax, out in zip(axes.ravel(), outs):
        f = conv[conv.output == out]
        for i, p in enumerate(dict.fromkeys(f.parameter)):
            d = f[f.parameter == p].sort_values("n")
            c = ARM_PALETTE[i % len(ARM_PALETTE)]
            ax.plot(
                d.n,
                d.ST,
                linestyle=ARM_STYLES[i % len(ARM_STYLES)],
                marker=ARM_MARKERS[i % len(ARM_MARKERS)],
                color=c,
                lw=1.4,
                ms=4,
                label=_short(p),
            )
            ax.fill_between(d.n, d.ST - d.conf, d.ST + d.conf, color=c, alpha=0.12)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("base samples N'")
        ax.set_ylabel("total-order index ST")
        ax.set_title(out, fontsize=10)
        include_zero(ax)  # an index near zero must look near zero
    legend_below(fig, axes[0][0], ncol=4, fontsize=8)
    fig.suptitle("Convergence of ST as N grows")
    save_figure(fig, path, dpi=DPI)


def ceac_figure(ce: pd.DataFrame, path: Path) -> None:
    """Probability that each option has the highest net monetary benefit, by threshold."""
    fig, ax = plt.subplots(figsize=(7, 4.8), layout="constrained")
    for i, opt in enumerate(dict.fromkeys(ce.option)):
        d = ce[ce.option == opt]
        colour = BASELINE_COLOUR if opt == "baseline" else ARM_PALETTE[i % len(ARM_PALETTE)]
        ax.plot(
            d.threshold / 1000,
            d.p_best,
            color=colour,
            lw=1.8,
            linestyle=ARM_STYLES[i % len(ARM_STYLES)],
            marker=ARM_MARKERS[i % len(ARM_MARKERS)],
            markevery=max(1, len(d) // 8),
            ms=4,
            label=opt,
        )
    ax.axvspan(20, 30, color="#cccccc", alpha=0.4, lw=0, label="NICE £20-30k")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("threshold (£ thousand per discounted QALY)")
    ax.set_ylabel("probability the option is best")
    ax.set_title("Cost-effectiveness acceptability curves")
    legend_below(fig, ax)
    save_figure(fig, path, dpi=DPI)


def write_figures(res: Any, directory: Path) -> list[Path]:
    """Every figure the result supports, into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    with plt.rc_context(STYLE):
        method = res.sweep.design.method
        if res.indices is not None and not res.indices.empty:
            p = directory / "indices.png"
            indices_figure(res.indices, method, p)
            out.append(p)
        if res.convergence is not None and not res.convergence.empty:
            p = directory / "convergence.png"
            convergence_figure(res.convergence, p)
            out.append(p)
        if res.ceac is not None and not res.ceac.empty:
            p = directory / "ceac.png"
            ceac_figure(res.ceac, p)
            out.append(p)
    return out
