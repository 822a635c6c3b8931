"""Precision: within-run Monte Carlo intervals, the few-events flag, under-powered sweep
warnings, the PSA probability interval, the run-time estimate and the Core20 share."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from povsim.cli import main
from povsim.measures import precision as P
from povsim.measures.equity import core20_share, pooled_share
from povsim.studies import estimate as E

REPO = Path(__file__).resolve().parents[1]
SMOKING = REPO / "scenarios" / "stop_smoking_core20.yaml"


def scenario(size: int, horizon: int, seed: int = 11):
    from povsim.inputs.loader import load_scenario

    return load_scenario(
        SMOKING, {"population.size": size, "population.horizon": horizon, "seed": seed}
    )


def final(comp: pd.DataFrame, measure: str, quintile: str = "all", arm: str = "core20"):
    r = comp[
        (comp.arm == arm)
        & (comp.sex == "all")
        & (comp.quintile == quintile)
        & (comp.measure == measure)
        & (comp.year == comp.year.max())
    ]
    assert len(r) == 1, measure
    return r.iloc[0]


@pytest.fixture(scope="module")
def runs():
    """One 10,000-person, 12-year run (within-run intervals) and 5 replicates of it. (At
    6,000 persons quintile 1 of some seeds has no discordant death or health state in any
    block, so its expectancy changes have no within-run interval, as documented.)"""
    from povsim.studies.run import run

    sc = scenario(10000, 12)
    one = run(sc)
    five = run(sc, replicates=5)
    return one, five


def test_block_tallies_add_up_to_the_run_tallies():
    from povsim.model import registry as R
    from povsim.model.area import area_params
    from povsim.studies.run import simulate_arms

    sc = scenario(3000, 4)
    plain = simulate_arms(sc, area_params(sc), sc.seed)
    runs = simulate_arms(sc, area_params(sc), sc.seed, within=True)
    assert runs.blocks is not None and set(runs.blocks) == {"baseline", "core20", "univ"}
    for arm, b in runs.blocks.items():
        # recording changes nothing, and the blocks add up to the run's own tallies
        assert np.array_equal(plain.tallies[arm], runs.tallies[arm])
        s = b.sum(axis=1)
        t = runs.tallies[arm]
        for j, col in ((0, R.S_EXPO), (1, R.S_GOOD), (2, R.S_DEATHS)):
            assert np.allclose(s[..., j], t[..., col], rtol=1e-12, atol=1e-6)
        assert b.shape[1] == 16 and (b[..., 0] > 0).sum(axis=(0, 2)).min() > 0  # no empty block


def test_single_run_has_within_run_intervals_containing_the_replicate_mean(runs):
    one, five = runs
    comp, pooled = one.comparison, five.comparison
    headline = [
        ("hle0_change", "1"),
        ("hle0_change", "all"),
        ("hle0_gap_change", "all"),
        ("hle0_sii_change", "all"),
        ("healthy_years_gained_cumulative", "all"),
        ("qalys_gained_discounted_cumulative", "all"),
    ]
    for measure, q in headline:
        r = final(comp, measure, q)
        assert np.isfinite(r.se) and r.se > 0, measure
        assert r.lo < r.value < r.hi and np.isclose(r.hi - r.value, 1.96 * r.se, rtol=1e-3)
        mean = final(pooled, measure, q).value
        assert r.lo <= mean <= r.hi, (measure, r.lo, mean, r.hi)
    # Deaths averted at this size rest on a handful of simulated deaths: flagged; with no
    # discordant death at all the interval is undefined rather than zero-width.
    d = final(comp, "deaths_averted_cumulative")
    assert d.sim_n < P.MIN_SIMULATED_EVENTS and P.imprecise(d.sim_n)
    assert np.isnan(d.se) or d.lo <= final(pooled, "deaths_averted_cumulative").value <= d.hi
    # The replicates' own t interval contains their mean; simulated events add up.
    p = final(pooled, "healthy_years_gained_cumulative")
    assert p.lo < p.value < p.hi and p.sim_n >= final(comp, "healthy_years_gained_cumulative").sim_n
    # Common random numbers: the change is far more precise than the independence bound.
    lv = one.frame[(one.frame.year == one.frame.year.max()) & (one.frame.sex == "all")]
    lv = lv.set_index(["arm", "quintile", "measure"]).se
    bound = np.hypot(lv[("core20", "all", "hle0")], lv[("baseline", "all", "hle0")])
    assert final(comp, "hle0_change").se < 0.5 * bound
    # Ratios: the cost per QALY interval comes from the QALY interval and contains the value.
    # (undefined when the QALY interval includes zero).
    c, q = final(comp, "cost_per_qaly"), final(comp, "qalys_gained_discounted_cumulative")
    if q.lo > 0:
        assert c.lo <= c.value <= c.hi
    else:
        assert np.isnan(c.lo) and np.isnan(c.hi)


def test_within_run_interval_shrinks_as_one_over_root_size():
    from povsim.model.area import area_params
    from povsim.studies.run import run_once

    se = {}
    for n in (2000, 8000):
        sc = scenario(n, 8)
        comp = run_once(sc, area_params(sc), sc.seed)[1]
        se[n] = final(comp, "healthy_years_gained_cumulative", arm="univ").se
    # real persons: se ~ 1 / sqrt(size), so 4x the persons halves it (generous bounds)
    assert 1.3 < se[2000] / se[8000] < 3.2, se


@pytest.mark.parametrize("uniform", [True, False])
def test_block_counts_in_parallel_equal_the_sequential_sums(uniform):
    """With one weight for all, the blocks are counted in parallel and weighted: the doubles
    must be those of adding the weight person by person; mixed weights take that path."""
    from povsim.engine import blocks as B
    from povsim.inputs import layout as L

    rng = np.random.default_rng(3)
    n = 50_000
    alive = (rng.random(n) < 0.9).astype(np.uint8)
    age = rng.integers(0, 101, n).astype(np.uint8)
    sex = rng.integers(0, 2, n).astype(np.uint8)
    quint = rng.integers(0, 5, n).astype(np.uint8)
    good = (rng.random(n) < 0.7).astype(np.uint8)
    pid = rng.permutation(n).astype(np.int32)
    weight = np.full(n, 1126.3) if uniform else rng.uniform(500, 1500, n)
    rec = B.BlockTally(1)
    rec.before(alive, age, sex, quint)
    died = alive.copy()
    died[rng.random(n) < 0.05] = 0
    rec.after(0, died, good, weight, pid)
    want = np.zeros((B.N_BLOCKS, L.N_CELL, B.N_BSTAT))
    B._finish(B._start(alive, age, sex, quint), died, good, weight, pid, want)
    assert np.array_equal(rec.out[0], want)
    assert want[..., B.B_DEATHS].sum() > 0 and want[..., B.B_GOOD].sum() > 0


def test_grouped_age_sums_equal_numpy():
    """The blocks' sums by sex, quintile (and all) over ages: the doubles of NumPy's."""
    from povsim.inputs import layout as L

    rng = np.random.default_rng(9)
    full = rng.exponential(1000.0, (4, 16, L.N_CELL, 4)) * (rng.random((4, 16, L.N_CELL, 4)) < 0.8)
    got = P._grouped_age_sums(full)
    want = P._grouped_blocks(full).sum(axis=4)
    assert got.shape == want.shape
    assert np.array_equal(got, want)


def _numpy_expectancies(g, weight, fallback):
    """The reference the Numba jackknife must equal: LE/HLE at birth and 65 and their gaps
    and SIIs of grouped block tallies (H, 3, 6, N_AGE, 3) by the NumPy life-table functions,
    with counted-death rates."""
    from povsim.engine.blocks import B_DEATHS, B_EXPO, B_GOOD
    from povsim.measures import life_table as M
    from povsim.measures.results import rates
    from povsim.model import registry as R

    shape = (*g.shape[:-1], max(R.S_EXPO, R.S_HAZ, R.S_HAZ2, R.S_GOOD) + 1)
    full = np.zeros(shape)
    full[..., R.S_EXPO] = g[..., B_EXPO]
    full[..., R.S_HAZ] = g[..., B_DEATHS]
    full[..., R.S_GOOD] = g[..., B_GOOD]
    mx, _, good, _ = rates(full, weight, fallback)
    out = {
        "le0": M.life_expectancy(mx, 0),
        "le65": M.life_expectancy(mx, 65),
        "hle0": M.sullivan_hle(mx, good, 0),
        "hle65": M.sullivan_hle(mx, good, 65),
    }
    return P._with_gaps_and_siis(out, g[..., B_EXPO].sum(axis=-1)[..., :5])


def test_jackknife_of_all_replicates_at_once_equals_one_at_a_time():
    """The vectorised jackknife gives the very doubles of the delete-one loop."""
    from povsim.inputs.parameters import load_params
    from povsim.model.area import area_params
    from povsim.studies.run import fallback_mx, simulate_arms

    sc = scenario(4000, 6)
    ar = simulate_arms(sc, area_params(sc), sc.seed, within=True)
    assert ar.blocks is not None
    blocks, weight = ar.blocks, ar.weight
    arm = next(k for k in blocks if k != "baseline")
    fb = fallback_mx(load_params())
    got = P.jackknife_se(blocks[arm], blocks["baseline"], weight, fb)
    ga, gb = P._grouped_blocks(blocks[arm]), P._grouped_blocks(blocks["baseline"])
    k = ga.shape[1]
    ta, tb = ga.sum(axis=1), gb.sum(axis=1)
    pseudo: dict[str, list[np.ndarray]] = {}
    for j in range(k):
        ea = _numpy_expectancies(ta - ga[:, j], weight, fb)
        eb = _numpy_expectancies(tb - gb[:, j], weight, fb)
        for name, v in ea.items():
            pseudo.setdefault(name, []).append(v - eb[name])
    assert set(got) == set(pseudo)
    for name, vals in pseudo.items():
        arr = np.stack(vals)
        want = np.sqrt((k - 1) / k * np.sum((arr - arr.mean(axis=0)) ** 2, axis=0))
        assert np.array_equal(got[name], want, equal_nan=True), name
        assert np.isfinite(want).any(), name


def test_batch_means_se_is_the_sd_of_a_sum_of_blocks():
    rng = np.random.default_rng(0)
    sums = []
    for _ in range(400):
        d = rng.normal(1.0, 2.0, size=(1, 16))
        sums.append((d.sum(), P.batch_se(d)[0]))
    s = np.array(sums)
    # the true sd of a sum of 16 N(1, 2^2) is 8; the mean estimate is close to it
    assert 7.0 < s[:, 1].mean() < 8.5 and 7.0 < s[:, 0].std() < 9.0


def test_few_events_flag_at_small_size_and_not_at_large(tmp_path):
    from povsim.reporting.summary import arm_headlines
    from povsim.studies.run import run

    assert P.imprecise(2) and P.imprecise(29) and not P.imprecise(30)
    assert not P.imprecise(float("nan")) and not P.imprecise(None)
    assert P.imprecise_note(2) == (
        "imprecise: rests on 2 simulated deaths; use --size or --replicates"
    )
    small = arm_headlines(run(scenario(1500, 10)))["univ"]
    assert small["deaths_averted"]["imprecise"] and small["healthy_years_gained"]["imprecise"]
    assert small["deaths_averted"]["simulated_events"] < 30
    large = arm_headlines(run(scenario(25000, 12)))["univ"]
    hy = large["healthy_years_gained"]
    assert hy["simulated_events"] >= 30 and "imprecise" not in hy
    # The CLI says it, and so does the report (parsed).
    sc = tmp_path / "s.yaml"
    sc.write_text(f"extends: {SMOKING}\npopulation:\n  size: 1500\n  horizon: 6\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(sc), "-o", str(out), "--no-figures"])
    assert res.exit_code == 0, res.output
    assert "deaths averted imprecise: rests on" in res.output
    assert "use --size or --replicates" in res.output
    assert "within-run" in res.output
    html = (out / "report.html").read_text()
    assert "within-run Monte Carlo interval" in html
    summ = json.loads((out / "summary.json").read_text())
    da, hy = summ["arms"]["univ"]["deaths_averted"], summ["arms"]["univ"]["healthy_years_gained"]
    assert da["imprecise"] and da["simulated_events"] < 30
    # Either flagged as resting on few events or given an interval that holds its value.
    assert hy.get("imprecise") or hy["lo"] <= hy["value"] <= hy["hi"]
    comp = pd.read_csv(out / "comparison.csv")
    assert {"se", "lo", "hi", "sim_n"} <= set(comp.columns)


def test_sobol_warning_fires_when_under_powered_and_not_when_well_powered():
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    problem = {"num_vars": 3, "names": ["a", "b", "c"], "bounds": [[0, 1]] * 3}

    def indices(n: int) -> pd.DataFrame:
        x = sample.sample(problem, n, calc_second_order=False, seed=1)
        y = x[:, 0] + 0.5 * x[:, 1] ** 2 + 0.1 * x[:, 2]  # an analytic model
        si = analyze.analyze(problem, y, calc_second_order=False, num_resamples=200, seed=1)
        rows = [
            ("y", p, "", idx, si[idx][j], si[f"{idx}_conf"][j])
            for j, p in enumerate(problem["names"])
            for idx in ("S1", "ST")
        ]
        return pd.DataFrame(
            rows, columns=["output", "parameter", "parameter2", "index", "value", "conf"]
        )

    tiny, good = indices(4), indices(2048)
    assert P.sobol_warning(good, 2048) is None
    assert not P.sobol_flags(good).dropna().any()
    w = P.sobol_warning(tiny, 4)
    assert w is not None and "under-powered Sobol sweep" in w and "now 4; try 256" in w
    # ST outside [0, 1] beyond its interval is flagged even with a narrow interval
    odd = pd.DataFrame(
        [
            ("y", "a", "", "ST", 6.64, 0.05),
            ("y", "b", "", "ST", 0.3, 0.05),
            ("y", "a", "", "S1", 2.0, 0.01),
        ],
        columns=["output", "parameter", "parameter2", "index", "value", "conf"],
    )
    flags = P.sobol_flags(odd)
    assert bool(flags[0]) and not bool(flags[1]) and pd.isna(flags[2])
    assert "1 outside [0, 1]" in P.sobol_warning(odd, 8)
    # An index table with None in it (object columns, as a sweep's S2 rows can give) is read
    # as numbers: `povsim sensitivity --method sobol` raised a TypeError here before.
    mixed = odd.astype({"value": object, "conf": object})
    mixed.loc[2, "conf"] = None
    flags = P.sobol_flags(mixed)
    assert bool(flags[0]) and not bool(flags[1]) and pd.isna(flags[2])
    assert "1 outside [0, 1]" in P.sobol_warning(mixed, 8)


def test_psa_probability_interval():
    lo, hi = P.wilson(16, 16)
    assert hi == 1.0 and 0.79 < lo < 0.82  # 16 of 16: p = 1, 95% Wilson 0.81 to 1
    lo, hi = P.wilson(50, 100)
    assert np.isclose(lo, 0.4038, atol=1e-3) and np.isclose(hi, 0.5962, atol=1e-3)
    assert P.wilson(0, 12)[0] == 0.0 and P.wilson(12, 12)[1] == 1.0
    for k, n in ((0, 5), (0, 12), (3, 7), (999, 1000), (12, 12)):
        lo, hi = P.wilson(k, n)
        assert 0 <= lo <= k / n <= hi <= 1
    assert "too few PSA draws (16)" in P.psa_warning(16) and "0.81 to 1.00" in P.psa_warning(16)
    assert P.psa_warning(P.PSA_MIN_DRAWS) is None


def test_runtime_estimate_arithmetic():
    w = E.Workload(runs=11_264, persons=50_000, years=30)
    assert w.person_years == 11_264 * 50_000 * 30
    s = E.estimate_seconds(w, 2.5e-8)  # an injected cost per person-year
    assert np.isclose(s, 422.4)
    assert E.format_estimate(w, s) == "estimated 7 min (11,264 runs of 50,000 persons x 30 years)"
    assert E.format_duration(45) == "45 s" and E.format_duration(3 * 3600) == "3.0 h"
    assert E.may_take_a_minute(w) and not E.may_take_a_minute(E.Workload(3, 2000, 5))


def test_runtime_estimate_is_printed_and_not_when_quiet(tmp_path, monkeypatch):
    sc = tmp_path / "s.yaml"
    sc.write_text(f"extends: {SMOKING}\npopulation:\n  size: 1000\n  horizon: 2\n")
    monkeypatch.setenv(E.ENV_COST, "1e-3")  # 1 ms per person-year: 6 runs x 2,000 py = 12 s
    args = ["run", str(sc), "--no-figures", "--replicates", "5"]
    res = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    # (5 replicates + loops-off check) x 3 arms = 18 runs x 1,000 x 2 at 1 ms = 36 s: no line
    assert "estimated" not in res.output
    monkeypatch.setenv(E.ENV_COST, "1e-2")  # 360 s
    res = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "b")])
    assert "estimated 6 min (18 runs of 1,000 persons x 2 years)" in res.output
    res = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "c"), "-q"])
    assert res.exit_code == 0 and "estimated" not in res.output


# One calibration run of 4,000 persons is mostly fixed costs: priced from it alone, the
# 150,000-person run came out at 23x its time (England at full scale at 20x); the marginal
# cost between two calibration sizes prices both within the (generous: a shared, noisy
# machine) factor.
@pytest.mark.parametrize(("size", "horizon", "factor"), [(4000, 10, 6), (150_000, 5, 5)])
def test_measured_estimate_is_within_a_factor_of_the_actual_time(size, horizon, factor):
    from povsim.model.area import area_params
    from povsim.studies.run import run_once

    sc = scenario(size, horizon)
    cost = E.measure_cost(sc)
    mp = area_params(sc)
    t0 = time.perf_counter()
    run_once(sc, mp, sc.seed)
    actual = time.perf_counter() - t0
    est = E.estimate_seconds(E.Workload(len(sc.arms) + 1, size, horizon), cost)
    assert actual / factor < est < actual * factor, (est, actual)


def test_sweep_runs_count_every_arm_and_one_baseline_per_model_sample():
    from povsim.inputs.loader import load_scenario
    from povsim.studies.sensitivity import make_design, sweep_runs

    sc = load_scenario(REPO / "benchmarks" / "sensitivity_10param.yaml")
    names = list(sc.uncertainty)
    d = make_design("sobol", names, 8, sc.seed, True)
    # each Saltelli block: A, B and the AB/BA rows of the 3 model inputs carry new model
    # values (8 baselines); the 7 intervention-only inputs' rows reuse them; the AB/BA rows
    # of the 2 cost inputs (no budget) reuse A's and B's arm runs (18 of 22)
    assert len(sc.arms) == 1 and sweep_runs(sc, d) == 8 * 18 + 8 * 8
    psa = make_design("psa", names, 16, sc.seed)
    assert sweep_runs(sc, psa) == 16 * len(sc.arms) + 16


def test_core20_share_is_bounded_and_its_interval_contains_it():
    # another quintile loses: Q1 / total would be 30 / 25 = 120%
    assert core20_share(np.array([30.0, -10.0, 5.0, 0.0, 0.0])) == pytest.approx(30 / 35)
    assert core20_share(np.array([-3.0, 4.0, 4.0, 0.0, 2.0])) == 0.0
    assert np.isnan(core20_share(np.array([-1.0, -2.0, 0.0, 0.0, 0.0])))
    q = np.array([3.0, 2.0, 1.0, 1.0, 1.0])
    assert core20_share(q) == q[0] / q.sum()  # unchanged when every quintile gains
    # a t interval around 0.79 would reach 1.39: clipped, it still contains the mean
    shares = np.array([1.0, 0.97, 0.99, 0.2])
    v, lo, hi, note = pooled_share(shares, 3.18)
    assert 0 <= lo <= v <= hi == 1 and note == "" and v == pytest.approx(0.79)
    v, lo, hi, note = pooled_share(np.array([0.5, np.nan]), 12.7)
    assert np.isnan(v) and "no QALYs gained" in note
    assert np.isnan(pooled_share(np.array([0.4]), np.nan)[1])


def test_precision_adds_replicates_until_the_headline_interval_is_narrow_enough():
    from povsim.studies.run import headline_half_width, run

    sc = scenario(1500, 5)
    loose = run(sc, replicates=4, precision=50.0)
    pr = loose.manifest["precision"]
    assert loose.manifest["replicates"] <= 2 and pr["met"] and pr["reached_years"] < 50
    assert headline_half_width(loose.comparison) == pytest.approx(pr["reached_years"])
    tight = run(sc, replicates=3, precision=1e-9)
    pr = tight.manifest["precision"]
    assert tight.manifest["replicates"] == 3 and not pr["met"] and pr["reached_years"] > 1e-9
    assert run(sc).manifest["precision"] is None
