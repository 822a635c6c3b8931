"""Intervention types, one module each, registered by their scenario ``type`` string.

A new type: its schema in :mod:`povsim.inputs.interventions` (added to ``SCHEMAS``), a module
here with an :class:`InterventionType` subclass, and one line in :data:`TYPES`
(tests/test_interventions.py checks that every schema has a type and every type a schema).
"""

from __future__ import annotations

from povsim.inputs.interventions import InterventionBase
from povsim.policy.types.access import Access
from povsim.policy.types.base import InterventionType
from povsim.policy.types.behaviour import Behaviour
from povsim.policy.types.benefit_take_up import BenefitTakeUp
from povsim.policy.types.community import Community
from povsim.policy.types.employment import Employment
from povsim.policy.types.housing import Housing
from povsim.policy.types.income import Income
from povsim.policy.types.living_wage import LivingWage

TYPES: dict[str, InterventionType] = {
    t.name: t
    for t in (
        Income(),
        Housing(),
        Behaviour(),
        Access(),
        Community(),
        Employment(),
        BenefitTakeUp(),
        LivingWage(),
    )
}


def type_of(spec: InterventionBase) -> InterventionType:
    """The behaviour of an intervention block's type."""
    return TYPES[spec.type]


def describe(spec: InterventionBase) -> str:
    """What the intervention does, for reports: the type's effect and the shared decay."""
    text = type_of(spec).describe(spec)
    if spec.decay:
        text += f"; benefit lost with probability {spec.decay:g} a year"
    return text


__all__ = ["TYPES", "InterventionType", "describe", "type_of"]
