"""Nothing lost, nothing crashes (issue 12): output folders that never lose a user's files,
runs killed while writing, stale partial folders, resumed sweeps whose inputs changed,
corrupt checkpoints, one-line usage errors, oversized and endless input files."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from hostile_helpers import REPO, problems_with_refusal, run_inprocess, run_subprocess, snapshot

BASELINE = REPO / "scenarios" / "baseline.yaml"
WARM = REPO / "scenarios" / "warm_homes_core20.yaml"
ENGLAND_CSV = REPO / "calibration" / "composition_england_mid2019.csv"


def scenario(folder: Path, name: str = "s", size: int = 200, horizon: int = 2, **extra) -> Path:
    data = {
        "extends": str(BASELINE),
        "name": name,
        "population": {"size": size, "horizon": horizon},
        **extra,
    }
    p = folder / f"{name}.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def run_ok(args: list[str], cwd: Path):
    o = run_inprocess(args, cwd)
    assert o.code == 0 and not o.crash, (o.stderr, o.crash)
    return o


# --- output folders: replace only what povsim wrote ------------------------------------------


def test_user_files_in_the_output_folder_are_never_deleted(tmp_path):
    sc = scenario(tmp_path)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.docx").write_text("two years of work")
    (out / "sub").mkdir()
    (out / "sub" / "data.csv").write_text("a,b\n1,2\n")
    before = snapshot(tmp_path)
    o = run_inprocess(["run", str(sc), "-o", str(out), "-q", "--no-figures"], tmp_path)
    assert not problems_with_refusal(o, ["-o", "mine"]), problems_with_refusal(o, ["-o"])
    assert snapshot(tmp_path) == before


def test_output_onto_the_scenarios_own_folder_keeps_scenario_and_composition(tmp_path):
    area = tmp_path / "area"
    area.mkdir()
    comp = area / "pop.csv"
    comp.write_text(ENGLAND_CSV.read_text())
    sc = scenario(
        area, population={"size": 200, "horizon": 2, "area": "local", "composition": "pop.csv"}
    )
    before = snapshot(tmp_path)
    for target in (".", str(area), str(area / ".")):
        o = run_inprocess(["run", str(sc), "-o", target, "-q", "--no-figures"], area)
        assert o.code == 2 and not o.crash, (target, o.stderr, o.crash)
        assert snapshot(tmp_path) == before, target


def test_a_folder_povsim_wrote_is_replaced(tmp_path):
    sc = scenario(tmp_path)
    out = tmp_path / "out"
    run_ok(["run", str(sc), "-o", str(out), "-q", "--no-figures"], tmp_path)
    man = json.loads((out / "manifest.json").read_text())
    assert man.get("written_by") == "povsim"
    (out / "stale.csv").write_text("from the last run")
    run_ok(["run", str(sc), "-o", str(out), "-q", "--no-figures"], tmp_path)
    assert (out / "results.csv").is_file() and not (out / "stale.csv").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_folder_an_older_povsim_wrote_is_replaced(tmp_path):
    sc = scenario(tmp_path)
    out = tmp_path / "old"
    out.mkdir()
    (out / "manifest.json").write_text(
        json.dumps({"povsim_version": "0.1.0", "scenario": "s", "seed": 1})
    )
    (out / "results.csv").write_text("old")
    run_ok(["run", str(sc), "-o", str(out), "-q", "--no-figures"], tmp_path)
    assert json.loads((out / "manifest.json").read_text())["written_by"] == "povsim"


def test_an_empty_folder_may_be_used(tmp_path):
    sc = scenario(tmp_path)
    out = tmp_path / "empty"
    out.mkdir()
    run_ok(["run", str(sc), "-o", str(out), "-q", "--no-figures"], tmp_path)
    assert (out / "results.csv").is_file()


def test_output_folder_is_checked_before_any_computation(tmp_path):
    # 2 million persons for 50 years would take minutes; the refusal must come at once.
    sc = scenario(tmp_path, size=2_000_000, horizon=50)
    (tmp_path / "notes.txt").write_text("mine")
    t0 = time.perf_counter()
    o = run_subprocess(["run", sc.name, "-o", ".", "-q"], tmp_path, timeout=60)
    assert not problems_with_refusal(o, ["-o"]), problems_with_refusal(o, ["-o"])
    assert time.perf_counter() - t0 < 30
    assert (tmp_path / "notes.txt").read_text() == "mine"


# --- killed while writing ---------------------------------------------------------------------


def _wait_for(pattern: str, folder: Path, proc: subprocess.Popen, limit: float = 90) -> bool:
    deadline = time.time() + limit
    while time.time() < deadline and proc.poll() is None:
        if list(folder.glob(pattern)):
            return True
        time.sleep(0.005)
    return False


@pytest.mark.parametrize(
    "sig,delay",
    [
        (signal.SIGKILL, 0.0),
        (signal.SIGKILL, 0.2),
        (signal.SIGKILL, 0.6),
        (signal.SIGTERM, 0.1),
    ],
)
def test_killed_while_writing_keeps_previous_results(tmp_path, sig, delay):
    sc = scenario(tmp_path, size=3000, horizon=3)
    out = tmp_path / "out"
    run_ok(["run", str(sc), "-o", str(out), "-q", "--no-figures"], tmp_path)  # previous
    previous = snapshot(out)
    proc = subprocess.Popen(
        [sys.executable, "-m", "povsim.cli", "run", str(sc), "-o", str(out), "-q", "--seed", "2"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        started = _wait_for(".out.partial-*", tmp_path, proc)
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert started or proc.returncode == 0, err
    now = snapshot(out) if out.exists() else None
    complete_new = (
        now is not None and json.loads((out / "manifest.json").read_text()).get("seed") == 2
    )
    assert now == previous or complete_new, "previous results lost or mixed"
    if sig == signal.SIGTERM:
        # handled like Ctrl-C: nothing half-written is left behind, one line, no traceback
        assert "Traceback" not in err, err
        assert proc.returncode != 0 or complete_new
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    # The next run cleans up what a dead process left and writes complete results.
    run_ok(["run", str(sc), "-o", str(out), "-q", "--no-figures"], tmp_path)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_stale_partial_folders_of_dead_processes_are_cleaned_up(tmp_path):
    sc = scenario(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".out.partial-{dead.pid}"
    stale.mkdir()
    (stale / "results.csv").write_text("half")
    # A partial folder of a live process (another povsim still writing) is left alone.
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    live = tmp_path / f".out.partial-{sleeper.pid}"
    live.mkdir()
    # Not povsim's pattern: never touched.
    other = tmp_path / ".out.partial-notapid"
    other.mkdir()
    try:
        run_ok(["run", str(sc), "-o", str(tmp_path / "out"), "-q", "--no-figures"], tmp_path)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not stale.exists()
    assert live.exists() and other.exists()


def test_sigterm_during_the_simulation_exits_cleanly(tmp_path):
    sc = scenario(tmp_path, size=400_000, horizon=40)
    proc = subprocess.Popen(
        [sys.executable, "-m", "povsim.cli", "run", str(sc), "-o", str(tmp_path / "out"), "-q"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(4)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "Traceback" not in err, err
    assert len([ln for ln in err.splitlines() if ln.strip()]) <= 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [sc.name]


# --- sweeps that cannot resume wrongly --------------------------------------------------------


def _local_sensitivity(folder: Path) -> Path:
    comp = folder / "pop.csv"
    comp.write_text(ENGLAND_CSV.read_text())
    data = yaml.safe_load(WARM.read_text())
    data.update(
        extends=str(BASELINE),
        name="sweep",
        population={"size": 300, "horizon": 3, "area": "local", "composition": "pop.csv"},
        uncertainty={
            "arms.*.interventions.warm_homes.effect": {
                "dist": "uniform",
                "min": 0.6,
                "max": 0.9,
                "source": "test",
            }
        },
    )
    p = folder / "sweep.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


@pytest.fixture(scope="module")
def killed_sweep(tmp_path_factory):
    """A PSA sweep of 24 one-row batches, killed once a few batches are checkpointed."""
    folder = tmp_path_factory.mktemp("sweep")
    sc = _local_sensitivity(folder)
    ck = folder / ".out.sweep"
    cmd = [
        sys.executable,
        "-m",
        "povsim.cli",
        "sensitivity",
        str(sc),
        "--method",
        "psa",
        "-n",
        "24",
        "-o",
        str(folder / "out"),
        "-q",
        "--no-figures",
    ]
    proc = subprocess.Popen(cmd, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 90
    while time.time() < deadline and len(list(ck.glob("batch-*.npy"))) < 3:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(list(ck.glob("batch-*.npy"))) >= 3
    backup = tmp_path_factory.mktemp("sweep-backup") / "copy"
    shutil.copytree(folder, backup, symlinks=True)
    return folder, backup, ck


def _restore(killed) -> tuple[Path, Path]:
    """Put the killed sweep's folder back as it was (same path: the scenario's paths are
    part of what the checkpoints were made for); tests of one module run in one process."""
    folder, backup, ck = killed
    shutil.rmtree(folder)
    shutil.copytree(backup, folder, symlinks=True)
    return folder / "sweep.yaml", ck


def test_sweep_does_not_reuse_batches_after_the_composition_changed(killed_sweep, tmp_path):
    sc, ck2 = _restore(killed_sweep)
    comp = sc.parent / "pop.csv"
    lines = comp.read_text().splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("male,0,4,1,"))
    parts = lines[i].split(",")
    parts[4] = str(float(parts[4]) * 3)  # same path, same columns: different people
    lines[i] = ",".join(parts)
    comp.write_text("\n".join(lines) + "\n")
    o = run_inprocess(
        [
            "sensitivity",
            str(sc),
            "--method",
            "psa",
            "-n",
            "24",
            "-o",
            str(sc.parent / "out"),
            "-q",
            "--no-figures",
        ],
        sc.parent,
    )
    assert not o.crash, o.crash
    if o.code == 2:  # refused: one line naming the folder
        assert not problems_with_refusal(o, [".out.sweep"]), o.stderr
    else:
        assert o.code == 0, o.stderr
        man = json.loads((sc.parent / "out" / "manifest.json").read_text())
        assert man["batches_loaded_from_checkpoints"] == 0, man


def test_truncated_checkpoint_batch_is_reported_and_rerun(killed_sweep, tmp_path):
    sc, ck2 = _restore(killed_sweep)
    batches = sorted(ck2.glob("batch-*.npy"))
    bad = batches[1]
    bad.write_bytes(bad.read_bytes()[:40])
    n_ok = len(batches) - 1
    o = run_inprocess(
        [
            "sensitivity",
            str(sc),
            "--method",
            "psa",
            "-n",
            "24",
            "-o",
            str(sc.parent / "out"),
            "-q",
            "--no-figures",
        ],
        sc.parent,
    )
    assert o.code == 0 and not o.crash, (o.stderr, o.crash)
    assert bad.name in o.stderr and "Traceback" not in o.stderr, o.stderr
    man = json.loads((sc.parent / "out" / "manifest.json").read_text())
    assert man["batches_loaded_from_checkpoints"] == n_ok
    assert man["batches_run"] == 24 - n_ok
    ref = tmp_path / "ref"
    run_ok(
        [
            "sensitivity",
            str(sc),
            "--method",
            "psa",
            "-n",
            "24",
            "-o",
            str(ref),
            "-q",
            "--no-figures",
        ],
        sc.parent,
    )
    pd.testing.assert_frame_equal(
        pd.read_parquet(sc.parent / "out" / "samples.parquet"),
        pd.read_parquet(ref / "samples.parquet"),
    )


# --- messages for people: usage errors, arguments that are not files -------------------------

USAGE = [
    (["run"], "SCENARIO"),
    (["nosuchcommand"], "nosuchcommand"),
    (["run", "a.yaml", "b.yaml"], "b.yaml"),
    (["run", "DIR"], "DIR"),
    (["validate", "DIR"], "DIR"),
    (["sensitivity", "s.yaml", "--levels", "1"], "--levels"),
    (["calibrate", "--years", "99"], "--years"),
    (["compare", "s.yaml", "--replicates", "x"], "--replicates"),
]


@pytest.mark.parametrize("args,must", USAGE, ids=[" ".join(a) for a, _ in USAGE])
def test_usage_errors_are_one_line(tmp_path, args, must):
    (tmp_path / "DIR").mkdir()
    scenario(tmp_path)
    args = [str(tmp_path / "DIR") if a == "DIR" else a for a in args]
    o = run_inprocess(args, tmp_path)
    must = str(tmp_path / "DIR") if must == "DIR" else must
    assert not problems_with_refusal(o, [must]), problems_with_refusal(o, [must])


@pytest.mark.parametrize("command", ["validate", "run"])
def test_dev_zero_as_the_scenario_is_refused_at_once(tmp_path, command):
    o = run_subprocess([command, "/dev/zero"], tmp_path, timeout=60, memory_bytes=3 << 30)
    assert not problems_with_refusal(o, ["/dev/zero"]), problems_with_refusal(o, ["/dev/zero"])
    assert list(tmp_path.iterdir()) == []


def test_oversized_yaml_is_refused_before_reading(tmp_path):
    p = tmp_path / "big.yaml"
    with open(p, "w") as f:
        f.write(f"extends: {BASELINE}\nname: big\n")
        f.write(("# padding " + "x" * 89 + "\n") * 110_000)  # 11 MB of comments
    o = run_inprocess(["validate", str(p)], tmp_path)
    assert not problems_with_refusal(o, ["big.yaml", "MB"]), problems_with_refusal(o, ["MB"])


def test_oversized_composition_is_refused_before_reading(tmp_path):
    comp = tmp_path / "huge.csv"
    with open(comp, "wb") as f:
        f.truncate(60 << 20)  # 60 MB (sparse)
    sc = scenario(
        tmp_path, population={"size": 200, "horizon": 2, "area": "local", "composition": "huge.csv"}
    )
    o = run_inprocess(["validate", str(sc)], tmp_path)
    assert not problems_with_refusal(o, ["huge.csv", "MB"]), problems_with_refusal(o, ["MB"])


def test_extends_a_directory_says_so(tmp_path):
    sc = scenario(tmp_path, extends="/tmp")
    o = run_inprocess(["validate", str(sc)], tmp_path)
    assert not problems_with_refusal(o, ["extends", "directory"]), o.stderr
    assert "not found" not in o.stderr


def test_bad_size_on_the_command_line_blames_the_option(tmp_path):
    sc = scenario(tmp_path)
    for opt, value in (("--size", "50"), ("--size", "99999999999"), ("--seed", str(2**64))):
        o = run_inprocess(["run", str(sc), opt, value, "-o", "out", "-q"], tmp_path)
        assert not problems_with_refusal(o, [opt]), problems_with_refusal(o, [opt])
        assert not o.stderr.removeprefix("error: ").startswith(str(sc)), o.stderr


def test_an_interrupted_workbook_leaves_no_file_and_no_partial(tmp_path, monkeypatch):
    """SIGTERM or Ctrl-C while tables.xlsx is being written (seen in CI with openpyxl's
    write-only sheets, which then printed "Exception ignored ... Traceback"): nothing is left
    behind, neither the workbook nor its temporary file."""
    import pandas as pd

    from povsim.reporting import workbook as W

    calls = []

    def interrupted(rows):
        calls.append(1)
        if len(calls) == 2:  # the first table's sheet, after the README
            raise KeyboardInterrupt
        return "<worksheet />"

    monkeypatch.setattr(W, "_sheet_xml", interrupted)
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(KeyboardInterrupt):
        W.write_workbook(tmp_path / "t.xlsx", {"t": (frame, "t.csv")}, {"seed": 1})
    assert len(calls) == 2
    assert list(tmp_path.iterdir()) == []


def test_an_interrupt_wrapped_by_class_creation_is_still_one_line(tmp_path, capsys):
    """SIGTERM landing while a lazily imported module builds a class (matplotlib's Enums,
    when the figures are drawn): Python 3.11 wraps the KeyboardInterrupt raised in
    ``__set_name__`` in a RuntimeError, which printed a traceback (seen in CI). It is an
    interrupt all the same: one line, exit 130. Any other error still propagates."""
    from povsim import cli

    class Interrupting:
        def __set_name__(self, owner, name):
            raise KeyboardInterrupt

    def write(result, progress):
        type("Built", (), {"member": Interrupting()})

    with pytest.raises(SystemExit) as e:
        cli._compute_and_write("simulating t", True, lambda p: None, write, tmp_path / "out")
    assert e.value.code == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert err.startswith("error: interrupted") and "Traceback" not in err, err

    def broken(result, progress):
        raise RuntimeError("a real defect")

    with pytest.raises(RuntimeError, match="a real defect"):
        cli._compute_and_write("simulating t", True, lambda p: None, broken, tmp_path / "out")
