"""What issue 17's speed-ups must not change: caches give the numbers of the uncached path bit
for bit, and `population.size: full` means the area's real population. No timings here (they
are in benchmarks/)."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import pandas as pd
import pytest

import povsim
from povsim.cli import SIZE_OR_FULL
from povsim.inputs import uncertainty as U
from povsim.inputs.errors import ScenarioError
from povsim.inputs.loader import load_scenario, scenario_from_dict
from povsim.inputs.parameters import load_params
from povsim.model import tables as T
from povsim.model.area import area_params, real_population, resolve_size
from povsim.model.population import single_year_counts
from povsim.studies import run as R
from povsim.studies.sample_model import ScenarioModel
from povsim.studies.sensitivity import make_design

REPO = Path(__file__).resolve().parents[1]
BASE = str(REPO / "scenarios" / "baseline.yaml")
WARM = str(REPO / "scenarios" / "warm_homes_core20.yaml")
ENGLAND_CSV = REPO / "calibration" / "composition_england_mid2019.csv"


def _uncached_prevalence(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cell tables as before the memo: every profile derived afresh."""
    monkeypatch.setattr(
        T,
        "factor_prevalence",
        lambda mp, f, outside=0.0, ramp_from=None: T._factor_prevalence(mp, f, outside, ramp_from),
    )


def test_memoised_cell_tables_equal_fresh_ones(monkeypatch):
    mp = load_params({"turnover_cold_home": 0.12, "ltc_age_shift_years": [6, 4, 3, 1, 0]})
    cached = [T.build_cell_tables(mp) for _ in range(2)]  # the second from the memo
    _uncached_prevalence(monkeypatch)
    fresh = T.build_cell_tables(mp)
    for name in fresh.__dataclass_fields__:
        want = getattr(fresh, name)
        for got in cached:
            if isinstance(want, np.ndarray):
                assert np.array_equal(getattr(got, name), want), name
    # a caller writing into its profile does not change the memo's
    p = T.factor_prevalence(mp, "employed")
    p[:] = -1.0
    assert T.factor_prevalence(mp, "employed").min() >= 0.0


def test_small_sobol_sweep_equals_the_uncached_per_run_path(monkeypatch):
    """A Sobol sweep with model and intervention inputs (3 of each kind of row), cached
    (tables, parameters, populations, baselines shared between rows) against every row run
    alone with nothing memoised, at the same seed: identical outputs."""
    sc = load_scenario(
        REPO / "benchmarks" / "sensitivity_10param.yaml",
        {"population.size": 1500, "population.horizon": 5},
    )
    design = make_design("sobol", U.names(sc), 1, sc.seed)
    rows = U.to_values(sc, design.u)[:8]  # A, B and the first AB rows: both kinds of input
    cached = ScenarioModel(sc, token="cached").evaluate(rows)
    _uncached_prevalence(monkeypatch)
    alone = np.vstack(
        [ScenarioModel(sc, token=f"alone{i}").evaluate(rows[i : i + 1]) for i in range(len(rows))]
    )
    assert np.array_equal(cached, alone, equal_nan=True)
    assert np.isfinite(cached[:, 0]).all()


def test_warm_run_reuses_the_prepared_population_without_changing_numbers():
    sc = load_scenario(WARM, {"population.size": 3000, "population.horizon": 4})
    R._PREPARED.clear()
    first = povsim.run(sc)
    assert len(R._PREPARED) == 1
    (_, _, cached_pop) = next(iter(R._PREPARED.values()))
    before = cached_pop.copy()
    second = povsim.run(sc)  # from the cache
    pd.testing.assert_frame_equal(first.frame, second.frame, check_exact=True)
    pd.testing.assert_frame_equal(first.comparison, second.comparison, check_exact=True)
    for name in ("alive", "age", "smoke", "bins", "zinc", "transfer"):
        assert np.array_equal(getattr(cached_pop, name), getattr(before, name)), name
    # another seed is another population
    third = povsim.run(sc, seed=sc.seed + 1)
    assert not first.frame.value.equals(third.frame.value)


def test_reused_baseline_equals_a_fresh_one_and_a_changed_arm_is_simulated():
    """A what-if changes the arm: the second call reads the baseline of the first (same
    set-up, start year and loops) and must give exactly what a process with nothing kept
    gives; a changed arm, loop setting or model parameter is simulated, never reused."""
    sc = load_scenario(WARM, {"population.size": 3000, "population.horizon": 5})
    arm = next(iter(sc.arms))
    R._PREPARED.clear()
    R._BASELINES.clear()
    first = povsim.run(sc)
    assert len(R._BASELINES) == 1
    # the arm at half the coverage: a different arm over the same baseline
    ivs = sc.arms[arm].interventions
    half = [iv.model_copy(update={"coverage": iv.coverage / 2}) for iv in ivs]
    changed = sc.model_copy(
        update={"arms": {arm: sc.arms[arm].model_copy(update={"interventions": half})}}
    )
    phases: list[str] = []
    warm = povsim.run(changed, phase=phases.append)
    assert any("reused" in p for p in phases)
    R._PREPARED.clear()
    R._BASELINES.clear()
    cold = povsim.run(changed)
    for a, b in ((warm, cold),):
        pd.testing.assert_frame_equal(a.frame, b.frame, check_exact=True)
        pd.testing.assert_frame_equal(a.comparison, b.comparison, check_exact=True)
        for k in a.tallies:
            assert np.array_equal(a.tallies[k], b.tallies[k]), k
    # the arm really changed (not read from anywhere)
    c1 = first.comparison.set_index(["arm", "year", "sex", "quintile", "measure"]).value
    c2 = warm.comparison.set_index(["arm", "year", "sex", "quintile", "measure"]).value
    assert not c1.equals(c2)
    # loops off, or another model parameter: another baseline
    phases.clear()
    povsim.run(R.loops_off(changed), phase=phases.append)
    assert not any("reused" in p for p in phases)
    assert len(R._BASELINES) == 2


def test_size_full_is_the_real_population():
    sc = load_scenario(BASE, {"population.size": "full"})
    assert sc.population.size == "full"
    n = resolve_size(sc).population.size
    assert n == round(single_year_counts(load_params()).sum())
    assert 56_000_000 < n < 56_500_000  # England mid-2019: 56.3 million
    assert resolve_size(load_scenario(BASE)).population.size == 200_000  # others unchanged


def test_size_full_local_area_runs_one_person_per_real_person(tmp_path):
    src = pd.read_csv(ENGLAND_CSV, comment="#", skipinitialspace=True)
    src["count"] = np.round(src["count"] / 20_000)  # a small area: ~2,800 persons
    comp = tmp_path / "area.csv"
    src[["sex", "age_min", "age_max", "quintile", "count"]].to_csv(comp, index=False)
    data = {
        "extends": BASE,
        "name": "small_area",
        "population": {"area": "local", "composition": str(comp), "size": "full", "horizon": 2},
        "feedbacks": {"capacity": {"enabled": False}, "trust": {"enabled": False}},
        "arms": {},
    }
    sc = scenario_from_dict(data, source=str(tmp_path / "area.yaml"))
    real = real_population(area_params(sc))
    res = povsim.run(sc, decomposition=True)
    assert res.manifest["size"] == round(real) == int(src["count"].sum())
    assert res.manifest["real_persons_per_simulated_person"] == pytest.approx(1.0)
    assert res.manifest["full_scale"] == {"skipped": ["decomposition"]}
    assert res.decomposition is None


@pytest.mark.parametrize("bad", [50, "fulll", 2.5, 30_000_000])
def test_bad_size_is_one_line_naming_full(bad):
    with pytest.raises(ScenarioError) as e:
        load_scenario(BASE, {"population.size": bad})
    msg = str(e.value)
    assert "\n" not in msg and "population.size" in msg and "`full`" in msg


def test_cli_size_accepts_full_or_a_size_in_range():
    assert SIZE_OR_FULL.convert("full", None, None) == "full"
    assert SIZE_OR_FULL.convert("1000", None, None) == 1000
    for bad in ("50", "lots"):
        with pytest.raises(click.BadParameter):
            SIZE_OR_FULL.convert(bad, None, None)


SENS10 = REPO / "benchmarks" / "sensitivity_10param.yaml"
# The benchmark's cost-only inputs (columns 7 and 8 of its 10).
COST_COLS = [7, 8]


def _sens10(size: int, horizon: int, **warm_homes) -> object:
    """The 10-input benchmark scenario small, with ``warm_homes`` fields added (a budget,
    diminishing returns)."""
    import yaml

    data = yaml.safe_load(SENS10.read_text())
    data["population"] = {"size": size, "horizon": horizon}
    iv = data["arms"]["core20"]["interventions"][0]
    iv.update(warm_homes)
    iv["cost"] = {**iv["cost"], **warm_homes.pop("cost", {})}
    return scenario_from_dict(data, source=str(SENS10))


def _saltelli_block(sc) -> np.ndarray:
    return U.to_values(sc, make_design("sobol", U.names(sc), 1, sc.seed).u)  # 22 rows


def _alone(sc, rows: np.ndarray) -> np.ndarray:
    """Every row in its own model: simulated in full at its own cost, nothing shared."""
    return np.vstack(
        [ScenarioModel(sc, token=f"a{i}").evaluate(r[None]) for i, r in enumerate(rows)]
    )


def _columns(sc, names: tuple[str, ...]) -> list[int]:
    from povsim.studies.sample_model import OUTPUTS

    arms = list(sc.arms)
    return [a * len(OUTPUTS) + OUTPUTS.index(n) for a in range(len(arms)) for n in names]


def test_cost_only_inputs_reprice_an_earlier_arm_run_bit_for_bit():
    """Without a budget the programme's cost cannot change whom it reaches: in a Saltelli
    block AB_i of a cost input reuses A's arm run and BA_i (and B) the first run at B's
    other inputs, repriced at the row's cost (with diminishing returns, whose extra cost
    depends on the unit cost); outputs equal every row simulated alone, bit for bit."""
    sc = _sens10(1500, 5, cost={"diminishing_returns": 0.5})
    rows = _saltelli_block(sc)
    model = ScenarioModel(sc, token="reuse")
    cached = model.evaluate(rows)
    # 22 rows: 8 baselines (3 model inputs), 18 arm runs, 4 repriced (AB and BA of 2 inputs)
    assert model.simulations == {"baseline": 8, "baseline_reused": 0, "arm": 18, "arm_reused": 4}
    assert np.array_equal(cached, _alone(sc, rows), equal_nan=True)
    # A and AB_per_participant: the same health, another cost (so repricing did something)
    d = len(U.names(sc))
    health = _columns(sc, ("healthy_years_gained", "qalys_gained_disc", "hle0_gap_change"))
    money = _columns(sc, ("cost", "cost_disc", "net_cost_society_disc"))
    for i in COST_COLS:
        assert np.array_equal(cached[0, health], cached[1 + i, health])
        assert not np.any(cached[0, money] == cached[1 + i, money])
        assert np.array_equal(cached[2 * d + 1, health], cached[d + 1 + i, health])
    assert np.all(cached[:, _columns(sc, ("cost",))] > 0)


def test_with_a_budget_cost_inputs_are_simulated_not_repriced():
    """With ``budget_per_year`` the unit and fixed costs decide how many are reached: every
    row is simulated, and rows differing only in cost differ in health too."""
    sc = _sens10(3000, 5, budget_per_year=2.5e8)
    rows = _saltelli_block(sc)
    model = ScenarioModel(sc, token="budget")
    cached = model.evaluate(rows)
    assert model.simulations == {"baseline": 8, "baseline_reused": 0, "arm": 22, "arm_reused": 0}
    assert np.array_equal(cached, _alone(sc, rows), equal_nan=True)
    health = _columns(sc, ("healthy_years_gained",))
    assert not np.array_equal(cached[0, health], cached[1 + COST_COLS[0], health])


def test_an_input_of_one_arm_reuses_the_other_arms_run():
    """Two arms sharing a block: an input on one arm's block (its uptake) leaves the other
    arm's run as it was, and a cost of the shared block (no budget) reprices both; outputs
    equal each row alone, bit for bit."""
    import yaml

    data = yaml.safe_load(Path(WARM).read_text())
    for arm in data["arms"].values():
        for iv in arm["interventions"]:
            iv.pop("capacity", None)  # binds to nobody at 2,000 persons
    data["population"] = {"size": 2000, "horizon": 4}
    data["uncertainty"] = {
        "arms.core20.interventions.0.uptake": {
            "dist": "uniform",
            "min": 0.2,
            "max": 0.4,
            "source": "test",
        },
        "arms.*.interventions.warm_homes.cost.per_participant": {
            "dist": "uniform",
            "min": 3000,
            "max": 6000,
            "source": "test",
        },
    }
    sc = scenario_from_dict(data, source=WARM)
    assert list(sc.arms) == ["core20", "univ"]
    rows = U.to_values(sc, np.array([[0.2, 0.3], [0.2, 0.9], [0.7, 0.9], [0.7, 0.1]]))
    model = ScenarioModel(sc, token="arms")
    cached = model.evaluate(rows)
    # core20: rows 0, 2 run, 1 and 3 repriced; univ: row 0 run, the others repriced
    assert model.simulations == {"baseline": 1, "baseline_reused": 0, "arm": 3, "arm_reused": 5}
    assert np.array_equal(cached, _alone(sc, rows), equal_nan=True)


def test_output_only_parameters_change_no_simulation():
    """OUTPUT_ONLY_PARAMS are read only by the economics: changed all at once they leave
    every arm's tallies and deliveries bit for bit as they were, while each of them changes
    the economic settings (so the list names live parameters). Nothing in model/, engine/ or
    policy/ names them."""
    from povsim.inputs.parameters import parameter_space
    from povsim.measures.economics import EconomicSettings
    from povsim.studies.sample_model import OUTPUT_ONLY_PARAMS

    space = parameter_space()
    changed = {}
    for name in OUTPUT_ONLY_PARAMS:
        spec = space[name]
        d = spec["default"]
        if isinstance(d, list):
            changed[name] = [x * 1.5 + 1 for x in d]
        else:
            v = (d + spec["max"]) / 2 if d != spec["max"] else (spec["min"] + d) / 2
            changed[name] = int(v) if isinstance(d, int) else float(v)
        assert changed[name] != d, name
        settings = [
            EconomicSettings.from_params(load_params(o)) for o in ({}, {name: changed[name]})
        ]
        one, ref = (
            (*np.concatenate(e.utilities), e.rate_costs, e.rate_health, *e.thresholds)
            for e in settings
        )
        assert one != ref, name
    sc = load_scenario(
        REPO / "scenarios" / "proportionate_package.yaml",
        {"population.size": 2000, "population.horizon": 4},
    )
    other = sc.model_copy(update={"parameters": {**(sc.parameters or {}), **changed}})
    runs = []
    for s in (sc, other):
        R._PREPARED.clear()
        R._BASELINES.clear()
        runs.append(povsim.run(s))
    assert len(runs[0].tallies) >= 2
    for arm, tal in runs[0].tallies.items():
        assert np.array_equal(tal, runs[1].tallies[arm]), arm
    assert not runs[0].comparison.value.equals(runs[1].comparison.value)  # valued anew
    src = REPO / "src" / "povsim"
    for layer in ("model", "engine", "policy"):
        for f in (src / layer).rglob("*.py"):
            text = f.read_text()
            assert not [n for n in OUTPUT_ONLY_PARAMS if n in text], f


def test_output_only_parameters_reuse_baseline_and_arm_runs_bit_for_bit():
    """A Saltelli block over a utility, a discount rate, a relative risk and an intervention
    input: rows differing only in the first two value the same simulations anew (2 baseline
    runs for 8 baselines, 4 arm runs for 10 rows), equal to each row alone, bit for bit."""
    import yaml

    data = yaml.safe_load(SENS10.read_text())
    data["population"] = {"size": 1500, "horizon": 5}
    keep = ("parameters.rr.poor_health.cold_home", "arms.core20.interventions.warm_homes.effect")
    data["uncertainty"] = {
        "parameters.utility_ratio_not_good": {
            "dist": "uniform",
            "min": 0.6,
            "max": 0.8,
            "source": "test",
        },
        "parameters.discount_rate_health": {
            "dist": "uniform",
            "min": 0.01,
            "max": 0.03,
            "source": "test",
        },
        **{k: data["uncertainty"][k] for k in keep},
    }
    sc = scenario_from_dict(data, source=str(SENS10))
    rows = U.to_values(sc, make_design("sobol", U.names(sc), 1, sc.seed).u)
    assert len(rows) == 10
    model = ScenarioModel(sc, token="econ")
    cached = model.evaluate(rows)
    assert model.simulations == {"baseline": 2, "baseline_reused": 6, "arm": 4, "arm_reused": 6}
    assert np.array_equal(cached, _alone(sc, rows), equal_nan=True)
    # A and AB_utility: the same health and cost, other QALYs
    same = _columns(sc, ("healthy_years_gained", "cost", "hle0_gap_change"))
    assert np.array_equal(cached[0, same], cached[1, same])
    q = _columns(sc, ("qalys_gained_disc",))
    assert cached[0, q] != cached[1, q]


def test_engine_benchmark_runs_and_sets_each_rate_against_the_bare_loop(monkeypatch):
    """benchmarks/bench_engine.py at a toy size: each timed run comes with the bare loop's
    rate measured just before it and the run's share of it; the NumPy twin's states equal
    the engine's. Rates are not checked (no timings in tests), only that they are measured."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import numba

    import bare_loop
    import bench_engine

    threads = numba.get_num_threads()
    try:
        out = bench_engine.main(
            ["--size", "3000", "--years", "2", "--threads", "1", "--repeat", "2"]
            + ["--numpy-years", "1", "--no-cli"]
        )
        one = bare_loop.bare_rate(500, 3, 1)
    finally:
        numba.set_num_threads(threads)  # the benchmark sets the process's thread count
    r = out["numba"]["1"]
    assert len(r["bare_agent_steps_per_s"]) == len(r["share_of_bare"]) == 2
    assert all(b > 0 for b in r["bare_agent_steps_per_s"])
    py_per_s = [r["person_years"] / s for s in r["seconds"]]
    assert r["share_of_bare"] == pytest.approx(
        [p / b for p, b in zip(py_per_s, r["bare_agent_steps_per_s"])]
    )
    assert out["numpy"]["states_identical"]
    # The bare loop's count: every living agent of every year, once.
    assert 0.95 * 1500 < one["agent_steps"] <= 1500
