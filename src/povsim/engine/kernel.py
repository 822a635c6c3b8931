"""Numba kernel: one simulated year for every person.

Pure functions of arrays: the Python wrappers in :mod:`povsim.engine.simulate` own the arrays and
the loop over years. Persons are visited in fixed chunks; each chunk writes its own tally
block, and blocks are summed in chunk order, so results are bit-identical for any number of
threads (chunking never depends on the thread count).

The year step takes grouped arguments: the persons (:class:`PersonArrays`), the year's inputs
(:class:`YearInputs`: packed cell rates, effect vectors and their products by exposure code,
scalars and the registry's :class:`~povsim.model.registry.KernelLayout`) and the tally
blocks. Every index it uses (binary factors, exposures, tally columns, draw numbers) comes from
the registry through that layout: the step is compiled once per layout with the layout's
values as closure constants, so LLVM folds them and unrolls the loops over the k binary
factors exactly as it did literal constants (the generic loops with run-time indices were
~20% slower), and Numba's cache, which keys a closure's code on its values, never runs stale
indices.

Cell index ``c = (sex * 5 + quintile) * 101 + age`` (sex 0 male, 1 female; quintile 0 = IMD
quintile 1, most deprived; age 0-100, 100 meaning 100 and over).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange

from povsim.inputs.layout import N_AGE, N_CELL, N_Q
from povsim.model.households import living_members, member_log_income, pool_household
from povsim.model.population import PersonArrays
from povsim.model.registry import FACTOR, SMOKING, KernelLayout
from povsim.model.rng import C2, GOLDEN, approx_normal_u, mix64, uniform
from povsim.model.tables import CellTables

# Persons per chunk: each chunk writes its own tally block (thread-count independent sums).
CHUNK = 32768


class Scalars(NamedTuple):
    """Scalar parameters of the year step."""

    inc_sigma: float  # SD of log income potential
    inc_rho: float  # yearly persistence of income potential
    replacement: float  # income out of work / in work (working ages)
    poverty_line: float  # £/year, equivalised (an output measure only)
    working_age_max: int  # years
    adult_age: int  # years; behaviours' effects count from here
    inc_lag: float  # yearly persistence lambda of the lagged income exposure (0-1)
    inc_ref: float  # log £/year the income effects are centred on (log median income)
    log_replacement: float  # log of replacement (computed with NumPy's log, as pool_income's)


# The income effects exp(beta_o * x), x = lagged log income - inc_ref, are read from a table
# by linear interpolation on a grid of 1 / INC_PER_UNIT log units over [INC_X_LO, INC_X_HI] (x is
# clamped to it): one exp per grid point per run instead of three per person-year, continuous
# and monotone in x, and within (beta / 64)^2 / 8 (relative; 1.1e-5 at |beta| = 0.6) of exp.
INC_X_LO, INC_X_HI, INC_PER_UNIT = -6.0, 6.0, 64.0
INC_N = int((INC_X_HI - INC_X_LO) * INC_PER_UNIT) + 1


def income_effect_table(betas: np.ndarray) -> np.ndarray:
    """(INC_N + 1, 4) table: column o is exp(betas[o] * x) at the grid points x (outcomes in
    effect-row order: not-good health odds, mortality, LTC onset); the last row repeats the
    end point so the interpolation may read one row past x = INC_X_HI."""
    x = INC_X_LO + np.arange(INC_N + 1) / INC_PER_UNIT
    x[-1] = x[-2]
    out = np.ones((INC_N + 1, 4))
    out[:, :3] = np.exp(np.outer(x, np.asarray(betas, float)))
    return out


@njit(inline="always", cache=True)
def income_effects(tab, x):
    """(not-good odds, mortality, LTC onset) multipliers at lagged log income ``x`` (relative
    to the reference): linear interpolation in ``tab`` (:func:`income_effect_table`)."""
    x = min(max(x, INC_X_LO), INC_X_HI)
    pos = (x - INC_X_LO) * INC_PER_UNIT
    k = np.uint64(pos)  # unsigned (pos >= 0): no negative-index wraparound code
    k1 = k + np.uint64(1)
    f = pos - k
    g = 1.0 - f
    return (
        tab[k, 0] * g + tab[k1, 0] * f,
        tab[k, 1] * g + tab[k1, 1] * f,
        tab[k, 2] * g + tab[k1, 2] * f,
    )


class YearInputs(NamedTuple):
    """Everything the year step reads besides the persons (see :func:`year_inputs`)."""

    cells: np.ndarray  # (N_CELL, n_cols) packed per-cell rates, columns of cell_columns
    effects: np.ndarray  # (3, n_exposures): poor-health odds ratios, mortality and
    # LTC-onset relative risks, in registry exposure order
    code_effects: np.ndarray  # (3, n_codes): their products for each exposure code
    income_tab: np.ndarray  # (INC_N + 1, 4): income effects by lagged log income
    work_rr: np.ndarray  # (2, 4) job-exit relative risks into not-in-work (row 0) and
    # long-term-sickness inactivity (row 1) by (not good health) + 2 * (1+ LTC)
    inc_mu: np.ndarray  # (N_CELL,) log £/year: income location by cell (households.py)
    family_shift: np.ndarray  # (N_Q,) log shift of a household's income with children
    scalars: Scalars
    layout: KernelLayout


def cell_columns(k: int) -> tuple[int, int, int, int, int, int]:
    """Columns of the packed per-cell table for k binary factors: mortality rate, its
    normaliser, odds of not-good health, income location, smoking initiation / cessation /
    relapse (0-6), then k incidences (times the capacity multiplier where it applies), k
    remissions, six work transitions (``work + 2 * state`` and ``+ 1``: from state 0 to 1 and
    to 2, from 1 to 0 and to 2, from 2 to 0 and to 1; the exits from work divided by their
    normalisers), LTC incidences 0->1 and 1->2 and their normalisers, the age-specific
    mortality factor of the binary factor ``age_rr_bit`` (:func:`age_factor_column`); each row
    padded to whole 64-byte cache lines. Column 7 (``P_SMKF``) holds the age-specific smoking
    factor."""
    binc = 8
    brem = binc + k
    emp = brem + k
    ltci = emp + 6
    ltcn = ltci + 2
    n_cols = (ltcn + 3 + 7) // 8 * 8
    return binc, brem, emp, ltci, ltcn, n_cols


def age_factor_column(k: int) -> int:
    """Column of the age-specific mortality factor of a binary factor (after the LTC
    normalisers)."""
    return cell_columns(k)[4] + 2


P_MX, P_MNORM, P_HODDS, P_INCMU, P_SMK0 = 0, 1, 2, 3, 4  # P_SMK0 + smoking state: 4, 5, 6
# Age-specific mortality RR of current smoking / the all-age RR the effect table applies
# (relative_risks_by_age.csv), for adult current smokers.
P_SMKF = 7


def year_inputs(
    tables: CellTables,
    layout: KernelLayout,
    scalars: Scalars,
    inc_mult_q: np.ndarray,
    reuse: YearInputs | None = None,
) -> YearInputs:
    """The kernel's inputs for one year from the cell tables: per-cell rates packed one row per
    cell (so a person's rates share cache lines) and the effect products by exposure code.
    ``inc_mult_q`` (5,) multiplies the incidence of the capacity-limited factors by quintile.
    Built with NumPy: the same IEEE operations as the kernel once did, hence the same doubles.

    With ``reuse`` (last year's inputs, from the same tables) only the capacity-limited
    incidences are rewritten, in place: the cell tables are fixed during a run (hooks change
    persons, never tables), and rebuilding them yearly cost 0.5 ms a year."""
    k = tables.bin_inc.shape[0]
    binc, brem, emp, ltci, ltcn, n_cols = cell_columns(k)
    q_of_cell = (np.arange(N_CELL) // N_AGE) % N_Q
    if reuse is not None:
        for b in np.flatnonzero(layout.capacity_limited):
            reuse.cells[:, binc + b] = tables.bin_inc[b] * inc_mult_q[q_of_cell]
        return reuse
    p = np.zeros((N_CELL, n_cols))
    p[:, P_MX] = tables.mx
    p[:, P_MNORM] = tables.mort_norm
    p[:, P_HODDS] = tables.health_odds
    p[:, P_INCMU] = tables.inc_mu
    p[:, P_SMK0] = tables.smk_init
    p[:, P_SMK0 + 1] = tables.smk_cess
    p[:, P_SMK0 + 2] = tables.smk_relapse
    p[:, binc : binc + k] = tables.bin_inc.T
    for b in np.flatnonzero(layout.capacity_limited):
        p[:, binc + b] = tables.bin_inc[b] * inc_mult_q[q_of_cell]
    p[:, brem : brem + k] = tables.bin_rem.T
    p[:, emp : emp + 6] = tables.work_trans.T
    p[:, emp] = p[:, emp] / tables.work_norm[0]
    p[:, emp + 1] = p[:, emp + 1] / tables.work_norm[1]
    p[:, emp + 3] = p[:, emp + 3] / tables.work_norm[2]
    p[:, ltci] = tables.ltc_i01
    p[:, ltci + 1] = tables.ltc_i12
    p[:, ltcn] = tables.ltc_norm01
    p[:, ltcn + 1] = tables.ltc_norm12
    p[:, P_SMKF] = tables.smoke_mort_factor
    p[:, ltcn + 2] = tables.cold_mort_factor
    effects = np.stack([tables.or_health, tables.rr_mort, tables.rr_ltc])
    code_effects = _effect_tables(
        effects,
        np.array(layout.expo_kind, np.int64),
        np.array(layout.expo_arg, np.int64),
        np.array(layout.expo_adult, np.bool_),
        k,
    )
    income_tab = income_effect_table(tables.income_beta)
    return YearInputs(
        p,
        effects,
        code_effects,
        income_tab,
        np.ascontiguousarray(tables.work_rr),
        np.ascontiguousarray(tables.inc_mu, dtype=np.float64),
        np.ascontiguousarray(tables.family_income_shift, dtype=np.float64),
        scalars,
        layout,
    )


@njit(inline="always", cache=True)
def person_base(seed_k, pid):
    """First half of rng.person_key (depends on seed and person only)."""
    return mix64(seed_k ^ (np.uint64(pid) * GOLDEN))


@njit(inline="always", cache=True)
def year_key(base, year_key):
    """Second half of rng.person_key: person_key(s, i, y) == year_key(person_base(s, i), y)."""
    return mix64(base ^ (np.uint64(year_key) * C2 + GOLDEN))


@njit(inline="always", cache=True)
def _binary_step(x, u, inc, rem):
    # Branch-free: the draws are unpredictable, and mispredicted branches dominated the cost.
    return np.uint8((x & (u >= rem)) | ((1 - x) & (u < inc)))


@njit(inline="always", cache=True)
def _dies(u, h):
    """u < 1 - exp(-h) without computing exp for almost everyone: 1 - exp(-h) lies in
    [h - h^2/2, h], so only draws inside that narrow band need the exact value."""
    if u >= h:
        return False
    if u < h - 0.5 * h * h:
        return True
    return u < -np.expm1(-h)


# Exposure code of one person with k binary factors: bit j (j < k) factor j, bit k adult;
# + 2^(k+1) * smoking state (0-2) + 3 * 2^(k+1) * LTC count (0-2). Every
# product of effects is a function of this code alone, so it is tabulated once per run (with
# the very same arithmetic, hence bit-identical) instead of recomputed per person.


@njit(cache=True)
def _effect_tables(effects, kind, arg, adult_only, k):
    """Products of effects (3, n_codes) by exposure code, one row per row of ``effects``;
    LTC counts do not enter the third (LTC onset). Factors multiply in exposure order."""
    span = 1 << (k + 1)
    n_codes = 9 * span
    out = np.empty((3, n_codes))
    for code in range(n_codes):
        lt = code // (3 * span)
        sm = (code // span) % 3
        adult = (code >> k) & 1
        for o in range(3):
            m = 1.0
            for e in range(kind.shape[0]):
                kd = kind[e]
                if kd == SMOKING:
                    x = 1.0 if sm == arg[e] else 0.0
                elif kd == FACTOR:
                    x = 1.0 if (code >> arg[e]) & 1 else 0.0
                else:  # LTC
                    x = 1.0 if (o < 2 and lt == arg[e]) else 0.0
                if adult_only[e] and adult == 0:
                    x = 0.0
                m *= 1.0 + (effects[o, e] - 1.0) * x
            out[o, code] = m
    return out


@njit(cache=True)
def _uniform_weight(weight, alive):
    """The common weight of all living persons, or -1.0 if they differ."""
    w0 = -1.0
    for i in range(weight.shape[0]):
        if alive[i] != 0:
            if w0 < 0.0:
                w0 = weight[i]
            elif weight[i] != w0:
                return -1.0
    return w0


# Packed integer counters: 16-bit fields, four per uint64 word (a chunk holds at most 65535
# persons -- checked -- so no field can overflow into the next). Words 0-1 hold the core
# counts (persons, good health, current smokers, in work; poverty, 1+ and 2+ LTC, deaths);
# words 2.. hold the binary factors and then inactivity through long-term sickness (bit k of
# the same bit field), four per word.
_N_CORE_WORDS = 2
# (s & 0xF) * _SPREAD & _FIELDS moves bits 0-3 of s to bits 0, 16, 32, 48.
_SPREAD = np.uint64(1 + (1 << 15) + (1 << 30) + (1 << 45))
_FIELDS = np.uint64(0x0001000100010001)


def _count_columns(lay: KernelLayout) -> tuple[int, ...]:
    """Tally column of each 16-bit counter field (-1: unused)."""
    k = len(lay.factor_stats)
    cols = [
        lay.s_expo,
        lay.s_good,
        lay.s_smoke,
        lay.s_employed,
        lay.s_poverty,
        lay.s_ltc1p,
        lay.s_ltc2p,
        lay.s_deaths,
        *lay.factor_stats,
        lay.s_sick,
    ]
    n_words = _N_CORE_WORDS + (k + 1 + 3) // 4
    return tuple(cols + [-1] * (4 * n_words - len(cols)))


def _make_step_year(lay: KernelLayout):
    """The year step compiled for one registry layout: every index below that comes from
    ``lay`` is a closure constant (see the module docstring)."""
    k = len(lay.factor_draws)
    d_death, d_health, d_smoke = lay.d_death, lay.d_health, lay.d_smoke
    d_work, d_ltc, d_income = lay.d_work, lay.d_ltc, lay.d_income
    fdraw, fstat = lay.factor_draws, lay.factor_stats
    s_expo, s_haz, s_haz2, s_deaths = lay.s_expo, lay.s_haz, lay.s_haz2, lay.s_deaths
    s_good, s_smoke, s_employed = lay.s_good, lay.s_smoke, lay.s_employed
    s_poverty, s_ltc1p, s_ltc2p, s_sick = lay.s_poverty, lay.s_ltc1p, lay.s_ltc2p, lay.s_sick
    cnt_cols = _count_columns(lay)
    # The counting path writes every tally column at the end of a chunk (the 16-bit counts
    # and the hazard sums), so the block need not be zeroed first; if a registry ever has a
    # column outside them, it is zeroed as the direct path's is.
    all_written = {c for c in cnt_cols if c >= 0} | {s_haz, s_haz2} == set(range(lay.n_stats))
    n_words = len(cnt_cols) // 4
    n_fwords = n_words - _N_CORE_WORDS
    binc, brem, p_work, p_ltci, p_ltcn, _ = cell_columns(k)
    p_agef = age_factor_column(k)
    age_bit = lay.age_rr_bit
    span = 1 << (k + 1)  # exposure codes per smoking state

    @njit(parallel=True, cache=True, error_model="numpy")
    def step(t, seed_k, persons, chunk_hh, order, max_hh, max_chunk, w_uniform, year, tallies):
        """Advance every living person one year (age a -> a + 1); tally the year by cell.

        Households are stored contiguously (``persons.hh_ptr``) and chunk ``ch`` is the run
        of whole households ``chunk_hh[ch]:chunk_hh[ch + 1]``. For each household, first its
        income from its members' states at the start of the year
        (households.pool_household: log equivalised household income before transfers and
        each member's share of the household's transfers), then each member's year.
        Computing it here, household by household, instead of in a separate pass over the
        population saves a pass over six person arrays and two per-person arrays written
        and read back, and the members' states are in cache when their year is stepped.

        Order within a person's year: income (before transfers, then with this year's
        transfer), the lagged income exposure and poverty (an output), self-rated health,
        mortality hazard (tallied as the expected hazard), death, then transitions of risk
        factors, work state, long-term conditions and income potential, then ageing.
        Hazards are per person-year.

        Income, the one place: ``ly``, the person's log equivalised household income (log £
        per year, before transfers), and ``tr``, the person's share of the transfers paid to
        the household (£ per year, paid / OECD scale). Everything downstream (poverty, the
        lagged exposure ``L <- lam L + (1 - lam) log(income + transfer)`` in
        ``persons.inc_exp``, the health effects ``exp(beta_o (L - inc_ref))``) reads only
        ``ly`` and ``tr``.

        Results are bit-identical to the direct formulation: effect products are tabulated
        by exposure code with the same arithmetic, per-cell quotients are the same
        quotients, and when all living persons of a chunk share one weight the 0/1 tallies
        are kept as integer counts and turned into the same left-to-right floating-point
        sums at the end of the chunk.
        """
        # Unpack the groups before the parallel loop, one name per statement: Numba silently
        # drops writes made inside prange through a namedtuple's array fields, or through
        # names bound by tuple unpacking of them (numba#7135, #10338; the NumPy-twin tests
        # compare every state array after every year).
        alive = persons.alive
        age = persons.age
        sex = persons.sex
        quint = persons.quint
        smoke = persons.smoke
        bins = persons.bins
        work = persons.work
        ltc = persons.ltc
        good = persons.good
        zinc = persons.zinc
        inc_exp = persons.inc_exp
        frail_or = persons.frail_or
        transfer = persons.transfer
        mort_mult = persons.mort_mult
        ltc_mult = persons.ltc_mult
        weight = persons.weight
        pid = persons.pid
        hh_ptr = persons.hh_ptr
        # A private copy (260 kB, once a year): LLVM then knows no store in the loop below can
        # write to it and keeps a person's rates in registers (~4% faster than reading the
        # argument, measured).
        P = year.cells.copy()
        eff = year.code_effects
        itab = year.income_tab
        wrr = year.work_rr
        # wmul[w, d, cmb]: the relative risk applied to the move from work state w to its
        # destination d (0: first, 1: second): from work (0) both exits, from not in work (1)
        # the move into long-term sickness (its second), none from long-term sickness (2).
        wmul = np.ones((3, 2, 4))
        for cm in range(4):
            wmul[0, 0, cm] = wrr[0, cm]
            wmul[0, 1, cm] = wrr[1, cm]
            wmul[1, 1, cm] = wrr[1, cm]
        inc_mu = year.inc_mu
        fam = np.exp(year.family_shift)
        sc = year.scalars
        inc_rho = sc.inc_rho
        adult_age = sc.adult_age
        inc_lag = sc.inc_lag
        inc_lag1 = 1.0 - inc_lag
        inc_ref = sc.inc_ref
        sigma = sc.inc_sigma
        log_repl = sc.log_replacement
        wam = sc.working_age_max

        n_chunks = tallies.shape[0]
        shock_sd = np.sqrt(1.0 - inc_rho * inc_rho)
        log_line = np.log(sc.poverty_line)
        eff_h = eff[0]
        eff_m = eff[1]
        eff_l = eff[2]
        # Working arrays are allocated once here or are small: an allocation of a chunk's size
        # inside the parallel loop is an mmap/munmap per chunk, and each munmap makes the
        # other threads' CPUs flush their TLBs (costly under a hypervisor; measured: runs
        # 20-40% slower and erratic).
        # seqsum[j]: j copies of the weight added left to right from 0.0 (what the direct
        # tally computes for a 0/1 column with j ones, since adding w * 0 = 0.0 changes
        # nothing).
        m_shared = max_chunk + 1 if w_uniform >= 0.0 else 1
        seq_shared = np.zeros(m_shared)
        for j in range(1, m_shared):
            seq_shared[j] = seq_shared[j - 1] + w_uniform
        for cc in prange(n_chunks):
            ch = order[cc]
            tal = tallies[ch]
            h_lo = chunk_hh[ch]
            h_hi = chunk_hh[ch + 1]
            lo = hh_ptr[h_lo]
            hi = hh_ptr[h_hi]
            # The chunk's common weight of its living persons (-1.0: none, or they differ),
            # unless the caller knows every slot has the weight w_uniform.
            w_all = w_uniform
            if w_uniform < 0.0:
                for i in range(lo, hi):
                    if alive[i] != 0:
                        if w_all < 0.0:
                            w_all = weight[i]
                        elif weight[i] != w_all:
                            w_all = -1.0
                            break
            counting = w_all >= 0.0 and hi - lo <= 65535
            if not counting or not all_written:
                tal[:, :] = 0.0
            if w_uniform >= 0.0:
                seqsum = seq_shared
            else:  # weights checked per chunk (callers that do not say)
                m_sum = hi - lo + 1 if counting else 1
                seqsum = np.zeros(m_sum)
                for j in range(1, m_sum):
                    seqsum[j] = seqsum[j - 1] + w_all
            cnt = np.zeros((N_CELL, n_words), dtype=np.uint64)
            # Hazard sums of the counting path in a small table of their own (16 kB, stays in
            # L1) instead of two columns of the chunk's 200 kB tally block; copied at the end.
            hz = np.zeros((N_CELL, 2))
            mem = np.empty(max_hh, np.int64)
            for h in range(h_lo, h_hi):
                p0 = hh_ptr[h]
                m = living_members(p0, hh_ptr[h + 1], alive, mem)
                if m == 0:
                    continue
                pooled, ly_h, tr_h = pool_household(
                    mem,
                    m,
                    np.int64(quint[p0]),
                    age,
                    sex,
                    quint,
                    zinc,
                    work,
                    transfer,
                    inc_mu,
                    fam,
                    sigma,
                    log_repl,
                    wam,
                )
                for j in range(m):
                    # Unsigned: indexing with it needs no negative-index wraparound code (about
                    # 15 person arrays are read; with the other unsigned indices below and in
                    # pool_household, -9% time a year, measured).
                    i = np.uint64(mem[j])
                    a = np.int64(age[i])
                    s = np.int64(sex[i])
                    q = np.int64(quint[i])
                    c = np.uint64((s * N_Q + q) * N_AGE + a)
                    pc = P[c]
                    # The person-year's key, on the person's draw id, not the slot
                    # (population.py). Each draw hashes it where it is used: LLVM merges the
                    # two draws of one 64-bit hash, and nothing goes through memory.
                    key = year_key(person_base(seed_k, pid[i]), t + 1)
                    wk = np.int64(work[i])
                    emp = np.int64(wk == 0)
                    sick = np.int64(wk == 2)
                    if pooled:
                        ly = ly_h
                        tr = tr_h
                    else:  # nobody 16+ alive in the household: own income and transfer
                        ly = member_log_income(a, s, q, zinc[i], wk, inc_mu, sigma, log_repl, wam)
                        tr = transfer[i]
                    if tr == 0.0:
                        yt = ly
                    else:
                        yt = np.log(np.exp(ly) + tr)
                    pov = yt < log_line
                    # Lagged exposure: a change of income acts by (1 - lam) in its first year
                    # and fades by lam a year once it stops; NaN marks a person new this year.
                    le = inc_exp[i]
                    if le == le:
                        le = inc_lag * le + inc_lag1 * yt
                    else:
                        le = yt
                    inc_exp[i] = le
                    gi_h, gi_m, gi_l = income_effects(itab, le - inc_ref)
                    adult = a >= adult_age
                    sm = np.int64(smoke[i])
                    lt = np.int64(ltc[i])
                    fb = np.int64(0)  # the binary factors, bit b = factor b
                    for b in range(k):
                        fb |= np.int64(bins[i, b]) << b
                    code = (fb | (np.int64(adult) << k)) + span * sm
                    code = np.uint64(code)
                    full = code + np.uint64(3 * span * lt)

                    odds = pc[P_HODDS] * frail_or[i] * eff_h[full] * gi_h
                    u = uniform(key, d_health)
                    g = np.int64(1) if u >= odds * (1.0 - u) else np.int64(0)
                    good[i] = np.uint8(g)

                    # Age-specific relative risks (smoking; the binary factor age_bit, a cold
                    # home): the cell's factor over the all-age RR that eff_m applies.
                    af = 1.0
                    if sm == 1 and adult:
                        af = pc[P_SMKF]
                    if age_bit >= 0 and (fb >> age_bit) & 1:
                        af = af * pc[p_agef]
                    h = pc[P_MX] * (mort_mult[i] * af) * (eff_m[full] * gi_m) / pc[P_MNORM]
                    dead = _dies(uniform(key, d_death), h)
                    if counting:
                        w = w_all
                        hz[c, 0] += w * h
                        hz[c, 1] += w * h * h
                        cnt[c, 0] += np.uint64(
                            1 | (g << 16) | (np.int64(sm == 1) << 32) | (np.int64(emp) << 48)
                        )
                        cnt[c, 1] += np.uint64(
                            np.int64(pov)
                            | (np.int64(lt >= 1) << 16)
                            | (np.int64(lt >= 2) << 32)
                            | (np.int64(dead) << 48)
                        )
                        fbs = fb | (sick << k)
                        for j in range(n_fwords):
                            cnt[c, _N_CORE_WORDS + j] += (
                                (np.uint64(fbs >> (4 * j)) & np.uint64(15)) * _SPREAD
                            ) & _FIELDS
                    else:
                        w = weight[i]
                        tal[c, s_expo] += w
                        tal[c, s_haz] += w * h
                        tal[c, s_haz2] += w * h * h
                        tal[c, s_good] += w * g
                        tal[c, s_smoke] += w * (sm == 1)
                        tal[c, s_employed] += w * emp
                        tal[c, s_poverty] += w * pov
                        tal[c, s_ltc1p] += w * (lt >= 1)
                        tal[c, s_ltc2p] += w * (lt >= 2)
                        tal[c, s_sick] += w * sick
                        for b in range(k):
                            tal[c, fstat[b]] += w * ((fb >> b) & 1)
                        if dead:
                            tal[c, s_deaths] += w
                    if dead:
                        alive[i] = 0
                        continue

                    # Risk factors move a -> a + 1 at rates that keep the baseline's age profile.
                    # Smoking 0 -> 1 (initiation), 1 -> 2 (cessation), 2 -> 1 (relapse).
                    u = uniform(key, d_smoke)
                    if u < pc[np.uint64(P_SMK0 + sm)]:
                        smoke[i] = np.uint8(2 if sm == 1 else 1)
                    for b in range(k):
                        bins[i, b] = _binary_step(
                            np.uint8((fb >> b) & 1),
                            uniform(key, fdraw[b]),
                            pc[binc + b],
                            pc[brem + b],
                        )

                    # Work state: from state wk to its first destination (0 -> 1, 1 -> 0, 2 -> 0)
                    # with pa, to its second (0 -> 2, 1 -> 2, 2 -> 1) with pb. Not-good health and
                    # long-term conditions raise the exits from work (into 1 and 2) and the move
                    # into long-term sickness from 1 (health -> work -> income -> health loop).
                    u = uniform(key, d_work)
                    cw = np.uint64(p_work + 2 * wk)
                    pa = pc[cw]
                    pb = pc[cw + np.uint64(1)]
                    cmb = (1 - g) + 2 * np.int64(lt >= 1)
                    # Branch-free (work states are unpredictable): the multipliers of states
                    # they do not apply to are 1.0, and x * 1.0 == x exactly.
                    pa = pa * wmul[np.uint64(wk), 0, np.uint64(cmb)]
                    pb = pb * wmul[np.uint64(wk), 1, np.uint64(cmb)]
                    if u < pa:
                        work[i] = np.uint8(1 if wk == 0 else 0)
                    elif u < pa + pb:
                        work[i] = np.uint8(1 if wk == 2 else 2)

                    # Long-term conditions accrue 0 -> 1 -> 2+ (no remission).
                    # Branch-free: at 2+ the columns read are the next ones (any finite
                    # numbers) and the result is masked.
                    ml = ltc_mult[i] * eff_l[code] * gi_l
                    u = uniform(key, d_ltc)
                    onset = u < pc[np.uint64(p_ltci + lt)] * ml / pc[np.uint64(p_ltcn + lt)]
                    ltc[i] = np.uint8(lt + np.int64(onset and lt < 2))

                    zinc[i] = inc_rho * zinc[i] + shock_sd * approx_normal_u(uniform(key, d_income))
                    if a < N_AGE - 1:
                        age[i] = a + 1
            if counting:
                for c in range(N_CELL):
                    tal[c, s_haz] = hz[c, 0]
                    tal[c, s_haz2] = hz[c, 1]
                    for j in range(n_words):
                        v = cnt[c, j]
                        for f in range(4):
                            st = cnt_cols[4 * j + f]
                            if st >= 0:
                                tal[c, st] = seqsum[
                                    np.int64((v >> np.uint64(16 * f)) & np.uint64(0xFFFF))
                                ]

    return step


_STEP_FOR_LAYOUT: dict[KernelLayout, object] = {}


def _step_year_for(lay: KernelLayout):
    """The year step compiled for ``lay`` (once per layout and process; loaded from Numba's
    cache when this layout was compiled before)."""
    step = _STEP_FOR_LAYOUT.get(lay)
    if step is None:
        step = _STEP_FOR_LAYOUT[lay] = _make_step_year(lay)
    return step


def chunk_households(hh_ptr: np.ndarray, n_chunks: int) -> np.ndarray:
    """(n_chunks + 1,) household bounds of the kernel's chunks: chunk ``ch`` holds the
    households whose first slot lies in ``[ch * size, (ch + 1) * size)``, ``size = ceil(n /
    n_chunks)``; so a chunk is a run of whole households, fixed by the population alone
    (never by the thread count)."""
    n = int(hh_ptr[-1])
    size = -(-n // n_chunks) if n_chunks else 0
    starts = np.arange(n_chunks, dtype=np.int64) * size
    bounds = np.empty(n_chunks + 1, np.int64)
    bounds[:-1] = np.searchsorted(hh_ptr[:-1], starts, side="left")
    bounds[-1] = hh_ptr.shape[0] - 1
    return bounds


def uniform_weight(weight: np.ndarray) -> float:
    """The weight every slot has (real persons per simulated person), or -1.0 if they
    differ: then every subset of living persons shares it, whoever is alive."""
    if weight.size == 0:
        return -1.0
    w0 = float(weight[0])
    return w0 if w0 >= 0.0 and bool(np.all(weight == w0)) else -1.0


def step_year(
    t: int,
    seed_k: np.uint64,
    persons: PersonArrays,
    year: YearInputs,
    tallies: np.ndarray,
    w_uniform: float = -1.0,
) -> None:
    """Advance every living person one year (in place) and fill ``tallies``
    ((n_chunks, N_CELL, n_stats), one block per chunk of whole households; see
    :func:`_make_step_year`). Every draw of person slot ``i`` is keyed on ``(seed_k,
    persons.pid[i], t + 1)``. ``w_uniform`` (:func:`uniform_weight` of ``persons.weight``,
    which the caller has checked) spares each chunk a pass over the weights; -1.0: each
    chunk checks its own.
    """
    n = persons.alive.shape[0]
    if persons.bins.shape != (n, len(year.layout.factor_draws)):
        raise ValueError(f"bins {persons.bins.shape} do not match the registry's factors")
    if persons.hh_ptr.shape[0] < 1 or int(persons.hh_ptr[-1]) != n:
        raise ValueError("hh_ptr must cover every slot (households stored contiguously)")
    chunk_hh, max_hh, max_chunk = _chunking(persons.hh_ptr, tallies.shape[0])
    # Numba hands each thread a contiguous range of loop iterations; visiting the chunks
    # strided (thread j gets chunks j, j + T, ...) evens out the work, which is not uniform
    # along the population (older households, more deaths, sit together). Every chunk still
    # writes its own tally block, so the order changes no number.
    n_chunks = tallies.shape[0]
    threads = numba.get_num_threads()
    order = np.argsort(np.arange(n_chunks) % threads, kind="stable")
    _step_year_for(year.layout)(
        t,
        np.uint64(seed_k),
        persons,
        chunk_hh,
        order,
        max_hh,
        max_chunk,
        float(w_uniform),
        year,
        tallies,
    )


# The last population's chunking, one immutable tuple (hh_ptr, n_chunks, result): read once
# into a local, so a concurrent caller replacing it can never mix two populations' values.
_CHUNKING: list = [None]


def _chunking(hh_ptr: np.ndarray, n_chunks: int) -> tuple[np.ndarray, int, int]:
    """(chunk_households, largest household, most slots in a chunk) of ``hh_ptr``; the last
    population's are kept (a run steps the same population every year; the households are
    fixed for a run)."""
    last = _CHUNKING[0]
    if last is not None and last[0] is hh_ptr and last[1] == n_chunks:
        return last[2]
    bounds = chunk_households(hh_ptr, n_chunks)
    sizes = np.diff(hh_ptr)
    out = (
        bounds,
        int(sizes.max()) if sizes.size else 0,
        int(np.diff(hh_ptr[bounds]).max()) if n_chunks else 0,
    )
    _CHUNKING[0] = (hh_ptr, n_chunks, out)
    return out
