"""Scenario files: YAML -> validated :class:`Scenario`; every problem is one :class:`ScenarioError`
line (first error only) that the CLI prints as-is before exiting 2."""
from __future__ import annotations

import copy
import difflib
import math
import os
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)
from pydantic_core import PydanticCustomError

from povsim.parameters import parameter_space
from povsim.uncertainty import Uncertain

_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_PARAM_HELP = "see `povsim parameters`"
_OWN = "povsim_scenario"  # pydantic error type for errors this module words itself


class ScenarioError(Exception):
    """One-line message: '<file>: <field.path>: <problem>; got <value>; allowed <what>'
    (+ ' (did you mean `x`?)' for unknown keys)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))  # guarantee a single line


# strict=True: YAML `true` must not pass as the integer 1, nor "5" as 5.
_CONFIG = ConfigDict(extra="forbid", strict=True)


class PopulationSpec(BaseModel):
    """Size and time span of the simulated population, and the area it represents."""

    model_config = _CONFIG
    size: int = Field(200_000, ge=100, le=20_000_000)  # simulated persons at start
    start_year: int = Field(2019, ge=1990, le=2100)
    horizon: int = Field(30, ge=1, le=100)  # years simulated
    births: bool = True  # open population so period life tables have every age
    # england: mid-2019 England in equal quintile fifths (calibration/
    # composition_england_mid2019.csv); local: the persons of `composition`.
    area: Literal["england", "local"] = "england"
    # CSV of real persons by sex, age band and IMD quintile (see composition.py); a path
    # relative to the scenario file that names it. Required for local, refused for england.
    composition: str | None = Field(None, min_length=1)
    area_name: str | None = Field(None, min_length=1, max_length=80)  # for reports

    @model_validator(mode="after")
    def _check_area(self) -> "PopulationSpec":
        if self.area == "local" and self.composition is None:
            _own("composition", "required when area is `local`", None,
                 "a CSV path (sex, age_min, age_max, quintile, count), relative to the scenario")
        if self.area == "england" and self.composition is not None:
            _own("composition", "only used with area: local (England's composition is built "
                 "in)", self.composition, "remove it, or set area: local")
        return self

    def label(self) -> str:
        """Name of the area for reports."""
        return self.area_name or ("England" if self.area == "england" else "the area")


class LocalCalibration(BaseModel):
    """Local LE/HLE targets by quintile and sex (see calibrate_local.py)."""

    model_config = _CONFIG
    # CSV: measure (le0/hle0), sex, quintile (1..5 or all), value, period, source.
    targets: str = Field(min_length=1)
    # Written by `povsim calibrate --scenario FILE`, read by `povsim run`; default: the
    # targets path with `.fitted.yaml` in place of `.csv`.
    fitted: str | None = Field(None, min_length=1)

    def fitted_path(self) -> str:
        if self.fitted:
            return self.fitted
        base = self.targets[:-4] if self.targets.lower().endswith(".csv") else self.targets
        return base + ".fitted.yaml"


Number = float | int


class Targeting(BaseModel):
    """Who is offered the intervention, by IMD quintile (1 = most deprived)."""

    model_config = _CONFIG
    rule: Literal["universal", "core20", "proportionate", "quintiles"] = "universal"
    quintiles: list[int] | None = None  # for rule `quintiles`
    weights: list[Number] | None = None  # for rule `proportionate`: relative coverage Q1..Q5

    @model_validator(mode="after")
    def _check(self) -> "Targeting":
        # A field that the rule ignores is a mistake the user should hear about.
        if self.quintiles is not None and self.rule != "quintiles":
            _own("quintiles", "only used with rule `quintiles`", self.quintiles,
                 f"remove it, or set rule: quintiles (rule is `{self.rule}`)")
        if self.weights is not None and self.rule != "proportionate":
            _own("weights", "only used with rule `proportionate`", self.weights,
                 f"remove it, or set rule: proportionate (rule is `{self.rule}`)")
        if self.rule == "quintiles":
            if not self.quintiles:
                _own("quintiles", "required when rule is `quintiles`", None, "a list from 1..5")
            for q in self.quintiles:
                if q not in (1, 2, 3, 4, 5):
                    _own("quintiles", "unknown quintile", q, "1, 2, 3, 4, 5")
        if self.rule == "proportionate":
            w = self.weights
            if w is None or len(w) != 5 or any(isinstance(x, bool) or x < 0 for x in w) \
                    or max(w) <= 0:
                _own("weights", "must be 5 non-negative weights (Q1..Q5), not all zero", w,
                     "e.g. [5, 4, 3, 2, 1]")
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

    model_config = _CONFIG
    fixed_per_year: Number = Field(0.0, ge=0)
    per_participant: Number = Field(0.0, ge=0)
    # Unit cost rises linearly from per_participant to per_participant x (1 + this) as a
    # year's reach goes from the first eligible person to all of them (harder to reach).
    diminishing_returns: Number = Field(0.0, ge=0, le=100)
    source: str = ""


class Eligibility(BaseModel):
    """Person-level conditions besides quintile; all that are set must hold."""

    model_config = _CONFIG
    age_min: int = Field(0, ge=0, le=100)
    age_max: int = Field(100, ge=0, le=100)
    in_poverty: bool = False
    with_children: bool = False  # households with children: persons aged 0-15 and adults 20-49
    with_ltc: bool = False       # at least one long-term condition


BEHAVIOURS = ("smoking", "activity", "weight", "alcohol")


class Intervention(BaseModel):
    """One intervention block. ``effect`` means, by type:
    income: £ per year added to each participating household's equivalised income;
    housing: probability that a retrofit ends the cold/damp exposure;
    behaviour: probability that a participant changes (quits, becomes active, ...) for a year;
    access: mortality multiplier for participants (e.g. 0.87); see ``ltc_multiplier``;
    community: probability that a participant's loneliness resolves;
    employment: probability that a participant out of work (working age) enters work."""

    model_config = _CONFIG
    type: Literal["income", "housing", "behaviour", "access", "community", "employment"]
    name: str | None = Field(None, pattern=_NAME_PATTERN,
                             description="1-64 characters from A-Z a-z 0-9 _ -")
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
    def _check(self) -> "Intervention":
        if self.end_year < self.start_year:
            _own("end_year", "must not be before start_year", self.end_year,
                 f">= start_year ({self.start_year})")
        if self.type == "behaviour" and self.behaviour is None:
            _own("behaviour", "required for type behaviour", None, ", ".join(BEHAVIOURS))
        if self.type != "behaviour" and self.behaviour is not None:
            _own("behaviour", "only for type behaviour", self.behaviour)
        if self.type in ("housing", "behaviour", "community", "employment") and self.effect > 1:
            _own("effect", "is a probability for this type", self.effect, "0..1")
        if self.type == "access" and self.effect > 1:
            _own("effect", "is a mortality multiplier for access", self.effect, "0..1")
        if self.type != "access" and self.capacity_added > 0:
            _own("capacity_added", "only used by type access", self.capacity_added, "0")
        if self.type != "access" and self.ltc_multiplier != 1:
            _own("ltc_multiplier", "only used by type access", self.ltc_multiplier, "1")
        if self.eligibility.age_max < self.eligibility.age_min:
            _own("eligibility.age_max", "must not be below age_min", self.eligibility.age_max)
        return self


class Arm(BaseModel):
    model_config = _CONFIG
    description: str = ""
    interventions: list[Intervention] = Field(default_factory=list)


class CapacityLoop(BaseModel):
    """Service capacity against demand; shortage raises unmet need, deprived areas first."""

    model_config = _CONFIG
    enabled: bool = True
    # Assumptions (no UK estimate found): workforce and premises take about five years to
    # follow demand (GP training alone is 3 years after foundation), and new investment
    # takes two years to become capacity. Set in scenarios/baseline.yaml.
    adjustment_years: Number = Field(5.0, gt=0)
    investment_delay_years: int = Field(2, ge=0, le=20)
    unconstrained: bool = False  # capacity always meets demand: the loop has no effect


class TrustLoop(BaseModel):
    """Community trust built by engagement; multiplies uptake where it is built."""

    model_config = _CONFIG
    enabled: bool = True


class Feedbacks(BaseModel):
    model_config = _CONFIG
    capacity: CapacityLoop = Field(default_factory=CapacityLoop)
    trust: TrustLoop = Field(default_factory=TrustLoop)


class Scenario(BaseModel):
    """A validated scenario; ``parameters`` maps parameter paths to overrides."""

    model_config = _CONFIG
    name: str = Field(pattern=_NAME_PATTERN,
                      description="1-64 characters from A-Z a-z 0-9 _ - (used as output folder name)")
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
    def _check_calibration(self) -> "Scenario":
        if self.calibration is not None and self.population.area != "local":
            _own("calibration", "local calibration targets need population.area: local",
                 self.calibration.targets, "remove calibration, or set population.area: local")
        return self

    @model_validator(mode="after")
    def _check_uncertainty(self) -> "Scenario":
        from povsim.uncertainty import check

        check(self)  # paths resolve; both ends of each distribution pass the field's checks
        return self

    @field_validator("arms")
    @classmethod
    def _check_arm_names(cls, value: dict[str, Arm]) -> dict[str, Arm]:
        import re
        for name in value:
            if name == "baseline" or not re.match(_NAME_PATTERN, name):
                _own(f"arms.{name}", "arm names are 1-64 of A-Z a-z 0-9 _ - and not `baseline`",
                     name)
        return value

    @field_validator("parameters", mode="before")
    @classmethod
    def _check_parameters(cls, value: Any) -> Any:
        return check_parameter_overrides(value)


def check_parameter_overrides(value: Any) -> Any:
    """Validate a ``parameters:`` mapping (path -> value) against :func:`parameter_space`."""
    if not isinstance(value, dict):
        _own("parameters", "must be a mapping of parameter path to value", value, _PARAM_HELP)
    if not value:
        return value
    space = parameter_space()  # only read calibration/ when something is overridden
    for key, given in value.items():
        path = f"parameters.{key}"
        spec = space.get(key) if isinstance(key, str) else None
        if spec is None:
            near = difflib.get_close_matches(str(key), list(space), n=1)
            _own(path, "unknown parameter path", allowed=_PARAM_HELP, hint=near[0] if near else None)
        default = spec["default"]
        if isinstance(default, (list, tuple)):
            if not isinstance(given, list) or len(given) != len(default):
                _own(path, f"must be a list of {len(default)} numbers", given,
                     f"{len(default)} values in {_range(spec)}")
            for i, item in enumerate(given):
                _check_number(f"{path}[{i}]", item, spec)
        else:
            _check_number(path, given, spec)
    return value


def _range(spec: dict[str, Any]) -> str:
    lo, hi = spec.get("min"), spec.get("max")
    text = ("any finite number" if lo is None and hi is None else
            f">= {lo}" if hi is None else f"<= {hi}" if lo is None else f"{lo}..{hi}")
    return f"{text} ({spec['unit']})" if spec.get("unit") else text


def _check_number(path: str, value: Any, spec: dict[str, Any]) -> None:
    # bool is an int subclass in Python, but `true` is never a meaningful rate or ratio.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        problem = "must be a number, not true/false" if isinstance(value, bool) else "must be a finite number"
        _own(path, problem, value, _range(spec))
    lo, hi = spec.get("min"), spec.get("max")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        _own(path, "out of range", value, _range(spec))


def _own(path: str, problem: str, got: Any = ..., allowed: str | None = None,
         hint: str | None = None) -> None:
    """Raise a pydantic error that carries our own wording (and a deeper path)."""
    raise PydanticCustomError(_OWN, problem, {"path": path, "problem": problem, "got": got,
                                             "allowed": allowed, "hint": hint})


def _show(value: Any) -> str:
    """A short YAML-flavoured rendering of a user value."""
    text = {None: "null", True: "true", False: "false"}[value] \
        if value is None or isinstance(value, bool) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _error(source: str, path: str | None, problem: str, got: Any = ...,
           allowed: str | None = None, hint: str | None = None) -> ScenarioError:
    msg = f"{source}: {path}: {problem}" if path else f"{source}: {problem}"
    msg += (f"; got {_show(got)}" if got is not ... else "") + (f"; allowed {allowed}" if allowed else "")
    return ScenarioError(msg + (f" (did you mean `{hint}`?)" if hint else ""))


def _keys(model: type[BaseModel]) -> list[str]:
    keys = [k for k in model.model_fields if k != "source_path"]
    # Top-level file models (they have source_path) may also say `extends`.
    return keys + ["extends"] if "source_path" in model.model_fields else keys


def _expect(field: Any) -> str:
    """Human description of what a field accepts, derived from its type and bounds."""
    if field.description:
        return field.description
    ann = field.annotation
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "a mapping with keys " + ", ".join(_keys(ann))
    if ann is bool:
        return "true or false"
    if ann is int or ann == Number or ann == (Number | None):
        lo = next((m.ge for m in field.metadata if hasattr(m, "ge")), None)
        lo = next((f"more than {m.gt}" for m in field.metadata if hasattr(m, "gt")), lo)
        hi = next((m.le for m in field.metadata if hasattr(m, "le")), None)
        hi = next((m.lt - 1 for m in field.metadata if hasattr(m, "lt")), hi)
        kind = "an integer" if ann is int else "a number"
        if lo is not None and hi is not None:
            return f"{kind} between {lo} and {hi}"
        if lo is not None:
            return f"{kind} {lo if isinstance(lo, str) else f'>= {lo}'}"
        return kind
    return "a string" if ann is str else str(ann)


def _model_at(loc: tuple[Any, ...], root: type[BaseModel] | None = None) -> Any:
    """The pydantic model (or None) that owns the last key of ``loc``, walking through
    nested models, ``dict[str, Model]`` and ``list[Model]`` annotations."""
    ann: Any = root or Scenario
    for part in loc[:-1]:
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            field = ann.model_fields.get(part)
            ann = field.annotation if field else None
        elif get_origin(ann) is dict:
            ann = get_args(ann)[1]
        elif get_origin(ann) is list:
            ann = get_args(ann)[0]
        else:
            return None
        while get_origin(ann) in (Union, UnionType):  # Optional[Model] -> Model
            ann = next((a for a in get_args(ann) if a is not type(None)), None)
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _translate(err: dict[str, Any], source: str,
               root: type[BaseModel] | None = None) -> ScenarioError:
    """Turn pydantic's first error into our one-line wording."""
    loc = tuple(err["loc"])
    path = ".".join(str(part) for part in loc)
    if err["type"] == _OWN:
        ctx = err["ctx"]
        own = ctx["path"]
        # Validators of nested models word paths relative to their model.
        full = path if not own else own if not path or own.startswith(path) else f"{path}.{own}"
        return _error(source, full, ctx["problem"], ctx["got"], ctx["allowed"], ctx["hint"])
    model = _model_at(loc, root)
    if model is None or (loc[-1] not in model.model_fields and err["type"] != "extra_forbidden"):
        msg = err["msg"]  # not a field of ours (e.g. a non-string key): pydantic's words
        return _error(source, path, msg[:1].lower() + msg[1:], err.get("input"))
    if err["type"] == "extra_forbidden":
        near = difflib.get_close_matches(str(loc[-1]), _keys(model), n=1)
        return _error(source, path, "unknown key", allowed=", ".join(_keys(model)),
                      hint=near[0] if near else None)
    field = model.model_fields[loc[-1]]
    if err["type"] == "missing":
        return _error(source, path, "required key is missing", allowed=_expect(field))
    if err["type"] in ("literal_error", "string_too_short"):
        msg = err["msg"]
        return _error(source, path, msg[:1].lower() + msg[1:], err.get("input"))
    return _error(source, path, f"must be {_expect(field)}", err.get("input"))


def _read_yaml(path: str) -> dict[str, Any]:
    """Parse one file; anything but a top-level mapping is an error."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _error(path, None, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _error(path, None, f"cannot read file ({exc.__class__.__name__})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        why = getattr(exc, "problem", None) or getattr(exc, "context", None) or exc
        raise _error(path, None, f"invalid YAML{where}: {why}") from None
    _require_mapping(data, path)
    return data


def _require_mapping(data: Any, source: str) -> None:
    if not isinstance(data, dict):
        raise _error(source, None, "top level must be a mapping", data, "keys " + ", ".join(_keys(Scenario)))


def _deep_merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """Child over base: mappings merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# Keys holding paths to other files: each is relative to the scenario file that sets it.
_PATH_KEYS = (("population", "composition"), ("calibration", "targets"),
              ("calibration", "fitted"))


def _anchor_paths(data: dict[str, Any], source: str) -> dict[str, Any]:
    """Make the file paths set in ``data`` relative to the working folder rather than to
    ``source``'s folder, before ``extends`` merges files from different folders."""
    folder = os.path.dirname(source)
    for outer, inner in _PATH_KEYS:
        node = data.get(outer)
        if isinstance(node, dict) and isinstance(node.get(inner), str) and node[inner].strip() \
                and not os.path.isabs(node[inner]):
            data[outer] = {**node, inner: os.path.normpath(os.path.join(folder, node[inner]))}
    return data


def _resolve(data: dict[str, Any], source: str, chain: tuple[str, ...]) -> dict[str, Any]:
    """Follow ``extends`` (relative to ``source``) recursively and merge."""
    data = _anchor_paths(dict(data), source)
    if "extends" not in data:
        return data
    target = data.pop("extends")
    if not isinstance(target, str) or not target.strip():
        raise _error(source, "extends", "must be a path to a scenario YAML file", target)
    parent = os.path.normpath(os.path.join(os.path.dirname(source), target))
    if os.path.realpath(parent) in (os.path.realpath(p) for p in chain):
        names = " -> ".join([*chain, parent])
        raise _error(source, "extends", f"cycle {names}", target)
    if not os.path.isfile(parent):
        raise _error(source, "extends", f"file not found ({parent})", target)
    base = _resolve(_read_yaml(parent), parent, (*chain, parent))
    return _deep_merge(base, data)


def _apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> None:
    """Set dotted paths (``population.size``); ``None`` means "option not given"."""
    for key, value in overrides.items():
        if value is None:
            continue
        # parameter paths contain dots themselves, so only the first dot splits
        parts = key.split(".", 1) if key.startswith("parameters.") else key.split(".")
        node = data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break  # leave the bad value for validation to report
        else:
            node[parts[-1]] = value


def _build(data: dict[str, Any], source: str, chain: tuple[str, ...],
           overrides: dict[str, Any] | None, source_path: str | None,
           root: type[BaseModel] | None = None) -> Any:
    root = root or Scenario
    merged = _resolve(data, source, chain)
    if "source_path" in merged:
        raise _error(source, "source_path", "set by the loader, not allowed in a scenario file")
    if root is Scenario and "levers" in merged and "budget" in merged:
        raise _error(source, None, "this is an investment question (it has budget: and "
                     "levers:), not a scenario", allowed="run it with `povsim compare`")
    if root is not Scenario:
        # A file of another kind may extend a scenario: keep only the keys it knows.
        merged = {k: v for k, v in merged.items()
                  if k in root.model_fields or k not in Scenario.model_fields}
    _apply_overrides(merged, overrides or {})
    merged["source_path"] = source_path
    try:
        sc = root.model_validate(merged)
    except ValidationError as exc:
        raise _translate(exc.errors()[0], source, root) from None
    if isinstance(sc, Scenario):
        _check_area_files(sc, source)
    return sc


def load_file(path: str | Path, root: type[BaseModel], overrides: dict | None = None) -> Any:
    """Load a YAML file of model ``root`` (e.g. an investment question) the way scenarios
    are loaded: ``extends``, overrides, then validation with one-line errors."""
    source = str(path)
    return _build(_read_yaml(source), source, (source,), overrides, source, root)


def _check_area_files(sc: Scenario, source: str) -> None:
    """Read the files a local area names, so `povsim validate` catches a bad one."""
    if sc.population.composition is not None:
        from povsim.composition import CompositionError, read_composition
        from povsim.parameters import calibration_dir, read_table

        try:
            read_composition(sc.population.composition,
                             read_table("life_tables_england_2017_2019.csv", calibration_dir()))
        except CompositionError as exc:
            raise _error(source, "population.composition", str(exc)) from None
    if sc.calibration is not None:
        from povsim.calibrate_local import TargetsError, read_local_targets

        try:
            read_local_targets(sc.calibration.targets)
        except TargetsError as exc:
            raise _error(source, "calibration.targets", str(exc)) from None


def load_scenario(path: str | Path, overrides: dict | None = None) -> Scenario:
    """Load, merge ``extends``, apply ``overrides`` (e.g. from CLI), then validate."""
    source = str(path)
    return _build(_read_yaml(source), source, (source,), overrides, source)


def scenario_from_dict(data: dict, source: str = "<dict>") -> Scenario:
    """Validate an in-memory scenario; ``extends`` is relative to ``source``'s folder."""
    _require_mapping(data, source)
    return _build(copy.deepcopy(data), source, (source,), None, None)
