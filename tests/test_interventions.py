"""Interventions and feedback loops: the checks a strategy team relies on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import povsim
from povsim.engine.simulate import prepare, simulate
from povsim.inputs import layout as L
from povsim.inputs.errors import ScenarioError
from povsim.inputs.interventions import parse_intervention
from povsim.inputs.loader import scenario_from_dict
from povsim.model import registry as R
from povsim.model.area import area_params
from povsim.policy.delivery import current_income
from povsim.policy.dynamics import Loops
from povsim.policy.interventions import Programme
from povsim.studies.run import ArmHook

REPO = Path(__file__).resolve().parents[1]
BASE = str(REPO / "scenarios" / "baseline.yaml")


def scenario(
    arms: dict, feedbacks: dict | None = None, size: int = 20_000, horizon: int = 8, seed: int = 3
):
    data = {
        "extends": BASE,
        "name": "t",
        "seed": seed,
        "population": {"size": size, "horizon": horizon},
        "arms": arms,
    }
    if feedbacks is not None:
        data["feedbacks"] = feedbacks
    return scenario_from_dict(data, source=str(REPO / "scenarios" / "t.yaml"))


def block(**kw) -> dict:
    b = {
        "type": "behaviour",
        "behaviour": "smoking",
        "start_year": 2020,
        "end_year": 2025,
        "coverage": 0.5,
        "uptake": 1.0,
        "effect": 0.3,
        "effect_source": "test",
    }
    b.update(kw)
    return b


def arm(*blocks) -> dict:
    return {"interventions": list(blocks)}


LOOPS_OFF = {"capacity": {"enabled": False}, "trust": {"enabled": False}}


def cum(res, measure, arm_name, q="all", sex="all"):
    c = res.comparison
    f = c[(c.arm == arm_name) & (c.measure == measure) & (c.sex == sex) & (c.quintile == q)]
    return float(f.sort_values("year").value.iloc[-1])


def test_zero_effect_is_identical_to_baseline():
    res = povsim.run(
        scenario(
            {
                "zero": arm(block(effect=0.0)),
                "zero_income": arm(block(type="income", behaviour=None, effect=0.0)),
            }
        )
    )
    for name in ("zero", "zero_income"):
        assert np.array_equal(res.tallies["baseline"], res.tallies[name])


def test_core20_changes_q1_not_q5_without_feedbacks():
    res = povsim.run(
        scenario({"q1": arm(block(targeting={"rule": "core20"}))}, feedbacks=LOOPS_OFF)
    )
    tb = res.tallies["baseline"].reshape(-1, 2, 5, L.N_AGE, R.REGISTRY.n_stats)
    ta = res.tallies["q1"].reshape(-1, 2, 5, L.N_AGE, R.REGISTRY.n_stats)
    assert np.array_equal(tb[:, :, 4], ta[:, :, 4])  # quintile 5 untouched
    assert not np.array_equal(tb[:, :, 0], ta[:, :, 0])  # quintile 1 changed
    assert ta[-1, :, 0, :, R.S_SMOKE].sum() < tb[-1, :, 0, :, R.S_SMOKE].sum()
    assert cum(res, "healthy_years_gained_cumulative", "q1", q="1") > 0


def test_core20_targeting_reaches_only_quintile_1():
    res = povsim.run(scenario({"q1": arm(block(targeting={"rule": "core20"}))}))
    c = res.comparison
    p = c[(c.arm == "q1") & (c.measure == "participants")]
    assert p[p.quintile == "1"].value.sum() > 0
    assert p[p.quintile.isin(["2", "3", "4", "5"])].value.sum() == 0


@pytest.mark.parametrize("field,low,high", [("effect", 0.1, 0.4), ("coverage", 0.2, 0.8)])
def test_more_effect_or_coverage_never_gives_less(field, low, high):
    res = povsim.run(
        scenario(
            {"low": arm(block(**{field: low})), "high": arm(block(**{field: high}))},
            feedbacks=LOOPS_OFF,
            horizon=10,
        )
    )
    smoke = {a: res.tallies[a][..., R.S_SMOKE].sum() for a in ("low", "high", "baseline")}
    assert smoke["high"] < smoke["low"] < smoke["baseline"]
    assert cum(res, "life_years_gained_cumulative", "high") >= cum(
        res, "life_years_gained_cumulative", "low"
    )


def test_costs_add_up_by_year():
    b = block(cost={"fixed_per_year": 1_000_000.0, "per_participant": 250.0})
    res = povsim.run(scenario({"a": arm(b)}))
    c = res.comparison
    part = c[(c.arm == "a") & (c.measure == "participants") & (c.quintile == "all")]
    cost = c[(c.arm == "a") & (c.measure == "cost")]
    m = part.merge(cost, on="year", suffixes=("_p", "_c"))
    active = m.year.between(2020, 2025)
    expected = np.where(active, 1_000_000.0 + 250.0 * m.value_p, 250.0 * m.value_p)
    np.testing.assert_allclose(m.value_c, expected, rtol=1e-9)
    assert (m[~active].value_c == 0).all()  # no one starts after the end year
    total = c[(c.arm == "a") & (c.measure == "cost_cumulative")].sort_values("year")
    assert total.value.iloc[-1] == pytest.approx(cost.value.sum())


def test_capacity_unconstrained_has_no_effect():
    off = povsim.run(scenario({}, feedbacks={"capacity": {"enabled": False}}, horizon=12))
    unc = povsim.run(scenario({}, feedbacks={"capacity": {"unconstrained": True}}, horizon=12))
    assert np.array_equal(off.tallies["baseline"], unc.tallies["baseline"])


def test_capacity_loop_raises_unmet_need_first_in_the_most_deprived():
    on = povsim.run(scenario({}, feedbacks={"trust": {"enabled": False}}, horizon=15, size=40_000))
    off = povsim.run(scenario({}, feedbacks=LOOPS_OFF, horizon=15, size=40_000))
    f_on = on.frame
    ratio = f_on[(f_on.measure == "access_ratio")].sort_values("year").value.to_numpy()
    assert ratio[-1] < 1.0  # ageing: need outgrows capacity
    mult = f_on[(f_on.measure == "unmet_mult") & (f_on.year == f_on.year.max())]
    by_q = mult.sort_values("quintile").value.to_numpy()
    assert by_q[0] > by_q[4] > 1.0  # inverse care law
    t_on = on.tallies["baseline"][-1][:, R.REGISTRY.stat("unmet_need")].sum()
    t_off = off.tallies["baseline"][-1][:, R.REGISTRY.stat("unmet_need")].sum()
    assert t_on > t_off


def test_trust_loop_raises_uptake_of_other_interventions():
    community = {
        "type": "community",
        "start_year": 2020,
        "end_year": 2026,
        "targeting": {"rule": "core20"},
        "coverage": 0.3,
        "effect": 0.2,
        "effect_source": "test",
        "eligibility": {"age_min": 18},
    }
    quit_ = block(targeting={"rule": "core20"}, uptake=0.4)
    res_on = povsim.run(
        scenario({"both": arm(community, quit_)}, feedbacks={"capacity": {"enabled": False}})
    )
    res_off = povsim.run(scenario({"both": arm(community, quit_)}, feedbacks=LOOPS_OFF))
    p_on = cum(res_on, "participants", "both", q="1")
    assert (
        res_on.frame[
            (res_on.frame.arm == "both")
            & (res_on.frame.measure == "trust")
            & (res_on.frame.quintile == "1")
        ].value.max()
        > 0.45
    )
    c_on, c_off = res_on.comparison, res_off.comparison
    tot = {
        k: c[(c.arm == "both") & (c.measure == "participants") & (c.quintile == "1")].value.sum()
        for k, c in (("on", c_on), ("off", c_off))
    }
    assert tot["on"] > tot["off"] and p_on >= 0


def test_housing_removes_cold_homes_and_raises_hle_in_q1():
    warm = {
        "type": "housing",
        "start_year": 2020,
        "end_year": 2026,
        "targeting": {"rule": "core20"},
        "coverage": 0.4,
        "effect": 0.9,
        "effect_source": "test",
        "cost": {"per_participant": 4000.0},
    }
    res = povsim.run(scenario({"warm": arm(warm)}, feedbacks=LOOPS_OFF, size=40_000))
    c = res.comparison
    cold = c[
        (c.arm == "warm")
        & (c.measure == "cold_home_change")
        & (c.sex == "all")
        & (c.quintile == "1")
        & (c.year == 2026)
    ].value.iloc[0]
    assert cold < -0.05
    assert cum(res, "healthy_years_gained_cumulative", "warm", q="1") > 0
    assert cum(res, "healthy_years_gained_cumulative", "warm", q="5") == 0


def test_income_transfer_lowers_poverty():
    inc = {
        "type": "income",
        "start_year": 2020,
        "end_year": 2026,
        "effect": 3000.0,
        "eligibility": {"in_poverty": True},
        "uptake": 0.8,
        "effect_source": "test",
    }
    res = povsim.run(scenario({"cash": arm(inc)}, feedbacks=LOOPS_OFF))
    c = res.comparison
    pov = c[
        (c.arm == "cash")
        & (c.measure == "poverty_change")
        & (c.sex == "all")
        & (c.quintile == "all")
        & (c.year == 2024)
    ].value.iloc[0]
    assert pov < -0.02


@pytest.mark.parametrize(
    "bad,field",
    [
        ({"type": "magic"}, "type"),
        ({"coverage": 1.5}, "coverage"),
        ({"end_year": 2019}, "end_year"),
        ({"cost": {"per_participant": -5}}, "cost.per_participant"),
        ({"targeting": {"rule": "quintiles", "quintiles": [0]}}, "targeting.quintiles"),
        ({"targeting": {"rule": "proportionate", "weights": [1, 2]}}, "targeting.weights"),
        ({"effect": 1.5}, "effect"),
        ({"covrage": 0.5}, "covrage"),
    ],
)
def test_bad_intervention_blocks_are_rejected(bad, field):
    with pytest.raises(ScenarioError) as e:
        scenario({"a": arm(block(**bad))})
    msg = str(e.value)
    assert f"arms.a.interventions.0.{field}" in msg and "\n" not in msg


def test_same_intervention_in_two_arms_draws_the_same_numbers():
    b = block(targeting={"rule": "core20"})
    other = {
        "type": "housing",
        "start_year": 2020,
        "end_year": 2025,
        "effect": 0.5,
        "effect_source": "test",
    }
    res = povsim.run(scenario({"a": arm(b), "b": arm(b), "c": arm(other, b)}, feedbacks=LOOPS_OFF))
    assert np.array_equal(res.tallies["a"], res.tallies["b"])
    # In arm c the smoking block keeps its stream despite a block before it.
    ta = res.tallies["a"].reshape(-1, 2, 5, L.N_AGE, R.REGISTRY.n_stats)[..., R.S_SMOKE]
    tc = res.tallies["c"].reshape(-1, 2, 5, L.N_AGE, R.REGISTRY.n_stats)[..., R.S_SMOKE]
    assert np.array_equal(ta[1], tc[1])  # first programme year: same quitters


def test_binding_capacity_keeps_targeting_proportions():
    b = block(
        targeting={"rule": "proportionate", "weights": [5, 4, 3, 2, 1]},
        coverage=0.8,
        capacity=400_000.0,
    )
    res = povsim.run(scenario({"cap": arm(b)}, feedbacks=LOOPS_OFF, size=40_000))
    c = res.comparison
    p = c[(c.arm == "cap") & (c.measure == "participants") & (c.year == 2020)]
    by_q = p[p.quintile != "all"].sort_values("quintile").value.to_numpy()
    assert by_q.sum() <= 400_000 * 1.001
    assert by_q[0] > by_q[2] > by_q[4] > 0


# One block of every type, 2020-2022, in a run to 2026: cheap to reach and to pay for.
END_YEAR_BLOCKS = {
    "income": {"type": "income", "effect": 1000.0, "eligibility": {"in_poverty": True}},
    "housing": {"type": "housing", "effect": 0.9, "decay": 0.02},
    "behaviour": {"type": "behaviour", "behaviour": "smoking", "effect": 0.3, "decay": 0.02},
    "access": {
        "type": "access",
        "effect": 0.9,
        "ltc_multiplier": 0.8,
        "eligibility": {"with_ltc": True, "age_min": 40},
        "decay": 0.2,
    },
    "community": {"type": "community", "effect": 0.3, "eligibility": {"age_min": 18}},
    "employment": {"type": "employment", "effect": 0.3, "decay": 0.1},
}


def _ends_2022(kind: str) -> dict:
    return {
        **END_YEAR_BLOCKS[kind],
        "start_year": 2020,
        "end_year": 2022,
        "coverage": 0.3,
        "effect_source": "test",
        "cost": {"fixed_per_year": 1e6, "per_participant": 100.0},
    }


@pytest.mark.parametrize("kind", list(END_YEAR_BLOCKS))
def test_nothing_is_delivered_or_charged_after_the_end_year(kind):
    """docs/model.md §6.1, §6.3: after end_year no one is reached, paid or treated and nothing
    is charged, for every type (issue 15: an income block kept ~£2.8bn a year to 2048)."""
    sc = scenario({"a": arm(_ends_2022(kind))}, feedbacks=LOOPS_OFF)
    c = povsim.run(sc).comparison
    rows = c[(c.arm == "a") & (c.sex == "all") & (c.quintile == "all")]
    cost = rows[rows.measure == "cost"].set_index("year").value
    part = rows[rows.measure == "participants"].set_index("year").value
    assert cost.loc[2020:2022].gt(0).all() and part.loc[2020:2022].gt(0).all()
    assert (cost.loc[2023:] == 0).all() and (part.loc[2023:] == 0).all()
    # After the end nobody holds a payment or a treatment: transfers and multipliers are off.
    mp, h = area_params(sc), sc.population.horizon
    prog = _Spy.build([parse_intervention(_ends_2022(kind))], mp, sc.seed, 2019, h)
    prog.seen = {}
    tables, pop = prepare(mp, sc.population.size, h, sc.seed)
    simulate(mp, tables, pop, h, sc.seed, hooks=[ArmHook(prog, Loops(sc.feedbacks, mp, h))])
    for t, (transfer, mort, ltc) in prog.seen.items():
        if 2019 + t > 2022:
            assert not transfer.any() and (mort == 1).all() and (ltc == 1).all()
        elif kind in ("income", "access") and 2019 + t >= 2020:  # delivered while it runs
            assert transfer.any() or (mort < 1).any()


class _Spy(Programme):
    """A programme that keeps every year's transfers and multipliers after applying."""

    seen: dict

    def apply(self, t, pop, tables):
        super().apply(t, pop, tables)
        self.seen[t] = (pop.transfer.copy(), pop.mort_mult.copy(), pop.ltc_mult.copy())


def test_a_decay_on_income_is_refused():
    b = {**_ends_2022("income"), "decay": 0.5}
    with pytest.raises(ScenarioError) as e:
        scenario({"a": arm(b)})
    assert (
        "arms.a.interventions.0.decay: not used by type income (payments stop after end_year)"
        in (str(e.value))
    )


@pytest.mark.parametrize(
    "bad,field",
    [
        ({"targeting": {"rule": "universal", "weights": [5, 4, 3, 2, 1]}}, "targeting.weights"),
        ({"targeting": {"rule": "core20", "quintiles": [1, 2]}}, "targeting.quintiles"),
        ({"capacity_added": 1000.0}, "capacity_added"),
        ({"ltc_multiplier": 0.8}, "ltc_multiplier"),
    ],
)
def test_fields_the_block_would_ignore_are_rejected(bad, field):
    with pytest.raises(ScenarioError) as e:
        scenario({"a": arm(block(**bad))})
    assert f"arms.a.interventions.0.{field}" in str(e.value)


def test_every_type_has_a_schema_a_behaviour_and_its_own_description():
    from povsim.inputs.interventions import INTERVENTION_TYPES, parse_intervention
    from povsim.policy.types import TYPES, describe

    assert list(TYPES) == list(INTERVENTION_TYPES)  # one registry entry per schema, in order
    texts = set()
    for t in INTERVENTION_TYPES:
        b = {"type": t, "start_year": 2020, "end_year": 2021, "effect": 0.5, "effect_source": "x"}
        if t == "behaviour":
            b["behaviour"] = "smoking"
        texts.add(describe(parse_intervention(b)))
    assert len(texts) == len(INTERVENTION_TYPES)  # no type falls back to another's words


@pytest.mark.parametrize(
    "bad,message",
    [
        (
            {"type": "magic"},
            "arms.a.interventions.0.type: input should be 'income', 'housing', 'behaviour', "
            "'access', 'community', 'employment', 'benefit_take_up' or 'living_wage'; "
            "got 'magic'",
        ),
        (
            {"type": None},
            "arms.a.interventions.0.type: input should be 'income', 'housing', 'behaviour', "
            "'access', 'community', 'employment', 'benefit_take_up' or 'living_wage'; got null",
        ),
        (
            {"type": "income", "behaviour": "smoking"},
            "arms.a.interventions.0.behaviour: only for type behaviour; got 'smoking'",
        ),
        (
            {"type": "housing", "behaviour": None, "effect": 1.5},
            "arms.a.interventions.0.effect: is a probability for this type; got 1.5",
        ),
    ],
)
def test_a_bad_type_is_one_line_naming_the_allowed_types(bad, message):
    with pytest.raises(ScenarioError) as e:
        scenario({"a": arm(block(**bad))})
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_block_without_a_type_lists_the_types():
    b = block()
    del b["type"]
    with pytest.raises(ScenarioError) as e:
        scenario({"a": arm(b)})
    assert str(e.value).endswith(
        "arms.a.interventions.0.type: required key is missing; allowed income, housing, "
        "behaviour, access, community, employment, benefit_take_up, living_wage"
    )


# --- intervention-generated inequality (issue 13 item 6) -------------------------------------


def _one_year_by_quintile(spec_kw: dict, size: int = 60_000):
    """Participants and quitters by quintile after one programme year."""
    sc = scenario({"a": arm(block(**spec_kw))}, size=size, horizon=1)
    mp = area_params(sc)
    tables, pop = prepare(mp, size, 1, sc.seed)
    spec = sc.arms["a"].interventions[0]
    prog = Programme.build([spec], mp, sc.seed, 2020, 1)
    smokers = (pop.smoke == 1) & (pop.alive == 1) & (pop.age >= 18)
    prog.apply(0, pop, tables)
    a = prog.items[0]
    part = np.bincount(pop.quint[smokers], minlength=5)
    quit_ = np.bincount(pop.quint[smokers & (pop.smoke == 2)], minlength=5)
    reached = a.record.participants[0] / pop.weight[0]
    return a, part, reached, quit_


def test_stop_smoking_defaults_carry_the_deprivation_gradient():
    # calibration/intervention_gradients.csv: success falls with deprivation (Brose & McEwen
    # 2016), uptake is higher in the most deprived areas (Tob Control 2007).
    a, smokers, reached, quit_ = _one_year_by_quintile(
        {"start_year": 2019, "effect": 0.5, "coverage": 1.0, "uptake": 0.6}
    )
    assert a.effect_q[0] < 1 < a.effect_q[4]
    assert a.effect_q.mean() == pytest.approx(1.0)
    assert a.uptake_q[0] > a.uptake_q[4]
    success = quit_ / reached
    assert success[0] < success[4] - 0.1  # about 0.42 vs 0.59
    rate = reached / smokers
    assert rate[0] > rate[4] + 0.08  # about 0.71 vs 0.57 (uptake 0.6 x 1.19 and x 0.95)


def test_a_scenario_can_switch_the_gradient_off():
    flat = {"start_year": 2019, "effect": 0.5, "coverage": 1.0, "uptake": 0.6}
    flat.update(uptake_by_quintile=[1, 1, 1, 1, 1], effect_by_quintile=[1, 1, 1, 1, 1])
    a, smokers, reached, quit_ = _one_year_by_quintile(flat)
    np.testing.assert_allclose(a.effect_q, 1.0)
    np.testing.assert_allclose(a.uptake_q, 1.0)
    success = quit_ / reached
    assert abs(success[0] - success[4]) < 0.05
    rate = reached / smokers
    assert abs(rate[0] - rate[4]) < 0.04


def test_types_without_evidence_of_a_gradient_have_none():
    sc = scenario(
        {"a": arm(block(type="community", behaviour=None, effect=0.3))}, size=2000, horizon=1
    )
    prog = Programme.build(sc.arms["a"].interventions, area_params(sc), sc.seed, 2019, 1)
    np.testing.assert_allclose(prog.items[0].uptake_q, 1.0)
    np.testing.assert_allclose(prog.items[0].effect_q, 1.0)


@pytest.mark.parametrize(
    "kw,words",
    [
        ({"uptake_by_quintile": [1, 1, 1]}, "uptake_by_quintile"),
        ({"effect_by_quintile": [1, -1, 1, 1, 1]}, "effect_by_quintile"),
        (
            {"type": "access", "behaviour": None, "effect": 0.9, "effect_by_quintile": [1] * 5},
            "not a probability",
        ),
    ],
)
def test_bad_quintile_multipliers_are_one_line_errors(kw, words):
    with pytest.raises(ScenarioError) as e:
        scenario({"a": arm(block(**kw))}, size=2000, horizon=1)
    msg = str(e.value)
    assert "\n" not in msg and words in msg, msg


# --- levers on income and work (issue 16) ------------------------------------------------------


def _programme(spec_kw: dict, size: int = 20_000):
    sc = scenario({"a": arm(spec_kw)}, size=size, horizon=3)
    mp = area_params(sc)
    tables, pop = prepare(mp, size, 3, sc.seed)
    prog = Programme.build(sc.arms["a"].interventions, mp, sc.seed, 2020, 3)
    return mp, tables, pop, prog


def test_benefit_take_up_pays_entitled_non_claimants_only_and_lasts():
    kw = {
        "type": "benefit_take_up",
        "start_year": 2020,
        "end_year": 2020,
        "effect": 1700.0,
        "take_up_gap": 0.4,
        "eligibility": {"income_below": 15000.0, "age_min": 66},
        "effect_source": "test",
    }
    mp, tables, pop, prog = _programme(kw)
    eligible = (pop.alive == 1) & (pop.age >= 66) & (current_income(pop, tables, mp) < 15000.0)
    prog.apply(0, pop, tables)
    paid = pop.transfer > 0
    # Paid to households with an eligible member (through any member: it is shared).
    assert paid.any() and np.isin(pop.hh[paid], pop.hh[eligible]).all()
    assert np.all(pop.transfer[paid] == 1700.0)
    # One claim per household (tests/test_benefit_take_up.py); the entitled non-claimants are
    # take_up_gap of the eligible households.
    assert np.unique(pop.hh[paid]).size == paid.sum()
    share = paid.sum() / np.unique(pop.hh[eligible]).size
    assert 0.35 < share < 0.45
    prog.apply(1, pop, tables)  # after end_year: the claim continues
    assert (pop.transfer > 0).sum() >= 0.95 * paid.sum()


def test_living_wage_reaches_employed_low_earners_only():
    kw = {
        "type": "living_wage",
        "start_year": 2020,
        "end_year": 2020,
        "effect": 1200.0,
        "eligibility": {"income_below": 20000.0},
        "effect_source": "test",
    }
    mp, tables, pop, prog = _programme(kw)
    prog.apply(0, pop, tables)
    paid = pop.transfer > 0
    assert paid.any()
    assert (pop.work[paid] == R.WORK_EMPLOYED).all()
    assert (pop.age[paid] >= 16).all() and (pop.age[paid] <= 64).all()
    prog.apply(1, pop, tables)  # stops after end_year
    assert not (pop.transfer > 0).any()


def test_employment_support_for_the_long_term_sick_moves_them_into_work():
    kw = {
        "type": "employment",
        "start_year": 2020,
        "end_year": 2020,
        "effect": 0.5,
        "eligibility": {"work_state": ["inactive_sick"]},
        "effect_source": "test",
    }
    mp, tables, pop, prog = _programme(kw)
    sick0 = (pop.alive == 1) & (pop.work == R.WORK_SICK) & (pop.age >= 16) & (pop.age <= 64)
    other0 = (pop.alive == 1) & (pop.work == R.WORK_OTHER)
    prog.apply(0, pop, tables)
    moved = pop.work != R.WORK_SICK
    assert 0.4 < moved[sick0].mean() < 0.6
    assert (pop.work[sick0 & moved] == R.WORK_EMPLOYED).all()
    assert (pop.work[other0] == R.WORK_OTHER).all()  # not eligible: untouched


@pytest.mark.parametrize(
    "bad,field",
    [
        ({"type": "benefit_take_up", "take_up_gap": -0.1}, "take_up_gap"),
        ({"eligibility": {"work_state": ["retired"]}}, "eligibility.work_state"),
        ({"eligibility": {"income_below": -5}}, "eligibility.income_below"),
        ({"type": "living_wage", "effect": 100, "decay": 0.1}, "decay"),
    ],
)
def test_bad_income_and_work_levers_rejected_in_one_line(bad, field):
    kw = block(**bad)
    if kw["type"] != "behaviour":
        kw.pop("behaviour")
    with pytest.raises(ScenarioError) as e:
        scenario({"a": arm(kw)})
    msg = str(e.value)
    assert field in msg and "\n" not in msg
