"""Arm outputs: comparison tables, per-arm headlines, arm figures and the HTML report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import povsim
from povsim.cli import main
from povsim.reporting.outputs import write_outputs

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "scenarios" / "baseline.yaml"
SOURCE = "Test effect source: Smith et al. 2020"

ARMTEST = f"""\
extends: {BASELINE}
name: armtest
description: Warm homes test run.
population: {{size: 4000, horizon: 6}}
arms:
  warm:
    interventions:
      - {{type: housing, start_year: 2020, end_year: 2024, targeting: {{rule: core20}},
          coverage: 0.3, effect: 0.9, effect_source: "{SOURCE}",
          cost: {{per_participant: 4000, source: "Test cost source"}}}}
"""


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("armtest") / "armtest.yaml"
    p.write_text(ARMTEST)
    return p


@pytest.fixture(scope="module")
def written(scenario_file, tmp_path_factory) -> Path:
    res = povsim.run(scenario_file)
    return write_outputs(res, tmp_path_factory.mktemp("out") / "armtest")


def test_comparison_files_have_the_arm(written):
    for name in ("comparison.csv", "comparison.parquet"):
        assert (written / name).is_file(), name
    comp = pd.read_parquet(written / "comparison.parquet")
    assert set(comp.arm) == {"warm"}
    assert {
        "hle0_change",
        "healthy_years_gained_cumulative",
        "cost_cumulative",
        "cost_per_healthy_year",
        "participants",
    } <= set(comp.measure)
    csv = pd.read_csv(written / "comparison.csv", dtype={"quintile": str})
    assert len(csv) == len(comp)


def test_arm_figures_are_written(written):
    for name in (
        "hle_change_by_quintile",
        "gap_over_time",
        "cost_vs_healthy_years",
        "feedback_loops",
        "expectancies",
        "expectancies_warm",
    ):
        assert (written / "figures" / f"{name}.png").is_file(), name


def test_report_is_self_contained(written):
    html = (written / "report.html").read_text(encoding="utf-8")
    assert "armtest" in html
    assert SOURCE in html and "Test cost source" in html
    assert "data:image/png;base64," in html
    assert 'src="http' not in html and "<script" not in html and "<link" not in html
    assert "docs/model.md" in html and "--replicates" in html
    # Every assumption-tagged parameter is listed.
    assert "income_persistence" in html and "capacity_unmet_sensitivity" in html


def test_summary_has_the_arm_headline(written):
    s = json.loads((written / "summary.json").read_text())
    h = s["arms"]["warm"]
    assert h["year"] == 2024
    assert h["hle0_change"]["1"]["value"] > 0  # core20 warm homes: HLE rises in Q1
    # Q5 is reached only through the feedback loops (service capacity, trust), which the
    # baseline switches on: whole warmed households in Q1 now move them a little; at 4,000
    # persons its empty ages also borrow the all-quintile rate (measures/results.py rates).
    assert abs(h["hle0_change"]["5"]["value"]) < 0.1 * h["hle0_change"]["1"]["value"]
    assert h["inequality_change"]["all"]["hle0_gap"]["value"] < 0
    assert h["healthy_years_gained"]["value"] > 0
    assert h["participants"]["value"] > 0 and h["cost"]["value"] > 0
    assert h["cost_per_healthy_year"]["value"] > 0
    # one replicate: a within-run interval containing the value (docs/precision.md)
    hy = h["healthy_years_gained"]
    assert hy["lo"] < hy["value"] < hy["hi"] and hy["se"] > 0


def test_cli_replicates_give_intervals(scenario_file, tmp_path):
    out = tmp_path / "rep"
    res = CliRunner().invoke(
        main,
        [
            "run",
            str(scenario_file),
            "-o",
            str(out),
            "--size",
            "3000",
            "--replicates",
            "2",
            "--no-figures",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "warm: HLE SII change" in res.output
    comp = pd.read_parquet(out / "comparison.parquet")
    se = comp[comp.measure == "hle0_change"].se
    assert se.notna().all() and (se > 0).any()
    h = json.loads((out / "summary.json").read_text())["arms"]["warm"]
    hy = h["healthy_years_gained"]
    assert math.isfinite(hy["lo"]) and hy["lo"] <= hy["value"] <= hy["hi"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "across 2 replicate runs" in html and "data:image" not in html


def test_cli_rejects_bad_replicates(scenario_file, tmp_path):
    res = CliRunner().invoke(
        main, ["run", str(scenario_file), "-o", str(tmp_path / "x"), "--replicates", "0"]
    )
    assert res.exit_code == 2


def test_baseline_run_gets_a_baseline_report(tmp_path):
    sc = tmp_path / "small.yaml"
    sc.write_text(f"extends: {BASELINE}\nname: small\npopulation: {{size: 2000, horizon: 2}}\n")
    out = write_outputs(povsim.run(sc), tmp_path / "small", figures=False)
    assert not (out / "comparison.csv").exists()
    assert json.loads((out / "summary.json").read_text())["arms"] == {}
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Baseline report" in html and "Headline results" not in html


def test_cli_run_writes_the_decomposition_and_charts_it(tmp_path):
    import base64
    import io
    from html.parser import HTMLParser

    from matplotlib.image import imread

    sc = tmp_path / "dec.yaml"
    sc.write_text(f"extends: {BASELINE}\nname: dec\npopulation: {{size: 6000, horizon: 1}}\n")
    out = tmp_path / "dec"
    res = CliRunner().invoke(main, ["run", str(sc), "-o", str(out)])
    assert res.exit_code == 0, res.output
    dec = pd.read_csv(out / "decomposition.csv")
    assert {"sex", "measure", "pathway", "years", "share", "method"} <= set(dec.columns)

    class Figures(HTMLParser):
        def __init__(self):
            super().__init__()
            self.imgs: list[dict] = []
            self.ids: set[str] = set()

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "img":
                self.imgs.append(a)
            if "id" in a:
                self.ids.add(a["id"])

    parser = Figures()
    parser.feed((out / "report.html").read_text(encoding="utf-8"))
    assert "decomposition" in parser.ids
    charts = [i for i in parser.imgs if "What explains the baseline gap" in i.get("alt", "")]
    assert len(charts) == 1
    png = base64.b64decode(charts[0]["src"].split(",", 1)[1])
    assert png == (out / "figures" / "decomposition.png").read_bytes()
    assert imread(io.BytesIO(png)).shape[1] > 500  # a real, decodable image
    # The table under it has every pathway and the residual, men and women.
    html = (out / "report.html").read_text(encoding="utf-8")
    section = html.split('id="decomposition"')[1].split("<h2")[0]
    for word in ("smoking", "housing", "long term conditions", "residual", "male LE gap"):
        assert word in section, word


def _hy(arm_values: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "arm": a,
                "year": 2048,
                "sex": "all",
                "quintile": "all",
                "measure": "healthy_years_gained_cumulative",
                "value": v,
            }
            for a, v in arm_values.items()
        ]
    )


def test_loop_dependence_flags_arms_resting_mostly_on_the_loops():
    from povsim.measures.contrast import loop_dependence

    on = _hy({"plain": 100.0, "loopy": 100.0, "hurt": 100.0, "edge": 100.0})
    off = _hy({"plain": 90.0, "loopy": 20.0, "hurt": 260.0, "edge": 50.0})
    d = loop_dependence(on, off).set_index("arm")
    assert d.loc["loopy", "share_from_loops"] == pytest.approx(0.8)
    assert d.depends_on_loops.to_dict() == {
        "plain": False,
        "loopy": True,
        "hurt": True,  # the loops take away more than half: also rests on them
        "edge": False,  # exactly half is not "mostly"
    }


def test_cli_flags_the_capacity_arm_of_hypertension_case_finding(tmp_path):
    # README/issue: "with capacity" gains several times the plain arm almost entirely through
    # the assumed capacity loop; the report must say so, and must not flag the plain arm.
    out = tmp_path / "htn"
    res = CliRunner().invoke(
        main,
        [
            "run",
            str(REPO / "scenarios/hypertension_case_finding.yaml"),
            "-o",
            str(out),
            "--size",
            "20000",
            "--no-figures",
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    d = pd.read_csv(out / "loop_dependence.csv").set_index("arm")
    assert bool(d.loc["core20_cap", "depends_on_loops"])
    assert not bool(d.loc["core20", "depends_on_loops"])
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Caution: core20_cap depends mostly on assumed loop parameters" in html
    assert "Caution: core20 depends" not in html
    summ = json.loads((out / "summary.json").read_text())
    assert summ["loop_dependence"]["core20_cap"]["depends_on_loops"] is True


def test_a_local_area_is_not_labelled_england(tmp_path):
    """The whole-area row of the report's baseline tables and the console table carry the
    area's name, not "England" (issue 15 item 2)."""
    import re

    scen = Path(__file__).resolve().parents[1] / "scenarios" / "local_urban_deprived.yaml"
    out = tmp_path / "local"
    r = CliRunner().invoke(
        main, ["run", str(scen), "--size", "3000", "-o", str(out), "--no-figures"]
    )
    assert r.exit_code == 0, r.output
    name = "an illustrative deprived urban area"
    assert name in r.output  # the console table's whole-area row
    rows = re.findall(r"<tr><td>([^<]*)</td>", (out / "report.html").read_text())
    assert name in rows
    assert "England" not in rows
