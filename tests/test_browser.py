"""The report opens in a real browser with its figures shown (issue 4's headless-browser check,
kept by issue 15): headless Chromium renders report.html to a screenshot, and the figures'
coloured pixels must be there. A report whose embedded images fail to decode renders as
black-and-grey text only. Skipped (with the reason) where no Chromium is installed; .ci/run
installs Debian's chromium package."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import povsim

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine")

ROOT = Path(__file__).resolve().parents[1]


def _screenshot(page: Path, png: Path, height: int) -> np.ndarray:
    import matplotlib.image as mpimg

    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size=1200,{height}",
            f"--screenshot={png}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return np.asarray(mpimg.imread(png))[..., :3]


def _coloured_share(img: np.ndarray) -> float:
    """Share of pixels that are clearly coloured (not white, grey or black text)."""
    spread = img.max(axis=-1) - img.min(axis=-1)
    return float((spread > 0.25).mean())


def test_report_renders_its_figures_in_a_browser(tmp_path: Path) -> None:
    res = povsim.run(ROOT / "scenarios" / "warm_homes_core20.yaml", size=2_000)
    out = res.write(tmp_path / "out")
    report = Path(out) / "report.html"
    with_figures = _coloured_share(_screenshot(report, tmp_path / "a.png", 16000))
    # The same page with its images removed: what a reader would see if they failed to load.
    html = report.read_text(encoding="utf-8")
    stripped = tmp_path / "out" / "no_images.html"
    import re

    stripped.write_text(re.sub(r"<img[^>]*>", "", html), encoding="utf-8")
    without = _coloured_share(_screenshot(stripped, tmp_path / "b.png", 16000))
    assert with_figures > 0.01, f"only {with_figures:.2%} coloured pixels: figures not shown"
    assert with_figures > 4 * without, (with_figures, without)
