"""``by_age.csv``: prevalences and mortality by arm, year, sex, quintile and 5-year age band."""

from __future__ import annotations

import numpy as np
import pandas as pd

from povsim.inputs import layout as L
from povsim.inputs.layout import SEXES
from povsim.model import registry as R

BANDS = [(a, a + 4) for a in range(0, 100, 5)] + [(100, 100)]
# measure -> (numerator column or callable, denominator column); shares of persons alive at
# the start of the year; mortality = expected deaths (sum of hazards) per person-year.
MEASURES = {
    "mltc": (R.S_LTC2P,),
    "ltc1": (R.S_LTC1P, R.S_LTC2P),  # exactly one condition = 1+ minus 2+
    "good_health": (R.S_GOOD,),
    "smoking": (R.S_SMOKE,),
    "obesity": (R.REGISTRY.stat("obese"),),
    "mortality": (R.S_HAZ,),
}


def by_age_frame(tallies: dict[str, np.ndarray], start_year: int) -> pd.DataFrame:
    """Long table ``arm, year, sex, quintile, age_min, age_max, measure, value``."""
    frames = []
    band_of_age = np.zeros(L.N_AGE, dtype=int)
    for b, (lo, hi) in enumerate(BANDS):
        band_of_age[lo : hi + 1] = b
    nb = len(BANDS)
    for arm, tal in tallies.items():
        h = tal.shape[0]
        cells = tal.reshape(h, 2, 5, L.N_AGE, -1)
        summed = np.zeros((h, 2, 5, nb, cells.shape[-1]))
        for b in range(nb):
            summed[:, :, :, b, :] = cells[:, :, :, band_of_age == b, :].sum(axis=3)
        expo = summed[..., R.S_EXPO]
        yy, ss, qq, bb = np.meshgrid(
            np.arange(h), np.arange(2), np.arange(5), np.arange(nb), indexing="ij"
        )
        for name, cols in MEASURES.items():
            num = summed[..., cols[0]] - (summed[..., cols[1]] if len(cols) > 1 else 0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                val = np.where(expo > 0, num / expo, np.nan)
            frames.append(
                pd.DataFrame(
                    {
                        "arm": arm,
                        "year": start_year + yy.ravel(),
                        "sex": np.array(SEXES)[ss.ravel()],
                        "quintile": qq.ravel() + 1,
                        "age_min": np.array([b[0] for b in BANDS])[bb.ravel()],
                        "age_max": np.array([b[1] for b in BANDS])[bb.ravel()],
                        "measure": name,
                        "value": val.ravel(),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def onset_gap(p2: np.ndarray, age: float = 70.0) -> float:
    """Years earlier that quintile 1 reaches quintile 5's share with 2+ conditions at ``age``
    (p2: (5, 101) share by quintile and single year of age)."""
    ages = np.arange(p2.shape[-1], dtype=float)
    level = float(np.interp(age, ages, p2[4]))
    q1 = np.maximum.accumulate(p2[0])
    return float(age - np.interp(level, q1 + ages * 1e-12, ages))


def mltc_onset_gap_from_tallies(tal: np.ndarray, years: int = 3) -> float:
    """:func:`onset_gap` on simulated shares (persons, mean of the first ``years`` years)."""
    cells = tal[:years].sum(axis=0).reshape(2, 5, L.N_AGE, -1).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p2 = cells[..., R.S_LTC2P] / cells[..., R.S_EXPO]
    return onset_gap(np.nan_to_num(p2))
