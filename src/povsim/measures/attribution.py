"""What the exposures explain: smoking-attributable deaths and the decomposition of the
deprivation gap by pathway (Shapley), with the calibration kept.

Both are computed on the starting population of a run (the first simulated year, a period
view): each cell keeps its calibrated rate and normaliser, and a pathway is "taken away" by
setting its relative risks to 1 (as a scenario override would, see ``engine.simulate.prepare``).
"""

from __future__ import annotations

from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd
from scipy.special import expit

from povsim.engine.simulate import cold_mort_factor, smoking_mort_factor
from povsim.inputs import layout as L
from povsim.inputs.layout import AGES, SEXES
from povsim.inputs.parameters import ModelParams
from povsim.measures import life_table as M
from povsim.model import registry as R
from povsim.model.population import (
    Population,
    cell_index,
    income_effect_np,
    living_cell_mean,
    persons_of,
    single_year_counts,
)
from povsim.model.tables import CellTables, build_cell_tables, rr_by_age, smoking_rr_by_age

# Pathways of the decomposition and the exposures (relative-risk entries) each one removes.
PATHWAYS: dict[str, tuple[str, ...]] = {
    "smoking": ("smoking_current", "smoking_ex"),
    "obesity": ("obese",),
    "inactivity": ("inactive",),
    "alcohol": ("alcohol_risk",),
    "income": (),  # the lagged log-income exposure (not a relative-risk entry)
    "housing": ("cold_home",),
    "isolation": ("isolated",),
    "access": ("unmet_need",),
    "long_term_conditions": ("ltc1", "ltc2plus"),
}
BEHAVIOURS = {"smoking_current", "smoking_ex", "obese", "inactive", "alcohol_risk"}
MAX_PERSONS = 400_000  # the decomposition uses at most this many persons (every k-th)


# --- smoking-attributable deaths -----------------------------------------------------------


def smoking_attributable_deaths(mp: ModelParams, age_min: int = 35) -> dict[str, float]:
    """Deaths a year attributable to smoking at ``age_min``+ in England's mid-2019 population,
    by the population-attributable-fraction method NHS Digital uses: in every cell (sex,
    quintile, age) deaths = persons x calibrated rate, PAF = sum_k p_k (RR_k - 1) /
    (1 + sum_k p_k (RR_k - 1)) over current and ex-smoking."""
    t = build_cell_tables(mp)
    shape = (2, 5, L.N_AGE)
    mx = t.mx.reshape(shape)
    cur = t.p_smoke_cur.reshape(shape)
    ex = t.p_smoke_ex.reshape(shape)
    persons = np.repeat(single_year_counts(mp)[:, None, :] / 5.0, 5, axis=1)
    if mp.composition is not None:
        persons = np.asarray(mp.composition, float)
    rr_age = smoking_rr_by_age(mp)
    adult = AGES >= mp.value("adult_age")
    if rr_age is None:
        rr_age = np.where(adult, mp.rr["mortality"]["smoking_current"], 1.0)[None, :].repeat(2, 0)
    rr_ex = np.where(adult, mp.rr["mortality"]["smoking_ex"], 1.0)
    excess = cur * (rr_age[:, None, :] - 1.0) + ex * (rr_ex[None, None, :] - 1.0)
    paf = excess / (1.0 + excess)
    deaths = persons * mx
    sel = AGES >= age_min
    out = {
        "attributable": float((deaths * paf)[..., sel].sum()),
        "deaths": float(deaths[..., sel].sum()),
    }
    for si, s in enumerate(SEXES):
        out[f"attributable_{s}"] = float((deaths[si] * paf[si])[..., sel].sum())
    out["share"] = out["attributable"] / out["deaths"]
    return out


def cold_home_attributable_deaths(mp: ModelParams, age_min: int = 65) -> dict[str, float]:
    """Deaths a year attributable to living in a cold (non-decent) home at ``age_min``+ in
    England's mid-2019 population, by the same PAF method: in every cell deaths = persons x
    calibrated rate, PAF = p (RR(a) - 1) / (1 + p (RR(a) - 1)) with the age-specific RR."""
    t = build_cell_tables(mp)
    shape = (2, 5, L.N_AGE)
    mx = t.mx.reshape(shape)
    p = t.p_bin.reshape((-1,) + shape)[R.REGISTRY.index("cold_home")]
    persons = np.repeat(single_year_counts(mp)[:, None, :] / 5.0, 5, axis=1)
    if mp.composition is not None:
        persons = np.asarray(mp.composition, float)
    age = rr_by_age(mp, "cold_home")
    rr = age[:, None, :] if age is not None else mp.rr["mortality"]["cold_home"]
    excess = p * (rr - 1.0)
    paf = excess / (1.0 + excess)
    deaths = persons * mx
    sel = AGES >= age_min
    return {
        "attributable": float((deaths * paf)[..., sel].sum()),
        "deaths": float(deaths[..., sel].sum()),
    }


# --- decomposition of the gap ---------------------------------------------------------------


def _pathway_logs(
    rr: np.ndarray,
    tables: CellTables,
    pop: Population,
    mp: ModelParams,
    live: np.ndarray,
    pm: dict[str, np.ndarray | None] | None = None,
    outcome: int = 1,
) -> np.ndarray:
    """(n, n_pathways) log relative risk of each person through each pathway; the income
    pathway is the lagged log-income effect of ``outcome`` (0 not-good odds, 1 mortality)."""
    adult = (pop.age[live] >= mp.value("adult_age")).astype(float)
    x = {
        "smoking_current": (pop.smoke[live] == 1).astype(float),
        "smoking_ex": (pop.smoke[live] == 2).astype(float),
        "obese": pop.obese[live].astype(float),
        "inactive": pop.inactive[live].astype(float),
        "alcohol_risk": pop.alcohol[live].astype(float),
        "cold_home": pop.cold[live].astype(float),
        "isolated": pop.isolated[live].astype(float),
        "unmet_need": pop.unmet[live].astype(float),
        "ltc1": (pop.ltc[live] == 1).astype(float),
        "ltc2plus": (pop.ltc[live] >= 2).astype(float),
    }
    lr = np.log(rr)
    out = np.zeros((int(live.sum()), len(PATHWAYS)))
    for j, exps in enumerate(PATHWAYS.values()):
        for e in exps:
            k = R.REGISTRY.exposure_names.index(e)
            v = x[e] * lr[k]
            out[:, j] += v * adult if e in BEHAVIOURS else v
    names = list(PATHWAYS)
    out[:, names.index("income")] = np.log(income_effect_np(tables, pop.inc_exp[live], outcome))
    for path, f in (pm or {}).items():  # age-specific factors (smoking, cold home)
        if f is not None:
            out[:, names.index(path)] += np.log(f[live])
    return out


def _quintile_shares(pop: Population) -> np.ndarray:
    """Shares of the living persons by quintile (5,)."""
    q = np.bincount(pop.quint[pop.alive == 1], minlength=5).astype(float)
    return q / q.sum()


class GapModel:
    """LE/HLE by sex and quintile from the starting population with any set of pathways
    taken away (their relative risks set to 1), calibration kept."""

    def __init__(self, tables: CellTables, pop: Population, mp: ModelParams):
        live = np.flatnonzero(pop.alive == 1)
        stride = max(1, int(np.ceil(live.size / MAX_PERSONS)))
        # Income's cell means are over every living person, block by block.
        income_rr = living_cell_mean(
            pop, lambda block, living: income_effect_np(tables, pop.inc_exp[block][living], 1)
        )
        self.shares = _quintile_shares(pop)
        # Everything else reads the chosen persons only: taken out first, so that nothing
        # below holds temporaries of the whole population (GBs at full scale).
        pop = persons_of(pop, live[::stride])
        del live
        mask = np.ones(pop.size, bool)
        pm = {
            "smoking": smoking_mort_factor(tables, pop, mp),
            "housing": cold_mort_factor(tables, pop),
        }
        self.c = cell_index(pop)[mask]
        self.lm = _pathway_logs(tables.rr_mort, tables, pop, mp, mask, pm)
        self.lh = _pathway_logs(tables.or_health, tables, pop, mp, mask, outcome=0)
        # A large population keeps no frailty after its fit (population.LARGE_POPULATION):
        # log of its odds multiplier is the same term to the last bit or so.
        frail_term = (
            mp.value("frailty_sd") * pop.frail[mask]
            if pop.frail is not None
            else np.log(pop.frail_or[mask])
        )
        self.h0 = np.log(tables.health_odds[self.c]) + frail_term
        self.n = np.bincount(self.c, minlength=L.N_CELL).astype(float)
        self.mx = tables.mx
        self.good = tables.good_target
        # (n_pathways, N_CELL) mean RR per pathway
        self.factor = _cell_factors(tables, mp, income_rr)
        self.base_m = self._cell_mean(np.exp(self.lm.sum(axis=1)))
        self.base_bad = self._cell_mean(expit(self.h0 + self.lh.sum(axis=1)))

    def _cell_mean(self, v: np.ndarray) -> np.ndarray:
        s = np.bincount(self.c, v, minlength=L.N_CELL)
        return np.where(self.n > 0, s / np.maximum(self.n, 1.0), np.nan)

    def _mx_good(self, removed: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(N_CELL,) mortality rates and prevalence of good health with ``removed`` taken away."""
        keep = np.ones(len(PATHWAYS))
        keep[list(removed)] = 0.0
        # Mortality: each cell's mean relative risk is the product of the pathways' means
        # (exposures are drawn independently given the cell), so taking pathways away divides
        # the cell's rate by their means: exact under independence and free of the Monte
        # Carlo noise of sparse old-age cells. Good health: persons (frailty is continuous).
        ratio = 1.0 / np.prod(self.factor[list(removed)], axis=0) if removed else 1.0
        bad = self._cell_mean(expit(self.h0 + self.lh @ keep))
        mx = self.mx * ratio
        good = np.clip(self.good - np.where(np.isfinite(bad), bad - self.base_bad, 0.0), 0.0, 1.0)
        return mx, good

    def values_of(self, subsets: list[tuple[int, ...]]) -> dict[str, np.ndarray]:
        """LE/HLE at birth and 65 (years), each (len(subsets), 2 sexes, 5 quintiles), with
        each subset of pathways taken away. The rates of every subset are stacked and put
        through one life table: elementwise and along-age operations per row, so each row
        is the same doubles as that subset's own life table (tested against :meth:`values`),
        without 4 life tables a subset in Python (2^9 subsets in :func:`decompose`)."""
        flat_mx = np.empty((len(subsets), L.N_CELL))
        flat_good = np.empty((len(subsets), L.N_CELL))
        for i, s in enumerate(subsets):
            flat_mx[i], flat_good[i] = self._mx_good(s)
        good = flat_good.reshape(-1, 2, 5, L.N_AGE)
        lt = M.life_table(flat_mx.reshape(-1, 2, 5, L.N_AGE))
        out = {}
        for name, age in (("le0", 0), ("le65", 65)):
            out[name] = lt["ex"][..., age]
        for name, age in (("hle0", 0), ("hle65", 65)):
            out[name] = np.sum((lt["Lx"] * good)[..., age:], axis=-1) / lt["lx"][..., age]
        return out

    def values(self, removed: tuple[int, ...]) -> dict[str, np.ndarray]:
        """LE/HLE at birth and 65 (years), each (2 sexes, 5 quintiles), with the pathways
        ``removed`` taken away."""
        mx, good = self._mx_good(removed)
        mx = mx.reshape(2, 5, L.N_AGE)
        good = good.reshape(2, 5, L.N_AGE)
        le = M.life_expectancy(mx)
        hle = M.sullivan_hle(mx, good)
        le65 = M.life_expectancy(mx, 65)
        hle65 = M.sullivan_hle(mx, good, 65)
        return {"le0": le, "hle0": hle, "le65": le65, "hle65": hle65}


def _cell_factors(tables: CellTables, mp: ModelParams, income_rr: np.ndarray) -> np.ndarray:
    """(n_pathways, N_CELL): each pathway's mean mortality relative risk in every cell, from
    the cell's target prevalences (1 + sum over exposed states of p (RR - 1)); income's is
    ``income_rr``, the cell mean of the persons' income effects."""
    shape = (2, 5, L.N_AGE)
    adult = (AGES >= mp.value("adult_age")).astype(float)
    rr = dict(zip(R.REGISTRY.exposure_names, tables.rr_mort))
    smk = smoking_rr_by_age(mp)
    cur_rr = (
        smk[:, None, :] if smk is not None else 1 + (rr["smoking_current"] - 1) * adult
    ) * np.ones(shape)
    p_bin = tables.p_bin.reshape((-1,) + shape)
    p1 = tables.p_ltc1p.reshape(shape)
    p2 = tables.p_ltc2p.reshape(shape)
    names = ("obese", "inactive", "alcohol_risk", "cold_home", "isolated", "unmet_need")
    prev = {n: p_bin[j] for j, n in enumerate(names)}

    def one(name: str) -> np.ndarray:
        age = rr_by_age(mp, name)
        if age is not None:
            return 1.0 + prev[name] * (age[:, None, :] - 1.0)
        r = rr[name]
        scale = adult if name in BEHAVIOURS else 1.0
        return 1.0 + prev[name] * (r - 1.0) * scale

    out = {
        "smoking": 1.0
        + tables.p_smoke_cur.reshape(shape) * (cur_rr - 1.0)
        + tables.p_smoke_ex.reshape(shape) * (rr["smoking_ex"] - 1.0) * adult,
        "obesity": one("obese"),
        "inactivity": one("inactive"),
        "alcohol": one("alcohol_risk"),
        "income": income_rr.reshape(shape),
        "housing": one("cold_home"),
        "isolation": one("isolated"),
        "access": one("unmet_need"),
        "long_term_conditions": 1.0 + (p1 - p2) * (rr["ltc1"] - 1.0) + p2 * (rr["ltc2plus"] - 1.0),
    }
    return np.stack([out[k].reshape(-1) for k in PATHWAYS])


MEASURES = ("le0", "hle0", "le0_sii", "hle0_sii")


def _gaps(gm: GapModel, v: dict[str, np.ndarray]) -> np.ndarray:
    """(..., 2 sexes, 4 measures): Q5 - Q1 gap of le0, hle0; SII of le0, hle0, from
    :meth:`GapModel.values` (2, 5) or :meth:`GapModel.values_of` (subsets, 2, 5)."""
    le0, hle0 = v["le0"], v["hle0"]
    out = np.zeros(le0.shape[:-2] + (2, len(MEASURES)))
    for si in range(2):
        out[..., si, 0] = le0[..., si, 4] - le0[..., si, 0]
        out[..., si, 1] = hle0[..., si, 4] - hle0[..., si, 0]
        out[..., si, 2] = M.sii(le0[..., si, :], gm.shares)
        out[..., si, 3] = M.sii(hle0[..., si, :], gm.shares)
    return out


def decompose(tables: CellTables, pop: Population, mp: ModelParams) -> pd.DataFrame:
    """``decomposition.csv``: sex, measure, pathway, years, share.

    Shapley decomposition over the nine pathways: a pathway's ``years`` is the mean, over all
    orders in which the pathways could be taken away, of the narrowing of the gap when it is
    taken away (2^9 = 512 evaluations). The pathways' years add up exactly to ``all_pathways``
    (the narrowing with all taken away together); ``residual`` is the gap that remains, which
    the calibration's quintile residuals carry; ``all_pathways + residual = total`` (the
    baseline gap). ``share`` = years / total. One-at-a-time narrowing is in
    ``one_at_a_time`` rows (they need not add up: pathways interact multiplicatively).
    """
    gm = GapModel(tables, pop, mp)
    n = len(PATHWAYS)
    subsets = [s for r in range(n + 1) for s in combinations(range(n), r)]
    gaps = _gaps(gm, gm.values_of(subsets))
    value: dict[tuple[int, ...], np.ndarray] = dict(zip(subsets, gaps, strict=True))
    total = value[()]
    phi = np.zeros((n, 2, len(MEASURES)))
    for k in range(n):
        others = [j for j in range(n) if j != k]
        for r in range(n):
            w = factorial(r) * factorial(n - r - 1) / factorial(n)
            for s in combinations(others, r):
                with_k = tuple(sorted(s + (k,)))
                phi[k] += w * (value[s] - value[with_k])
    everything = tuple(range(n))
    rows = []
    names = list(PATHWAYS)
    for si, sex in enumerate(SEXES):
        for mi, meas in enumerate(MEASURES):
            tot = total[si, mi]

            def row(path: str, years: float, method: str = "shapley") -> None:
                rows.append(
                    {
                        "sex": sex,
                        "measure": meas,
                        "pathway": path,
                        "years": float(years),
                        "share": float(years / tot) if tot else float("nan"),
                        "method": method,
                    }
                )

            for k, name in enumerate(names):
                row(name, phi[k, si, mi])
            row("all_pathways", tot - value[everything][si, mi])
            row("residual", value[everything][si, mi])
            row("total", tot)
            for k, name in enumerate(names):
                row(name, tot - value[(k,)][si, mi], "one_at_a_time")
    return pd.DataFrame(rows)


def gradient_split(tables: CellTables, pop: Population, mp: ModelParams) -> pd.DataFrame:
    """Quintile mortality gradient by sex and age band: the calibrated log rate ratio of each
    quintile against the mean of the five, the part the exposures explain (their mean
    relative risk in the quintile against the mean) and the fitted residual (the rest)."""
    gm = GapModel(tables, pop, mp)
    base = np.prod(gm.factor, axis=0).reshape(2, 5, L.N_AGE)
    mx = tables.mx.reshape(2, 5, L.N_AGE)
    bands = [(0, 14), (15, 44), (45, 64), (65, 74), (75, 84), (85, 100)]
    rows = []
    for si, sex in enumerate(SEXES):
        for lo, hi in bands:
            sel = (AGES >= lo) & (AGES <= hi)
            w = gm.n.reshape(2, 5, L.N_AGE)[si][:, sel]
            tot = np.log(np.nansum(mx[si][:, sel] * w, axis=1) / w.sum(axis=1))
            exp_ = np.log(np.nansum(np.nan_to_num(base[si][:, sel]) * w, axis=1) / w.sum(axis=1))
            tot -= tot.mean()
            exp_ -= exp_.mean()
            for q in range(5):
                rows.append(
                    {
                        "sex": sex,
                        "age_min": lo,
                        "age_max": hi,
                        "quintile": q + 1,
                        "log_rate_ratio": round(float(tot[q]), 4),
                        "explained": round(float(exp_[q]), 4),
                        "residual": round(float(tot[q] - exp_[q]), 4),
                    }
                )
    return pd.DataFrame(rows)
