"""`povsim compare` with ``places:``: one national budget split between real places and, in
each place, between levers and quintiles.

Flow:

1. Response sweep, one task per place: the place's baseline and, with the optimiser on,
   each lever at each ``optimiser.levels`` share of the place's per-head slice of the budget
   in every quintile (as :func:`povsim.studies.compare.response_arms` does for one area).
2. Place strategies (per head, Core20 residents, HLE shortfall, most unequal, explicit split)
   give each place its £ a year; the place's ``within`` strategy splits that between levers
   and quintiles. The optimiser searches cells (place, lever, quintile) on the stacked
   response curves with the national objective (:mod:`povsim.studies.optimise`).
3. Final sweep, one task per (place, replicate): every strategy's and candidate's slice for
   that place, with common random numbers against the place's baseline. National results
   are sums of the places' gains by quintile; the reported optimum is the best simulated.

Each task depends only on its row (place index, replicate), so the local process pool, a
Dask cluster or this process give identical numbers; finished tasks are checkpointed, so an
interrupted run resumes (see :mod:`povsim.studies.sweep`).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from povsim import __version__
from povsim.inputs.investment import Investment, PlaceStrategy
from povsim.inputs.places import Place, find_place
from povsim.measures.contrast import arm_contrasts
from povsim.measures.equity import Gains, expectancies, measures, objective_value, quintile_gains
from povsim.model.area import area_params
from povsim.policy.budget import allocation, interventions_for
from povsim.studies.compare import (
    economic_settings,
    objective_for,
    pool_replicates,
    response_arms,
)
from povsim.studies.optimise import Response, search
from povsim.studies.run import fallback_mx, simulate_arms
from povsim.studies.sweep import fingerprint, run_sweep

N_Q = 5
OPTIMISED = "optimised"
GAIN_FIELDS = ("qalys", "healthy_years", "healthy_years_disc", "life_years_disc", "cost")
# Per arm: 5 gain fields + participants by quintile, undiscounted cost, eval LE/HLE/shares.
ARM_WIDTH = 6 * N_Q + 1 + 3 * N_Q
# Per place: population by quintile, first-year and evaluation-year baseline LE, HLE, shares.
BASE_WIDTH = N_Q + 6 * N_Q


def place_question(inv: Investment, code: str, per_year: float) -> Investment:
    """The investment question restricted to one place with ``per_year`` £ a year."""
    pop = inv.population.model_copy(update={"area": code})
    budget = inv.budget.model_copy(update={"per_year": max(per_year, 1e-6)})
    return inv.model_copy(update={"population": pop, "budget": budget, "places": None})


@dataclass
class PlaceModel:
    """A sweep model: row (place index, replicate) -> the place's baseline and every arm's
    gains packed in one vector (see ``BASE_WIDTH`` and ``ARM_WIDTH``)."""

    inv: Investment
    codes: list[str]
    slices: list[float]  # each place's per-head share of the budget, £ a year
    arms: dict[str, np.ndarray]  # arm -> (places, levers, 5) £ a year
    token: str = ""
    output_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = BASE_WIDTH + ARM_WIDTH * len(self.arms)
        self.output_names = [f"v{i}" for i in range(n)]

    def evaluate(self, rows: np.ndarray) -> np.ndarray:
        return np.vstack([self.one(int(r[0]), int(r[1])) for r in np.atleast_2d(rows)])

    def one(self, p: int, replicate: int) -> np.ndarray:
        inv_p = place_question(self.inv, self.codes[p], self.slices[p])
        sc = inv_p.scenario({})
        mp = area_params(sc)
        econ = economic_settings(inv_p, mp)
        funded = {k: a[p] for k, a in self.arms.items()}
        runs = simulate_arms(
            sc,
            mp,
            self.inv.seed + replicate,
            {k: interventions_for(inv_p, a) for k, a in funded.items() if a.sum() > 0},
        )
        fallback = fallback_mx(mp)
        ev_t = (inv_p.economics.evaluation_year or inv_p.last_year) - inv_p.population.start_year
        base_t = runs.tallies["baseline"]
        b0 = expectancies(base_t, 0, runs.weight, fallback)
        be = expectancies(base_t, ev_t, runs.weight, fallback)
        out = [runs.population_q, b0["le0"], b0["hle0"], b0["shares"]]
        out += [be["le0"], be["hle0"], be["shares"]]
        contrasts = arm_contrasts(runs.tallies, runs.programmes, econ)
        for k in self.arms:
            if k not in runs.tallies:  # no money in this place: no change
                out += [np.zeros(6 * N_Q + 1), be["le0"], be["hle0"], be["shares"]]
                continue
            g = quintile_gains(contrasts[k])
            ae = expectancies(runs.tallies[k], ev_t, runs.weight, fallback)
            out += [getattr(g, f) for f in GAIN_FIELDS]
            out += [g.participants, np.array([g.cost_undiscounted])]
            out += [ae["le0"], ae["hle0"], ae["shares"]]
        return np.concatenate([np.nan_to_num(np.asarray(x, float), nan=np.nan) for x in out])


def _unpack_base(v: np.ndarray) -> dict[str, np.ndarray]:
    parts = v[:BASE_WIDTH].reshape(7, N_Q)
    keys = ("pop_q", "le0_first", "hle0_first", "shares_first", "le0", "hle0", "shares")
    return dict(zip(keys, parts))


def _unpack_arm(v: np.ndarray, i: int) -> tuple[Gains, dict[str, np.ndarray]]:
    a = v[BASE_WIDTH + i * ARM_WIDTH : BASE_WIDTH + (i + 1) * ARM_WIDTH]
    g = Gains(
        qalys=a[0:5],
        healthy_years=a[5:10],
        healthy_years_disc=a[10:15],
        life_years_disc=a[15:20],
        cost=a[20:25],
        participants=a[25:30],
        cost_undiscounted=float(a[30]),
    )
    ev = {"le0": a[31:36], "hle0": a[36:41], "shares": a[41:46]}
    return g, ev


def _sum_gains(gs: list[Gains]) -> Gains:
    return Gains(
        **{f: sum(getattr(g, f) for g in gs) for f in (*GAIN_FIELDS, "participants")},
        cost_undiscounted=float(sum(g.cost_undiscounted for g in gs)),
    )


def _pooled(values: list[np.ndarray], weights: list[np.ndarray]) -> np.ndarray:
    """Population-weighted mean by quintile over places (a place without persons in a
    quintile adds nothing to it)."""
    v, w = np.array(values), np.array(weights)
    w = np.where(np.isfinite(v), w, 0.0)
    return np.nansum(np.where(w > 0, v, 0.0) * w, axis=0) / np.maximum(w.sum(axis=0), 1e-12)


def place_split(
    ps: PlaceStrategy,
    places: list[Place],
    pop_q: np.ndarray,
    shortfall: np.ndarray,
) -> np.ndarray:
    """Share of the national budget for each place (sums to 1).

    ``pop_q`` (places, 5) residents by quintile; ``shortfall`` (5,) England's baseline years
    of HLE short of the least deprived quintile's LE, per person in each quintile."""
    codes = [p.code for p in places]
    if ps.rule == "per_head":
        w = pop_q.sum(axis=1)
    elif ps.rule == "core20":
        w = pop_q[:, 0].copy()
    elif ps.rule == "hle_shortfall":
        w = pop_q @ shortfall
    elif ps.rule == "most_unequal":
        core = pop_q[:, 0] / np.maximum(pop_q.sum(axis=1), 1.0)
        k = max(1, int(round(ps.share * len(places))))
        top = np.argsort(-core, kind="stable")[:k]
        w = np.zeros(len(places))
        w[top] = pop_q[top, 0]
    else:
        w = np.array([float((ps.split or {}).get(c, 0.0)) for c in codes])
    if w.sum() <= 0:
        w = pop_q.sum(axis=1)
    return w / w.sum()


@dataclass
class PlacesResults:
    """What a places comparison writes."""

    investment: Investment
    table: pd.DataFrame  # national, one row per place strategy (+ optimised), ranked
    by_place: pd.DataFrame  # strategy, code, name, gbp_per_year, per head, QALYs, ...
    allocations: pd.DataFrame  # strategy, code, lever, quintile, gbp_per_year
    optimiser: dict[str, Any]
    manifest: dict[str, Any] = field(default_factory=dict)


def compare_places(
    inv: Investment,
    *,
    seed: int | None = None,
    size: int | None = None,
    replicates: int | None = None,
    workers: int = 1,
    client: Any = None,
    checkpoint_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    phase: Callable[[str], None] | None = None,
) -> PlacesResults:
    """Run a ``places:`` investment question; see the module docstring. ``phase(text)`` is
    told each phase."""
    say = phase or (lambda text: None)
    t0 = time.perf_counter()
    inv = inv.with_run_options(seed=seed, size=size)
    reps = replicates or inv.replicates
    codes = list(inv.places or [])
    places = [find_place(c) for c in codes]
    n_p, n_l = len(places), len(inv.levers)
    budget = float(inv.budget.per_year)
    total_pop = float(sum(p.population for p in places))
    slices = [budget * p.population / total_pop for p in places]
    opt = inv.optimiser
    key_parts = {"investment": inv.model_dump(mode="json", exclude={"source_path"}), "reps": reps}
    described = {"investment": inv.name, "places": len(codes), "replicates": reps}
    h = inv.population.horizon
    n_resp = n_l * len(opt.levels) if opt.enabled else 0
    n_strat = len(inv.place_strategies or {}) + (opt.candidates if opt.enabled else 0)
    total = n_p * (n_resp + 1) * h + n_p * reps * (n_strat + 1) * h
    done = [0]

    def ticker(weight: int) -> Callable[[int, int], None] | None:
        if progress is None:
            return None
        start = done[0]
        done[0] += weight

        def tick(d: int, n: int) -> None:
            progress(start + int(weight * d / max(n, 1)), total)

        return tick

    # 1. Baselines and response curves, one task per place.
    resp_names: list[str] = []
    resp_arms: dict[str, np.ndarray] = {}
    if opt.enabled:
        one = response_arms(place_question(inv, codes[0], 1.0))  # names and unit shapes
        resp_names = list(one)
        for name in resp_names:
            unit = one[name] / 1.0  # level x £1 in each quintile of the lever
            resp_arms[name] = np.stack([unit * s for s in slices])
    say(f"baselines and response curves of {len(codes)} places")
    model1 = PlaceModel(inv, codes, slices, resp_arms)
    model1.token = "resp-" + fingerprint(key_parts)
    rows1 = np.array([[p, 0] for p in range(n_p)], float)
    out1 = run_sweep(
        model1,
        rows1,
        1,
        None if checkpoint_dir is None else Path(checkpoint_dir) / "response",
        key=model1.token,
        described=described,
        workers=workers,
        client=client,
        progress=ticker(n_p * (n_resp + 1) * h),
    ).outputs
    bases = [_unpack_base(v) for v in out1]
    pop_q = np.array([b["pop_q"] for b in bases])  # (places, 5) real persons
    national_q = pop_q.sum(axis=0)
    le_first = _pooled([b["le0_first"] for b in bases], list(pop_q))
    hle_first = _pooled([b["hle0_first"] for b in bases], list(pop_q))
    shortfall = np.maximum(le_first[4] - hle_first, 0.0)
    econ_nat = economic_settings(inv, area_params(inv.scenario({})))

    # 2. Allocations: (places, levers, 5) £ a year for every place strategy.
    strat_names = list(inv.place_strategies or {})
    first_within = next(iter(inv.strategies))
    arms: dict[str, np.ndarray] = {}
    shares_by: dict[str, np.ndarray] = {}
    for name, ps in (inv.place_strategies or {}).items():
        shares = place_split(ps, places, pop_q, shortfall)
        shares_by[name] = shares
        within = inv.strategies[ps.within or first_within]
        a = np.zeros((n_p, n_l, N_Q))
        for i, b in enumerate(bases):
            inv_p = place_question(inv, codes[i], budget * shares[i])
            if shares[i] > 0:
                a[i] = allocation(inv_p, within, b["pop_q"], b["le0_first"], b["hle0_first"])
        arms[name] = a
    optimiser: dict[str, Any] = {"enabled": opt.enabled}
    if opt.enabled:
        levels = [0.0, *opt.levels]
        q = np.zeros((n_p * n_l, len(levels), N_Q))
        hy, cost = np.zeros_like(q), np.zeros_like(q)
        for i, v in enumerate(out1):
            for j in range(len(resp_names)):
                li, k = divmod(j, len(opt.levels))
                g, _ = _unpack_arm(v, j)
                q[i * n_l + li, k + 1] = g.qalys
                hy[i * n_l + li, k + 1] = g.healthy_years
                cost[i * n_l + li, k + 1] = g.cost
        resp = Response(
            money=np.array(levels),
            qalys=q,
            healthy_years=hy,
            cost=cost,
            scale=np.repeat(np.array(slices), n_l),
        )
        objective = objective_for(inv, hle_first, national_q)
        starts = [arms[n].reshape(n_p * n_l, N_Q) for n in strat_names[:1]]
        found = search(resp, objective, budget, opt.step, starts, opt.candidates)
        for i, a in enumerate(found.best):
            arms[f"candidate_{i + 1}"] = a.reshape(n_p, n_l, N_Q)
        optimiser.update(
            {
                "cells": n_p * n_l * N_Q,
                "response_arms_per_place": len(resp_names),
                "surrogate_evaluations": found.evaluations,
                "surrogate_values": found.values,
                "step": opt.step,
            }
        )

    # 3. Every strategy and candidate in every place and replicate.
    say(f"strategies: {len(arms)} in each of {len(codes)} places, {reps} replicate(s)")
    model2 = PlaceModel(inv, codes, slices, arms)
    model2.token = "final-" + fingerprint(
        {**key_parts, "arms": {k: a.tolist() for k, a in arms.items()}}
    )
    rows2 = np.array([[p, r] for r in range(reps) for p in range(n_p)], float)
    out2 = run_sweep(
        model2,
        rows2,
        1,
        None if checkpoint_dir is None else Path(checkpoint_dir) / "final",
        key=model2.token,
        described=described,
        workers=workers,
        client=client,
        progress=ticker(n_p * reps * (n_strat + 1) * h),
    ).outputs
    arm_names = list(arms)
    per_rep: dict[str, list[dict[str, float]]] = {k: [] for k in arm_names}
    place_rows = []
    for r in range(reps):
        block = out2[r * n_p : (r + 1) * n_p]
        bs = [_unpack_base(v) for v in block]
        w = [b["pop_q"] for b in bs]
        base = {
            "le0": _pooled([b["le0"] for b in bs], w),
            "hle0": _pooled([b["hle0"] for b in bs], w),
            "shares": national_q / national_q.sum(),
            "base_hle0": _pooled([b["hle0_first"] for b in bs], w),
        }
        for j, arm_name in enumerate(arm_names):
            unpacked = [_unpack_arm(v, j) for v in block]
            g = _sum_gains([u[0] for u in unpacked])
            after = {
                "le0": _pooled([u[1]["le0"] for u in unpacked], w),
                "hle0": _pooled([u[1]["hle0"] for u in unpacked], w),
                "shares": base["shares"],
            }
            m = measures(g, econ_nat, list(inv.economics.aversions), base, after, national_q)
            m["objective"] = objective_value(
                inv.objective.measure,
                inv.objective.aversion,
                inv.objective.max_cost_per_qaly,
                m["qalys_gained"],
                m["cost"],
                base["base_hle0"],
                national_q,
                g.healthy_years,
            )
            per_rep[arm_name].append(m)
            for i, (gp, _) in enumerate(unpacked):
                place_rows.append(
                    {
                        "replicate": r,
                        "strategy": arm_name,
                        "code": codes[i],
                        "qalys_gained": float(gp.qalys.sum()),
                        "healthy_years_gained": float(gp.healthy_years_disc.sum()),
                        "cost": float(gp.cost.sum()),
                        "participants": float(gp.participants.sum()),
                    }
                )
    pooled = {k: pool_replicates(v) for k, v in per_rep.items()}
    shown = list(strat_names)
    if opt.enabled:
        best = max(arm_names, key=lambda k: pooled[k]["objective"][0])
        optimiser["best_source"] = best
        pooled[OPTIMISED], arms[OPTIMISED] = pooled[best], arms[best]
        place_rows += [
            {**row, "strategy": OPTIMISED} for row in place_rows if row["strategy"] == best
        ]
        shown.append(OPTIMISED)
    rows = []
    for strat in shown:
        shown_ps = (inv.place_strategies or {}).get(strat)
        row: dict[str, Any] = {
            "strategy": strat,
            "rule": shown_ps.rule if shown_ps else "optimised",
            "within": (shown_ps.within or first_within) if shown_ps else "optimised",
            "description": shown_ps.description
            if shown_ps
            else "best allocation found by the optimiser",
        }
        for measure, (v, lo, hi) in pooled[strat].items():
            row[measure], row[f"{measure}_lo"], row[f"{measure}_hi"] = v, lo, hi
        rows.append(row)
    table = pd.DataFrame(rows).sort_values("objective", ascending=False, kind="stable")
    table.insert(1, "rank", np.arange(1, len(table) + 1))
    table = table.reset_index(drop=True)

    by_place = (
        pd.DataFrame(place_rows)
        .groupby(["strategy", "code"], as_index=False)[
            ["qalys_gained", "healthy_years_gained", "cost", "participants"]
        ]
        .mean()
    )
    info = pd.DataFrame(
        {
            "code": codes,
            "name": [p.label for p in places],
            "population": [p.population for p in places],
            "core20_share": [p.core20_share for p in places],
        }
    )
    money = pd.DataFrame(
        [
            {"strategy": k, "code": codes[i], "gbp_per_year": float(arms[k][i].sum())}
            for k in shown
            for i in range(n_p)
        ]
    )
    by_place = money.merge(by_place, on=["strategy", "code"]).merge(info, on="code")
    by_place["gbp_per_head"] = by_place.gbp_per_year / by_place.population
    by_place["qalys_per_100k"] = by_place.qalys_gained / by_place.population * 1e5
    by_place["cost_per_qaly"] = by_place.cost / by_place.qalys_gained.where(
        by_place.qalys_gained > 0
    )
    cols = ["strategy", "code", "name", "population", "core20_share", "gbp_per_year"]
    rest = [c for c in by_place.columns if c not in cols]
    by_place = by_place[cols + rest].sort_values(
        ["strategy", "gbp_per_head"], ascending=[True, False]
    )
    allocations = pd.DataFrame(
        [
            {
                "strategy": k,
                "code": codes[i],
                "lever": lever,
                "quintile": q + 1,
                "gbp_per_year": float(arms[k][i, li, q]),
            }
            for k in shown
            for i in range(n_p)
            for li, lever in enumerate(inv.levers)
            for q in range(N_Q)
        ]
    )
    manifest = {
        "povsim_version": __version__,
        "investment": inv.name,
        "seed": inv.seed,
        "area": f"{n_p} places",
        "places": codes,
        "real_population": round(total_pop),
        "replicates": reps,
        "size": inv.population.size,
        "size_note": "simulated persons per place",
        "horizon": h,
        "budget_per_year": budget,
        "budget_years": inv.budget.years,
        "objective": inv.objective.model_dump(),
        "simulated_arms": n_p * (len(resp_arms) + 1) + n_p * reps * (len(arm_names) + 1),
        "executor": "dask" if client is not None else f"{max(workers, 1)} local worker(s)",
        "python": platform.python_version(),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    return PlacesResults(
        inv, table, by_place.reset_index(drop=True), allocations, optimiser, manifest
    )
