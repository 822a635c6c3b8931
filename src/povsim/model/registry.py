"""The state registry: the one table the kernel's indices are generated from.

A person carries fixed *core* states, stepped by bespoke kernel code (smoking never/current/ex,
work state (:data:`WORK_STATES`), long-term conditions 0/1/2+, income potential and the lagged
income exposure, self-rated health, death), and *binary
risk factors* (0/1), all stepped by the same rule: incidence and remission per cell that keep
the baseline's age profile. Every binary factor is one :class:`Factor` row in :data:`FACTORS`.

To add a binary risk factor, add one row to :data:`FACTORS` and its calibration rows, each with
its source (``calibration/FORMATS.md``): its prevalence by age and sex
(``prevalence_by_age_sex.csv``, ``factor`` = the row's ``name``), its gradient by IMD quintile
(``prevalence_gradient_by_quintile.csv``), its effects on mortality, LTC onset and poor health
(``relative_risks.csv``, ``exposure`` = ``name``) and its turnover in ``parameters.yaml``.
Everything else follows from the row: the person array (``pop.<attr>``), the kernel's exposure
bit and effect column, its tally column, its draw numbers, its incidence and remission tables,
its prevalence measure in the results table and its panel in the outcomes figure.
``tests/test_registry.py`` proves it with a dummy factor run through the kernel and its NumPy
twin.

Orders are explicit where floating point or published bytes depend on them
-------------------------------------------------------------------------
* Effects multiply in :data:`EXPOSURE_ORDER` (a product of doubles depends on the order of its
  non-unit factors), then any factor not listed there, in table order.
* The population fit sums log effects in the groups of :data:`FIT_SUM_SPLITS` (a sum of
  doubles depends on its grouping), then one group per unlisted exposure.
* Prevalence measures appear in the results table (CSV bytes) in :data:`MEASURE_ORDER`, then
  the measures of unlisted factors.
* Draw numbers are part of the random stream: each row states its own, they are never derived
  from a position, and :class:`Registry` refuses a number used twice.
Tally columns are internal (every column is summed on its own): core columns first, then one
per factor in table order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from povsim.inputs.calibration_files import AGE_SPECIFIC_START

# Draw numbers from this one up belong to interventions: D_INTERVENTION_BASE + 4 * k + j for
# intervention k (j = 0..3); the model's own draws (yearly and at creation) lie below it.
D_INTERVENTION_BASE = 32

ADULT = 18  # first age of the "% adults" prevalence measures


@dataclass(frozen=True)
class Factor:
    """One binary risk factor: a 0/1 state per person with its calibration and its measure."""

    name: str  # calibration name (prevalence ``factor``, ``exposure``), tally column
    attr: str  # person attribute: ``pop.<attr>`` is this factor's (n,) column
    draw: int  # draw number of the yearly transition (year keys t + 1)
    init_draw: int  # draw number of the state at creation (year key 0)
    turnover: str  # parameters.yaml: remission per year at constant prevalence
    measure: str  # name of its prevalence measure in the results table
    label: str  # title of its panel in the outcomes figure
    ages: tuple[int, int] = (ADULT, 100)  # ages (inclusive) of the prevalence measure
    adult_only: bool = False  # its effects count from adult_age (health behaviours)
    capacity_limited: bool = False  # incidence x the capacity loop's quintile multiplier
    ramp_from: int | None = None  # below the youngest published band, prevalence rises
    # linearly from 0 at this age (None: 0 below the band)
    figure: bool = True  # a panel in the outcomes figure


FACTORS: tuple[Factor, ...] = (
    Factor(
        "obese",
        attr="obese",
        draw=3,
        init_draw=1,
        turnover="turnover_obese",
        measure="obesity",
        label="Obesity (% adults)",
        adult_only=True,
    ),
    Factor(
        "inactive",
        attr="inactive",
        draw=4,
        init_draw=2,
        turnover="turnover_inactive",
        measure="inactivity",
        label="Physical inactivity (% adults)",
        adult_only=True,
    ),
    Factor(
        "alcohol_risk",
        attr="alcohol",
        draw=5,
        init_draw=3,
        turnover="turnover_alcohol",
        measure="alcohol_risk",
        label="Drinking above 14 units a week (% adults)",
        adult_only=True,
        ramp_from=12,
        figure=False,
    ),
    Factor(
        "cold_home",
        attr="cold",
        draw=6,
        init_draw=4,
        turnover="turnover_cold_home",
        measure="cold_home",
        label="Cold / non-decent home (% of persons)",
        ages=(0, 100),
    ),
    Factor(
        "isolated",
        attr="isolated",
        draw=7,
        init_draw=5,
        turnover="turnover_isolated",
        measure="lonely",
        label="Loneliness (% adults)",
    ),
    Factor(
        "unmet_need",
        attr="unmet",
        draw=8,
        init_draw=6,
        turnover="turnover_unmet_need",
        measure="unmet_need",
        label="Unmet need, GP access (% adults)",
        capacity_limited=True,
    ),
)

# --- core states ------------------------------------------------------------------------------

# Exposure kinds: what makes a person exposed (``arg`` says which value). Income is not an
# exposure kind: it acts through the continuous lagged exposure (engine/kernel.py), and the
# poverty line is an output measure only.
SMOKING, FACTOR, LTC = range(3)

# Work state of a person (``Population.work``), at ages 16..working_age_max:
WORK_EMPLOYED = 0  # in paid work (employee or self-employed; LFS definition)
WORK_OTHER = 1  # not in work for any reason but long-term sickness: unemployed, and inactive
#                 as a student, looking after family or home, temporarily sick, early retired,
#                 discouraged or other (LFS reasons for inactivity other than long-term sick)
WORK_SICK = 2  # economically inactive because long-term sick or disabled (LFS reason)
# Under 16 the state is that of the household the child lives in, for its income only: 0 lives
# with someone in work, 1 in a workless household (never 2); not counted in any work measure.
# Above working_age_max everyone is 1 (retired; not counted: the work measures cover 16-64).
WORK_STATES = ("employed", "not_in_work", "inactive_sick")


class Exposure(NamedTuple):
    """One column of the effect vectors (relative risks / odds ratios)."""

    name: str  # ``exposure`` in relative_risks.csv
    kind: int  # SMOKING (smoking state == arg), FACTOR (factor arg is 1),
    # LTC (long-term conditions == arg, 2 meaning 2 or more)
    arg: int
    adult_only: bool  # counts from adult_age


CORE_EXPOSURES = (
    Exposure("smoking_current", SMOKING, 1, True),
    Exposure("smoking_ex", SMOKING, 2, True),
    Exposure("ltc1", LTC, 1, False),
    Exposure("ltc2plus", LTC, 2, False),
)
EXPOSURE_ORDER = (
    "smoking_current",
    "smoking_ex",
    "obese",
    "inactive",
    "alcohol_risk",
    "cold_home",
    "isolated",
    "unmet_need",
    "ltc1",
    "ltc2plus",
)
# The population fit's log-linear predictor sums EXPOSURE_ORDER[0:5], [5:7] and [7:] as three
# groups (the first times the adult indicator), as the original formula did (with poverty,
# since removed, the second group ended one later).
FIT_SUM_SPLITS = (5, 7)

# Tally columns of the core states, per cell and year (weighted to real persons): persons alive
# at the start of the year, sum of their hazards and its squares, deaths, in good health,
# current smokers, in (household) work, in poverty (an output: income + transfer below the
# line), with 1+ and 2+ long-term conditions, inactive through long-term sickness.
CORE_STATS = (
    "exposure",
    "hazard",
    "hazard2",
    "deaths",
    "good",
    "smoking",
    "employed",
    "poverty",
    "ltc1plus",
    "ltc2plus",
    "inactive_sick",
)
(
    S_EXPO,
    S_HAZ,
    S_HAZ2,
    S_DEATHS,
    S_GOOD,
    S_SMOKE,
    S_EMPLOYED,
    S_POVERTY,
    S_LTC1P,
    S_LTC2P,
    S_SICK,
) = range(len(CORE_STATS))

# Draw numbers of the core states. Year key 0 is a person's creation (initial population or
# birth); simulated year t uses year key t + 1.
YEAR_DRAWS = {"death": 0, "health": 1, "smoking": 2, "work": 9, "ltc": 10, "income": 11}
INIT_DRAWS = {
    "smoking": 0,
    "work": 7,
    "ltc": 8,
    "sex": 9,
    "income_z1": 10,
    "income_z2": 11,  # income potential, Box-Muller pair
    "frailty_1": 12,
    "frailty_2": 13,  # frailty, Box-Muller pair
    # Households (model/households.py): draw order, family size, lone parent or couple,
    # mother's age; a birth slot uses the first two for its mother's age band and which woman.
    "household_1": 14,
    "household_2": 15,
    "household_3": 16,
    "household_4": 17,
}
D_INIT_HOUSEHOLD = tuple(INIT_DRAWS[f"household_{j}"] for j in range(1, 5))
D_INIT_SEX = INIT_DRAWS["sex"]


class Measure(NamedTuple):
    """A prevalence measure of the results table: share of persons aged lo..hi in a state."""

    name: str
    stat: str  # tally column counted
    lo: int
    hi: int
    label: str | None  # outcomes-figure title (None: no panel)


CORE_MEASURES = (
    Measure("poverty", "poverty", 0, 100, "Poverty (% of persons)"),
    Measure("child_poverty", "poverty", 0, 15, "Child poverty (% aged 0-15)"),
    Measure("smoking", "smoking", ADULT, 100, "Smoking (% adults)"),
    Measure("mltc", "ltc2plus", ADULT, 100, "2+ long-term conditions (% adults)"),
    Measure("employment", "employed", 16, 64, None),
    Measure("inactive_sick", "inactive_sick", 16, 64, None),
    Measure("good_health", "good", 0, 100, None),
)
MEASURE_ORDER = (
    "poverty",
    "child_poverty",
    "cold_home",
    "smoking",
    "obesity",
    "inactivity",
    "alcohol_risk",
    "lonely",
    "mltc",
    "unmet_need",
    "employment",
    "inactive_sick",
    "good_health",
)


class KernelLayout(NamedTuple):
    """The registry's indices as the Numba year step takes them (ints and tuples of ints).

    Hashable on purpose: the year step is compiled once per layout with these values as
    compile-time constants (so LLVM folds them and unrolls the loops over the factors, as it
    did with literal constants), and Numba's on-disk cache keys the compiled code on them, so
    a changed registry can never run stale indices."""

    d_death: int
    d_health: int
    d_smoke: int
    d_work: int
    d_ltc: int
    d_income: int
    factor_draws: tuple[int, ...]  # (k,) yearly draw of each factor
    s_expo: int
    s_haz: int
    s_haz2: int
    s_deaths: int
    s_good: int
    s_smoke: int
    s_employed: int
    s_poverty: int
    s_ltc1p: int
    s_ltc2p: int
    s_sick: int
    factor_stats: tuple[int, ...]  # (k,) tally column of each factor
    n_stats: int
    expo_kind: tuple[int, ...]  # (n_exposures,) Exposure.kind
    expo_arg: tuple[int, ...]  # (n_exposures,) Exposure.arg
    expo_adult: tuple[bool, ...]  # (n_exposures,) Exposure.adult_only
    capacity_limited: tuple[bool, ...]  # (k,) incidence x the capacity loop's multiplier
    # Binary factor whose mortality RR is age-specific (relative_risks_by_age.csv; its
    # per-cell factor is a column of the cell table), or -1.
    age_rr_bit: int = -1


class InitLayout(NamedTuple):
    """Draw numbers of a person's creation, as :func:`povsim.model.population.init_persons`
    takes them."""

    d_smoke: int
    d_work: int
    d_ltc: int
    d_z1: int
    d_z2: int
    d_f1: int
    d_f2: int
    factor_draws: np.ndarray  # (k,)


@dataclass(frozen=True)
class Registry:
    """A table of binary factors with everything derived from it (validated on creation)."""

    factors: tuple[Factor, ...] = FACTORS
    exposures: tuple[Exposure, ...] = field(init=False)
    fit_groups: tuple[tuple[int, ...], ...] = field(init=False)
    stats: tuple[str, ...] = field(init=False)
    prevalences: tuple[Measure, ...] = field(init=False)

    def __post_init__(self) -> None:
        f = self.factors
        if not f:
            raise ValueError("a registry needs at least one binary risk factor")
        _unique("factor name", [x.name for x in f] + [e.name for e in CORE_EXPOSURES])
        _unique("factor attribute", [x.attr for x in f])
        _draws_ok("yearly", {**YEAR_DRAWS, **{x.name: x.draw for x in f}})
        _draws_ok("creation", {**INIT_DRAWS, **{x.name: x.init_draw for x in f}})
        by_name = {e.name: e for e in CORE_EXPOSURES}
        by_name.update({x.name: Exposure(x.name, FACTOR, j, x.adult_only) for j, x in enumerate(f)})
        order = [n for n in EXPOSURE_ORDER if n in by_name]
        order += [x.name for x in f if x.name not in EXPOSURE_ORDER]
        missing = set(EXPOSURE_ORDER) - by_name.keys()
        if missing:
            raise ValueError(f"EXPOSURE_ORDER names unknown exposures {sorted(missing)}")
        exposures = tuple(by_name[n] for n in order)
        cuts = [
            0,
            *FIT_SUM_SPLITS,
            len(EXPOSURE_ORDER),
            *range(len(EXPOSURE_ORDER) + 1, len(order) + 1),
        ]
        groups = tuple(tuple(range(a, b)) for a, b in zip(cuts[:-1], cuts[1:]))
        for g in groups:
            if len({exposures[e].adult_only for e in g}) > 1:
                raise ValueError(
                    f"fit group {[exposures[e].name for e in g]} mixes adult-only "
                    "and all-age exposures"
                )
        measures = {m.name: m for m in CORE_MEASURES}
        for x in f:
            if x.measure in measures:
                raise ValueError(f"measure {x.measure!r} of factor {x.name!r} already exists")
            measures[x.measure] = Measure(
                x.measure, x.name, x.ages[0], x.ages[1], x.label if x.figure else None
            )
        listed = [n for n in MEASURE_ORDER if n in measures]
        if set(MEASURE_ORDER) - measures.keys():
            raise ValueError(
                f"MEASURE_ORDER names unknown measures "
                f"{sorted(set(MEASURE_ORDER) - measures.keys())}"
            )
        listed += [x.measure for x in f if x.measure not in MEASURE_ORDER]
        object.__setattr__(self, "exposures", exposures)
        object.__setattr__(self, "fit_groups", groups)
        object.__setattr__(self, "stats", CORE_STATS + tuple(x.name for x in f))
        object.__setattr__(self, "prevalences", tuple(measures[n] for n in listed))

    @property
    def k(self) -> int:
        """Number of binary factors (columns of ``Population.bins``)."""
        return len(self.factors)

    @property
    def n_stats(self) -> int:
        return len(self.stats)

    @property
    def exposure_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.exposures)

    def index(self, name: str) -> int:
        """Column of factor ``name`` in ``Population.bins`` (and row of the factor tables)."""
        for j, x in enumerate(self.factors):
            if x.name == name:
                return j
        raise KeyError(f"no binary factor {name!r}")

    def attr_index(self, attr: str) -> int | None:
        """Column of the factor whose person attribute is ``attr``, or None."""
        for j, x in enumerate(self.factors):
            if x.attr == attr:
                return j
        return None

    def stat(self, name: str) -> int:
        """Tally column of ``name`` (a core stat or a factor's name)."""
        return self.stats.index(name)

    def kernel_layout(self) -> KernelLayout:
        k = self.k
        return KernelLayout(
            d_death=YEAR_DRAWS["death"],
            d_health=YEAR_DRAWS["health"],
            d_smoke=YEAR_DRAWS["smoking"],
            d_work=YEAR_DRAWS["work"],
            d_ltc=YEAR_DRAWS["ltc"],
            d_income=YEAR_DRAWS["income"],
            factor_draws=tuple(x.draw for x in self.factors),
            s_expo=S_EXPO,
            s_haz=S_HAZ,
            s_haz2=S_HAZ2,
            s_deaths=S_DEATHS,
            s_good=S_GOOD,
            s_smoke=S_SMOKE,
            s_employed=S_EMPLOYED,
            s_poverty=S_POVERTY,
            s_ltc1p=S_LTC1P,
            s_ltc2p=S_LTC2P,
            s_sick=S_SICK,
            factor_stats=tuple(range(len(CORE_STATS), len(CORE_STATS) + k)),
            n_stats=self.n_stats,
            expo_kind=tuple(e.kind for e in self.exposures),
            expo_arg=tuple(e.arg for e in self.exposures),
            expo_adult=tuple(e.adult_only for e in self.exposures),
            capacity_limited=tuple(x.capacity_limited for x in self.factors),
            age_rr_bit=next(
                (j for j, x in enumerate(self.factors) if x.name in AGE_SPECIFIC_START), -1
            ),
        )

    def init_layout(self) -> InitLayout:
        d = INIT_DRAWS
        return InitLayout(
            d["smoking"],
            d["work"],
            d["ltc"],
            d["income_z1"],
            d["income_z2"],
            d["frailty_1"],
            d["frailty_2"],
            np.array([x.init_draw for x in self.factors], np.int64),
        )


def _unique(what: str, names: list[str]) -> None:
    seen = {n for n in names if names.count(n) > 1}
    if seen:
        raise ValueError(f"{what} used twice: {sorted(seen)}")


def _draws_ok(when: str, draws: dict[str, int]) -> None:
    """Draw numbers must be distinct (never reuse a number for two purposes) and below the
    interventions' range."""
    used: dict[int, str] = {}
    for name, d in draws.items():
        if not 0 <= d < D_INTERVENTION_BASE:
            raise ValueError(
                f"{when} draw number {d} of {name!r} outside 0..{D_INTERVENTION_BASE - 1}"
            )
        if d in used:
            free = min(set(range(D_INTERVENTION_BASE)) - set(draws.values()))
            raise ValueError(
                f"{when} draw number {d} used by both {used[d]!r} and {name!r} "
                f"(lowest free: {free})"
            )
        used[d] = name


REGISTRY = Registry()
