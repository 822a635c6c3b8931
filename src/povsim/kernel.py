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
 S_ISOLATED, S_EMPLOYED, S_POVERTY, S_LTC1P, S_LTC2P, S_UNMET) = range(16)
N_STAT = 16
STAT_NAMES = ("exposure", "hazard", "hazard2", "deaths", "good", "smoking", "obese",
              "inactive", "alcohol", "cold_home", "isolated", "employed", "poverty",
              "ltc1plus", "ltc2plus", "unmet_need")


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


@njit(parallel=True, cache=True, error_model="numpy")
def step_year(
    t, seed_k,
    # person state (modified in place)
    alive, age, sex, quint, smoke, obese, inactive, alcohol, cold, isolated, unmet, employed,
    ltc, good, zinc, frail_or, transfer, mort_mult, ltc_mult, weight,
    # cell tables
    mx, mort_norm, health_odds, bin_inc, bin_rem, smk_init, smk_cess, smk_relapse,
    ltc_i01, ltc_i12, ltc_norm01, ltc_norm12, emp_exit, emp_entry, emp_norm, inc_mu,
    # effects and scalars
    rr_mort, rr_ltc, or_health, rr_jobloss_poor, inc_sigma, inc_rho,
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
    log_repl = np.log(replacement)
    log_line = np.log(poverty_line)
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
            ly = log_income_of(inc_mu[c], inc_sigma, zinc[i], a, emp, working_age_max, log_repl)
            tr = transfer[i]
            if tr == 0.0:
                pov = ly < log_line
            else:
                pov = np.exp(ly) + tr < poverty_line
            adult = a >= adult_age
            sm = smoke[i]
            ob = obese[i]
            ina = inactive[i]
            alc = alcohol[i]
            cd = cold[i]
            iso = isolated[i]
            un = unmet[i]
            lt = ltc[i]

            # Self-rated health this year: odds of not-good health = cell odds x frailty x
            # odds ratios of exposures; u >= o / (1 + o) is tested as u >= o (1 - u).
            odds = health_odds[c] * frail_or[i] * _effect_product(
                or_health, adult, sm, ob, ina, alc, cd, iso, pov, un, lt)
            u = uniform(key, D_HEALTH)
            g = np.uint8(1) if u >= odds * (1.0 - u) else np.uint8(0)
            good[i] = g

            h = mx[c] * mort_mult[i] * _effect_product(
                rr_mort, adult, sm, ob, ina, alc, cd, iso, pov, un, lt) / mort_norm[c]
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

            if _dies(uniform(key, D_DEATH), h):
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
            isolated[i] = _binary_step(iso, uniform(key, D_ISOLATED), bin_inc[B_ISOLATED, c],
                                       bin_rem[B_ISOLATED, c])
            cold[i] = _binary_step(cd, uniform(key, D_COLD), bin_inc[B_COLD, c],
                                   bin_rem[B_COLD, c])
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
                m = ltc_mult[i] * _effect_product(rr_ltc, adult, sm, ob, ina, alc, cd, iso, pov,
                                                  un, 0)
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
