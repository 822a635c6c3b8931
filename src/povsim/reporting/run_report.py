"""A single self-contained HTML report of a run, for circulation.

Rendered from ``templates/run_report.html.j2`` (Jinja2, autoescaped): this module computes
what the page shows as plain data, the template lays it out. Inline CSS, figures embedded as
base64 PNG data URIs, no scripts and no external assets: the file can be emailed or opened
offline. It opens with "What this means" (the answer in plain English, generated from the
numbers), then says what was run, the headline changes of every
arm against the baseline, the figures, each arm's interventions with their sources, every
parameter the model takes as an assumption (with its reasoning), and caveats.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import markupsafe
import pandas as pd

from povsim.inputs.interventions import parse_intervention
from povsim.inputs.parameters import calibration_dir, read_table, read_yaml
from povsim.inputs.prices import PRICE_YEAR
from povsim.measures.results import Results
from povsim.policy.types import describe
from povsim.reporting.html import (
    figure,
    finite,
    fmt_big_money,
    fmt_count,
    fmt_money,
    fmt_pct,
    fmt_years,
    includes_zero,
    render,
    stat_cell,
)
from povsim.reporting.summary import arm_headlines, empty_quintile_note, gap_ends
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


# --- what this means ------------------------------------------------------------------------


def _interval(stat: dict[str, Any] | None, reps: int) -> str:
    """The 95% interval of a change in words, or why there is none."""
    if stat is not None and finite(stat.get("lo")) and finite(stat.get("hi")):
        text = f"95% interval {fmt_years(stat['lo'])} to {fmt_years(stat['hi'])} years"
        return text + ("; it includes no change" if includes_zero(stat) else "")
    return "one replicate, so no interval" if reps <= 1 else "no interval"


def _value(stat: dict[str, Any] | None) -> float:
    return float(stat["value"]) if stat is not None and finite(stat.get("value")) else 0.0


def _ends_words(ends: tuple[str, str]) -> tuple[str, str, str]:
    """How the text names the gap and its two ends: the most and least deprived fifths, or
    the quintiles an area with an empty quintile has."""
    if ends == ("1", "5"):
        return (
            "the most and least deprived fifths",
            "the most deprived fifth",
            "the least deprived fifth",
        )
    lo, hi = ends
    return (
        f"quintiles {lo} and {hi} (the most and least deprived the area has)",
        f"quintile {lo}",
        f"quintile {hi}",
    )


def _through(d1: float, d5: float, ends: tuple[str, str] = ("1", "5")) -> str:
    """What moved the gap: the most deprived end rising, or the least deprived falling."""
    if d1 == 0 and d5 == 0:
        return ""
    _, low, high = _ends_words(ends)
    if abs(d1) >= abs(d5):
        verb = "rises" if d1 > 0 else "falls"
        return (
            f", mostly because HLE at birth {verb} by {abs(d1):.2f} years in {low} "
            f"({high} {d5:+.2f})"
        )
    verb = "rises" if d5 > 0 else "falls"
    return (
        f", mostly because HLE at birth {verb} by {abs(d5):.2f} years in {high} ({low} {d1:+.2f})"
    )


def arm_meaning(
    arm: str, h: dict[str, Any], area_name: str, reps: int, ends: tuple[str, str] = ("1", "5")
) -> str:
    """One arm's answer in plain English: what it does to the HLE gap between the most and
    least deprived fifths (sign-correct: narrows / widens / leaves unchanged), what moved it,
    the healthy life-years gained or lost and the cost per QALY."""
    first, last = h["period"]
    gap = h["inequality_change"]["all"].get("hle0_gap")
    g = round(_value(gap), 2)
    d1 = round(_value(h["hle0_change"].get(ends[0])), 2)
    d5 = round(_value(h["hle0_change"].get(ends[1])), 2)
    between, _, _ = _ends_words(ends)
    hy = h.get("healthy_years_gained")
    hyv = round(_value(hy))
    cost = _value(h.get("cost"))
    if g == 0 and d1 == 0 and d5 == 0 and hyv == 0:
        text = (
            f"Over {first}-{last}, {arm} changes no headline outcome at this simulated size: "
            f"the healthy-life-expectancy gap between {between}, "
            f"healthy life expectancy in both and healthy life-years in {area_name} are the "
            "same as in the baseline"
        )
        if cost > 0:
            text += f", for {fmt_big_money(cost)}"
        return text + "."
    if gap is None:
        text = f"In {last}, {area_name} has no gap between quintiles (one quintile only)"
    elif g == 0:
        text = (
            f"{arm} leaves the healthy-life-expectancy gap between {between} unchanged in "
            f"{last} ({_interval(gap, reps)})"
        )
    else:
        verb = "narrows" if g < 0 else "widens"
        text = (
            f"{arm} {verb} the healthy-life-expectancy gap between {between} by "
            f"{abs(g):.2f} years in {last} ({_interval(gap, reps)})" + _through(d1, d5, ends)
        )
    text += ". "
    if hy is not None:
        if hyv > 0:
            text += f"Over {first}-{last} it gains {fmt_count(hyv)} healthy life-years"
        elif hyv < 0:
            text += f"Over {first}-{last} it loses {fmt_count(-hyv)} healthy life-years"
        else:
            text += f"Over {first}-{last} it gains no healthy life-years"
        text += f" in {area_name}"
        text += f" for {fmt_big_money(cost)} (undiscounted)" if cost else ""
        cpq = h.get("cost_per_qaly")
        q = _value(h.get("qalys_gained_discounted"))
        if cpq is not None and finite(cpq.get("value")):
            text += f"; it costs {fmt_money(cpq['value'])} per QALY gained (discounted)"
        elif cost > 0 and q <= 0:
            text += "; it gains no QALYs, so it has no cost per QALY"
        text += "."
    return text.strip()


def baseline_meaning(results: Results) -> list[str]:
    """A baseline-only run: the gap it starts from and where it goes with no new policy."""
    f = results.frame
    f = f[(f.arm == "baseline") & (f.sex == "all")] if (f.arm == "baseline").any() else f
    first, last = int(f.year.min()), int(f.year.max())
    v = f.set_index(["year", "quintile", "measure"]).value
    area = _area_name(results)

    def get(yr: int, q: str, m: str) -> float | None:
        x = v.get((yr, q, m))
        return float(x) if x is not None and finite(float(x)) else None

    lines = [
        "This run is the baseline only: no intervention is compared with it, so it shows "
        "where health inequality goes with no new policy."
    ]
    lo, hi = gap_ends(results.frame)
    _, low, high = _ends_words((lo, hi))
    q1, q5, gap = get(last, lo, "hle0"), get(last, hi, "hle0"), get(last, "all", "hle0_gap")
    if q1 is not None and q5 is not None and gap is not None:
        text = (
            f"In {last}, healthy life expectancy at birth in {area} is {q1:.1f} years in "
            f"{low} and {q5:.1f} in {high}, a gap of {gap:.1f} years"
        )
        lgap = get(last, "all", "le0_gap")
        if lgap is not None:
            text += f" (life expectancy gap {lgap:.1f} years)"
        g0 = get(first, "all", "hle0_gap")
        if g0 is not None and last > first:
            change = round(gap - g0, 1)
            if change == 0:
                text += f"; the HLE gap is unchanged since {first}"
            else:
                word = "widened" if change > 0 else "narrowed"
                text += f"; the HLE gap has {word} by {abs(change):.1f} years since {first}"
        lines.append(text + ".")
    return lines


def what_this_means(results: Results, heads: dict[str, dict[str, Any]]) -> list[str]:
    """The report's opening paragraphs, generated from its numbers; first, when the area has
    no residents in some quintile, what the gap is measured between."""
    area = _area_name(results)
    note = empty_quintile_note(results.frame, area)
    first = [note] if note else []
    if not heads:
        return first + baseline_meaning(results)
    reps = int(results.manifest.get("replicates", 1))
    ends = gap_ends(results.frame)
    return first + [arm_meaning(arm, h, area, reps, ends) for arm, h in heads.items()]


# --- sections -------------------------------------------------------------------------------


def _what_was_run(results: Results) -> dict[str, Any]:
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
            str(a) + (f" ({v.get('description')})" if v.get("description") else "")
            for a, v in arms.items()
        )
    )
    overrides = sc.get("parameters") or {}
    over_text = (
        ", ".join(f"`{k}` = {v}" for k, v in overrides.items()) or "none (calibrated defaults)"
    )
    fb = sc.get("feedbacks", {}) or {}
    cap, tru = fb.get("capacity", {}) or {}, fb.get("trust", {}) or {}
    loops = (
        f"capacity against demand: {'on' if cap.get('enabled', True) else 'off'}"
        + (" (unconstrained)" if cap.get("unconstrained") else "")
        + f"; community trust: {'on' if tru.get('enabled', True) else 'off'}"
    )
    rows = [
        ("Description", sc.get("description", "") or "—"),
        ("Arms", arm_text),
        (
            "Simulated persons",
            f"{int(pop.get('size', m.get('size', 0))):,} at the start, " + _scaled_to(results),
        ),
        (
            "Period",
            f"{start} to {start + horizon - 1} ({horizon} years; {start} represents ONS 2017-19)",
        ),
        ("Seed", seeds),
        (
            "Replicates",
            f"{reps}" + ("" if reps > 1 else " (no Monte Carlo intervals; use --replicates N)"),
        ),
        ("Parameter overrides", over_text),
        ("Feedback loops", loops),
        ("Scenario file", sc.get("source_path") or "—"),
        ("povsim version", str(m.get("povsim_version", ""))),
        (
            "Run time",
            f"{float(m.get('seconds') or 0):.1f} s, "
            f"{int(m.get('simulated_person_years') or 0):,} simulated person-years, "
            f"Python {m.get('python', '')}",
        ),
    ]
    return {"name": sc.get("name", ""), "rows": rows}


def _area_name(results: Results) -> str:
    return str(results.manifest.get("area_name") or "England")


def _scaled_to(results: Results) -> str:
    """What the simulated persons stand for (England, or a local area's composition); plain
    text with `back-ticked` code."""
    m, pop = results.manifest, results.scenario.get("population", {}) or {}
    real = m.get("real_population")
    area = pop.get("area", "england")
    if area == "england":
        return "scaled to England's mid-2019 population" + (f" ({int(real):,})" if real else "")
    if area != "local":  # a shipped real place, by its ONS code
        return (
            f"scaled to the real population of {_area_name(results)} "
            f"(`{area}`): {int(real or 0):,} persons, mid-2019, from the "
            "shipped place compositions (`calibration/places/`)"
        )
    return (
        f"scaled to the real population of {_area_name(results)}: "
        f"{int(real or 0):,} persons (composition `{pop.get('composition')}`)"
    )


def _findings(heads: dict[str, dict[str, Any]], area_name: str = "England") -> list[dict]:
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
        items.append({"arm": arm, "text": f"by {h['year']}, {'; '.join(parts)}.{tail}"})
    return items


def _gap_label(results: Results) -> str:
    """ "Q5 minus Q1", or the quintiles an area with an empty end quintile has."""
    lo, hi = gap_ends(results.frame)
    return f"Q{hi} minus Q{lo}"


def _headline_table(
    heads: dict[str, dict[str, Any]], area_name: str = "England", gap_label: str = "Q5 minus Q1"
) -> list[dict]:
    """Rows of the headline table: ``{"group": text}`` or ``{"label", "cells"}``."""
    arms = list(heads)
    any_h = next(iter(heads.values()))
    last, (first, _) = any_h["year"], any_h["period"]
    rows: list[dict] = []

    def group(text: str) -> None:
        rows.append({"group": text})

    def row(label: str, get, fmt) -> None:
        rows.append({"label": label, "cells": [stat_cell(get(heads[a]), fmt) for a in arms]})

    group(f"Change in {last}, years (arm minus baseline, males and females together)")
    for m, name in (
        ("hle0", "Healthy life expectancy at birth"),
        ("le0", "Life expectancy at birth"),
    ):
        for q in ("1", "5", "all"):
            label = area_name if q == "all" else QUINTILE_NAMES[q]
            row(f"{name}, {label}", lambda h, m=m, q=q: h[f"{m}_change"].get(q), fmt_years)
    group(f"Change in inequality in {last}, years (negative = narrower)")
    for m, name in (("hle0", "HLE"), ("le0", "LE")):
        row(
            f"{name} gap, {gap_label}",
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
    row(f"Total cost (undiscounted, {PRICE_YEAR} prices)", lambda h: h.get("cost"), fmt_big_money)
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
    return rows


def _sex_gaps_table(heads: dict[str, dict[str, Any]]) -> list[dict]:
    arms = list(heads)
    rows = []
    for sex in ("male", "female"):
        for m, name in (("hle0", "HLE"), ("le0", "LE")):
            for s, sname in (("gap", "gap Q5-Q1"), ("sii", "SII")):
                rows.append(
                    {
                        "label": f"{sex}s: {name} {sname}",
                        "cells": [
                            stat_cell(heads[a]["inequality_change"][sex].get(f"{m}_{s}"), fmt_years)
                            for a in arms
                        ],
                    }
                )
    return rows


def _baseline_tables(results: Results) -> dict[str, Any]:
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
        cols = [f"{m} {yr}" for m in ("LE", "HLE") for yr in years]
        body = []
        for q in ("1", "2", "3", "4", "5", "all"):
            vals = [val(yr, sex, q, m) for m in ("le0", "hle0") for yr in years]
            # The whole-area row is named after the area (a local area is not England).
            label = _area_name(results) if q == "all" else QUINTILE_NAMES[q]
            body.append({"label": label, "values": vals, "em": False})
        lo, hi = gap_ends(results.frame)
        for s, label in (("gap", f"Gap Q{hi}-Q{lo}"), ("sii", "SII")):
            vals = [val(yr, sex, "all", f"{m}_{s}") for m in ("le0", "hle0") for yr in years]
            body.append({"label": label, "values": vals, "em": True})
        tables.append({"title": title, "columns": cols, "rows": body})
    note = empty_quintile_note(results.frame, _area_name(results))
    return {"first": first, "tables": tables, "notes": [note] if note else []}


def _figures(results: Results, figures_dir: Path | None, arms: list[str]) -> dict[str, Any]:
    if figures_dir is None or not Path(figures_dir).is_dir():
        return {"written": False, "main": [], "by_arm": []}
    d = Path(figures_dir)
    main = []
    for name in (
        "hle_change_by_quintile",
        "gap_over_time",
        "cost_vs_healthy_years",
        "feedback_loops",
    ):
        p = d / f"{name}.png"
        if p.is_file():
            main.append(figure(p, FIGURE_CAPTIONS[name]))
    for name in ("expectancies", "inequality", "outcomes"):
        p = d / f"{name}.png"
        if p.is_file():
            main.append(figure(p, "Baseline. " + FIGURE_CAPTIONS[name]))
    by_arm = []
    for arm in arms:
        figs = [
            figure(d / f"{n}_{arm}.png", f"{arm}. " + FIGURE_CAPTIONS[n])
            for n in ("expectancies", "inequality", "outcomes")
            if (d / f"{n}_{arm}.png").is_file()
        ]
        if figs:
            by_arm.append({"arm": arm, "figures": figs})
    return {"written": True, "main": main, "by_arm": by_arm}


def _who_pays(results: Results, figures_dir: Path | None) -> markupsafe.Markup:
    """Costs by perspective per arm (reporting/who_pays.py builds its own escaped HTML;
    empty without cost rows)."""
    fig = Path(figures_dir) / WHO_PAYS_FIGURE if figures_dir is not None else None
    return markupsafe.Markup(
        who_pays_html(who_pays_table(results.comparison), _area_name(results), fig)
    )


def _loop_check(results: Results) -> dict[str, Any] | None:
    """Arms whose gain rests mostly on the feedback loops, whose parameters are assumptions."""
    d = results.loop_dependence
    if d is None or d.empty:
        return None
    rows = [
        {
            "arm": str(r.arm),
            "on": fmt_count(r.healthy_years_gained),
            "off": fmt_count(r.healthy_years_gained_loops_off),
            "share": fmt_pct(r.share_from_loops),
            "depends": bool(r.depends_on_loops),
        }
        for r in d.itertuples()
    ]
    return {"rows": rows, "flagged": [r for r in rows if r["depends"]]}


def _decomposition(results: Results, figures_dir: Path | None) -> dict[str, Any] | None:
    """What explains the gap: the chart and the years by pathway (Shapley), men and women."""
    dec = results.decomposition
    if dec is None or dec.empty:
        return None
    d = dec[(dec.method == "shapley") & dec.measure.isin(["le0", "hle0"])]
    wide = d.pivot_table(index="pathway", columns=["sex", "measure"], values="years")
    order = [p for p in (*d.pathway.drop_duplicates(),) if p in wide.index]
    cols = [(s, m) for s in ("male", "female") for m in ("le0", "hle0") if (s, m) in wide.columns]
    head = [f"{s} {'LE' if m == 'le0' else 'HLE'} gap" for s, m in cols]
    body = [[p.replace("_", " "), *(f"{wide.loc[p, c]:.2f}" for c in cols)] for p in order]
    fig = None
    p = Path(figures_dir) / "decomposition.png" if figures_dir is not None else None
    if p is not None and p.is_file():
        fig = figure(p, FIGURE_CAPTIONS["decomposition"])
    return {"columns": ["pathway", *head], "rows": body, "figure": fig}


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


def _interventions(results: Results) -> list[dict]:
    arms = results.scenario.get("arms", {}) or {}
    out = []
    for arm, spec in arms.items():
        rows = []
        for k, iv in enumerate(spec.get("interventions") or [], 1):
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
                {
                    "name": iv.get("name") or f"{iv['type']} {k}",
                    "type": iv["type"] + (f" ({iv['behaviour']})" if iv.get("behaviour") else ""),
                    "when": when,
                    "targeting": _targeting(iv.get("targeting") or {}),
                    "eligibility": _eligibility(iv.get("eligibility") or {}),
                    "reach": reach,
                    "effect": _effect(iv),
                    "effect_source": iv.get("effect_source") or "—",
                    "cost": _cost(cost),
                    "cost_source": cost.get("source") or "not given",
                }
            )
        out.append({"arm": arm, "description": spec.get("description") or "", "rows": rows})
    return out


def assumptions(directory: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assumption-tagged scalar parameters and relative risks from the calibration folder."""
    d = Path(directory or calibration_dir())
    raw = read_yaml(d / "parameters.yaml") or {}
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


def _assumptions(results: Results) -> dict[str, Any]:
    params, rr = assumptions()
    overrides = results.scenario.get("parameters") or {}

    def fmt(v: Any) -> str:
        if isinstance(v, list):
            return ", ".join(f"{x:g}" if isinstance(x, (int, float)) else str(x) for x in v)
        return f"{v:g}" if isinstance(v, (int, float)) else str(v)

    def here(path: str) -> str:
        return fmt(overrides[path]) if path in overrides else ""

    prows = [
        {
            "name": r.name,
            "value": fmt(r.value),
            "here": here(r.name),
            "unit": r.unit,
            "source": r.source,
        }
        for r in params.itertuples()
    ]
    rrows = [
        {
            "exposure": r.exposure,
            "outcome": r.outcome,
            "value": fmt(float(r.rr)),
            "here": here(f"rr.{r.outcome}.{r.exposure}"),
            "range": (
                f"{float(r.low):g}-{float(r.high):g}"
                if pd.notna(r.low) and pd.notna(r.high)
                else "—"
            ),
            "source": r.source,
        }
        for r in rr.itertuples()
    ]
    return {"params": prows, "rr": rrows}


def _caveats(results: Results) -> list[str]:
    """Caveat paragraphs: plain text, `back-ticked` parts shown as code."""
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
            "This run had a single replicate: intervals on changes against the baseline are "
            "within-run 95% Monte Carlo intervals, from 16 blocks of simulated persons "
            "(docs/precision.md); `povsim run --replicates N` gives intervals across runs. "
            "Either way they show simulation noise, not uncertainty in the parameters or "
            "effects. Shaded bands on level figures are within-run sampling intervals."
        )
    return [
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
        "Full model description, equations and limitations: `docs/model.md` "
        "(section 10, Limitations and assumptions) in the povsim repository; data sources in "
        "`calibration/FORMATS.md` and `calibration/RISK_FACTORS_NOTES.md`.",
    ]


def _scale_caveat(results: Results) -> str:
    pop = results.scenario.get("population", {}) or {}
    if pop.get("area", "england") == "england":
        return (
            "People, life-years, deaths and costs are for England as a whole: the "
            "simulated population is scaled to England's mid-2019 population. A local "
            "system can model its own people with `population: {area: local, "
            "composition: FILE}` (README, 'Your own area')."
        )
    cal = results.scenario.get("calibration")
    return (
        "People, life-years, deaths and costs are for the real population of "
        f"{_area_name(results)} given by its composition"
        + (" file" if pop.get("area") == "local" else " (mid-2019, calibration/places/)")
        + ", and per 100,000 "
        "residents. "
        + (
            "Mortality and good health by quintile were fitted to the local targets in "
            f"`{cal.get('targets')}`; residuals without a local target stay "
            "national (see the fitted file's report)."
            if cal
            else "Mortality and good health by quintile are England's (no local calibration "
            "targets were given): the area differs from England only by its mix of age, "
            "sex and deprivation."
        )
    )


def render_report(results: Results, figures_dir: Path | None = None) -> str:
    """The report as one HTML string (``templates/run_report.html.j2``)."""
    sc, m = results.scenario, results.manifest
    heads = arm_headlines(results)
    arms = list(heads)
    loops = _loop_check(results)
    decomposition = _decomposition(results, figures_dir)
    toc = [("meaning", "What this means"), ("run", "What was run")]
    if heads:
        toc.append(("headlines", "Headline results"))
        if not who_pays_table(results.comparison).empty:
            toc.append(("who-pays", "Who pays, who saves"))
    if loops is not None:
        toc.append(("loops", "Loop dependence"))
    toc.append(("baseline", "Baseline"))
    if decomposition is not None:
        toc.append(("decomposition", "What explains the gap"))
    toc.append(("figures", "Figures"))
    if sc.get("arms"):
        toc.append(("interventions", "Interventions"))
    toc += [("assumptions", "Assumptions"), ("caveats", "Caveats")]
    kind = (
        f"Comparison of {len(arms)} arm{'s' if len(arms) != 1 else ''} with the baseline"
        if arms
        else "Baseline report"
    )
    area = _area_name(results)
    return render(
        "run_report.html.j2",
        name=sc.get("name", ""),
        description=sc.get("description") or "",
        kind=kind,
        version=m.get("povsim_version", ""),
        today=_dt.date.today().isoformat(),
        toc=toc,
        meaning=what_this_means(results, heads),
        run=_what_was_run(results),
        arms=arms,
        reps=int(m.get("replicates", 1)),
        findings=_findings(heads, area) if heads else [],
        headline_rows=_headline_table(heads, area, _gap_label(results)) if heads else [],
        sex_rows=_sex_gaps_table(heads) if heads else [],
        after_headlines=[_who_pays(results, figures_dir)] if heads else [],
        loops=loops,
        baseline=_baseline_tables(results),
        decomposition=decomposition,
        figures=_figures(results, figures_dir, arms),
        interventions=_interventions(results),
        assumptions=_assumptions(results),
        caveats=_caveats(results),
    )


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
