"""The Python API (issue 15 item 5): one function per command, result objects with
.to_frame(), .plot() (Figures, never shown, no file written), .write(folder) (the files the
command writes, never replacing a user's folder) and a readable repr; the CLI is the same
code path, so its files hold the same numbers."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from matplotlib.figure import Figure

import povsim
from povsim import api
from povsim.cli import main
from povsim.inputs.errors import ScenarioError
from povsim.inputs.loader import load_scenario
from povsim.reporting.files import OutputFolderError

REPO = Path(__file__).resolve().parents[1]
BASE = REPO / "scenarios" / "baseline.yaml"


def small_run_file(tmp_path: Path) -> Path:
    p = tmp_path / "small.yaml"
    data = yaml.safe_load((REPO / "scenarios" / "stop_smoking_core20.yaml").read_text())
    data.update(extends=str(BASE), name="small", population={"size": 2000, "horizon": 3})
    data.pop("uncertainty", None)
    p.write_text(yaml.safe_dump(data))
    return p


def files_of(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api_run")
    path = small_run_file(tmp)
    return path, povsim.run(path, decomposition=True, loop_check=True)


def test_run_result_table_repr_and_options(small_run, tmp_path):
    path, res = small_run
    assert isinstance(res, api.RunResult) and isinstance(res, povsim.Results)
    f = res.to_frame()
    assert list(f.columns) == ["arm", "year", "sex", "quintile", "measure", "value", "se"]
    assert set(f.arm) == {"baseline", "core20", "univ"}
    text = repr(res)
    assert "small" in text and "2,000 simulated persons" in text and "arms: core20, univ" in text
    # A loaded scenario and a path give the same numbers; size and seed override the file's.
    again = povsim.run(load_scenario(path), decomposition=True, loop_check=True)
    pd.testing.assert_frame_equal(again.to_frame(), f)
    other = povsim.run(path, size=1000, seed=7)
    assert (other.manifest["size"], other.manifest["seed"]) == (1000, 7)


def test_run_plot_returns_figures_without_showing_or_writing(small_run, tmp_path, monkeypatch):
    _, res = small_run
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plot() must not show"))
    open_before = set(plt.get_fignums())
    figs = res.plot()
    assert {"expectancies", "hle_change_by_quintile", "decomposition"} <= set(figs)
    assert all(isinstance(f, Figure) for f in figs.values())
    assert set(plt.get_fignums()) == open_before  # nothing left open in pyplot
    assert list(tmp_path.iterdir()) == []  # nothing written
    assert isinstance(res.plot("inequality"), Figure)
    with pytest.raises(KeyError, match="allowed"):
        res.plot("no_such_figure")


def test_run_write_is_the_cli_s_files_and_numbers(small_run, tmp_path):
    path, res = small_run
    out_api = res.write(tmp_path / "api")
    cli = CliRunner().invoke(main, ["run", str(path), "-o", str(tmp_path / "cli"), "-q"])
    assert cli.exit_code == 0, cli.output
    assert files_of(out_api) == files_of(tmp_path / "cli")
    for name in ("results.csv", "comparison.csv"):
        a = pd.read_csv(out_api / name)
        b = pd.read_csv(tmp_path / "cli" / name)
        pd.testing.assert_frame_equal(a, b)


def test_write_never_replaces_a_users_folder(small_run, tmp_path):
    _, res = small_run
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(OutputFolderError):
        res.write(mine)
    assert files_of(mine) == {"notes.txt"}
    res.write(tmp_path / "ours", figures=False)
    res.write(tmp_path / "ours", figures=False)  # povsim's own folder: replaced
    assert "results.csv" in files_of(tmp_path / "ours")


def test_threads_are_restored_and_checked(small_run):
    import numba

    path, _ = small_run
    before = numba.get_num_threads()
    povsim.run(path, size=500, threads=1)
    assert numba.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"):
        povsim.run(path, threads=10_000)


COMPARE = {
    "extends": str(BASE),
    "name": "api_invest",
    "seed": 3,
    "population": {"size": 2000, "horizon": 3},
    "replicates": 1,
    "budget": {"per_year": 100_000_000, "years": 2, "start_year": 2020},
    "levers": {
        "smoking": {
            "type": "behaviour",
            "behaviour": "smoking",
            "uptake": 0.3,
            "effect": 0.2,
            "effect_source": "test",
            "cost": {"per_participant": 300},
        }
    },
    "strategies": {"universal": {"rule": "universal"}, "targeted": {"rule": "targeted"}},
    "optimiser": {"enabled": False},
}


def test_compare_api_matches_the_cli(tmp_path):
    p = tmp_path / "inv.yaml"
    p.write_text(yaml.safe_dump(COMPARE))
    res = povsim.compare(p)
    assert isinstance(res, api.CompareResult)
    t = res.to_frame()
    assert set(t.strategy) == {"universal", "targeted"} and list(t["rank"]) == [1, 2]
    assert "api_invest" in repr(res) and "2 strategies" in repr(res)
    figs = res.plot()
    assert {"impact_plane", "allocations"} <= set(figs)
    assert all(isinstance(f, Figure) for f in figs.values())
    out = res.write(tmp_path / "api")
    cli = CliRunner().invoke(main, ["compare", str(p), "-o", str(tmp_path / "cli"), "-q"])
    assert cli.exit_code == 0, cli.output
    assert files_of(out) == files_of(tmp_path / "cli")
    a, b = pd.read_csv(out / "comparison.csv"), pd.read_csv(tmp_path / "cli" / "comparison.csv")
    pd.testing.assert_frame_equal(a, b)
    # Options: replicates overrides the file's.
    assert povsim.compare(p, replicates=2).manifest["replicates"] == 2


def test_sensitivity_api(tmp_path):
    from test_sensitivity import tiny

    sc = tiny(size=500, horizon=2)
    res = povsim.sensitivity(sc, "psa", 4)
    assert isinstance(res, api.SensitivityAnalysis)
    frame = res.to_frame()
    assert {"arm", "statistic", "value"} <= set(frame.columns) and len(frame)
    assert "psa n=4" in repr(res) and "4 runs of 3 uncertain inputs" in repr(res)
    assert "ceac" in res.plot() and isinstance(res.plot("ceac"), Figure)
    out = res.write(tmp_path / "sens", figures=False)
    assert {"samples.csv", "psa.csv", "ceac.csv", "manifest.json"} <= files_of(out)
    with pytest.raises(ScenarioError, match="uncertainty: required"):
        povsim.sensitivity(BASE, "psa", 4)


def test_calibrate_api_fits_without_writing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lines: list[str] = []
    fit = povsim.calibrate(size=2000, years=1, rounds=0, log=lines.append)
    assert lines and lines[0].startswith("round 0")
    r = fit.to_frame()
    assert {"measure", "sex", "target", "model", "error"} <= set(r.columns)
    assert fit.residuals is not None and len(fit.residuals)
    assert "national" in repr(fit) and "2,000 persons" in repr(fit)
    assert isinstance(fit.plot("fit"), Figure)
    path = fit.write(tmp_path)  # a folder instead of calibration/
    doc = yaml.safe_load(path.read_text())
    assert path == tmp_path / "fitted.yaml" and doc["simulation"]["size"] == 2000


def test_cli_commands_go_through_the_api(tmp_path, monkeypatch):
    """One code path: the commands call povsim.api, so what the API computes is what they
    print and write."""
    seen = []
    real = api.run

    def spy(*a, **k):
        seen.append(k)
        return real(*a, **k)

    monkeypatch.setattr(api, "run", spy)
    path = small_run_file(tmp_path)
    res = CliRunner().invoke(
        main, ["run", str(path), "-o", str(tmp_path / "o"), "-q", "--no-figures"]
    )
    assert res.exit_code == 0, res.output
    assert len(seen) == 1 and seen[0]["decomposition"] and seen[0]["loop_check"]


def test_places_api_is_the_places_command_s_table():
    t = povsim.places("Knowsley")
    assert list(t.columns) == [
        "code",
        "level",
        "name",
        "population",
        "q1",
        "q2",
        "q3",
        "q4",
        "q5",
        "targets",
    ]
    row = t[t.level == "single_tier_la"].iloc[0]
    assert row["code"].startswith("E08") and row["population"] > 100_000
    assert abs(row[["q1", "q2", "q3", "q4", "q5"]].sum() - 1) < 1e-9
    assert row["q1"] > 0.5  # Knowsley: most residents in the most deprived national fifth
    res = CliRunner().invoke(main, ["places", "Knowsley"])
    assert res.exit_code == 0 and row["code"] in res.output and "Knowsley" in res.output
    assert povsim.places("no such place anywhere").empty
