"""Access: treatment that lowers mortality and the onset and progression of long-term
conditions, and clears unmet need.

Reach: the block's eligibility (scenarios use ``with_ltc``, ``age_min: 40``). Everyone reached
is held (in treatment); reaching clears unmet need once. Effect: every year held, the person's
mortality multiplier x ``effect`` and LTC multiplier x ``ltc_multiplier``. ``capacity_added``
feeds the capacity loop. Participants: newly reached plus those still in treatment, each paid
per year; persons in treatment count against ``budget_per_year`` before anyone new. Treatment
is the programme's service, so it stops after ``end_year`` (and is no longer paid).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from povsim.inputs.interventions import AccessIntervention, InterventionBase
from povsim.model.population import Population
from povsim.policy.delivery import Active, Delivered, YearContext, eligible, reach
from povsim.policy.types.base import InterventionType


def _access(spec: InterventionBase) -> AccessIntervention:
    """The block with its access fields (the registry only gives access blocks to Access)."""
    assert isinstance(spec, AccessIntervention)
    return spec


class Access(InterventionType):
    name: ClassVar[str] = "access"
    adds_capacity: ClassVar[bool] = True
    outlasts_programme: ClassVar[bool] = False

    def capacity_added(self, spec: InterventionBase) -> float:
        return _access(spec).capacity_added

    def deliver(self, a: Active, ctx: YearContext, scale: float) -> Delivered:
        s, pop, held = a.spec, ctx.pop, a.held
        idx = np.flatnonzero(eligible(a, ctx, self.condition(s, ctx)) & ~held)
        committed = float(pop.weight[held].sum())
        done = reach(a, idx, ctx, ctx.t + 1, scale, self.uses_trust, committed)
        held[done.participants] = True
        pop.unmet[done.participants] = 0
        # Everyone in treatment is paid for; diminishing returns only on the new ones.
        return Delivered(np.flatnonzero(held), done.new, done.pool)

    def hold(self, spec: InterventionBase, pop: Population, held: np.ndarray) -> None:
        pop.mort_mult[held] *= spec.effect
        pop.ltc_mult[held] *= _access(spec).ltc_multiplier

    def describe(self, spec: InterventionBase) -> str:
        spec = _access(spec)
        text = f"mortality multiplier {spec.effect:g} for participants"
        if spec.ltc_multiplier != 1:
            text += f"; onset of long-term conditions x {spec.ltc_multiplier:g}"
        if spec.capacity_added:
            text += f"; adds {spec.capacity_added:,.0f} appointments a year to capacity"
        return text
