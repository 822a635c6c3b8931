"""The arm contrast: every arm against the baseline arm of the same run (common random
numbers), computed once here and read by `povsim run` (:func:`compare_arms`), `povsim compare`
(:func:`povsim.measures.equity.quintile_gains`) and `povsim sensitivity`
(:func:`povsim.studies.sample_model.arm_outputs`).

Changes are arm minus baseline. Person-year measures come from the tallies: healthy
life-years gained = extra person-years in good health, life-years gained = extra person-years
alive, deaths averted = fewer deaths (postponed deaths count), all in real persons. Costs
and participants come from the interventions' records (£, real persons). QALYs weight each
person-year by the utility of the person's health state (see :mod:`povsim.measures.economics`);
discounted totals discount from the first simulated year (year 0 undiscounted; costs and
health at their own rates), and cost per QALY and net monetary benefit use the discounted
totals.

:class:`ArmLevels` is one arm's run reduced once (a sweep keeps its baseline's);
:class:`ArmContrast` holds the yearly deltas by (year, sex, quintile), their discounted
values, and the totals over the horizon. Floating point: a total depends on the order of its
additions, and the three commands have always added in their own order (`run` year after
year, `compare` year after year within each quintile, the sweep with ``np.sum``); each total
keeps its command's order, so every output is unchanged bit for bit, and
tests/test_sensitivity.py checks that they agree to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from povsim.inputs import layout as L
from povsim.inputs.unit_costs import UnitCosts
from povsim.measures import life_table as M
from povsim.measures.costs import (
    PERSPECTIVES,
    CostLevels,
    PerspectiveContrast,
    ProgrammeCost,
    bears,
    cost_levels,
)
from povsim.measures.economics import (
    EconomicSettings,
    discount_factors,
    present_value,
    qalys_by_cell,
)
from povsim.measures.results import (
    EXPECTANCIES,
    PREVALENCES,
    QUINTILE_LABELS,
    SEX_LABELS,
    grouped,
    rates,
)
from povsim.model import registry as R
from povsim.policy.delivery import Active
from povsim.policy.interventions import Programme

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


@dataclass(frozen=True)
class Spending:
    """One intervention's yearly participants (H, N_Q) real persons and cost (H,) £, and the
    quintile index it is restricted to (a budget cell, named ``<lever>-q<k>``), if any; who
    pays it (a perspective) and whether it is a transfer. With ``entitlement``, the benefits
    its participants were paid by ``payer`` outside the programme (``participants`` is then
    that money by quintile, £, which charges it to quintiles): not in the arm's programme
    cost nor its participants, only in the perspectives that bear it."""

    participants: np.ndarray
    cost: np.ndarray
    quintile: int | None
    payer: str = "local_government"
    transfer: bool = False
    entitlement: bool = False


def _entitlements(items: list[Active]) -> list[Spending]:
    """The entitlements each intervention's participants were paid (benefits claimed after
    advice, :attr:`InterventionBase.ENTITLEMENT_PAYER`), as transfers from their payer."""
    return [
        Spending(
            a.record.entitlements,
            a.record.entitlements.sum(axis=1),
            None,
            a.spec.ENTITLEMENT_PAYER,
            True,
            True,
        )
        for a in items
        if a.spec.ENTITLEMENT_PAYER is not None
    ]


def _cell_quintile(name: str | None) -> int | None:
    """Quintile index (0-4) of a budget cell ``<lever>-q<k>``, else None."""
    name = name or ""
    if "-q" in name and name[-1].isdigit():
        return int(name.rsplit("-q", 1)[1]) - 1
    return None


@dataclass(frozen=True)
class ArmLevels:
    """One arm's run reduced to what contrasts need, real persons: tallies summed over ages
    (H, 3, 6, N_STAT) by sex male/female/all x quintile 1-5/all; QALYs lived per cell
    (H, N_CELL) and in total (H,); the programme's cost (H,) £ and participants (H, N_Q); each
    intervention's spending; its cost streams by perspective (None without unit costs)."""

    grouped: np.ndarray
    qalys_cell: np.ndarray
    qalys_total: np.ndarray
    cost: np.ndarray
    participants: np.ndarray
    spending: tuple[Spending, ...]
    costs: CostLevels | None = None

    @classmethod
    def of(
        cls,
        tallies: np.ndarray,
        programme: Programme,
        utilities: tuple[np.ndarray, np.ndarray],
        unit_costs: UnitCosts | None = None,
    ) -> ArmLevels:
        """Reduce tallies (H, N_CELL, N_STAT) and the programme that produced them."""
        h = tallies.shape[0]
        q = qalys_by_cell(tallies, utilities)
        items = programme.items
        spending = tuple(
            Spending(
                a.record.participants,
                a.record.cost,
                _cell_quintile(a.spec.name),
                a.spec.payer,
                a.spec.TRANSFER,
            )
            for a in items
        ) + tuple(_entitlements(items))
        # Programme costs and entitlements alike are split by perspective by costs.bears.
        paid = [ProgrammeCost(sp.cost, sp.payer, sp.transfer) for sp in spending]
        return cls(
            grouped=grouped(tallies).sum(axis=3),
            qalys_cell=q,
            qalys_total=q.sum(axis=1),
            cost=sum((a.record.cost for a in items), np.zeros(h)),
            participants=sum((a.record.participants for a in items), np.zeros((h, L.N_Q))),
            spending=spending,
            costs=None if unit_costs is None else cost_levels(tallies, unit_costs, paid),
        )


@dataclass(frozen=True)
class ArmContrast:
    """An arm minus the baseline of the same run.

    Yearly deltas by (year, sex 3, quintile 6), real persons: ``healthy_years`` (person-years
    in good health), ``life_years`` (person-years alive), ``deaths_averted``, ``qalys``; the
    arm's ``cost`` (H,) £ and ``participants`` (H, N_Q). For sex `all` by quintile 1-5/all,
    (H, 6): the same deltas discounted at the health rate (``*_disc``); ``cost_disc`` (H,) at
    the cost rate. ``qalys_total`` (H,): arm total minus baseline total (the sweep's order of
    additions; equal to ``qalys[:, 2, 5]`` up to rounding). ``costs``: who pays and who saves,
    by perspective (:mod:`povsim.measures.costs`; None without unit costs).
    """

    arm: ArmLevels
    healthy_years: np.ndarray
    life_years: np.ndarray
    deaths_averted: np.ndarray
    qalys: np.ndarray
    qalys_total: np.ndarray
    healthy_years_disc: np.ndarray
    life_years_disc: np.ndarray
    qalys_disc: np.ndarray
    cost_disc: np.ndarray
    rate_costs: float
    rate_health: float
    costs: PerspectiveContrast | None = None

    @classmethod
    def between(cls, arm: ArmLevels, base: ArmLevels, econ: EconomicSettings) -> ArmContrast:
        """The contrast of ``arm`` with ``base`` at ``econ``'s discount rates (per year)."""
        ga, gb = arm.grouped, base.grouped
        h = ga.shape[0]
        dh, dc = discount_factors(h, econ.rate_health), discount_factors(h, econ.rate_costs)
        hy = ga[..., R.S_GOOD] - gb[..., R.S_GOOD]
        ly = ga[..., R.S_EXPO] - gb[..., R.S_EXPO]
        q = grouped_cells(arm.qalys_cell - base.qalys_cell)
        return cls(
            arm=arm,
            healthy_years=hy,
            life_years=ly,
            deaths_averted=-1 * (ga[..., R.S_DEATHS] - gb[..., R.S_DEATHS]),
            qalys=q,
            qalys_total=arm.qalys_total - base.qalys_total,
            healthy_years_disc=hy[:, 2] * dh[:, None],
            life_years_disc=ly[:, 2] * dh[:, None],
            qalys_disc=q[:, 2] * dh[:, None],
            cost_disc=arm.cost * dc,
            rate_costs=econ.rate_costs,
            rate_health=econ.rate_health,
            costs=(
                PerspectiveContrast.between(arm.costs, base.costs, econ.unit_costs, econ.rate_costs)
                if arm.costs is not None and base.costs is not None and econ.unit_costs is not None
                else None
            ),
        )

    @property
    def cost(self) -> np.ndarray:
        """The arm's cost by year (H,), £ (the baseline has no interventions)."""
        return self.arm.cost

    @property
    def participants(self) -> np.ndarray:
        """The arm's participants by year and quintile (H, N_Q), real persons."""
        return self.arm.participants

    # --- totals over the horizon, each in the order its command has always used ---------

    def totals(self) -> dict[str, float]:
        """Totals over the horizon for sex and quintile `all` (the sweep's outputs): healthy
        life-years gained and cost undiscounted (added year after year, as `povsim run`'s
        cumulative rows), and discounted healthy life-years, cost and QALYs (present values,
        :func:`povsim.measures.economics.present_value`)."""
        d_good = self.healthy_years[:, 2, 5]
        return {
            "healthy_years_gained": float(np.cumsum(d_good)[-1]),
            "cost": float(np.cumsum(self.cost)[-1]),
            "healthy_years_gained_disc": present_value(d_good, self.rate_health),
            "cost_disc": present_value(self.cost, self.rate_costs),
            "qalys_gained_disc": present_value(self.qalys_total, self.rate_health),
        }

    def by_quintile(self) -> dict[str, np.ndarray]:
        """Totals over the horizon by quintile (N_Q,), sex `all`, added year after year
        within each quintile (`povsim compare`): discounted QALYs, healthy and life-years
        gained; healthy life-years gained undiscounted; participants."""
        return {
            "qalys": self.qalys_disc[:, :5].sum(axis=0),
            "healthy_years": self.healthy_years[:, 2, :5].sum(axis=0),
            "healthy_years_disc": self.healthy_years_disc[:, :5].sum(axis=0),
            "life_years_disc": self.life_years_disc[:, :5].sum(axis=0),
        }

    def net_cost_by_quintile(self, perspective: str) -> np.ndarray:
        """Discounted net cost (N_Q,) £ for ``perspective`` over the horizon: the programme
        cost it bears, charged to quintiles as :meth:`cost_by_quintile` does, minus the
        discounted costs it avoids in each quintile (zeros without unit costs)."""
        if self.costs is None:
            return np.zeros(L.N_Q)
        d = discount_factors(self.costs.costs_avoided[perspective].shape[0], self.rate_costs)
        avoided = (self.costs.costs_avoided[perspective] * d[:, None]).sum(axis=0)
        return self.cost_by_quintile(perspective)[0] - avoided

    def cost_by_quintile(
        self, perspective: str | None = None
    ) -> tuple[np.ndarray, float, np.ndarray]:
        """(discounted cost by quintile (N_Q,) £, undiscounted cost £, participants by quintile
        (N_Q,) real persons) over the horizon. An intervention restricted to a quintile (a
        budget cell) is charged to it; any other to the quintiles it reached, in proportion.
        With ``perspective``, only the costs that perspective bears, entitlements paid to
        participants included (charged to the quintiles of the households paid); without,
        the programmes' own costs."""
        cost_q = np.zeros(L.N_Q)
        part_q = np.zeros(L.N_Q)
        cost_all = 0.0
        for sp in self.arm.spending:
            if perspective is None and sp.entitlement:
                continue
            if perspective is not None and not bears(perspective, sp.payer, sp.transfer):
                continue
            reach = sp.participants.sum(axis=0)
            share = reach / reach.sum() if reach.sum() > 0 else np.full(L.N_Q, 1.0 / L.N_Q)
            if sp.quintile is not None:
                share = np.eye(L.N_Q)[sp.quintile]
            cost_q += share * present_value(sp.cost, self.rate_costs)
            cost_all += float(sp.cost.sum())
            if not sp.entitlement:
                part_q += reach
        return cost_q, cost_all, part_q


def arm_contrasts(
    tallies: dict[str, np.ndarray], programmes: dict[str, Programme], econ: EconomicSettings
) -> dict[str, ArmContrast]:
    """Every non-baseline arm of one run against its ``baseline`` arm."""
    levels = {
        k: ArmLevels.of(t, programmes[k], econ.utilities, econ.unit_costs)
        for k, t in tallies.items()
    }
    return {
        k: ArmContrast.between(v, levels["baseline"], econ)
        for k, v in levels.items()
        if k != "baseline"
    }


@dataclass(frozen=True)
class Inequality:
    """Gap (quintile 5 minus 1) in HLE and LE at birth and the slope index of inequality of
    HLE at birth, persons, in one year (years), with the arithmetic of
    :func:`povsim.measures.results.tidy`."""

    hle_gap: float
    hle_sii: float
    le_gap: float

    @classmethod
    def final_year(cls, tallies: np.ndarray, weight: float, fallback: np.ndarray) -> Inequality:
        """From the last year of tallies (H, N_CELL, N_STAT); ``weight`` real persons per
        simulated person; ``fallback`` national rates (3, N_AGE) for empty groups."""
        g = grouped(tallies[-1:])  # final year only: (1, 3, 6, 101, S)
        mx, _, good, _ = rates(g, weight, fallback)
        hle = M.sullivan_hle(mx, good, 0)[0, 2]  # sex all: (6,) quintiles 1-5, all
        le = M.life_expectancy(mx, 0)[0, 2]
        shares = g[..., R.S_EXPO][0, 2, :5, :].sum(axis=-1)
        w = M.sii_weights(shares)
        # Between the quintiles the area has (an empty Q1 would take England's fallback rates).
        return cls(
            hle_gap=float(M.gap(hle[:5], shares)),
            hle_sii=float(np.sum(w * hle[:5])),
            le_gap=float(M.gap(le[:5], shares)),
        )


def compare_arms(
    frame: pd.DataFrame, contrasts: dict[str, ArmContrast], thresholds: tuple[float, ...]
) -> pd.DataFrame:
    """`povsim run`'s comparison: every arm's contrast as tidy rows by year, sex and quintile.

    ``frame`` (the levels of every arm) gives the changes in expectancies and prevalences;
    ``contrasts`` (:func:`arm_contrasts`) the person-years, QALYs, participants and costs;
    ``thresholds`` (£ per QALY) the net monetary benefits.
    """
    years = np.sort(frame.year.unique())
    base = frame[frame.arm == "baseline"].set_index(["year", "sex", "quintile", "measure"])
    out = []
    for arm, c in contrasts.items():
        f = frame[frame.arm == arm].set_index(["year", "sex", "quintile", "measure"])
        level = [*EXPECTANCIES, *PREVALENCES]
        level += [f"{m}_{s}" for m in EXPECTANCIES for s in ("gap", "sii")]
        diff = (f.value - base.value).rename("value").reset_index()
        diff = diff[diff.measure.isin(level)].dropna(subset=["value"])
        diff["measure"] = diff.measure + "_change"
        diff.insert(0, "arm", arm)
        out.append(diff)
        for name, d in (
            ("healthy_years_gained", c.healthy_years),
            ("life_years_gained", c.life_years),
            ("deaths_averted", c.deaths_averted),
        ):
            out.append(_long(d, years, name, arm))
            out.append(_long(np.cumsum(d, axis=0), years, f"{name}_cumulative", arm))
        part, cost = c.participants, c.cost
        out.append(_long(_by_q_all(part), years, "participants", arm))
        cost_q = np.zeros((len(years), 3, 6)) * np.nan
        cost_q[:, 2, 5] = cost
        out.append(_long(cost_q, years, "cost", arm))
        cum_cost = np.cumsum(cost)
        cost_cum = np.full((len(years), 3, 6), np.nan)
        cost_cum[:, 2, 5] = cum_cost
        out.append(_long(cost_cum, years, "cost_cumulative", arm))
        out.extend(_economic_rows(c, thresholds, years, arm))
        hy = np.cumsum(c.healthy_years[:, 2, 5])
        cum_part = np.cumsum(part.sum(axis=1))
        with np.errstate(divide="ignore", invalid="ignore"):
            for name, v in (
                ("cost_per_healthy_year", cum_cost / hy),
                ("cost_per_participant", cum_cost / cum_part),
            ):
                arr = np.full((len(years), 3, 6), np.nan)
                arr[:, 2, 5] = np.where(np.isfinite(v), v, np.nan)
                out.append(_long(arr, years, name, arm))
    # Costs by perspective after every other row, so the rows above keep their places.
    for arm, c in contrasts.items():
        if c.costs is not None:
            out.extend(perspective_rows(c, years, arm))
    if not out:
        return pd.DataFrame(columns=[*KEYS, "value", "se", "lo", "hi"])
    res = pd.concat(out, ignore_index=True).dropna(subset=["value"])
    res["se"], res["lo"], res["hi"] = np.nan, np.nan, np.nan
    return res[[*KEYS, "value", "se", "lo", "hi"]].reset_index(drop=True)


def _economic_rows(
    c: ArmContrast, thresholds: tuple[float, ...], years: np.ndarray, arm: str
) -> list[pd.DataFrame]:
    """QALYs gained by year, sex and quintile; discounted cumulative totals (added year after
    year), cost per QALY and NMB."""
    rows = [
        _long(c.qalys, years, "qalys_gained", arm),
        _long(np.cumsum(c.qalys, axis=0), years, "qalys_gained_cumulative", arm),
    ]
    qd = np.cumsum(c.qalys_disc[:, 5])
    hyd = np.cumsum(c.healthy_years_disc[:, 5])
    lyd = np.cumsum(c.life_years_disc[:, 5])
    cd = np.cumsum(c.cost_disc)
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
    for thr in thresholds:
        rows.append(_long(_total_only(thr * qd - cd), years, f"nmb_{int(thr)}", arm))
    return rows


def perspective_rows(c: ArmContrast, years: np.ndarray, arm: str) -> list[pd.DataFrame]:
    """Who pays and who saves (:mod:`povsim.measures.costs`), GBP for the modelled area, sex
    `all`: for each perspective p, yearly ``costs_avoided_<p>`` by quintile and in total,
    ``programme_cost_<p>`` and ``net_cost_<p>`` (programme cost borne minus costs avoided);
    cumulative discounted ``costs_avoided_<p>_discounted_cumulative``,
    ``net_cost_<p>_discounted_cumulative``, ``roi_<p>`` (discounted costs avoided / discounted
    programme cost borne; absent when p bears none) and ``cost_per_qaly_<p>`` (discounted net
    cost / discounted QALYs gained); ``earnings_gained`` by quintile and its discounted
    cumulative total (productivity, apart from every perspective); ``inactive_sick_averted``
    (persons) by quintile."""
    pc = c.costs
    if pc is None:
        return []
    d = discount_factors(len(years), c.rate_costs)
    qd = np.cumsum(c.qalys_disc[:, 5])
    rows = []
    for p in PERSPECTIVES:
        avoided = pc.costs_avoided[p]
        rows.append(_long(_by_q_all(avoided), years, f"costs_avoided_{p}", arm))
        rows.append(_long(_total_only(pc.programme[p]), years, f"programme_cost_{p}", arm))
        rows.append(_long(_total_only(pc.net_cost(p)), years, f"net_cost_{p}", arm))
        cum_avoided = np.cumsum(avoided.sum(axis=1) * d)
        cum_paid = np.cumsum(pc.programme[p] * d)
        cum_net = cum_paid - cum_avoided
        with np.errstate(divide="ignore", invalid="ignore"):
            roi = np.where(cum_paid > 0, cum_avoided / cum_paid, np.nan)
            per_qaly = np.where(qd != 0, cum_net / qd, np.nan)
        for name, v in (
            (f"costs_avoided_{p}_discounted_cumulative", cum_avoided),
            (f"net_cost_{p}_discounted_cumulative", cum_net),
            (f"roi_{p}", roi),
            (f"cost_per_qaly_{p}", per_qaly),
        ):
            rows.append(_long(_total_only(v), years, name, arm))
    rows.append(_long(_by_q_all(pc.earnings_gained), years, "earnings_gained", arm))
    cum_earn = np.cumsum(pc.earnings_gained.sum(axis=1) * d)
    rows.append(_long(_total_only(cum_earn), years, "earnings_gained_discounted_cumulative", arm))
    rows.append(_long(_by_q_all(pc.inactive_sick_averted), years, "inactive_sick_averted", arm))
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
    cols = [*KEYS, "value", "se", "lo", "hi"]
    if "sim_n" in allf:  # simulated events: the replicates' together
        sim = allf.groupby(KEYS, sort=False, dropna=False)["sim_n"].sum(min_count=1)
        res["sim_n"] = sim.to_numpy()
        cols.append("sim_n")
    return res[cols]


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
