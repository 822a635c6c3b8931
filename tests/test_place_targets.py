"""Published local targets of real places (issue 14, item 3): the shipped snapshot has sensible
figures with their source and checksum, the build script works offline on a small fixture, a
named place calibrates against its targets and `povsim run` then uses the fit, bad rows are
rejected in one line, and the refresh command works on a saved Fingertips response without the
network.

``tests/data/fingertips_le_hle_sample.csv`` is hand-made in the layout of the Fingertips API CSV
(``all_data/csv/by_indicator_id``), not a recording: its values are copied from the shipped ONS
snapshot (HLE) and from calibration/targets_ons_2017_2019.csv (England LE)."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from povsim.cli import main
from povsim.inputs.loader import load_scenario
from povsim.inputs.place_targets import place_targets, read_place_targets
from povsim.inputs.targets import TargetsError, read_local_targets
from povsim.model.area import area_params

REPO = Path(__file__).resolve().parents[1]
PLACES = REPO / "calibration" / "places"
SAMPLE = REPO / "tests" / "data" / "fingertips_le_hle_sample.csv"


def _value(code: str, measure: str, sex: str) -> float:
    t = read_place_targets()
    row = t[(t.code == code) & (t.measure == measure) & (t.sex == sex)]
    assert len(row) == 1, (code, measure, sex)
    return float(row.value.iloc[0])


def _build_module():
    spec = importlib.util.spec_from_file_location("build_targets", PLACES / "build_targets.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# --- the shipped snapshot ---------------------------------------------------------------------


def test_snapshot_values_of_known_places_are_present_and_plausible():
    for sex in ("male", "female"):
        blackpool, wokingham = _value("E06000009", "hle0", sex), _value("E06000041", "hle0", sex)
        knowsley = _value("E08000011", "hle0", sex)
        assert 50 < blackpool < knowsley < 63.5 < wokingham < 75  # England 63.2 / 63.5
        assert wokingham - blackpool > 12
    t = read_place_targets()
    assert set(t.quintile) == {"all"} and set(t.period) == {"2017-19"}
    assert t.source.str.contains("ONS").all()
    # every code is a shipped place, one row per place, measure and sex
    places = pd.read_csv(PLACES / "places.csv", comment="#")
    assert set(t.code) <= set(places.code)
    assert not t.duplicated(["code", "measure", "sex"]).any()
    levels = places.set_index("code").level[sorted(set(t.code))].value_counts().to_dict()
    assert levels == {"single_tier_la": 128, "upper_tier_la": 21}


def test_snapshot_rows_carry_confidence_limits_around_the_value():
    raw = pd.read_csv(PLACES / "targets.csv", comment="#")
    assert (raw.lower_ci < raw.value).all() and (raw.value < raw.upper_ci).all()


def test_targets_sources_name_the_input_with_its_checksum():
    doc = yaml.safe_load((PLACES / "targets_sources.yaml").read_text())
    spec = doc["inputs"]["hle"]
    assert len(spec["sha256"]) == 64 and "commit" in spec["origin"]
    assert spec["sha256"] == _build_module().INPUT["sha256"]
    assert doc["checks"]["rows"] == len(read_place_targets())


def test_build_targets_on_a_small_fixture(tmp_path):
    mod = _build_module()
    cols = "indicator,areacd,areanm,geography,observation,unit,measure,period,"
    cols += "lower_confidence_interval_95,upper_confidence_interval_95,observation_status"
    rows = [cols]
    for code, name, m, f in (
        ("E92000001", "England", 63.18, 63.52),
        ("E08000011", "Knowsley", 60.7, 58.97),
        ("E10000023", "North Yorkshire", 65.73, 65.02),
        ("E09000001", "City of London", "", ""),
    ):
        for sex, v in (("Male", m), ("Female", f)):
            lo, hi = (v - 1, v + 1) if v != "" else ("", "")
            rows.append(
                f"{sex} healthy life expectancy,{code},{name},x,{v},yrs,Years,2017-19,{lo},{hi},"
            )
            rows.append(
                f"{sex} healthy life expectancy,{code},{name},x,50,yrs,Years,2018-20,49,51,"
            )
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / mod.INPUT["file"]).write_text("\n".join(rows) + "\n")
    checks = mod.build(raw, tmp_path / "out", verify=False)
    t = pd.read_csv(tmp_path / "out" / "targets.csv", comment="#")
    assert checks["rows"] == 4  # Knowsley and North Yorkshire (2023 code, same boundary)
    assert set(t.code) == {"E08000011", "E06000065"}
    assert t[(t.code == "E06000065") & (t.sex == "male")].value.iloc[0] == 65.73
    read_local_targets(tmp_path / "out" / "targets.csv", extra=("code",))
    # a changed input is refused unless its checksum is reviewed
    assert mod.main(["--raw", str(raw), "--out", str(tmp_path / "o2")]) == 2


# --- a named place calibrates against its published targets -----------------------------------


def test_a_named_place_calibrates_against_its_shipped_targets(tmp_path):
    sc = tmp_path / "knowsley.yaml"
    sc.write_text("name: knowsley\npopulation: {area: Knowsley, size: 5000, horizon: 2}\n")
    assert area_params(load_scenario(sc)).fitted.get("local") is None  # national until fitted
    args = ["calibrate", "--scenario", str(sc), "--size", "5000", "--years", "1", "--rounds", "0"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "hle0 female      all   58.97 2017-19" in res.output
    assert "good health male   Q1: fitted to local hle0 of the whole area (shared shift)" in (
        res.output
    )
    assert "mortality   male   Q1: national (no local le0 target)" in res.output
    fitted = tmp_path / "knowsley.fitted.yaml"
    doc = yaml.safe_load(fitted.read_text())
    assert doc["targets"] == "shipped:E08000011"
    shift = doc["local"]["health_shift"]
    assert len(set(shift["male"])) == 1 and shift["male"][0] != 0  # one shared shift
    # (Knowsley's published HLE is above what England's quintile rates give its mix, 63% in
    # quintile 1: the shift raises good health; its sign is the data's, not asserted here.)
    assert area_params(load_scenario(sc)).fitted["local"] == doc["local"]
    # a fit to other targets is stale: one line naming the file
    doc["targets_sha256"] = "0" * 64
    fitted.write_text(yaml.safe_dump(doc))
    with pytest.raises(Exception, match="re-run `povsim calibrate --scenario"):
        area_params(load_scenario(sc))


def test_place_without_published_targets_still_needs_a_targets_file(tmp_path):
    sc = tmp_path / "icb.yaml"
    sc.write_text("name: icb\npopulation: {area: E54000057, size: 5000, horizon: 2}\n")
    assert place_targets("E54000057") is None
    res = CliRunner().invoke(main, ["calibrate", "--scenario", str(sc), "--size", "5000"])
    assert res.exit_code == 2
    assert "no published targets shipped for this area" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_places_command_shows_which_places_have_targets():
    res = CliRunner().invoke(main, ["places", "Wokingham"])
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if x.startswith("E06000041"))
    assert " hle0 " in line
    res = CliRunner().invoke(main, ["places", "--level", "icb", "Greater Manchester"])
    line = next(x for x in res.output.splitlines() if x.startswith("E54000057"))
    assert "  -  " in line


# --- bad rows ---------------------------------------------------------------------------------

HEADER = "code,name,measure,sex,quintile,value,lower_ci,upper_ci,period,source\n"
GOOD = "E08000011,Knowsley,hle0,male,all,60.7,58.8,62.6,2017-19,ONS\n"


@pytest.mark.parametrize(
    "row,expected",
    [
        ("E08000011,Knowsley,le,male,all,60.7,,,2017-19,ONS\n", "row 3, column measure"),
        ("E08000011,Knowsley,hle0,men,all,60.7,,,2017-19,ONS\n", "row 3, column sex"),
        ("E08000011,Knowsley,hle0,female,all,607,,,2017-19,ONS\n", "row 3, column value"),
        ("E08000011,Knowsley,hle0,female,all,,,,2017-19,ONS\n", "row 3, column value"),
        ("E08000011,Knowsley,hle0,female,all,60,,,,ONS\n", "row 3, column period: empty"),
        (GOOD, "row 3, column quintile: duplicate of row 2"),
    ],
)
def test_bad_place_target_rows_are_rejected_in_one_line(tmp_path, row, expected):
    path = tmp_path / "targets.csv"
    path.write_text(HEADER + GOOD + row)
    with pytest.raises(TargetsError) as err:
        read_local_targets(path, extra=("code",))
    assert expected in str(err.value) and "\n" not in str(err.value)
    # the same hle0 row for another place is no duplicate
    path.write_text(HEADER + GOOD + GOOD.replace("E08000011", "E06000009"))
    assert len(read_local_targets(path, extra=("code",))) == 2


def test_a_snapshot_without_the_code_column_is_rejected(tmp_path):
    path = tmp_path / "targets.csv"
    path.write_text(HEADER.replace("code,", "") + GOOD.replace("E08000011,", ""))
    with pytest.raises(TargetsError, match="column code: required column is missing"):
        read_local_targets(path, extra=("code",))


# --- refresh from a saved Fingertips response (no network) ------------------------------------


def test_refresh_targets_from_a_saved_fingertips_response(tmp_path):
    out = tmp_path / "targets.csv"
    res = CliRunner().invoke(
        main, ["refresh-targets", "--from-file", str(SAMPLE), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    t = read_local_targets(out, extra=("code",))
    # England is not a place; 2018-20 and the deprivation-decile row are left out
    assert sorted(zip(t.code, t.sex)) == [
        ("E06000009", "male"),
        ("E06000041", "female"),
        ("E08000011", "female"),
        ("E08000011", "male"),
    ]
    assert set(t.measure) == {"hle0"} and set(t.period) == {"2017-19"}
    assert t[(t.code == "E08000011") & (t.sex == "male")].value.iloc[0] == 60.7
    assert t.source.str.startswith("OHID Fingertips indicator 90362, retrieved").all()
    assert "refresh-targets" in out.read_text().splitlines()[0]
    assert hashlib.sha256(out.read_bytes()).hexdigest()  # written whole (atomic replace)


def test_refresh_targets_rejects_a_bad_response_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Area Code,Value\nE08000011,60.7\n")
    out = tmp_path / "targets.csv"
    res = CliRunner().invoke(main, ["refresh-targets", "--from-file", str(bad), "--out", str(out)])
    assert res.exit_code == 2
    assert "columns missing" in res.output and len(res.output.strip().splitlines()) == 1
    assert not out.exists()
    res = CliRunner().invoke(
        main,
        ["refresh-targets", "--from-file", str(SAMPLE), "--period", "2001-03", "--out", str(out)],
    )
    assert res.exit_code == 2 and "no place has a 2001-03 figure" in res.output
    assert not out.exists()
