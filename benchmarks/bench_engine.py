"""Person-years per second of the povsim engine, against a plain NumPy step, and end to end.

    python benchmarks/bench_engine.py                      # 1,000,000 persons x 50 years
    python benchmarks/bench_engine.py --threads 1 2 --json benchmarks/results/engine.json
    python benchmarks/bench_engine.py --size 200000 --years 10 --numpy-years 3 --check

Measures, on one population built once (build time reported separately):

* Numba engine: :func:`povsim.engine.simulate.simulate` (the yearly loop: births, kernel, tally
  sums, re-fitted normalisers) for ``--years`` years, median of ``--repeat`` runs, each on a
  fresh copy of the population, for each ``--threads`` count. Compilation is done (or the
  Numba cache loaded) in a warm-up run outside the timing. Each run is preceded by the bare
  Numba loop of ``bare_loop.py`` (one draw per agent-step, the brief's yardstick) at the same
  size, years and threads; the run's rate over it is reported beside the rate.
* NumPy reference: the same loop with the kernel swapped for ``numpy_step.step_year_numpy``
  for ``--numpy-years`` years (NumPy is slow), against the Numba engine over the same years;
  the final states of the two are compared person by person.
* End to end: ``povsim run SCENARIO --size N -q -o DIR`` in a subprocess, run twice, the
  second timed: simulated person-years (from the run's manifest.json) / wall seconds,
  including interpreter start-up, imports, building the population, the simulation, the
  results table, outputs and figures.

A person-year is one living person simulated through one year (the kernel's exposure tally).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import numpy_step as NS  # noqa: E402
from bare_loop import BAR_SHARE, BRIEF_BARE_RATE, BRIEF_KERNEL_BAR, bare_rate  # noqa: E402
from povsim.engine import kernel as K
from povsim.engine.simulate import kernel_scalars, prepare, simulate
from povsim.inputs import layout as L
from povsim.inputs.parameters import load_params
from povsim.model import registry as R
from povsim.model.population import PersonArrays


def person_years(tallies: np.ndarray, weight: float) -> float:
    """Simulated (not real) person-years in a run's tallies."""
    return float(tallies[..., R.S_EXPO].sum()) / weight


def machine_info() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    import llvmlite.binding as llvm

    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "fma": "fma" in {k for k, v in llvm.get_host_cpu_features().items() if v},
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba_max_threads": numba.config.NUMBA_NUM_THREADS,
        "platform": platform.platform(),
        "load_average_at_start": list(os.getloadavg()),
    }


class CpuMeter:
    """CPU seconds used by this process (and its children) and by everything else on the
    machine while the block runs (Linux /proc/stat), to show when other work competed."""

    def _busy(self) -> float:
        try:
            f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except OSError:
            return float("nan")
        # user nice system idle iowait irq softirq steal ...
        return (f[0] + f[1] + f[2] + f[5] + f[6]) / os.sysconf("SC_CLK_TCK")

    def _own(self) -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def __enter__(self):
        self.t0, self.b0, self.o0 = time.perf_counter(), self._busy(), self._own()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        self.own = self._own() - self.o0
        self.other = max(0.0, self._busy() - self.b0 - self.own)
        return False


def run_numba(mp, tables, pop0, years: int, seed: int, threads: int) -> dict:
    """One timed run on a fresh copy."""
    numba.set_num_threads(threads)
    tb, pop = copy.deepcopy(tables), pop0.copy()
    with CpuMeter() as m:
        tal = simulate(mp, tb, pop, years, seed)
    return {
        "seconds": m.wall,
        "person_years": person_years(tal, float(pop.weight[0])),
        "own_cpu_seconds": m.own,
        "other_cpu_seconds": m.other,
    }


def bench_kernel(args, mp, tables, pop0) -> dict:
    """Timed runs per thread count; each preceded by the bare loop (``bare_loop.py``) at the
    same size, years and threads, so each run's rate is also a share of the machine's speed
    at that moment (the VM's speed drifts by tens of per cent within minutes)."""
    out = {}
    for th in args.threads:
        runs, bare = [], []
        for _ in range(args.repeat):
            bare.append(bare_rate(args.size, args.years, th)["rate"])
            runs.append(run_numba(mp, tables, pop0, args.years, args.seed, th))
        secs = [r["seconds"] for r in runs]
        other = [r["other_cpu_seconds"] for r in runs]
        py = runs[0]["person_years"]
        med = statistics.median(secs)
        shares = [py / s / b for s, b in zip(secs, bare)]
        share = statistics.median(shares)
        out[str(th)] = {
            "threads": th,
            "seconds": secs,
            "median_seconds": med,
            "min_seconds": min(secs),
            "person_years": py,
            "person_years_per_s": py / med,
            "own_cpu_seconds": [r["own_cpu_seconds"] for r in runs],
            "other_cpu_seconds": other,
            "bare_agent_steps_per_s": bare,
            "share_of_bare": shares,
            "median_share_of_bare": share,
        }
        print(
            f"  numba  {th} thread(s): {args.years} years, {py:,.0f} person-years, "
            f"median {med:.2f} s of {[round(s, 2) for s in secs]} -> {py / med / 1e6:.1f} M/s"
            f" (CPU s used by other processes meanwhile: {[round(o, 1) for o in other]})\n"
            f"         bare loop just before each run: "
            f"{[round(b / 1e6) for b in bare]} M agent-steps/s; the run's rate over it: median "
            f"{share:.3f} (the brief's bar {BRIEF_KERNEL_BAR:.0e} / {BRIEF_BARE_RATE:.1e} = "
            f"{BAR_SHARE:.3f}; at {th} thread(s) the bar applies to 2)",
            flush=True,
        )
    return out


def bench_numpy(args, mp, tables, pop0) -> dict:
    """NumPy twin vs Numba over the same years; states compared at the end."""
    th = max(args.threads)
    numba.set_num_threads(th)
    years = min(args.numpy_years, args.years)
    tb_a, pop_a = copy.deepcopy(tables), pop0.copy()
    t0 = time.perf_counter()
    tal_a = simulate(mp, tb_a, pop_a, years, args.seed)
    dt_a = time.perf_counter() - t0
    tb_b, pop_b = copy.deepcopy(tables), pop0.copy()
    with NS.numpy_kernel(), CpuMeter() as meter:
        tal_b = simulate(mp, tb_b, pop_b, years, args.seed)
    dt_b = meter.wall
    w = float(pop0.weight[0])
    py_a, py_b = person_years(tal_a, w), person_years(tal_b, w)
    diffs = NS.compare_states(pop_a, pop_b)
    scale = np.maximum(np.abs(tal_a), 1e-300)
    max_rel = float(np.max(np.abs(tal_a - tal_b) / scale))
    res = {
        "years": years,
        "numpy_seconds": dt_b,
        "numpy_person_years": py_b,
        "numpy_person_years_per_s": py_b / dt_b,
        "numba_seconds_same_years": dt_a,
        "numba_threads": th,
        "numba_person_years_per_s_same_years": py_a / dt_a,
        "speedup_same_years": (py_a / dt_a) / (py_b / dt_b),
        "numpy_other_cpu_seconds": meter.other,
        "states_identical": not any(diffs.values()),
        "state_differences": {k: v for k, v in diffs.items() if v},
        "tallies_max_rel_diff": max_rel,
    }
    print(
        f"  numpy  {years} years: {py_b:,.0f} person-years in {dt_b:.2f} s -> "
        f"{py_b / dt_b / 1e6:.2f} M/s; numba ({th} threads) same years {dt_a:.2f} s -> "
        f"speed-up x{res['speedup_same_years']:.0f}; states identical: "
        f"{res['states_identical']}, tallies max rel. diff {max_rel:.1e}",
        flush=True,
    )
    return res


def per_person_check(mp, tables, pop0, seed: int, n: int = 1000) -> dict:
    """One year for ``n`` persons, one kernel chunk per person, with random intervention
    multipliers, transfers and weights: every per-person tally (hazard, p(not good), LTC
    multiplier ...) and every state must agree bit for bit with the NumPy twin."""
    from povsim.model.rng import seed_key

    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(np.flatnonzero(pop0.alive), n, replace=False))
    state = {
        name: x[ids].copy()
        for name, x in pop0.kernel_arrays()._asdict().items()
        if name != "hh_ptr"
    }
    state["mort_mult"][:] = rng.uniform(0.5, 2.0, n)
    state["ltc_mult"][:] = rng.uniform(0.5, 2.0, n)
    state["weight"][:] = rng.uniform(0.5, 2.0, n)
    # Each person its own household (the kernel pools each household before stepping it),
    # some paid a transfer.
    state["hh_ptr"] = np.arange(n + 1, dtype=np.int64)
    tr = rng.random(n) < 0.3
    state["transfer"][:] = 0.0
    state["transfer"][tr] = rng.uniform(100.0, 3000.0, int(tr.sum()))
    reg = tables.registry
    # Random capacity multipliers of the capacity-limited factors' incidence, by quintile.
    year = K.year_inputs(
        tables, reg.kernel_layout(), kernel_scalars(mp, tables), rng.uniform(0.5, 2.0, L.N_Q)
    )
    a = PersonArrays(**{k: v.copy() for k, v in state.items()})
    b = PersonArrays(**{k: v.copy() for k, v in state.items()})
    ta = np.zeros((n, L.N_CELL, reg.n_stats))
    tb = np.zeros_like(ta)
    sk = seed_key(seed)
    K.step_year(0, sk, a, year, ta)
    NS.step_year_numpy(0, sk, b, year, tb)
    states = {k: int(np.count_nonzero(x != y)) for k, x, y in zip(state, a, b)}
    tallies = {
        reg.stats[j]: int(np.count_nonzero(ta[..., j] != tb[..., j])) for j in range(reg.n_stats)
    }
    res = {
        "persons": n,
        "state_differences": {k: v for k, v in states.items() if v},
        "tally_differences": {k: v for k, v in tallies.items() if v},
    }
    res["bit_identical"] = not res["state_differences"] and not res["tally_differences"]
    print(
        f"  per-person check ({n} persons, one chunk each): bit-identical "
        f"{res['bit_identical']} {res['state_differences'] or ''} "
        f"{res['tally_differences'] or ''}",
        flush=True,
    )
    return res


def bench_cli(args) -> dict:
    exe = shutil.which("povsim", path=str(Path(sys.executable).parent)) or shutil.which("povsim")
    cmd0 = [exe] if exe else [sys.executable, "-m", "povsim.cli"]
    with tempfile.TemporaryDirectory(prefix="povsim-bench-") as tmp:
        tmp = Path(tmp)
        baseline = REPO / "scenarios" / "baseline.yaml"
        scen = tmp / "bench.yaml"
        if baseline.is_file():
            scen.write_text(
                f"extends: {baseline}\nname: bench\npopulation: {{horizon: {args.years}}}\n"
            )
        else:
            scen.write_text(
                f"name: bench\nseed: 1\npopulation: {{size: {args.size}, "
                f"start_year: 2019, horizon: {args.years}}}\n"
            )
        walls, others, manifests = [], [], []
        for k in range(2):
            out = tmp / f"out{k}"
            cmd = [*cmd0, "run", str(scen), "--size", str(args.size), "-q", "-o", str(out)]
            with CpuMeter() as meter:
                proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
            walls.append(meter.wall)
            others.append(meter.other)
            if proc.returncode != 0:
                print(proc.stdout, proc.stderr, file=sys.stderr)
                return {"error": f"exit {proc.returncode}", "command": " ".join(cmd)}
            manifests.append(json.loads((out / "manifest.json").read_text()))
    m = manifests[-1]
    py = float(m["simulated_person_years"])
    res = {
        "command": f"povsim run <baseline, horizon {args.years}> --size {args.size} -q -o DIR",
        "wall_seconds": walls,
        "other_cpu_seconds": others,
        "person_years": py,
        "person_years_per_s": py / walls[-1],
        "manifest_seconds": m.get("seconds"),
        "manifest_person_years_per_second": m.get("person_years_per_second"),
    }
    print(
        f"  CLI end to end (2nd of 2 runs): {py:,.0f} person-years in {walls[-1]:.1f} s wall "
        f"-> {py / walls[-1] / 1e6:.1f} M/s (first run {walls[0]:.1f} s; api.run alone "
        f"{m.get('seconds')} s)",
        flush=True,
    )
    return res


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=1_000_000, help="simulated persons at start")
    ap.add_argument("--years", type=int, default=50, help="simulated years (Numba and CLI)")
    ap.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[numba.config.NUMBA_NUM_THREADS],
        help="Numba thread counts to time (default: all)",
    )
    ap.add_argument("--repeat", type=int, default=3, help="timed Numba runs per thread count")
    ap.add_argument("--numpy-years", type=int, default=5, help="years for the NumPy reference")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--check",
        action="store_true",
        help="also the per-person bit-for-bit check of the NumPy twin",
    )
    ap.add_argument("--no-cli", action="store_true", help="skip the end-to-end CLI timing")
    ap.add_argument("--json", type=Path, help="write results here")
    args = ap.parse_args(argv)
    for th in args.threads:
        if not 1 <= th <= numba.config.NUMBA_NUM_THREADS:
            ap.error(f"--threads: 1..{numba.config.NUMBA_NUM_THREADS}")

    info = machine_info()
    print(
        f"povsim engine benchmark: {args.size:,} persons x {args.years} years; "
        f"{info['cpu']} ({info['usable_cpus']} usable CPUs), numba {info['numba']}, "
        f"numpy {info['numpy']}",
        flush=True,
    )
    mp = load_params()

    # Warm-up: compile or load every kernel (population set-up and yearly step) untimed.
    numba.set_num_threads(max(args.threads))
    t0 = time.perf_counter()
    tw, pw = prepare(mp, 5_000, 2, args.seed)
    simulate(mp, tw, pw, 2, args.seed)
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    tables, pop0 = prepare(mp, args.size, args.years, args.seed)
    build = time.perf_counter() - t0
    print(
        f"  warm-up (compile or cache load) {warm:.1f} s; build population "
        f"({pop0.size:,} slots incl. births) {build:.1f} s",
        flush=True,
    )

    results = {
        "machine": info,
        "size": args.size,
        "years": args.years,
        "seed": args.seed,
        "warmup_seconds": warm,
        "build_seconds": build,
        "population_slots": pop0.size,
    }
    results["numba"] = bench_kernel(args, mp, tables, pop0)
    results["threading_layer"] = numba.threading_layer()
    if args.numpy_years > 0:
        results["numpy"] = bench_numpy(args, mp, tables, pop0)
    if args.check:
        results["per_person_check"] = per_person_check(mp, tables, pop0, args.seed)
    if not args.no_cli:
        results["cli"] = bench_cli(args)

    print("\n| measure | person-years/s |\n| --- | ---: |")
    for th, r in results["numba"].items():
        print(
            f"| Numba engine, {th} thread(s), {args.years} years | "
            f"{r['person_years_per_s'] / 1e6:.1f} M (x{r['median_share_of_bare']:.3f} the bare "
            f"loop's {statistics.median(r['bare_agent_steps_per_s']) / 1e6:.0f} M) |"
        )
    if "numpy" in results:
        r = results["numpy"]
        print(
            f"| NumPy reference, {r['years']} years | {r['numpy_person_years_per_s'] / 1e6:.2f} M |"
        )
        print(
            f"| Numba, same {r['years']} years, {r['numba_threads']} thread(s) | "
            f"{r['numba_person_years_per_s_same_years'] / 1e6:.1f} M "
            f"(x{r['speedup_same_years']:.0f} NumPy) |"
        )
    if "cli" in results and "person_years_per_s" in results["cli"]:
        print(f"| CLI end to end | {results['cli']['person_years_per_s'] / 1e6:.1f} M |")
    results["load_average_at_end"] = list(os.getloadavg())
    contended = [
        f"numba {th} thread(s)"
        for th, r in results["numba"].items()
        if max(o / s for o, s in zip(r["other_cpu_seconds"], r["seconds"])) > 0.1
    ]
    if contended:
        print(
            "note: other processes used more than 0.1 CPU-second per second during: "
            + ", ".join(contended)
            + "; those timings are slowed by them"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return results


if __name__ == "__main__":
    main()
