"""Prices: every amount of money povsim reports is in one price year, :data:`PRICE_YEAR`.

Unit costs (``calibration/unit_costs.csv``, ``nhs_spend_by_age_sex_quintile.csv``) carry the
price year of their source, and an intervention's ``cost`` may state its own
(``cost.price_year``); each is converted on load by the ratio of GDP deflators
(``calibration/gdp_deflators.csv``, HM Treasury's GDP deflator at market prices, as the Green
Book asks for real prices). A price year is a calendar year (``2019``) or a financial year
(``2019/20``: April-March, taken as 3/4 of calendar 2019 and 1/4 of 2020). A year the table
does not cover is a one-line error naming the file and field (exit 2).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from povsim.inputs.calibration_files import check_deflators
from povsim.inputs.parameters import calibration_dir, read_table

DEFLATOR_FILE = "gdp_deflators.csv"

#: The outputs' price year (calendar). 2019: the model's base year (population mid-2019, the
#: 2017-19 life tables) and the year most unit costs are in (earnings 2019, benefits and social
#: care 2018/19-2019/20); the Asaria NHS spend table (2014/15) is the one far from it.
PRICE_YEAR = 2019

_FINANCIAL = re.compile(r"^(\d{4})/(\d{2})$")
_CALENDAR = re.compile(r"^(\d{4})$")


@lru_cache(maxsize=4)
def _load(directory: str) -> dict[int, float]:
    d = Path(directory)
    df = read_table(DEFLATOR_FILE, d)
    check_deflators(df, d / DEFLATOR_FILE)
    return {int(y): float(v) for y, v in zip(df["year"], df["index"], strict=True)}


def deflators(directory: Path | None = None) -> dict[int, float]:
    """GDP deflator index by calendar year (2024 = 100) of ``calibration/`` (or ``directory``),
    checked."""
    return _load(str(directory or calibration_dir()))


def parse_price_year(value: object) -> tuple[int, bool] | None:
    """(first calendar year, is a financial year) of a price year ``2019`` or ``"2019/20"``,
    or None when it is neither (a financial year's second part must follow its first)."""
    text = str(value).strip()
    if text.endswith(".0"):  # a year read as a float from a CSV column
        text = text[:-2]
    m = _FINANCIAL.match(text)
    if m:
        y = int(m.group(1))
        return (y, True) if int(m.group(2)) == (y + 1) % 100 else None
    m = _CALENDAR.match(text)
    return (int(m.group(1)), False) if m else None


class PriceYearError(ValueError):
    """A price year that is malformed or that the deflator table does not cover."""

    def __init__(self, problem: str, got: object, allowed: str) -> None:
        super().__init__(f"{problem}; got {got!r}; allowed {allowed}")
        self.problem, self.got, self.allowed = problem, got, allowed


def price_index(value: object, directory: Path | None = None) -> float:
    """The GDP deflator of a price year (calendar, or financial as 3/4 + 1/4 of its two
    calendar years). Raises :class:`PriceYearError` (the caller names file and field)."""
    parsed = parse_price_year(value)
    if parsed is None:
        raise PriceYearError(
            "not a price year", value, "a calendar year (2019) or a financial year (2019/20)"
        )
    y, financial = parsed
    table = deflators(directory)
    need = (y, y + 1) if financial else (y,)
    missing = [k for k in need if k not in table]
    if missing:
        last = max(table) - 1 if financial else max(table)
        raise PriceYearError(
            f"no GDP deflator for {missing[0]} in calibration/{DEFLATOR_FILE}",
            value,
            f"{min(table)}-{last}" + (" (financial years starting in those)" if financial else ""),
        )
    if financial:
        return 0.75 * table[y] + 0.25 * table[y + 1]
    return table[y]


def to_price_year(value: object, directory: Path | None = None) -> float:
    """Factor that converts GBP in price year ``value`` to GBP in :data:`PRICE_YEAR`."""
    return price_index(PRICE_YEAR, directory) / price_index(value, directory)
