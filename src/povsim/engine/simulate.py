"""The yearly loop: (interventions, dynamics) -> kernel -> tallies."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from povsim.engine import kernel as K
from povsim.inputs import layout as L
from povsim.inputs.parameters import ModelParams
from povsim.model.population import Population, build_population, fit_to_population
from povsim.model.registry import REGISTRY, Registry
from povsim.model.rng import seed_key
from povsim.model.tables import CellTables, build_cell_tables


class YearHook(Protocol):
    def __call__(self, t: int, pop: Population, tables: CellTables, ctx: RunContext) -> None: ...


@dataclass
class RunContext:
    """What a hook may read or change between years (quintile multipliers feed the kernel)."""

    mp: ModelParams
    seed: int
    unmet_mult_q: np.ndarray
    tallies: np.ndarray  # (horizon, N_CELL, n_stats); rows before the current year are final


def prepare(
    mp: ModelParams,
    size: int,
    horizon: int,
    seed: int,
    births: bool = True,
    composition: np.ndarray | None = None,
    registry: Registry = REGISTRY,
) -> tuple[CellTables, Population]:
    """Cell tables and the starting population with its normalisers (the costly set-up that a
    sweep does once and copies), for the states of ``registry``."""
    tables = build_cell_tables(mp, registry)
    pop = build_population(mp, tables, size, horizon, seed, births, composition)
    fit_to_population(tables, pop, mp)
    return tables, pop


def kernel_scalars(mp: ModelParams, tables: CellTables) -> K.Scalars:
    """The scalar parameters of the year step."""
    s = mp.value
    return K.Scalars(
        inc_sigma=float(s("income_sigma")),
        inc_rho=float(s("income_persistence")),
        replacement=float(s("replacement_ratio")),
        poverty_line=float(tables.poverty_line),
        rr_jobloss_poor=float(mp.rr_jobloss_poor_health),
        working_age_max=int(s("working_age_max")),
        adult_age=int(s("adult_age")),
    )


def n_chunks_for(n: int) -> int:
    return max(1, math.ceil(n / K.CHUNK))


def simulate(
    mp: ModelParams,
    tables: CellTables,
    pop: Population,
    horizon: int,
    seed: int,
    hooks: list[YearHook] | None = None,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Run ``horizon`` years on ``pop`` (modified in place).

    The cell normalisers in ``tables`` are those fitted to the starting population; they are
    the same in every arm, so arms differ only by their exposures.

    Returns tallies (horizon, N_CELL, n_stats), columns ``tables.registry.stats``: per
    simulated year and cell, persons alive at the start of the year (the exposure; each
    contributes one person-year of hazard), the sum of their hazards (expected deaths, per
    person-year), its squares, counted deaths, persons in good health and risk-factor counts,
    all weighted to real persons.
    """
    reg = tables.registry
    if pop.registry != reg:
        raise ValueError("population and cell tables were built from different registries")
    sk = seed_key(seed)
    n = pop.size
    chunks = np.zeros((n_chunks_for(n), L.N_CELL, reg.n_stats))
    out = np.zeros((horizon, L.N_CELL, reg.n_stats))
    ctx = RunContext(mp=mp, seed=seed, unmet_mult_q=np.ones(L.N_Q), tallies=out)
    scalars = kernel_scalars(mp, tables)
    layout = reg.kernel_layout()
    year = None
    for t in range(horizon):
        born = pop.birth_year == t
        pop.alive[born] = 1
        for hook in hooks or ():
            hook(t, pop, tables, ctx)
        # Built once; then only the capacity loop's multiplier of unmet need changes yearly.
        year = K.year_inputs(tables, layout, scalars, ctx.unmet_mult_q, reuse=year)
        K.step_year(t, sk, pop.kernel_arrays(), year, chunks)
        # Summing blocks in chunk order keeps the result independent of the thread count.
        np.sum(chunks, axis=0, out=out[t])
        if progress is not None:
            progress(t + 1)
    return out
