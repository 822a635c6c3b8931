"""Outputs of `povsim compare`: the ranked table, allocations, by-quintile benefits, EDE by
aversion, the frontier, figures, a plain-English summary and a self-contained report.html
(``templates/compare_report.html.j2``, opening with "What this means"), written atomically
(a failed run leaves nothing half-written)."""

from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path
from typing import Any

import markupsafe
import pandas as pd

from povsim.inputs.prices import PRICE_YEAR
from povsim.reporting.compare_figures import CAPTIONS, write_investment_figures
from povsim.reporting.files import atomic_dir, json_safe, write_manifest
from povsim.reporting.html import figure, fmt_big_money, fmt_money
from povsim.reporting.html import render as render_template
from povsim.reporting.run_report import assumptions
from povsim.reporting.who_pays import FIGURE as WHO_PAYS_FIGURE
from povsim.reporting.who_pays import LABELS, who_pays_from_totals, who_pays_html
from povsim.reporting.workbook import WORKBOOK, write_workbook
from povsim.studies.compare import OPTIMISED, InvestmentResults

OBJECTIVE_WORDS = {
    "qalys": "discounted QALYs gained",
    "ede": "gain in equally distributed equivalent health at inequality aversion {a:g}",
    "gap": "narrowing of the Q1-Q5 gap in health per person",
    **{f"net_cost_{p}": f"lowest discounted net cost to {LABELS[p]}" for p in LABELS},
    **{f"roi_{p}": f"highest return on investment to {LABELS[p]}" for p in LABELS},
}


def _f(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _ci(row: pd.Series, key: str, fmt) -> str:
    lo, hi = row.get(f"{key}_lo"), row.get(f"{key}_hi")
    return f" (95% {fmt(lo)} to {fmt(hi)})" if _f(lo) and _f(hi) else ""


def objective_words(res: InvestmentResults) -> str:
    o = res.investment.objective
    text = OBJECTIVE_WORDS[o.measure].format(a=o.aversion)
    if o.measure == "gap" and o.max_cost_per_qaly is not None:
        text += f", at no more than £{o.max_cost_per_qaly:,.0f} per QALY"
    if o.max_net_cost is not None and o.net_cost_perspective is not None:
        text += (
            f", with a discounted net cost to {LABELS[o.net_cost_perspective]} of at most "
            f"{fmt_big_money(o.max_net_cost)}"
        )
    return text


def plain_summary(res: InvestmentResults) -> list[str]:
    """A few sentences a strategy team can quote."""
    inv, t = res.investment, res.table
    b = inv.budget
    lines = [
        f"Question: {inv.question.strip() or inv.description.strip()}",
        f"Budget: {fmt_big_money(b.per_year)} a year for {b.years} years from "
        f"{inv.budget_start}; outcomes to {inv.last_year}, costs discounted at "
        f"{res.manifest['discount_rate_costs']:.1%} and health at "
        f"{res.manifest['discount_rate_health']:.1%} a year.",
    ]
    top = t.iloc[0]
    lines.append(
        f"Ranked by {objective_words(res)}, the best option is `{top.strategy}`: "
        f"{top.qalys_gained:,.0f} QALYs gained{_ci(top, 'qalys_gained', lambda v: f'{v:,.0f}')} "
        f"for {fmt_big_money(top.cost)} (discounted), {fmt_money(top.cost_per_qaly)} per QALY; "
        f"the HLE gap (Q5-Q1) changes by {top.hle0_gap_change:+.3f} years and its SII by "
        f"{top.hle0_sii_change:+.3f} years; {top.core20_share:.0%} of the QALYs go to the "
        "most deprived fifth."
    )
    eff = t.loc[t.qalys_gained.idxmax()]
    eq = t.loc[t.hle0_sii_change.idxmin()]
    lines.append(
        f"Most health overall: `{eff.strategy}` ({eff.qalys_gained:,.0f} QALYs). "
        f"Largest narrowing of the HLE SII: `{eq.strategy}` "
        f"({eq.hle0_sii_change:+.3f} years)."
    )
    if OPTIMISED in set(t.strategy):
        lines.append(
            f"Optimiser: {res.optimiser.get('note', '')} "
            f"({res.optimiser.get('response_arms', 0)} response simulations, "
            f"{res.optimiser.get('surrogate_evaluations', 0):,} surrogate evaluations)."
        )
    if res.switches:
        sw = "; ".join(
            f"from aversion {s['aversion']:g}: {' > '.join(s['order'])}" for s in res.switches
        )
        lines.append(f"Ranking by EDE health changes with inequality aversion: {sw}.")
    else:
        lines.append(
            "The ranking by EDE health is the same at every inequality aversion "
            f"from 0 to {max(inv.economics.aversions):g}."
        )
    overlap = (
        _f(top.get("objective_lo")) and len(t) > 1 and t.iloc[1].objective_hi >= top.objective_lo
    )
    if overlap:
        lines.append(
            "The Monte Carlo intervals of the top two overlap: the ranking between "
            "them is not settled at this simulated size and number of replicates."
        )
    return lines


COLUMNS = [
    ("qalys_gained", "QALYs gained", lambda v: f"{v:,.0f}"),
    ("cost", "Cost (disc.)", fmt_big_money),
    ("cost_per_qaly", "£ per QALY", fmt_money),
    ("participants", "People reached", lambda v: f"{v:,.0f}"),
    ("hle0_gap_change", "HLE gap change (y)", lambda v: f"{v:+.3f}"),
    ("hle0_sii_change", "HLE SII change (y)", lambda v: f"{v:+.3f}"),
    ("le0_sii_change", "LE SII change (y)", lambda v: f"{v:+.3f}"),
    ("core20_share", "Share to Core20", lambda v: f"{v:.0%}"),
]


def what_this_means(res: InvestmentResults) -> list[str]:
    """The answer first, in plain English, from the ranked table: the best option, what it
    does to the HLE gap (narrows / widens / leaves unchanged), what it costs per QALY, and
    whether the ranking is settled."""
    t = res.table
    top = t.iloc[0]
    g = round(float(top.hle0_gap_change), 3) if _f(top.hle0_gap_change) else None
    if g is None:
        gap = "its effect on the HLE gap between the most and least deprived fifths is not defined"
    elif g == 0:
        gap = "it leaves the HLE gap between the most and least deprived fifths unchanged"
    else:
        gap = (
            f"it {'narrows' if g < 0 else 'widens'} the HLE gap between the most and least "
            f"deprived fifths by {abs(g):.3f} years in {res.manifest['evaluation_year']}"
        )
    q = float(top.qalys_gained) if _f(top.qalys_gained) else 0.0
    if round(q) > 0:
        gain = f"gains {q:,.0f} QALYs"
    elif round(q) < 0:
        gain = f"loses {-q:,.0f} QALYs"
    else:
        gain = "gains no QALYs"
    cpq = f", {fmt_money(top.cost_per_qaly)} per QALY" if _f(top.cost_per_qaly) and q > 0 else ""
    lines = [
        f"Of {len(t)} options, `{top.strategy}` is best by {objective_words(res)}: it {gain} "
        f"for {fmt_big_money(top.cost)} (discounted){cpq}, and {gap}."
    ]
    overlap = (
        _f(top.get("objective_lo")) and len(t) > 1 and t.iloc[1].objective_hi >= top.objective_lo
    )
    if overlap:
        lines.append(
            f"Its lead over `{t.iloc[1].strategy}` is within simulation noise: the two "
            "intervals overlap, so the ranking between them is not settled."
        )
    return lines


def _ranked_table(res: InvestmentResults) -> dict[str, Any]:
    t = res.table
    thr = [c for c in t.columns if c.startswith("nmb_") and not c.endswith(("_lo", "_hi"))]
    cols = [("objective", "Objective", lambda v: f"{v:.4g}"), *COLUMNS] + [
        (c, f"NMB at £{int(c[4:]):,}", fmt_big_money) for c in thr
    ]
    rows = []
    for _, r in t.iterrows():
        cells: list[dict[str, str] | None] = []
        for key, _, fmt in cols:
            v = r[key]
            if not _f(v):
                cells.append(None)
                continue
            lo, hi = r.get(f"{key}_lo"), r.get(f"{key}_hi")
            ci = f"{fmt(lo)} to {fmt(hi)}" if _f(lo) and _f(hi) else ""
            cells.append({"text": fmt(v), "ci": ci})
        rows.append(
            {
                "rank": int(r["rank"]),
                "strategy": r.strategy,
                "description": r.description,
                "cells": cells,
            }
        )
    return {"columns": [label for _, label, _ in cols], "rows": rows}


def _allocation_table(res: InvestmentResults) -> list[list[str]]:
    a = res.allocations
    rows = []
    for s in list(res.table.strategy):
        d = a[a.strategy == s]
        for lever in dict.fromkeys(d.lever):
            v = d[d.lever == lever].sort_values("quintile").gbp_per_year / 1e6
            if v.sum() <= 0:
                continue
            rows.append([s, lever, *(f"{x:,.1f}" for x in v)])
    return rows


def _levers(res: InvestmentResults) -> list[dict[str, str]]:
    rows = []
    for name, lv in res.investment.levers.items():
        rows.append(
            {
                "name": name,
                "what": lv.type + (f" ({lv.subtype})" if lv.subtype else ""),
                "effect": f"{lv.effect:g}",
                "cost": fmt_money(lv.cost.per_participant),
                "diminishing": f"{lv.cost.diminishing_returns:g}",
                "capacity": f"{lv.capacity:,.0f} a year" if lv.capacity else "none",
                "effect_source": lv.effect_source,
                "cost_source": lv.cost.source,
            }
        )
    return rows


def _assumption_list() -> dict[str, Any]:
    params, rr = assumptions()
    return {
        "n_rr": len(rr),
        "params": [
            {"name": r.name, "value": r.value, "unit": r.unit, "source": r.source}
            for r in params.itertuples()
        ],
    }


def render(res: InvestmentResults, figures_dir: Path | None) -> str:
    """The report as one HTML string (``templates/compare_report.html.j2``)."""
    inv, m = res.investment, res.manifest
    opt = res.optimiser
    figs = []
    if figures_dir is not None and Path(figures_dir).is_dir():
        figs = [
            figure(Path(figures_dir) / f"{n}.png", CAPTIONS[n])
            for n in (
                "impact_plane",
                "frontier",
                "benefit_by_quintile",
                "ede_by_aversion",
                "allocations",
            )
            if (Path(figures_dir) / f"{n}.png").is_file()
        ]
    search = ""
    if opt.get("enabled"):
        search = (
            "Each lever was simulated with the same "
            f"budget in every quintile at {len(opt['levels'])} levels "
            f"({', '.join(f'{x:g}' for x in opt['levels'])} of the yearly budget per quintile): "
            f"{opt['response_arms']} simulations. Their per-quintile responses, interpolated, "
            "predict any split; a greedy pass and a pairwise-exchange search (moving "
            f"{opt['step']:.0%} of the budget at a time, started also from every named "
            f"strategy) made {opt['surrogate_evaluations']:,} predictions. The best distinct "
            "splits were then simulated in full with the named strategies, and the best "
            f"simulated one is reported as `{OPTIMISED}`: {opt['note']}."
        )
    frontier = ""
    if not res.frontier.empty:
        on = res.frontier[res.frontier.on_frontier]
        frontier = (
            "On the surrogate, the frontier runs from "
            f"{on.qalys.max():,.0f} QALYs with the gap narrowed by "
            f"{on.loc[on.qalys.idxmax(), 'gap_reduction']:.4f} years per person to "
            f"{on.loc[on.gap_reduction.idxmax(), 'qalys']:,.0f} QALYs with it narrowed "
            f"by {on.gap_reduction.max():.4f}."
        )
    caveats = [
        f"Intervals are 95% Monte Carlo intervals over {m['replicates']} replicate seeds; they "
        "show simulation noise only, not uncertainty in effects, costs or relative risks (use "
        "`povsim sensitivity` for that).",
        f"The cost column is the programmes' own costs (£, {PRICE_YEAR} prices), discounted; NHS, "
        "social-care and Exchequer costs avoided are in 'Who pays, who saves'. Treatment "
        "under an access lever continues and is paid after the budget years, so a strategy may "
        "cost more than the budget; a lever whose eligible pool is exhausted leaves money "
        "unspent (both show in the cost column).",
        "QALYs weight each simulated year by an EQ-5D utility by age, sex and self-rated health "
        "(Ara & Brazier 2010 population norms; the not-good/good ratio is an assumption).",
        "Gap, SII and RII changes are period LE/HLE at birth in the evaluation year "
        f"({m['evaluation_year']}), both sexes. EDE uses baseline HLE by quintile plus healthy "
        "life-years gained per person over the horizon (distributional cost-effectiveness "
        "analysis).",
        "The optimiser's surrogate assumes a lever's effect in one quintile does not depend on "
        "money elsewhere; the full simulation of its candidates includes every interaction.",
        f"Population, costs and counts are for the real population of {m.get('area', 'England')} "
        f"({m.get('real_population', 0):,} at the start), scaled from the simulated persons; "
        "comparison.csv also gives them per 100,000.",
    ]
    return render_template(
        "compare_report.html.j2",
        name=inv.name,
        m=m,
        today=_dt.date.today().isoformat(),
        toc=[],
        meaning=what_this_means(res),
        question=inv.question or inv.description,
        # The question has its own section; the summary starts from the budget.
        summary=plain_summary(res)[1:],
        levers=_levers(res),
        allocations=_allocation_table(res),
        objective=objective_words(res),
        ranked=_ranked_table(res),
        frontier=frontier,
        after_results=[
            markupsafe.Markup(
                who_pays_html(
                    who_pays_from_totals(res.table),
                    str(m.get("area", "England")),
                    Path(figures_dir) / WHO_PAYS_FIGURE if figures_dir is not None else None,
                )
            )
        ],
        figures=figs,
        figures_written=figures_dir is not None and Path(figures_dir).is_dir(),
        search=search,
        budget_source=inv.budget.source or "not given",
        assumptions=_assumption_list(),
        caveats=caveats,
    )


def write_investment_outputs(res: InvestmentResults, out_dir: Path, figures: bool = True) -> Path:
    """Write comparison.csv/.parquet (ranked, one row per strategy), allocations.csv,
    by_quintile.csv, ede.csv, frontier.csv, replicates.csv, summary.json, tables.xlsx,
    manifest.json, figures/ and report.html into ``out_dir``, atomically."""
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        res.table.to_csv(tmp / "comparison.csv", index=False)
        res.table.to_parquet(tmp / "comparison.parquet", index=False)
        res.allocations.to_csv(tmp / "allocations.csv", index=False)
        res.by_quintile.to_csv(tmp / "by_quintile.csv", index=False)
        res.ede.to_csv(tmp / "ede.csv", index=False)
        if not res.frontier.empty:
            res.frontier.to_csv(tmp / "frontier.csv", index=False)
        if res.replicate_rows is not None:
            res.replicate_rows.to_csv(tmp / "replicates.csv", index=False)
        summary = {
            "summary": plain_summary(res),
            "objective": objective_words(res),
            "ranking": list(res.table.strategy),
            "switches": res.switches,
            "optimiser": res.optimiser,
        }
        (tmp / "summary.json").write_text(json.dumps(json_safe(summary), indent=2, allow_nan=False))
        tables = {
            "comparison": (res.table, "comparison.csv: one row per strategy, ranked"),
            "allocations": (res.allocations, "allocations.csv: £ a year by lever and quintile"),
            "by_quintile": (res.by_quintile, "by_quintile.csv"),
            "ede": (res.ede, "ede.csv: EDE health by inequality aversion"),
        }
        if not res.frontier.empty:
            tables["frontier"] = (res.frontier, "frontier.csv")
        if res.replicate_rows is not None:
            tables["replicates"] = (res.replicate_rows, "replicates.csv")
        m = res.manifest
        readme = {
            "question": res.investment.name,
            "description": res.investment.question or res.investment.description,
            "seed": m.get("seed"),
            "replicates": m.get("replicates"),
            "povsim version": m.get("povsim_version"),
            "area": m.get("area"),
            "real population (persons)": m.get("real_population"),
            "price_year": PRICE_YEAR,
            "units": f"QALYs discounted; costs GBP, {PRICE_YEAR} prices, discounted; gap/SII "
            "changes in years of HLE/LE at birth in the evaluation year (negative = narrower); "
            "core20_share: share of QALYs gained in the most deprived fifth; *_lo/*_hi: 95% "
            "Monte Carlo interval over replicates",
        }
        sheets = write_workbook(tmp / WORKBOOK, tables, readme)
        manifest = {
            **res.manifest,
            "investment_as_run": res.investment.model_dump(mode="json"),
            "workbook": {"file": WORKBOOK, "sheets": ["README", *sheets]},
        }
        write_manifest(tmp / "manifest.json", json_safe(manifest))
        figdir = tmp / "figures"
        if figures:
            write_investment_figures(res, figdir)
        (tmp / "report.html").write_text(render(res, figdir if figures else None), encoding="utf-8")
    return out_dir
