"""An ICB-sized what-if in a warm process, and the CLI's fixed start-up (issue 17 goal 3).

    python benchmarks/bench_icb.py                     # both, ~1-2 minutes
    python benchmarks/bench_icb.py --json benchmarks/results/icb.json
    python benchmarks/bench_icb.py --cli-only          # the start-up alone, ~1 minute

* *Warm what-if*: ``povsim.run`` on the Core20 warm-homes arm against the baseline (2 arms),
  300,000 persons x 30 years, in this process after one untimed call (Numba cache load,
  the calibration tables read, the prepared population cached); median of ``--repeats``
  calls with a new arm each (the baseline read from the earlier call), with both arms
  simulated, and the same call repeated (:func:`warm_what_if`); each with its parts: the
  simulation (kernel, interventions, loops) and the rest (tables of results, contrasts).
  ``povsim.run``'s defaults: no decomposition, no loops-off rerun (``povsim run`` asks for
  both; they are extra arms and a Shapley pass).
* *CLI start-up*: ``povsim run scenarios/baseline.yaml --size 1000 -q`` end to end in a fresh
  interpreter (imports, Numba cache load, a 1,000-person run with the decomposition; the
  baseline has no arm, so no loops-off rerun; every output file), with and without figures;
  median of 3. Also the bare interpreter, ``import povsim.cli`` + the run's imports alone,
  and the floor: the third-party modules a run imports, alone and with Numba's first
  dispatch of one cached function. Compiled modules are kept between the runs (in a
  temporary ``PYTHONPYCACHEPREFIX``), as an installed package has them, unless
  ``--no-bytecode-cache``.

The machine is shared: each figure comes with the CPU time the command used itself (user +
sys, ``cpu_median_s``) and the CPU time other processes used meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench_scale import CpuOthers  # noqa: E402

WARM = ROOT / "scenarios" / "warm_homes_core20.yaml"
BASE = ROOT / "scenarios" / "baseline.yaml"


def warm_what_if(size: int, horizon: int, repeats: int) -> dict:
    """Three warm measurements, each the median of ``repeats`` calls:

    * ``new_arm``: each call changes the arm (its coverage times 0.95, 0.90, ...), as a team
      exploring options does; ``povsim.run`` reads the baseline of the earlier call
      (``studies/run.py``: same set-up, start year and loops) and simulates the arm;
    * ``both_arms``: the baseline kept from earlier calls is dropped before each call, so
      both arms are simulated (the prepared population is still reused);
    * ``repeat``: the very same call again (as the round-two benchmark measured it).
    """
    import povsim
    from povsim.engine import simulate as S
    from povsim.inputs.loader import load_scenario
    from povsim.studies import run as R

    sc = load_scenario(WARM, {"population.size": size, "population.horizon": horizon})
    first = next(iter(sc.arms))
    sc = sc.model_copy(update={"arms": {first: sc.arms[first]}})  # baseline + 1 arm

    def variant(f: float):
        arm = sc.arms[first]
        ivs = [iv.model_copy(update={"coverage": iv.coverage * f}) for iv in arm.interventions]
        return sc.model_copy(
            update={"arms": {first: arm.model_copy(update={"interventions": ivs})}}
        )

    t = time.perf_counter()
    povsim.run(sc)
    cold = time.perf_counter() - t
    sim_time = [0.0]
    real_simulate = S.simulate

    def timed(*a, **k):
        t0 = time.perf_counter()
        try:
            return real_simulate(*a, **k)
        finally:
            sim_time[0] += time.perf_counter() - t0

    out: dict = {"persons": size, "years": horizon, "first_call_s": round(cold, 2)}
    R.simulate = timed  # type: ignore[assignment]
    try:
        for kind in ("new_arm", "both_arms", "repeat"):
            walls, sims, others = [], [], []
            for r in range(repeats):
                call = variant(1.0 - 0.05 * (r + 1)) if kind == "new_arm" else sc
                if kind == "both_arms":
                    R._BASELINES.clear()
                sim_time[0] = 0.0
                with CpuOthers() as cpu:
                    res = povsim.run(call)
                walls.append(cpu.wall)
                sims.append(sim_time[0])
                others.append(cpu.other)
            i = walls.index(statistics.median(walls)) if repeats % 2 else 0
            out[kind] = {
                "arms": res.manifest["arms"],
                "simulated": [
                    a
                    for a in res.manifest["arms"]
                    if a not in res.manifest.get("reused_from_earlier_call", [])
                ],
                "median_s": round(statistics.median(walls), 3),
                "min_s": round(min(walls), 3),
                "simulation_s_of_median": round(sims[i], 3),
                "rest_s_of_median": round(walls[i] - sims[i], 3),
                "other_cpu_s_per_call": round(statistics.median(others), 1),
            }
    finally:
        R.simulate = real_simulate  # type: ignore[assignment]
    return out


def _bytecode_env(cache: str | None) -> dict[str, str]:
    """The environment of the timed commands. With ``cache`` (a folder), Python reads and
    writes compiled modules there (``PYTHONPYCACHEPREFIX``), as an installed package has them:
    a shell with ``PYTHONDONTWRITEBYTECODE=1`` (this machine's sessions have it) otherwise
    compiles povsim's ~75 modules from source at every start, 0.3-0.5 s of CPU that no user
    of an installed povsim pays. ``None``: the environment as it is."""
    env = dict(os.environ)
    if cache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache
    return env


def _wall(cmd: list[str], repeats: int = 3, env: dict[str, str] | None = None) -> dict:
    """Median and least wall time of ``cmd``, the CPU time (user + sys) it used itself (the
    figure to compare on a shared machine: others' load stretches wall time far more than
    it), and the CPU others used meanwhile."""
    walls, cpus, others = [], [], []
    for _ in range(repeats):
        before = os.times()
        with CpuOthers() as cpu:
            subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT, env=env)
        after = os.times()
        walls.append(cpu.wall)
        cpus.append(
            after.children_user
            - before.children_user
            + after.children_system
            - before.children_system
        )
        others.append(cpu.other)
    return {
        "median_s": round(statistics.median(walls), 2),
        "min_s": round(min(walls), 2),
        "cpu_median_s": round(statistics.median(cpus), 2),
        "other_cpu_s": round(statistics.median(others), 1),
    }


def cli_start_up(bytecode_cache: bool = True) -> dict:
    """The start-up figures; ``bytecode_cache``: with compiled modules kept between runs
    (:func:`_bytecode_env`), else in the environment as it is."""
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        env = _bytecode_env(f"{tmp}/pycache" if bytecode_cache else None)
        out: dict = {"bytecode_cache": bytecode_cache}
        out["interpreter"] = _wall([py, "-c", "pass"], env=env)
        imports = "import povsim.cli, povsim.api, povsim.studies.run, povsim.reporting.outputs"
        _wall([py, "-c", imports], 1, env)  # compiles the modules into the cache
        out["imports"] = _wall([py, "-c", imports], env=env)
        # The floor no povsim code can lower: the third-party modules a run loads, then
        # Numba's first dispatch of one cached function (its typing and target registries).
        third = "import numpy, numba, pandas, pyarrow.parquet, scipy.special, pydantic, yaml, "
        third += "click, jinja2"
        out["third_party_imports"] = _wall([py, "-c", third], env=env)
        first = f"{third}; from povsim.model import rng; "
        first += "rng.uniforms(rng.seed_key(1), numpy.arange(3), 1, 0)"
        _wall([py, "-c", first], 1, env)
        out["third_party_imports_and_first_numba_dispatch"] = _wall([py, "-c", first], env=env)
        run = [py, "-m", "povsim", "run", str(BASE), "--size", "1000", "-q"]
        _wall([*run, "-o", f"{tmp}/warmup"], 1, env)  # Numba cache files and page cache warm
        out["run_1000_no_figures"] = _wall([*run, "--no-figures", "-o", f"{tmp}/a"], env=env)
        out["run_1000_with_figures"] = _wall([*run, "-o", f"{tmp}/b"], env=env)
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=300_000)
    ap.add_argument("--horizon", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-cli", action="store_true")
    ap.add_argument("--cli-only", action="store_true", help="only the CLI start-up")
    ap.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="time the CLI in the environment as it is (PYTHONDONTWRITEBYTECODE=1 compiles "
        "povsim from source at every start)",
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    out: dict = {}
    if not args.cli_only:
        out["what_if"] = warm_what_if(args.size, args.horizon, args.repeats)
        print(json.dumps(out["what_if"]), flush=True)
    if not args.no_cli:
        out["cli"] = cli_start_up(bytecode_cache=not args.no_bytecode_cache)
        print(json.dumps(out["cli"]), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
