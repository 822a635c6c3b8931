"""Sensitivity analysis of a scenario: Sobol indices, Morris screening, probabilistic
sensitivity analysis (PSA) with cost-effectiveness acceptability curves.

Designs are drawn on the unit hypercube with SALib (Sobol: Saltelli's scheme on a scrambled
Sobol' sequence; Morris: trajectories on a ``levels``-level grid) or a seeded Monte Carlo
(PSA), mapped to each input's distribution by :func:`povsim.inputs.uncertainty.to_values`, run by
:func:`povsim.studies.sweep.run_sweep` and analysed with SALib. Morris elementary effects are
therefore per unit of each input's quantile range (comparable across inputs).

Every sample runs with the scenario's seed (common random numbers, see evaluate.py).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from povsim import __version__
from povsim.measures.precision import psa_warning, sobol_flags, sobol_warning, wilson
from povsim.studies.sweep import fingerprint, run_sweep

MAX_BATCHES = 256  # batches per sweep (checkpoint granularity), whatever the worker count
# CEAC thresholds: £0 to £100,000 per (discounted) QALY in £1,000 steps; NICE's range is
# £20,000-30,000 per QALY (NICE health technology evaluations manual, 2022).
THRESHOLDS = np.arange(0, 100_001, 1_000, dtype=float)


@dataclass
class Design:
    """Unit-hypercube rows and how they group: ``block_rows`` consecutive rows belong
    together (a Saltelli block of 2D+2 or D+2 rows, a Morris trajectory of D+1, one PSA
    draw); batches are whole blocks, so rows that share model parameters share a worker."""

    method: str
    u: np.ndarray
    n: int
    block_rows: int
    second_order: bool = False
    levels: int = 4
    notes: list[str] = field(default_factory=list)

    @property
    def batch_rows(self) -> int:
        blocks = len(self.u) // self.block_rows
        return self.block_rows * max(1, math.ceil(blocks / MAX_BATCHES))


def salib_problem(names: list[str]) -> dict[str, Any]:
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def make_design(
    method: str, names: list[str], n: int, seed: int, second_order: bool = True, levels: int = 4
) -> Design:
    """Sobol: n base samples -> n(2D+2) rows (n(D+2) without second order); Morris: n
    trajectories -> n(D+1) rows; PSA: n Monte Carlo draws."""
    d = len(names)
    problem = salib_problem(names)
    if method == "sobol":
        from SALib.sample import sobol as sobol_sample

        notes = (
            []
            if is_power_of_two(n)
            else [
                f"N = {n} is not a power of 2: Sobol' sequences balance only at powers of 2, so "
                f"indices converge more slowly (use e.g. {1 << max(1, round(math.log2(n)))})"
            ]
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SALib repeats the power-of-2 warning
            u = sobol_sample.sample(
                problem, n, calc_second_order=second_order, scramble=True, seed=seed
            )
        return Design(
            "sobol", u, n, (2 * d + 2) if second_order else (d + 2), second_order, notes=notes
        )
    if method == "morris":
        from SALib.sample import morris as morris_sample

        u = morris_sample.sample(problem, n, num_levels=levels, seed=seed)
        return Design("morris", u, n, d + 1, levels=levels)
    if method == "psa":
        rng = np.random.default_rng(seed)
        return Design("psa", rng.random((n, d)), n, 1)
    raise ValueError(f"unknown method {method}")


@dataclass
class Sweep:
    """A finished sweep: design, parameter values, outputs and timing."""

    design: Design
    names: list[str]
    values: np.ndarray  # (rows, D)
    outputs: np.ndarray  # (rows, K)
    output_names: list[str]
    seconds: float
    ran_batches: int
    loaded_batches: int
    ran_rows: int = 0
    corrupt: list[str] = field(default_factory=list)  # unreadable checkpoints, rerun


def run_design(
    model: Any,
    names: list[str],
    to_values: Callable[[np.ndarray], np.ndarray],
    design: Design,
    checkpoint_dir: Path | None = None,
    key: str = "",
    workers: int = 1,
    client: Any = None,
    progress: Callable[[int, int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> Sweep:
    """Map the design to values and evaluate every row through the sweep executor."""
    values = to_values(design.u)
    res = run_sweep(
        model,
        values,
        design.batch_rows,
        checkpoint_dir,
        key=key,
        described={
            "method": design.method,
            "n": design.n,
            "rows": len(values),
            "parameters": names,
        },
        workers=workers,
        client=client,
        progress=progress,
        on_batch=on_batch,
    )
    return Sweep(
        design,
        list(names),
        values,
        res.outputs,
        list(model.output_names),
        res.seconds,
        res.ran_batches,
        res.loaded_batches,
        res.ran_rows,
        res.corrupt,
    )


# --- analysis ----------------------------------------------------------------------------


def _usable(y: np.ndarray) -> str | None:
    """Why an output cannot be analysed, or None."""
    if not np.all(np.isfinite(y)):
        return f"{int(np.sum(~np.isfinite(y)))} samples undefined (e.g. a ratio to zero)"
    if np.ptp(y) == 0:
        return "constant over the samples"
    return None


def sobol_indices(
    sw: Sweep,
    resamples: int = 1000,
    conf_level: float = 0.95,
    rows: int | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict]:
    """Tidy S1, ST (and S2) with bootstrap confidence half-widths for every output:
    columns output, parameter, parameter2, index, value, conf. ``rows`` analyses only the
    first rows (a smaller design: the Sobol' sequence is prefix-stable)."""
    from SALib.analyze import sobol as sobol_analyze

    d = sw.design
    problem = salib_problem(sw.names)
    n_rows = len(sw.outputs) if rows is None else rows

    def rows_of(name: str, y: np.ndarray) -> list[tuple]:
        si = sobol_analyze.analyze(
            problem,
            y,
            calc_second_order=d.second_order,
            num_resamples=resamples,
            conf_level=conf_level,
            print_to_console=False,
            seed=seed,
        )
        out = [
            (name, p, "", idx, si[idx][j], si[f"{idx}_conf"][j])
            for j, p in enumerate(sw.names)
            for idx in ("S1", "ST")
        ]
        if d.second_order:
            for a in range(len(sw.names)):
                for b in range(a + 1, len(sw.names)):
                    out.append(
                        (name, sw.names[a], sw.names[b], "S2", si["S2"][a, b], si["S2_conf"][a, b])
                    )
        return out

    return _per_output(sw, n_rows, rows_of)


def sobol_convergence(sw: Sweep, resamples: int = 200, seed: int = 0) -> pd.DataFrame:
    """ST (and its interval) re-estimated on the first N' base samples, N' = 8, 16, ...
    up to N: columns output, parameter, n, ST, conf."""
    d = sw.design
    sizes = [m for m in (2**i for i in range(3, 31)) if m < d.n] + [d.n]
    frames = []
    for m in sizes:
        f, _ = sobol_indices(sw, resamples=resamples, rows=m * d.block_rows, seed=seed)
        f = f[f["index"] == "ST"]
        frames.append(
            pd.DataFrame(
                {
                    "output": f.output,
                    "parameter": f.parameter,
                    "n": m,
                    "ST": f.value,
                    "conf": f.conf,
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def morris_indices(
    sw: Sweep, resamples: int = 1000, conf_level: float = 0.95, seed: int = 0
) -> tuple[pd.DataFrame, dict]:
    """Tidy mu, mu_star (with bootstrap conf), sigma for every output, in output units per
    unit of each input's quantile range."""
    from SALib.analyze import morris as morris_analyze

    problem = salib_problem(sw.names)

    def rows_of(name: str, y: np.ndarray) -> list[tuple]:
        si = morris_analyze.analyze(
            problem,
            sw.design.u,
            y,
            num_resamples=resamples,
            conf_level=conf_level,
            print_to_console=False,
            num_levels=sw.design.levels,
            seed=seed,
        )
        out = []
        for j, p in enumerate(sw.names):
            out.append((name, p, "", "mu", si["mu"][j], np.nan))
            out.append((name, p, "", "mu_star", si["mu_star"][j], si["mu_star_conf"][j]))
            out.append((name, p, "", "sigma", si["sigma"][j], np.nan))
        return out

    return _per_output(sw, len(sw.outputs), rows_of)


def _per_output(sw: Sweep, n_rows: int, rows_of) -> tuple[pd.DataFrame, dict]:
    """Apply an index method ``rows_of(name, y)`` to every usable output (first ``n_rows``
    rows), SALib's warnings silenced; the tidy table and the outputs skipped, with why."""
    recs, skipped = [], {}
    for k, name in enumerate(sw.output_names):
        y = sw.outputs[:n_rows, k]
        why = _usable(y)
        if why:
            skipped[name] = why
            continue
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            recs.extend(rows_of(name, y))
    cols = ["output", "parameter", "parameter2", "index", "value", "conf"]
    return pd.DataFrame(recs, columns=cols), skipped


def psa_summary(sw: Sweep, arms: list[str]) -> pd.DataFrame:
    """Per arm and output: mean, sd, 2.5/50/97.5% quantiles over the draws; plus the
    probability that the arm narrows the HLE gap (Q5-Q1) and the HLE SII, with its 95%
    Wilson interval (``p_*_lo``, ``p_*_hi``) and the number of ``draws`` it rests on."""
    recs = []
    col = {n: k for k, n in enumerate(sw.output_names)}
    for arm in arms:
        for name, k in col.items():
            if not name.startswith(arm + "."):
                continue
            y = sw.outputs[:, k]
            y = y[np.isfinite(y)]
            q = np.percentile(y, [2.5, 50, 97.5]) if y.size else [np.nan] * 3
            recs.append(
                (arm, name[len(arm) + 1 :], "mean", float(np.mean(y)) if y.size else np.nan)
            )
            recs.append(
                (
                    arm,
                    name[len(arm) + 1 :],
                    "sd",
                    float(np.std(y, ddof=1)) if y.size > 1 else np.nan,
                )
            )
            for lab, v in zip(("p2.5", "p50", "p97.5"), q):
                recs.append((arm, name[len(arm) + 1 :], lab, float(v)))
        for out, label in (
            ("hle0_gap_change", "p_gap_narrows"),
            ("hle0_sii_change", "p_sii_narrows"),
        ):
            y = sw.outputs[:, col[f"{arm}.{out}"]]
            recs.append((arm, out, label, float(np.mean(y < 0))))
            # Its 95% Wilson interval over the draws, and how many draws it rests on.
            lo, hi = wilson(float(np.sum(y < 0)), len(y))
            recs += [(arm, out, f"{label}_lo", lo), (arm, out, f"{label}_hi", hi)]
            recs.append((arm, out, "draws", float(len(y))))
    return pd.DataFrame(recs, columns=["arm", "output", "statistic", "value"])


def ceac(sw: Sweep, arms: list[str], thresholds: np.ndarray = THRESHOLDS) -> pd.DataFrame:
    """Cost-effectiveness acceptability: at each threshold (£ per discounted QALY), the
    probability that each option (baseline or an arm) has the highest net monetary benefit
    NMB = threshold x qalys_gained_disc - cost_disc (baseline NMB 0), and that each arm's NMB
    against the baseline is positive."""
    col = {n: k for k, n in enumerate(sw.output_names)}
    hy = np.stack([sw.outputs[:, col[f"{a}.qalys_gained_disc"]] for a in arms], 1)
    cost = np.stack([sw.outputs[:, col[f"{a}.cost_disc"]] for a in arms], 1)
    recs = []
    options = ["baseline", *arms]
    for lam in thresholds:
        nmb = np.concatenate([np.zeros((len(hy), 1)), lam * hy - cost], axis=1)
        best = np.argmax(nmb, axis=1)
        for j, opt in enumerate(options):
            p_pos = float(np.mean(nmb[:, j] > 0)) if j else float("nan")
            recs.append((float(lam), opt, float(np.mean(best == j)), p_pos))
    return pd.DataFrame(recs, columns=["threshold", "option", "p_best", "p_nmb_positive"])


# --- a scenario's sensitivity run --------------------------------------------------------


@dataclass
class SensitivityResult:
    sweep: Sweep
    indices: pd.DataFrame | None
    convergence: pd.DataFrame | None
    psa: pd.DataFrame | None
    ceac: pd.DataFrame | None
    skipped: dict[str, str]
    manifest: dict[str, Any]

    def samples(self) -> pd.DataFrame:
        """One row per sample: design position, parameter values and every output."""
        sw = self.sweep
        df = pd.DataFrame(sw.values, columns=sw.names)
        df.insert(0, "block", np.arange(len(df)) // sw.design.block_rows)
        df.insert(0, "sample", np.arange(len(df)))
        for k, name in enumerate(sw.output_names):
            df[name] = sw.outputs[:, k]
        return df


def checkpoint_dir_for(out_dir: Path) -> Path:
    """Checkpoints live beside the output folder (which is only created, atomically, at the
    end): ``<parent>/.<name>.sweep/``."""
    out_dir = Path(out_dir)
    return out_dir.parent / f".{out_dir.name}.sweep"


def sweep_key(sc: Any, method: str, n: int, second_order: bool, levels: int) -> str:
    """Fingerprint of a sweep: the scenario as validated, the contents of every file it was
    read from or names (a composition edited in place must not reuse old batches), and the
    command's settings."""
    data = sc.model_dump(mode="json", exclude={"source_path"})
    return fingerprint(
        {
            "scenario": data,
            "files": input_digests(sc),
            "method": method,
            "n": n,
            "second_order": second_order,
            "levels": levels,
            "povsim": __version__,
        }
    )


def input_digests(sc: Any) -> dict[str, str]:
    """sha256 of each file a scenario was read from or names ("missing" if absent)."""
    from povsim.inputs.reading import InputFileError
    from povsim.inputs.targets import composition_sha256, file_sha256

    out = {}
    for path in sc.input_files() if hasattr(sc, "input_files") else ():
        try:
            out[str(path)] = file_sha256(path)
        except InputFileError:
            try:  # a shipped place named by code or name: the digest of its rows
                out[str(path)] = composition_sha256(path)
            except Exception:  # not a place either: the file is missing
                out[str(path)] = "missing"
    return out


# A sweep's design is held in memory (unit cube, values, outputs); beyond this many model
# runs it would take weeks at a fraction of a second a run, and the arrays tens of GB.
MAX_RUNS = 10_000_000


def design_rows(method: str, n: int, d: int, second_order: bool = True) -> int:
    """Model runs of a design: Sobol N(2D+2) (N(D+2) without S2), Morris N(D+1), PSA N."""
    if method == "sobol":
        return n * ((2 * d + 2) if second_order else (d + 2))
    if method == "morris":
        return n * (d + 1)
    return n


def sweep_runs(sc: Any, design: Design) -> int:
    """Arm simulations a sweep of ``design`` runs, for the run-time estimate: each arm once
    per distinct combination of the inputs that can change its run, and the baseline once
    per distinct combination of the model inputs that can change it (rows differing only in
    other inputs reuse a run: :class:`povsim.studies.sample_model.ScenarioModel`, which keeps
    the recent ones)."""
    from povsim.inputs import uncertainty as U
    from povsim.studies.sample_model import simulation_columns

    resolved = [U.targets(sc, p) or [] for p in sc.uncertainty]

    def distinct(cols: list[int]) -> int:
        return len(np.unique(design.u[:, cols], axis=0)) if cols else 1

    arms = 0
    for a in sc.arms:
        arms += distinct(simulation_columns(sc, a, resolved))
    return arms + distinct(simulation_columns(sc, None, resolved))


def check_design_size(method: str, n: int, d: int, second_order: bool = True) -> None:
    """Refuse (SweepError naming -n) a design too large to run or to hold in memory, before
    anything is allocated."""
    import os

    from povsim.studies.sweep import SweepError

    rows = design_rows(method, n, d, second_order)
    if rows > MAX_RUNS:
        raise SweepError(
            f"-n {n}: {method} with {d} uncertain input{'s' if d != 1 else ''} needs "
            f"{rows:,} model runs; allowed at most {MAX_RUNS:,} runs (a smaller -n)"
        )
    need = rows * (3 * d + 200) * 8  # unit cube, values, outputs (float64), with headroom
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        free = None
    if free and need > free // 2:
        raise SweepError(
            f"-n {n}: the design of {rows:,} runs needs about {need / 2**30:,.1f} GiB of "
            f"memory and {free / 2**30:,.1f} GiB is free; allowed a smaller -n"
        )


def run_sensitivity(
    sc: Any,
    method: str,
    n: int,
    out_dir: Path,
    *,
    workers: int = 1,
    client: Any = None,
    second_order: bool = True,
    levels: int = 4,
    resamples: int = 1000,
    progress: Callable[[int, int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
    phase: Callable[[str], None] | None = None,
) -> SensitivityResult:
    """Sample, run (checkpointed beside ``out_dir``) and analyse; nothing is written to
    ``out_dir`` itself (see :func:`write_sensitivity`). ``phase(text)`` is told each phase."""
    say = phase or (lambda text: None)
    from povsim.inputs import uncertainty as U
    from povsim.inputs.unit_costs import load_unit_costs
    from povsim.model.area import resolve_size
    from povsim.studies.sample_model import ScenarioModel

    load_unit_costs()  # a bad unit-cost table stops here, not in a worker
    sc = resolve_size(sc)  # size `full`: the area's real population
    names = U.names(sc)
    check_design_size(method, n, len(names), second_order)
    say(f"sampling the {method} design ({len(names)} uncertain inputs)")
    design = make_design(method, names, n, sc.seed, second_order, levels)
    key = sweep_key(sc, method, n, second_order, levels)
    say(f"sweep: {design_rows(method, n, len(names), second_order):,} model runs")
    model = ScenarioModel(sc, token=key)
    sw = run_design(
        model,
        names,
        lambda u: U.to_values(sc, u),
        design,
        checkpoint_dir_for(out_dir),
        key,
        workers,
        client,
        progress,
        on_batch,
    )
    t0 = time.perf_counter()
    say("analysis: " + ("indices and bootstrap intervals" if method != "psa" else "PSA and CEACs"))
    indices = conv = psa = ce = None
    skipped: dict[str, str] = {}
    warnings: list[str] = []
    if method == "sobol":
        indices, skipped = sobol_indices(sw, resamples, seed=sc.seed)
        conv = sobol_convergence(sw, seed=sc.seed)
        indices["underpowered"] = sobol_flags(indices)
        warn = sobol_warning(indices, n)
    elif method == "morris":
        indices, skipped = morris_indices(sw, resamples, seed=sc.seed)
        warn = None
    else:
        psa = psa_summary(sw, list(sc.arms))
        ce = ceac(sw, list(sc.arms))
        warn = psa_warning(len(sw.values))
    if warn:
        warnings.append(warn)
    rows = len(sw.values)
    manifest = {
        "povsim_version": __version__,
        "scenario": sc.name,
        "method": method,
        "n": n,
        "rows": rows,
        "parameters": {p: sc.uncertainty[p].model_dump(exclude_none=True) for p in names},
        "seed": sc.seed,
        "size": sc.population.size,
        "horizon": sc.population.horizon,
        "second_order": second_order if method == "sobol" else None,
        "levels": levels if method == "morris" else None,
        "workers": "dask" if client is not None else workers,
        "batch_rows": design.batch_rows,
        "batches_run": sw.ran_batches,
        "batches_loaded_from_checkpoints": sw.loaded_batches,
        "corrupt_checkpoints": sw.corrupt,
        "sweep_seconds": round(sw.seconds, 2),
        "runs_this_call": sw.ran_rows,
        "runs_per_second": round(sw.ran_rows / sw.seconds, 3) if sw.seconds > 0 else None,
        "analysis_seconds": round(time.perf_counter() - t0, 2),
        "notes": design.notes,
        "skipped_outputs": skipped,
        "warnings": warnings,
        "common_random_numbers": "every sample runs with the scenario seed; each person has "
        "the same draws in every sample and arm",
        "scenario_as_run": sc.model_dump(mode="json"),
    }
    return SensitivityResult(sw, indices, conv, psa, ce, skipped, manifest)
