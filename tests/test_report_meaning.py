"""Reports lead with the answer: "What this means" first, sign-correct wording (narrows /
widens / unchanged, gains / losses), a baseline-only run and an arm with no effect; user
text autoescaped; a print stylesheet (issue 15 item 6)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import povsim
from povsim.reporting.html import CSS
from povsim.reporting.outputs import EXPECTANCY_MEASURES, write_outputs
from povsim.reporting.run_report import arm_meaning
from povsim.reporting.workbook import write_workbook

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "scenarios" / "baseline.yaml"


class Sections(HTMLParser):
    """Text of each <section>/<h2 id> part, the order of h2 headings, and every tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.h2: list[str] = []
        self.meaning: list[str] = []
        self.tags: list[str] = []
        self._in_meaning_p = False
        self._in_h2 = False
        self._section = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "section":
            self._section = a.get("id", "")
        if tag == "h2":
            self._in_h2 = True
            self.h2.append("")
        if tag == "p" and self._section == "meaning":
            self._in_meaning_p = True
            self.meaning.append("")

    def handle_endtag(self, tag):
        if tag == "section":
            self._section = ""
        if tag == "h2":
            self._in_h2 = False
        if tag == "p":
            self._in_meaning_p = False

    def handle_data(self, data):
        if self._in_h2:
            self.h2[-1] += data
        if self._in_meaning_p:
            self.meaning[-1] += data


def parse(html: str) -> Sections:
    p = Sections()
    p.feed(html)
    return p


def _stat(v, lo=None, hi=None):
    d = {"value": v}
    if lo is not None:
        d.update(lo=lo, hi=hi, se=0.1)
    return d


def _heads(gap, d1, d5, hy, cost=1e6, cpq=5000.0, q=100.0, lo=None, hi=None):
    ineq = {"hle0_gap": None if gap is None else _stat(gap, lo, hi)}
    return {
        "year": 2048,
        "period": [2019, 2048],
        "hle0_change": {"1": _stat(d1), "5": _stat(d5), "all": _stat((d1 + d5) / 2)},
        "inequality_change": {"all": ineq},
        "healthy_years_gained": _stat(hy),
        "cost": _stat(cost),
        "cost_per_qaly": None if cpq is None else _stat(cpq),
        "qalys_gained_discounted": _stat(q),
    }


def test_a_narrowing_gap_is_said_to_narrow_through_the_most_deprived():
    text = arm_meaning("pkg", _heads(-0.4, 0.5, 0.1, 1234), "England", 1)
    assert "pkg narrows the healthy-life-expectancy gap" in text
    assert "by 0.40 years in 2048" in text
    assert "rises by 0.50 years in the most deprived fifth" in text
    assert "one replicate, so no interval" in text
    assert "gains 1,234 healthy life-years in England" in text
    assert "£5,000 per QALY" in text
    assert "widens" not in text and "loses" not in text


def test_a_widening_gap_and_a_loss_are_said_so():
    text = arm_meaning("bad", _heads(0.3, -0.2, 0.1, -500, cpq=None, q=-20), "Knowsley", 1)
    assert "bad widens the healthy-life-expectancy gap" in text and "by 0.30 years" in text
    assert "HLE at birth falls by 0.20 years in the most deprived fifth" in text
    assert "loses 500 healthy life-years in Knowsley" in text
    assert "no cost per QALY" in text
    assert "narrows" not in text and "gains 500" not in text


def test_levelling_down_is_named_as_the_least_deprived_falling():
    text = arm_meaning("down", _heads(-0.3, 0.0, -0.3, -100, cpq=None, q=-5), "England", 1)
    assert "narrows" in text
    assert "falls by 0.30 years in the least deprived fifth" in text


def test_an_interval_is_given_and_one_including_zero_is_flagged():
    text = arm_meaning("x", _heads(-0.1, 0.1, 0.0, 10, lo=-0.3, hi=0.05), "England", 10)
    assert "95% interval -0.30 to +0.05 years; it includes no change" in text


def test_an_arm_with_no_effect_is_said_to_change_nothing():
    text = arm_meaning("idle", _heads(0.0, 0.0, 0.0, 0, cost=0, cpq=None, q=0), "England", 1)
    assert "changes no headline outcome" in text
    assert "narrows" not in text and "widens" not in text and "gains 0" not in text


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("meaning")
    (d / "base.yaml").write_text(
        f"extends: {BASELINE}\nname: base_only\npopulation: {{size: 2000, horizon: 3}}\n"
    )
    (d / "idle.yaml").write_text(
        f"extends: {BASELINE}\nname: idle_run\n"
        "description: 'A <b>bold</b> & <script>x()</script> description'\n"
        "population: {size: 2000, horizon: 3}\n"
        "arms:\n  idle:\n    description: '<img src=x onerror=alert(1)>'\n"
        "    interventions: []\n"
    )
    out = {}
    for name in ("base", "idle"):
        res = povsim.run(d / f"{name}.yaml")
        folder = write_outputs(res, d / f"out_{name}", figures=False)
        out[name] = (folder / "report.html").read_text(encoding="utf-8")
        out[f"{name}_dir"] = folder
    return out


def test_what_this_means_comes_first(reports):
    for name in ("base", "idle"):
        h2 = parse(reports[name]).h2
        assert h2[0] == "What this means", h2[:3]
        assert h2.index("What was run") == 1


def test_a_baseline_only_run_says_so_and_states_the_gap(reports):
    meaning = " ".join(parse(reports["base"]).meaning)
    assert "baseline only: no intervention is compared" in meaning
    m = re.search(r"a gap of (\d+\.\d) years", meaning)
    assert m and float(m.group(1)) > 0
    assert "narrows the healthy" not in meaning and "widens the healthy" not in meaning


def test_an_arm_without_interventions_changes_nothing(reports):
    meaning = " ".join(parse(reports["idle"]).meaning)
    assert "idle changes no headline outcome" in meaning


def test_user_text_is_escaped_never_markup(reports):
    html = reports["idle"]
    p = parse(html)
    assert "script" not in p.tags  # no <script> element anywhere
    assert p.tags.count("img") == 0  # the arm description's <img> is text, not an element
    assert "A &lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;x()&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_the_print_stylesheet_is_there():
    css = CSS
    assert "@media print" in css
    printing = css[css.index("@media print") :]
    for rule in (
        "nav { display: none; }",
        "page-break-inside: avoid",
        "max-width: 100%",
        "color: #000",
        "background: #fff",
    ):
        assert rule in printing, rule
    assert re.search(r"table, figure[^{]*\{[^}]*break-inside: avoid", printing)


def test_the_report_carries_the_print_stylesheet(reports):
    html = reports["base"]
    style = html.split("<style>", 1)[1].split("</style>", 1)[0]
    assert "@media print" in style and "&gt;" not in style  # CSS is not escaped


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"quintile": str})


def test_the_workbook_holds_the_reports_tables_as_in_the_csvs(reports):
    folder = reports["idle_dir"]
    book = pd.read_excel(folder / "tables.xlsx", sheet_name=None, dtype={"quintile": str})
    assert list(book)[0] == "README"
    readme = dict(zip(book["README"]["item"], book["README"]["value"]))
    assert readme["scenario"] == "idle_run" and int(readme["seed"]) == 1
    assert readme["povsim version"] == povsim.__version__
    assert "years" in readme["units (levels)"]
    results, comparison = _csv(folder / "results.csv"), _csv(folder / "comparison.csv")
    expected = {
        "comparison_final_year": comparison[comparison.year == comparison.year.max()],
        "expectancies": results[results.measure.isin(EXPECTANCY_MEASURES)],
    }
    if (folder / "loop_dependence.csv").is_file():
        expected["loop_dependence"] = pd.read_csv(folder / "loop_dependence.csv")
    for sheet, frame in expected.items():
        got = book[sheet]
        assert len(got) > 0, sheet
        pd.testing.assert_frame_equal(
            got.reset_index(drop=True), frame.reset_index(drop=True), check_dtype=False
        )
    man = json.loads((folder / "manifest.json").read_text())
    assert man["workbook"]["file"] == "tables.xlsx"
    assert man["workbook"]["sheets"] == list(book)
    assert not list(folder.glob(".tables.xlsx.partial-*"))  # written in one step


def test_workbook_sheet_names_are_valid_and_nan_is_an_empty_cell(tmp_path):
    frame = pd.DataFrame({"a": [1.5, float("nan")], "b": ["x", "y"]})
    long = "a_name_much_longer_than_thirty_one_characters"
    sheets = write_workbook(
        tmp_path / "t.xlsx",
        {long: (frame, "t.csv"), long + "_2": (frame, "u.csv"), "a/b": (frame, "v.csv")},
        {"seed": 3},
    )
    assert all(len(s) <= 31 for s in sheets) and len(set(sheets)) == 3
    assert "a_b" in sheets
    back = pd.read_excel(tmp_path / "t.xlsx", sheet_name=sheets[0])
    pd.testing.assert_frame_equal(back, frame)


def test_gap_is_between_the_quintiles_an_area_has():
    from povsim.measures import life_table as M

    v = np.array([[50.0, 55.0, 60.0, 65.0, 70.0]] * 3)
    shares = np.array([[1, 1, 1, 1, 1], [0, 1, 1, 1, 1], [0, 0, 1, 0, 0]], float)
    g = M.gap(v, shares)
    assert g[0] == 20.0 and g[1] == 15.0 and np.isnan(g[2])  # Q5-Q1, Q5-Q2, none


def test_an_area_without_quintile_1_says_so_and_measures_its_gap_from_q2(tmp_path):
    comp = REPO / "scenarios" / "data" / "rural_affluent_composition_illustrative.csv"
    lines = comp.read_text().splitlines()
    out_lines = []
    for line in lines:
        parts = line.split(",")
        if not line.startswith("#") and len(parts) > 4 and parts[3] == "1":
            parts[4] = "0"
        out_lines.append(",".join(parts))
    (tmp_path / "comp.csv").write_text("\n".join(out_lines) + "\n")
    (tmp_path / "empty.yaml").write_text(
        f"extends: {BASELINE}\nname: emptyq1\npopulation:\n  area: local\n"
        "  area_name: Emptyshire\n  composition: comp.csv\n  size: 2000\n  horizon: 2\n"
        "arms:\n  warm:\n    interventions:\n      - {type: housing, start_year: 2019, "
        "end_year: 2020, coverage: 0.3, effect: 0.9, effect_source: t, "
        "cost: {per_participant: 4000, source: t}}\n"
    )
    out = write_outputs(povsim.run(tmp_path / "empty.yaml"), tmp_path / "out")
    results = pd.read_csv(out / "results.csv", dtype={"quintile": str})
    gaps = results[results.measure.isin(["le0_gap", "hle0_gap"]) & (results.arm == "baseline")]
    assert gaps.value.notna().all()  # no NaN where a gap between Q2 and Q5 exists
    q = results[(results.arm == "baseline") & (results.measure == "hle0") & (results.sex == "all")]
    q = q.set_index(["year", "quintile"]).value
    hle_gap = gaps[(gaps.sex == "all") & (gaps.measure == "hle0_gap")].set_index("year").value
    for yr, v in hle_gap.items():
        assert v == pytest.approx(q[(yr, "5")] - q[(yr, "2")])
    comparison = pd.read_csv(out / "comparison.csv", dtype={"quintile": str})
    assert comparison[comparison.measure == "hle0_gap_change"].value.notna().all()
    html = (out / "report.html").read_text(encoding="utf-8")
    meaning = " ".join(parse(html).meaning)
    assert "Emptyshire has no residents in IMD quintile 1" in meaning
    assert "measured between quintiles 2 and 5" in meaning
    assert "between quintiles 2 and 5 (the most and least deprived the area has)" in meaning
    assert "HLE gap, Q5 minus Q2" in html and "Gap Q5-Q2" in html
    assert "nan" not in re.sub(r"data:image/png;base64,[^\"]+", "", html).lower().split()
    assert (out / "figures" / "gap_over_time.png").is_file()


def test_the_templates_ship_inside_the_package():
    import tomllib

    from povsim.reporting.html import TEMPLATES, environment

    pkg = Path(povsim.__file__).parent
    assert TEMPLATES.is_relative_to(pkg)  # hatch packages src/povsim whole, data files too
    conf = tomllib.loads((REPO / "pyproject.toml").read_text())
    wheel = conf["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert "src/povsim" in wheel["packages"] and "exclude" not in wheel
    names = set(environment().list_templates())
    for t in (
        "base.html.j2",
        "macros.html.j2",
        "style.css",
        "run_report.html.j2",
        "compare_report.html.j2",
        "places_report.html.j2",
        "sensitivity_report.html.j2",
    ):
        assert t in names, t
