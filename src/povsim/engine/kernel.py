"""Numba kernels: one simulated year for every person, and the creation of persons.

Pure functions of arrays: the Python wrappers in :mod:`povsim.engine.simulate` own the arrays and
the loop over years. Persons are visited in fixed chunks; each chunk writes its own tally
block, and blocks are summed in chunk order, so results are bit-identical for any number of
threads (chunking never depends on the thread count).

Cell index ``c = (sex * 5 + quintile) * 101 + age`` (sex 0 male, 1 female; quintile 0 = IMD
quintile 1, most deprived; age 0-100, 100 meaning 100 and over).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from povsim.inputs.layout import N_AGE, N_CELL, N_Q
from povsim.model.registry import (
    B_ALCOHOL,
    B_COLD,
    B_INACTIVE,
    B_ISOLATED,
    B_OBESE,
    B_UNMET,
    K_ALCOHOL,
    K_COLD,
    K_INACTIVE,
    K_ISOLATED,
    K_LTC1,
    K_LTC2,
    K_OBESE,
    K_POVERTY,
    K_SMOKE_CUR,
    K_SMOKE_EX,
    K_UNMET,
    N_BIN,
    S_ALCOHOL,
    S_COLD,
    S_DEATHS,
    S_EMPLOYED,
    S_EXPO,
    S_GOOD,
    S_HAZ,
    S_HAZ2,
    S_INACTIVE,
    S_ISOLATED,
    S_LTC1P,
    S_LTC2P,
    S_OBESE,
    S_POVERTY,
    S_SMOKE,
    S_UNMET,
)
from povsim.model.rng import (
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
    approx_normal,
    mix64,
    uniform,
)

# Persons per chunk: each chunk writes its own tally block (thread-count independent sums).
CHUNK = 32768

# Exposure code of one person: bits 0-6 obese, inactive, alcohol, cold, isolated, poverty,
# unmet; bit 7 adult; + 256 * smoking state (0-2) + 768 * LTC count (0-2). Every product of
# effects is a function of this code alone, so it is tabulated once per year (with the very
# same arithmetic, hence bit-identical) instead of recomputed per person.
N_CODE = 2304

# Columns of the packed per-cell table (one row = 4 cache lines, built each call).
(P_MX, P_MNORM, P_HODDS, P_INCMU, P_SMK0, P_SMK1, P_SMK2, _P7) = range(8)
P_BINC = 8  # 8..13 incidence (unmet already times its quintile multiplier)
P_BREM = 14  # 14..19 remission
P_EMP = 20  # 20 entry (not employed); 21 exit if good health; 22 exit if poor health
P_LTCI = 24  # 24, 25: incidence 0->1, 1->2
P_LTCN = 26  # 26, 27: their normalisers
N_P = 32


@njit(inline="always", cache=True)
def person_base(seed_k, pid):
    """First half of rng.person_key (depends on seed and person only)."""
    return mix64(seed_k ^ (np.uint64(pid) * GOLDEN))


@njit(inline="always", cache=True)
def year_key(base, year_key):
    """Second half of rng.person_key: person_key(s, i, y) == year_key(person_base(s, i), y)."""
    return mix64(base ^ (np.uint64(year_key) * C2 + GOLDEN))


@njit(inline="always", cache=True)
def _effect_product(rr, adult, sm, ob, ina, alc, cold, iso, pov, unm, ltc):
    """Product of relative risks for one person (behaviours count from adulthood).

    Written as multiply-adds on 0/1 exposures rather than ``if`` chains: exposures are
    random across persons, so branches mispredict and cost more than the arithmetic.
    """
    ad = 1.0 if adult else 0.0
    m = 1.0 + (rr[K_SMOKE_CUR] - 1.0) * (ad * (sm == 1))
    m *= 1.0 + (rr[K_SMOKE_EX] - 1.0) * (ad * (sm == 2))
    m *= 1.0 + (rr[K_OBESE] - 1.0) * (ad * ob)
    m *= 1.0 + (rr[K_INACTIVE] - 1.0) * (ad * ina)
    m *= 1.0 + (rr[K_ALCOHOL] - 1.0) * (ad * alc)
    m *= 1.0 + (rr[K_COLD] - 1.0) * cold
    m *= 1.0 + (rr[K_ISOLATED] - 1.0) * iso
    m *= 1.0 + (rr[K_POVERTY] - 1.0) * pov
    m *= 1.0 + (rr[K_UNMET] - 1.0) * unm
    m *= 1.0 + (rr[K_LTC1] - 1.0) * (ltc == 1)
    m *= 1.0 + (rr[K_LTC2] - 1.0) * (ltc >= 2)
    return m


@njit(inline="always", cache=True)
def _binary_step(x, u, inc, rem):
    # Branch-free: the draws are unpredictable, and mispredicted branches dominated the cost.
    return np.uint8((x & (u >= rem)) | ((1 - x) & (u < inc)))


@njit(inline="always", cache=True)
def log_income_of(mu, sigma, z, age, employed, working_age_max, log_replacement):
    """Log equivalised household income (£ per year) before transfers."""
    y = mu + sigma * z
    if age <= working_age_max and employed == 0:
        y += log_replacement
    return y


@njit(inline="always", cache=True)
def _dies(u, h):
    """u < 1 - exp(-h) without computing exp for almost everyone: 1 - exp(-h) lies in
    [h - h^2/2, h], so only draws inside that narrow band need the exact value."""
    if u >= h:
        return False
    if u < h - 0.5 * h * h:
        return True
    return u < -np.expm1(-h)


@njit(cache=True)
def _effect_tables(rr_mort, or_health, rr_ltc):
    out = np.empty((3, N_CODE))
    for code in range(N_CODE):
        lt = code // 768
        sm = (code // 256) % 3
        adult = (code >> 7) & 1 == 1
        ob = np.uint8(code & 1)
        ina = np.uint8((code >> 1) & 1)
        alc = np.uint8((code >> 2) & 1)
        cd = np.uint8((code >> 3) & 1)
        iso = np.uint8((code >> 4) & 1)
        pov = (code >> 5) & 1 == 1
        un = np.uint8((code >> 6) & 1)
        out[0, code] = _effect_product(
            or_health, adult, np.uint8(sm), ob, ina, alc, cd, iso, pov, un, np.uint8(lt)
        )
        out[1, code] = _effect_product(
            rr_mort, adult, np.uint8(sm), ob, ina, alc, cd, iso, pov, un, np.uint8(lt)
        )
        out[2, code] = _effect_product(
            rr_ltc, adult, np.uint8(sm), ob, ina, alc, cd, iso, pov, un, 0
        )
    return out


@njit(cache=True)
def _cell_table(
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
    rr_jobloss_poor,
    unmet_mult_q,
):
    p = np.zeros((N_CELL, N_P))
    for c in range(N_CELL):
        q = (c // N_AGE) % N_Q
        p[c, P_MX] = mx[c]
        p[c, P_MNORM] = mort_norm[c]
        p[c, P_HODDS] = health_odds[c]
        p[c, P_INCMU] = inc_mu[c]
        p[c, P_SMK0] = smk_init[c]
        p[c, P_SMK1] = smk_cess[c]
        p[c, P_SMK2] = smk_relapse[c]
        for b in range(N_BIN):
            p[c, P_BINC + b] = bin_inc[b, c]
            p[c, P_BREM + b] = bin_rem[b, c]
        p[c, P_BINC + B_UNMET] = bin_inc[B_UNMET, c] * unmet_mult_q[q]
        p[c, P_EMP] = emp_entry[c]
        pe = emp_exit[c] / emp_norm[c]
        p[c, P_EMP + 1] = pe
        pe *= rr_jobloss_poor
        p[c, P_EMP + 2] = pe
        p[c, P_LTCI] = ltc_i01[c]
        p[c, P_LTCI + 1] = ltc_i12[c]
        p[c, P_LTCN] = ltc_norm01[c]
        p[c, P_LTCN + 1] = ltc_norm12[c]
    return p


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


# Packed integer counters: four uint64 words per cell, 16-bit fields (a chunk holds at most
# 65535 persons -- checked -- so no field can overflow into the next).
_CNT_STAT = np.array(
    [
        S_EXPO,
        S_GOOD,
        S_SMOKE,
        S_OBESE,
        S_INACTIVE,
        S_ALCOHOL,
        S_COLD,
        S_ISOLATED,
        S_EMPLOYED,
        S_POVERTY,
        S_LTC1P,
        S_LTC2P,
        S_UNMET,
        S_DEATHS,
        -1,
        -1,
    ],
    dtype=np.int64,
)


@njit(parallel=True, cache=True, error_model="numpy")
def _step_year(
    t,
    seed_k,
    pkey,
    # person state (modified in place)
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
    # cell tables
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
    # effects and scalars
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
    # output
    tallies,
):
    """Advance every living person one year (age a -> a + 1); tally the year by cell.

    Order within the year: income and poverty, self-rated health, mortality hazard (tallied
    as the expected hazard), death, then transitions of risk factors, employment, income
    potential and long-term conditions, then ageing. Hazards are per person-year.

    Results are bit-identical to the direct formulation: effect products are tabulated by
    exposure code with the same arithmetic, per-cell quotients are the same quotients, and
    when all living persons share one weight the 0/1 tallies are kept as integer counts and
    turned into the same left-to-right floating-point sums at the end of each chunk.
    """
    n = alive.shape[0]
    n_chunks = tallies.shape[0]
    chunk = (n + n_chunks - 1) // n_chunks
    shock_sd = np.sqrt(1.0 - inc_rho * inc_rho)
    log_repl = np.log(replacement)
    log_line = np.log(poverty_line)
    eff = _effect_tables(rr_mort, or_health, rr_ltc)
    eff_h = eff[0]
    eff_m = eff[1]
    eff_l = eff[2]
    P = _cell_table(
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
        rr_jobloss_poor,
        unmet_mult_q,
    )
    w_all = _uniform_weight(weight, alive)
    counting = w_all >= 0.0 and chunk <= 65535
    # seqsum[k]: k copies of the weight added left to right from 0.0 (what the direct tally
    # computes for a 0/1 column with k ones, since adding w * 0 = 0.0 changes nothing).
    m_sum = chunk + 1 if counting else 1
    seqsum = np.zeros(m_sum)
    for k in range(1, m_sum):
        seqsum[k] = seqsum[k - 1] + w_all
    cnt_stat = _CNT_STAT
    for ch in prange(n_chunks):
        tal = tallies[ch]
        tal[:, :] = 0.0
        cnt = np.zeros((N_CELL, 4), dtype=np.uint64)
        lo = ch * chunk
        hi = min(n, lo + chunk)
        for i in range(lo, hi):
            if alive[i] == 0:
                continue
            a = np.int64(age[i])
            s = np.int64(sex[i])
            q = np.int64(quint[i])
            c = np.uint64((s * N_Q + q) * N_AGE + a)
            pc = P[c]
            key = year_key(pkey[i], t + 1)
            emp = employed[i]
            ly = log_income_of(pc[P_INCMU], inc_sigma, zinc[i], a, emp, working_age_max, log_repl)
            tr = transfer[i]
            if tr == 0.0:
                pov = ly < log_line
            else:
                pov = np.exp(ly) + tr < poverty_line
            adult = a >= adult_age
            sm = np.int64(smoke[i])
            ob = np.int64(obese[i])
            ina = np.int64(inactive[i])
            alc = np.int64(alcohol[i])
            cd = np.int64(cold[i])
            iso = np.int64(isolated[i])
            un = np.int64(unmet[i])
            lt = np.int64(ltc[i])
            code = (
                ob
                | (ina << 1)
                | (alc << 2)
                | (cd << 3)
                | (iso << 4)
                | (np.int64(pov) << 5)
                | (un << 6)
                | (np.int64(adult) << 7)
            ) + 256 * sm
            code = np.uint64(code)
            full = code + np.uint64(768 * lt)

            odds = pc[P_HODDS] * frail_or[i] * eff_h[full]
            u = uniform(key, D_HEALTH)
            g = np.int64(1) if u >= odds * (1.0 - u) else np.int64(0)
            good[i] = np.uint8(g)

            h = pc[P_MX] * mort_mult[i] * eff_m[full] / pc[P_MNORM]
            dead = _dies(uniform(key, D_DEATH), h)
            if counting:
                w = w_all
                tal[c, S_HAZ] += w * h
                tal[c, S_HAZ2] += w * h * h
                cnt[c, 0] += np.uint64(1 | (g << 16) | (np.int64(sm == 1) << 32) | (ob << 48))
                cnt[c, 1] += np.uint64(ina | (alc << 16) | (cd << 32) | (iso << 48))
                cnt[c, 2] += np.uint64(
                    np.int64(emp)
                    | (np.int64(pov) << 16)
                    | (np.int64(lt >= 1) << 32)
                    | (np.int64(lt >= 2) << 48)
                )
                cnt[c, 3] += np.uint64(un | (np.int64(dead) << 16))
            else:
                w = weight[i]
                tal[c, S_EXPO] += w
                tal[c, S_HAZ] += w * h
                tal[c, S_HAZ2] += w * h * h
                tal[c, S_GOOD] += w * g
                tal[c, S_SMOKE] += w * (sm == 1)
                tal[c, S_OBESE] += w * ob
                tal[c, S_INACTIVE] += w * ina
                tal[c, S_ALCOHOL] += w * alc
                tal[c, S_COLD] += w * cd
                tal[c, S_ISOLATED] += w * iso
                tal[c, S_EMPLOYED] += w * emp
                tal[c, S_POVERTY] += w * pov
                tal[c, S_LTC1P] += w * (lt >= 1)
                tal[c, S_LTC2P] += w * (lt >= 2)
                tal[c, S_UNMET] += w * un
                if dead:
                    tal[c, S_DEATHS] += w
            if dead:
                alive[i] = 0
                continue

            # Risk factors move a -> a + 1 at rates that keep the baseline's age profile.
            # Smoking 0 -> 1 (initiation), 1 -> 2 (cessation), 2 -> 1 (relapse).
            u = uniform(key, D_SMOKE)
            if u < pc[np.uint64(P_SMK0 + sm)]:
                smoke[i] = np.uint8(2 if sm == 1 else 1)
            obese[i] = _binary_step(
                np.uint8(ob), uniform(key, D_OBESE), pc[P_BINC + B_OBESE], pc[P_BREM + B_OBESE]
            )
            inactive[i] = _binary_step(
                np.uint8(ina),
                uniform(key, D_INACTIVE),
                pc[P_BINC + B_INACTIVE],
                pc[P_BREM + B_INACTIVE],
            )
            alcohol[i] = _binary_step(
                np.uint8(alc),
                uniform(key, D_ALCOHOL),
                pc[P_BINC + B_ALCOHOL],
                pc[P_BREM + B_ALCOHOL],
            )
            isolated[i] = _binary_step(
                np.uint8(iso),
                uniform(key, D_ISOLATED),
                pc[P_BINC + B_ISOLATED],
                pc[P_BREM + B_ISOLATED],
            )
            cold[i] = _binary_step(
                np.uint8(cd), uniform(key, D_COLD), pc[P_BINC + B_COLD], pc[P_BREM + B_COLD]
            )
            unmet[i] = _binary_step(
                np.uint8(un), uniform(key, D_UNMET), pc[P_BINC + B_UNMET], pc[P_BREM + B_UNMET]
            )

            # Work: poor health raises exit (health -> work -> income -> health loop).
            u = uniform(key, D_EMPLOYED)
            ei = np.int64(emp)
            if u < pc[np.uint64(P_EMP + ei * (2 - g))]:
                employed[i] = np.uint8(1 - ei)

            # Long-term conditions accrue 0 -> 1 -> 2+ (no remission).
            if lt < 2:
                m = ltc_mult[i] * eff_l[code]
                u = uniform(key, D_LTC)
                if u < pc[np.uint64(P_LTCI + lt)] * m / pc[np.uint64(P_LTCN + lt)]:
                    ltc[i] = np.uint8(lt + 1)

            zinc[i] = inc_rho * zinc[i] + shock_sd * approx_normal(key, D_INCOME)
            if a < N_AGE - 1:
                age[i] = a + 1
        if counting:
            for c in range(N_CELL):
                for j in range(4):
                    v = cnt[c, j]
                    if v == 0:
                        continue
                    for f in range(4):
                        st = cnt_stat[4 * j + f]
                        if st >= 0:
                            tal[c, st] = seqsum[
                                np.int64((v >> np.uint64(16 * f)) & np.uint64(0xFFFF))
                            ]


@njit(parallel=True, cache=True)
def person_bases(seed_k, n):
    """mix64(seed ^ pid * GOLDEN) for pid 0..n-1: the year-independent half of person_key."""
    out = np.empty(n, dtype=np.uint64)
    for i in prange(n):
        out[i] = person_base(seed_k, i)
    return out


_PKEY_CACHE: dict = {}


def step_year(t, seed_k, alive, *rest):
    """Advance every living person one year; see :func:`_step_year` (same arguments).

    The per-person half of the draw key depends only on (seed, person), so it is computed
    once per (seed, population size) and cached rather than rehashed every person-year.
    """
    n = alive.shape[0]
    k = (int(seed_k), n)
    pkey = _PKEY_CACHE.get(k)
    if pkey is None:
        _PKEY_CACHE.clear()
        pkey = person_bases(np.uint64(seed_k), n)
        _PKEY_CACHE[k] = pkey
    _step_year(t, seed_k, pkey, alive, *rest)
