"""Write a run's outputs (tables, summary, manifest, figures, report) to a folder atomically."""

from __future__ import annotations

import json
from pathlib import Path

from povsim.measures.results import Results
from povsim.reporting.files import atomic_dir, json_safe, write_manifest
from povsim.reporting.run_report import write_report
from povsim.reporting.summary import summary


def write_outputs(results: Results, out_dir: Path, figures: bool = True) -> Path:
    """Write results.csv/.parquet, comparison.csv/.parquet (when there are arms),
    decomposition.csv, loop_dependence.csv, by_age.csv, summary.json, manifest.json, figures/
    and report.html."""
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
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
        manifest = {**results.manifest, "scenario_as_run": results.scenario}
        write_manifest(tmp / "manifest.json", manifest)
        if figures:
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
        write_report(results, tmp / "figures", tmp / "report.html")
    return out_dir
