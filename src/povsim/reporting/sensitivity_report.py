"""The report of `povsim sensitivity` (``report.html``, ``templates/sensitivity_report.html.j2``):
"What this means" first (which uncertain input matters most for the headline outputs, or how
often an arm narrows the gap across the draws), then what was run, the tables and figures."""

from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path
from typing import Any

import pandas as pd

from povsim.reporting.html import figure, render
from povsim.studies.sensitivity import SensitivityResult

HEADLINE_OUTPUTS = ("hle0_gap_change", "hle0_sii_change", "healthy_years_gained", "cost")
OUTPUT_WORDS = {
    "hle0_gap_change": "change in the HLE gap between the least and most deprived fifths",
    "hle0_sii_change": "change in the slope index of inequality in HLE",
    "healthy_years_gained": "healthy life-years gained",
    "cost": "cost",
}
CAPTIONS = {
    "indices": "Sensitivity indices of the headline outputs by uncertain input, with 95% "
    "bootstrap intervals.",
    "convergence": "Convergence: the total-order index ST of each input as the number of base "
    "samples grows (first N' rows of the design); lines that have levelled off have converged.",
    "ceac": "Cost-effectiveness acceptability: the probability each option has the highest net "
    "monetary benefit, by threshold (£ per discounted QALY).",
}


def _f(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _split(output: str) -> tuple[str, str]:
    """``arm.measure`` -> (arm, measure)."""
    arm, _, measure = output.partition(".")
    return (arm, measure) if measure else ("", output)


def _indices_meaning(indices: pd.DataFrame, method: str, n: int) -> list[str]:
    kind = "ST" if method == "sobol" else "mu_star"
    lines = []
    f = indices[indices["index"] == kind]
    for out in dict.fromkeys(f.output):
        arm, measure = _split(out)
        if measure != "hle0_gap_change":
            continue
        d = f[f.output == out].sort_values("value", ascending=False)
        d = d[d.value.map(_f)]
        if d.empty:
            continue
        top = d.iloc[0]
        conf = f" ± {top.conf:.2f}" if _f(top.conf) else ""
        rest = ", ".join(f"{r.parameter} ({r.value:.2f})" for r in d.iloc[1:3].itertuples())
        what = (
            "the share of the variance it explains, interactions included"
            if method == "sobol"
            else "the mean absolute effect of moving it"
        )
        text = (
            f"For {arm or 'the scenario'}'s {OUTPUT_WORDS[measure]}, the uncertain input that "
            f"matters most is {top.parameter}: {kind} = {top.value:.2f}{conf} ({what})"
            + (f"; next come {rest}" if rest else "")
            + "."
        )
        out_of_range = method == "sobol" and not (-0.05 <= top.value <= 1.05)
        if out_of_range or (_f(top.conf) and top.conf >= abs(top.value)):
            text += (
                f" At N = {n} this estimate is not settled (its interval is as wide as the "
                "value, or the index lies outside 0 to 1): rerun with a larger -n before "
                "relying on the ranking."
            )
        lines.append(text)
    return lines


def _psa_meaning(psa: pd.DataFrame, ceac: pd.DataFrame | None, draws: int) -> list[str]:
    lines = []
    p = psa.set_index(["arm", "output", "statistic"]).value
    for arm in dict.fromkeys(psa.arm):
        share = p.get((arm, "hle0_gap_change", "p_gap_narrows"))
        med = p.get((arm, "hle0_gap_change", "p50"))
        lo, hi = p.get((arm, "hle0_gap_change", "p2.5")), p.get((arm, "hle0_gap_change", "p97.5"))
        if not _f(share):
            continue
        text = (
            f"Across {draws} draws of the uncertain inputs, {arm} narrows the HLE gap between "
            f"the most and least deprived fifths in {share:.0%} of draws"
        )
        if _f(med) and _f(lo) and _f(hi):
            text += f" (median change {med:+.2f} years, 95% of draws {lo:+.2f} to {hi:+.2f})"
        if ceac is not None and not ceac.empty:
            c = ceac[(ceac.option == arm)]
            if not c.empty:
                row = c.iloc[(c.threshold - 20_000).abs().argmin()]
                text += (
                    f"; at £{row.threshold:,.0f} per QALY it is the best option in "
                    f"{row.p_best:.0%} of draws"
                )
        lines.append(text + ".")
    return lines


def what_this_means(res: SensitivityResult) -> list[str]:
    """The answer first, from the index or PSA tables."""
    m = res.manifest
    method = m["method"]
    lines: list[str] = []
    if res.indices is not None and not res.indices.empty:
        lines += _indices_meaning(res.indices, method, int(m["n"]))
    if res.psa is not None and not res.psa.empty:
        lines += _psa_meaning(res.psa, res.ceac, int(m["rows"]))
    if not lines:
        lines.append(
            f"This {method} analysis of {len(m['parameters'])} uncertain inputs gave no "
            "headline result for the HLE gap; see the tables below."
        )
    lines.append(
        f"It rests on {m['rows']:,} model runs of {m['size']:,} simulated persons each; the "
        "indices and shares carry sampling error of their own, shown as intervals."
    )
    return lines


def _table(df: pd.DataFrame) -> dict[str, Any]:
    rows = [
        [f"{v:.4g}" if isinstance(v, float) and math.isfinite(v) else str(v) for v in r]
        for r in df.itertuples(index=False)
    ]
    return {"columns": [str(c) for c in df.columns], "rows": rows}


def render_report(res: SensitivityResult, figures_dir: Path | None) -> str:
    """The report as one HTML string."""
    m = res.manifest
    figs = []
    if figures_dir is not None and Path(figures_dir).is_dir():
        figs = [
            figure(Path(figures_dir) / f"{n}.png", CAPTIONS[n])
            for n in ("indices", "convergence", "ceac")
            if (Path(figures_dir) / f"{n}.png").is_file()
        ]
    tables = []
    if res.indices is not None and not res.indices.empty:
        shown = res.indices[res.indices.output.map(lambda o: _split(o)[1] in HEADLINE_OUTPUTS)]
        tables.append(("Sensitivity indices of the headline outputs (indices.csv)", _table(shown)))
    if res.psa is not None and not res.psa.empty:
        wide = res.psa.pivot_table(
            index=["arm", "output"], columns="statistic", values="value", sort=False
        ).reset_index()
        wide.columns.name = None
        tables.append(("Outputs across the draws (psa.csv)", _table(wide)))
    params = [
        (name, ", ".join(f"{k}={v}" for k, v in spec.items()))
        for name, spec in m["parameters"].items()
    ]
    return render(
        "sensitivity_report.html.j2",
        m=m,
        today=_dt.date.today().isoformat(),
        toc=[],
        meaning=what_this_means(res),
        params=params,
        tables=tables,
        figures=figs,
        skipped=sorted(res.skipped.items()),
    )
