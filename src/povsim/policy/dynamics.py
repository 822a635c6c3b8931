"""System-dynamics loops updated once a year beside the microsimulation.

Capacity against demand: demand (need units: persons with a long-term condition plus persons
not in good health, real scale) comes from last year's tallies. Capacity is a stock that
adjusts towards demand with a delay (recruitment and attrition) and grows with investment
that arrives after a delay. When demand exceeds capacity, the incidence of unmet need rises,
first and most in the most deprived quintiles (inverse care law).

Community trust: a stock per quintile that grows with engagement (share of residents reached
by community interventions), erodes back to its baseline without it, and multiplies the
uptake of every other intervention in that quintile by T / T0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from povsim.inputs.parameters import ModelParams
from povsim.inputs.schema import Feedbacks
from povsim.model import registry as R


@dataclass
class Stocks:
    """Yearly values of the loops' stocks and their effects."""

    demand: np.ndarray
    capacity: np.ndarray
    access_ratio: np.ndarray
    unmet_mult: np.ndarray  # (horizon, 5)
    trust: np.ndarray  # (horizon, 5)
    uptake_mult: np.ndarray  # (horizon, 5)

    @classmethod
    def empty(cls, horizon: int) -> Stocks:
        return cls(
            np.full(horizon, np.nan),
            np.full(horizon, np.nan),
            np.ones(horizon),
            np.ones((horizon, 5)),
            np.full((horizon, 5), np.nan),
            np.ones((horizon, 5)),
        )


def demand_from_tallies(year: np.ndarray) -> float:
    """Need units in one year's tallies: persons with 1+ LTC plus persons in not-good health."""
    return float(year[:, R.S_LTC1P].sum() + (year[:, R.S_EXPO] - year[:, R.S_GOOD]).sum())


@dataclass
class Loops:
    feedbacks: Feedbacks
    mp: ModelParams
    horizon: int
    stocks: Stocks = field(init=False)
    _pipeline: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stocks = Stocks.empty(self.horizon)
        self._capacity: float | None = None
        self._trust = np.asarray(self.mp.value("trust_baseline"), float).copy()

    def before_year(
        self, t: int, last_year: np.ndarray | None, investment: float, engagement_q: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Advance the stocks to year t; return (unmet-need multiplier, uptake multiplier)
        by quintile for the year. ``last_year`` is year t-1's tallies (None at t = 0)."""
        cap = self.feedbacks.capacity
        unmet_mult = np.ones(5)
        if cap.enabled and last_year is not None:
            demand = demand_from_tallies(last_year)
            if self._capacity is None:
                self._capacity = demand  # capacity meets need at the start
            delay = (
                cap.investment_delay_years
                if cap.investment_delay_years is not None
                else int(self.mp.value("capacity_investment_delay_years"))
            )
            self._pipeline.append(investment)
            arriving = self._pipeline[-1 - delay] if len(self._pipeline) > delay else 0.0
            if cap.unconstrained:
                self._capacity = max(self._capacity, demand)
            ratio = min(1.0, self._capacity / demand) if demand > 0 else 1.0
            shortfall = 1.0 - ratio
            w = np.asarray(self.mp.value("inverse_care_weights"), float)
            unmet_mult = 1.0 + self.mp.value("capacity_unmet_sensitivity") * shortfall * w
            s = self.stocks
            s.demand[t], s.capacity[t], s.access_ratio[t] = demand, self._capacity, ratio
            s.unmet_mult[t] = unmet_mult
            # Recruitment closes the gap to demand over `adjustment_years`; investment adds.
            tau = (
                cap.adjustment_years
                if cap.adjustment_years is not None
                else float(self.mp.value("capacity_adjustment_years"))
            )
            self._capacity += (demand - self._capacity) / tau + arriving
        uptake_mult = np.ones(5)
        if self.feedbacks.trust.enabled:
            t0 = np.asarray(self.mp.value("trust_baseline"), float)
            if t > 0:
                g, e = self.mp.value("trust_growth"), self.mp.value("trust_erosion")
                self._trust = np.clip(
                    self._trust + g * engagement_q * (1 - self._trust) - e * (self._trust - t0),
                    0.0,
                    1.0,
                )
            uptake_mult = self._trust / t0
            self.stocks.trust[t] = self._trust
            self.stocks.uptake_mult[t] = uptake_mult
        return unmet_mult, uptake_mult
