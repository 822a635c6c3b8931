"""Write a run's outputs to a directory atomically.

Everything is written into a hidden sibling directory first and renamed into place at the
end, so an interrupted or failed run never leaves a half-written output directory.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from .results import Results


def headline(frame: pd.DataFrame, year: int) -> dict[str, Any]:
    """LE/HLE at birth and 65 by sex and quintile, with gaps and SIIs, for one year."""
    f = frame[(frame.year == year) & (frame.arm == frame.arm.iloc[0])]
    out: dict[str, Any] = {}
    for sex in ("male", "female", "all"):
        fs = f[f.sex == sex]
        d: dict[str, Any] = {}
        for m in ("le0", "hle0", "le65", "hle65"):
            d[m] = {q: round(float(fs[(fs.quintile == q) & (fs.measure == m)].value.iloc[0]), 2)
                    for q in ("1", "2", "3", "4", "5", "all")}
            for suffix in ("gap", "sii"):
                d[f"{m}_{suffix}"] = round(float(
                    fs[(fs.quintile == "all") & (fs.measure == f"{m}_{suffix}")].value.iloc[0]), 2)
        out[sex] = d
    return out


def summary(results: Results) -> dict[str, Any]:
    f = results.frame
    first, last = int(f.year.min()), int(f.year.max())
    return {
        "scenario": results.scenario.get("name"),
        "description": results.scenario.get("description", ""),
        "seed": results.manifest.get("seed"),
        "units": "years of life expectancy; gap = quintile 5 minus quintile 1; SII = slope "
                 "index of inequality across quintiles (least minus most deprived end)",
        "first_year": {"year": first, **headline(f, first)},
        "last_year": {"year": last, **headline(f, last)},
    }


def write_outputs(results: Results, out_dir: Path, figures: bool = True) -> Path:
    """Write results.csv, results.parquet, summary.json, manifest.json and figures/."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        frame = results.to_frame()
        frame.to_csv(tmp / "results.csv", index=False)
        frame.to_parquet(tmp / "results.parquet", index=False)
        (tmp / "summary.json").write_text(json.dumps(summary(results), indent=2))
        manifest = {**results.manifest, "scenario_as_run": results.scenario}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
        if figures:
            from .plots import write_figures
            write_figures(frame, tmp / "figures")
        old = None
        if out_dir.exists():
            old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
            out_dir.rename(old)
        tmp.rename(out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
