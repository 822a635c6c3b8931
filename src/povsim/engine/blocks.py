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
from numba import njit

from povsim.inputs import layout as L

B_EXPO, B_GOOD, B_DEATHS = range(3)
N_BSTAT = 3
# Number of blocks: the batch-means variance has k - 1 degrees of freedom (its relative
# error is about 1 / sqrt(2 (k - 1)) = 18% at 16), while memory grows with k.
N_BLOCKS = 16


@njit(cache=True)
def _start(alive: np.ndarray, age: np.ndarray, sex: np.ndarray, quint: np.ndarray) -> np.ndarray:
    """Cell index of everyone alive at the start of the year, -1 for the others."""
    n = alive.shape[0]
    cell = np.full(n, -1, dtype=np.int32)
    for i in range(n):
        if alive[i] != 0:
            cell[i] = (np.int32(sex[i]) * L.N_Q + np.int32(quint[i])) * L.N_AGE + np.int32(age[i])
    return cell


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

    def before(
        self, alive: np.ndarray, age: np.ndarray, sex: np.ndarray, quint: np.ndarray
    ) -> None:
        self._cell = _start(alive, age, sex, quint)

    def after(
        self, t: int, alive: np.ndarray, good: np.ndarray, weight: np.ndarray, pid: np.ndarray
    ) -> None:
        _finish(self._cell, alive, good, weight, pid, self.out[t])
