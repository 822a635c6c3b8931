"""Tallies -> tidy results table (arm, year, sex, quintile, measure, value, se)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from povsim.inputs import layout as L
from povsim.measures import life_table as M
from povsim.model import registry as R

SEX_LABELS = ("male", "female", "all")
QUINTILE_LABELS = ("1", "2", "3", "4", "5", "all")


def prevalences(registry: R.Registry = R.REGISTRY) -> dict[str, tuple[int, int, int]]:
    """measure -> (tally column, age_min, age_max) of every prevalence (share of persons) in
    the order of the results table: the registry's measures, so a new binary risk factor gets
    its measure without an edit here."""
    return {m.name: (registry.stat(m.stat), m.lo, m.hi) for m in registry.prevalences}


PREVALENCES = prevalences()
EXPECTANCIES = ("le0", "hle0", "le65", "hle65")


def grouped(tallies: np.ndarray) -> np.ndarray:
    """(H, N_CELL, S) -> (H, 3, 6, 101, S): sex male/female/all x quintile 1-5/all."""
    h = tallies.shape[0]
    t = tallies.reshape(h, 2, L.N_Q, L.N_AGE, tallies.shape[-1])
    t = np.concatenate([t, t.sum(axis=2, keepdims=True)], axis=2)
    return np.concatenate([t, t.sum(axis=1, keepdims=True)], axis=1)


def rates(g: np.ndarray, person_weight: float, fallback_mx: np.ndarray) -> tuple[np.ndarray, ...]:
    """Mortality rate, its sampling variance, good-health prevalence and persons per age.

    The rate is the mean expected hazard of those alive at the start of the year (far less
    noisy than counted deaths). An age with nobody in a group borrows the rate of the same sex
    for all quintiles, then of everyone, then ``fallback_mx`` (national life table, (3, 101)).
    """
    expo = g[..., R.S_EXPO]
    n = expo / person_weight
    with np.errstate(divide="ignore", invalid="ignore"):
        mx = g[..., R.S_HAZ] / expo
        ex2 = g[..., R.S_HAZ2] / expo
        good = g[..., R.S_GOOD] / expo
    var_mx = np.maximum(ex2 - mx * mx, 0.0) / np.maximum(n, 1.0)
    empty = ~(expo > 0)
    # (..., sex 3, quintile 6, age): any leading axes (years; jackknife replicates).
    for src in (mx[..., 5:6, :], mx[..., 2:3, 5:6, :]):
        mx = np.where(np.isnan(mx), np.broadcast_to(src, mx.shape), mx)
    mx = np.where(np.isnan(mx), fallback_mx[:, None, :], mx)
    for src in (good[..., 5:6, :], good[..., 2:3, 5:6, :]):
        good = np.where(np.isnan(good), np.broadcast_to(src, good.shape), good)
    good = np.where(np.isnan(good), 0.5, good)
    var_mx = np.where(empty, 0.0, var_mx)
    return mx, var_mx, good, n


def tidy(
    tallies: np.ndarray,
    start_year: int,
    arm: str,
    person_weight: float,
    fallback_mx: np.ndarray,
    registry: R.Registry = R.REGISTRY,
) -> pd.DataFrame:
    """Tidy long table of every measure for every year, sex and quintile; the prevalences are
    those of ``registry`` (whose tally columns ``tallies`` has)."""
    g = grouped(tallies)
    h = g.shape[0]
    mx, var_mx, good, n = rates(g, person_weight, fallback_mx)
    values: dict[str, np.ndarray] = {}
    ses: dict[str, np.ndarray] = {}
    for name, age in (("le0", 0), ("le65", 65)):
        values[name] = M.life_expectancy(mx, age)
        ses[name] = M.le_se(mx, var_mx, age)
    for name, age in (("hle0", 0), ("hle65", 65)):
        values[name] = M.sullivan_hle(mx, good, age)
        ses[name] = M.hle_se(mx, good, n, age)
    expo = g[..., R.S_EXPO]
    # A group with nobody (e.g. quintile 5 of an area that has none) has no expectancy,
    # rather than the borrowed rates of its neighbours.
    nobody = ~(expo.sum(axis=-1) > 0)
    for name in EXPECTANCIES:
        values[name] = np.where(nobody, np.nan, values[name])
        ses[name] = np.where(nobody, np.nan, ses[name])
    values["population"] = expo.sum(axis=-1)
    ses["population"] = np.zeros_like(values["population"])
    values["deaths"] = g[..., R.S_DEATHS].sum(axis=-1)
    ses["deaths"] = np.sqrt(values["deaths"] * person_weight)
    for name, (col, lo, hi) in prevalences(registry).items():
        num = g[..., lo : hi + 1, col].sum(axis=-1)
        den = expo[..., lo : hi + 1].sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.where(den > 0, num / den, np.nan)
        values[name] = p
        ses[name] = np.sqrt(p * (1 - p) / np.maximum(den / person_weight, 1.0))

    years = start_year + np.arange(h)
    frames = []
    for name in values:
        v, s = values[name], ses[name]  # (H, 3, 6)
        frames.append(
            pd.DataFrame(
                {
                    "year": np.repeat(years, 18),
                    "sex": np.tile(np.repeat(SEX_LABELS, 6), h),
                    "quintile": np.tile(QUINTILE_LABELS, 3 * h),
                    "measure": name,
                    "value": v.ravel(),
                    "se": s.ravel(),
                }
            )
        )
    # Gap (Q5 - Q1, years) and SII across quintiles, for each expectancy. An area without
    # residents in a quintile at an end measures its gap between the quintiles it has
    # (life_table.gap_ends: e.g. Q5 - Q2 with Q1 empty), rather than printing NaN.
    shares = expo[:, :, :5, :].sum(axis=-1)  # (H, 3, 5)
    for name in EXPECTANCIES:
        v, s = values[name][:, :, :5], ses[name][:, :, :5]
        gap = M.gap(v, shares)
        gap_se = M.gap_se(s, shares)
        # Empty quintiles weigh nothing in the SII (their NaN must not spread).
        v, s = np.where(shares > 0, v, 0.0), np.where(shares > 0, s, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):  # one quintile: no slope
            w = M.sii_weights(shares)
        sii_v = np.sum(w * v, axis=-1)
        sii_se = np.sqrt(np.sum((w * s) ** 2, axis=-1))
        for suffix, val, se in (("gap", gap, gap_se), ("sii", sii_v, sii_se)):
            frames.append(
                pd.DataFrame(
                    {
                        "year": np.repeat(years, 3),
                        "sex": np.tile(SEX_LABELS, h),
                        "quintile": "all",
                        "measure": f"{name}_{suffix}",
                        "value": val.ravel(),
                        "se": se.ravel(),
                    }
                )
            )
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "arm", arm)
    return out


@dataclass
class Results:
    """Results of one scenario run: the tidy table plus what produced it."""

    frame: pd.DataFrame
    scenario: dict[str, Any]
    manifest: dict[str, Any] = field(default_factory=dict)
    tallies: dict[str, np.ndarray] = field(default_factory=dict)
    comparison: pd.DataFrame | None = None  # arms against the baseline (see compare.py)
    # The baseline gap split by pathway (measures/attribution.py) and the age pattern by arm.
    decomposition: pd.DataFrame | None = None
    by_age: pd.DataFrame | None = None
    # Each arm's gain with the feedback loops on and off (measures/contrast.loop_dependence).
    loop_dependence: pd.DataFrame | None = None

    def to_frame(self) -> pd.DataFrame:
        """Tidy long table: arm, year, sex, quintile, measure, value, se."""
        return self.frame.copy()

    def value(
        self,
        measure: str,
        year: int | None = None,
        sex: str = "all",
        quintile: str = "all",
        arm: str = "baseline",
    ) -> float:
        f = self.frame
        if year is None:
            year = int(f["year"].min())
        row = f[
            (f.arm == arm)
            & (f.year == year)
            & (f.sex == sex)
            & (f.quintile == str(quintile))
            & (f.measure == measure)
        ]
        if row.empty:
            raise KeyError(f"no value for {measure} {year} {sex} {quintile} {arm}")
        return float(row["value"].iloc[0])
