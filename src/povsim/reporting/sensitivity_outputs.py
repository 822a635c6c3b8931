"""Write a sensitivity analysis: samples, index tables, figures and manifest, atomically."""

from __future__ import annotations

import shutil
from pathlib import Path

from povsim.reporting.files import atomic_dir, write_manifest
from povsim.reporting.sensitivity_figures import write_figures
from povsim.reporting.sensitivity_report import render_report
from povsim.reporting.workbook import WORKBOOK, write_workbook
from povsim.studies.sensitivity import SensitivityResult, checkpoint_dir_for


def write_sensitivity(res: SensitivityResult, out_dir: Path, figures: bool = True) -> Path:
    """Write samples, tables, tables.xlsx, figures, report.html and manifest.json into
    ``out_dir`` atomically, then remove the sweep's checkpoints."""
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        samples = res.samples()
        samples.to_csv(tmp / "samples.csv", index=False)
        samples.to_parquet(tmp / "samples.parquet", index=False)
        for name, frame in (
            ("indices", res.indices),
            ("convergence", res.convergence),
            ("psa", res.psa),
            ("ceac", res.ceac),
        ):
            if frame is not None:
                frame.to_csv(tmp / f"{name}.csv", index=False)
        tables = {
            name: (frame, f"{name}.csv")
            for name, frame in (
                ("indices", res.indices),
                ("convergence", res.convergence),
                ("psa", res.psa),
                ("ceac", res.ceac),
            )
            if frame is not None
        }
        m = res.manifest
        readme = {
            "scenario": m.get("scenario"),
            "method": m.get("method"),
            "n": m.get("n"),
            "model runs": m.get("rows"),
            "seed": m.get("seed"),
            "povsim version": m.get("povsim_version"),
            "uncertain inputs": ", ".join(m.get("parameters", {})),
            "units": "outputs named arm.measure: *_change in years (negative = narrower), "
            "healthy_years_gained in person-years, cost in GBP; indices dimensionless "
            "(Morris mu* in output units per input quantile range); ceac thresholds in GBP per "
            "discounted QALY; samples.csv beside this workbook holds every run",
        }
        sheets = write_workbook(tmp / WORKBOOK, tables, readme)
        if figures:
            write_figures(res, tmp / "figures")
        (tmp / "report.html").write_text(
            render_report(res, tmp / "figures" if figures else None), encoding="utf-8"
        )
        write_manifest(
            tmp / "manifest.json",
            {**res.manifest, "workbook": {"file": WORKBOOK, "sheets": ["README", *sheets]}},
        )
    shutil.rmtree(checkpoint_dir_for(out_dir), ignore_errors=True)
    return out_dir
