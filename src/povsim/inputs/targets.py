"""Local calibration inputs: the targets CSV (LE/HLE by quintile and sex of an area) and the
fitted file that `povsim calibrate --scenario` writes and `povsim run` reads.

Targets CSV columns: measure (le0, hle0), sex (male, female), quintile (1..5 or all), value
(years), period (e.g. 2017-19), source; ``#`` comment lines allowed.
"""

from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path
from typing import Any

import pandas as pd

from povsim.inputs.layout import SEXES
from povsim.inputs.reading import (
    MAX_CSV_BYTES,
    MAX_YAML_BYTES,
    InputFileError,
    read_bytes,
    read_text,
    read_yaml,
)

MEASURES = ("le0", "hle0")
TARGET_COLUMNS = ("measure", "sex", "quintile", "value", "period", "source")
GROUPS = ("1", "2", "3", "4", "5", "all")


class TargetsError(ValueError):
    """One-line message naming the file, row and column of a bad targets file."""


def _terr(
    path: str,
    row: int | None,
    col: str | None,
    problem: str,
    got: Any = ...,
    allowed: str | None = None,
) -> TargetsError:
    where = ", ".join(p for p in (f"row {row}" if row else "", f"column {col}" if col else "") if p)
    msg = f"{path}: {where}: {problem}" if where else f"{path}: {problem}"
    msg += f"; got {got!r}" if got is not ... else ""
    return TargetsError(msg + (f"; allowed {allowed}" if allowed else ""))


def check_target_row(
    path: str, number: int, rec: dict[str, str], seen: dict[tuple[str, ...], int]
) -> float:
    """The value of one targets row (``rec``: column -> text), or :class:`TargetsError` naming
    the row and column; ``seen`` (key -> row) catches a second row for the same key (the
    measure, sex and quintile, after a ``code`` when the row has one)."""
    if rec["measure"] not in MEASURES:
        raise _terr(path, number, "measure", "unknown measure", rec["measure"], "le0, hle0")
    if rec["sex"] not in SEXES:
        raise _terr(path, number, "sex", "unknown sex", rec["sex"], "male, female")
    if rec["quintile"] not in GROUPS:
        raise _terr(
            path, number, "quintile", "unknown quintile", rec["quintile"], "1, 2, 3, 4, 5, all"
        )
    try:
        value = float(rec["value"])
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 20 <= value <= 110:
        raise _terr(
            path,
            number,
            "value",
            "not a plausible expectancy in years",
            rec["value"],
            "a number 20..110",
        )
    for col in ("period", "source"):
        if not rec[col]:
            raise _terr(path, number, col, "empty", "", f"the {col} of the figure")
    key = tuple(rec[c] for c in ("code", "measure", "sex", "quintile") if c in rec)
    if key in seen:
        raise _terr(
            path,
            number,
            "quintile",
            f"duplicate of row {seen[key]}",
            rec["quintile"],
            "one row per measure, sex and quintile" + (" of a place" if "code" in rec else ""),
        )
    seen[key] = number
    return value


def read_local_targets(path: str | Path, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """Validated local targets (measure, sex, quintile, value, period, source, row); ``extra``
    columns (e.g. ``code`` in the shipped targets of places) are required and kept."""
    path = str(path)
    required = extra + TARGET_COLUMNS
    try:
        lines = read_text(path, MAX_CSV_BYTES).splitlines()
    except InputFileError as exc:
        raise _terr(path, None, None, str(exc)) from None
    header: list[str] | None = None
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, ...], int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in next(csv.reader([line], skipinitialspace=True))]
        if header is None:
            header = fields
            for col in required:
                if col not in header:
                    raise _terr(
                        path,
                        number,
                        col,
                        "required column is missing",
                        ",".join(fields),
                        ", ".join(required),
                    )
            continue
        if len(fields) < len(header):
            raise _terr(path, number, header[len(fields)], "value missing (row too short)")
        rec = dict(zip(header, fields))
        value = check_target_row(path, number, rec, seen)
        rows.append({**{c: rec[c] for c in required}, "value": value, "row": number})
    if header is None or not rows:
        raise _terr(
            path, None, None, "no target rows", allowed="columns " + ", ".join(TARGET_COLUMNS)
        )
    return pd.DataFrame(rows)


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's contents (bounded: only input files are hashed)."""
    return hashlib.sha256(read_bytes(path, MAX_CSV_BYTES)).hexdigest()


SHIPPED = "shipped:"  # targets reference of a place's shipped rows, e.g. shipped:E08000011


def targets_sha256(ref: str | Path) -> str:
    """SHA-256 of a targets CSV's bytes, or of a place's shipped rows (``shipped:<code>``)."""
    text = str(ref)
    if text.startswith(SHIPPED):
        return shipped_rows_sha256(text[len(SHIPPED) :])
    return file_sha256(text)


def shipped_rows_sha256(code: str, path: str | Path | None = None) -> str:
    """SHA-256 of a place's rows in the shipped targets snapshot (``calibration/places/
    targets.csv``): a fit remembers it, so a refreshed snapshot makes the fit stale for
    exactly the places whose targets changed."""
    from povsim.inputs.places import places_dir

    path = Path(path or Path(places_dir()) / "targets.csv")
    text = ""
    if path.is_file():
        t = read_local_targets(path, extra=("code",))
        rows = t[t.code == code]
        if not rows.empty:
            text = rows[list(TARGET_COLUMNS)].to_csv(index=False)
    return hashlib.sha256(text.encode()).hexdigest()


def composition_sha256(ref: str | Path) -> str:
    """SHA-256 of a composition: a CSV file's bytes, or a shipped place's rows (by code)."""
    from povsim.inputs.places import RESERVED, find_place, place_sha256

    text = str(ref)
    if not Path(text).is_file() and text not in RESERVED:
        return place_sha256(find_place(text).code)
    return file_sha256(text)


def read_local_fitted(path: str | Path, targets_path: str, composition_path: str) -> dict[str, Any]:
    """The local shifts of a fitted file; ValueError (one line) when it is missing, is not a
    fit povsim wrote, or was fitted to other targets or another composition than the
    scenario's."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"{path}: local calibration not found; run `povsim calibrate "
            "--scenario <this scenario>` first"
        )
    rerun = "re-run `povsim calibrate --scenario <this scenario>`"
    try:
        doc = read_yaml(path, MAX_YAML_BYTES)
    except InputFileError as exc:
        raise ValueError(f"{path}: {exc}; {rerun}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("local"), dict):
        raise ValueError(f"{path}: not a local fit written by povsim (no `local:` block); {rerun}")
    bad = _non_finite(doc["local"], "local")
    if bad:
        raise ValueError(f"{path}: {bad}: not a finite number; {rerun}")
    for key, file in (("targets_sha256", targets_path), ("composition_sha256", composition_path)):
        try:
            digest = targets_sha256(file) if key == "targets_sha256" else composition_sha256(file)
        except InputFileError as exc:
            raise ValueError(f"{file}: {exc}") from None
        if doc.get(key) != digest:
            raise ValueError(
                f"{path}: fitted to a different {key.split('_')[0]} file than {file}; {rerun}"
            )
    return doc["local"]


def _non_finite(node: Any, path: str) -> str | None:
    """The path of the first value in a fitted block that is not a finite number."""
    if isinstance(node, dict):
        for k, v in node.items():
            found = _non_finite(v, f"{path}.{k}")
            if found:
                return found
        return None
    if isinstance(node, list):
        for i, v in enumerate(node):
            found = _non_finite(v, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(node, bool) or not isinstance(node, (int, float)) or not math.isfinite(node):
        return path
    return None
