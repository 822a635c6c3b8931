"""Outputs of a ``places:`` budget comparison: the ranked national table, every place's money
and gains under every strategy, a sorted bar chart of £ per head by place, and a report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from povsim.reporting.figure_store import save_figure
from povsim.reporting.files import atomic_dir, json_safe, write_manifest
from povsim.reporting.html import esc
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


def _table_html(df: pd.DataFrame, cols: list[str]) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in cols)
    body = []
    for _, r in df[cols].iterrows():
        cells = []
        for c in cols:
            v = r[c]
            cells.append(f"<td>{v:,.4g}</td>" if isinstance(v, float) else f"<td>{esc(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def report_html(res: PlacesResults, has_figure: bool) -> str:
    inv = res.investment
    lines = summary_lines(res)
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
    fig = '<img src="figures/places.png" alt="£ per head by place">' if has_figure else ""
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>{esc(inv.name)}: one budget across places</title>
<style>body{{font-family:sans-serif;max-width:70em;margin:auto}}table{{border-collapse:collapse;
font-size:85%}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}</style></head><body>
<h1>{esc(inv.name)}: one budget across {len(res.manifest["places"])} places</h1>
<p>{esc(inv.question or inv.description)}</p>
<h2>Summary</h2><ul>{"".join(f"<li>{esc(s)}</li>" for s in lines)}</ul>
<h2>Strategies, nationally (ranked by the objective)</h2>{_table_html(res.table, nat_cols)}
<h2>Places under {esc(best)}</h2>{fig}{_table_html(per, place_cols)}
<h2>How it was run</h2><p>Each place is simulated with its own mid-2019 composition
(calibration/places/) at {res.manifest["size"]:,} simulated persons, {res.manifest["replicates"]}
replicate(s), with England's rates by quintile, age and sex (no local calibration). National
figures are sums of the places' gains; the optimiser searched (place, lever, quintile) cells on
response curves and its best candidates were simulated in full ({esc(res.manifest["executor"])},
{res.manifest["seconds"]:.0f} s). The optimised row is the best <em>simulated</em> allocation
({esc(res.optimiser.get("best_source", OPTIMISED))}).</p></body></html>"""


def write_places_outputs(res: PlacesResults, out_dir: Path, figures: bool = True) -> Path:
    """Write comparison.csv (national, ranked), by_place.csv, allocations.csv, summary.json,
    manifest.json, figures/places.png and report.html into ``out_dir``, atomically."""
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
        manifest = {**res.manifest, "investment_as_run": res.investment.model_dump(mode="json")}
        write_manifest(tmp / "manifest.json", json_safe(manifest))
        if figures:
            (tmp / "figures").mkdir()
            figure(res, tmp / "figures" / "places.png")
        (tmp / "report.html").write_text(report_html(res, figures), encoding="utf-8")
    return out_dir
