"""Numba kernels: one simulated year for every person, and the creation of persons.

Pure functions of arrays: the Python wrappers in :mod:`povsim.simulate` own the arrays and
the loop over years. Persons are visited in fixed chunks; each chunk writes its own tally
block, and blocks are summed in chunk order, so results are bit-identical for any number of
threads (chunking never depends on the thread count).

Cell index ``c = (sex * 5 + quintile) * 101 + age`` (sex 0 male, 1 female; quintile 0 = IMD
quintile 1, most deprived; age 0-100, 100 meaning 100 and over).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .rng import (
    D_ALCOHOL, D_COLD, D_DEATH, D_EMPLOYED, D_HEALTH, D_INACTIVE, D_INCOME,
    D_INIT_ALCOHOL, D_INIT_COLD, D_INIT_EMPLOYED, D_INIT_F1, D_INIT_F2, D_INIT_INACTIVE,
    D_INIT_ISOLATED, D_INIT_LTC, D_INIT_OBESE, D_INIT_SMOKE, D_INIT_UNMET, D_INIT_Z1,
    D_INIT_Z2, D_ISOLATED, D_LTC, D_OBESE, D_SMOKE, D_UNMET, approx_normal, normal, person_key, uniform,
)

N_AGE = 101
N_Q = 5
N_CELL = 2 * N_Q * N_AGE
CHUNK = 32768

# Binary risk factors with prevalence-consistent incidence/remission tables (rows of bin_*).
B_OBESE, B_INACTIVE, B_ALCOHOL, B_COLD, B_ISOLATED, B_UNMET = range(6)
N_BIN = 6

# Exposure index into effect vectors (relative risks / log odds ratios).
K_SMOKE_CUR, K_SMOKE_EX, K_OBESE, K_INACTIVE, K_ALCOHOL, K_COLD, K_ISOLATED, K_POVERTY, \
    K_UNMET, K_LTC1, K_LTC2 = range(11)
N_K = 11

# Tally columns per cell.
(S_EXPO, S_HAZ, S_HAZ2, S_DEATHS, S_GOOD, S_SMOKE, S_OBESE, S_INACTIVE, S_ALCOHOL, S_COLD,
 S_ISOLATED, S_EMPLOYED, S_POVERTY, S_LTC1P, S_LTC2P, S_UNMET, S_INCOME) = range(17)
N_STAT = 17
STAT_NAMES = ("exposure", "hazard", "hazard2", "deaths", "good", "smoking", "obese",
              "inactive", "alcohol", "cold_home", "isolated", "employed", "poverty",
              "ltc1plus", "ltc2plus", "unmet_need", "income")


@njit(inline="always", cache=True)
def _effect_product(rr, adult, sm, ob, ina, alc, cold, iso, pov, unm, ltc):
    """Product of relative risks for one person (behaviours count from adulthood)."""
    m = 1.0
    if adult:
        if sm == 1:
            m *= rr[K_SMOKE_CUR]
        elif sm == 2:
            m *= rr[K_SMOKE_EX]
        if ob:
            m *= rr[K_OBESE]
        if ina:
            m *= rr[K_INACTIVE]
        if alc:
            m *= rr[K_ALCOHOL]
    if cold:
        m *= rr[K_COLD]
    if iso:
        m *= rr[K_ISOLATED]
    if pov:
        m *= rr[K_POVERTY]
    if unm:
        m *= rr[K_UNMET]
    if ltc == 1:
        m *= rr[K_LTC1]
    elif ltc >= 2:
        m *= rr[K_LTC2]
    return m


@njit(inline="always", cache=True)
def _binary_step(x, u, inc, rem):
    # Branch-free: the draws are unpredictable, and mispredicted branches dominated the cost.
    return np.uint8((x & (u >= rem)) | ((1 - x) & (u < inc)))


@njit(inline="always", cache=True)
def income_of(mu, sigma, z, age, employed, working_age_max, replacement, transfer):
    """Equivalised household income (£ per year) of one person."""
    y = np.exp(mu + sigma * z)
    if age <= working_age_max and employed == 0:
        y *= replacement
    return y + transfer


@njit(parallel=True, cache=True)
def step_year(
    t, seed_k,
    # person state (modified in place)
    alive, age, sex, quint, smoke, obese, inactive, alcohol, cold, isolated, unmet, employed,
    ltc, good, zinc, frail, transfer, income, weight,
    # cell tables
    mx, mort_norm, health_alpha, bin_inc, bin_rem, smk_init, smk_cess, smk_relapse,
    ltc_i01, ltc_i12, ltc_norm01, ltc_norm12, emp_exit, emp_entry, emp_norm, inc_mu,
    # effects and scalars
    rr_mort, rr_ltc, lor_health, rr_jobloss_poor, frailty_sd, inc_sigma, inc_rho,
    replacement, poverty_line, working_age_max, adult_age, unmet_mult_q,
    # output
    tallies,
):
    """Advance every living person one year (age a -> a + 1); tally the year by cell.

    Order within the year: income and poverty, self-rated health, mortality hazard (tallied
    as the expected hazard), death, then transitions of risk factors, employment, income
    potential and long-term conditions, then ageing. Hazards are per person-year.
    """
    n = alive.shape[0]
    n_chunks = tallies.shape[0]
    chunk = (n + n_chunks - 1) // n_chunks
    shock_sd = np.sqrt(1.0 - inc_rho * inc_rho)
    for ch in prange(n_chunks):
        tal = tallies[ch]
        tal[:, :] = 0.0
        lo = ch * chunk
        hi = min(n, lo + chunk)
        for i in range(lo, hi):
            if alive[i] == 0:
                continue
            a = np.int64(age[i])
            s = np.int64(sex[i])
            q = np.int64(quint[i])
            c = (s * N_Q + q) * N_AGE + a
            key = person_key(seed_k, i, t + 1)
            w = weight[i]
            emp = employed[i]
            y = income_of(inc_mu[c], inc_sigma, zinc[i], a, emp, working_age_max,
                          replacement, transfer[i])
            income[i] = y
            pov = y < poverty_line
            adult = a >= adult_age
            sm = smoke[i]
            ob = obese[i]
            ina = inactive[i]
            alc = alcohol[i]
            cd = cold[i]
            iso = isolated[i]
            un = unmet[i]
            lt = ltc[i]

            # Self-rated health this year: logit = cell intercept + exposures + frailty.
            eta = health_alpha[c] + frailty_sd * frail[i]
            if adult:
                if sm == 1:
                    eta += lor_health[K_SMOKE_CUR]
                elif sm == 2:
                    eta += lor_health[K_SMOKE_EX]
                if ob:
                    eta += lor_health[K_OBESE]
                if ina:
                    eta += lor_health[K_INACTIVE]
                if alc:
                    eta += lor_health[K_ALCOHOL]
            if cd:
                eta += lor_health[K_COLD]
            if iso:
                eta += lor_health[K_ISOLATED]
            if pov:
                eta += lor_health[K_POVERTY]
            if un:
                eta += lor_health[K_UNMET]
            if lt == 1:
                eta += lor_health[K_LTC1]
            elif lt >= 2:
                eta += lor_health[K_LTC2]
            p_not_good = 1.0 / (1.0 + np.exp(-eta))
            g = np.uint8(1) if uniform(key, D_HEALTH) >= p_not_good else np.uint8(0)
            good[i] = g

            h = mx[c] * _effect_product(rr_mort, adult, sm, ob, ina, alc, cd, iso, pov, un,
                                        lt) / mort_norm[c]
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
            tal[c, S_INCOME] += w * y

            if uniform(key, D_DEATH) < -np.expm1(-h):
                alive[i] = 0
                tal[c, S_DEATHS] += w
                continue

            # Risk factors move a -> a + 1 at rates that keep the baseline's age profile.
            u = uniform(key, D_SMOKE)
            if sm == 0:
                if u < smk_init[c]:
                    smoke[i] = 1
            elif sm == 1:
                if u < smk_cess[c]:
                    smoke[i] = 2
            elif u < smk_relapse[c]:
                smoke[i] = 1
            obese[i] = _binary_step(ob, uniform(key, D_OBESE), bin_inc[B_OBESE, c],
                                    bin_rem[B_OBESE, c])
            inactive[i] = _binary_step(ina, uniform(key, D_INACTIVE), bin_inc[B_INACTIVE, c],
                                       bin_rem[B_INACTIVE, c])
            alcohol[i] = _binary_step(alc, uniform(key, D_ALCOHOL), bin_inc[B_ALCOHOL, c],
                                      bin_rem[B_ALCOHOL, c])
            cold[i] = _binary_step(cd, uniform(key, D_COLD), bin_inc[B_COLD, c],
                                   bin_rem[B_COLD, c])
            isolated[i] = _binary_step(iso, uniform(key, D_ISOLATED), bin_inc[B_ISOLATED, c],
                                       bin_rem[B_ISOLATED, c])
            unmet[i] = _binary_step(un, uniform(key, D_UNMET),
                                    bin_inc[B_UNMET, c] * unmet_mult_q[q], bin_rem[B_UNMET, c])

            # Work: poor health raises exit (health -> work -> income -> health loop).
            u = uniform(key, D_EMPLOYED)
            if emp:
                p_exit = emp_exit[c] / emp_norm[c]
                if g == 0:
                    p_exit *= rr_jobloss_poor
                if u < p_exit:
                    employed[i] = 0
            elif u < emp_entry[c]:
                employed[i] = 1

            # Long-term conditions accrue 0 -> 1 -> 2+ (no remission).
            if lt < 2:
                m = _effect_product(rr_ltc, adult, sm, ob, ina, alc, cd, iso, pov, un, 0)
                u = uniform(key, D_LTC)
                if lt == 0:
                    if u < ltc_i01[c] * m / ltc_norm01[c]:
                        ltc[i] = 1
                elif u < ltc_i12[c] * m / ltc_norm12[c]:
                    ltc[i] = 2

            zinc[i] = inc_rho * zinc[i] + shock_sd * approx_normal(key, D_INCOME)
            if a < N_AGE - 1:
                age[i] = a + 1


@njit(parallel=True, cache=True)
def init_persons(
    lo, hi, seed_k, age, sex, quint, smoke, obese, inactive, alcohol, cold, isolated, unmet,
    employed, ltc, zinc, frail,
    p_smoke_cur, p_smoke_ex, p_bin, p_emp, p_ltc1p, p_ltc2p,
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
