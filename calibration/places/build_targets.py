"""Build the shipped local targets of real places (healthy life expectancy at birth, 2017-19).

    python calibration/places/build_targets.py --raw /path/to/raw [--out calibration/places]

Reads, offline, the raw input listed in ``INPUT`` from ``--raw`` (checked against its SHA-256
unless ``--no-verify``) and the shipped ``places.csv``, and writes to ``--out``:

- ``targets.csv``: one row per place, measure and sex (columns code, name, measure, sex,
  quintile, value, lower_ci, upper_ci, period, source), whole-area figures (quintile ``all``),
  the format ``povsim calibrate --scenario`` reads for a place named by the scenario;
- ``targets_sources.yaml``: the input with its origin and SHA-256, the method and the counts.

What is there and why (see also calibration/FORMATS.md):

1. Healthy life expectancy (HLE) at birth by sex, 2017-19, ONS Health state life
   expectancies, UK, for counties and unitary authorities (upper tier; metropolitan districts
   and London boroughs are their own upper tier), as republished with 95% confidence limits
   in ONS's Explore Local Statistics data (the 2018-20 edition of the series, whose 2017-19
   England figures, 63.18 and 63.52 years, are the 63.2 and 63.5 of the national calibration
   targets). ONS does not publish HLE for lower-tier districts, ICBs or sub-ICB locations.
2. Life expectancy (LE) at birth by local authority is published (ONS, Life expectancy for
   local areas of the UK; OHID Fingertips indicator 90366) but no copy was found that could
   be brought in offline with a checksum, so none is shipped; ``povsim refresh-targets``
   fetches LE and HLE from Fingertips for a user online.
3. A place takes the figure of its own ONS code. Two 2023 unitary authorities kept the exact
   boundary of the county they replaced and take its figure: North Yorkshire (E06000065 <-
   E10000023) and Somerset (E06000066 <- E10000027). Cumbria (split in two in 2023) has no
   figure for its successors (Cumberland, Westmorland and Furness). Nothing is derived or
   averaged: every value is a published one, as given (2 decimals) in the input. ONS gives
   no figure for the Isles of Scilly and the City of London (too few deaths).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
PERIOD = "2017-19"
ELS = "ONSdigital/explore-local-statistics-data (public GitHub repository, ONS)"

INPUT: dict[str, str] = {
    "file": "healthy-life-expectancy_ons_els_b82ec6ae.csv",
    "sha256": "751efa48bb9cf769534ce49011143986c7de3f8740e29bb0dd0c582e1fdcf9c5",
    "origin": f"{ELS}, commit b82ec6aec112614953e23596d746623dea6a8cd9 ('Healthy life "
    "expectancy (#88)', 9 Feb 2024), path healthy-life-expectancy/healthy-life-expectancy.csv",
    "what": "ONS, Health state life expectancies, UK: healthy life expectancy at birth by sex "
    "with 95% confidence limits, counties and unitary authorities, regions and nations, "
    "2011-13 to 2018-20 (Explore Local Statistics dataset issued 12 Jan 2024)",
}
SOURCE = (
    "ONS Health state life expectancies UK (HLE at birth; 2018-20 edition of the series) via "
    "ONS Explore Local Statistics data @b82ec6ae"
)
# 2023 unitary authorities with the unchanged boundary of the county they replaced.
SAME_BOUNDARY = {"E06000065": "E10000023", "E06000066": "E10000027"}
SEXES = {"Male healthy life expectancy": "male", "Female healthy life expectancy": "female"}
COLUMNS = [
    "code",
    "name",
    "measure",
    "sex",
    "quintile",
    "value",
    "lower_ci",
    "upper_ci",
    "period",
    "source",
]


class BuildError(RuntimeError):
    """The raw input is missing, changed or inconsistent (one line)."""


def read_input(raw: Path, spec: dict[str, str], verify: bool) -> pd.DataFrame:
    path = raw / spec["file"]
    if not path.exists():
        raise BuildError(f"{path}: raw input not found ({spec['what']})")
    if verify:
        got = hashlib.sha256(path.read_bytes()).hexdigest()
        if got != spec["sha256"]:
            raise BuildError(
                f"{path}: SHA-256 {got} differs from the recorded {spec['sha256']}; "
                "a changed input must be reviewed and its checksum updated in INPUT"
            )
    return pd.read_csv(path, dtype={"areacd": str, "period": str})


def build_table(hle: pd.DataFrame, places: pd.DataFrame) -> pd.DataFrame:
    """targets.csv rows: the 2017-19 HLE of every place that has a published figure."""
    need = {"indicator", "areacd", "observation", "period"}
    if not need <= set(hle.columns):
        raise BuildError(f"input lacks columns {sorted(need - set(hle.columns))}")
    h = hle[(hle.period.str.strip() == PERIOD) & hle.indicator.isin(SEXES)].copy()
    h = h[h.observation.notna()]  # no figure published (Isles of Scilly, City of London)
    h["sex"] = h.indicator.map(SEXES)
    h["areacd"] = h.areacd.str.strip()
    if h.duplicated(["areacd", "sex"]).any():
        raise BuildError("input has two 2017-19 figures for one area and sex")
    by = h.set_index(["areacd", "sex"])
    england = [float(by.loc[("E92000001", s), "observation"]) for s in ("male", "female")]
    if [round(v, 1) for v in england] != [63.2, 63.5]:
        raise BuildError(
            f"England 2017-19 HLE {england} is not the 63.2/63.5 of the national targets"
        )
    rows = []
    for p in places.itertuples():
        src = SAME_BOUNDARY.get(p.code, p.code)
        for sex in ("male", "female"):
            if (src, sex) not in by.index:
                continue
            r = by.loc[(src, sex)]
            note = SOURCE if src == p.code else f"{SOURCE}; figure of {src} (same boundary)"
            rows.append(
                [
                    p.code,
                    p.name,
                    "hle0",
                    sex,
                    "all",
                    round(float(r.observation), 2),
                    round(float(r.lower_confidence_interval_95), 2),
                    round(float(r.upper_confidence_interval_95), 2),
                    PERIOD,
                    note,
                ]
            )
    out = pd.DataFrame(rows, columns=COLUMNS)
    bad = out[(out.value < 40) | (out.value > 80) | (out.lower_ci > out.value)]
    if not bad.empty:
        raise BuildError(f"implausible HLE for {bad.code.iloc[0]}: {bad.value.iloc[0]}")
    return out.sort_values(["code", "measure", "sex"]).reset_index(drop=True)


def build(raw: Path, out: Path, verify: bool = True, places_csv: Path | None = None) -> dict:
    """Read the raw input and the shipped places, write targets.csv and targets_sources.yaml."""
    import yaml

    hle = read_input(raw, INPUT, verify)
    places = pd.read_csv(places_csv or HERE / "places.csv", comment="#", dtype={"code": str})
    table = build_table(hle, places)
    levels = places.set_index("code").level
    counts = {
        str(k): int(v)
        for k, v in table.drop_duplicates("code").code.map(levels).value_counts().items()
    }
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "targets.csv", "w", encoding="utf-8", newline="") as fh:
        fh.write(
            "# Published local targets of real places: healthy life expectancy at birth (hle0) by "
            "sex, 2017-19, whole area (quintile all).\n"
            "# Built by calibration/places/build_targets.py from the input in "
            "targets_sources.yaml (origin, SHA-256). No life expectancy (le0) yet: see "
            "`povsim refresh-targets`.\n"
        )
        table.to_csv(fh, index=False, lineterminator="\n")
    doc = {
        "what": "Published local targets of real places (calibration/places/targets.csv)",
        "period": PERIOD,
        "method": [
            line.strip() for line in (__doc__ or "").split("why")[1].splitlines()[2:] if line
        ],
        "inputs": {"hle": dict(INPUT)},
        "checks": {
            "england_2017_19_hle": {"male": 63.18, "female": 63.52},
            "places_with_targets": counts,
            "rows": int(len(table)),
        },
    }
    (out / "targets_sources.yaml").write_text(
        yaml.safe_dump(doc, sort_keys=False, width=100), encoding="utf-8"
    )
    return doc["checks"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--raw", type=Path, required=True, help="folder with the raw input")
    ap.add_argument("--out", type=Path, default=HERE, help="output folder [calibration/places]")
    ap.add_argument("--no-verify", action="store_true", help="skip the SHA-256 check")
    args = ap.parse_args(argv)
    try:
        checks = build(args.raw, args.out, verify=not args.no_verify)
    except BuildError as exc:
        print(f"build_targets.py: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {checks}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
