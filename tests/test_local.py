"""Local populations at real scale (issue 6): composition files, real-scale totals that do not
depend on the simulated size, an all-quintile-1 area, budgets in real persons, the employment
lever, local calibration, and one-line errors for bad composition files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import povsim
from povsim.cli import main
from povsim.inputs import layout as L
from povsim.inputs.composition import CompositionError, read_composition, read_composition_table
from povsim.inputs.errors import ScenarioError
from povsim.inputs.loader import load_scenario, scenario_from_dict
from povsim.inputs.targets import read_local_fitted, read_local_targets
from povsim.model import registry as R
from povsim.model.population import single_year_counts
from povsim.model.tables import target_mx_and_good
from povsim.studies.calibrate_local import (
    calibrate_local,
    fit_local_analytic,
    fitted_status,
    write_local_fitted,
)

REPO = Path(__file__).resolve().parents[1]
BASE = str(REPO / "scenarios" / "baseline.yaml")
ENGLAND_CSV = REPO / "calibration" / "composition_england_mid2019.csv"
URBAN_CSV = REPO / "scenarios" / "data" / "urban_deprived_composition_illustrative.csv"
BAD = Path(__file__).parent / "bad_compositions"
LOOPS_OFF = {"capacity": {"enabled": False}, "trust": {"enabled": False}}


def write_composition(
    path: Path,
    counts: dict[tuple[str, int], float] | None = None,
    scale: float = 1.0,
    only_q1: bool = False,
) -> Path:
    """England's age-sex bands x quintiles; ``only_q1`` puts everyone in quintile 1."""
    src = pd.read_csv(ENGLAND_CSV, comment="#", skipinitialspace=True)
    if only_q1:
        src["count"] = np.where(src.quintile == 1, src["count"] * 5, 0.0)
    src["count"] = src["count"] * scale
    src[["sex", "age_min", "age_max", "quintile", "count"]].to_csv(path, index=False)
    return path


def local(
    tmp_path: Path,
    composition: Path,
    arms: dict | None = None,
    size: int = 10_000,
    horizon: int = 2,
    seed: int = 7,
    feedbacks: dict | None = None,
    **pop,
):
    data = {
        "extends": BASE,
        "name": "area",
        "seed": seed,
        "population": {
            "area": "local",
            "composition": str(composition),
            "size": size,
            "horizon": horizon,
            **pop,
        },
        "feedbacks": feedbacks or LOOPS_OFF,
        "arms": arms or {},
    }
    return scenario_from_dict(data, source=str(tmp_path / "area.yaml"))


def value(res, measure, year=None, sex="all", q="all", arm="baseline"):
    return res.value(measure, year, sex, q, arm)


def comp_total(res, measure, arm, q="all", year=None):
    c = res.comparison
    f = c[(c.arm == arm) & (c.measure == measure) & (c.sex == "all") & (c.quintile == q)]
    if year is not None:
        f = f[f.year == year]
    return float(f.value.sum())


# --- composition files ---------------------------------------------------------------------


def test_england_composition_is_ons_mid2019_in_equal_fifths(mp):
    comp = read_composition(ENGLAND_CSV, mp.life)
    assert comp.shape == (2, 5, L.N_AGE)
    assert comp.sum() == pytest.approx(56_286_961, abs=1.0)
    np.testing.assert_allclose(comp.sum(axis=1), single_year_counts(mp), rtol=1e-12)
    np.testing.assert_allclose(comp, np.repeat(comp[:, :1], 5, axis=1), rtol=1e-9)


BAD_CASES = {
    "negative_count.csv": "row 7, column count: negative count; got '-5'",
    "count_not_number.csv": "row 6, column count: not a number; got 'many'",
    "unknown_quintile.csv": "row 9, column quintile: unknown IMD quintile; got '6'; "
    "allowed 1, 2, 3, 4, 5",
    "unknown_sex.csv": "row 5, column sex: unknown sex; got 'persons'; allowed male, female",
    "age_not_integer.csv": "row 4, column age_min: not a whole number; got '50.5'",
    "age_out_of_range.csv": "row 4, column age_max: out of range; got '120'; allowed an "
    "integer 0..100",
    "age_max_below_min.csv": "row 4, column age_max: below age_min; got 40",
    "missing_band.csv": "row 10, column age_min: missing band: no row covers ages 50-54 for "
    "male, quintile 4",
    "missing_quintile_rows.csv": "row 21, column age_max: missing band: no row covers ages "
    "50-100 for female, quintile 5",
    "overlapping_bands.csv": "row 12, column age_min: band overlaps the band in row 11 "
    "(male, quintile 5)",
    "missing_column.csv": "row 2, column count: required column is missing",
    "row_too_short.csv": "row 8, column quintile: value missing",
    "all_zero.csv": "column count: all counts are zero",
    "empty.csv": "no header row",
}


def test_every_bad_composition_file_has_a_case():
    assert sorted(p.name for p in BAD.glob("*.csv")) == sorted(BAD_CASES)


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_bad_composition_one_line_error(name):
    path = BAD / name
    with pytest.raises(CompositionError) as info:
        read_composition_table(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: ")
    assert BAD_CASES[name] in msg


def test_validate_rejects_bad_composition_with_one_line_and_exit_2(tmp_path):
    sc = tmp_path / "area.yaml"
    sc.write_text(
        f"extends: {BASE}\nname: bad_area\npopulation:\n  area: local\n"
        f"  composition: {BAD / 'negative_count.csv'}\n"
    )
    for cmd in (["validate", str(sc)], ["run", str(sc), "-o", str(tmp_path / "out"), "-q"]):
        res = CliRunner().invoke(main, cmd)
        assert res.exit_code == 2, res.output
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in res.output
        assert lines[0].startswith(f"error: {sc}: population.composition: ")
        assert "negative_count.csv: row 7, column count: negative count" in lines[0]
    assert not (tmp_path / "out").exists()


def test_area_keys_are_checked(tmp_path):
    comp = write_composition(tmp_path / "c.csv")
    cases = [
        ({"area": "local"}, None, "population.composition: required when area is `local`"),
        ({"composition": str(comp)}, None, "population.composition: only used with area: local"),
        ({"area": "city"}, None, "population.area: "),
        (
            {},
            {"targets": str(comp)},
            "calibration: local calibration targets need population.area: local",
        ),
    ]
    for pop, cal, expected in cases:
        data = {"extends": BASE, "name": "x", "population": pop}
        if cal:
            data["calibration"] = cal
        with pytest.raises(ScenarioError, match=re.escape(expected)):
            scenario_from_dict(data, source=str(tmp_path / "x.yaml"))


def test_paths_are_relative_to_the_file_that_names_them(tmp_path):
    (tmp_path / "a" / "data").mkdir(parents=True)
    (tmp_path / "b").mkdir()
    write_composition(tmp_path / "a" / "data" / "c.csv")
    (tmp_path / "a" / "parent.yaml").write_text(
        f"extends: {BASE}\nname: parent\npopulation:\n  area: local\n  composition: data/c.csv\n"
    )
    (tmp_path / "b" / "child.yaml").write_text("extends: ../a/parent.yaml\nname: child\n")
    sc = load_scenario(tmp_path / "b" / "child.yaml")
    assert Path(sc.population.composition).resolve() == (tmp_path / "a" / "data" / "c.csv")


# --- real scale ----------------------------------------------------------------------------

EMPLOYMENT = {
    "type": "employment",
    "start_year": 2019,
    "end_year": 2030,
    "coverage": 0.2,
    "effect": 0.3,
    "effect_source": "test",
    "cost": {"per_participant": 1000},
}


def test_doubling_simulated_size_keeps_real_totals(tmp_path):
    arms = {"jobs": {"interventions": [EMPLOYMENT]}}
    small = povsim.run(local(tmp_path, URBAN_CSV, arms, size=10_000))
    big = povsim.run(local(tmp_path, URBAN_CSV, arms, size=20_000))
    real = 300_000
    for res in (small, big):
        assert res.manifest["real_population"] == real
        # Persons alive in the first year: the composition plus that year's births (~1.2%).
        assert real < value(res, "population", 2019) < 1.02 * real
    assert value(small, "population", 2019) == pytest.approx(
        value(big, "population", 2019), abs=2 * 30.0
    )
    # Deaths in the first year: Poisson noise of weighted counts.
    d1, d2 = value(small, "deaths", 2019), value(big, "deaths", 2019)
    se = np.sqrt(d1 * 30 + d2 * 15)
    assert abs(d1 - d2) < 4 * se
    assert 1500 < d1 < 4500  # ~1% of 300,000 a year, fewer in a young area
    # Participants of an intervention without capacity: binomial noise.
    p1 = comp_total(small, "participants", "jobs", year=2019)
    p2 = comp_total(big, "participants", "jobs", year=2019)
    assert p1 > 1000
    assert abs(p1 - p2) < 4 * np.sqrt(p1 * 30 + p2 * 15)
    # Per 100,000 residents is the real total scaled by 100,000 / 300,000.
    p100 = comp_total(small, "participants_per_100k", "jobs", year=2019)
    assert p100 == pytest.approx(p1 / 3.0, rel=1e-12)


def test_doubling_the_composition_doubles_real_totals(tmp_path):
    one = povsim.run(
        local(tmp_path, write_composition(tmp_path / "one.csv"), size=5_000, horizon=2)
    )
    two = povsim.run(
        local(tmp_path, write_composition(tmp_path / "two.csv", scale=2.0), size=5_000, horizon=2)
    )
    # The same simulated persons, each standing for twice as many real persons.
    np.testing.assert_allclose(
        two.tallies["baseline"], 2 * one.tallies["baseline"], rtol=1e-12, atol=0
    )
    for m in ("population", "deaths"):
        assert value(two, m, 2020) == pytest.approx(2 * value(one, m, 2020), rel=1e-12)
    assert value(two, "le0", 2020) == pytest.approx(value(one, "le0", 2020), abs=1e-9)


def test_all_quintile_1_area_has_quintile_1_expectancies(tmp_path):
    res = povsim.run(
        local(
            tmp_path, write_composition(tmp_path / "q1.csv", only_q1=True), size=10_000, horizon=1
        )
    )
    eng = povsim.run(
        scenario_from_dict(
            {
                "extends": BASE,
                "name": "e",
                "seed": 7,
                "population": {"size": 50_000, "horizon": 1},
                "feedbacks": LOOPS_OFF,
            },
            source=str(tmp_path / "e.yaml"),
        )
    )
    f = res.frame
    for m in ("le0", "hle0"):
        for sex in ("male", "female", "all"):
            assert value(res, m, sex=sex) == value(res, m, sex=sex, q="1")
            for q in "2345":
                assert np.isnan(value(res, m, sex=sex, q=q))  # nobody there: no expectancy
            a = f[(f.measure == m) & (f.sex == sex) & (f.quintile == "all")].iloc[0]
            e = eng.frame[
                (eng.frame.measure == m)
                & (eng.frame.sex == sex)
                & (eng.frame.quintile == "1")
                & (eng.frame.arm == "baseline")
            ].iloc[0]
            assert abs(a.value - e.value) < 4 * np.hypot(a.se, e.se) + 0.05, (m, sex)
    assert res.manifest["real_population"] == 56_286_961
    assert value(res, "population", q="1") == value(res, "population")


def test_capacity_reaches_the_same_real_people_at_any_size(tmp_path):
    arms = {"capped": {"interventions": [{**EMPLOYMENT, "coverage": 1.0, "capacity": 3000}]}}
    for size, weight in ((5_000, 60.0), (20_000, 15.0)):
        res = povsim.run(local(tmp_path, URBAN_CSV, arms, size=size))
        for year in (2019, 2020):
            got = comp_total(res, "participants", "capped", year=year)
            assert 3000 - weight - 1e-6 <= got <= 3000 + 1e-6, (size, year, got)


def test_england_composition_file_matches_the_built_in_england(tmp_path):
    via_file = povsim.run(local(tmp_path, ENGLAND_CSV, size=20_000, horizon=1))
    built_in = povsim.run(
        scenario_from_dict(
            {
                "extends": BASE,
                "name": "e",
                "seed": 7,
                "population": {"size": 20_000, "horizon": 1},
                "feedbacks": LOOPS_OFF,
            },
            source=str(tmp_path / "e.yaml"),
        )
    )
    for m in ("le0", "hle0"):
        for q in ("1", "all"):
            a = via_file.frame[
                (via_file.frame.measure == m)
                & (via_file.frame.sex == "all")
                & (via_file.frame.quintile == q)
            ].iloc[0]
            b = built_in.frame[
                (built_in.frame.measure == m)
                & (built_in.frame.sex == "all")
                & (built_in.frame.quintile == q)
                & (built_in.frame.arm == "baseline")
            ].iloc[0]
            assert abs(a.value - b.value) < 4 * np.hypot(a.se, b.se), (m, q)


# --- employment lever ----------------------------------------------------------------------


def _jobs(tmp_path, **kw):
    block = {**EMPLOYMENT, "targeting": {"rule": "core20"}, **kw}
    return local(tmp_path, URBAN_CSV, {"jobs": {"interventions": [block]}}, size=10_000, horizon=4)


def test_employment_zero_effect_is_identical_to_baseline(tmp_path):
    res = povsim.run(_jobs(tmp_path, effect=0.0))
    assert np.array_equal(res.tallies["baseline"], res.tallies["jobs"])


def test_employment_raises_work_in_targeted_quintiles_only_and_is_monotone(tmp_path):
    change = []
    for effect in (0.1, 0.3, 0.6):
        res = povsim.run(_jobs(tmp_path, effect=effect))
        tb = res.tallies["baseline"].reshape(-1, 2, 5, L.N_AGE, R.REGISTRY.n_stats)
        ta = res.tallies["jobs"].reshape(-1, 2, 5, L.N_AGE, R.REGISTRY.n_stats)
        assert np.array_equal(tb[:, :, 1:], ta[:, :, 1:])  # quintiles 2-5 untouched
        emp = ta[..., R.S_EMPLOYED].sum(axis=(1, 3)) - tb[..., R.S_EMPLOYED].sum(axis=(1, 3))
        assert (emp[1:, 0] > 0).all()
        change.append(comp_total(res, "employment_change", "jobs", q="1", year=2022))
        assert comp_total(res, "healthy_years_gained_cumulative", "jobs", year=2022) > 0
    assert change[0] < change[1] < change[2]


def test_employment_block_errors(tmp_path):
    with pytest.raises(
        ScenarioError,
        match=r"arms\.jobs\.interventions\.0\.effect: is a "
        r"probability for this type; got 1\.5",
    ):
        _jobs(tmp_path, effect=1.5)
    with pytest.raises(ScenarioError, match=r"interventions\.0\.type: "):
        _jobs(tmp_path, type="jobs")


# --- local calibration ---------------------------------------------------------------------


def _targets(path: Path, rows: list[tuple]) -> Path:
    lines = ["# test targets", "measure,sex,quintile,value,period,source"]
    lines += [f"{m},{s},{q},{v},2017-19,test" for m, s, q, v in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_local_targets_are_validated(tmp_path):
    bad = _targets(tmp_path / "t.csv", [("le0", "male", "1", 74.0), ("le0", "male", "6", 70)])
    with pytest.raises(ValueError, match=r"t\.csv: row 4, column quintile: unknown quintile"):
        read_local_targets(bad)
    bad = _targets(tmp_path / "t.csv", [("le", "male", "1", 74.0)])
    with pytest.raises(ValueError, match=r"row 3, column measure: unknown measure"):
        read_local_targets(bad)


def test_local_calibration_moves_only_what_the_targets_identify(tmp_path, mp):
    comp = read_composition(URBAN_CSV, mp.life)
    mx, good = target_mx_and_good(mp)
    from povsim.measures import life_table as M

    national_q1 = float(M.life_expectancy(mx[0, 0]))
    t = _targets(tmp_path / "t.csv", [("le0", "male", "1", round(national_q1 - 1.5, 3))])
    targets = read_local_targets(t)
    shifts = fit_local_analytic(mp, comp, targets)
    assert shifts["mortality_shift"]["male"][0] > 0.05  # Q1 males die faster
    assert shifts["mortality_shift"]["male"][1:] == [0.0] * 4
    assert shifts["mortality_shift"]["female"] == [0.0] * 5
    assert shifts["health_shift"] == {"male": [0.0] * 5, "female": [0.0] * 5}
    status = fitted_status(targets)
    assert (status.status.str.startswith("national")).sum() == 19
    # Simulated (common random numbers against the national run): Q1 male LE 1.5 years lower.
    local_fit, report = calibrate_local(
        mp, comp, targets, size=10_000, years=1, rounds=1, log=lambda s: None
    )
    assert abs(report.error.iloc[0]) < 0.05
    fitted = write_local_fitted(
        tmp_path / "t.fitted.yaml",
        local_fit,
        report,
        status,
        str(t),
        str(URBAN_CSV),
        None,
        10_000,
        1,
        20190101,
    )
    assert read_local_fitted(fitted, str(t), str(URBAN_CSV)) == local_fit
    # povsim run uses it; a changed targets file makes it stale (one-line error).
    data = {
        "extends": BASE,
        "name": "cal",
        "population": {
            "area": "local",
            "composition": str(URBAN_CSV),
            "size": 10_000,
            "horizon": 1,
        },
        "feedbacks": LOOPS_OFF,
    }
    plain = povsim.run(scenario_from_dict(data, source=str(tmp_path / "x.yaml")))
    cal = povsim.run(
        scenario_from_dict(
            {**data, "calibration": {"targets": str(t)}}, source=str(tmp_path / "x.yaml")
        )
    )
    drop = value(plain, "le0", sex="male", q="1") - value(cal, "le0", sex="male", q="1")
    assert 1.2 < drop < 1.8
    assert value(cal, "le0", sex="female", q="1") == value(plain, "le0", sex="female", q="1")
    _targets(t, [("le0", "male", "1", 70.0)])
    with pytest.raises(ScenarioError, match="fitted to a different targets file"):
        povsim.run(
            scenario_from_dict(
                {**data, "calibration": {"targets": str(t)}}, source=str(tmp_path / "x.yaml")
            )
        )


# --- outputs -------------------------------------------------------------------------------


def test_cli_run_reports_real_population_and_per_100k(tmp_path):
    sc = tmp_path / "rural.yaml"
    sc.write_text(
        f"extends: {REPO / 'scenarios' / 'local_rural_affluent.yaml'}\n"
        "name: rural_small\npopulation: {size: 4000, horizon: 2}\n"
    )
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(sc), "-o", str(out), "--no-figures"])
    assert res.exit_code == 0, res.output
    assert "real population 249,995" in res.output
    assert "healthy life-years gained in an illustrative less deprived rural area" in res.output
    assert "per 100,000 residents" in res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["area"]["real_population"] == 249_995
    arm = summary["arms"]["package"]
    assert arm["per_100k"]["participants"] == pytest.approx(
        arm["participants"]["value"] * 1e5 / 249_995, abs=0.1
    )
    html = (out / "report.html").read_text()
    assert "an illustrative less deprived rural area" in html and "per 100,000" in html


def test_cli_calibrate_scenario_reports_what_stays_national(tmp_path):
    _targets(tmp_path / "t.csv", [("le0", "female", "all", 81.0)])
    sc = tmp_path / "area.yaml"
    sc.write_text(
        f"extends: {BASE}\nname: area\npopulation:\n  area: local\n"
        f"  composition: {URBAN_CSV}\ncalibration:\n  targets: t.csv\n"
    )
    res = CliRunner().invoke(
        main,
        [
            "calibrate",
            "--scenario",
            str(sc),
            "--size",
            "5000",
            "--years",
            "1",
            "--rounds",
            "0",
            "--dry-run",
        ],
    )
    assert res.exit_code == 0, res.output
    assert (
        "mortality   female Q3: fitted to local le0 of the whole area (shared shift)" in res.output
    )
    assert "mortality   male   Q1: national (no local le0 target)" in res.output
    assert "good health female Q1: national (no local hle0 target)" in res.output
    assert not (tmp_path / "t.fitted.yaml").exists()  # --dry-run writes nothing
    # Without the fit, run refuses (one line, exit 2) rather than silently using England's rates.
    res = CliRunner().invoke(main, ["run", str(sc), "-q", "-o", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert "local calibration not found; run `povsim calibrate --scenario" in res.output
    assert len(res.output.strip().splitlines()) == 1
