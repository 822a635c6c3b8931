"""One sample of a sweep -> a few scalar outputs, fast, with per-worker caches.

A sweep runs the same scenario thousands of times with different values of its uncertain
inputs. :class:`ScenarioModel` is what a worker holds: it builds the starting population once
(per value of the few parameters that change it, :data:`POPULATION_PARAMS`), refits cell
tables only when model parameters change, reuses the baseline arm when only intervention
fields change, reuses an arm's (and the baseline's) simulation when only inputs that cannot
change it differ (the cost fields of a block without a budget, whose delivery is repriced;
utilities and discount rates, :data:`OUTPUT_ONLY_PARAMS`; see :func:`simulation_columns`),
and reads the outputs from the arm contrast
(:class:`povsim.measures.contrast.ArmContrast`, the one `povsim run` and `povsim compare` read)
instead of building the tidy tables of :func:`povsim.run`. The numbers are the same as
:func:`povsim.studies.run.run_once` gives for the same inputs (``tests/test_sensitivity.py``
checks it).

Every sample runs with the scenario's seed, so each person gets the same random draws in
every sample and every arm (common random numbers): differences between samples come from
the parameters, not from Monte Carlo noise.

Outputs per arm (arm minus baseline of the same sample), in :data:`OUTPUTS`:

* ``hle0_gap_change``, ``le0_gap_change``: change in the gap in healthy life expectancy / life
  expectancy at birth, quintile 5 minus quintile 1, persons, in the final simulated year
  (years; negative = the gap narrows), as ``comparison.csv`` reports it;
* ``hle0_sii_change``: change in the slope index of inequality of HLE at birth, final year;
* ``healthy_years_gained``: extra person-years in good health over the horizon (real persons);
* ``cost``: £, undiscounted, in the outputs' price year (``PRICE_YEAR``), summed over the horizon;
* ``cost_per_healthy_year``: cost / healthy_years_gained (NaN when no years are gained);
* ``healthy_years_gained_disc``, ``cost_disc``: the same discounted to the start year at the
  model's ``discount_rate_health`` / ``discount_rate_costs`` (Green Book 1.5% / 3.5%).

* ``qalys_gained_disc``: QALYs gained over the horizon, discounted at ``discount_rate_health``
  (utilities by age, sex and health state, :mod:`povsim.measures.economics`);
* ``cost_per_qaly``: ``cost_disc`` / ``qalys_gained_disc`` (£ per QALY; NaN when none gained).

Costs by perspective (:mod:`povsim.measures.costs`), discounted at ``discount_rate_costs``, £:
* ``costs_avoided_<p>_disc`` and ``net_cost_<p>_disc`` (programme cost borne by p minus costs
  avoided) for p in nhs, social_care, local_government, exchequer, society;
* ``earnings_gained_disc``: earnings of the extra persons in work (productivity, apart).
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from povsim.measures.contrast import ArmContrast, ArmLevels, Inequality
from povsim.measures.costs import PERSPECTIVES
from povsim.measures.economics import EconomicSettings

OUTPUTS = (
    "hle0_gap_change",
    "hle0_sii_change",
    "le0_gap_change",
    "healthy_years_gained",
    "cost",
    "cost_per_healthy_year",
    "healthy_years_gained_disc",
    "cost_disc",
    "qalys_gained_disc",
    "cost_per_qaly",
    *(f"costs_avoided_{p}_disc" for p in PERSPECTIVES),
    *(f"net_cost_{p}_disc" for p in PERSPECTIVES),
    "earnings_gained_disc",
)
# Scalar parameters that change the starting population before its normalisers are fitted
# (build_population reads the sex ratio, and the employment table, which depends on the
# other two). tests/test_sensitivity.py checks that no other parameter does.
POPULATION_PARAMS = (
    "sex_ratio_at_birth",
    "child_household_worker",
    "working_age_max",
    "ltc_age_shift_years",
)
# Parameter paths that reach the cell tables only through effect vectors (build_cell_tables
# reads mortality relative risks and job loss itself; these only via effect_vector).
EFFECT_ONLY = ("parameters.rr.poor_health.", "parameters.rr.ltc_onset.")
# Parameters read only by the economics after a simulation (EconomicSettings.from_params:
# utilities, discount rates, thresholds; nothing in model/, engine/ or policy/ reads them):
# rows differing only in these reuse the baseline and arm runs, tables and fits, and value
# them afresh. tests/test_performance.py checks that they change no simulation.
OUTPUT_ONLY_PARAMS = (
    "discount_rate_costs",
    "discount_rate_health",
    "qaly_thresholds",
    "utility_intercept",
    "utility_male",
    "utility_age",
    "utility_age2",
    "utility_min_age",
    "utility_ratio_not_good",
)
# Intervention fields that only price a delivery (povsim.policy.delivery.year_cost).
COST_FIELDS = ("cost.per_participant", "cost.fixed_per_year", "cost.diminishing_returns")
# Arm simulations (tallies and records) a worker keeps for repricing: enough for a Saltelli
# block of up to this many inputs to reuse A's run at its last AB row (~4 MB each at 30 years).
ARM_SIMS = 12


def output_only(target: tuple) -> bool:
    """Whether an input's target is a parameter of :data:`OUTPUT_ONLY_PARAMS`."""
    return target[0] == "parameters" and target[1] in OUTPUT_ONLY_PARAMS


def simulation_columns(sc: Any, arm: str | None, resolved: list[list[tuple]]) -> list[int]:
    """Columns of a row (uncertain inputs, targets from :func:`povsim.inputs.uncertainty.targets`)
    that can change the simulation of ``arm`` (None: the baseline): the model inputs
    (parameters, loops) but those read only after it (:data:`OUTPUT_ONLY_PARAMS`), and the
    arm's own intervention fields except the cost fields of a block whose cost cannot change
    whom it reaches (no budget: :func:`povsim.policy.delivery.cost_is_simulation_neutral`).
    Two rows equal in these columns simulate the arm identically; only its cost and how its
    outcomes are valued may differ."""
    from povsim.policy.delivery import cost_is_simulation_neutral

    ivs = sc.arms[arm].interventions if arm is not None else []
    out = []
    for j, tgts in enumerate(resolved):
        for t in tgts:
            if t[0] != "arms":
                relevant = not output_only(t)
            elif t[1] != arm:  # another arm's block: not simulated in this one
                relevant = False
            else:
                priced = ".".join(t[4:]) in COST_FIELDS
                relevant = not (priced and cost_is_simulation_neutral(ivs[t[3]]))
            if relevant:
                out.append(j)
                break
    return out


def arm_outputs(arm: Inequality, base: Inequality, contrast: ArmContrast) -> dict[str, float]:
    """Outputs of one arm against the baseline (units in the module docstring): the
    final-year inequality of both arms and the arm contrast's totals."""
    out: dict[str, float] = {
        "hle0_gap_change": arm.hle_gap - base.hle_gap,
        "hle0_sii_change": arm.hle_sii - base.hle_sii,
        "le0_gap_change": arm.le_gap - base.le_gap,
        **contrast.totals(),
    }
    hy, cost = out["healthy_years_gained"], out["cost"]
    with np.errstate(divide="ignore", invalid="ignore"):
        cph = cost / hy if hy != 0 else float("nan")
    out["cost_per_healthy_year"] = cph if np.isfinite(cph) else float("nan")
    q = out["qalys_gained_disc"]
    out["cost_per_qaly"] = out["cost_disc"] / q if q != 0 else float("nan")
    if contrast.costs is not None:
        out.update(contrast.costs.totals())
    return out


def _lru_put(cache: OrderedDict, key: Any, value: Any, size: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


@dataclass
class ScenarioModel:
    """A scenario with uncertain inputs, evaluated sample by sample (picklable; the caches
    are built in each worker on first use and never sent back).

    ``token`` identifies the model so a long-lived worker (Dask) keeps one set of caches per
    sweep. Rows of ``evaluate`` are parameter values in the order of ``sc.uncertainty``.
    """

    scenario: Any  # a validated povsim.inputs.schema.Scenario with an uncertainty block
    token: str
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "token": self.token}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.scenario, self.token, self._cache = state["scenario"], state["token"], {}

    @property
    def arms(self) -> list[str]:
        return list(self.scenario.arms)

    @property
    def output_names(self) -> list[str]:
        return [f"{arm}.{o}" for arm in self.arms for o in OUTPUTS]

    def _setup(self) -> dict[str, Any]:
        if not self._cache:
            from povsim.inputs import uncertainty as U
            from povsim.model.area import area_params

            sc = self.scenario
            paths = list(sc.uncertainty)
            resolved: list[list[tuple]] = []
            for p in paths:
                tgts = U.targets(sc, p)
                assert tgts is not None, p  # resolved when the scenario was checked on load
                resolved.append(tgts)
            params = [j for j, p in enumerate(paths) if p.startswith("parameters.")]
            # parameters that reach the simulation (tables, populations, fits)
            fits = [j for j in params if not any(output_only(t) for t in resolved[j])]
            self._cache.update(
                data=U.scenario_data(sc),
                resolved=resolved,
                # baseline arm: every input but intervention fields (parameters, loops)
                model_cols=[j for j, p in enumerate(paths) if U.is_model_path(p)],
                # each arm's simulation: model inputs the simulation reads, its own fields but
                # costs that only price it; the baseline's: those model inputs
                sim_cols={a: simulation_columns(sc, a, resolved) for a in sc.arms},
                base_cols=simulation_columns(sc, None, resolved),
                # the row's own parameters (and economic settings)
                param_cols=params,
                # normalisers: model parameters the simulation reads
                fit_cols=fits,
                # cell tables: those other than the odds ratios of poor health and the
                # relative risks of LTC onset, which enter the tables only as effect vectors
                table_cols=[j for j in fits if not paths[j].startswith(EFFECT_ONLY)],
                raw_tables=OrderedDict(),
                pops=OrderedDict(),
                fitted=OrderedDict(),
                params=OrderedDict(),
                baselines=OrderedDict(),
                base_sims=OrderedDict(),
                arm_sims=OrderedDict(),
                counts={"baseline": 0, "baseline_reused": 0, "arm": 0, "arm_reused": 0},
                lock=threading.Lock(),
                area=area_params(sc),
            )
        return self._cache

    @property
    def simulations(self) -> dict[str, int]:
        """Simulations this worker ran so far (``baseline``, ``arm``), and runs taken from an
        earlier row's identical simulation, priced and valued at this row's inputs
        (``baseline_reused``, ``arm_reused``)."""
        return dict(self._setup()["counts"])

    def evaluate(self, rows: np.ndarray) -> np.ndarray:
        """Outputs (n, len(output_names)) for parameter rows (n, D)."""
        c = self._setup()
        with c["lock"]:  # caches are per process; Dask threads take turns
            return np.array([self._one(np.asarray(r, float)) for r in np.atleast_2d(rows)])

    def _one(self, row: np.ndarray) -> np.ndarray:
        from povsim.engine.simulate import fit_smoking_age, simulate
        from povsim.inputs import uncertainty as U
        from povsim.inputs.parameters import load_params
        from povsim.model.population import (
            build_population,
            fit_household_income,
            fit_to_population,
        )
        from povsim.model.tables import build_cell_tables, effect_vector
        from povsim.policy.dynamics import Loops
        from povsim.policy.interventions import Programme
        from povsim.studies.run import ArmHook, fallback_mx

        c = self._cache
        sc = U.point(c["data"], c["resolved"], row)
        spec = sc.population
        h, seed = spec.horizon, sc.seed
        # Key of everything but intervention fields: model parameters and loop settings.
        model_key = tuple(float(row[j]) for j in c["model_cols"])
        param_key = tuple(float(row[j]) for j in c["param_cols"])
        fit_key = tuple(float(row[j]) for j in c["fit_cols"])
        table_key = tuple(float(row[j]) for j in c["table_cols"])
        # The parameters depend on the sample's parameter values only (read-only once built),
        # so rows that change only interventions or loops share them.
        params = c["params"].get(param_key)
        if params is None:
            mp = load_params(sc.parameters)
            if c["area"].composition is not None:  # a local area: its people and local fit
                mp = dataclasses.replace(
                    mp,
                    composition=c["area"].composition,
                    fitted={
                        **mp.fitted,
                        **{k: v for k, v in c["area"].fitted.items() if k == "local"},
                    },
                )
            # utilities and discount rates; national rates where a group has nobody
            params = (mp, EconomicSettings.from_params(mp), fallback_mx(mp))
            _lru_put(c["params"], param_key, params, 4)
        mp, econ, fallback = params
        fitted = c["fitted"].get(fit_key)
        if fitted is None:
            raw_tables = c["raw_tables"].get(table_key)
            if raw_tables is None:
                raw_tables = build_cell_tables(mp)
                _lru_put(c["raw_tables"], table_key, raw_tables, 4)
            # A shallow copy with this sample's effect vectors: the fit below assigns new
            # normaliser arrays and never writes into the shared ones.
            tables = dataclasses.replace(
                raw_tables,
                rr_ltc=effect_vector(mp, "ltc_onset"),
                or_health=effect_vector(mp, "poor_health"),
            )
            pop_key = (
                spec.size,
                h,
                seed,
                spec.births,
                *(repr(mp.value(p)) for p in POPULATION_PARAMS),
            )
            raw = c["pops"].get(pop_key)
            if raw is None:
                raw = build_population(mp, tables, spec.size, h, seed, spec.births)
                _lru_put(c["pops"], pop_key, raw, 2)
            pop0 = raw.copy()
            # Sweeps refit (``calibration: {refit: true}`` semantics): every sample's
            # normalisers are fitted with its own relative risks, so the baseline stays on
            # the ONS targets and a relative risk moves only who, within a cell, dies.
            fit_household_income(tables, pop0, mp)
            fit_to_population(tables, pop0, mp)
            fit_smoking_age(tables, pop0, mp)
            fitted = (tables, pop0)
            _lru_put(c["fitted"], fit_key, fitted, 4)
        tables, pop0 = fitted
        weight = float(pop0.weight[0])

        def run_arm(ivs: list, kind: str) -> tuple[np.ndarray, Programme, Inequality]:
            prog = Programme.build(ivs, mp, seed, spec.start_year, h)
            loops = Loops(sc.feedbacks, mp, h)
            tal = simulate(mp, tables, pop0.copy(), h, seed, hooks=[ArmHook(prog, loops)])
            c["counts"][kind] += 1
            return tal, prog, Inequality.final_year(tal, weight, fallback)

        # The baseline's reduced levels are kept (a few hundred kB each); its tallies only
        # while output-only parameters may value the same run again.
        base = c["baselines"].get(model_key)
        if base is None:
            base_key = tuple(float(row[j]) for j in c["base_cols"])
            sim = c["base_sims"].get(base_key)
            if sim is None:
                tal, prog, ineq = run_arm([], "baseline")
                if len(c["base_cols"]) < len(c["model_cols"]):
                    _lru_put(c["base_sims"], base_key, (tal, ineq), ARM_SIMS)
            else:
                c["base_sims"].move_to_end(base_key)
                tal, ineq = sim
                prog = Programme.build([], mp, seed, spec.start_year, h)
                c["counts"]["baseline_reused"] += 1
            base = ArmLevels.of(tal, prog, econ.utilities, econ.unit_costs), ineq
            _lru_put(c["baselines"], model_key, base, 256)
        out: list[float] = []
        for name, arm in sc.arms.items():
            cols = c["sim_cols"][name]
            key = (name, *(float(row[j]) for j in cols))
            sim = c["arm_sims"].get(key)
            if sim is None:
                tal, prog, ineq = run_arm(arm.interventions, "arm")
                if len(cols) < len(row):  # some input may only reprice this arm: keep it
                    records = [a.record for a in prog.items]
                    _lru_put(c["arm_sims"], key, (tal, records, ineq), ARM_SIMS)
            else:
                # An earlier row simulated this arm identically: its tallies and deliveries,
                # priced at this row's cost fields by the simulation's own formula (and
                # valued below with this row's economic settings).
                c["arm_sims"].move_to_end(key)
                tal, records, ineq = sim
                prog = Programme.build(arm.interventions, mp, seed, spec.start_year, h)
                for a, r in zip(prog.items, records, strict=True):
                    a.record = r.repriced(a.spec.cost)
                c["counts"]["arm_reused"] += 1
            levels = ArmLevels.of(tal, prog, econ.utilities, econ.unit_costs)
            o = arm_outputs(ineq, base[1], ArmContrast.between(levels, base[0], econ))
            out += [o[k] for k in OUTPUTS]
        return np.array(out)
