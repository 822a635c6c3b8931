"""Outputs of `povsim compare`: the ranked table, allocations, by-quintile benefits, EDE by
aversion, the frontier, figures, a plain-English summary and a self-contained report.html,
written atomically (a failed run leaves nothing half-written)."""

from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from povsim.reporting.compare_figures import CAPTIONS, write_investment_figures
from povsim.reporting.files import atomic_dir, json_safe, write_manifest
from povsim.reporting.html import CSS, esc, fmt_big_money, fmt_money, img
from povsim.reporting.run_report import assumptions
from povsim.reporting.who_pays import FIGURE as WHO_PAYS_FIGURE
from povsim.reporting.who_pays import LABELS, who_pays_from_totals, who_pays_html
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


def _ranked_table(res: InvestmentResults) -> str:
    t = res.table
    thr = [c for c in t.columns if c.startswith("nmb_") and not c.endswith(("_lo", "_hi"))]
    cols = [("objective", "Objective", lambda v: f"{v:.4g}"), *COLUMNS] + [
        (c, f"NMB at £{int(c[4:]):,}", fmt_big_money) for c in thr
    ]
    head = "".join(f"<th class='num'>{esc(label)}</th>" for _, label, _ in cols)
    rows = []
    for _, r in t.iterrows():
        cells = []
        for key, _, fmt in cols:
            v = r[key]
            text = esc(fmt(v)) if _f(v) else "n/a"
            lo, hi = r.get(f"{key}_lo"), r.get(f"{key}_hi")
            if _f(lo) and _f(hi):
                text += f"<span class='ci'>{esc(fmt(lo))} to {esc(fmt(hi))}</span>"
            cells.append(f"<td class='num'>{text}</td>")
        rows.append(
            f"<tr><td>{int(r['rank'])}</td><td><strong>{esc(r.strategy)}</strong>"
            f"<br><span class='muted'>{esc(r.description)}</span></td>" + "".join(cells) + "</tr>"
        )
    return (
        "<div style='overflow-x:auto'><table><thead><tr><th>Rank</th><th>Strategy</th>"
        + head
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )


def _allocation_table(res: InvestmentResults) -> str:
    a = res.allocations
    shown = list(res.table.strategy)
    rows = []
    for s in shown:
        d = a[a.strategy == s]
        for lever in dict.fromkeys(d.lever):
            v = d[d.lever == lever].sort_values("quintile").gbp_per_year / 1e6
            if v.sum() <= 0:
                continue
            rows.append(
                f"<tr><td>{esc(s)}</td><td>{esc(lever)}</td>"
                + "".join(f"<td class='num'>{x:,.1f}</td>" for x in v)
                + "</tr>"
            )
    return (
        "<table><thead><tr><th>Strategy</th><th>Lever</th>"
        + "".join(f"<th class='num'>Q{q}</th>" for q in range(1, 6))
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        "<p class='muted'>£ million a year by IMD quintile (Q1 most deprived).</p>"
    )


def _levers(res: InvestmentResults) -> str:
    rows = []
    for name, lv in res.investment.levers.items():
        what = lv.type + (f" ({lv.subtype})" if lv.subtype else "")
        cap = f"{lv.capacity:,.0f} a year" if lv.capacity else "none"
        rows.append(
            f"<tr><td><strong>{esc(name)}</strong></td><td>{esc(what)}</td>"
            f"<td class='num'>{lv.effect:g}</td><td class='num'>{fmt_money(lv.cost.per_participant)}"  # noqa: E501
            f"</td><td class='num'>{lv.cost.diminishing_returns:g}</td><td>{esc(cap)}</td>"
            f"<td class='src'>{esc(lv.effect_source)}<br>Cost: {esc(lv.cost.source)}</td></tr>"
        )
    return (
        "<table><thead><tr><th>Lever</th><th>Type</th><th class='num'>Effect</th>"
        "<th class='num'>£ per participant</th><th class='num'>Diminishing returns</th>"
        "<th>Capacity</th><th>Sources</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _assumption_list() -> str:
    params, rr = assumptions()
    items = "".join(
        f"<li><code>{esc(r.name)}</code> = {esc(r.value)} {esc(r.unit)}: "
        f"<span class='src'>{esc(r.source)}</span></li>"
        for r in params.itertuples()
    )
    return (
        f"<details><summary>{len(params)} model parameters and {len(rr)} relative risks "
        "are tagged assumption in calibration/</summary><ul>" + items + "</ul></details>"
    )


def render(res: InvestmentResults, figures_dir: Path | None) -> str:
    inv, m = res.investment, res.manifest
    opt = res.optimiser
    figs = ""
    if figures_dir is not None and Path(figures_dir).is_dir():
        figs = "".join(
            img(Path(figures_dir) / f"{n}.png", CAPTIONS[n])
            for n in (
                "impact_plane",
                "frontier",
                "benefit_by_quintile",
                "ede_by_aversion",
                "allocations",
            )
            if (Path(figures_dir) / f"{n}.png").is_file()
        )
    else:
        figs = "<p class='muted'>Figures were not written (--no-figures).</p>"
    search = ""
    if opt.get("enabled"):
        search = (
            "<h2>How the optimiser searched</h2><p>Each lever was simulated with the same "
            f"budget in every quintile at {len(opt['levels'])} levels "
            f"({', '.join(f'{x:g}' for x in opt['levels'])} of the yearly budget per quintile): "
            f"{opt['response_arms']} simulations. Their per-quintile responses, interpolated, "
            "predict any split; a greedy pass and a pairwise-exchange search (moving "
            f"{opt['step']:.0%} of the budget at a time, started also from every named "
            f"strategy) made {opt['surrogate_evaluations']:,} predictions. The best distinct "
            "splits were then simulated in full with the named strategies, and the best "
            f"simulated one is reported as <code>{OPTIMISED}</code>: {esc(opt['note'])}.</p>"
        )
    frontier = ""
    if not res.frontier.empty:
        on = res.frontier[res.frontier.on_frontier]
        frontier = (
            "<p>On the surrogate, the frontier runs from "
            f"{on.qalys.max():,.0f} QALYs with the gap narrowed by "
            f"{on.loc[on.qalys.idxmax(), 'gap_reduction']:.4f} years per person to "
            f"{on.loc[on.gap_reduction.idxmax(), 'qalys']:,.0f} QALYs with it narrowed "
            f"by {on.gap_reduction.max():.4f}.</p>"
        )
    # The question has its own section; the summary starts from the budget.
    summary = "".join(f"<p class='finding'>{esc(x)}</p>" for x in plain_summary(res)[1:])
    caveats = [
        f"Intervals are 95% Monte Carlo intervals over {m['replicates']} replicate seeds; they "
        "show simulation noise only, not uncertainty in effects, costs or relative risks (use "
        "`povsim sensitivity` for that).",
        "The cost column is the programmes' own costs (£, start-year prices), discounted; NHS, "
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
    today = _dt.date.today().isoformat()
    return "\n".join(
        [
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>povsim compare: {esc(inv.name)}</title><style>{CSS}</style></head><body><main>",  # noqa: E501
            f"<header><h1>Where should the money go? {esc(inv.name)}</h1><div class='muted'>"
            f"povsim {esc(m['povsim_version'])} compare · generated {today} · seed {m['seed']}, "
            f"{m['replicates']} replicates, {m['size']:,} simulated persons, "
            f"{m['simulated_arms']} simulated arms in {m['seconds']:.0f} s</div></header>",
            "<h2>Question</h2>" + f"<p>{esc(inv.question or inv.description)}</p>",
            "<h2>Summary</h2>" + summary,
            "<h2>Options</h2>"
            + "<h3>Levers</h3>"
            + _levers(res)
            + "<h3>Allocations compared</h3>"
            + _allocation_table(res),
            f"<h2>Results, ranked by {esc(objective_words(res))}</h2>"
            + _ranked_table(res)
            + "<p class='muted'>Against the baseline of the same seeds. Grey: 95% interval over "
            "replicates. Negative gap/SII change = inequality narrows. NMB = threshold x QALYs - "
            "cost.</p>" + frontier,
            who_pays_html(
                who_pays_from_totals(res.table),
                str(m.get("area", "England")),
                Path(figures_dir) / WHO_PAYS_FIGURE if figures_dir is not None else None,
            ),
            "<h2>Figures</h2>" + figs,
            search,
            "<h2>Assumptions and sources</h2>"
            f"<p>Budget: {esc(inv.budget.source or 'not given')}. Utilities, discount rates and "
            "thresholds: calibration/parameters.yaml (Ara & Brazier 2010; HM Treasury Green Book "
            "2022; NICE PMG36 2022).</p>" + _assumption_list(),
            "<h2>Caveats</h2><ul>" + "".join(f"<li>{esc(c)}</li>" for c in caveats) + "</ul>",
            "</main></body></html>",
        ]
    )


def write_investment_outputs(res: InvestmentResults, out_dir: Path, figures: bool = True) -> Path:
    """Write comparison.csv/.parquet (ranked, one row per strategy), allocations.csv,
    by_quintile.csv, ede.csv, frontier.csv, replicates.csv, summary.json, manifest.json,
    figures/ and report.html into ``out_dir``, atomically."""
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
        manifest = {**res.manifest, "investment_as_run": res.investment.model_dump(mode="json")}
        write_manifest(tmp / "manifest.json", json_safe(manifest))
        figdir = tmp / "figures"
        if figures:
            write_investment_figures(res, figdir)
        (tmp / "report.html").write_text(render(res, figdir if figures else None), encoding="utf-8")
    return out_dir
