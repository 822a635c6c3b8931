"""Investment questions for `povsim compare`: a budget, candidate levers and the ways of
splitting the budget between them and across IMD quintiles.

An allocation is a matrix of £ a year, levers x quintiles. Each non-zero cell becomes one
intervention restricted to that quintile with that budget (``budget_per_year``), named
``<lever>-q<k>`` so that the same cell draws the same random numbers in every strategy:
strategies differ only by where the money goes. A cell with no money is no intervention,
so a split that gives a lever nothing is the same as leaving the lever out.
"""

from __future__ import annotations

import re
import warnings
from functools import reduce
from operator import or_
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, Field, PrivateAttr, field_validator, model_validator

from povsim.inputs import layout as L
from povsim.inputs.errors import (
    CONFIG,
    MAX_MONEY,
    MAX_WEIGHT,
    NAME_PATTERN,
    DeprecatedSyntax,
    Number,
    is_name,
    own,
)
from povsim.inputs.interventions import SCHEMAS, Intervention, InterventionBase
from povsim.inputs.loader import load_file
from povsim.inputs.prices import PRICE_YEAR
from povsim.inputs.schema import (
    Arm,
    Feedbacks,
    LocalCalibration,
    PopulationSpec,
    Scenario,
    check_parameter_overrides,
    named_files,
)

# Upper bounds on the sizes of a question (each strategy, lever and budget level is simulated,
# so these keep a file from asking for days of computing by accident).
MAX_LEVERS = 20
MAX_STRATEGIES = 50
MAX_LEVELS = 20
MAX_LIST = 100  # thresholds, aversions
MAX_THRESHOLD = 10_000_000  # GBP per QALY: NICE's range is GBP 20,000-30,000

# Intervention fields an investment question sets itself, not each lever.
SET_BY_STRATEGY = ("start_year", "end_year", "targeting", "budget_per_year", "name")


class Budget(BaseModel):
    """Money to spend: ``per_year`` £ (real population, the outputs' price year) for
    ``years`` years from ``start_year`` (default: the first simulated year)."""

    model_config = CONFIG
    per_year: Number = Field(
        gt=0,
        le=MAX_MONEY,
        description=f"GBP a year to spend (real population, {PRICE_YEAR} prices)",
    )
    years: int = Field(ge=1, le=50, description="years the budget is spent (1-50)")
    start_year: int | None = Field(
        None,
        ge=1990,
        le=2200,
        description="first year of spending (calendar year); default: the first simulated year",
    )
    source: str = Field("", description="where the budget comes from (free text)")


class LeverFields(BaseModel):
    """What makes an intervention block a lever: no timing, targeting, budget or name (the
    budget and the strategy set them). ``capacity`` (participants a year, real persons) is
    shared across quintiles in proportion to their money; ``cost.diminishing_returns`` makes
    each extra participant in a quintile dearer."""

    model_config = CONFIG
    start_year: int = Field(
        1990, ge=1990, le=2200, description="set by the budget's years; not given per lever"
    )
    end_year: int = Field(
        1990, ge=1990, le=2200, description="set by the budget's years; not given per lever"
    )

    @model_validator(mode="before")
    @classmethod
    def _not_per_lever(cls, data: Any) -> Any:
        for key in SET_BY_STRATEGY:
            if isinstance(data, dict) and key in data:
                own(
                    key,
                    "is set by the budget and the strategy, not per lever",
                    data[key],
                    "remove it (see budget: and strategies:)",
                )
        return data


def _lever_schema(schema: type[InterventionBase]) -> type[InterventionBase]:
    """The lever form of an intervention schema (LeverFields first, so its defaults win),
    named and placed in this module so that sweep workers can unpickle it."""
    name = schema.__name__.removesuffix("Intervention") + "Lever"
    ns = {"__doc__": schema.__doc__, "__module__": __name__, "__qualname__": name}
    return type(name, (LeverFields, schema), ns)


# One lever schema per intervention type, joined by `type` as scenario interventions are: a new
# intervention type is a lever type too.
LEVER_SCHEMAS: tuple[type[InterventionBase], ...] = tuple(_lever_schema(s) for s in SCHEMAS)
globals().update({c.__name__: c for c in LEVER_SCHEMAS})  # importable by name (pickle)
if TYPE_CHECKING:  # type checkers see the shared base; pydantic sees the tagged union
    Lever = InterventionBase
else:
    Lever = Annotated[reduce(or_, LEVER_SCHEMAS), Field(discriminator="type")]


class Strategy(BaseModel):
    """One way to split the budget.

    rule universal: equal £ per head in every quintile; proportionate: £ per head in
    proportion to need (``need: hle_shortfall``, the years the quintile's HLE falls short of
    the least deprived quintile's LE, or ``need: weights`` with ``weights`` per head Q1..Q5);
    targeted: all to quintile 1 (Core20); split: ``split`` gives each lever's share of the
    whole budget by quintile. Rules other than split divide the money between levers by
    ``lever_shares`` (the file's, unless the strategy gives its own)."""

    model_config = CONFIG
    description: str = Field("", description="free text shown in reports")
    rule: Literal["universal", "proportionate", "targeted", "split"] = Field(
        description="how the budget is split by quintile: universal (equal GBP per head), "
        "proportionate (per head in proportion to need: `weights`, or the HLE "
        "shortfall), targeted (all to quintile 1), split (explicit shares)"
    )
    need: Literal["hle_shortfall", "weights"] | None = Field(
        None,
        description="proportionate only: hle_shortfall (the default without `weights`) splits by "
        "the years each quintile's HLE falls short of the least deprived quintile's "
        "LE; `weights` is implied by giving weights (`need: weights` is deprecated)",
    )
    weights: list[Number] | None = Field(
        None,
        description="proportionate only: 5 relative need weights per head Q1..Q5 (e.g. [5, 4, 3, "
        "2, 1]), non-negative, not all zero; the same syntax as targeting.weights in "
        "scenarios",
    )
    split: dict[str, list[Number]] | None = Field(
        None,
        description="split only: lever name -> 5 shares of the whole budget Q1..Q5; all shares add"
        " up to 1",
    )
    lever_shares: dict[str, Number] | None = Field(
        None,
        description="lever name -> relative share of the money (non-negative, not all zero); "
        "default: the file's lever_shares, else equal",
    )

    @model_validator(mode="after")
    def _check(self) -> Strategy:
        if self.rule == "proportionate":
            if self.need == "weights" and "need" in self.model_fields_set:
                # One syntax for proportionate weights: `weights:` alone, as a scenario's
                # targeting writes them; `need: weights` is redundant (weights imply it).
                warnings.warn(
                    "strategies: `need: weights` is deprecated; write {rule: proportionate, "
                    "weights: [Q1, Q2, Q3, Q4, Q5]} (the same syntax as a scenario's "
                    "targeting.weights) and drop `need`; accepted for now",
                    DeprecatedSyntax,
                    stacklevel=2,
                )
            if self.need is None:
                self.need = "weights" if self.weights is not None else "hle_shortfall"
            if self.need == "weights":
                w = self.weights
                if (
                    w is None
                    or len(w) != L.N_Q
                    or any(isinstance(x, bool) or not 0 <= x <= MAX_WEIGHT for x in w)
                    or max(w) <= 0
                ):
                    own(
                        "weights",
                        "must be 5 non-negative need weights per head (Q1..Q5), not all zero",
                        w,
                        f"e.g. [5, 4, 3, 2, 1] (each at most {MAX_WEIGHT:,.0f})",
                    )
            elif self.weights is not None:
                own("weights", "only used with need: weights", self.weights, "remove it")
        else:
            for key in ("need", "weights"):
                if getattr(self, key) is not None:
                    own(
                        key,
                        "only used with rule proportionate",
                        getattr(self, key),
                        f"remove it (rule is `{self.rule}`)",
                    )
        if self.rule == "split":
            if not self.split:
                own(
                    "split",
                    "required when rule is split",
                    None,
                    "lever: [Q1, Q2, Q3, Q4, Q5] shares of the whole budget",
                )
            total = 0.0
            for lever, shares in self.split.items():
                if len(shares) != L.N_Q or any(
                    isinstance(x, bool) or not 0 <= x <= 1 for x in shares
                ):
                    own(f"split.{lever}", "must be 5 non-negative shares (Q1..Q5)", shares)
                total += float(sum(shares))
            if abs(total - 1.0) > 1e-6:
                own(
                    "split",
                    "shares must add up to 1 over all levers and quintiles",
                    total,
                    "shares summing to 1",
                )
            if self.lever_shares is not None:
                own("lever_shares", "not used with rule split", self.lever_shares)
        elif self.split is not None:
            own("split", "only used with rule split", self.split, f"rule is `{self.rule}`")
        if self.lever_shares is not None:
            _check_shares("lever_shares", self.lever_shares)
        return self


def _check_shares(path: str, shares: dict[str, Any]) -> None:
    if (
        not shares
        or any(
            isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= MAX_WEIGHT
            for v in shares.values()
        )
        or sum(shares.values()) <= 0
    ):
        own(
            path,
            "must map lever names to non-negative shares, not all zero",
            shares,
            f"shares from 0 to {MAX_WEIGHT:,.0f}",
        )


class PlaceStrategy(BaseModel):
    """One way to split a national budget between places (``places:`` questions).

    rule per_head: equal £ per resident; core20: in proportion to residents in national
    quintile 1; hle_shortfall: in proportion to the place's healthy life-years short of the
    least deprived quintile's LE (its residents by quintile x England's baseline shortfall);
    most_unequal: the ``share`` of places with the largest Core20 share, by Core20 residents;
    split: ``split`` gives each place's share (codes or names; shares add up to 1). Inside a
    place the money is split between levers and quintiles by the strategy ``within`` (a name
    from ``strategies:``; default the first)."""

    model_config = CONFIG
    description: str = Field("", description="free text shown in reports")
    rule: Literal["per_head", "core20", "hle_shortfall", "most_unequal", "split"] = Field(
        description="how the national budget is split between places: per_head, core20, "
        "hle_shortfall, most_unequal or split"
    )
    within: str | None = Field(
        None,
        description="the name of a `strategies:` entry used inside each place; default: the first",
    )
    share: Number = Field(
        0.25,
        gt=0,
        le=1,
        description="most_unequal only: the share (0-1] of places, those with the largest Core20 "
        "share, that get the money",
    )
    split: dict[str, Number] | None = Field(
        None,
        description="split only: place code or name -> share of the national budget; shares add "
        "up to 1",
    )

    @model_validator(mode="after")
    def _check(self) -> PlaceStrategy:
        if self.rule == "split":
            if not self.split:
                own("split", "required when rule is split", None, "place: share, summing to 1")
            if any(isinstance(v, bool) or not 0 <= v <= 1 for v in self.split.values()):
                own("split", "shares must be numbers from 0 to 1", self.split)
            total = float(sum(self.split.values()))
            if abs(total - 1.0) > 1e-6:
                own(
                    "split",
                    "the budget split across places does not add up to 1",
                    round(total, 6),
                    "shares summing to 1",
                )
        elif self.split is not None:
            own("split", "only used with rule split", self.split, f"rule is `{self.rule}`")
        return self


DEFAULT_PLACE_STRATEGIES = {
    "per_head": {"rule": "per_head", "description": "equal £ per resident in every place"},
    "core20_need": {"rule": "core20", "description": "by Core20 residents (national Q1)"},
    "hle_need": {"rule": "hle_shortfall", "description": "by healthy-life shortfall"},
    "most_unequal": {
        "rule": "most_unequal",
        "description": "the quarter of places with the largest Core20 share",
    },
}


class Economics(BaseModel):
    """Discount rates (per year) and thresholds (£ per QALY): defaults from
    calibration/parameters.yaml (Green Book, NICE). ``aversions``: Atkinson inequality
    aversions for the equally distributed equivalent. ``evaluation_year``: the year whose
    LE and HLE gaps, SII and RII are compared (default: the last simulated year)."""

    model_config = CONFIG
    discount_rate_costs: Number | None = Field(
        None,
        ge=0,
        le=0.2,
        description="yearly discount rate of costs (0-0.2); default: calibration/parameters.yaml "
        "(HM Treasury Green Book 3.5%)",
    )
    discount_rate_health: Number | None = Field(
        None,
        ge=0,
        le=0.2,
        description="yearly discount rate of health (0-0.2); default: calibration/parameters.yaml "
        "(Green Book 1.5%)",
    )
    thresholds: list[Number] | None = Field(
        None,
        max_length=MAX_LIST,
        description="GBP per QALY thresholds for net monetary benefit; default: "
        "calibration/parameters.yaml (NICE 20,000 and 30,000)",
    )
    aversions: list[Number] = Field(
        description="Atkinson inequality aversions (0-100) at which the equally distributed "
        "equivalent is reported",
        default_factory=lambda: [0, 0.5, 1, 2, 3, 5, 7, 10, 15, 20],
        max_length=MAX_LIST,
    )
    evaluation_year: int | None = Field(
        None,
        ge=1990,
        le=2200,
        description="the calendar year whose LE and HLE gaps, SII and RII are compared; default: "
        "the last simulated year",
    )

    @field_validator("thresholds", "aversions")
    @classmethod
    def _non_negative(cls, v: list[Number] | None, info: Any) -> list[Number] | None:
        # aversions above 100 weigh only the worst-off quintile, as 100 does (and overflow);
        # thresholds in GBP per QALY.
        top = 100 if info.field_name == "aversions" else MAX_THRESHOLD
        if v is not None and (not v or any(isinstance(x, bool) or not 0 <= x <= top for x in v)):
            own("", "must be a non-empty list of non-negative numbers", v, f"numbers 0..{top:,}")
        return v


ObjectiveMeasure = Literal[
    "qalys",
    "ede",
    "gap",
    "net_cost_nhs",
    "net_cost_social_care",
    "net_cost_local_government",
    "net_cost_exchequer",
    "net_cost_society",
    "roi_nhs",
    "roi_social_care",
    "roi_local_government",
    "roi_exchequer",
    "roi_society",
]


class Objective(BaseModel):
    """What the strategies are ranked by and the optimiser maximises.

    qalys: discounted QALYs gained; ede: gain in the equally distributed equivalent of
    health (years per person) at ``aversion``; gap: reduction in the Q5-Q1 gap in health
    (years per person), only among allocations costing at most ``max_cost_per_qaly``;
    net_cost_<p>: the lowest discounted net cost for perspective p (programme cost it bears
    minus the costs it avoids, £); roi_<p>: the highest return on investment for p (discounted
    costs avoided / programme cost borne). ``max_net_cost`` (£, discounted over the horizon)
    with ``net_cost_perspective``: only allocations whose net cost for that perspective is at
    most this count (docs/model.md "Costs by perspective")."""

    model_config = CONFIG
    measure: ObjectiveMeasure = Field(
        "qalys",
        description="what the ranking maximises: qalys (discounted QALYs gained), ede (gain in the"
        " equally distributed equivalent of HLE at `aversion`), gap (HLE gap reduction), "
        "net_cost_<perspective> (least discounted net cost to nhs, social_care, "
        "local_government, exchequer or society) or roi_<perspective> (return on investment "
        "for that perspective)",
    )
    aversion: Number = Field(
        10.0,
        ge=0,
        le=100,
        description="ede only: Atkinson inequality aversion (0-100; 0 = no weight on inequality)",
    )
    max_cost_per_qaly: Number | None = Field(
        None,
        gt=0,
        le=MAX_THRESHOLD,
        description="optional ceiling in GBP per discounted QALY: strategies above it rank last",
    )
    # Most discounted net cost (£ over the horizon; negative: must save at least this much)
    # for ``net_cost_perspective``; allocations above it are ranked last.
    max_net_cost: Number | None = Field(None, ge=-MAX_MONEY * 1000, le=MAX_MONEY * 1000)
    # The perspective ``max_net_cost`` limits (with a net_cost_<p>/roi_<p> objective: its p).
    net_cost_perspective: (
        Literal["nhs", "social_care", "local_government", "exchequer", "society"] | None
    ) = None

    @model_validator(mode="after")
    def _check(self) -> Objective:
        if (self.max_net_cost is None) != (self.net_cost_perspective is None):
            own(
                "net_cost_perspective" if self.max_net_cost is not None else "max_net_cost",
                "max_net_cost and net_cost_perspective go together",
                None,
                "set both (e.g. max_net_cost: 0, net_cost_perspective: nhs) or neither",
            )
        p = self.perspective
        if p and self.net_cost_perspective and self.net_cost_perspective != p:
            own(
                "net_cost_perspective",
                f"must be the objective's perspective ({p})",
                self.net_cost_perspective,
                p,
            )
        if self.net_cost_perspective is not None and self.max_cost_per_qaly is not None:
            own(
                "max_cost_per_qaly",
                "not with a net-cost constraint (one cost limit at a time)",
                self.max_cost_per_qaly,
                "remove max_cost_per_qaly or max_net_cost",
            )
        return self

    @property
    def perspective(self) -> str | None:
        """The perspective a net_cost_<p> / roi_<p> objective names, else None."""
        for prefix in ("net_cost_", "roi_"):
            if self.measure.startswith(prefix):
                return self.measure.removeprefix(prefix)
        return None

    @property
    def cost_perspective(self) -> str | None:
        """The perspective whose net cost the search tracks (objective or constraint)."""
        return self.perspective or self.net_cost_perspective


class Optimiser(BaseModel):
    """Search over splits (see :mod:`povsim.studies.optimise`). ``levels``: budgets per quintile, as
    shares of the yearly budget, at which each lever's response is simulated; ``step``: the
    share of the budget moved at a time; ``candidates``: best allocations checked by full
    simulation."""

    model_config = CONFIG
    enabled: bool = Field(
        True,
        description="true: search for a better allocation than the named strategies (surrogate "
        "from response runs, then full simulation of the best candidates)",
    )
    # each level is simulated for every lever and quintile
    levels: list[Number] = Field(
        default_factory=lambda: [0.0625, 0.125, 0.25, 0.5, 1.0], max_length=MAX_LEVELS
    )
    step: Number = Field(
        0.05, ge=0.01, le=0.5, description="share of the budget moved per search step (0.01-0.5)"
    )
    candidates: int = Field(
        3, ge=1, le=10, description="best allocations of the search simulated in full (1-10)"
    )

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: list[Number]) -> list[Number]:
        if (
            not v
            or any(isinstance(x, bool) or not 0 < x <= 1 for x in v)
            or sorted(set(v)) != list(v)
        ):
            own(
                "",
                "must be increasing shares of the budget in (0, 1]",
                v,
                "e.g. [0.125, 0.25, 0.5, 1.0]",
            )
        return v


class Investment(BaseModel):
    """A `povsim compare` file: population and model as in a scenario (it may ``extends`` one),
    plus the budget, the levers, the strategies and how to judge them."""

    model_config = CONFIG
    name: str = Field(
        pattern=NAME_PATTERN,
        description="1-64 characters from A-Z a-z 0-9 _ - (used as output folder name)",
        json_schema_extra={
            "allowed": "1-64 characters from A-Z a-z 0-9 _ - (used as output folder name)"
        },
    )
    description: str = Field("", description="free text shown in reports")
    question: str = Field(
        "", description="the question in plain words, shown at the top of the report"
    )
    seed: int = Field(
        1,
        ge=0,
        lt=2**63,
        description="random seed (integer 0 to 2^63-1); replicate r uses seed + r",
    )
    population: PopulationSpec = Field(
        default_factory=PopulationSpec,
        description="size, years and area of the simulated population",
    )
    parameters: dict[str, float | int | list[float]] = Field(
        default_factory=dict,
        description="overrides of model parameters by path (see `povsim parameters`)",
    )
    feedbacks: Feedbacks = Field(
        default_factory=Feedbacks,
        description="the two feedback loops (capacity, trust), both on by default",
    )
    calibration: LocalCalibration | None = None  # local targets (population.area: local)
    budget: Budget = Field(description="the money to spend: GBP a year, years, first year")
    levers: dict[str, Lever] = Field(
        max_length=MAX_LEVERS,
        description="what the money can buy, by name: intervention blocks without timing, "
        "targeting or budget (the strategy sets them)",
    )
    lever_shares: dict[str, Number] | None = Field(
        None,
        description="lever name -> relative share of the money for rules other than split; "
        "default: equal",
    )
    strategies: dict[str, Strategy] = Field(
        max_length=MAX_STRATEGIES, description="ways to split the budget, by name"
    )
    economics: Economics = Field(
        default_factory=Economics,
        description="discount rates, thresholds, inequality aversions, evaluation year",
    )
    objective: Objective = Field(
        default_factory=Objective, description="what the ranking and the optimiser maximise"
    )
    optimiser: Optimiser = Field(
        default_factory=Optimiser,
        description="the search for an allocation better than the named strategies",
    )
    replicates: int = Field(3, ge=1, le=1000)  # as `povsim run --replicates`
    # One national budget across real places (see studies/places_compare.py): a list of
    # places by name or code, or all_icbs; the ways to split it between them.
    places: list[str] | Literal["all_icbs"] | None = None
    place_strategies: dict[str, PlaceStrategy] | None = Field(
        None,
        description="places: questions only: ways to split the national budget between places, by "
        "name",
    )
    source_path: str | None = None
    _files: tuple[str, ...] = PrivateAttr(default=())  # the file and its extends chain

    def input_files(self) -> tuple[str, ...]:
        """Every file this question was read from or names."""
        return named_files(self)

    @field_validator("parameters", mode="before")
    @classmethod
    def _check_parameters(cls, value: Any) -> Any:
        return check_parameter_overrides(value)

    @model_validator(mode="after")
    def _check(self) -> Investment:
        if not self.levers:
            own("levers", "at least one lever is needed", self.levers)
        if not self.strategies:
            own("strategies", "at least one strategy is needed", self.strategies)
        names = ", ".join(self.levers)
        for lever in self.levers:
            if not is_name(lever, r"^[A-Za-z0-9_]{1,40}$"):
                own(f"levers.{lever}", "lever names are 1-40 of A-Z a-z 0-9 _", lever)
        for key, strat in self.strategies.items():
            if key == "baseline" or not is_name(key):
                own(
                    f"strategies.{key}",
                    "strategy names are 1-64 of A-Z a-z 0-9 _ - and not `baseline`",
                    key,
                )
            for where, mapping in (
                (f"strategies.{key}.split", strat.split),
                (f"strategies.{key}.lever_shares", strat.lever_shares),
            ):
                for lever in mapping or {}:
                    if lever not in self.levers:
                        own(f"{where}.{lever}", "unknown lever", lever, names)
        if self.lever_shares is not None:
            _check_shares("lever_shares", self.lever_shares)
            for lever in self.lever_shares:
                if lever not in self.levers:
                    own(f"lever_shares.{lever}", "unknown lever", lever, names)
        start = self.budget_start
        first, last = self.population.start_year, self.last_year
        if not first <= start <= last:
            own(
                "budget.start_year",
                "must fall within the simulated years",
                start,
                f"{first}..{last}",
            )
        if self.places is not None:
            self._check_places()
        elif self.place_strategies is not None:
            own("place_strategies", "only used with places:", list(self.place_strategies))
        ev = self.economics.evaluation_year
        if ev is not None and not first <= ev <= last:
            own(
                "economics.evaluation_year",
                "must fall within the simulated years",
                ev,
                f"{first}..{last}",
            )
        return self

    def _check_places(self) -> None:
        from povsim.inputs.places import PlaceError, find_place, search_places

        if self.objective.cost_perspective is not None:
            own(
                "objective",
                "costs by perspective rank the strategies of one area, not a places question",
                self.objective.measure,
                "qalys, ede or gap (without max_net_cost)",
            )
        if self.population.area != "england":
            own(
                "population.area",
                "a places question splits a national budget; the places come from places:",
                self.population.area,
                "remove population.area (or leave it england)",
            )
        if self.places == "all_icbs":
            codes = [p.code for p in search_places(level="icb")]
        else:
            codes = []
            for i, text in enumerate(self.places or []):
                try:
                    code = find_place(text).code
                except PlaceError as exc:
                    own(f"places.{i}", exc.problem, exc.got, exc.allowed, exc.hint)
                if code in codes:
                    own(f"places.{i}", "place listed twice", text, "each place once")
                codes.append(code)
            if len(codes) < 2:
                own("places", "at least two places are needed", self.places, "a list or all_icbs")
        self.places = codes
        if self.place_strategies is None:
            self.place_strategies = {
                k: PlaceStrategy(**v) for k, v in DEFAULT_PLACE_STRATEGIES.items()
            }
        for key, ps in self.place_strategies.items():
            if key in ("baseline", "optimised") or not re.match(NAME_PATTERN, key):
                own(f"place_strategies.{key}", "names are 1-64 of A-Z a-z 0-9 _ -", key)
            if ps.within is not None and ps.within not in self.strategies:
                own(
                    f"place_strategies.{key}.within",
                    "unknown strategy",
                    ps.within,
                    ", ".join(self.strategies),
                )
            if ps.split is not None:
                fixed = {}
                for name, share in ps.split.items():
                    try:
                        code = find_place(name).code
                    except PlaceError as exc:
                        own(
                            f"place_strategies.{key}.split.{name}",
                            exc.problem,
                            name,
                            None,
                            exc.hint,
                        )
                    if code not in codes:
                        own(
                            f"place_strategies.{key}.split.{name}",
                            "not one of places:",
                            name,
                            "a place listed in places:",
                        )
                    if code in fixed:
                        own(f"place_strategies.{key}.split.{name}", "place listed twice", name)
                    fixed[code] = share
                ps.split = fixed

    @property
    def budget_start(self) -> int:
        return self.budget.start_year or self.population.start_year

    @property
    def last_year(self) -> int:
        return self.population.start_year + self.population.horizon - 1

    def with_run_options(self, seed: int | None = None, size: int | None = None) -> Investment:
        """This question with the command line's seed and simulated size, where given."""
        inv = self
        if size is not None:
            inv = inv.model_copy(
                update={"population": inv.population.model_copy(update={"size": size})}
            )
        if seed is not None:
            inv = inv.model_copy(update={"seed": seed})
        return inv

    def scenario(self, arms: dict[str, list[Intervention]]) -> Scenario:
        """The scenario that runs the given arms on this question's population and model."""
        return Scenario(
            name=self.name,
            description=self.description,
            seed=self.seed,
            population=self.population,
            parameters=self.parameters,
            feedbacks=self.feedbacks,
            calibration=self.calibration,
            arms={k: Arm(interventions=v) for k, v in arms.items()},
            source_path=self.source_path,
        )


def load_investment(path: str | Path, overrides: dict | None = None) -> Investment:
    """Load and validate a `povsim compare` file (one-line :class:`ScenarioError` if bad)."""
    return load_file(path, Investment, overrides)
