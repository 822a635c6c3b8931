"""Outputs of a ``places:`` budget comparison: the ranked national table, every place's money
and gains under every strategy, a sorted bar chart of £ per head by place, and a report
(``templates/places_report.html.j2``, opening with "What this means", the chart embedded)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from povsim.inputs.prices import PRICE_YEAR
from povsim.reporting.figure_store import save_figure
from povsim.reporting.files import atomic_dir, json_safe, write_manifest
from povsim.reporting.html import figure as embed
from povsim.reporting.html import render
from povsim.reporting.workbook import WORKBOOK, write_workbook
from povsim.studies.places_compare import OPTIMISED, PlacesResults


def summary_lines(res: PlacesResults) -> list[str]:
    """Plain-English lines: the ranking and where the best strategy puts the money."""
    t, m = res.table, res.manifest
    lines = [
        f"£{m['budget_per_year'] / 1e6:,.0f}m a year for {m['budget_years']} years across "
        f"{len(m['places'])} places ({m['real_population']:,} residents), ranked by "
        f"{res.investment.objective.measure}:"
    ]
    for r in t.itertuples():
        lines.append(
            f"  {r.rank}. {r.strategy}: {r.qalys_gained:,.0f} QALYs, £{r.cost / 1e6:,.1f}m "
            f"(disc.), Core20 share of QALYs {r.core20_share:.0%}, HLE SII change "
            f"{r.hle0_sii_change:+.3f} years"
        )
    best = t.strategy.iloc[0]
    top = res.by_place[res.by_place.strategy == best].nlargest(5, "gbp_per_head")
    names = ", ".join(f"{r.name} (£{r.gbp_per_head:,.2f} a head)" for r in top.itertuples())
    lines.append(f"Most per head under {best}: {names}.")
    return lines


def figure(res: PlacesResults, path: Path) -> None:
    """Sorted bars: £ per head a year in each place, best strategy against equal per head."""
    from povsim.reporting.figure_store import plt

    best = res.table.strategy.iloc[0]
    bp = res.by_place
    b = bp[bp.strategy == best].sort_values("gbp_per_head")
    n = len(b)
    fig, ax = plt.subplots(figsize=(8, max(3.0, 0.22 * n + 1)))
    ax.barh(range(n), b.gbp_per_head, color="#1f6f8b", label=best)
    if "per_head" in set(bp.strategy) and best != "per_head":
        eq = bp[bp.strategy == "per_head"].set_index("code").gbp_per_head
        ax.plot(
            eq.reindex(b.code).to_numpy(),
            range(n),
            "|",
            color="#e07b39",
            ms=10,
            label="equal per head",
        )
    ax.set_yticks(range(n))
    ax.set_yticklabels([s.replace("NHS ", "").replace(" ICB", "") for s in b.name], fontsize=7)
    ax.set_xlabel("£ per resident a year")
    ax.set_title(f"Where {best} puts the money", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def _table(df: pd.DataFrame, cols: list[str]) -> dict[str, Any]:
    """Columns and formatted rows (floats to 4 significant figures) for the template."""
    rows = [
        [f"{v:,.4g}" if isinstance(v, float) else str(v) for v in r]
        for r in df[cols].itertuples(index=False)
    ]
    return {"columns": cols, "rows": rows}


def what_this_means(res: PlacesResults) -> list[str]:
    """The answer first: the best strategy, its QALYs and cost per QALY, what it does to the
    HLE SII (narrows / widens / unchanged) and where the money goes."""
    t = res.table
    top = t.iloc[0]
    q = float(top.qalys_gained)
    sii = round(float(top.hle0_sii_change), 3)
    if sii == 0:
        eq = "leaves the slope index of inequality in HLE unchanged"
    else:
        eq = (
            f"{'narrows' if sii < 0 else 'widens'} the slope index of inequality in HLE by "
            f"{abs(sii):.3f} years"
        )
    if round(q) > 0:
        gain = f"gains {q:,.0f} QALYs for £{top.cost / 1e6:,.1f}m (discounted)"
        if math.isfinite(float(top.cost_per_qaly)):
            gain += f", £{top.cost_per_qaly:,.0f} per QALY"
    elif round(q) < 0:
        gain = f"loses {-q:,.0f} QALYs for £{top.cost / 1e6:,.1f}m (discounted)"
    else:
        gain = f"gains no QALYs for £{top.cost / 1e6:,.1f}m (discounted)"
    lines = [
        f"Across {len(res.manifest['places'])} places, `{top.strategy}` is the best of "
        f"{len(t)} ways to split the budget by {res.investment.objective.measure}: it {gain}, "
        f"and {eq}; {top.core20_share:.0%} of its QALYs go to the most deprived fifth."
    ]
    return lines + summary_lines(res)[-1:]


def report_html(res: PlacesResults, figure_path: Path | None) -> str:
    """The report (``templates/places_report.html.j2``); the figure embedded if given."""
    inv = res.investment
    best = res.table.strategy.iloc[0]
    nat_cols = [
        "rank",
        "strategy",
        "rule",
        "within",
        "objective",
        "qalys_gained",
        "cost",
        "cost_per_qaly",
        "core20_share",
        "hle0_sii_change",
        "health_gap_reduction",
    ]
    per = res.by_place[res.by_place.strategy == best]
    place_cols = [
        "code",
        "name",
        "population",
        "core20_share",
        "gbp_per_year",
        "gbp_per_head",
        "qalys_gained",
        "qalys_per_100k",
        "cost_per_qaly",
    ]
    fig = None
    if figure_path is not None and Path(figure_path).is_file():
        fig = embed(figure_path, f"£ per resident a year in each place under {best}")
    return render(
        "places_report.html.j2",
        name=inv.name,
        n_places=len(res.manifest["places"]),
        question=inv.question or inv.description,
        toc=[],
        meaning=what_this_means(res),
        summary=summary_lines(res),
        national=_table(res.table, nat_cols),
        best=best,
        places=_table(per, place_cols),
        figure=fig,
        m=res.manifest,
        best_source=res.optimiser.get("best_source", OPTIMISED),
    )


def write_places_outputs(res: PlacesResults, out_dir: Path, figures: bool = True) -> Path:
    """Write comparison.csv (national, ranked), by_place.csv, allocations.csv, summary.json,
    tables.xlsx, manifest.json, figures/places.png and report.html into ``out_dir``, atomically."""
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        res.table.to_csv(tmp / "comparison.csv", index=False)
        res.by_place.to_csv(tmp / "by_place.csv", index=False)
        res.allocations.to_csv(tmp / "allocations.csv", index=False)
        summary = {
            "summary": summary_lines(res),
            "ranking": list(res.table.strategy),
            "optimiser": res.optimiser,
        }
        (tmp / "summary.json").write_text(json.dumps(json_safe(summary), indent=2))
        m = res.manifest
        tables = {
            "comparison": (res.table, "comparison.csv: national, one row per strategy, ranked"),
            "by_place": (res.by_place, "by_place.csv: every place under every strategy"),
            "allocations": (res.allocations, "allocations.csv"),
        }
        readme = {
            "question": res.investment.name,
            "description": res.investment.question or res.investment.description,
            "places": ", ".join(map(str, m.get("places", []))),
            "seed": m.get("seed"),
            "replicates": m.get("replicates"),
            "povsim version": m.get("povsim_version"),
            "units": f"QALYs discounted; costs and gbp_* in GBP ({PRICE_YEAR} prices); "
            "gbp_per_head a year per resident; hle0_sii_change in years (negative = narrower)",
        }
        sheets = write_workbook(tmp / WORKBOOK, tables, readme)
        manifest = {
            **res.manifest,
            "investment_as_run": res.investment.model_dump(mode="json"),
            "workbook": {"file": WORKBOOK, "sheets": ["README", *sheets]},
        }
        write_manifest(tmp / "manifest.json", json_safe(manifest))
        if figures:
            (tmp / "figures").mkdir()
            figure(res, tmp / "figures" / "places.png")
        fig = tmp / "figures" / "places.png" if figures else None
        (tmp / "report.html").write_text(report_html(res, fig), encoding="utf-8")
    return out_dir
