"""Write a run's outputs (tables, summary, manifest, figures, report) to a folder atomically."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from povsim.measures.results import Results
from povsim.reporting.files import atomic_dir, json_safe, write_manifest
from povsim.reporting.run_report import write_report
from povsim.reporting.summary import ARM_UNITS, summary
from povsim.reporting.workbook import WORKBOOK, write_workbook

EXPECTANCY_MEASURES = tuple(
    f"{m}{s}" for m in ("le0", "hle0", "le65", "hle65") for s in ("", "_gap", "_sii")
)


def workbook_tables(results: Results, frame: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, str]]:
    """The report's tables for ``tables.xlsx``: each a CSV of the folder or a stated selection
    of one (the full results and by-age tables stay in their CSV/Parquet files)."""
    tables: dict[str, tuple[pd.DataFrame, str]] = {}
    comparison = results.comparison
    if comparison is not None and not comparison.empty:
        last = int(comparison.year.max())
        tables["comparison_final_year"] = (
            comparison[comparison.year == last].reset_index(drop=True),
            f"comparison.csv, the rows of the final year ({last}): every arm minus the baseline",
        )
    tables["expectancies"] = (
        frame[frame.measure.isin(EXPECTANCY_MEASURES)].reset_index(drop=True),
        "results.csv, the rows of LE/HLE at birth and 65 and their gaps and SIIs (years), "
        "every arm and year",
    )
    if results.decomposition is not None:
        tables["decomposition"] = (results.decomposition, "decomposition.csv")
    if results.loop_dependence is not None:
        tables["loop_dependence"] = (results.loop_dependence, "loop_dependence.csv")
    return tables


def workbook_readme(results: Results) -> dict[str, object]:
    """The README sheet: where the numbers come from and their units."""
    m, sc = results.manifest, results.scenario
    return {
        "scenario": sc.get("name"),
        "description": sc.get("description", ""),
        "scenario file": sc.get("source_path") or "",
        "seed": m.get("seed"),
        "replicates": m.get("replicates", 1),
        "povsim version": m.get("povsim_version", ""),
        "area": m.get("area_name") or "England",
        "real population (persons, mid-2019)": m.get("real_population"),
        "units (levels)": "LE/HLE in years; gap = Q5 minus Q1; SII = slope index of inequality "
        "(years); prevalences as proportions; se = within-run or between-replicate standard "
        "error; quintile 1 = most deprived fifth (IMD 2019), 'all' = the whole area",
        "units (arm changes)": ARM_UNITS,
        "full tables": "results.csv/.parquet, comparison.csv/.parquet and by_age.csv beside "
        "this workbook hold every row",
    }


def write_outputs(
    results: Results,
    out_dir: Path,
    figures: bool = True,
    phase: Callable[[str], None] | None = None,
) -> Path:
    """Write results.csv/.parquet, comparison.csv/.parquet (when there are arms),
    decomposition.csv, loop_dependence.csv, by_age.csv, summary.json, tables.xlsx (the report's
    tables for analysts), manifest.json, figures/ and report.html; ``phase(text)`` is told
    each step."""
    say = phase or (lambda text: None)
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        say("writing tables and summary.json")
        frame = results.to_frame()
        frame.to_csv(tmp / "results.csv", index=False)
        frame.to_parquet(tmp / "results.parquet", index=False)
        comparison = results.comparison
        if comparison is not None and not comparison.empty:
            comparison.to_csv(tmp / "comparison.csv", index=False)
            comparison.to_parquet(tmp / "comparison.parquet", index=False)
        if results.decomposition is not None:
            results.decomposition.to_csv(tmp / "decomposition.csv", index=False)
        if results.loop_dependence is not None:
            results.loop_dependence.to_csv(tmp / "loop_dependence.csv", index=False)
        if results.by_age is not None:
            results.by_age.to_csv(tmp / "by_age.csv", index=False)
        (tmp / "summary.json").write_text(
            json.dumps(json_safe(summary(results)), indent=2, allow_nan=False)
        )
        tables = workbook_tables(results, frame)
        sheets = write_workbook(tmp / WORKBOOK, tables, workbook_readme(results))
        manifest = {
            **results.manifest,
            "scenario_as_run": results.scenario,
            "workbook": {"file": WORKBOOK, "sheets": ["README", *sheets]},
        }
        write_manifest(tmp / "manifest.json", manifest)
        if figures:
            say("drawing figures")
            # Imported here: matplotlib is a third of the CLI's start-up, and --no-figures
            # (and every caller writing tables only) never needs it.
            from povsim.reporting.run_figures import write_figures

            write_figures(
                frame,
                tmp / "figures",
                comparison=comparison,
                decomposition=results.decomposition,
                area_name=str(results.manifest.get("area_name") or "England"),
            )
        say("writing report.html")
        write_report(results, tmp / "figures", tmp / "report.html")
    return out_dir
