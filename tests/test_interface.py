"""One interface: shared options mean the same on every command; -V, logging, progress lines,
`povsim schema`, `povsim init` and the packaged scenarios."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from povsim.cli import REPLICATES, SIZE, main

REPO = Path(__file__).resolve().parents[1]

SHARED = ("output", "seed", "size", "replicates", "threads", "no_figures", "quiet")
# Where a command differs, cli.py says why (calibrate: --size from 1,000; no -o/-q, it writes
# calibration files; sensitivity: no --replicates).
EXPECTED = {
    "run": set(SHARED),
    "compare": set(SHARED),
    "sensitivity": set(SHARED) - {"replicates"},
    "calibrate": {"seed", "size", "threads"},
}


def _params(name: str) -> dict[str, click.Parameter]:
    return {p.name: p for p in main.commands[name].params}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shared_options_have_one_name_range_and_meaning(name):
    params = _params(name)
    assert EXPECTED[name] <= set(params)
    reference = _params("run")
    for opt in EXPECTED[name]:
        p, ref = params[opt], reference[opt]
        assert p.opts == ref.opts and p.secondary_opts == ref.secondary_opts, opt
        if opt == "size" and name == "calibrate":
            assert (p.type.min, p.type.max) == (1000, SIZE.max)
            continue
        if opt in ("seed", "size", "replicates", "threads"):
            assert (p.type.min, p.type.max) == (ref.type.min, ref.type.max), (name, opt)
    if "replicates" in params:
        assert params["replicates"].type.max == REPLICATES.max == 1000


def test_compare_file_replicates_range_matches_the_option():
    from povsim.inputs.investment import Investment

    field = Investment.model_fields["replicates"]
    bounds = {type(m).__name__: m for m in field.metadata}
    assert bounds["Le"].le == REPLICATES.max


def test_calibrate_takes_the_scenario_as_an_argument_or_option(tmp_path, monkeypatch):
    seen = []
    import povsim.cli as cli

    monkeypatch.setattr(cli, "_calibrate_local", lambda scenario, *a: seen.append(scenario))
    sc = tmp_path / "area.yaml"
    sc.write_text("name: x\n")
    for args in (["calibrate", str(sc)], ["calibrate", "--scenario", str(sc)]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 0, res.output
    assert seen == [sc, sc]
    other = tmp_path / "other.yaml"
    res = CliRunner().invoke(main, ["calibrate", str(sc), "--scenario", str(other)])
    assert res.exit_code == 2 and "give one" in res.output


def test_sensitivity_threads_only_in_process(tmp_path):
    res = CliRunner().invoke(
        main,
        [
            "sensitivity",
            str(REPO / "scenarios" / "baseline.yaml"),
            "--threads",
            "1",
            "--workers",
            "2",
        ],
    )
    assert res.exit_code == 2
    assert "--threads: only with --workers 1" in res.output


# --- -V, logging, progress off a terminal -----------------------------------------------------


def test_dash_v_capital_is_version():
    import povsim

    for flag in ("-V", "--version"):
        res = CliRunner().invoke(main, [flag])
        assert res.exit_code == 0 and povsim.__version__ in res.output


def _small(tmp_path: Path) -> Path:
    p = tmp_path / "small.yaml"
    p.write_text(
        f"extends: {REPO / 'scenarios' / 'baseline.yaml'}\nname: small\n"
        "population:\n  size: 1000\n  horizon: 2\n"
    )
    return p


@pytest.mark.parametrize(
    "flags, info", [([], False), (["-v"], True), (["--log-level", "INFO"], True)]
)
def test_verbose_logs_each_phase_at_info_default_silent(tmp_path, flags, info):
    sc = _small(tmp_path)
    args = [*flags, "run", str(sc), "-o", str(tmp_path / "out"), "-q", "--no-figures"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert ("INFO: reading" in res.output) is info
    assert ("INFO: simulating small: done in" in res.output) is info
    assert "INFO" not in res.stdout  # logging goes to stderr only


def test_progress_is_plain_lines_when_stderr_is_not_a_terminal():
    from povsim.cli import _LazyProgress

    runner = CliRunner()
    with runner.isolation() as (_, err, *_rest):
        p = _LazyProgress("simulating x", enabled=True, delay=0, every=0)
        for done in range(1, 4):
            p(done, 3)
        lines = err.getvalue().decode().splitlines()
    assert [ln.split(" (")[0] for ln in lines] == [f"simulating x: {d}/3" for d in (1, 2, 3)]
    with runner.isolation() as (_, err, *_rest):
        p = _LazyProgress("x", enabled=True, delay=0, every=3600)
        for done in range(1, 4):
            p(done, 3)
        # throttled, but the first and the last step are always said
        assert len(err.getvalue().decode().splitlines()) == 2


# --- povsim schema and the generated references -----------------------------------------------


@pytest.mark.parametrize("kind, key", [("scenario", "arms"), ("compare", "budget")])
def test_schema_prints_the_json_schema_of_each_kind(kind, key):
    import json

    res = CliRunner().invoke(main, ["schema", "--kind", kind])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["$schema"].startswith("https://json-schema.org/")
    assert key in doc["properties"] and "extends" in doc["properties"]
    assert "source_path" not in doc["properties"]  # set by the loader, refused in a file
    text = json.dumps(doc)
    for raw in ('"ge":', '"le":', '"gt":', '"lt":'):
        assert raw not in text  # bounds in standard JSON Schema keywords only
    if kind == "scenario":
        size = doc["$defs"]["PopulationSpec"]["properties"]["size"]
        assert (size["minimum"], size["maximum"]) == (SIZE.min, SIZE.max)
        cov = doc["$defs"]["IncomeIntervention"]["properties"]["coverage"]["anyOf"][0]
        assert (cov["minimum"], cov["maximum"]) == (0, 1)


@pytest.mark.parametrize(
    "kind, page", [("scenario", "scenario-reference.md"), ("compare", "compare-reference.md")]
)
def test_committed_reference_is_up_to_date(kind, page):
    from povsim.inputs.reference import json_schema, markdown

    committed = (REPO / "docs" / page).read_text(encoding="utf-8")
    assert committed == markdown(kind), (
        f"docs/{page} is stale: run `povsim schema --markdown"
        f"{'' if kind == 'scenario' else ' --kind compare'} > docs/{page}`"
    )
    # every field of every block is in the page
    doc = json_schema(kind)
    for node in [doc, *doc["$defs"].values()]:
        for field in node.get("properties", {}):
            assert f"| `{field}` |" in committed


# --- shipped scenarios inside the package -----------------------------------------------------


def test_wheel_ships_the_scenarios_like_the_calibration():
    import tomllib

    conf = tomllib.loads((REPO / "pyproject.toml").read_text())
    include = conf["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert include["scenarios"] == "povsim/_scenarios"
    assert include["calibration"] == "povsim/_calibration"


def test_extends_a_bare_shipped_name_falls_back_to_the_packaged_copy(tmp_path, monkeypatch):
    from povsim.inputs import loader

    shipped = tmp_path / "site-packages" / "povsim" / "_scenarios"
    shipped.mkdir(parents=True)
    (shipped / "baseline.yaml").write_text(
        "name: baseline\ndescription: packaged\npopulation: {size: 1234, horizon: 3}\n"
    )
    monkeypatch.setattr(loader, "scenarios_dir", lambda: shipped)
    mine = tmp_path / "work"
    mine.mkdir()
    sc = mine / "mine.yaml"
    sc.write_text("extends: baseline.yaml\nname: mine\n")
    loaded = loader.load_scenario(sc)
    # the packaged file was read (its size); its description is not the child's (issue 15)
    assert (loaded.population.size, loaded.description) == (1234, "mine (extends baseline.yaml)")
    assert str(shipped / "baseline.yaml") in loaded.input_files()
    # a file of that name beside the scenario wins over the packaged one
    (mine / "baseline.yaml").write_text("name: baseline\npopulation: {size: 999}\n")
    assert loader.load_scenario(sc).population.size == 999
    # a path (not a bare name) is never redirected: its absence is the usual one-line error
    (mine / "baseline.yaml").unlink()
    sc.write_text("extends: sub/baseline.yaml\nname: mine\n")
    with pytest.raises(Exception, match="extends"):
        loader.load_scenario(sc)


def test_scenarios_dir_is_the_repository_folder_in_a_checkout():
    from povsim.inputs.loader import scenarios_dir

    assert scenarios_dir() == REPO / "scenarios"


# --- povsim init ------------------------------------------------------------------------------


def test_init_writes_a_starter_that_validates_and_runs_and_never_overwrites(tmp_path, monkeypatch):
    import yaml

    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(main, ["init"])
    assert res.exit_code == 0, res.output
    text = Path("scenario.yaml").read_text()
    doc = yaml.safe_load(text)
    assert doc["extends"] == "baseline.yaml"  # the shipped one: nothing beside it
    assert not Path("baseline.yaml").exists()
    assert len(doc["arms"]) == 1 and "# " in text  # one arm, commented
    res = runner.invoke(main, ["validate", "scenario.yaml"])
    assert res.exit_code == 0 and "ok (scenario 'scenario'" in res.output, res.output
    before = text
    res = runner.invoke(main, ["init", "scenario.yaml"])
    assert res.exit_code == 2
    assert res.output.strip().count("\n") == 0 and "already exists" in res.output
    assert Path("scenario.yaml").read_text() == before
    res = runner.invoke(main, ["init", "my plan.yaml"])
    assert (
        res.exit_code == 0 and yaml.safe_load(Path("my plan.yaml").read_text())["name"] == "my_plan"
    )
    args = ["run", "scenario.yaml", "--size", "1000", "-q", "--no-figures", "-o", "out"]
    res = runner.invoke(main, args)
    assert res.exit_code == 0, res.output
    assert Path("out/report.html").exists()


# --- one reference: every field described; one syntax for proportionate weights -------------


def _undescribed(node, path, defs, seen=frozenset()):
    """Paths of properties without a non-empty description, through $refs and containers."""
    out = []
    if not isinstance(node, dict):
        return out
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        return [] if name in seen else _undescribed(defs[name], path, defs, seen | {name})
    for key, prop in node.get("properties", {}).items():
        if not str(prop.get("description", "")).strip():
            out.append(f"{path}.{key}".lstrip("."))
        out += _undescribed(prop, f"{path}.{key}", defs, seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(key, []):
            out += _undescribed(sub, path, defs, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            out += _undescribed(node[key], path + "[]", defs, seen)
    return out


@pytest.mark.parametrize("kind", ["scenario", "compare"])
def test_every_field_of_the_schema_has_a_description(kind):
    from povsim.inputs.reference import json_schema

    doc = json_schema(kind)
    missing = _undescribed(doc, "", doc.get("$defs", {}))
    assert missing == [], f"fields without a description: {sorted(set(missing))}"
    # ... and the walk sees the nested blocks (a walk that found nothing would pass vacuously)
    assert "arms" in doc["properties"] if kind == "scenario" else "levers" in doc["properties"]


def _invest(tmp_path: Path, strategy: dict) -> Path:
    import yaml

    data = {
        "extends": str(REPO / "scenarios" / "baseline.yaml"),
        "name": "weights",
        "budget": {"per_year": 1e6, "years": 2},
        "levers": {
            "smoking": {
                "type": "behaviour",
                "behaviour": "smoking",
                "effect": 0.1,
                "effect_source": "test",
            }
        },
        "strategies": {"prop": strategy},
    }
    p = tmp_path / f"inv{len(list(tmp_path.iterdir()))}.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_one_syntax_for_proportionate_weights_old_form_warns(tmp_path):
    import warnings

    from povsim.inputs.errors import DeprecatedSyntax
    from povsim.inputs.investment import load_investment
    from povsim.inputs.loader import load_scenario

    weights = [5, 4, 3, 2, 1]
    # The one syntax: {rule: proportionate, weights: [...]}, in a scenario's targeting and in
    # a compare strategy alike; no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = load_investment(_invest(tmp_path, {"rule": "proportionate", "weights": weights}))
        sc = load_scenario(REPO / "scenarios" / "proportionate_package.yaml")
    iv = next(iter(sc.arms.values())).interventions[0]
    assert iv.targeting.rule == "proportionate" and iv.targeting.weights == weights
    # The old compare form still works, with one deprecation warning naming the new form.
    old_file = _invest(tmp_path, {"rule": "proportionate", "need": "weights", "weights": weights})
    with pytest.warns(DeprecatedSyntax, match=r"weights: \[Q1, Q2, Q3, Q4, Q5\]"):
        old = load_investment(old_file)
    a, b = old.strategies["prop"], new.strategies["prop"]
    assert (
        (a.rule, a.need, a.weights)
        == (b.rule, b.need, b.weights)
        == (
            "proportionate",
            "weights",
            weights,
        )
    )
    # On the command line the warning is one line, not Python's two.
    res = CliRunner().invoke(main, ["validate", str(old_file)])
    assert res.exit_code == 0, res.output
    assert f"warning: {old_file}: strategies: `need: weights` is deprecated" in res.output
    assert "DeprecatedSyntax" not in res.output and "warnings.warn" not in res.output


def test_no_shipped_file_uses_a_deprecated_syntax():
    import warnings

    from povsim.inputs.errors import DeprecatedSyntax, ScenarioError
    from povsim.inputs.investment import load_investment
    from povsim.inputs.loader import load_scenario

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecatedSyntax)
        for p in sorted((REPO / "scenarios").glob("*.yaml")):
            try:
                load_scenario(p)
            except ScenarioError as e:
                assert "investment question" in str(e)
                load_investment(p)


def test_console_says_the_yearly_cost_is_a_mean_over_the_period():
    from povsim.cli import real_scale_line

    h = {"cost": 3.0e8, "cost_per_year": 1.0e7, "period": [2025, 2054]}
    line = real_scale_line(h, "England")
    assert "£300.0m in all (£10.0m mean a year over 2025-2054)" in line
