"""Period life tables, Sullivan health expectancy, gaps and slope index of inequality.

All functions take mortality rates per person-year by single year of age 0-100 on the last
axis (age 100 is the open interval 100+) and work over any leading axes (years, groups).
"""

from __future__ import annotations

import numpy as np

A0 = 0.1  # mean fraction of the first year lived by infants who die (ONS national life tables)


def _ax(n_age: int) -> np.ndarray:
    a = np.full(n_age, 0.5)
    a[0] = A0
    return a


def life_table(mx: np.ndarray) -> dict[str, np.ndarray]:
    """Life table from rates ``mx`` (..., n_age): qx, lx (radix 1), Lx, Tx and ex in years.

    qx = mx / (1 + (1 - ax) mx) for closed intervals; the last interval is open with
    Lx = lx / mx, so a constant hazard h gives e0 = 1/h exactly.
    """
    mx = np.asarray(mx, dtype=float)
    n = mx.shape[-1]
    ax = _ax(n)
    qx = mx / (1.0 + (1.0 - ax) * mx)
    qx[..., -1] = 1.0
    surv = np.cumprod(1.0 - qx[..., :-1], axis=-1)
    lx = np.concatenate([np.ones(mx.shape[:-1] + (1,)), surv], axis=-1)
    dx = lx * qx
    Lx = lx - (1.0 - ax) * dx
    with np.errstate(divide="ignore", invalid="ignore"):
        Lx[..., -1] = np.where(mx[..., -1] > 0, lx[..., -1] / mx[..., -1], 0.0)
    Tx = np.cumsum(Lx[..., ::-1], axis=-1)[..., ::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ex = np.where(lx > 0, Tx / lx, 0.0)
    return {
        "ax": np.broadcast_to(ax, mx.shape),
        "qx": qx,
        "lx": lx,
        "dx": dx,
        "Lx": Lx,
        "Tx": Tx,
        "ex": ex,
    }


def life_expectancy(mx: np.ndarray, age: int = 0) -> np.ndarray:
    """Period life expectancy at ``age`` (years)."""
    return life_table(mx)["ex"][..., age]


def sullivan_hle(mx: np.ndarray, good: np.ndarray, age: int = 0) -> np.ndarray:
    """Healthy life expectancy at ``age`` by the Sullivan method: sum of Lx * prevalence of good
    health over ages >= age, divided by lx at that age (years)."""
    lt = life_table(mx)
    hy = np.sum((lt["Lx"] * good)[..., age:], axis=-1)
    return hy / lt["lx"][..., age]


def le_se(mx: np.ndarray, var_mx: np.ndarray, age: int = 0) -> np.ndarray:
    """Standard error of e_age (years) from the variance of each age's rate (Chiang's method:
    Var(e_x) = sum_i l_i^2 [(1 - a_i) + e_(i+1)]^2 Var(q_i) / l_x^2, with Var(q) from Var(m) by
    the delta method, and the open interval contributing Var(m)/m^4)."""
    lt = life_table(mx)
    ax = lt["ax"]
    dq = 1.0 / (1.0 + (1.0 - ax) * mx) ** 2
    var_q = var_mx * dq * dq
    e_next = np.concatenate([lt["ex"][..., 1:], np.zeros(mx.shape[:-1] + (1,))], axis=-1)
    terms = lt["lx"] ** 2 * ((1.0 - ax) + e_next) ** 2 * var_q
    with np.errstate(divide="ignore", invalid="ignore"):
        last = np.where(
            mx[..., -1] > 0, lt["lx"][..., -1] ** 2 * var_mx[..., -1] / mx[..., -1] ** 4, 0.0
        )
    total = np.sum(terms[..., age:-1], axis=-1) + last
    return np.sqrt(total) / lt["lx"][..., age]


def hle_se(mx: np.ndarray, good: np.ndarray, n: np.ndarray, age: int = 0) -> np.ndarray:
    """Standard error of Sullivan HLE (years) from binomial sampling of prevalence in ``n``
    persons per age (the ONS/Jagger formula; mortality variance is second order)."""
    lt = life_table(mx)
    var_p = good * (1.0 - good) / np.maximum(n, 1.0)
    return np.sqrt(np.sum((lt["Lx"] ** 2 * var_p)[..., age:], axis=-1)) / lt["lx"][..., age]


def ridit_midpoints(shares: np.ndarray) -> np.ndarray:
    """Midpoint of each group's cumulative population share, most deprived first (0..1)."""
    shares = np.asarray(shares, float)
    shares = shares / shares.sum(axis=-1, keepdims=True)
    return np.cumsum(shares, axis=-1) - shares / 2.0


def sii_weights(shares: np.ndarray) -> np.ndarray:
    """Coefficients c with SII = sum(c * value): the slope of a population-weighted least-
    squares line of value on ridit rank (least minus most deprived end, in value units)."""
    w = np.asarray(shares, float)
    w = w / w.sum(axis=-1, keepdims=True)
    r = ridit_midpoints(w)
    rbar = np.sum(w * r, axis=-1, keepdims=True)
    return w * (r - rbar) / np.sum(w * (r - rbar) ** 2, axis=-1, keepdims=True)


def sii(values: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Slope index of inequality: difference between the least and most deprived ends of the
    fitted gradient (same units as ``values``; positive when less deprived groups do better)."""
    return np.sum(sii_weights(shares) * np.asarray(values, float), axis=-1)


def rii(values: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Relative index of inequality: SII divided by the population-weighted mean."""
    w = np.asarray(shares, float)
    w = w / w.sum(axis=-1, keepdims=True)
    return sii(values, w) / np.sum(w * values, axis=-1)


def gap_ends(shares: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The quintiles a gap is measured between: the most and the least deprived quintile with
    residents (indices 0-4 along the last axis of ``shares`` (..., 5)), and whether there
    are two such quintiles. With every quintile present that is Q1 and Q5; an area with no
    residents in Q1 (an affluent place) measures its gap from Q2, one with a single quintile
    has no gap."""
    present = np.asarray(shares, float) > 0
    lo = np.argmax(present, axis=-1)
    hi = present.shape[-1] - 1 - np.argmax(present[..., ::-1], axis=-1)
    return lo, hi, present.any(axis=-1) & (hi > lo)


def gap(values: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Least minus most deprived quintile present (:func:`gap_ends`); NaN with fewer than two
    quintiles. ``values`` and ``shares`` (..., 5), quintile 1 first."""
    lo, hi, ok = gap_ends(shares)
    v = np.asarray(values, float)
    top = np.take_along_axis(v, hi[..., None], axis=-1)[..., 0]
    bottom = np.take_along_axis(v, lo[..., None], axis=-1)[..., 0]
    return np.where(ok, top - bottom, np.nan)


def gap_se(se: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Standard error of :func:`gap` from the two quintiles' standard errors."""
    lo, hi, ok = gap_ends(shares)
    s = np.asarray(se, float)
    top = np.take_along_axis(s, hi[..., None], axis=-1)[..., 0]
    bottom = np.take_along_axis(s, lo[..., None], axis=-1)[..., 0]
    return np.where(ok, np.sqrt(top**2 + bottom**2), np.nan)
