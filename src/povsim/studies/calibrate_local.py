"""Local calibration: fit an area's quintile residuals to its own LE/HLE, from the national fit.

The national calibration (``calibration/fitted.yaml``) gives mortality and good health by sex,
quintile and age for England. An area's quintile 1 may die sooner than England's quintile 1;
a local target moves only what it identifies:

- ``le0`` for (sex, quintile q): a log mortality-rate shift d_q for that quintile, with the
  age profile of the national quintile gradient (``mortality_age_profile``: full at working
  ages, less in childhood and old age) - an assumption about where local excess deaths sit;
- ``le0`` for (sex, all): one shift shared by the quintiles with no target of their own;
- ``hle0`` likewise shifts the log-odds of good health (age profile ``health_age_profile``).

Everything else stays national, and the fit report says so row by row. The fit is analytic
(life tables of the target rates, pooled over quintiles with the area's composition), then
``rounds`` simulate-and-correct rounds with the area's population, as the national fit.
Targets CSV columns: measure (le0, hle0), sex (male, female), quintile (1..5 or all), value
(years), period (e.g. 2017-19), source; ``#`` comment lines allowed.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from povsim.inputs.parameters import SEXES, ModelParams
from povsim.inputs.targets import composition_sha256, targets_sha256
from povsim.measures import life_table as M
from povsim.model.tables import apply_local, target_mx_and_good
from povsim.studies.calibrate import simulated_values
from povsim.studies.run import simulate_frame

# --- the local shifts and what they imply -----------------------------------------------------


def _expectancies(mx: np.ndarray, good: np.ndarray, w: np.ndarray) -> dict[str, float]:
    """LE/HLE at birth by quintile and pooled ('all', weights ``w`` (5, 101)) for one sex."""
    out = {}
    le, hle = M.life_expectancy(mx), M.sullivan_hle(mx, good)
    for q in range(5):
        out[f"le0_{q + 1}"], out[f"hle0_{q + 1}"] = float(le[q]), float(hle[q])
    share = w / np.maximum(w.sum(axis=0, keepdims=True), 1e-300)
    mx_all, good_all = (share * mx).sum(axis=0), (share * good).sum(axis=0)
    out["le0_all"] = float(M.life_expectancy(mx_all))
    out["hle0_all"] = float(M.sullivan_hle(mx_all, good_all))
    return out


def _parameters(targets: pd.DataFrame, sex: str, measure: str) -> tuple[list[list[int]], list[str]]:
    """Free shifts for one sex and measure: groups of quintile indices moved together."""
    t = targets[(targets.sex == sex) & (targets.measure == measure)]
    own = sorted(int(q) - 1 for q in t.quintile if q != "all")
    groups = [[q] for q in own]
    if "all" in set(t.quintile):
        rest = [q for q in range(5) if q not in own]
        if rest:
            groups.append(rest)
    keys = [f"{measure}_{q}" for q in t.quintile]
    return groups, keys


def fit_local_analytic(
    mp: ModelParams, composition: np.ndarray, aim: pd.DataFrame
) -> dict[str, Any]:
    """Shifts per sex that bring the analytic LE/HLE to ``aim`` (measure, sex, quintile,
    value); quintiles and measures without a target keep a zero shift (national)."""
    from scipy.optimize import least_squares  # slow import; only fitting needs it

    # National targets: without the area's shifts (fitted['local'] is replaced below).
    mx0, good0 = target_mx_and_good(replace(mp, fitted={**mp.fitted, "local": None}))
    local = {
        "mortality_shift": {s: [0.0] * 5 for s in SEXES},
        "health_shift": {s: [0.0] * 5 for s in SEXES},
    }
    for si, s in enumerate(SEXES):
        for measure, key in (("le0", "mortality_shift"), ("hle0", "health_shift")):
            groups, keys = _parameters(aim, s, measure)
            if not groups:
                continue
            tg = {
                f"{r.measure}_{r.quintile}": r.value
                for r in aim[(aim.sex == s) & (aim.measure == measure)].itertuples()
            }

            def shifts(x):
                v = np.zeros(5)
                for grp, xi in zip(groups, x):
                    v[grp] = xi
                return v

            def resid(x):
                local[key][s] = list(shifts(x))
                mx, good = apply_local(mx0, good0, local, mp)
                e = _expectancies(mx[si], good[si], composition[si])
                return [e[k] - tg[k] for k in keys]

            x = least_squares(resid, np.zeros(len(groups))).x
            local[key][s] = [round(float(v), 6) for v in shifts(x)]
    return local


def fitted_status(targets: pd.DataFrame) -> pd.DataFrame:
    """Which residual of which (sex, quintile) is fitted locally and which stays national."""
    rows = []
    for s in SEXES:
        for measure, what in (("le0", "mortality"), ("hle0", "good health")):
            groups, _ = _parameters(targets, s, measure)
            t = targets[(targets.sex == s) & (targets.measure == measure)]
            own = {int(q) - 1 for q in t.quintile if q != "all"}
            for q in range(5):
                if q in own:
                    how = f"fitted to local {measure} of quintile {q + 1}"
                elif any(q in g for g in groups):
                    how = f"fitted to local {measure} of the whole area (shared shift)"
                else:
                    how = f"national (no local {measure} target)"
                rows.append({"residual": what, "sex": s, "quintile": q + 1, "status": how})
    return pd.DataFrame(rows)


def calibrate_local(
    mp: ModelParams,
    composition: np.ndarray,
    targets: pd.DataFrame,
    size: int = 200_000,
    years: int = 3,
    seed: int = 20190101,
    rounds: int = 1,
    log: Callable[[str], None] = print,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Fit the area's shifts (analytic, then ``rounds`` simulate-and-correct rounds at
    ``size`` persons averaging ``years`` years); returns (local shifts, fit report)."""

    mp = replace(mp, composition=composition)
    aim = targets.copy()
    local = fit_local_analytic(mp, composition, aim)
    sim = None
    for r in range(rounds + 1):
        run_mp = replace(mp, fitted={**mp.fitted, "local": local})
        sim = simulated_values(simulate_frame(run_mp, size, years, seed))
        model = [_sim_value(sim, t) for t in targets.itertuples()]
        worst = max(abs(m - t.value) for m, t in zip(model, targets.itertuples()))
        log(f"local round {r}: largest |model - target| = {worst:.3f} years")
        if r == rounds:
            break
        aim["value"] = aim["value"].to_numpy() + targets["value"].to_numpy() - np.array(model)
        local = fit_local_analytic(mp, composition, aim)
    report = targets[["measure", "sex", "quintile", "value", "period", "source"]].copy()
    report = report.rename(columns={"value": "target"})
    assert sim is not None  # the loop above simulates at least once
    report["model"] = [round(_sim_value(sim, t), 3) for t in targets.itertuples()]
    report["error"] = (report["model"] - report["target"]).round(3)
    return local, report


def _sim_value(sim: dict[str, dict[str, float]], t: Any) -> float:
    key = t.measure if t.quintile == "all" else f"{t.measure}_q{t.quintile}"
    return sim[t.sex][key]


def write_local_fitted(
    path: str | Path,
    local: dict[str, Any],
    report: pd.DataFrame,
    status: pd.DataFrame,
    targets_path: str,
    composition_path: str,
    national_fitted_on: str | None,
    size: int,
    years: int,
    seed: int,
) -> Path:
    """Write the local fit (never the national ``calibration/fitted.yaml``) atomically."""
    path = Path(path)
    doc = {
        "about": (
            "Local quintile residuals fitted by `povsim calibrate --scenario` to the "
            "targets below, on top of the national calibration; read by `povsim run`. "
            "mortality_shift: log rate shift (working-age profile); health_shift: "
            "log-odds shift of good health. Zero = national."
        ),
        "fitted_on": _dt.date.today().isoformat(),
        "national_fitted_on": national_fitted_on,
        "targets": str(targets_path),
        "targets_sha256": targets_sha256(targets_path),
        "composition": str(composition_path),
        "composition_sha256": composition_sha256(composition_path),
        "simulation": {"size": size, "years": years, "seed": seed},
        "local": local,
        "fit_report": [{k: v for k, v in row.items()} for row in report.to_dict("records")],
        "residuals": [
            f"{r.residual} {r.sex} Q{r.quintile}: {r.status}" for r in status.itertuples()
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False, width=100))
    tmp.replace(path)
    return path
