"""Interventions: each YAML block becomes a yearly change to persons' states.

An intervention never touches the kernel: before each simulated year it chooses who takes
part (eligibility x quintile targeting x coverage x uptake, ramped up, capped by capacity)
and changes their state: a cash transfer, a retrofitted home, a quit or other behaviour
change, treatment that lowers mortality and progression, resolved loneliness. Every
intervention draws from its own counter-based stream, so a person's draws are the same in
every arm and an intervention with zero effect leaves results identical to the baseline.

Participants in a year: income, recipients; housing, persons whose home is retrofitted that
year; behaviour, community and employment, persons starting a programme that year (an
employment participant enters work with probability ``effect``; a placed person then leaves
work at the kernel's background rates plus ``decay``); access, persons newly
reached plus those still in treatment. Costs: fixed per active year + per participant.
After the end year no one new joins, but what is still delivered is still paid: treatment
continuing under an access intervention (per participant-year) and a fading income transfer
(at the faded amount's share of the unit cost); a retrofit is paid once.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np

from povsim.inputs import layout as L
from povsim.inputs.parameters import ModelParams
from povsim.inputs.schema import Intervention
from povsim.model.population import Population, cell_index
from povsim.model.rng import D_INTERVENTION_BASE, seed_key, uniforms
from povsim.model.tables import CellTables

# Below 16 the employment flag means "lives with someone in work" (parameters.py), so the
# employment lever is for ages 16..working_age_max.
EMPLOYMENT_AGE_MIN = 16
BEHAVIOUR_STATE = {
    "smoking": "smoke",
    "activity": "inactive",
    "weight": "obese",
    "alcohol": "alcohol",
}


def current_income(
    pop: Population, tables: CellTables, mp: ModelParams, with_transfer: bool = False
) -> np.ndarray:
    """Equivalised household income (£ per year) of every slot, as the kernel computes it."""
    c = cell_index(pop)
    y = np.exp(tables.inc_mu[c] + mp.value("income_sigma") * pop.zinc)
    out_of_work = (pop.age <= mp.value("working_age_max")) & (pop.employed == 0)
    y = np.where(out_of_work, y * mp.value("replacement_ratio"), y)
    return y + pop.transfer if with_transfer else y


def stream_identity(spec: Intervention) -> str:
    """What names an intervention's random stream: its ``name``, else its type (and
    behaviour). The same intervention in two arms then draws the same numbers for each
    person, so arms can be compared with each other as well as with the baseline."""
    if spec.name:
        return spec.name
    return spec.type + (f"-{spec.behaviour}" if spec.behaviour else "")


@dataclass
class InterventionRecord:
    """What one intervention did each year: participants (real persons) and cost (£)."""

    participants: np.ndarray  # (horizon, 5) by quintile
    cost: np.ndarray  # (horizon,)

    @classmethod
    def empty(cls, horizon: int) -> InterventionRecord:
        return cls(np.zeros((horizon, 5)), np.zeros(horizon))


@dataclass
class Active:
    """One intervention with the state it carries between years."""

    spec: Intervention
    index: int
    record: InterventionRecord
    held: np.ndarray | None = None  # persons currently holding the benefit
    last_recipients: np.ndarray | None = None

    def scale(self, year: int) -> float:
        """Share of full coverage in ``year``: 0 outside the programme, ramped at the start."""
        s = self.spec
        if year < s.start_year or year > s.end_year:
            return 0.0
        if s.ramp_up_years == 0:
            return 1.0
        return min(1.0, (year - s.start_year + 1) / s.ramp_up_years)


@dataclass
class Programme:
    """All interventions of one arm; call :meth:`apply` before each simulated year."""

    items: list[Active]
    mp: ModelParams
    seed: int
    start_year: int
    uptake_mult_q: np.ndarray = field(default_factory=lambda: np.ones(5))

    @classmethod
    def build(
        cls, specs: list[Intervention], mp: ModelParams, seed: int, start_year: int, horizon: int
    ) -> Programme:
        items, seen = [], {}
        for s in specs:
            ident = stream_identity(s)
            seen[ident] = seen.get(ident, 0) + 1
            key = zlib.crc32(f"{ident}#{seen[ident]}".encode())
            items.append(Active(s, key, InterventionRecord.empty(horizon)))
        return cls(items, mp, seed, start_year)

    @property
    def has_community(self) -> bool:
        return any(a.spec.type == "community" for a in self.items)

    def capacity_investment(self, year: int) -> float:
        """Capacity added this year by access interventions (need units per year, real)."""
        return sum(
            a.spec.capacity_added * a.scale(year) for a in self.items if a.spec.type == "access"
        )

    def engagement(self, t: int, pop_by_q: np.ndarray) -> np.ndarray:
        """Share of each quintile's population reached by community work in year t."""
        reached = sum(
            (a.record.participants[t] for a in self.items if a.spec.type == "community"),
            np.zeros(5),
        )
        return reached / np.maximum(pop_by_q, 1.0)

    def apply(self, t: int, pop: Population, tables: CellTables) -> None:
        year = self.start_year + t
        pop.transfer[:] = 0.0
        pop.mort_mult[:] = 1.0
        pop.ltc_mult[:] = 1.0
        sk = seed_key(self.seed)
        income = None
        for a in self.items:
            if a.spec.type == "income" and (income is None):
                income = current_income(pop, tables, self.mp)
            _apply_one(a, t, year, pop, sk, self.mp, tables, income, self.uptake_mult_q)


def _eligible(
    a: Active, pop: Population, mp: ModelParams, tables: CellTables, income: np.ndarray | None
) -> np.ndarray:
    s = a.spec
    e = s.eligibility
    ok = (pop.alive == 1) & (pop.age >= e.age_min) & (pop.age <= e.age_max)
    if e.in_poverty:
        inc = income if income is not None else current_income(pop, tables, mp)
        ok &= inc < tables.poverty_line
    if e.with_children:
        ok &= (pop.age <= 15) | ((pop.age >= 20) & (pop.age <= 49))
    if e.with_ltc:
        ok &= pop.ltc >= 1
    if s.type == "housing":
        ok &= pop.cold == 1
    elif s.type == "employment":
        ok &= (
            (pop.age >= EMPLOYMENT_AGE_MIN)
            & (pop.age <= mp.value("working_age_max"))
            & (pop.employed == 0)
        )
    elif s.type == "behaviour":
        state = getattr(pop, BEHAVIOUR_STATE[s.behaviour])
        ok &= state == 1
        if s.behaviour != "weight":
            ok &= pop.age >= mp.value("adult_age")
    return ok


def _reach(
    a: Active,
    idx: np.ndarray,
    pop: Population,
    year_key: int,
    sk: np.uint64,
    scale: float,
    uptake_mult_q: np.ndarray,
    committed: float = 0.0,
) -> tuple[np.ndarray, float]:
    """Participants among eligible ``idx`` and the extra cost of diminishing returns (£).

    A person takes part when their draw is below the reach probability; where a capacity or
    the year's budget binds, those with the lowest draws (so more coverage or money never
    removes anyone). ``committed``: real persons already paid for this year (treatment
    continuing under an access intervention)."""
    s = a.spec
    if idx.size == 0 or scale <= 0.0:
        return idx[:0], 0.0
    qw = np.asarray(s.targeting.quintile_weights())[pop.quint[idx]]
    mult = 1.0 if s.type == "community" else uptake_mult_q[pop.quint[idx]]
    p = s.coverage * scale * qw * np.minimum(1.0, s.uptake * mult)
    u = uniforms(sk, idx.astype(np.int64), year_key, D_INTERVENTION_BASE + 4 * a.index)
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
    return idx[chosen], diminishing_cost(s, float(chosen.sum()) * w, eligible_real)


def affordable(s: Intervention, eligible: float, committed: float = 0.0) -> float:
    """Most new participants (real persons) a year's ``budget_per_year`` (£) pays for, after
    the fixed cost and ``committed`` persons already being paid for.

    With ``cost.diminishing_returns`` d the unit cost rises from ``per_participant`` c for the
    first person to c(1 + d) for the last of the year's ``eligible`` persons (the hardest to
    reach cost more), so k persons cost c k (1 + d k / 2E); solved for k.
    """
    c, d = s.cost.per_participant, s.cost.diminishing_returns
    avail = s.budget_per_year - s.cost.fixed_per_year - committed * c
    if avail <= 0:
        return 0.0
    if c == 0:
        return math.inf
    if d == 0 or eligible <= 0:
        return avail / c
    a = c * d / (2.0 * eligible)
    return (-c + math.sqrt(c * c + 4.0 * a * avail)) / (2.0 * a)


def diminishing_cost(s: Intervention, k: float, eligible: float) -> float:
    """Cost (£) above c per person of reaching k of ``eligible`` persons with diminishing
    returns (see :func:`affordable`)."""
    d = s.cost.diminishing_returns
    if d == 0 or eligible <= 0:
        return 0.0
    return s.cost.per_participant * d * k * k / (2.0 * eligible)


def _draw(a: Active, idx: np.ndarray, t: int, sk: np.uint64, which: int) -> np.ndarray:
    return uniforms(sk, idx.astype(np.int64), t + 1, D_INTERVENTION_BASE + 4 * a.index + which)


def _apply_one(
    a: Active,
    t: int,
    year: int,
    pop: Population,
    sk: np.uint64,
    mp: ModelParams,
    tables: CellTables,
    income: np.ndarray | None,
    uptake_mult_q: np.ndarray,
) -> None:
    s = a.spec
    n = pop.size
    if a.held is None:
        a.held = np.zeros(n, dtype=bool)
    scale = a.scale(year)
    held = a.held
    held &= pop.alive == 1
    # Those who relapsed on their own (background rates) can be offered support again.
    if s.type == "behaviour":
        held &= getattr(pop, BEHAVIOUR_STATE[s.behaviour]) != 1
    elif s.type == "community":
        held &= pop.isolated == 0
    elif s.type == "employment":
        # Out of work again at the kernel's background exit rates (raised by poor health);
        # they may be matched again.
        held &= pop.employed == 1
    # Benefits already held wear off at the decay rate (relapse, drop-out, deterioration).
    if s.type != "income" and held.any() and s.decay > 0:
        h_idx = np.flatnonzero(held)
        lost = h_idx[_draw(a, h_idx, t, sk, 2) < s.decay]
        held[lost] = False
        if s.type == "behaviour":
            getattr(pop, BEHAVIOUR_STATE[s.behaviour])[lost] = 1
        elif s.type == "community":
            pop.isolated[lost] = 1
        elif s.type == "employment":
            pop.employed[lost] = 0
    participants = np.zeros(0, dtype=np.int64)
    unit_cost = s.cost.per_participant  # £ per participant this year
    extra = 0.0  # £ of diminishing returns above the unit cost
    if s.type == "income":
        if scale > 0:
            idx = np.flatnonzero(_eligible(a, pop, mp, tables, income))
            # Take-up persists: the same households claim every year they are eligible.
            participants, extra = _reach(a, idx, pop, 0, sk, scale, uptake_mult_q)
            pop.transfer[participants] += s.effect
            a.last_recipients = participants
        elif year > s.end_year and a.last_recipients is not None and s.decay < 1:
            fade = (1.0 - s.decay) ** (year - s.end_year)
            alive = a.last_recipients[pop.alive[a.last_recipients] == 1]
            pop.transfer[alive] += s.effect * fade
            # A fading transfer is still paid: recipients count, at the faded unit cost.
            participants, unit_cost = alive, s.cost.per_participant * fade
    elif scale > 0:
        idx = np.flatnonzero(_eligible(a, pop, mp, tables, income) & ~held)
        committed = float(pop.weight[held].sum()) if s.type == "access" else 0.0
        reached, extra = _reach(a, idx, pop, t + 1, sk, scale, uptake_mult_q, committed)
        if s.type == "access":
            held[reached] = True
            pop.unmet[reached] = 0
            participants = np.flatnonzero(held)
        else:
            participants = reached
            success = reached[_draw(a, reached, t, sk, 1) < s.effect]
            if s.type == "community":
                success = success[pop.isolated[success] == 1]  # only the lonely can recover
            held[success] = True
            if s.type == "behaviour":
                state = getattr(pop, BEHAVIOUR_STATE[s.behaviour])
                state[success] = 2 if s.behaviour == "smoking" else 0
            elif s.type == "community":
                pop.isolated[success] = 0
            elif s.type == "employment":
                pop.employed[success] = 1  # acts through income -> poverty -> health
    elif s.type == "access" and held.any():
        participants = np.flatnonzero(held)  # treatment continues (and is paid) after the end
    # Benefits that persist act every year they are held.
    if s.type == "housing":
        pop.cold[held] = 0
    elif s.type == "access":
        pop.mort_mult[held] *= s.effect
        pop.ltc_mult[held] *= s.ltc_multiplier
    w = pop.weight
    by_q = np.bincount(pop.quint[participants], weights=w[participants], minlength=5)
    a.record.participants[t] = by_q
    active = scale > 0
    a.record.cost[t] = (s.cost.fixed_per_year if active else 0.0) + unit_cost * by_q.sum() + extra


def quintile_population(pop: Population) -> np.ndarray:
    live = pop.alive == 1
    return np.bincount(pop.quint[live], weights=pop.weight[live], minlength=L.N_Q)
