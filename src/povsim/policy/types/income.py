"""Income: a cash transfer added to each participant's equivalised household income.

Reach: the block's eligibility (``in_poverty`` uses income before transfers). Take-up persists:
the reach draw is the same every year (year key 0), so the same eligible households claim every
programme year. Effect: ``effect`` £ a year on the person's transfer for that year, acting
smoothly through the lagged log-income exposure (mortality, LTC onset, self-rated health:
docs/model.md §3.3): log(income + transfer) enters the exposure with weight 1 - lambda in the
first year, and the effect fades by lambda a year after payments stop. Crossing the poverty
line changes the poverty measure only. Participants: recipients. Payments stop after
``end_year`` (nothing is held, so ``decay`` has no use and must be 0).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from povsim.inputs.interventions import InterventionBase
from povsim.policy.delivery import Active, Delivered, YearContext, eligible, reach
from povsim.policy.types.base import InterventionType


class Income(InterventionType):
    name: ClassVar[str] = "income"
    decays: ClassVar[bool] = False  # a transfer is paid or not; nothing is held
    outlasts_programme: ClassVar[bool] = False
    needs_income: ClassVar[bool] = True

    def deliver(self, a: Active, ctx: YearContext, scale: float) -> Delivered:
        s = a.spec
        idx = np.flatnonzero(eligible(a, ctx, self.condition(s, ctx)))
        participants, extra = reach(a, idx, ctx, 0, scale, self.uses_trust)
        ctx.pop.transfer[participants] += s.effect
        return Delivered(participants, s.cost.per_participant, extra)

    def describe(self, spec: InterventionBase) -> str:
        return (
            f"£{spec.effect:,.0f} a year added to each participating household's equivalised income"
        )
