"""Benefit take-up: welfare advice (e.g. in GP surgeries) that gets entitled non-claimant
households to claim.

Reach: households with a member meeting the block's eligibility (typically ``income_below``,
the household's equivalised income before transfers, and ``work_state``) that are not already
claiming through it, each once, through its first eligible member (the household's
representative); advice reaches it by the shared delivery (coverage, uptake, capacity,
budget). Of the households advised, the entitled non-claimants -- a share ``take_up_gap`` of
the eligible households, fixed per household by a draw of year key 0 keyed on the
household's smallest draw id (draw 3 of the intervention's stream), so the same household is
entitled or not whichever member represents it, however the population is stored and in every
arm -- claim ``effect`` £ a year. The claim is paid once to
the household (benefits such as Pension Credit, Universal Credit or Attendance Allowance are
assessed and paid per benefit unit, and welfare-advice evaluations report gains per client
household); the year step pools it with the household's income by the modified OECD scale,
so every member's equivalised income rises by ``effect`` / scale, acting through the lagged
income exposure (mortality, LTC onset, self-rated health). Every member holds the claim; it
lasts after the programme (``outlasts_programme``) until ``decay`` ends it for the whole
household (one draw per household). Participants: households advised (cost per household advised).
Benefits paid: every year, ``effect`` £ to each claiming household (real households: the
weight of its representative), recorded apart from the advice cost as an entitlement paid by
the Exchequer (``ENTITLEMENT_PAYER``; a transfer: a cost to it, none to society).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from povsim.inputs.interventions import BenefitTakeUpIntervention, InterventionBase
from povsim.model.population import Population
from povsim.model.registry import D_INTERVENTION_BASE
from povsim.model.rng import uniforms
from povsim.policy.delivery import (
    Active,
    Delivered,
    YearContext,
    eligible,
    household_representatives,
    reach,
)
from povsim.policy.types.base import InterventionType, pct

# Draw j = 3 of the intervention's stream (0 reach, 1 success, 2 decay): entitled non-claimant.
_ENTITLED_DRAW = 3


def _household_draw_ids(pop: Population) -> np.ndarray:
    """The smallest draw id (``pop.pid``) of each household's slots (members and birth
    slots), an id of the household that does not depend on storage or on who represents it."""
    ptr = pop.hh_ptr
    return np.minimum.reduceat(pop.pid.astype(np.int64), ptr[:-1]) if ptr.size > 1 else ptr[:0]


class BenefitTakeUp(InterventionType):
    name: ClassVar[str] = "benefit_take_up"
    needs_income: ClassVar[bool] = True
    # A household claims once and all its members hold the claim (spread by Programme).
    per_household: ClassVar[bool] = True

    def deliver(self, a: Active, ctx: YearContext, scale: float) -> Delivered:
        s, pop, held = a.spec, ctx.pop, a.held
        assert isinstance(s, BenefitTakeUpIntervention)
        idx = household_representatives(pop, np.flatnonzero(eligible(a, ctx, None) & ~held))
        done = reach(a, idx, ctx, ctx.t + 1, scale, self.uses_trust)
        advised = done.participants
        # Keyed on the household (its smallest draw id), not on its representative: whether a
        # household is an entitled non-claimant does not change when another member comes to
        # represent it, nor with how the population is stored.
        key = _household_draw_ids(pop)[pop.hh[advised]]
        u = uniforms(ctx.sk, key, 0, D_INTERVENTION_BASE + 4 * a.index + _ENTITLED_DRAW)
        held[advised[u < s.take_up_gap]] = True
        return done

    def payees(self, spec: InterventionBase, pop: Population, held: np.ndarray) -> np.ndarray:
        # Paid once per household, through its first living member holding the claim.
        return household_representatives(pop, np.flatnonzero(held))

    def hold(self, spec: InterventionBase, pop: Population, held: np.ndarray) -> None:
        # The year step shares the household's claim among its members.
        pop.transfer[self.payees(spec, pop, held)] += spec.effect

    def describe(self, spec: InterventionBase) -> str:
        assert isinstance(spec, BenefitTakeUpIntervention)
        return (
            f"advice to eligible households; the {pct(spec.take_up_gap)} that are entitled "
            f"non-claimants claim £{spec.effect:,.0f} a year, paid to the household and "
            "shared by its members (equivalised by the household's size)"
        )
