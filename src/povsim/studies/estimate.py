"""How long a command will take, said before it starts (when over a minute).

Work is counted in simulated person-years: runs x persons x years. Two short calibration
runs of the same scenario (all its arms, at a few thousand and a few ten thousand persons)
measure what one more person-year costs on this machine now, end to end (set-up, kernel,
interventions, tallies); the estimate is that marginal cost times the command's
person-years. One run at a few thousand persons is mostly fixed costs (tables, Python per
year): priced from it alone, England at full scale came out at 43 minutes for a 2-minute
run, and a 28-minute Sobol sweep at 17 hours. It ignores births and deaths (the population's
size changes little) and what does not scale with persons (report writing), so it is a
guide, not a promise.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

# End-to-end throughput of `povsim run` on a quiet 2-core machine (benchmarks/README.md,
# 4.8 million person-years a second): the first guess, before anything is measured.
PRIOR_PERSON_YEARS_PER_S = 4.8e6
# A machine shared with other work can be this many times slower than the benchmark's.
SLOWDOWN_ALLOWANCE = 16.0
# Commands expected to take longer than this (seconds) say so before they start.
ANNOUNCE_AFTER_S = 60.0
CALIBRATION_PERSONS = 4000
# The second calibration run (persons), when the command's population is larger than twice
# the first: far enough apart for the difference to dwarf the machine's noise (0.1 s against
# about 0.01 s), small enough to take a third of a second.
CALIBRATION_PERSONS_LARGE = 32000
# Seconds per simulated person-year, to use instead of measuring (tests; a known machine).
ENV_COST = "POVSIM_SECONDS_PER_PERSON_YEAR"


@dataclass(frozen=True)
class Workload:
    """``runs`` simulations (arms x samples x replicates) of ``persons`` for ``years``."""

    runs: int
    persons: int
    years: int

    @property
    def person_years(self) -> float:
        return float(self.runs) * self.persons * self.years


def estimate_seconds(work: Workload, seconds_per_person_year: float) -> float:
    """Estimated wall time (s) of ``work`` at a measured cost per person-year (s)."""
    return work.person_years * seconds_per_person_year


def format_duration(seconds: float) -> str:
    """'45 s', '7 min', '2.5 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def format_estimate(work: Workload, seconds: float) -> str:
    """'estimated 7 min (11,264 runs of 50,000 persons x 30 years)'."""
    runs = f"{work.runs:,} run" + ("" if work.runs == 1 else "s")
    return (
        f"estimated {format_duration(seconds)} ({runs} of {work.persons:,} persons x "
        f"{work.years} years)"
    )


def may_take_a_minute(work: Workload) -> bool:
    """Whether ``work`` could take over :data:`ANNOUNCE_AFTER_S` even on a slow, busy machine
    (only then is the calibration run worth its few seconds)."""
    prior = work.person_years / PRIOR_PERSON_YEARS_PER_S
    return prior * SLOWDOWN_ALLOWANCE >= ANNOUNCE_AFTER_S


_TIMING_SEED_OFFSET = 7_919_993  # any seed a user's run is unlikely to share


def measure_cost(sc: Any) -> float:
    """Seconds per simulated person-year now: the marginal cost between every arm of scenario
    ``sc`` at :data:`CALIBRATION_PERSONS` and at :data:`CALIBRATION_PERSONS_LARGE` persons
    over its horizon (the cost of the first alone when the scenario's population is not
    larger than twice it), after a tiny warm-up run that loads the compiled kernel; or the
    value of the environment variable :data:`ENV_COST`."""
    env = os.environ.get(ENV_COST)
    if env:
        return float(env)
    from povsim.model.area import area_params
    from povsim.studies.run import run_once

    mp = area_params(sc)

    def sized(n: int, years: int) -> Any:
        pop = sc.population.model_copy(update={"size": n, "horizon": years})
        return sc.model_copy(update={"population": pop})

    run_once(sized(200, 2), mp, sc.seed)  # loads the compiled kernel
    horizon = sc.population.horizon
    runs = len(sc.arms) + 1

    def timed(n: int) -> float:
        # A seed of its own: a population or baseline kept from an earlier call in this
        # process (studies/run.py) is never reused, so the timing covers building and every
        # arm.
        small = sized(n, horizon)
        small = small.model_copy(update={"seed": sc.seed + _TIMING_SEED_OFFSET + n})
        t0 = time.perf_counter()
        run_once(small, mp, small.seed)
        return time.perf_counter() - t0

    n1 = min(CALIBRATION_PERSONS, sc.population.size)
    t1 = timed(n1)
    if sc.population.size <= 2 * n1:
        return t1 / (runs * n1 * horizon)
    n2 = min(CALIBRATION_PERSONS_LARGE, sc.population.size)
    t2 = timed(n2)
    marginal = (t2 - t1) / (runs * (n2 - n1) * horizon)
    # Noise can make the difference small or negative on a busy machine: never below the
    # larger run's average cost halved.
    return max(marginal, 0.5 * t2 / (runs * n2 * horizon))


def announce(work: Workload, sc: Any) -> str | None:
    """The estimate line when ``work`` is expected to take over a minute, else None."""
    if not may_take_a_minute(work) and not os.environ.get(ENV_COST):
        return None
    seconds = estimate_seconds(work, measure_cost(sc))
    return format_estimate(work, seconds) if seconds >= ANNOUNCE_AFTER_S else None
