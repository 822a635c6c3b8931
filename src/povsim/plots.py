"""Figures of a run (matplotlib, written as PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

QUINTILE_COLOURS = {"1": "#b2182b", "2": "#ef8a62", "3": "#999999", "4": "#67a9cf",
                    "5": "#2166ac", "all": "#000000"}
QUINTILE_NAMES = {"1": "Q1 most deprived", "2": "Q2", "3": "Q3", "4": "Q4",
                  "5": "Q5 least deprived", "all": "England"}


def _band(ax, x, y, se, colour, label, style="-"):
    ax.plot(x, y, style, color=colour, label=label, lw=1.6)
    ax.fill_between(x, y - 1.96 * se, y + 1.96 * se, color=colour, alpha=0.15, lw=0)


def expectancies_figure(frame: pd.DataFrame, arm: str, path: Path) -> None:
    """LE and HLE at birth by quintile and sex over the horizon (95% Monte Carlo bands)."""
    f = frame[frame.arm == arm]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), sharex=True)
    for col, sex in enumerate(("male", "female")):
        for row, (m, title) in enumerate((("le0", "Life expectancy at birth"),
                                          ("hle0", "Healthy life expectancy at birth"))):
            ax = axes[row, col]
            for q in ("1", "2", "3", "4", "5", "all"):
                d = f[(f.sex == sex) & (f.quintile == q) & (f.measure == m)].sort_values("year")
                _band(ax, d.year.to_numpy(), d.value.to_numpy(), d.se.to_numpy(),
                      QUINTILE_COLOURS[q], QUINTILE_NAMES[q], "--" if q == "all" else "-")
            ax.set_title(f"{title}, {sex}s")
            ax.set_ylabel("years")
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8, loc="lower left")
    for ax in axes[1]:
        ax.set_xlabel("year")
    fig.suptitle(f"LE and HLE by IMD quintile ({arm})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def inequality_figure(frame: pd.DataFrame, arm: str, path: Path) -> None:
    """Gap (Q5 - Q1) and SII of LE and HLE at birth over time, by sex."""
    f = frame[(frame.arm == arm) & (frame.quintile == "all")]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    styles = {"male": "#1b7837", "female": "#762a83"}
    for ax, m, title in ((axes[0], "le0", "Life expectancy"),
                         (axes[1], "hle0", "Healthy life expectancy")):
        for sex, colour in styles.items():
            for suffix, style in (("sii", "-"), ("gap", ":")):
                d = f[(f.sex == sex) & (f.measure == f"{m}_{suffix}")].sort_values("year")
                _band(ax, d.year.to_numpy(), d.value.to_numpy(), d.se.to_numpy(), colour,
                      f"{sex} {suffix.upper()}", style)
        ax.set_title(f"{title}: inequality between quintiles")
        ax.set_xlabel("year")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("years (least minus most deprived)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def outcomes_figure(frame: pd.DataFrame, arm: str, path: Path) -> None:
    """Outcomes-framework prevalences by quintile in the first and last year."""
    measures = ["poverty", "child_poverty", "cold_home", "smoking", "obesity", "inactivity",
                "mltc", "lonely", "unmet_need"]
    f = frame[(frame.arm == arm) & (frame.sex == "all")]
    years = sorted(f.year.unique())
    first, last = years[0], years[-1]
    fig, axes = plt.subplots(3, 3, figsize=(11, 8.5))
    for ax, m in zip(axes.ravel(), measures):
        for k, (yr, alpha) in enumerate(((first, 0.5), (last, 1.0))):
            d = f[(f.year == yr) & (f.measure == m) & (f.quintile != "all")].sort_values(
                "quintile")
            ax.bar(d.quintile.astype(int) + (k - 0.5) * 0.38, 100 * d.value, width=0.38,
                   color=[QUINTILE_COLOURS[q] for q in d.quintile], alpha=alpha,
                   label=str(yr))
        ax.set_title(m.replace("_", " "))
        ax.set_xticks(range(1, 6))
        ax.set_ylabel("%")
    axes[0, 0].legend(fontsize=8, title="year (pale = first)")
    for ax in axes[-1]:
        ax.set_xlabel("IMD quintile (1 = most deprived)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_figures(frame: pd.DataFrame, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for arm in frame.arm.unique():
        suffix = "" if arm == "baseline" else f"_{arm}"
        for name, fn in (("expectancies", expectancies_figure),
                         ("inequality", inequality_figure), ("outcomes", outcomes_figure)):
            p = directory / f"{name}{suffix}.png"
            fn(frame, arm, p)
            written.append(p)
    return written
