"""The state registry is the single source of the kernel's indices: a new binary risk factor
is one registry row plus its calibration rows (issue 11). Proved here with a dummy factor
added in a fixture and run through the Numba kernel and its NumPy twin."""

from __future__ import annotations

import copy
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from povsim.engine.simulate import prepare, simulate
from povsim.inputs.parameters import calibration_dir, load_params
from povsim.measures.results import prevalences, tidy
from povsim.model import registry as R
from povsim.model.registry import FACTORS, Factor, Registry
from povsim.reporting import run_figures

_NS_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "numpy_step.py"

# The one registry row of the new factor (the next free draw numbers: 12 yearly, 18 at
# creation, since 14-17 are the households').
DUMMY = Factor(
    "dummy",
    attr="dummy",
    draw=12,
    init_draw=18,
    turnover="turnover_dummy",
    measure="dummy_share",
    label="Dummy factor (% adults)",
    adult_only=True,
)


def _calibration_with_dummy(dest: Path, effects: bool) -> Path:
    """A copy of calibration/ with the dummy's rows: prevalence by age band, gradient by
    quintile, turnover, and (with ``effects``) its relative risks."""
    shutil.copytree(calibration_dir(), dest)
    src = "test fixture: a made-up factor"
    with open(dest / "prevalence_by_age_sex.csv", "a") as f:
        for lo, hi, p in ((0, 15, 0.05), (16, 44, 0.2), (45, 64, 0.3), (65, 100, 0.25)):
            f.write(f'dummy,all,{lo},{hi},{p},assumption,"{src}"\n')
    with open(dest / "prevalence_gradient_by_quintile.csv", "a") as f:
        for q, rel in enumerate((1.4, 1.2, 1.0, 0.8, 0.6), start=1):
            f.write(f'dummy,all,{q},{rel},assumption,"{src}"\n')
    if effects:
        with open(dest / "relative_risks.csv", "a") as f:
            for outcome, rr in (("mortality", 1.5), ("ltc_onset", 1.3), ("poor_health", 2.0)):
                f.write(f'dummy,{outcome},{rr},{rr},{rr},assumption,"{src}"\n')
    with open(dest / "parameters.yaml", "a") as f:
        f.write(
            "\nturnover_dummy:\n  value: 0.1\n  min: 0.0\n  max: 1.0\n  unit: per person-year\n"
            f'  tag: assumption\n  source: "{src}"\n'
        )
    return dest


@pytest.fixture(scope="module")
def NS():
    spec = importlib.util.spec_from_file_location("povsim_bench_numpy_step_reg", _NS_PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def dummy_registry() -> Registry:
    return Registry(FACTORS + (DUMMY,))


@pytest.fixture(scope="module")
def dummy_mp(tmp_path_factory):
    """Model parameters from a calibration folder with the dummy's rows and effects."""
    return load_params(
        directory=_calibration_with_dummy(tmp_path_factory.mktemp("c") / "cal", effects=True)
    )


def test_dummy_factor_kernel_and_numpy_twin_agree(NS, dummy_registry, dummy_mp):
    """The dummy factor runs through the real yearly loop, in the Numba kernel and in the
    NumPy twin: every state (the dummy's column included) bit-identical after every year,
    tallies identical."""
    reg, mp = dummy_registry, dummy_mp
    size, years, seed = 20_000, 3, 23
    tables, pop0 = prepare(mp, size, years, seed, registry=reg)
    assert pop0.bins.shape == (pop0.size, reg.k) and reg.k == len(FACTORS) + 1
    j = reg.index("dummy")
    assert pop0.dummy is not None and np.shares_memory(pop0.dummy, pop0.bins)
    start = pop0.factor("dummy")[pop0.alive == 1].mean()
    assert 0.1 < start < 0.3  # drawn from its prevalence table

    def run(numpy: bool):
        tb, pop = copy.deepcopy(tables), pop0.copy()
        snaps = []
        if numpy:
            with NS.numpy_kernel():
                tal = simulate(
                    mp, tb, pop, years, seed, progress=lambda t: snaps.append(pop.copy())
                )
        else:
            tal = simulate(mp, tb, pop, years, seed, progress=lambda t: snaps.append(pop.copy()))
        return tal, snaps

    tal_nb, snaps_nb = run(False)
    tal_np, snaps_np = run(True)
    for t in range(years):
        diffs = {k: v for k, v in NS.compare_states(snaps_nb[t], snaps_np[t]).items() if v}
        assert not diffs, f"year {t}: persons differing per state: {diffs}"
        np.testing.assert_array_equal(tal_np[t], tal_nb[t], err_msg=f"tallies, year {t}")
    # The dummy moved (incidence and remission) and is tallied in its own column.
    assert (snaps_nb[-1].bins[:, j] != pop0.bins[:, j]).sum() > 100
    col = reg.stat("dummy")
    assert tal_nb[..., col].sum() > 0
    assert (tal_nb[..., col] <= tal_nb[..., R.S_EXPO] * (1 + 1e-12)).all()
    # Its measure is in the results table, after the existing prevalences.
    frame = tidy(tal_nb, 2019, "baseline", float(pop0.weight[0]), np.full((3, 101), 0.01), reg)
    share = frame[
        (frame.measure == "dummy_share") & (frame.sex == "all") & (frame.quintile == "all")
    ]
    assert len(share) == years and ((share.value > 0.1) & (share.value < 0.4)).all()
    assert list(prevalences(reg))[-1] == "dummy_share"
    assert reg.prevalences[-1].label == DUMMY.label


def test_dummy_factor_effects_reach_mortality(dummy_registry, dummy_mp, mp):
    """With its relative risks the dummy changes who dies; the default registry does not know
    it. (Same seed, same persons: only the effects differ.)"""
    size, years, seed = 8_000, 2, 5
    tb, pop = prepare(dummy_mp, size, years, seed, registry=dummy_registry)
    tal = simulate(dummy_mp, tb, pop, years, seed)
    assert tb.rr_mort[dummy_registry.exposure_names.index("dummy")] == 1.5
    tb0, pop0 = prepare(mp, size, years, seed)
    tal0 = simulate(mp, tb0, pop0, years, seed)
    assert not np.array_equal(tal[..., R.S_DEATHS], tal0[..., R.S_DEATHS])


def test_factor_without_effects_changes_no_existing_number(dummy_registry, tmp_path, mp):
    """A factor whose relative risks are all 1 (no rows in relative_risks.csv) multiplies every
    effect product by exactly 1.0 and takes only new draw numbers: every existing tally and
    every existing measure of the results table stays bit-identical."""
    mp_dummy = load_params(directory=_calibration_with_dummy(tmp_path / "cal", effects=False))
    size, years, seed = 8_000, 3, 9
    tb0, pop0 = prepare(mp, size, years, seed)
    tal0 = simulate(mp, tb0, pop0, years, seed)
    tb1, pop1 = prepare(mp_dummy, size, years, seed, registry=dummy_registry)
    tal1 = simulate(mp_dummy, tb1, pop1, years, seed)
    np.testing.assert_array_equal(tal1[..., : R.REGISTRY.n_stats], tal0)
    np.testing.assert_array_equal(pop1.bins[:, : R.REGISTRY.k], pop0.bins)
    w, fb = float(pop0.weight[0]), np.full((3, 101), 0.01)
    f0 = tidy(tal0, 2019, "baseline", w, fb)
    f1 = tidy(tal1, 2019, "baseline", w, fb, dummy_registry)
    f1 = f1[f1.measure != "dummy_share"].reset_index(drop=True)
    assert f0.equals(f1)


def test_registry_refuses_a_reused_draw_number():
    clash = Factor(
        "clash", attr="clash", draw=5, init_draw=19, turnover="t", measure="m", label="m"
    )
    with pytest.raises(ValueError, match="draw number 5 used by both 'alcohol_risk' and 'clash'"):
        Registry(FACTORS + (clash,))
    for bad in (dict(init_draw=9), dict(draw=40), dict(attr="cold"), dict(measure="lonely")):
        row = Factor(**{**DUMMY.__dict__, **bad})
        with pytest.raises(ValueError):
            Registry(FACTORS + (row,))


def test_default_registry_keeps_the_published_orders():
    """Orders that outputs and arithmetic depend on: measures (results table rows), effect
    product order, draw numbers (the random stream)."""
    reg = R.REGISTRY
    assert list(prevalences()) == [
        "poverty",
        "child_poverty",
        "cold_home",
        "smoking",
        "obesity",
        "inactivity",
        "alcohol_risk",
        "lonely",
        "mltc",
        "unmet_need",
        "employment",
        "inactive_sick",
        "good_health",
    ]
    assert reg.exposure_names == (
        "smoking_current",
        "smoking_ex",
        "obese",
        "inactive",
        "alcohol_risk",
        "cold_home",
        "isolated",
        "unmet_need",
        "ltc1",
        "ltc2plus",
    )
    assert [(f.name, f.draw, f.init_draw) for f in reg.factors] == [
        ("obese", 3, 1),
        ("inactive", 4, 2),
        ("alcohol_risk", 5, 3),
        ("cold_home", 6, 4),
        ("isolated", 7, 5),
        ("unmet_need", 8, 6),
    ]
    assert set(run_figures.OUTCOME_LABELS) == {m.name for m in reg.prevalences if m.label}
    assert "alcohol_risk" not in run_figures.OUTCOME_LABELS  # Factor.figure=False
