"""Shared delivery of every intervention type: timing, eligibility, targeting, reach, capacity,
budget, decay draws and cost.

Whom a programme reaches in a year (docs/model.md §6.2): alive, within the block's
``eligibility`` and the type's own condition, offered by quintile ``targeting``, reached with
probability coverage x ramp-up x quintile weight x uptake (times the trust loop's multiplier),
cut to ``capacity`` and to what ``budget_per_year`` pays for by keeping the lowest draws. What
they cost (§6.3): the fixed cost in programme years plus the unit cost per participant plus the
extra cost of diminishing returns. Random numbers (§6.4): every intervention draws from its own
counter-based stream, so a person's draws are the same in every arm.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field, replace

import numpy as np
from numba import njit

from povsim.inputs import layout as L
from povsim.inputs.interventions import Cost, InterventionBase
from povsim.inputs.parameters import ModelParams
from povsim.model import households as HH
from povsim.model.population import Population, equivalised_income
from povsim.model.registry import D_INTERVENTION_BASE, WORK_STATES
from povsim.model.rng import uniforms
from povsim.model.tables import CellTables

# Dependent children: aged 0-15 (model/households.py).
CHILD_MAX = HH.CHILD_MAX
# Below 16 the work state is the household's (registry.WORK_STATES), so the employment lever
# and eligibility by work state are for ages 16..working_age_max.
EMPLOYMENT_AGE_MIN = 16


def current_income(
    pop: Population, tables: CellTables, mp: ModelParams, with_transfer: bool = False
) -> np.ndarray:
    """Equivalised household income (£ per year) of every slot, as the household pre-pass
    gives it to the kernel (before this year's transfers unless ``with_transfer``; slots not
    alive: their own income)."""
    return equivalised_income(pop, tables, mp, with_transfer=with_transfer)


def in_household_with(pop: Population, mask: np.ndarray) -> np.ndarray:
    """Whether each slot's household has a living member for whom ``mask`` holds (bool per
    slot), e.g. a dependent child (aged 0-15) or someone in a cold home."""
    out = np.zeros(pop.size, dtype=np.bool_)
    _in_household_with(pop.hh_ptr, pop.alive, np.ascontiguousarray(mask, np.bool_), out)
    return out


@njit(cache=True)
def _in_household_with(hh_ptr, alive, mask, out):
    # Households are stored contiguously (slots hh_ptr[h]:hh_ptr[h + 1]): one pass, instead
    # of a weighted bincount over every slot and a gather back.
    for h in range(hh_ptr.shape[0] - 1):
        lo, hi = hh_ptr[h], hh_ptr[h + 1]
        has = False
        for i in range(lo, hi):
            if mask[i] and alive[i] == 1:
                has = True
                break
        if has:
            out[lo:hi] = True


def household_representatives(pop: Population, idx: np.ndarray) -> np.ndarray:
    """Of persons ``idx`` (ascending), the first of each household: the person a household-
    level intervention reaches it through (its reach and success draws), so each household
    is offered, paid and counted once."""
    if idx.size == 0:
        return idx
    # Slots are stored household by household (hh non-decreasing along the slots), so the
    # households of ascending slots are non-decreasing and each one's first person is where
    # the household changes: what np.unique(..., return_index=True) found, without a sort.
    h = pop.hh[idx]
    first = np.empty(idx.size, dtype=np.bool_)
    first[0] = True
    np.not_equal(h[1:], h[:-1], out=first[1:])
    return idx[first]


def spread_to_households(pop: Population, held: np.ndarray) -> None:
    """Every living member of a household with a member in ``held`` holds it too (in place):
    what is done to a home (a retrofit) reaches everyone who lives there."""
    _spread(pop.hh_ptr, pop.alive, held)


@njit(cache=True)
def _spread(hh_ptr, alive, held):
    for h in range(hh_ptr.shape[0] - 1):
        lo, hi = hh_ptr[h], hh_ptr[h + 1]
        has = False
        for i in range(lo, hi):
            if held[i]:
                has = True
                break
        if has:
            for i in range(lo, hi):
                if alive[i] == 1:
                    held[i] = True


def stream_identity(spec: InterventionBase) -> str:
    """What names an intervention's random stream: its ``name``, else its type (and
    behaviour). The same intervention in two arms then draws the same numbers for each
    person, so arms can be compared with each other as well as with the baseline."""
    if spec.name:
        return spec.name
    return spec.type + (f"-{spec.subtype}" if spec.subtype else "")


def stream_key(identity: str, occurrence: int) -> int:
    """Stream index of the ``occurrence``-th block (1-based) with this identity in an arm."""
    return zlib.crc32(f"{identity}#{occurrence}".encode())


@dataclass
class InterventionRecord:
    """What one intervention did each year: participants (real persons) and cost (£); and
    the entitlements its participants were paid that year by another payer, outside its cost
    (the spec's ``ENTITLEMENT_PAYER``: benefits claimed after advice), £ by the quintile of
    the household paid.

    The cost is priced from what the year's delivery did (:func:`year_cost`): whether it was
    a programme year (``active``), the participants paid for (``units``, real persons: the
    sum of ``participants``), and for diminishing returns the persons newly reached
    (``new``) out of those eligible (``pool``). Kept so that a sweep can price the same
    delivery at another cost (:meth:`repriced`) with the doubles of a full simulation."""

    participants: np.ndarray  # (horizon, N_Q) by quintile
    cost: np.ndarray  # (horizon,)
    entitlements: np.ndarray  # (horizon, N_Q) by quintile
    active: np.ndarray  # (horizon,) bool: a programme year (the fixed cost is charged)
    units: np.ndarray  # (horizon,) real persons paid for at cost.per_participant
    new: np.ndarray  # (horizon,) real persons newly reached (diminishing returns)
    pool: np.ndarray  # (horizon,) real persons eligible to be reached (diminishing returns)

    @classmethod
    def empty(cls, horizon: int) -> InterventionRecord:
        return cls(
            np.zeros((horizon, L.N_Q)),
            np.zeros(horizon),
            np.zeros((horizon, L.N_Q)),
            np.zeros(horizon, dtype=np.bool_),
            np.zeros(horizon),
            np.zeros(horizon),
            np.zeros(horizon),
        )

    def repriced(self, cost: Cost) -> InterventionRecord:
        """The same delivery at ``cost`` (a copy sharing every array but ``cost``): what a
        simulation with these cost fields would record, bit for bit, when they cannot change
        who is reached (:func:`cost_is_simulation_neutral`)."""
        priced = np.array(
            [
                year_cost(cost, bool(self.active[t]), self.units[t], self.new[t], self.pool[t])
                for t in range(self.cost.shape[0])
            ],
            dtype=float,
        )
        return replace(self, cost=priced)


def year_cost(cost: Cost, active: bool, units: float, new: float, pool: float) -> float:
    """One year's programme cost (£, §6.3): the fixed cost in a programme year, plus the unit
    cost per participant paid for, plus the extra cost of diminishing returns of reaching
    ``new`` of ``pool`` eligible persons (:func:`diminishing_cost`). The one formula both a
    simulation (:func:`record`) and a repricing (:meth:`InterventionRecord.repriced`) use."""
    return (
        (cost.fixed_per_year if active else 0.0)
        + cost.per_participant * units
        + diminishing_cost(cost, new, pool)
    )


def cost_is_simulation_neutral(spec: InterventionBase) -> bool:
    """Whether the block's ``cost`` fields cannot change whom it reaches or anything else
    simulated, only what the delivery costs: true without ``budget_per_year``.

    During a simulation the cost fields are read in two places only: :func:`affordable`,
    which turns ``budget_per_year`` into a cap on participants (called only with a budget),
    and :func:`record` through :func:`year_cost`, after the year's delivery. No type's
    ``deliver`` reads the cost (it returns whom it reached, :class:`Delivered`), the
    feedback loops read participants and capacity, never cost, and the tallies hold no
    money. So without a budget the same delivery priced by :meth:`InterventionRecord.repriced`
    is what a full simulation at another cost gives (tests/test_performance.py checks it)."""
    return spec.budget_per_year is None


@dataclass
class Active:
    """One intervention with the state it carries between years."""

    spec: InterventionBase
    index: int  # its random stream (see stream_key)
    record: InterventionRecord
    # Persons currently holding the benefit (bool per slot; sized on the first year applied).
    held: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    # Multipliers of uptake and of the success probability by quintile (N_Q,), mean 1:
    # intervention-generated inequality (see :func:`quintile_multipliers`).
    uptake_q: np.ndarray = field(default_factory=lambda: np.ones(L.N_Q))
    effect_q: np.ndarray = field(default_factory=lambda: np.ones(L.N_Q))

    def scale(self, year: int) -> float:
        """Share of full coverage in ``year``: 0 outside the programme, ramped at the start."""
        s = self.spec
        if year < s.start_year or year > s.end_year:
            return 0.0
        if s.ramp_up_years == 0:
            return 1.0
        return min(1.0, (year - s.start_year + 1) / s.ramp_up_years)


def quintile_multipliers(spec: InterventionBase, mp: ModelParams) -> tuple[np.ndarray, np.ndarray]:
    """(uptake, effect) multipliers by quintile for an intervention block: its own
    ``uptake_by_quintile`` / ``effect_by_quintile``, else the rows of
    ``calibration/intervention_gradients.csv`` that apply to its type (and behaviour), else 1.
    Each is divided by its mean, so the block's ``uptake`` and ``effect`` stay national means
    and a gradient only redistributes them between quintiles."""
    table = mp.intervention_gradients
    target = spec.type + (f":{spec.subtype}" if spec.subtype else "")
    out = []
    for fld in ("uptake", "effect"):
        own = getattr(spec, f"{fld}_by_quintile")
        v = np.ones(L.N_Q)
        if own is not None:
            v = np.asarray(own, float)
        elif table is not None and len(table):
            rows = table[(table.applies_to == target) & (table.field == fld)]
            if len(rows):
                v = rows.sort_values("quintile").relative.to_numpy(float)
        out.append(v / v.mean())
    return out[0], out[1]


@dataclass
class YearContext:
    """What every intervention of an arm sees in one year."""

    t: int  # year index (0 = first simulated year)
    year: int  # calendar year
    pop: Population
    sk: np.uint64  # seed key of the run
    mp: ModelParams
    tables: CellTables
    uptake_mult_q: np.ndarray  # trust loop's uptake multiplier by quintile (N_Q,)
    income: np.ndarray | None = None  # incomes before transfers, once an income type asks

    def incomes(self) -> np.ndarray:
        """This year's incomes before transfers (£ per year): the shared ones if computed."""
        if self.income is not None:
            return self.income
        return current_income(self.pop, self.tables, self.mp)


@dataclass
class Delivered:
    """One intervention's year: participants paid for (indices), and for diminishing returns
    the real persons newly reached of those eligible (see :func:`reach`)."""

    participants: np.ndarray
    new: float = 0.0
    pool: float = 0.0

    @classmethod
    def nobody(cls) -> Delivered:
        return cls(np.zeros(0, dtype=np.int64))


def eligible(a: Active, ctx: YearContext, condition: np.ndarray | None) -> np.ndarray:
    """Alive persons meeting the block's ``eligibility`` and the type's ``condition``."""
    pop, e = ctx.pop, a.spec.eligibility
    ok = (pop.alive == 1) & (pop.age >= e.age_min) & (pop.age <= e.age_max)
    if e.in_poverty:
        ok &= ctx.incomes() < ctx.tables.poverty_line
    if e.with_children:
        ok &= in_household_with(pop, pop.age <= CHILD_MAX)
    if e.with_ltc:
        ok &= pop.ltc >= 1
    if e.income_below is not None:
        ok &= ctx.incomes() < e.income_below
    if e.work_state is not None:
        states = [WORK_STATES.index(w) for w in e.work_state]
        ok &= (pop.age >= EMPLOYMENT_AGE_MIN) & (pop.age <= ctx.mp.value("working_age_max"))
        ok &= np.isin(pop.work, states)
    if condition is not None:
        ok &= condition
    return ok


def person_uniforms(ctx: YearContext, idx: np.ndarray, year_key: int, number: int) -> np.ndarray:
    """Uniform draws of person slots ``idx``, keyed on their draw ids (``pop.pid``), never on
    the slot, so a person's draws do not depend on how the population is stored."""
    return uniforms(ctx.sk, ctx.pop.pid[idx].astype(np.int64), year_key, number)


def draw(a: Active, idx: np.ndarray, ctx: YearContext, which: int) -> np.ndarray:
    """Uniform draws of persons ``idx`` this year: ``which`` 1 success, 2 decay (§6.4)."""
    return person_uniforms(ctx, idx, ctx.t + 1, D_INTERVENTION_BASE + 4 * a.index + which)


def reach(
    a: Active,
    idx: np.ndarray,
    ctx: YearContext,
    year_key: int,
    scale: float,
    uses_trust: bool,
    committed: float = 0.0,
) -> Delivered:
    """Participants among eligible ``idx``, with the real persons newly reached and eligible
    that the extra cost of diminishing returns is priced on (:func:`diminishing_cost`).

    A person takes part when their draw is below the reach probability; where a capacity or
    the year's budget binds, those with the lowest draws (so more coverage or money never
    removes anyone). ``year_key``: the draw's year (``t + 1`` fresh each year, 0 the same
    every year); ``committed``: real persons already paid for this year (treatment
    continuing under an access intervention)."""
    s, pop = a.spec, ctx.pop
    if idx.size == 0 or scale <= 0.0:
        return Delivered(idx[:0])
    qw = np.asarray(s.targeting.quintile_weights())[pop.quint[idx]]
    mult = ctx.uptake_mult_q[pop.quint[idx]] if uses_trust else 1.0
    uq = a.uptake_q[pop.quint[idx]]
    p = s.coverage * scale * qw * np.minimum(1.0, s.uptake * uq * mult)
    u = person_uniforms(ctx, idx, year_key, D_INTERVENTION_BASE + 4 * a.index)
    chosen = u < p
    w = float(pop.weight[idx[0]])
    eligible_real = idx.size * w
    limits = [s.capacity] if s.capacity is not None else []
    if s.budget_per_year is not None:
        limits.append(affordable(s, eligible_real, committed))
    if limits:
        limit = int(min(limits) / w + 1e-9)
        if chosen.sum() > limit:
            # Keep the lowest u / p: the same as scaling every reach probability down by one
            # factor, so a binding capacity keeps the targeting's proportions.
            with np.errstate(divide="ignore", invalid="ignore"):
                rank = np.where(chosen, u / p, np.inf)
            order = np.argsort(rank, kind="stable")[:limit]
            chosen = np.zeros_like(chosen)
            chosen[order] = True
    return Delivered(idx[chosen], float(chosen.sum()) * w, eligible_real)


def affordable(s: InterventionBase, eligible: float, committed: float = 0.0) -> float:
    """Most new participants (real persons) a year's ``budget_per_year`` (£) pays for, after
    the fixed cost and ``committed`` persons already being paid for.

    With ``cost.diminishing_returns`` d the unit cost rises from ``per_participant`` c for the
    first person to c(1 + d) for the last of the year's ``eligible`` persons (the hardest to
    reach cost more), so k persons cost c k (1 + d k / 2E); solved for k.
    """
    c, d = s.cost.per_participant, s.cost.diminishing_returns
    if s.budget_per_year is None:  # no budget: no limit
        return math.inf
    avail = s.budget_per_year - s.cost.fixed_per_year - committed * c
    if avail <= 0:
        return 0.0
    if c == 0:
        return math.inf
    if d == 0 or eligible <= 0:
        return avail / c
    a = c * d / (2.0 * eligible)
    return (-c + math.sqrt(c * c + 4.0 * a * avail)) / (2.0 * a)


def diminishing_cost(cost: Cost, k: float, eligible: float) -> float:
    """Cost (£) above c per person of reaching k of ``eligible`` persons with diminishing
    returns (see :func:`affordable`)."""
    d = cost.diminishing_returns
    if d == 0 or eligible <= 0:
        return 0.0
    return cost.per_participant * d * k * k / (2.0 * eligible)


def decay_held(a: Active, ctx: YearContext, per_household: bool = False) -> np.ndarray:
    """Persons who lose the benefit this year (indices), removed from ``a.held``. With
    ``per_household`` a household loses it as a whole, on the draw of its first member
    holding it."""
    held, s = a.held, a.spec
    if not held.any() or s.decay <= 0:
        return np.zeros(0, dtype=np.int64)
    h_idx = np.flatnonzero(held)
    if per_household:
        reps = household_representatives(ctx.pop, h_idx)
        gone = np.zeros(ctx.pop.hh_ptr.size - 1, bool)
        gone[ctx.pop.hh[reps[draw(a, reps, ctx, 2) < s.decay]]] = True
        lost = h_idx[gone[ctx.pop.hh[h_idx]]]
    else:
        lost = h_idx[draw(a, h_idx, ctx, 2) < s.decay]
    held[lost] = False
    return lost


def record(a: Active, ctx: YearContext, done: Delivered, active: bool) -> None:
    """Participants by quintile (real persons), what the cost is priced on, and the cost (£)
    of the year (:func:`year_cost`)."""
    r, pop, part, t = a.record, ctx.pop, done.participants, ctx.t
    by_q = np.bincount(pop.quint[part], weights=pop.weight[part], minlength=L.N_Q)
    r.participants[t] = by_q
    r.active[t], r.units[t], r.new[t], r.pool[t] = active, by_q.sum(), done.new, done.pool
    r.cost[t] = year_cost(a.spec.cost, active, r.units[t], r.new[t], r.pool[t])


def record_entitlements(a: Active, ctx: YearContext, payees: np.ndarray, amount: float) -> None:
    """Entitlements paid in the year: ``amount`` £ to each slot ``payees`` (one per household
    for a household benefit), in real units (x weight), by quintile."""
    pop = ctx.pop
    a.record.entitlements[ctx.t] = np.bincount(
        pop.quint[payees], weights=pop.weight[payees] * amount, minlength=L.N_Q
    )
