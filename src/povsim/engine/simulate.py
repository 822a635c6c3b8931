"""The yearly loop: (interventions, dynamics) -> kernel -> tallies."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numba import njit, prange

from povsim.engine import kernel as K
from povsim.engine.blocks import BlockTally
from povsim.inputs import layout as L
from povsim.inputs.parameters import ModelParams, calibration_params
from povsim.model import population as P
from povsim.model.population import (
    Population,
    build_population,
    cell_index,
    effect_product_np,
    fit_household_income,
    fit_to_population,
    income_effect_np,
    shrunk_cell_mean,
)
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
    sweep does once and copies), for the states of ``registry``.

    Counterfactual semantics: the tables, transitions and normalisers are those of the
    calibration (its relative risks); the scenario's relative risks are then swapped in for
    the kernel. A relative-risk override is therefore a what-if with the calibration kept
    (``rr.mortality.smoking_current: 1`` answers "if smoking did no harm"). With
    ``mp.refit`` the normalisers are refitted with the scenario's risks instead, which keeps
    every cell on its target and absorbs the override.
    """
    base = calibration_params(mp)
    tables = build_cell_tables(base, registry)
    # The starting income exposure is set by the income fit (built without it: one pass over
    # the population fewer).
    pop = build_population(base, tables, size, horizon, seed, births, composition, False)
    # A large population is fitted on a sample of its households (population.fit_sample);
    # then its own starting income exposure and frailty odds follow the fitted tables.
    fit = P.fit_sample(pop)
    fit_household_income(tables, fit, base)
    fit_to_population(tables, fit, base)
    fit_smoking_age(tables, fit, base)
    if fit is not pop:
        del fit
        P.set_initial_income_exposure(pop, tables, base)
    # A scenario that overrides no relative risk (every baseline-like run) has the very same
    # inputs as ``base``, hence the same tables: building them again cost a tenth of a small
    # run's start-up.
    if base is not mp and mp.rr != base.rr:
        scen = build_cell_tables(mp, registry)
        tables.rr_mort, tables.rr_ltc, tables.or_health = scen.rr_mort, scen.rr_ltc, scen.or_health
        tables.income_beta, tables.work_rr = scen.income_beta, scen.work_rr
        tables.smoke_mort_factor = scen.smoke_mort_factor
        tables.cold_mort_factor = scen.cold_mort_factor
    return tables, pop


def smoking_mort_factor(tables: CellTables, pop: Population, mp: ModelParams) -> np.ndarray | None:
    """Each person's age-specific smoking factor (1 unless an adult current smoker), or None
    when there is no age-specific table."""
    f = tables.smoke_mort_factor
    if np.all(f == 1.0):
        return None
    c = cell_index(pop)
    smoker = (pop.smoke == 1) & (pop.age >= mp.value("adult_age"))
    return np.where(smoker, f[c], 1.0)


def cold_mort_factor(tables: CellTables, pop: Population) -> np.ndarray | None:
    """Each person's age-specific cold-home factor (1 unless in a cold home), or None when
    there is no age-specific table."""
    f = tables.cold_mort_factor
    if np.all(f == 1.0):
        return None
    return np.where(pop.cold == 1, f[cell_index(pop)], 1.0)


def person_mort_factor(tables: CellTables, pop: Population, mp: ModelParams) -> np.ndarray | None:
    """Each person's product of age-specific mortality factors (smoking, cold home), or None
    when no exposure has an age-specific table: what the kernel applies (engine/kernel.py),
    for the normaliser fit and the decomposition."""
    parts = [
        f
        for f in (smoking_mort_factor(tables, pop, mp), cold_mort_factor(tables, pop))
        if f is not None
    ]
    if not parts:
        return None
    return np.prod(parts, axis=0) if len(parts) > 1 else parts[0]


def poverty_flags(tables: CellTables, pop: Population, mp: ModelParams) -> np.ndarray:
    """1.0 for each person below the poverty line this year: equivalised household income plus
    the person's share of the household's transfers (from the household pre-pass, as the
    kernel reads it; an output measure, not an exposure)."""
    return (P.equivalised_income(pop, tables, mp) < tables.poverty_line).astype(float)


def fit_smoking_age(tables: CellTables, pop: Population, mp: ModelParams) -> None:
    """Refit the mortality normaliser with the age-specific factors (smoking, cold home)
    included."""
    pm = person_mort_factor(tables, pop, mp)
    if pm is None:
        return
    live = pop.alive == 1
    c = cell_index(pop)[live]
    adult = (pop.age[live] >= mp.value("adult_age")).astype(float)
    m = effect_product_np(
        tables.rr_mort, pop.registry, adult, pop.smoke[live], pop.bins[live], pop.ltc[live]
    )
    m = m * income_effect_np(tables, pop.inc_exp[live], 1)
    tables.mort_norm = shrunk_cell_mean(m * pm[live], c)


def kernel_scalars(mp: ModelParams, tables: CellTables) -> K.Scalars:
    """The scalar parameters of the year step."""
    s = mp.value
    return K.Scalars(
        inc_sigma=float(s("income_sigma")),
        inc_rho=float(s("income_persistence")),
        replacement=float(s("replacement_ratio")),
        poverty_line=float(tables.poverty_line),
        working_age_max=int(s("working_age_max")),
        adult_age=int(s("adult_age")),
        inc_lag=float(s("income_exposure_persistence")),
        inc_ref=float(np.log(tables.median_income)),
        log_replacement=float(np.log(s("replacement_ratio"))),
    )


def n_chunks_for(n: int) -> int:
    """Kernel chunks for ``n`` slots: about one per ``K.CHUNK`` slots, rounded up to an even
    number (a multiple of 8 from 8 up) so that 2, 4 or 8 threads get equal numbers of chunks
    (the chunks, hence the tallies, depend on ``n`` alone, never on the thread count)."""
    k = max(1, math.ceil(n / K.CHUNK))
    if k >= 8:
        return 8 * math.ceil(k / 8)
    return k if k == 1 else 2 * math.ceil(k / 2)


def births_by_year(birth_year: np.ndarray, horizon: int) -> list[np.ndarray]:
    """The slots born in each simulated year ``0..horizon-1``, each year's in slot order
    (found once per run, instead of a comparison over every slot every year)."""
    if not horizon:
        return []
    order, ptr = _births_order(birth_year, horizon)
    return np.split(order, ptr[1:-1])


@njit(cache=True)
def _births_order(birth_year, horizon):
    """(the slots born in years ``0..horizon-1``, by year and in slot order within a year;
    ptr (horizon + 1,)): a counting sort, the permutation a stable argsort of the birth years
    gives (which took 1.5 s of a full-scale run)."""
    ptr = np.zeros(horizon + 1, np.int64)
    for i in range(birth_year.shape[0]):
        y = np.int64(birth_year[i])
        if 0 <= y < horizon:
            ptr[y + 1] += 1
    for y in range(horizon):
        ptr[y + 1] += ptr[y]
    nxt = ptr[:-1].copy()
    order = np.empty(ptr[horizon], np.int64)
    for i in range(birth_year.shape[0]):
        y = np.int64(birth_year[i])
        if 0 <= y < horizon:
            order[nxt[y]] = i
            nxt[y] += 1
    return order, ptr


@njit(parallel=True, cache=True)
def sum_chunks(chunks: np.ndarray, out: np.ndarray) -> None:
    """``out[...] = chunks.sum(axis=0)`` with the same doubles (each cell's sum runs over the
    chunks in order, first chunk first, as NumPy's reduction over the leading axis),
    cells in parallel."""
    n_chunks, n_cells, n_stats = chunks.shape
    for c in prange(n_cells):
        for s in range(n_stats):
            acc = chunks[0, c, s]
            for ch in range(1, n_chunks):
                acc += chunks[ch, c, s]
            out[c, s] = acc


def simulate(
    mp: ModelParams,
    tables: CellTables,
    pop: Population,
    horizon: int,
    seed: int,
    hooks: list[YearHook] | None = None,
    progress: Callable[[int], None] | None = None,
    blocks: BlockTally | None = None,
) -> np.ndarray:
    """Run ``horizon`` years on ``pop`` (modified in place).

    ``blocks``, if given, also records tallies by person-id block (within-run intervals;
    :mod:`povsim.engine.blocks`) without changing anything else.

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
    # Weights are fixed for a run (set at build; nothing changes them), so checked once.
    w_uniform = K.uniform_weight(pop.weight)
    born = births_by_year(pop.birth_year, horizon)
    for t in range(horizon):
        pop.alive[born[t]] = 1
        for hook in hooks or ():
            hook(t, pop, tables, ctx)
        # Built once; then only the capacity loop's multiplier of unmet need changes yearly.
        year = K.year_inputs(tables, layout, scalars, ctx.unmet_mult_q, reuse=year)
        if blocks is not None:
            blocks.before(pop.alive, pop.age, pop.sex, pop.quint)
        K.step_year(t, sk, pop.kernel_arrays(), year, chunks, w_uniform)
        if blocks is not None:
            blocks.after(t, pop.alive, pop.good, pop.weight, pop.pid)
        # Summing blocks in chunk order keeps the result independent of the thread count.
        sum_chunks(chunks, out[t])
        if progress is not None:
            progress(t + 1)
    return out
