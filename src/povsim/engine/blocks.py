"""Tallies by person-id block, for within-run Monte Carlo intervals (batch means).

Persons are independent draws (every draw is keyed on the person id), so splitting them into
``k`` interleaved blocks (id mod k) and tallying each block separately gives ``k`` nearly
independent copies of every count; the spread of an arm-minus-baseline difference across
blocks estimates its Monte Carlo variance with common random numbers taken into account (a
person's block is the same in every arm). The recorder reads the person state before and
after each year step and never changes it, so the run's own tallies are untouched.

Recorded per year, block and cell (sex x quintile x age at the start of the year), real
persons: alive at the start (the exposure, as the kernel's ``S_EXPO``), in good health that
year (``S_GOOD``) and died during the year (``S_DEATHS``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from povsim.inputs import layout as L

B_EXPO, B_GOOD, B_DEATHS = range(3)
N_BSTAT = 3
# Number of blocks: the batch-means variance has k - 1 degrees of freedom (its relative
# error is about 1 / sqrt(2 (k - 1)) = 18% at 16), while memory grows with k.
N_BLOCKS = 16


@njit(parallel=True, cache=True)
def _start(alive: np.ndarray, age: np.ndarray, sex: np.ndarray, quint: np.ndarray) -> np.ndarray:
    """Cell index of everyone alive at the start of the year, -1 for the others."""
    n = alive.shape[0]
    cell = np.empty(n, dtype=np.int32)
    for i in prange(n):
        if alive[i] != 0:
            cell[i] = (np.int32(sex[i]) * L.N_Q + np.int32(quint[i])) * L.N_AGE + np.int32(age[i])
        else:
            cell[i] = -1
    return cell


# Slices of the population counted in parallel by _count (a fixed number, so nothing depends
# on the thread count; the counts are integers, whose sums do not depend on order anyway).
_N_PARTS = 2


@njit(parallel=True, cache=True)
def _count(cell: np.ndarray, alive: np.ndarray, good: np.ndarray, pid: np.ndarray, k: int):
    """(k, N_CELL, 3) counts of :func:`_finish`'s three columns (int64; int32 while
    counting: a smaller table to zero and to keep in cache)."""
    n = cell.shape[0]
    part = np.zeros((_N_PARTS, k, L.N_CELL, N_BSTAT), np.int32)  # < 2**31 persons a cell
    size = (n + _N_PARTS - 1) // _N_PARTS
    # id mod k by a mask when k is a power of two (ids are >= 0): an integer division per
    # person was most of this pass.
    mask = k - 1 if k & (k - 1) == 0 else -1
    for p in prange(_N_PARTS):
        for i in range(p * size, min(n, (p + 1) * size)):
            c = cell[i]
            if c < 0:
                continue
            b = pid[i] & mask if mask >= 0 else pid[i] % k
            part[p, b, c, 0] += 1
            part[p, b, c, 1] += np.int32(good[i])
            part[p, b, c, 2] += np.int32(alive[i] == 0)
    out = part[0].astype(np.int64)
    for p in range(1, _N_PARTS):
        out += part[p]
    return out


@njit(cache=True)
def _weigh(counts: np.ndarray, w: float, out: np.ndarray) -> None:
    """``out = `` the sum of ``counts`` copies of ``w`` added one at a time from 0.0: the
    doubles :func:`_finish` accumulates when every person has the weight ``w`` (adding
    ``w * 0 = 0.0`` changes nothing)."""
    m = counts.max() if counts.size else 0
    seq = np.zeros(m + 1)
    for j in range(1, m + 1):
        seq[j] = seq[j - 1] + w
    flat = counts.ravel()
    o = out.ravel()
    for j in range(flat.shape[0]):
        o[j] += seq[flat[j]]


@njit(cache=True)
def _finish(
    cell: np.ndarray,
    alive: np.ndarray,
    good: np.ndarray,
    weight: np.ndarray,
    pid: np.ndarray,
    out: np.ndarray,
) -> None:
    """Add the year of everyone alive at its start to ``out`` (k, N_CELL, N_BSTAT); a
    person's block is their draw id mod k (the same in every arm)."""
    k = out.shape[0]
    for i in range(cell.shape[0]):
        c = cell[i]
        if c < 0:
            continue
        b = pid[i] % k
        w = weight[i]
        out[b, c, 0] += w
        out[b, c, 1] += w * good[i]
        if alive[i] == 0:
            out[b, c, 2] += w


class BlockTally:
    """Records (horizon, k, N_CELL, 3) block tallies of one run; :func:`simulate` calls
    :meth:`before` and :meth:`after` around each year step."""

    def __init__(self, horizon: int, k: int = N_BLOCKS):
        self.out = np.zeros((horizon, k, L.N_CELL, N_BSTAT))
        self._cell = np.zeros(0, dtype=np.int32)
        self._w: float | None = None  # the common weight (-1.0: weights differ)

    def before(
        self, alive: np.ndarray, age: np.ndarray, sex: np.ndarray, quint: np.ndarray
    ) -> None:
        self._cell = _start(alive, age, sex, quint)

    def after(
        self, t: int, alive: np.ndarray, good: np.ndarray, weight: np.ndarray, pid: np.ndarray
    ) -> None:
        if self._w is None:  # weights are fixed for a run: checked once
            same = weight.size > 0 and bool(np.all(weight == weight[0])) and weight[0] >= 0
            self._w = float(weight[0]) if same else -1.0
        if self._w >= 0.0:  # counted in parallel, then weighted: the same doubles
            k = self.out.shape[1]
            _weigh(_count(self._cell, alive, good, pid, k), self._w, self.out[t])
        else:
            _finish(self._cell, alive, good, weight, pid, self.out[t])
