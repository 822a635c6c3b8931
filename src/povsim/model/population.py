"""Synthetic population of England as a struct of arrays, and the cell normalisers fitted to it.

Slots ``0..n_initial-1`` hold the starting population; the births of simulated year ``t`` sit
in a fixed block of slots after them, so every person has the same id (and the same random
draws) in every arm of a scenario whatever happens to anyone else.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numba import njit, prange
from scipy.special import expit

from povsim.inputs import layout as L
from povsim.inputs.layout import N_AGE, N_Q, SEXES
from povsim.inputs.parameters import ModelParams
from povsim.model import registry as R
from povsim.model.registry import B_ALCOHOL, B_COLD, B_INACTIVE, B_ISOLATED, B_OBESE, B_UNMET
from povsim.model.rng import (
    D_INIT_ALCOHOL,
    D_INIT_COLD,
    D_INIT_EMPLOYED,
    D_INIT_F1,
    D_INIT_F2,
    D_INIT_INACTIVE,
    D_INIT_ISOLATED,
    D_INIT_LTC,
    D_INIT_OBESE,
    D_INIT_SEX,
    D_INIT_SMOKE,
    D_INIT_UNMET,
    D_INIT_Z1,
    D_INIT_Z2,
    normal,
    person_key,
    seed_key,
    uniform,
    uniforms,
)
from povsim.model.tables import CellTables


@dataclass
class Population:
    """One array per attribute; index = person id. Units: age in years, income in £/year."""

    alive: np.ndarray  # uint8
    age: np.ndarray  # int16, 0-100 (100 = 100 and over)
    sex: np.ndarray  # uint8, 0 male 1 female
    quint: np.ndarray  # uint8, 0 = IMD quintile 1 (most deprived)
    smoke: np.ndarray  # uint8, 0 never 1 current 2 ex
    obese: np.ndarray  # uint8
    inactive: np.ndarray  # uint8
    alcohol: np.ndarray  # uint8, above 14 units a week
    cold: np.ndarray  # uint8, cold/damp/non-decent home
    isolated: np.ndarray  # uint8, often/always lonely
    unmet: np.ndarray  # uint8, unmet need for services
    employed: np.ndarray  # uint8, in work (children: lives with a worker)
    ltc: np.ndarray  # uint8, 0, 1, 2 (= 2 or more long-term conditions)
    good: np.ndarray  # uint8, self-rated health good/very good this year
    zinc: np.ndarray  # float64, income potential (standard normal, AR(1))
    frail: np.ndarray  # float64, persistent health frailty (standard normal)
    frail_or: np.ndarray  # float64, exp(frailty_sd * frail): odds multiplier of not-good health
    transfer: np.ndarray  # float64, £/year added to equivalised income by interventions
    mort_mult: np.ndarray  # float64, mortality multiplier set by interventions (1 = none)
    ltc_mult: np.ndarray  # float64, LTC-onset/progression multiplier from interventions
    weight: np.ndarray  # float64, real persons represented
    birth_year: np.ndarray  # int16, -1 for the starting population, else simulated year index
    n_initial: int
    births_per_year: int

    @property
    def size(self) -> int:
        return self.alive.shape[0]

    def copy(self) -> Population:
        return Population(
            **{
                f.name: (
                    getattr(self, f.name).copy()
                    if isinstance(getattr(self, f.name), np.ndarray)
                    else getattr(self, f.name)
                )
                for f in fields(self)
            }
        )

    def state_arrays(self) -> tuple[np.ndarray, ...]:
        """Arrays in the order :func:`povsim.engine.kernel.step_year` takes them."""
        return (
            self.alive,
            self.age,
            self.sex,
            self.quint,
            self.smoke,
            self.obese,
            self.inactive,
            self.alcohol,
            self.cold,
            self.isolated,
            self.unmet,
            self.employed,
            self.ltc,
            self.good,
            self.zinc,
            self.frail_or,
            self.transfer,
            self.mort_mult,
            self.ltc_mult,
            self.weight,
        )


def single_year_counts(mp: ModelParams) -> np.ndarray:
    """Real population (2, 101) by sex and single year of age: each band spread over its ages
    in proportion to life-table survivors lx (so 90-100 thins out as it should)."""
    out = np.zeros((2, L.N_AGE))
    for si, s in enumerate(SEXES):
        lx = mp.life[mp.life["sex"] == s].sort_values("age")["lx"].to_numpy(float)[: L.N_AGE]
        rows = mp.population[mp.population["sex"] == s]
        for r in rows.itertuples():
            ages = np.arange(int(r.age_min), min(int(r.age_max), 100) + 1)
            share = lx[ages] / lx[ages].sum()
            out[si, ages] += float(r.count) * share
    return out


def _largest_remainder_flat(expected: np.ndarray, total: int) -> np.ndarray:
    """Integers of ``expected``'s shape summing to ``total``: floors, then one more for the
    largest remainders over the whole array (ties broken by position, so deterministic)."""
    base = np.floor(expected).astype(np.int64)
    short = total - int(base.sum())
    if short > 0:
        order = np.argsort(-(expected - base).ravel(), kind="stable")
        base.flat[order[:short]] += 1
    return base


def _empty_population(n: int, n0: int, n_births: int, real_total: float) -> Population:
    return Population(
        alive=np.zeros(n, np.uint8),
        age=np.zeros(n, np.int16),
        sex=np.zeros(n, np.uint8),
        quint=np.zeros(n, np.uint8),
        smoke=np.zeros(n, np.uint8),
        obese=np.zeros(n, np.uint8),
        inactive=np.zeros(n, np.uint8),
        alcohol=np.zeros(n, np.uint8),
        cold=np.zeros(n, np.uint8),
        isolated=np.zeros(n, np.uint8),
        unmet=np.zeros(n, np.uint8),
        employed=np.zeros(n, np.uint8),
        ltc=np.zeros(n, np.uint8),
        good=np.ones(n, np.uint8),
        zinc=np.zeros(n),
        frail=np.zeros(n),
        frail_or=np.ones(n),
        transfer=np.zeros(n),
        mort_mult=np.ones(n),
        ltc_mult=np.ones(n),
        weight=np.full(n, real_total / n0),
        birth_year=np.full(n, -1, np.int16),
        n_initial=n0,
        births_per_year=n_births,
    )


def build_population(
    mp: ModelParams,
    tables: CellTables,
    size: int,
    horizon: int,
    seed: int,
    births: bool = True,
    composition: np.ndarray | None = None,
) -> Population:
    """Starting population of ``size`` persons plus birth slots for ``horizon`` years.

    ``composition`` (or else ``mp.composition``) gives real persons by sex, quintile and age
    (2, 5, 101), or by sex and age (2, 101) split into equal quintile fifths; without either,
    England's mid-2019 population in equal fifths. Simulated persons are allocated exactly
    (largest remainder) rather than sampled, and each stands for real total / ``size`` real
    persons, so the simulated size is a speed/precision choice only. Births each year equal
    the simulated number at age 0 (about 1.1% a year), by quintile in proportion to the
    simulated age-0 persons, sex drawn with the sex ratio at birth.
    """
    if composition is None:
        composition = mp.composition
    if composition is not None and composition.ndim == 3:
        return _build_by_quintile(mp, tables, size, horizon, seed, births, composition)
    counts = single_year_counts(mp) if composition is None else composition
    real_total = float(counts.sum())
    alloc = _largest_remainder_flat(counts / real_total * size, size)
    n0 = int(alloc.sum())
    n_births = int(round(alloc[:, 0].sum())) if births else 0
    n = n0 + n_births * horizon
    pop = _empty_population(n, n0, n_births, real_total)
    sexes = np.repeat(np.repeat([0, 1], L.N_AGE), alloc.ravel())
    ages = np.repeat(np.tile(np.arange(L.N_AGE), 2), alloc.ravel())
    pop.sex[:n0] = sexes
    pop.age[:n0] = ages
    # Cycling through quintiles over persons ordered by sex and age gives equal fifths within
    # every age-sex group (to one person) and overall.
    pop.quint[:n0] = np.arange(n0) % 5
    pop.alive[:n0] = 1
    sk = seed_key(seed)
    if n_births:
        ids = np.arange(n0, n)
        _birth_sexes(pop, mp, sk, ids)
        pop.quint[n0:] = (ids - n0) % 5
        pop.birth_year[n0:] = (ids - n0) // n_births
    _init_states(pop, tables, sk, n)
    return pop


def _birth_sexes(pop: Population, mp: ModelParams, sk: np.uint64, ids: np.ndarray) -> None:
    ratio = mp.value("sex_ratio_at_birth")
    u = uniforms(sk, ids.astype(np.int64), 0, D_INIT_SEX)
    pop.sex[ids] = np.where(u < ratio / (1.0 + ratio), 0, 1)


def _init_states(pop: Population, tables: CellTables, sk: np.uint64, n: int) -> None:
    init_persons(
        0,
        n,
        sk,
        pop.age,
        pop.sex,
        pop.quint,
        pop.smoke,
        pop.obese,
        pop.inactive,
        pop.alcohol,
        pop.cold,
        pop.isolated,
        pop.unmet,
        pop.employed,
        pop.ltc,
        pop.zinc,
        pop.frail,
        tables.p_smoke_cur,
        tables.p_smoke_ex,
        tables.p_bin,
        tables.p_emp,
        tables.p_ltc1p,
        tables.p_ltc2p,
    )


def _build_by_quintile(
    mp: ModelParams,
    tables: CellTables,
    size: int,
    horizon: int,
    seed: int,
    births: bool,
    composition: np.ndarray,
) -> Population:
    """As :func:`build_population` for a (2, 5, 101) composition: persons allocated by largest
    remainder over sex x quintile x age and laid out by sex, age, quintile; the births of
    each year split by quintile as the simulated persons at age 0."""
    real_total = float(composition.sum())
    alloc = _largest_remainder_flat(composition / real_total * size, size)  # (2, 5, 101)
    n0 = int(alloc.sum())
    by_age = alloc.transpose(0, 2, 1)  # (sex, age, quintile): persons ordered by sex, age
    births_q = alloc[:, :, 0].sum(axis=0) if births else np.zeros(5, np.int64)
    n_births = int(births_q.sum())
    n = n0 + n_births * horizon
    pop = _empty_population(n, n0, n_births, real_total)
    cells = by_age.ravel()
    pop.sex[:n0] = np.repeat(np.repeat([0, 1], L.N_AGE * 5), cells)
    pop.age[:n0] = np.repeat(np.tile(np.repeat(np.arange(L.N_AGE), 5), 2), cells)
    pop.quint[:n0] = np.repeat(np.tile(np.arange(5), 2 * L.N_AGE), cells)
    pop.alive[:n0] = 1
    sk = seed_key(seed)
    if n_births:
        ids = np.arange(n0, n)
        _birth_sexes(pop, mp, sk, ids)
        pop.quint[n0:] = np.tile(np.repeat(np.arange(5), births_q), horizon)
        pop.birth_year[n0:] = (ids - n0) // n_births
    _init_states(pop, tables, sk, n)
    return pop


# --- normalisers: the baseline reproduces each cell's target rates ----------------------------


def cell_index(pop: Population) -> np.ndarray:
    """Cell (sex, quintile, age) of every person slot."""
    return L.cell_of(pop.sex, pop.quint, pop.age)


def _band_index(cells: np.ndarray) -> np.ndarray:
    """(sex, quintile, 10-year age band) group of each cell."""
    sq, age = np.divmod(cells, L.N_AGE)
    return sq * 11 + np.minimum(age // 10, 10)


def shrunk_cell_mean(values: np.ndarray, cells: np.ndarray, k: float = 10.0) -> np.ndarray:
    """Mean of ``values`` per cell, shrunk towards the (sex, quintile, 10-year band) mean with
    weight ``k`` persons, so sparse cells of small test populations stay stable."""
    n = np.bincount(cells, minlength=L.N_CELL).astype(float)
    s = np.bincount(cells, values, minlength=L.N_CELL)
    band_of_cell = _band_index(np.arange(L.N_CELL))
    bn = np.bincount(band_of_cell, n, minlength=110)
    bs = np.bincount(band_of_cell, s, minlength=110)
    overall = s.sum() / max(n.sum(), 1.0)
    band_mean = np.where(bn > 0, bs / np.maximum(bn, 1.0), overall)
    return (s + k * band_mean[band_of_cell]) / (n + k)


def effect_product_np(
    rr: np.ndarray, adult, smoke, obese, inactive, alcohol, cold, isolated, pov, unmet, ltc
) -> np.ndarray:
    """Vectorised twin of the kernel's ``_effect_product`` (same exposures, same rules)."""
    lr = np.log(rr)
    x = np.zeros(smoke.shape[0])
    x += adult * (
        (smoke == 1) * lr[R.K_SMOKE_CUR]
        + (smoke == 2) * lr[R.K_SMOKE_EX]
        + obese * lr[R.K_OBESE]
        + inactive * lr[R.K_INACTIVE]
        + alcohol * lr[R.K_ALCOHOL]
    )
    x += cold * lr[R.K_COLD] + isolated * lr[R.K_ISOLATED] + pov * lr[R.K_POVERTY]
    x += unmet * lr[R.K_UNMET] + (ltc == 1) * lr[R.K_LTC1] + (ltc >= 2) * lr[R.K_LTC2]
    return np.exp(x)


def _newton_intercept(
    eta: np.ndarray, cells: np.ndarray, target: np.ndarray, alpha: np.ndarray, iterations: int
) -> np.ndarray:
    """Newton steps on per-group intercepts until the largest step is below 1e-10."""
    n = np.maximum(np.bincount(cells, minlength=alpha.size), 1)
    for _ in range(iterations):
        p = expit(alpha[cells] + eta)
        f = np.bincount(cells, p, minlength=alpha.size) / n - target
        fp = np.bincount(cells, p * (1 - p), minlength=alpha.size) / n
        step = f / np.maximum(fp, 1e-9)
        alpha = np.clip(alpha - step, -30, 30)
        if np.max(np.abs(step)) < 1e-10:
            break
    return alpha


def solve_intercepts(
    eta: np.ndarray, cells: np.ndarray, target: np.ndarray, iterations: int = 40
) -> np.ndarray:
    """Per-cell logit intercepts a_c with mean(expit(a_c + eta_i)) = target_c over the cell's
    persons (Newton). Cells with fewer than 10 persons borrow their 10-year band's persons."""
    n = np.bincount(cells, minlength=L.N_CELL)
    alpha = np.log(target / (1 - target)) - (
        np.bincount(cells, eta, minlength=L.N_CELL) / np.maximum(n, 1)
    )
    alpha = _newton_intercept(eta, cells, target, alpha, iterations)
    sparse = np.flatnonzero(n < 10)
    if sparse.size:
        # Each sparse cell is solved against its band's persons: stack one copy of the band's
        # eta per sparse cell and solve them all at once.
        bands = _band_index(cells)
        cell_band = _band_index(np.arange(L.N_CELL))
        order = np.argsort(bands, kind="stable")
        starts = np.searchsorted(bands[order], np.arange(111))
        etas, groups = [], []
        for j, c in enumerate(sparse):
            b = cell_band[c]
            members = order[starts[b] : starts[b + 1]]
            e = eta[members] if members.size else eta
            etas.append(e)
            groups.append(np.full(e.size, j))
        e_all, g_all = np.concatenate(etas), np.concatenate(groups)
        tg = target[sparse]
        a0 = np.log(tg / (1 - tg)) - np.bincount(g_all, e_all) / np.bincount(g_all)
        alpha[sparse] = _newton_intercept(e_all, g_all, tg, a0, iterations)
    return alpha


def fit_to_population(tables: CellTables, pop: Population, mp: ModelParams) -> None:
    """Fill the cell normalisers from the starting population (in place).

    Each cell's mean relative risk is divided out, so the starting population reproduces the
    target mortality, long-term-condition incidence and good-health prevalence of its cell
    exactly, while persons within a cell differ by their exposures (the usual population-
    attributable-fraction calibration of microsimulations).
    """
    live = pop.alive == 1
    c = cell_index(pop)[live]
    age = pop.age[live]
    wa_max = mp.value("working_age_max")
    y = np.exp(tables.inc_mu[c] + mp.value("income_sigma") * pop.zinc[live])
    y = (
        np.where((age <= wa_max) & (pop.employed[live] == 0), y * mp.value("replacement_ratio"), y)
        + pop.transfer[live]
    )
    pov = (y < tables.poverty_line).astype(float)
    adult = (age >= mp.value("adult_age")).astype(float)
    args = (
        adult,
        pop.smoke[live],
        pop.obese[live],
        pop.inactive[live],
        pop.alcohol[live],
        pop.cold[live],
        pop.isolated[live],
        pov,
        pop.unmet[live],
    )
    ltc = pop.ltc[live]
    tables.mort_norm = shrunk_cell_mean(effect_product_np(tables.rr_mort, *args, ltc), c)
    m_ltc = effect_product_np(tables.rr_ltc, *args, np.zeros_like(ltc))
    at0, at1 = ltc == 0, ltc == 1
    tables.ltc_norm01 = shrunk_cell_mean(m_ltc[at0], c[at0])
    tables.ltc_norm12 = shrunk_cell_mean(m_ltc[at1], c[at1])
    pop.frail_or[:] = np.exp(mp.value("frailty_sd") * pop.frail)
    eta = np.log(effect_product_np(tables.or_health, *args, ltc))
    eta += mp.value("frailty_sd") * pop.frail[live]
    target_not_good = np.clip(1.0 - tables.good_target, 1e-4, 1 - 1e-4)
    tables.health_odds = np.exp(solve_intercepts(eta, c, target_not_good))


@njit(parallel=True, cache=True)
def init_persons(
    lo,
    hi,
    seed_k,
    age,
    sex,
    quint,
    smoke,
    obese,
    inactive,
    alcohol,
    cold,
    isolated,
    unmet,
    employed,
    ltc,
    zinc,
    frail,
    p_smoke_cur,
    p_smoke_ex,
    p_bin,
    p_emp,
    p_ltc1p,
    p_ltc2p,
):
    """Draw the states of persons ``lo..hi-1`` from cell prevalences (age, sex, quintile set)."""
    for i in prange(lo, hi):
        c = (np.int64(sex[i]) * N_Q + np.int64(quint[i])) * N_AGE + np.int64(age[i])
        key = person_key(seed_k, i, 0)
        u = uniform(key, D_INIT_SMOKE)
        smoke[i] = 1 if u < p_smoke_cur[c] else (2 if u < p_smoke_cur[c] + p_smoke_ex[c] else 0)
        obese[i] = uniform(key, D_INIT_OBESE) < p_bin[B_OBESE, c]
        inactive[i] = uniform(key, D_INIT_INACTIVE) < p_bin[B_INACTIVE, c]
        alcohol[i] = uniform(key, D_INIT_ALCOHOL) < p_bin[B_ALCOHOL, c]
        cold[i] = uniform(key, D_INIT_COLD) < p_bin[B_COLD, c]
        isolated[i] = uniform(key, D_INIT_ISOLATED) < p_bin[B_ISOLATED, c]
        unmet[i] = uniform(key, D_INIT_UNMET) < p_bin[B_UNMET, c]
        employed[i] = uniform(key, D_INIT_EMPLOYED) < p_emp[c]
        u = uniform(key, D_INIT_LTC)
        ltc[i] = 2 if u < p_ltc2p[c] else (1 if u < p_ltc1p[c] else 0)
        zinc[i] = normal(key, D_INIT_Z1, D_INIT_Z2)
        frail[i] = normal(key, D_INIT_F1, D_INIT_F2)
