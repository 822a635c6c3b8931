"""The yearly loop: (interventions, dynamics) -> kernel -> tallies."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from . import kernel as K
from .parameters import CellTables, ModelParams, build_cell_tables
from .population import Population, build_population, fit_to_population
from .rng import seed_key


class YearHook(Protocol):
    def __call__(self, t: int, pop: Population, tables: CellTables,
                 ctx: "RunContext") -> None: ...


@dataclass
class RunContext:
    """What a hook may read or change between years (quintile multipliers feed the kernel)."""

    mp: ModelParams
    seed: int
    unmet_mult_q: np.ndarray
    tallies: np.ndarray  # (horizon, N_CELL, N_STAT); rows before the current year are final


def prepare(mp: ModelParams, size: int, horizon: int, seed: int,
            births: bool = True, composition: np.ndarray | None = None
            ) -> tuple[CellTables, Population]:
    """Cell tables and the starting population with its normalisers (the costly set-up that a
    sweep does once and copies)."""
    tables = build_cell_tables(mp)
    pop = build_population(mp, tables, size, horizon, seed, births, composition)
    fit_to_population(tables, pop, mp)
    return tables, pop


@dataclass
class NormPath:
    """Cell normalisers used in each simulated year (horizon, N_CELL each).

    The baseline re-fits them every year from its own tallies, so that its age-specific
    mortality, incidence of long-term conditions and good-health prevalence stay on the
    calibrated targets however selection by death reshapes who is alive. Intervention arms
    replay the baseline's path: they differ from it only by their exposures.
    """

    mort: np.ndarray
    health_odds: np.ndarray
    ltc01: np.ndarray
    ltc12: np.ndarray

    @classmethod
    def empty(cls, horizon: int) -> "NormPath":
        return cls(*(np.zeros((horizon, K.N_CELL)) for _ in range(4)))

    def store(self, t: int, tables: CellTables) -> None:
        self.mort[t] = tables.mort_norm
        self.health_odds[t] = tables.health_odds
        self.ltc01[t] = tables.ltc_norm01
        self.ltc12[t] = tables.ltc_norm12

    def load(self, t: int, tables: CellTables) -> None:
        tables.mort_norm = self.mort[t].copy()
        tables.health_odds = self.health_odds[t].copy()
        tables.ltc_norm01 = self.ltc01[t].copy()
        tables.ltc_norm12 = self.ltc12[t].copy()


SHRINK = 10.0  # persons' weight given to the current value in sparse cells


def refit_norms(tables: CellTables, year: np.ndarray, person_weight: float) -> None:
    """Update normalisers from one year's tallies (in place), for use the next year.

    Mortality: mean relative risk per cell, recovered from the expected-hazard tally
    (sum of h = mx * M / norm). Long-term conditions: mean incidence multiplier among those
    at risk. Health: one Newton step on each cell's log odds towards its target prevalence.
    Sparse cells move towards the new value in proportion n / (n + SHRINK).
    """
    n = year[:, K.S_EXPO] / person_weight
    with np.errstate(divide="ignore", invalid="ignore"):
        m_mean = year[:, K.S_HAZ] / year[:, K.S_EXPO] * tables.mort_norm / tables.mx
        k = n / (n + SHRINK)
        tables.mort_norm = np.where(n > 0, k * m_mean + (1 - k) * tables.mort_norm,
                                    tables.mort_norm)
        for at_n, at_m, name in ((K.S_L0N, K.S_L0M, "ltc_norm01"),
                                 (K.S_L1N, K.S_L1M, "ltc_norm12")):
            na = year[:, at_n] / person_weight
            ka = na / (na + SHRINK)
            cur = getattr(tables, name)
            setattr(tables, name, np.where(na > 0, ka * year[:, at_m] / year[:, at_n]
                                           + (1 - ka) * cur, cur))
        p = year[:, K.S_PNOTGOOD] / year[:, K.S_EXPO]
        v = year[:, K.S_PVAR] / year[:, K.S_EXPO]
        step = (p - (1.0 - tables.good_target)) / np.maximum(v, 1e-6)
        step = np.where(n > 0, np.clip(k * step, -1.0, 1.0), 0.0)
    tables.health_odds = tables.health_odds * np.exp(-step)


def n_chunks_for(n: int) -> int:
    return max(1, math.ceil(n / K.CHUNK))


def simulate(mp: ModelParams, tables: CellTables, pop: Population, horizon: int, seed: int,
             hooks: list[YearHook] | None = None,
             progress: Callable[[int], None] | None = None,
             follow: NormPath | None = None, record: NormPath | None = None,
             track: bool = True) -> np.ndarray:
    """Run ``horizon`` years on ``pop`` (modified in place).

    Normalisers: with ``follow``, each year uses that path (intervention arms replay the
    baseline's); otherwise they are re-fitted each year from this run's tallies (``track``,
    the baseline) or held at their starting values. ``record`` receives the path used.

    Returns tallies (horizon, N_CELL, N_STAT): per simulated year and cell, persons alive at
    the start of the year (the exposure; each contributes one person-year of hazard), the sum
    of their hazards (expected deaths, per person-year), its squares, counted deaths, persons
    in good health and risk-factor counts, all weighted to real persons.
    """
    sk = seed_key(seed)
    n = pop.size
    chunks = np.zeros((n_chunks_for(n), K.N_CELL, K.N_STAT))
    out = np.zeros((horizon, K.N_CELL, K.N_STAT))
    ctx = RunContext(mp=mp, seed=seed, unmet_mult_q=np.ones(K.N_Q), tallies=out)
    s = mp.value
    for t in range(horizon):
        born = pop.birth_year == t
        pop.alive[born] = 1
        if follow is not None:
            follow.load(t, tables)
        if record is not None:
            record.store(t, tables)
        for hook in hooks or ():
            hook(t, pop, tables, ctx)
        K.step_year(
            t, sk, *pop.state_arrays(),
            tables.mx, tables.mort_norm, tables.health_odds, tables.bin_inc, tables.bin_rem,
            tables.smk_init, tables.smk_cess, tables.smk_relapse, tables.ltc_i01,
            tables.ltc_i12, tables.ltc_norm01, tables.ltc_norm12, tables.emp_exit,
            tables.emp_entry, tables.emp_norm, tables.inc_mu,
            tables.rr_mort, tables.rr_ltc, tables.or_health,
            float(mp.rr_jobloss_poor_health),
            float(s("income_sigma")), float(s("income_persistence")),
            float(s("replacement_ratio")), float(tables.poverty_line),
            int(s("working_age_max")), int(s("adult_age")), ctx.unmet_mult_q,
            chunks)
        # Summing blocks in chunk order keeps the result independent of the thread count.
        np.sum(chunks, axis=0, out=out[t])
        if follow is None and track:
            refit_norms(tables, out[t], float(pop.weight[0]))
        if progress is not None:
            progress(t + 1)
    return out
