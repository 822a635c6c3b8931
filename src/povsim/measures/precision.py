"""Monte Carlo precision of a single run's arm contrasts, flags for figures that rest on few
simulated events, and the interval of a proportion (the PSA's probabilities).

Within-run intervals (one replicate). The run records its tallies by person-id block as well
(:mod:`povsim.engine.blocks`: ``k`` interleaved blocks, id mod k). A person is in the same
block in every arm and draws the same numbers, so an arm-minus-baseline difference computed
block by block keeps the correlation that common random numbers create, which is what makes
a difference far more precise than either arm:

- counts (healthy life-years, life-years, deaths averted, QALYs; yearly, cumulative and
  discounted cumulative): batch means, ``se = sqrt(k * var_b(d_b))`` over the blocks'
  differences ``d_b`` (their sum is the run's difference);
- expectancy changes (LE/HLE at birth and 65 by sex and quintile, their gaps and SIIs): a
  delete-one-block jackknife of the difference. Approximation: the block tallies hold counted
  deaths, not expected hazards, so the jackknife's rates are counted-death rates; the run's
  own estimate uses expected hazards, which are less noisy, so this interval is wider than the
  Monte Carlo spread of the run's estimate (conservative; tests/test_precision.py measures it
  against replicates: at 20,000 persons, stop_smoking_core20, 6 seeds, the within-run
  standard error was 1.1-1.3x the replicates' standard deviation for HLE changes and gaps,
  about 5x for LE changes; where no block has a discordant death the jackknife is zero and the
  interval is left undefined).

Intervals are value +- 1.96 se (the normal approximation; with replicates the between-
replicate t interval of :func:`povsim.measures.contrast.pool_replicates` is used instead).
Costs and participants carry no within-run interval (they follow from uptake draws but are
reported as delivered).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numba import njit, prange

from povsim.engine.blocks import B_DEATHS, B_EXPO, B_GOOD
from povsim.inputs import layout as L
from povsim.measures import life_table as M
from povsim.measures.economics import discount_factors
from povsim.measures.results import EXPECTANCIES, QUINTILE_LABELS, SEX_LABELS

Z95 = 1.959963984540054
# A count figure (deaths averted, life-years, healthy life-years, QALYs gained) resting on
# fewer simulated (unweighted) events than this is flagged imprecise: with n Poisson events
# the relative standard error is 1/sqrt(n), 18% at 30, so the 95% interval spans about
# +-36% of the figure. A convention (assumption), not a published threshold.
MIN_SIMULATED_EVENTS = 30
IMPRECISE_ADVICE = "use --size or --replicates"

# Count measures of the comparison table -> the block statistic they are built from.
COUNT_MEASURES = {
    "healthy_years_gained": "good",
    "life_years_gained": "expo",
    "deaths_averted": "deaths",
    "qalys_gained": "qalys",
}
DISCOUNTED = {
    "healthy_years_gained_discounted_cumulative": "good",
    "life_years_gained_discounted_cumulative": "expo",
    "qalys_gained_discounted_cumulative": "qalys",
}


def _grouped_blocks(b: np.ndarray) -> np.ndarray:
    """(H, k, N_CELL, S) -> (H, k, 3, 6, N_AGE, S): sex male/female/all x quintile 1-5/all."""
    h, k, _, s = b.shape
    t = b.reshape(h, k, 2, L.N_Q, L.N_AGE, s)
    t = np.concatenate([t, t.sum(axis=3, keepdims=True)], axis=3)
    return np.concatenate([t, t.sum(axis=2, keepdims=True)], axis=2)


@njit(cache=True)
def _grouped_age_sums(full: np.ndarray) -> np.ndarray:
    """``_grouped_blocks(full).sum(axis=4)`` without its (H, k, 3, 6, N_AGE, S) temporaries,
    adding in NumPy's order: quintile 1 to 5 for "all", male then female for "all", then the
    ages in order (NumPy reduces a middle axis one slice at a time). Tested bit for bit."""
    h, k, _, n_s = full.shape
    n_age = L.N_AGE
    out = np.zeros((h, k, 3, 6, n_s))
    tmp = np.empty((3, 6, n_s))
    for t in range(h):
        for b in range(k):
            for a in range(n_age):
                for s in range(2):
                    for st in range(n_s):
                        acc = full[t, b, (s * L.N_Q) * n_age + a, st]
                        tmp[s, 0, st] = acc
                        for q in range(1, L.N_Q):
                            v = full[t, b, (s * L.N_Q + q) * n_age + a, st]
                            tmp[s, q, st] = v
                            acc = acc + v
                        tmp[s, 5, st] = acc
                for q in range(6):
                    for st in range(n_s):
                        tmp[2, q, st] = tmp[0, q, st] + tmp[1, q, st]
                for s in range(3):
                    for q in range(6):
                        for st in range(n_s):
                            if a == 0:
                                out[t, b, s, q, st] = tmp[s, q, st]
                            else:
                                out[t, b, s, q, st] += tmp[s, q, st]
    return out


def block_counts(blocks: np.ndarray, utilities: tuple[np.ndarray, np.ndarray]) -> dict:
    """Per year, block, sex (3) and quintile (6), real persons: person-years alive (``expo``),
    in good health (``good``), deaths and QALYs lived; from block tallies (H, k, N_CELL, 3)."""
    u_good, u_bad = utilities  # (N_CELL,) each
    q = blocks[..., B_GOOD] * u_good + (blocks[..., B_EXPO] - blocks[..., B_GOOD]) * u_bad
    full = np.concatenate([blocks, q[..., None]], axis=-1)
    g = _grouped_age_sums(full)  # (H, k, 3, 6, 4): _grouped_blocks(full).sum(axis=4)
    return {
        "expo": g[..., B_EXPO],
        "good": g[..., B_GOOD],
        "deaths": g[..., B_DEATHS],
        "qalys": g[..., 3],
    }


def batch_se(d: np.ndarray) -> np.ndarray:
    """Standard error of the sum over blocks (axis 1) of block values ``d``: sqrt(k var)."""
    k = d.shape[1]
    return np.sqrt(k * np.var(d, axis=1, ddof=1))


def _with_gaps_and_siis(out: dict[str, np.ndarray], shares: np.ndarray) -> dict[str, np.ndarray]:
    """``out`` (expectancies by quintile 1-5 and all, last axis) with each one's gap (Q5 - Q1)
    and slope index of inequality over ``shares`` (persons by quintile, last axis) added."""
    with np.errstate(divide="ignore", invalid="ignore"):
        w = M.sii_weights(shares)
    for name in EXPECTANCIES:
        v = np.where(shares > 0, out[name][..., :5], 0.0)
        out[f"{name}_gap"] = out[name][..., 4] - out[name][..., 0]
        out[f"{name}_sii"] = np.sum(w * v, axis=-1)
    return out


def jackknife_se(
    arm: np.ndarray, base: np.ndarray, weight: float, fallback: np.ndarray
) -> dict[str, np.ndarray]:
    """Delete-one-block jackknife standard error of every expectancy change (arm minus base),
    by measure: (H, 3, 6) for LE/HLE, (H, 3) for gaps and SIIs. ``arm``, ``base``: block
    tallies (H, k, N_CELL, 3)."""
    ga, gb = _grouped_blocks(arm), _grouped_blocks(base)
    k = ga.shape[1]
    ta, tb = ga.sum(axis=1), gb.sum(axis=1)
    ea = _delete_one_expectancies(ta, ga, fallback)
    eb = _delete_one_expectancies(tb, gb, fallback)
    out = {}
    for name, v in ea.items():
        arr = v - eb[name]  # (k, H, ...): replicate j leaves block j out
        out[name] = np.sqrt((k - 1) / k * np.sum((arr - arr.mean(axis=0)) ** 2, axis=0))
    return out


def _delete_one_expectancies(
    total: np.ndarray, grouped: np.ndarray, fallback: np.ndarray
) -> dict[str, np.ndarray]:
    """LE/HLE at birth and 65 (k, H, 3, 6) and their gaps and SIIs (k, H, 3) of ``total -
    grouped[:, j]`` for every block j (grouped block tallies (H, k, 3, 6, N_AGE, 3);
    counted-death rates, gaps filled as :func:`~povsim.measures.results.rates` fills them,
    period life tables of :mod:`povsim.measures.life_table`). The life tables run in Numba
    (:func:`_loo_life_tables`) with NumPy's operations in NumPy's order, including its
    pairwise sums, so every double is the one those NumPy functions give
    (tests/test_precision.py checks bit for bit); one replicate
    at a time in NumPy took 0.17 s of a 300,000-person what-if, all at once 0.26 s (the
    temporaries leave the cache)."""
    h, k = grouped.shape[:2]
    e = np.empty((4, k, h, 3, 6))
    shares = np.empty((k, h, 3, 5))
    _loo_life_tables(
        np.ascontiguousarray(total), np.ascontiguousarray(grouped), fallback, e, shares
    )
    return _with_gaps_and_siis(dict(zip(EXPECTANCIES, e, strict=True)), shares)


@njit(cache=True, inline="always")
def _np_sum(a: np.ndarray, lo: int, hi: int) -> float:
    """``np.sum(a[lo:hi])`` bit for bit for up to 128 elements: NumPy's pairwise sum adds
    fewer than 8 in order, else in 8 interleaved partial sums combined as a tree, then the
    remainder in order."""
    n = hi - lo
    if n < 8:
        res = 0.0
        for i in range(lo, hi):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = lo + 8
    end = lo + n - n % 8
    while i < end:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < hi:
        res += a[i]
        i += 1
    return res


@njit(cache=True, parallel=True, error_model="numpy")
def _loo_life_tables(total, grouped, fallback, e, shares):
    """Fill ``e`` (4, k, H, 3, 6): LE and HLE at birth, LE and HLE at 65 of ``total -
    grouped[:, j]`` (counted-death rates, gaps filled as :func:`~povsim.measures.results.rates`
    fills them), and ``shares`` (k, H, 3, 5): persons by quintile (its age sums)."""
    n_age = total.shape[3]
    assert n_age <= 128  # _np_sum's range
    h, k = grouped.shape[0], grouped.shape[1]
    ax1 = np.full(n_age, 1.0 - 0.5)
    ax1[0] = 1.0 - M.A0
    for j in prange(k):
        mx = np.empty((3, 6, n_age))
        good = np.empty((3, 6, n_age))
        expo = np.empty(n_age)
        lx = np.empty(n_age)
        big_l = np.empty(n_age)
        tx = np.empty(n_age)
        prod = np.empty(n_age)
        for t in range(h):
            for s in range(3):
                for q in range(6):
                    for a in range(n_age):
                        ex_ = total[t, s, q, a, B_EXPO] - grouped[t, j, s, q, a, B_EXPO]
                        d = total[t, s, q, a, B_DEATHS] - grouped[t, j, s, q, a, B_DEATHS]
                        g = total[t, s, q, a, B_GOOD] - grouped[t, j, s, q, a, B_GOOD]
                        mx[s, q, a] = d / ex_
                        good[s, q, a] = g / ex_
                        expo[a] = ex_
                    if q < 5:
                        shares[j, t, s, q] = _np_sum(expo, 0, n_age)
            # Gaps: the sex's all-quintile value, then everyone's, then the national table
            # (rates(): each step reads the array as the step before left it).
            for src_s in (-1, 2):
                for s in range(3):
                    ss = s if src_s < 0 else src_s
                    for q in range(6):
                        for a in range(n_age):
                            if np.isnan(mx[s, q, a]):
                                mx[s, q, a] = mx[ss, 5, a]
                            if np.isnan(good[s, q, a]):
                                good[s, q, a] = good[ss, 5, a]
            for s in range(3):
                for q in range(6):
                    for a in range(n_age):
                        if np.isnan(mx[s, q, a]):
                            mx[s, q, a] = fallback[s, a]
                        if np.isnan(good[s, q, a]):
                            good[s, q, a] = 0.5
                    # life_table(): qx, lx by cumulative product, Lx (open last interval),
                    # Tx by cumulative sum from the oldest age, ex.
                    m = mx[s, q]
                    lx[0] = 1.0
                    surv = 1.0
                    for a in range(n_age):
                        qx = m[a] / (1.0 + ax1[a] * m[a]) if a < n_age - 1 else 1.0
                        if a > 0:
                            lx[a] = surv
                        dx = lx[a] * qx
                        big_l[a] = lx[a] - ax1[a] * dx
                        if a < n_age - 1:
                            surv = (1.0 - qx) if a == 0 else surv * (1.0 - qx)
                    last = n_age - 1
                    big_l[last] = lx[last] / m[last] if m[last] > 0 else 0.0
                    acc = big_l[last]
                    tx[last] = acc
                    for a in range(last - 1, -1, -1):
                        acc = acc + big_l[a]
                        tx[a] = acc
                    for a in range(n_age):
                        prod[a] = big_l[a] * good[s, q, a]
                    # EXPECTANCIES order: le0, hle0, le65, hle65
                    e[0, j, t, s, q] = tx[0] / lx[0] if lx[0] > 0 else 0.0
                    e[1, j, t, s, q] = _np_sum(prod, 0, n_age) / lx[0]
                    e[2, j, t, s, q] = tx[65] / lx[65] if lx[65] > 0 else 0.0
                    e[3, j, t, s, q] = _np_sum(prod, 65, n_age) / lx[65]


def _estimable(se: np.ndarray) -> np.ndarray:
    """A standard error of exactly zero means no block differs (no discordant event at
    all), not a certain figure: undefined (NaN) rather than a zero-width interval."""
    return np.where(se > 0, se, np.nan)


def _rows(values: np.ndarray, years: np.ndarray, measure: str, arm: str) -> pd.DataFrame:
    """(H, 3, 6) -> tidy rows (arm, year, sex, quintile, measure, x)."""
    h = values.shape[0]
    return pd.DataFrame(
        {
            "arm": arm,
            "year": np.repeat(years, 18),
            "sex": np.tile(np.repeat(SEX_LABELS, 6), h),
            "quintile": np.tile(QUINTILE_LABELS, 3 * h),
            "measure": measure,
            "x": values.ravel(),
        }
    )


def _all_only(values: np.ndarray) -> np.ndarray:
    """(H,) -> (H, 3, 6) under sex all, quintile all."""
    out = np.full((values.shape[0], 3, 6), np.nan)
    out[:, 2, 5] = values
    return out


def _per_sex(values: np.ndarray) -> np.ndarray:
    """(H, 3) -> (H, 3, 6) under quintile all."""
    out = np.full((values.shape[0], 3, 6), np.nan)
    out[:, :, 5] = values
    return out


def within_run(
    blocks: dict[str, np.ndarray],
    utilities: tuple[np.ndarray, np.ndarray],
    weight: float,
    fallback: np.ndarray,
    rate_health: float,
    start_year: int,
) -> pd.DataFrame:
    """Within-run standard errors (``se``) and simulated event counts (``sim_n``) of every
    arm's contrast rows: (arm, year, sex, quintile, measure, se, sim_n). ``blocks``: each
    arm's block tallies (H, k, N_CELL, 3), the baseline's under ``baseline``; ``weight``: real
    persons per simulated person.

    ``sim_n`` is the number of simulated (unweighted) events a count figure rests on: for
    deaths averted and life-years gained the simulated deaths averted, for healthy life-years
    and QALYs gained the simulated person-years whose health differs (net), each in that
    year's group (yearly rows) or up to that year (cumulative rows), in absolute value.
    """
    base = blocks["baseline"]
    h = base.shape[0]
    years = start_year + np.arange(h)
    dh = discount_factors(h, rate_health)
    cb = block_counts(base, utilities)
    frames = []
    for arm, b in blocks.items():
        if arm == "baseline":
            continue
        ca = block_counts(b, utilities)
        for measure, stat in COUNT_MEASURES.items():
            d = ca[stat] - cb[stat]  # (H, k, 3, 6)
            events = "deaths" if stat in ("deaths", "expo") else "good"
            n = np.abs((ca[events] - cb[events]).sum(axis=1)) / weight
            n_cum = np.abs(np.cumsum((ca[events] - cb[events]).sum(axis=1), axis=0)) / weight
            for suffix, se, sim in (
                ("", _estimable(batch_se(d)), n),
                ("_cumulative", _estimable(batch_se(np.cumsum(d, axis=0))), n_cum),
            ):
                f = _rows(se, years, measure + suffix, arm)
                f["sim_n"] = _rows(sim, years, measure + suffix, arm).x
                frames.append(f)
        for measure, stat in DISCOUNTED.items():
            d = (ca[stat] - cb[stat])[:, :, 2, 5] * dh[:, None]
            se = _estimable(batch_se(np.cumsum(d, axis=0)[:, :, None])[:, 0])
            f = _rows(_all_only(se), years, measure, arm)
            f["sim_n"] = np.nan
            frames.append(f)
        # A group with no discordant death or health state in any block gives a jackknife
        # of exactly zero although the hazard-based change is not: not estimable here.
        jk = {k: _estimable(v) for k, v in jackknife_se(b, base, weight, fallback).items()}
        for name in EXPECTANCIES:
            f = _rows(jk[name], years, f"{name}_change", arm)
            f["sim_n"] = np.nan
            frames.append(f)
            for s in ("gap", "sii"):
                f = _rows(_per_sex(jk[f"{name}_{s}"]), years, f"{name}_{s}_change", arm)
                f["sim_n"] = np.nan
                frames.append(f)
    if not frames:
        return pd.DataFrame(columns=["arm", "year", "sex", "quintile", "measure", "se", "sim_n"])
    out = pd.concat(frames, ignore_index=True).rename(columns={"x": "se"})
    return out.dropna(subset=["se", "sim_n"], how="all")


def attach(comparison: pd.DataFrame, within: pd.DataFrame) -> pd.DataFrame:
    """The comparison table with within-run ``se``, 95% ``lo``/``hi`` and ``sim_n`` filled in
    (cost per QALY: its interval from that of discounted QALYs, cost taken as known)."""
    keys = ["arm", "year", "sex", "quintile", "measure"]
    c = comparison.drop(columns=["se", "lo", "hi", "sim_n"], errors="ignore")
    w = within.copy()
    w["year"] = w["year"].astype(c["year"].dtype)
    out = c.merge(w, on=keys, how="left")
    out["lo"] = out.value - Z95 * out.se
    out["hi"] = out.value + Z95 * out.se
    _ratio_interval(out)
    return out[[*keys, "value", "se", "lo", "hi", "sim_n"]]


# Ratios whose interval comes from their denominator's (the numerator, a cost, as known).
RATIOS = {
    "cost_per_qaly": ("cost_discounted_cumulative", "qalys_gained_discounted_cumulative"),
    "cost_per_healthy_year": ("cost_cumulative", "healthy_years_gained_cumulative"),
}


def _ratio_interval(f: pd.DataFrame) -> None:
    """Cost per QALY (per healthy life-year) = cost / QALYs (healthy life-years): lo/hi from
    the denominator's interval when it excludes zero (cost taken as known), else undefined
    (NaN); se by the delta method."""
    keys = ["arm", "year", "sex", "quintile"]
    for ratio, (num, den) in RATIOS.items():
        rows = f.measure == ratio
        if not rows.any():
            continue
        q = f[f.measure == den].set_index(keys)
        c = f[f.measure == num].set_index(keys)
        idx = pd.MultiIndex.from_frame(f.loc[rows, keys])
        qv, qlo, qhi, qse = (q[col].reindex(idx).to_numpy() for col in ("value", "lo", "hi", "se"))
        cv = c["value"].reindex(idx).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            ok = (qlo > 0) | (qhi < 0)
            lo = np.where(ok, np.minimum(cv / qlo, cv / qhi), np.nan)
            hi = np.where(ok, np.maximum(cv / qlo, cv / qhi), np.nan)
            se = np.abs(cv) / qv**2 * qse
        f.loc[rows, "lo"] = lo
        f.loc[rows, "hi"] = hi
        f.loc[rows, "se"] = se


def imprecise(sim_n: float | None) -> bool:
    """Whether a count figure rests on fewer than :data:`MIN_SIMULATED_EVENTS` simulated
    events (None or NaN: not a count figure, never flagged)."""
    return sim_n is not None and math.isfinite(sim_n) and sim_n < MIN_SIMULATED_EVENTS


def events_kind(measure: str) -> str:
    """What the simulated events of a count measure are (see :func:`within_run`)."""
    if measure.startswith(("deaths_averted", "life_years")):
        return "simulated deaths"
    return "simulated person-years of changed health"


def imprecise_note(sim_n: float, kind: str = "simulated deaths") -> str:
    """The flag's wording, e.g. 'imprecise: rests on 2 simulated deaths; use --size or
    --replicates'."""
    return f"imprecise: rests on {sim_n:,.0f} {kind}; {IMPRECISE_ADVICE}"


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score 95% interval of a proportion ``successes / n`` (n >= 1); contains the
    proportion and stays within [0, 1] (e.g. 16 of 16 -> 0.81 to 1)."""
    if n < 1:
        return (math.nan, math.nan)
    p = successes / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    # min/max: at p = 0 or 1 rounding would otherwise leave p a hair outside its interval
    return (min(p, max(0.0, mid - half)), max(p, min(1.0, mid + half)))


# --- under-powered sweeps ----------------------------------------------------------------

# A Sobol total index ST lies in [0, 1]; one whose bootstrap 95% half-width exceeds this
# cannot tell an input that matters (ST ~ 0.3) from one that does not (~ 0), so the sweep is
# flagged under-powered (a convention, assumption).
SOBOL_MAX_HALF_WIDTH = 0.15
# PSA: below this many draws a probability's 95% Wilson interval is wider than about +-0.1 at
# p = 0.5 (half-width 0.096 at 100 draws) (a convention, assumption).
PSA_MIN_DRAWS = 100


def sobol_flags(indices: pd.DataFrame) -> pd.Series:
    """Per row of a Sobol index table (columns index, value, conf): True for an ST that lies
    outside [0, 1] beyond its interval (value - conf > 1 or value + conf < 0) or whose
    interval half-width exceeds :data:`SOBOL_MAX_HALF_WIDTH`; False for other ST rows; NA
    for S1/S2 rows (not assessed)."""
    st = indices["index"] == "ST"
    # As floats: a table whose S2 rows hold None has object columns, which np.isfinite refuses.
    v = pd.to_numeric(indices["value"], errors="coerce").astype(float)
    c = pd.to_numeric(indices["conf"], errors="coerce").astype(float)
    bad = (v - c > 1) | (v + c < 0) | (c > SOBOL_MAX_HALF_WIDTH) | ~np.isfinite(c)
    return bad.where(st, other=pd.NA).astype("boolean")


def sobol_warning(indices: pd.DataFrame, n: int) -> str | None:
    """One line on an under-powered Sobol sweep (None if every ST is well determined)."""
    flags = sobol_flags(indices)
    indices = indices.assign(
        value=pd.to_numeric(indices["value"], errors="coerce").astype(float),
        conf=pd.to_numeric(indices["conf"], errors="coerce").astype(float),
    )
    st = indices[indices["index"] == "ST"]
    bad = indices[flags.fillna(False).astype(bool)]
    if bad.empty:
        return None
    outside = bad[(bad.value - bad.conf > 1) | (bad.value + bad.conf < 0)]
    worst = (outside if not outside.empty else bad).sort_values("conf", ascending=False).iloc[0]
    return (
        f"under-powered Sobol sweep: {len(bad)} of {len(st)} total indices (ST) are "
        f"undetermined ({len(outside)} outside [0, 1] beyond their 95% interval, the others "
        f"with an interval wider than +-{SOBOL_MAX_HALF_WIDTH}), e.g. ST = {worst.value:.2f} "
        f"+- {worst.conf:.2f} for {worst.parameter} on {worst.output}; use a larger -n "
        f"(now {n}; try {max(4 * n, 256)})"
    )


def psa_warning(draws: int) -> str | None:
    """One line when a PSA has fewer than :data:`PSA_MIN_DRAWS` draws (None otherwise)."""
    if draws >= PSA_MIN_DRAWS:
        return None
    lo, hi = wilson(draws, draws)
    return (
        f"too few PSA draws ({draws}): probabilities are imprecise (e.g. {draws} of {draws} "
        f"gives 1.00, 95% {lo:.2f} to {hi:.2f}); use -n {PSA_MIN_DRAWS} or more"
    )


def strategy_se(
    arm: np.ndarray,
    base: np.ndarray,
    utilities: tuple[np.ndarray, np.ndarray],
    weight: float,
    fallback: np.ndarray,
    rate_health: float,
    eval_index: int,
) -> dict[str, float]:
    """Within-run standard errors of `povsim compare`'s headline measures for one strategy
    (block tallies ``arm`` and ``base``, (H, k, N_CELL, 3)): discounted QALYs gained over the
    horizon (batch means), the LE/HLE gap and SII changes in year ``eval_index`` (jackknife,
    sex all) and the Core20 share of the QALY gains (jackknife of
    :func:`povsim.measures.equity.core20_share`'s definition)."""
    h = base.shape[0]
    dh = discount_factors(h, rate_health)
    d = block_counts(arm, utilities)["qalys"] - block_counts(base, utilities)["qalys"]
    by_q = (d[:, :, 2, :5] * dh[:, None, None]).sum(axis=0)  # (k, 5) discounted QALYs
    k = by_q.shape[0]
    out = {"qalys_gained": float(_estimable(batch_se(by_q.sum(axis=1)[None, :]))[0])}
    total = by_q.sum(axis=0)
    shares = []
    for j in range(k):
        pos = np.maximum(total - by_q[j], 0.0)
        shares.append(pos[0] / pos.sum() if pos.sum() > 0 else np.nan)
    s = np.array(shares)
    out["core20_share"] = float(np.sqrt((k - 1) / k * np.sum((s - s.mean()) ** 2)))
    jk = jackknife_se(
        arm[eval_index : eval_index + 1], base[eval_index : eval_index + 1], weight, fallback
    )
    for name in ("hle0", "le0"):
        for suffix in ("gap", "sii"):
            out[f"{name}_{suffix}_change"] = float(_estimable(jk[f"{name}_{suffix}"][0, 2]))
    return out
