"""What an intervention type is: whom it reaches, what it changes, how it is described.

:class:`InterventionType` holds a type's hooks with the defaults of a *programme* (housing,
behaviour, community, employment): each programme year it reaches eligible persons who do not
hold the benefit, a participant succeeds with probability ``effect`` and then holds the
benefit until it decays. Types that deliver something else (a cash transfer, ongoing treatment)
override :meth:`InterventionType.deliver`. The shared delivery (timing, targeting, reach,
capacity, budget, decay, cost) is :mod:`povsim.policy.delivery`; the yearly order of the hooks
is :meth:`povsim.policy.interventions.Programme.apply`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from povsim.inputs.interventions import InterventionBase
from povsim.model.population import Population
from povsim.policy.delivery import (
    Active,
    Delivered,
    YearContext,
    draw,
    eligible,
    household_representatives,
    reach,
)


def pct(x: float) -> str:
    """A probability as a whole percentage, for descriptions."""
    return f"{100 * x:.0f}%"


class InterventionType:
    """Hooks of one intervention type (one instance per type, registered in
    :data:`povsim.policy.types.TYPES`); every hook gets the intervention block ``spec``."""

    #: The ``type`` string of the scenario block (its schema in povsim.inputs.interventions).
    name: ClassVar[str] = ""
    #: Uptake is multiplied by the trust loop's per-quintile multiplier (docs/model.md §6.5).
    uses_trust: ClassVar[bool] = True
    #: Benefits held wear off at ``decay`` a year (drawn at the start of each year).
    decays: ClassVar[bool] = True
    #: Participants count as community engagement, which builds trust.
    engages: ClassVar[bool] = False
    #: The type adds service capacity (``capacity_added``) to the capacity loop.
    adds_capacity: ClassVar[bool] = False
    #: Needs this year's incomes before transfers (computed once per year, see Programme).
    needs_income: ClassVar[bool] = False
    #: What the programme changed in a person (a quit, a retrofit, a job) lasts after
    #: ``end_year`` until background transitions or ``decay`` undo it. False for a type whose
    #: benefit is the service itself (payments, treatment): it stops with the programme.
    outlasts_programme: ClassVar[bool] = True
    #: It acts on a home: each household is reached once, through its first eligible
    #: member, and what it changes is held by every member (docs/model.md, Households).
    per_household: ClassVar[bool] = False

    def condition(self, spec: InterventionBase, ctx: YearContext) -> np.ndarray | None:
        """Who the type can reach besides the block's ``eligibility`` (bool per slot), or
        None for everyone."""
        return None

    def keep_held(self, spec: InterventionBase, pop: Population, held: np.ndarray) -> None:
        """Drop from ``held`` (in place) those who lost the benefit through the model's
        background transitions (they may be offered support again)."""

    def lose(self, spec: InterventionBase, pop: Population, lost: np.ndarray) -> None:
        """Undo the benefit of persons ``lost`` to decay (indices)."""

    def can_succeed(
        self, spec: InterventionBase, pop: Population, success: np.ndarray
    ) -> np.ndarray:
        """Of the participants whose success draw came up, those the effect can act on."""
        return success

    def succeed(self, spec: InterventionBase, pop: Population, success: np.ndarray) -> None:
        """Change the state of persons ``success`` (indices) on reaching them."""

    def hold(self, spec: InterventionBase, pop: Population, held: np.ndarray) -> None:
        """Apply benefits that act every year they are held (``held``: bool per slot)."""

    def payees(self, spec: InterventionBase, pop: Population, held: np.ndarray) -> np.ndarray:
        """Slots paid the type's entitlement (``effect`` £) this year by its
        ``ENTITLEMENT_PAYER``, outside the programme's cost (indices; none by default)."""
        return np.zeros(0, dtype=np.int64)

    def capacity_added(self, spec: InterventionBase) -> float:
        """Service capacity added a year at full scale (need units, real persons)."""
        return 0.0

    def deliver(self, a: Active, ctx: YearContext, scale: float) -> Delivered:
        """This year's participants and what they cost; called only in programme years
        (``scale`` > 0, the share of full coverage). Default, a programme: reach eligible
        persons not holding the benefit; each succeeds with probability ``effect``."""
        s, pop, held = a.spec, ctx.pop, a.held
        idx = np.flatnonzero(eligible(a, ctx, self.condition(s, ctx)) & ~held)
        if self.per_household:
            idx = household_representatives(pop, idx)
        done = reach(a, idx, ctx, ctx.t + 1, scale, self.uses_trust)
        reached = done.participants
        p = np.minimum(1.0, s.effect * a.effect_q[pop.quint[reached]])
        success = reached[draw(a, reached, ctx, 1) < p]
        success = self.can_succeed(s, pop, success)
        held[success] = True
        self.succeed(s, pop, success)
        return done

    def describe(self, spec: InterventionBase) -> str:
        """What ``effect`` (and the type's own fields) do, in a sentence for reports."""
        raise NotImplementedError
