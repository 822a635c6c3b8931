"""The headline numbers of a run (``summary.json`` and the report's tables): LE/HLE at birth
and 65 by sex and quintile with gaps and SIIs, and each arm's change against the baseline."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from povsim.inputs.prices import PRICE_YEAR
from povsim.measures.precision import events_kind, imprecise, imprecise_note
from povsim.measures.results import EXPECTANCIES, QUINTILE_LABELS, Results


def headline(frame: pd.DataFrame, year: int) -> dict[str, Any]:
    """LE/HLE at birth and 65 by sex and quintile, with gaps and SIIs, for one year."""
    f = frame[(frame.year == year) & (frame.arm == frame.arm.iloc[0])]
    v = f.set_index(["sex", "quintile", "measure"]).value.to_dict()  # one pass, then lookups
    out: dict[str, Any] = {}
    for sex in ("male", "female", "all"):
        d: dict[str, Any] = {}
        for m in ("le0", "hle0", "le65", "hle65"):
            d[m] = {q: round(float(v[(sex, q, m)]), 2) for q in ("1", "2", "3", "4", "5", "all")}
            for suffix in ("gap", "sii"):
                d[f"{m}_{suffix}"] = round(float(v[(sex, "all", f"{m}_{suffix}")]), 2)
        out[sex] = d
    return out


def quintiles_present(frame: pd.DataFrame) -> list[str]:
    """IMD quintiles ("1".."5") with residents: those whose life expectancy at birth (both
    sexes, first arm) is defined in some year. An area with no residents in a quintile has
    none there, and its gaps are measured between the quintiles it has."""
    f = frame[(frame.arm == frame.arm.iloc[0]) & (frame.sex == "all") & (frame.measure == "le0")]
    have = f[f.value.notna()].quintile.astype(str)
    return [q for q in ("1", "2", "3", "4", "5") if q in set(have)]


def gap_ends(frame: pd.DataFrame) -> tuple[str, str]:
    """The (most, least) deprived quintiles present: what the gap is measured between."""
    qs = quintiles_present(frame)
    return (qs[0], qs[-1]) if qs else ("1", "5")


def empty_quintile_note(frame: pd.DataFrame, area_name: str) -> str | None:
    """One sentence when the area has no residents in some quintile (None otherwise)."""
    qs = quintiles_present(frame)
    missing = [q for q in ("1", "2", "3", "4", "5") if q not in qs]
    if not missing:
        return None
    names = " and ".join(f"IMD quintile {q}" for q in missing)
    if len(qs) < 2:
        return (
            f"{area_name} has no residents in {names}, so it has no gap between quintiles "
            "and no slope index of inequality: those rows are left empty."
        )
    lo, hi = qs[0], qs[-1]
    ends = (
        ""
        if (lo, hi) == ("1", "5")
        else f", so its gap is measured between quintiles {lo} and {hi} (the most and least "
        "deprived it has) instead of 1 and 5"
    )
    return (
        f"{area_name} has no residents in {names}{ends}; the slope index of inequality uses the "
        "quintiles present, weighted by their populations."
    )


def _finite(x: Any) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _stat(row: pd.Series | None, digits: int) -> dict[str, Any] | None:
    """{"value": v} plus "se", "lo", "hi" (95%) when known (between replicates, or within the
    run), and for count figures "simulated_events" (unweighted) with "imprecise" and its
    "note" when they are fewer than :data:`povsim.measures.precision.MIN_SIMULATED_EVENTS`."""
    if row is None or _finite(row["value"]) is None:
        return None
    out: dict[str, Any] = {"value": round(float(row["value"]), digits) + 0.0}
    se, lo, hi = (_finite(row.get(k)) for k in ("se", "lo", "hi"))
    if se is not None and lo is not None and hi is not None:
        out.update(
            se=round(se, digits + 1) + 0.0, lo=round(lo, digits) + 0.0, hi=round(hi, digits) + 0.0
        )
    n = _finite(row.get("sim_n"))
    if n is not None:
        out["simulated_events"] = round(n)
        if imprecise(n):
            measure = str(row.name[-1]) if isinstance(row.name, tuple) else ""
            out.update(imprecise=True, note=imprecise_note(n, events_kind(measure)))
    return out


def arms_in(results: Results) -> list[str]:
    """Non-baseline arms with comparison rows, in scenario order."""
    c = results.comparison
    if c is None or c.empty:
        return []
    present = set(c.arm)
    order = [a for a in results.scenario.get("arms", {}) if a in present]
    return order + [a for a in dict.fromkeys(c.arm) if a not in order]


def arm_headlines(results: Results) -> dict[str, dict[str, Any]]:
    """Per arm, against the baseline: final-year change in LE/HLE at birth by quintile (sex
    all), change in every gap and SII by sex, and cumulative totals over the horizon
    (healthy life-years gained, life-years gained, deaths averted, participants, cost, cost
    per healthy life-year). Each number is {"value"} plus {"se", "lo", "hi"} (95%) when the
    run had replicates; None where undefined."""
    c = results.comparison
    out: dict[str, dict[str, Any]] = {}
    if c is None:
        return out
    for arm in arms_in(results):
        a = c[c.arm == arm]
        first, last = int(a.year.min()), int(a.year.max())
        idx = a[a.year == last].set_index(["sex", "quintile", "measure"])

        def row(measure: str, sex: str = "all", quintile: str = "all") -> pd.Series | None:
            key = (sex, quintile, measure)
            return idx.loc[key] if key in idx.index else None

        d: dict[str, Any] = {"year": last, "period": [first, last]}
        for m in ("hle0", "le0"):
            d[f"{m}_change"] = {q: _stat(row(f"{m}_change", "all", q), 3) for q in QUINTILE_LABELS}
        d["inequality_change"] = {
            sex: {
                f"{m}_{s}": _stat(row(f"{m}_{s}_change", sex), 3)
                for m in EXPECTANCIES
                for s in ("gap", "sii")
            }
            for sex in ("male", "female", "all")
        }
        for name in ("healthy_years_gained", "life_years_gained", "deaths_averted"):
            d[name] = _stat(row(f"{name}_cumulative"), 0)
        part = a[(a.measure == "participants") & (a.sex == "all")]
        by_q = part.groupby("quintile")["value"].sum()
        d["participants"] = {"value": round(float(by_q.get("all", 0.0)))}
        d["participants_by_quintile"] = {
            q: round(float(by_q.get(q, 0.0))) for q in QUINTILE_LABELS[:5]
        }
        d["cost"] = _stat(row("cost_cumulative"), 0)
        d["qalys_gained"] = _stat(row("qalys_gained_cumulative"), 0)
        hy = d["healthy_years_gained"]
        d["cost_per_healthy_year"] = (
            _stat(row("cost_per_healthy_year"), 0) if hy is not None and hy["value"] > 0 else None
        )
        for key, measure in (
            ("qalys_gained_discounted", "qalys_gained_discounted_cumulative"),
            ("cost_discounted", "cost_discounted_cumulative"),
            ("nmb_20000", "nmb_20000"),
            ("nmb_30000", "nmb_30000"),
        ):
            d[key] = _stat(row(measure), 0)
        q = d["qalys_gained_discounted"]
        d["cost_per_qaly"] = (
            _stat(row("cost_per_qaly"), 0) if q is not None and q["value"] > 0 else None
        )
        years = last - first + 1
        d["cost_per_year"] = (
            {"value": round(d["cost"]["value"] / years)} if d["cost"] is not None else None
        )
        d["per_100k"] = per_100k(d, real_population(results))
        out[arm] = d
    return out


HEADLINE_COUNTS = (
    ("deaths_averted", "deaths averted"),
    ("life_years_gained", "life-years gained"),
    ("healthy_years_gained", "healthy life-years gained"),
    ("qalys_gained", "QALYs gained"),
)


def imprecise_figures(heads: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(arm, figure, note) for every headline total resting on few simulated events, e.g.
    ('core20', 'deaths averted', 'imprecise: rests on 2 simulated deaths; use --size or
    --replicates')."""
    out = []
    for arm, h in heads.items():
        for key, label in HEADLINE_COUNTS:
            stat = h.get(key)
            if stat and stat.get("imprecise"):
                out.append((arm, label, str(stat["note"])))
    return out


def real_population(results: Results) -> float | None:
    """The area's real starting population (persons) from the manifest."""
    v = results.manifest.get("real_population")
    return float(v) if v else None


def per_100k(d: dict[str, Any], real: float | None) -> dict[str, float | None] | None:
    """Totals of one arm's headlines per 100,000 of the area's starting population."""
    if not real:
        return None
    out: dict[str, float | None] = {}
    for name in (
        "healthy_years_gained",
        "life_years_gained",
        "deaths_averted",
        "participants",
        "cost",
        "cost_per_year",
    ):
        stat = d.get(name)
        out[name] = None if stat is None else round(stat["value"] * 1e5 / real, 1) + 0.0
    return out


def area(results: Results) -> dict[str, Any]:
    """Which population the real-scale numbers are for."""
    m = results.manifest
    pop = results.scenario.get("population", {}) or {}
    return {
        "kind": m.get("area", pop.get("area", "england")),
        "name": m.get("area_name", "England"),
        "real_population": m.get("real_population"),
        "simulated_persons": m.get("size"),
        "composition": pop.get("composition"),
    }


ARM_UNITS = (
    "arm minus baseline of the same run (common random numbers); *_change: years of life "
    "expectancy in the final year (gap = Q5 minus Q1, so negative = narrower; SII likewise); "
    "healthy_years_gained / life_years_gained / deaths_averted: real persons in the area "
    "(see `area`: England or a local population), summed over the whole horizon; "
    "participants: persons taking part, summed over years (a person counts once for each "
    f"year they take part); cost: GBP, undiscounted, {PRICE_YEAR} prices, summed over the "
    "horizon (cost_per_year: its mean per year); per_100k: the same totals per 100,000 of "
    "the area's starting population; cost_per_healthy_year: cost / healthy_years_gained "
    "(null when no healthy life-years are gained); qalys_gained_discounted, cost_discounted: "
    "discounted from the first year at 1.5% (health) and 3.5% (costs) unless overridden; "
    "cost_per_qaly: their ratio; nmb_T: T x QALYs - cost (GBP); se/lo/hi: standard error and 95% "
    "Monte Carlo interval, between replicates when replicates > 1, else within the run (person-id "
    "blocks; docs/precision.md); simulated_events: the unweighted simulated events a count "
    "figure rests on, with imprecise/note when fewer than 30"
)


def summary(results: Results) -> dict[str, Any]:
    f = results.frame
    first, last = int(f.year.min()), int(f.year.max())
    return {
        "scenario": results.scenario.get("name"),
        "description": results.scenario.get("description", ""),
        "seed": results.manifest.get("seed"),
        "area": area(results),
        "replicates": results.manifest.get("replicates", 1),
        # Every GBP figure (costs, costs avoided, earnings) is in this year's prices (calendar
        # year; unit and intervention costs converted by the HM Treasury GDP deflator).
        "price_year": PRICE_YEAR,
        "units": "years of life expectancy; gap = quintile 5 minus quintile 1; SII = slope "
        "index of inequality across quintiles (least minus most deprived end)",
        "first_year": {"year": first, **headline(f, first)},
        "last_year": {"year": last, **headline(f, last)},
        "arm_units": ARM_UNITS,
        "arms": arm_headlines(results),
        "loop_dependence": loop_dependence_summary(results),
    }


def loop_dependence_summary(results: Results) -> dict[str, Any] | None:
    """Each arm's healthy life-years gained with the feedback loops on and off (first seed),
    the share the loops account for, and whether the arm depends mostly on them."""
    d = results.loop_dependence
    if d is None or d.empty:
        return None
    return {
        str(r.arm): {
            "healthy_years_gained": float(r.healthy_years_gained),
            "healthy_years_gained_loops_off": float(r.healthy_years_gained_loops_off),
            "share_from_loops": float(r.share_from_loops),
            "depends_on_loops": bool(r.depends_on_loops),
        }
        for r in d.itertuples()
    }
