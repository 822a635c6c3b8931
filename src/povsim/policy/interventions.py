"""An arm's interventions applied year by year: each YAML block becomes a yearly change to
persons' states.

An intervention never touches the kernel: before each simulated year it chooses who takes
part (eligibility x quintile targeting x coverage x uptake, ramped up, capped by capacity and
budget; :mod:`povsim.policy.delivery`) and changes their state as its type says
(:mod:`povsim.policy.types`): a cash transfer, a retrofitted home, a quit or other behaviour
change, treatment that lowers mortality and progression, resolved loneliness, a job. Every
intervention draws from its own counter-based stream, so a person's draws are the same in
every arm and an intervention with zero effect leaves results identical to the baseline.

Costs: fixed per programme year + per participant (+ diminishing returns). After the end year
nothing is delivered and nothing is charged, whatever the type: no one new is reached, income
payments and access treatment stop; what a programme already changed in a person (a quit, a
retrofitted home, a job, loneliness resolved) lasts until background transitions or decay undo
it, at no further cost to the programme. Benefits claimed after welfare advice are recorded
apart (``record.entitlements``): the Exchequer pays them every year a claim is held, after the
end year too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from povsim.inputs import layout as L
from povsim.inputs.interventions import InterventionBase
from povsim.inputs.parameters import ModelParams
from povsim.model.population import Population, living_weight_by_quintile
from povsim.model.rng import seed_key
from povsim.model.tables import CellTables
from povsim.policy.delivery import (
    Active,
    Delivered,
    InterventionRecord,
    YearContext,
    current_income,
    decay_held,
    quintile_multipliers,
    record,
    record_entitlements,
    spread_to_households,
    stream_identity,
    stream_key,
)
from povsim.policy.types import InterventionType, type_of


@dataclass
class Programme:
    """All interventions of one arm; call :meth:`apply` before each simulated year."""

    items: list[Active]
    mp: ModelParams
    seed: int
    start_year: int
    uptake_mult_q: np.ndarray = field(default_factory=lambda: np.ones(L.N_Q))

    @classmethod
    def build(
        cls,
        specs: list[InterventionBase],
        mp: ModelParams,
        seed: int,
        start_year: int,
        horizon: int,
    ) -> Programme:
        items: list[Active] = []
        seen: dict[str, int] = {}  # blocks so far with each stream identity
        for s in specs:
            ident = stream_identity(s)
            seen[ident] = seen.get(ident, 0) + 1
            uq, eq = quintile_multipliers(s, mp)
            items.append(
                Active(
                    s,
                    stream_key(ident, seen[ident]),
                    InterventionRecord.empty(horizon),
                    uptake_q=uq,
                    effect_q=eq,
                )
            )
        return cls(items, mp, seed, start_year)

    @property
    def has_community(self) -> bool:
        """Whether any intervention builds community trust (engagement)."""
        return any(type_of(a.spec).engages for a in self.items)

    def capacity_investment(self, year: int) -> float:
        """Capacity added in ``year`` (need units per year, real persons)."""
        return sum(
            type_of(a.spec).capacity_added(a.spec) * a.scale(year)
            for a in self.items
            if type_of(a.spec).adds_capacity
        )

    def engagement(self, t: int, pop_by_q: np.ndarray) -> np.ndarray:
        """Share of each quintile's population reached by community work in year t."""
        reached = sum(
            (a.record.participants[t] for a in self.items if type_of(a.spec).engages),
            np.zeros(L.N_Q),
        )
        return reached / np.maximum(pop_by_q, 1.0)

    def apply(self, t: int, pop: Population, tables: CellTables) -> None:
        """Apply every intervention, in file order, before year index ``t``."""
        if self.items:
            pop.own_effects()  # a large population stores them as constants until now
        pop.reset_effects()
        ctx = YearContext(
            t, self.start_year + t, pop, seed_key(self.seed), self.mp, tables, self.uptake_mult_q
        )
        for a in self.items:
            kind = type_of(a.spec)
            # Incomes before transfers are computed once a year, when the first type that
            # needs them comes (earlier interventions may have changed employment).
            if kind.needs_income and ctx.income is None:
                ctx.income = current_income(pop, tables, self.mp)
            _apply_one(a, kind, ctx)


def _apply_one(a: Active, kind: InterventionType, ctx: YearContext) -> None:
    """One intervention's year: who still holds the benefit, decay, delivery, held effects,
    participants and cost."""
    pop = ctx.pop
    if a.held.size != pop.size:  # first year (slots for births are allocated up front)
        a.held = np.zeros(pop.size, dtype=bool)
    scale = a.scale(ctx.year)
    held = a.held
    held &= pop.alive == 1
    if ctx.year > a.spec.end_year and not kind.outlasts_programme:
        held[:] = False  # a service (treatment) stops with the programme
    kind.keep_held(a.spec, pop, held)
    # Benefits already held wear off at the decay rate (relapse, drop-out, deterioration).
    if kind.decays:
        kind.lose(a.spec, pop, decay_held(a, ctx, kind.per_household))
    # Nothing is delivered, so nothing is charged, outside the programme years (§6.3).
    done = kind.deliver(a, ctx, scale) if scale > 0 else Delivered.nobody()
    if kind.per_household:
        spread_to_households(pop, held)  # a home's benefit is everyone's who lives there
    kind.hold(a.spec, pop, held)  # benefits that persist act every year they are held
    record(a, ctx, done, scale > 0)
    if a.spec.ENTITLEMENT_PAYER is not None:  # paid every year a claim is held, not charged
        record_entitlements(a, ctx, kind.payees(a.spec, pop, held), float(a.spec.effect))


def quintile_population(pop: Population) -> np.ndarray:
    """Real persons alive by quintile (5,)."""
    return living_weight_by_quintile(pop)
