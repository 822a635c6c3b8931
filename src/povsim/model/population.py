"""Synthetic population of England as a struct of arrays, and the cell normalisers fitted to it.

Every person, including those born during the run, has a fixed slot (``birth_year`` says when
a birth slot comes alive) and a fixed draw id ``pid``, so every person has the same random
draws in every arm of a scenario whatever happens to anyone else. Slots are stored household
by household (births in their household), so the yearly passes read each household as one
contiguous run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import numpy as np
from numba import njit, prange
from scipy.special import expit, ndtri

from povsim.inputs import layout as L
from povsim.inputs.layout import N_AGE, N_Q, SEXES
from povsim.inputs.parameters import ModelParams
from povsim.model import households as HH
from povsim.model.registry import (
    D_INIT_HOUSEHOLD,
    D_INIT_SEX,
    FACTOR,
    REGISTRY,
    SMOKING,
    Registry,
)
from povsim.model.rng import normal, person_key, seed_key, uniform, uniforms
from povsim.model.tables import CellTables


@dataclass
class Population:
    """One array per attribute; index = person id. Units: age in years, income in £/year."""

    alive: np.ndarray  # uint8
    age: np.ndarray  # int16, 0-100 (100 = 100 and over)
    sex: np.ndarray  # uint8, 0 male 1 female
    quint: np.ndarray  # uint8, 0 = IMD quintile 1 (most deprived)
    smoke: np.ndarray  # uint8, 0 never 1 current 2 ex
    bins: np.ndarray  # uint8 (n, k): binary risk factors, one column per registry factor;
    #                   pop.<attr> is factor <attr>'s column (e.g. pop.cold, a view)
    work: np.ndarray  # uint8, work state (registry.WORK_STATES): 0 employed, 1 not in work
    #                   (other), 2 inactive through long-term sickness; under 16 the
    #                   household's (0 lives with someone in work, 1 workless); 1 above
    #                   working age (retired)
    ltc: np.ndarray  # uint8, 0, 1, 2 (= 2 or more long-term conditions)
    good: np.ndarray  # uint8, self-rated health good/very good this year
    zinc: np.ndarray  # float64, income potential (standard normal, AR(1))
    inc_exp: np.ndarray  # float64, log £/year: lagged income exposure L (NaN: not yet set)
    frail: np.ndarray | None  # float64, persistent health frailty (standard normal); None
    #                           in a large population after the fit (only fits read it)
    frail_or: np.ndarray  # float64, exp(frailty_sd * frail): odds multiplier of not-good health
    # The next four may be constant (a large population): a read-only view of one value
    # (stride 0, :func:`is_constant`); ``own_effects`` makes the three effects arrays before an
    # intervention writes them.
    transfer: np.ndarray  # float64, £/year paid to the person's household by interventions
    mort_mult: np.ndarray  # float64, mortality multiplier set by interventions (1 = none)
    ltc_mult: np.ndarray  # float64, LTC-onset/progression multiplier from interventions
    weight: np.ndarray  # float64, real persons represented
    birth_year: np.ndarray  # int16, -1 for the starting population, else simulated year index
    pid: np.ndarray  # int32, the person's draw id: every yearly and intervention draw is keyed
    #                  on it, not on the slot, so the storage order is free (see _populate)
    hh: np.ndarray  # int32, household of each slot (fixed; births placed at creation)
    hh_ptr: np.ndarray  # int64 (H + 1,): household h is slots hh_ptr[h]:hh_ptr[h + 1]
    hh_kind: np.ndarray  # int8 (H,): household type at creation (households.HOUSEHOLD_TYPES)
    n_initial: int
    births_per_year: int
    registry: Registry = REGISTRY  # the factors that are the columns of ``bins``

    @property
    def size(self) -> int:
        return self.alive.shape[0]

    def copy(self) -> Population:
        """A copy whose arrays are its own (constant views are shared: nothing writes them)."""
        return Population(
            **{
                f.name: (
                    getattr(self, f.name).copy()
                    if isinstance(getattr(self, f.name), np.ndarray)
                    and not is_constant(getattr(self, f.name))
                    else getattr(self, f.name)
                )
                for f in fields(self)
            }
        )

    def own_effects(self) -> None:
        """Make ``transfer``, ``mort_mult`` and ``ltc_mult`` writable arrays of their values
        if they are constant views (before interventions set them)."""
        for name in _EFFECTS:
            x = getattr(self, name)
            if is_constant(x):
                setattr(self, name, np.full(x.shape[0], x[0]))

    def reset_effects(self) -> None:
        """No transfer and multipliers of 1 for everyone (before a year's interventions);
        constant views hold these already."""
        for name, value in _EFFECTS.items():
            x = getattr(self, name)
            if not is_constant(x):
                x[:] = value

    def __getattr__(self, name: str) -> np.ndarray:
        """``pop.<attr>``: the (n,) column of ``bins`` of the factor whose ``attr`` is ``name``
        (a view: writing to it writes ``bins``), e.g. ``pop.cold[held] = 0``."""
        d = self.__dict__
        if "registry" in d and "bins" in d:
            j = d["registry"].attr_index(name)
            if j is not None:
                return d["bins"][:, j]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def factor(self, name: str) -> np.ndarray:
        """The (n,) column (a view) of binary factor ``name`` (its registry name)."""
        return self.bins[:, self.registry.index(name)]

    def kernel_arrays(self) -> PersonArrays:
        """The arrays the year step reads and writes (the arrays themselves, not copies)."""
        return PersonArrays(**{name: getattr(self, name) for name in PersonArrays._fields})


# The arrays interventions set each year and their values without any (population.reset_effects).
_EFFECTS = {"transfer": 0.0, "mort_mult": 1.0, "ltc_mult": 1.0}
# Above this many starting persons (a large population: more than any test or golden output
# uses) the set-up fits the cell normalisers on a fixed sample of households (fit_sample),
# keeps no frailty array after the fit, and stores the weights and the interventions' effects
# as one value each (constant views) until an intervention sets them: 32 bytes a slot less
# (2.4 GB for England at full scale). Smaller populations are built exactly as before.
LARGE_POPULATION = 2_000_000
# Starting persons (about) a large population's normalisers are fitted on: as many as in the
# 1M-person runs the benchmarks and the calibration use, whose fits are precise enough.
FIT_SAMPLE = 1_000_000


def is_constant(x: np.ndarray) -> bool:
    """True for a constant (n,) array stored as one value (a read-only view of stride 0)."""
    return x.ndim == 1 and x.shape[0] > 1 and x.strides[0] == 0


def _constant(value: float, n: int) -> np.ndarray:
    return np.broadcast_to(np.float64(value), (n,))


class PersonArrays(NamedTuple):
    """The person state the year step (:func:`povsim.engine.kernel.step_year`) reads and
    writes, index = slot (households stored contiguously: ``hh_ptr``). Units: age in years,
    income in £/year, weight in real persons."""

    alive: np.ndarray  # uint8
    age: np.ndarray  # int16, 0-100
    sex: np.ndarray  # uint8
    quint: np.ndarray  # uint8, 0 = IMD quintile 1
    smoke: np.ndarray  # uint8, 0 never 1 current 2 ex
    bins: np.ndarray  # uint8 (n, k): binary risk factors in registry order
    work: np.ndarray  # uint8, 0 employed, 1 not in work (other), 2 inactive long-term sick
    ltc: np.ndarray  # uint8, 0, 1, 2 (= 2 or more)
    good: np.ndarray  # uint8, written: self-rated health good this year
    zinc: np.ndarray  # float64, income potential (AR(1) standard normal)
    inc_exp: np.ndarray  # float64, lagged log income exposure (log £/year; NaN: new person)
    frail_or: np.ndarray  # float64, odds multiplier of not-good health
    transfer: np.ndarray  # float64, £/year paid to the person's household by interventions
    mort_mult: np.ndarray  # float64, mortality multiplier from interventions
    ltc_mult: np.ndarray  # float64, LTC-onset multiplier from interventions
    weight: np.ndarray  # float64, real persons represented
    pid: np.ndarray  # int32, draw id (Population.pid): the key of the person's draws
    hh_ptr: np.ndarray  # int64 (H + 1,): household h is slots hh_ptr[h]:hh_ptr[h + 1]


class Prevalences(NamedTuple):
    """Cell prevalences (flat, N_CELL) a person's states are drawn from at creation."""

    smoke_cur: np.ndarray
    smoke_ex: np.ndarray
    bins: np.ndarray  # (k, N_CELL), registry factor order
    employed: np.ndarray
    sick: np.ndarray  # inactive through long-term sickness
    ltc1p: np.ndarray
    ltc2p: np.ndarray


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


def _empty_population(
    n0: int,
    n_births: int,
    real_total: float,
    registry: Registry,
    alive: np.ndarray,
    sex: np.ndarray,
    age: np.ndarray,
    quint: np.ndarray,
    birth_year: np.ndarray,
    pid: np.ndarray,
    hh: np.ndarray,
    hh_ptr: np.ndarray,
    hh_kind: np.ndarray,
) -> Population:
    """A population of the given slots (in storage order) with its states not yet drawn;
    a large one's frailty lives in ``frail_or``'s memory until its odds replace it
    (:func:`_init_states`). The states :func:`init_persons` draws for every slot (smoking,
    binary factors, work, LTC, income potential, frailty) are left uninitialised: writing
    them twice cost a pass over 1.4 GB at full scale."""
    n = sex.shape[0]
    large = n0 > LARGE_POPULATION
    return Population(
        alive=alive,
        age=age,
        sex=sex,
        quint=quint,
        smoke=np.empty(n, np.uint8),
        bins=np.empty((n, registry.k), np.uint8),
        work=np.empty(n, np.uint8),
        ltc=np.empty(n, np.uint8),
        good=np.ones(n, np.uint8),
        zinc=np.empty(n),
        inc_exp=_filled(n, np.nan),
        frail=None if large else np.empty(n),
        frail_or=np.empty(n) if large else np.ones(n),
        transfer=_constant(0.0, n) if large else np.zeros(n),
        mort_mult=_constant(1.0, n) if large else np.ones(n),
        ltc_mult=_constant(1.0, n) if large else np.ones(n),
        weight=_constant(real_total / n0, n) if large else np.full(n, real_total / n0),
        birth_year=birth_year,
        pid=pid,
        hh=hh,
        hh_ptr=hh_ptr,
        hh_kind=hh_kind,
        n_initial=n0,
        births_per_year=n_births,
        registry=registry,
    )


def build_population(
    mp: ModelParams,
    tables: CellTables,
    size: int,
    horizon: int,
    seed: int,
    births: bool = True,
    composition: np.ndarray | None = None,
    income_exposure: bool = True,
) -> Population:
    """Starting population of ``size`` persons plus birth slots for ``horizon`` years.

    ``composition`` (or else ``mp.composition``) gives real persons by sex, quintile and age
    (2, 5, 101), or by sex and age (2, 101) split into equal quintile fifths; without either,
    England's mid-2019 population in equal fifths. Simulated persons are allocated exactly
    (largest remainder) rather than sampled, and each stands for real total / ``size`` real
    persons, so the simulated size is a speed/precision choice only. Births each year equal
    the simulated number at age 0 (about 1.1% a year), by quintile in proportion to the
    simulated age-0 persons, sex drawn with the sex ratio at birth. Its binary factors are
    those of ``tables.registry``. Without ``income_exposure`` the starting income exposure
    is left unset (NaN) for a fit that sets it (:func:`fit_household_income`).

    Above ``LARGE_POPULATION`` starting persons the weights and the interventions' effects
    are constants (:func:`is_constant`) and there is no frailty array (``frail`` is None;
    ``frail_or`` holds the odds multiplier from the start).
    """
    if composition is None:
        composition = mp.composition
    if composition is not None and composition.ndim == 3:
        return _build_by_quintile(
            mp, tables, size, horizon, seed, births, composition, income_exposure
        )
    counts = single_year_counts(mp) if composition is None else composition
    real_total = float(counts.sum())
    alloc = _largest_remainder_flat(counts / real_total * size, size)
    n0 = int(alloc.sum())
    n_births = int(round(alloc[:, 0].sum())) if births else 0
    n = n0 + n_births * horizon
    c = _Creation.empty(n)
    # Repeats built in the arrays' own dtypes: no int64 temporaries of the population's size
    # (450 MB each for England at full scale).
    c.sex[:n0] = np.repeat(np.repeat(np.array([0, 1], np.uint8), L.N_AGE), alloc.ravel())
    c.age[:n0] = np.repeat(np.tile(np.arange(L.N_AGE, dtype=np.int16), 2), alloc.ravel())
    # Cycling through quintiles over persons ordered by sex and age gives equal fifths within
    # every age-sex group (to one person) and overall.
    c.quint[:n0] = np.tile(np.arange(5, dtype=np.uint8), -(-n0 // 5))[:n0]
    sk = seed_key(seed)
    if n_births:
        ratio = mp.value("sex_ratio_at_birth")
        _birth_slots(
            c.sex, c.quint, c.birth_year, n0, n_births, ratio / (1.0 + ratio), sk, D_INIT_SEX
        )
    return _populate(c, mp, tables, sk, n0, n_births, real_total, income_exposure)


@njit(parallel=True, cache=True)
def _birth_slots(sex, quint, birth_year, n0, n_births, p_male, sk, d_sex):
    """Sex (male with probability ``p_male``, creation draw ``d_sex``), quintile (cycling) and
    birth year of the birth slots ``n0..``, ``n_births`` a year; both threads (each slot's
    values depend on its id alone)."""
    for i in prange(n0, sex.shape[0]):
        j = i - n0
        sex[i] = 0 if uniform(person_key(sk, np.int64(i), 0), d_sex) < p_male else 1
        quint[i] = j % 5
        birth_year[i] = j // n_births


@dataclass
class _Creation:
    """Sex, age, quintile and birth year of every slot by creation id (the starting
    population ``0..n0-1``, then the birth slots year by year): what households are formed
    from, before the slots are stored household by household."""

    sex: np.ndarray  # uint8
    age: np.ndarray  # int16
    quint: np.ndarray  # uint8
    birth_year: np.ndarray  # int16, -1 for the starting population

    @staticmethod
    def empty(n: int) -> _Creation:
        if n >= 2**31:
            raise ValueError(f"{n:,} person slots: more than the 2^31 - 1 draw ids (int32) allow")
        return _Creation(
            np.zeros(n, np.uint8),
            np.zeros(n, np.int16),
            np.zeros(n, np.uint8),
            np.full(n, -1, np.int16),
        )

    def free(self) -> None:
        self.sex = self.age = self.quint = self.birth_year = np.zeros(0)


def _populate(
    c: _Creation,
    mp: ModelParams,
    tables: CellTables,
    sk: np.uint64,
    n0: int,
    n_births: int,
    real_total: float,
    income_exposure: bool = True,
) -> Population:
    """The population of the slots ``c`` describes: households formed from the creation draws
    ``household_1..4`` (households.assign_households), every slot stored household by
    household, its states drawn from its creation id, the starting income exposure set.

    Stored household by household, births included (households are numbered by first
    member, and each keeps its members in creation order): the year step then reads and
    writes each household as one contiguous run. With births stored after the starting
    population, as before, a household's future children sat up to n slots away, and by
    year 50 the pre-pass cost twice what it did in year 1. The yearly and intervention
    draws are keyed on ``pid``: the slot each person had when the starting population alone
    was sorted by household and births followed it (the layout of povsim 0.x until this
    change), so every draw, hence every state, is what it was.

    The slots' order is settled before any state array exists, so states are drawn straight
    into their slots (no permutation of every array, and the set-up's peak memory holds
    only the creation arrays and the households' index arrays besides)."""
    table = mp.households
    if table is None:
        raise ValueError("no household composition table (calibration/household_composition.csv)")
    hh, hh_kind = HH.assign_households(
        c.age, c.sex, c.quint, n0, c.birth_year, sk, D_INIT_HOUSEHOLD, table
    )
    src, pid, hh_sorted, hh_ptr, hh_kind = HH.household_layout(hh, hh_kind, n0)
    del hh
    sex, age, quint, birth_year, alive = _gather_creation(src, c.sex, c.age, c.quint, c.birth_year)
    c.free()  # before the states' arrays are allocated (the set-up's peak memory)
    pop = _empty_population(
        n0,
        n_births,
        real_total,
        tables.registry,
        alive,
        sex,
        age,
        quint,
        birth_year,
        pid,
        hh_sorted,
        hh_ptr,
        hh_kind,
    )
    del alive, sex, age, quint, birth_year, pid, hh_sorted
    _init_states(pop, mp, tables, sk, src)
    del src
    if income_exposure:
        set_initial_income_exposure(pop, tables, mp)
    return pop


@njit(parallel=True, cache=True)
def _gather_creation(src, sex, age, quint, birth_year):
    """``x[src]`` of each creation array (sex, age, quintile, birth year: the slots in storage
    order) and ``alive`` (1 for the starting population, 0 for birth slots), in one parallel
    pass: four NumPy gathers and a comparison were 5 s of the set-up at full scale, serial."""
    n = src.shape[0]
    s = np.empty(n, np.uint8)
    a = np.empty(n, np.int16)
    q = np.empty(n, np.uint8)
    b = np.empty(n, np.int16)
    alive = np.empty(n, np.uint8)
    for i in prange(n):
        j = src[i]
        s[i] = sex[j]
        a[i] = age[j]
        q[i] = quint[j]
        by = birth_year[j]
        b[i] = by
        alive[i] = 1 if by < 0 else 0
    return s, a, q, b, alive


@njit(parallel=True, cache=True)
def _filled(n, value):
    """``np.full(n, value)`` (float64) written by both threads: the first touch of a large
    array's pages is most of its cost, and two threads share it."""
    out = np.empty(n)
    for i in prange(n):
        out[i] = value
    return out


def household_income(
    pop: Population,
    tables: CellTables,
    mp: ModelParams,
    with_transfer: bool = True,
    out: tuple[np.ndarray, np.ndarray] | None = None,
    zeros: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The household pre-pass (households.pool_income): (log equivalised household income
    before transfers, log £ per year; each person's share of the household's transfers, £ per
    year) of every living slot; slots not alive get their own income (log_income_own) and no
    transfer, or keep ``out``'s values. Without ``with_transfer`` the shares are 0 (``zeros``:
    an array of zeros of every slot to use for the transfers, for callers that repeat this)."""
    if out is None:
        log_out = log_income_own(pop, tables, mp)
        tr_out = np.zeros(pop.size)
    else:
        log_out, tr_out = out
    if with_transfer:
        transfer = pop.transfer
    else:
        transfer = zeros if zeros is not None else np.zeros(pop.size)
    HH.pool_income(
        pop.hh_ptr,
        pop.alive,
        pop.age,
        pop.sex,
        pop.quint,
        pop.zinc,
        pop.work,
        transfer,
        tables.inc_mu,
        tables.family_income_shift,
        float(mp.value("income_sigma")),
        float(np.log(mp.value("replacement_ratio"))),
        int(mp.value("working_age_max")),
        log_out,
        tr_out,
    )
    return log_out, tr_out


def equivalised_income(
    pop: Population, tables: CellTables, mp: ModelParams, with_transfer: bool = True
) -> np.ndarray:
    """Equivalised household income (£ per year) of every slot as the year step sees it
    (exp of the pre-pass's log income, plus the person's share of the household's transfers
    if ``with_transfer``)."""
    ly, tr = household_income(pop, tables, mp, with_transfer)
    return np.exp(ly) + tr if with_transfer else np.exp(ly)


def _birth_sexes(sex: np.ndarray, mp: ModelParams, sk: np.uint64, ids: np.ndarray) -> None:
    ratio = mp.value("sex_ratio_at_birth")
    u = uniforms(sk, ids.astype(np.int64), 0, D_INIT_SEX)
    sex[ids] = np.where(u < ratio / (1.0 + ratio), 0, 1)


def _init_states(
    pop: Population, mp: ModelParams, tables: CellTables, sk: np.uint64, ids: np.ndarray
) -> None:
    """Draw every slot's states from its creation id ``ids[slot]`` (cell already set). A
    large population keeps no frailty array: its frailty is drawn into ``frail_or``, which
    then becomes the odds multiplier in place (the same doubles as from a frailty array)."""
    prev = Prevalences(
        tables.p_smoke_cur,
        tables.p_smoke_ex,
        tables.p_bin,
        tables.p_emp,
        tables.p_sick,
        tables.p_ltc1p,
        tables.p_ltc2p,
    )
    frail = pop.frail if pop.frail is not None else pop.frail_or
    init_persons(0, pop.size, sk, ids, pop.kernel_arrays(), frail, prev, pop.registry.init_layout())
    if pop.frail is None:
        _frailty_odds(frail, pop.frail_or, mp)


def log_income_own(pop: Population, tables: CellTables, mp: ModelParams) -> np.ndarray:
    """Log income before transfers (log £/year) of every slot from its own cell, income
    potential and work state, as if it lived alone without the OECD scale (the earner's
    contribution the household pre-pass pools; NumPy)."""
    c = cell_index(pop)
    y = tables.inc_mu[c] + mp.value("income_sigma") * pop.zinc
    out = (pop.age <= mp.value("working_age_max")) & (pop.work != 0)
    return np.where(out, y + np.log(mp.value("replacement_ratio")), y)


def set_initial_income_exposure(pop: Population, tables: CellTables, mp: ModelParams) -> None:
    """The starting population's lagged income exposure: its income at the start (as if it
    had lasted), so the baseline starts at its steady state on average. Births keep NaN and
    take their first year's income in the kernel."""
    HH.start_log_income(
        pop.hh_ptr,
        pop.alive,
        pop.birth_year,
        pop.age,
        pop.sex,
        pop.quint,
        pop.zinc,
        pop.work,
        np.broadcast_to(np.zeros(1), (pop.size,)),
        tables.inc_mu,
        tables.family_income_shift,
        float(mp.value("income_sigma")),
        float(np.log(mp.value("replacement_ratio"))),
        int(mp.value("working_age_max")),
        pop.inc_exp,
    )


def income_effect_np(tables: CellTables, x: np.ndarray, outcome: int) -> np.ndarray:
    """exp(beta_o * (x - ref)) for lagged log income ``x`` (the kernel interpolates the same
    function in a fine table): ``outcome`` 0 not-good odds, 1 mortality, 2 LTC onset."""
    return np.exp(tables.income_beta[outcome] * (x - np.log(tables.median_income)))


def _build_by_quintile(
    mp: ModelParams,
    tables: CellTables,
    size: int,
    horizon: int,
    seed: int,
    births: bool,
    composition: np.ndarray,
    income_exposure: bool = True,
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
    c = _Creation.empty(n)
    cells = by_age.ravel()
    u8, i16 = np.uint8, np.int16  # the arrays' dtypes: no int64 temporaries of size n0
    c.sex[:n0] = np.repeat(np.repeat(np.array([0, 1], u8), L.N_AGE * 5), cells)
    c.age[:n0] = np.repeat(np.tile(np.repeat(np.arange(L.N_AGE, dtype=i16), 5), 2), cells)
    c.quint[:n0] = np.repeat(np.tile(np.arange(5, dtype=u8), 2 * L.N_AGE), cells)
    sk = seed_key(seed)
    if n_births:
        ids = np.arange(n0, n)
        _birth_sexes(c.sex, mp, sk, ids)
        c.quint[n0:] = np.tile(np.repeat(np.arange(5), births_q), horizon)
        c.birth_year[n0:] = (ids - n0) // n_births
        del ids
    return _populate(c, mp, tables, sk, n0, n_births, real_total, income_exposure)


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
    return _shrink(n, s, k)


def living_cell_mean(
    pop: Population, values_of: Callable[[slice, np.ndarray], np.ndarray], k: float = 10.0
) -> np.ndarray:
    """:func:`shrunk_cell_mean` of a value of every living person, computed block by block:
    ``values_of(block, living)`` gives the values of the living slots (bool mask ``living``)
    of the slots ``block``. The same doubles as one call over all living persons (each cell's
    sum runs over the persons in slot order, as ``np.bincount`` adds), without temporaries
    of every slot (GBs at full scale)."""
    n = np.zeros(L.N_CELL)
    s = np.zeros(L.N_CELL)
    for lo in range(0, pop.size, _BLOCK):
        block = slice(lo, lo + _BLOCK)
        living = pop.alive[block] == 1
        cells = L.cell_of(pop.sex[block][living], pop.quint[block][living], pop.age[block][living])
        _add_in_order(cells, values_of(block, living), n, s)
    return _shrink(n, s, k)


def living_weight_by_quintile(pop: Population) -> np.ndarray:
    """Real persons alive by quintile (5,): ``np.bincount(quint[living], weight[living])``
    block by block (the same doubles, without temporaries of every slot)."""
    n = np.zeros(L.N_Q)
    s = np.zeros(L.N_Q)
    for lo in range(0, pop.size, _BLOCK):
        block = slice(lo, lo + _BLOCK)
        living = pop.alive[block] == 1
        _add_in_order(pop.quint[block][living], pop.weight[block][living], n, s)
    return s


@njit(cache=True)
def _add_in_order(cells, values, n, s):
    """``n[c] += 1`` and ``s[c] += value`` for each person in order (np.bincount's sums)."""
    for i in range(cells.shape[0]):
        n[cells[i]] += 1.0
        s[cells[i]] += values[i]


def _shrink(n: np.ndarray, s: np.ndarray, k: float) -> np.ndarray:
    """Per-cell means ``s / n`` shrunk towards the band means (:func:`shrunk_cell_mean`)."""
    band_of_cell = _band_index(np.arange(L.N_CELL))
    bn = np.bincount(band_of_cell, n, minlength=110)
    bs = np.bincount(band_of_cell, s, minlength=110)
    overall = s.sum() / max(n.sum(), 1.0)
    band_mean = np.where(bn > 0, bs / np.maximum(bn, 1.0), overall)
    return (s + k * band_mean[band_of_cell]) / (n + k)


def effect_product_np(
    rr: np.ndarray,
    registry: Registry,
    adult: np.ndarray,
    smoke: np.ndarray,
    bins: np.ndarray,
    ltc: np.ndarray,
) -> np.ndarray:
    """Product of effects ``rr`` (registry exposure order) per person, as exp of a sum of log
    effects, with the persons' exposures by the kernel's rules (adult-only effects count where
    ``adult`` is 1). The log effects are summed in ``registry.fit_groups``, each group left to
    right, as the fitted normalisers always have been (a different grouping rounds
    differently)."""
    lr = np.log(rr)
    x = np.zeros(smoke.shape[0])
    for group in registry.fit_groups:
        s = None
        for e in group:
            ex = registry.exposures[e]
            if ex.kind == SMOKING:
                term = (smoke == ex.arg) * lr[e]
            elif ex.kind == FACTOR:
                term = bins[:, ex.arg] * lr[e]
            else:  # LTC: 1, or 2 meaning 2 or more
                term = (ltc == ex.arg if ex.arg < 2 else ltc >= ex.arg) * lr[e]
            s = term if s is None else s + term
        assert s is not None  # groups are never empty
        x += adult * s if registry.exposures[group[0]].adult_only else s
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


def fit_household_income(
    tables: CellTables, pop: Population, mp: ModelParams, iterations: int = 60
) -> np.ndarray:
    """Fit the income locations to households (in place): ``tables.inc_mu`` gains a log shift
    per (sex, quintile, 10-year age band) so that poverty of household income among persons
    aged 16+ in each group is the group's target (``tables.p_pov``), and
    ``tables.family_income_shift`` (5,) a log shift of earners living with a dependent child so
    that poverty among children 0-15 in each quintile is ``mp.child_poverty_target``.

    Before households every person's income was drawn to hit its cell's target directly;
    pooling and the OECD scale move those shares (couples are richer per head, lone parents
    and large families poorer), and children's poverty now follows from their households, so
    both are refitted to the starting population (damped probit steps, as the other
    normalisers are fitted to it). The family shift stands for what person-level draws do not
    carry, chiefly child-related benefits and tax credits. Returns the child-poverty share by
    quintile reached (5,), for the fit report."""
    live = pop.alive == 1
    c = cell_index(pop)[live]
    age = pop.age[live]
    q = pop.quint[live].astype(np.int64)
    line = tables.poverty_line
    adult = age >= HH.EARNER_AGE
    child = age <= HH.CHILD_MAX
    band_of_cell = _band_index(np.arange(L.N_CELL))
    grp = band_of_cell[c]
    n_adult = np.bincount(grp[adult], minlength=110)
    target_g = np.bincount(grp[adult], tables.p_pov[c][adult], minlength=110) / np.maximum(
        n_adult, 1
    )
    n_child = np.bincount(q[child], minlength=L.N_Q)
    target_q = (
        np.asarray(mp.child_poverty_target, float)
        if mp.child_poverty_target is not None
        else np.bincount(q[child], tables.p_pov[c][child], minlength=L.N_Q) / np.maximum(n_child, 1)
    )
    base = tables.inc_mu.copy()
    shift = np.zeros(110)
    fam = np.zeros(L.N_Q)
    step_size = 0.8 * float(mp.value("income_sigma"))
    clip = lambda p: np.clip(p, 1e-3, 1 - 1e-3)  # noqa: E731
    obs_q = np.zeros(L.N_Q)
    # Only living persons enter the fit, so the pre-pass writes into reused arrays (slots not
    # alive keep zeros) rather than starting from everyone's own income each iteration; the
    # slots and groups of the adults and children are found once, not every iteration.
    log_buf, tr_buf, no_transfer = np.zeros(pop.size), np.zeros(pop.size), np.zeros(pop.size)
    live_idx = np.flatnonzero(live)
    adult_idx, child_idx = live_idx[adult], live_idx[child]
    grp_adult, q_child = grp[adult], q[child]
    for _ in range(iterations):
        tables.inc_mu = base + shift[band_of_cell]
        tables.family_income_shift = fam.copy()
        household_income(
            pop, tables, mp, with_transfer=False, out=(log_buf, tr_buf), zeros=no_transfer
        )
        pov_adult = np.exp(log_buf[adult_idx]) < line
        pov_child = np.exp(log_buf[child_idx]) < line
        obs_g = np.bincount(grp_adult, pov_adult, minlength=110) / np.maximum(n_adult, 1)
        obs_q = np.bincount(q_child, pov_child, minlength=L.N_Q) / np.maximum(n_child, 1)
        d_g = np.where(n_adult > 0, ndtri(clip(obs_g)) - ndtri(clip(target_g)), 0.0)
        d_q = np.where(n_child > 0, ndtri(clip(obs_q)) - ndtri(clip(target_q)), 0.0)
        shift += step_size * d_g
        fam += step_size * d_q
        if max(np.abs(d_g).max(), np.abs(d_q).max()) < 1e-3:
            break
    tables.inc_mu = base + shift[band_of_cell]
    tables.family_income_shift = fam
    # The starting exposure is the income at the start, which the fit has just moved.
    set_initial_income_exposure(pop, tables, mp)
    return obs_q


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
    # The lagged income exposure the kernel will read in the first year (starting persons:
    # their household's income at the start, with any transfer already set).
    ly, tr = household_income(pop, tables, mp)
    y, tr = ly[live], tr[live]
    y = np.where(tr != 0.0, np.log(np.exp(y) + tr), y)
    adult = (age >= mp.value("adult_age")).astype(float)
    args = (pop.registry, adult, pop.smoke[live], pop.bins[live])
    ltc = pop.ltc[live]
    m_inc = income_effect_np(tables, y, 1)
    tables.mort_norm = shrunk_cell_mean(effect_product_np(tables.rr_mort, *args, ltc) * m_inc, c)
    m_ltc = effect_product_np(tables.rr_ltc, *args, np.zeros_like(ltc)) * income_effect_np(
        tables, y, 2
    )
    at0, at1 = ltc == 0, ltc == 1
    tables.ltc_norm01 = shrunk_cell_mean(m_ltc[at0], c[at0])
    tables.ltc_norm12 = shrunk_cell_mean(m_ltc[at1], c[at1])
    set_frailty_odds(pop, mp)
    eta = np.log(effect_product_np(tables.or_health, *args, ltc))
    eta += tables.income_beta[0] * (y - np.log(tables.median_income))
    # A large population (its fit sample) has the odds multiplier only: its log is the same
    # term to the last bit or so.
    eta += (
        mp.value("frailty_sd") * pop.frail[live]
        if pop.frail is not None
        else np.log(pop.frail_or[live])
    )
    target_not_good = np.clip(1.0 - tables.good_target, 1e-4, 1 - 1e-4)
    tables.health_odds = np.exp(solve_intercepts(eta, c, target_not_good))


def set_frailty_odds(pop: Population, mp: ModelParams) -> None:
    """``frail_or = exp(frailty_sd * frail)``, block by block (the same doubles as one NumPy
    expression over the whole array, without its two temporaries of every slot)."""
    if pop.frail is not None:  # a large population's odds are set at its creation
        _frailty_odds(pop.frail, pop.frail_or, mp)


def _frailty_odds(frail: np.ndarray, out: np.ndarray, mp: ModelParams) -> None:
    """``out = exp(frailty_sd * frail)`` block by block (``out`` may be ``frail``)."""
    sd = mp.value("frailty_sd")
    for lo in range(0, frail.shape[0], _BLOCK):
        x = out[lo : lo + _BLOCK]
        np.multiply(sd, frail[lo : lo + _BLOCK], out=x)
        np.exp(x, out=x)


# Key of the households' draws that pick fit_sample's households (any fixed value).
_SAMPLE_KEY = seed_key(20261201)
# Slots per block of the set-up's elementwise passes over the population.
_BLOCK = 1 << 20


def persons_of(pop: Population, idx: np.ndarray) -> Population:
    """The slots ``idx`` as a population of their own, for per-person measures on a subset
    (their states; not their households: ``hh_ptr`` is empty, so the year step refuses it)."""
    out: dict[str, Any] = {}
    for f in fields(pop):
        x = getattr(pop, f.name)
        per_slot = isinstance(x, np.ndarray) and x.shape[:1] == (pop.size,)
        out[f.name] = np.ascontiguousarray(x[idx]) if per_slot else x
    out["hh_ptr"] = np.zeros(1, np.int64)
    out["hh_kind"] = np.zeros(0, np.int8)
    return Population(**out)


def fit_sample(pop: Population, persons: int | None = None) -> Population:
    """The population the cell normalisers are fitted on: ``pop`` itself up to
    ``LARGE_POPULATION`` starting persons; above (or with ``persons`` given), a copy of a
    fixed pseudo-random sample of households, each kept with probability ``1 / k``, ``k =
    ceil(n_initial / persons)`` (``persons`` defaults to ``FIT_SAMPLE``: about that many
    starting persons; ``pop`` itself when ``k`` is 1), whole
    households with their birth slots. The fits read each person's household income, so
    households stay whole. Not every k-th household: households are numbered by first
    member, whose quintiles cycle with period 5 over the creation order, so a systematic
    sample with k = 5 kept mostly one quintile (measured). A fit on 56M persons
    would take minutes and several GB of temporaries; the sample's normalisers differ from
    the full population's by sampling error (docs/model.md, tests/test_fullscale.py)."""
    if persons is None and pop.n_initial <= LARGE_POPULATION:
        return pop
    k = -(-pop.n_initial // (FIT_SAMPLE if persons is None else persons))
    if k <= 1:
        return pop
    ptr = pop.hh_ptr
    n_h = ptr.shape[0] - 1
    # A hash of the household number (the draw of "person" h under a fixed key): the same
    # sample for every seed and arm.
    hsel = np.flatnonzero(uniforms(_SAMPLE_KEY, np.arange(n_h), 0, 0) < 1.0 / k)
    sizes = ptr[hsel + 1] - ptr[hsel]
    new_ptr = np.zeros(hsel.size + 1, np.int64)
    np.cumsum(sizes, out=new_ptr[1:])
    slots = np.repeat(ptr[hsel] - new_ptr[:-1], sizes) + np.arange(int(new_ptr[-1]))
    n = slots.size
    out: dict[str, Any] = {}
    for f in fields(pop):
        x = getattr(pop, f.name)
        if isinstance(x, np.ndarray) and x.shape[:1] == (pop.size,):
            out[f.name] = np.ascontiguousarray(x[slots])
        else:
            out[f.name] = x
    out["hh"] = np.repeat(np.arange(hsel.size, dtype=np.int32), sizes)
    out["hh_ptr"] = new_ptr
    out["hh_kind"] = pop.hh_kind[hsel]
    out["n_initial"] = int(np.count_nonzero(out["birth_year"][:n] < 0))
    return Population(**out)


@njit(parallel=True, cache=True)
def init_persons(lo, hi, seed_k, ids, persons, frail, prev, draws):
    """Draw the states of slots ``lo..hi-1`` (:class:`PersonArrays`, age, sex and quintile
    already set; ``frail`` (n,)) from cell prevalences ``prev`` (:class:`Prevalences`) with the
    creation draw numbers ``draws`` (:class:`~povsim.model.registry.InitLayout`), keyed on
    each slot's creation id ``ids[slot]``."""
    # Unpacked before the parallel loop, one name per statement: Numba silently drops writes
    # made inside prange through a namedtuple's array fields, or through names bound by tuple
    # unpacking of them (numba#7135, #10338; the registry test checks every state).
    age = persons.age
    sex = persons.sex
    quint = persons.quint
    smoke = persons.smoke
    bins = persons.bins
    work = persons.work
    ltc = persons.ltc
    zinc = persons.zinc
    p_smoke_cur = prev.smoke_cur
    p_smoke_ex = prev.smoke_ex
    p_bin = prev.bins
    p_emp = prev.employed
    p_sick = prev.sick
    p_ltc1p = prev.ltc1p
    p_ltc2p = prev.ltc2p
    d_smoke = draws.d_smoke
    d_work = draws.d_work
    d_ltc = draws.d_ltc
    d_z1 = draws.d_z1
    d_z2 = draws.d_z2
    d_f1 = draws.d_f1
    d_f2 = draws.d_f2
    fdraw = draws.factor_draws
    k = bins.shape[1]
    for i in prange(lo, hi):
        c = (np.int64(sex[i]) * N_Q + np.int64(quint[i])) * N_AGE + np.int64(age[i])
        key = person_key(seed_k, np.int64(ids[i]), 0)
        u = uniform(key, d_smoke)
        smoke[i] = 1 if u < p_smoke_cur[c] else (2 if u < p_smoke_cur[c] + p_smoke_ex[c] else 0)
        for b in range(k):
            bins[i, b] = uniform(key, fdraw[b]) < p_bin[b, c]
        u = uniform(key, d_work)
        work[i] = 0 if u < p_emp[c] else (2 if u < p_emp[c] + p_sick[c] else 1)
        u = uniform(key, d_ltc)
        ltc[i] = 2 if u < p_ltc2p[c] else (1 if u < p_ltc1p[c] else 0)
        zinc[i] = normal(key, d_z1, d_z2)
        frail[i] = normal(key, d_f1, d_f2)
