"""Public API: scenario -> population -> simulate -> Results."""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

from . import __version__
from .parameters import ModelParams, load_params, national_mx
from .results import Results, tidy
from .simulate import YearHook, prepare, simulate

if TYPE_CHECKING:
    from .scenario import Scenario


def fallback_mx(mp: ModelParams) -> np.ndarray:
    """National rates (male, female, all) used where a group has nobody at some age."""
    nm = national_mx(mp)
    return np.vstack([nm, nm.mean(axis=0)])


def simulate_arm(mp: ModelParams, size: int, horizon: int, seed: int, start_year: int,
                 arm: str = "baseline", births: bool = True,
                 hooks: list[YearHook] | None = None,
                 progress: Callable[[int], None] | None = None
                 ) -> tuple[pd.DataFrame, np.ndarray, float]:
    """One arm: tidy frame, raw tallies (horizon, cells, stats) and the real persons each
    simulated person stands for."""
    tables, pop = prepare(mp, size, horizon, seed, births)
    tallies = simulate(mp, tables, pop, horizon, seed, hooks=hooks, progress=progress)
    weight = float(pop.weight[0])
    frame = tidy(tallies, start_year, arm, weight, fallback_mx(mp))
    return frame, tallies, weight


def simulate_frame(mp: ModelParams, size: int, years: int, seed: int,
                   start_year: int = 2019) -> pd.DataFrame:
    """Baseline tidy frame for ``years`` years (used by calibration)."""
    return simulate_arm(mp, size, years, seed, start_year)[0]


def run(scenario: "str | Path | Scenario", *, seed: int | None = None, size: int | None = None,
        progress: Callable[[int, int], None] | None = None) -> Results:
    """Run a scenario (a YAML path or a loaded :class:`Scenario`) and return its Results.

    ``seed`` and ``size`` override the scenario's. ``progress(done, total)`` is called after
    each simulated year. Same scenario and seed give identical numbers whatever the thread
    count.
    """
    from .scenario import Scenario, load_scenario

    overrides: dict[str, int] = {}
    if seed is not None:
        overrides["seed"] = seed
    if size is not None:
        overrides["population.size"] = size
    if isinstance(scenario, Scenario):
        sc = scenario.model_copy(update={"seed": seed if seed is not None else scenario.seed})
        if size is not None:
            sc = sc.model_copy(update={"population": sc.population.model_copy(
                update={"size": size})})
    else:
        sc = load_scenario(scenario, overrides)
    t0 = time.perf_counter()
    mp = load_params(sc.parameters)
    pop_spec = sc.population
    total = pop_spec.horizon
    cb = (lambda t: progress(t, total)) if progress else None
    frame, tallies, weight = simulate_arm(mp, pop_spec.size, pop_spec.horizon, sc.seed,
                                  pop_spec.start_year, births=pop_spec.births, progress=cb)
    elapsed = time.perf_counter() - t0
    person_years = float(tallies[..., 0].sum()) / weight
    manifest = {
        "povsim_version": __version__, "scenario": sc.name, "seed": sc.seed,
        "size": pop_spec.size, "horizon": pop_spec.horizon, "start_year": pop_spec.start_year,
        "python": platform.python_version(), "seconds": round(elapsed, 3),
        "simulated_person_years": int(person_years),
        "person_years_per_second": round(person_years / elapsed) if elapsed > 0 else None,
    }
    return Results(frame=frame, scenario=sc.model_dump(mode="json"), manifest=manifest,
                   tallies={"baseline": tallies})
