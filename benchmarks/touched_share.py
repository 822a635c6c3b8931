"""How much of an arm's simulation differs from its baseline's: households and person-years.

    python benchmarks/touched_share.py                                  # the Sobol benchmark's arm
    python benchmarks/touched_share.py scenarios/warm_homes_core20.yaml core20 --size 50000

Runs the baseline (no interventions) and the arm in full, both with the scenario's feedback
loops, on copies of one population, and records every person's state after each year's
interventions (alive, age, smoking, binary factors, work, LTC, income potential, lagged income
exposure, transfers and the two intervention multipliers). A household is *touched* from the
first year any member's state differs between the two runs: by an intervention reaching a
member, by a member's income pooled with one reached, or by the capacity loop moving a draw
across its threshold (the loop's unmet-need multiplier is the one input of the year step that
differs between arms for everybody; `engine/simulate.py`). Before that year the household's
path in the arm is the baseline's exactly (common random numbers).

The share of person-years in touched households is what an exact incremental arm would have
to step again (once as the arm, once as the baseline to take its contribution out of the
tallies); issue 17 goal 2 needs fewer simulated person-years per Saltelli block, and this says
how many fewer an arm could cost. A design measurement: nothing in povsim uses it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numba
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from povsim.engine.simulate import prepare, simulate  # noqa: E402
from povsim.inputs.loader import load_scenario  # noqa: E402
from povsim.inputs.parameters import load_params  # noqa: E402
from povsim.policy.dynamics import Loops  # noqa: E402
from povsim.policy.interventions import Programme  # noqa: E402
from povsim.studies.run import ArmHook  # noqa: E402

STATE = (
    "alive",
    "age",
    "smoke",
    "bins",
    "work",
    "ltc",
    "zinc",
    "inc_exp",
    "transfer",
    "mort_mult",
    "ltc_mult",
)


class _Snapshots:
    """A year hook keeping every person's state after that year's interventions."""

    def __init__(self) -> None:
        self.years: list[dict[str, np.ndarray]] = []

    def __call__(self, t, pop, tables, ctx) -> None:
        self.years.append({f: np.array(getattr(pop, f), copy=True) for f in STATE})


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per slot: any difference (NaN equal to NaN: the lagged exposure of a new person)."""
    d = a != b
    if a.dtype.kind == "f":
        d &= ~(np.isnan(a) & np.isnan(b))
    return d if d.ndim == 1 else d.any(axis=1)


def touched_share(scenario: Path, arm: str, size: int | None = None) -> dict:
    """Households ever touched, person-years in touched households (share of all slot-years),
    and the households newly touched each year."""
    sc = load_scenario(scenario, {"population.size": size} if size else None)
    spec = sc.population
    mp = load_params(sc.parameters)
    tables, pop0 = prepare(mp, spec.size, spec.horizon, sc.seed, spec.births)

    def run(interventions) -> tuple[_Snapshots, np.ndarray]:
        prog = Programme.build(interventions, mp, sc.seed, spec.start_year, spec.horizon)
        snaps = _Snapshots()
        hooks = [ArmHook(prog, Loops(sc.feedbacks, mp, spec.horizon)), snaps]
        tallies = simulate(mp, tables, pop0.copy(), spec.horizon, sc.seed, hooks=hooks)
        return snaps, tallies

    base, base_tallies = run([])
    alt, arm_tallies = run(sc.arms[arm].interventions)
    n, horizon = pop0.size, spec.horizon
    first = np.full(n, horizon, np.int64)  # first year a slot differs (horizon: never)
    for t in range(horizon):
        d = np.zeros(n, bool)
        for f in STATE:
            d |= _differs(alt.years[t][f], base.years[t][f])
        first[(first == horizon) & d] = t
    ptr = pop0.hh_ptr
    sizes = np.diff(ptr)
    hh_of = np.repeat(np.arange(len(sizes)), sizes)
    h_first = np.full(len(sizes), horizon, np.int64)
    np.minimum.at(h_first, hh_of, first)
    touched = h_first < horizon
    return {
        "scenario": str(scenario),
        "arm": arm,
        "slots": int(n),
        "households": int(len(sizes)),
        "years": int(horizon),
        "households_ever_touched": float(touched.mean()),
        "slot_years_in_touched_households": float(
            ((horizon - h_first) * sizes).sum() / (n * horizon)
        ),
        "households_newly_touched_by_year": np.bincount(
            h_first[touched], minlength=horizon
        ).tolist(),
        "tallies_differ": bool(not np.array_equal(arm_tallies, base_tallies)),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenario", nargs="?", type=Path, default=HERE / "sensitivity_10param.yaml")
    ap.add_argument("arm", nargs="?", default="core20")
    ap.add_argument("--size", type=int, help="persons at the start (default: the file's)")
    a = ap.parse_args(argv)
    numba.set_num_threads(1)
    r = touched_share(a.scenario, a.arm, a.size)
    print(
        f"{r['arm']} ({r['scenario']}): {r['slots']:,} slots, {r['households']:,} households, "
        f"{r['years']} years; households ever touched {r['households_ever_touched']:.2%}; "
        f"slot-years in touched households {r['slot_years_in_touched_households']:.2%}\n"
        f"households newly touched by year: {r['households_newly_touched_by_year']}"
    )
    return r


if __name__ == "__main__":
    main()
