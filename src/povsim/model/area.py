"""The area a scenario models: its parameters, its real population and per-100,000 figures.

England (``area: england``) keeps the national composition and calibration. A local area
(``area: local``) brings its composition CSV and, optionally, a local calibration fitted by
``povsim calibrate --scenario``; results are in the area's real persons, and every count,
cost and life-year is also given per 100,000 of its starting population.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from povsim.inputs.composition import CompositionError, read_composition
from povsim.inputs.parameters import ModelParams, load_params
from povsim.model.population import single_year_counts

if TYPE_CHECKING:
    from povsim.inputs.schema import Scenario

PER = 100_000
# Comparison measures that are counts (persons, life-years, deaths) or money: each also gets
# a `<measure>_per_100k` row. Levels (years of expectancy, prevalences) are per person already.
SCALED = (
    "participants",
    "healthy_years_gained",
    "healthy_years_gained_cumulative",
    "life_years_gained",
    "life_years_gained_cumulative",
    "deaths_averted",
    "deaths_averted_cumulative",
    "cost",
    "cost_cumulative",
)


def area_params(sc: Scenario) -> ModelParams:
    """Model parameters of the scenario's area: defaults + overrides, the area's composition
    and its local calibration. Raises :class:`povsim.inputs.schema.ScenarioError` (one line) when
    a file it names is bad, missing or stale."""
    from povsim.inputs.errors import ScenarioError
    from povsim.inputs.targets import read_local_fitted

    mp = load_params(sc.parameters)
    spec = sc.population
    if spec.area != "local":
        return mp
    where = sc.source_path or "<scenario>"
    try:
        mp = replace(mp, composition=read_composition(spec.composition, mp.life))
    except CompositionError as exc:
        raise ScenarioError(f"{where}: population.composition: {exc}") from None
    if sc.calibration is not None:
        try:
            local = read_local_fitted(
                sc.calibration.fitted_path(), sc.calibration.targets, spec.composition
            )
        except ValueError as exc:
            raise ScenarioError(f"{where}: calibration: {exc}") from None
        mp = replace(mp, fitted={**mp.fitted, "local": local})
    return mp


def real_population(mp: ModelParams) -> float:
    """Real persons at the start: the composition's total, else England mid-2019."""
    counts = mp.composition if mp.composition is not None else single_year_counts(mp)
    return float(np.sum(counts))


def add_per_100k(comparison: pd.DataFrame, real_total: float) -> pd.DataFrame:
    """Append ``<measure>_per_100k`` rows (value, se, lo, hi scaled by 100,000 / the area's
    real starting population) for every count and cost measure of a comparison frame."""
    if comparison is None or comparison.empty:
        return comparison
    f = comparison[comparison.measure.isin(SCALED)].copy()
    k = PER / real_total
    for col in ("value", "se", "lo", "hi"):
        f[col] = f[col] * k
    f["measure"] = f["measure"] + "_per_100k"
    return pd.concat([comparison, f], ignore_index=True)
