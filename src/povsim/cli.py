"""Command line: parse, call the API, print. No model logic here."""

from __future__ import annotations

import dataclasses
import logging
import signal
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from povsim import __version__

log = logging.getLogger("povsim")

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # as a shell reports Ctrl-C
# Seconds before progress (bar, phases, plain lines) appears: a quick command prints only its
# result, and a bad input only its one-line error.
PROGRESS_DELAY = 1.5
# Command-line bounds: the same as the scenario schema's (population.size, seed), so a bad
# value is blamed on the option that gave it, not on the scenario file.
SIZE = click.IntRange(100, 20_000_000)


class SizeOrFull(click.ParamType):
    """``--size`` of `povsim run`: a size in SIZE's range, or `full` (the area's real
    population, one simulated person per real person)."""

    name = "INTEGER|full"
    min, max = SIZE.min, SIZE.max  # the integer range every command's --size shares

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if value == "full":
            return value
        return SIZE.convert(value, param, ctx)


SIZE_OR_FULL = SizeOrFull()
SEED = click.IntRange(0, 2**63 - 1)
# `run`'s --replicates (seeds seed, seed+1, ...) and `compare`'s (seeds per strategy) share one
# range, as the `compare` file's `replicates:` does.
REPLICATES = click.IntRange(1, 1000)


# --- options every command shares: one definition each, the same name, range and meaning ---


def output_option(default: str):
    """``-o/--output``: the output folder; ``default`` says what it is when not given."""
    return click.option(
        "-o",
        "--output",
        "output",
        type=click.Path(file_okay=False, path_type=Path),
        help=f"Output folder [default: {default}].",
    )


def seed_option(default: int | None = None, help: str = "Random seed (overrides the file's)."):
    """``--seed``: the random seed (``default`` for a command whose seed is its own)."""
    return click.option(
        "--seed", type=SEED, default=default, show_default=default is not None, help=help
    )


def size_option(help: str = "Simulated persons at the start (overrides the file's).", **kw):
    """``--size``: simulated persons at the start, within the scenario schema's range."""
    return click.option("--size", type=kw.pop("type", SIZE), help=help, **kw)


def replicates_option(help: str, default: int | None = None):
    """``--replicates``: independent seeds, for Monte Carlo intervals."""
    return click.option(
        "--replicates",
        type=REPLICATES,
        default=default,
        show_default=default is not None,
        help=help,
    )


threads_option = click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="Numba threads of this process (results do not depend on it).",
)
no_figures_option = click.option("--no-figures", is_flag=True, help="Skip the PNG figures.")
quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress bar or table.")


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _set_threads(threads: int | None) -> None:
    if threads is None:
        return
    import numba

    most = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    if not 1 <= threads <= most:
        _fail(f"--threads: must be between 1 and {most}; got {threads}")
    numba.set_num_threads(threads)


def _load(loader, path: Path, seed: int | None, size: int | str | None, **more: int | None):
    """Load a YAML file with the common CLI overrides; a bad file is one line and exit 2."""
    from povsim.inputs.errors import ScenarioError

    overrides = {"seed": seed, "population.size": size, **more}
    log.info("reading %s", path)
    try:
        with _deprecations(path):
            return loader(path, {k: v for k, v in overrides.items() if v is not None})
    except ScenarioError as e:
        _fail(str(e))


def _size_text(size: int | str) -> str:
    """A population size for messages: '200,000', or 'full (the area's real population)'."""
    return f"{size:,}" if isinstance(size, int) else f"{size} (the area's real population)"


@contextmanager
def _deprecations(path: Path):
    """A deprecated syntax in ``path`` is one line for the person who wrote the file
    (``warning: FILE: ...``), not Python's two-line warning pointing inside povsim; other
    warnings are passed on unchanged."""
    from povsim.inputs.errors import DeprecatedSyntax

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", DeprecatedSyntax)
        yield
    for w in seen:
        if issubclass(w.category, DeprecatedSyntax):
            click.echo(f"warning: {path}: {w.message}", err=True)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _check_output(out: Path, loaded) -> None:
    """Refuse, before any computation, an output folder povsim may not replace (a user's
    files, the working folder, a folder holding an input): one line, exit 2."""
    from povsim.reporting.files import OutputFolderError, check_output_folder

    try:
        check_output_folder(out, loaded.input_files())
    except OutputFolderError as e:
        _fail(str(e))


def _say_estimate(work, sc, quiet: bool) -> None:
    """Before a command expected to take over a minute: 'estimated 7 min (...)' on stderr
    (never with --quiet; studies/estimate.py)."""
    if quiet:
        return
    from povsim.studies.estimate import announce

    try:
        if not isinstance(work.persons, int):  # size `full`: the area's real population
            from povsim.model.area import resolve_size

            sc = resolve_size(sc)
            work = dataclasses.replace(work, persons=sc.population.size)
        line = announce(work, sc)
    except Exception as e:  # advisory only: the command itself reports any real problem
        log.debug("no run-time estimate: %s", e)
        return
    if line:
        click.echo(line, err=True)


# The raw arguments of this invocation (set by _Povsim.main), for "resume with: ..." lines.
_ARGV: list[str] = []


def _same_command() -> str:
    """The command as typed (re-running it resumes a checkpointed sweep)."""
    import shlex

    return shlex.join(["povsim", *_ARGV])


def _compute_and_write(label: str, quiet: bool, compute, write, out: Path, interrupted: Any = None):
    """Run ``compute(progress)`` behind a progress bar (with its phases), then
    ``write(result, progress)``: a bad local fit or output folder is one line and exit 2, an
    unwritable folder exit 1, Ctrl-C one line saying what finished (``interrupted(progress)``,
    default: nothing was written) and exit 130."""
    from povsim.inputs.errors import ScenarioError
    from povsim.reporting.files import OutputFolderError

    progress = _LazyProgress(label, enabled=not quiet)
    log.info("%s", label)
    started = time.perf_counter()
    try:
        try:
            result = compute(progress)
        except ScenarioError as e:  # a local calibration missing or fitted to other files
            progress.close()
            _fail(str(e))
        finally:
            progress.close()
        log.info("%s: done in %.1f s; writing %s", label, time.perf_counter() - started, out)
        progress.phase(f"writing {out}/")
        try:
            write(result, progress)
        except OutputFolderError as e:
            _fail(str(e))
        except OSError as e:
            _fail(f"{out}: cannot write outputs: {e.strerror or e}", code=1)
    except (KeyboardInterrupt, Exception) as e:  # not SystemExit: _fail's own exits pass
        if not _interrupted_by(e):
            raise
        progress.close()
        said = interrupted(progress) if interrupted is not None else None
        _fail(
            said
            or f"interrupted {progress.where()}: nothing was written ({out} not created or "
            f"left as it was); to start again: {_same_command()}",
            code=EXIT_INTERRUPTED,
        )
    return result


def _interrupted_by(e: BaseException | None) -> bool:
    """True if ``e`` is a KeyboardInterrupt (Ctrl-C, or SIGTERM through :func:`_interrupt`)
    or was raised because of or while handling one. Python 3.11 turns an exception raised
    while a class is created (``__set_name__``: an Enum built by a module imported lazily,
    as matplotlib's are when the figures are drawn) into a RuntimeError whose cause is the
    interrupt; seen in CI as a traceback after SIGTERM instead of the one-line message."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


class _LazyProgress:
    """A progress bar that appears only once a run has taken more than ``delay`` seconds; when
    stderr is not a terminal (a log file, a CI job) plain lines instead, one per step, at most
    one every ``every`` seconds and always the last."""

    def __init__(
        self, description: str, enabled: bool, delay: float | None = None, every: float = 1.0
    ):
        delay = PROGRESS_DELAY if delay is None else delay
        self.description, self.enabled, self.delay, self.every = description, enabled, delay, every
        self.start = time.perf_counter()
        self.bar: Any = None  # a rich Progress once shown
        self.task: Any = None
        self.plain = not _stderr_is_terminal()
        self.last_line: float | None = None  # when the last plain line was written
        self.done, self.total = 0, 0  # the last step reported (for an interrupt's message)
        self.current = ""  # the phase under way
        self.waiting: list[str] = []  # phases not printed yet (the first `delay` seconds)

    def phase(self, text: str) -> None:
        """A new phase: one plain line off a terminal, the bar's label on one. Like the bar,
        the lines start only once the command has taken ``delay`` seconds (then with the
        phases so far), so a quick command, or a bad input's one-line error, stays alone."""
        self.current = text
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(self.task, description=f"{self.description}: {text}")
        elif self.plain:
            self.waiting.append(text)
            self._flush_phases()

    def _flush_phases(self) -> None:
        if self.waiting and time.perf_counter() - self.start >= self.delay:
            for text in self.waiting:
                click.echo(f"{self.description}: {text}", err=True)
            self.waiting = []

    def where(self) -> str:
        """'during <phase> after 120/600 steps' for an interrupt's message."""
        parts = [f"during {self.current}"] if self.current else []
        if self.total:
            parts.append(f"after {self.done:,} of {self.total:,} steps")
        return " ".join(parts) or "before any step finished"

    def _line(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if self.last_line is None and (now - self.start < self.delay and done < total):
            return
        if done < total and self.last_line is not None and now - self.last_line < self.every:
            return
        self.last_line = now
        pct = 100 * done / total if total else 100.0
        spent = now - self.start
        eta = f", about {spent * (total - done) / done:.0f} s left" if 0 < done < total else ""
        click.echo(
            f"{self.description}: {done:,}/{total:,} ({pct:.0f}%, {spent:.0f} s{eta})",
            err=True,
        )

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        if not self.enabled:
            return
        if self.plain:
            self._flush_phases()
            self._line(done, total)
            return
        if self.bar is None:
            if time.perf_counter() - self.start < self.delay or done >= total:
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self.bar = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                transient=True,
            )
            self.bar.start()
            label = f"{self.description}: {self.current}" if self.current else self.description
            self.task = self.bar.add_task(label, total=total)
        self.bar.update(self.task, completed=done)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced by something without isatty
        return False


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM is handled like Ctrl-C: clean up, then stop


class _Povsim(click.Group):
    """The command group, with errors for people: a usage error is one line (`error: ...`,
    exit 2) instead of click's four, and SIGTERM, like Ctrl-C, stops the command after
    removing anything half-written (exit 130)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        previous = None
        _ARGV[:] = list(sys.argv[1:] if args is None else args)
        try:
            previous = signal.signal(signal.SIGTERM, _interrupt)
        except ValueError:  # not the main thread (e.g. inside a test runner's thread)
            pass
        try:
            code = super().main(
                args, prog_name or "povsim", complete_var, standalone_mode=False, **extra
            )
        except click.UsageError as e:
            where = f" (see `{e.ctx.command_path} --help`)" if e.ctx is not None else ""
            _fail(" ".join(e.format_message().split()) + where)
        except click.ClickException as e:
            _fail(" ".join(e.format_message().split()), code=e.exit_code)
        except (KeyboardInterrupt, click.Abort):
            _fail("interrupted; nothing half-written was left behind", code=EXIT_INTERRUPTED)
        except Exception as e:
            if not _interrupted_by(e):
                raise
            _fail("interrupted; nothing half-written was left behind", code=EXIT_INTERRUPTED)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


class _EchoHandler(logging.Handler):
    """Log records to the current stderr (looked up at each record, so a test runner's
    captured stream gets them too)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(self.format(record), err=True)


LOG_LEVELS = ("debug", "info", "warning", "error")


def _configure_logging(verbose: int, level: str | None) -> None:
    """The ``povsim`` logger: WARNING by default (output unchanged), INFO with -v (each
    phase), DEBUG with -vv; --log-level wins over -v."""
    if level is None:
        level = ("warning", "info", "debug")[min(verbose, 2)]
    for h in [h for h in log.handlers if isinstance(h, _EchoHandler)]:
        log.removeHandler(h)
    handler = _EchoHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(level.upper())


@click.group(cls=_Povsim, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="povsim")
@click.option("-v", "--verbose", count=True, help="Say what each phase does (-vv: debug).")
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    help="Logging level on stderr [default: warning; -v: info].",
)
def main(verbose: int, log_level: str | None) -> None:
    """povsim: health inequalities by deprivation in England, simulated person by person."""
    _configure_logging(verbose, log_level and log_level.lower())


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@output_option("outputs/<scenario name>")
@seed_option()
@size_option(
    help="Simulated persons at the start (overrides the file's); `full`: the area's real "
    "population, one simulated person per real person.",
    type=SIZE_OR_FULL,
)
@replicates_option(
    "Runs with seeds seed, seed+1, ...: means with 95% Monte Carlo intervals.", default=1
)
@click.option(
    "--precision",
    type=click.FloatRange(min=0.0, min_open=True),
    help="Add replicates (up to --replicates, or 20 if that is 1) until the 95% half-width "
    "of the HLE-at-birth gap change (years, widest over arms) is below this.",
)
@threads_option
@no_figures_option
@quiet_option
def run(
    scenario: Path,
    output: Path | None,
    seed: int | None,
    size: int | str | None,
    replicates: int,
    precision: float | None,
    threads: int | None,
    no_figures: bool,
    quiet: bool,
) -> None:
    """Run SCENARIO (YAML) and write tables, figures, a summary and report.html."""
    from povsim.inputs.loader import load_scenario

    _set_threads(threads)
    sc = _load(load_scenario, scenario, seed, size)
    from povsim import api

    out = output or Path("outputs") / sc.name
    _check_output(out, sc)
    from povsim.studies.estimate import Workload

    fb = sc.feedbacks
    loops = bool(sc.arms) and (fb.capacity.enabled or fb.trust.enabled)
    if precision is not None and replicates == 1:
        replicates = PRECISION_MAX_REPLICATES
    runs = (replicates + int(loops)) * (len(sc.arms) + 1)
    _say_estimate(Workload(runs, sc.population.size, sc.population.horizon), sc, quiet)
    results = _compute_and_write(
        f"simulating {sc.name}",
        quiet,
        lambda p: api.run(
            sc,
            replicates=replicates,
            progress=p,
            phase=p.phase,
            decomposition=True,
            loop_check=True,
            precision=precision,
        ),
        lambda r, p: r.write(out, figures=not no_figures, phase=p.phase),
        out,
    )
    if not quiet:
        _print_table(results)
        _print_arm_headlines(results)
    m = results.manifest
    pr = m.get("precision")
    if pr:
        click.echo(
            f"precision: HLE gap change 95% half-width {pr['reached_years']:.3f} years after "
            f"{m['replicates']} replicate(s); target {pr['target_years']:g} "
            + ("met" if pr["met"] else "NOT met (cap reached: raise --replicates or --size)")
        )
    click.echo(
        f"wrote {out}/ ({m['simulated_person_years']:,} person-years in {m['seconds']:.1f} s)"
    )


# --precision without --replicates: at most this many replicates.
PRECISION_MAX_REPLICATES = 20


def _print_table(results) -> None:
    from rich.console import Console
    from rich.table import Table

    from povsim.reporting.summary import gap_ends

    f = results.frame
    first, last = int(f.year.min()), int(f.year.max())
    console = Console()
    area = str(results.manifest.get("area_name") or "England")
    for sex in ("male", "female"):
        t = Table(title=f"{results.scenario['name']}: {sex}s, years at birth", title_justify="left")
        t.add_column("IMD quintile")
        for m in ("LE", "HLE"):
            for yr in sorted({first, last}):
                t.add_column(f"{m} {yr}", justify="right")
        rows = [
            ("1", "Q1 most deprived"),
            ("2", "Q2"),
            ("3", "Q3"),
            ("4", "Q4"),
            ("5", "Q5 least deprived"),
            ("all", area),
        ]
        for q, label in rows:
            vals = [
                results.value(m, yr, sex, q, arm=f.arm.iloc[0])
                for m in ("le0", "hle0")
                for yr in sorted({first, last})
            ]
            t.add_row(label, *[f"{v:.1f}" for v in vals])
        lo, hi = gap_ends(f)  # an area with an empty end quintile: between those it has
        for suffix, label in (("gap", f"gap Q{hi}-Q{lo}"), ("sii", "SII")):
            vals = [
                results.value(f"{m}_{suffix}", yr, sex, "all", arm=f.arm.iloc[0])
                for m in ("le0", "hle0")
                for yr in sorted({first, last})
            ]
            t.add_row(label, *[f"{v:.1f}" for v in vals])
        console.print(t)


def _print_arm_headlines(results) -> None:
    from povsim.reporting.run_report import one_line
    from povsim.reporting.summary import arm_headlines, imprecise_figures

    heads = arm_headlines(results)
    m = results.manifest
    name, real = m.get("area_name", "England"), m.get("real_population")
    if heads:
        h = next(iter(heads.values()))
        click.echo(
            f"arms against baseline ({h['year']}; totals {h['period'][0]}-"
            f"{h['period'][1]}, {name}, real population {real:,}):"
        )
    for arm, h in heads.items():
        click.echo("  " + one_line(arm, h))
        click.echo("    " + real_scale_line(h, name))
    for arm, label, note in imprecise_figures(heads):
        click.echo(f"  {arm}: {label} {note}")
    if heads and int(m.get("replicates", 1)) == 1:
        click.echo("  (95% intervals: within-run, from 16 blocks of simulated persons)")


def real_scale_line(h: dict, area_name: str) -> str:
    """'1,240 healthy life-years gained in <area>, £93m in all (£3.1m mean a year over
    2019-2048); per 100,000: ...': the yearly cost is the mean over the whole period (the
    programme may spend in only some of its years), so it says so."""
    from povsim.reporting.html import fmt_count

    def short_money(v: float) -> str:
        a = abs(v)
        text = (
            f"£{a / 1e9:,.2f}bn" if a >= 1e9 else f"£{a / 1e6:,.1f}m" if a >= 1e6 else f"£{a:,.0f}"
        )
        return ("-" if v < 0 else "") + text

    def get(d: dict | None, key: str):
        v = (d or {}).get(key)
        return v.get("value") if isinstance(v, dict) else v

    parts = []
    hy, cost, cpy = get(h, "healthy_years_gained"), get(h, "cost"), get(h, "cost_per_year")
    deaths, part = get(h, "deaths_averted"), get(h, "participants")
    if hy is not None:
        parts.append(f"{fmt_count(hy)} healthy life-years gained in {area_name}")
    if cost is not None:
        period = h.get("period") or ("?", "?")
        parts.append(
            f"{short_money(cost)} in all ({short_money(cpy)} mean a year over "
            f"{period[0]}-{period[1]})"
        )
    if deaths is not None:
        d = h.get("deaths_averted") or {}
        ci = (
            f" (95% {fmt_count(d['lo'])} to {fmt_count(d['hi'])})"
            if d.get("lo") is not None and d.get("hi") is not None
            else ""
        )
        parts.append(f"{fmt_count(deaths)} deaths averted{ci}")
    if part is not None:
        parts.append(f"{fmt_count(part)} participant-years")
    p = h.get("per_100k") or {}
    per = [
        f"{fmt_count(p[k])} {label}"
        for k, label in (
            ("healthy_years_gained", "healthy life-years"),
            ("participants", "participant-years"),
        )
        if p.get(k) is not None
    ]
    if p.get("cost") is not None:
        per.append(f"{short_money(p['cost'])}")
    return "; ".join(parts) + ("; per 100,000 residents: " + ", ".join(per) if per else "")


@main.command()
@click.argument("investment", type=click.Path(dir_okay=False, path_type=Path))
@output_option("outputs/<name>")
@seed_option()
@size_option()
@replicates_option("Seeds per strategy for Monte Carlo intervals (overrides the file's).")
@threads_option
@no_figures_option
@quiet_option
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="places: questions: local worker processes (one place per task).",
)
@click.option("--scheduler", "scheduler", help="places: questions: a Dask scheduler address.")
def compare(
    investment: Path,
    output: Path | None,
    seed: int | None,
    size: int | None,
    replicates: int | None,
    threads: int | None,
    no_figures: bool,
    quiet: bool,
    workers: int,
    scheduler: str | None,
) -> None:
    """Compare ways of spending a budget (INVESTMENT YAML): universal, proportionate,
    targeted, explicit splits and an optimised split, on efficiency and equity; with
    places:, one national budget across real places."""
    from povsim.inputs.investment import load_investment

    _set_threads(threads)
    inv = _load(load_investment, investment, seed, size, replicates=replicates)
    if inv.places is not None:
        _compare_places(inv, output, workers, scheduler, no_figures, quiet)
        return
    from povsim import api
    from povsim.reporting.compare_report import plain_summary

    out = output or Path("outputs") / inv.name
    _check_output(out, inv)

    def interrupted(p: _LazyProgress) -> str:
        return (
            f"interrupted {p.where()} (simulated arm-years): nothing was written ({out} not "
            f"created or left as it was); a budget comparison keeps no checkpoints, so the "
            f"same command starts again: {_same_command()}"
        )

    from povsim.studies.compare import simulated_runs
    from povsim.studies.estimate import Workload

    sc_inv = inv.scenario({})
    work = Workload(simulated_runs(inv), sc_inv.population.size, sc_inv.population.horizon)
    _say_estimate(work, sc_inv, quiet)
    res = _compute_and_write(
        f"comparing {inv.name}",
        quiet,
        lambda p: api.compare(inv, progress=p, phase=p.phase),
        lambda r, p: r.write(out, figures=not no_figures),
        out,
        interrupted,
    )
    if not quiet:
        t = res.table
        click.echo(
            f"{'rank':>4}  {'strategy':16s} {'objective':>10s} {'QALYs':>10s} "
            f"{'cost (disc.)':>14s} {'£/QALY':>8s} {'HLE SII chg':>11s} {'Core20':>6s}"
        )
        for _, r in t.iterrows():
            click.echo(
                f"{int(r['rank']):>4}  {r.strategy:16s} {r.objective:>10.4g} "
                f"{r.qalys_gained:>10,.0f} {r.cost / 1e6:>12,.1f}m "
                f"{r.cost_per_qaly:>8,.0f} {r.hle0_sii_change:>+11.3f} "
                + (f"{r.core20_share:>6.0%}" if r.core20_share == r.core20_share else "   n/a")
            )
        for line in plain_summary(res):
            click.echo(line)
    click.echo(
        f"wrote {out}/ ({res.manifest['simulated_arms']} simulated arms in "
        f"{res.manifest['seconds']:.1f} s)"
    )


def _compare_places(inv, output, workers: int, scheduler: str | None, no_figures, quiet):
    """A places: question: places run on the local pool (or Dask), checkpointed beside the
    output folder so an interrupted run resumes; checkpoints are removed once written."""
    import shutil

    from povsim import api
    from povsim.reporting.places_report import summary_lines
    from povsim.studies.sweep import SweepError

    out = output or Path("outputs") / inv.name
    ckpt = out.parent / f".{out.name}.checkpoints"

    def interrupted(p: _LazyProgress) -> str:
        return (
            f"interrupted {p.where()} (simulated arm-years); finished places are "
            f"checkpointed in {ckpt}/ and nothing was written to {out}; resume with the same "
            f"command: {_same_command()}"
        )

    try:
        res = _compute_and_write(
            f"comparing {inv.name} across {len(inv.places)} places",
            quiet,
            lambda p: api.compare(
                inv,
                workers=workers,
                scheduler=scheduler,
                checkpoints=ckpt,
                progress=p,
                phase=p.phase,
            ),
            lambda r, p: r.write(out, figures=not no_figures),
            out,
            interrupted,
        )
    except SweepError as e:
        _fail(str(e))
    shutil.rmtree(ckpt, ignore_errors=True)
    if not quiet:
        for line in summary_lines(res):
            click.echo(line)
    click.echo(
        f"wrote {out}/ ({res.manifest['simulated_arms']} simulated arms in "
        f"{res.manifest['seconds']:.1f} s, {res.manifest['executor']})"
    )


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
def validate(scenario: Path) -> None:
    """Check SCENARIO (or a `povsim compare` file) without running it."""
    from povsim.inputs.errors import ScenarioError
    from povsim.inputs.loader import load_scenario

    try:
        sc = load_scenario(scenario)
    except ScenarioError as e:
        if "investment question" not in str(e):
            _fail(str(e))
        from povsim.inputs.investment import load_investment

        inv = _load(load_investment, scenario, None, None)
        if inv.calibration is not None:
            _check_fit(inv.scenario({}))
        click.echo(
            f"{scenario}: ok (investment question '{inv.name}', "
            f"{len(inv.levers)} levers, {len(inv.strategies)} strategies, "
            f"£{inv.budget.per_year:,.0f} a year for {inv.budget.years} years)"
        )
        return
    if sc.calibration is not None:
        _check_fit(sc)
    where = (
        ""
        if sc.population.area == "england"
        else f", area {sc.population.label()} from {sc.population.composition}"
        if sc.population.area == "local"
        else f", place {sc.population.label()} ({sc.population.area})"
    )
    click.echo(
        f"{scenario}: ok (scenario '{sc.name}', {_size_text(sc.population.size)} persons, "
        f"{sc.population.horizon} years from {sc.population.start_year}{where})"
    )
    for line in override_warnings(sc):
        click.echo(line, err=True)


def override_warnings(sc) -> list[str]:
    """Warnings about how relative-risk overrides will be read (what-if or absorbed)."""
    rr = sorted(k for k in sc.parameters if k.startswith("rr.") and not k.startswith("rr.job"))
    if not rr:
        return []
    names = ", ".join(rr)
    if sc.calibration is not None and sc.calibration.refit:
        return [
            f"warning: {names}: absorbed by `calibration: {{refit: true}}`: the normalisers are "
            "refitted with the overridden risks, so every quintile stays on its ONS target and "
            "the override changes only who within a cell dies or is in poor health, not the "
            "gap; drop refit for a what-if with the calibration kept"
        ]
    return [
        f"note: {names}: a what-if with the calibration kept (the baseline is no longer on "
        "the ONS targets; the change is the override's effect); set "
        "`calibration: {refit: true}` to refit instead, which absorbs it"
    ]


def _check_fit(sc) -> None:
    """A local area's fit must exist, be povsim's and match its files (as `run` requires),
    so that what `validate` accepts the commands run."""
    from povsim.inputs.errors import ScenarioError
    from povsim.model.area import area_params

    try:
        area_params(sc)
    except ScenarioError as e:
        _fail(str(e))


@main.command()
@click.argument(
    "scenario_arg",
    metavar="[SCENARIO]",
    required=False,
    type=click.Path(dir_okay=False, path_type=Path),
)
# --size differs here: a fit to the ONS targets needs persons in every sex x quintile x age
# band, so below 1,000 (the bound calibrate always had) the fit is not meaningful.
@size_option(
    "Simulated persons for the check runs [default: 500,000; with a scenario, "
    "the scenario's size].",
    type=click.IntRange(1000, SIZE.max),
)
@click.option(
    "--years",
    type=click.IntRange(1, 10),
    default=3,
    show_default=True,
    help="Simulated years averaged (ONS figures are 3-year averages).",
)
@seed_option(20190101, "Random seed of the check runs (calibrate's own, not the file's).")
@click.option(
    "--rounds",
    type=click.IntRange(0, 10),
    help="Simulate-and-correct rounds after the analytic fit [default: 2; with a scenario, 1].",
)
@click.option("--dry-run", is_flag=True, help="Report the fit without writing fitted.yaml.")
@click.option(
    "--scenario",
    "scenario",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The same as the SCENARIO argument (kept for existing scripts).",
)
@threads_option
def calibrate(
    scenario_arg: Path | None,
    size: int | None,
    years: int,
    seed: int,
    rounds: int | None,
    dry_run: bool,
    scenario: Path | None,
    threads: int | None,
) -> None:
    """Fit the baseline to ONS 2017-19 and write calibration/fitted.yaml with a fit report;
    with SCENARIO (or --scenario), fit a local area's quintile residuals to the scenario's
    calibration.targets on top of it (writes calibration.fitted, never
    calibration/fitted.yaml)."""
    if scenario_arg is not None and scenario is not None and scenario_arg != scenario:
        _fail(f"calibrate: SCENARIO {scenario_arg} and --scenario {scenario}: give one")
    scenario = scenario_arg or scenario
    _set_threads(threads)
    if scenario is not None:
        _calibrate_local(scenario, size, years, seed, 1 if rounds is None else rounds, dry_run)
        return
    from povsim import api

    fit = api.calibrate(
        size=size, years=years, seed=seed, rounds=rounds, log=lambda s: click.echo(s, err=True)
    )
    cols = ["measure", "sex", "group", "target", "model", "error", "tolerance", "within", "tag"]
    click.echo(fit.report[cols].to_string(index=False))
    assert fit.residuals is not None  # a national fit always has them
    wide = fit.residuals.pivot_table(
        index=["sex", "age_min", "age_max"], columns="quintile", values="residual"
    )
    click.echo("fitted mortality residual (log rate ratio vs the mean of the quintiles):")
    click.echo(wide.to_string())
    if not dry_run:
        click.echo(f"wrote {fit.write()}")


def _calibrate_local(
    scenario: Path, size: int | None, years: int, seed: int, rounds: int, dry_run: bool
) -> None:
    from povsim import api
    from povsim.inputs.errors import ScenarioError
    from povsim.inputs.loader import load_scenario

    try:
        sc = load_scenario(scenario)
        fit = api.calibrate(
            sc,
            size=size,
            years=years,
            seed=seed,
            rounds=rounds,
            log=lambda s: click.echo(s, err=True),
        )
    except ScenarioError as e:
        _fail(str(e))
    click.echo(fit.report.drop(columns=["source"]).to_string(index=False))
    click.echo("residuals:")
    assert fit.status is not None  # a local fit always has it
    for r in fit.status.itertuples():
        click.echo(f"  {r.residual:11s} {r.sex:6s} Q{r.quintile}: {r.status}")
    if not dry_run:
        click.echo(f"wrote {fit.write()}")


@main.command()
@click.argument("search", required=False)
@click.option(
    "--level",
    type=click.Choice(["icb", "sub_icb", "single_tier_la", "upper_tier_la", "lower_tier_la"]),
    help="Only places of this level.",
)
def places(search: str | None, level: str | None) -> None:
    """List the real places a scenario may name (population.area), with their mid-2019
    population and the share of it in each national IMD2019 quintile; SEARCH filters by
    code prefix or part of the name."""
    from povsim import api

    found = api.places(search, level)
    if found.empty:
        _fail(f"places: no place matches '{search}'; try a shorter part of the name")
    click.echo(
        f"{'code':9s}  {'level':14s}  {'population':>10s}  "
        f"{'Q1%':>4s} {'Q2%':>4s} {'Q3%':>4s} {'Q4%':>4s} {'Q5%':>4s}  {'targets':8s} name"
    )
    for p in found.itertuples():
        mix = " ".join(f"{100 * x:4.0f}" for x in (p.q1, p.q2, p.q3, p.q4, p.q5))
        click.echo(
            f"{p.code:9s}  {p.level:14s}  {p.population:10,d}  {mix}  {p.targets:8s} {p.name}"
        )
    click.echo(
        f"{len(found)} place(s); mid-2019 persons, Q1 = most deprived national IMD2019 "
        "quintile (Core20); targets: published expectancies shipped for `povsim calibrate "
        "--scenario` (calibration/places/targets.csv); sources: calibration/places/sources.yaml, "
        "targets_sources.yaml"
    )


@main.command("refresh-targets")
@click.option(
    "--from-file",
    "from_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A Fingertips CSV saved earlier (indicators 90366/90362); repeatable. Without it, "
    "the Fingertips API is asked (needs the network).",
)
@click.option("--period", default="2017-19", show_default=True, help="Period to keep.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Snapshot to write [the shipped calibration/places/targets.csv].",
)
def refresh_targets(from_files: tuple[Path, ...], period: str, out: Path | None) -> None:
    """Write a new snapshot of the published life expectancy (LE, OHID Fingertips 90366) and
    healthy life expectancy (HLE, 90362) at birth of every local authority, for `povsim
    calibrate --scenario` of a named place. Optional: the shipped snapshot works offline."""
    import datetime as dt

    from povsim.inputs.place_targets import (
        AREA_TYPES,
        fetch_fingertips,
        from_fingertips,
        targets_path,
        write_snapshot,
    )
    from povsim.inputs.targets import TargetsError

    if from_files:
        texts = [f.read_text(encoding="utf-8-sig") for f in from_files]
        origin = "from " + ", ".join(f.name for f in from_files)
    else:
        try:
            texts = [fetch_fingertips(a) for a in AREA_TYPES]
        except OSError as exc:
            _fail(f"refresh-targets: Fingertips not reached ({exc}); nothing written")
        origin = "from the OHID Fingertips API"
    today = dt.date.today().isoformat()
    try:
        table = from_fingertips(texts, period, today)
        path = write_snapshot(
            table,
            out or targets_path(),
            f"Written by `povsim refresh-targets` on {today} {origin}: LE (90366) and HLE "
            f"(90362) at birth, {period}, whole area (quintile all).",
        )
    except TargetsError as exc:
        _fail(f"refresh-targets: {exc}; nothing written")
    n = table.code.nunique()
    click.echo(f"wrote {path}: {len(table)} rows, {n} places, {period}")


@main.command()
@click.option(
    "--kind",
    type=click.Choice(["scenario", "compare"]),
    default="scenario",
    show_default=True,
    help="Scenario files, or `povsim compare` files.",
)
@click.option("--markdown", is_flag=True, help="The reference page (docs/*-reference.md) instead.")
def schema(kind: str, markdown: bool) -> None:
    """Print the JSON Schema of scenario files, for editors' completion and checking of YAML
    (e.g. `povsim schema > povsim.schema.json`, then `# yaml-language-server: $schema=...`)."""
    from povsim.inputs.reference import markdown as reference_page
    from povsim.inputs.reference import schema_text

    click.echo(reference_page(kind) if markdown else schema_text(kind), nl=False)


STARTER = """\
# A povsim scenario, written by `povsim init`. Check it with `povsim validate {file}` and run
# it with `povsim run {file}` (add `--size 20000` for a quick first try). Every key, its
# default and range: docs/scenario-reference.md; `povsim schema` gives the JSON Schema for
# editor completion.
extends: baseline.yaml  # England from mid-2019, calibrated to ONS 2017-19 (shipped with povsim)
name: {name}            # also the output folder: outputs/{name}/
description: >
  Stop smoking support for adult smokers in the most deprived fifth (Core20), against the
  baseline (no new intervention).
arms:
  # Each arm is compared with the baseline, with the same random numbers; add arms to compare
  # alternatives (e.g. the same offer with targeting: {{rule: universal}}).
  core20_stop_smoking:
    description: Stop smoking support for smokers in IMD quintile 1.
    interventions:
      - type: behaviour         # one of income, housing, behaviour, access, community, employment
        name: stop_smoking
        behaviour: smoking
        start_year: 2020
        end_year: 2029          # nothing is delivered or charged after this year
        ramp_up_years: 2        # coverage grows linearly over the first years
        targeting: {{rule: core20}}  # universal, core20, proportionate (weights:), quintiles
        eligibility: {{age_min: 18}}
        coverage: 1.0           # share of the eligible offered it each year
        uptake: 0.08            # share of those offered who take part
        effect: 0.077           # behaviour: probability a participant quits (52-week rate)
        effect_source: >
          ELONS cohort of NHS Stop Smoking Service clients (Dobbie et al. IJERPH 2016;13:1175):
          52-week CO-validated abstinence 7.7%. Replace with the evidence for your programme.
        decay: 0.02             # yearly probability a quitter relapses, beyond the background
        cost:
          per_participant: 260  # GBP at 2019 prices (or give cost.price_year)
          source: NHS stop smoking services 2008/09 cost per quit date, uplifted (assumption).
"""


@main.command()
@click.argument(
    "file", required=False, default="scenario.yaml", type=click.Path(dir_okay=False, path_type=Path)
)
def init(file: Path) -> None:
    """Write a starter scenario to FILE [default: scenario.yaml]: the shipped baseline and one
    commented intervention arm, ready for `povsim validate` and `povsim run`. Never
    overwrites a file."""
    import re
    import shlex

    name = re.sub(r"[^A-Za-z0-9_-]", "_", file.stem)[:64] or "my_scenario"
    text = STARTER.format(name=name, file=file)
    try:
        with open(file, "x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        _fail(f"{file}: already exists; not overwritten (choose another FILE or remove it)")
    except OSError as e:
        _fail(f"{file}: cannot write: {e.strerror or e}")
    log.info("starter scenario %s (name %s)", file, name)
    click.echo(f"wrote {file}; next: povsim validate {shlex.quote(str(file))}")


@main.command()
def parameters() -> None:
    """List the parameters a scenario may override, with defaults and ranges."""
    from povsim.inputs.parameters import parameter_space

    for path, spec in parameter_space().items():
        rng = f"[{spec['min']}, {spec['max']}]"
        click.echo(f"{path:40s} {str(spec['default']):>10s}  {rng:18s} {spec['unit']}")


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--method",
    type=click.Choice(["sobol", "morris", "psa"]),
    default="sobol",
    show_default=True,
    help="Sobol indices, Morris screening or PSA with CEACs.",
)
@click.option(
    "-n",
    "n",
    type=click.IntRange(min=2),
    default=512,
    show_default=True,
    help="Sobol: base samples N (runs N(2D+2)); Morris: trajectories (runs N(D+1)); PSA: draws.",
)
@output_option("outputs/<scenario>-sensitivity-<method>")
@seed_option()
@size_option()
# No --replicates: each sample of the design is already one run with its own draws; repeating
# them would be a different design (more samples: raise -n instead).
@threads_option
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Local worker processes (results do not depend on it).",
)
@click.option("--scheduler", help="Address of a running Dask scheduler (tcp://host:8786).")
@click.option(
    "--second-order/--no-second-order",
    default=True,
    show_default=True,
    help="Sobol: also S2 (N(2D+2) runs instead of N(D+2)).",
)
@click.option(
    "--levels",
    type=click.IntRange(min=2),
    default=4,
    show_default=True,
    help="Morris: grid levels.",
)
@click.option(
    "--resamples",
    type=click.IntRange(min=10),
    default=1000,
    show_default=True,
    help="Bootstrap resamples for confidence intervals.",
)
@no_figures_option
@quiet_option
def sensitivity(
    scenario: Path,
    method: str,
    n: int,
    output: Path | None,
    seed: int | None,
    size: int | None,
    threads: int | None,
    workers: int,
    scheduler: str | None,
    second_order: bool,
    levels: int,
    resamples: int,
    no_figures: bool,
    quiet: bool,
) -> None:
    """Sensitivity analysis of SCENARIO's `uncertainty:` inputs (checkpointed; re-run the
    same command to resume)."""
    from povsim.inputs.loader import load_scenario

    if threads is not None and (workers > 1 or scheduler):
        # pool and Dask workers run one Numba thread each (they share the cores)
        _fail("--threads: only with --workers 1 and no --scheduler (workers use 1 thread each)")
    _set_threads(threads)
    sc = _load(load_scenario, scenario, seed, size)
    from povsim.inputs.errors import ScenarioError
    from povsim.model.area import area_params

    try:
        area_params(sc)  # a local area's fit must exist and match before workers start
    except ScenarioError as e:
        _fail(str(e))
    if not sc.uncertainty:
        _fail(
            f"{scenario}: uncertainty: required for povsim sensitivity; allowed a mapping of "
            f"input path to distribution (see README, Sensitivity analysis)"
        )
    if not sc.arms:
        _fail(
            f"{scenario}: arms: povsim sensitivity needs at least one arm to compare with "
            f"the baseline"
        )
    from povsim import api
    from povsim.studies.sensitivity import (
        check_design_size,
        checkpoint_dir_for,
        design_rows,
        make_design,
        sweep_runs,
    )
    from povsim.studies.sweep import SweepError

    out = output or Path("outputs") / f"{sc.name}-sensitivity-{method}"
    _check_output(out, sc)
    try:
        check_design_size(method, n, len(sc.uncertainty), second_order)
    except SweepError as e:
        _fail(str(e))
    design = make_design(method, list(sc.uncertainty), n, sc.seed, second_order, levels)
    for note in design.notes:
        click.echo(f"warning: {note}", err=True)
    from povsim.studies.estimate import Workload

    work = Workload(sweep_runs(sc, design), sc.population.size, sc.population.horizon)
    _say_estimate(work, sc, quiet)
    log.info("%s sweep of %s: %s", method, sc.name, ", ".join(sc.uncertainty))
    total = design_rows(method, n, len(sc.uncertainty), second_order)
    ckpt = checkpoint_dir_for(out)

    def interrupted(p: _LazyProgress) -> str:
        runs = f"{p.done:,} of {total:,} runs finished" if p.total else "no run finished"
        return (
            f"interrupted: {runs} "
            f"(checkpointed in {ckpt}/); nothing was written to {out}; resume with the same "
            f"command: {_same_command()}"
        )

    def compute(p: _LazyProgress):
        return api.sensitivity(
            sc,
            method,
            n,
            workers=workers,
            scheduler=scheduler,
            second_order=second_order,
            levels=levels,
            resamples=resamples,
            output=out,
            progress=p,
            phase=p.phase,
        )

    def write(r, p: _LazyProgress) -> None:
        for path in r.manifest.get("corrupt_checkpoints", []):
            click.echo(
                f"warning: {path}: unreadable checkpoint batch (cut short?); ran it again",
                err=True,
            )
        r.write(out, figures=not no_figures)

    try:
        res = _compute_and_write(
            f"{method} sweep of {sc.name}", quiet, compute, write, out, interrupted
        )
    except SweepError as e:
        _fail(str(e))
    m = res.manifest
    if not quiet:
        _print_sensitivity(res)
    resumed = (
        f", {m['batches_loaded_from_checkpoints']} batches from checkpoints"
        if m["batches_loaded_from_checkpoints"]
        else ""
    )
    click.echo(
        f"wrote {out}/ ({m['rows']:,} runs, {m['batches_run']} batches in "
        f"{m['sweep_seconds']:.1f} s{resumed})"
    )


def _print_sensitivity(res) -> None:
    """The three most influential inputs for a few headline outputs."""
    f = res.indices
    if f is not None and not f.empty:
        kind = "ST" if (f["index"] == "ST").any() else "mu_star"
        for out in dict.fromkeys(f.output):
            if not out.endswith(("hle0_gap_change", "healthy_years_gained", ".cost")):
                continue
            d = f[(f.output == out) & (f["index"] == kind)].sort_values("value", ascending=False)
            top = ", ".join(f"{p} {v:.2f}" for p, v in zip(d.parameter[:3], d.value[:3]))
            click.echo(f"{out}: top {kind}: {top}")
    if res.psa is not None:
        p = res.psa[res.psa.output == "hle0_gap_change"].set_index(["arm", "statistic"]).value
        for arm in dict.fromkeys(res.psa.arm):
            click.echo(
                f"{arm}: probability the HLE gap narrows {p[(arm, 'p_gap_narrows')]:.2f} "
                f"(95% {p[(arm, 'p_gap_narrows_lo')]:.2f} to {p[(arm, 'p_gap_narrows_hi')]:.2f}, "
                f"{p[(arm, 'draws')]:.0f} draws)"
            )
    for w in res.manifest.get("warnings", []):
        click.echo(f"warning: {w}", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
