"""The scenario schema: pydantic models of every block of a scenario file, with their bounds.

Validators word their own errors through :func:`povsim.inputs.errors.own`; the loader
(:mod:`povsim.inputs.loader`) turns the first error into one line for the CLI."""

from __future__ import annotations

import difflib
import math
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr, field_validator, model_validator

from povsim.inputs.distributions import Uncertain
from povsim.inputs.errors import (
    CONFIG,
    MAX_ARMS,
    MAX_INTERVENTIONS,
    MAX_UNCERTAIN,
    NAME_PATTERN,
    Number,
    is_name,
    own,
)
from povsim.inputs.interventions import (
    Intervention,
)
from povsim.inputs.parameters import parameter_space
from povsim.inputs.places import RESERVED, Place, PlaceError, find_place

_PARAM_HELP = "see `povsim parameters`"
FULL_SIZE = "full"  # population.size: the area's real population


class PopulationSpec(BaseModel):
    """Size and time span of the simulated population, and the area it represents."""

    model_config = CONFIG
    # Simulated persons at start, or `full`: the real population of the area, one simulated
    # person per real person (resolved by povsim.model.area.resolve_size before a run).
    size: int = Field(
        200_000,
        ge=100,
        le=20_000_000,
        description="simulated persons at the start: an integer between 100 and 20000000, or "
        "`full` (the area's real population, one simulated person per real person)",
        json_schema_extra={
            "allowed": "an integer between 100 and 20000000, or `full` (the area's real "
            "population, one simulated person per real person)"
        },
    )
    start_year: int = Field(
        2019,
        ge=1990,
        le=2100,
        description="first simulated year (calendar year; the population is England's or the "
        "area's at mid-2019 whatever it is)",
    )
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
    area_name: str | None = Field(
        None,
        min_length=1,
        max_length=80,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="1-80 characters without line breaks or control characters",
        json_schema_extra={"allowed": "1-80 characters without line breaks or control characters"},
    )  # printed in reports and tables

    @field_validator("size", mode="wrap")
    @classmethod
    def _full_size(cls, v: Any, handler: Any) -> Any:
        # `full` stays a word until the area's real population is known (model.area).
        return FULL_SIZE if v == FULL_SIZE else handler(v)

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


class Arm(BaseModel):
    model_config = CONFIG
    description: str = Field("", description="free text shown in reports; empty by default")
    interventions: list[Intervention] = Field(
        default_factory=list,
        max_length=MAX_INTERVENTIONS,
        description="a list of intervention blocks, each with a type",
        json_schema_extra={"allowed": "a list of intervention blocks, each with a type"},
    )


class CapacityLoop(BaseModel):
    """Service capacity against demand; shortage raises unmet need, deprived areas first."""

    model_config = CONFIG
    enabled: bool = Field(
        True,
        description="true: service capacity adjusts to demand with a delay (docs/model.md §7); "
        "false: the loop is off",
    )
    # Default (None): calibration/parameters.yaml `capacity_adjustment_years` and
    # `capacity_investment_delay_years` (assumptions, with their reasoning there).
    adjustment_years: Number | None = Field(None, gt=0, le=100)
    investment_delay_years: int | None = Field(
        None,
        ge=0,
        le=20,
        description="years before capacity funded by an `access` intervention's capacity_added "
        "opens; default: calibration/parameters.yaml capacity_investment_delay_years "
        "(an assumption)",
    )
    unconstrained: bool = False  # capacity always meets demand: the loop has no effect


class TrustLoop(BaseModel):
    """Community trust built by engagement; multiplies uptake where it is built."""

    model_config = CONFIG
    enabled: bool = Field(
        True,
        description="true: community engagement builds trust that multiplies uptake in its "
        "quintile (docs/model.md §7); false: the loop is off",
    )


class Feedbacks(BaseModel):
    model_config = CONFIG
    capacity: CapacityLoop = Field(
        default_factory=CapacityLoop,
        description="the service capacity loop (demand against capacity; shortage raises unmet "
        "need)",
    )
    trust: TrustLoop = Field(
        default_factory=TrustLoop, description="the community trust loop (engagement raises uptake)"
    )


class Scenario(BaseModel):
    """A validated scenario; ``parameters`` maps parameter paths to overrides."""

    model_config = CONFIG
    name: str = Field(
        pattern=NAME_PATTERN,
        description="1-64 characters from A-Z a-z 0-9 _ - (used as output folder name)",
        json_schema_extra={
            "allowed": "1-64 characters from A-Z a-z 0-9 _ - (used as output folder name)"
        },
    )
    description: str = Field("", description="free text shown in reports; empty by default")
    seed: int = Field(
        1,
        ge=0,
        lt=2**63,
        description="random seed (integer 0 to 2^63-1): the same scenario and seed give the same "
        "numbers on any machine, thread or worker count",
    )
    population: PopulationSpec = Field(
        default_factory=PopulationSpec,
        description="size, years and area of the simulated population",
    )
    parameters: dict[str, float | int | list[float]] = Field(
        default_factory=dict,
        description="overrides of model parameters by path (e.g. rr.mortality.smoking: 2.5); "
        "`povsim parameters` lists every path with its default, range and unit",
    )
    feedbacks: Feedbacks = Field(
        default_factory=Feedbacks,
        description="the two feedback loops (capacity, trust), both on by default; their "
        "parameters are assumptions",
    )
    arms: dict[str, Arm] = Field(
        default_factory=dict,
        max_length=MAX_ARMS,
        description="alternatives compared with the baseline (no new intervention), by name (1-64 "
        "characters A-Z a-z 0-9 _ -); each has a description and a list of "
        "interventions",
    )
    calibration: LocalCalibration | None = None  # local targets (area: local only)
    # Uncertain inputs for `povsim sensitivity`, by path (see uncertainty.py); ignored by run.
    uncertainty: dict[str, Uncertain] = Field(default_factory=dict, max_length=MAX_UNCERTAIN)
    source_path: str | None = None  # set by the loader, rejected in YAML
    _files: tuple[str, ...] = PrivateAttr(default=())  # the file and its extends chain

    def input_files(self) -> tuple[str, ...]:
        """Every file this scenario was read from or names (see :func:`named_files`)."""
        return named_files(self)

    @model_validator(mode="after")
    def _check_calibration(self) -> Scenario:
        cal = self.calibration
        if cal is not None and cal.targets is not None and self.population.area == "england":
            own(
                "calibration",
                "local calibration targets need population.area: local or a place",
                cal.targets,
                "remove calibration, or set population.area: local or a place",
            )
        return self

    @field_validator("arms")
    @classmethod
    def _check_arm_names(cls, value: dict[str, Arm]) -> dict[str, Arm]:
        for name in value:
            if name == "baseline" or not is_name(name):
                own(
                    f"arms.{name}", "arm names are 1-64 of A-Z a-z 0-9 _ - and not `baseline`", name
                )
        return value

    @field_validator("parameters", mode="before")
    @classmethod
    def _check_parameters(cls, value: Any) -> Any:
        return check_parameter_overrides(value)


def named_files(model: Any) -> tuple[str, ...]:
    """The files a loaded scenario or compare file was read from (itself and its ``extends``
    chain) and the files it names (composition, local targets and fit), for output-folder
    checks and sweep fingerprints."""
    named = [model.population.composition]
    if model.calibration is not None:
        named += [model.calibration.targets, model.calibration.fitted_path()]
    return tuple(dict.fromkeys([*model._files, *(n for n in named if n)]))


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
