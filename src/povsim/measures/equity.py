"""Efficiency and equity of each budget allocation against the baseline (distributional
cost-effectiveness analysis on simulated outcomes).

Efficiency: discounted QALYs, healthy life-years and life-years gained, discounted cost,
cost per QALY and per healthy life-year, net monetary benefit (£) and net health benefit
(QALYs) at each threshold. Equity: change in the Q5-Q1 gap, SII and RII of LE and HLE at birth
(both sexes, the evaluation year), the share of QALYs gained in quintile 1 (Core20), and the
Atkinson equally distributed equivalent (EDE) of health over quintiles.

The health distribution for EDE follows distributional cost-effectiveness analysis (Asaria,
Griffin & Cookson 2016): each quintile's baseline HLE at birth (the first simulated year)
plus its healthy life-years gained per person (undiscounted, over the horizon, per person
alive at the start). Its change at aversion 0 is the change in mean health; higher aversion
gives gains to the worse-off more weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from povsim.measures import life_table as M
from povsim.measures.contrast import ArmContrast
from povsim.measures.economics import EconomicSettings, atkinson_ede
from povsim.measures.results import grouped, rates
from povsim.model import registry as R

N_Q = 5


@dataclass
class Gains:
    """What one allocation adds over the baseline, by quintile (5,) where shaped so."""

    qalys: np.ndarray  # discounted QALYs gained by quintile
    healthy_years: np.ndarray  # undiscounted healthy life-years gained by quintile
    healthy_years_disc: np.ndarray
    life_years_disc: np.ndarray
    cost: np.ndarray  # discounted £ by quintile
    cost_undiscounted: float
    participants: np.ndarray  # real persons by quintile, summed over years


def quintile_gains(contrast: ArmContrast) -> Gains:
    """An allocation's gains over the baseline by quintile (both sexes), from its arm
    contrast (:class:`povsim.measures.contrast.ArmContrast`)."""
    totals = contrast.by_quintile()
    cost_q, cost_all, part_q = contrast.cost_by_quintile()
    return Gains(
        qalys=totals["qalys"],
        healthy_years=totals["healthy_years"],
        healthy_years_disc=totals["healthy_years_disc"],
        life_years_disc=totals["life_years_disc"],
        cost=cost_q,
        cost_undiscounted=cost_all,
        participants=part_q,
    )


def expectancies(
    tallies: np.ndarray, t: int, weight: float, fallback: np.ndarray
) -> dict[str, np.ndarray]:
    """LE and HLE at birth (years) for both sexes by quintile (5,) in year index ``t``, and
    the quintiles' population shares."""
    g = grouped(tallies[t : t + 1])
    mx, _, good, _ = rates(g, weight, fallback)
    le = M.life_expectancy(mx, 0)[0, 2, :5]
    hle = M.sullivan_hle(mx, good, 0)[0, 2, :5]
    shares = g[0, 2, :5, :, R.S_EXPO].sum(axis=-1)
    return {"le0": le, "hle0": hle, "shares": shares / shares.sum()}


def health_distribution(
    base_hle: np.ndarray, population_q: np.ndarray, healthy_years_q: np.ndarray
) -> np.ndarray:
    """Health by quintile for EDE: baseline HLE plus healthy life-years gained per person."""
    return np.asarray(base_hle, float) + np.asarray(healthy_years_q, float) / population_q


def ede_change(
    base_hle: np.ndarray, population_q: np.ndarray, healthy_years_q: np.ndarray, aversion: float
) -> float:
    """Change in the Atkinson EDE (years per person) that ``healthy_years_q`` brings."""
    w = np.asarray(population_q, float)
    after = health_distribution(base_hle, population_q, healthy_years_q)
    return atkinson_ede(after, w, aversion) - atkinson_ede(np.asarray(base_hle, float), w, aversion)


def gap_reduction(population_q: np.ndarray, healthy_years_q: np.ndarray) -> float:
    """Narrowing of the Q5-Q1 gap in health (years per person): Q1's gain per person less Q5's."""
    per = np.asarray(healthy_years_q, float) / np.asarray(population_q, float)
    return float(per[0] - per[-1])


def ede_batch(health: np.ndarray, weights: np.ndarray, aversion: float) -> np.ndarray:
    """Atkinson EDE of each row of ``health`` (N, groups) with group ``weights``; the same as
    :func:`povsim.measures.economics.atkinson_ede` row by row, without its checks (for the search)."""  # noqa: E501
    h = np.asarray(health, float)
    w = np.asarray(weights, float) / np.sum(weights)
    if np.isclose(aversion, 1.0):
        return np.exp(np.sum(w * np.log(h), axis=-1))
    top = h.max(axis=-1, keepdims=True)
    x = np.sum(w * (h / top) ** (1.0 - aversion), axis=-1)
    return top[..., 0] * x ** (1.0 / (1.0 - aversion))


def objective_batch(
    measure: str,
    aversion: float,
    max_cost_per_qaly: float | None,
    qalys: np.ndarray,
    cost: np.ndarray,
    base_hle: np.ndarray,
    population_q: np.ndarray,
    healthy_years_q: np.ndarray,
    max_net_cost: float | None = None,
) -> np.ndarray:
    """The values allocations are ranked by (higher is better), for N allocations at once:
    ``qalys`` and ``cost`` (N,), ``healthy_years_q`` (N, 5). The gap objective is -inf for
    allocations that break its efficiency floor (cost per QALY above the maximum).

    For a perspective objective (``net_cost_<p>``, ``roi_<p>``) or a net-cost constraint the
    caller passes the perspective's discounted net cost as ``cost``: ``net_cost_<p>`` ranks by
    minus it; the search ranks ``roi_<p>`` by minus it too (the same order when p pays the
    whole budget, ROI = 1 - net cost / budget; simulated allocations are ranked by their
    ROI itself); with ``max_net_cost`` an allocation whose ``cost`` is above it is -inf."""
    value = _objective_batch(
        measure, aversion, max_cost_per_qaly, qalys, cost, base_hle, population_q, healthy_years_q
    )
    if max_net_cost is not None:
        value = np.where(np.asarray(cost, float) <= max_net_cost, value, -np.inf)
    return value


def _objective_batch(
    measure: str,
    aversion: float,
    max_cost_per_qaly: float | None,
    qalys: np.ndarray,
    cost: np.ndarray,
    base_hle: np.ndarray,
    population_q: np.ndarray,
    healthy_years_q: np.ndarray,
) -> np.ndarray:
    qalys = np.asarray(qalys, float)
    if measure == "qalys":
        return qalys
    if measure.startswith(("net_cost_", "roi_")):
        return -np.asarray(cost, float) + 0.0 * qalys
    pop = np.asarray(population_q, float)
    hy = np.asarray(healthy_years_q, float)
    if measure == "ede":
        base = np.asarray(base_hle, float)
        return (
            ede_batch(base + hy / pop, pop, aversion) - ede_batch(base[None, :], pop, aversion)[0]
        )
    per = hy / pop
    gap = per[..., 0] - per[..., -1]
    if max_cost_per_qaly is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            ok = (qalys > 0) & (np.asarray(cost, float) / qalys <= max_cost_per_qaly)
        gap = np.where(ok, gap, -np.inf)
    return gap


def objective_value(
    measure: str,
    aversion: float,
    max_cost_per_qaly: float | None,
    qalys: float,
    cost: float,
    base_hle: np.ndarray,
    population_q: np.ndarray,
    healthy_years_q: np.ndarray,
) -> float:
    """:func:`objective_batch` for one allocation."""
    return float(
        objective_batch(
            measure,
            aversion,
            max_cost_per_qaly,
            np.array([qalys]),
            np.array([cost]),
            base_hle,
            population_q,
            np.asarray(healthy_years_q, float)[None, :],
        )[0]
    )


def measures(
    g: Gains,
    econ: EconomicSettings,
    aversions: list[float],
    base: dict[str, np.ndarray],
    arm: dict[str, np.ndarray],
    population_q: np.ndarray,
) -> dict[str, float]:
    """Every efficiency and equity measure of one allocation in one replicate.

    ``base`` and ``arm``: :func:`expectancies` of the baseline in the first year (``base``,
    with ``base_eval``) and the evaluation year, as {'first', 'eval'} dicts flattened by the
    caller: keys le0/hle0/shares for the evaluation year, base_hle0 for the first year.
    """
    qalys, cost = float(g.qalys.sum()), float(g.cost.sum())
    out: dict[str, float] = {
        "qalys_gained": qalys,
        "healthy_years_gained": float(g.healthy_years_disc.sum()),
        "life_years_gained": float(g.life_years_disc.sum()),
        "healthy_years_gained_undiscounted": float(g.healthy_years.sum()),
        "cost": cost,
        "cost_undiscounted": g.cost_undiscounted,
        "participants": float(g.participants.sum()),
        "cost_per_qaly": cost / qalys if qalys != 0 else float("nan"),
        "cost_per_healthy_year": (
            cost / float(g.healthy_years_disc.sum())
            if g.healthy_years_disc.sum() != 0
            else float("nan")
        ),
    }
    for thr in econ.thresholds:
        out[f"nmb_{int(thr)}"] = thr * qalys - cost
        out[f"nhb_{int(thr)}"] = qalys - cost / thr if thr > 0 else float("nan")
    for name in ("le0", "hle0"):
        b, a = base[name], arm[name]
        out[f"{name}_gap_change"] = float((a[4] - a[0]) - (b[4] - b[0]))
        out[f"{name}_sii_change"] = float(M.sii(a, arm["shares"]) - M.sii(b, base["shares"]))
        out[f"{name}_rii_change"] = float(M.rii(a, arm["shares"]) - M.rii(b, base["shares"]))
    out["core20_share"] = core20_share(g.qalys)
    out["health_gap_reduction"] = gap_reduction(population_q, g.healthy_years)
    after = health_distribution(base["base_hle0"], population_q, g.healthy_years)
    out["health_sii_change"] = float(
        M.sii(after, population_q) - M.sii(base["base_hle0"], population_q)
    )
    for e in aversions:
        out[f"ede_change_{e:g}"] = ede_change(base["base_hle0"], population_q, g.healthy_years, e)
    return out


def core20_share(qalys_q: np.ndarray) -> float:
    """Share of the benefit going to quintile 1 (Core20): its QALYs gained over the sum of
    the quintiles' positive gains, 0 when quintile 1 loses. A share of a total that mixes
    gains and losses can leave [0, 1] (e.g. 101% when another quintile loses); this one
    cannot. Undefined (NaN) when no quintile gains. Equal to Q1 / total when every quintile
    gains (bit for bit)."""
    pos = np.maximum(qalys_q, 0.0)
    total = pos.sum()
    return float(pos[0] / total) if total > 0 else float("nan")


def pooled_share(shares: np.ndarray, tq: float) -> tuple[float, float, float, str]:
    """Core20 share over replicates: (mean, lo, hi, note). The mean of the replicates'
    shares (each in [0, 1], :func:`core20_share`) with a t interval (``tq`` the t quantile;
    NaN with one replicate) clipped to [0, 1], so it contains the mean; undefined (NaN, with
    the reason in ``note``) when a replicate had no QALY gain to share."""
    v = np.asarray(shares, float)
    if not np.all(np.isfinite(v)):
        return (float("nan"),) * 3 + ("undefined: no QALYs gained to share in some replicate",)
    mean = float(v.mean())
    if len(v) < 2 or not np.isfinite(tq):
        return (mean, float("nan"), float("nan"), "")
    half = tq * float(v.std(ddof=1)) / np.sqrt(len(v))
    return (mean, max(0.0, mean - half), min(1.0, mean + half), "")


def ranking_switches(
    ede_by_strategy: dict[str, np.ndarray], aversions: np.ndarray
) -> list[dict[str, object]]:
    """Aversions at which the order of strategies by EDE gain changes (on a fine grid):
    each switch gives the aversion and the order just after it."""
    names = list(ede_by_strategy)
    if len(names) < 2:
        return []
    values = np.vstack([ede_by_strategy[n] for n in names])
    order = [tuple(np.argsort(-values[:, i], kind="stable")) for i in range(values.shape[1])]
    out = []
    for i in range(1, len(order)):
        if order[i] != order[i - 1]:
            out.append({"aversion": float(aversions[i]), "order": [names[j] for j in order[i]]})
    return out
