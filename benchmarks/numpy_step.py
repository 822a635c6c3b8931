"""Plain vectorised NumPy twin of :func:`povsim.engine.kernel.step_year` (benchmark reference).

``step_year_numpy`` takes exactly the arguments of the Numba kernel (the persons' arrays, the
year's inputs with the registry's layout, the tally blocks) and does the same yearly step to
whole arrays at once, for any registry (any number of binary risk factors): the same
counter-based draws (splitmix64 ``mix64`` / ``person_key`` / ``uniform`` / ``approx_normal``
in uint64 array arithmetic), the same order of events (income, lagged income exposure and
poverty, self-rated health, expected hazard, death, risk factors, work state, long-term
conditions, income potential, ageing)
and the same tallies, written per chunk into ``tallies`` ((n_chunks, N_CELL, n_stats)), so the
caller sums blocks exactly as :func:`povsim.engine.simulate.simulate` does.

Bit-for-bit agreement with the compiled kernel
----------------------------------------------
The kernel is compiled without ``fastmath``, so LLVM neither reassociates nor fuses
multiply-adds: evaluating the kernel's expressions in source order, left to right, gives the
same doubles. This module does exactly that (effect products multiplied in the registry's
exposure order, as ``_effect_tables`` does; ``((cell odds * frailty) * product) * income``;
``((mx * multiplier) * (product * income)) / normaliser``; income shocks and income effects
``T[k] * (1 - f) + T[k + 1] * f``; ``log(exp(y) + transfer)`` with the C library's ``exp`` and
``log`` through :mod:`math`, as the compiled kernel calls them),
so states and tallies agree bit for bit (``bench_engine.py --check``,
tests/test_numpy_reference.py and tests/test_registry.py verify it).
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from povsim.engine import kernel as K
from povsim.inputs import layout as L
from povsim.model import households as HH
from povsim.model.registry import FACTOR, SMOKING
from povsim.model.rng import _C1, _NORM_TABLE, C2, GOLDEN

_M64 = (1 << 64) - 1
_S27, _S30, _S31, _S32 = (np.uint64(s) for s in (27, 30, 31, 32))
_MASK32 = np.uint64(0xFFFFFFFF)
_INV32 = 1.0 / 4294967296.0


# --- counter-based draws on whole arrays -----------------------------------------------------


def mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (returns a new array)."""
    with np.errstate(over="ignore"):
        z = z ^ (z >> _S30)
        z *= _C1
        z ^= z >> _S27
        z *= C2
        z ^= z >> _S31
    return z


def person_key(seed_k: np.uint64, pid: np.ndarray, year_key: int) -> np.ndarray:
    """Key of each person ``pid`` (int64 array) in year ``year_key``."""
    with np.errstate(over="ignore"):
        k = mix64(np.uint64(seed_k) ^ (pid.astype(np.uint64) * GOLDEN))
        yk = np.uint64((int(year_key) * int(C2) + int(GOLDEN)) & _M64)
        return mix64(k ^ yk)


def draw_hash(key: np.ndarray, draw: int) -> np.ndarray:
    """The 64-bit hash that holds draws ``2j`` (low half) and ``2j + 1`` (high half)."""
    off = np.uint64(((draw >> 1) * int(GOLDEN) + int(GOLDEN)) & _M64)
    with np.errstate(over="ignore"):
        return mix64(key + off)


def uniform_from_hash(h: np.ndarray, draw: int) -> np.ndarray:
    if draw & 1:
        h = h >> _S32
    return (h & _MASK32).astype(np.float64) * _INV32


def uniform(key: np.ndarray, draw: int) -> np.ndarray:
    """Uniform on [0, 1) for draw number ``draw`` of each key (as :func:`povsim.model.rng.uniform`)."""  # noqa: E501
    return uniform_from_hash(draw_hash(key, draw), draw)


class Draws:
    """Draws of one person-year key array; each 64-bit hash is computed once per pair."""

    def __init__(self, key: np.ndarray):
        self.key = key
        self._h: dict[int, np.ndarray] = {}

    def take(self, sel: np.ndarray) -> Draws:
        out = Draws(self.key[sel])
        out._h = {j: h[sel] for j, h in self._h.items()}
        return out

    def hash(self, draw: int) -> np.ndarray:
        j = draw >> 1
        if j not in self._h:
            self._h[j] = draw_hash(self.key, draw)
        return self._h[j]

    def u(self, draw: int) -> np.ndarray:
        return uniform_from_hash(self.hash(draw), draw)


# --- exactly rounded fused multiply-add --------------------------------------------------------


def approx_normal(h: np.ndarray, draw: int) -> np.ndarray:
    """Income shock from a draw hash: table interpolation T[k] (1 - f) + T[k + 1] f."""
    x = uniform_from_hash(h, draw) * 4096.0
    k = x.astype(np.int64)
    f = x - k
    return _NORM_TABLE[k] * (1.0 - f) + _NORM_TABLE[k + 1] * f


# --- the household pre-pass --------------------------------------------------------------------

_LIBM_EXP = np.frompyfunc(math.exp, 1, 1)
_LIBM_LOG = np.frompyfunc(math.log, 1, 1)


def libm_exp(x: np.ndarray) -> np.ndarray:
    """exp by the C library, element by element, as compiled Numba code calls it: NumPy's own
    vectorised exp differs from it in the last bit for about 5% of arguments."""
    return _LIBM_EXP(x).astype(np.float64) if x.size else np.zeros(0)


def libm_log(x: np.ndarray) -> np.ndarray:
    """log by the C library, element by element (as :func:`libm_exp`)."""
    return _LIBM_LOG(x).astype(np.float64) if x.size else np.zeros(0)


def pool_income_numpy(
    ptr,
    alive,
    age,
    sex,
    quint,
    zinc,
    work,
    transfer,
    inc_mu,
    family_shift,
    sigma,
    log_replacement,
    working_age_max,
    log_out,
    tr_out,
):
    """Same contract as :func:`povsim.model.households.pool_income`, on whole arrays: every
    household sum is an unbuffered ``np.add.at`` over its members in the CSR order the
    compiled loop adds them in, and exp and log are the C library's, so the doubles agree bit
    for bit."""
    n_hh = ptr.shape[0] - 1
    hh_of = np.repeat(np.arange(n_hh), np.diff(ptr))  # households stored contiguously
    live = alive != 0
    m = np.flatnonzero(live)
    h = hh_of[live]
    a = age[m].astype(np.int64)
    q = quint[m].astype(np.int64)
    c = (sex[m].astype(np.int64) * L.N_Q + q) * L.N_AGE + a
    ly = inc_mu[c] + sigma * zinc[m]
    out_of_work = (a <= working_age_max) & (work[m] != 0)
    ly = np.where(out_of_work, ly + log_replacement, ly)
    earn = a >= HH.EARNER_AGE
    total = np.zeros(n_hh)
    np.add.at(total, h[earn], libm_exp(ly[earn]))
    tr = transfer[m]
    # Transfers are added in person order over all persons (the compiled loop's order).
    payers = np.flatnonzero((alive != 0) & (transfer != 0.0))
    paid = np.zeros(n_hh)
    np.add.at(paid, hh_of[payers], transfer[payers])
    n14 = np.bincount(h[a >= HH.OECD_ADULT_AGE], minlength=n_hh)
    n_under = np.bincount(h[a < HH.OECD_ADULT_AGE], minlength=n_hh)
    earners = np.bincount(h[earn], minlength=n_hh)
    child = np.bincount(h[a <= HH.CHILD_MAX], minlength=n_hh) > 0
    q_h = np.zeros(n_hh, np.int64)
    q_h[h] = q  # a household lives in one quintile
    fam = libm_exp(np.asarray(family_shift, np.float64))
    total = np.where(child, total * fam[q_h], total)
    scale = HH.OECD_FIRST + HH.OECD_OTHER * (n14 - 1) + HH.OECD_CHILD * n_under
    pooled = earners[h] > 0
    hp = np.unique(h[pooled])
    log_e = np.zeros(n_hh)
    log_e[hp] = libm_log(total[hp] / scale[hp])
    share = np.zeros(n_hh)
    share[hp] = paid[hp] / scale[hp]
    log_out[m[pooled]] = log_e[h[pooled]]
    tr_out[m[pooled]] = share[h[pooled]]
    own = ~pooled
    log_out[m[own]] = ly[own]
    tr_out[m[own]] = tr[own]


# --- the yearly step -------------------------------------------------------------------------


def income_effects(tab, x):
    """The kernel's :func:`~povsim.engine.kernel.income_effects` on an array of ``x``."""
    x = np.minimum(np.maximum(x, K.INC_X_LO), K.INC_X_HI)
    pos = (x - K.INC_X_LO) * K.INC_PER_UNIT
    k = pos.astype(np.int64)
    f = pos - k
    g = 1.0 - f
    return tuple(tab[k, o] * g + tab[k + 1, o] * f for o in range(3))


def _product(rf, lay, ad, sm, bins, lt):
    """The kernel's tabulated effect product per person: factors ``1 + (rf[e] - 1)`` of the
    exposed, multiplied in exposure order (``lt`` None: LTC counts do not enter)."""
    m = None
    for e in range(rf.shape[0]):
        kind, arg = lay.expo_kind[e], lay.expo_arg[e]
        if kind == SMOKING:
            x = sm == arg
        elif kind == FACTOR:
            x = bins[:, arg] != 0
        else:  # LTC
            x = np.zeros(sm.shape[0], bool) if lt is None else lt == arg
        if lay.expo_adult[e]:
            x = ad & x
        f = np.where(x, 1.0 + (float(rf[e]) - 1.0), 1.0)
        m = f if m is None else m * f
    return m


def step_year_numpy(t, seed_k, persons, year, tallies, w_uniform=-1.0):
    """Same contract as :func:`povsim.kernel.step_year`: advance every living person one
    year, modify the state arrays in place and fill ``tallies[ch]`` for every chunk ``ch``."""
    p, lay, sc = persons, year.layout, year.scalars
    cells = year.cells
    binc, brem, p_work, p_ltci, p_ltcn, _ = K.cell_columns(p.bins.shape[1])
    n_chunks = tallies.shape[0]
    inc_rho = sc.inc_rho
    shock_sd = float(np.sqrt(1.0 - inc_rho * inc_rho))
    log_line = math.log(sc.poverty_line)  # libm, as the kernel's np.log of a scalar
    if not tallies.flags.c_contiguous:
        raise ValueError("tallies must be C-contiguous (n_chunks, N_CELL, n_stats)")
    tallies[...] = 0.0
    n_stats = tallies.shape[-1]

    idx = np.flatnonzero(p.alive)
    a = p.age[idx].astype(np.int64)
    s = p.sex[idx].astype(np.int64)
    q = p.quint[idx].astype(np.int64)
    c = (s * L.N_Q + q) * L.N_AGE + a
    pc = cells[c]
    dr = Draws(person_key(seed_k, p.pid[idx].astype(np.int64), t + 1))
    w = p.weight[idx]
    wk = p.work[idx].astype(np.int64)
    emp = wk == 0
    sick = wk == 2

    # Income (one place: the household pre-pass's log income before transfers and the
    # person's share of the household's transfers), poverty (an output), lagged exposure.
    n_all = p.alive.shape[0]
    ly_all, tr_all = np.zeros(n_all), np.zeros(n_all)
    pool_income_numpy(
        p.hh_ptr,
        p.alive,
        p.age,
        p.sex,
        p.quint,
        p.zinc,
        p.work,
        p.transfer,
        year.inc_mu,
        year.family_shift,
        sc.inc_sigma,
        sc.log_replacement,
        sc.working_age_max,
        ly_all,
        tr_all,
    )
    ly = ly_all[idx]
    tr = tr_all[idx]
    yt = ly.copy()
    has_tr = np.flatnonzero(tr != 0.0)
    for j in has_tr:  # libm exp and log, as the compiled kernel
        yt[j] = math.log(math.exp(ly[j]) + tr[j])
    pov = yt < log_line
    le = p.inc_exp[idx]
    le = np.where(le == le, sc.inc_lag * le + (1.0 - sc.inc_lag) * yt, yt)
    p.inc_exp[idx] = le
    gi_h, gi_m, gi_l = income_effects(year.income_tab, le - sc.inc_ref)
    ad = a >= sc.adult_age
    sm, lt = p.smoke[idx], p.ltc[idx]
    bins = p.bins[idx]  # (m, k) copy: the states at the start of the year
    or_health, rr_mort, rr_ltc = year.effects

    # Self-rated health: odds of not-good health, then the draw.
    odds = pc[:, K.P_HODDS] * p.frail_or[idx] * _product(or_health, lay, ad, sm, bins, lt) * gi_h
    u = dr.u(lay.d_health)
    g = u >= odds * (1.0 - u)
    p.good[idx] = g

    # Expected hazard, with the age-specific relative risks (smoking; the binary factor
    # lay.age_rr_bit) as the cell's factor over the all-age RR of the effect product.
    af = np.where((sm == 1) & ad, pc[:, K.P_SMKF], 1.0)
    if lay.age_rr_bit >= 0:
        col = K.age_factor_column(bins.shape[1])
        af = np.where(bins[:, lay.age_rr_bit] == 1, af * pc[:, col], af)
    h = (
        pc[:, K.P_MX]
        * (p.mort_mult[idx] * af)
        * (_product(rr_mort, lay, ad, sm, bins, lt) * gi_m)
        / pc[:, K.P_MNORM]
    )

    # Tallies of everyone alive at the start of the year, per (chunk, cell) in person order.
    size = n_chunks * L.N_CELL
    # A chunk is a run of whole households (K.chunk_households), as in the kernel.
    bounds = p.hh_ptr[K.chunk_households(p.hh_ptr, n_chunks)]
    cb = (np.searchsorted(bounds, idx, side="right") - 1) * L.N_CELL + c
    flat = tallies.reshape(size, n_stats)

    def tally(col, values, sel=None):
        if sel is None:
            flat[:, col] = np.bincount(cb, values, minlength=size)
        else:
            flat[:, col] = np.bincount(cb[sel], values, minlength=size)

    wh = w * h
    tally(lay.s_expo, w)
    tally(lay.s_haz, wh)
    tally(lay.s_haz2, wh * h)
    tally(lay.s_good, w * g)
    tally(lay.s_smoke, w * (sm == 1))
    tally(lay.s_employed, w * emp)
    tally(lay.s_poverty, w * pov)
    tally(lay.s_ltc1p, w * (lt >= 1))
    tally(lay.s_ltc2p, w * (lt >= 2))
    tally(lay.s_sick, w * sick)
    for b, col in enumerate(lay.factor_stats):
        tally(col, w * bins[:, b])

    # Death: u < 1 - exp(-h) (the kernel's shortcut bounds give the same answer).
    u = dr.u(lay.d_death)
    dies = (u < h) & ((u < h - 0.5 * h * h) | (u < -np.expm1(-h)))
    p.alive[idx[dies]] = 0
    tally(lay.s_deaths, w[dies], dies)

    # Survivors: risk factors, work, long-term conditions, income potential, ageing.
    sv = ~dies
    i2 = idx[sv]
    pc2, a2 = pc[sv], a[sv]
    dr = dr.take(sv)
    sm2 = sm[sv]

    u = dr.u(lay.d_smoke)
    new = sm2.copy()
    new[(sm2 == 0) & (u < pc2[:, K.P_SMK0])] = 1
    new[(sm2 == 1) & (u < pc2[:, K.P_SMK0 + 1])] = 2
    new[(sm2 != 0) & (sm2 != 1) & (u < pc2[:, K.P_SMK0 + 2])] = 1
    p.smoke[i2] = new

    bins2 = bins[sv]
    for b, draw in enumerate(lay.factor_draws):
        u = dr.u(draw)
        x = bins2[:, b]
        p.bins[i2, b] = (x & (u >= pc2[:, brem + b])) | ((1 - x) & (u < pc2[:, binc + b]))

    u = dr.u(lay.d_work)
    wk2 = wk[sv]
    rows = np.arange(wk2.size)
    pa = pc2[rows, p_work + 2 * wk2]
    pb = pc2[rows, p_work + 2 * wk2 + 1]
    cmb = (1 - g[sv].astype(np.int64)) + 2 * (lt[sv] >= 1).astype(np.int64)
    wrr = year.work_rr
    pa = np.where(wk2 == 0, pa * wrr[0, cmb], pa)
    pb = np.where(wk2 != 2, pb * wrr[1, cmb], pb)
    new = p.work[i2].copy()
    first = u < pa
    second = ~first & (u < pa + pb)
    new[first] = np.where(wk2[first] == 0, 1, 0)
    new[second] = np.where(wk2[second] == 2, 1, 2)
    p.work[i2] = new

    lt2 = lt[sv]
    at = lt2 < 2
    if at.any():
        sub = np.flatnonzero(at)
        m = (
            p.ltc_mult[i2[sub]]
            * _product(rr_ltc, lay, ad[sv][sub], sm2[sub], bins2[sub], None)
            * gi_l[sv][sub]
        )
        u = dr.u(lay.d_ltc)[sub]
        ps, ls = pc2[sub], lt2[sub].astype(np.int64)
        rows = np.arange(sub.size)
        thr = ps[rows, p_ltci + ls] * m / ps[rows, p_ltcn + ls]
        up = u < thr
        p.ltc[i2[sub[up]]] = ls[up] + 1

    p.zinc[i2] = inc_rho * p.zinc[i2] + shock_sd * approx_normal(
        dr.hash(lay.d_income), lay.d_income
    )
    older = a2 < L.N_AGE - 1
    p.age[i2[older]] = (a2[older] + 1).astype(p.age.dtype)


@contextlib.contextmanager
def numpy_kernel():
    """Within the block, :func:`povsim.engine.simulate.simulate` steps years with the NumPy twin
    (which pools household incomes with :func:`pool_income_numpy` first, as the kernel does
    household by household), and the measures' household incomes use the NumPy pool too (both
    are called through their modules, ``povsim.engine.kernel.step_year`` and
    ``povsim.model.households.pool_income``, so the loop is unchanged)."""
    saved, saved_pool = K.step_year, HH.pool_income
    K.step_year = step_year_numpy
    HH.pool_income = pool_income_numpy
    try:
        yield
    finally:
        K.step_year, HH.pool_income = saved, saved_pool


def compare_states(pa, pb) -> dict[str, int]:
    """Persons whose value differs, per state array (per factor for ``bins``), between two
    populations (0 = identical, bit for bit; NaN, a lagged income exposure not yet set,
    equals NaN)."""
    out = {}
    for name, x in pa.kernel_arrays()._asdict().items():
        y = getattr(pb.kernel_arrays(), name)
        if name == "bins":
            for j, f in enumerate(pa.registry.factors):
                out[f.name] = int(np.count_nonzero(x[:, j] != y[:, j]))
        else:
            same = (x == y) | (np.isnan(x) & np.isnan(y)) if x.dtype.kind == "f" else x == y
            out[name] = int(np.count_nonzero(~same))
    return out
