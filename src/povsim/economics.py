"""Economic and equity measures: discounting, ICER, net monetary benefit, Atkinson EDE.

Groundwork for `povsim compare` (issue 4). Pure functions of arrays; units in each docstring.
Default discount rates (HM Treasury Green Book: 3.5% a year for costs, 1.5% for health) live
in calibration/parameters.yaml with their sources: see :func:`default_rates`.
"""

from __future__ import annotations

import numpy as np



def default_rates() -> tuple[float, float]:
    """(costs, health) discount rates per year from calibration/parameters.yaml."""
    from .parameters import load_params

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


def atkinson_ede(values: np.ndarray, weights: np.ndarray | None = None,
                 aversion: float = 0.0) -> float:
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
