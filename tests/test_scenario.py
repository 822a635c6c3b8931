"""Scenario schema: defaults, extends, one-line errors, overrides (no simulation)."""

from __future__ import annotations

from pathlib import Path

import pytest

import povsim.inputs.schema as scenario_mod
from povsim.inputs.errors import ScenarioError
from povsim.inputs.loader import load_scenario, scenario_from_dict
from povsim.inputs.schema import PopulationSpec, Scenario

BAD = Path(__file__).parent / "bad_scenarios"

# file -> fragment the message must contain (the field path, or where in the file)
BAD_CASES = {
    "unknown_top_key.yaml": "colour: unknown key",
    "nested_key_typo.yaml": "population.sise: unknown key",
    "size_wrong_type.yaml": "population.size: must be an integer between 100 and 20000000",
    "size_fractional.yaml": "population.size: must be an integer between 100 and 20000000, or `full` (the area's real population, one simulated person per real person); got 12.5",  # noqa: E501
    "size_out_of_range.yaml": "population.size:",
    "negative_seed.yaml": "seed: must be an integer between 0",
    "horizon_zero.yaml": "population.horizon:",
    "start_year_string.yaml": "population.start_year:",
    "births_not_bool.yaml": "population.births: must be true or false",
    "name_with_spaces.yaml": "name:",
    "missing_name.yaml": "name: required key is missing",
    "description_not_text.yaml": "description: must be a string",
    "population_not_mapping.yaml": "population: must be a mapping",
    "source_path_given.yaml": "source_path:",
    "param_unknown_typo.yaml": "parameters.rr.mortality.smokng_current: unknown parameter path",
    "param_out_of_range.yaml": "parameters.income_sigma: out of range",
    "param_bool.yaml": "parameters.job_exit_rate: must be a number, not true/false",
    "param_string.yaml": "parameters.median_income_gbp:",
    "parameters_not_mapping.yaml": "parameters: must be a mapping",
    "invalid_yaml.yaml": "invalid YAML at line",
    "top_level_list.yaml": "top level must be a mapping",
    "empty_file.yaml": "top level must be a mapping",
    "extends_missing.yaml": "extends: file not found",
    "extends_not_string.yaml": "extends: must be a path",
    "extends_cycle_a.yaml": "extends: cycle",
    "extends_cycle_b.yaml": "extends: cycle",
    "extends_self.yaml": "extends: cycle",
    "extends_bad_base.yaml": "population.sise: unknown key",
    "income_lag_out_of_range.yaml": "parameters.income_exposure_persistence: out of range",
    "take_up_gap_out_of_range.yaml": "take_up_gap",
}


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_scenario_gets_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path / "min.yaml", "name: minimal\n")
    sc = load_scenario(path)
    assert isinstance(sc, Scenario)
    assert sc.name == "minimal" and sc.description == "" and sc.seed == 1
    assert sc.population == PopulationSpec()
    assert (sc.population.size, sc.population.start_year, sc.population.horizon) == (
        200_000,
        2019,
        30,
    )
    assert sc.population.births is True
    assert sc.parameters == {}
    assert sc.source_path == str(path)


def test_valid_parameters_accepted() -> None:
    sc = scenario_from_dict(
        {"name": "p", "parameters": {"income_sigma": 0.5, "rr.mortality.obese": 2}}
    )
    assert sc.parameters == {"income_sigma": 0.5, "rr.mortality.obese": 2}
    assert sc.source_path is None


def test_extends_deep_merges(tmp_path: Path) -> None:
    _write(
        tmp_path / "base" / "base.yaml",
        "name: base\ndescription: shared\npopulation: {size: 1000, horizon: 5}\n"
        "parameters: {income_sigma: 0.5}\n",
    )
    child = _write(
        tmp_path / "child.yaml",
        "extends: base/base.yaml\nname: child\npopulation: {horizon: 10}\n"
        "parameters: {job_exit_rate: 0.1}\n",
    )
    sc = load_scenario(child)
    # The parent's description is not the child's: a derived file without one says so.
    assert sc.name == "child" and sc.description == "child (extends base.yaml)"
    assert (sc.population.size, sc.population.horizon) == (1000, 10)
    assert sc.parameters == {"income_sigma": 0.5, "job_exit_rate": 0.1}


def test_a_derived_scenario_keeps_its_own_description(tmp_path: Path) -> None:
    _write(tmp_path / "base.yaml", "name: base\ndescription: the parent\n")
    own = _write(tmp_path / "own.yaml", "extends: base.yaml\nname: own\ndescription: mine\n")
    assert load_scenario(own).description == "mine"
    empty = _write(tmp_path / "empty.yaml", "extends: base.yaml\nname: e\ndescription: ''\n")
    assert load_scenario(empty).description == ""  # an explicit empty one is kept
    # two levels: the middle file's own description is not inherited by the top either
    _write(tmp_path / "mid.yaml", "extends: base.yaml\nname: mid\ndescription: middle\n")
    top = _write(tmp_path / "top.yaml", "extends: mid.yaml\nname: top\n")
    assert load_scenario(top).description == "top (extends mid.yaml)"


def test_extends_chain_is_relative_to_each_file(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "root.yaml", "name: root\nseed: 9\n")
    _write(tmp_path / "a" / "b" / "mid.yaml", "extends: ../root.yaml\npopulation: {size: 500}\n")
    top = _write(tmp_path / "top.yaml", "extends: a/b/mid.yaml\nname: top\n")
    sc = load_scenario(top)
    assert (sc.name, sc.seed, sc.population.size) == ("top", 9, 500)


def test_extends_cycle(tmp_path: Path) -> None:
    _write(tmp_path / "x.yaml", "extends: y.yaml\nname: x\n")
    _write(tmp_path / "y.yaml", "extends: x.yaml\nname: y\n")
    with pytest.raises(ScenarioError, match=r"extends: cycle .*x\.yaml -> .*y\.yaml -> .*x\.yaml"):
        load_scenario(tmp_path / "x.yaml")


def test_corpus_is_fully_covered() -> None:
    assert sorted(p.name for p in BAD.glob("*.yaml")) == sorted(BAD_CASES)
    assert len(BAD_CASES) >= 14


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_bad_scenario_one_line_error(name: str) -> None:
    path = BAD / name
    assert path.read_text().startswith("#"), "line 1 must be a comment saying what is wrong"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    msg = str(info.value)
    assert "\n" not in msg and "Traceback" not in msg
    assert BAD_CASES[name] in msg
    if name.startswith("extends_cycle"):
        assert name in msg  # the blamed file may be the other half of the cycle
    else:
        assert msg.startswith(f"{path}: ")


def test_messages_follow_the_documented_shape() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(BAD / "nested_key_typo.yaml")
    assert str(info.value).endswith(
        "population.sise: unknown key; allowed size, start_year, horizon, births, area, "
        "composition, area_name (did you mean `size`?)"
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(BAD / "param_unknown_typo.yaml")
    assert str(info.value).endswith(
        "allowed see `povsim parameters` (did you mean `rr.mortality.smoking_current`?)"
    )
    with pytest.raises(ScenarioError, match=r"invalid YAML at line 4, column \d+: "):
        load_scenario(BAD / "invalid_yaml.yaml")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"nope\.yaml: file not found$"):
        load_scenario(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    "data, path",
    [
        ({"name": "b", "parameters": {"income_sigma": True}}, "parameters.income_sigma"),
        (
            {"name": "b", "parameters": {"rr.mortality.obese": False}},
            "parameters.rr.mortality.obese",
        ),
        ({"name": "b", "population": {"size": True}}, "population.size"),
        ({"name": "b", "seed": True}, "seed"),
    ],
)
def test_bool_is_not_a_number(data: dict, path: str) -> None:
    with pytest.raises(ScenarioError, match=rf"^<dict>: {path}: .*; got (true|false)"):
        scenario_from_dict(data)


def test_list_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    space = {"ages": {"default": [1.0, 2.0, 3.0], "min": 0.0, "max": 10.0, "unit": ""}}
    monkeypatch.setattr(scenario_mod, "parameter_space", lambda: space)
    assert scenario_from_dict({"name": "l", "parameters": {"ages": [1, 2.5, 3]}}).parameters[
        "ages"
    ] == [1, 2.5, 3]
    with pytest.raises(
        ScenarioError, match=r"parameters\.ages: must be a list of 3 numbers; got \[1, 2\]"
    ):
        scenario_from_dict({"name": "l", "parameters": {"ages": [1, 2]}})
    with pytest.raises(ScenarioError, match=r"parameters\.ages\[2\]: out of range; got 11"):
        scenario_from_dict({"name": "l", "parameters": {"ages": [1, 2, 11]}})
    with pytest.raises(ScenarioError, match=r"parameters\.ages: must be a list"):
        scenario_from_dict({"name": "l", "parameters": {"ages": 1.0}})


def test_overrides_applied_and_validated(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.yaml", "name: s\npopulation: {horizon: 5}\n")
    sc = load_scenario(
        path,
        {
            "seed": 5,
            "population.size": 1000,
            "parameters.rr.mortality.obese": 1.5,
            "population.start_year": None,
        },
    )
    assert (sc.seed, sc.population.size, sc.population.horizon) == (5, 1000, 5)
    assert sc.population.start_year == 2019  # None means the option was not given
    assert sc.parameters == {"rr.mortality.obese": 1.5}
    for overrides, fragment in [
        ({"population.size": 5}, "population.size: must be an integer"),
        ({"seed": -1}, "seed: must be an integer"),
        ({"population.sise": 1000}, "population.sise: unknown key"),
        ({"parameters.income_sigma": 9}, "parameters.income_sigma: out of range"),
    ]:
        with pytest.raises(ScenarioError, match=rf"^{path}: {fragment}"):
            load_scenario(path, overrides)


def test_scenario_from_dict_does_not_mutate_input() -> None:
    data = {"name": "d", "population": {"size": 500}}
    scenario_from_dict(data)
    assert data == {"name": "d", "population": {"size": 500}}
    with pytest.raises(ScenarioError, match=r"^<dict>: top level must be a mapping"):
        scenario_from_dict(["name"])  # type: ignore[arg-type]
