"""Speed of `povsim sensitivity`: time per run at 50,000 persons x 30 years, per-run overhead,
and runs per second of a 10-input Sobol sweep with 1 and 2 local workers.

    python benchmarks/bench_sensitivity.py                    # N=64 (1,408 runs), extrapolated
    python benchmarks/bench_sensitivity.py --n 512 --workers 2 --json benchmarks/results/sens.json

A *run* is one sample of the design: the scenario's arm against its baseline (one arm here).
Measures, on ``benchmarks/sensitivity_10param.yaml`` (3 model inputs, 7 intervention inputs):

* baseline and arm simulations per Saltelli block (22 rows), and how many runs were reused;
* per-run time in one process, one Numba thread, after a warm-up: a sample that changes only
  intervention inputs (the worker reuses population, fit and baseline), one that changes only
  the cost inputs (the arm run of the sample before is repriced), a sample that changes
  model inputs (cell tables, normalisers and the baseline arm are redone), and the bare
  kernel loop for one arm; overhead = run time - kernel time of the arms simulated;
* the kernel-only floor of N=512 on 2 workers: every simulation of the 512 blocks at the
  kernel loop's time, nothing else, perfectly shared (the goal's 10 minutes needs this below
  10 with room for the rest);
* the Sobol sweep (second order, N base samples, N(2D+2) rows) through the same code as the
  CLI, for each ``--workers`` count; runs/s and the time projected to N=512 (11,264 runs):
  every Saltelli block has the same structure, so time is linear in N;
* CPU time that other processes used meanwhile (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_engine import CpuMeter, machine_info  # noqa: E402

SCENARIO = HERE / "sensitivity_10param.yaml"


def per_run(sc, repeats: int) -> dict:
    import numba

    from povsim.engine.simulate import prepare, simulate
    from povsim.inputs import uncertainty as U
    from povsim.inputs.parameters import load_params
    from povsim.policy.dynamics import Loops
    from povsim.policy.interventions import Programme
    from povsim.studies.run import ArmHook
    from povsim.studies.sample_model import ScenarioModel

    numba.set_num_threads(1)
    names = U.names(sc)
    model_cols = [j for j, p in enumerate(names) if U.is_model_path(p)]
    arm_cols = [j for j in range(len(names)) if j not in model_cols]
    rng = np.random.default_rng(5)
    model = ScenarioModel(sc, token="bench")
    x0 = U.to_values(sc, rng.random((1, len(names))))
    t = time.perf_counter()
    model.evaluate(x0)
    first = time.perf_counter() - t
    xs = np.repeat(x0, repeats, axis=0)
    xs[:, arm_cols] = U.to_values(sc, rng.random((repeats, len(names))))[:, arm_cols]
    t = time.perf_counter()
    model.evaluate(xs)
    arm_only = (time.perf_counter() - t) / repeats
    # Only the cost inputs change: the arm run of the row before is repriced, not simulated.
    cost_cols = [j for j, p in enumerate(names) if ".cost." in p]
    xs = np.repeat(xs[-1:], repeats, axis=0)
    xs[:, cost_cols] = U.to_values(sc, rng.random((repeats, len(names))))[:, cost_cols]
    t = time.perf_counter()
    model.evaluate(xs)
    cost_only = (time.perf_counter() - t) / repeats
    xs = U.to_values(sc, rng.random((repeats, len(names))))
    t = time.perf_counter()
    model.evaluate(xs)
    all_change = (time.perf_counter() - t) / repeats
    # The kernel loop alone for one arm (no interventions, no loops, no outputs).
    spec = sc.population
    mp = load_params(sc.parameters)
    tables, pop0 = prepare(mp, spec.size, spec.horizon, sc.seed, spec.births)
    times = []
    for _ in range(repeats):
        p = pop0.copy()
        t = time.perf_counter()
        simulate(mp, tables, p, spec.horizon, sc.seed)
        times.append(time.perf_counter() - t)
    kernel = float(np.median(times))
    t = time.perf_counter()
    for _ in range(repeats):
        prog = Programme.build(
            sc.arms["core20"].interventions, mp, sc.seed, spec.start_year, spec.horizon
        )
        simulate(
            mp,
            tables,
            pop0.copy(),
            spec.horizon,
            sc.seed,
            hooks=[ArmHook(prog, Loops(sc.feedbacks, mp, spec.horizon))],
        )
    arm_sim = (time.perf_counter() - t) / repeats
    return {
        "first_run_s": round(first, 3),
        "run_intervention_inputs_only_s": round(arm_only, 4),
        "run_cost_inputs_only_s": round(cost_only, 4),
        "run_model_inputs_changed_s": round(all_change, 4),
        "kernel_loop_one_arm_s": round(kernel, 4),
        "arm_with_interventions_and_loops_s": round(arm_sim, 4),
        "overhead_intervention_only_run_s": round(arm_only - kernel, 4),
        "overhead_model_change_run_s": round(all_change - 2 * kernel, 4),
    }


def simulations_per_block(sc) -> dict:
    """Baseline and arm simulations (and reused runs) of one Saltelli block, counted by the
    worker's model (the count does not depend on the population size)."""
    from povsim.inputs import uncertainty as U
    from povsim.studies.sample_model import ScenarioModel
    from povsim.studies.sensitivity import make_design

    small = sc.model_copy(
        update={"population": sc.population.model_copy(update={"size": 1000, "horizon": 2})}
    )
    model = ScenarioModel(small, token="count")
    model.evaluate(U.to_values(small, make_design("sobol", U.names(small), 1, small.seed).u))
    return model.simulations


def kernel_floor(per_block: dict, kernel_s: float, workers: int = 2) -> dict:
    """The least time N=512 can take with this kernel: every simulation a Saltelli block
    needs, at the kernel loop's time alone (no interventions, loops, tables, fits or outputs),
    spread perfectly over ``workers`` single-threaded workers (minutes)."""
    sims = per_block["baseline"] + per_block["arm"]
    floor = 512 * sims * kernel_s / workers
    return {
        "simulations_per_block": sims,
        "kernel_s_per_simulation": kernel_s,
        "workers": workers,
        "kernel_only_minutes_n512": round(floor / 60, 1),
        "kernel_speed_up_needed_for_10_min": round(floor / 600, 2),
    }


def sweep(sc, n: int, workers: int) -> dict:
    from povsim.studies.sensitivity import run_sensitivity

    with tempfile.TemporaryDirectory() as tmp, CpuMeter() as cpu:
        res = run_sensitivity(sc, "sobol", n, Path(tmp) / "out", workers=workers, resamples=100)
    rows = res.manifest["rows"]
    secs = res.manifest["sweep_seconds"]
    full_rows = 512 * (2 * len(sc.uncertainty) + 2)
    return {
        "workers": workers,
        "n": n,
        "runs": rows,
        "sweep_seconds": secs,
        "runs_per_second": round(rows / secs, 2),
        "projected_seconds_n512": round(secs * full_rows / rows, 0),
        "projected_minutes_n512": round(secs * full_rows / rows / 60, 1),
        "wall_s": round(cpu.wall, 1),
        "other_processes_cpu_s": round(cpu.other, 1),
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=64, help="Sobol base samples (512 = full).")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=6)
    ap.add_argument("--skip-per-run", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    from povsim.inputs.loader import load_scenario

    sc = load_scenario(SCENARIO)
    out = {
        "machine": machine_info(),
        "scenario": str(SCENARIO.relative_to(HERE.parent)),
        "size": sc.population.size,
        "horizon": sc.population.horizon,
        "inputs": len(sc.uncertainty),
    }
    out["simulations_per_saltelli_block"] = simulations_per_block(sc)
    print(json.dumps(out["simulations_per_saltelli_block"]), flush=True)
    if not args.skip_per_run:
        with CpuMeter() as cpu:
            out["per_run"] = per_run(sc, args.repeats)
        out["per_run"]["other_processes_cpu_s"] = round(cpu.other, 1)
        print(json.dumps(out["per_run"], indent=2), flush=True)
        out["kernel_floor_n512"] = kernel_floor(
            out["simulations_per_saltelli_block"], out["per_run"]["kernel_loop_one_arm_s"]
        )
        print(json.dumps(out["kernel_floor_n512"]), flush=True)
    out["sweeps"] = []
    for w in args.workers:
        r = sweep(sc, args.n, w)
        out["sweeps"].append(r)
        print(json.dumps(r), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
