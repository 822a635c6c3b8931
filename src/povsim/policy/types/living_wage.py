"""Living wage: an uplift of the earnings of employed low earners.

Reach: employed (work state 0) persons aged 16 to ``working_age_max`` within the block's
eligibility (low earners through ``eligibility.income_below``: household equivalised income
before transfers). Take-up persists as for income (the reach draw has year key 0). Effect:
``effect`` £ a year added to the person's equivalised household income in programme years,
acting through the lagged income exposure; it stops after ``end_year``. Participants:
recipients. (Paid by employers, not the state: a cost perspective must not count it as a
public transfer.)
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from povsim.inputs.interventions import InterventionBase
from povsim.model.registry import WORK_EMPLOYED
from povsim.policy.delivery import EMPLOYMENT_AGE_MIN, YearContext
from povsim.policy.types.income import Income


class LivingWage(Income):
    name: ClassVar[str] = "living_wage"

    def condition(self, spec: InterventionBase, ctx: YearContext) -> np.ndarray:
        pop = ctx.pop
        return (
            (pop.age >= EMPLOYMENT_AGE_MIN)
            & (pop.age <= ctx.mp.value("working_age_max"))
            & (pop.work == WORK_EMPLOYED)
        )

    def describe(self, spec: InterventionBase) -> str:
        return (
            f"£{spec.effect:,.0f} a year added to each employed participant's earnings "
            "(equivalised household income)"
        )
