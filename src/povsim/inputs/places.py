"""Real places of England by name or code: ICBs, sub-ICB locations and local authorities.

The tables are shipped in ``calibration/places/`` (built from public LSOA data by
``calibration/places/build.py``; sources and checksums in ``sources.yaml``):
``places.csv`` (code, name, level, parent, mid-2019 persons by national IMD2019 quintile) and
``compositions.csv`` (persons by place, sex, quintile and 5-year age band).

A scenario names a place as ``population: {area: "NHS Greater Manchester ICB"}`` or
``{area: E54000057}``. Names match without regard to case, punctuation, ``&``/``and`` or
"Integrated Care Board"/"ICB"; an unknown place gets the nearest names as a hint.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from povsim.inputs.parameters import calibration_dir

LEVELS = {
    "icb": "integrated care board",
    "sub_icb": "sub-ICB location",
    "single_tier_la": "local authority (unitary, metropolitan district or London borough)",
    "upper_tier_la": "county council area (upper tier)",
    "lower_tier_la": "district council area (lower tier)",
}
ENGLAND_CODE = "E92000001"
RESERVED = ("england", "local")  # area values that are not places
_CODE = re.compile(r"^E\d{8}$")


class PlaceError(ValueError):
    """An unknown or ambiguous place: ``problem``, the ``allowed`` wording and a ``hint``."""

    def __init__(self, problem: str, got: str, allowed: str, hint: str | None = None) -> None:
        super().__init__(problem)
        self.problem, self.got, self.allowed, self.hint = problem, got, allowed, hint


@dataclass(frozen=True)
class Place:
    """One real place: ONS code, name, level (see ``LEVELS``), parent code, mid-2019 persons
    and persons in each national IMD2019 quintile (1 = most deprived)."""

    code: str
    name: str
    level: str
    parent_code: str
    population: int
    quintiles: tuple[int, int, int, int, int]

    @property
    def label(self) -> str:
        """Short name for tables and reports ("NHS Greater Manchester ICB")."""
        return self.name.replace("Integrated Care Board", "ICB")

    @property
    def core20_share(self) -> float:
        """Share of the place's persons in national quintile 1 (Core20)."""
        return self.quintiles[0] / self.population if self.population else 0.0


def places_dir() -> str:
    return str(calibration_dir() / "places")


def _norm(text: str) -> str:
    t = text.casefold().replace("&", " and ")
    t = t.replace("integrated care board", "icb").replace("sub icb location", "")
    return " ".join(re.sub(r"[^0-9a-z]+", " ", t).split())


@lru_cache(maxsize=4)
def _table(directory: str) -> pd.DataFrame:
    return pd.read_csv(f"{directory}/places.csv", comment="#", dtype={"code": str})


def places_table() -> pd.DataFrame:
    """Every shipped place: code, name, level, parent_code, population, q1..q5 (persons)."""
    return _table(places_dir())


@lru_cache(maxsize=4)
def _index(directory: str) -> tuple[dict[str, Place], dict[str, list[str]]]:
    by_code: dict[str, Place] = {}
    by_name: dict[str, list[str]] = {}
    for r in _table(directory).itertuples(index=False):
        p = Place(
            str(r.code),
            str(r.name),
            str(r.level),
            str(r.parent_code),
            int(r.population),
            (int(r.q1), int(r.q2), int(r.q3), int(r.q4), int(r.q5)),
        )
        by_code[p.code] = p
        for key in {_norm(p.name), _norm(p.label)}:
            by_name.setdefault(key, []).append(p.code)
    return by_code, by_name


def all_places() -> list[Place]:
    """Every place, in the order of ``places.csv`` (ICBs, sub-ICBs, then authorities)."""
    return list(_index(places_dir())[0].values())


def find_place(text: str) -> Place:
    """The place named or coded by ``text``; :class:`PlaceError` if unknown or ambiguous."""
    by_code, by_name = _index(places_dir())
    key = str(text).strip()
    if key.upper() in by_code:
        return by_code[key.upper()]
    codes = by_name.get(_norm(key), [])
    if len(codes) == 1:
        return by_code[codes[0]]
    allowed = "england, local, or an ICB, sub-ICB location or local authority by name or ONS code"
    if len(codes) > 1:
        raise PlaceError("ambiguous place name (use the code)", key, " or ".join(codes))
    if _CODE.match(key.upper()):  # a mistyped code: the nearest codes, with their names
        near = difflib.get_close_matches(key.upper(), list(by_code), n=2, cutoff=0.8)
        hint = "`, `".join(f"{c} ({by_code[c].label})" for c in near) if near else None
    else:
        near = difflib.get_close_matches(_norm(key), list(by_name), n=3, cutoff=0.6)
        hint = "`, `".join(by_code[by_name[n][0]].label for n in near) if near else None
    raise PlaceError("unknown place", key, allowed + " (see `povsim places`)", hint)


def search_places(query: str | None = None, level: str | None = None) -> list[Place]:
    """Places whose code starts with, or whose name contains, ``query`` (all if None)."""
    out = all_places()
    if level:
        out = [p for p in out if p.level == level]
    if query:
        q = _norm(query)
        out = [p for p in out if p.code.startswith(query.upper()) or q in _norm(p.name)]
    return out


@lru_cache(maxsize=4)
def _compositions(directory: str) -> pd.DataFrame:
    return pd.read_csv(f"{directory}/compositions.csv", comment="#", dtype={"code": str})


def place_composition_table(code: str) -> pd.DataFrame:
    """The place's persons as a composition table (sex, age_min, age_max, quintile, count),
    the format of a composition CSV (see :mod:`povsim.inputs.composition`)."""
    comp = _compositions(places_dir())
    rows = comp[comp.code == code]
    if rows.empty:
        raise KeyError(code)
    bands = [c for c in comp.columns if re.match(r"^\d+-\d+$", c)]
    long = rows.melt(id_vars=["sex", "quintile"], value_vars=bands, value_name="count")
    ages = long.variable.str.split("-", expand=True).astype(int)
    out = pd.DataFrame(
        {
            "sex": long.sex,
            "age_min": ages[0],
            "age_max": ages[1],
            "quintile": long.quintile.astype(int),
            "count": long["count"].astype(float),
        }
    )
    return out.sort_values(["sex", "quintile", "age_min"]).reset_index(drop=True)


def place_sha256(code: str) -> str:
    """SHA-256 of the place's composition rows: a local fit remembers it, so a rebuilt
    table makes the fit stale for exactly the places whose persons changed."""
    t = place_composition_table(code)
    return hashlib.sha256(t.to_csv(index=False).encode()).hexdigest()


def quintile_mix(p: Place) -> np.ndarray:
    """Shares of the place's persons in quintiles 1..5."""
    q = np.asarray(p.quintiles, float)
    return q / q.sum() if q.sum() else q
