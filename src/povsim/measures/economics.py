"""Economic and equity measures: utilities and QALYs, discounting, ICER, net monetary
benefit, Atkinson EDE.

Pure functions of arrays; units in each docstring. Defaults (HM Treasury Green Book rates of
3.5% a year for costs and 1.5% for health; NICE thresholds; Ara & Brazier utilities) live in
calibration/parameters.yaml with their sources.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from povsim.inputs import layout as L
from povsim.model import registry as R

if TYPE_CHECKING:
    from povsim.inputs.parameters import ModelParams
    from povsim.inputs.unit_costs import UnitCosts


def population_utility(mp: ModelParams) -> np.ndarray:
    """Mean EQ-5D index of the general population by sex and single year of age (2, 101),
    from the Ara & Brazier (2010) regression; ages below ``utility_min_age`` take its value."""
    v = mp.value
    age = np.maximum(np.arange(L.N_AGE, dtype=float), float(v("utility_min_age")))
    base = v("utility_intercept") + v("utility_age") * age + v("utility_age2") * age**2
    return np.vstack([base + v("utility_male"), base])


def state_utilities(mp: ModelParams) -> tuple[np.ndarray, np.ndarray]:
    """(good, not good) utilities by sex and age, each (2, 101).

    Not-good health is valued at ``utility_ratio_not_good`` times good health, and both are
    scaled so that the national mix of states (the calibrated share in good health at each
    age and sex) reproduces the population mean :func:`population_utility`.
    """
    from povsim.model.tables import national_good_health

    r = float(mp.value("utility_ratio_not_good"))
    pi = national_good_health(mp)
    good = population_utility(mp) / (pi + (1.0 - pi) * r)
    return good, r * good


def cell_utilities(mp: ModelParams) -> tuple[np.ndarray, np.ndarray]:
    """State utilities laid out per kernel cell (N_CELL,): cell = (sex*5 + q)*101 + age."""
    good, bad = state_utilities(mp)
    lay = lambda u: np.repeat(u[:, None, :], L.N_Q, axis=1).reshape(-1)  # noqa: E731
    return lay(good), lay(bad)


def qalys_by_cell(tallies: np.ndarray, utilities: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """QALYs lived each year in each cell (H, N_CELL), in real persons: persons in good health
    times the good-health utility plus the others times the not-good utility (each person
    alive at the start of a year counts one person-year)."""
    good, bad = utilities
    g = tallies[..., R.S_GOOD]
    return g * good + (tallies[..., R.S_EXPO] - g) * bad


def default_rates() -> tuple[float, float]:
    """(costs, health) discount rates per year from calibration/parameters.yaml."""
    from povsim.inputs.parameters import load_params

    mp = load_params()
    return float(mp.value("discount_rate_costs")), float(mp.value("discount_rate_health"))


def discount_factors(n_years: int, rate: float, mid_year: bool = False) -> np.ndarray:
    """Factors 1 / (1 + rate)^t for years t = 0 .. n_years-1 (year 0 undiscounted), or at
    t + 0.5 with ``mid_year`` (flows spread through each year)."""
    if rate <= -1.0:
        raise ValueError("discount rate must be above -100%")
    t = np.arange(n_years, dtype=float) + (0.5 if mid_year else 0.0)
    return (1.0 + rate) ** -t


def present_value(stream: np.ndarray, rate: float, mid_year: bool = False) -> float:
    """Present value of a yearly stream (first element = year 0), in the stream's units."""
    s = np.asarray(stream, dtype=float)
    return float(np.sum(s * discount_factors(s.shape[-1], rate, mid_year)))


def icer(delta_cost: float, delta_effect: float) -> float:
    """Incremental cost-effectiveness ratio (£ per unit of effect, e.g. per QALY); nan when
    the effect difference is zero."""
    return float(delta_cost / delta_effect) if delta_effect != 0 else float("nan")


def net_monetary_benefit(delta_effect: float, delta_cost: float, threshold: float) -> float:
    """NMB = threshold x effect gained - extra cost (£; threshold in £ per unit of effect)."""
    return float(threshold * delta_effect - delta_cost)


def atkinson_ede(
    values: np.ndarray, weights: np.ndarray | None = None, aversion: float = 0.0
) -> float:
    """Equally distributed equivalent of a distribution of health (e.g. HLE by quintile):
    the level that, shared equally, is valued the same as the actual distribution under
    Atkinson inequality aversion ``aversion`` (epsilon >= 0). Equals the weighted mean at 0
    and falls towards the minimum as aversion rises (for an unequal distribution).

    EDE = (sum w h^(1-e))^(1/(1-e)) for e != 1; exp(sum w log h) for e = 1 (weights sum to 1).
    """
    h = np.asarray(values, dtype=float)
    if np.any(h <= 0):
        raise ValueError("Atkinson EDE needs positive values")
    if aversion < 0:
        raise ValueError("inequality aversion must be >= 0")
    w = np.full(h.shape, 1.0 / h.size) if weights is None else np.asarray(weights, float)
    w = w / w.sum()
    if np.isclose(aversion, 1.0):
        return float(np.exp(np.sum(w * np.log(h))))
    # Scale by the maximum so large aversions do not overflow or underflow.
    top = h.max()
    x = h / top
    return float(top * np.sum(w * x ** (1.0 - aversion)) ** (1.0 / (1.0 - aversion)))


class EconomicSettings:
    """What turns simulated streams into economic measures: state utilities per cell,
    discount rates (per year) for costs and health, £-per-QALY thresholds and the unit costs
    of the perspectives (None: no costs by perspective)."""

    def __init__(
        self,
        utilities: tuple[np.ndarray, np.ndarray],
        rate_costs: float,
        rate_health: float,
        thresholds: tuple[float, ...],
        unit_costs: UnitCosts | None = None,
    ):
        self.utilities = utilities
        self.rate_costs = float(rate_costs)
        self.rate_health = float(rate_health)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.unit_costs = unit_costs

    @classmethod
    def from_params(cls, mp: ModelParams) -> EconomicSettings:
        """Defaults from calibration/parameters.yaml (or a scenario's overrides of them) and
        the unit costs of calibration/ (unit_costs.csv, nhs_spend_by_age_sex_quintile.csv)."""
        from povsim.inputs.unit_costs import load_unit_costs

        return cls(
            cell_utilities(mp),
            float(mp.value("discount_rate_costs")),
            float(mp.value("discount_rate_health")),
            tuple(mp.value("qaly_thresholds")),
            load_unit_costs(),
        )
