"""`povsim compare`: run every allocation of a budget with common random numbers and judge
them on efficiency and equity side by side.

Flow: investment file -> (response run -> optimiser candidates) -> every strategy and candidate
simulated for each replicate seed (one shared baseline per seed) -> measures per strategy ->
means with Monte Carlo intervals over replicates -> ranked table.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from povsim import __version__
from povsim.inputs.investment import Investment
from povsim.inputs.parameters import ModelParams
from povsim.inputs.unit_costs import load_unit_costs
from povsim.measures.contrast import ArmContrast, arm_contrasts
from povsim.measures.costs import PERSPECTIVES
from povsim.measures.economics import EconomicSettings, cell_utilities
from povsim.measures.equity import (
    ede_change,
    expectancies,
    gap_reduction,
    measures,
    objective_batch,
    objective_value,
    pooled_share,
    quintile_gains,
    ranking_switches,
)
from povsim.measures.precision import Z95, strategy_se
from povsim.model.area import PER, area_params, real_population
from povsim.policy.budget import allocation, interventions_for
from povsim.studies.optimise import Response, SearchResult, frontier, search
from povsim.studies.run import ArmRuns, fallback_mx, simulate_arms

N_Q = 5
OPTIMISED = "optimised"


@dataclass
class InvestmentResults:
    """What `povsim compare` writes: the ranked table and what stands behind it."""

    investment: Investment
    table: pd.DataFrame  # one row per strategy, ranked; value, _lo, _hi columns
    allocations: pd.DataFrame  # strategy, lever, quintile, gbp_per_year
    by_quintile: pd.DataFrame  # strategy, quintile, measure, value (replicate mean)
    ede: pd.DataFrame  # strategy, aversion, ede_change
    frontier: pd.DataFrame  # objective, qalys, gap_reduction, on_frontier, ...
    switches: list[dict[str, Any]]
    optimiser: dict[str, Any]
    manifest: dict[str, Any] = field(default_factory=dict)
    replicate_rows: pd.DataFrame | None = None


def economic_settings(inv: Investment, mp: ModelParams) -> EconomicSettings:
    """Defaults from calibration/ with the file's economics: block on top."""
    e = inv.economics
    rate_c = (
        e.discount_rate_costs
        if e.discount_rate_costs is not None
        else mp.value("discount_rate_costs")
    )
    rate_h = (
        e.discount_rate_health
        if e.discount_rate_health is not None
        else mp.value("discount_rate_health")
    )
    thresholds = e.thresholds if e.thresholds is not None else mp.value("qaly_thresholds")
    return EconomicSettings(
        cell_utilities(mp), rate_c, rate_h, tuple(thresholds), load_unit_costs()
    )


def _objective(
    inv: Investment,
    base_hle: np.ndarray,
    pop_q: np.ndarray,
    measure: str | None = None,
    aversion: float | None = None,
):
    o = inv.objective
    m = measure or o.measure
    e = o.aversion if aversion is None else aversion
    # The net-cost constraint belongs to the question's own objective (whose responses carry
    # the perspective's net cost as cost), not to the frontier's.
    cap = o.max_net_cost if measure is None else None

    def f(qalys: np.ndarray, hy_q: np.ndarray, cost: np.ndarray) -> np.ndarray:
        return objective_batch(m, e, o.max_cost_per_qaly, qalys, cost, base_hle, pop_q, hy_q, cap)

    return f


def response_arms(inv: Investment) -> dict[str, np.ndarray]:
    """Allocation of every response arm: one lever, the same money in every quintile."""
    out = {}
    n = len(inv.levers)
    for li, lever in enumerate(inv.levers):
        for level in inv.optimiser.levels:
            a = np.zeros((n, N_Q))
            a[li, :] = level * float(inv.budget.per_year)
            out[f"resp-{lever}-{level:g}"] = a
    return out


def fit_response(inv: Investment, runs: ArmRuns, econ: EconomicSettings) -> Response:
    """Response curves from the response run (see :mod:`povsim.studies.optimise`)."""
    levels = [0.0, *inv.optimiser.levels]
    n = len(inv.levers)
    shape = (n, len(levels), N_Q)
    q, hy, cost = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    net = {p: np.zeros(shape) for p in PERSPECTIVES}
    contrasts = arm_contrasts(runs.tallies, runs.programmes, econ)
    for li, lever in enumerate(inv.levers):
        for k, level in enumerate(inv.optimiser.levels, start=1):
            c = contrasts[f"resp-{lever}-{level:g}"]
            g = quintile_gains(c)
            q[li, k], hy[li, k], cost[li, k] = g.qalys, g.healthy_years, g.cost
            for p in PERSPECTIVES:
                net[p][li, k] = c.net_cost_by_quintile(p)
    money = np.array(levels) * float(inv.budget.per_year)
    return Response(
        money=money,
        qalys=q,
        healthy_years=hy,
        cost=cost,
        net_cost=net if econ.unit_costs is not None else None,
    )


def perspective_measures(contrast: ArmContrast, qalys_gained: float) -> dict[str, float]:
    """Costs by perspective of one allocation (discounted totals, £; ROI a ratio;
    :meth:`povsim.measures.costs.PerspectiveContrast.totals`) and each perspective's net cost
    per QALY gained (``cost_per_qaly_<p>``); {} without unit costs."""
    if contrast.costs is None:
        return {}
    out = contrast.costs.totals()
    for p in PERSPECTIVES:
        net = out[f"net_cost_{p}_disc"]
        out[f"cost_per_qaly_{p}"] = net / qalys_gained if qalys_gained != 0 else float("nan")
    return out


def simulated_objective(inv: Investment, m: dict[str, float], plain: float) -> float:
    """The objective of one simulated allocation from its measures ``m``: ``plain`` (the
    value of a qalys/ede/gap objective) or, for net_cost_<p> / roi_<p>, minus the net cost /
    the ROI; -inf when it breaks the net-cost constraint (or its ROI is undefined)."""
    o = inv.objective
    p = o.perspective
    if p is None:
        value = plain
    elif o.measure.startswith("roi_"):
        roi = m.get(f"roi_{p}", float("nan"))
        value = roi if np.isfinite(roi) else -np.inf
    else:
        value = -m.get(f"net_cost_{p}_disc", float("nan"))
    if o.max_net_cost is not None and o.net_cost_perspective is not None:
        if not m.get(f"net_cost_{o.net_cost_perspective}_disc", np.inf) <= o.max_net_cost:
            value = -np.inf
    return float(value)


def _pool(rows: list[dict[str, float]]) -> dict[str, tuple[float, float, float]]:
    """Mean with a 95% t interval over replicates (nan interval with one replicate)."""
    keys = rows[0].keys()
    out: dict[str, tuple[float, float, float]] = {}
    n = len(rows)
    if n > 1:
        from scipy import stats

        tq = float(stats.t.ppf(0.975, n - 1))
    for k in keys:
        v = np.array([r[k] for r in rows], float)
        if k == "core20_share":  # bounded in [0, 1] (measures.equity.pooled_share)
            share = pooled_share(v, tq if n > 1 else np.nan)
            out[k] = (share[0], share[1], share[2])
            continue
        mean = float(np.mean(v))
        if n > 1 and np.all(np.isfinite(v)):
            half = tq * float(np.std(v, ddof=1)) / np.sqrt(n)
            out[k] = (mean, mean - half, mean + half)
        else:
            out[k] = (mean, float("nan"), float("nan"))
    return out


def with_within_intervals(
    pooled: dict[str, tuple[float, float, float]], se: dict[str, float]
) -> dict[str, tuple[float, float, float]]:
    """One replicate's measures with within-run 95% intervals (value +- 1.96 se) for those
    in ``se`` (:func:`povsim.measures.precision.strategy_se`); cost per QALY from the QALY
    interval (cost as known); the Core20 share's clipped to [0, 1]."""
    out = dict(pooled)
    for key, s in se.items():
        v = out[key][0]
        out[key] = (v, v - Z95 * s, v + Z95 * s) if np.isfinite(s) else (v, np.nan, np.nan)
    q, qlo, qhi = out["qalys_gained"]
    v, lo, hi = out["core20_share"]
    if np.isfinite(lo):
        out["core20_share"] = (v, max(0.0, lo), min(1.0, hi))
    c = out["cost"][0]
    cpq = out["cost_per_qaly"][0]
    if np.isfinite(qlo) and (qlo > 0 or qhi < 0):
        ends = sorted((c / qlo, c / qhi))
        out["cost_per_qaly"] = (cpq, ends[0], ends[1])
    return out


def simulated_runs(inv: Investment, replicates: int | None = None) -> int:
    """Arm runs :func:`compare_strategies` simulates (for the run-time estimate): the
    optimiser's response runs and every strategy and candidate with a baseline, per
    replicate."""
    reps = replicates or inv.replicates
    opt = inv.optimiser
    n_resp = len(inv.levers) * len(opt.levels) if opt.enabled else 0
    n_final = len(inv.strategies) + (opt.candidates if opt.enabled else 0)
    return ((n_resp + 1) if opt.enabled else 0) + reps * (n_final + 1)


def compare_strategies(
    inv: Investment,
    *,
    seed: int | None = None,
    size: int | None = None,
    replicates: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    phase: Callable[[str], None] | None = None,
) -> InvestmentResults:
    """Run the investment question ``inv`` and return its :class:`InvestmentResults`;
    ``progress(done, total)`` counts simulated arm-years, ``phase(text)`` is told each phase."""
    say = phase or (lambda text: None)
    t0 = time.perf_counter()
    inv = inv.with_run_options(seed=seed, size=size)
    reps = replicates or inv.replicates
    sc = inv.scenario({})
    mp = area_params(sc)  # the area's composition and local calibration, if any
    econ = economic_settings(inv, mp)
    h = inv.population.horizon
    names = list(inv.strategies)
    opt = inv.optimiser
    n_resp = len(inv.levers) * len(opt.levels) if opt.enabled else 0
    n_final = len(names) + (opt.candidates if opt.enabled else 0)
    total = ((n_resp + 1) if opt.enabled else 0) * h + reps * (n_final + 1) * h
    done_before = [0]

    def tick_for(n_arms: int):
        start = done_before[0]
        done_before[0] += (n_arms + 1) * h
        return (lambda d: progress(start + d, total)) if progress else None

    fallback = fallback_mx(mp)
    ev_t = (inv.economics.evaluation_year or inv.last_year) - inv.population.start_year

    # 1. Response run (also gives the baseline that need-based strategies are weighted by).
    resp_allocs = response_arms(inv) if opt.enabled else {}
    say(
        f"response curves: baseline and {len(resp_allocs)} response arms"
        if opt.enabled
        else "baseline (the need that strategies are weighted by)"
    )
    first = simulate_arms(
        sc,
        mp,
        inv.seed,
        {k: interventions_for(inv, a) for k, a in resp_allocs.items()},
        progress=tick_for(len(resp_allocs)) if opt.enabled else None,
        phase=phase,
    )
    pop_q = first.population_q
    base0 = expectancies(first.tallies["baseline"], 0, first.weight, fallback)
    allocs = {
        n: allocation(inv, inv.strategies[n], pop_q, base0["le0"], base0["hle0"]) for n in names
    }
    optimiser_info: dict[str, Any] = {"enabled": opt.enabled}
    frontier_df = pd.DataFrame()
    candidates: dict[str, np.ndarray] = {}
    if opt.enabled:
        say("optimiser: surrogate search and efficiency-equity frontier")
        resp = fit_response(inv, first, econ)
        budget = float(inv.budget.per_year)
        objective = _objective(inv, base0["hle0"], pop_q)
        found: SearchResult = search(
            resp.tracking(inv.objective.cost_perspective),
            objective,
            budget,
            opt.step,
            list(allocs.values()),
            opt.candidates,
        )
        candidates = {f"candidate_{i + 1}": a for i, a in enumerate(found.best)}
        objs = {"qalys": _objective(inv, base0["hle0"], pop_q, "qalys")}
        for e in inv.economics.aversions:
            if e > 0:
                objs[f"ede_{e:g}"] = _objective(inv, base0["hle0"], pop_q, "ede", e)
        objs["gap"] = _objective(inv, base0["hle0"], pop_q, "gap")
        points, fe = frontier(
            resp, objs, budget, opt.step, list(allocs.values()), lambda hy: gap_reduction(pop_q, hy)
        )
        frontier_df = pd.DataFrame(
            [{k: v for k, v in p.items() if k != "allocation"} for p in points]
        )
        for i, lever in enumerate(inv.levers):
            for q in range(N_Q):
                frontier_df[f"{lever}_q{q + 1}"] = [p["allocation"][i, q] for p in points]
        optimiser_info.update(
            {
                "response_arms": len(resp_allocs),
                "surrogate_evaluations": found.evaluations + fe,
                "surrogate_values": found.values,
                "step": opt.step,
                "levels": list(opt.levels),
            }
        )

    # 2. Every strategy and candidate for every replicate seed.
    arms_alloc = {**allocs, **candidates}
    arms = {k: interventions_for(inv, a) for k, a in arms_alloc.items()}
    per_rep: dict[str, list[dict[str, float]]] = {k: [] for k in arms_alloc}
    within_se: dict[str, dict[str, float]] = {}
    by_q_rows = []
    ede_grid = np.round(np.arange(0.0, max(inv.economics.aversions) + 1e-9, 0.1), 10)
    ede_fine: dict[str, list[np.ndarray]] = {k: [] for k in arms_alloc}
    for r in range(reps):
        say(f"strategies: {len(arms)} arms and the baseline, replicate {r + 1} of {reps}")
        # One replicate: record person-id blocks for within-run intervals.
        runs = simulate_arms(
            sc,
            mp,
            inv.seed + r,
            arms,
            progress=tick_for(len(arms)),
            phase=phase,
            within=reps == 1,
        )
        base_t = runs.tallies["baseline"]
        b_first = expectancies(base_t, 0, runs.weight, fallback)
        b_eval = expectancies(base_t, ev_t, runs.weight, fallback)
        base = {**b_eval, "base_hle0": b_first["hle0"]}
        contrasts = arm_contrasts(runs.tallies, runs.programmes, econ)
        for k in arms_alloc:
            g = quintile_gains(contrasts[k])
            a_eval = expectancies(runs.tallies[k], ev_t, runs.weight, fallback)
            m = measures(g, econ, list(inv.economics.aversions), base, a_eval, runs.population_q)
            m.update(perspective_measures(contrasts[k], m["qalys_gained"]))
            plain = (
                objective_value(
                    inv.objective.measure,
                    inv.objective.aversion,
                    inv.objective.max_cost_per_qaly,
                    m["qalys_gained"],
                    m["cost"],
                    b_first["hle0"],
                    runs.population_q,
                    g.healthy_years,
                )
                if inv.objective.perspective is None
                else float("nan")
            )
            m["objective"] = simulated_objective(inv, m, plain)
            per_rep[k].append(m)
            if runs.blocks:
                within_se[k] = strategy_se(
                    runs.blocks[k],
                    runs.blocks["baseline"],
                    econ.utilities,
                    runs.weight,
                    fallback,
                    econ.rate_health,
                    ev_t,
                )
            ede_fine[k].append(
                np.array(
                    [
                        ede_change(b_first["hle0"], runs.population_q, g.healthy_years, e)
                        for e in ede_grid
                    ]
                )
            )
            for q in range(N_Q):
                for name, v in (
                    ("qalys_gained", g.qalys[q]),
                    ("healthy_years_gained", g.healthy_years_disc[q]),
                    (
                        "healthy_years_gained_per_100k",
                        g.healthy_years[q] / runs.population_q[q] * 1e5,
                    ),
                    ("participants", g.participants[q]),
                    ("cost", g.cost[q]),
                ):
                    by_q_rows.append(
                        {
                            "replicate": r,
                            "strategy": k,
                            "quintile": q + 1,
                            "measure": name,
                            "value": float(v),
                        }
                    )

    pooled = {k: _pool(v) for k, v in per_rep.items()}
    for k, se in within_se.items():
        pooled[k] = with_within_intervals(pooled[k], se)
    # 3. The optimiser's answer: the best simulated allocation among candidates and named.
    if opt.enabled:
        pool_names = list(arms_alloc)
        best = max(pool_names, key=lambda k: pooled[k]["objective"][0])
        optimiser_info["best_source"] = best
        optimiser_info["note"] = (
            "a searched allocation"
            if best.startswith("candidate_")
            else f"no searched allocation beat the named strategy `{best}` when simulated"
        )
        pooled[OPTIMISED] = pooled[best]
        per_rep[OPTIMISED] = per_rep[best]
        ede_fine[OPTIMISED] = ede_fine[best]
        arms_alloc[OPTIMISED] = arms_alloc[best]
        by_q_rows += [
            {**row, "strategy": OPTIMISED} for row in by_q_rows if row["strategy"] == best
        ]
    shown = [*names, OPTIMISED] if opt.enabled else names
    rows = []
    for k in shown:
        row: dict[str, Any] = {
            "strategy": k,
            "description": (
                inv.strategies[k].description
                if k in inv.strategies
                else "best allocation found by the optimiser"
            ),
            "rule": inv.strategies[k].rule if k in inv.strategies else "optimised",
        }
        for measure, (v, lo, hi) in pooled[k].items():
            row[measure], row[f"{measure}_lo"], row[f"{measure}_hi"] = v, lo, hi
        rows.append(row)
    table = pd.DataFrame(rows).sort_values("objective", ascending=False, kind="stable")
    real = real_population(mp)
    for measure in ("qalys_gained", "healthy_years_gained", "participants", "cost"):
        for suffix in ("", "_lo", "_hi"):
            table[f"{measure}_per_100k{suffix}"] = table[f"{measure}{suffix}"] * PER / real
    table.insert(1, "rank", np.arange(1, len(table) + 1))
    table = table.reset_index(drop=True)

    alloc_rows = [
        {"strategy": k, "lever": lever, "quintile": q + 1, "gbp_per_year": float(a[i, q])}
        for k, a in arms_alloc.items()
        for i, lever in enumerate(inv.levers)
        for q in range(N_Q)
    ]
    byq = (
        pd.DataFrame(by_q_rows)
        .groupby(["strategy", "quintile", "measure"], as_index=False)["value"]
        .mean()
    )
    ede_df = pd.DataFrame(
        [
            {"strategy": k, "aversion": float(e), "ede_change": float(v)}
            for k in shown
            for e, v in zip(ede_grid, np.mean(ede_fine[k], axis=0))
        ]
    )
    switches = ranking_switches({k: np.mean(ede_fine[k], axis=0) for k in names}, ede_grid)
    rep_rows = pd.DataFrame(
        [{"strategy": k, "replicate": r, **m} for k, v in per_rep.items() for r, m in enumerate(v)]
    )
    elapsed = time.perf_counter() - t0
    manifest = {
        "povsim_version": __version__,
        "investment": inv.name,
        "seed": inv.seed,
        "area": inv.population.area_name
        or (inv.population.label() if inv.population.is_place() else inv.population.area),
        "real_population": round(real),
        "replicates": reps,
        "size": inv.population.size,
        "horizon": h,
        "start_year": inv.population.start_year,
        "budget_per_year": inv.budget.per_year,
        "budget_years": inv.budget.years,
        "budget_start": inv.budget_start,
        "evaluation_year": inv.population.start_year + ev_t,
        "objective": inv.objective.model_dump(),
        "discount_rate_costs": econ.rate_costs,
        "discount_rate_health": econ.rate_health,
        "thresholds": list(econ.thresholds),
        "simulated_arms": (n_resp + 1 if opt.enabled else 1) + reps * (len(arms) + 1),
        "python": platform.python_version(),
        "seconds": round(elapsed, 2),
    }
    return InvestmentResults(
        investment=inv,
        table=table,
        allocations=pd.DataFrame(alloc_rows),
        by_quintile=byq,
        ede=ede_df,
        frontier=frontier_df,
        switches=switches,
        optimiser=optimiser_info,
        manifest=manifest,
        replicate_rows=rep_rows,
    )


# Public names for the places comparison (studies/places_compare.py), which judges one
# national budget with the same objective and the same replicate pooling.
objective_for = _objective
pool_replicates = _pool
