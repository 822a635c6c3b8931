"""The README's examples are executed (issue 15 item 3): every fenced YAML block is validated
as the file it shows (scenario, compare question, or a fragment of the intervention example),
the smallest scenario runs at a tiny size, every `povsim ...` command is parsed by the CLI,
and the Python API example runs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from povsim.cli import main
from povsim.inputs.errors import ScenarioError
from povsim.inputs.investment import load_investment
from povsim.inputs.loader import load_scenario

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
YAML_BLOCKS = re.findall(r"```yaml\n(.*?)```", README, re.S)
BASELINE = str(REPO / "scenarios" / "baseline.yaml")


def _as_file(tmp_path: Path, data: dict, name: str) -> Path:
    data = {"extends": BASELINE, "name": name, **data}
    if data.get("extends") == "baseline.yaml":
        data["extends"] = BASELINE
    p = tmp_path / f"{name}.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def _load_any(path: Path):
    try:
        return load_scenario(path)
    except ScenarioError as e:
        if "investment question" not in str(e):
            raise
        return load_investment(path)


def _block(key: str) -> dict:
    """The README's YAML block whose top level has ``key``."""
    found = [yaml.safe_load(b) for b in YAML_BLOCKS]
    found = [d for d in found if isinstance(d, dict) and key in d]
    assert found, f"no YAML block with {key}: in README.md"
    return found[0]


def test_every_yaml_block_is_a_valid_file_or_a_fragment_of_one(tmp_path):
    """A block is validated as a whole file (a scenario with `extends: baseline.yaml` and a
    name added where it shows only some keys), except the `uncertainty:` fragment, which is
    validated joined to the intervention example it refers to."""
    # Files the "Your own area" example names, from the shipped illustrative area.
    data = tmp_path / "data"
    data.mkdir()
    shipped = REPO / "scenarios" / "data"
    shutil.copy(
        shipped / "urban_deprived_composition_illustrative.csv", data / "my_ics_population.csv"
    )
    shutil.copy(shipped / "urban_deprived_le_illustrative.csv", data / "my_ics_le_by_quintile.csv")
    assert len(YAML_BLOCKS) >= 6
    checked = 0
    for i, text in enumerate(YAML_BLOCKS):
        block = yaml.safe_load(text)
        assert isinstance(block, dict), f"README yaml block {i} is not a mapping"
        if set(block) == {"uncertainty"}:
            continue  # a fragment: joined to the intervention example below
        loaded = _load_any(_as_file(tmp_path, block, f"block{i}"))
        assert loaded is not None
        checked += 1
    assert checked >= 5
    # The intervention example and the uncertainty example compose (the intervention is
    # named, so `arms.*.interventions.warm_homes.effect` resolves).
    joined = {**_block("arms"), **_block("uncertainty")}
    sc = load_scenario(_as_file(tmp_path, joined, "joined"))
    assert "arms.*.interventions.warm_homes.effect" in sc.uncertainty


def test_the_intervention_example_runs_at_a_tiny_size(tmp_path):
    sc = _as_file(tmp_path, _block("arms"), "arms_example")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        main, ["run", str(sc), "--size", "1000", "-o", str(out), "-q", "--no-figures"]
    )
    assert res.exit_code == 0, res.output
    assert (out / "comparison.csv").is_file()


def _commands() -> list[str]:
    """Every `povsim ...` command the README shows: lines of its bash blocks, and inline code
    spans with their placeholders filled in ([...] optional parts included, `a|b` the first
    choice, FILE/DIR/N/SEARCH given values)."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.splitlines():
            for part in line.split("&&"):
                part = part.split("#")[0].strip()
                if part.startswith("povsim "):
                    found.append(part)
    for span in re.findall(r"`(povsim [^`]*)`", README):
        cmd = re.sub(r"\[([^\]]*)\]", r"\1", span)
        cmd = re.sub(r"(\w+)(\|[\w-]+)+", r"\1", cmd)
        for word, value in (("FILE", "a.yaml"), ("DIR", "out"), ("N", "1000"), ("SEARCH", "Kn")):
            cmd = re.sub(rf"\b{word}\b", value, cmd)
        found.append(cmd)
    return list(dict.fromkeys(found))


def _parse(command: str) -> click.Context | None:
    """Parse a command line as `povsim` would, without running it; a bare `povsim NAME` (the
    README naming a command in prose) only has to name a command."""
    name, *args = command.split()[1:]
    cmd = main.commands.get(name)
    assert cmd is not None, f"README names an unknown command: {command!r}"
    if not args:
        return None
    return cmd.make_context(name, args, parent=click.Context(main, info_name="povsim"))


def test_every_povsim_command_in_the_readme_parses():
    commands = _commands()
    names = {c.split()[1] for c in commands}
    assert {"run", "compare", "sensitivity", "calibrate", "validate", "places"} <= names
    parsed = 0
    for command in commands:
        try:
            parsed += _parse(command) is not None
        except click.ClickException as e:  # pragma: no cover - the message is the point
            pytest.fail(f"README command does not parse: {command!r}: {e.format_message()}")
    assert parsed >= 10
    with pytest.raises(click.ClickException):  # the parse is strict: a wrong option fails
        _parse("povsim run a.yaml --sise 10")


def test_the_python_api_example_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    api = [b for b in blocks if "povsim.run(" in b]
    assert api, "README has no Python API example"
    code = api[0].replace('"scenarios/', f'"{REPO}/scenarios/')
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    assert (tmp_path / "outputs" / "try" / "results.csv").is_file()
    assert len(namespace["best"].to_frame()) >= 4
