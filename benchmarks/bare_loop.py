"""The machine's yardstick: a bare Numba loop with one draw per agent-step.

    python benchmarks/bare_loop.py --size 1000000 --years 50 --threads 1 2

The performance brief sets the kernel's bar against this loop ("a bare Numba loop does about
1.4e8 agent-steps/s on these 2 cores, so the full model should reach 3e7 person-years/s"):
3e7 / 1.4e8 = 0.214 of it. This VM's speed drifts by tens of per cent within minutes (the same
code's year step ran 39% faster at 04:24 than at 04:03 UTC on 2026-12-02), so
``bench_engine.py`` runs this loop before every timed kernel run and reports the kernel's rate
both as measured and as a share of the yardstick measured moments before: the share is what
the code controls, the absolute rate also depends on the VM's moment.

One agent-step here: is the agent alive; one uniform from Numba's ``np.random.random()``
(a Mersenne Twister per thread, as a first Numba model would draw); death with a constant
probability, else age by one; count it. Nothing else is read or written. This loop gives
1.0-1.2e8 agent-steps/s on 2 threads here, the brief's figure. The same loop drawing with
povsim's counter-based hash (``--draw hash``, the kernel's generator) gives about 1.2e9: LLVM
vectorises it, so it is no yardstick for a kernel that cannot be vectorised.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numba
import numpy as np
from numba import njit, prange

from povsim.engine.kernel import person_base, year_key
from povsim.model.rng import seed_key, uniform

# The performance brief's figures (issue 1): the yardstick's rate on these 2 cores and the bar.
BRIEF_BARE_RATE = 1.4e8  # agent-steps/s, 2 threads
BRIEF_KERNEL_BAR = 3e7  # person-years/s, 2 threads
BAR_SHARE = BRIEF_KERNEL_BAR / BRIEF_BARE_RATE  # 0.214


@njit(parallel=True, cache=True)
def bare_year(alive, age, p_death):
    """One year of the bare loop, in place; returns the agent-steps done (living agents)."""
    steps = 0
    for i in prange(alive.shape[0]):
        if alive[i] != 0:
            if np.random.random() < p_death:
                alive[i] = 0
            elif age[i] < 100:
                age[i] += 1
            steps += 1
    return steps


@njit(parallel=True, cache=True)
def bare_year_hash(alive, age, pid, seed_k, t, p_death):
    """:func:`bare_year` drawing with povsim's counter-based hash (``--draw hash``)."""
    steps = 0
    for i in prange(alive.shape[0]):
        if alive[i] != 0:
            u = uniform(year_key(person_base(seed_k, pid[i]), t + 1), 0)
            if u < p_death:
                alive[i] = 0
            elif age[i] < 100:
                age[i] += 1
            steps += 1
    return steps


def bare_rate(size: int, years: int, threads: int, seed: int = 1, draw: str = "numpy") -> dict:
    """Agent-steps per second of ``years`` steps of ``size`` agents on ``threads`` threads
    (ages 0-99 at the start, death probability 0.01 a year)."""
    numba.set_num_threads(threads)
    alive = np.ones(size, np.uint8)
    age = (np.arange(size) % 100).astype(np.uint8)
    pid = np.arange(size, dtype=np.int64)
    sk = seed_key(seed)
    if draw == "hash":

        def year(t: int) -> int:
            return bare_year_hash(alive, age, pid, sk, t, 0.01)

        bare_year_hash(alive[:10].copy(), age[:10].copy(), pid[:10], sk, 0, 0.01)  # compile
    else:

        def year(t: int) -> int:
            return bare_year(alive, age, 0.01)

        bare_year(alive[:10].copy(), age[:10].copy(), 0.01)  # compile or load
    t0 = time.perf_counter()
    steps = 0
    for t in range(years):
        steps += year(t)
    sec = time.perf_counter() - t0
    return {"threads": threads, "agent_steps": steps, "seconds": sec, "rate": steps / sec}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--years", type=int, default=50)
    ap.add_argument("--threads", type=int, nargs="+", default=[numba.config.NUMBA_NUM_THREADS])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--draw", choices=["numpy", "hash"], default="numpy")
    args = ap.parse_args(argv)
    for th in args.threads:
        runs = [bare_rate(args.size, args.years, th, draw=args.draw) for _ in range(args.repeat)]
        rates = [r["rate"] for r in runs]
        print(
            f"bare loop ({args.draw} draw), {th} thread(s), {args.size:,} agents x "
            f"{args.years} years: "
            f"median {statistics.median(rates) / 1e6:.0f} M agent-steps/s "
            f"(of {[round(r / 1e6) for r in rates]})"
        )


if __name__ == "__main__":
    main()
