"""Employment: job matching for persons out of work.

Reach: out of work, aged 16 to ``working_age_max`` (below 16 the employment flag means "lives
with someone in work"). Effect: a participant enters work with probability ``effect`` and is
held; work acts through income -> poverty -> mortality, LTC onset and self-rated health (the
health-work-income loop). The job ends at the kernel's background exit rates (then they may be
matched again) or ``decay`` (extra yearly job loss). Participants: persons starting that year.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from povsim.inputs.interventions import InterventionBase
from povsim.model.population import Population
from povsim.policy.delivery import EMPLOYMENT_AGE_MIN, YearContext
from povsim.policy.types.base import InterventionType, pct


class Employment(InterventionType):
    name: ClassVar[str] = "employment"

    def condition(self, spec: InterventionBase, ctx: YearContext) -> np.ndarray:
        pop = ctx.pop
        return (
            (pop.age >= EMPLOYMENT_AGE_MIN)
            & (pop.age <= ctx.mp.value("working_age_max"))
            & (pop.employed == 0)
        )

    def keep_held(self, spec: InterventionBase, pop: Population, held: np.ndarray) -> None:
        held &= pop.employed == 1

    def lose(self, spec: InterventionBase, pop: Population, lost: np.ndarray) -> None:
        pop.employed[lost] = 0

    def succeed(self, spec: InterventionBase, pop: Population, success: np.ndarray) -> None:
        pop.employed[success] = 1

    def describe(self, spec: InterventionBase) -> str:
        return (
            f"{pct(spec.effect)} chance a participant out of work enters a job (then acts "
            "through income, poverty and health)"
        )
