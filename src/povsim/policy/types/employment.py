"""Employment: job matching and work-and-health support for persons out of work.

Reach: out of work (work state 1 not in work, or 2 inactive through long-term sickness), aged
16 to ``working_age_max`` (below 16 the work state is the household's); ``eligibility.
work_state`` narrows it (e.g. ``[inactive_sick]`` for a health-led employment service).
Effect: a participant enters work (state 0) with probability ``effect`` and is held; work acts
through income (the replacement ratio no longer applies) and so the lagged income exposure ->
mortality, LTC onset and self-rated health (the health-work-income loop). The job ends at the
kernel's background exits (into state 1 or long-term sickness, more often in poor health; then
they may be matched again) or ``decay`` (extra yearly job loss, into state 1). Participants:
persons starting that year.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from povsim.inputs.interventions import InterventionBase
from povsim.model.population import Population
from povsim.model.registry import WORK_EMPLOYED, WORK_OTHER
from povsim.policy.delivery import EMPLOYMENT_AGE_MIN, YearContext
from povsim.policy.types.base import InterventionType, pct


class Employment(InterventionType):
    name: ClassVar[str] = "employment"

    def condition(self, spec: InterventionBase, ctx: YearContext) -> np.ndarray:
        pop = ctx.pop
        return (
            (pop.age >= EMPLOYMENT_AGE_MIN)
            & (pop.age <= ctx.mp.value("working_age_max"))
            & (pop.work != WORK_EMPLOYED)
        )

    def keep_held(self, spec: InterventionBase, pop: Population, held: np.ndarray) -> None:
        held &= pop.work == WORK_EMPLOYED

    def lose(self, spec: InterventionBase, pop: Population, lost: np.ndarray) -> None:
        pop.work[lost] = WORK_OTHER

    def succeed(self, spec: InterventionBase, pop: Population, success: np.ndarray) -> None:
        pop.work[success] = WORK_EMPLOYED

    def describe(self, spec: InterventionBase) -> str:
        return (
            f"{pct(spec.effect)} chance a participant out of work enters a job (then acts "
            "through income and the lagged income exposure on health)"
        )
