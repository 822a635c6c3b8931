"""Housing: retrofits that end the cold/damp exposure of a home.

Reach: households with a member in a cold home (besides the block's eligibility, which at least
one member must meet), each once, through its first eligible member. Effect: with probability
``effect`` the retrofit works and every member of the household holds it; a held home is not
cold at the start of every year it is held (cold home -> self-rated health, mortality).
Decay: the household moving to another cold home (one draw per household). Participants:
households whose home is retrofitted that year, successes or not (cost per home).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from povsim.inputs.interventions import InterventionBase
from povsim.model.population import Population
from povsim.policy.delivery import YearContext, in_household_with
from povsim.policy.types.base import InterventionType, pct


class Housing(InterventionType):
    name: ClassVar[str] = "housing"
    per_household: ClassVar[bool] = True

    def condition(self, spec: InterventionBase, ctx: YearContext) -> np.ndarray:
        return in_household_with(ctx.pop, ctx.pop.cold == 1)

    def hold(self, spec: InterventionBase, pop: Population, held: np.ndarray) -> None:
        pop.cold[held] = 0

    def describe(self, spec: InterventionBase) -> str:
        return f"{pct(spec.effect)} chance a retrofit ends the cold/damp exposure"
