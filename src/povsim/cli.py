"""Command line: parse, call the API, print. No model logic here."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from . import __version__

EXIT_BAD_INPUT = 2


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _set_threads(threads: int | None) -> None:
    if threads is None:
        return
    import numba

    if not 1 <= threads <= numba.config.NUMBA_NUM_THREADS:
        _fail(f"--threads: must be between 1 and {numba.config.NUMBA_NUM_THREADS}; got {threads}")
    numba.set_num_threads(threads)


class _LazyProgress:
    """A progress bar that appears only once a run has taken more than ``delay`` seconds."""

    def __init__(self, description: str, enabled: bool, delay: float = 1.5):
        self.description, self.enabled, self.delay = description, enabled, delay
        self.start = time.perf_counter()
        self.bar = None
        self.task = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.perf_counter() - self.start < self.delay or done >= total:
                return
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress,
                                       TimeRemainingColumn)
            self.bar = Progress("[progress.description]{task.description}", BarColumn(),
                                MofNCompleteColumn(), TimeRemainingColumn(), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.description, total=total)
        self.bar.update(self.task, completed=done)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="povsim")
def main() -> None:
    """povsim: health inequalities by deprivation in England, simulated person by person."""


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "output", type=click.Path(file_okay=False, path_type=Path),
              help="Output directory [default: outputs/<scenario name>].")
@click.option("--seed", type=click.IntRange(min=0), help="Random seed (overrides the file's).")
@click.option("--size", type=click.IntRange(min=1), help="Simulated persons at the start.")
@click.option("--replicates", type=click.IntRange(1, 1000), default=1, show_default=True,
              help="Runs with seeds seed, seed+1, ...: means with 95% Monte Carlo intervals.")
@click.option("--threads", type=int, help="Numba threads (results do not depend on it).")
@click.option("--no-figures", is_flag=True, help="Skip the PNG figures.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or table.")
def run(scenario: Path, output: Path | None, seed: int | None, size: int | None,
        replicates: int, threads: int | None, no_figures: bool, quiet: bool) -> None:
    """Run SCENARIO (YAML) and write tables, figures, a summary and report.html."""
    from .scenario import ScenarioError, load_scenario

    _set_threads(threads)
    overrides: dict[str, int] = {}
    if seed is not None:
        overrides["seed"] = seed
    if size is not None:
        overrides["population.size"] = size
    try:
        sc = load_scenario(scenario, overrides)
    except ScenarioError as e:
        _fail(str(e))
    from .api import run as api_run
    from .outputs import write_outputs

    progress = _LazyProgress(f"simulating {sc.name}", enabled=not quiet)
    try:
        results = api_run(sc, replicates=replicates, progress=progress)
    finally:
        progress.close()
    out = output or Path("outputs") / sc.name
    try:
        write_outputs(results, out, figures=not no_figures)
    except OSError as e:
        _fail(f"{out}: cannot write outputs: {e.strerror or e}", code=1)
    if not quiet:
        _print_table(results)
        _print_arm_headlines(results)
    m = results.manifest
    click.echo(f"wrote {out}/ ({m['simulated_person_years']:,} person-years in "
               f"{m['seconds']:.1f} s)")


def _print_table(results) -> None:
    from rich.console import Console
    from rich.table import Table

    f = results.frame
    first, last = int(f.year.min()), int(f.year.max())
    console = Console()
    for sex in ("male", "female"):
        t = Table(title=f"{results.scenario['name']}: {sex}s, years at birth",
                  title_justify="left")
        t.add_column("IMD quintile")
        for m in ("LE", "HLE"):
            for yr in sorted({first, last}):
                t.add_column(f"{m} {yr}", justify="right")
        rows = [("1", "Q1 most deprived"), ("2", "Q2"), ("3", "Q3"), ("4", "Q4"),
                ("5", "Q5 least deprived"), ("all", "England")]
        for q, label in rows:
            vals = [results.value(m, yr, sex, q, arm=f.arm.iloc[0])
                    for m in ("le0", "hle0") for yr in sorted({first, last})]
            t.add_row(label, *[f"{v:.1f}" for v in vals])
        for suffix, label in (("gap", "gap Q5-Q1"), ("sii", "SII")):
            vals = [results.value(f"{m}_{suffix}", yr, sex, "all", arm=f.arm.iloc[0])
                    for m in ("le0", "hle0") for yr in sorted({first, last})]
            t.add_row(label, *[f"{v:.1f}" for v in vals])
        console.print(t)


def _print_arm_headlines(results) -> None:
    from .outputs import arm_headlines
    from .report import one_line

    heads = arm_headlines(results)
    if heads:
        h = next(iter(heads.values()))
        click.echo(f"arms against baseline ({h['year']}; totals {h['period'][0]}-"
                   f"{h['period'][1]}, England):")
    for arm, h in heads.items():
        click.echo("  " + one_line(arm, h))


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
def validate(scenario: Path) -> None:
    """Check SCENARIO without running it."""
    from .scenario import ScenarioError, load_scenario

    try:
        sc = load_scenario(scenario)
    except ScenarioError as e:
        _fail(str(e))
    click.echo(f"{scenario}: ok (scenario '{sc.name}', {sc.population.size:,} persons, "
               f"{sc.population.horizon} years from {sc.population.start_year})")


@main.command()
@click.option("--size", type=click.IntRange(min=1000), default=500_000, show_default=True,
              help="Simulated persons for the check runs.")
@click.option("--years", type=click.IntRange(1, 10), default=3, show_default=True,
              help="Simulated years averaged (ONS figures are 3-year averages).")
@click.option("--seed", type=click.IntRange(min=0), default=20190101, show_default=True)
@click.option("--rounds", type=click.IntRange(0, 10), default=2, show_default=True,
              help="Simulate-and-correct rounds after the analytic fit.")
@click.option("--dry-run", is_flag=True, help="Report the fit without writing fitted.yaml.")
def calibrate(size: int, years: int, seed: int, rounds: int, dry_run: bool) -> None:
    """Fit the baseline to ONS 2017-19 and write calibration/fitted.yaml with a fit report."""
    from .calibrate import calibrate as fit
    from .calibrate import write_fitted

    fitted, report = fit(size=size, years=years, seed=seed, rounds=rounds,
                         log=lambda s: click.echo(s, err=True))
    cols = ["measure", "sex", "group", "target", "model", "error", "tolerance", "within", "tag"]
    click.echo(report[cols].to_string(index=False))
    if not dry_run:
        path = write_fitted(fitted, report, size, years, seed)
        click.echo(f"wrote {path}")


@main.command()
def parameters() -> None:
    """List the parameters a scenario may override, with defaults and ranges."""
    from .parameters import parameter_space

    for path, spec in parameter_space().items():
        rng = f"[{spec['min']}, {spec['max']}]"
        click.echo(f"{path:40s} {str(spec['default']):>10s}  {rng:18s} {spec['unit']}")


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--method", type=click.Choice(["sobol", "morris", "psa"]), default="sobol",
              show_default=True, help="Sobol indices, Morris screening or PSA with CEACs.")
@click.option("-n", "n", type=click.IntRange(min=2), default=512, show_default=True,
              help="Sobol: base samples N (runs N(2D+2)); Morris: trajectories (runs "
                   "N(D+1)); PSA: draws.")
@click.option("-o", "--output", "output", type=click.Path(file_okay=False, path_type=Path),
              help="Output directory [default: outputs/<scenario>-sensitivity-<method>].")
@click.option("--seed", type=click.IntRange(min=0), help="Random seed (overrides the file's).")
@click.option("--size", type=click.IntRange(min=1), help="Simulated persons at the start.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Local worker processes (results do not depend on it).")
@click.option("--scheduler", help="Address of a running Dask scheduler (tcp://host:8786).")
@click.option("--second-order/--no-second-order", default=True, show_default=True,
              help="Sobol: also S2 (N(2D+2) runs instead of N(D+2)).")
@click.option("--levels", type=click.IntRange(min=2), default=4, show_default=True,
              help="Morris: grid levels.")
@click.option("--resamples", type=click.IntRange(min=10), default=1000, show_default=True,
              help="Bootstrap resamples for confidence intervals.")
@click.option("--no-figures", is_flag=True, help="Skip the PNG figures.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or table.")
def sensitivity(scenario: Path, method: str, n: int, output: Path | None, seed: int | None,
                size: int | None, workers: int, scheduler: str | None, second_order: bool,
                levels: int, resamples: int, no_figures: bool, quiet: bool) -> None:
    """Sensitivity analysis of SCENARIO's `uncertainty:` inputs (checkpointed; re-run the
    same command to resume)."""
    from .scenario import ScenarioError, load_scenario

    overrides: dict[str, int] = {}
    if seed is not None:
        overrides["seed"] = seed
    if size is not None:
        overrides["population.size"] = size
    try:
        sc = load_scenario(scenario, overrides)
    except ScenarioError as e:
        _fail(str(e))
    if not sc.uncertainty:
        _fail(f"{scenario}: uncertainty: required for povsim sensitivity; allowed a mapping of "
              f"input path to distribution (see README, Sensitivity analysis)")
    if not sc.arms:
        _fail(f"{scenario}: arms: povsim sensitivity needs at least one arm to compare with "
              f"the baseline")
    from .sensitivity import make_design, run_sensitivity, write_sensitivity
    from .sweep import SweepError, dask_client

    notes = make_design(method, list(sc.uncertainty), n, sc.seed, second_order, levels).notes
    for note in notes:
        click.echo(f"warning: {note}", err=True)
    out = output or Path("outputs") / f"{sc.name}-sensitivity-{method}"
    progress = _LazyProgress(f"{method} sweep of {sc.name}", enabled=not quiet, delay=0.5)
    client = None
    try:
        if scheduler:
            client = dask_client(scheduler)
        res = run_sensitivity(sc, method, n, out, workers=workers, client=client,
                              second_order=second_order, levels=levels, resamples=resamples,
                              progress=progress)
    except SweepError as e:
        progress.close()
        _fail(str(e))
    finally:
        progress.close()
        if client is not None:
            client.close()
    try:
        write_sensitivity(res, out, figures=not no_figures)
    except OSError as e:
        _fail(f"{out}: cannot write outputs: {e.strerror or e}", code=1)
    m = res.manifest
    if not quiet:
        _print_sensitivity(res)
    resumed = (f", {m['batches_loaded_from_checkpoints']} batches from checkpoints"
               if m["batches_loaded_from_checkpoints"] else "")
    click.echo(f"wrote {out}/ ({m['rows']:,} runs, {m['batches_run']} batches in "
               f"{m['sweep_seconds']:.1f} s{resumed})")


def _print_sensitivity(res) -> None:
    """The three most influential inputs for a few headline outputs."""
    f = res.indices
    if f is not None and not f.empty:
        kind = "ST" if (f["index"] == "ST").any() else "mu_star"
        for out in dict.fromkeys(f.output):
            if not out.endswith(("hle0_gap_change", "healthy_years_gained", ".cost")):
                continue
            d = f[(f.output == out) & (f["index"] == kind)].sort_values("value",
                                                                        ascending=False)
            top = ", ".join(f"{p} {v:.2f}" for p, v in zip(d.parameter[:3], d.value[:3]))
            click.echo(f"{out}: top {kind}: {top}")
    if res.psa is not None:
        p = res.psa[res.psa.statistic == "p_gap_narrows"]
        for r in p.itertuples():
            click.echo(f"{r.arm}: probability the HLE gap narrows {r.value:.2f}")


if __name__ == "__main__":  # pragma: no cover
    main()
