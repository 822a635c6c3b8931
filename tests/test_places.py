"""Real places (issue 14): the shipped compositions of every ICB, sub-ICB location and local
authority add up (to England, to their parents, to the published mid-2019 totals), their
deprivation mix is sensible, the build script works offline on a small fixture, and places
are found by name or code with one-line errors for a typo."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import povsim
from povsim.cli import main
from povsim.inputs.errors import ScenarioError
from povsim.inputs.loader import scenario_from_dict
from povsim.inputs.places import PlaceError, find_place, place_composition_table, search_places

REPO = Path(__file__).resolve().parents[1]
PLACES = REPO / "calibration" / "places"
BASE = str(REPO / "scenarios" / "baseline.yaml")
ENGLAND_MID2019 = 56_286_961  # ONS mid-2019 England (calibration/population_england_mid2019.csv)


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(PLACES / name, comment="#", dtype={"code": str})


@pytest.fixture(scope="module")
def places() -> pd.DataFrame:
    return _read("places.csv")


@pytest.fixture(scope="module")
def comp() -> pd.DataFrame:
    return _read("compositions.csv")


def _bands(comp: pd.DataFrame) -> list[str]:
    return [c for c in comp.columns if c[0].isdigit()]


# --- the shipped tables add up ----------------------------------------------------------------


def test_every_level_is_there(places):
    counts = places.level.value_counts().to_dict()
    assert counts["icb"] == 42
    assert counts["sub_icb"] == 106
    # April 2023: 296 lower-tier authorities (164 districts + 132 single tier), 153 upper tier
    assert counts["lower_tier_la"] + counts["single_tier_la"] == 296
    assert counts["upper_tier_la"] + counts["single_tier_la"] == 153
    assert not places.code.duplicated().any()


def test_42_icbs_sum_to_england_and_each_tier_to_england(places):
    for levels in (["icb"], ["sub_icb"], ["single_tier_la", "upper_tier_la"]):
        assert places[places.level.isin(levels)].population.sum() == ENGLAND_MID2019, levels
    england = pd.read_csv(REPO / "calibration" / "population_england_mid2019.csv", comment="#")
    assert england["count"].sum() == ENGLAND_MID2019


def test_compositions_sum_to_each_places_population(places, comp):
    tot = comp.assign(n=comp[_bands(comp)].sum(axis=1)).groupby("code").n.sum()
    merged = places.set_index("code").population
    assert (tot.reindex(merged.index) == merged).all()
    by_q = comp.assign(n=comp[_bands(comp)].sum(axis=1)).pivot_table(
        index="code", columns="quintile", values="n", aggfunc="sum"
    )
    for q in range(1, 6):
        assert (by_q[q].reindex(places.code).to_numpy() == places[f"q{q}"].to_numpy()).all()


def test_an_icb_is_the_sum_of_its_sub_icb_locations_cell_by_cell(places, comp):
    bands = _bands(comp)
    sub = places[places.level == "sub_icb"][["code", "parent_code"]]
    kids = comp.merge(sub, on="code").groupby(["parent_code", "sex", "quintile"])[bands].sum()
    icbs = comp[comp.code.isin(places.code[places.level == "icb"])]
    icbs = icbs.set_index(["code", "sex", "quintile"])[bands]
    kids.index = kids.index.set_names(["code", "sex", "quintile"])
    pd.testing.assert_frame_equal(kids.sort_index(), icbs.sort_index(), check_dtype=False)


def test_a_county_is_the_sum_of_its_districts(places):
    kids = places[places.level == "lower_tier_la"].groupby("parent_code").population.sum()
    counties = places[places.level == "upper_tier_la"].set_index("code").population
    assert len(counties) == 21
    assert (kids.reindex(counties.index) == counties).all()


def test_local_authorities_equal_the_published_mid2019_totals(places):
    pub = _read("published_mid2019.csv")
    assert pub.population.sum() == ENGLAND_MID2019
    by_place = pub.groupby("place_code").population.sum()
    las = places[places.level.isin(["single_tier_la", "lower_tier_la"])].set_index("code")
    assert len(las) == 296
    assert (las.population - by_place.reindex(las.index)).abs().max() == 0


@pytest.mark.parametrize("name", ["Knowsley", "Blackpool", "Middlesbrough"])
def test_deprived_places_have_a_large_core20_share(name):
    assert find_place(name).core20_share > 0.5


def test_wokingham_has_almost_no_core20_and_mostly_q5():
    p = find_place("Wokingham")
    assert p.core20_share < 0.02
    assert p.quintiles[4] / p.population > 0.6


def test_england_is_about_a_fifth_in_each_quintile(places):
    icbs = places[places.level == "icb"]
    shares = icbs[[f"q{q}" for q in range(1, 6)]].sum() / icbs.population.sum()
    assert np.allclose(shares, 0.2, atol=0.02)


def test_sources_name_every_input_with_its_checksum():
    import yaml

    doc = yaml.safe_load((PLACES / "sources.yaml").read_text())
    assert doc["checks"]["england_from_42_icbs"] == ENGLAND_MID2019
    for spec in doc["inputs"].values():
        assert len(spec["sha256"]) == 64 and spec["origin"] and spec["what"]
    head = (PLACES / "compositions.csv").read_text().splitlines()[:3]
    assert all(line.startswith("#") for line in head)


# --- the build script, offline, on a small fixture ------------------------------------------


def _build_module():
    spec = importlib.util.spec_from_file_location("places_build", PLACES / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _fixture(raw: Path) -> None:
    """Six LSOAs: ICB A (sub-ICBs A1, A2) and ICB B (B1); a county C with districts D1, D2
    and a unitary U; D2 was two 2022 districts merged in 2023."""
    lsoas = [f"E0100000{i}" for i in range(1, 7)]
    deciles = [1, 2, 3, 6, 9, 10]
    sub = ["S1", "S1", "S2", "S2", "S3", "S3"]
    icb = ["I1", "I1", "I1", "I1", "I2", "I2"]
    l22 = ["E07000001", "E07000001", "E07000002", "E07000003", "E06000001", "E06000001"]
    pd.DataFrame(
        {
            "LSOA code (2011)": lsoas,
            "LSOA name (2011)": lsoas,
            "Local Authority District code (2019)": l22,
            "Local Authority District name (2019)": l22,
            "Index of Multiple Deprivation (IMD) Rank": range(6),
            "Index of Multiple Deprivation (IMD) Decile": deciles,
        }
    ).to_csv(raw / "File_1_-_IMD2019_Index_of_Multiple_Deprivation.csv", index=False)
    rng = np.random.default_rng(1)
    ages = [str(a) for a in range(90)] + ["90+"]
    pop = pd.DataFrame(rng.integers(0, 40, (6, len(ages))), columns=ages)
    pop.insert(0, "total_population", pop.sum(axis=1))
    pop.insert(0, "lsoa11_code", lsoas)
    extra = pop.iloc[[0]].assign(lsoa11_code="W01000001")  # Wales: dropped
    pd.concat([pop, extra]).to_csv(raw / "population19_lsoa11.csv", index=False)
    pd.DataFrame(
        {
            "lsoa11_code": lsoas,
            "sicbl22_code": sub,
            "sicbl22_name": [f"Sub {s}" for s in sub],
            "icb22_code": icb,
            "icb22_name": [f"NHS {c} Integrated Care Board" for c in icb],
            "ltla22_code": l22,
        }
    ).to_csv(raw / "lookup_lsoa11_sicbl22_icb22_ltla22.csv", index=False)
    pd.DataFrame(
        {
            "ltla22_code": ["E07000001", "E07000002", "E07000003", "E06000001"],
            "ltla22_name": ["D1", "D2a", "D2b", "U"],
            "ltla23_code": ["E07000001", "E07000009", "E07000009", "E06000001"],
            "ltla23_name": ["D1", "D2", "D2", "U"],
        }
    ).to_csv(raw / "lookup_ltla22_ltla23.csv", index=False)
    pd.DataFrame(
        {
            "ltla23_code": ["E07000001", "E07000009", "E06000001"],
            "ltla23_name": ["D1", "D2", "U"],
            "utla23_code": ["E10000001", "E10000001", "E06000001"],
            "utla23_name": ["C", "C", "U"],
        }
    ).to_csv(raw / "lookup_ltla23_utla23.csv", index=False)
    by22 = pop.groupby(pd.Series(l22)).total_population.sum()
    pd.DataFrame(
        {
            "ltla20_code": by22.index,
            "ltla20_name": by22.index,
            "total_population": [f"{v:,}" for v in by22.to_numpy()],
        }
    ).to_csv(raw / "population19_ltla20.csv", index=False)


def _fixture_inputs(mod, raw: Path) -> dict:
    inputs = {k: dict(v) for k, v in mod.INPUTS.items()}
    for spec in inputs.values():
        spec["file"] = spec["file"].split(".")[0] + ".csv"
        spec["sha256"] = hashlib.sha256((raw / spec["file"]).read_bytes()).hexdigest()
    return inputs


def test_build_script_on_a_small_fixture(tmp_path):
    mod = _build_module()
    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    _fixture(raw)
    checks = mod.build(raw, out, inputs=_fixture_inputs(mod, raw), verify=True)
    places = pd.read_csv(out / "places.csv", comment="#")
    comp = pd.read_csv(out / "compositions.csv", comment="#")
    pop = pd.read_csv(raw / "population19_lsoa11.csv")
    pop = pop[pop.lsoa11_code.str.startswith("E")]
    assert checks["england_from_42_icbs"] == pop.total_population.sum()
    assert checks["places"] == {
        "icb": 2,
        "sub_icb": 3,
        "single_tier_la": 1,
        "upper_tier_la": 1,
        "lower_tier_la": 2,
    }
    p = places.set_index("code")
    # deciles 1,2 -> Q1; 3 -> Q2; 6 -> Q3; 9,10 -> Q5 (1 = most deprived)
    assert p.loc["S1", "q1"] == pop.total_population.iloc[:2].sum()
    assert p.loc["I2", "q5"] == p.loc["I2", "population"]
    assert p.loc["E07000009", "population"] == pop.total_population.iloc[2:4].sum()
    assert p.loc["E10000001", "population"] == pop.total_population.iloc[:4].sum()
    assert p.loc["E07000009", "parent_code"] == "E10000001"
    # whole persons; every place has all 2 x 5 sex-quintile rows
    bands = _bands(comp)
    assert (comp[bands] == comp[bands].round()).all().all()
    assert len(comp) == 10 * len(places)
    # the sex split follows England's male share (within one person per LSOA and band)
    males = comp[(comp.code == "I1") & (comp.sex == "male")][bands].to_numpy().sum(axis=0)
    total = comp[comp.code == "I1"][bands].to_numpy().sum(axis=0)
    share = mod.male_share(REPO / "calibration" / "population_england_mid2019.csv")
    assert np.all(np.abs(males - total * share) <= 4)


def test_build_script_refuses_a_changed_input(tmp_path):
    mod = _build_module()
    raw = tmp_path / "raw"
    raw.mkdir()
    _fixture(raw)
    inputs = _fixture_inputs(mod, raw)
    inputs["imd"]["sha256"] = "0" * 64
    with pytest.raises(mod.BuildError, match="SHA-256"):
        mod.build(raw, tmp_path / "out", inputs=inputs)
    assert not (tmp_path / "out").exists()


# --- places by name or code -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "NHS Greater Manchester ICB",
        "NHS Greater Manchester Integrated Care Board",
        "nhs greater manchester icb",
        "E54000057",
        "e54000057",
    ],
)
def test_a_place_by_name_or_code(text):
    p = find_place(text)
    assert (p.code, p.level, p.label) == ("E54000057", "icb", "NHS Greater Manchester ICB")


def test_a_typo_suggests_the_nearest_names():
    with pytest.raises(PlaceError) as e:
        find_place("Blackpol")
    assert e.value.hint == "Blackpool"


def test_scenario_names_a_place_and_keeps_england_and_local(tmp_path):
    src = str(tmp_path / "x.yaml")
    sc = scenario_from_dict(
        {"extends": BASE, "name": "x", "population": {"area": "Knowsley"}}, source=src
    )
    assert (sc.population.area, sc.population.label()) == ("E08000011", "Knowsley")
    eng = scenario_from_dict({"extends": BASE, "name": "x"}, source=src)
    assert eng.population.area == "england" and eng.population.label() == "England"
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict(
            {"extends": BASE, "name": "x", "population": {"area": "NHS Greater Manchestr ICB"}},
            source=src,
        )
    msg = str(e.value)
    assert msg.startswith(f"{src}: population.area: unknown place; got 'NHS Greater Manchestr")
    assert "(did you mean `NHS Greater Manchester ICB`" in msg and "\n" not in msg
    with pytest.raises(ScenarioError, match="population.composition: only used with area: local"):
        scenario_from_dict(
            {
                "extends": BASE,
                "name": "x",
                "population": {"area": "Knowsley", "composition": "c.csv"},
            },
            source=src,
        )


def test_unknown_place_is_rejected_by_run_in_one_line_exit_2(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(f"extends: {BASE}\nname: bad\npopulation: {{area: Blackpol}}\n")
    res = CliRunner().invoke(main, ["run", str(f), "-o", str(tmp_path / "out")])
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "population.area: unknown place" in lines[0]
    assert "did you mean `Blackpool`" in lines[0]
    assert not (tmp_path / "out").exists()


def test_places_command_lists_and_searches():
    res = CliRunner().invoke(main, ["places", "knowsley"])
    assert res.exit_code == 0
    assert "E08000011" in res.output and "Knowsley" in res.output
    res = CliRunner().invoke(main, ["places", "--level", "icb"])
    assert res.exit_code == 0 and "42 place(s)" in res.output
    res = CliRunner().invoke(main, ["places", "no such place"])
    assert res.exit_code == 2
    assert len(search_places("E540")) == 42


def test_a_place_runs_at_its_real_population(tmp_path):
    sc = scenario_from_dict(
        {
            "extends": BASE,
            "name": "bp",
            "population": {"area": "Blackpool", "size": 5_000, "horizon": 1},
        },
        source=str(tmp_path / "bp.yaml"),
    )
    res = povsim.run(sc)
    assert res.manifest["area_name"] == "Blackpool"
    assert round(res.manifest["real_population"]) == find_place("Blackpool").population
    table = place_composition_table("E06000009")
    assert table["count"].sum() == find_place("Blackpool").population


# --- one budget across places -----------------------------------------------------------------

INVEST = str(REPO / "scenarios" / "invest_10m.yaml")


def _places_file(tmp_path: Path, extra: str, name: str = "pl") -> Path:
    f = tmp_path / f"{name}.yaml"
    f.write_text(
        f"extends: {INVEST}\nname: {name}\n"
        "population: {size: 1000, horizon: 3}\nreplicates: 1\n"
        "optimiser: {enabled: true, step: 0.1, candidates: 1, levels: [1.0]}\n" + extra
    )
    return f


@pytest.mark.parametrize(
    "extra, expected",
    [
        ("places: [Knowsley, Blackpol]\n", "places.1: unknown place; got 'Blackpol'"),
        ("places: [Knowsley, E08000011]\n", "places.1: place listed twice"),
        (
            "places: [Knowsley, Blackpool]\nplace_strategies:\n"
            "  mine: {rule: split, split: {Knowsley: 0.5, Blackpool: 0.4}}\n",
            "place_strategies.mine.split: the budget split across places does not add up to 1",
        ),
        (
            "places: [Knowsley, Blackpool]\nplace_strategies:\n"
            "  mine: {rule: split, split: {Knowsley: 0.5, Wokingham: 0.5}}\n",
            "place_strategies.mine.split.Wokingham: not one of places:",
        ),
    ],
)
def test_bad_places_question_is_one_line_exit_2_nothing_written(tmp_path, extra, expected):
    f = _places_file(tmp_path, extra)
    res = CliRunner().invoke(main, ["compare", str(f), "-o", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], lines
    assert not (tmp_path / "out").exists()


def test_place_strategies_split_the_national_budget():
    from povsim.inputs.investment import PlaceStrategy
    from povsim.studies.places_compare import place_split

    places = [find_place(n) for n in ("Knowsley", "Wokingham", "Blackpool")]
    pop_q = np.array([p.quintiles for p in places], float)
    shortfall = np.array([20.0, 15, 12, 10, 8])
    per_head = place_split(PlaceStrategy(rule="per_head"), places, pop_q, shortfall)
    assert np.allclose(per_head, pop_q.sum(axis=1) / pop_q.sum())
    core20 = place_split(PlaceStrategy(rule="core20"), places, pop_q, shortfall)
    assert core20[1] == 0 and abs(core20.sum() - 1) < 1e-12
    unequal = place_split(PlaceStrategy(rule="most_unequal", share=0.34), places, pop_q, shortfall)
    assert unequal.argmax() == 0 and unequal[1] == 0  # Knowsley has the largest Core20 share
    need = place_split(PlaceStrategy(rule="hle_shortfall"), places, pop_q, shortfall)
    assert need[0] / per_head[0] > need[1] / per_head[1]  # more per head where more deprived


def test_places_comparison_on_a_dask_cluster_equals_the_local_run(tmp_path):
    """`--scheduler`: the places run as tasks on a Dask cluster give the same table as the
    in-process run (the same executor as `povsim sensitivity`)."""
    distributed = pytest.importorskip("distributed")
    from povsim.inputs.investment import load_investment
    from povsim.studies.places_compare import compare_places

    inv = load_investment(_places_file(tmp_path, "places: [Knowsley, Wokingham]\n"))
    one = compare_places(inv, workers=1)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        dask = compare_places(inv, client=client, checkpoint_dir=tmp_path / "ckpt")
    pd.testing.assert_frame_equal(one.table, dask.table)
    pd.testing.assert_frame_equal(one.by_place, dask.by_place)


def test_places_comparison_runs_the_same_in_process_and_on_the_pool(tmp_path):
    from povsim.inputs.investment import load_investment
    from povsim.reporting.places_report import write_places_outputs
    from povsim.studies.places_compare import compare_places

    f = _places_file(tmp_path, "places: [Knowsley, Wokingham]\n")
    inv = load_investment(f)
    ticks = []
    one = compare_places(inv, workers=1, progress=lambda d, n: ticks.append((d, n)))
    ckpt = tmp_path / "ckpt"
    two = compare_places(inv, workers=2, checkpoint_dir=ckpt)
    pd.testing.assert_frame_equal(one.table, two.table)
    assert ticks and ticks[-1][0] == ticks[-1][1]
    # a second run loads the finished places from the checkpoints: same numbers
    again = compare_places(inv, workers=1, checkpoint_dir=ckpt)
    pd.testing.assert_frame_equal(one.table, again.table)
    t = one.table
    assert list(t["rank"]) == list(range(1, len(t) + 1))
    assert set(t.strategy) == {"per_head", "core20_need", "hle_need", "most_unequal", "optimised"}
    opt = t[t.strategy == "optimised"].objective.iloc[0]
    assert opt >= t.objective.max() - 1e-12
    # every strategy spends the national budget (a year) across the places
    money = one.by_place.groupby("strategy").gbp_per_year.sum()
    assert np.allclose(money, inv.budget.per_year)
    # core20_need gives Wokingham (no Core20 residents) nothing
    bp = one.by_place.set_index(["strategy", "name"])
    assert bp.loc[("core20_need", "Wokingham"), "gbp_per_year"] == 0
    out = write_places_outputs(one, tmp_path / "out")
    html = (out / "report.html").read_text()
    assert "Knowsley" in html and "Wokingham" in html
    assert (out / "figures" / "places.png").exists()
