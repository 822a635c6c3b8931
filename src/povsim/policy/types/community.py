"""Community: social prescribing and community engagement against loneliness.

Reach: the block's eligibility (scenarios use ``age_min: 18``); uptake is not multiplied by
trust, which this type builds: its participants are the engagement of the trust loop. Effect:
a lonely participant's loneliness resolves with probability ``effect`` and is held; the benefit
ends through background loneliness or ``decay``. Participants: persons reached, lonely or not.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from povsim.inputs.interventions import InterventionBase
from povsim.model.population import Population
from povsim.policy.types.base import InterventionType, pct


class Community(InterventionType):
    name: ClassVar[str] = "community"
    uses_trust: ClassVar[bool] = False
    engages: ClassVar[bool] = True

    def keep_held(self, spec: InterventionBase, pop: Population, held: np.ndarray) -> None:
        held &= pop.isolated == 0

    def lose(self, spec: InterventionBase, pop: Population, lost: np.ndarray) -> None:
        pop.isolated[lost] = 1

    def can_succeed(
        self, spec: InterventionBase, pop: Population, success: np.ndarray
    ) -> np.ndarray:
        return success[pop.isolated[success] == 1]  # only the lonely can recover

    def succeed(self, spec: InterventionBase, pop: Population, success: np.ndarray) -> None:
        pop.isolated[success] = 0

    def describe(self, spec: InterventionBase) -> str:
        return f"{pct(spec.effect)} chance a participant's loneliness resolves"
