"""Every arm against the baseline arm of the same run (common random numbers).

Changes are arm minus baseline. Person-year measures come from the tallies: healthy
life-years gained = extra person-years in good health, life-years gained = extra person-years
alive, deaths averted = fewer deaths (postponed deaths count), all in real persons. Costs
and participants come from the interventions' records (£, real persons). QALYs weight each
person-year by the utility of the person's health state (see :mod:`povsim.measures.economics`);
discounted totals discount from the first simulated year (costs and health at their own
rates), and cost per QALY and net monetary benefit use the discounted totals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from povsim.inputs import layout as L
from povsim.measures.economics import EconomicSettings, discount_factors, qalys_by_cell
from povsim.measures.results import EXPECTANCIES, PREVALENCES, QUINTILE_LABELS, SEX_LABELS, grouped
from povsim.model import registry as R

KEYS = ["arm", "year", "sex", "quintile", "measure"]


def _long(values: np.ndarray, years: np.ndarray, name: str, arm: str) -> pd.DataFrame:
    """(H, 3, 6) array -> tidy rows."""
    h = values.shape[0]
    return pd.DataFrame(
        {
            "arm": arm,
            "year": np.repeat(years, 18),
            "sex": np.tile(np.repeat(SEX_LABELS, 6), h),
            "quintile": np.tile(QUINTILE_LABELS, 3 * h),
            "measure": name,
            "value": values.ravel(),
        }
    )


def _by_q_all(per_q: np.ndarray) -> np.ndarray:
    """(H, 5) -> (H, 3, 6): quintiles plus total, reported under sex 'all' only."""
    h = per_q.shape[0]
    out = np.full((h, 3, 6), np.nan)
    out[:, 2, :5] = per_q
    out[:, 2, 5] = per_q.sum(axis=1)
    return out


def _total_only(values: np.ndarray) -> np.ndarray:
    """(H,) -> (H, 3, 6) with the value under sex 'all', quintile 'all' only."""
    arr = np.full((values.shape[0], 3, 6), np.nan)
    arr[:, 2, 5] = values
    return arr


def grouped_cells(per_cell: np.ndarray) -> np.ndarray:
    """(H, N_CELL) -> (H, 3, 6) summed over ages."""
    h = per_cell.shape[0]
    t = per_cell.reshape(h, 2, L.N_Q, L.N_AGE).sum(axis=3)
    t = np.concatenate([t, t.sum(axis=2, keepdims=True)], axis=2)
    return np.concatenate([t, t.sum(axis=1, keepdims=True)], axis=1)


def compare_arms(
    frame: pd.DataFrame,
    tallies: dict[str, np.ndarray],
    programme: dict[str, dict[str, np.ndarray]],
    econ: EconomicSettings | None = None,
) -> pd.DataFrame:
    """Tidy comparison of every non-baseline arm with the baseline arm.

    ``programme[arm]`` holds ``participants`` (H, 5) and ``cost`` (H,) summed over the arm's
    interventions. With ``econ``, QALYs gained and the discounted economic measures are added.
    """
    years = np.sort(frame.year.unique())
    base = frame[frame.arm == "baseline"].set_index(["year", "sex", "quintile", "measure"])
    gb = grouped(tallies["baseline"]).sum(axis=3)  # (H, 3, 6, S)
    out = []
    for arm in [a for a in tallies if a != "baseline"]:
        f = frame[frame.arm == arm].set_index(["year", "sex", "quintile", "measure"])
        level = [*EXPECTANCIES, *PREVALENCES]
        level += [f"{m}_{s}" for m in EXPECTANCIES for s in ("gap", "sii")]
        diff = (f.value - base.value).rename("value").reset_index()
        diff = diff[diff.measure.isin(level)].dropna(subset=["value"])
        diff["measure"] = diff.measure + "_change"
        diff.insert(0, "arm", arm)
        out.append(diff)
        ga = grouped(tallies[arm]).sum(axis=3)
        for name, col, sign in (
            ("healthy_years_gained", R.S_GOOD, 1),
            ("life_years_gained", R.S_EXPO, 1),
            ("deaths_averted", R.S_DEATHS, -1),
        ):
            d = sign * (ga[..., col] - gb[..., col])
            out.append(_long(d, years, name, arm))
            out.append(_long(np.cumsum(d, axis=0), years, f"{name}_cumulative", arm))
        part, cost = programme[arm]["participants"], programme[arm]["cost"]
        out.append(_long(_by_q_all(part), years, "participants", arm))
        cost_q = np.zeros((len(years), 3, 6)) * np.nan
        cost_q[:, 2, 5] = cost
        out.append(_long(cost_q, years, "cost", arm))
        cum_cost = np.cumsum(cost)
        cost_cum = np.full((len(years), 3, 6), np.nan)
        cost_cum[:, 2, 5] = cum_cost
        out.append(_long(cost_cum, years, "cost_cumulative", arm))
        if econ is not None:
            out.extend(
                _economic_rows(tallies[arm], tallies["baseline"], ga, gb, cost, econ, years, arm)
            )
        hy = np.cumsum(ga[:, 2, 5, R.S_GOOD] - gb[:, 2, 5, R.S_GOOD])
        cum_part = np.cumsum(part.sum(axis=1))
        with np.errstate(divide="ignore", invalid="ignore"):
            for name, v in (
                ("cost_per_healthy_year", cum_cost / hy),
                ("cost_per_participant", cum_cost / cum_part),
            ):
                arr = np.full((len(years), 3, 6), np.nan)
                arr[:, 2, 5] = np.where(np.isfinite(v), v, np.nan)
                out.append(_long(arr, years, name, arm))
    if not out:
        return pd.DataFrame(columns=[*KEYS, "value", "se", "lo", "hi"])
    res = pd.concat(out, ignore_index=True).dropna(subset=["value"])
    res["se"], res["lo"], res["hi"] = np.nan, np.nan, np.nan
    return res[[*KEYS, "value", "se", "lo", "hi"]].reset_index(drop=True)


def _economic_rows(
    ta: np.ndarray,
    tb: np.ndarray,
    ga: np.ndarray,
    gb: np.ndarray,
    cost: np.ndarray,
    econ: EconomicSettings,
    years: np.ndarray,
    arm: str,
) -> list[pd.DataFrame]:
    """QALYs gained by year, sex and quintile; discounted totals, cost per QALY and NMB."""
    q = grouped_cells(qalys_by_cell(ta, econ.utilities) - qalys_by_cell(tb, econ.utilities))
    rows = [
        _long(q, years, "qalys_gained", arm),
        _long(np.cumsum(q, axis=0), years, "qalys_gained_cumulative", arm),
    ]
    h = len(years)
    dh, dc = discount_factors(h, econ.rate_health), discount_factors(h, econ.rate_costs)
    qd = np.cumsum(q[:, 2, 5] * dh)
    hyd = np.cumsum((ga[:, 2, 5, R.S_GOOD] - gb[:, 2, 5, R.S_GOOD]) * dh)
    lyd = np.cumsum((ga[:, 2, 5, R.S_EXPO] - gb[:, 2, 5, R.S_EXPO]) * dh)
    cd = np.cumsum(cost * dc)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_qaly = np.where(qd != 0, cd / qd, np.nan)
        per_hy = np.where(hyd != 0, cd / hyd, np.nan)
    for name, v in (
        ("qalys_gained_discounted_cumulative", qd),
        ("healthy_years_gained_discounted_cumulative", hyd),
        ("life_years_gained_discounted_cumulative", lyd),
        ("cost_discounted_cumulative", cd),
        ("cost_per_qaly", per_qaly),
        ("cost_per_healthy_year_discounted", per_hy),
    ):
        rows.append(_long(_total_only(v), years, name, arm))
    for thr in econ.thresholds:
        rows.append(_long(_total_only(thr * qd - cd), years, f"nmb_{int(thr)}", arm))
    return rows


def pool_replicates(frames: list[pd.DataFrame], keep_se: bool) -> pd.DataFrame:
    """Mean over replicate runs (different seeds) with the between-replicate standard
    error and a 95% t interval. ``keep_se``: with one replicate keep the frame's own se."""
    if len(frames) == 1:
        f = frames[0].copy()
        if "se" not in f or not keep_se:
            f["se"] = np.nan
        f["lo"] = f.value - 1.96 * f.se
        f["hi"] = f.value + 1.96 * f.se
        return f
    allf = pd.concat(frames, ignore_index=True)
    g = allf.groupby(KEYS, sort=False, dropna=False)["value"]
    res = g.agg(["mean", "std", "count"]).reset_index()
    res = res.rename(columns={"mean": "value"})
    res["se"] = res["std"] / np.sqrt(res["count"])
    from scipy import stats  # only replicated runs need t quantiles (slow import)

    tq = stats.t.ppf(0.975, np.maximum(res["count"] - 1, 1))
    res["lo"] = res.value - tq * res.se
    res["hi"] = res.value + tq * res.se
    return res[[*KEYS, "value", "se", "lo", "hi"]]


# Loop parameters an arm's gain may rest on (all assumptions in calibration/parameters.yaml).
LOOP_PARAMETERS = (
    "capacity_unmet_sensitivity",
    "inverse_care_weights",
    "capacity_adjustment_years",
    "capacity_investment_delay_years",
    "trust_baseline",
    "trust_growth",
    "trust_erosion",
)
LOOP_SHARE_FLAG = 0.5  # "depends mostly on the loops": more than half the gain


def loop_dependence(on: pd.DataFrame, off: pd.DataFrame) -> pd.DataFrame:
    """How much of each arm's healthy life-years gained (cumulative, final year, persons)
    comes from the feedback loops: ``on`` and ``off`` are comparison frames of the same
    scenario and seed with the loops on and off. ``share_from_loops`` = (on - off) / on;
    ``depends_on_loops`` when the loops account for more than half of the gain either way
    (|on - off| > 0.5 |on|), i.e. the arm's result rests mostly on assumed loop parameters."""

    def final(f: pd.DataFrame) -> pd.Series:
        d = f[
            (f.measure == "healthy_years_gained_cumulative")
            & (f.sex == "all")
            & (f.quintile == "all")
        ]
        d = d[d.year == d.year.max()]
        return d.set_index("arm").value

    a, b = final(on), final(off)
    rows = []
    for arm in a.index:
        g_on, g_off = float(a[arm]), float(b.get(arm, np.nan))
        diff = g_on - g_off
        share = diff / g_on if g_on != 0 else np.nan
        rows.append(
            {
                "arm": arm,
                "healthy_years_gained": g_on,
                "healthy_years_gained_loops_off": g_off,
                "from_loops": diff,
                "share_from_loops": share,
                "depends_on_loops": bool(abs(diff) > LOOP_SHARE_FLAG * abs(g_on)),
            }
        )
    return pd.DataFrame(rows)
