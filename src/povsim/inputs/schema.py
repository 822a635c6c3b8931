"""The scenario schema: pydantic models of every block of a scenario file, with their bounds.

Validators word their own errors through :func:`povsim.inputs.errors.own`; the loader
(:mod:`povsim.inputs.loader`) turns the first error into one line for the CLI."""

from __future__ import annotations

import difflib
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from povsim.inputs.distributions import Uncertain
from povsim.inputs.errors import Number, own
from povsim.inputs.parameters import parameter_space
from povsim.inputs.places import RESERVED, Place, PlaceError, find_place

NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"  # names that become folder and file names
_PARAM_HELP = "see `povsim parameters`"

# strict=True: YAML `true` must not pass as the integer 1, nor "5" as 5.
CONFIG = ConfigDict(extra="forbid", strict=True)


class PopulationSpec(BaseModel):
    """Size and time span of the simulated population, and the area it represents."""

    model_config = CONFIG
    size: int = Field(200_000, ge=100, le=20_000_000)  # simulated persons at start
    start_year: int = Field(2019, ge=1990, le=2100)
    horizon: int = Field(30, ge=1, le=100)  # years simulated
    births: bool = True  # open population so period life tables have every age
    # england: mid-2019 England in equal quintile fifths (calibration/
    # composition_england_mid2019.csv); local: the persons of `composition`; otherwise a real
    # place by name or ONS code (an ICB, sub-ICB location or local authority; see places.py),
    # stored as its code once validated.
    area: str = Field("england", min_length=1, max_length=120)
    # CSV of real persons by sex, age band and IMD quintile (see composition.py); a path
    # relative to the scenario file that names it. Required for local, refused otherwise.
    composition: str | None = Field(None, min_length=1)
    area_name: str | None = Field(None, min_length=1, max_length=80)  # for reports

    @model_validator(mode="after")
    def _check_area(self) -> PopulationSpec:
        if self.area == "local" and self.composition is None:
            own(
                "composition",
                "required when area is `local`",
                None,
                "a CSV path (sex, age_min, age_max, quintile, count), relative to the scenario",
            )
        if self.area != "local" and self.composition is not None:
            own(
                "composition",
                "only used with area: local (England's and every shipped place's composition "
                "is built in)",
                self.composition,
                "remove it, or set area: local",
            )
        if self.area not in RESERVED:
            try:
                self.area = find_place(self.area).code
            except PlaceError as exc:
                own("area", exc.problem, exc.got, exc.allowed, exc.hint)
        return self

    def is_place(self) -> bool:
        """True when the area is a shipped real place (ICB, sub-ICB or local authority)."""
        return self.area not in RESERVED

    def place(self) -> Place | None:
        """The shipped place the area names, or None for england / local."""
        return find_place(self.area) if self.is_place() else None

    def label(self) -> str:
        """Name of the area for reports."""
        if self.area_name:
            return self.area_name
        place = self.place()
        if place is not None:
            return place.label
        return "England" if self.area == "england" else "the area"


class LocalCalibration(BaseModel):
    """How the run treats the calibration: ``refit`` and (local areas) LE/HLE targets."""

    model_config = CONFIG
    # false (default): a relative-risk override in `parameters:` is a what-if with the
    # calibration kept (normalisers fitted with the calibration's risks); true: refit the
    # normalisers with the scenario's risks (every cell stays on its target; the override
    # is absorbed into the quintile residuals and moves only who, within a cell, dies).
    refit: bool = False
    # CSV: measure (le0/hle0), sex, quintile (1..5 or all), value, period, source.
    targets: str | None = Field(None, min_length=1)
    # Written by `povsim calibrate --scenario FILE`, read by `povsim run`; default: the
    # targets path with `.fitted.yaml` in place of `.csv`.
    fitted: str | None = Field(None, min_length=1)

    def fitted_path(self) -> str:
        if self.fitted:
            return self.fitted
        if self.targets is None:
            return ""
        base = self.targets[:-4] if self.targets.lower().endswith(".csv") else self.targets
        return base + ".fitted.yaml"


class Targeting(BaseModel):
    """Who is offered the intervention, by IMD quintile (1 = most deprived)."""

    model_config = CONFIG
    rule: Literal["universal", "core20", "proportionate", "quintiles"] = "universal"
    quintiles: list[int] | None = None  # for rule `quintiles`
    weights: list[Number] | None = None  # for rule `proportionate`: relative coverage Q1..Q5

    @model_validator(mode="after")
    def _check(self) -> Targeting:
        # A field that the rule ignores is a mistake the user should hear about.
        if self.quintiles is not None and self.rule != "quintiles":
            own(
                "quintiles",
                "only used with rule `quintiles`",
                self.quintiles,
                f"remove it, or set rule: quintiles (rule is `{self.rule}`)",
            )
        if self.weights is not None and self.rule != "proportionate":
            own(
                "weights",
                "only used with rule `proportionate`",
                self.weights,
                f"remove it, or set rule: proportionate (rule is `{self.rule}`)",
            )
        if self.rule == "quintiles":
            if not self.quintiles:
                own("quintiles", "required when rule is `quintiles`", None, "a list from 1..5")
            for q in self.quintiles:
                if q not in (1, 2, 3, 4, 5):
                    own("quintiles", "unknown quintile", q, "1, 2, 3, 4, 5")
        if self.rule == "proportionate":
            w = self.weights
            if (
                w is None
                or len(w) != 5
                or any(isinstance(x, bool) or x < 0 for x in w)
                or max(w) <= 0
            ):
                own(
                    "weights",
                    "must be 5 non-negative weights (Q1..Q5), not all zero",
                    w,
                    "e.g. [5, 4, 3, 2, 1]",
                )
        return self

    def quintile_weights(self) -> list[float]:
        """Relative coverage by quintile, the largest being 1."""
        if self.rule == "universal":
            return [1.0] * 5
        if self.rule == "core20":
            return [1.0, 0.0, 0.0, 0.0, 0.0]
        if self.rule == "quintiles":
            return [1.0 if q in (self.quintiles or []) else 0.0 for q in range(1, 6)]
        top = max(self.weights or [1.0])
        return [float(x) / top for x in self.weights or []]


class Cost(BaseModel):
    """Costs in £ (prices of the start year)."""

    model_config = CONFIG
    fixed_per_year: Number = Field(0.0, ge=0)
    per_participant: Number = Field(0.0, ge=0)
    # Unit cost rises linearly from per_participant to per_participant x (1 + this) as a
    # year's reach goes from the first eligible person to all of them (harder to reach).
    diminishing_returns: Number = Field(0.0, ge=0, le=100)
    source: str = ""


class Eligibility(BaseModel):
    """Person-level conditions besides quintile; all that are set must hold."""

    model_config = CONFIG
    age_min: int = Field(0, ge=0, le=100)
    age_max: int = Field(100, ge=0, le=100)
    in_poverty: bool = False
    with_children: bool = False  # households with children: persons aged 0-15 and adults 20-49
    with_ltc: bool = False  # at least one long-term condition


BEHAVIOURS = ("smoking", "activity", "weight", "alcohol")


class Intervention(BaseModel):
    """One intervention block. ``effect`` means, by type:
    income: £ per year added to each participating household's equivalised income;
    housing: probability that a retrofit ends the cold/damp exposure;
    behaviour: probability that a participant changes (quits, becomes active, ...) for a year;
    access: mortality multiplier for participants (e.g. 0.87); see ``ltc_multiplier``;
    community: probability that a participant's loneliness resolves;
    employment: probability that a participant out of work (working age) enters work."""

    model_config = CONFIG
    type: Literal["income", "housing", "behaviour", "access", "community", "employment"]
    name: str | None = Field(
        None, pattern=NAME_PATTERN, description="1-64 characters from A-Z a-z 0-9 _ -"
    )
    behaviour: Literal["smoking", "activity", "weight", "alcohol"] | None = None
    start_year: int = Field(ge=1990, le=2200)
    end_year: int = Field(ge=1990, le=2200)
    ramp_up_years: int = Field(0, ge=0, le=50)
    targeting: Targeting = Field(default_factory=Targeting)
    eligibility: Eligibility = Field(default_factory=Eligibility)
    coverage: Number = Field(1.0, ge=0, le=1)
    uptake: Number = Field(1.0, ge=0, le=1)
    effect: Number = Field(ge=0)
    effect_source: str = Field(min_length=1)
    ltc_multiplier: Number = Field(1.0, gt=0, le=1)
    capacity_added: Number = Field(0.0, ge=0)  # access: appointments per year added to capacity
    decay: Number = Field(0.0, ge=0, le=1)  # yearly probability the benefit is lost
    cost: Cost = Field(default_factory=Cost)
    capacity: Number | None = Field(None, gt=0)  # most participants a year (real persons)
    # £ a year available (real population): caps participants at what it pays for, after
    # the fixed cost and any treatment continuing from earlier years.
    budget_per_year: Number | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> Intervention:
        if self.end_year < self.start_year:
            own(
                "end_year",
                "must not be before start_year",
                self.end_year,
                f">= start_year ({self.start_year})",
            )
        if self.type == "behaviour" and self.behaviour is None:
            own("behaviour", "required for type behaviour", None, ", ".join(BEHAVIOURS))
        if self.type != "behaviour" and self.behaviour is not None:
            own("behaviour", "only for type behaviour", self.behaviour)
        if self.type in ("housing", "behaviour", "community", "employment") and self.effect > 1:
            own("effect", "is a probability for this type", self.effect, "0..1")
        if self.type == "access" and self.effect > 1:
            own("effect", "is a mortality multiplier for access", self.effect, "0..1")
        if self.type != "access" and self.capacity_added > 0:
            own("capacity_added", "only used by type access", self.capacity_added, "0")
        if self.type != "access" and self.ltc_multiplier != 1:
            own("ltc_multiplier", "only used by type access", self.ltc_multiplier, "1")
        if self.eligibility.age_max < self.eligibility.age_min:
            own("eligibility.age_max", "must not be below age_min", self.eligibility.age_max)
        return self


class Arm(BaseModel):
    model_config = CONFIG
    description: str = ""
    interventions: list[Intervention] = Field(default_factory=list)


class CapacityLoop(BaseModel):
    """Service capacity against demand; shortage raises unmet need, deprived areas first."""

    model_config = CONFIG
    enabled: bool = True
    # Default (None): calibration/parameters.yaml `capacity_adjustment_years` and
    # `capacity_investment_delay_years` (assumptions, with their reasoning there).
    adjustment_years: Number | None = Field(None, gt=0)
    investment_delay_years: int | None = Field(None, ge=0, le=20)
    unconstrained: bool = False  # capacity always meets demand: the loop has no effect


class TrustLoop(BaseModel):
    """Community trust built by engagement; multiplies uptake where it is built."""

    model_config = CONFIG
    enabled: bool = True


class Feedbacks(BaseModel):
    model_config = CONFIG
    capacity: CapacityLoop = Field(default_factory=CapacityLoop)
    trust: TrustLoop = Field(default_factory=TrustLoop)


class Scenario(BaseModel):
    """A validated scenario; ``parameters`` maps parameter paths to overrides."""

    model_config = CONFIG
    name: str = Field(
        pattern=NAME_PATTERN,
        description="1-64 characters from A-Z a-z 0-9 _ - (used as output folder name)",
    )
    description: str = ""
    seed: int = Field(1, ge=0, lt=2**63)
    population: PopulationSpec = Field(default_factory=PopulationSpec)
    parameters: dict[str, float | int | list[float]] = Field(default_factory=dict)
    feedbacks: Feedbacks = Field(default_factory=Feedbacks)
    arms: dict[str, Arm] = Field(default_factory=dict)
    calibration: LocalCalibration | None = None  # local targets (area: local only)
    # Uncertain inputs for `povsim sensitivity`, by path (see uncertainty.py); ignored by run.
    uncertainty: dict[str, Uncertain] = Field(default_factory=dict)
    source_path: str | None = None  # set by the loader, rejected in YAML

    @model_validator(mode="after")
    def _check_calibration(self) -> Scenario:
        cal = self.calibration
        if cal is not None and cal.targets is not None and self.population.area == "england":
            own(
                "calibration",
                "local calibration targets need population.area: local or a place",
                self.calibration.targets,
                "remove calibration, or set population.area: local or a place",
            )
        return self

    @field_validator("arms")
    @classmethod
    def _check_arm_names(cls, value: dict[str, Arm]) -> dict[str, Arm]:
        import re

        for name in value:
            if name == "baseline" or not re.match(NAME_PATTERN, name):
                own(
                    f"arms.{name}", "arm names are 1-64 of A-Z a-z 0-9 _ - and not `baseline`", name
                )
        return value

    @field_validator("parameters", mode="before")
    @classmethod
    def _check_parameters(cls, value: Any) -> Any:
        return check_parameter_overrides(value)


def check_parameter_overrides(value: Any) -> Any:
    """Validate a ``parameters:`` mapping (path -> value) against :func:`parameter_space`."""
    if not isinstance(value, dict):
        own("parameters", "must be a mapping of parameter path to value", value, _PARAM_HELP)
    if not value:
        return value
    space = parameter_space()  # only read calibration/ when something is overridden
    for key, given in value.items():
        path = f"parameters.{key}"
        spec = space.get(key) if isinstance(key, str) else None
        if spec is None:
            near = difflib.get_close_matches(str(key), list(space), n=1)
            own(path, "unknown parameter path", allowed=_PARAM_HELP, hint=near[0] if near else None)
        default = spec["default"]
        if isinstance(default, (list, tuple)):
            if not isinstance(given, list) or len(given) != len(default):
                own(
                    path,
                    f"must be a list of {len(default)} numbers",
                    given,
                    f"{len(default)} values in {_range(spec)}",
                )
            for i, item in enumerate(given):
                _check_number(f"{path}[{i}]", item, spec)
        else:
            _check_number(path, given, spec)
    return value


def _range(spec: dict[str, Any]) -> str:
    lo, hi = spec.get("min"), spec.get("max")
    text = (
        "any finite number"
        if lo is None and hi is None
        else f">= {lo}"
        if hi is None
        else f"<= {hi}"
        if lo is None
        else f"{lo}..{hi}"
    )
    return f"{text} ({spec['unit']})" if spec.get("unit") else text


def _check_number(path: str, value: Any, spec: dict[str, Any]) -> None:
    # bool is an int subclass in Python, but `true` is never a meaningful rate or ratio.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        problem = (
            "must be a number, not true/false"
            if isinstance(value, bool)
            else "must be a finite number"
        )
        own(path, problem, value, _range(spec))
    lo, hi = spec.get("min"), spec.get("max")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        own(path, "out of range", value, _range(spec))
