"""Distributions of uncertain inputs (the ``uncertainty:`` block): their parameters, checks
and quantile functions. See :mod:`povsim.inputs.uncertainty` for the paths they attach to."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from povsim.inputs.errors import Number, own

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
BETA_SHAPE = (0.01, 10_000.0)
NUMERIC = ("min", "max", "mode", "mean", "sd", "low", "high", "alpha", "beta")
# Intervention fields that can be uncertain (numbers only; integers such as years cannot).
ARM_FIELDS = (
    "effect",
    "coverage",
    "uptake",
    "decay",
    "ltc_multiplier",
    "capacity",
    "capacity_added",
    "cost.per_participant",
    "cost.fixed_per_year",
)
FEEDBACK_FIELDS = ("feedbacks.capacity.adjustment_years",)


class Uncertain(BaseModel):
    """One uncertain input: a distribution and the source of its range.

    uniform(min, max); triangular(min, mode, max); normal(mean, sd);
    truncnorm(mean, sd, min, max) (a normal cut to [min, max]); lognormal(low, high), where
    low and high are the 2.5% and 97.5% quantiles (e.g. a relative risk's 95% CI);
    beta(alpha, beta) on [min, max] (default [0, 1]). Units are those of the field.
    """

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    dist: Literal["uniform", "triangular", "normal", "truncnorm", "lognormal", "beta"] = Field(
        description="the distribution: uniform(min, max), triangular(min, mode, max), normal(mean,"
        " sd), truncnorm(mean, sd, min, max), lognormal(low, high), beta(alpha, beta) "
        "on [min, max]"
    )
    min: Number | None = Field(
        None,
        description="lower bound (uniform, triangular, truncnorm; beta's support, default 0); "
        "units of the field",
    )
    max: Number | None = Field(
        None,
        description="upper bound (uniform, triangular, truncnorm; beta's support, default 1); "
        "units of the field",
    )
    mode: Number | None = Field(
        None, description="most likely value (triangular); units of the field"
    )
    mean: Number | None = Field(None, description="mean (normal, truncnorm); units of the field")
    sd: Number | None = Field(
        None, description="standard deviation (normal, truncnorm), > 0; units of the field"
    )
    low: Number | None = Field(
        None,
        description="2.5% quantile (lognormal; e.g. the lower end of a relative risk's 95% CI), > "
        "0",
    )
    high: Number | None = Field(
        None,
        description="97.5% quantile (lognormal; e.g. the upper end of a relative risk's 95% CI), >"
        " low",
    )
    alpha: Number | None = Field(None, description="first shape parameter (beta), > 0")
    beta: Number | None = Field(None, description="second shape parameter (beta), > 0")
    source: str = Field(
        min_length=1,
        description="publication, year and table, or 'assumption: why' (a non-empty string)",
        json_schema_extra={
            "allowed": "publication, year and table, or 'assumption: why' (a non-empty string)"
        },
    )

    @model_validator(mode="after")
    def _check(self) -> Uncertain:
        need = NEEDS[self.dist]
        allowed = need + OPTIONAL.get(self.dist, ())
        for name in NUMERIC:
            v = getattr(self, name)
            if v is None:
                if name in need:
                    own(
                        name,
                        f"required for dist {self.dist}",
                        None,
                        f"dist {self.dist} takes " + ", ".join(allowed),
                    )
                continue
            if name not in allowed:
                own(
                    name,
                    f"not used by dist {self.dist}",
                    v,
                    f"dist {self.dist} takes " + ", ".join(allowed),
                )
            if isinstance(v, bool) or not math.isfinite(v):
                own(name, "must be a finite number", v)
        lo, hi = self.min, self.max
        if self.dist == "beta":
            lo = 0.0 if lo is None else lo
            hi = 1.0 if hi is None else hi
        if lo is not None and hi is not None and not lo < hi:
            own("max", "must be greater than min", hi, f"> {lo}")
        if self.dist == "triangular" and not self._v("min") <= self._v("mode") <= self._v("max"):
            own("mode", "must lie between min and max", self._v("mode"), f"{lo}..{hi}")
        if self.dist in ("normal", "truncnorm") and not self._v("sd") > 0:
            own("sd", "must be positive", self._v("sd"), "> 0")
        if self.dist == "truncnorm" and not self._v("min") <= self._v("mean") <= self._v("max"):
            own("mean", "must lie between min and max", self._v("mean"), f"{lo}..{hi}")
        if self.dist == "lognormal":
            if not self._v("low") > 0:
                own("low", "must be positive (a lognormal quantile)", self._v("low"), "> 0")
            if not self._v("high") > self._v("low"):
                own("high", "must be greater than low", self._v("high"), f"> {self.low}")
        if self.dist == "beta":
            # Below 0.01 nearly all mass sits at the two ends; above 10,000 the prior is a
            # point (and the quantile function loses precision): neither is a real prior.
            for name in ("alpha", "beta"):
                if not getattr(self, name) > 0:
                    own(name, "must be positive", getattr(self, name), "> 0")
                if not BETA_SHAPE[0] <= getattr(self, name) <= BETA_SHAPE[1]:
                    own(
                        name,
                        "must be a beta shape parameter from 0.01 to 10,000",
                        getattr(self, name),
                        "0.01..10000",
                    )
        return self

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantile function: unit-interval draws -> values (clipped to [EPS, 1 - EPS]).
        Overflow to infinity is not warned about: the ends are checked against the field's
        bounds, and an infinite end is refused there in one line."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._quantiles(u)

    def _quantiles(self, u: np.ndarray) -> np.ndarray:
        from scipy import stats

        u = np.clip(np.asarray(u, dtype=float), EPS, 1.0 - EPS)
        d = self.dist
        if d == "uniform":
            return self._v("min") + u * (self._v("max") - self._v("min"))
        if d == "triangular":
            width = self._v("max") - self._v("min")
            return stats.triang.ppf(
                u, (self._v("mode") - self._v("min")) / width, self._v("min"), width
            )
        if d == "normal":
            return stats.norm.ppf(u, self._v("mean"), self._v("sd"))
        if d == "truncnorm":
            a, b = (
                (self._v("min") - self._v("mean")) / self._v("sd"),
                (self._v("max") - self._v("mean")) / self._v("sd"),
            )
            return stats.truncnorm.ppf(u, a, b, loc=self._v("mean"), scale=self._v("sd"))
        if d == "lognormal":
            mu, sigma = self.log_params()
            return np.exp(mu + sigma * stats.norm.ppf(u))
        lo = 0.0 if self.min is None else self._v("min")
        hi = 1.0 if self.max is None else self._v("max")
        return lo + (hi - lo) * stats.beta.ppf(u, self._v("alpha"), self._v("beta"))

    def _v(self, name: str) -> float:
        """A numeric field the distribution needs (set: the checks above require it)."""
        v = getattr(self, name)
        assert v is not None, name
        return v

    def log_params(self) -> tuple[float, float]:
        """(mu, sigma) of log X for lognormal: low/high are its 2.5% / 97.5% quantiles."""
        z = 1.959963984540054
        lo, hi = math.log(self._v("low")), math.log(self._v("high"))
        return (lo + hi) / 2.0, (hi - lo) / (2.0 * z)

    def support(self) -> tuple[float, float]:
        """Smallest and largest value a sample can take."""
        ends = self.ppf(np.array([0.0, 1.0]))
        return float(ends[0]), float(ends[1])


# --- paths -------------------------------------------------------------------------------
