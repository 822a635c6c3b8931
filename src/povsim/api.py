"""The Python API: one function per command, each returning a small result object.

``povsim.run``, ``povsim.compare``, ``povsim.sensitivity`` and ``povsim.calibrate`` take a
file path or an already-loaded scenario / ``compare`` question and the command line's options
(``size``, ``seed``, ``replicates``, ``threads``, ...). Their results hold every table the
command computes and add:

- ``.to_frame()``: the main table (pandas);
- ``.plot()``: the command's figures as matplotlib Figures, by name (never shown);
- ``.write(folder)``: the files the command writes, atomically, never replacing a folder
  povsim did not write;
- a readable ``repr``.

The command line (``cli.py``) calls these same functions, so a notebook and ``povsim run``
give the same numbers from the same code. This layer sits between ``reporting`` (which it
uses to write and draw) and ``cli``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from povsim.inputs.errors import ScenarioError
from povsim.inputs.investment import Investment, load_investment
from povsim.inputs.loader import load_scenario
from povsim.inputs.schema import Scenario
from povsim.measures.results import Results
from povsim.reporting.files import check_output_folder
from povsim.studies.compare import InvestmentResults, compare_strategies
from povsim.studies.places_compare import PlacesResults, compare_places
from povsim.studies.run import run as run_study
from povsim.studies.sensitivity import SensitivityResult, run_sensitivity
from povsim.studies.sweep import dask_client

# Every writer and figure module below is imported where it is used, not here: `povsim run`
# needs none of the other commands' (matplotlib alone was a third of its start-up, scipy's
# optimisers for the calibration another tenth), and `--no-figures` needs no matplotlib.

Progress = Callable[[int, int], None]  # progress(done, total)
Phase = Callable[[str], None]  # phase("building the population")

__all__ = [
    "CalibrationResult",
    "CompareResult",
    "PlacesResult",
    "RunResult",
    "SensitivityAnalysis",
    "calibrate",
    "compare",
    "places",
    "run",
    "sensitivity",
]


# --- shared helpers ---------------------------------------------------------------------------


def _overrides(seed: int | None, size: int | None, **more: int | None) -> dict[str, int]:
    d = {"seed": seed, "population.size": size, **more}
    return {k: v for k, v in d.items() if v is not None}


def _scenario(scenario: str | Path | Scenario, seed: int | None, size: int | None) -> Scenario:
    """A path is loaded with ``seed``/``size`` as overrides (checked by the schema); a loaded
    :class:`Scenario` is copied with them."""
    if not isinstance(scenario, Scenario):
        return load_scenario(scenario, _overrides(seed, size))
    sc = scenario
    if seed is not None:
        sc = sc.model_copy(update={"seed": seed})
    if size is not None:
        sc = sc.model_copy(update={"population": sc.population.model_copy(update={"size": size})})
    return sc


def _investment(
    investment: str | Path | Investment,
    seed: int | None,
    size: int | None,
    replicates: int | None,
) -> Investment:
    if not isinstance(investment, Investment):
        return load_investment(investment, _overrides(seed, size, replicates=replicates))
    inv = investment.with_run_options(seed=seed, size=size)
    if replicates is not None:
        inv = inv.model_copy(update={"replicates": replicates})
    return inv


@contextmanager
def threads_set(threads: int | None) -> Iterator[None]:
    """Numba threads of this process for the duration (``None``: unchanged); results do not
    depend on it. Raises ValueError outside 1..NUMBA_NUM_THREADS."""
    if threads is None:
        yield
        return
    import numba

    most = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    if not 1 <= threads <= most:
        raise ValueError(f"threads: must be between 1 and {most}; got {threads}")
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _check_folder(out: Path, inputs: tuple[str, ...]) -> Path:
    """Refuse a folder povsim may not replace (a user's files, the working folder, a folder
    holding an input) before anything is written: raises OutputFolderError."""
    out = Path(out)
    check_output_folder(out, inputs, option="folder")
    return out


def _plot(draw: Callable[[Path], Any], which: str | None) -> Any:
    """Run a figure writer with figures kept instead of saved; every Figure by name, or the
    one named ``which``."""
    from povsim.reporting.figure_store import keeping_figures

    with tempfile.TemporaryDirectory(prefix="povsim-plot-") as tmp, keeping_figures() as kept:
        draw(Path(tmp) / "figures")
    if which is None:
        return kept
    if which not in kept:
        raise KeyError(f"no figure {which!r}; allowed {', '.join(kept) or 'none'}")
    return kept[which]


def _copy_into(cls: type, base: Any, **extra: Any) -> Any:
    """``base`` (a study's dataclass) as the API subclass ``cls``, sharing its tables."""
    return cls(**{f.name: getattr(base, f.name) for f in fields(base)}, **extra)


# --- run ----------------------------------------------------------------------------------------


@dataclass(repr=False)
class RunResult(Results):
    """The results of :func:`run`: the tidy table (``frame``: arm, year, sex, quintile,
    measure, value, se; expectancies in years, prevalences as shares), the arm contrast
    (``comparison``), the gap decomposition, ``by_age`` and the manifest."""

    inputs: tuple[str, ...] = ()  # files the scenario was read from or names (never replaced)

    def plot(self, which: str | None = None) -> Any:
        """The figures ``povsim run`` draws, as ``{name: matplotlib Figure}`` (names as the
        PNG files: ``expectancies``, ``inequality``, ``outcomes``, ``hle_change_by_quintile``,
        ...), or the one named ``which``. Never calls ``show``."""
        from povsim.reporting.run_figures import write_figures as write_run_figures

        return _plot(
            lambda d: write_run_figures(
                self.frame,
                d,
                comparison=self.comparison,
                decomposition=self.decomposition,
                area_name=str(self.manifest.get("area_name") or "England"),
            ),
            which,
        )

    def write(self, folder: str | Path, figures: bool = True, phase: Phase | None = None) -> Path:
        """Write what ``povsim run`` writes (results.csv/.parquet, comparison.csv,
        summary.json, manifest.json, figures/, report.html) into ``folder``, atomically; a
        folder povsim did not write is never replaced (OutputFolderError)."""
        from povsim.reporting.outputs import write_outputs

        out = _check_folder(Path(folder), self.inputs)
        return write_outputs(self, out, figures=figures, phase=phase)

    def __repr__(self) -> str:
        m = self.manifest
        arms = [a for a in m.get("arms", []) if a != "baseline"]
        first = m.get("start_year")
        last = first + m.get("horizon", 1) - 1 if first is not None else None
        return (
            f"<RunResult {m.get('scenario')!r}: {m.get('area_name', 'England')}, "
            f"{m.get('size', 0):,} simulated persons, {first}-{last}, "
            f"{m.get('replicates', 1)} replicate(s), arms: {', '.join(arms) or 'baseline only'}; "
            f"{len(self.frame):,} rows>"
        )


def run(
    scenario: str | Path | Scenario,
    *,
    seed: int | None = None,
    size: int | None = None,
    replicates: int = 1,
    threads: int | None = None,
    progress: Progress | None = None,
    phase: Phase | None = None,
    decomposition: bool = False,
    loop_check: bool = False,
    precision: float | None = None,
) -> RunResult:
    """Run a scenario (a YAML path or a loaded :class:`Scenario`) and return its results.

    ``seed`` and ``size`` (simulated persons at the start) override the scenario's.
    ``replicates`` runs seeds seed, seed+1, ...: values are means with between-replicate
    standard errors. ``threads``: Numba threads for this call (numbers do not depend on it).
    ``progress(done, total)`` counts simulated person-model years over all runs;
    ``phase(text)`` is told each phase (population, each arm, reruns).
    ``decomposition`` adds the split of the baseline gap by pathway; ``loop_check`` reruns
    the arms with the feedback loops off (``povsim run`` does both). ``precision`` (years):
    add replicates (``replicates`` is then the cap) until the 95% half-width of the HLE gap
    change is below it. The same scenario and seed give the same numbers for any thread count.
    """
    sc = _scenario(scenario, seed, size)
    with threads_set(threads):
        res = run_study(
            sc,
            replicates=replicates,
            progress=progress,
            phase=phase,
            decomposition=decomposition,
            loop_check=loop_check,
            precision=precision,
        )
    return _copy_into(RunResult, res, inputs=sc.input_files())


# --- compare ------------------------------------------------------------------------------------


@dataclass(repr=False)
class CompareResult(InvestmentResults):
    """The results of :func:`compare` for a budget question: ``table`` (one row per
    strategy, ranked: QALYs, discounted cost in GBP, GBP per QALY, equity changes, with
    _lo/_hi 95% intervals), ``allocations`` (GBP a year by lever and quintile),
    ``by_quintile``, ``ede``, ``frontier``."""

    inputs: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """The ranked table, one row per strategy (``comparison.csv``)."""
        return self.table.copy()

    def plot(self, which: str | None = None) -> Any:
        """The figures ``povsim compare`` draws (``impact_plane``, ``frontier``,
        ``benefit_by_quintile``, ``ede_by_aversion``, ``allocations``) as matplotlib Figures
        by name, or the one named ``which``."""
        from povsim.reporting.compare_figures import write_investment_figures

        return _plot(lambda d: write_investment_figures(self, d), which)

    def write(self, folder: str | Path, figures: bool = True) -> Path:
        """Write what ``povsim compare`` writes into ``folder``, atomically (never replacing a
        folder povsim did not write)."""
        from povsim.reporting.compare_report import write_investment_outputs

        out = _check_folder(Path(folder), self.inputs)
        return write_investment_outputs(self, out, figures=figures)

    def __repr__(self) -> str:
        t = self.table
        best = t.strategy.iloc[0] if len(t) else "none"
        return (
            f"<CompareResult {self.investment.name!r}: {len(t)} strategies ranked, best "
            f"{best!r}; £{self.investment.budget.per_year:,.0f} a year for "
            f"{self.investment.budget.years} years>"
        )


@dataclass(repr=False)
class PlacesResult(PlacesResults):
    """The results of :func:`compare` for a ``places:`` question: ``table`` (national, one
    row per place strategy, ranked), ``by_place`` (GBP a year and per head, QALYs by place)
    and ``allocations``."""

    inputs: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """The national ranked table (``comparison.csv``)."""
        return self.table.copy()

    def plot(self, which: str | None = None) -> Any:
        """``{"places": Figure}``: GBP per head a year in each place under the best strategy."""
        from povsim.reporting.places_report import figure as places_figure

        def draw(d: Path) -> None:
            d.mkdir(parents=True, exist_ok=True)
            places_figure(self, d / "places.png")

        return _plot(draw, which)

    def write(self, folder: str | Path, figures: bool = True) -> Path:
        """Write what ``povsim compare`` writes for places into ``folder``, atomically."""
        from povsim.reporting.places_report import write_places_outputs

        out = _check_folder(Path(folder), self.inputs)
        return write_places_outputs(self, out, figures=figures)

    def __repr__(self) -> str:
        t = self.table
        best = t.strategy.iloc[0] if len(t) else "none"
        return (
            f"<PlacesResult {self.investment.name!r}: {len(self.investment.places or [])} "
            f"places, {len(t)} strategies ranked, best {best!r}>"
        )


def compare(
    investment: str | Path | Investment,
    *,
    seed: int | None = None,
    size: int | None = None,
    replicates: int | None = None,
    threads: int | None = None,
    workers: int = 2,
    scheduler: str | None = None,
    checkpoints: str | Path | None = None,
    progress: Progress | None = None,
    phase: Phase | None = None,
) -> CompareResult | PlacesResult:
    """Compare ways of spending a budget (a ``povsim compare`` YAML path or a loaded
    :class:`Investment`): strategies ranked on the file's objective, with 95% Monte Carlo
    intervals over ``replicates`` seeds.

    ``seed``, ``size`` (simulated persons) and ``replicates`` override the file's;
    ``threads``: Numba threads. A ``places:`` question runs its places on ``workers`` local
    processes (or the Dask ``scheduler``), checkpointed in ``checkpoints`` (None: not
    checkpointed) so an interrupted call resumes; it returns a :class:`PlacesResult`.
    """
    inv = _investment(investment, seed, size, replicates)
    files = inv.input_files()
    with threads_set(threads):
        if inv.places is None:
            res = compare_strategies(inv, progress=progress, phase=phase)
            return _copy_into(CompareResult, res, inputs=files)
        client = dask_client(scheduler) if scheduler else None
        try:
            places = compare_places(
                inv,
                workers=workers,
                client=client,
                checkpoint_dir=None if checkpoints is None else Path(checkpoints),
                progress=progress,
                phase=phase,
            )
        finally:
            if client is not None:
                client.close()
    return _copy_into(PlacesResult, places, inputs=files)


# --- sensitivity --------------------------------------------------------------------------------


@dataclass(repr=False)
class SensitivityAnalysis(SensitivityResult):
    """The results of :func:`sensitivity`: ``indices`` (Sobol S1/ST/S2 or Morris mu*/sigma,
    with bootstrap intervals), ``convergence``, ``psa`` and ``ceac`` (PSA), and
    ``samples()`` (one row per model run)."""

    inputs: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """Sobol/Morris: the indices (output, parameter, index, value, conf); PSA: the
        summary (arm, statistic, value)."""
        frame = self.indices if self.indices is not None else self.psa
        return pd.DataFrame() if frame is None else frame.copy()

    def plot(self, which: str | None = None) -> Any:
        """The figures ``povsim sensitivity`` draws (``indices``, ``convergence``, ``ceac``)
        as matplotlib Figures by name, or the one named ``which``."""
        from povsim.reporting.sensitivity_figures import write_figures as write_sensitivity_figures

        return _plot(lambda d: write_sensitivity_figures(self, d), which)

    def write(self, folder: str | Path, figures: bool = True) -> Path:
        """Write what ``povsim sensitivity`` writes into ``folder``, atomically (and remove
        the sweep's checkpoints beside it)."""
        from povsim.reporting.sensitivity_outputs import write_sensitivity

        out = _check_folder(Path(folder), self.inputs)
        return write_sensitivity(self, out, figures=figures)

    def __repr__(self) -> str:
        m = self.manifest
        return (
            f"<SensitivityAnalysis {m.get('scenario')!r}: {m.get('method')} n={m.get('n')}, "
            f"{m.get('rows', 0):,} runs of {len(m.get('parameters', {}))} uncertain inputs>"
        )


def sensitivity(
    scenario: str | Path | Scenario,
    method: str = "sobol",
    n: int = 512,
    *,
    seed: int | None = None,
    size: int | None = None,
    threads: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    second_order: bool = True,
    levels: int = 4,
    resamples: int = 1000,
    output: str | Path | None = None,
    progress: Progress | None = None,
    phase: Phase | None = None,
) -> SensitivityAnalysis:
    """Sensitivity analysis of a scenario's ``uncertainty:`` inputs.

    ``method``: ``sobol`` (``n`` base samples; N(2D+2) runs, N(D+2) without
    ``second_order``), ``morris`` (``n`` trajectories on ``levels`` levels) or ``psa`` (``n``
    draws with CEACs). ``resamples``: bootstrap resamples for intervals. Batches are
    checkpointed beside ``output`` (the folder the results will be written to), so calling
    again after an interrupt resumes; with ``output=None`` they go to a temporary folder
    removed at the end. ``threads`` only with one in-process worker (workers use one each).
    """
    sc = _scenario(scenario, seed, size)
    if not sc.uncertainty:
        raise ScenarioError(
            f"{sc.source_path or sc.name}: uncertainty: required for povsim sensitivity; "
            "allowed a mapping of input path to distribution (see README, Sensitivity analysis)"
        )
    if not sc.arms:
        raise ScenarioError(
            f"{sc.source_path or sc.name}: arms: povsim sensitivity needs at least one arm to "
            "compare with the baseline"
        )
    if threads is not None and (workers > 1 or scheduler):
        raise ValueError("threads: only with workers=1 and no scheduler (workers use 1 each)")
    tmp = None
    if output is None:
        tmp = tempfile.TemporaryDirectory(prefix="povsim-sensitivity-")
        output = Path(tmp.name) / "out"
    client = dask_client(scheduler) if scheduler else None
    try:
        with threads_set(threads):
            res = run_sensitivity(
                sc,
                method,
                n,
                Path(output),
                workers=workers,
                client=client,
                second_order=second_order,
                levels=levels,
                resamples=resamples,
                progress=progress,
                phase=phase,
            )
    finally:
        if client is not None:
            client.close()
        if tmp is not None:
            tmp.cleanup()
    return _copy_into(SensitivityAnalysis, res, inputs=sc.input_files())


# --- calibrate ----------------------------------------------------------------------------------


@dataclass(repr=False)
class CalibrationResult:
    """The results of :func:`calibrate`: the fitted values, the fit report (target, model and
    error in years by measure, sex and group) and, nationally, the mortality residual by age
    band; locally, how each quintile's residual was fitted (``status``)."""

    fitted: dict[str, Any]
    report: pd.DataFrame
    size: int
    years: int
    seed: int
    residuals: pd.DataFrame | None = None  # national: residual by sex, age band, quintile
    status: pd.DataFrame | None = None  # local: what each quintile residual was fitted to
    scenario: Scenario | None = None  # local: the scenario whose area was fitted
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The fit report: target, model and error (years) by measure, sex and group."""
        return self.report.copy()

    def plot(self, which: str | None = None) -> Any:
        """``{"fit": Figure}``: model against target for each row of the fit report."""
        from povsim.reporting.figure_store import plt

        r = self.report.dropna(subset=["target", "model"])
        fig, ax = plt.subplots(figsize=(5.5, 5.5))
        ax.scatter(r.target, r.model, s=14, color="#1f6f8b")
        lo = float(min(r.target.min(), r.model.min())) if len(r) else 0.0
        hi = float(max(r.target.max(), r.model.max())) if len(r) else 1.0
        ax.plot([lo, hi], [lo, hi], color="#888888", lw=1, label="model = target")
        ax.set_xlabel("target (years)")
        ax.set_ylabel("model (years)")
        ax.set_title("Calibration: model against published targets")
        ax.legend(loc="upper left")
        fig.tight_layout()
        plt.close(fig)
        kept = {"fit": fig}
        return kept if which is None else kept[which]

    def write(self, path: str | Path | None = None) -> Path:
        """Write the fit where ``povsim calibrate`` does: ``calibration/fitted.yaml``
        (national; ``path`` a folder instead) or the scenario's ``calibration.fitted``
        (local; ``path`` a file instead), atomically. Returns the file written."""
        from povsim.studies import calibrate as national_fit
        from povsim.studies import calibrate_local as local_fit

        if self.scenario is None:
            return national_fit.write_fitted(
                self.fitted,
                self.report,
                self.size,
                self.years,
                self.seed,
                directory=None if path is None else Path(path),
                residuals=self.residuals,
            )
        from povsim.inputs.parameters import load_params
        from povsim.model.area import composition_ref, local_targets_ref

        targets_ref, fitted_path = local_targets_ref(self.scenario)
        assert targets_ref is not None and self.status is not None  # set by calibrate()
        return local_fit.write_local_fitted(
            fitted_path if path is None else path,
            self.fitted,
            self.report,
            self.status,
            targets_ref,
            composition_ref(self.scenario.population),
            load_params(self.scenario.parameters).fitted.get("fitted_on"),
            self.size,
            self.years,
            self.seed,
        )

    def __repr__(self) -> str:
        worst = float(self.report["error"].abs().max()) if "error" in self.report else float("nan")
        where = "national" if self.scenario is None else self.scenario.population.label()
        return (
            f"<CalibrationResult {where}: {len(self.report)} targets, largest |error| "
            f"{worst:.3f} years; {self.size:,} persons x {self.years} years, seed {self.seed}>"
        )


def calibrate(
    scenario: str | Path | Scenario | None = None,
    *,
    size: int | None = None,
    years: int = 3,
    seed: int = 20190101,
    rounds: int | None = None,
    threads: int | None = None,
    log: Callable[[str], None] | None = None,
) -> CalibrationResult:
    """Fit the baseline to ONS 2017-19 (``scenario=None``), or a local area's quintile
    residuals to its targets (a scenario with ``calibration.targets`` or a named place with
    shipped targets). Nothing is written until ``.write()``.

    ``size``: simulated persons of the check runs (default 500,000 nationally, the scenario's
    size locally); ``years``: simulated years averaged (ONS figures are 3-year averages);
    ``rounds``: simulate-and-correct rounds after the analytic fit (default 2 nationally, 1
    locally); ``log(text)`` is told each round's largest error (years).
    """
    say = log or (lambda s: None)
    with threads_set(threads):
        if scenario is None:
            from dataclasses import replace

            from povsim.inputs.parameters import load_params
            from povsim.studies import calibrate as national_fit

            size = 500_000 if size is None else size
            fitted, report = national_fit.calibrate(
                size=size,
                years=years,
                seed=seed,
                rounds=2 if rounds is None else rounds,
                log=say,
            )
            residuals = national_fit.residual_by_age(
                replace(load_params(), fitted=fitted), size, seed
            )
            return CalibrationResult(fitted, report, size, years, seed, residuals=residuals)
        return _calibrate_local(scenario, size, years, seed, rounds, say)


def _calibrate_local(
    scenario: str | Path | Scenario,
    size: int | None,
    years: int,
    seed: int,
    rounds: int | None,
    say: Callable[[str], None],
) -> CalibrationResult:
    from povsim.inputs.parameters import load_params
    from povsim.inputs.place_targets import place_targets
    from povsim.inputs.targets import SHIPPED, read_local_targets
    from povsim.model.area import area_composition, local_targets_ref
    from povsim.studies import calibrate_local as local_fit

    sc = _scenario(scenario, None, None)
    targets_ref, _ = local_targets_ref(sc)
    if targets_ref is None:
        raise ScenarioError(
            f"{sc.source_path or sc.name}: calibration.targets: required for `povsim "
            "calibrate --scenario` (no published targets shipped for this area); got nothing; "
            "allowed a CSV of local le0/hle0 by sex and quintile"
        )
    mp = load_params(sc.parameters)
    comp = area_composition(sc.population, mp.life)
    notes = []
    if targets_ref.startswith(SHIPPED):
        targets = place_targets(sc.population.area)
        notes.append(f"targets: published figures shipped for {sc.population.label()}")
        say(notes[-1])
    else:
        targets = read_local_targets(targets_ref)
    size = sc.population.size if size is None else size
    local, report = local_fit.calibrate_local(
        mp,
        comp,
        targets,
        size=size,
        years=years,
        seed=seed,
        rounds=1 if rounds is None else rounds,
        log=say,
    )
    status = local_fit.fitted_status(targets)
    return CalibrationResult(
        local, report, size, years, seed, status=status, scenario=sc, notes=notes
    )


# --- places -------------------------------------------------------------------------------------


def places(search: str | None = None, level: str | None = None) -> pd.DataFrame:
    """The real places a scenario may name as ``population.area`` (``povsim places``): one row
    each with ``code``, ``level``, ``name``, mid-2019 ``population`` (persons), ``q1``..``q5``
    (share of it in each national IMD2019 quintile, 1 = most deprived) and ``targets`` (the
    published expectancies shipped for a local fit: le0, hle0, le0+hle0 or -). ``search``
    keeps codes starting with it or names containing it; ``level`` one of icb, sub_icb,
    single_tier_la, upper_tier_la, lower_tier_la. An empty table when nothing matches."""
    from povsim.inputs.place_targets import measures_of
    from povsim.inputs.places import quintile_mix, search_places

    rows = []
    for p in search_places(search, level):
        mix = quintile_mix(p)
        rows.append(
            {
                "code": p.code,
                "level": p.level,
                "name": p.label,
                "population": p.population,
                **{f"q{q + 1}": float(mix[q]) for q in range(5)},
                "targets": measures_of(p.code),
            }
        )
    columns = ["code", "level", "name", "population", "q1", "q2", "q3", "q4", "q5", "targets"]
    return pd.DataFrame(rows, columns=columns)
