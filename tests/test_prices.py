"""One price year: unit costs and intervention costs are converted on load by the GDP deflator
(calibration/gdp_deflators.csv) to the outputs' price year; bad deflator input is one line,
exit 2, nothing written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from povsim.cli import main
from povsim.inputs.errors import ScenarioError
from povsim.inputs.interventions import parse_intervention
from povsim.inputs.parameters import calibration_dir
from povsim.inputs.prices import PRICE_YEAR, to_price_year
from povsim.inputs.unit_costs import load_unit_costs
from test_interventions import arm, scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
# calibration/gdp_deflators.csv (HM Treasury, December 2025 release; 2024 = 100).
D2014, D2015, D2019, D2020 = 74.6524, 75.1536, 81.1085, 85.2137


def test_the_outputs_price_year_is_2019():
    assert PRICE_YEAR == 2019
    assert to_price_year(2019) == 1.0
    assert to_price_year("2019") == 1.0


def test_a_cost_converts_by_the_ratio_of_deflators():
    assert to_price_year(2020) == pytest.approx(D2019 / D2020, rel=1e-12)
    assert to_price_year(2014) == pytest.approx(D2019 / D2014, rel=1e-12)
    # A financial year is April-March: 3/4 of its first calendar year, 1/4 of the next.
    fy = 0.75 * D2014 + 0.25 * D2015
    assert to_price_year("2014/15") == pytest.approx(D2019 / fy, rel=1e-12)


def test_unit_costs_are_loaded_in_the_price_year():
    uc = load_unit_costs()
    fy1415 = D2019 / (0.75 * D2014 + 0.25 * D2015)
    # unit_costs.csv: GBP 4,296 of benefits, 2014/15 prices -> 4,659.71 in 2019 prices.
    assert uc.benefit_not_working[30] == pytest.approx(4296 * fy1415, rel=1e-12)
    assert uc.benefit_not_working[30] == pytest.approx(4659.71, abs=0.01)
    assert uc.earnings[0, 30] == 30420.0  # already 2019
    assert uc.tax_rate[30] == 0.332  # a fraction: not converted
    assert uc.ltc1_relative == 1.0  # a ratio: not converted
    # Asaria's NHS spend (2014/15): male, quintile 1, age 0 is GBP 1,704.11 in the file.
    assert uc.nhs_spend[0] == pytest.approx(1704.11 * fy1415, rel=1e-12)


def _block(**cost) -> dict:
    return {
        "type": "behaviour",
        "behaviour": "smoking",
        "start_year": 2020,
        "end_year": 2021,
        "effect": 0.1,
        "effect_source": "test",
        "cost": cost,
    }


def test_an_intervention_cost_with_a_price_year_is_converted_once():
    iv = parse_intervention(_block(per_participant=100.0, fixed_per_year=1000.0, price_year=2014))
    assert iv.cost.per_participant == pytest.approx(100.0 * D2019 / D2014, rel=1e-12)
    assert iv.cost.fixed_per_year == pytest.approx(1000.0 * D2019 / D2014, rel=1e-12)
    assert iv.cost.price_year is None
    # Re-validating what was validated (a budget's blocks, a sweep point) converts nothing.
    again = parse_intervention(iv.model_dump())
    assert again.cost.per_participant == iv.cost.per_participant
    # Without a price year the cost is taken as given, in the outputs' price year.
    plain = parse_intervention(_block(per_participant=100.0))
    assert plain.cost.per_participant == 100.0


@pytest.mark.parametrize(
    "year,words",
    [
        (1990, "no GDP deflator for 1990"),
        ("2024/25", "no GDP deflator for 2025"),
        ("19/20", "not a price year"),
    ],
)
def test_a_price_year_the_table_does_not_cover_is_rejected(year, words):
    with pytest.raises(ScenarioError) as e:
        scenario({"a": arm(_block(per_participant=100.0, price_year=year))})
    msg = str(e.value)
    assert "\n" not in msg and "cost.price_year" in msg and words in msg, msg


def _scenario(tmp_path: Path) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(
        f"extends: {BASELINE}\nname: t\npopulation:\n  size: 3000\n  horizon: 3\n"
        "feedbacks: {capacity: {enabled: false}, trust: {enabled: false}}\n"
        "arms:\n  a:\n    interventions:\n      - type: behaviour\n        behaviour: smoking\n"
        "        start_year: 2020\n        end_year: 2021\n        effect: 0.1\n"
        "        effect_source: test\n        cost: {per_participant: 100, price_year: 2020}\n"
    )
    return p


def test_summary_states_the_price_year(tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(
        main, ["run", str(_scenario(tmp_path)), "-o", str(out), "--no-figures"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads((out / "summary.json").read_text())["price_year"] == PRICE_YEAR


def _broken(tmp_path: Path, name: str, edit) -> Path:
    d = tmp_path / "cal"
    shutil.copytree(calibration_dir(), d)
    p = d / name
    p.write_text(edit(p.read_text()))
    return d


BAD = [
    # A unit cost in a year the deflator table does not cover.
    (
        "unit_costs.csv",
        lambda t: t.replace(
            "benefit_per_person_not_working,16,64,all,4296,GBP out-of-work benefits per "
            "working-age person-year not in work,2014/15",
            "benefit_per_person_not_working,16,64,all,4296,GBP out-of-work benefits per "
            "working-age person-year not in work,1995/96",
        ),
        "exchequer,benefit_per_person_not_working",
        "unit_costs.csv",
        "column price_year: no GDP deflator for 1995",
    ),
    # A money row without a price year.
    (
        "unit_costs.csv",
        lambda t: t.replace(
            "per_person_not_good_health,18,64,all,1126,GBP per person-year in less than good "
            "health,2018/19",
            "per_person_not_good_health,18,64,all,1126,GBP per person-year in less than good "
            "health,",
        ),
        "social_care,per_person_not_good_health,18",
        "unit_costs.csv",
        "column price_year: not a price year",
    ),
    # The deflator table itself: a year missing, a year twice, an index that is not > 0.
    (
        "gdp_deflators.csv",
        lambda t: "\n".join(ln for ln in t.splitlines() if not ln.startswith("2016,")) + "\n",
        "2017,",
        "gdp_deflators.csv",
        "years 2016-2016 missing",
    ),
    (
        "gdp_deflators.csv",
        lambda t: t.replace("2018,79.1606", "2018,-79.1606"),
        "2018,",
        "gdp_deflators.csv",
        "column index: bad value",
    ),
    (
        "gdp_deflators.csv",
        lambda t: t.replace("2018,79.1606", "2019,79.1606"),
        "2019,81",
        "gdp_deflators.csv",
        "year 2019 twice",
    ),
]


@pytest.mark.parametrize("name,edit,line_start,file_word,words", BAD)
def test_bad_price_input_is_one_line_exit_2_nothing_written(
    tmp_path, monkeypatch, name, edit, line_start, file_word, words
):
    d = _broken(tmp_path, name, edit)
    monkeypatch.setenv("POVSIM_CALIBRATION", str(d))
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(_scenario(tmp_path)), "-o", str(out)])
    assert res.exit_code == 2, res.output
    msg = res.output.strip()
    assert "\n" not in msg and "Traceback" not in msg, msg
    line = next(
        i
        for i, ln in enumerate((d / name).read_text().splitlines(), start=1)
        if ln.startswith(line_start)
    )
    assert file_word in msg and f"row {line}" in msg and words in msg, msg
    assert not out.exists()
