"""Income: a cash transfer paid to a household.

Reach: households with a member meeting the block's eligibility (``in_poverty`` and
``income_below`` use the household's equivalised income before transfers; ``with_children`` a
household with a dependent child), each once, through its first eligible member. Take-up
persists: the reach draw is the same every year (year key 0), so the same eligible households
claim every programme year. Effect: ``effect`` £ a year paid to the household that year; the
household pre-pass gives every member a share ``effect`` / the household's modified OECD scale
as their transfer, which acts smoothly through the lagged log-income exposure (mortality, LTC
onset, self-rated health: docs/model.md §3.3): log(income + transfer) enters the exposure
with weight 1 - lambda in the first year, and the effect fades by lambda a year after
payments stop. Crossing the poverty line changes the poverty measure only. Participants:
recipient households (cost per household). Payments stop after
``end_year`` (nothing is held, so ``decay`` has no use and must be 0).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from povsim.inputs.interventions import InterventionBase
from povsim.policy.delivery import (
    Active,
    Delivered,
    YearContext,
    eligible,
    household_representatives,
    reach,
)
from povsim.policy.types.base import InterventionType


class Income(InterventionType):
    name: ClassVar[str] = "income"
    decays: ClassVar[bool] = False  # a transfer is paid or not; nothing is held
    outlasts_programme: ClassVar[bool] = False
    needs_income: ClassVar[bool] = True
    per_household: ClassVar[bool] = True  # (deliver below reaches households itself)

    def deliver(self, a: Active, ctx: YearContext, scale: float) -> Delivered:
        s = a.spec
        idx = household_representatives(
            ctx.pop, np.flatnonzero(eligible(a, ctx, self.condition(s, ctx)))
        )
        done = reach(a, idx, ctx, 0, scale, self.uses_trust)
        ctx.pop.transfer[done.participants] += s.effect
        return done

    def describe(self, spec: InterventionBase) -> str:
        return (
            f"£{spec.effect:,.0f} a year paid to each participating household (shared by its "
            "members: equivalised by the household's size)"
        )
