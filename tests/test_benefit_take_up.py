"""Benefit take-up (welfare advice) pays households, not persons: a household is advised once,
is an entitled non-claimant or not as a whole, claims ``effect`` £ a year once (shared by the
modified OECD scale) and costs ``cost.per_participant`` once per household advised. The
benefits claimed cost the Exchequer every year a claim is held and nothing to society (a
transfer), by hand."""

from __future__ import annotations

import numpy as np
import pytest

import povsim
from povsim.engine.simulate import prepare
from povsim.inputs import layout as L
from povsim.inputs.interventions import parse_intervention
from povsim.inputs.parameters import load_params
from povsim.measures.contrast import ArmContrast, ArmLevels
from povsim.measures.economics import EconomicSettings, discount_factors
from povsim.model import households as HH
from povsim.model import registry as R
from povsim.model.population import equivalised_income
from povsim.policy.delivery import current_income
from povsim.policy.interventions import Programme
from test_interventions import LOOPS_OFF, arm, scenario

SIZE = 20_000
HORIZON = 4
SEED = 5
EFFECT = 1800.0
PER_HOUSEHOLD = 350.0
FIXED = 10_000.0


def spec(**kw) -> dict:
    s = {
        "type": "benefit_take_up",
        "start_year": 2020,
        "end_year": 2020,
        "coverage": 1.0,
        "uptake": 1.0,
        "effect": EFFECT,
        "take_up_gap": 1.0,
        "eligibility": {"income_below": 20_000.0, "age_min": 18},
        "cost": {"per_participant": PER_HOUSEHOLD, "fixed_per_year": FIXED},
        "effect_source": "test",
    }
    s.update(kw)
    return s


@pytest.fixture(scope="module")
def built():
    mp = load_params()
    tables, pop = prepare(mp, SIZE, HORIZON, SEED)
    return mp, tables, pop


def _programme(mp, **kw) -> Programme:
    return Programme.build([parse_intervention(spec(**kw))], mp, SEED, 2020, HORIZON)


def _eligible(pop, tables, mp) -> np.ndarray:
    return (pop.alive == 1) & (pop.age >= 18) & (current_income(pop, tables, mp) < 20_000.0)


def test_a_couple_both_eligible_is_paid_once(built):
    mp, tables, pop = built
    p = pop.copy()
    elig = _eligible(p, tables, mp)
    prog = _programme(mp)
    prog.apply(0, p, tables)
    # A couple without children, both adults alive and eligible: one claim, scale 1.5.
    couples = np.flatnonzero(p.hh_kind == HH.TYPE_CODE["couple_no_children"])
    found = 0
    for h in couples:
        m = np.arange(p.hh_ptr[h], p.hh_ptr[h + 1])
        m = m[p.alive[m] == 1]
        if m.size != 2 or not elig[m].all():
            continue
        assert p.transfer[m].sum() == EFFECT  # paid once to the household, not twice
        found += 1
        if found == 20:
            break
    assert found == 20
    with_tr = equivalised_income(p, tables, mp, with_transfer=True)
    without = equivalised_income(p, tables, mp, with_transfer=False)
    m = np.arange(p.hh_ptr[h], p.hh_ptr[h + 1])
    m = m[p.alive[m] == 1]  # (slots of babies not yet born are members too)
    np.testing.assert_allclose(with_tr[m] - without[m], EFFECT / 1.5, rtol=1e-12)
    # Every claiming household receives exactly one amount, whatever its size.
    paid = np.bincount(p.hh, weights=p.transfer, minlength=p.hh_ptr.size - 1)
    claiming = np.unique(p.hh[elig])
    assert np.all(paid[claiming] == EFFECT)
    assert paid.sum() == EFFECT * claiming.size
    # Every member holds the claim, including those not eligible themselves (children).
    held = prog.items[0].held
    assert held[np.isin(p.hh, claiming) & (p.alive == 1)].all()


def test_cost_is_per_household_advised(built):
    mp, tables, pop = built
    p = pop.copy()
    households = np.unique(p.hh[_eligible(p, tables, mp)]).size
    persons = int(_eligible(p, tables, mp).sum())
    assert persons > 1.3 * households  # so a per-person cost would differ
    prog = _programme(mp, take_up_gap=0.3)
    prog.apply(0, p, tables)
    rec = prog.items[0].record
    w = float(p.weight[0])
    assert rec.participants[0].sum() == pytest.approx(households * w, rel=1e-12)
    assert rec.cost[0] == pytest.approx(FIXED + PER_HOUSEHOLD * households * w, rel=1e-12)
    # After end_year nothing is charged, but the claims continue.
    claims = np.unique(p.hh[p.transfer > 0]).size
    assert 0.25 < claims / households < 0.35  # take_up_gap of the advised households
    prog.apply(1, p, tables)
    assert prog.items[0].record.cost[1] == 0.0
    assert np.unique(p.hh[p.transfer > 0]).size >= 0.97 * claims


def test_entitlement_is_a_deterministic_household_draw(built):
    mp, tables, pop = built
    runs = []
    for _ in range(2):
        p = pop.copy()
        prog = _programme(mp, take_up_gap=0.4, end_year=2022)
        for t in range(3):
            prog.apply(t, p, tables)
        runs.append((p.transfer.copy(), prog.items[0].held.copy(), prog.items[0].record.cost))
    for a, b in zip(runs[0], runs[1], strict=True):
        assert np.array_equal(a, b)
    # Held as a whole: a household's living members all hold the claim or none does.
    held, live = runs[0][1], pop.alive == 1
    n_hh = pop.hh_ptr.size - 1
    holders = np.bincount(pop.hh[live], weights=held[live], minlength=n_hh)
    members = np.bincount(pop.hh[live], minlength=n_hh)
    assert np.all((holders == 0) | (holders == members))


def test_decay_ends_a_households_claim_as_a_whole(built):
    mp, tables, pop = built
    p = pop.copy()
    prog = _programme(mp, take_up_gap=1.0, decay=0.5)
    prog.apply(0, p, tables)
    before = np.unique(p.hh[p.transfer > 0])
    prog.apply(1, p, tables)  # after end_year: only decay (and deaths) end claims
    after = np.unique(p.hh[p.transfer > 0])
    assert np.isin(after, before).all()
    assert 0.45 < after.size / before.size < 0.55
    held = prog.items[0].held
    live = p.alive == 1
    n_hh = p.hh_ptr.size - 1
    holders = np.bincount(p.hh[live], weights=held[live], minlength=n_hh)
    members = np.bincount(p.hh[live], minlength=n_hh)
    assert np.all((holders == 0) | (holders == members))


def test_zero_effect_arm_is_the_baseline():
    zero = spec(effect=0.0, take_up_gap=0.5, end_year=2022)
    res = povsim.run(scenario({"zero": arm(zero)}, feedbacks=LOOPS_OFF, size=20_000, horizon=4))
    assert np.array_equal(res.tallies["baseline"], res.tallies["zero"])


# --- the benefits claimed: paid by the Exchequer, a transfer (issue 16 item 4) -------------


def _claimants(pop, tables, mp) -> np.ndarray:
    """Households with a living eligible member (all claim at take_up_gap 1), by hand."""
    return np.unique(pop.hh[_eligible(pop, tables, mp)])


def test_benefits_paid_are_claiming_households_times_effect_every_year_held(built):
    mp, tables, pop = built
    p = pop.copy()
    households = _claimants(p, tables, mp)
    w = float(p.weight[0])
    assert np.all(p.weight[p.alive == 1] == w)  # so real households = simulated x w
    prog = _programme(mp)  # advice in 2020 only; claims held after it (no decay)
    prog.apply(0, p, tables)
    rec = prog.items[0].record
    by_q = np.bincount(p.quint[p.hh_ptr[households]], minlength=5) * w * EFFECT
    np.testing.assert_allclose(rec.entitlements[0], by_q, rtol=1e-12)
    assert rec.entitlements[0].sum() == pytest.approx(households.size * w * EFFECT, rel=1e-12)
    # 2021: nothing charged, the benefits still paid to the households still claiming.
    prog.apply(1, p, tables)
    assert rec.cost[1] == 0.0
    still = np.unique(p.hh[p.transfer > 0]).size
    assert 0 < still <= households.size
    assert rec.entitlements[1].sum() == pytest.approx(still * w * EFFECT, rel=1e-12)


def _no_interventions(mp) -> Programme:
    return Programme.build([], mp, SEED, 2020, HORIZON)


def test_benefits_cost_the_exchequer_and_nothing_to_society_by_hand(built):
    mp, tables, pop = built
    p = pop.copy()
    prog = _programme(mp, end_year=2021, funder="nhs")
    advised, paid = np.zeros(HORIZON), np.zeros(HORIZON)
    w = float(p.weight[0])
    for t in range(HORIZON):
        if t < 2:  # programme years: every eligible household not yet claiming is advised
            held = prog.items[0].held  # (empty before the first year)
            claiming = np.unique(p.hh[held & (p.alive == 1)]) if held.size else []
            advised[t] = np.setdiff1d(_claimants(p, tables, mp), claiming).size
        prog.apply(t, p, tables)
        paid[t] = np.unique(p.hh[p.transfer > 0]).size * w * EFFECT  # by hand
    advice = FIXED * np.array([1, 1, 0, 0]) + PER_HOUSEHOLD * w * advised
    rec = prog.items[0].record
    np.testing.assert_allclose(rec.cost, advice, rtol=1e-12)
    np.testing.assert_allclose(rec.entitlements.sum(axis=1), paid, rtol=1e-12)
    assert paid[3] > 0  # paid after the programme ended too
    # The same tallies for arm and baseline, so no costs are avoided: every net cost is what
    # the perspective pays, and the benefits move only the Exchequer's.
    tallies = np.zeros((HORIZON, L.N_CELL, R.REGISTRY.n_stats))
    econ = EconomicSettings.from_params(mp)
    base = ArmLevels.of(tallies, _no_interventions(mp), econ.utilities, econ.unit_costs)
    c = ArmContrast.between(
        ArmLevels.of(tallies, prog, econ.utilities, econ.unit_costs), base, econ
    )
    assert c.costs is not None
    np.testing.assert_allclose(c.costs.net_cost("exchequer"), paid, rtol=1e-12)
    np.testing.assert_allclose(c.costs.net_cost("nhs"), advice, rtol=1e-12)
    np.testing.assert_allclose(c.costs.net_cost("society"), advice, rtol=1e-12)
    for p_ in ("social_care", "local_government"):
        assert (c.costs.net_cost(p_) == 0).all()
    # The arm's own cost (cost per QALY, budgets) is the advice only.
    np.testing.assert_allclose(c.cost, advice, rtol=1e-12)
    d = discount_factors(HORIZON, econ.rate_costs)
    totals = c.costs.totals()
    assert totals["programme_cost_exchequer_disc"] == pytest.approx(float(paid @ d), rel=1e-12)
    assert totals["programme_cost_society_disc"] == pytest.approx(float(advice @ d), rel=1e-12)
    # compare's net cost by quintile: the Exchequer's is the benefits, in the quintiles paid.
    q_paid = (rec.entitlements * d[:, None]).sum(axis=0)
    np.testing.assert_allclose(c.net_cost_by_quintile("exchequer"), q_paid, rtol=1e-12)
    assert c.net_cost_by_quintile("society").sum() == pytest.approx(float(advice @ d))
    cost_q, cost_all, part_q = c.cost_by_quintile()  # the programme's own: advice only
    assert cost_q.sum() == pytest.approx(float(advice @ d), rel=1e-12)
    assert cost_all == pytest.approx(advice.sum(), rel=1e-12)
    assert part_q.sum() == pytest.approx(w * advised.sum(), rel=1e-12)  # households advised


def test_zero_effect_arm_pays_nothing_and_is_the_baseline():
    zero = spec(effect=0.0, take_up_gap=0.5, end_year=2022)
    res = povsim.run(scenario({"zero": arm(zero)}, feedbacks=LOOPS_OFF, size=20_000, horizon=4))
    assert np.array_equal(res.tallies["baseline"], res.tallies["zero"])
    c = res.comparison
    c = c[(c.arm == "zero") & (c.sex == "all") & (c.quintile == "all")]
    v = c.groupby("measure").value.sum()
    assert v["programme_cost_exchequer"] == 0
    assert v["net_cost_exchequer"] == 0
    assert v["programme_cost_society"] == pytest.approx(v["cost"])  # the advice
    assert v["cost"] > 0


def test_the_benefits_reach_comparison_and_society_is_unchanged_by_them():
    one = spec(take_up_gap=0.5, end_year=2021)
    res = povsim.run(scenario({"bt": arm(one)}, feedbacks=LOOPS_OFF, size=20_000, horizon=4))
    c = res.comparison
    c = c[(c.arm == "bt") & (c.sex == "all") & (c.quintile == "all")]
    v = c.groupby("measure").value.sum()
    paid = v["programme_cost_exchequer"]
    assert paid > 0
    # Exchequer: the benefits are its whole programme cost (the advice is the NHS's).
    assert v["net_cost_exchequer"] == pytest.approx(paid - v["costs_avoided_exchequer"])
    assert v["programme_cost_nhs"] == pytest.approx(v["cost"])
    assert v["programme_cost_society"] == pytest.approx(v["cost"])  # no transfer in it
