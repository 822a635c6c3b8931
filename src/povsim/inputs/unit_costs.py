"""Unit costs by perspective, read from ``calibration/`` and laid out per cell.

Two files (calibration/FORMATS.md): ``nhs_spend_by_age_sex_quintile.csv`` (Asaria 2017: NHS
spend per person-year by sex, IMD quintile and single age 0-85+) and ``unit_costs.csv`` (the
split of NHS spend by health state, adult social care per person in less than good health,
earnings, tax and benefits). Both are checked on load (one line naming file, row and column;
the CLI exits 2 before anything is written). Units: GBP per person-year in the outputs' price
year (:data:`povsim.inputs.prices.PRICE_YEAR`): every row's ``price_year`` is converted on load
by the GDP deflator (calibration/gdp_deflators.csv; docs/model.md "Costs by perspective").
Relative weights and the tax rate carry no money and are not converted.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from povsim.inputs import layout as L
from povsim.inputs.calibration_files import (
    NHS_SPEND_AGES,
    PERSPECTIVES,
    check_error,
    check_nhs_spend,
    check_unit_costs,
    data_lines,
)
from povsim.inputs.parameters import calibration_dir, read_table
from povsim.inputs.prices import to_price_year

NHS_FILE = "nhs_spend_by_age_sex_quintile.csv"
UNIT_FILE = "unit_costs.csv"

__all__ = ["PERSPECTIVES", "UnitCosts", "load_unit_costs"]

# Items that are not money (a ratio, a fraction of earnings): no price year is needed.
UNIT_FREE = ("ltc1_relative", "ltc2plus_relative", "poor_health_relative", "tax_rate_on_earnings")


@dataclass(frozen=True)
class UnitCosts:
    """Unit costs laid out for the cell tallies (cell = (sex*5 + q)*101 + age).

    ``nhs_spend`` (N_CELL,) GBP per person-year, the source's cell average (ages 86-100 take
    the 85+ value); ``nhs_overall`` (86,) the source's all-persons average by age (for the
    validation check); ``ltc1_relative``, ``ltc2plus_relative``, ``poor_health_relative``: the
    extra weight of a person with one LTC, with 2+, in less than good health (relative to a
    person with none in the same cell); per-age (N_AGE,) GBP per person-year:
    ``social_care_not_good``, ``benefit_not_working``, ``benefit_inactive_sick``;
    ``earnings`` (N_Q, N_AGE) GBP per employed person-year; ``tax_rate`` (N_AGE,) fraction of
    gross earnings paid in income tax and NICs.
    """

    nhs_spend: np.ndarray
    nhs_overall: np.ndarray
    ltc1_relative: float
    ltc2plus_relative: float
    poor_health_relative: float
    social_care_not_good: np.ndarray
    benefit_not_working: np.ndarray
    benefit_inactive_sick: np.ndarray
    earnings: np.ndarray
    tax_rate: np.ndarray


def _by_age(rows: pd.DataFrame, quintile: str = "all") -> np.ndarray:
    """(N_AGE,) values of an item's bands for ``quintile`` (or its `all` rows); 0 outside."""
    out = np.zeros(L.N_AGE)
    for r in rows.itertuples():
        if str(r.quintile) in (quintile, "all"):
            out[int(r.age_min) : int(r.age_max) + 1] = float(r.value)
    return out


def _factors(df: pd.DataFrame, path: Path, d: Path, money: pd.Series) -> np.ndarray:
    """Deflator factor to the outputs' price year of each row (1 where ``money`` is False);
    a money row without a price year the table covers is one line naming file, row and
    column."""
    if "price_year" not in df.columns:
        raise check_error(path, None, "price_year", "missing column")
    lines = data_lines(path)
    cache: dict[str, float] = {}
    out = np.ones(len(df))
    for k, (py, is_money) in enumerate(zip(df["price_year"].tolist(), money, strict=True)):
        if not is_money:
            continue
        key = "" if pd.isna(py) else str(py).strip()
        if key not in cache:
            try:
                cache[key] = to_price_year(key, d)
            except ValueError as e:
                raise check_error(path, lines[k], "price_year", str(e)) from None
        out[k] = cache[key]
    return out


def _in_price_year(nhs: pd.DataFrame, uc: pd.DataFrame, d: Path) -> tuple[pd.DataFrame, ...]:
    """Both tables with their money converted to :data:`~povsim.inputs.prices.PRICE_YEAR`."""
    nhs = nhs.copy()
    uc = uc.copy()
    nhs["spend"] = nhs["spend"].astype(float) * _factors(
        nhs, d / NHS_FILE, d, pd.Series(True, index=nhs.index)
    )
    uc["value"] = uc["value"].astype(float) * _factors(
        uc, d / UNIT_FILE, d, ~uc["item"].isin(UNIT_FREE)
    )
    return nhs, uc


@lru_cache(maxsize=4)
def _load(directory: str) -> UnitCosts:
    d = Path(directory)
    nhs = read_table(NHS_FILE, d)
    check_nhs_spend(nhs, d / NHS_FILE)
    uc = read_table(UNIT_FILE, d)
    check_unit_costs(uc, d / UNIT_FILE)
    nhs, uc = _in_price_year(nhs, uc, d)
    spend = np.zeros((L.N_SEX, L.N_Q, L.N_AGE))
    q = nhs["quintile"].astype(str)
    for s, sex in enumerate(L.SEXES):
        for k in range(L.N_Q):
            rows = nhs[(nhs["sex"] == sex) & (q == str(k + 1))].sort_values("age")
            v = rows["spend"].to_numpy(float)
            spend[s, k, :NHS_SPEND_AGES] = v
            spend[s, k, NHS_SPEND_AGES:] = v[-1]  # 85 means 85 and over
    overall = np.full(NHS_SPEND_AGES, np.nan)
    for r in nhs[(nhs["sex"] == "all") & (q == "all")].itertuples():
        overall[int(r.age)] = float(r.spend)

    def item(p: str, name: str) -> pd.DataFrame:
        return uc[(uc["perspective"] == p) & (uc["item"] == name)]

    def scalar(p: str, name: str) -> float:
        rows = item(p, name)
        return float(rows["value"].iloc[0]) if len(rows) else 0.0

    earn_rows = item("exchequer", "earnings_per_employed")
    return UnitCosts(
        nhs_spend=spend.reshape(-1),
        nhs_overall=overall,
        ltc1_relative=scalar("nhs", "ltc1_relative"),
        ltc2plus_relative=scalar("nhs", "ltc2plus_relative"),
        poor_health_relative=scalar("nhs", "poor_health_relative"),
        social_care_not_good=_by_age(item("social_care", "per_person_not_good_health")),
        benefit_not_working=_by_age(item("exchequer", "benefit_per_person_not_working")),
        benefit_inactive_sick=_by_age(item("exchequer", "benefit_per_person_inactive_sick")),
        earnings=np.vstack([_by_age(earn_rows, str(k + 1)) for k in range(L.N_Q)]),
        tax_rate=_by_age(item("exchequer", "tax_rate_on_earnings")),
    )


def load_unit_costs(directory: Path | None = None) -> UnitCosts:
    """The unit costs of ``calibration/`` (or ``directory``), checked and laid out per cell."""
    return _load(str(directory or calibration_dir()))
