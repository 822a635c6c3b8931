"""End-to-end: the CLI runs a scenario, writes every output atomically, rejects bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import povsim
from povsim.cli import main
from povsim.reporting import outputs

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "scenarios" / "baseline.yaml"


def small_scenario(tmp_path: Path, **extra: str) -> Path:
    body = "\n".join(f"{k}: {v}" for k, v in extra.items())
    p = tmp_path / "small.yaml"
    p.write_text(
        f"extends: {BASELINE}\nname: small\npopulation:\n  size: 3000\n  horizon: 3\n" + body + "\n"
    )
    return p


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    sc = small_scenario(tmp)
    out = tmp / "out"
    res = CliRunner().invoke(main, ["run", str(sc), "-o", str(out), "-q"])
    return res, out, sc


def test_run_writes_every_output(cli_run):
    res, out, _ = cli_run
    assert res.exit_code == 0, res.output
    for name in (
        "results.csv",
        "results.parquet",
        "summary.json",
        "manifest.json",
        "figures/expectancies.png",
        "figures/inequality.png",
        "figures/outcomes.png",
    ):
        assert (out / name).is_file(), name
    df = pd.read_parquet(out / "results.parquet")
    assert list(df.columns) == ["arm", "year", "sex", "quintile", "measure", "value", "se"]
    assert set(df.sex) == {"male", "female", "all"}
    assert set(df.quintile) == {"1", "2", "3", "4", "5", "all"}
    assert sorted(df.year.unique()) == [2019, 2020, 2021]
    for m in (
        "le0",
        "hle0",
        "le65",
        "hle65",
        "le0_gap",
        "le0_sii",
        "hle0_gap",
        "hle0_sii",
        "poverty",
        "child_poverty",
        "cold_home",
        "smoking",
        "obesity",
        "inactivity",
        "mltc",
        "deaths",
        "population",
    ):
        assert m in set(df.measure), m
    csv = pd.read_csv(out / "results.csv", dtype={"quintile": str})
    assert len(csv) == len(df)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 1 and manifest["size"] == 3000
    assert manifest["scenario_as_run"]["name"] == "small"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["first_year"]["year"] == 2019
    # Nothing but the final directory is left behind.
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []


def test_api_gives_the_cli_numbers(cli_run):
    _, out, sc = cli_run
    df = povsim.run(sc).to_frame()
    cli = pd.read_parquet(out / "results.parquet")
    pd.testing.assert_frame_equal(df.reset_index(drop=True), cli.reset_index(drop=True))


def test_seed_and_size_options_override(tmp_path):
    sc = small_scenario(tmp_path)
    out = tmp_path / "o"
    res = CliRunner().invoke(
        main,
        ["run", str(sc), "-o", str(out), "-q", "--seed", "7", "--size", "2000", "--no-figures"],
    )
    assert res.exit_code == 0, res.output
    m = json.loads((out / "manifest.json").read_text())
    assert (m["seed"], m["size"]) == (7, 2000)
    assert not (out / "figures").exists()


def test_bad_scenario_exits_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\npopulation:\n  size: -5\n")
    out = tmp_path / "never"
    res = CliRunner().invoke(main, ["run", str(bad), "-o", str(out)])
    assert res.exit_code == 2
    assert "population.size" in res.output and "bad.yaml" in res.output
    assert "Traceback" not in res.output
    assert not out.exists()


def test_missing_file_is_a_clean_error(tmp_path):
    res = CliRunner().invoke(main, ["validate", str(tmp_path / "nope.yaml")])
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_validate_ok():
    res = CliRunner().invoke(main, ["validate", str(BASELINE)])
    assert res.exit_code == 0 and "ok" in res.output


def test_bad_thread_count(tmp_path):
    res = CliRunner().invoke(main, ["run", str(small_scenario(tmp_path)), "--threads", "0"])
    assert res.exit_code == 2 and "--threads" in res.output


def test_failed_write_leaves_no_partial_directory(tmp_path, monkeypatch):
    res = povsim.run(small_scenario(tmp_path))

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs, "summary", boom)
    out = tmp_path / "out"
    with pytest.raises(OSError):
        outputs.write_outputs(res, out, figures=False)
    assert not out.exists()
    assert list(tmp_path.glob(".out*")) == []


def test_rerun_replaces_previous_output(tmp_path):
    res = povsim.run(small_scenario(tmp_path))
    out = tmp_path / "out"
    outputs.write_outputs(res, out, figures=False)
    (out / "stale.txt").write_text("old")
    outputs.write_outputs(res, out, figures=False)
    assert not (out / "stale.txt").exists()
    assert (out / "results.csv").is_file()
