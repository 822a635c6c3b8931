"""Calibrated cell tables: age-band inputs to single years, quintile gradients, the fitted
mortality and good-health residuals, and the transition tables the kernel reads.

Cell arrays are indexed ``c = (sex*5 + q)*101 + age`` (see :mod:`povsim.inputs.layout`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit, ndtr

from povsim.inputs import layout as L
from povsim.inputs.calibration_files import AGE_SPECIFIC_START
from povsim.inputs.layout import AGES, SEXES
from povsim.inputs.parameters import ModelParams
from povsim.model.registry import REGISTRY, Registry

# --- age-band tables to single years -------------------------------------------------------


def _interp_bands(lo, hi, v, outside, ramp_from) -> np.ndarray:
    mid = (lo + np.minimum(hi, 100)) / 2.0
    out = np.interp(AGES, mid, v)
    # Flat inside the first and last bands' own ranges (interp is flat beyond mid already).
    if outside is not None:
        out[AGES < lo[0]] = outside
    if ramp_from is not None and ramp_from < lo[0]:
        # Rise linearly from 0 at `ramp_from` to the first band, rather than jumping at its
        # lower edge: a jump cannot be reached by yearly transitions (e.g. 2+ conditions at
        # 16 need 1 condition at 15) and the deficit would follow the cohort for life.
        ages = (AGES >= ramp_from) & (AGES < lo[0])
        out[ages] = v[0] * (AGES[ages] - ramp_from + 1) / (lo[0] - ramp_from + 1)
    return out


def band_to_ages(
    age_min: np.ndarray,
    age_max: np.ndarray,
    values: np.ndarray,
    outside: float | None = 0.0,
    ramp_from: int | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Interpolate band values at band midpoints to single years 0-100.

    Ages below the first band take ``outside`` (None: the first band's value); ages above the
    last band take the last band's value. Interpolating avoids step changes at band edges,
    which would show up as spikes in the incidence derived from the age profile.

    With ``weights`` (persons by single year of age), the knots are adjusted until every
    band's weighted mean equals its published value (band means preserved): plain
    interpolation between midpoints lifts a band whose neighbour is higher (e.g. male obesity
    at 75+ rose from 23.5% to 29.1%).
    """
    order = np.argsort(age_min)
    lo, hi, v = age_min[order], age_max[order], values[order].astype(float)
    if weights is None:
        return _interp_bands(lo, hi, v, outside, ramp_from)
    members = [(AGES >= a) & (AGES <= min(b, 100)) for a, b in zip(lo, hi)]
    w = [np.maximum(weights[m], 1e-12) for m in members]
    # np.average(x, weights=wk) is sum(x * wk) / sum(wk): the denominators, the same in every
    # step, are summed once (the same doubles; np.average's checks cost most of the fit).
    scl = [wk.sum() for wk in w]
    knots = v.copy()
    for _ in range(200):
        out = _interp_bands(lo, hi, knots, outside, ramp_from)
        means = np.array([(out[m] * wk).sum() / sk for m, wk, sk in zip(members, w, scl)])
        err = v - means
        if np.max(np.abs(err)) < 1e-7:
            break
        knots = np.clip(knots + err, 0.0, max(1.0, float(v.max())))
    return _interp_bands(lo, hi, knots, outside, ramp_from)


def sex_age_profile(
    df: pd.DataFrame,
    value_col: str,
    outside: float | None = 0.0,
    ramp_from: int | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """(2, 101) array from rows with sex in male/female/all and age bands; ``weights``
    (2, 101) persons by sex and age preserve the band means (see :func:`band_to_ages`)."""
    out = np.zeros((2, L.N_AGE))
    for si, s in enumerate(SEXES):
        rows = df[df["sex"].isin([s, "all", "persons"])]
        if rows.empty:
            raise ValueError(f"no rows for sex {s}")
        out[si] = band_to_ages(
            rows["age_min"].to_numpy(float),
            rows["age_max"].to_numpy(float),
            rows[value_col].to_numpy(float),
            outside,
            ramp_from,
            None if weights is None else weights[si],
        )
    return out


def quintile_relative(gradient: pd.DataFrame, factor: str, sex: str | None = None) -> np.ndarray:
    """Relative prevalence by quintile (mean 1); a sex-specific block replaces ``all``."""
    # The rows pandas would select (factor, then own sex or all/persons, sorted by quintile
    # with the same quicksort), found in the table's columns as arrays: a sweep's cell
    # tables ask this 22 times, and pandas' filters of text columns cost most of it.
    cols = _columns(gradient)
    sel = cols["factor"] == factor
    if "sex" in cols:
        sexes = cols["sex"]
        own = sel & (sexes == sex) if sex is not None else np.zeros_like(sel)
        sel = own if own.any() else sel & ((sexes == "all") | (sexes == "persons"))
    idx = np.flatnonzero(sel)
    idx = idx[np.argsort(cols["quintile"][idx], kind="quicksort")]
    if len(idx) != 5:
        return np.ones(5)
    rel = cols["relative"][idx].astype(float)
    return rel / rel.mean()


def _columns(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """A calibration table's columns as NumPy arrays (text as Python strings), memoised on
    the table's identity, which the entry pins (the tables are shared and never modified)."""
    hit = _COLUMNS_MEMO.get(id(df))
    if hit is None or hit[0] is not df:
        if len(_COLUMNS_MEMO) >= _PREVALENCE_MEMO_SIZE:
            _COLUMNS_MEMO.clear()
        arrays = {
            str(c): df[c].to_numpy(object if df[c].dtype.kind not in "iufb" else None)
            for c in df.columns
        }
        hit = _COLUMNS_MEMO[id(df)] = (df, arrays)
    return hit[1]


def age_weights(mp: ModelParams) -> np.ndarray:
    """Persons by sex and single year of age in a stationary population (life-table L(x)),
    used to average a profile within an age band. Memoised per life table (every factor's
    profile reads it; a fresh copy is returned each call)."""
    hit = _AGE_WEIGHTS_MEMO.get(id(mp.life))
    if hit is None or hit[0] is not mp.life:
        if len(_AGE_WEIGHTS_MEMO) >= _PREVALENCE_MEMO_SIZE:
            _AGE_WEIGHTS_MEMO.clear()
        hit = _AGE_WEIGHTS_MEMO[id(mp.life)] = (mp.life, _age_weights(mp))
    return hit[1].copy()


def _age_weights(mp: ModelParams) -> np.ndarray:
    out = np.zeros((2, L.N_AGE))
    for si, s in enumerate(SEXES):
        rows = mp.life[mp.life["sex"] == s].sort_values("age")
        lx = rows["lx"].to_numpy(float)[: L.N_AGE]
        out[si] = lx / lx[0]
    return out


def age_shifted(p: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Profiles (5, 101) of one sex: quintile q ahead of the national profile ``p`` by
    ``shift[q]`` years, with a per-age logit offset so the mean of the five equals ``p``."""
    ages = AGES.astype(float)
    sh = np.stack([np.interp(ages + d, ages, p) for d in shift])
    eps = 1e-9
    base = logit(np.clip(sh, eps, 1 - eps))
    target = np.clip(p, eps, 1 - eps)
    off = np.zeros(L.N_AGE)
    for _ in range(40):
        q = expit(base + off[None, :])
        f = q.mean(axis=0) - target
        fp = np.maximum((q * (1 - q)).mean(axis=0), 1e-12)
        off -= f / fp
    out = expit(base + off[None, :])
    return np.where(p[None, :] <= 0.0, 0.0, out)


# Below the youngest published band, prevalence ramps up from these ages (assumption: long-term
# conditions accrue from birth; smoking starts in the early teens). Binary risk factors state
# theirs in the registry (Factor.ramp_from).
RAMP_FROM = {
    "ltc1plus": 0,
    "ltc2plus": 0,
    "smoking_current": 12,
    "smoking_ex": 12,
}


LTC_FACTORS = ("ltc1plus", "ltc2plus")


# Memo of factor_prevalence: the profiles depend only on the calibration tables (shared,
# never modified: one DataFrame per calibration folder, see inputs/parameters.py) and, for the
# LTC factors, one scalar; a sweep rebuilding cell tables for thousands of samples spent most
# of that time re-deriving them in pandas. Keyed on the tables' identity, which the entry
# pins (so an id is never reused while its entry lives); values are returned as copies.
_PREVALENCE_MEMO: dict[tuple, tuple[tuple, np.ndarray]] = {}
_PREVALENCE_MEMO_SIZE = 256
# Memo of age_weights, keyed on the life table's identity, which the entry pins.
_AGE_WEIGHTS_MEMO: dict[int, tuple[pd.DataFrame, np.ndarray]] = {}
_COLUMNS_MEMO: dict[int, tuple[pd.DataFrame, dict[str, np.ndarray]]] = {}


def factor_prevalence(
    mp: ModelParams, factor: str, outside: float = 0.0, ramp_from: int | None = None
) -> np.ndarray:
    """Target prevalence (2, 5, 101) by sex, quintile and age for one risk factor; below the
    youngest band it ramps up from age ``ramp_from`` (default: RAMP_FROM, else none).

    Band means of the national table are preserved (population-weighted within each band);
    the deprivation gradient is a multiplicative ratio by quintile (by sex where the table has
    it), except for long-term conditions, whose quintiles are the national age profile
    shifted by ``ltc_age_shift_years`` (onset earlier in deprived areas). Memoised per
    calibration tables (a fresh copy is returned each call)."""
    shift = (
        repr(mp.value("ltc_age_shift_years"))
        if factor in LTC_FACTORS and "ltc_age_shift_years" in mp.scalars
        else None
    )
    frames = (mp.prevalence, mp.gradient, mp.life)
    key = (*(id(f) for f in frames), factor, outside, ramp_from, shift)
    hit = _PREVALENCE_MEMO.get(key)
    if hit is None:
        if len(_PREVALENCE_MEMO) >= _PREVALENCE_MEMO_SIZE:
            _PREVALENCE_MEMO.clear()
        hit = _PREVALENCE_MEMO[key] = (frames, _factor_prevalence(mp, factor, outside, ramp_from))
    return hit[1].copy()


def _factor_prevalence(
    mp: ModelParams, factor: str, outside: float = 0.0, ramp_from: int | None = None
) -> np.ndarray:
    rows = mp.prevalence[mp.prevalence["factor"] == factor]
    if rows.empty:
        return np.zeros((2, 5, L.N_AGE))
    ramp = RAMP_FROM.get(factor) if ramp_from is None else ramp_from
    base = sex_age_profile(rows, "prevalence", outside, ramp, age_weights(mp))
    if factor in LTC_FACTORS and "ltc_age_shift_years" in mp.scalars:
        shift = np.asarray(mp.value("ltc_age_shift_years"), float)
        return np.clip(np.stack([age_shifted(base[si], shift) for si in range(2)]), 0.0, 0.98)
    out = np.zeros((2, 5, L.N_AGE))
    for si, s in enumerate(SEXES):
        rel = quintile_relative(mp.gradient, factor, s)
        out[si] = base[si][None, :] * rel[:, None]
    return np.clip(out, 0.0, 0.98)


BEHAVIOURS = frozenset({"smoking_current", "smoking_ex", "obese", "inactive", "alcohol_risk"})


def rr_by_age(mp: ModelParams, exposure: str, outcome: str = "mortality") -> np.ndarray | None:
    """Relative risk of ``exposure`` by sex and age (2, 101) from ``relative_risks_by_age.csv``
    with the scenario's excess-risk scaling RR(a) = 1 + (RR_table(a) - 1)(r - 1)/(r0 - 1),
    r the scenario's and r0 the calibration's all-age value (``relative_risks.csv``); 1 below
    ``adult_age`` for behaviours. None when the table has no rows for it."""
    t = mp.rr_by_age
    if t is None or not len(t):
        return None
    rows = t[(t["exposure"] == exposure) & (t["outcome"] == outcome)]
    if rows.empty:
        return None
    r = mp.rr[outcome][exposure]
    r0 = (mp.rr_calibration or mp.rr)[outcome][exposure]
    scale = (r - 1.0) / (r0 - 1.0) if r0 != 1.0 else 0.0
    out = np.ones((2, L.N_AGE))
    for si, s in enumerate(SEXES):
        for row in rows[rows["sex"].isin([s, "all"])].itertuples():
            ages = (AGES >= int(row.age_min)) & (AGES <= int(row.age_max))
            out[si, ages] = 1.0 + (float(row.rr) - 1.0) * scale
    if exposure in BEHAVIOURS:
        out[:, AGES < mp.value("adult_age")] = 1.0
    return out


def smoking_rr_by_age(mp: ModelParams, outcome: str = "mortality") -> np.ndarray | None:
    """Relative risk of current smoking by sex and age (2, 101); see :func:`rr_by_age`."""
    return rr_by_age(mp, "smoking_current", outcome)


# --- target mortality and good health by quintile ------------------------------------------


def national_mx(mp: ModelParams) -> np.ndarray:
    out = np.zeros((2, L.N_AGE))
    for si, s in enumerate(SEXES):
        rows = mp.life[mp.life["sex"] == s].sort_values("age")
        out[si] = rows["mx"].to_numpy(float)[: L.N_AGE]
    return out


def mortality_age_profile(child: float, old: float) -> np.ndarray:
    """Share of the working-age log rate ratio between quintiles that applies at each age."""
    g = np.ones(L.N_AGE)
    g[:15] = child
    old_ages = AGES >= 65
    g[old_ages] = 1.0 + (old - 1.0) * np.clip((AGES[old_ages] - 65) / 30.0, 0.0, 1.0)
    return g


def quintile_mx(mx_nat: np.ndarray, beta: np.ndarray, g: np.ndarray) -> np.ndarray:
    """mx (5, 101) for one sex whose equal-weight mean over quintiles is ``mx_nat``."""
    rel = np.exp(beta[:, None] * g[None, :])
    return mx_nat[None, :] * rel / rel.mean(axis=0, keepdims=True)


def good_health_profile(coef: list[float] | np.ndarray) -> np.ndarray:
    """Good-health prevalence by age 0-100 from a logistic-linear profile,
    logit p(a) = b0 + b1 * a / 100 (fitted to national HLE at birth and at 65)."""
    b0, b1 = coef
    return expit(b0 + b1 * AGES / 100.0)


def national_good_health(mp: ModelParams) -> np.ndarray:
    """Share in good/very good health by sex and age (2, 101): the published table where
    ``good_health_by_age.csv`` has rows, else the fitted logistic-linear profile."""
    if len(mp.good_health):
        return np.clip(sex_age_profile(mp.good_health, "prevalence", outside=None), 0.01, 0.999)
    return np.stack([good_health_profile(mp.fitted["good_health_profile"][s]) for s in SEXES])


def quintile_good_health(pi_nat: np.ndarray, gamma: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Good-health prevalence (5, 101) for one sex: logit shifts by quintile whose mean over
    quintiles equals ``pi_nat`` at each age (a per-age offset is solved by Newton)."""
    base = logit(pi_nat)
    shift = gamma[:, None] * k[None, :]
    off = np.zeros(L.N_AGE)
    for _ in range(30):
        p = expit(base[None, :] + off[None, :] + shift)
        f = p.mean(axis=0) - pi_nat
        fp = (p * (1 - p)).mean(axis=0)
        off -= f / fp
    return expit(base[None, :] + off[None, :] + shift)


def health_age_profile(child: float, old: float = 1.0) -> np.ndarray:
    """Share of the working-age log-odds shift of good health between quintiles at each age:
    ``child`` under 16, 1 at 16-64, then linear to ``old`` at 95+ (fitted to HLE at 65)."""
    k = np.ones(L.N_AGE)
    k[:16] = child
    old_ages = AGES >= 65
    k[old_ages] = 1.0 + (old - 1.0) * np.clip((AGES[old_ages] - 65) / 30.0, 0.0, 1.0)
    return k


def age_profiles(mp: ModelParams, sex: str, fitted: dict[str, Any] | None = None):
    """(g, k): age profiles of the mortality and good-health residuals for one sex; the
    old-age ends are the fitted values where ``fitted.yaml`` has them, else parameters."""
    f = mp.fitted if fitted is None else fitted
    m_old = f.get("mortality_gradient_old", {}).get(sex, mp.value("mortality_gradient_old"))
    h_old = f.get("health_gradient_old", {}).get(sex, 1.0)
    g = mortality_age_profile(mp.value("mortality_gradient_child"), m_old)
    k = health_age_profile(mp.value("health_gradient_child"), h_old)
    return g, k


def target_mx_and_good(mp: ModelParams) -> tuple[np.ndarray, np.ndarray]:
    """Target mortality rates and good-health prevalence, each (2, 5, 101)."""
    f = mp.fitted
    mx_nat = national_mx(mp)
    pi_nat = national_good_health(mp)
    mx = np.zeros((2, 5, L.N_AGE))
    good = np.zeros((2, 5, L.N_AGE))
    for si, s in enumerate(SEXES):
        g, k = age_profiles(mp, s)
        mx[si] = quintile_mx(mx_nat[si], np.asarray(f["beta_mortality"][s], float), g)
        good[si] = quintile_good_health(pi_nat[si], np.asarray(f["gamma_health"][s], float), k)
    return apply_local(mx, good, f.get("local"), mp)


def apply_local(
    mx: np.ndarray, good: np.ndarray, local: dict[str, Any] | None, mp: ModelParams
) -> tuple[np.ndarray, np.ndarray]:
    """Target mortality and good health (2, 5, 101) with an area's shifts applied."""
    if not local:
        return mx, good
    mx, good = mx.copy(), good.copy()
    for si, s in enumerate(SEXES):
        g, k = age_profiles(mp, s)
        d = np.asarray(local["mortality_shift"][s], float)
        h = np.asarray(local["health_shift"][s], float)
        mx[si] *= np.exp(d[:, None] * g[None, :])
        good[si] = expit(logit(good[si]) + h[:, None] * k[None, :])
    return mx, good


# --- transitions that keep the baseline's age profile ----------------------------------------


def survivors(shares: list[np.ndarray], rrs: list[np.ndarray], mx: np.ndarray) -> list[np.ndarray]:
    """Shares of each exposure state among those who survive the year.

    ``shares`` are the prevalences of the exposed states (the rest is the reference state),
    ``rrs`` their mortality relative risks, ``mx`` the cell's mean hazard. The exposed die
    faster, so a cohort's prevalence falls by selection before any transition; deriving
    transitions from survivors stops the simulation selecting twice (the published age
    profile already reflects selection), which made e.g. old-age smoking drift down."""
    ref = 1.0 - sum(shares)
    mean_rr = ref + sum(p * r for p, r in zip(shares, rrs))
    surv_ref = ref * np.exp(-mx / mean_rr)
    surv = [p * np.exp(-mx * r / mean_rr) for p, r in zip(shares, rrs)]
    total = surv_ref + sum(surv)
    return [x / total for x in surv]


def binary_transitions(
    p: np.ndarray, remission: float, p_start: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Incidence and remission (same shape as ``p``, last axis age) such that a cohort at
    prevalence p(a) reaches p(a+1) a year later: p(a+1) = p0(1-r) + (1-p0) i, where p0 is
    ``p_start`` (the survivors' prevalence) or p(a). Where the profile falls faster than
    ``remission`` allows, remission rises instead."""
    p0 = p if p_start is None else p_start
    p1 = np.concatenate([p[..., 1:], p[..., -1:]], axis=-1)
    keep = p0 * (1.0 - remission)
    inc = np.where(p1 >= keep, (p1 - keep) / np.maximum(1.0 - p0, 1e-9), 0.0)
    rem = np.where(p1 >= keep, remission, 1.0 - p1 / np.maximum(p0, 1e-12))
    return np.clip(inc, 0.0, 1.0), np.clip(rem, 0.0, 1.0)


def smoking_transitions(
    cur: np.ndarray,
    ex: np.ndarray,
    relapse: float,
    start: tuple[np.ndarray, np.ndarray] | None = None,
):
    """Initiation, cessation and relapse rates that carry the age profile of current and
    ex-smoking from one age to the next (synthetic-cohort assumption); ``start`` gives the
    survivors' (current, ex) shares the year starts from."""
    nxt = lambda x: np.concatenate([x[..., 1:], x[..., -1:]], axis=-1)  # noqa: E731
    target_cur, target_ex = cur, ex
    if start is not None:
        cur, ex = start
    ever = cur + ex
    never = 1.0 - ever
    init = np.clip((nxt(target_cur + target_ex) - ever) / np.maximum(never, 1e-9), 0.0, 1.0)
    cess = 1.0 - (nxt(target_cur) - never * init - ex * relapse) / np.maximum(cur, 1e-12)
    cess = np.where(cur > 0, np.clip(cess, 0.0, 1.0), 0.0)
    return init, cess, np.full_like(cur, relapse)


def ltc_transitions(
    p1: np.ndarray, p2: np.ndarray, start: tuple[np.ndarray, np.ndarray] | None = None
):
    """Accrual rates 0 -> 1 and 1 -> 2+ carrying the age profile of 1+ and 2+ conditions
    from survivors' shares ``start`` (1+, 2+) to the next age (no remission)."""
    nxt = lambda x: np.concatenate([x[..., 1:], x[..., -1:]], axis=-1)  # noqa: E731
    s1, s2 = (p1, p2) if start is None else start
    i01 = np.clip((nxt(p1) - s1) / np.maximum(1.0 - s1, 1e-9), 0.0, 1.0)
    i12 = np.clip((nxt(p2) - s2) / np.maximum(s1 - s2, 1e-9), 0.0, 1.0)
    return i01, i12


def work_transitions(
    e: np.ndarray,
    d: np.ndarray,
    exit_rate: float,
    sick_share: np.ndarray,
    sick_to_work: float,
    sick_to_other: float,
) -> np.ndarray:
    """Yearly transition probabilities (6, ...) among work states 0 employed, 1 not in work
    (other), 2 inactive through long-term sickness that carry the target shares ``e`` and
    ``d`` (last axis age) from each age to the next: rows 0->1, 0->2, 1->0, 1->2, 2->0, 2->1.

    Exits from work are ``exit_rate`` (more where employment falls faster than that allows,
    as :func:`binary_transitions`), a ``sick_share`` of them into long-term sickness; the
    long-term sick return to work at ``sick_to_work`` and leave for state 1 at
    ``sick_to_other`` (each cut where the profile needs); entries from state 1 into work and
    into long-term sickness are whatever reaches e(a+1) and d(a+1)."""
    nxt = lambda x: np.concatenate([x[..., 1:], x[..., -1:]], axis=-1)  # noqa: E731
    o = np.maximum(1.0 - e - d, 1e-9)
    e1, d1 = nxt(e), nxt(d)
    keep = e * (1.0 - exit_rate)
    ex = np.where(e1 >= keep, exit_rate, np.clip(1.0 - e1 / np.maximum(e, 1e-12), 0.0, 1.0))
    x02 = ex * sick_share
    x01 = ex - x02
    need = np.maximum(e1 - e * (1.0 - ex), 0.0)  # entries into work needed
    r20 = np.minimum(sick_to_work, need / np.maximum(d, 1e-12))
    r10 = np.clip((need - d * r20) / o, 0.0, 1.0)
    stay = d * (1.0 - r20 - sick_to_other)
    r12 = (d1 - stay - e * x02) / o
    # Where the sick share must fall faster, more of the sick leave for state 1.
    r21 = np.where(
        r12 >= 0.0,
        sick_to_other,
        np.clip(1.0 - r20 - (d1 - e * x02) / np.maximum(d, 1e-12), 0.0, 1.0 - r20),
    )
    r12 = np.clip(r12, 0.0, 1.0 - r10)
    return np.stack([x01, x02, r10, r12, r20, r21])


def income_mu(
    p_pov: np.ndarray,
    p_emp: np.ndarray,
    working: np.ndarray,
    sigma: float,
    replacement: float,
    line: float,
) -> np.ndarray:
    """Location of log income per cell so that the share below ``line`` is ``p_pov`` given the
    share in (household) work; solved by bisection for every cell at once."""
    p = np.clip(p_pov, 1e-4, 1 - 1e-4)
    e = np.where(working, p_emp, 1.0)
    lo = np.full(p.shape, np.log(line) - 10.0)
    hi = np.full(p.shape, np.log(line) + 10.0)
    ll, lr = np.log(line), np.log(line / replacement)
    for _ in range(60):
        mid = (lo + hi) / 2
        share = e * ndtr((ll - mid) / sigma) + (1 - e) * ndtr((lr - mid) / sigma)
        too_poor = share > p
        lo = np.where(too_poor, mid, lo)
        hi = np.where(too_poor, hi, mid)
    return (lo + hi) / 2


@dataclass
class CellTables:
    """Per-cell arrays (flat, length N_CELL) and effect vectors for the kernel.

    Normalisers (``mort_norm``, ``ltc_norm*``, ``health_odds``) are filled from the starting
    population by :func:`povsim.model.population.fit_to_population`. Rows of ``p_bin``,
    ``bin_inc`` and ``bin_rem`` are the binary factors of ``registry``; the effect vectors
    follow its exposures.
    """

    mx: np.ndarray
    good_target: np.ndarray
    p_smoke_cur: np.ndarray
    p_smoke_ex: np.ndarray
    p_bin: np.ndarray
    p_emp: np.ndarray
    p_ltc1p: np.ndarray
    p_ltc2p: np.ndarray
    p_pov: np.ndarray
    bin_inc: np.ndarray
    bin_rem: np.ndarray
    smk_init: np.ndarray
    smk_cess: np.ndarray
    smk_relapse: np.ndarray
    ltc_i01: np.ndarray
    ltc_i12: np.ndarray
    p_sick: np.ndarray  # target share inactive through long-term sickness (16..working age)
    work_trans: np.ndarray  # (6, N_CELL) work transitions, see work_transitions
    work_norm: np.ndarray  # (3, N_CELL) mean job-exit RR of the cell: 0->1, 0->2, 1->2
    work_rr: np.ndarray  # (2, 4) job-exit RRs into 1 / into 2 by (not good) + 2 * (1+ LTC)
    inc_mu: np.ndarray
    rr_mort: np.ndarray
    rr_ltc: np.ndarray
    or_health: np.ndarray
    # Effects of the lagged log income (per log unit): log odds of not-good health, log
    # hazard ratios of mortality and of LTC onset (income_log_* in parameters.yaml).
    income_beta: np.ndarray
    poverty_line: float
    median_income: float  # £/year; the income effects are 1 at this income
    mort_norm: np.ndarray = field(default_factory=lambda: np.ones(L.N_CELL))
    ltc_norm01: np.ndarray = field(default_factory=lambda: np.ones(L.N_CELL))
    ltc_norm12: np.ndarray = field(default_factory=lambda: np.ones(L.N_CELL))
    health_odds: np.ndarray = field(default_factory=lambda: np.ones(L.N_CELL))
    # Age-specific smoking RR / all-age RR, per cell (applied to adult current smokers).
    smoke_mort_factor: np.ndarray = field(default_factory=lambda: np.ones(L.N_CELL))
    # Age-specific cold-home RR / all-age RR, per cell (applied to persons in a cold home).
    cold_mort_factor: np.ndarray = field(default_factory=lambda: np.ones(L.N_CELL))
    # Log-income shift (5,) by IMD quintile of the earners of households with a dependent
    # child, fitted with ``inc_mu`` to the child-poverty targets when the population is built
    # (povsim.model.population.fit_household_income).
    family_income_shift: np.ndarray = field(default_factory=lambda: np.zeros(L.N_Q))
    registry: Registry = REGISTRY


def _flat(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.reshape(x.shape[:-3] + (L.N_CELL,)), dtype=np.float64)


def effect_vector(mp: ModelParams, outcome: str, registry: Registry = REGISTRY) -> np.ndarray:
    """Relative risks (odds ratios for poor health) of ``outcome`` in the registry's exposure
    order; an exposure without a row in relative_risks.csv has none (1)."""
    return np.array([mp.rr[outcome].get(e, 1.0) for e in registry.exposure_names], dtype=np.float64)


def build_cell_tables(mp: ModelParams, registry: Registry = REGISTRY) -> CellTables:
    """Per-cell targets and transition rates of the states of ``registry`` (see CellTables)."""
    mx, good = target_mx_and_good(mp)
    cur = factor_prevalence(mp, "smoking_current")
    ex = factor_prevalence(mp, "smoking_ex")
    ex = np.minimum(ex, 0.99 - cur)
    p_bin = np.stack(
        [factor_prevalence(mp, f.name, ramp_from=f.ramp_from) for f in registry.factors]
    )
    adult = (AGES >= mp.value("adult_age")).astype(float)
    adult_only = {e.name for e in registry.exposures if e.adult_only}
    by_age = {e: rr_by_age(mp, e) for e in AGE_SPECIFIC}

    def rr(exposure: str) -> np.ndarray:
        age = by_age.get(exposure)
        if age is not None:
            return age[:, None, :]
        r = mp.rr["mortality"].get(exposure, 1.0)
        return 1.0 + (r - 1.0) * adult if exposure in adult_only else np.full(L.N_AGE, r)

    inc_rem = []
    for j, f in enumerate(registry.factors):
        (start,) = survivors([p_bin[j]], [rr(f.name)], mx)
        inc_rem.append(binary_transitions(p_bin[j], mp.value(f.turnover), start))
    start_cur, start_ex = survivors([cur, ex], [rr("smoking_current"), rr("smoking_ex")], mx)
    smk_start = (start_cur, start_ex)
    smk_init, smk_cess, smk_rel = smoking_transitions(
        cur, ex, mp.value("smoking_relapse"), smk_start
    )
    p1 = factor_prevalence(mp, "ltc1plus")
    p2 = np.minimum(factor_prevalence(mp, "ltc2plus"), p1)
    s1_only, s2 = survivors([p1 - p2, p2], [rr("ltc1"), rr("ltc2plus")], mx)
    i01, i12 = ltc_transitions(p1, p2, (s1_only + s2, s2))

    wa_max = mp.value("working_age_max")
    p_emp = factor_prevalence(mp, "employed")
    p_sick = factor_prevalence(mp, "inactive_sick")
    # Below 16 the state is the household's: 0 lives with someone in work, else 1.
    p_emp[..., :16] = mp.value("child_household_worker")
    p_sick[..., :16] = 0.0
    p_emp[..., AGES > wa_max] = 0.0
    p_sick[..., AGES > wa_max] = 0.0
    # Employment gives way where employment plus long-term sickness would exceed 0.99 (the
    # multiplicative employment gradient reaches its 0.98 clip for Q5 men at 25-49).
    p_emp = np.minimum(p_emp, 0.99 - p_sick)
    # Exits from work into long-term sickness from age 16 (at 15 -> 16 the child's household
    # state becomes the person's own: entries into sickness then come from state 1).
    sick_share = np.broadcast_to(
        np.where(AGES >= 16, mp.value("job_exit_sick_share"), 0.0), p_emp.shape
    )
    trans = work_transitions(
        p_emp,
        p_sick,
        mp.value("job_exit_rate"),
        sick_share,
        mp.value("sick_to_work_rate"),
        mp.value("sick_to_other_rate"),
    )
    # At working_age_max everyone retires (state 1, not counted) and stays there.
    trans[:, ..., AGES > wa_max] = 0.0
    trans[:, ..., AGES == wa_max] = 0.0
    trans[0, ..., AGES == wa_max] = 1.0  # 0 -> 1
    trans[5, ..., AGES == wa_max] = 1.0  # 2 -> 1
    work_rr = job_exit_rr(mp)
    p1_all = factor_prevalence(mp, "ltc1plus")
    # Mean RR of each cell's persons at its target not-good and 1+ LTC shares (taken as
    # independent; the normaliser keeps the cell's mean exit rate on its target).
    ng = 1.0 - good
    w_norm = np.stack(
        [
            (1.0 - ng) * (1.0 - p1_all) * work_rr[r, 0]
            + ng * (1.0 - p1_all) * work_rr[r, 1]
            + (1.0 - ng) * p1_all * work_rr[r, 2]
            + ng * p1_all * work_rr[r, 3]
            for r in (0, 1, 1)
        ]
    )

    p_pov = factor_prevalence(mp, "poverty")
    line = mp.value("poverty_line_fraction") * mp.value("median_income_gbp")
    working = np.broadcast_to(AGES <= wa_max, p_pov.shape)
    mu = income_mu(
        p_pov, p_emp, working, mp.value("income_sigma"), mp.value("replacement_ratio"), line
    )

    return CellTables(
        mx=_flat(mx),
        good_target=_flat(good),
        p_smoke_cur=_flat(cur),
        p_smoke_ex=_flat(ex),
        p_bin=_flat(p_bin),
        p_emp=_flat(p_emp),
        p_ltc1p=_flat(p1),
        p_ltc2p=_flat(p2),
        p_pov=_flat(p_pov),
        bin_inc=_flat(np.stack([ir[0] for ir in inc_rem])),
        bin_rem=_flat(np.stack([ir[1] for ir in inc_rem])),
        smk_init=_flat(smk_init),
        smk_cess=_flat(smk_cess),
        smk_relapse=_flat(smk_rel),
        ltc_i01=_flat(i01),
        ltc_i12=_flat(i12),
        p_sick=_flat(p_sick),
        work_trans=_flat(trans),
        work_norm=_flat(w_norm),
        work_rr=work_rr,
        inc_mu=_flat(mu),
        rr_mort=effect_vector(mp, "mortality", registry),
        rr_ltc=effect_vector(mp, "ltc_onset", registry),
        or_health=effect_vector(mp, "poor_health", registry),
        income_beta=income_betas(mp),
        poverty_line=float(line),
        median_income=float(mp.value("median_income_gbp")),
        smoke_mort_factor=mort_factor(mp, "smoking_current"),
        cold_mort_factor=mort_factor(mp, "cold_home"),
        registry=registry,
    )


def job_exit_rr(mp: ModelParams) -> np.ndarray:
    """(2, 4) relative risks of leaving work into state 1 (row 0, ``job_loss``) and into
    long-term sickness (row 1, ``job_loss_sick``) by (not-good health) + 2 * (1+ LTC): the
    poor-health and LTC risks multiplied (van Rijn et al. 2014 report each alone)."""
    out = np.ones((2, 4))
    for r, outcome in enumerate(("job_loss", "job_loss_sick")):
        h = mp.rr_work[outcome]["poor_health"]
        lt = mp.rr_work[outcome]["ltc1"]
        out[r] = (1.0, h, lt, h * lt)
    return out


INCOME_EFFECTS = ("income_log_or_not_good", "income_log_hr_mortality", "income_log_hr_ltc")


def income_betas(mp: ModelParams) -> np.ndarray:
    """Effects of lagged log income per log unit (3,): not-good health (log odds ratio),
    mortality and LTC onset (log hazard ratios), the kernel's effect-row order."""
    return np.array([float(mp.value(n)) for n in INCOME_EFFECTS])


# Exposures whose mortality RR may be age-specific (``relative_risks_by_age.csv``); the kernel's
# effect product applies the all-age value and a per-cell factor carries the ratio.
AGE_SPECIFIC = tuple(AGE_SPECIFIC_START)


def mort_factor(mp: ModelParams, exposure: str) -> np.ndarray:
    """Per cell: the age-specific mortality RR of ``exposure`` divided by the all-age value the
    kernel applies (1 where there is no age-specific table). The kernel multiplies exposed
    persons' hazard by it (adult current smokers; persons in a cold home: cell-table columns
    ``P_SMKF`` and ``age_factor_column``, see engine/kernel.py)."""
    age = rr_by_age(mp, exposure)
    if age is None:
        return np.ones(L.N_CELL)
    r = mp.rr["mortality"][exposure]
    f = age / r if r != 0 else np.ones_like(age)
    if exposure in BEHAVIOURS:
        f[:, AGES < mp.value("adult_age")] = 1.0
    return _flat(np.broadcast_to(f[:, None, :], (2, 5, L.N_AGE)).copy())
