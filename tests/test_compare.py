"""`povsim compare`: QALYs, budgets, allocation strategies, the optimiser and the outputs."""

from __future__ import annotations

import copy
import html.parser
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from povsim.cli import main
from povsim.inputs import layout as L
from povsim.inputs.errors import ScenarioError
from povsim.inputs.interventions import InterventionBase, parse_intervention
from povsim.inputs.investment import load_investment
from povsim.measures.economics import (
    atkinson_ede,
    population_utility,
    qalys_by_cell,
    state_utilities,
)
from povsim.measures.equity import ede_batch, objective_batch
from povsim.model import registry as R
from povsim.model.tables import national_good_health
from povsim.policy.budget import allocation
from povsim.policy.delivery import affordable
from povsim.studies.compare import OPTIMISED, compare_strategies

ROOT = Path(__file__).resolve().parents[1]

SMALL = {
    "extends": str(ROOT / "scenarios" / "baseline.yaml"),
    "name": "tiny_invest",
    "seed": 3,
    "population": {"size": 8000, "horizon": 8},
    "replicates": 2,
    "budget": {"per_year": 400_000_000, "years": 3, "start_year": 2020},
    "levers": {
        "smoking": {
            "type": "behaviour",
            "behaviour": "smoking",
            "uptake": 0.3,
            "effect": 0.2,
            "effect_source": "test",
            "cost": {"per_participant": 300},
        },
        "homes": {
            "type": "housing",
            "uptake": 0.3,
            "effect": 0.8,
            "effect_source": "test",
            "cost": {"per_participant": 4000},
        },
    },
    "strategies": {
        "universal": {"rule": "universal"},
        "proportionate": {"rule": "proportionate"},
        "targeted": {"rule": "targeted"},
        "smoking_q1": {"rule": "split", "split": {"smoking": [1, 0, 0, 0, 0]}},
    },
    "objective": {"measure": "ede", "aversion": 5},
    "optimiser": {"levels": [0.25, 1.0], "step": 0.25, "candidates": 2},
    "economics": {"aversions": [0, 1, 5, 10]},
}


def _write(tmp_path: Path, data: dict, name: str = "inv.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data))
    return p


def _load(tmp_path: Path, data: dict, name: str = "inv.yaml"):
    return load_investment(_write(tmp_path, data, name))


# --- utilities and QALYs -------------------------------------------------------------------


def test_state_utilities_reproduce_the_population_mean(mp):
    good, bad = state_utilities(mp)
    pi = national_good_health(mp)
    np.testing.assert_allclose(pi * good + (1 - pi) * bad, population_utility(mp), rtol=1e-12)
    assert np.all(bad < good) and np.all(bad > 0)
    # Ara & Brazier at 40 for a woman: 0.9508566 - 0.0002587*40 - 0.0000332*1600
    assert population_utility(mp)[1, 40] == pytest.approx(0.9508566 - 0.010348 - 0.05312)


def test_qalys_by_cell_by_hand():
    tallies = np.zeros((1, L.N_CELL, R.REGISTRY.n_stats))
    tallies[0, 7, R.S_EXPO] = 10.0
    tallies[0, 7, R.S_GOOD] = 6.0
    good = np.full(L.N_CELL, 0.9)
    bad = np.full(L.N_CELL, 0.5)
    q = qalys_by_cell(tallies, (good, bad))
    assert q[0, 7] == pytest.approx(6 * 0.9 + 4 * 0.5)
    assert q.sum() == pytest.approx(7.4)


def test_ede_batch_matches_the_scalar_ede():
    h = np.array([[60.0, 62, 65, 68, 70], [50, 60, 70, 80, 90]])
    w = np.array([1.0, 1, 1, 1, 2])
    for e in (0.0, 1.0, 5.0, 20.0):
        got = ede_batch(h, w, e)
        want = [atkinson_ede(row, w, e) for row in h]
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_gap_objective_enforces_its_efficiency_floor():
    hy = np.array([[100.0, 0, 0, 0, 0], [100.0, 0, 0, 0, 0]])
    v = objective_batch(
        "gap",
        0,
        20_000,
        np.array([10.0, 1.0]),
        np.array([100_000.0] * 2),
        np.full(5, 60.0),
        np.full(5, 10.0),
        hy,
    )
    assert v[0] == pytest.approx(10.0) and v[1] == -np.inf


# --- budgets ---------------------------------------------------------------------------------


def _iv(**kw) -> InterventionBase:
    base = {
        "type": "behaviour",
        "behaviour": "smoking",
        "start_year": 2020,
        "end_year": 2022,
        "effect": 0.1,
        "effect_source": "test",
        "cost": {"per_participant": 100},
    }
    base.update(kw)
    return parse_intervention(base)


def test_affordable_known_answers():
    assert affordable(_iv(budget_per_year=10_000.0), eligible=1e6) == pytest.approx(100)
    fixed = _iv(budget_per_year=10_000.0, cost={"per_participant": 100, "fixed_per_year": 5000})
    assert affordable(fixed, eligible=1e6) == pytest.approx(50)
    assert affordable(fixed, eligible=1e6, committed=60) == 0.0
    dim = _iv(budget_per_year=10_000.0, cost={"per_participant": 100, "diminishing_returns": 1.0})
    k = affordable(dim, eligible=200)
    # k persons cost c k (1 + d k / 2E) = budget
    assert 100 * k * (1 + k / 400) == pytest.approx(10_000)
    assert k < 100


def _participants(tmp_path, data, strategy="targeted"):
    inv = _load(tmp_path, data)
    res = compare_strategies(inv, replicates=1)
    return res.table.set_index("strategy").loc[strategy, "participants"], inv


def test_doubling_the_budget_doubles_participants_without_a_capacity(tmp_path):
    data = copy.deepcopy(SMALL)
    data["levers"] = {"smoking": data["levers"]["smoking"]}
    data["strategies"] = {"targeted": {"rule": "targeted"}}
    data["optimiser"] = {"enabled": False}
    data["population"] = {"size": 20_000, "horizon": 4}
    data["budget"]["per_year"] = 30_000_000
    p1, inv = _participants(tmp_path, data)
    data["budget"]["per_year"] = 60_000_000
    p2, _ = _participants(tmp_path, data)
    w = 56.3e6 / inv.population.size
    # Each year's reach is floor(budget / (cost x weight)) simulated persons: within one
    # simulated person a year of exactly double.
    assert abs(p2 - 2 * p1) <= 3 * w
    assert p1 > 20 * w
    data["levers"]["smoking"]["capacity"] = float(0.6 * p1 / 3)
    c1, _ = _participants(tmp_path, data)
    data["budget"]["per_year"] = 30_000_000
    c2, _ = _participants(tmp_path, data)
    assert c1 <= 0.6 * p1 + 3 * w and c1 == pytest.approx(c2, abs=3 * w)


def test_a_lever_with_no_money_is_the_same_as_no_lever(tmp_path):
    with_b = copy.deepcopy(SMALL)
    with_b["strategies"] = {
        "s": {"rule": "split", "split": {"smoking": [0.5, 0.5, 0, 0, 0], "homes": [0, 0, 0, 0, 0]}}
    }
    with_b["optimiser"] = {"enabled": False}
    without = copy.deepcopy(with_b)
    del without["levers"]["homes"]
    without["strategies"]["s"]["split"] = {"smoking": [0.5, 0.5, 0, 0, 0]}
    a = compare_strategies(_load(tmp_path, with_b, "a.yaml"), replicates=1).table
    b = compare_strategies(_load(tmp_path, without, "b.yaml"), replicates=1).table
    import pandas as pd

    pd.testing.assert_frame_equal(a, b)


def test_allocation_rules_split_the_whole_budget(tmp_path):
    inv = _load(tmp_path, SMALL)
    pop = np.array([1.0, 1, 1, 1, 2])
    le = np.array([76.0, 78, 80, 82, 84])
    hle = np.array([52.0, 58, 62, 66, 70])
    for strat in inv.strategies.values():
        a = allocation(inv, strat, pop, le, hle)
        assert a.shape == (2, 5) and a.sum() == pytest.approx(400e6)
    uni = allocation(inv, inv.strategies["universal"], pop, le, hle)
    np.testing.assert_allclose(uni.sum(axis=0), 400e6 * pop / pop.sum())
    prop = allocation(inv, inv.strategies["proportionate"], pop, le, hle)
    need = pop * (84 - hle)  # shortfall of HLE against the least deprived quintile's LE
    np.testing.assert_allclose(prop.sum(axis=0), 400e6 * need / need.sum())
    tgt = allocation(inv, inv.strategies["targeted"], pop, le, hle)
    assert tgt[:, 0].sum() == pytest.approx(400e6) and tgt[:, 1:].sum() == 0


# --- the whole comparison ------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_results(tmp_path_factory):
    d = tmp_path_factory.mktemp("inv")
    return compare_strategies(_load(d, SMALL))


def test_optimiser_is_never_worse_than_a_named_strategy(small_results):
    t = small_results.table.set_index("strategy")
    named = [s for s in SMALL["strategies"]]
    assert t.loc[OPTIMISED, "objective"] >= t.loc[named, "objective"].max() - 1e-12
    assert list(small_results.table["rank"]) == list(range(1, len(t) + 1))
    assert small_results.table.objective.is_monotonic_decreasing


def test_table_has_every_measure_with_intervals(small_results):
    t = small_results.table
    for m in (
        "qalys_gained",
        "cost",
        "cost_per_qaly",
        "cost_per_healthy_year",
        "nmb_20000",
        "nmb_30000",
        "hle0_gap_change",
        "hle0_sii_change",
        "hle0_rii_change",
        "le0_gap_change",
        "le0_sii_change",
        "le0_rii_change",
        "core20_share",
        "ede_change_0",
        "ede_change_10",
        "participants",
    ):
        assert m in t.columns and f"{m}_lo" in t.columns and f"{m}_hi" in t.columns
    tg = t.set_index("strategy").loc["targeted"]
    assert tg.core20_share == pytest.approx(1.0, abs=0.05)
    assert tg.qalys_gained_lo <= tg.qalys_gained <= tg.qalys_gained_hi
    # EDE gain at aversion 0 is the mean gain; targeting gains more at high aversion relative
    # to its mean than universal does.
    u = t.set_index("strategy").loc["universal"]
    assert tg.ede_change_10 / tg.ede_change_0 > u.ede_change_10 / u.ede_change_0


def test_same_seed_same_table(tmp_path, small_results):
    again = compare_strategies(_load(tmp_path, SMALL))
    import pandas as pd

    pd.testing.assert_frame_equal(again.table, small_results.table)


class _Imgs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.srcs.append(dict(attrs)["src"])


def test_cli_compare_writes_ranked_table_figures_and_report(tmp_path):
    path = _write(tmp_path, SMALL)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["compare", str(path), "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    import pandas as pd

    t = pd.read_csv(out / "comparison.csv")
    assert set(t.strategy) == {*SMALL["strategies"], OPTIMISED}
    assert t["rank"].tolist() == sorted(t["rank"])
    for f in (
        "impact_plane",
        "frontier",
        "benefit_by_quintile",
        "ede_by_aversion",
        "allocations",
        "who_pays",
    ):
        assert (out / "figures" / f"{f}.png").stat().st_size > 5000
    parser = _Imgs()
    parser.feed((out / "report.html").read_text())
    assert len(parser.srcs) == 6 and all(
        s.startswith("data:image/png;base64,") for s in parser.srcs
    )
    for f in (
        "allocations.csv",
        "by_quintile.csv",
        "ede.csv",
        "frontier.csv",
        "summary.json",
        "manifest.json",
    ):
        assert (out / f).is_file()
    # tables.xlsx copies the CSVs; the report leads with the answer (issue 15 item 6).
    book = pd.read_excel(out / "tables.xlsx", sheet_name=None)
    assert list(book)[0] == "README"
    for name in ("comparison", "allocations", "by_quintile", "ede"):
        # Excel keeps 0.0 as a number without a type: compare values, not int/float dtypes
        pd.testing.assert_frame_equal(
            book[name], pd.read_csv(out / f"{name}.csv"), check_dtype=False
        )
    html = (out / "report.html").read_text()
    assert html.index("What this means") < html.index("Question")
    assert f"`{t.strategy.iloc[0]}`" not in html and f"<code>{t.strategy.iloc[0]}</code>" in html


BAD = [
    (
        lambda d: d["strategies"]["smoking_q1"]["split"].update({"gym": [0, 0, 0, 0, 0]}),
        "strategies.smoking_q1.split.gym: unknown lever",
    ),
    (
        lambda d: d["strategies"]["smoking_q1"].update({"split": {"smoking": [0.5, 0, 0, 0, 0]}}),
        "strategies.smoking_q1.split: shares must add up to 1",
    ),
    (
        lambda d: d["levers"]["smoking"].update({"start_year": 2021}),
        "levers.smoking.start_year: is set by the budget and the strategy",
    ),
    (
        lambda d: d["strategies"]["universal"].update({"rule": "everyone"}),
        "strategies.universal.rule:",
    ),
    (
        lambda d: d["budget"].update({"start_year": 2050}),
        "budget.start_year: must fall within the simulated years",
    ),
    (lambda d: d["budget"].update({"per_year": -5}), "budget.per_year: must be"),
    (lambda d: d.update({"optimiser": {"levels": [0.5, 0.25]}}), "optimiser.levels:"),
    (lambda d: d.update({"objective": {"measure": "wealth"}}), "objective.measure:"),
    (lambda d: d.update({"budgett": {}}), "budgett: unknown key"),
    (lambda d: d["levers"]["homes"].update({"effect": 2}), "levers.homes.effect:"),
]


@pytest.mark.parametrize("edit,message", BAD)
def test_bad_investment_files_give_one_line_errors(tmp_path, edit, message):
    data = copy.deepcopy(SMALL)
    edit(data)
    path = _write(tmp_path, data)
    with pytest.raises(ScenarioError) as e:
        load_investment(path)
    text = str(e.value)
    assert "\n" not in text and text.startswith(str(path)) and message in text, text
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["compare", str(path), "-o", str(out)])
    assert r.exit_code == 2 and "Traceback" not in r.output and not out.exists()


def test_shipped_investment_examples_are_valid():
    inv = load_investment(ROOT / "scenarios" / "invest_10m.yaml")
    assert math.isclose(inv.budget.per_year, 420e6)
    assert set(inv.strategies) >= {"universal", "proportionate", "targeted"}
    local = load_investment(ROOT / "scenarios" / "invest_local_urban.yaml")
    assert local.population.area == "local" and math.isclose(local.budget.per_year, 10e6)
    assert local.calibration is not None and set(local.levers) == set(inv.levers)


def test_a_budget_reaches_the_same_real_people_at_any_simulated_size(tmp_path):
    data = copy.deepcopy(SMALL)
    data["levers"] = {"smoking": data["levers"]["smoking"]}
    data["strategies"] = {"targeted": {"rule": "targeted"}}
    data["optimiser"] = {"enabled": False}
    data["budget"]["per_year"] = 30_000_000
    reached = {}
    for size in (10_000, 20_000):
        data["population"] = {"size": size, "horizon": 4}
        reached[size], inv = _participants(tmp_path, data)
    w = 56.3e6 / 10_000
    # £30m a year at £300 = 100,000 people a year for 3 years; each run rounds down to whole
    # simulated persons a year (at most one weight a year below the budget).
    assert reached[10_000] == pytest.approx(reached[20_000], abs=3 * w)
    assert 3e5 - 3 * w <= reached[20_000] <= 3e5


def test_compare_on_a_local_area_without_its_fit_is_one_line_and_exit_2(tmp_path):
    import shutil

    shutil.copy(
        ROOT / "scenarios" / "data" / "urban_deprived_le_illustrative.csv", tmp_path / "targets.csv"
    )  # the same targets, but no fitted file beside them
    path = _write(
        tmp_path,
        {
            "extends": str(ROOT / "scenarios" / "invest_local_urban.yaml"),
            "calibration": {"targets": "targets.csv"},
            "population": {"size": 2000},
        },
    )
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["compare", str(path), "-o", str(out), "-q"])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and "calibration" in r.output
    assert r.output.strip().count("\n") == 0 and not out.exists()


def test_validate_accepts_an_investment_file_and_reports_its_errors(tmp_path):
    r = CliRunner().invoke(main, ["validate", str(ROOT / "scenarios" / "invest_10m.yaml")])
    assert r.exit_code == 0 and "investment question 'invest_10m'" in r.output
    bad = copy.deepcopy(SMALL)
    bad["strategies"]["universal"]["rule"] = "everyone"
    r = CliRunner().invoke(main, ["validate", str(_write(tmp_path, bad))])
    assert r.exit_code == 2 and "strategies.universal.rule" in r.output


def test_one_replicate_has_within_run_intervals_and_a_bounded_core20_share(tmp_path, small_results):
    """Issue 15: with one seed the headline measures still carry 95% intervals (within the
    run), each containing its value; the share to Core20 stays in [0, 1] with an interval
    that contains it (never '101%, -12% to 98%')."""
    data = copy.deepcopy(SMALL)
    data["population"] = {"size": 4000, "horizon": 8}
    data["optimiser"] = {"enabled": False}
    t = compare_strategies(_load(tmp_path, data), replicates=1).table
    assert t.qalys_gained_lo.notna().all() and t.hle0_sii_change_lo.notna().any()
    for m in ("qalys_gained", "hle0_gap_change", "hle0_sii_change", "le0_sii_change"):
        # (a gap change with no discordant event in the run has no within-run interval)
        d = t.dropna(subset=[f"{m}_lo"])
        assert ((d[f"{m}_lo"] <= d[m]) & (d[m] <= d[f"{m}_hi"])).all(), m
    for table in (t, small_results.table):
        share = table.dropna(subset=["core20_share"])
        assert ((share.core20_share >= 0) & (share.core20_share <= 1)).all()
        ci = share.dropna(subset=["core20_share_lo"])
        assert not ci.empty
        assert (
            (ci.core20_share_lo <= ci.core20_share) & (ci.core20_share <= ci.core20_share_hi)
        ).all()
        assert ((ci.core20_share_lo >= 0) & (ci.core20_share_hi <= 1)).all()
