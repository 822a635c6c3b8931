"""Progress for every phase, as plain lines off a terminal, and Ctrl-C that says what finished
and how to resume, exits 130 and leaves no partial output (issue 15 item 4)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from povsim import api
from povsim.cli import _LazyProgress, main

REPO = Path(__file__).resolve().parents[1]
BASE = str(REPO / "scenarios" / "baseline.yaml")


def small_arms(tmp_path: Path) -> Path:
    data = yaml.safe_load((REPO / "scenarios" / "stop_smoking_core20.yaml").read_text())
    data.update(extends=BASE, name="small", population={"size": 1000, "horizon": 2})
    data.pop("uncertainty", None)
    p = tmp_path / "small.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def tiny_sweep(tmp_path: Path) -> Path:
    from test_sensitivity import write_tiny

    return write_tiny(tmp_path, size=500, horizon=2)


def test_run_prints_every_phase_off_a_terminal(tmp_path, monkeypatch):
    import povsim.cli as cli

    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0.0)  # a tiny run is quicker than the delay
    res = CliRunner().invoke(main, ["run", str(small_arms(tmp_path)), "-o", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    err = res.stderr
    for phase in (
        "reading the calibration of England",
        "building the population (1,000 persons, seed 1)",
        "decomposing the baseline gap",
        "simulating arm baseline",
        "simulating arm core20",
        "simulating arm univ",
        "feedback-loop check",
        "writing tables and summary.json",
        "drawing figures",
        "writing report.html",
    ):
        assert f"simulating small: {phase}" in err, (phase, err)
    # one line per step, never a terminal's control characters, nothing on stdout
    assert "\r" not in err and "\x1b[" not in err
    assert "simulating small:" not in res.stdout
    # -q: none of it
    quiet = CliRunner().invoke(
        main, ["run", str(small_arms(tmp_path)), "-o", str(tmp_path / "q"), "-q"]
    )
    assert quiet.exit_code == 0 and "simulating small:" not in quiet.stderr
    # Before the delay, nothing: a bad input's error stays the only line.
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 3600.0)
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"extends: {BASE}\nname: bad\nseed: -1\n")
    res = CliRunner().invoke(main, ["run", str(bad), "-o", str(tmp_path / "b")])
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1
    slow = CliRunner().invoke(
        main, ["run", str(small_arms(tmp_path)), "-o", str(tmp_path / "s"), "--no-figures"]
    )
    assert slow.exit_code == 0 and "building the population" not in slow.stderr


def test_sweep_prints_phases_and_runs_done_of_total(tmp_path, monkeypatch):
    import povsim.cli as cli

    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0.0)
    sc = tiny_sweep(tmp_path)
    out = tmp_path / "s"
    res = CliRunner().invoke(
        main, ["sensitivity", str(sc), "--method", "psa", "-n", "4", "-o", str(out), "--no-figures"]
    )
    assert res.exit_code == 0, res.output
    err = res.stderr
    for phase in ("sampling the psa design", "sweep: 4 model runs", "analysis: PSA", "writing"):
        assert f"psa sweep of tiny: {phase}" in err, (phase, err)
    assert re.search(r"psa sweep of tiny: 4/4 \(100%", err)


def test_plain_progress_lines_give_an_eta():
    lines: list[str] = []
    p = _LazyProgress("sweep", enabled=True, delay=0.0, every=0.0)
    p.plain = True
    p.start -= 10.0  # ten seconds spent
    import click

    orig = click.echo
    try:
        click.echo = lambda msg="", **k: lines.append(str(msg))  # type: ignore[assignment]
        p(25, 100)
        p(100, 100)
    finally:
        click.echo = orig  # type: ignore[assignment]
    assert re.match(r"sweep: 25/100 \(25%, 10 s, about 30 s left\)", lines[0]), lines
    assert "left" not in lines[1]


def test_ctrl_c_during_run_says_nothing_was_written(tmp_path, monkeypatch):
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "run_study", interrupted)
    out = tmp_path / "o"
    sc = small_arms(tmp_path)
    res = CliRunner().invoke(main, ["run", str(sc), "-o", str(out)])
    assert res.exit_code == 130
    lines = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1
    assert "nothing was written" in lines[0] and f"povsim run {sc} -o {out}" in lines[0]
    assert not out.exists() and list(tmp_path.glob(".o*")) == []


def test_ctrl_c_during_a_sweep_says_what_finished_and_resumes(tmp_path, monkeypatch):
    from povsim.studies.sample_model import ScenarioModel

    sc = tiny_sweep(tmp_path)
    out = tmp_path / "sweep"
    args = ["sensitivity", str(sc), "--method", "psa", "-n", "8", "-o", str(out), "--no-figures"]
    real = ScenarioModel.evaluate
    calls = []

    def stop_at_the_fourth_batch(self, rows):
        calls.append(len(rows))
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(self, rows)

    monkeypatch.setattr(ScenarioModel, "evaluate", stop_at_the_fourth_batch)
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 130, res.output
    (line,) = [x for x in res.stderr.splitlines() if x.startswith("error:")]
    finished = sum(calls[:3])
    assert f"interrupted: {finished} of 8 runs finished" in line
    assert f"checkpointed in {tmp_path / '.sweep.sweep'}" in line
    assert "resume with the same command: povsim sensitivity " + str(sc) in line
    assert not out.exists()  # no partial output
    assert len(list((tmp_path / ".sweep.sweep").glob("batch-*.npy"))) == 3
    monkeypatch.setattr(ScenarioModel, "evaluate", real)
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert "3 batches from checkpoints" in again.output
    assert (out / "psa.csv").is_file() and not (tmp_path / ".sweep.sweep").exists()


def test_ctrl_c_during_compare_says_nothing_was_written(tmp_path, monkeypatch):
    import povsim.studies.compare as C
    from test_api import COMPARE

    p = tmp_path / "inv.yaml"
    p.write_text(yaml.safe_dump(COMPARE))
    real = C.simulate_arms
    calls = []

    def stop_second(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(C, "simulate_arms", stop_second)
    out = tmp_path / "cmp"
    res = CliRunner().invoke(main, ["compare", str(p), "-o", str(out)])
    assert res.exit_code == 130, res.output
    (line,) = [x for x in res.stderr.splitlines() if x.startswith("error:")]
    assert "during strategies" in line and "nothing was written" in line
    assert f"the same command starts again: povsim compare {p} -o {out}" in line
    assert not out.exists()
