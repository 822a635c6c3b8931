"""Checks of the calibration tables a run reads: one-line errors naming file, row and column.

``row`` is the line number in the file (comment lines count), as for compositions. Raised as
:class:`povsim.inputs.errors.ScenarioError`, so the CLI prints one line and exits 2 before
anything is written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from povsim.inputs.errors import ScenarioError

ADULT_AGE = 18
# Exposures that may have age-specific mortality RRs, and the first age their bands must
# cover (behaviours count from adult_age; a cold home at every age).
AGE_SPECIFIC_START = {"smoking_current": ADULT_AGE, "cold_home": 0}


def _lines(path: Path) -> list[int]:
    """File line number (1-based) of each data row (after comments and the header)."""
    out, header = [], False
    for i, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not header:
            header = True
            continue
        out.append(i)
    return out


def _fail(path: Path, line: int | None, col: str | None, problem: str, got=..., allowed=None):
    parts = (f"row {line}" if line else "", f"column {col}" if col else "")
    where = ", ".join(p for p in parts if p)
    msg = f"{path}: {where + ': ' if where else ''}{problem}"
    if got is not ...:
        msg += f"; got {got!r}"
    if allowed:
        msg += f"; allowed {allowed}"
    return ScenarioError(msg)


def _numbers(df: pd.DataFrame, path: Path, lines: list[int], col: str, lo, hi, allowed: str):
    for k, v in enumerate(df[col].tolist()):
        try:
            x = float(v)
        except (TypeError, ValueError):
            x = float("nan")
        if not np.isfinite(x) or (lo is not None and x < lo) or (hi is not None and x > hi):
            raise _fail(path, lines[k], col, "bad value", v, allowed)


def data_lines(path: Path) -> list[int]:
    """File line number (1-based) of each data row of a calibration table."""
    return _lines(path)


def check_error(
    path: Path, line: int | None, col: str | None, problem: str, got=..., allowed=None
) -> ScenarioError:
    """The one-line error of a calibration table (file, row, column, problem, got, allowed)."""
    return _fail(path, line, col, problem, got, allowed)


def _require(df: pd.DataFrame, path: Path, cols: tuple[str, ...]) -> None:
    for c in cols:
        if c not in df.columns:
            raise _fail(path, None, c, "missing column", allowed=", ".join(cols))


def check_prevalence(df: pd.DataFrame, path: Path) -> None:
    _require(df, path, ("factor", "sex", "age_min", "age_max", "prevalence"))
    lines = _lines(path)
    _numbers(df, path, lines, "prevalence", 0.0, 1.0, "a share from 0 to 1")
    _numbers(df, path, lines, "age_min", 0, 100, "an age 0-100")
    _numbers(df, path, lines, "age_max", 0, 100, "an age 0-100")


def check_gradient(df: pd.DataFrame, path: Path) -> None:
    _require(df, path, ("factor", "quintile", "relative"))
    lines = _lines(path)
    _numbers(df, path, lines, "relative", 1e-6, 100.0, "a ratio > 0")
    sexes = df["sex"] if "sex" in df.columns else pd.Series(["all"] * len(df))
    for (factor, sex), idx in df.groupby([df["factor"], sexes]).groups.items():
        qs = df.loc[idx, "quintile"].astype(str).tolist()
        for k in idx:
            if str(df.loc[k, "quintile"]) not in {"1", "2", "3", "4", "5"}:
                got = df.loc[k, "quintile"]
                raise _fail(path, lines[k], "quintile", "unknown quintile", got, "1-5")
        missing = sorted({"1", "2", "3", "4", "5"} - set(qs))
        if missing or len(qs) != 5:
            last = lines[max(idx)]
            problem = (
                f"factor {factor}, sex {sex}: quintile {', '.join(missing)} missing"
                if missing
                else f"factor {factor}, sex {sex}: a quintile appears twice"
            )
            raise _fail(path, last, "quintile", problem, allowed="exactly one row for each of 1-5")


def check_rr_by_age(df: pd.DataFrame, path: Path) -> None:
    _require(df, path, ("exposure", "outcome", "sex", "age_min", "age_max", "rr"))
    lines = _lines(path)
    _numbers(df, path, lines, "rr", 0.01, 100.0, "a relative risk 0.01-100")
    _numbers(df, path, lines, "age_min", 0, 100, "an age 0-100")
    _numbers(df, path, lines, "age_max", 0, 100, "an age 0-100")
    for k, r in enumerate(df.itertuples()):
        if r.exposure not in AGE_SPECIFIC_START:
            allowed = ", ".join(AGE_SPECIFIC_START)
            raise _fail(path, lines[k], "exposure", "no age-specific risk", r.exposure, allowed)
        if r.outcome != "mortality":
            raise _fail(path, lines[k], "outcome", "no age-specific risk", r.outcome, "mortality")
    for _, idx in df.groupby(["exposure", "outcome", "sex"]).groups.items():
        rows = df.loc[idx].assign(line_no=[lines[k] for k in idx]).sort_values("age_min")
        start = AGE_SPECIFIC_START[str(rows.exposure.iloc[0])]
        expect = start
        for r in rows.itertuples():
            lo, hi = int(r.age_min), int(r.age_max)
            if lo != expect:
                problem = "gap in ages" if lo > expect else "overlapping age bands"
                raise _fail(
                    path,
                    r.line_no,
                    "age_min",
                    f"{problem} for {r.exposure}/{r.outcome}/{r.sex}",
                    lo,
                    f"{expect} (bands must cover {start}-100 once)",
                )
            if hi < lo:
                raise _fail(path, r.line_no, "age_max", "below age_min", hi, f">= {lo}")
            expect = hi + 1
        if expect != 101:
            raise _fail(
                path,
                int(rows.line_no.iloc[-1]),
                "age_max",
                "bands stop before 100",
                int(rows.age_max.iloc[-1]),
                "the last band ends at 100",
            )


GRADIENT_TYPES = ("income", "housing", "behaviour", "access", "community", "employment")
EFFECT_IS_PROBABILITY = ("housing", "behaviour", "community", "employment")


def check_intervention_gradients(df: pd.DataFrame, path: Path) -> None:
    """Uptake/effect multipliers by quintile: known field and type, relative >= 0, and every
    programme and field with quintiles 1-5 exactly once."""
    _require(df, path, ("programme", "applies_to", "field", "quintile", "relative"))
    lines = _lines(path)
    _numbers(df, path, lines, "relative", 0.0, 100.0, "a multiplier 0-100")
    _numbers(df, path, lines, "quintile", 1, 5, "a quintile 1-5")
    for k, r in enumerate(df.itertuples()):
        if r.field not in ("uptake", "effect"):
            raise _fail(path, lines[k], "field", "unknown field", r.field, "uptake, effect")
        kind = str(r.applies_to).split(":")[0]
        if kind not in GRADIENT_TYPES:
            raise _fail(
                path,
                lines[k],
                "applies_to",
                "unknown type",
                r.applies_to,
                ", ".join(GRADIENT_TYPES),
            )
        if r.field == "effect" and kind not in EFFECT_IS_PROBABILITY:
            raise _fail(
                path,
                lines[k],
                "field",
                f"type {kind}: its effect is not a probability of success",
                r.field,
                "uptake",
            )
    for (prog, fld), idx in df.groupby(["programme", "field"]).groups.items():
        rows = df.loc[idx]
        qs = sorted(int(q) for q in rows.quintile)
        last = max(lines[k] for k in idx)
        if qs != [1, 2, 3, 4, 5]:
            missing = sorted(set(range(1, 6)) - set(qs))
            problem = (
                f"programme {prog}, field {fld}: quintile {missing[0]} missing"
                if missing
                else f"programme {prog}, field {fld}: a quintile appears twice"
            )
            raise _fail(path, last, "quintile", problem, allowed="exactly one row for each of 1-5")
        if rows.applies_to.nunique() != 1:
            raise _fail(path, last, "applies_to", f"programme {prog}: differs between rows")


# Household composition (household_composition.csv): the items and the categories each allows.
HOUSEHOLD_TYPES = (
    "one_person",
    "couple_no_children",
    "couple_with_children",
    "lone_parent",
    "other",
)
HOUSEHOLD_ITEMS = {
    "household_type": HOUSEHOLD_TYPES,
    "children_per_family": ("1", "2", "3", "4"),
    "mother_age": ("16-19", "20-24", "25-29", "30-34", "35-39", "40-45"),
}
SHARE_TOLERANCE = 1e-3  # shares of an item and quintile must sum to 1 within this


def check_households(df: pd.DataFrame, path: Path) -> None:
    """Household composition: known item and category, quintile all or 1-5, share 0-1, each
    category at most once and the shares of every item and quintile summing to 1 (within
    :data:`SHARE_TOLERANCE`), every item present for quintile ``all``."""
    _require(df, path, ("item", "quintile", "category", "share"))
    lines = _lines(path)
    if not len(df):
        raise _fail(path, None, "item", "no rows", allowed=", ".join(HOUSEHOLD_ITEMS))
    _numbers(df, path, lines, "share", 0.0, 1.0, "a share from 0 to 1")
    seen: dict[tuple[str, str], dict[str, int]] = {}
    for k, r in enumerate(df.itertuples()):
        item, cat, q = str(r.item), str(r.category), str(r.quintile)
        if item not in HOUSEHOLD_ITEMS:
            raise _fail(path, lines[k], "item", "unknown item", item, ", ".join(HOUSEHOLD_ITEMS))
        if cat not in HOUSEHOLD_ITEMS[item]:
            raise _fail(
                path,
                lines[k],
                "category",
                f"unknown {item.replace('_', ' ')}",
                cat,
                ", ".join(HOUSEHOLD_ITEMS[item]),
            )
        if q not in ("all", "1", "2", "3", "4", "5"):
            raise _fail(path, lines[k], "quintile", "unknown quintile", q, "all, 1-5")
        block = seen.setdefault((item, q), {})
        if cat in block:
            raise _fail(path, lines[k], "category", f"{item} {cat} appears twice for quintile {q}")
        block[cat] = k
    for (item, q), block in seen.items():
        total = float(sum(float(df["share"].iloc[k]) for k in block.values()))
        if abs(total - 1.0) > SHARE_TOLERANCE:
            last = lines[max(block.values())]
            raise _fail(
                path,
                last,
                "share",
                f"{item} shares for quintile {q} sum to {total:.4f}",
                allowed=f"a sum of 1 (within {SHARE_TOLERANCE})",
            )
    for item in HOUSEHOLD_ITEMS:
        if (item, "all") not in seen:
            raise _fail(path, None, "item", f"no rows of {item} for quintile all")


def check_child_poverty(df: pd.DataFrame, path: Path) -> None:
    """Child-poverty targets: quintiles 1-5 exactly once, values shares 0-1."""
    _require(df, path, ("quintile", "value"))
    lines = _lines(path)
    _numbers(df, path, lines, "quintile", 1, 5, "a quintile 1-5")
    _numbers(df, path, lines, "value", 0.0, 1.0, "a share from 0 to 1")
    qs = sorted(int(q) for q in df.quintile)
    if qs != [1, 2, 3, 4, 5]:
        raise _fail(
            path, lines[-1] if lines else None, "quintile", "quintiles 1-5 not each once", qs
        )


PERSPECTIVES = ("nhs", "social_care", "local_government", "exchequer", "society")
# Unit-cost items each perspective may carry (calibration/unit_costs.csv).
UNIT_COST_ITEMS = {
    "nhs": ("ltc1_relative", "ltc2plus_relative", "poor_health_relative"),
    "social_care": ("per_person_not_good_health",),
    "local_government": (),
    "exchequer": (
        "tax_rate_on_earnings",
        "earnings_per_employed",
        "benefit_per_person_not_working",
        "benefit_per_person_inactive_sick",
    ),
    "society": (),
}
NHS_SPEND_AGES = 86  # single years 0..85, 85 meaning 85 and over (Asaria 2017)


def check_unit_costs(df: pd.DataFrame, path: Path) -> None:
    """Unit costs: known perspective and item, value >= 0 (a rate at most 1), quintile 1-5 or
    all, and the bands of each perspective/item/quintile without gaps or overlaps."""
    cols = ("perspective", "item", "age_min", "age_max", "quintile", "value")
    _require(df, path, cols)
    lines = _lines(path)
    _numbers(df, path, lines, "value", 0.0, 1e7, "a unit cost >= 0 (GBP)")
    _numbers(df, path, lines, "age_min", 0, 100, "an age 0-100")
    _numbers(df, path, lines, "age_max", 0, 100, "an age 0-100")
    for k, r in enumerate(df.itertuples()):
        if r.perspective not in PERSPECTIVES:
            raise _fail(
                path,
                lines[k],
                "perspective",
                "unknown perspective",
                r.perspective,
                ", ".join(PERSPECTIVES),
            )
        items = UNIT_COST_ITEMS[r.perspective]
        if r.item not in items:
            raise _fail(
                path,
                lines[k],
                "item",
                f"unknown item for perspective {r.perspective}",
                r.item,
                ", ".join(items) or "none",
            )
        if str(r.quintile) not in {"all", "1", "2", "3", "4", "5"}:
            raise _fail(path, lines[k], "quintile", "unknown quintile", r.quintile, "1-5, all")
        if r.item == "tax_rate_on_earnings" and float(r.value) > 1:
            raise _fail(path, lines[k], "value", "a tax rate above 1", r.value, "a fraction 0-1")
        if int(r.age_max) < int(r.age_min):
            raise _fail(path, lines[k], "age_max", "below age_min", r.age_max, f">= {r.age_min}")
    keys = [df["perspective"], df["item"], df["quintile"].astype(str)]
    for (p, item, q), idx in df.groupby(keys).groups.items():
        rows = sorted((int(df.loc[k, "age_min"]), int(df.loc[k, "age_max"]), lines[k]) for k in idx)
        for (_, hi0, _), (lo1, _, line1) in zip(rows[:-1], rows[1:]):
            if lo1 != hi0 + 1:
                problem = "gap in ages" if lo1 > hi0 + 1 else "overlapping age bands"
                raise _fail(
                    path,
                    line1,
                    "age_min",
                    f"{problem} for {p}/{item}/quintile {q}",
                    lo1,
                    f"{hi0 + 1} (bands follow each other)",
                )


def check_deflators(df: pd.DataFrame, path: Path) -> None:
    """GDP deflators: a whole calendar year 1900-2100 at most once, an index > 0, and no year
    missing between the first and the last (a conversion must never skip a gap)."""
    _require(df, path, ("year", "index", "source"))
    lines = _lines(path)
    if not len(df):
        raise _fail(path, None, "year", "no rows", allowed="one row per calendar year")
    _numbers(df, path, lines, "year", 1900, 2100, "a calendar year 1900-2100")
    _numbers(df, path, lines, "index", 1e-9, 1e6, "an index > 0")
    seen: dict[int, int] = {}
    for k, v in enumerate(df["year"].tolist()):
        y = float(v)
        if y != int(y):
            raise _fail(path, lines[k], "year", "not a whole year", v, "a calendar year")
        if int(y) in seen:
            raise _fail(path, lines[k], "year", f"year {int(y)} twice", v, "each year once")
        seen[int(y)] = lines[k]
    years = sorted(seen)
    for a, b in zip(years[:-1], years[1:]):
        if b != a + 1:
            raise _fail(path, seen[b], "year", f"years {a + 1}-{b - 1} missing", b, "every year")


def check_nhs_spend(df: pd.DataFrame, path: Path) -> None:
    """NHS spend per person: spend >= 0, and every sex (male, female) x quintile 1-5 x age
    0-85 exactly once (rows sex all / quintile all are the source's overall column)."""
    _require(df, path, ("sex", "quintile", "age", "spend"))
    lines = _lines(path)
    _numbers(df, path, lines, "spend", 0.0, 1e6, "a spend >= 0 (GBP per person-year)")
    _numbers(df, path, lines, "age", 0, NHS_SPEND_AGES - 1, f"an age 0-{NHS_SPEND_AGES - 1}")
    for k, r in enumerate(df.itertuples()):
        if r.sex not in ("male", "female", "all"):
            raise _fail(path, lines[k], "sex", "unknown sex", r.sex, "male, female, all")
        if str(r.quintile) not in {"all", "1", "2", "3", "4", "5"}:
            raise _fail(path, lines[k], "quintile", "unknown quintile", r.quintile, "1-5, all")
    keys = [df["sex"], df["quintile"].astype(str)]
    for sex in ("male", "female"):
        for q in "12345":
            idx = df.index[(keys[0] == sex) & (keys[1] == q)]
            ages = sorted(int(a) for a in df.loc[idx, "age"])
            missing = sorted(set(range(NHS_SPEND_AGES)) - set(ages))
            if missing or len(ages) != NHS_SPEND_AGES:
                last = max((lines[k] for k in idx), default=None)
                problem = (
                    f"sex {sex}, quintile {q}: age {missing[0]} missing"
                    if missing
                    else f"sex {sex}, quintile {q}: an age appears twice"
                )
                raise _fail(
                    path, last, "age", problem, allowed=f"each age 0-{NHS_SPEND_AGES - 1} once"
                )
