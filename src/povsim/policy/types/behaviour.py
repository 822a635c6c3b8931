"""Behaviour change: support to quit smoking, become active, lose weight or drink less.

Reach: persons with the behaviour (current smoker, inactive, obese, above 14 units), aged
``adult_age`` or over except for weight. Effect: with probability ``effect`` the participant
changes (smoker -> ex-smoker, other flags -> 0) and holds the change. The benefit ends through
the model's background relapse (then they may be offered support again) or ``decay`` (the flag
returns). Participants: persons starting the programme that year.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from povsim.inputs.interventions import InterventionBase
from povsim.model.population import Population
from povsim.policy.delivery import YearContext
from povsim.policy.types.base import InterventionType, pct

# The person array each behaviour changes (1 = has the behaviour).
STATE = {"smoking": "smoke", "activity": "inactive", "weight": "obese", "alcohol": "alcohol"}


def _state(spec: InterventionBase, pop: Population) -> np.ndarray:
    return getattr(pop, STATE[str(spec.subtype)])


class Behaviour(InterventionType):
    name: ClassVar[str] = "behaviour"

    def condition(self, spec: InterventionBase, ctx: YearContext) -> np.ndarray:
        ok = _state(spec, ctx.pop) == 1
        if spec.subtype != "weight":
            ok &= ctx.pop.age >= ctx.mp.value("adult_age")
        return ok

    def keep_held(self, spec: InterventionBase, pop: Population, held: np.ndarray) -> None:
        held &= _state(spec, pop) != 1

    def lose(self, spec: InterventionBase, pop: Population, lost: np.ndarray) -> None:
        _state(spec, pop)[lost] = 1

    def succeed(self, spec: InterventionBase, pop: Population, success: np.ndarray) -> None:
        _state(spec, pop)[success] = 2 if spec.subtype == "smoking" else 0  # 2 = ex-smoker

    def describe(self, spec: InterventionBase) -> str:
        return f"{pct(spec.effect)} chance a participant changes behaviour ({spec.subtype})"
