"""Intervention blocks of a scenario: one schema per intervention type, joined by ``type``.

Every type shares the delivery fields of :class:`InterventionBase` (timing, targeting,
eligibility, coverage, uptake, capacity, budget, decay, cost) and adds or checks its own
(``behaviour`` for behaviour change, ``ltc_multiplier`` and ``capacity_added`` for access).
:data:`Intervention` is the pydantic discriminated union on ``type`` that scenario files are
validated against; what each type *does* lives in :mod:`povsim.policy.types`, looked up by
the same ``type`` string.

Adding a type: a schema class here (its ``type`` literal, its own fields and checks) added to
:data:`SCHEMAS`, then its behaviour module in ``policy/types/`` (see docs/architecture.md).
"""

from __future__ import annotations

from functools import reduce
from operator import or_
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Field, TypeAdapter, model_validator

from povsim.inputs.errors import (
    CONFIG,
    MAX_INCOME_EFFECT,
    MAX_MONEY,
    MAX_PERSONS,
    MAX_UNIT_COST,
    MAX_WEIGHT,
    NAME_PATTERN,
    Number,
    own,
)
from povsim.inputs.prices import PRICE_YEAR, PriceYearError, to_price_year


class Targeting(BaseModel):
    """Who is offered the intervention, by IMD quintile (1 = most deprived)."""

    model_config = CONFIG
    rule: Literal["universal", "core20", "proportionate", "quintiles"] = Field(
        "universal",
        description="who is offered it, by IMD quintile: universal (everyone), core20 (quintile 1 "
        "only), proportionate (every quintile, coverage relative to `weights`), "
        "quintiles (only those listed in `quintiles`)",
    )
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
                or any(isinstance(x, bool) or not 0 <= x <= MAX_WEIGHT for x in w)
                or max(w) <= 0
            ):
                own(
                    "weights",
                    "must be 5 non-negative weights (Q1..Q5), not all zero",
                    w,
                    f"e.g. [5, 4, 3, 2, 1] (each at most {MAX_WEIGHT:,.0f})",
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
    """Costs in £, in the outputs' price year (``PRICE_YEAR``, 2019) or converted to it from
    ``price_year`` on load (GDP deflator, calibration/gdp_deflators.csv)."""

    model_config = CONFIG
    fixed_per_year: Number = Field(
        0.0,
        ge=0,
        le=MAX_MONEY,
        description="GBP a year while the intervention runs (start_year to end_year), whatever its"
        f" reach; real population; {PRICE_YEAR} prices unless price_year says otherwise",
    )
    per_participant: Number = Field(
        0.0,
        ge=0,
        le=MAX_UNIT_COST,
        description="GBP per participant a year (per person, or per household for household "
        f"types, reached in an intervention year); {PRICE_YEAR} prices unless price_year says "
        "otherwise",
    )
    price_year: int | str | None = Field(
        None,
        description="price year of fixed_per_year and per_participant: a calendar year (2014) "
        "or a financial year ('2014/15'); converted on load to the outputs' price year "
        f"({PRICE_YEAR}) by the HM Treasury GDP deflator (calibration/gdp_deflators.csv); "
        f"absent: already in {PRICE_YEAR} prices",
    )
    # Unit cost rises linearly from per_participant to per_participant x (1 + this) as a
    # year's reach goes from the first eligible person to all of them (harder to reach).
    diminishing_returns: Number = Field(0.0, ge=0, le=100)
    source: str = Field(
        "", description="where the costs come from (publication, year, table) or 'assumption: why'"
    )

    @model_validator(mode="after")
    def _in_output_prices(self) -> Cost:
        # Converted once, here, and price_year cleared: a dumped and re-validated block (a
        # budget's interventions, an extended file) is already in output prices.
        if self.price_year is None:
            return self
        try:
            f = to_price_year(self.price_year)
        except PriceYearError as e:
            own("price_year", e.problem, e.got, e.allowed)
        self.fixed_per_year = float(self.fixed_per_year) * f
        self.per_participant = float(self.per_participant) * f
        self.price_year = None
        return self


class Eligibility(BaseModel):
    """Person-level conditions besides quintile; all that are set must hold."""

    model_config = CONFIG
    age_min: int = Field(0, ge=0, le=100, description="youngest age eligible (years, 0-100)")
    age_max: int = Field(
        100, ge=0, le=100, description="oldest age eligible (years, 0-100; at least age_min)"
    )
    in_poverty: bool = Field(
        False,
        description="true: only persons in relative income poverty (below 60% of the median "
        "equivalised household income)",
    )
    with_children: bool = False  # persons in a household with a dependent child (aged 0-15)
    with_ltc: bool = False  # at least one long-term condition
    # Household equivalised income before transfers below this (£ per year); None: any.
    income_below: Number | None = Field(
        None,
        gt=0,
        le=MAX_MONEY,
        description="household equivalised income before transfers below this (GBP a year)",
    )
    # Work states (ages 16..working_age_max only); None: any age and state.
    work_state: list[Literal["employed", "not_in_work", "inactive_sick"]] | None = Field(
        None, min_length=1, description="work states eligible (ages 16 to working_age_max only)"
    )


BEHAVIOURS = ("smoking", "activity", "weight", "alcohol")
# Who may pay for a programme: the cost perspectives (docs/model.md "Costs by perspective").
FUNDERS = ("nhs", "social_care", "local_government", "exchequer", "society")
Funder = Literal["nhs", "social_care", "local_government", "exchequer", "society"]


class InterventionBase(BaseModel):
    """The delivery fields every intervention type shares. ``effect`` means what the type
    says (its class docstring); timing, reach, capacity, budget, decay and cost mean the same
    for every type (docs/model.md §6.2-6.4)."""

    model_config = CONFIG
    type: str  # narrowed to one literal by each type
    name: str | None = Field(
        None,
        pattern=NAME_PATTERN,
        description="1-64 characters from A-Z a-z 0-9 _ -",
        json_schema_extra={"allowed": "1-64 characters from A-Z a-z 0-9 _ -"},
    )
    start_year: int = Field(
        ge=1990, le=2200, description="first calendar year it is delivered (and charged)"
    )
    end_year: int = Field(
        ge=1990,
        le=2200,
        description="last calendar year it is delivered and charged (at least start_year); nothing"
        " is delivered or charged after it",
    )
    ramp_up_years: int = Field(
        0,
        ge=0,
        le=50,
        description="years over which coverage grows linearly to its full value from start_year "
        "(0: full at once)",
    )
    targeting: Targeting = Field(
        default_factory=Targeting,
        description="who is offered it by IMD quintile: universal, core20, proportionate (with "
        "weights) or quintiles (with quintiles)",
    )
    eligibility: Eligibility = Field(
        default_factory=Eligibility,
        description="person-level conditions (age, poverty, children, long-term condition); all "
        "that are set must hold",
    )
    coverage: Number = Field(
        1.0, ge=0, le=1, description="share of the eligible persons offered it each year (0-1)"
    )
    uptake: Number = Field(
        1.0, ge=0, le=1, description="share of those offered who take part (0-1)"
    )
    effect: Number = Field(ge=0, le=MAX_INCOME_EFFECT)  # each type may bound it lower
    effect_source: str = Field(
        min_length=1,
        description="where `effect` comes from (publication, year, table) or 'assumption: why'; "
        "required",
    )
    decay: Number = Field(0.0, ge=0, le=1)  # yearly probability the benefit is lost
    cost: Cost = Field(
        default_factory=Cost,
        description=f"what it costs in GBP ({PRICE_YEAR} prices, or its price_year's, converted): "
        "per participant a year and fixed a year",
    )
    # most participants a year (real persons)
    capacity: Number | None = Field(None, gt=0, le=MAX_PERSONS)
    # £ a year available (real population): caps participants at what it pays for, after
    # the fixed cost and any treatment continuing from earlier years.
    budget_per_year: Number | None = Field(None, gt=0, le=MAX_MONEY)
    # Multipliers of uptake and of effect by quintile (Q1..Q5) relative to the national value
    # (divided by their mean): intervention-generated inequality. None = the default of
    # calibration/intervention_gradients.csv for this type (none if it has no rows there);
    # [1, 1, 1, 1, 1] = equal in every quintile.
    uptake_by_quintile: list[Number] | None = None
    effect_by_quintile: list[Number] | None = Field(
        None,
        description="multipliers of effect by quintile Q1..Q5 (5 non-negative numbers, divided by "
        "their mean); default: calibration/intervention_gradients.csv for this type",
    )
    # Who pays the programme's cost (a cost perspective, docs/model.md "Costs by perspective").
    # None = the type's default: exchequer for income and employment, nhs for access and
    # community, local_government for housing and behaviour.
    funder: Funder | None = None

    # Who pays when ``funder`` is not set, and whether the cost is a transfer (a payment to
    # the participants: a cost to the funder, a benefit to the recipient, none to society;
    # HM Treasury Green Book 2018 para 6.7).
    DEFAULT_FUNDER: ClassVar[str] = "local_government"
    TRANSFER: ClassVar[bool] = False
    # Who pays the entitlements the participants then claim, outside the programme's own cost
    # (benefit take-up: the Exchequer pays the benefits every year a claim is held), or None.
    # Always a transfer (a cost to that payer, a gain to the recipients, none to society).
    ENTITLEMENT_PAYER: ClassVar[str | None] = None
    # Upper bound of ``effect`` and how it is worded when exceeded (None: no bound).
    EFFECT_MAX: ClassVar[float | None] = 1.0
    EFFECT_IS: ClassVar[str] = "is a probability for this type"
    # Whether ``effect`` is a probability of success (effect_by_quintile applies).
    EFFECT_IS_PROBABILITY: ClassVar[bool] = True

    @model_validator(mode="before")
    @classmethod
    def _other_types_fields(cls, data: Any) -> Any:
        """A field of another type is accepted at its default (files written for the single
        intervention schema carry ``behaviour: null``) and refused otherwise."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key, value in data.items():
            if key in cls.model_fields:
                continue
            owners = [s for s in SCHEMAS if key in s.model_fields]
            if not owners:
                continue  # unknown everywhere: pydantic's extra_forbidden names it
            default = owners[0].model_fields[key].default
            if value == default and type(value) is not bool:
                del out[key]
                continue
            types = ", ".join(s.type_name() for s in owners)
            if default is None:
                own(key, f"only for type {types}", value)
            own(key, f"only used by type {types}", value, f"{default:g}")
        return out

    @model_validator(mode="after")
    def _check(self) -> InterventionBase:
        if self.end_year < self.start_year:
            own(
                "end_year",
                "must not be before start_year",
                self.end_year,
                f">= start_year ({self.start_year})",
            )
        self._check_type()
        for name in ("uptake_by_quintile", "effect_by_quintile"):
            w = getattr(self, name)
            if w is not None and (len(w) != 5 or min(w) < 0 or max(w) <= 0 or max(w) > 100):
                own(
                    name,
                    "must be 5 multipliers 0-100 (Q1..Q5), not all zero",
                    w,
                    "e.g. [0.8, 0.9, 1, 1.1, 1.2]",
                )
        if self.effect_by_quintile is not None and not self.EFFECT_IS_PROBABILITY:
            own(
                "effect_by_quintile",
                f"type {self.type_name()}: its effect is not a probability of success",
                self.effect_by_quintile,
                "uptake_by_quintile only",
            )
        if self.EFFECT_MAX is not None and self.effect > self.EFFECT_MAX:
            own("effect", self.EFFECT_IS, self.effect, f"0..{self.EFFECT_MAX:g}")
        if self.eligibility.age_max < self.eligibility.age_min:
            own("eligibility.age_max", "must not be below age_min", self.eligibility.age_max)
        return self

    def _check_type(self) -> None:
        """Checks of the type's own fields (override)."""

    @classmethod
    def type_name(cls) -> str:
        """The ``type`` string of this schema."""
        return cls.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]

    @property
    def subtype(self) -> str | None:
        """What a type is further split by (the behaviour of a behaviour change), or None."""
        return None

    @property
    def payer(self) -> str:
        """The perspective that pays the cost: ``funder``, else the type's default."""
        return self.funder or self.DEFAULT_FUNDER


class IncomeIntervention(InterventionBase):
    """A cash transfer: ``effect`` is £ per year added to each participating household's
    equivalised income, paid in the programme years only (nothing is held, so no decay)."""

    type: Literal["income"]
    # Cash benefits are paid by central government (DWP/HMRC); the whole cost is a transfer.
    DEFAULT_FUNDER: ClassVar[str] = "exchequer"
    TRANSFER: ClassVar[bool] = True
    EFFECT_MAX: ClassVar[float | None] = None
    EFFECT_IS_PROBABILITY: ClassVar[bool] = False

    def _check_type(self) -> None:
        if self.decay != 0:
            own("decay", "not used by type income (payments stop after end_year)", self.decay, "0")


class HousingIntervention(InterventionBase):
    """Retrofit of cold/damp homes: ``effect`` is the probability that a retrofit ends the
    exposure. Paid by default by local government (council home-improvement schemes)."""

    type: Literal["housing"]


class BehaviourIntervention(InterventionBase):
    """Support to change a health behaviour: ``effect`` is the probability that a participant
    changes (quits, becomes active, ...) for a year. Paid by default by local government
    (public health grant)."""

    type: Literal["behaviour"]
    behaviour: Literal["smoking", "activity", "weight", "alcohol"] | None = Field(
        None,
        description="the risk behaviour changed: smoking (quit), activity, weight or alcohol; "
        "required",
    )

    def _check_type(self) -> None:
        if self.behaviour is None:
            own("behaviour", "required for type behaviour", None, ", ".join(BEHAVIOURS))

    @property
    def subtype(self) -> str | None:
        return self.behaviour


class AccessIntervention(InterventionBase):
    """Access to treatment: ``effect`` is the mortality multiplier of participants while
    treated (e.g. 0.87); ``ltc_multiplier`` multiplies their LTC onset and progression;
    ``capacity_added`` adds appointments a year to the capacity loop."""

    type: Literal["access"]
    DEFAULT_FUNDER: ClassVar[str] = "nhs"  # case finding and treatment are NHS services
    ltc_multiplier: Number = Field(
        1.0,
        gt=0,
        le=1,
        description="multiplier (0-1] of the mortality excess of long-term conditions for "
        "participants (1: no change)",
    )
    # appointments a year added to capacity (bounded: 10x England's ~350m GP appointments)
    capacity_added: Number = Field(0.0, ge=0, le=4e9)
    EFFECT_IS: ClassVar[str] = "is a mortality multiplier for access"
    EFFECT_IS_PROBABILITY: ClassVar[bool] = False


class CommunityIntervention(InterventionBase):
    """Community work and social prescribing: ``effect`` is the probability that a
    participant's loneliness resolves."""

    type: Literal["community"]
    DEFAULT_FUNDER: ClassVar[str] = "nhs"  # social prescribing link workers: NHS (PCNs)


class EmploymentIntervention(InterventionBase):
    """Job matching / work and health support: ``effect`` is the probability that a
    participant out of work (working age, unemployed or inactive; restrict with
    ``eligibility.work_state``, e.g. ``[inactive_sick]``) enters work that year."""

    type: Literal["employment"]
    DEFAULT_FUNDER: ClassVar[str] = "exchequer"  # employment support: DWP programmes


class BenefitTakeUpIntervention(InterventionBase):
    """Welfare advice (e.g. in GP surgeries): ``effect`` is £ per year that an entitled
    non-claimant household gains by claiming after advice, paid once to the household and
    shared by its members (equivalised by the modified OECD scale); a share ``take_up_gap`` of
    the eligible households are entitled non-claimants (a persistent draw per household). Cost
    per participant is per household advised (the advice, paid by ``funder``). The claim lasts
    (after the programme too) until ``decay`` ends it; the benefits claimed, ``effect`` £ a year
    per claiming household (2019 prices, not converted), are a cost to the Exchequer each year
    a claim is held (a transfer: none to society)."""

    type: Literal["benefit_take_up"]
    take_up_gap: Number = Field(
        0.2,
        ge=0,
        le=1,
        description="share of the eligible households that are entitled non-claimants (0-1; "
        "DWP 2018-19 take-up by benefit unit: Housing Benefit 0.2, Pension Credit 0.4)",
    )
    # The programme cost is the advice service (in GP surgeries: NHS); the benefits claimed
    # are not in it: they are entitlements the Exchequer (DWP) pays every year a claim is held,
    # counted as its cost apart (a transfer: none to society).
    DEFAULT_FUNDER: ClassVar[str] = "nhs"
    ENTITLEMENT_PAYER: ClassVar[str | None] = "exchequer"
    EFFECT_MAX: ClassVar[float | None] = None
    EFFECT_IS_PROBABILITY: ClassVar[bool] = False


class LivingWageIntervention(InterventionBase):
    """Living-wage uplift: ``effect`` is £ per year added to the equivalised household
    income of employed persons (work state employed; low earners through
    ``eligibility.income_below``), paid in the programme years only."""

    type: Literal["living_wage"]
    # An anchor institution (the NHS as employer) paying the uplift; a pay rise for the same
    # work is a transfer from employer to employee (no cost to society).
    DEFAULT_FUNDER: ClassVar[str] = "nhs"
    TRANSFER: ClassVar[bool] = True
    EFFECT_MAX: ClassVar[float | None] = None
    EFFECT_IS_PROBABILITY: ClassVar[bool] = False

    def _check_type(self) -> None:
        if self.decay != 0:
            own(
                "decay",
                "not used by type living_wage (the uplift stops after end_year)",
                self.decay,
                "0",
            )


# Every intervention type's schema; `type` picks one (pydantic discriminated union).
SCHEMAS: tuple[type[InterventionBase], ...] = (
    IncomeIntervention,
    HousingIntervention,
    BehaviourIntervention,
    AccessIntervention,
    CommunityIntervention,
    EmploymentIntervention,
    BenefitTakeUpIntervention,
    LivingWageIntervention,
)
INTERVENTION_TYPES: tuple[str, ...] = tuple(s.type_name() for s in SCHEMAS)
SCHEMA_OF: dict[str, type[InterventionBase]] = dict(zip(INTERVENTION_TYPES, SCHEMAS))

if TYPE_CHECKING:  # type checkers see the shared base; pydantic sees the tagged union
    Intervention = InterventionBase
else:
    Intervention = Annotated[reduce(or_, SCHEMAS), Field(discriminator="type")]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(Intervention)


def parse_intervention(data: dict[str, Any]) -> InterventionBase:
    """Validate one intervention block (a dict) into its type's schema."""
    return _ADAPTER.validate_python(data)
