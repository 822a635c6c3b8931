"""Agent-years per second of a three-draw Starsim toy model of povsim's benchmark size.

    pip install starsim            # not a povsim dependency
    python benchmarks/bench_starsim.py                       # 1,000,000 agents x 50 years
    python benchmarks/bench_starsim.py --json benchmarks/results/starsim.json

The toy model is Starsim's minimal demographic + disease set-up with one-year steps:
``ss.Births`` and ``ss.Deaths`` (crude rates 11 per 1,000 a year, so the population stays
near its starting size) and an ``ss.SIS`` infection spread through an ``ss.MixingPool``.
With Starsim's default common random numbers, each step draws about three random numbers
per living agent: death (Deaths), birth (Births, a per-agent Bernoulli scan) and infection
(MixingPool, one acquisition draw per agent), plus a duration for each new infection.

Timed: ``sim.init()`` (creating the agents) and ``sim.run()`` separately, excluding
``import starsim`` and an untimed warm-up run of 2,000 agents (Starsim's Numba functions).
Agent-years = living agents summed over the steps run (dt = 1 year).
If the whole run would take longer than ``--max-seconds``, the run stops after the steps
that fit and the rate of those steps is reported (``extrapolated: true``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path


def cpu_seconds() -> tuple[float, float]:
    """(CPU seconds of the whole machine, of this process) so far (Linux /proc/stat)."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        busy = (f[0] + f[1] + f[2] + f[5] + f[6]) / os.sysconf("SC_CLK_TCK")
    except OSError:
        busy = float("nan")
    t = os.times()
    return busy, t.user + t.system


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=1_000_000, help="agents at start")
    ap.add_argument("--years", type=int, default=50, help="one-year steps")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--max-seconds",
        type=float,
        default=300.0,
        help="stop early (and extrapolate the rate) past this run time",
    )
    ap.add_argument("--json", type=Path, help="write results here")
    args = ap.parse_args(argv)
    load0 = list(os.getloadavg())

    t0 = time.perf_counter()
    try:
        import numpy as np
        import starsim as ss
    except ImportError as e:
        res = {"error": f"starsim not importable: {e}", "hint": "pip install starsim"}
        print(res["error"], file=sys.stderr)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(res, indent=2) + "\n")
        return res
    t_import = time.perf_counter() - t0

    start = 2000

    def make(n, years):
        return ss.Sim(
            n_agents=n,
            start=start,
            stop=start + years - 1,
            dt=1,
            rand_seed=args.seed,
            verbose=0,
            demographics=[
                ss.Births(birth_rate=ss.peryear(11)),
                ss.Deaths(death_rate=ss.peryear(11)),
            ],
            diseases=ss.SIS(beta=ss.peryear(0.5), init_prev=0.05),
            networks=ss.MixingPool(beta=1.0, n_contacts=ss.constant(1)),
        )

    # Warm-up (untimed): Starsim's own Numba functions compile or load their cache here.
    t0 = time.perf_counter()
    make(2_000, 3).run()
    t_warm = time.perf_counter() - t0

    sim = make(args.size, args.years)
    t0 = time.perf_counter()
    sim.init()
    t_init = time.perf_counter() - t0
    n_steps = len(sim.t.timevec)

    # Run in blocks of steps, so a run that would take too long can stop early.
    busy0, own0 = cpu_seconds()
    done, t_run, block = 0, 0.0, 5
    while done < n_steps:
        upto = min(n_steps, done + block)
        t0 = time.perf_counter()
        sim.run(until=start + upto - 1)
        t_run += time.perf_counter() - t0
        done = upto
        if done < n_steps and t_run / done * n_steps > args.max_seconds:
            break
    busy1, own1 = cpu_seconds()
    other_cpu = max(0.0, (busy1 - busy0) - (own1 - own0))
    extrapolated = done < n_steps
    alive = np.asarray(sim.results.n_alive)[:done]
    agent_years = float(alive.sum()) * 1.0  # dt = 1 year
    res = {
        "starsim": ss.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu_count": os.cpu_count(),
        "crn": bool(ss.options.crn),
        "model": "Births + Deaths (11/1000/yr) + SIS via MixingPool, dt = 1 year",
        "size": args.size,
        "years_requested": args.years,
        "steps_run": done,
        "extrapolated": extrapolated,
        "import_seconds": t_import,
        "warmup_seconds": t_warm,
        "init_seconds": t_init,
        "run_seconds": t_run,
        "agent_years": agent_years,
        "other_cpu_seconds_during_run": other_cpu,
        "load_average_at_start": load0,
        "agents_alive_first_last": [float(alive[0]), float(alive[-1])],
        "agent_years_per_s_run": agent_years / t_run,
        # Whole run (projected from the steps run if stopped early): init + all steps.
        "agent_years_per_s_init_and_run": (agent_years * n_steps / done)
        / (t_init + t_run * n_steps / done),
    }
    if extrapolated:
        res["note"] = (
            f"stopped after {done} of {n_steps} steps ({t_run:.0f} s); rates are "
            "those of the steps run"
        )
    print(
        f"Starsim {ss.__version__}: {args.size:,} agents, {done} of {n_steps} one-year steps; "
        f"init {t_init:.1f} s, run {t_run:.1f} s; {agent_years:,.0f} agent-years -> "
        f"{res['agent_years_per_s_run'] / 1e6:.2f} M/s (run), "
        f"{res['agent_years_per_s_init_and_run'] / 1e6:.2f} M/s (init + run)"
        + (" [extrapolated]" if extrapolated else "")
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2) + "\n")
        print(f"wrote {args.json}")
    return res


if __name__ == "__main__":
    main()
