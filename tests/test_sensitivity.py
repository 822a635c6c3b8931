"""Sensitivity analysis: the uncertainty block, fast outputs, the sweep executor (resume,
identical results on any executor) and the methods (Ishigami known indices, PSA, CEAC)."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

import povsim
from povsim.cli import main
from povsim.inputs import uncertainty as U
from povsim.inputs.errors import ScenarioError
from povsim.inputs.loader import scenario_from_dict
from povsim.inputs.schema import LocalCalibration
from povsim.studies.sample_model import OUTPUTS, POPULATION_PARAMS, ScenarioModel
from povsim.studies.sensitivity import Design, Sweep, ceac, make_design, run_design, sobol_indices
from povsim.studies.sweep import FunctionModel, SweepError, run_sweep

REPO = Path(__file__).resolve().parents[1]
WARM = str(REPO / "scenarios" / "warm_homes_core20.yaml")
BASE = str(REPO / "scenarios" / "baseline.yaml")

TINY_UNCERTAINTY = {
    "parameters.rr.poor_health.cold_home": {
        "dist": "lognormal",
        "low": 1.47,
        "high": 2.63,
        "source": "test",
    },
    "arms.*.interventions.warm_homes.effect": {
        "dist": "triangular",
        "min": 0.6,
        "mode": 0.8,
        "max": 0.95,
        "source": "test",
    },
    "arms.core20.interventions.0.uptake": {
        "dist": "uniform",
        "min": 0.2,
        "max": 0.4,
        "source": "test",
    },
}


def tiny_data(uncertainty: dict | None = None, size: int = 2000, horizon: int = 5) -> dict:
    """The warm-homes scenario (two arms sharing the `warm_homes` intervention) with its own
    uncertainty block replaced (``extends`` would merge the blocks)."""
    import yaml

    data = yaml.safe_load(Path(WARM).read_text())
    # The scenario's capacity is 40,000 homes a year: at 1,000-2,000 simulated persons (each
    # ~30,000-56,000 real) it binds to zero or one home, so tiny sweeps would reach nobody.
    for arm in data["arms"].values():
        for iv in arm["interventions"]:
            iv.pop("capacity", None)
    data.update(
        extends=BASE,
        name="tiny",
        population={"size": size, "horizon": horizon},
        uncertainty=TINY_UNCERTAINTY if uncertainty is None else uncertainty,
    )
    return data


def tiny(uncertainty: dict | None = None, size: int = 2000, horizon: int = 5):
    return scenario_from_dict(
        tiny_data(uncertainty, size, horizon), source=str(REPO / "scenarios" / "tiny.yaml")
    )


def write_tiny(tmp_path: Path, size: int = 2000, horizon: int = 5) -> Path:
    import yaml

    p = tmp_path / "tiny.yaml"
    p.write_text(yaml.safe_dump(tiny_data(None, size, horizon)))
    return p


# --- the uncertainty block ------------------------------------------------------------------


def test_quantile_functions_known_answers():
    sc = tiny(
        {
            "parameters.income_sigma": {"dist": "uniform", "min": 0.5, "max": 0.7, "source": "t"},
            "parameters.job_exit_rate": {"dist": "normal", "mean": 0.08, "sd": 0.01, "source": "t"},
            "parameters.rr.mortality.obese": {
                "dist": "lognormal",
                "low": 1.41,
                "high": 1.48,
                "source": "t",
            },
            "parameters.frailty_sd": {
                "dist": "beta",
                "alpha": 2,
                "beta": 5,
                "min": 0.5,
                "max": 1.5,
                "source": "t",
            },
            "parameters.smoking_relapse": {
                "dist": "truncnorm",
                "mean": 0.02,
                "sd": 0.02,
                "min": 0.0,
                "max": 0.05,
                "source": "t",
            },
            "parameters.income_persistence": {
                "dist": "triangular",
                "min": 0.8,
                "mode": 0.85,
                "max": 0.95,
                "source": "t",
            },
        }
    )
    u = np.array([[0.5, 0.5, 0.025, 0.5, 0.5, 1 / 3], [0.25, 0.975, 0.975, 0.0, 1.0, 0.0]])
    x = U.to_values(sc, u)
    assert x[0, 0] == pytest.approx(0.6) and x[1, 0] == pytest.approx(0.55)
    assert x[0, 1] == pytest.approx(0.08) and x[1, 1] == pytest.approx(0.08 + 1.96 * 0.01, abs=1e-5)
    # lognormal: low/high are the 2.5% / 97.5% quantiles
    assert x[0, 2] == pytest.approx(1.41) and x[1, 2] == pytest.approx(1.48)
    assert x[0, 3] == pytest.approx(0.5 + stats.beta.median(2, 5))
    assert x[1, 3] == pytest.approx(0.5, abs=1e-3)  # clipped at EPS, not -inf
    assert 0.0 <= x[0, 4] <= 0.05 and x[1, 4] == pytest.approx(0.05, abs=1e-6)
    # triangular: F(mode) = (mode - min) / (max - min) = 1/3
    assert x[0, 5] == pytest.approx(0.85) and x[1, 5] == pytest.approx(0.8, abs=1e-3)


def test_arm_wildcard_and_list_index_set_every_target():
    sc = tiny(
        {
            "arms.*.interventions.warm_homes.effect": {
                "dist": "uniform",
                "min": 0.5,
                "max": 0.7,
                "source": "t",
            },
            "parameters.inverse_care_weights[4]": {
                "dist": "uniform",
                "min": 0.2,
                "max": 0.6,
                "source": "t",
            },
        }
    )
    resolved = [U.targets(sc, p) for p in sc.uncertainty]
    pt = U.point(U.scenario_data(sc), resolved, np.array([0.55, 0.3]))
    assert [a.interventions[0].effect for a in pt.arms.values()] == [0.55, 0.55]
    assert pt.parameters["inverse_care_weights"] == [1.6, 1.3, 1.0, 0.7, 0.3]


BAD_UNCERTAINTY = [
    (
        {
            "parameters.rr.poor_health.cold_hom": {
                "dist": "uniform",
                "min": 1,
                "max": 2,
                "source": "t",
            }
        },
        "uncertainty.parameters.rr.poor_health.cold_hom: unknown or unsupported path",
        "did you mean `parameters.rr.poor_health.cold_home`?",
    ),
    (
        {"parameters.income_sigma": {"dist": "normal", "mean": 0.6, "sd": 0, "source": "t"}},
        "uncertainty.parameters.income_sigma.sd: must be positive; got 0",
        "allowed > 0",
    ),
    (
        {"parameters.income_sigma": {"dist": "uniform", "min": 0.7, "max": 0.6, "source": "t"}},
        "uncertainty.parameters.income_sigma.max: must be greater than min; got 0.6",
        "> 0.7",
    ),
    (
        {
            "parameters.income_sigma": {
                "dist": "triangular",
                "min": 0.5,
                "mode": 0.9,
                "max": 0.7,
                "source": "t",
            }
        },
        "uncertainty.parameters.income_sigma.mode: must lie between min and max",
        "0.5..0.7",
    ),
    (
        {"parameters.income_sigma": {"dist": "uniform", "min": 0.5, "max": 0.7}},
        "uncertainty.parameters.income_sigma.source: required key is missing",
        "",
    ),
    (
        {
            "parameters.income_sigma": {
                "dist": "uniform",
                "min": 0.5,
                "max": 0.7,
                "sd": 1,
                "source": "t",
            }
        },
        "uncertainty.parameters.income_sigma.sd: not used by dist uniform",
        "min, max",
    ),
    (
        {"parameters.income_sigma": {"dist": "gamma", "min": 0.5, "max": 0.7, "source": "t"}},
        "uncertainty.parameters.income_sigma.dist:",
        "uniform",
    ),
    (
        {"parameters.frailty_sd": {"dist": "beta", "alpha": 0, "beta": 2, "source": "t"}},
        "uncertainty.parameters.frailty_sd.alpha: must be positive",
        "",
    ),
    (
        {
            "parameters.rr.mortality.obese": {
                "dist": "lognormal",
                "low": 0,
                "high": 2,
                "source": "t",
            }
        },
        "uncertainty.parameters.rr.mortality.obese.low: must be positive",
        "",
    ),
    # Impossible ranges: checked against the field's own validation.
    (
        {
            "arms.core20.interventions.warm_homes.effect": {
                "dist": "uniform",
                "min": 0.6,
                "max": 1.2,
                "source": "t",
            }
        },
        "uncertainty.arms.core20.interventions.warm_homes.effect: the distribution reaches 1.2",
        "is a probability for this type",
    ),
    (
        {
            "arms.core20.interventions.warm_homes.uptake": {
                "dist": "normal",
                "mean": 0.9,
                "sd": 0.1,
                "source": "t",
            }
        },
        "uncertainty.arms.core20.interventions.warm_homes.uptake: the distribution reaches",
        "use"[:0],
    ),
    (
        {"parameters.income_sigma": {"dist": "uniform", "min": 0.05, "max": 0.7, "source": "t"}},
        "uncertainty.parameters.income_sigma: the distribution reaches 0.05",
        "out of range",
    ),
    (
        {"parameters.inverse_care_weights": {"dist": "uniform", "min": 1, "max": 2, "source": "t"}},
        "uncertainty.parameters.inverse_care_weights: a list parameter: give one element by index",
        "allowed parameters.inverse_care_weights[0] .. parameters.inverse_care_weights[4]",
    ),
    (
        {
            "parameters.inverse_care_weights[5]": {
                "dist": "uniform",
                "min": 1,
                "max": 2,
                "source": "t",
            }
        },
        "unknown or unsupported path",
        "",
    ),
    (
        {
            "arms.*.interventions.no_such.effect": {
                "dist": "uniform",
                "min": 0.1,
                "max": 0.2,
                "source": "t",
            }
        },
        "uncertainty.arms.*.interventions.no_such.effect: unknown or unsupported path",
        "",
    ),
    (
        {
            "arms.*.interventions.warm_homes.effect": {
                "dist": "uniform",
                "min": 0.6,
                "max": 0.9,
                "source": "t",
            },
            "arms.univ.interventions.0.effect": {
                "dist": "uniform",
                "min": 0.6,
                "max": 0.9,
                "source": "t",
            },
        },
        "uncertainty.arms.univ.interventions.0.effect: sets the same field as "
        "`arms.*.interventions.warm_homes.effect`",
        "allowed one input per field",
    ),
    (
        {
            "arms.core20.interventions.0.start_year": {
                "dist": "uniform",
                "min": 2020,
                "max": 2022,
                "source": "t",
            }
        },
        "unknown or unsupported path",
        "field: effect, coverage",
    ),
]


@pytest.mark.parametrize("block,fragment,fragment2", BAD_UNCERTAINTY)
def test_bad_uncertainty_is_one_line_with_path(block, fragment, fragment2):
    with pytest.raises(ScenarioError) as exc:
        tiny(block)
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith(str(REPO / "scenarios" / "tiny.yaml") + ": ")
    assert fragment in msg and fragment2 in msg, msg


def test_cli_rejects_bad_or_missing_uncertainty(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        f"extends: {WARM}\nname: bad\nuncertainty:\n  parameters.income_sigma:\n"
        f"    dist: uniform\n    min: 0.9\n    max: 0.1\n    source: t\n"
    )
    res = CliRunner().invoke(main, ["sensitivity", str(bad), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert (
        res.output.count("\n") == 1
        and "uncertainty.parameters.income_sigma.max" in res.output
        and "Traceback" not in res.output
    )
    res = CliRunner().invoke(main, ["sensitivity", BASE, "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "uncertainty: required" in res.output
    assert not (tmp_path / "o").exists()


# --- fast outputs ---------------------------------------------------------------------------


def test_fast_outputs_equal_povsim_run():
    sc = tiny(size=3000, horizon=6)
    model = ScenarioModel(sc, token="eq")
    u = np.array([[0.3, 0.7, 0.5], [0.3, 0.2, 0.9], [0.8, 0.2, 0.9]])
    x = U.to_values(sc, u)
    y = model.evaluate(x)  # rows 0-1 share model parameters: the baseline is reused
    resolved = [U.targets(sc, p) for p in sc.uncertainty]
    for i in (1, 2):
        # Sweeps refit the normalisers for every sample (their relative risks are uncertain
        # calibration inputs), which is `calibration: {refit: true}` for povsim run.
        point = U.point(U.scenario_data(sc), resolved, x[i])
        point = point.model_copy(update={"calibration": LocalCalibration(refit=True)})
        res = povsim.run(point)
        c = res.comparison
        last = c[(c.year == c.year.max()) & (c.sex == "all") & (c.quintile == "all")]
        for j, arm in enumerate(sc.arms):
            got = dict(zip(OUTPUTS, y[i, j * len(OUTPUTS) : (j + 1) * len(OUTPUTS)]))
            want = last[last.arm == arm].set_index("measure").value
            for mine, theirs in (
                ("hle0_gap_change", "hle0_gap_change"),
                ("hle0_sii_change", "hle0_sii_change"),
                ("le0_gap_change", "le0_gap_change"),
                ("healthy_years_gained", "healthy_years_gained_cumulative"),
                ("cost", "cost_cumulative"),
                ("qalys_gained_disc", "qalys_gained_discounted_cumulative"),
                ("cost_disc", "cost_discounted_cumulative"),
            ):
                assert got[mine] == pytest.approx(want[theirs], rel=1e-12, abs=1e-12), mine
            assert got["cost_per_healthy_year"] == pytest.approx(
                got["cost"] / got["healthy_years_gained"]
            )
            assert got["cost"] > 0 and 0 < got["cost_disc"] < got["cost"]
            assert got["cost_per_qaly"] == pytest.approx(want["cost_per_qaly"], rel=1e-9)
    # the cached model gives the same numbers as a fresh one, row by row
    fresh = np.vstack([ScenarioModel(sc, token=f"f{i}").evaluate(x[i : i + 1]) for i in range(3)])
    assert np.array_equal(fresh, y)


def test_run_compare_and_sweep_read_one_arm_contrast():
    """`povsim sensitivity`'s outputs and `povsim compare`'s measures are the run contrast's
    numbers for the same arm: exactly where they add in the same order, to rounding where
    their order differs (see povsim.measures.contrast)."""
    from povsim.measures.contrast import Inequality, arm_contrasts
    from povsim.measures.economics import EconomicSettings
    from povsim.measures.equity import quintile_gains
    from povsim.model.area import area_params
    from povsim.studies.run import fallback_mx, simulate_arms
    from povsim.studies.sample_model import arm_outputs

    sc = tiny(size=3000, horizon=6)
    x = U.to_values(sc, np.array([[0.4, 0.6, 0.3]]))
    point = U.point(U.scenario_data(sc), [U.targets(sc, p) for p in sc.uncertainty], x[0])
    # the universal block named as a budget cell of quintile 3 (<lever>-q<k>)
    cell = point.arms["univ"].interventions[0].model_copy(update={"name": "warm-q3"})
    point.arms["cell"] = point.arms["univ"].model_copy(update={"interventions": [cell]})
    # Sweeps refit the normalisers for every sample: `calibration: {refit: true}` for a run.
    point = point.model_copy(update={"calibration": LocalCalibration(refit=True)})
    mp = area_params(point)
    econ = EconomicSettings.from_params(mp)
    runs = simulate_arms(point, mp, point.seed)
    contrasts = arm_contrasts(runs.tallies, runs.programmes, econ)
    sweep = ScenarioModel(point, token="one").evaluate(np.zeros((1, 0)))[0]
    comparison = povsim.run(point).comparison
    fallback = fallback_mx(mp)
    base = Inequality.final_year(runs.tallies["baseline"], runs.weight, fallback)
    for j, arm in enumerate(point.arms):
        c = contrasts[arm]
        # sensitivity: the same numbers as the outputs derived from the run's contrast
        mine = dict(zip(OUTPUTS, sweep[j * len(OUTPUTS) : (j + 1) * len(OUTPUTS)]))
        ineq = Inequality.final_year(runs.tallies[arm], runs.weight, fallback)
        want = arm_outputs(ineq, base, c)
        assert all(np.array_equal(mine[k], want[k], equal_nan=True) for k in OUTPUTS), arm
        # run: the comparison table's totals are the contrast's
        f = comparison[(comparison.arm == arm) & (comparison.year == comparison.year.max())]
        last = f[(f.sex == "all") & (f.quintile == "all")].set_index("measure").value
        totals = c.totals()
        assert totals["healthy_years_gained"] == last["healthy_years_gained_cumulative"]
        assert totals["cost"] == last["cost_cumulative"]
        for mine_k, run_k in (
            ("healthy_years_gained_disc", "healthy_years_gained_discounted_cumulative"),
            ("cost_disc", "cost_discounted_cumulative"),
            ("qalys_gained_disc", "qalys_gained_discounted_cumulative"),
        ):
            assert totals[mine_k] == pytest.approx(last[run_k], rel=1e-12), mine_k
        # compare: the by-quintile gains add up to the run's totals
        g = quintile_gains(c)
        part = comparison[(comparison.arm == arm) & (comparison.measure == "participants")]
        by_q = part[part.quintile != "all"].groupby("quintile").value.sum().to_numpy()
        np.testing.assert_allclose(g.participants, by_q, rtol=1e-12)
        assert g.cost_undiscounted == pytest.approx(last["cost_cumulative"], rel=1e-12)
        for total, run_k in (
            (g.qalys.sum(), "qalys_gained_discounted_cumulative"),
            (g.healthy_years.sum(), "healthy_years_gained_cumulative"),
            (g.healthy_years_disc.sum(), "healthy_years_gained_discounted_cumulative"),
            (g.life_years_disc.sum(), "life_years_gained_discounted_cumulative"),
            (g.cost.sum(), "cost_discounted_cumulative"),
        ):
            assert total == pytest.approx(last[run_k], rel=1e-12), run_k
    # a budget cell is charged to its quintile; other interventions where they reach
    assert np.flatnonzero(quintile_gains(contrasts["cell"]).cost).tolist() == [2]
    assert np.count_nonzero(quintile_gains(contrasts["univ"]).cost) == 5


def test_only_population_params_change_the_starting_population():
    """The worker caches the pre-fit population by POPULATION_PARAMS: no other parameter may
    change it (else cached samples would be wrong)."""
    from povsim.inputs.parameters import load_params, parameter_space
    from povsim.model.population import build_population
    from povsim.model.tables import build_cell_tables

    def build(overrides):
        m = load_params(overrides)
        p = build_population(m, build_cell_tables(m), 1000, 2, 5, True)
        states = (p.alive, p.age, p.sex, p.quint, p.smoke, p.bins.ravel(), p.work, p.ltc)
        return np.concatenate([x.astype(float) for x in states] + [p.good, p.zinc, p.frail])

    ref = build({})
    changed = set()
    for name, spec in parameter_space().items():
        d = spec["default"]
        if isinstance(d, list):
            v = [min(spec["max"], x * 1.1 + 0.01) for x in d]
        else:
            lo, hi = spec["min"], spec["max"]
            v = d * 0.9 if d * 0.9 >= lo and d != 0 else min(hi, d + 0.1 * (hi - lo))
            v = int(round(v)) if isinstance(d, int) and not isinstance(d, bool) else float(v)
            if v == d:
                v = d + 1 if isinstance(d, int) else d + 0.01
        if not np.array_equal(build({name: v}), ref):
            changed.add(name)
    assert changed <= set(POPULATION_PARAMS), changed - set(POPULATION_PARAMS)
    assert "working_age_max" in changed  # the check can see a change


def test_poor_health_and_ltc_onset_risks_enter_cell_tables_only_as_effect_vectors():
    """The worker reuses cell tables across samples that differ only in these paths."""
    import dataclasses

    from povsim.inputs.parameters import load_params, parameter_space
    from povsim.model.tables import build_cell_tables
    from povsim.studies.sample_model import EFFECT_ONLY

    paths = [p for p in parameter_space() if f"parameters.{p}".startswith(EFFECT_ONLY)]
    assert "rr.poor_health.cold_home" in paths and "rr.ltc_onset.obese" in paths
    ref = build_cell_tables(load_params())
    new = build_cell_tables(load_params({p: 3.0 for p in paths}))
    assert not np.array_equal(ref.or_health, new.or_health)
    for f in dataclasses.fields(ref):
        if f.name not in ("or_health", "rr_ltc"):
            assert np.array_equal(getattr(ref, f.name), getattr(new, f.name)), f.name


# --- sweeps: designs, resume, executors -------------------------------------------------------


def ishigami(x: np.ndarray) -> np.ndarray:
    from SALib.test_functions import Ishigami

    return Ishigami.evaluate(x)


def to_ishigami(u: np.ndarray) -> np.ndarray:
    return -math.pi + 2 * math.pi * u


def test_ishigami_known_indices_through_the_pool():
    """SALib's Ishigami function (a=7, b=0.1) run through the same executor as scenarios (a
    2-process pool) recovers its analytic indices within the 95% intervals."""
    names = ["x1", "x2", "x3"]
    design = make_design("sobol", names, 2048, seed=7)
    sw = run_design(
        FunctionModel(ishigami, ["y"], token="ishigami"), names, to_ishigami, design, workers=2
    )
    f, _ = sobol_indices(sw, seed=7)
    known = {"S1": [0.3139, 0.4424, 0.0], "ST": [0.5576, 0.4424, 0.2437]}
    for idx, values in known.items():
        d = f[f["index"] == idx].set_index("parameter")
        for p, v in zip(names, values):
            assert abs(d.value[p] - v) <= d.conf[p], (idx, p, d.value[p], d.conf[p])
            assert d.conf[p] < 0.1
    # x1 and x3 interact (S2 = 0.2437), the other pairs do not
    s2 = f[f["index"] == "S2"].set_index(["parameter", "parameter2"])
    assert abs(s2.value[("x1", "x3")] - 0.2437) <= s2.conf[("x1", "x3")]
    assert abs(s2.value[("x1", "x2")]) <= s2.conf[("x1", "x2")]


def test_sobol_design_prefix_is_the_smaller_design():
    """Convergence re-analyses the first N' base samples: they must form the N' design."""
    big = make_design("sobol", ["a", "b", "c", "d"], 64, seed=3)
    small = make_design("sobol", ["a", "b", "c", "d"], 16, seed=3)
    assert np.array_equal(big.u[: len(small.u)], small.u)
    assert make_design("sobol", ["a"], 48, seed=3).notes  # not a power of 2: a warning
    assert not big.notes


class Stop(Exception):
    pass


def test_killed_sweep_resumes_without_rerunning_finished_batches(tmp_path):
    names = ["x1", "x2", "x3"]
    design = make_design("sobol", names, 64, seed=11)  # 512 rows in batches of 8 rows
    rows = to_ishigami(design.u)
    ck = tmp_path / "ck"
    log = tmp_path / "rows.log"
    model = FunctionModel(ishigami, ["y"], token="ish", log=str(log))

    def stop_after(k):
        def hook(done):
            if done == k:
                raise Stop

        return hook

    with pytest.raises(Stop):
        run_sweep(model, rows, design.batch_rows, ck, key="k1", on_batch=stop_after(5))
    assert len(log.read_text().splitlines()) == 5 * design.batch_rows
    files = sorted(ck.glob("batch-*.npy"))
    assert len(files) == 5
    stamps = {p.name: p.stat().st_mtime_ns for p in files}
    res = run_sweep(model, rows, design.batch_rows, ck, key="k1")
    assert res.loaded_batches == 5 and res.ran_batches == len(rows) // design.batch_rows - 5
    # every row evaluated exactly once over the two calls
    assert len(log.read_text().splitlines()) == len(rows)
    assert {p.name: p.stat().st_mtime_ns for p in files} == stamps
    whole = run_sweep(FunctionModel(ishigami, ["y"]), rows, design.batch_rows, None)
    assert np.array_equal(res.outputs, whole.outputs)
    sw = lambda y: Sweep(design, names, rows, y, ["y"], 0.0, 0, 0)  # noqa: E731
    a, _ = sobol_indices(sw(res.outputs), seed=1)
    b, _ = sobol_indices(sw(whole.outputs), seed=1)
    pd.testing.assert_frame_equal(a, b)
    # A different command must not reuse these checkpoints.
    with pytest.raises(SweepError, match="checkpoints of a different sweep"):
        run_sweep(model, rows, design.batch_rows, ck, key="k2")


def test_cli_sweep_killed_and_rerun_matches_uninterrupted(tmp_path):
    sc = write_tiny(tmp_path)
    out = tmp_path / "killed"
    ck = tmp_path / ".killed.sweep"
    cmd = [
        sys.executable,
        "-m",
        "povsim.cli",
        "sensitivity",
        str(sc),
        "--method",
        "psa",
        "-n",
        "40",
        "-o",
        str(out),
        "-q",
        "--no-figures",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(ck.glob("batch-*.npy"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(ck.glob("batch-*.npy")))
    assert done_before >= 2 and not out.exists()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert (
        f"{done_before} batches from checkpoints" in res.stdout
        or "batches from checkpoints" in res.stdout
    )
    assert not ck.exists()  # checkpoints removed once the outputs are written
    man = json.loads((out / "manifest.json").read_text())
    assert man["batches_loaded_from_checkpoints"] >= done_before
    assert man["batches_run"] + man["batches_loaded_from_checkpoints"] == 40
    ref = tmp_path / "whole"
    r = CliRunner().invoke(
        main,
        [
            "sensitivity",
            str(sc),
            "--method",
            "psa",
            "-n",
            "40",
            "-o",
            str(ref),
            "-q",
            "--no-figures",
        ],
    )
    assert r.exit_code == 0, r.output
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "samples.parquet"), pd.read_parquet(ref / "samples.parquet")
    )
    pd.testing.assert_frame_equal(pd.read_csv(out / "psa.csv"), pd.read_csv(ref / "psa.csv"))


def test_one_worker_two_workers_and_dask_give_identical_outputs():
    distributed = pytest.importorskip("distributed")
    sc = tiny(size=2000, horizon=4)
    names = U.names(sc)
    design = make_design("psa", names, 6, seed=sc.seed)

    def run(**kw):
        model = ScenarioModel(sc, token=f"id-{kw}")
        return run_design(model, names, lambda u: U.to_values(sc, u), design, **kw).outputs

    one = run(workers=1)
    two = run(workers=2)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        dask = run(client=client)
    assert np.all(np.isfinite(one[:, :4]))
    # NaN (a ratio to zero) counts as equal to NaN: identity is what matters here.
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, dask)


# --- methods and outputs --------------------------------------------------------------------


def test_ceac_known_answer():
    """Two draws: the arm gains 10 healthy years for £100,000 or 30 for £100,000."""
    names = ["p"]
    design = Design("psa", np.zeros((2, 1)), 2, 1)
    y = np.array([[10.0, 100_000.0], [30.0, 100_000.0]])
    sw = Sweep(
        design, names, np.zeros((2, 1)), y, ["a.qalys_gained_disc", "a.cost_disc"], 0.0, 0, 0
    )
    ce = ceac(sw, ["a"], thresholds=np.array([0.0, 4_000.0, 5_000.0, 20_000.0]))
    best = ce[ce.option == "a"].set_index("threshold").p_best
    assert list(best) == [0.0, 0.5, 0.5, 1.0]  # break-even at £10,000 and £3,333
    assert (ce.groupby("threshold").p_best.sum() == 1).all()


def test_cli_sobol_writes_tidy_outputs_atomically(tmp_path):
    sc = write_tiny(tmp_path)
    out = tmp_path / "sobol"
    res = CliRunner().invoke(
        main,
        ["sensitivity", str(sc), "-n", "4", "-o", str(out), "--workers", "1", "--resamples", "50"],
    )
    assert res.exit_code == 0, res.output
    for name in (
        "samples.csv",
        "samples.parquet",
        "indices.csv",
        "convergence.csv",
        "manifest.json",
        "figures/indices.png",
        "figures/convergence.png",
    ):
        assert (out / name).is_file(), name
    d = len(TINY_UNCERTAINTY)
    samples = pd.read_parquet(out / "samples.parquet")
    assert len(samples) == 4 * (2 * d + 2)
    assert {"core20.hle0_gap_change", "univ.cost", *TINY_UNCERTAINTY} <= set(samples.columns)
    idx = pd.read_csv(out / "indices.csv")
    cols = ["output", "parameter", "parameter2", "index", "value", "conf", "underpowered"]
    assert list(idx.columns) == cols
    assert {"S1", "ST", "S2"} <= set(idx["index"])
    # N = 4 cannot determine a total index: flagged in the table, the manifest and the console.
    st = idx[idx["index"] == "ST"]
    assert (
        st.underpowered.astype(bool).any() and idx[idx["index"] != "ST"].underpowered.isna().all()
    )
    bad = st[st.underpowered.astype(bool)]
    assert ((bad.conf > 0.15) | (bad.value - bad.conf > 1) | (bad.value + bad.conf < 0)).all()
    assert "under-powered Sobol sweep" in res.output and "use a larger -n (now 4" in res.output
    man = json.loads((out / "manifest.json").read_text())
    assert (
        man["rows"] == len(samples)
        and man["parameters"]["parameters.rr.poor_health.cold_home"]["source"] == "test"
    )
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    # The workbook copies every table; the report leads with the answer (issue 15 item 6).
    book = pd.read_excel(out / "tables.xlsx", sheet_name=None)
    assert list(book)[:1] == ["README"] and man["workbook"]["sheets"] == list(book)
    for name in ("indices", "convergence"):
        pd.testing.assert_frame_equal(
            book[name], pd.read_csv(out / f"{name}.csv"), check_dtype=False
        )
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.index("What this means") < html.index("What was run")
    assert "the uncertain input that matters most" in html
    assert "not settled" in html  # N = 4: the report warns the ranking is not settled


def test_cli_morris_and_psa(tmp_path):
    sc = write_tiny(tmp_path, size=1000, horizon=4)
    out = tmp_path / "morris"
    res = CliRunner().invoke(
        main,
        [
            "sensitivity",
            str(sc),
            "--method",
            "morris",
            "-n",
            "3",
            "-o",
            str(out),
            "-q",
            "--resamples",
            "50",
            "--no-figures",
        ],
    )
    assert res.exit_code == 0, res.output
    idx = pd.read_csv(out / "indices.csv")
    assert {"mu", "mu_star", "sigma"} == set(idx["index"])
    assert len(pd.read_csv(out / "samples.csv")) == 3 * (len(TINY_UNCERTAINTY) + 1)
    out = tmp_path / "psa"
    res = CliRunner().invoke(
        main, ["sensitivity", str(sc), "--method", "psa", "-n", "12", "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "probability the HLE gap narrows" in res.output
    psa = pd.read_csv(out / "psa.csv")
    p = psa[psa.statistic == "p_gap_narrows"].value
    assert len(p) == 2 and ((p >= 0) & (p <= 1)).all()
    # Each probability with its Wilson interval (containing it) and its number of draws.
    w = psa[psa.output == "hle0_gap_change"].pivot(index="arm", columns="statistic", values="value")
    assert (w.p_gap_narrows_lo <= w.p_gap_narrows).all()
    assert (w.p_gap_narrows <= w.p_gap_narrows_hi).all()
    assert (w.p_gap_narrows_hi - w.p_gap_narrows_lo > 0.2).all() and (w.draws == 12).all()
    assert "too few PSA draws (12)" in res.output and "draws)" in res.output
    ce = pd.read_csv(out / "ceac.csv")
    assert np.allclose(ce.groupby("threshold").p_best.sum(), 1.0)
    assert (out / "figures" / "ceac.png").is_file()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Across 12 draws of the uncertain inputs, core20 narrows the HLE gap" in html
    book = pd.read_excel(out / "tables.xlsx", sheet_name=None)
    pd.testing.assert_frame_equal(book["psa"], psa, check_dtype=False)


def test_shipped_scenario_has_sourced_uncertainty():
    from povsim.inputs.loader import load_scenario

    sc = load_scenario(WARM)
    assert len(sc.uncertainty) >= 5
    for path, spec in sc.uncertainty.items():
        assert len(spec.source) > 20, path
