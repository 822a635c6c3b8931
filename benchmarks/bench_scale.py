"""Scaling of povsim with persons x years (issue 17 goals 4-5): throughput and peak memory.

    python benchmarks/bench_scale.py                       # 0.1M, 1M, 10M persons x 30 years
    python benchmarks/bench_scale.py --full                # ... and England at full scale (56.3M)
    python benchmarks/bench_scale.py --sizes 100000 --json benchmarks/results/scale.json

For each size, in a fresh subprocess (so the peak resident memory is that run's alone, read
from ``/proc/self/status`` VmHWM; tracemalloc misses NumPy/Numba allocations):

* ``povsim run`` one arm (``scenarios/baseline.yaml``, 30 years, ``-q --no-figures``), end to
  end: interpreter, imports, population, simulation, tables, CSV/Parquet/JSON; person-years
  from its manifest / wall seconds, and the API's own seconds (``povsim.run``);
* the kernel alone: ``povsim.engine.simulate.simulate`` over the same 30 years on the prepared
  population (set-up timed apart), Numba threads as configured (all cores by default);
* bytes per person slot of every person array (the draw ids ``pid`` included), and the slots (the
  starting population plus the birth slots of every year).

Then the plain NumPy twin of the year step (``numpy_step.py``) at a small size for comparison
(``--numpy-size``, 3 years). The machine is shared: the CPU time other processes used during
each measurement is printed (``other_cpu_s``); compare ratios, not absolute seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

SCENARIO = ROOT / "scenarios" / "baseline.yaml"


def peak_rss_mib() -> float:
    """Peak resident memory of this process (VmHWM), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_kernel(size: str, horizon: int) -> dict:
    """Set-up and the kernel loop alone for one arm, in this (fresh) process."""
    import numpy as np

    from povsim.engine.simulate import prepare, simulate
    from povsim.inputs.loader import load_scenario
    from povsim.model import population as P
    from povsim.model.area import area_params, resolve_size

    # (Also measures code from before constant arrays existed, for before/after tables.)
    is_constant = getattr(P, "is_constant", lambda a: False)

    sc = resolve_size(load_scenario(SCENARIO, {"population.size": _size_arg(size)}))
    mp = area_params(sc)
    t = time.perf_counter()
    tables, pop = prepare(mp, sc.population.size, horizon, sc.seed, sc.population.births)
    setup = time.perf_counter() - t
    setup_peak = peak_rss_mib()
    arrays = {f: getattr(pop, f) for f in pop.__dataclass_fields__ if hasattr(pop, f)}
    # Memory each array holds: a constant (one value viewed with stride 0; a large
    # population's weights and intervention effects) holds one value, not n.
    person_bytes = sum(
        (a.itemsize if is_constant(a) else a.nbytes)
        for a in arrays.values()
        if isinstance(a, np.ndarray)
    )
    slots = pop.size
    t = time.perf_counter()
    tallies = simulate(mp, tables, pop, horizon, sc.seed)
    secs = time.perf_counter() - t
    py = float(tallies[..., 0].sum()) / float(pop.weight[0])
    return {
        "persons": sc.population.size,
        "slots": slots,
        # Every person array, households' tables included (hh_ptr, hh_kind; per slot). The
        # draw keys are no longer cached: the kernel derives them from pid (in the arrays).
        "bytes_per_slot_person_arrays": round(person_bytes / slots, 1),
        "bytes_per_person_person_arrays": round(person_bytes / sc.population.size, 1),
        "setup_s": round(setup, 2),
        "peak_rss_setup_mib": round(setup_peak),
        "kernel_s": round(secs, 2),
        "person_years": round(py),
        "kernel_person_years_per_s": round(py / secs),
        "peak_rss_mib": round(peak_rss_mib()),
    }


def _size_arg(size: str) -> int | str:
    return size if size == "full" else int(size)


class CpuOthers:
    """CPU seconds used by other processes meanwhile (all CPU time minus this tree's)."""

    def __enter__(self):
        self.busy0, self.own0, self.t0 = self._busy(), self._own(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        self.other = max(0.0, (self._busy() - self.busy0) - (self._own() - self.own0))

    @staticmethod
    def _busy() -> float:
        f = [float(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return (sum(f) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system


def run_child(args: list[str]) -> tuple[dict | None, float, float, float]:
    """(JSON it printed last, wall s, peak RSS MiB of the child, others' CPU s)."""
    with CpuOthers() as cpu:
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(p.pid, 0)
        out = p.stdout.read() if p.stdout else ""
        err = p.stderr.read() if p.stderr else ""
        p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        print(f"failed: {' '.join(args)}\n{err[-2000:]}", file=sys.stderr)
        return None, cpu.wall, usage.ru_maxrss / 1024, cpu.other
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    return (json.loads(lines[-1]) if lines else None), cpu.wall, usage.ru_maxrss / 1024, cpu.other


def bench_cli(size: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "out"
        cmd = [sys.executable, "-m", "povsim", "run", str(SCENARIO), "--size", size]
        _, wall, rss, other = run_child([*cmd, "-q", "--no-figures", "-o", str(dest)])
        try:
            man = json.loads((dest / "manifest.json").read_text())
        except OSError:
            return {"size": size, "failed": True, "wall_s": round(wall, 1)}
    py = man["simulated_person_years"]
    return {
        "persons": man["size"],
        "cli_wall_s": round(wall, 2),
        "api_s": man["seconds"],
        "person_years": py,
        "cli_person_years_per_s": round(py / wall),
        "api_person_years_per_s": round(py / man["seconds"]),
        "cli_peak_rss_mib": round(rss),
        "other_cpu_s": round(other, 1),
    }


def bench_numpy(size: int, years: int) -> dict:
    import numpy as np

    import numpy_step as NS
    from povsim.engine.simulate import prepare, simulate
    from povsim.inputs.parameters import load_params

    mp = load_params()
    tables, pop0 = prepare(mp, size, years, 42)
    simulate(mp, tables, pop0.copy(), 1, 42)  # Numba warm-up (cache load)
    p = pop0.copy()
    t = time.perf_counter()
    tal = simulate(mp, tables, p, years, 42)
    numba_s = time.perf_counter() - t
    p = pop0.copy()
    with NS.numpy_kernel():
        t = time.perf_counter()
        tal_np = simulate(mp, tables, p, years, 42)
        numpy_s = time.perf_counter() - t
    py = float(tal[..., 0].sum()) / float(pop0.weight[0])
    return {
        "persons": size,
        "years": years,
        "numpy_person_years_per_s": round(py / numpy_s),
        "numba_person_years_per_s": round(py / numba_s),
        "tallies_agree_rtol_1e-9": bool(np.allclose(tal, tal_np, rtol=1e-9, atol=0.0)),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", nargs="+", default=["100000", "1000000", "10000000"])
    ap.add_argument("--full", action="store_true", help="add England at full scale (56.3M)")
    ap.add_argument("--horizon", type=int, default=30)
    ap.add_argument("--numpy-size", type=int, default=20000)
    ap.add_argument("--no-cli", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", nargs=2, metavar=("SIZE", "HORIZON"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child_kernel(args.child[0], int(args.child[1]))), flush=True)
        return {}
    sizes = list(args.sizes) + (["full"] if args.full else [])
    out: dict = {"horizon": args.horizon, "rows": []}
    for size in sizes:
        row: dict = {"size": size}
        res, wall, rss, other = run_child(
            [sys.executable, __file__, "--child", size, str(args.horizon)]
        )
        if res is not None:
            row.update(res)
            row["kernel_child_peak_rss_mib"] = round(rss)
            row["kernel_other_cpu_s"] = round(other, 1)
            prev = next((r for r in reversed(out["rows"]) if "slots" in r), None)
            if prev is not None and res["slots"] > prev["slots"]:
                # Peak memory added per added slot (the interpreter's fixed part cancels).
                row["marginal_peak_bytes_per_slot"] = round(
                    (rss - prev["kernel_child_peak_rss_mib"])
                    * 2**20
                    / (res["slots"] - prev["slots"]),
                    1,
                )
        if not args.no_cli:
            row["cli"] = bench_cli(size)
        out["rows"].append(row)
        print(json.dumps(row), flush=True)
    out["numpy"] = bench_numpy(args.numpy_size, 3)
    print(json.dumps(out["numpy"]), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
