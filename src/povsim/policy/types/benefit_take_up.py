"""Benefit take-up: welfare advice (e.g. in GP surgeries) that gets entitled non-claimants to
claim.

Reach: the block's eligibility (typically ``income_below`` and ``work_state``) among those not
already claiming through it; advice reaches them by the shared delivery (coverage, uptake,
capacity, budget). Of those advised, the entitled non-claimants -- a share ``take_up_gap`` of
the eligible, fixed per person by a draw of year key 0 (draw 3 of the intervention's stream) --
claim and hold ``effect`` £ a year of equivalised household income, acting through the lagged
income exposure (mortality, LTC onset, self-rated health). The claim lasts after the programme
(``outlasts_programme``) until ``decay`` ends it. Participants: persons advised.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from povsim.inputs.interventions import BenefitTakeUpIntervention, InterventionBase
from povsim.model.population import Population
from povsim.model.registry import D_INTERVENTION_BASE
from povsim.policy.delivery import (
    Active,
    Delivered,
    YearContext,
    eligible,
    person_uniforms,
    reach,
)
from povsim.policy.types.base import InterventionType, pct

# Draw j = 3 of the intervention's stream (0 reach, 1 success, 2 decay): entitled non-claimant.
_ENTITLED_DRAW = 3


class BenefitTakeUp(InterventionType):
    name: ClassVar[str] = "benefit_take_up"
    needs_income: ClassVar[bool] = True

    def deliver(self, a: Active, ctx: YearContext, scale: float) -> Delivered:
        s, held = a.spec, a.held
        assert isinstance(s, BenefitTakeUpIntervention)
        idx = np.flatnonzero(eligible(a, ctx, None) & ~held)
        advised, extra = reach(a, idx, ctx, ctx.t + 1, scale, self.uses_trust)
        u = person_uniforms(ctx, advised, 0, D_INTERVENTION_BASE + 4 * a.index + _ENTITLED_DRAW)
        held[advised[u < s.take_up_gap]] = True
        return Delivered(advised, float(s.cost.per_participant), extra)

    def hold(self, spec: InterventionBase, pop: Population, held: np.ndarray) -> None:
        pop.transfer[held] += spec.effect

    def describe(self, spec: InterventionBase) -> str:
        assert isinstance(spec, BenefitTakeUpIntervention)
        return (
            f"advice to the eligible; the {pct(spec.take_up_gap)} who are entitled "
            f"non-claimants claim £{spec.effect:,.0f} a year of equivalised household income"
        )
