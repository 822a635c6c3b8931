"""The cell layout every table and tally is indexed by: sex x IMD quintile x single year of age.

The inputs (ONS life tables by single year of age to 100+, IMD2019 quintiles, two sexes) fix
it, so it lives with the inputs and every later layer reads it from here:
``c = (sex * N_Q + quintile) * N_AGE + age`` with sex 0 male, 1 female; quintile 0 = IMD
quintile 1 (most deprived); age 0-100, 100 meaning 100 and over.
"""

from __future__ import annotations

import numpy as np

SEXES = ("male", "female")
N_SEX = 2
N_Q = 5  # IMD quintiles
N_AGE = 101  # single years 0..100 (100 = 100 and over)
N_CELL = N_SEX * N_Q * N_AGE
AGES = np.arange(N_AGE)


def cell_of(sex: np.ndarray, quintile: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Cell index (int64) of each person from sex (0/1), quintile (0-4) and age (0-100)."""
    return ((sex.astype(np.int64) * N_Q + quintile) * N_AGE + age).astype(np.int64)
