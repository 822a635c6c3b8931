"""Property-based tests (Hypothesis) of the input readers: any generated document either
loads or is refused with one line that names the file, and nothing else escapes; a few
examples also go through the CLI (exit 0 or exit 2 with one line, nothing written)."""

from __future__ import annotations

import copy
import csv
import io
import math
import os
import re
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile_helpers import FORBIDDEN, REPO, problems_with_refusal, run_inprocess, snapshot
from povsim.inputs.composition import CompositionError, read_composition_table
from povsim.inputs.errors import ScenarioError
from povsim.inputs.investment import load_investment
from povsim.inputs.loader import load_scenario
from povsim.inputs.targets import TargetsError, read_local_targets

BASELINE = str(REPO / "scenarios" / "baseline.yaml")
ENGLAND_CSV = REPO / "calibration" / "composition_england_mid2019.csv"
# A thorough run: POVSIM_EXAMPLES_SCALE=10 python -m pytest tests/test_properties.py
SCALE = float(os.environ.get("POVSIM_EXAMPLES_SCALE", "1"))


def examples(n: int) -> int:
    return max(1, int(n * SCALE))


SETTINGS = dict(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)

HOUSING = {
    "type": "housing",
    "name": "warm",
    "start_year": 2019,
    "end_year": 2020,
    "effect": 0.8,
    "effect_source": "test",
    "cost": {"per_participant": 4000},
}
SCENARIO = {
    "extends": BASELINE,
    "name": "prop",
    "population": {"size": 200, "horizon": 2},
    "arms": {"a": {"interventions": [HOUSING]}},
    "uncertainty": {
        "arms.*.interventions.warm.effect": {
            "dist": "uniform",
            "min": 0.5,
            "max": 0.9,
            "source": "test",
        }
    },
}
INVESTMENT = {
    "extends": BASELINE,
    "name": "inv",
    "population": {"size": 200, "horizon": 3},
    "replicates": 1,
    "budget": {"per_year": 1_000_000, "years": 1, "start_year": 2020},
    "levers": {
        "smoking": {
            "type": "behaviour",
            "behaviour": "smoking",
            "uptake": 0.3,
            "effect": 0.2,
            "effect_source": "t",
            "cost": {"per_participant": 300},
        },
        "homes": {
            "type": "housing",
            "uptake": 0.3,
            "effect": 0.8,
            "effect_source": "t",
            "cost": {"per_participant": 4000},
        },
    },
    "strategies": {
        "universal": {"rule": "universal"},
        "prop": {"rule": "proportionate", "weights": [5, 4, 3, 2, 1]},
        "split": {
            "rule": "split",
            "split": {"smoking": [0.5, 0, 0, 0, 0], "homes": [0.5, 0, 0, 0, 0]},
        },
    },
    "optimiser": {"enabled": False},
    "economics": {"aversions": [0, 1]},
}

SCENARIO_PATHS = [
    "name",
    "seed",
    "description",
    "extends",
    "population",
    "population.size",
    "population.horizon",
    "population.start_year",
    "population.births",
    "population.area",
    "population.composition",
    "population.area_name",
    "parameters",
    "parameters.income_sigma",
    "parameters.inverse_care_weights",
    "parameters.rr.mortality.smoking_current",
    "parameters.median_income_gbp",
    "feedbacks.capacity.adjustment_years",
    "feedbacks.capacity.investment_delay_years",
    "feedbacks.trust.enabled",
    "arms",
    "arms.a",
    "arms.a.description",
    "arms.a.interventions",
    "arms.a.interventions.0",
    "arms.a.interventions.0.type",
    "arms.a.interventions.0.effect",
    "arms.a.interventions.0.coverage",
    "arms.a.interventions.0.uptake",
    "arms.a.interventions.0.capacity",
    "arms.a.interventions.0.budget_per_year",
    "arms.a.interventions.0.decay",
    "arms.a.interventions.0.start_year",
    "arms.a.interventions.0.end_year",
    "arms.a.interventions.0.ramp_up_years",
    "arms.a.interventions.0.name",
    "arms.a.interventions.0.cost",
    "arms.a.interventions.0.cost.per_participant",
    "arms.a.interventions.0.cost.fixed_per_year",
    "arms.a.interventions.0.cost.diminishing_returns",
    "arms.a.interventions.0.targeting",
    "arms.a.interventions.0.targeting.rule",
    "arms.a.interventions.0.targeting.weights",
    "arms.a.interventions.0.targeting.quintiles",
    "arms.a.interventions.0.eligibility.age_min",
    "arms.a.interventions.0.eligibility",
    "uncertainty",
    "uncertainty.arms.*.interventions.warm.effect",
    "uncertainty.arms.*.interventions.warm.effect.dist",
    "uncertainty.arms.*.interventions.warm.effect.min",
    "uncertainty.arms.*.interventions.warm.effect.max",
    "uncertainty.parameters.income_sigma",
    "calibration",
    "calibration.targets",
]
INVESTMENT_PATHS = [
    "name",
    "replicates",
    "budget",
    "budget.per_year",
    "budget.years",
    "budget.start_year",
    "levers",
    "levers.smoking",
    "levers.smoking.effect",
    "levers.smoking.capacity",
    "levers.smoking.cost.per_participant",
    "levers.homes.uptake",
    "levers.homes.start_year",
    "lever_shares",
    "lever_shares.smoking",
    "strategies",
    "strategies.universal",
    "strategies.universal.rule",
    "strategies.universal.lever_shares",
    "strategies.prop.weights",
    "strategies.prop.need",
    "strategies.split.split",
    "strategies.split.split.smoking",
    "economics",
    "economics.aversions",
    "economics.thresholds",
    "economics.discount_rate_costs",
    "economics.evaluation_year",
    "objective",
    "objective.measure",
    "objective.aversion",
    "objective.max_cost_per_qaly",
    "optimiser",
    "optimiser.enabled",
    "optimiser.levels",
    "optimiser.step",
    "optimiser.candidates",
    "population.size",
    "parameters.income_sigma",
]

NASTY_FLOATS = st.sampled_from(
    [
        math.nan,
        math.inf,
        -math.inf,
        1e308,
        -1e308,
        5e-324,
        0.0,
        -0.0,
        1e300,
        1e-300,
        2.0**63,
        0.5,
        1.0,
        100.0,
    ]
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    NASTY_FLOATS,
    st.text(max_size=12),
    st.sampled_from(
        ["", "a\nb", "x" * 300, "../x", "/dev/zero", "universal", "local", "housing", "0", "1e308"]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(
            st.one_of(st.text(max_size=8), st.sampled_from(["a", "name", "size"])),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


def put(doc: dict, path: str, value) -> None:
    """Set a dotted path (parameter and uncertainty keys keep their own dots)."""
    for prefix in ("parameters.", "uncertainty."):
        if path.startswith(prefix):
            rest = path[len(prefix) :]
            key, _, field = rest.partition(".effect.") if ".effect." in rest else (rest, "", "")
            if field:
                key += ".effect"
            node = doc.setdefault(prefix[:-1], {})
            if not isinstance(node, dict):
                doc[prefix[:-1]] = node = {}
            if field:
                sub = node.setdefault(key, {})
                if not isinstance(sub, dict):
                    node[key] = sub = {}
                sub[field] = value
            else:
                node[key] = value
            return
    parts = path.split(".")
    node = doc
    for part in parts[:-1]:
        if isinstance(node, list):
            if not part.isdigit() or not node:
                return  # an earlier edit made this a list: nothing to set here
            i = int(part) % len(node)
            if not isinstance(node[i], (dict, list)):
                node[i] = {}
            node = node[i]
        else:
            if not isinstance(node.get(part), (dict, list)):
                node[part] = {}
            node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        if last.isdigit() and node:
            node[int(last) % len(node)] = value
    else:
        node[last] = value


def edits(paths: list[str]):
    key = st.one_of(
        st.sampled_from(paths),
        st.sampled_from(paths).map(lambda p: p + "x"),
        st.text(min_size=1, max_size=10),
    )
    return st.lists(st.tuples(key, values), min_size=1, max_size=4)


def check_refusal(exc: Exception, path: Path) -> None:
    text = str(exc)
    assert "\n" not in text and text.startswith(str(path)), text
    assert len(text) <= 600, text
    for pat in FORBIDDEN:
        assert not pat.search(text), (pat.pattern, text)


_ROOT = tempfile.TemporaryDirectory(prefix="povsim-prop-")  # removed at exit
_COUNT = iter(range(10**9))


def _tmp() -> Path:
    """A fresh folder per example (under one temporary folder removed at exit)."""
    p = Path(_ROOT.name) / str(next(_COUNT))
    p.mkdir()
    return p


@settings(max_examples=examples(200), **SETTINGS)
@given(changes=edits(SCENARIO_PATHS))
def test_any_scenario_loads_or_is_refused_in_one_line(changes):
    doc = copy.deepcopy(SCENARIO)
    for path, value in changes:
        put(doc, path, value)
    folder = _tmp()
    p = folder / "s.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True))
    try:
        load_scenario(p)
    except ScenarioError as e:
        check_refusal(e, p)
    assert [x.name for x in folder.iterdir()] == ["s.yaml"]


@settings(max_examples=examples(100), **SETTINGS)
@given(changes=edits(INVESTMENT_PATHS))
def test_any_compare_file_loads_or_is_refused_in_one_line(changes):
    doc = copy.deepcopy(INVESTMENT)
    for path, value in changes:
        put(doc, path, value)
    folder = _tmp()
    p = folder / "inv.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True))
    try:
        inv = load_investment(p)
    except ScenarioError as e:
        check_refusal(e, p)
        return
    # what loads has finite, bounded money
    assert math.isfinite(inv.budget.per_year)


YAML_ALPHABET = "{}[]:,-&*!|>'\"#?%@`\n\t ab19.e~"


@settings(max_examples=examples(200), **SETTINGS)
@given(
    text=st.one_of(
        st.text(alphabet=YAML_ALPHABET, max_size=120),
        st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
        st.builds(
            lambda k, v: f"name: ok\n{k}: {v}\n{k}: {v}\n",
            st.text("abcxyz", min_size=1, max_size=3),
            st.text(YAML_ALPHABET, max_size=20),
        ),
    )
)
def test_any_yaml_text_loads_or_is_refused_in_one_line(text):
    folder = _tmp()
    p = folder / "t.yaml"
    p.write_bytes(text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text)
    try:
        load_scenario(p)
    except ScenarioError as e:
        check_refusal(e, p)


def _england_rows() -> list[list[str]]:
    lines = [ln for ln in ENGLAND_CSV.read_text().splitlines() if not ln.startswith("#")]
    rows = list(csv.reader(lines))
    return rows


CELLS = st.one_of(
    st.text(max_size=8),
    NASTY_FLOATS.map(repr),
    st.integers(-5, 200).map(str),
    st.sampled_from(
        [
            "nan",
            "inf",
            "-inf",
            "1e308",
            "NaN",
            "1e15",
            "",
            " ",
            "male",
            "female",
            "all",
            "le0",
            "hle0",
            "0",
            "100",
            "5",
            '"',
            "1,2",
            "\x00",
            "\ufeff",
            "74.5",
        ]
    ),
)


@st.composite
def mutated_table(draw, rows: list[list[str]]):
    rows = copy.deepcopy(rows)
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["cell", "drop", "dup", "add", "comment", "header"]))
        i = draw(st.integers(0, len(rows) - 1)) if rows else 0
        if kind == "cell" and rows:
            j = draw(st.integers(0, max(len(rows[i]) - 1, 0)))
            if rows[i]:
                rows[i][j] = draw(CELLS)
        elif kind == "drop" and rows:
            rows.pop(i)
        elif kind == "dup" and rows:
            rows.insert(i, list(rows[i]))
        elif kind == "add":
            rows.insert(i, draw(st.lists(CELLS, max_size=7)))
        elif kind == "comment":
            rows.insert(i, ["# " + draw(st.text(max_size=10))])
        elif kind == "header" and rows:
            rows[0] = draw(st.permutations(rows[0]))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


@settings(max_examples=examples(200), **SETTINGS)
@given(text=mutated_table(_england_rows()))
def test_any_composition_csv_loads_or_is_refused_in_one_line(text):
    folder = _tmp()
    p = folder / "pop.csv"
    p.write_text(text, encoding="utf-8", errors="surrogateescape")
    try:
        table = read_composition_table(p)
    except CompositionError as e:
        check_refusal(e, p)
        return
    counts = table["count"].to_numpy(float)
    assert (counts >= 0).all() and all(math.isfinite(c) for c in counts)


TARGET_ROWS = [
    ["measure", "sex", "quintile", "value", "period", "source"],
    ["le0", "male", "1", "74.5", "2017-19", "test"],
    ["le0", "female", "all", "80.8", "2017-19", "test"],
    ["hle0", "male", "all", "59.5", "2017-19", "test"],
]


@settings(max_examples=examples(150), **SETTINGS)
@given(text=mutated_table(TARGET_ROWS))
def test_any_targets_csv_loads_or_is_refused_in_one_line(text):
    folder = _tmp()
    p = folder / "targets.csv"
    p.write_text(text, encoding="utf-8", errors="surrogateescape")
    try:
        table = read_local_targets(p)
    except TargetsError as e:
        check_refusal(e, p)
        return
    assert all(20 <= v <= 110 for v in table["value"])


@settings(max_examples=6, **SETTINGS)
@given(
    changes=edits(
        [p for p in SCENARIO_PATHS if not p.startswith(("population", "extends", "uncertainty"))]
    )
)
def test_through_the_cli_validate_and_run_agree(changes):
    doc = copy.deepcopy(SCENARIO)
    doc.pop("uncertainty")
    for path, value in changes:
        put(doc, path, value)
    doc["population"] = {"size": 200, "horizon": 2}
    doc["extends"] = BASELINE
    folder = _tmp()
    p = folder / "s.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True))
    before = snapshot(folder)
    v = run_inprocess(["validate", "s.yaml"], folder)
    r = run_inprocess(["run", "s.yaml", "-o", "out", "-q", "--no-figures"], folder)
    assert not v.crash and not r.crash, (v.crash or r.crash)[-2000:]
    if v.code == 0:
        assert r.code == 0, r.stderr
    else:
        assert not problems_with_refusal(v, ["s.yaml"]), v.stderr
        assert not problems_with_refusal(r, ["s.yaml"]), r.stderr
        assert snapshot(folder) == before


def test_the_property_strategies_reach_both_outcomes():
    """Guard against a generator that only ever produces refusals."""
    doc = copy.deepcopy(SCENARIO)
    folder = _tmp()
    p = folder / "s.yaml"
    p.write_text(yaml.safe_dump(doc))
    assert load_scenario(p).name == "prop"
    put(doc, "arms.a.interventions.0.effect", math.nan)
    p.write_text(yaml.safe_dump(doc))
    with pytest.raises(ScenarioError, match=re.escape("arms.a.interventions.0.effect")):
        load_scenario(p)
