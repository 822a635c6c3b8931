"""Write a sensitivity analysis: samples, index tables, figures and manifest, atomically."""

from __future__ import annotations

import shutil
from pathlib import Path

from povsim.reporting.files import atomic_dir, write_manifest
from povsim.reporting.sensitivity_figures import write_figures
from povsim.studies.sensitivity import SensitivityResult, checkpoint_dir_for


def write_sensitivity(res: SensitivityResult, out_dir: Path, figures: bool = True) -> Path:
    """Write samples, tables, figures and manifest.json into ``out_dir`` atomically, then
    remove the sweep's checkpoints."""
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
        if figures:
            write_figures(res, tmp / "figures")
        write_manifest(tmp / "manifest.json", res.manifest)
    shutil.rmtree(checkpoint_dir_for(out_dir), ignore_errors=True)
    return out_dir
