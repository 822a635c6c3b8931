"""Public API: scenario -> population -> simulate (every arm) -> Results."""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from povsim import __version__
from povsim.engine.blocks import BlockTally
from povsim.engine.simulate import RunContext, YearHook, prepare, simulate
from povsim.inputs.parameters import ModelParams
from povsim.inputs.unit_costs import load_unit_costs
from povsim.measures.attribution import decompose
from povsim.measures.by_age import by_age_frame
from povsim.measures.contrast import (
    arm_contrasts,
    compare_arms,
    loop_dependence,
    pool_replicates,
)
from povsim.measures.economics import EconomicSettings
from povsim.measures.precision import attach, within_run
from povsim.measures.results import Results, tidy
from povsim.model.area import add_per_100k, area_params, real_population, resolve_size
from povsim.model.population import Population
from povsim.model.tables import CellTables, national_mx
from povsim.policy.dynamics import Loops, Stocks
from povsim.policy.interventions import Programme, quintile_population

if TYPE_CHECKING:
    from povsim.inputs.schema import Intervention, Scenario


def fallback_mx(mp: ModelParams) -> np.ndarray:
    """National rates (male, female, all) used where a group has nobody at some age."""
    nm = national_mx(mp)
    return np.vstack([nm, nm.mean(axis=0)])


def simulate_arm(
    mp: ModelParams,
    size: int,
    horizon: int,
    seed: int,
    start_year: int,
    arm: str = "baseline",
    births: bool = True,
    hooks: list[YearHook] | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[pd.DataFrame, np.ndarray, float]:
    """One baseline-style run: tidy frame, raw tallies (horizon, cells, stats) and the real
    persons each simulated person stands for."""
    tables, pop = prepare(mp, size, horizon, seed, births)
    tallies = simulate(mp, tables, pop, horizon, seed, hooks=hooks, progress=progress)
    weight = float(pop.weight[0])
    frame = tidy(tallies, start_year, arm, weight, fallback_mx(mp))
    return frame, tallies, weight


def simulate_frame(
    mp: ModelParams, size: int, years: int, seed: int, start_year: int = 2019
) -> pd.DataFrame:
    """Baseline tidy frame for ``years`` years (used by calibration)."""
    return simulate_arm(mp, size, years, seed, start_year)[0]


# Set-up reused across calls in one process (a warm notebook or service answering what-ifs on
# the same area): the cell tables and the fitted starting population depend only on the model
# parameters, the size, horizon, seed and births, so a second call with the same ones copies
# them instead of rebuilding (0.3-0.5 s at 300,000 persons). Populations above
# PREPARED_MAX_SLOTS are never kept (a full-scale England holds GBs). One entry: the last set-up.
PREPARED_MAX_SLOTS = 2_000_000
_PREPARED: dict[tuple, tuple[tuple, CellTables, Population]] = {}


def _params_key(mp: ModelParams) -> tuple:
    """Everything in ``mp``, so that no input the set-up reads can be missed when a field is
    added: plain values as JSON, arrays by digest, calibration tables (shared read-only
    DataFrames) by identity (returned too, so they stay alive while their ids are keys)."""
    plain, frames, arrays = {}, [], []
    for f in fields(mp):
        v = getattr(mp, f.name)
        if isinstance(v, pd.DataFrame):
            frames.append(v)
        elif isinstance(v, np.ndarray):
            arrays.append((f.name, v.shape, hashlib.sha256(v.tobytes()).hexdigest()))
        else:
            plain[f.name] = v
    text = json.dumps(plain, sort_keys=True, default=repr)
    return (text, tuple(arrays), *(id(x) for x in frames)), tuple(frames)


def prepared(
    mp: ModelParams, size: int, horizon: int, seed: int, births: bool
) -> tuple[CellTables, Population, bool]:
    """:func:`povsim.engine.simulate.prepare`, or its result of an earlier call in this process
    with the same inputs: (tables, starting population, shared). When ``shared`` the
    population is the cached one: callers copy it before simulating (tables are never
    modified by a run)."""
    pkey, frames = _params_key(mp)
    key = (size, horizon, seed, births, pkey)
    hit = _PREPARED.get(key)
    if hit is not None:
        return hit[1], hit[2], True
    tables, pop = prepare(mp, size, horizon, seed, births)
    _PREPARED.clear()
    if pop.size <= PREPARED_MAX_SLOTS:
        _PREPARED[key] = (frames, tables, pop)  # frames pinned: their ids stay unique
        return tables, pop, True
    return tables, pop, False


# The baseline arm of recent calls, for the same reason: a strategy team exploring options
# changes the arms, never the baseline, so a second call with the same set-up (the key of
# `prepared`), start year and feedback-loop settings reads the baseline's frame, tallies and
# person-id block tallies instead of simulating it again (the baseline has no interventions,
# so nothing else enters it; `tests/test_performance.py` checks the reused baseline equals a
# fresh one bit for bit). Kept only with a cached population; two entries (`povsim run`
# reruns every arm with the loops off).
_BASELINES: dict[tuple, tuple[tuple, pd.DataFrame, np.ndarray, np.ndarray]] = {}
_BASELINES_KEPT = 2


def _baseline_key(
    mp: ModelParams, size: int, horizon: int, seed: int, births: bool, sc: Scenario
) -> tuple[tuple, tuple]:
    pkey, frames = _params_key(mp)
    fb = sc.feedbacks.model_dump_json()
    return (size, horizon, seed, births, sc.population.start_year, fb, pkey), frames


class ArmHook:
    """Before each year: advance the feedback loops, then apply the arm's interventions."""

    def __init__(self, programme: Programme, loops: Loops):
        self.programme, self.loops = programme, loops

    def __call__(self, t: int, pop: Population, tables: CellTables, ctx: RunContext) -> None:
        last = ctx.tallies[t - 1] if t > 0 else None
        engagement = np.zeros(5)
        if t > 0 and self.programme.has_community:
            engagement = self.programme.engagement(t - 1, quintile_population(pop))
        year = self.programme.start_year + t
        unmet, uptake = self.loops.before_year(
            t, last, self.programme.capacity_investment(year), engagement
        )
        ctx.unmet_mult_q[:] = unmet
        self.programme.uptake_mult_q = uptake
        self.programme.apply(t, pop, tables)


def _loop_rows(stocks: Stocks, years: np.ndarray, arm: str) -> pd.DataFrame:
    rows = []
    for name in ("demand", "capacity", "access_ratio"):
        rows.append(
            pd.DataFrame(
                {
                    "year": years,
                    "sex": "all",
                    "quintile": "all",
                    "measure": name,
                    "value": getattr(stocks, name),
                }
            )
        )
    for name in ("trust", "uptake_mult", "unmet_mult"):
        v = getattr(stocks, name)
        for q in range(5):
            rows.append(
                pd.DataFrame(
                    {
                        "year": years,
                        "sex": "all",
                        "quintile": str(q + 1),
                        "measure": name,
                        "value": v[:, q],
                    }
                )
            )
    out = pd.concat(rows, ignore_index=True).dropna(subset=["value"])
    out.insert(0, "arm", arm)
    out["se"] = 0.0
    return out


@dataclass
class ArmRuns:
    """Every arm of one seed: tidy frames, raw tallies and the programmes that ran (their
    records hold participants and costs per intervention)."""

    frame: pd.DataFrame
    tallies: dict[str, np.ndarray]
    programmes: dict[str, Programme]
    weight: float  # real persons per simulated person
    population_q: np.ndarray  # real persons by quintile at the start (5,)
    decomposition: pd.DataFrame | None = None
    # Each arm's tallies by person-id block (H, k, N_CELL, 3), for within-run intervals.
    blocks: dict[str, np.ndarray] | None = None
    # Arms read from an earlier call in this process instead of simulated (the baseline).
    reused: tuple[str, ...] = ()


def simulate_arms(
    sc: Scenario,
    mp: ModelParams,
    seed: int,
    arms: dict[str, list[Intervention]] | None = None,
    progress: Callable[[int], None] | None = None,
    decomposition: bool = False,
    phase: Callable[[str], None] | None = None,
    within: bool = False,
) -> ArmRuns:
    """Run the baseline arm and ``arms`` (default: the scenario's) with one seed.
    ``within``: also record tallies by person-id block (:mod:`povsim.engine.blocks`).

    Every arm, the baseline arm with its feedback loops included, runs on a copy of the same
    starting population with the same cell tables and the same draws, so differences between
    arms are their effects.
    """
    say = phase or (lambda text: None)
    spec = sc.population
    h = spec.horizon
    say(f"building the population ({spec.size:,} persons, seed {seed}) and cell tables")
    tables0, pop0, shared = prepared(mp, spec.size, h, seed, spec.births)
    weight = float(pop0.weight[0])
    population_q = quintile_population(pop0)
    if decomposition:
        say("decomposing the baseline gap by pathway (reruns of the first year)")
    decomp = decompose(tables0, pop0, mp) if decomposition else None
    years = spec.start_year + np.arange(h)
    all_arms: dict[str, list[Intervention]] = {"baseline": []}
    all_arms.update(arms if arms is not None else {k: v.interventions for k, v in sc.arms.items()})
    done = [0]

    def tick(t: int) -> None:
        if progress is not None:
            progress(done[0] * h + t)

    fb = sc.feedbacks
    loops_on = fb.capacity.enabled or fb.trust.enabled
    frames, tallies, programmes = [], {}, {}
    block_tallies: dict[str, np.ndarray] = {}
    reused: list[str] = []
    last = list(all_arms)[-1]
    bkey, bframes = _baseline_key(mp, spec.size, h, seed, spec.births, sc)
    for name, ivs in all_arms.items():
        prog = Programme.build(ivs, mp, seed, spec.start_year, h)
        memo = _BASELINES.get(bkey) if (name == "baseline" and shared) else None
        if memo is not None:
            say(f"arm baseline ({h} years, seed {seed}): reused from an earlier run")
            _, arm_frame, tal, blocks_out = memo
            _BASELINES[bkey] = _BASELINES.pop(bkey)  # most recently used last
            tal = tal.copy()
            if within:
                block_tallies[name] = blocks_out.copy()
            tick(h)
            done[0] += 1
            tallies[name] = tal
            programmes[name] = prog
            frames.append(arm_frame)
            reused.append(name)
            continue
        say(f"simulating arm {name} ({h} years, seed {seed})")
        loops = Loops(fb, mp, h)
        # The last arm may consume the starting population instead of a copy (unless it is
        # the process's cached one); an arm's copy is dropped once its tallies are read.
        pop = pop0 if (name == last and not shared) else pop0.copy()
        keep = name == "baseline" and shared
        # A baseline kept for later calls records its blocks whether or not this call asks.
        rec = BlockTally(h) if (within or keep) else None
        tal = simulate(
            mp, tables0, pop, h, seed, hooks=[ArmHook(prog, loops)], progress=tick, blocks=rec
        )
        if rec is not None and within:
            block_tallies[name] = rec.out
        done[0] += 1
        tallies[name] = tal
        programmes[name] = prog
        arm_frame = tidy(tal, spec.start_year, name, weight, fallback_mx(mp))
        if loops_on:
            arm_frame = pd.concat(
                [arm_frame, _loop_rows(loops.stocks, years, name)], ignore_index=True
            )
        frames.append(arm_frame)
        if keep and rec is not None:
            _BASELINES[bkey] = (bframes, arm_frame, tal.copy(), rec.out.copy())
            while len(_BASELINES) > _BASELINES_KEPT:
                del _BASELINES[next(iter(_BASELINES))]
    if progress is not None:
        progress(len(all_arms) * h)
    return ArmRuns(
        pd.concat(frames, ignore_index=True),
        tallies,
        programmes,
        weight,
        population_q,
        decomp,
        block_tallies if within else None,
        tuple(reused),
    )


def run_once(
    sc: Scenario,
    mp: ModelParams,
    seed: int,
    progress: Callable[[int], None] | None = None,
    decomposition: bool = False,
    phase: Callable[[str], None] | None = None,
) -> tuple[
    pd.DataFrame, pd.DataFrame, dict[str, np.ndarray], float, pd.DataFrame | None, tuple[str, ...]
]:
    """All arms of ``sc`` with one seed: (levels frame, comparison frame, tallies, weight,
    decomposition of the baseline gap or None, arms reused from an earlier call). The
    comparison frame carries within-run standard errors, 95% intervals and simulated event
    counts (:mod:`povsim.measures.precision`)."""
    runs = simulate_arms(
        sc,
        mp,
        seed,
        progress=progress,
        decomposition=decomposition,
        phase=phase,
        within=bool(sc.arms),
    )
    econ = EconomicSettings.from_params(mp)
    contrasts = arm_contrasts(runs.tallies, runs.programmes, econ)
    comparison = compare_arms(runs.frame, contrasts, econ.thresholds)
    if runs.blocks:
        within = within_run(
            runs.blocks,
            econ.utilities,
            runs.weight,
            fallback_mx(mp),
            econ.rate_health,
            sc.population.start_year,
        )
        comparison = attach(comparison, within)
    return runs.frame, comparison, runs.tallies, runs.weight, runs.decomposition, runs.reused


def _simulated(tallies: dict[str, np.ndarray], reused: tuple[str, ...], weight: float) -> float:
    """Simulated person-years of the arms this call ran (exposure tallies / weight)."""
    return sum(float(v[..., 0].sum()) for k, v in tallies.items() if k not in reused) / weight


def headline_half_width(comparison: pd.DataFrame) -> float:
    """The headline interval of a comparison for ``--precision``: the widest 95% half-width
    (years) over arms of the change in the HLE-at-birth gap (Q5 - Q1), sex all, final year;
    infinite when any is undefined or there is no arm."""
    c = comparison[(comparison.measure == "hle0_gap_change") & (comparison.sex == "all")]
    c = c[c.year == c.year.max()]
    half = (c.hi - c.lo) / 2
    if c.empty or not np.all(np.isfinite(half)):
        return float("inf")
    return float(half.max())


def loops_off(sc: Scenario) -> Scenario:
    """The same scenario with both feedback loops switched off."""
    fb = sc.feedbacks
    off = fb.model_copy(
        update={
            "capacity": fb.capacity.model_copy(update={"enabled": False}),
            "trust": fb.trust.model_copy(update={"enabled": False}),
        }
    )
    return sc.model_copy(update={"feedbacks": off})


def run(
    scenario: str | Path | Scenario,
    *,
    seed: int | None = None,
    size: int | str | None = None,
    replicates: int = 1,
    progress: Callable[[int, int], None] | None = None,
    decomposition: bool = False,
    loop_check: bool = False,
    phase: Callable[[str], None] | None = None,
    precision: float | None = None,
) -> Results:
    """Run a scenario (a YAML path or a loaded :class:`Scenario`) and return its Results.

    ``seed`` and ``size`` override the scenario's (``size="full"``: the area's real
    population, one simulated person per real person; ``decomposition`` and ``loop_check``
    are then skipped, see ``manifest["full_scale"]``). With ``replicates`` > 1 the scenario is run
    with seeds seed, seed+1, ... and values are means with between-replicate standard errors
    and 95% intervals. ``progress(done, total)`` counts simulated years over all runs;
    ``phase(text)`` is told each phase (population, decomposition, each arm, reruns).
    ``decomposition`` adds the split of the baseline gap by pathway (``povsim run`` does).
    ``loop_check`` (``povsim run`` does) reruns every arm with the feedback loops off, on the
    first seed, and reports how much of each arm's gain the loops (all of whose parameters
    are assumptions) account for (``Results.loop_dependence``). The same scenario and seed
    give identical numbers whatever the thread count. ``precision`` (years): stop adding
    replicates (``replicates`` is then the cap) once the headline interval, the 95%
    half-width of the HLE-at-birth gap change (sex all, final year, widest over arms;
    :func:`headline_half_width`), is narrower; the first run's is within-run.
    """
    from povsim.inputs.loader import load_scenario
    from povsim.inputs.schema import FULL_SIZE, Scenario

    overrides: dict[str, int | str] = {}
    if seed is not None:
        overrides["seed"] = seed
    if size is not None:
        overrides["population.size"] = size
    if isinstance(scenario, Scenario):
        sc = scenario
        if seed is not None:
            sc = sc.model_copy(update={"seed": seed})
        if size is not None:
            sc = sc.model_copy(
                update={"population": sc.population.model_copy(update={"size": size})}
            )
    else:
        sc = load_scenario(scenario, overrides)
    # Size `full`: the area's real population, one simulated person per real person. At that
    # scale the decomposition (which needs per-person arrays of the whole population beside
    # it) and the loops-off rerun (a second set of arms) are skipped to keep memory and time
    # within one machine; the manifest says so.
    full = sc.population.size == FULL_SIZE
    sc = resolve_size(sc)
    skipped = [n for n, on in (("decomposition", decomposition), ("loop_check", loop_check)) if on]
    if full:
        decomposition = loop_check = False
    if replicates < 1:
        raise ValueError("replicates must be at least 1")
    t0 = time.perf_counter()
    if phase is not None:
        phase(f"reading the calibration of {sc.population.label()}")
    mp = area_params(sc)
    load_unit_costs()  # a bad unit-cost table stops the run before anything is simulated
    h = sc.population.horizon
    runs_per = len(sc.arms) + 1
    fb = sc.feedbacks
    check = loop_check and bool(sc.arms) and (fb.capacity.enabled or fb.trust.enabled)
    total = (replicates + int(check)) * runs_per * h
    levels, comps, person_years = [], [], 0.0
    decomp: pd.DataFrame | None = None
    tallies: dict[str, np.ndarray] = {}
    reached: float | None = None
    reused_arms: set[str] = set()
    for r in range(replicates):
        cb = (lambda done, r=r: progress(r * runs_per * h + done, total)) if progress else None
        if phase is not None and replicates > 1:
            phase(f"replicate {r + 1} of {replicates}")
        frame, comp, tal, weight, dec, reused = run_once(
            sc, mp, sc.seed + r, cb, decomposition=decomposition and r == 0, phase=phase
        )
        levels.append(frame)
        comps.append(comp)
        person_years += _simulated(tal, reused, weight)
        reused_arms.update(reused)
        if r == 0:
            tallies, decomp = tal, dec
        if precision is not None:
            pooled = comps[0] if len(comps) == 1 else pool_replicates(comps, keep_se=False)
            reached = headline_half_width(pooled)
            if reached < precision:
                break
    replicates = len(comps)  # fewer than asked when --precision was reached
    total = (replicates + int(check)) * runs_per * h
    dependence = None
    if check:
        off_cb = (
            (lambda done: progress(replicates * runs_per * h + done, total)) if progress else None
        )
        if phase is not None:
            phase("feedback-loop check: every arm again with the loops off")
        _, comp_off, tal_off, weight_off, _, reused_off = run_once(
            loops_off(sc), mp, sc.seed, off_cb, phase=phase
        )
        person_years += _simulated(tal_off, reused_off, weight_off)
        reused_arms.update(reused_off)
        dependence = loop_dependence(comps[0], comp_off)
    elapsed = time.perf_counter() - t0
    frame = pool_replicates(levels, keep_se=True)[
        ["arm", "year", "sex", "quintile", "measure", "value", "se"]
    ]
    # One replicate: the within-run intervals; more: between-replicate t intervals.
    comparison = comps[0] if replicates == 1 else pool_replicates(comps, keep_se=False)
    real_total = real_population(mp)
    comparison = add_per_100k(comparison, real_total)
    manifest = {
        "povsim_version": __version__,
        "scenario": sc.name,
        "seed": sc.seed,
        "replicates": replicates,
        "precision": (
            None
            if precision is None
            else {
                "target_years": precision,
                "reached_years": reached,
                "met": bool(reached is not None and reached < precision),
            }
        ),
        "size": sc.population.size,
        "horizon": h,
        "start_year": sc.population.start_year,
        "arms": ["baseline", *sc.arms],
        "area": sc.population.area,
        "area_name": sc.population.label(),
        "real_population": round(real_total),
        "real_persons_per_simulated_person": real_total / sc.population.size,
        "python": platform.python_version(),
        "seconds": round(elapsed, 3),
        "simulated_person_years": int(person_years),
        "person_years_per_second": round(person_years / elapsed) if elapsed > 0 else None,
    }
    if full:
        manifest["full_scale"] = {"skipped": skipped}
    if reused_arms:  # not simulated by this call (simulated_person_years leaves them out)
        manifest["reused_from_earlier_call"] = sorted(reused_arms)
    return Results(
        frame=frame,
        scenario=sc.model_dump(mode="json"),
        manifest=manifest,
        tallies=tallies,
        comparison=comparison,
        decomposition=decomp,
        loop_dependence=dependence,
        by_age=by_age_frame(tallies, sc.population.start_year),
    )
