"""Search for the best split of a budget across levers x quintiles.

How it searches, and what it costs:

1. Response curves (``levers x levels`` simulated arms, one run): each lever is simulated with
   the same budget in every quintile, at each of the ``optimiser.levels`` (shares of the yearly
   budget per quintile). Quintile-restricted interventions reach disjoint persons, so one arm
   gives the lever's response in all five quintiles at once: discounted QALYs, healthy
   life-years and discounted cost by quintile, interpolated linearly in money (zero at zero).
2. Surrogate search (no simulation): the outcome of an allocation is predicted as the sum of
   its cells' responses. A greedy pass spends the budget in ``step`` slices on the cell that
   raises the objective most; then a pairwise-exchange local search, started from the greedy
   result and from every named strategy, moves ``step`` slices between cells while the
   objective improves. Started from the named strategies, the search can only improve on them
   on the surrogate.
3. Verification: the ``candidates`` best distinct allocations are simulated in full with the
   named strategies (same seeds, all replicates), so interactions the surrogate ignores
   (two levers on the same persons, the capacity and trust loops) are in the reported figures.
   The reported optimum is the best *simulated* allocation among the candidates and the named
   strategies, so it is never worse on its objective than any named strategy.

The efficiency-equity frontier is traced on the surrogate by maximising the Atkinson EDE at
each inequality aversion (0 = total health, higher = more weight on the worse-off), plus the
allocation that narrows the gap most; the frontier is the set of these not beaten on both
QALYs and gap reduction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

N_Q = 5
# (QALYs (N,), healthy life-years by quintile (N, 5), discounted cost (N,)) -> values (N,)
Objective = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Response:
    """Responses by lever, money level and quintile: arrays (levers, levels + 1, 5), level 0
    being no money; ``money`` (levels + 1,) is £ a year per quintile."""

    money: np.ndarray
    qalys: np.ndarray
    healthy_years: np.ndarray
    cost: np.ndarray
    # Per-lever multiplier of ``money`` (levers,): lever i was simulated at money x scale[i]
    # (places of different sizes share one search); None = 1 for every lever.
    scale: np.ndarray | None = None
    # Discounted net cost by perspective (programme cost it bears minus costs it avoids, £),
    # each (levers, levels + 1, 5); None without unit costs.
    net_cost: dict[str, np.ndarray] | None = None

    def tracking(self, perspective: str | None) -> Response:
        """The same responses with the net cost of ``perspective`` in place of the programme
        cost (what a net_cost_<p> / roi_<p> objective or a net-cost constraint reads)."""
        if perspective is None:
            return self
        if self.net_cost is None:
            raise ValueError("no costs by perspective in these responses")
        return Response(
            self.money, self.qalys, self.healthy_years, self.net_cost[perspective], self.scale
        )

    def cells(
        self, lever: np.ndarray, quintile: np.ndarray, money: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(QALYs, healthy life-years, cost) of cells (lever, quintile) given ``money`` £ a
        year each, interpolated linearly (arrays broadcast together)."""
        m = np.asarray(money, float)
        if self.scale is not None:
            m = m / self.scale[lever]
        m = np.minimum(m, self.money[-1])
        j = np.clip(np.searchsorted(self.money, m, side="right") - 1, 0, len(self.money) - 2)
        t = (m - self.money[j]) / (self.money[j + 1] - self.money[j])

        def at(v: np.ndarray) -> np.ndarray:
            return v[lever, j, quintile] * (1.0 - t) + v[lever, j + 1, quintile] * t

        return at(self.qalys), at(self.healthy_years), at(self.cost)

    def predict(self, alloc: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """(QALYs by quintile, healthy life-years by quintile, discounted cost £) of
        ``alloc`` (levers, 5) £ a year, as the sum of its cells' responses."""
        idx: np.ndarray = np.indices(alloc.shape)
        q, hy, c = self.cells(idx[0], idx[1], alloc)
        return q.sum(axis=0), hy.sum(axis=0), float(c.sum())


@dataclass
class SearchResult:
    best: list[np.ndarray]  # distinct allocations, best first
    values: list[float]  # their surrogate objective values
    evaluations: int  # surrogate evaluations made


class _State:
    """An allocation with its cells' current responses, for cheap trial moves."""

    def __init__(self, resp: Response, alloc: np.ndarray):
        self.resp = resp
        self.alloc = alloc.astype(float).copy()
        self.lv, self.qk = (a.ravel() for a in np.indices(alloc.shape))
        self.q, self.hy, self.c = resp.cells(self.lv, self.qk, self.alloc.ravel())

    def totals(self) -> tuple[float, np.ndarray, float]:
        hy_q = np.bincount(self.qk, weights=self.hy, minlength=N_Q)
        return float(self.q.sum()), hy_q, float(self.c.sum())

    def value(self, objective: Objective) -> float:
        q, hy_q, c = self.totals()
        return float(objective(np.array([q]), hy_q[None, :], np.array([c]))[0])


def _trial(
    st: _State, cells: np.ndarray, money: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Change in (QALYs, healthy years by quintile, cost) if ``cells`` took ``money``."""
    q, hy, c = st.resp.cells(st.lv[cells], st.qk[cells], money)
    dq, dh, dc = q - st.q[cells], hy - st.hy[cells], c - st.c[cells]
    dhy = np.zeros(cells.shape + (N_Q,))
    np.put_along_axis(dhy, st.qk[cells][..., None], dh[..., None], axis=-1)
    return dq, dhy, dc


def greedy(
    resp: Response, objective: Objective, budget: float, step: float, shape: tuple[int, int]
) -> tuple[np.ndarray, int]:
    """Spend ``budget`` in slices of ``step`` x budget, each on the cell that raises the
    objective most."""
    st = _State(resp, np.zeros(shape))
    n = int(round(1.0 / step))
    slice_ = budget / n
    cells = np.arange(st.lv.size)
    evals = 0
    for _ in range(n):
        q0, hy0, c0 = st.totals()
        dq, dhy, dc = _trial(st, cells, st.alloc.ravel()[cells] + slice_)
        v = objective(q0 + dq, hy0 + dhy, c0 + dc)
        evals += cells.size
        best = (
            int(np.nanargmax(np.where(np.isfinite(v), v, -np.inf))) if np.any(np.isfinite(v)) else 0
        )
        _move(st, best, slice_)
    return st.alloc, evals


def _move(st: _State, cell: int, amount: float) -> None:
    flat = st.alloc.reshape(-1)
    flat[cell] = max(flat[cell] + amount, 0.0)
    q, hy, c = st.resp.cells(st.lv[cell], st.qk[cell], flat[cell])
    st.q[cell], st.hy[cell], st.c[cell] = q, hy, c


def exchange(
    resp: Response,
    objective: Objective,
    start: np.ndarray,
    budget: float,
    step: float,
    max_moves: int = 400,
) -> tuple[np.ndarray, float, int]:
    """Pairwise-exchange local search: move a slice (``step`` x budget, or all a cell has)
    from one cell to another while the objective improves, best move first. Keeps the
    total; all moves of an iteration are evaluated at once."""
    st = _State(resp, start)
    cur = st.value(objective)
    n = st.lv.size
    src, dst = (a.ravel() for a in np.indices((n, n)))
    off = src != dst
    src, dst = src[off], dst[off]
    evals = 1
    for _ in range(max_moves):
        flat = st.alloc.reshape(-1)
        amount = np.minimum(budget * step, flat[src])
        ok = amount > 1e-9
        if not ok.any():
            break
        s, d, amt = src[ok], dst[ok], amount[ok]
        q0, hy0, c0 = st.totals()
        dq1, dh1, dc1 = _trial(st, s, flat[s] - amt)
        dq2, dh2, dc2 = _trial(st, d, flat[d] + amt)
        v = objective(q0 + dq1 + dq2, hy0 + dh1 + dh2, c0 + dc1 + dc2)
        evals += v.size
        v = np.where(np.isfinite(v), v, -np.inf)
        b = int(np.argmax(v))
        if not v[b] > cur + 1e-9 * max(1.0, abs(cur)):
            break
        _move(st, int(s[b]), -float(amt[b]))
        _move(st, int(d[b]), float(amt[b]))
        cur = st.value(objective)
    return st.alloc, cur, evals


def search(
    resp: Response,
    objective: Objective,
    budget: float,
    step: float,
    starts: list[np.ndarray],
    n_best: int,
) -> SearchResult:
    """Greedy + exchange from the greedy result and from each start; the ``n_best`` best
    distinct allocations found (surrogate objective)."""
    shape = starts[0].shape if starts else (resp.qalys.shape[0], N_Q)
    g, evals = greedy(resp, objective, budget, step, shape)
    found: list[tuple[float, np.ndarray]] = []
    for s in [g, *starts]:
        a, v, e = exchange(resp, objective, s, budget, step)
        evals += e
        found.append((v, a))
    found.sort(key=lambda x: -x[0])
    best: list[np.ndarray] = []
    values: list[float] = []
    for v, a in found:
        if any(np.allclose(a, b, atol=budget * 1e-6) for b in best):
            continue
        best.append(a)
        values.append(v)
        if len(best) == n_best:
            break
    return SearchResult(best=best, values=values, evaluations=evals)


def frontier(
    resp: Response,
    objectives: dict[str, Objective],
    budget: float,
    step: float,
    starts: list[np.ndarray],
    gap: Callable[[np.ndarray], float],
) -> tuple[list[dict], int]:
    """Best allocation for each named objective, with its predicted QALYs, gap reduction and
    whether it is on the efficiency-equity frontier (not beaten on both)."""
    points: list[dict[str, Any]] = []
    evals = 0
    for label, obj in objectives.items():
        res = search(resp, obj, budget, step, starts, 1)
        evals += res.evaluations
        a = res.best[0]
        q, hy, cost = resp.predict(a)
        points.append(
            {
                "objective": label,
                "allocation": a,
                "qalys": float(q.sum()),
                "gap_reduction": gap(hy),
                "cost": cost,
            }
        )
    for p in points:
        p["on_frontier"] = not any(
            o["qalys"] >= p["qalys"]
            and o["gap_reduction"] >= p["gap_reduction"]
            and (o["qalys"] > p["qalys"] or o["gap_reduction"] > p["gap_reduction"])
            for o in points
        )
    return points, evals
