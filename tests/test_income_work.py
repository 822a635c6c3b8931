"""The person model's income and work (issue 16): a transfer's health effect is smooth in its
size (no step at the poverty line) and fades at the documented rate; work states are
calibrated and follow health; the new levers act through them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from povsim.engine import kernel as K
from povsim.engine.simulate import prepare, simulate
from povsim.inputs.layout import N_AGE, N_Q
from povsim.inputs.parameters import load_params
from povsim.model.population import household_income
from povsim.model.registry import REGISTRY, WORK_EMPLOYED, WORK_SICK

REPO = Path(__file__).resolve().parents[1]
SEED = 11


@pytest.fixture(scope="module")
def mp():
    return load_params()


@pytest.fixture(scope="module")
def base(mp):
    return prepare(mp, 60_000, 10, SEED)


def _q1_transfer(x: float, years: range | None = None):
    """A hook paying £x a year to every person of IMD quintile 1 in ``years`` (all if None)."""

    def hook(t, pop, tables, ctx):
        pop.transfer[:] = 0.0
        if years is None or t in years:
            pop.transfer[pop.quint == 0] = x

    return hook


def _expected_deaths_q1(tal: np.ndarray) -> float:
    """Sum of the expected hazard (deaths) in quintile 1 over the years of ``tal``."""
    by_q = tal[:, :, REGISTRY.stat("hazard")].reshape(tal.shape[0], 2, N_Q, N_AGE)
    return float(by_q[:, :, 0, :].sum())


def test_income_effect_table_is_smooth_and_accurate():
    """The interpolated income effects are within 1.2e-5 of exp(beta x), continuous and
    monotone: a £1 change of income never moves them by more than the exact derivative."""
    betas = np.array([-0.6, -0.055, -0.04])
    tab = K.income_effect_table(betas)
    x = np.linspace(-3.0, 3.0, 20_001)
    got = np.array([K.income_effects(tab, v) for v in x])
    exact = np.exp(np.outer(x, betas))
    assert np.max(np.abs(got / exact - 1.0)) < 1.2e-5  # (0.6 / 64)^2 / 8
    assert (np.diff(got, axis=0) <= 0).all()  # negative betas: more income, smaller effect
    # Lipschitz like exp: no step anywhere (a step would show as a jump far above beta e^bx dx)
    dx = x[1] - x[0]
    bound = np.abs(betas) * np.exp(np.outer(x[:-1], betas)).max(axis=0) * dx * 1.01
    assert (np.abs(np.diff(got, axis=0)) <= bound).all()


def test_transfer_effect_rises_smoothly_with_size(mp, base):
    """A transfer of £X a year to every person in quintile 1 averts expected deaths that rise
    with X, with diminishing returns per £ (log income) and no step where transfers lift
    households over the poverty line (£18,300, crossed by many at every X here).

    First year, on a fine grid of X (exact: only the income effect differs between arms):
    strictly increasing, each £500 averting less than the one before (concave), and £250
    about half of £500. Ten years, on a coarse grid (trajectories diverge, so some noise):
    increasing, with the averted deaths per £ falling (10% slack)."""
    tables, pop0 = base
    fine = np.arange(0, 8001, 500)
    first = []
    for x in [0, 250, *fine[1:]]:
        tal = simulate(mp, tables, pop0.copy(), 1, SEED, hooks=[_q1_transfer(float(x))])
        first.append(_expected_deaths_q1(tal))
    averted1 = first[0] - np.array(first)
    assert 0.45 < averted1[1] / averted1[2] < 0.55  # £250 vs £500: in proportion
    a = np.concatenate([[0.0], averted1[2:]])
    steps = np.diff(a)
    assert (steps > 0).all(), a
    assert (steps[1:] < steps[:-1]).all(), steps  # no step: concave all the way
    assert steps[1:].min() / steps[:-1].max() > 0.5

    coarse = [0, 2000, 4000, 8000, 16000]
    ten = []
    for x in coarse:
        tal = simulate(mp, tables, pop0.copy(), 10, SEED, hooks=[_q1_transfer(float(x))])
        ten.append(_expected_deaths_q1(tal))
    averted = ten[0] - np.array(ten)
    assert (np.diff(averted) > 0).all(), averted
    per_gbp = np.diff(averted) / np.diff(coarse)
    assert (per_gbp[1:] <= per_gbp[:-1] * 1.10).all(), per_gbp


def test_stopped_transfer_fades_at_documented_rate(mp, base):
    """After payments stop, the lagged exposure's excess over the baseline falls by exactly
    lambda (income_exposure_persistence) a year for persons whose own income path is the same
    in both arms; while paid it builds up by 1 - lambda."""
    tables, pop0 = base
    lam = mp.value("income_exposure_persistence")
    snaps = {}
    for arm, hook in (("base", _q1_transfer(0.0)), ("paid", _q1_transfer(3000.0, range(0, 4)))):
        pop = pop0.copy()
        pooled = []  # the year's household incomes, as the step computes them (pre-step)
        after = []  # the lagged exposure and who is alive after the step

        def record(t, p, tables_, ctx, out=pooled):
            out.append(household_income(p, tables_, mp))

        simulate(
            mp,
            tables,
            pop,
            8,
            SEED,
            hooks=[hook, record],
            progress=lambda t, p=pop, s=after: s.append((p.inc_exp.copy(), p.alive.copy())),
        )
        snaps[arm] = [(e, y, a, tr) for (e, a), (y, tr) in zip(after, pooled)]
    ok = (pop0.quint == 0) & (pop0.alive == 1)
    for t in range(8):
        eb, yb, ab, _ = snaps["base"][t]
        ep, yp, ap, _ = snaps["paid"][t]
        ok &= (ab == 1) & (ap == 1) & (yb == yp)  # alive, same income before transfers
    assert ok.sum() > 1000
    excess = np.array([snaps["paid"][t][0][ok] - snaps["base"][t][0][ok] for t in range(8)])
    assert (excess[:4] > 0).all()
    for t in range(4, 8):  # stopped: excess_t = lam * excess_{t-1}
        np.testing.assert_allclose(excess[t], lam * excess[t - 1], rtol=1e-9, atol=1e-12)
    # First paid year: the exposure moves (1 - lam) of the way to log(income + transfer), the
    # transfer being the person's share of the household's: £3,000 per member / OECD scale.
    y0 = snaps["base"][0][1][ok]
    tr0 = snaps["paid"][0][3][ok]
    assert (tr0 >= 3000.0 - 1e-9).all()  # k members paid, OECD scale at most k
    np.testing.assert_allclose(excess[0], (1 - lam) * (np.log(np.exp(y0) + tr0) - y0), rtol=1e-9)


def test_zero_transfer_is_the_baseline(mp, base):
    tables, pop0 = base
    a = simulate(mp, tables, pop0.copy(), 3, SEED)
    b = simulate(mp, tables, pop0.copy(), 3, SEED, hooks=[_q1_transfer(0.0)])
    assert np.array_equal(a, b)


def test_work_states_calibrated_and_follow_health(mp, base):
    """Employment 16-64 near the LFS 2019 rate (75-76%), inactivity through long-term
    sickness near 4.85% (2.0m), more of it in deprived quintiles, and (after some years)
    more among persons with long-term conditions than without."""
    tables, pop0 = base
    pop = pop0.copy()
    tal = simulate(mp, tables, pop, 6, SEED)
    t = tal[1:].sum(axis=0).reshape(2, N_Q, N_AGE, -1)[:, :, 16:65]
    expo = t[..., REGISTRY.stat("exposure")].sum(axis=(0, 2))
    emp = t[..., REGISTRY.stat("employed")].sum(axis=(0, 2)) / expo
    sick = t[..., REGISTRY.stat("inactive_sick")].sum(axis=(0, 2)) / expo
    total_emp = t[..., REGISTRY.stat("employed")].sum() / expo.sum()
    total_sick = t[..., REGISTRY.stat("inactive_sick")].sum() / expo.sum()
    assert 0.72 < total_emp < 0.79, total_emp
    assert 0.038 < total_sick < 0.06, total_sick
    assert sick[0] > 1.5 * sick[4] and emp[0] < emp[4]
    wa = (pop.alive == 1) & (pop.age >= 30) & (pop.age <= 64)
    with_ltc = (pop.work[wa & (pop.ltc >= 1)] == WORK_SICK).mean()
    without = (pop.work[wa & (pop.ltc == 0)] == WORK_SICK).mean()
    assert with_ltc > 1.3 * without, (with_ltc, without)
    employed_ltc = (pop.work[wa & (pop.ltc >= 1)] == WORK_EMPLOYED).mean()
    employed_none = (pop.work[wa & (pop.ltc == 0)] == WORK_EMPLOYED).mean()
    assert employed_ltc < employed_none


def test_ltc_job_loss_risk_carries_an_effect(mp):
    """The LTC job-exit RRs (unused before issue 16) move people into long-term sickness:
    setting them to 1 lowers its prevalence among persons with conditions."""

    def sick_with_ltc(overrides):
        m = load_params(overrides)
        tables, pop = prepare(m, 30_000, 6, SEED)
        simulate(m, tables, pop, 6, SEED)
        wa = (pop.alive == 1) & (pop.age >= 30) & (pop.age <= 64) & (pop.ltc >= 1)
        return (pop.work[wa] == WORK_SICK).mean()

    assert sick_with_ltc({}) > sick_with_ltc(
        {"rr.job_loss_sick.ltc1": 1.0, "rr.job_loss.ltc1": 1.0}
    )


def test_fit_report_has_the_labour_market_by_quintile():
    """The fit report compares employment and long-term sickness (16-64) by quintile with the
    stock the calibration tables imply and the whole area with the LFS: deprivation gradients
    in the right direction, long-term sickness within its tolerance in every quintile."""
    from povsim.inputs.loader import load_scenario
    from povsim.model.area import area_params
    from povsim.studies.calibrate import LABOUR_TOL, labour_market_fit
    from povsim.studies.run import simulate_arm

    mp = area_params(load_scenario(REPO / "scenarios" / "baseline.yaml", {}))
    frame = simulate_arm(mp, 40_000, 2, 20190101, 2019)[0]
    fit = labour_market_fit(mp, frame)
    emp = fit[fit.measure == "employment"].set_index("group")
    sick = fit[fit.measure == "inactive_sick"].set_index("group")
    assert list(emp.index) == ["q1", "q2", "q3", "q4", "q5", "all"]
    q = [f"q{i}" for i in range(1, 6)]
    assert emp.loc[q, "model"].is_monotonic_increasing
    assert sick.loc[q, "model"].is_monotonic_decreasing
    assert (sick.loc[q, "error"].abs() <= LABOUR_TOL + 0.005).all()  # sampling at 40,000
    assert emp.loc["all", "target"] == 0.762 and sick.loc["all", "target"] == 0.0485
