"""Calibration tables -> typed parameter arrays the kernel reads.

Everything numeric comes from ``calibration/`` (see ``calibration/FORMATS.md``); scenario
overrides replace scalars by name (``income_sigma``) or relative risks by path
(``rr.mortality.smoking_current``). Cell arrays are indexed ``c = (sex*5 + q)*101 + age``.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from povsim.inputs.calibration_files import (
    check_child_poverty,
    check_gradient,
    check_households,
    check_intervention_gradients,
    check_prevalence,
    check_rr_by_age,
)
from povsim.inputs.layout import SEXES

# Outcomes of the effect table (relative_risks.csv); which exposures the model has is the
# registry's business (povsim.model.registry), so every exposure row is read here.
OUTCOMES = ("mortality", "ltc_onset", "poor_health")
# Exits from paid work (relative_risks.csv): into unemployment / other inactivity
# (``job_loss``) and into inactivity through long-term sickness (``job_loss_sick``), by
# exposure (``poor_health``: not-good self-rated health; ``ltc1``: one or more long-term
# conditions). Other exposures of these outcomes are informational.
WORK_OUTCOMES = ("job_loss", "job_loss_sick")
WORK_EXPOSURES = ("poor_health", "ltc1")


def calibration_dir() -> Path:
    """The calibration folder: $POVSIM_CALIBRATION, the repo's, or the installed copy."""
    env = os.environ.get("POVSIM_CALIBRATION")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[3] / "calibration"
    if repo.is_dir():
        return repo
    return Path(__file__).resolve().parents[1] / "_calibration"


# libyaml's parser when PyYAML was built with it: the same safe constructor, so the same
# values, about 5x faster on the calibration's YAML (~0.06 s of every command's start-up).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> Any:
    """A calibration YAML file (trusted, shipped with povsim) as plain Python values; scenario
    files are read by :mod:`povsim.inputs.reading`, whose guarded loader reports errors."""
    return yaml.load(path.read_text(), Loader=_YAML_LOADER)  # noqa: S506 - a safe loader


def read_table(name: str, directory: Path | None = None) -> pd.DataFrame:
    path = (directory or calibration_dir()) / name
    return pd.read_csv(path, comment="#", skipinitialspace=True)


@lru_cache(maxsize=4)
def _load_raw(directory: str) -> dict[str, Any]:
    d = Path(directory)
    raw: dict[str, Any] = {
        "scalars": read_yaml(d / "parameters.yaml"),
        "life": read_table("life_tables_england_2017_2019.csv", d),
        "population": read_table("population_england_mid2019.csv", d),
        "prevalence": read_table("prevalence_by_age_sex.csv", d),
        "gradient": read_table("prevalence_gradient_by_quintile.csv", d),
        "rr": read_table("relative_risks.csv", d),
        "good_health": read_table("good_health_by_age.csv", d),
        "rr_by_age": read_table("relative_risks_by_age.csv", d)
        if (d / "relative_risks_by_age.csv").exists()
        else pd.DataFrame(columns=["exposure", "outcome", "sex", "age_min", "age_max", "rr"]),
    }
    raw["intervention_gradients"] = (
        read_table("intervention_gradients.csv", d)
        if (d / "intervention_gradients.csv").exists()
        else pd.DataFrame(columns=["programme", "applies_to", "field", "quintile", "relative"])
    )
    if len(raw["intervention_gradients"]):
        check_intervention_gradients(
            raw["intervention_gradients"], d / "intervention_gradients.csv"
        )
    check_prevalence(raw["prevalence"], d / "prevalence_by_age_sex.csv")
    check_gradient(raw["gradient"], d / "prevalence_gradient_by_quintile.csv")
    if len(raw["rr_by_age"]):
        check_rr_by_age(raw["rr_by_age"], d / "relative_risks_by_age.csv")
    raw["households"] = read_table("household_composition.csv", d)
    raw["households"]["quintile"] = raw["households"]["quintile"].astype(str)
    raw["households"]["category"] = raw["households"]["category"].astype(str)
    check_households(raw["households"], d / "household_composition.csv")
    raw["child_poverty"] = read_table("child_poverty_by_quintile.csv", d)
    check_child_poverty(raw["child_poverty"], d / "child_poverty_by_quintile.csv")
    fitted = d / "fitted.yaml"
    raw["fitted"] = read_yaml(fitted) if fitted.exists() else None
    return raw


@dataclass
class ModelParams:
    """All inputs of one model configuration (defaults plus a scenario's overrides)."""

    scalars: dict[str, Any]
    rr: dict[str, dict[str, float]]  # outcome -> exposure -> relative risk / odds ratio
    #                                   (an exposure without a row has none: 1)
    # Job-exit relative risks: outcome (WORK_OUTCOMES) -> exposure (WORK_EXPOSURES) -> RR
    rr_work: dict[str, dict[str, float]]
    fitted: dict[str, Any]
    life: pd.DataFrame
    population: pd.DataFrame
    prevalence: pd.DataFrame
    gradient: pd.DataFrame
    good_health: pd.DataFrame
    overrides: dict[str, Any] = field(default_factory=dict)
    # Age-specific relative risks (exposure, outcome, sex, age_min, age_max, rr), see
    # relative_risks_by_age.csv; they replace the all-age value of their exposure/outcome.
    rr_by_age: pd.DataFrame | None = None
    # The relative risks of the calibration (defaults, before overrides): the normalisers are
    # fitted with these unless ``refit`` (a what-if keeps the calibration; see README).
    rr_calibration: dict[str, dict[str, float]] | None = None
    refit: bool = False
    # Real persons (2, 5, 101) by sex, IMD quintile and age of a local area (see
    # composition.py); None = England's mid-2019 population in equal quintile fifths.
    composition: np.ndarray | None = None
    # Uptake and effect of interventions by quintile (intervention_gradients.csv): the
    # defaults an intervention block takes unless it sets uptake/effect_by_quintile.
    intervention_gradients: pd.DataFrame | None = None
    # Household composition (item, quintile, category, share; household_composition.csv) and
    # the child-poverty target by IMD quintile (child_poverty_by_quintile.csv, (5,) shares).
    households: pd.DataFrame | None = None
    child_poverty_target: np.ndarray | None = None

    def value(self, name: str) -> Any:
        return self.scalars[name]["value"]


def default_fitted() -> dict[str, Any]:
    """No gradient: used only before the first ``povsim calibrate``."""
    return {
        "beta_mortality": {s: [0.0] * 5 for s in SEXES},
        "gamma_health": {s: [0.0] * 5 for s in SEXES},
        "good_health_profile": {s: [3.0, -3.5] for s in SEXES},
    }


def parameter_space(directory: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every overridable parameter path with its default, bounds and unit (for validation)."""
    raw = _load_raw(str(directory or calibration_dir()))
    space: dict[str, dict[str, Any]] = {}
    for name, spec in raw["scalars"].items():
        space[name] = {
            "default": spec["value"],
            "min": spec.get("min"),
            "max": spec.get("max"),
            "unit": spec.get("unit", ""),
        }
    for row in raw["rr"].itertuples():
        space[f"rr.{row.outcome}.{row.exposure}"] = {
            "default": float(row.rr),
            "min": 0.01,
            "max": 100.0,
            "unit": "relative risk",
        }
    return space


def load_params(
    overrides: dict[str, Any] | None = None, directory: Path | None = None
) -> ModelParams:
    """Defaults from ``calibration/`` with ``overrides`` applied (already validated)."""
    raw = _load_raw(str(directory or calibration_dir()))
    scalars = copy.deepcopy(raw["scalars"])
    rr: dict[str, dict[str, float]] = {o: {} for o in OUTCOMES}
    rr_work: dict[str, dict[str, float]] = {
        o: dict.fromkeys(WORK_EXPOSURES, 1.0) for o in WORK_OUTCOMES
    }
    for row in raw["rr"].itertuples():
        if row.outcome in rr_work:
            if row.exposure in WORK_EXPOSURES:
                rr_work[row.outcome][row.exposure] = float(row.rr)
        elif row.outcome in rr:
            rr[row.outcome][row.exposure] = float(row.rr)
    rr_calibration = copy.deepcopy(rr)
    overrides = dict(overrides or {})
    for path, value in overrides.items():
        if path.startswith("rr."):
            _, outcome, exposure = path.split(".", 2)
            if outcome in rr_work:
                rr_work[outcome][exposure] = float(value)
            else:
                rr[outcome][exposure] = float(value)
        else:
            scalars[path]["value"] = value
    return ModelParams(
        scalars=scalars,
        rr=rr,
        rr_work=rr_work,
        fitted=copy.deepcopy(raw["fitted"] or default_fitted()),
        life=raw["life"],
        population=raw["population"],
        prevalence=raw["prevalence"],
        gradient=raw["gradient"],
        good_health=raw["good_health"],
        overrides=overrides,
        rr_by_age=raw["rr_by_age"],
        rr_calibration=rr_calibration,
        intervention_gradients=raw["intervention_gradients"],
        households=raw["households"],
        child_poverty_target=raw["child_poverty"].sort_values("quintile").value.to_numpy(float),
    )


def rr_overrides(mp: ModelParams) -> list[str]:
    """Relative-risk paths a scenario overrides (``rr.<outcome>.<exposure>``)."""
    return sorted(k for k in mp.overrides if k.startswith("rr.") and not k.startswith("rr.job"))


def calibration_params(mp: ModelParams) -> ModelParams:
    """``mp`` with the calibration's relative risks (what the normalisers are fitted with)."""
    from dataclasses import replace

    if mp.refit or mp.rr_calibration is None:
        return mp
    return replace(mp, rr=copy.deepcopy(mp.rr_calibration))
