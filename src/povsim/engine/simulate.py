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
from povsim.model import registry as R
from povsim.model.population import Population, build_population, fit_to_population
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
    tallies: np.ndarray  # (horizon, N_CELL, N_STAT); rows before the current year are final


def prepare(
    mp: ModelParams,
    size: int,
    horizon: int,
    seed: int,
    births: bool = True,
    composition: np.ndarray | None = None,
) -> tuple[CellTables, Population]:
    """Cell tables and the starting population with its normalisers (the costly set-up that a
    sweep does once and copies)."""
    tables = build_cell_tables(mp)
    pop = build_population(mp, tables, size, horizon, seed, births, composition)
    fit_to_population(tables, pop, mp)
    return tables, pop


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

    Returns tallies (horizon, N_CELL, N_STAT): per simulated year and cell, persons alive at
    the start of the year (the exposure; each contributes one person-year of hazard), the sum
    of their hazards (expected deaths, per person-year), its squares, counted deaths, persons
    in good health and risk-factor counts, all weighted to real persons.
    """
    sk = seed_key(seed)
    n = pop.size
    chunks = np.zeros((n_chunks_for(n), L.N_CELL, R.N_STAT))
    out = np.zeros((horizon, L.N_CELL, R.N_STAT))
    ctx = RunContext(mp=mp, seed=seed, unmet_mult_q=np.ones(L.N_Q), tallies=out)
    s = mp.value
    for t in range(horizon):
        born = pop.birth_year == t
        pop.alive[born] = 1
        for hook in hooks or ():
            hook(t, pop, tables, ctx)
        K.step_year(
            t,
            sk,
            *pop.state_arrays(),
            tables.mx,
            tables.mort_norm,
            tables.health_odds,
            tables.bin_inc,
            tables.bin_rem,
            tables.smk_init,
            tables.smk_cess,
            tables.smk_relapse,
            tables.ltc_i01,
            tables.ltc_i12,
            tables.ltc_norm01,
            tables.ltc_norm12,
            tables.emp_exit,
            tables.emp_entry,
            tables.emp_norm,
            tables.inc_mu,
            tables.rr_mort,
            tables.rr_ltc,
            tables.or_health,
            float(mp.rr_jobloss_poor_health),
            float(s("income_sigma")),
            float(s("income_persistence")),
            float(s("replacement_ratio")),
            float(tables.poverty_line),
            int(s("working_age_max")),
            int(s("adult_age")),
            ctx.unmet_mult_q,
            chunks,
        )
        # Summing blocks in chunk order keeps the result independent of the thread count.
        np.sum(chunks, axis=0, out=out[t])
        if progress is not None:
            progress(t + 1)
    return out
