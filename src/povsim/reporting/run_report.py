"""A single self-contained HTML report of a run, for circulation.

Inline CSS, figures embedded as base64 PNG data URIs, no scripts and no external assets: the
file can be emailed or opened offline. It says what was run, the headline changes of every
arm against the baseline, the figures, each arm's interventions with their sources, every
parameter the model takes as an assumption (with its reasoning), and caveats.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from povsim.inputs.interventions import parse_intervention
from povsim.inputs.parameters import calibration_dir, read_table
from povsim.measures.results import Results
from povsim.policy.types import describe
from povsim.reporting.html import (
    CSS,
    cell,
    esc,
    finite,
    fmt_big_money,
    fmt_count,
    fmt_money,
    fmt_pct,
    fmt_years,
    img,
    includes_zero,
)
from povsim.reporting.summary import arm_headlines
from povsim.reporting.who_pays import FIGURE as WHO_PAYS_FIGURE
from povsim.reporting.who_pays import who_pays_html, who_pays_table

QUINTILE_NAMES = {
    "1": "Q1 (most deprived)",
    "2": "Q2",
    "3": "Q3",
    "4": "Q4",
    "5": "Q5 (least deprived)",
    "all": "England",
}

FIGURE_CAPTIONS = {
    "hle_change_by_quintile": "Change in healthy life expectancy (HLE) at birth against the "
    "baseline in the final year, by IMD quintile (years, males and "
    "females together).",
    "gap_over_time": "Inequality in HLE at birth over time: the gap between the least and most "
    "deprived quintiles and the slope index of inequality (years), baseline "
    "and every arm.",
    "cost_vs_healthy_years": "Cumulative cost (£ million, undiscounted) against cumulative "
    "healthy life-years gained in England, year by year; the large "
    "point is the final year.",
    "feedback_loops": "Feedback loops: service capacity relative to demand (left) and "
    "community trust by IMD quintile (right).",
    "expectancies": "Life expectancy and HLE at birth by IMD quintile and sex (years).",
    "inequality": "Gap (Q5 minus Q1) and slope index of inequality of LE and HLE at birth, by "
    "sex (years).",
    "outcomes": "Risk factors and outcomes by IMD quintile, first and last year (%).",
    "decomposition": "What explains the baseline gap between the least and most deprived "
    "fifths (Q5 minus Q1), in years of LE and HLE at birth: each pathway's Shapley share "
    "(its relative risks set to 1 with the calibration kept, averaged over every order of "
    "removal) and the residual the exposures leave unexplained, by sex (decomposition.csv).",
}


# --- sections -------------------------------------------------------------------------------


def _what_was_run(results: Results) -> str:
    sc, m = results.scenario, results.manifest
    pop = sc.get("population", {})
    start = int(pop.get("start_year", m.get("start_year", 0)))
    horizon = int(pop.get("horizon", m.get("horizon", 0)))
    reps = int(m.get("replicates", 1))
    seed = m.get("seed", sc.get("seed"))
    seeds = (
        f"{seed}"
        if reps == 1 or seed is None
        else f"{seed} to {int(seed) + reps - 1} (one per replicate)"
    )
    arms = sc.get("arms", {}) or {}
    arm_text = (
        "baseline only"
        if not arms
        else "baseline; "
        + "; ".join(
            esc(a) + (f" ({esc(v.get('description'))})" if v.get("description") else "")
            for a, v in arms.items()
        )
    )
    overrides = sc.get("parameters") or {}
    over_text = (
        ", ".join(f"<code>{esc(k)}</code> = {esc(v)}" for k, v in overrides.items())
        or "none (calibrated defaults)"
    )
    fb = sc.get("feedbacks", {}) or {}
    cap, tru = fb.get("capacity", {}) or {}, fb.get("trust", {}) or {}
    loops = (
        f"capacity against demand: {'on' if cap.get('enabled', True) else 'off'}"
        + (" (unconstrained)" if cap.get("unconstrained") else "")
        + f"; community trust: {'on' if tru.get('enabled', True) else 'off'}"
    )
    rows = [
        ("Scenario", f"<strong>{esc(sc.get('name', ''))}</strong>"),
        ("Description", esc(sc.get("description", "") or "—")),
        ("Arms", arm_text),
        (
            "Simulated persons",
            f"{int(pop.get('size', m.get('size', 0))):,} at the start, " + _scaled_to(results),
        ),
        (
            "Period",
            f"{start} to {start + horizon - 1} ({horizon} years; {start} represents ONS 2017-19)",
        ),
        ("Seed", esc(seeds)),
        (
            "Replicates",
            f"{reps}" + ("" if reps > 1 else " (no Monte Carlo intervals; use --replicates N)"),
        ),
        ("Parameter overrides", over_text),
        ("Feedback loops", esc(loops)),
        ("Scenario file", esc(sc.get("source_path") or "—")),
        ("povsim version", esc(m.get("povsim_version", ""))),
        (
            "Run time",
            f"{float(m.get('seconds') or 0):.1f} s, "
            f"{int(m.get('simulated_person_years') or 0):,} simulated person-years, "
            f"Python {esc(m.get('python', ''))}",
        ),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<h2 id="run">What was run</h2><table class="kv">{body}</table>'


def _area_name(results: Results) -> str:
    return str(results.manifest.get("area_name") or "England")


def _scaled_to(results: Results) -> str:
    """What the simulated persons stand for (England, or a local area's composition)."""
    m, pop = results.manifest, results.scenario.get("population", {}) or {}
    real = m.get("real_population")
    area = pop.get("area", "england")
    if area == "england":
        return "scaled to England's mid-2019 population" + (f" ({int(real):,})" if real else "")
    if area != "local":  # a shipped real place, by its ONS code
        return (
            f"scaled to the real population of {esc(_area_name(results))} "
            f"(<code>{esc(area)}</code>): {int(real or 0):,} persons, mid-2019, from the "
            "shipped place compositions (<code>calibration/places/</code>)"
        )
    return (
        f"scaled to the real population of {esc(_area_name(results))}: "
        f"{int(real or 0):,} persons (composition <code>{esc(pop.get('composition'))}</code>)"
    )


def _findings(heads: dict[str, dict[str, Any]], area_name: str = "England") -> str:
    items = []
    for arm, h in heads.items():
        q1, eng = h["hle0_change"].get("1"), h["hle0_change"].get("all")
        gap = h["inequality_change"]["all"].get("hle0_gap")
        parts = []
        if q1 is not None:
            parts.append(
                f"HLE at birth in the most deprived quintile "
                f"{'rises' if q1['value'] >= 0 else 'falls'} by "
                f"{abs(q1['value']):.2f} years"
                + (" (interval includes no change)" if includes_zero(q1) else "")
            )
        if eng is not None:
            parts.append(f"in {area_name} as a whole HLE changes by {eng['value']:+.2f} years")
        if gap is not None:
            word = (
                "narrows"
                if gap["value"] < 0
                else "widens"
                if gap["value"] > 0
                else "does not change"
            )
            parts.append(
                f"the HLE gap between least and most deprived {word}"
                + (f" by {abs(gap['value']):.2f} years" if gap["value"] else "")
            )
        hy, cost, cph = h.get("healthy_years_gained"), h.get("cost"), h.get("cost_per_healthy_year")
        tail = ""
        if hy is not None:
            tail = (
                f" Over {h['period'][0]}-{h['period'][1]}: {fmt_count(hy['value'])} healthy "
                "life-years gained"
            )
            if cost is not None:
                tail += f" for {fmt_big_money(cost['value'])}"
            if cph is not None:
                tail += f" ({fmt_money(cph['value'])} per healthy life-year)"
            p100 = h.get("per_100k") or {}
            if p100.get("healthy_years_gained") is not None:
                tail += (
                    f"; per 100,000 residents {fmt_count(p100['healthy_years_gained'])} "
                    "healthy life-years"
                )
            tail += f" in {area_name}."
        items.append(
            f'<li class="finding"><strong>{esc(arm)}</strong>: by {h["year"]}, '
            f"{esc('; '.join(parts))}.{esc(tail)}</li>"
        )
    return "<ul>" + "".join(items) + "</ul>"


def _headline_table(heads: dict[str, dict[str, Any]], area_name: str = "England") -> str:
    arms = list(heads)
    any_h = next(iter(heads.values()))
    last, (first, _) = any_h["year"], any_h["period"]
    head = "".join(f'<th class="num">{esc(a)}</th>' for a in arms)
    rows: list[str] = []

    def group(text: str) -> None:
        rows.append(f'<tr class="group"><td colspan="{len(arms) + 1}">{esc(text)}</td></tr>')

    def row(label: str, get, fmt) -> None:
        rows.append(
            f"<tr><td>{label}</td>" + "".join(cell(get(heads[a]), fmt) for a in arms) + "</tr>"
        )

    group(f"Change in {last}, years (arm minus baseline, males and females together)")
    for m, name in (
        ("hle0", "Healthy life expectancy at birth"),
        ("le0", "Life expectancy at birth"),
    ):
        for q in ("1", "5", "all"):
            label = area_name if q == "all" else QUINTILE_NAMES[q]
            row(f"{name}, {esc(label)}", lambda h, m=m, q=q: h[f"{m}_change"].get(q), fmt_years)
    group(f"Change in inequality in {last}, years (negative = narrower)")
    for m, name in (("hle0", "HLE"), ("le0", "LE")):
        row(
            f"{name} gap, Q5 minus Q1",
            lambda h, m=m: h["inequality_change"]["all"].get(f"{m}_gap"),
            fmt_years,
        )
        row(
            f"{name} slope index of inequality (SII)",
            lambda h, m=m: h["inequality_change"]["all"].get(f"{m}_sii"),
            fmt_years,
        )
    group(f"Totals over {first}-{last}, {area_name} (real population)")
    row("Healthy life-years gained", lambda h: h.get("healthy_years_gained"), fmt_count)
    row("Life-years gained", lambda h: h.get("life_years_gained"), fmt_count)
    row(
        "Deaths averted (postponed beyond the period)", lambda h: h.get("deaths_averted"), fmt_count
    )
    row("Participants (summed over years)", lambda h: h.get("participants"), fmt_count)
    row("Total cost (undiscounted, start-year prices)", lambda h: h.get("cost"), fmt_big_money)
    row("Cost per healthy life-year gained", lambda h: h.get("cost_per_healthy_year"), fmt_money)
    row("Cost per year (mean over the period)", lambda h: h.get("cost_per_year"), fmt_big_money)
    group(f"The same totals per 100,000 residents of {area_name}")

    def p100(name: str):
        return lambda h: (
            {"value": h["per_100k"][name]}
            if h.get("per_100k") and h["per_100k"].get(name) is not None
            else None
        )

    row("Healthy life-years gained", p100("healthy_years_gained"), fmt_count)
    row("Deaths averted", p100("deaths_averted"), fmt_count)
    row("Participants (summed over years)", p100("participants"), fmt_count)
    row("Total cost", p100("cost"), fmt_big_money)
    group("Cost-utility (discounted: costs 3.5%, health 1.5% a year, from the first year)")
    row("QALYs gained", lambda h: h.get("qalys_gained_discounted"), fmt_count)
    row("Cost", lambda h: h.get("cost_discounted"), fmt_big_money)
    row("Cost per QALY gained", lambda h: h.get("cost_per_qaly"), fmt_money)
    row("Net monetary benefit at £20,000 per QALY", lambda h: h.get("nmb_20000"), fmt_big_money)
    row("Net monetary benefit at £30,000 per QALY", lambda h: h.get("nmb_30000"), fmt_big_money)
    return (
        f"<table><thead><tr><th>Measure</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _sex_gaps_table(heads: dict[str, dict[str, Any]]) -> str:
    arms = list(heads)
    head = "".join(f'<th class="num">{esc(a)}</th>' for a in arms)
    rows = []
    for sex in ("male", "female"):
        for m, name in (("hle0", "HLE"), ("le0", "LE")):
            for s, sname in (("gap", "gap Q5-Q1"), ("sii", "SII")):
                rows.append(
                    f"<tr><td>{sex}s: {name} {sname}</td>"
                    + "".join(
                        cell(heads[a]["inequality_change"][sex].get(f"{m}_{s}"), fmt_years)
                        for a in arms
                    )
                    + "</tr>"
                )
    return (
        f"<details><summary>Change in inequality by sex</summary><table><thead><tr>"
        f"<th>Measure (years)</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody>"
        f"</table></details>"
    )


def _baseline_tables(results: Results) -> str:
    f = results.frame
    f = f[f.arm == "baseline"] if (f.arm == "baseline").any() else f
    first, last = int(f.year.min()), int(f.year.max())
    years = sorted({first, last})
    idx = f.set_index(["year", "sex", "quintile", "measure"])["value"]

    def val(yr: int, sex: str, q: str, m: str) -> str:
        v = idx.get((yr, sex, q, m))
        return f"{v:.1f}" if v is not None and finite(float(v)) else "n/a"

    tables = []
    for sex, title in (("male", "Males"), ("female", "Females"), ("all", "Males and females")):
        cols = "".join(f'<th class="num">{m} {yr}</th>' for m in ("LE", "HLE") for yr in years)
        body = []
        for q in ("1", "2", "3", "4", "5", "all"):
            vals = "".join(
                f'<td class="num">{val(yr, sex, q, m)}</td>'
                for m in ("le0", "hle0")
                for yr in years
            )
            # The whole-area row is named after the area (a local area is not England).
            label = _area_name(results) if q == "all" else QUINTILE_NAMES[q]
            body.append(f"<tr><td>{esc(label)}</td>{vals}</tr>")
        for s, label in (("gap", "Gap Q5-Q1"), ("sii", "SII")):
            vals = "".join(
                f'<td class="num">{val(yr, sex, "all", f"{m}_{s}")}</td>'
                for m in ("le0", "hle0")
                for yr in years
            )
            body.append(f"<tr><td><em>{label}</em></td>{vals}</tr>")
        tables.append(
            f"<div><h3>{title}</h3><table><thead><tr><th>IMD quintile</th>{cols}"
            f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        )
    return (
        '<h2 id="baseline">Baseline: life expectancy and healthy life expectancy at '
        'birth (years)</h2><p class="muted">Period expectancies for each simulated year; '
        f"{first} represents ONS 2017-19. No new intervention; feedback loops as set in "
        'the scenario.</p><div class="tables">' + "".join(tables) + "</div>"
    )


def _figures(results: Results, figures_dir: Path | None, arms: list[str]) -> str:
    if figures_dir is None or not Path(figures_dir).is_dir():
        return (
            '<h2 id="figures">Figures</h2><p class="muted">Figures were not written for '
            "this run (--no-figures).</p>"
        )
    d = Path(figures_dir)
    parts = ['<h2 id="figures">Figures</h2>']
    for name in (
        "hle_change_by_quintile",
        "gap_over_time",
        "cost_vs_healthy_years",
        "feedback_loops",
    ):
        p = d / f"{name}.png"
        if p.is_file():
            parts.append(img(p, FIGURE_CAPTIONS[name]))
    for name in ("expectancies", "inequality", "outcomes"):
        p = d / f"{name}.png"
        if p.is_file():
            parts.append(img(p, "Baseline. " + FIGURE_CAPTIONS[name]))
    for arm in arms:
        figs = [
            img(d / f"{n}_{arm}.png", f"{arm}. " + FIGURE_CAPTIONS[n])
            for n in ("expectancies", "inequality", "outcomes")
            if (d / f"{n}_{arm}.png").is_file()
        ]
        if figs:
            parts.append(
                f"<details><summary>Levels in arm {esc(arm)}</summary>"
                + "".join(figs)
                + "</details>"
            )
    return "".join(parts)


def _who_pays(results: Results, figures_dir: Path | None) -> str:
    """Costs by perspective per arm (reporting/who_pays.py; '' without cost rows)."""
    fig = Path(figures_dir) / WHO_PAYS_FIGURE if figures_dir is not None else None
    return who_pays_html(who_pays_table(results.comparison), _area_name(results), fig)


def _loop_check(results: Results) -> str:
    """Arms whose gain rests mostly on the feedback loops, whose parameters are assumptions."""
    d = results.loop_dependence
    if d is None or d.empty:
        return ""
    flagged = d[d.depends_on_loops]
    rows = "".join(
        f"<tr><td>{esc(str(r.arm))}</td><td>{fmt_count(r.healthy_years_gained)}</td>"
        f"<td>{fmt_count(r.healthy_years_gained_loops_off)}</td>"
        f"<td>{fmt_pct(r.share_from_loops)}</td>"
        f"<td>{'<strong>yes</strong>' if r.depends_on_loops else 'no'}</td></tr>"
        for r in d.itertuples()
    )
    warn = "".join(
        f"<p><strong>Caution: {esc(str(r.arm))} depends mostly on assumed loop "
        "parameters.</strong> "
        f"{fmt_pct(r.share_from_loops)} of its {fmt_count(r.healthy_years_gained)} healthy "
        f"life-years gained come from the feedback loops; with the loops off it gains "
        f"{fmt_count(r.healthy_years_gained_loops_off)}. Every loop parameter (capacity "
        "sensitivity, inverse-care weights, adjustment and investment delays, trust) is an "
        "assumption (calibration/parameters.yaml): read this arm's result as conditional on "
        "them and test them with povsim sensitivity.</p>"
        for r in flagged.itertuples()
    )
    return (
        '<h2 id="loops">How much rests on the feedback loops</h2>'
        + warn
        + "<table><tr><th>arm</th><th>healthy life-years gained</th><th>with the loops off</th>"
        "<th>share from the loops</th><th>depends mostly on the loops</th></tr>"
        + rows
        + "</table><p class='muted'>Cumulative healthy life-years gained over the horizon, "
        "first seed, with the capacity and trust loops on (as run) and off. An arm is flagged "
        "when the loops account for more than half of its gain, either way "
        "(loop_dependence.csv).</p>"
    )


def _decomposition(results: Results, figures_dir: Path | None) -> str:
    """What explains the gap: the chart and the years by pathway (Shapley), men and women."""
    dec = results.decomposition
    if dec is None or dec.empty:
        return ""
    d = dec[(dec.method == "shapley") & dec.measure.isin(["le0", "hle0"])]
    wide = d.pivot_table(index="pathway", columns=["sex", "measure"], values="years")
    order = [p for p in (*d.pathway.drop_duplicates(),) if p in wide.index]
    cols = [(s, m) for s in ("male", "female") for m in ("le0", "hle0") if (s, m) in wide.columns]
    head = "".join(f"<th>{esc(s)} {'LE' if m == 'le0' else 'HLE'} gap</th>" for s, m in cols)
    body = "".join(
        f"<tr><td>{esc(p.replace('_', ' '))}</td>"
        + "".join(f"<td>{wide.loc[p, c]:.2f}</td>" for c in cols)
        + "</tr>"
        for p in order
    )
    fig = ""
    p = Path(figures_dir) / "decomposition.png" if figures_dir is not None else None
    if p is not None and p.is_file():
        fig = img(p, FIGURE_CAPTIONS["decomposition"])
    return (
        '<h2 id="decomposition">What explains the gap</h2>'
        + fig
        + f"<table><tr><th>pathway</th>{head}</tr>{body}</table>"
        + "<p class='muted'>Years of the Q5 minus Q1 gap in the first simulated year. Pathways "
        "add up to all_pathways; residual is what the calibration's quintile residuals carry; "
        "all_pathways + residual = total. Relative risks from different, partly unadjusted "
        "studies multiplied together overstate joint effects, so all_pathways leans high.</p>"
    )


def _targeting(t: dict[str, Any]) -> str:
    rule = t.get("rule", "universal")
    if rule == "universal":
        return "universal (all quintiles)"
    if rule == "core20":
        return "Core20 (Q1, the most deprived fifth)"
    if rule == "quintiles":
        return "quintiles " + ", ".join(f"Q{q}" for q in t.get("quintiles") or [])
    w = t.get("weights") or []
    return "proportionate universalism, relative coverage Q1..Q5: " + ", ".join(f"{x:g}" for x in w)


def _eligibility(e: dict[str, Any]) -> str:
    parts = []
    lo, hi = e.get("age_min", 0), e.get("age_max", 100)
    if (lo, hi) != (0, 100):
        parts.append(f"aged {lo}-{hi}")
    if e.get("in_poverty"):
        parts.append("in poverty")
    if e.get("with_children"):
        parts.append("households with children")
    if e.get("with_ltc"):
        parts.append("with a long-term condition")
    return ", ".join(parts) or "everyone in the targeted quintiles"


def _effect(iv: dict[str, Any]) -> str:
    """What the block does, in its type's words (:mod:`povsim.policy.types`)."""
    return describe(parse_intervention(iv))


def _cost(c: dict[str, Any]) -> str:
    parts = []
    if c.get("per_participant"):
        parts.append(f"£{c['per_participant']:,.0f} per participant a year")
    if c.get("fixed_per_year"):
        parts.append(f"£{c['fixed_per_year']:,.0f} fixed a year while running")
    return "; ".join(parts) or "no cost given"


def _interventions(results: Results) -> str:
    arms = results.scenario.get("arms", {}) or {}
    if not arms:
        return ""
    out = ['<h2 id="interventions">Interventions in each arm</h2>']
    for arm, spec in arms.items():
        out.append(f"<h3>{esc(arm)}</h3>")
        if spec.get("description"):
            out.append(f"<p>{esc(spec['description'])}</p>")
        ivs = spec.get("interventions") or []
        if not ivs:
            out.append('<p class="muted">No interventions (feedback loops only).</p>')
            continue
        rows = []
        for k, iv in enumerate(ivs, 1):
            name = iv.get("name") or f"{iv['type']} {k}"
            when = f"{iv['start_year']}-{iv['end_year']}"
            if iv.get("ramp_up_years"):
                when += f" (ramp-up {iv['ramp_up_years']} years)"
            reach = (
                f"coverage {fmt_pct(iv.get('coverage', 1))}, uptake {fmt_pct(iv.get('uptake', 1))}"
            )
            if iv.get("capacity"):
                reach += f"; at most {iv['capacity']:,.0f} participants a year"
            cost = iv.get("cost") or {}
            rows.append(
                f"<tr><td><strong>{esc(name)}</strong><br>{esc(iv['type'])}"
                + (f" ({esc(iv['behaviour'])})" if iv.get("behaviour") else "")
                + f"<br><span class='muted'>{esc(when)}</span></td>"
                f"<td>{esc(_targeting(iv.get('targeting') or {}))}<br>"
                f"<span class='muted'>{esc(_eligibility(iv.get('eligibility') or {}))}</span></td>"
                f"<td>{esc(reach)}</td>"
                f"<td>{esc(_effect(iv))}<div class='src'>Source: "
                f"{esc(iv.get('effect_source') or '—')}</div></td>"
                f"<td>{esc(_cost(cost))}<div class='src'>Source: "
                f"{esc(cost.get('source') or 'not given')}</div></td></tr>"
            )
        out.append(
            "<table><thead><tr><th>Intervention</th><th>Targeting and eligibility</th>"
            "<th>Reach</th><th>Effect</th><th>Cost</th></tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table>"
        )
    return "".join(out)


def assumptions(directory: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assumption-tagged scalar parameters and relative risks from the calibration folder."""
    d = Path(directory or calibration_dir())
    raw = yaml.safe_load((d / "parameters.yaml").read_text()) or {}
    params = pd.DataFrame(
        [
            {
                "name": k,
                "value": v.get("value"),
                "unit": v.get("unit", ""),
                "source": v.get("source", ""),
            }
            for k, v in raw.items()
            if isinstance(v, dict) and str(v.get("tag", "")).strip() == "assumption"
        ],
        columns=["name", "value", "unit", "source"],
    )
    rr = read_table("relative_risks.csv", d)
    rr = rr[rr["tag"].astype(str).str.strip() == "assumption"]
    return params, rr.reset_index(drop=True)


def _assumptions(results: Results) -> str:
    params, rr = assumptions()
    overrides = results.scenario.get("parameters") or {}

    def fmt(v: Any) -> str:
        if isinstance(v, list):
            return ", ".join(f"{x:g}" if isinstance(x, (int, float)) else str(x) for x in v)
        return f"{v:g}" if isinstance(v, (int, float)) else str(v)

    def here(path: str) -> str:
        if path in overrides:
            return f"<br><strong>This run: {esc(fmt(overrides[path]))}</strong>"
        return ""

    prow = "".join(
        f"<tr><td><code>{esc(r.name)}</code></td><td class='num'>{esc(fmt(r.value))}"
        f"{here(r.name)}</td><td>{esc(r.unit)}</td><td class='src'>{esc(r.source)}</td></tr>"
        for r in params.itertuples()
    )
    rrow = "".join(
        f"<tr><td><code>{esc(r.exposure)}</code> on <code>{esc(r.outcome)}</code></td>"
        f"<td class='num'>{esc(fmt(float(r.rr)))}{here(f'rr.{r.outcome}.{r.exposure}')}</td>"
        f"<td class='num'>"
        + (f"{float(r.low):g}-{float(r.high):g}" if pd.notna(r.low) and pd.notna(r.high) else "—")
        + f"</td><td class='src'>{esc(r.source)}</td></tr>"
        for r in rr.itertuples()
    )
    return (
        '<h2 id="assumptions">Assumptions</h2>'
        "<p>These inputs are not read from a published estimate but assumed, with the reasoning "
        "given (tag <code>assumption</code> in <code>calibration/</code>). Values are the model "
        "defaults; where this scenario overrides one, the value used is shown in bold. They "
        "are natural candidates for sensitivity analysis.</p>"
        f"<h3>Model parameters (calibration/parameters.yaml): {len(params)}</h3>"
        "<table><thead><tr><th>Parameter</th><th class='num'>Value</th><th>Unit</th>"
        f"<th>Reasoning / source</th></tr></thead><tbody>{prow}</tbody></table>"
        f"<h3>Relative risks (calibration/relative_risks.csv): {len(rr)}</h3>"
        "<table><thead><tr><th>Exposure on outcome</th><th class='num'>RR</th>"
        "<th class='num'>Range</th><th>Reasoning / source</th></tr></thead>"
        f"<tbody>{rrow}</tbody></table>"
    )


def _caveats(results: Results) -> str:
    m = results.manifest
    reps = int(m.get("replicates", 1))
    start = results.scenario.get("population", {}).get("start_year", m.get("start_year"))
    if reps > 1:
        mc = (
            f"Intervals are 95% Monte Carlo intervals across {reps} replicate runs with "
            "different seeds. They show simulation noise only, not uncertainty in the "
            "parameters, relative risks or intervention effects listed above."
        )
    else:
        mc = (
            "This run had a single replicate, so changes against the baseline carry no "
            "intervals. Monte Carlo intervals are produced only with "
            "<code>povsim run --replicates N</code> (e.g. 10); even then they show "
            "simulation noise, not uncertainty in the parameters or effects. Shaded bands "
            "on level figures are within-run sampling intervals."
        )
    items = [
        mc,
        f"Costs are the interventions' own costs at {start} (start-year) prices; health and "
        "care costs avoided or incurred are not counted. Totals are undiscounted; the "
        "cost-utility rows discount costs at 3.5% and health at 1.5% a year (HM Treasury Green "
        "Book). Cost per healthy life-year is total cost over total healthy life-years gained; "
        "where the interval of healthy life-years gained includes zero, its interval is not "
        "meaningful.",
        "Healthy life-years are years lived in self-rated good or very good health (the ONS "
        "HLE definition). QALYs weight every year lived by an EQ-5D utility by age, sex and "
        "self-rated health (Ara & Brazier 2010 norms; the utility of not-good relative to good "
        "health, 0.7, is an assumption), so cost per QALY can be set against NICE's "
        "£20,000-£30,000 range with that caveat.",
        "Changes are the arm minus the baseline of the same run, using the same simulated "
        "people and random numbers (common random numbers), so they isolate the arm's effect.",
        _scale_caveat(results),
        "Life expectancy and HLE are period measures for each simulated year, not the "
        "experience of a birth cohort; IMD quintiles are fixed for life.",
        "Full model description, equations and limitations: <code>docs/model.md</code> "
        "(section 10, Limitations and assumptions) in the povsim repository; data sources in "
        "<code>calibration/FORMATS.md</code> and <code>calibration/RISK_FACTORS_NOTES.md</code>.",
    ]
    return '<h2 id="caveats">Caveats</h2><ul>' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _scale_caveat(results: Results) -> str:
    pop = results.scenario.get("population", {}) or {}
    if pop.get("area", "england") == "england":
        return (
            "People, life-years, deaths and costs are for England as a whole: the "
            "simulated population is scaled to England's mid-2019 population. A local "
            "system can model its own people with <code>population: {area: local, "
            "composition: FILE}</code> (README, 'Your own area')."
        )
    cal = results.scenario.get("calibration")
    return (
        "People, life-years, deaths and costs are for the real population of "
        f"{esc(_area_name(results))} given by its composition"
        + (" file" if pop.get("area") == "local" else " (mid-2019, calibration/places/)")
        + ", and per 100,000 "
        "residents. "
        + (
            "Mortality and good health by quintile were fitted to the local targets in "
            f"<code>{esc(cal.get('targets'))}</code>; residuals without a local target stay "
            "national (see the fitted file's report)."
            if cal
            else "Mortality and good health by quintile are England's (no local calibration "
            "targets were given): the area differs from England only by its mix of age, "
            "sex and deprivation."
        )
    )


def render_report(results: Results, figures_dir: Path | None = None) -> str:
    """The report as one HTML string."""
    sc, m = results.scenario, results.manifest
    name = sc.get("name", "")
    heads = arm_headlines(results)
    arms = list(heads)
    today = _dt.date.today().isoformat()
    toc = [("run", "What was run")]
    if heads:
        toc.append(("headlines", "Headline results"))
        if not who_pays_table(results.comparison).empty:
            toc.append(("who-pays", "Who pays, who saves"))
    if results.loop_dependence is not None and not results.loop_dependence.empty:
        toc.append(("loops", "Loop dependence"))
    toc.append(("baseline", "Baseline"))
    if results.decomposition is not None and not results.decomposition.empty:
        toc.append(("decomposition", "What explains the gap"))
    toc.append(("figures", "Figures"))
    if sc.get("arms"):
        toc.append(("interventions", "Interventions"))
    toc += [("assumptions", "Assumptions"), ("caveats", "Caveats")]
    nav = "<nav><ol>" + "".join(f'<li><a href="#{i}">{t}</a></li>' for i, t in toc) + "</ol></nav>"
    kind = (
        f"Comparison of {len(arms)} arm{'s' if len(arms) != 1 else ''} with the baseline"
        if arms
        else "Baseline report"
    )
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>povsim: {esc(name)}</title><style>{CSS}</style></head><body><main>",
        f"<header><h1>Health inequalities scenario: {esc(name)}</h1>"
        f"<div class='muted'>{kind} · povsim {esc(m.get('povsim_version', ''))} · generated {today}</div>"  # noqa: E501
        + (f"<p>{esc(sc.get('description'))}</p>" if sc.get("description") else "")
        + "</header>",
        nav,
        _what_was_run(results),
    ]
    if heads:
        reps = int(m.get("replicates", 1))
        parts.append(
            '<h2 id="headlines">Headline results</h2>'
            + _findings(heads, _area_name(results))
            + _headline_table(heads, _area_name(results))
            + "<p class='muted'>Arm minus baseline. Q1 = most deprived fifth of areas (IMD "
            "2019), Q5 = least deprived. Gap = Q5 minus Q1; SII = slope index of inequality "
            "(difference between the least and most deprived ends of the deprivation scale); "
            "a negative change means inequality narrows. "
            + (
                "Grey figures under each value: 95% interval across replicates."
                if reps > 1
                else "No intervals: single replicate (see Caveats)."
            )
            + "</p>"
            + _sex_gaps_table(heads)
        )
        parts.append(_who_pays(results, figures_dir))
    parts += [
        _loop_check(results),
        _baseline_tables(results),
        _decomposition(results, figures_dir),
        _figures(results, figures_dir, arms),
        _interventions(results),
        _assumptions(results),
        _caveats(results),
        "</main></body></html>",
    ]
    return "\n".join(parts)


def write_report(results: Results, figures_dir: Path | None, path: Path) -> Path:
    """Write ``report.html`` (self-contained) to ``path``; figures are read from
    ``figures_dir`` if it exists."""
    path = Path(path)
    path.write_text(render_report(results, figures_dir), encoding="utf-8")
    return path


def one_line(arm: str, h: dict[str, Any]) -> str:
    """Console headline: HLE SII change, healthy life-years gained, cost per healthy year."""

    def fmt(stat: dict | None, f) -> str:
        if stat is None:
            return "n/a"
        text = f(stat["value"])
        if finite(stat.get("lo")) and finite(stat.get("hi")):
            text += f" (95% {f(stat['lo'])} to {f(stat['hi'])})"
        return text

    sii = h["inequality_change"]["all"].get("hle0_sii")
    return (
        f"{arm}: HLE SII change {fmt(sii, fmt_years)} years; healthy life-years gained "
        f"{fmt(h.get('healthy_years_gained'), fmt_count)}; cost per healthy life-year "
        f"{fmt(h.get('cost_per_healthy_year'), fmt_money)}"
    )
