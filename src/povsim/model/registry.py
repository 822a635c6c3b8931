"""Indices of the person model: binary risk factors, exposures of the effect vectors, tally
columns, and the columns of the kernel's packed per-cell table. Every other module reads
these names from here, never re-derives them.
"""

from __future__ import annotations

# Binary risk factors with prevalence-consistent incidence/remission tables (rows of bin_*).
B_OBESE, B_INACTIVE, B_ALCOHOL, B_COLD, B_ISOLATED, B_UNMET = range(6)
N_BIN = 6

# Exposure index into effect vectors (relative risks / log odds ratios).
(
    K_SMOKE_CUR,
    K_SMOKE_EX,
    K_OBESE,
    K_INACTIVE,
    K_ALCOHOL,
    K_COLD,
    K_ISOLATED,
    K_POVERTY,
    K_UNMET,
    K_LTC1,
    K_LTC2,
) = range(11)
N_K = 11

# Tally columns per cell.
(
    S_EXPO,
    S_HAZ,
    S_HAZ2,
    S_DEATHS,
    S_GOOD,
    S_SMOKE,
    S_OBESE,
    S_INACTIVE,
    S_ALCOHOL,
    S_COLD,
    S_ISOLATED,
    S_EMPLOYED,
    S_POVERTY,
    S_LTC1P,
    S_LTC2P,
    S_UNMET,
) = range(16)
N_STAT = 16
STAT_NAMES = (
    "exposure",
    "hazard",
    "hazard2",
    "deaths",
    "good",
    "smoking",
    "obese",
    "inactive",
    "alcohol",
    "cold_home",
    "isolated",
    "employed",
    "poverty",
    "ltc1plus",
    "ltc2plus",
    "unmet_need",
)
