"""The area a scenario models: its parameters, its real population and per-100,000 figures.

England (``area: england``) keeps the national composition and calibration. A local area
(``area: local``) brings its composition CSV, a real place (``area: <name or code>``) the
shipped composition of ``calibration/places/``; either may add a local calibration fitted by
``povsim calibrate --scenario``; results are in the area's real persons, and every count,
cost and life-year is also given per 100,000 of its starting population.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from povsim.inputs.composition import (
    CompositionError,
    life_table_lx,
    read_composition,
    spread_over_ages,
)
from povsim.inputs.parameters import ModelParams, load_params
from povsim.inputs.places import place_composition_table
from povsim.inputs.targets import SHIPPED
from povsim.model.population import single_year_counts

if TYPE_CHECKING:
    from povsim.inputs.schema import PopulationSpec, Scenario

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
    if sc.calibration is not None and sc.calibration.refit:
        mp = replace(mp, refit=True)
    spec = sc.population
    if spec.area == "england":
        return mp
    where = sc.source_path or "<scenario>"
    try:
        mp = replace(mp, composition=area_composition(spec, mp.life))
    except CompositionError as exc:
        raise ScenarioError(f"{where}: population.composition: {exc}") from None
    targets, fitted = local_targets_ref(sc)
    if targets is None:
        return mp
    if targets.startswith(SHIPPED) and not Path(fitted).is_file():
        return mp  # a place's published targets apply once `povsim calibrate` has fitted them
    try:
        local = read_local_fitted(fitted, targets, composition_ref(spec))
    except ValueError as exc:
        raise ScenarioError(f"{where}: calibration: {exc}") from None
    return replace(mp, fitted={**mp.fitted, "local": local})


def local_targets_ref(sc: Scenario) -> tuple[str | None, str]:
    """(targets, fitted file) of the scenario's local calibration: its own
    ``calibration.targets`` CSV, else a named place's shipped targets (``shipped:<code>``,
    fitted beside the scenario as ``<scenario>.fitted.yaml`` unless ``calibration.fitted``
    says where), else (None, "")."""
    from povsim.inputs.place_targets import place_targets

    cal = sc.calibration
    if cal is not None and cal.targets:
        return cal.targets, cal.fitted_path()
    spec = sc.population
    if not spec.is_place() or place_targets(spec.area) is None:
        return None, ""
    if cal is not None and cal.fitted:
        fitted = cal.fitted
    elif sc.source_path:
        src = Path(sc.source_path)
        fitted = str(src.with_name(src.stem + ".fitted.yaml"))
    else:
        return None, ""
    return SHIPPED + spec.area, fitted


def composition_ref(spec: PopulationSpec) -> str:
    """What a local fit remembers the composition by: the CSV path, or the place's code."""
    return spec.area if spec.is_place() else str(spec.composition)


def area_composition(spec: PopulationSpec, life: pd.DataFrame) -> np.ndarray:
    """Real persons (2, 5, 101) (sex, quintile, single year of age) of a local area or a
    shipped place; raises :class:`CompositionError` for a bad composition CSV."""
    if spec.is_place():
        return place_composition(spec.area, life)
    assert spec.composition is not None  # the schema requires it for area: local
    return read_composition(spec.composition, life)


@lru_cache(maxsize=64)
def _place_counts(code: str, lx_key: bytes) -> np.ndarray:
    lx = np.frombuffer(lx_key).reshape(2, -1)
    out = spread_over_ages(place_composition_table(code), lx)
    out.setflags(write=False)
    return out


def place_composition(code: str, life: pd.DataFrame) -> np.ndarray:
    """A shipped place's persons (2, 5, 101): its 5-year bands spread over single years of
    age by life-table survivors, exactly as a composition CSV is."""
    return _place_counts(code, life_table_lx(life).tobytes())


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


def resolve_size(sc: Scenario) -> Scenario:
    """``sc`` with ``population.size: full`` replaced by the area's real population (England
    mid-2019: 56.3 million; a place or local composition: its own total), so each simulated
    person stands for one real person; other sizes unchanged."""
    from povsim.inputs.schema import FULL_SIZE

    spec = sc.population
    if spec.size != FULL_SIZE:
        return sc
    n = int(round(real_population(area_params(sc))))
    return sc.model_copy(update={"population": spec.model_copy(update={"size": n})})
