"""Regenerate the parameter tables of docs/model.md (§10) and its list of numbers tagged
`assumption` (§11) from the files in calibration/, between the markers

    <!-- generated:tables:begin --> ... <!-- generated:tables:end -->
    <!-- generated:assumptions:begin --> ... <!-- generated:assumptions:end -->

    python benchmarks/model_tables.py [--check]

With --check, exit 1 if docs/model.md is not up to date (nothing written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import yaml

from povsim.inputs.parameters import calibration_dir, read_table

DOC = Path(__file__).resolve().parents[1] / "docs" / "model.md"


def _short(text: object, n: int = 110) -> str:
    s = " ".join(str(text).split()).replace("|", "/")
    return s if len(s) <= n else s[: n - 1] + "…"


def _table(header: list[str], rows: list[list[object]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def _num(x: object) -> str:
    if isinstance(x, float) and pd.isna(x):
        return ""
    return f"{x:g}" if isinstance(x, float) else str(x)


def tables(d: Path) -> str:
    params = yaml.safe_load((d / "parameters.yaml").read_text())
    scal = [
        [
            f"`{k}`",
            v["value"],
            _short(v.get("unit", ""), 60),
            f"{v.get('min')}–{v.get('max')}",
            v["tag"],
            _short(v["source"]),
        ]
        for k, v in params.items()
        if isinstance(v, dict) and "value" in v
    ]
    rr = read_table("relative_risks.csv", d)
    rr_rows = [
        [
            r.outcome,
            r.exposure,
            _num(r.rr),
            f"{_num(r.low)}–{_num(r.high)}" if pd.notna(r.low) else "",
            r.tag,
            _short(r.source),
        ]
        for r in rr.itertuples()
    ]
    age = read_table("relative_risks_by_age.csv", d)
    age_rows = [
        [r.exposure, r.sex, f"{r.age_min}–{r.age_max}", _num(float(r.rr)), r.tag, _short(r.source)]
        for r in age.itertuples()
    ]
    prev = read_table("prevalence_by_age_sex.csv", d)
    prev_rows = []
    for (f, s), g in prev.groupby(["factor", "sex"], sort=False):
        prev_rows.append(
            [
                f,
                s,
                f"{g.age_min.min()}–{g.age_max.max()} ({len(g)})",
                f"{g.prevalence.min():.3f}–{g.prevalence.max():.3f}",
                "/".join(sorted(set(g.tag))),
                _short(g.source.iloc[0], 90),
            ]
        )
    grad = read_table("prevalence_gradient_by_quintile.csv", d)
    grad_rows = []
    for (f, s), g in grad.groupby(["factor", "sex"], sort=False):
        g = g.set_index("quintile")
        q1, q5 = float(g.relative[1]), float(g.relative[5])
        grad_rows.append(
            [
                f,
                s,
                f"{q1:.3f}",
                f"{q5:.3f}",
                f"{q1 / q5:.2f}",
                "/".join(sorted(set(g.tag))),
                _short(g.source.iloc[0], 100),
            ]
        )
    ig = read_table("intervention_gradients.csv", d)
    ig_rows = []
    for (prog, fld), g in ig.groupby(["programme", "field"], sort=False):
        g = g.sort_values("quintile")
        ig_rows.append(
            [
                prog,
                g.applies_to.iloc[0],
                fld,
                "/".join(f"{v:.3f}" for v in g.relative),
                "/".join(sorted(set(g.tag))),
                _short(g.source.iloc[0], 100),
            ]
        )
    return "\n\n".join(
        [
            "**Uptake and effect of interventions by quintile** "
            "(`calibration/intervention_gradients.csv`; Q1/…/Q5, mean 1):",
            _table(
                ["programme", "applies to", "field", "Q1/…/Q5", "tags", "source (abridged)"],
                ig_rows,
            ),
            "**Scalars** (`calibration/parameters.yaml`; range = bounds for scenario overrides):",
            _table(["name", "value", "unit", "range", "tag", "source (abridged)"], scal),
            "**Relative risks and odds ratios** (`calibration/relative_risks.csv`; mortality: "
            "hazard ratio; ltc_onset: rate ratio of a new LTC; poor_health: odds ratio of "
            "not-good health; job_loss: rate ratio of leaving work; the loader keeps the last "
            "row per pair; an exposure with rows in `relative_risks_by_age.csv` uses those, "
            "this row being the reference of an override):",
            _table(
                ["outcome", "exposure", "RR / OR", "low–high", "tag", "source (abridged)"], rr_rows
            ),
            "**Age-specific mortality relative risks** (`calibration/relative_risks_by_age.csv`):",
            _table(["exposure", "sex", "ages", "RR", "tag", "source (abridged)"], age_rows),
            "**National prevalence by age and sex** (`calibration/prevalence_by_age_sex.csv`, "
            "summarised; band means preserved by the interpolation):",
            _table(
                ["factor", "sex", "ages (bands)", "range", "tags", "source (abridged)"], prev_rows
            ),
            "**Deprivation gradient** (`calibration/prevalence_gradient_by_quintile.csv`; "
            "prevalence in the quintile relative to the mean of the five; a sex block replaces "
            "`all`; long-term conditions use the age shift `ltc_age_shift_years` instead):",
            _table(["factor", "sex", "Q1", "Q5", "Q1/Q5", "tags", "source (abridged)"], grad_rows),
        ]
    )


def assumptions(d: Path) -> str:
    params = yaml.safe_load((d / "parameters.yaml").read_text())
    items = []
    a = [
        f"`{k}` = {v['value']} ({_short(v.get('unit', ''), 70)})"
        for k, v in params.items()
        if isinstance(v, dict) and v.get("tag") == "assumption"
    ]
    items.append("- `parameters.yaml`: " + "; ".join(a) + ".")
    rr = read_table("relative_risks.csv", d)
    a = [
        f"{r.outcome}.{r.exposure} = {_num(r.rr)}" for r in rr.itertuples() if r.tag == "assumption"
    ]
    items.append("- `relative_risks.csv`: " + "; ".join(a) + ".")
    age = read_table("relative_risks_by_age.csv", d)
    a = [
        f"{r.exposure} {r.sex} {r.age_min}–{r.age_max} = {_num(float(r.rr))}"
        for r in age.itertuples()
        if r.tag == "assumption"
    ]
    items.append("- `relative_risks_by_age.csv`: " + "; ".join(a) + ".")
    prev = read_table("prevalence_by_age_sex.csv", d)
    a = [
        f"{r.factor} {r.sex} {r.age_min}–{r.age_max} = {_num(float(r.prevalence))}"
        for r in prev.itertuples()
        if r.tag == "assumption"
    ]
    items.append("- `prevalence_by_age_sex.csv` (share of persons): " + "; ".join(a) + ".")
    grad = read_table("prevalence_gradient_by_quintile.csv", d)
    a = []
    for (f, s), g in grad.groupby(["factor", "sex"], sort=False):
        if (g.tag == "assumption").any():
            a.append(
                f"{f} ({s}) " + "/".join(_num(float(v)) for v in g.sort_values("quintile").relative)
            )
    items.append(
        "- `prevalence_gradient_by_quintile.csv` (relative to mean, Q1/…/Q5): "
        + ("; ".join(a) if a else "none")
        + "."
    )
    return "\n".join(items)


def fitted(d: Path) -> str:
    f = yaml.safe_load((d / "fitted.yaml").read_text())
    rows = []
    for key, unit in (
        ("beta_mortality", "log rate ratio (ages 15–64)"),
        ("gamma_health", "log-odds of good health"),
    ):
        for sex, v in f[key].items():
            rows.append([f"`{key}`", unit, sex, *(f"{x:.4f}" for x in v)])
    out = [_table(["fitted parameter", "unit", "sex", "Q1", "Q2", "Q3", "Q4", "Q5"], rows)]
    extra = []
    for key in ("good_health_profile", "mortality_gradient_old", "health_gradient_old"):
        if key in f:
            extra.append(
                f"`{key}`: "
                + "; ".join(
                    f"{s} {', '.join(f'{x:.4f}' for x in v) if isinstance(v, list) else f'{v:.4f}'}"
                    for s, v in f[key].items()
                )
            )
    sim = f.get("simulation", {})
    out.append(
        "; ".join(extra) + f". Fitted on {f.get('fitted_on')} with {sim.get('size'):,} persons, "
        f"{sim.get('years')} years, seed {sim.get('seed')}."
    )
    rep = pd.DataFrame(f["fit_report"])
    main = rep[rep.group.isin(["all", "q1_vs_q5"])]
    out.append(
        "Fit report (`fitted.yaml` `fit_report`; model = mean of the first simulated years; "
        "extra targets computed from the tables):"
    )
    out.append(
        _table(
            ["measure", "sex", "target", "model", "error", "tolerance", "within", "tag"],
            [
                [
                    r.measure,
                    r.sex,
                    _num(r.target),
                    _num(r.model),
                    _num(r.error),
                    "" if pd.isna(r.tolerance) else _num(float(r.tolerance)),
                    "" if r.within is None or pd.isna(r.within) else r.within,
                    r.tag,
                ]
                for r in main.itertuples()
            ],
        )
    )
    q = rep[rep.group.str.startswith("q") & (rep.group != "q1_vs_q5")]
    if len(q):
        rows = []
        for (m, sex), g in q.groupby(["measure", "sex"], sort=False):
            g = g.set_index("group")
            rows.append(
                [m, sex]
                + [
                    f"{g.target[k]:.3f} → {g.model[k]:.3f} ({g.error[k]:+.3f})"
                    for k in ("q1", "q2", "q3", "q4", "q5")
                ]
            )
        out.append("Quintile rows (tag D, no tolerance), target → model (error), years:")
        out.append(_table(["measure", "sex", "Q1", "Q2", "Q3", "Q4", "Q5"], rows))
    if "residual_by_age" in f:
        r = pd.DataFrame(f["residual_by_age"]["rows"])
        rows = []
        for (sex, lo, hi), g in r.groupby(["sex", "age_min", "age_max"], sort=False):
            g = g.set_index("quintile")
            rows.append(
                [sex, f"{lo}–{hi}"]
                + [
                    f"{g.log_rate_ratio[k]:+.3f} = {g.explained[k]:+.3f} + {g.residual[k]:+.3f}"
                    for k in (1, 5)
                ]
            )
        out.append(
            "Mortality gradient by age band (`fitted.yaml` `residual_by_age`): log rate ratio "
            "against the mean of the five quintiles = explained by exposures + fitted residual:"
        )
        out.append(_table(["sex", "ages", "Q1", "Q5"], rows))
    return "\n\n".join(out)


def render(text: str, d: Path) -> str:
    for name, body in (
        ("tables", tables(d)),
        ("assumptions", assumptions(d)),
        ("fitted", fitted(d)),
    ):
        begin, end = f"<!-- generated:{name}:begin -->", f"<!-- generated:{name}:end -->"
        head, sep, rest = text.partition(begin)
        if not sep:
            raise SystemExit(f"{DOC}: marker {begin} not found")
        _, sep2, tail = rest.partition(end)
        if not sep2:
            raise SystemExit(f"{DOC}: marker {end} not found")
        text = head + begin + "\n" + body + "\n" + end + tail
    return text


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    old = DOC.read_text(encoding="utf-8")
    new = render(old, calibration_dir())
    if a.check:
        sys.exit(0 if new == old else 1)
    DOC.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    main()
