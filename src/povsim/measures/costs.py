"""Costs by perspective: who pays, who saves (docs/model.md "Costs by perspective").

Pure functions of the cell tallies (H, N_CELL, N_STAT; real persons) and an arm's programme
costs (GBP by year). Tally columns are read by name through the registry, and a column the
registry does not have (``inactive_sick`` before the work states exist) counts as zero.

Perspectives (:data:`PERSPECTIVES`), spend per year in the modelled population:

* ``nhs``: NHS spend. Each person-year in cell c (sex x quintile x age) costs
  ``S(c) w / wbar(c)`` with ``S(c)`` the cell average of Asaria (2017), ``w = 1 + r1 [one LTC]
  + r2 [2+ LTCs] + rp [not good health]`` and ``wbar(c)`` the mean of ``w`` in the cell over
  the baseline arm's years, so the baseline's spend per person in every cell is ``S(c)`` (no
  double counting of the age, sex and deprivation gradients the table already holds) and an
  arm that makes people healthier spends less.
* ``social_care``: adult social care, GBP per person-year in less than good health by age.
* ``local_government``: social care (councils pay it) plus programmes councils fund.
* ``exchequer``: out-of-work benefits (per working-age person not in work, plus a sickness
  element per person inactive through sickness) minus income tax and NICs on earnings.
* ``society``: NHS plus social care, plus every programme cost that is not a transfer. Taxes
  and benefits are transfers (Green Book 2018 para 6.7) and stay out; earnings gained
  (productivity) are reported apart (:attr:`PerspectiveContrast.earnings_gained`).

Programme cost borne by a perspective: an intervention's cost is borne by its ``funder``
(``payer``); ``local_government`` also bears what ``social_care`` funds; ``society`` bears
every cost that is not a transfer (a cash transfer costs its payer and benefits its
recipient: net zero for society). Entitlements an intervention's participants are paid by
another payer (benefits claimed after welfare advice: the Exchequer's, every year a claim is
held) are one more :class:`ProgrammeCost` of that payer, a transfer, split by :func:`bears`
like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from povsim.inputs import layout as L
from povsim.inputs.unit_costs import PERSPECTIVES, UnitCosts
from povsim.measures.economics import discount_factors
from povsim.model import registry as R

__all__ = [
    "PERSPECTIVES",
    "CostLevels",
    "PerspectiveContrast",
    "ProgrammeCost",
    "bears",
    "cost_levels",
    "nhs_spend_by_age",
    "stat",
]


def stat(tallies: np.ndarray, name: str, registry: R.Registry = R.REGISTRY) -> np.ndarray:
    """Tally column ``name`` (H, N_CELL), real persons; zeros if the registry (or these
    tallies) has no such column."""
    j = registry.stat(name) if name in registry.stats else -1
    if j < 0 or j >= tallies.shape[-1]:
        return np.zeros(tallies.shape[:-1])
    return tallies[..., j]


def by_quintile(per_cell: np.ndarray) -> np.ndarray:
    """(H, N_CELL) -> (H, N_Q), summed over sex and age."""
    h = per_cell.shape[0]
    return per_cell.reshape(h, L.N_SEX, L.N_Q, L.N_AGE).sum(axis=(1, 3))


def _per_cell(by_age: np.ndarray) -> np.ndarray:
    """(N_AGE,) -> (N_CELL,): the same value in every sex and quintile."""
    return np.tile(by_age, L.N_SEX * L.N_Q)


@dataclass(frozen=True)
class ProgrammeCost:
    """One intervention's cost (H,) GBP, who pays it (a perspective) and whether it is a
    transfer to the participants."""

    cost: np.ndarray
    payer: str
    transfer: bool


def bears(perspective: str, payer: str, transfer: bool) -> bool:
    """Whether ``perspective`` bears the cost of a programme paid by ``payer``: its payer
    does; local government also bears what social care pays; society bears every cost that is
    not a transfer."""
    return (
        perspective == payer
        or (perspective == "local_government" and payer == "social_care")
        or (perspective == "society" and not transfer)
    )


def borne(items: list[ProgrammeCost], h: int) -> dict[str, np.ndarray]:
    """Programme cost (H,) GBP borne by each perspective (module docstring)."""
    out = {p: np.zeros(h) for p in PERSPECTIVES}
    for it in items:
        for p in PERSPECTIVES:
            if bears(p, it.payer, it.transfer):
                out[p] = out[p] + it.cost
    return out


@dataclass(frozen=True)
class CostLevels:
    """One arm's cost streams, real persons and GBP per year: ``nhs_w`` (H, N_CELL) the sum
    of NHS weights w, ``persons`` (H, N_CELL); by quintile (H, N_Q): ``social_care``,
    ``exchequer`` (benefits paid minus taxes received), ``earnings``, ``inactive_sick``
    (persons); ``programme`` {perspective: (H,)} programme cost borne."""

    nhs_w: np.ndarray
    persons: np.ndarray
    social_care: np.ndarray
    exchequer: np.ndarray
    earnings: np.ndarray
    inactive_sick: np.ndarray
    programme: dict[str, np.ndarray]


def cost_levels(
    tallies: np.ndarray,
    uc: UnitCosts,
    programme: list[ProgrammeCost] | None = None,
    registry: R.Registry = R.REGISTRY,
) -> CostLevels:
    """Reduce tallies (H, N_CELL, N_STAT) to the cost streams of :class:`CostLevels`."""
    h = tallies.shape[0]
    n = stat(tallies, "exposure", registry)
    ltc1p = stat(tallies, "ltc1plus", registry)
    ltc2p = stat(tallies, "ltc2plus", registry)
    not_good = n - stat(tallies, "good", registry)
    employed = stat(tallies, "employed", registry)
    sick = stat(tallies, "inactive_sick", registry)
    w = (
        n
        + uc.ltc1_relative * (ltc1p - ltc2p)
        + uc.ltc2plus_relative * ltc2p
        + uc.poor_health_relative * not_good
    )
    working_age = _per_cell(uc.benefit_not_working) > 0
    earn_cell = np.repeat(uc.earnings[None, :, :], L.N_SEX, axis=0).reshape(-1)
    tax_cell = _per_cell(uc.tax_rate)
    earnings = employed * earn_cell
    exch = (
        np.where(working_age, n - employed, 0.0) * _per_cell(uc.benefit_not_working)
        + sick * _per_cell(uc.benefit_inactive_sick)
        - earnings * tax_cell
    )
    return CostLevels(
        nhs_w=w,
        persons=n,
        social_care=by_quintile(not_good * _per_cell(uc.social_care_not_good)),
        exchequer=by_quintile(exch),
        earnings=by_quintile(earnings),
        inactive_sick=by_quintile(sick),
        programme=borne(programme or [], h),
    )


def nhs_unit(base: CostLevels, uc: UnitCosts) -> np.ndarray:
    """GBP per unit of NHS weight in each cell (N_CELL,): S(c) / wbar(c), wbar pooled over the
    baseline's years; a cell nobody lives in takes w = 1 (its cost is multiplied by 0)."""
    w, n = base.nhs_w.sum(axis=0), base.persons.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        wbar = np.where(n > 0, w / n, 1.0)
    return uc.nhs_spend / wbar


def spend(levels: CostLevels, unit: np.ndarray) -> dict[str, np.ndarray]:
    """Spend by perspective (H, N_Q) GBP in the modelled population (programmes apart)."""
    nhs = by_quintile(levels.nhs_w * unit)
    return {
        "nhs": nhs,
        "social_care": levels.social_care,
        "local_government": levels.social_care,
        "exchequer": levels.exchequer,
        "society": nhs + levels.social_care,
    }


def nhs_spend_by_age(levels: CostLevels, unit: np.ndarray, year: int = 0) -> np.ndarray:
    """NHS spend per head by single age 0-85 (85 = 85+), persons, all quintiles, in one year
    (GBP per person-year): the check against the source's overall column."""
    h = levels.nhs_w.shape[0]
    cost = (levels.nhs_w * unit).reshape(h, L.N_SEX, L.N_Q, L.N_AGE)[year].sum(axis=(0, 1))
    n = levels.persons.reshape(h, L.N_SEX, L.N_Q, L.N_AGE)[year].sum(axis=(0, 1))
    cost = np.concatenate([cost[:85], [cost[85:].sum()]])
    n = np.concatenate([n[:85], [n[85:].sum()]])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, cost / n, np.nan)


@dataclass(frozen=True)
class PerspectiveContrast:
    """An arm against the baseline, by perspective. Yearly by quintile (H, N_Q), GBP:
    ``costs_avoided[p]`` (baseline spend minus the arm's), ``spend[p]`` (the arm's);
    ``programme[p]`` (H,) programme cost borne by p; ``earnings_gained`` (H, N_Q) GBP;
    ``inactive_sick_averted`` (H, N_Q) persons; ``rate_costs`` per year."""

    costs_avoided: dict[str, np.ndarray]
    spend: dict[str, np.ndarray]
    programme: dict[str, np.ndarray]
    earnings_gained: np.ndarray
    inactive_sick_averted: np.ndarray
    rate_costs: float

    @classmethod
    def between(
        cls, arm: CostLevels, base: CostLevels, uc: UnitCosts, rate_costs: float
    ) -> PerspectiveContrast:
        unit = nhs_unit(base, uc)
        sa, sb = spend(arm, unit), spend(base, unit)
        return cls(
            costs_avoided={p: sb[p] - sa[p] for p in PERSPECTIVES},
            spend=sa,
            programme=arm.programme,
            earnings_gained=arm.earnings - base.earnings,
            inactive_sick_averted=base.inactive_sick - arm.inactive_sick,
            rate_costs=float(rate_costs),
        )

    def net_cost(self, p: str) -> np.ndarray:
        """Programme cost borne by ``p`` minus the costs ``p`` avoids, by year (H,) GBP."""
        return self.programme[p] - self.costs_avoided[p].sum(axis=1)

    def totals(self) -> dict[str, float]:
        """Totals over the horizon, discounted to year 0 at ``rate_costs`` (GBP): for each
        perspective p ``costs_avoided_<p>_disc``, ``programme_cost_<p>_disc``,
        ``net_cost_<p>_disc`` and ``roi_<p>`` (costs avoided / programme cost borne, both
        discounted; NaN when p bears no programme cost); ``earnings_gained_disc`` (GBP) and
        ``inactive_sick_averted`` (person-years, undiscounted)."""
        d = discount_factors(self.costs_avoided["nhs"].shape[0], self.rate_costs)
        out: dict[str, float] = {}
        for p in PERSPECTIVES:
            avoided = float(np.sum(self.costs_avoided[p].sum(axis=1) * d))
            paid = float(np.sum(self.programme[p] * d))
            out[f"costs_avoided_{p}_disc"] = avoided
            out[f"programme_cost_{p}_disc"] = paid
            out[f"net_cost_{p}_disc"] = paid - avoided
            out[f"roi_{p}"] = avoided / paid if paid > 0 else float("nan")
        out["earnings_gained_disc"] = float(np.sum(self.earnings_gained.sum(axis=1) * d))
        out["inactive_sick_averted"] = float(self.inactive_sick_averted.sum())
        return out
