"""Budgets to interventions: how a `povsim compare` strategy splits £ a year between levers
and IMD quintiles, and the budget-capped intervention each funded (lever, quintile) cell
becomes (named ``<lever>-q<k>`` so that a cell draws the same random numbers in every
strategy)."""

from __future__ import annotations

import numpy as np

from povsim.inputs import layout as L
from povsim.inputs.interventions import Intervention, parse_intervention
from povsim.inputs.investment import SET_BY_STRATEGY, Investment, Strategy


def lever_mix(inv: Investment, strategy: Strategy) -> np.ndarray:
    """Share of the budget for each lever (sums to 1): the strategy's, the file's, or equal."""
    shares = strategy.lever_shares or inv.lever_shares
    if shares is None:
        return np.full(len(inv.levers), 1.0 / len(inv.levers))
    v = np.array([float(shares.get(name, 0.0)) for name in inv.levers])
    return v / v.sum()


def need_per_head(
    strategy: Strategy, baseline_le: np.ndarray, baseline_hle: np.ndarray
) -> np.ndarray:
    """Relative need per head by quintile (5,) for a proportionate strategy.

    hle_shortfall: years by which the quintile's HLE falls short of the least deprived
    quintile's LE, i.e. the expected years not lived in good health against the longest
    lives in the area (positive for every quintile, so everyone gets something).
    """
    if strategy.need == "weights":
        return np.asarray(strategy.weights, float)
    return np.maximum(baseline_le[L.N_Q - 1] - np.asarray(baseline_hle, float), 0.0)


def allocation(
    inv: Investment,
    strategy: Strategy,
    population_q: np.ndarray,
    baseline_le: np.ndarray,
    baseline_hle: np.ndarray,
) -> np.ndarray:
    """£ a year by lever and quintile (levers, 5); sums to the yearly budget."""
    b = float(inv.budget.per_year)
    if strategy.rule == "split":
        split = strategy.split or {}
        rows = [split.get(name, [0.0] * L.N_Q) for name in inv.levers]
        return b * np.array(rows, dtype=np.float64)
    mix = lever_mix(inv, strategy)
    pop = np.asarray(population_q, float)
    if strategy.rule == "universal":
        by_q = pop
    elif strategy.rule == "targeted":
        by_q = np.array([1.0, 0, 0, 0, 0])
    else:
        by_q = pop * need_per_head(strategy, baseline_le, baseline_hle)
    by_q = by_q / by_q.sum()
    return b * np.outer(mix, by_q)


def interventions_for(inv: Investment, alloc: np.ndarray) -> list[Intervention]:
    """One budget-capped intervention per funded (lever, quintile) cell."""
    out: list[Intervention] = []
    start = inv.budget_start
    end = min(start + inv.budget.years - 1, inv.last_year)
    for li, (name, lever) in enumerate(inv.levers.items()):
        total = float(alloc[li].sum())
        for q in range(L.N_Q):
            money = float(alloc[li, q])
            if money <= 0.0:
                continue
            share = money / total
            data = lever.model_dump(exclude=set(SET_BY_STRATEGY))
            data["cost"]["fixed_per_year"] = float(lever.cost.fixed_per_year) * share
            if lever.capacity is not None:
                data["capacity"] = float(lever.capacity) * share
            data.update(
                name=f"{name}-q{q + 1}",
                start_year=start,
                end_year=end,
                targeting={"rule": "quintiles", "quintiles": [q + 1]},
                budget_per_year=money,
            )
            out.append(parse_intervention(data))
    return out
