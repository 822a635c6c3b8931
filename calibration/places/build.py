"""Build the shipped compositions of every real place in England from public LSOA data.

    python calibration/places/build.py --raw /path/to/raw [--out calibration/places]

Reads, offline, the raw inputs listed in ``INPUTS`` from ``--raw`` (each checked against its
SHA-256 unless ``--no-verify``), and writes to ``--out``:

- ``places.csv``: one row per place (42 ICBs, 106 sub-ICB locations, every lower- and
  upper-tier local authority of April 2023), with its level, parent, mid-2019 population and
  persons in each national IMD2019 quintile;
- ``compositions.csv``: persons by place, sex, national IMD2019 quintile and 5-year age band
  (one column per band, 90+ as ``90-100``), the format :mod:`povsim.inputs.places` reads;
- ``published_mid2019.csv``: the published ONS mid-2019 population of every local authority
  district (April 2020 codes) with the 2023 authority that contains it, so tests can check
  that the compositions add up to the published figures;
- ``sources.yaml``: every input with its origin and SHA-256, the method and the checks.

Method (all at LSOA level, then summed, so that every place is an exact sum of whole LSOAs
and every total is a whole number of persons):

1. ONS mid-2019 LSOA (2011) estimates by single year of age (persons), summed to 5-year bands
   (90+ kept as one band).
2. Each LSOA's national IMD2019 decile (File 1 of the English Indices of Deprivation 2019)
   gives its quintile: ``ceil(decile / 2)``, 1 = most deprived.
3. Sex: the LSOA estimates used are for persons only, so each LSOA band is split into males
   and females with England's mid-2019 male share of that band
   (``calibration/population_england_mid2019.csv``); males are rounded to whole persons and
   females are the rest. This is an assumption: local sex ratios (e.g. older women in coastal
   towns) are not kept.
4. LSOA -> sub-ICB location -> ICB (July 2022) and LSOA -> local authority district (2022),
   then district 2022 -> 2023 (Cumbria, North Yorkshire, Somerset reorganised) -> upper tier
   2023.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ENGLAND_CODE = "E92000001"
BANDS = [(a, a + 4) for a in range(0, 90, 5)] + [(90, 100)]
BAND_COLS = [f"{lo}-{hi}" for lo, hi in BANDS]
SEXES = ("male", "female")
LEVELS = ("icb", "sub_icb", "single_tier_la", "upper_tier_la", "lower_tier_la")

GEOGRAPHR = "humaniverse/geographr (R package data; public GitHub repository)"
DEMOGRAPHR = "humaniverse/demographr (R package data; public GitHub repository)"
ENERGY_FLEX = "anetobradley/energy_flex (public GitHub repository, CSV copy of the MHCLG file)"

# Raw inputs: file name in --raw, SHA-256, where it came from and what it is.
INPUTS: dict[str, dict[str, str]] = {
    "imd": {
        "file": "File_1_-_IMD2019_Index_of_Multiple_Deprivation.csv.gz",
        "sha256": "08eaaf9e55258b7b920531931ca601eb1a54760d8878afb1e70df5e904644f74",
        "origin": f"{ENERGY_FLEX}, commit 709f2f8b79a86e273a86f6c7324f4fc2b1aeeefd, path "
        "02-EnergyModel/Energy_Intensity_Analysis/data/imd/",
        "what": "MHCLG (2019), English Indices of Deprivation 2019, File 1: IMD2019 rank and "
        "decile of every LSOA (2011) in England (32,844 LSOAs)",
    },
    "population": {
        "file": "population19_lsoa11.rda",
        "sha256": "714ab652b3549b86faee73dc965accc63d5fef2032d7a4679decf7b6353660ab",
        "origin": f"{DEMOGRAPHR}, commit d0417101e5cad5fe1eca059ac60859e9157a29d2, "
        "data/population19_lsoa11.rda",
        "what": "ONS (2020), Lower layer Super Output Area population estimates, mid-2019 "
        "(SAPE22DT2, 'Mid-2019 Persons'): persons by single year of age 0-89 and 90+",
    },
    "lookup": {
        "file": "lookup_lsoa11_sicbl22_icb22_ltla22.rda",
        "sha256": "5aa7c63afb0f5a929bcadd17355fe8add201cee508ba0fb544e35efe984968b2",
        "origin": f"{GEOGRAPHR}, commit c026be5cc76cb576358082b53f1f13d69ab577ae, "
        "data/lookup_lsoa11_sicbl22_icb22_ltla22.rda",
        "what": "ONS Open Geography Portal, LSOA (2011) to Sub ICB Locations to Integrated "
        "Care Boards to LAD (July 2022) Lookup in England",
    },
    "ltla22_ltla23": {
        "file": "lookup_ltla22_ltla23.rda",
        "sha256": "27d3412225eb3fc4c89b76b3c9dc496fb0be0c2c460e60bbbd927d2b8f74932c",
        "origin": f"{GEOGRAPHR}, commit c026be5cc76cb576358082b53f1f13d69ab577ae, "
        "data/lookup_ltla22_ltla23.rda",
        "what": "ONS Open Geography Portal, LAD (2022) to LAD (2023) lookup (April 2023 "
        "reorganisation of Cumbria, North Yorkshire and Somerset)",
    },
    "ltla23_utla23": {
        "file": "lookup_ltla23_utla23.rda",
        "sha256": "4c60d4d6585548a8cd009bd480acafd73c9b372f106d72e72ad8abb948b2a207",
        "origin": f"{GEOGRAPHR}, commit c026be5cc76cb576358082b53f1f13d69ab577ae, "
        "data/lookup_ltla23_utla23.rda",
        "what": "ONS Open Geography Portal, Lower Tier Local Authority to Upper Tier Local "
        "Authority (April 2023) Lookup",
    },
    "published_ltla20": {
        "file": "population19_ltla20.rda",
        "sha256": "56c3b4dff1ebbc3bbfa587aee403213edb8929a4019bfd2e326d8afac2557fac",
        "origin": f"{DEMOGRAPHR}, commit d0417101e5cad5fe1eca059ac60859e9157a29d2, "
        "data/population19_ltla20.rda",
        "what": "ONS (2020), mid-2019 population estimates, MYE2 Persons, local authority "
        "districts (April 2020 codes): the published totals the compositions are checked "
        "against",
    },
}


class BuildError(RuntimeError):
    """A raw input is missing, changed or inconsistent (one line)."""


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_input(
    raw: Path, key: str, inputs: dict[str, dict[str, str]], verify: bool
) -> pd.DataFrame:
    """One raw input as a data frame: the ``.rda`` (through the ``rdata`` package) or, for
    test fixtures, a CSV of the same columns named ``<stem>.csv``."""
    spec = inputs[key]
    path = raw / spec["file"]
    if not path.exists():
        stem = spec["file"].split(".")[0]
        alt = raw / f"{stem}.csv"
        if not alt.exists():
            raise BuildError(f"{path}: raw input '{key}' not found ({spec['what']})")
        path = alt
    if verify:
        got = sha256(path)
        if got != spec["sha256"]:
            raise BuildError(
                f"{path}: SHA-256 {got} differs from the recorded {spec['sha256']}; "
                "a changed input must be reviewed and its checksum updated in INPUTS"
            )
    if path.name.endswith(".rda"):
        import warnings

        import rdata  # build-time only: `pip install -e ".[places]"`

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tibble classes fall back to data.frame: fine
            frames = rdata.read_rda(str(path))
        frame = next(iter(frames.values()))
        return pd.DataFrame(frame).reset_index(drop=True)
    return pd.read_csv(path, thousands=",", dtype=str)


def _int(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series.astype(str).str.replace(",", ""), errors="raise").to_numpy(float)


def lsoa_bands(pop: pd.DataFrame) -> pd.DataFrame:
    """Persons by LSOA and 5-year band (index lsoa11_code, columns BAND_COLS), England only."""
    pop = pop[pop["lsoa11_code"].astype(str).str.startswith("E")]
    out = pd.DataFrame(index=pop["lsoa11_code"].astype(str).to_numpy())
    for (lo, hi), col in zip(BANDS, BAND_COLS):
        ages = [str(a) for a in range(lo, min(hi, 89) + 1)] + (["90+"] if hi == 100 else [])
        out[col] = sum(_int(pop[a]) for a in ages)
    total = _int(pop["total_population"])
    if not np.allclose(out.sum(axis=1).to_numpy(), total):
        raise BuildError("population: single-year counts do not add up to 'total_population'")
    return out


def male_share(england_csv: Path) -> np.ndarray:
    """England mid-2019 share of males in each 5-year band (19,)."""
    t = pd.read_csv(england_csv, comment="#", skipinitialspace=True)
    m = t[t.sex == "male"].sort_values("age_min")["count"].to_numpy(float)
    f = t[t.sex == "female"].sort_values("age_min")["count"].to_numpy(float)
    if len(m) != len(BANDS) or len(f) != len(BANDS):
        raise BuildError(f"{england_csv}: expected {len(BANDS)} bands per sex")
    return m / (m + f)


def lsoa_table(inputs: dict[str, pd.DataFrame], share_m: np.ndarray) -> pd.DataFrame:
    """One row per LSOA x sex: quintile, geography codes and whole persons in each band."""
    bands = lsoa_bands(inputs["population"])
    imd = inputs["imd"]
    code_col = "LSOA code (2011)"
    dec_col = "Index of Multiple Deprivation (IMD) Decile"
    decile = pd.Series(_int(imd[dec_col]).astype(int), index=imd[code_col].astype(str))
    lk = inputs["lookup"].astype(str).set_index("lsoa11_code")
    missing = sorted(set(decile.index) ^ set(bands.index)) + sorted(
        set(decile.index) ^ set(lk.index)
    )
    if missing:
        raise BuildError(
            f"LSOA sets of File 1, the population and the lookup differ, e.g. {missing[:3]}"
        )
    lsoas = decile.index.to_numpy()
    b = bands.loc[lsoas].to_numpy(float)
    male = np.rint(b * share_m)  # whole persons; females are the rest (step 3)
    geo = pd.DataFrame(
        {
            "lsoa": lsoas,
            "quintile": [math.ceil(d / 2) for d in decile.to_numpy()],
            "sub_icb": lk.loc[lsoas, "sicbl22_code"].to_numpy(),
            "icb": lk.loc[lsoas, "icb22_code"].to_numpy(),
            "ltla22": lk.loc[lsoas, "ltla22_code"].to_numpy(),
        }
    )
    l23 = inputs["ltla22_ltla23"].astype(str).drop_duplicates("ltla22_code")
    geo["ltla"] = geo["ltla22"].map(l23.set_index("ltla22_code")["ltla23_code"])
    u23 = inputs["ltla23_utla23"].astype(str).drop_duplicates("ltla23_code")
    geo["utla"] = geo["ltla"].map(u23.set_index("ltla23_code")["utla23_code"])
    if geo[["ltla", "utla"]].isna().any().any():
        bad = geo[geo[["ltla", "utla"]].isna().any(axis=1)].ltla22.iloc[0]
        raise BuildError(f"district {bad} has no 2023 lower/upper-tier authority in the lookups")
    frames = []
    for sex, counts in (("male", male), ("female", b - male)):
        f = geo.copy()
        f["sex"] = sex
        f[BAND_COLS] = counts.astype(np.int64)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def place_index(inputs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Code, name, level and parent of every place (each code once)."""
    lk = inputs["lookup"].astype(str)
    icb = lk.drop_duplicates("icb22_code")
    sub = lk.drop_duplicates("sicbl22_code")
    u23 = inputs["ltla23_utla23"].astype(str)
    u23 = u23[u23.ltla23_code.str.startswith("E")]
    rows = [(r.icb22_code, r.icb22_name, "icb", ENGLAND_CODE) for r in icb.itertuples()]
    rows += [(r.sicbl22_code, r.sicbl22_name, "sub_icb", r.icb22_code) for r in sub.itertuples()]
    for r in u23.drop_duplicates("utla23_code").itertuples():
        unitary = r.utla23_code in set(u23.ltla23_code)
        level = "single_tier_la" if unitary else "upper_tier_la"
        rows.append((r.utla23_code, r.utla23_name, level, ENGLAND_CODE))
    for r in u23.itertuples():
        if r.ltla23_code != r.utla23_code:
            rows.append((r.ltla23_code, r.ltla23_name, "lower_tier_la", r.utla23_code))
    out = pd.DataFrame(rows, columns=["code", "name", "level", "parent_code"])
    if out.code.duplicated().any():
        raise BuildError(f"place code listed twice: {out.code[out.code.duplicated()].iloc[0]}")
    return out


def aggregate(lsoa: pd.DataFrame, index: pd.DataFrame) -> pd.DataFrame:
    """Compositions: persons by place code, sex, quintile and band (every sex x quintile)."""
    parts = []
    for col, codes in (
        ("icb", index.code[index.level == "icb"]),
        ("sub_icb", index.code[index.level == "sub_icb"]),
        ("utla", index.code[index.level.isin(["single_tier_la", "upper_tier_la"])]),
        ("ltla", index.code[index.level == "lower_tier_la"]),
    ):
        g = lsoa[lsoa[col].isin(set(codes))].groupby([col, "sex", "quintile"])[BAND_COLS].sum()
        g.index = g.index.set_names(["code", "sex", "quintile"])
        full = pd.MultiIndex.from_product(
            [sorted(set(codes)), list(SEXES), range(1, 6)], names=["code", "sex", "quintile"]
        )
        parts.append(g.reindex(full, fill_value=0))
    comp = pd.concat(parts).reset_index()
    comp["sex"] = pd.Categorical(comp["sex"], SEXES)
    return comp.sort_values(["code", "sex", "quintile"]).reset_index(drop=True)


def summarise(index: pd.DataFrame, comp: pd.DataFrame) -> pd.DataFrame:
    """The place index with population and persons by quintile (q1..q5)."""
    per_q = comp.assign(n=comp[BAND_COLS].sum(axis=1)).pivot_table(
        index="code", columns="quintile", values="n", aggfunc="sum", observed=True
    )
    per_q.columns = [f"q{q}" for q in per_q.columns]
    out = index.merge(per_q, left_on="code", right_index=True, how="left")
    out["population"] = out[[f"q{q}" for q in range(1, 6)]].sum(axis=1)
    cols = ["code", "name", "level", "parent_code", "population"] + [f"q{q}" for q in range(1, 6)]
    order = {lv: i for i, lv in enumerate(LEVELS)}
    out = out.assign(_o=out.level.map(order)).sort_values(["_o", "name"]).drop(columns="_o")
    return out[cols].reset_index(drop=True)


def published(inputs: dict[str, pd.DataFrame], lsoa: pd.DataFrame) -> pd.DataFrame:
    """Published mid-2019 district totals (April 2020 codes) with their 2023 authority.

    The 2020 -> 2023 link is found through the LSOAs: a 2020 code is either a 2022 code
    (unchanged) or, for the Northamptonshire districts merged in 2021, the 2019 code of
    File 1; every 2020 district lies within one 2023 district."""
    pub = inputs["published_ltla20"]
    pub = pub[pub["ltla20_code"].astype(str).str.startswith("E")]
    codes = set(pub["ltla20_code"].astype(str))
    imd = inputs["imd"].astype(str).set_index("LSOA code (2011)")
    la19 = imd["Local Authority District code (2019)"]
    one = lsoa[lsoa.sex == "male"]
    l20 = np.where(one.ltla22.isin(codes), one.ltla22, la19.loc[one.lsoa].to_numpy())
    link = pd.DataFrame({"ltla20": l20, "ltla": one.ltla.to_numpy()}).drop_duplicates()
    if link.ltla20.duplicated().any() or not set(link.ltla20) <= codes:
        raise BuildError("a 2020 district does not nest in one 2023 district")
    out = pd.DataFrame(
        {
            "code": pub["ltla20_code"].astype(str).to_numpy(),
            "name": pub["ltla20_name"].astype(str).to_numpy(),
            "population": _int(pub["total_population"]).astype(np.int64),
        }
    )
    out["place_code"] = out.code.map(link.set_index("ltla20")["ltla"])
    return out.sort_values("code").reset_index(drop=True)


def check(places: pd.DataFrame, comp: pd.DataFrame, pub: pd.DataFrame) -> dict[str, object]:
    """The must-hold sums; raises :class:`BuildError` when one fails."""
    pop = places.set_index("code").population
    england = int(pop[places.code[places.level == "icb"]].sum())
    res: dict[str, object] = {"england_from_42_icbs": england}
    if int(pub.population.sum()) != england:
        raise BuildError(
            f"ICBs sum to {england:,}; published districts to {pub.population.sum():,}"
        )
    for level, parent_level in (("sub_icb", "icb"), ("lower_tier_la", "upper_tier_la")):
        kids = places[places.level == level].groupby("parent_code").population.sum()
        bad = [c for c in kids.index if int(kids[c]) != int(pop[c])]
        if bad:
            raise BuildError(f"{parent_level} {bad[0]} differs from the sum of its {level}s")
    las = places[places.level.isin(["single_tier_la", "lower_tier_la"])]
    by_place = pub.groupby("place_code").population.sum()
    diff = (las.set_index("code").population - by_place).abs()
    if diff.isna().any() or diff.max() > 0:
        raise BuildError(f"district totals differ from the published ones: {diff.idxmax()}")
    res["districts_equal_published"] = int(len(las))
    res["places"] = {lv: int((places.level == lv).sum()) for lv in LEVELS}
    return res


def header(kind: str, inputs: dict[str, dict[str, str]]) -> str:
    lines = [
        f"# {kind}. Built by calibration/places/build.py (see sources.yaml for every input, "
        "its SHA-256 and the checks).",
        "# Persons, mid-2019 (ONS LSOA estimates, 2011 LSOAs); national IMD2019 quintile of "
        "each LSOA (1 = most deprived); ICBs and sub-ICB locations of July 2022; local "
        "authorities of April 2023.",
        "# Sex split with England's mid-2019 male share of each 5-year band (assumption: the "
        "LSOA estimates used are for persons).",
    ]
    lines += [f"# source: {spec['what']}" for spec in inputs.values()]
    return "\n".join(lines) + "\n"


def write_yaml(path: Path, inputs: dict[str, dict[str, str]], checks: dict[str, object]) -> None:
    import yaml

    doc = {
        "what": "Compositions of every ICB, sub-ICB location and local authority in England",
        "year": "mid-2019 (ONS LSOA population estimates)",
        "method": [line.strip() for line in (__doc__ or "").split("Method")[1].splitlines()[2:]],
        "inputs": {k: dict(v) for k, v in inputs.items()},
        "also": "calibration/population_england_mid2019.csv (sex split)",
        "checks": checks,
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=100), encoding="utf-8")


def build(
    raw: Path,
    out: Path,
    inputs: dict[str, dict[str, str]] | None = None,
    verify: bool = True,
    england_csv: Path | None = None,
) -> dict[str, object]:
    """Read the raw inputs, build and check the tables, write them to ``out``; returns the
    checks. Offline: it reads only files in ``raw`` and the calibration folder."""
    inputs = INPUTS if inputs is None else inputs
    frames = {k: read_input(raw, k, inputs, verify) for k in inputs}
    share = male_share(england_csv or HERE.parent / "population_england_mid2019.csv")
    lsoa = lsoa_table(frames, share)
    index = place_index(frames)
    comp = aggregate(lsoa, index)
    places = summarise(index, comp)
    pub = published(frames, lsoa)
    checks = check(places, comp, pub)
    out.mkdir(parents=True, exist_ok=True)
    for name, kind, frame in (
        ("places.csv", "Every real place: code, name, level, parent, persons by quintile", places),
        ("compositions.csv", "Persons by place, sex, IMD2019 quintile and age band", comp),
        ("published_mid2019.csv", "ONS published mid-2019 district totals", pub),
    ):
        with open(out / name, "w", encoding="utf-8", newline="") as fh:
            fh.write(header(kind, inputs))
            frame.to_csv(fh, index=False, lineterminator="\n")
    write_yaml(out / "sources.yaml", inputs, checks)
    return checks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--raw", type=Path, required=True, help="folder with the raw inputs")
    ap.add_argument("--out", type=Path, default=HERE, help="output folder [calibration/places]")
    ap.add_argument("--no-verify", action="store_true", help="skip the SHA-256 checks")
    args = ap.parse_args(argv)
    try:
        checks = build(args.raw, args.out, verify=not args.no_verify)
    except BuildError as exc:
        print(f"build.py: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {checks}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
