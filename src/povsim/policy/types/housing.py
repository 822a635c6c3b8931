"""Housing: retrofits that end the cold/damp exposure of a home.

Reach: persons in cold homes (besides the block's eligibility). Effect: with probability
``effect`` the retrofit works and the person holds it; a held home is not cold at the start of
every year it is held (cold home -> self-rated health). Decay: moving to another cold home.
Participants: persons whose home is retrofitted that year, successes or not.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from povsim.inputs.interventions import InterventionBase
from povsim.model.population import Population
from povsim.policy.delivery import YearContext
from povsim.policy.types.base import InterventionType, pct


class Housing(InterventionType):
    name: ClassVar[str] = "housing"

    def condition(self, spec: InterventionBase, ctx: YearContext) -> np.ndarray:
        return ctx.pop.cold == 1

    def hold(self, spec: InterventionBase, pop: Population, held: np.ndarray) -> None:
        pop.cold[held] = 0

    def describe(self, spec: InterventionBase) -> str:
        return f"{pct(spec.effect)} chance a retrofit ends the cold/damp exposure"
