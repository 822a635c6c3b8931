"""Plain vectorised NumPy twin of :func:`povsim.engine.kernel.step_year` (benchmark reference).

``step_year_numpy`` takes exactly the arguments of the Numba kernel, in the same order, and
does the same yearly step to whole arrays at once: the same counter-based draws
(splitmix64 ``mix64`` / ``person_key`` / ``uniform`` / ``approx_normal`` in uint64 array
arithmetic), the same order of events (income and poverty, self-rated health, expected
hazard, death, risk factors, work, long-term conditions, income potential, ageing) and the
same tallies, written per chunk into ``tallies`` ((n_chunks, N_CELL, N_STAT)), so the caller
sums blocks exactly as :func:`povsim.engine.simulate.simulate` does.

Bit-for-bit agreement with the compiled kernel
----------------------------------------------
The kernel is compiled without ``fastmath``, so LLVM neither reassociates nor fuses
multiply-adds: evaluating the kernel's expressions in source order, left to right, gives the
same doubles. This module does exactly that (effect products multiplied in the order of
``_effect_product``; ``(cell odds * frailty) * product``; ``((mx * multiplier) * product) /
normaliser``; income shocks ``T[k] * (1 - f) + T[k + 1] * f``), so states and tallies agree
bit for bit (``bench_engine.py --check`` and tests/test_numpy_reference.py verify it).
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from povsim.engine import kernel as K
from povsim.inputs import layout as L
from povsim.model import registry as R
from povsim.model.rng import (
    _C1,
    _NORM_TABLE,
    C2,
    D_ALCOHOL,
    D_COLD,
    D_DEATH,
    D_EMPLOYED,
    D_HEALTH,
    D_INACTIVE,
    D_INCOME,
    D_ISOLATED,
    D_LTC,
    D_OBESE,
    D_SMOKE,
    D_UNMET,
    GOLDEN,
)

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


# --- the yearly step -------------------------------------------------------------------------


def _factor(rr: np.ndarray, k: int) -> float:
    """Multiplier of exposure ``k`` as the kernel applies it: 1 + (rr - 1)."""
    return 1.0 + (float(rr[k]) - 1.0)


def _product(rr, x_cur, x_ex, x_ob, x_ina, x_alc, x_cd, x_iso, pov, x_un, lt):
    """The kernel's ``_effect_product``, factors multiplied in the same order."""
    m = np.where(x_cur, _factor(rr, R.K_SMOKE_CUR), 1.0)
    for x, k in (
        (x_ex, R.K_SMOKE_EX),
        (x_ob, R.K_OBESE),
        (x_ina, R.K_INACTIVE),
        (x_alc, R.K_ALCOHOL),
        (x_cd, R.K_COLD),
        (x_iso, R.K_ISOLATED),
        (pov, R.K_POVERTY),
        (x_un, R.K_UNMET),
        (lt == 1, R.K_LTC1),
        (lt >= 2, R.K_LTC2),
    ):
        m = m * np.where(x, _factor(rr, k), 1.0)
    return m


def step_year_numpy(
    t,
    seed_k,
    alive,
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
    good,
    zinc,
    frail_or,
    transfer,
    mort_mult,
    ltc_mult,
    weight,
    mx,
    mort_norm,
    health_odds,
    bin_inc,
    bin_rem,
    smk_init,
    smk_cess,
    smk_relapse,
    ltc_i01,
    ltc_i12,
    ltc_norm01,
    ltc_norm12,
    emp_exit,
    emp_entry,
    emp_norm,
    inc_mu,
    rr_mort,
    rr_ltc,
    or_health,
    rr_jobloss_poor,
    inc_sigma,
    inc_rho,
    replacement,
    poverty_line,
    working_age_max,
    adult_age,
    unmet_mult_q,
    tallies,
):
    """Same contract as :func:`povsim.engine.kernel.step_year`: advance every living person one
    year, modify the state arrays in place and fill ``tallies[ch]`` for every chunk ``ch``."""
    n = alive.shape[0]
    n_chunks = tallies.shape[0]
    chunk = (n + n_chunks - 1) // n_chunks
    shock_sd = float(np.sqrt(1.0 - inc_rho * inc_rho))
    log_repl = math.log(replacement)
    log_line = math.log(poverty_line)
    if not tallies.flags.c_contiguous:
        raise ValueError("tallies must be C-contiguous (n_chunks, N_CELL, N_STAT)")
    tallies[...] = 0.0

    idx = np.flatnonzero(alive)
    a = age[idx].astype(np.int64)
    s = sex[idx].astype(np.int64)
    q = quint[idx].astype(np.int64)
    c = (s * L.N_Q + q) * L.N_AGE + a
    dr = Draws(person_key(seed_k, idx, t + 1))
    w = weight[idx]
    emp = employed[idx]

    # Income and poverty.
    ly = inc_mu[c] + inc_sigma * zinc[idx]
    ly = ly + np.where((a <= working_age_max) & (emp == 0), log_repl, 0.0)
    tr = transfer[idx]
    pov = ly < log_line
    has_tr = tr != 0.0
    if has_tr.any():
        pov[has_tr] = np.exp(ly[has_tr]) + tr[has_tr] < poverty_line
    ad = a >= adult_age
    sm, ob, ina, alc = smoke[idx], obese[idx], inactive[idx], alcohol[idx]
    cd, iso, un, lt = cold[idx], isolated[idx], unmet[idx], ltc[idx]
    x_cur, x_ex = ad & (sm == 1), ad & (sm == 2)
    x_ob, x_ina, x_alc = ad & (ob != 0), ad & (ina != 0), ad & (alc != 0)
    x_cd, x_iso, x_un = cd != 0, iso != 0, un != 0

    # Self-rated health: odds of not-good health, then the draw.
    odds = (
        health_odds[c]
        * frail_or[idx]
        * _product(or_health, x_cur, x_ex, x_ob, x_ina, x_alc, x_cd, x_iso, pov, x_un, lt)
    )
    u = dr.u(D_HEALTH)
    g = u >= odds * (1.0 - u)
    good[idx] = g

    # Expected hazard.
    h = (
        mx[c]
        * mort_mult[idx]
        * _product(rr_mort, x_cur, x_ex, x_ob, x_ina, x_alc, x_cd, x_iso, pov, x_un, lt)
        / mort_norm[c]
    )

    # Tallies of everyone alive at the start of the year, per (chunk, cell) in person order.
    size = n_chunks * L.N_CELL
    bins = (idx // chunk) * L.N_CELL + c
    flat = tallies.reshape(size, R.N_STAT)

    def tally(col, values, sel=None):
        if sel is None:
            flat[:, col] = np.bincount(bins, values, minlength=size)
        else:
            flat[:, col] = np.bincount(bins[sel], values, minlength=size)

    wh = w * h
    tally(R.S_EXPO, w)
    tally(R.S_HAZ, wh)
    tally(R.S_HAZ2, wh * h)
    tally(R.S_GOOD, w * g)
    tally(R.S_SMOKE, w * (sm == 1))
    tally(R.S_OBESE, w * ob)
    tally(R.S_INACTIVE, w * ina)
    tally(R.S_ALCOHOL, w * alc)
    tally(R.S_COLD, w * cd)
    tally(R.S_ISOLATED, w * iso)
    tally(R.S_EMPLOYED, w * emp)
    tally(R.S_POVERTY, w * pov)
    tally(R.S_LTC1P, w * (lt >= 1))
    tally(R.S_LTC2P, w * (lt >= 2))
    tally(R.S_UNMET, w * un)

    # Death: u < 1 - exp(-h) (the kernel's shortcut bounds give the same answer).
    u = dr.u(D_DEATH)
    dies = (u < h) & ((u < h - 0.5 * h * h) | (u < -np.expm1(-h)))
    alive[idx[dies]] = 0
    tally(R.S_DEATHS, w[dies], dies)

    # Survivors: risk factors, work, long-term conditions, income potential, ageing.
    sv = ~dies
    i2 = idx[sv]
    c2, q2, a2 = c[sv], q[sv], a[sv]
    dr = dr.take(sv)
    sm2 = sm[sv]

    u = dr.u(D_SMOKE)
    new = sm2.copy()
    new[(sm2 == 0) & (u < smk_init[c2])] = 1
    new[(sm2 == 1) & (u < smk_cess[c2])] = 2
    new[(sm2 != 0) & (sm2 != 1) & (u < smk_relapse[c2])] = 1
    smoke[i2] = new

    def binary(arr, x, draw, b, inc_mult=None):
        u = dr.u(draw)
        inc = bin_inc[b, c2] if inc_mult is None else bin_inc[b, c2] * inc_mult
        arr[i2] = (x & (u >= bin_rem[b, c2])) | ((1 - x) & (u < inc))

    binary(obese, ob[sv], D_OBESE, R.B_OBESE)
    binary(inactive, ina[sv], D_INACTIVE, R.B_INACTIVE)
    binary(alcohol, alc[sv], D_ALCOHOL, R.B_ALCOHOL)
    binary(isolated, iso[sv], D_ISOLATED, R.B_ISOLATED)
    binary(cold, cd[sv], D_COLD, R.B_COLD)
    binary(unmet, un[sv], D_UNMET, R.B_UNMET, unmet_mult_q[q2])

    u = dr.u(D_EMPLOYED)
    emp2 = emp[sv]
    working = emp2 != 0
    p_exit = emp_exit[c2] / emp_norm[c2] * np.where(g[sv], 1.0, rr_jobloss_poor)
    new = emp2.copy()
    new[working & (u < p_exit)] = 0
    new[~working & (u < emp_entry[c2])] = 1
    employed[i2] = new

    lt2 = lt[sv]
    at = lt2 < 2
    if at.any():
        sub = np.flatnonzero(at)
        m = ltc_mult[i2[sub]] * _product(
            rr_ltc,
            x_cur[sv][sub],
            x_ex[sv][sub],
            x_ob[sv][sub],
            x_ina[sv][sub],
            x_alc[sv][sub],
            x_cd[sv][sub],
            x_iso[sv][sub],
            pov[sv][sub],
            x_un[sv][sub],
            np.zeros(sub.size, np.uint8),
        )
        u = dr.u(D_LTC)[sub]
        cs, ls = c2[sub], lt2[sub]
        zero = ls == 0
        thr = np.where(zero, ltc_i01[cs] * m / ltc_norm01[cs], ltc_i12[cs] * m / ltc_norm12[cs])
        up = u < thr
        ltc[i2[sub[up]]] = ls[up] + 1

    zinc[i2] = inc_rho * zinc[i2] + shock_sd * approx_normal(dr.hash(D_INCOME), D_INCOME)
    older = a2 < L.N_AGE - 1
    age[i2[older]] = (a2[older] + 1).astype(age.dtype)


@contextlib.contextmanager
def numpy_kernel():
    """Within the block, :func:`povsim.engine.simulate.simulate` steps years with the NumPy twin
    (it calls ``povsim.engine.kernel.step_year`` through the module, so the loop is unchanged)."""
    saved = K.step_year
    K.step_year = step_year_numpy
    try:
        yield
    finally:
        K.step_year = saved


STATE_NAMES = (
    "alive",
    "age",
    "sex",
    "quint",
    "smoke",
    "obese",
    "inactive",
    "alcohol",
    "cold",
    "isolated",
    "unmet",
    "employed",
    "ltc",
    "good",
    "zinc",
    "frail_or",
    "transfer",
    "mort_mult",
    "ltc_mult",
    "weight",
)


def compare_states(pa, pb) -> dict[str, int]:
    """Persons whose value differs, per state array, between two populations (0 = identical,
    bit for bit; NaN never occurs in these arrays)."""
    return {
        name: int(np.count_nonzero(getattr(pa, name) != getattr(pb, name))) for name in STATE_NAMES
    }
