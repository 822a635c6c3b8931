"""Published local targets of real places: the shipped snapshot and its refresh.

``calibration/places/targets.csv`` (built offline by ``calibration/places/build_targets.py``;
sources and SHA-256 in ``targets_sources.yaml``) holds whole-area expectancies of places by
ONS code: columns code, name, measure (le0, hle0), sex, quintile (``all``), value, lower_ci,
upper_ci, period, source. ``povsim calibrate --scenario`` uses a place's rows when the scenario
names the place and gives no ``calibration.targets`` of its own; a whole-area (``all``) target
becomes one shift shared by the place's quintiles.

``povsim refresh-targets`` writes a new snapshot from OHID Fingertips (LE at birth, indicator
90366; HLE at birth, 90362), online, or from a Fingertips CSV saved earlier (``--from-file``),
so the tests and CI never need the network.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import pandas as pd

from povsim.inputs.places import all_places, places_dir
from povsim.inputs.targets import (
    TARGET_COLUMNS,
    TargetsError,
    read_local_targets,
    shipped_rows_sha256,
)

# Targets reference of a place's shipped rows: povsim.inputs.targets.SHIPPED ("shipped:<code>").
PLACE_COLUMNS: tuple[str, ...] = ("code", "name", "measure", "sex", "quintile", "value")
PLACE_COLUMNS += ("lower_ci", "upper_ci", "period", "source")
# Fingertips: indicator id -> measure; area types: upper- and lower-tier local authorities
# (April 2023 boundaries).
INDICATORS = {90366: "le0", 90362: "hle0"}
AREA_TYPES = (502, 501)
FINGERTIPS_URL = (
    "https://fingertips.phe.org.uk/api/all_data/csv/by_indicator_id?"
    "indicator_ids={ids}&child_area_type_id={area}&parent_area_type_id=15"
)


def targets_path() -> Path:
    """The shipped snapshot, ``calibration/places/targets.csv``."""
    return Path(places_dir()) / "targets.csv"


@lru_cache(maxsize=4)
def _table(path: str) -> pd.DataFrame:
    if not Path(path).is_file():
        return pd.DataFrame(columns=[*TARGET_COLUMNS, "code", "row"])
    return read_local_targets(path, extra=("code",))


def read_place_targets(path: str | Path | None = None) -> pd.DataFrame:
    """Every row of a places targets snapshot, validated (one-line :class:`TargetsError`)."""
    return _table(str(path or targets_path()))


def place_targets(code: str) -> pd.DataFrame | None:
    """The place's shipped targets in the local-targets format, or None when it has none."""
    t = read_place_targets()
    rows = t[t.code == code]
    return None if rows.empty else rows.drop(columns="code").reset_index(drop=True)


def place_targets_sha256(code: str) -> str:
    """SHA-256 of the place's shipped rows (what a local fit remembers)."""
    return shipped_rows_sha256(code, targets_path())


def measures_of(code: str) -> str:
    """Short note of what a place has, for `povsim places`: e.g. ``hle0``, ``le0+hle0``, ``-``."""
    rows = place_targets(code)
    if rows is None:
        return "-"
    return "+".join(m for m in ("le0", "hle0") if m in set(rows.measure))


# --- refresh from Fingertips ------------------------------------------------------------------


def fetch_fingertips(area_type: int, timeout: float = 120.0) -> str:
    """The Fingertips CSV of indicators 90366 and 90362 for one area type (needs the network;
    the same request as ``fingertips_py.get_data_by_indicator_ids``)."""
    from urllib.request import urlopen

    url = FINGERTIPS_URL.format(ids=",".join(map(str, INDICATORS)), area=area_type)
    with urlopen(url, timeout=timeout) as resp:  # noqa: S310 (a fixed https URL)
        return resp.read().decode("utf-8-sig")


def _period(text: str) -> str:
    """Fingertips '2017 - 19' -> '2017-19'."""
    return "".join(str(text).split())


def from_fingertips(responses: list[str], period: str, retrieved: str) -> pd.DataFrame:
    """Snapshot rows from Fingertips CSV responses: the whole-area (no category) figures of
    ``period`` for every shipped place whose code appears; TargetsError when none do."""
    frames = [pd.read_csv(io.StringIO(text), dtype=str) for text in responses if text.strip()]
    need = {"Indicator ID", "Area Code", "Sex", "Time period", "Value"}
    for f in frames:
        if not need <= set(f.columns):
            missing = ", ".join(sorted(need - set(f.columns)))
            raise TargetsError(f"Fingertips response: columns missing: {missing}")
    if not frames:
        raise TargetsError("Fingertips response: empty")
    d = pd.concat(frames, ignore_index=True)
    d = d[d["Indicator ID"].astype(int).isin(INDICATORS)]
    if "Category Type" in d:
        d = d[d["Category Type"].fillna("").str.strip() == ""]
    d = d[d["Time period"].map(_period) == period]
    d = d[d["Value"].notna() & d["Sex"].isin(["Male", "Female"])]
    names = {p.code: p.name for p in all_places()}
    d = d[d["Area Code"].isin(names)].drop_duplicates(["Indicator ID", "Area Code", "Sex"])
    if d.empty:
        raise TargetsError(f"Fingertips response: no place has a {period} figure")

    def col(name: str) -> pd.Series:
        return d[name] if name in d else pd.Series([""] * len(d), index=d.index)

    out = pd.DataFrame(
        {
            "code": d["Area Code"],
            "name": d["Area Code"].map(names),
            "measure": d["Indicator ID"].astype(int).map(INDICATORS),
            "sex": d["Sex"].str.lower(),
            "quintile": "all",
            "value": d["Value"].astype(float).round(2),
            "lower_ci": pd.to_numeric(col("Lower CI 95.0 limit"), errors="coerce").round(2),
            "upper_ci": pd.to_numeric(col("Upper CI 95.0 limit"), errors="coerce").round(2),
            "period": period,
            "source": d["Indicator ID"].map(
                lambda i: f"OHID Fingertips indicator {i}, retrieved {retrieved}"
            ),
        }
    )
    return out.sort_values(["code", "measure", "sex"]).reset_index(drop=True)


def write_snapshot(table: pd.DataFrame, path: str | Path, note: str) -> Path:
    """Write a snapshot atomically (``#`` header lines, then the rows), check it reads back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(f"# Published local targets of real places. {note}\n")
        table[list(PLACE_COLUMNS)].to_csv(fh, index=False, lineterminator="\n")
    try:
        read_local_targets(tmp, extra=("code",))
    except TargetsError:
        tmp.unlink()
        raise
    tmp.replace(path)
    _table.cache_clear()
    return path
