"""Population composition files: real persons by sex, age band and IMD quintile.

A composition CSV has the columns ``sex, age_min, age_max, quintile, count`` (``tag`` and
``source`` may follow, as in every calibration table) and may start with ``#`` comment lines
that give its source. For every sex (male, female) and quintile (1..5, 1 = most deprived) the
bands must cover ages 0-100 exactly once (100 = 100 and over); a band may be any width and
may have count 0 (e.g. one ``0,100,0`` row for a quintile the area does not have).

Every problem is one :class:`CompositionError` line
``<file>: row N, column <col>: <problem>; got <value>; allowed <what>``, where row N is the
line number in the file (the row a spreadsheet shows, comment lines included).
"""

from __future__ import annotations

import csv
import math
import os
from functools import lru_cache

import numpy as np
import pandas as pd

from povsim.inputs import layout as L
from povsim.inputs.layout import SEXES
from povsim.inputs.reading import MAX_CSV_BYTES, InputFileError, read_text

COLUMNS = ("sex", "age_min", "age_max", "quintile", "count")
MAX_AGE = L.N_AGE - 1  # 100 = 100 and over
# An area's real persons: a billion is 15 times the UK's 67 million (room for what-ifs such
# as a doubled England) and still catches a stray exponent; it keeps every total finite.
MAX_PERSONS = 1_000_000_000


class CompositionError(ValueError):
    """One-line message naming the file, row and column of a bad composition."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


def _err(
    path: str,
    row: int | None,
    col: str | None,
    problem: str,
    got: object = ...,
    allowed: str | None = None,
) -> CompositionError:
    where = ", ".join(p for p in (f"row {row}" if row else "", f"column {col}" if col else "") if p)
    msg = f"{path}: {where}: {problem}" if where else f"{path}: {problem}"
    if got is not ...:
        text = repr(got) if isinstance(got, str) else str(got)
        msg += f"; got {text if len(text) <= 60 else text[:57] + '...'}"
    return CompositionError(msg + (f"; allowed {allowed}" if allowed else ""))


def _int(path: str, row: int, col: str, text: str, lo: int, hi: int) -> int:
    try:
        value = float(text)
    except ValueError:
        raise _err(path, row, col, "not a whole number", text, f"an integer {lo}..{hi}") from None
    if not math.isfinite(value) or value != int(value) or not lo <= value <= hi:
        raise _err(
            path,
            row,
            col,
            "out of range"
            if math.isfinite(value) and value == int(value)
            else "not a whole number",
            text,
            f"an integer {lo}..{hi}",
        )
    return int(value)


def _rows(path: str) -> tuple[int, list[str], list[tuple[int, list[str]]]]:
    """(header line number, header, [(line number, fields)]) skipping comments and blanks."""
    try:
        text = read_text(path, MAX_CSV_BYTES)
    except InputFileError as exc:
        raise _err(path, None, None, str(exc)) from None
    header: list[str] | None = None
    header_line = 0
    rows: list[tuple[int, list[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in next(csv.reader([line], skipinitialspace=True))]
        if header is None:
            header, header_line = fields, number
        else:
            rows.append((number, fields))
    if header is None:
        raise _err(
            path, None, None, "no header row", allowed="a CSV with columns " + ", ".join(COLUMNS)
        )
    return header_line, header, rows


def read_composition_table(path: str | os.PathLike) -> pd.DataFrame:
    """Validated rows (sex, age_min, age_max, quintile, count, row) of a composition CSV."""
    path = str(path)
    header_line, header, rows = _rows(path)
    for col in COLUMNS:
        if col not in header:
            raise _err(
                path,
                header_line,
                col,
                "required column is missing",
                ",".join(header),
                ", ".join(COLUMNS) + " (then optional tag, source)",
            )
    pos = {c: header.index(c) for c in COLUMNS}
    if not rows:
        raise _err(
            path, None, None, "no data rows", allowed="one row per sex, age band and quintile"
        )
    out = []
    for number, fields in rows:
        if len(fields) < len(header):
            missing = header[len(fields)]
            raise _err(
                path,
                number,
                missing,
                "value missing (row too short)",
                ",".join(fields),
                f"{len(header)} comma-separated values",
            )
        sex = fields[pos["sex"]]
        if sex not in SEXES:
            raise _err(path, number, "sex", "unknown sex", sex, "male, female")
        q_text = fields[pos["quintile"]]
        if q_text not in ("1", "2", "3", "4", "5"):
            raise _err(
                path,
                number,
                "quintile",
                "unknown IMD quintile",
                q_text,
                "1, 2, 3, 4, 5 (1 = most deprived)",
            )
        lo = _int(path, number, "age_min", fields[pos["age_min"]], 0, MAX_AGE)
        hi = _int(path, number, "age_max", fields[pos["age_max"]], 0, MAX_AGE)
        if hi < lo:
            raise _err(path, number, "age_max", "below age_min", hi, f">= age_min ({lo})")
        c_text = fields[pos["count"]]
        try:
            count = float(c_text)
        except ValueError:
            raise _err(
                path, number, "count", "not a number", c_text, "a number of persons >= 0"
            ) from None
        if not math.isfinite(count) or not 0 <= count <= MAX_PERSONS:
            raise _err(
                path,
                number,
                "count",
                "negative count"
                if count < 0
                else "implausibly many persons"
                if math.isfinite(count)
                else "not a finite number",
                c_text,
                f"a number of persons from 0 to {MAX_PERSONS:,}",
            )
        out.append((sex, lo, hi, int(q_text), count, number))
    table = pd.DataFrame(out, columns=[*COLUMNS, "row"])
    _check_bands(path, table)
    if table["count"].sum() > MAX_PERSONS:
        raise _err(
            path,
            None,
            "count",
            "implausibly many persons in all",
            f"{table['count'].sum():,.0f}",
            f"at most {MAX_PERSONS:,} persons in all",
        )
    if table["count"].sum() <= 0:
        raise _err(path, None, "count", "all counts are zero", 0, "at least one person")
    return table


def _check_bands(path: str, table: pd.DataFrame) -> None:
    """Each sex x quintile: bands cover 0..100 once (no overlaps, no gaps)."""
    for sex in SEXES:
        for q in range(1, 6):
            g = table[(table.sex == sex) & (table.quintile == q)].sort_values(["age_min", "row"])
            covered, prev_row = -1, None
            for r in g.itertuples():
                if r.age_min <= covered:
                    raise _err(
                        path,
                        r.row,
                        "age_min",
                        f"band overlaps the band in row {prev_row} ({sex}, quintile {q})",
                        r.age_min,
                        f"age_min >= {covered + 1} (bands of one sex and quintile must "
                        "not overlap)",
                    )
                if r.age_min > covered + 1:
                    raise _missing(
                        path,
                        r.row,
                        "age_min",
                        sex,
                        q,
                        covered + 1,
                        r.age_min - 1,
                        f"this band starts at {r.age_min}",
                    )
                covered, prev_row = r.age_max, r.row
            if covered < MAX_AGE:
                raise _missing(
                    path,
                    prev_row,
                    "age_max" if prev_row else None,
                    sex,
                    q,
                    covered + 1,
                    MAX_AGE,
                    f"the last band ends at {covered}" if prev_row else "no rows at all",
                )


def _missing(
    path: str, row: int | None, col: str | None, sex: str, q: int, lo: int, hi: int, why: str
) -> CompositionError:
    ages = f"{lo}-{hi}" if hi > lo else f"{lo}"
    return _err(
        path,
        row,
        col,
        f"missing band: no row covers ages {ages} for {sex}, quintile {q} ({why})",
        allowed="bands covering ages 0-100 for every sex and "
        "quintile (count 0 where there is nobody)",
    )


def spread_over_ages(table: pd.DataFrame, lx: np.ndarray) -> np.ndarray:
    """Real persons (2, 5, 101) by sex, quintile and single year of age: each band spread
    over its ages in proportion to life-table survivors ``lx`` (2, 101), as
    :func:`povsim.model.population.single_year_counts` does for England."""
    out = np.zeros((2, 5, L.N_AGE))
    for r in table.itertuples():
        si = SEXES.index(r.sex)
        ages = np.arange(r.age_min, r.age_max + 1)
        share = lx[si, ages] / lx[si, ages].sum()
        out[si, r.quintile - 1, ages] += r.count * share
    return out


def life_table_lx(life: pd.DataFrame) -> np.ndarray:
    """lx (2, 101) by sex from a life table frame (sex, age, lx)."""
    return np.stack(
        [life[life["sex"] == s].sort_values("age")["lx"].to_numpy(float)[: L.N_AGE] for s in SEXES]
    )


@lru_cache(maxsize=16)
def _cached(path: str, mtime_ns: int, size: int, lx_key: bytes) -> np.ndarray:
    table = read_composition_table(path)
    lx = np.frombuffer(lx_key).reshape(2, L.N_AGE)
    out = spread_over_ages(table, lx)
    out.setflags(write=False)
    return out


def read_composition(path: str | os.PathLike, life: pd.DataFrame) -> np.ndarray:
    """Validated composition as real persons (2, 5, 101) (sex, quintile, age); raises
    :class:`CompositionError`. Cached on the file's path, modification time and size."""
    path = str(path)
    try:
        st = os.stat(path)
    except OSError:
        raise _err(path, None, None, "file not found") from None
    return _cached(path, st.st_mtime_ns, st.st_size, life_table_lx(life).tobytes())
