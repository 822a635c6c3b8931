"""The `uncertainty:` block of a scenario: uncertain inputs, their distributions and sources.

A scenario may declare uncertain inputs by path, each with a distribution and the source of
its range::

    uncertainty:
      parameters.rr.poor_health.cold_home: {dist: lognormal, low: 1.47, high: 2.63,
                                            source: "Howden-Chapman 2007, 95% CI"}
      arms.*.interventions.warm_homes.effect: {dist: triangular, min: 0.6, mode: 0.8,
                                               max: 0.95, source: "assumption: ..."}

Paths:

* ``parameters.<name>`` for any parameter of ``povsim parameters`` (``rr.<outcome>.<exposure>``
  included); a per-quintile list by index, ``parameters.inverse_care_weights[0]``;
* ``arms.<arm>.interventions.<index or name>.<field>`` with field one of :data:`ARM_FIELDS`;
  ``arms.*`` sets the field of the intervention with that name in every arm that has one (so
  arms that share an intervention share its uncertain value);
* ``feedbacks.capacity.adjustment_years``.

Every sample is drawn on the unit hypercube (SALib's samplers, or a seeded Monte Carlo) and
mapped to each distribution by its quantile function (:func:`to_values`), so Sobol, Morris
and PSA use the same transforms. Unbounded distributions (normal, lognormal) are cut at the
:data:`EPS` and 1 - EPS quantiles (about +-4.75 standard deviations); at load time both ends
of every distribution are checked against the field's own validation, so an impossible range
is rejected with the usual one-line error before anything runs.

This module must not import :mod:`povsim.scenario` at import time (scenario imports it).
"""

from __future__ import annotations

import copy
import difflib
import math
import re
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

EPS = 1e-6  # unit-cube draws are clipped to [EPS, 1 - EPS] before the quantile functions
DISTS = ("uniform", "triangular", "normal", "truncnorm", "lognormal", "beta")
# Fields each distribution needs (and the only numeric fields it may have).
NEEDS: dict[str, tuple[str, ...]] = {
    "uniform": ("min", "max"),
    "triangular": ("min", "mode", "max"),
    "normal": ("mean", "sd"),
    "truncnorm": ("mean", "sd", "min", "max"),
    "lognormal": ("low", "high"),
    "beta": ("alpha", "beta"),
}
OPTIONAL = {"beta": ("min", "max")}  # beta on [min, max] (default 0..1)
NUMERIC = ("min", "max", "mode", "mean", "sd", "low", "high", "alpha", "beta")
# Intervention fields that can be uncertain (numbers only; integers such as years cannot).
ARM_FIELDS = ("effect", "coverage", "uptake", "decay", "ltc_multiplier", "capacity",
              "capacity_added", "cost.per_participant", "cost.fixed_per_year")
FEEDBACK_FIELDS = ("feedbacks.capacity.adjustment_years",)
_OWN = "povsim_scenario"  # the error type scenario._translate words itself

Number = float | int


def _own(path: str, problem: str, got: Any = ..., allowed: str | None = None,
         hint: str | None = None) -> None:
    raise PydanticCustomError(_OWN, problem, {"path": path, "problem": problem, "got": got,
                                             "allowed": allowed, "hint": hint})


class Uncertain(BaseModel):
    """One uncertain input: a distribution and the source of its range.

    uniform(min, max); triangular(min, mode, max); normal(mean, sd);
    truncnorm(mean, sd, min, max) (a normal cut to [min, max]); lognormal(low, high), where
    low and high are the 2.5% and 97.5% quantiles (e.g. a relative risk's 95% CI);
    beta(alpha, beta) on [min, max] (default [0, 1]). Units are those of the field.
    """

    model_config = ConfigDict(extra="forbid", strict=True)
    dist: Literal["uniform", "triangular", "normal", "truncnorm", "lognormal", "beta"]
    min: Number | None = None
    max: Number | None = None
    mode: Number | None = None
    mean: Number | None = None
    sd: Number | None = None
    low: Number | None = None
    high: Number | None = None
    alpha: Number | None = None
    beta: Number | None = None
    source: str = Field(min_length=1, description="publication, year and table, or "
                        "'assumption: why' (a non-empty string)")

    @model_validator(mode="after")
    def _check(self) -> "Uncertain":
        need = NEEDS[self.dist]
        allowed = need + OPTIONAL.get(self.dist, ())
        for name in NUMERIC:
            v = getattr(self, name)
            if v is None:
                if name in need:
                    _own(name, f"required for dist {self.dist}", None,
                         f"dist {self.dist} takes " + ", ".join(allowed))
                continue
            if name not in allowed:
                _own(name, f"not used by dist {self.dist}", v,
                     f"dist {self.dist} takes " + ", ".join(allowed))
            if isinstance(v, bool) or not math.isfinite(v):
                _own(name, "must be a finite number", v)
        lo, hi = self.min, self.max
        if self.dist == "beta":
            lo = 0.0 if lo is None else lo
            hi = 1.0 if hi is None else hi
        if lo is not None and hi is not None and not lo < hi:
            _own("max", "must be greater than min", hi, f"> {lo}")
        if self.dist == "triangular" and not lo <= self.mode <= hi:
            _own("mode", "must lie between min and max", self.mode, f"{lo}..{hi}")
        if self.dist in ("normal", "truncnorm") and not self.sd > 0:
            _own("sd", "must be positive", self.sd, "> 0")
        if self.dist == "truncnorm" and not lo <= self.mean <= hi:
            _own("mean", "must lie between min and max", self.mean, f"{lo}..{hi}")
        if self.dist == "lognormal":
            if not self.low > 0:
                _own("low", "must be positive (a lognormal quantile)", self.low, "> 0")
            if not self.high > self.low:
                _own("high", "must be greater than low", self.high, f"> {self.low}")
        if self.dist == "beta":
            for name in ("alpha", "beta"):
                if not getattr(self, name) > 0:
                    _own(name, "must be positive", getattr(self, name), "> 0")
        return self

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantile function: unit-interval draws -> values (clipped to [EPS, 1 - EPS])."""
        from scipy import stats

        u = np.clip(np.asarray(u, dtype=float), EPS, 1.0 - EPS)
        d = self.dist
        if d == "uniform":
            return self.min + u * (self.max - self.min)
        if d == "triangular":
            width = self.max - self.min
            return stats.triang.ppf(u, (self.mode - self.min) / width, self.min, width)
        if d == "normal":
            return stats.norm.ppf(u, self.mean, self.sd)
        if d == "truncnorm":
            a, b = (self.min - self.mean) / self.sd, (self.max - self.mean) / self.sd
            return stats.truncnorm.ppf(u, a, b, loc=self.mean, scale=self.sd)
        if d == "lognormal":
            mu, sigma = self.log_params()
            return np.exp(mu + sigma * stats.norm.ppf(u))
        lo = 0.0 if self.min is None else self.min
        hi = 1.0 if self.max is None else self.max
        return lo + (hi - lo) * stats.beta.ppf(u, self.alpha, self.beta)

    def log_params(self) -> tuple[float, float]:
        """(mu, sigma) of log X for lognormal: low/high are its 2.5% / 97.5% quantiles."""
        z = 1.959963984540054
        lo, hi = math.log(self.low), math.log(self.high)
        return (lo + hi) / 2.0, (hi - lo) / (2.0 * z)

    def support(self) -> tuple[float, float]:
        """Smallest and largest value a sample can take."""
        ends = self.ppf(np.array([0.0, 1.0]))
        return float(ends[0]), float(ends[1])


# --- paths -------------------------------------------------------------------------------

_INDEX = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<i>\d+)\]$")


def _intervention_keys(arm: Any) -> list[str]:
    keys = [str(i) for i in range(len(arm.interventions))]
    return keys + [iv.name for iv in arm.interventions if iv.name]


def valid_paths(sc: Any) -> list[str]:
    """Every concrete path the scenario accepts (for 'did you mean' hints)."""
    from .parameters import parameter_space

    out = []
    for name, spec in parameter_space().items():
        if isinstance(spec["default"], (list, tuple)):
            out += [f"parameters.{name}[{i}]" for i in range(len(spec["default"]))]
        else:
            out.append(f"parameters.{name}")
    names = set()
    for arm_name, arm in sc.arms.items():
        for key in _intervention_keys(arm):
            out += [f"arms.{arm_name}.interventions.{key}.{f}" for f in ARM_FIELDS]
        names |= {iv.name for iv in arm.interventions if iv.name}
    for n in sorted(names):
        out += [f"arms.*.interventions.{n}.{f}" for f in ARM_FIELDS]
    return out + list(FEEDBACK_FIELDS)


ALLOWED_PATHS = ("parameters.<name> or parameters.<name>[i] (see `povsim parameters`), "
                 "arms.<arm or *>.interventions.<index or name>.<field> (field: "
                 + ", ".join(ARM_FIELDS) + "), " + ", ".join(FEEDBACK_FIELDS))


def targets(sc: Any, path: str) -> list[tuple[str, ...]] | None:
    """Where ``path`` points in the scenario's data, as key tuples into its dict form
    (``("parameters", name, i)``, ``("arms", arm, "interventions", j, field...)``), or None
    if it does not resolve. ``arms.*`` gives one target per arm with that intervention."""
    from .parameters import parameter_space

    if path.startswith("parameters."):
        rest = path[len("parameters."):]
        m = _INDEX.match(rest)
        name, index = (m["name"], int(m["i"])) if m else (rest, None)
        spec = parameter_space().get(name)
        if spec is None:
            return None
        is_list = isinstance(spec["default"], (list, tuple))
        if is_list != (index is not None):
            return None
        if is_list and index >= len(spec["default"]):
            return None
        return [("parameters", name) if index is None else ("parameters", name, index)]
    if path in FEEDBACK_FIELDS:
        return [tuple(path.split("."))]
    parts = path.split(".")
    if len(parts) < 5 or parts[0] != "arms" or parts[2] != "interventions":
        return None
    arm_name, key, fld = parts[1], parts[3], ".".join(parts[4:])
    if fld not in ARM_FIELDS:
        return None
    arms = sc.arms.items() if arm_name == "*" else [(arm_name, sc.arms.get(arm_name))]
    out = []
    for a, arm in arms:
        if arm is None:
            return None
        if key.isdigit() and arm_name != "*":
            j = int(key)
            if j >= len(arm.interventions):
                return None
        else:
            js = [j for j, iv in enumerate(arm.interventions) if iv.name == key]
            if not js:
                if arm_name == "*":
                    continue
                return None
            j = js[0]
        out.append(("arms", a, "interventions", j, *fld.split(".")))
    return out or None


def scenario_data(sc: Any) -> dict[str, Any]:
    """The scenario as a plain dict without its uncertainty block (to re-validate points)."""
    data = sc.model_dump(mode="python", exclude={"uncertainty"})
    return data


def set_value(data: dict[str, Any], target: tuple, value: float) -> None:
    """Set one target (from :func:`targets`) in a scenario dict, in place."""
    from .parameters import parameter_space

    if target[0] == "parameters":
        params = data.setdefault("parameters", {})
        name = target[1]
        if len(target) == 3:
            current = params.get(name, parameter_space()[name]["default"])
            lst = [float(x) for x in current]
            lst[target[2]] = float(value)
            params[name] = lst
        else:
            params[name] = float(value)
        return
    node: Any = data
    for k in target[:-1]:
        node = node[k]
    node[target[-1]] = float(value)


def point(data: dict[str, Any], resolved: list[list[tuple]], values: np.ndarray) -> Any:
    """The scenario with the uncertain inputs set to ``values`` (validated)."""
    from .scenario import Scenario

    d = copy.deepcopy(data)
    for tgts, v in zip(resolved, values):
        for t in tgts:
            set_value(d, t, float(v))
    return Scenario.model_validate(d)


def check(sc: Any) -> None:
    """Resolve every path of ``sc.uncertainty`` and check both ends of its distribution
    against the field's own validation (raises the scenario module's one-line errors)."""
    from pydantic import ValidationError

    from .scenario import Scenario, _translate

    if not sc.uncertainty:
        return
    data = scenario_data(sc)
    seen: dict[tuple, str] = {}
    for path, spec in sc.uncertainty.items():
        where = f"uncertainty.{path}"
        tgts = targets(sc, path)
        listed = _list_length(path)
        if tgts is None and listed:
            _own(where, "a list parameter: give one element by index", path,
                 f"{path}[0] .. {path}[{listed - 1}]")
        if tgts is None:
            near = difflib.get_close_matches(path, valid_paths(sc), n=1)
            _own(where, "unknown or unsupported path", allowed=ALLOWED_PATHS,
                 hint=near[0] if near else None)
        for t in tgts:  # two inputs on one field would silently overwrite each other
            if t in seen:
                _own(where, f"sets the same field as `{seen[t]}`", allowed="one input per field")
            seen[t] = path
        lo, hi = spec.support()
        for v in (lo, hi):
            d = copy.deepcopy(data)
            for t in tgts:
                set_value(d, t, v)
            try:
                Scenario.model_validate(d)
            except ValidationError as exc:
                inner = str(_translate(exc.errors()[0], "x"))[3:]
                _own(where, f"the distribution reaches {v:.6g}, which is not allowed "
                     f"({inner})", f"{lo:.6g}..{hi:.6g}")


def _list_length(path: str) -> int:
    """Length of the list parameter ``path`` names without an index (else 0)."""
    from .parameters import parameter_space

    if not path.startswith("parameters."):
        return 0
    spec = parameter_space().get(path[len("parameters."):])
    d = spec["default"] if spec else None
    return len(d) if isinstance(d, (list, tuple)) else 0


def names(sc: Any) -> list[str]:
    """Parameter names in declaration order (the uncertainty block's keys)."""
    return list(sc.uncertainty)


def to_values(sc: Any, u: np.ndarray) -> np.ndarray:
    """Unit-hypercube rows (n, D) -> parameter values (n, D), column by column."""
    u = np.atleast_2d(np.asarray(u, dtype=float))
    out = np.empty_like(u)
    for j, spec in enumerate(sc.uncertainty.values()):
        out[:, j] = spec.ppf(u[:, j])
    return out


def is_model_path(path: str) -> bool:
    """True when the input changes the model (so the baseline arm), not only interventions."""
    return not path.startswith("arms.")
