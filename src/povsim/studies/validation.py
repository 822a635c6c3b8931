"""External validation: published figures that were NOT used to fit the model, against the
model's values, each with a tolerance and pass/fail; plus the calibration targets.

``benchmarks/validate.py`` runs it and writes ``docs/validation.md``; the tests run a quick
subset (the analytic checks and the table's shape).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from povsim.inputs import layout as L
from povsim.inputs.layout import AGES, SEXES
from povsim.inputs.parameters import ModelParams, load_params
from povsim.inputs.prices import PRICE_YEAR
from povsim.measures import life_table as M
from povsim.model import registry as R
from povsim.model.tables import build_cell_tables, smoking_rr_by_age


@dataclass
class Check:
    name: str
    source: str
    published: float
    model: float
    low: float
    high: float
    note: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.low <= self.model <= self.high)


def _cells(tal: np.ndarray, years: int = 3) -> np.ndarray:
    """(2, 5, 101, N_STAT) sums over the first ``years`` simulated years."""
    return tal[:years].sum(axis=0).reshape(2, 5, L.N_AGE, tal.shape[-1])


def _share(c: np.ndarray, stat: int, ages: np.ndarray, sex=None, q=None) -> float:
    sel = c[..., ages, :]
    if sex is not None:
        sel = sel[[sex]]
    if q is not None:
        sel = sel[:, [q]]
    return float(sel[..., stat].sum() / sel[..., R.S_EXPO].sum())


def smoking_years_lost(mp: ModelParams, from_age: int = 25) -> float:
    """LE at ``from_age`` of lifelong never smokers minus lifelong current smokers (persons,
    mean of the sexes): each cell's rate divided by its smoking PAF denominator gives the
    never-smoker rate, times the age-specific RR the current-smoker rate."""
    t = build_cell_tables(mp)
    mx = t.mx.reshape(2, 5, L.N_AGE)
    cur = t.p_smoke_cur.reshape(2, 5, L.N_AGE)
    ex = t.p_smoke_ex.reshape(2, 5, L.N_AGE)
    rr = smoking_rr_by_age(mp)
    adult = AGES >= mp.value("adult_age")
    if rr is None:
        rr = np.where(adult, mp.rr["mortality"]["smoking_current"], 1.0)[None].repeat(2, 0)
    rr_ex = np.where(adult, mp.rr["mortality"]["smoking_ex"], 1.0)
    never = mx / (1 + cur * (rr[:, None] - 1) + ex * (rr_ex - 1))
    smoker = never * rr[:, None]
    diff = M.life_expectancy(never, from_age) - M.life_expectancy(smoker, from_age)
    return float(diff.mean())


def analytic_checks(mp: ModelParams) -> list[Check]:
    """Checks computed from the cell tables alone (fast)."""
    t = build_cell_tables(mp)
    alc = t.p_bin.reshape(-1, 2, 5, L.N_AGE)[R.REGISTRY.index("alcohol_risk")]
    adult = (AGES >= 16) & (AGES <= 100)
    p1, p5 = alc[:, 0, adult].mean(), alc[:, 4, adult].mean()
    odds = (p1 / (1 - p1)) / (p5 / (1 - p5))
    return [
        Check(
            "Years of life lost by lifelong smokers (from 25)",
            "Doll et al., BMJ 2004;328:1519: ~10 years [V]; Jha et al., NEJM 2013: > 10 years [S]",
            10.0,
            smoking_years_lost(mp),
            7.5,
            12.5,
            "never vs current smokers, the model's age-specific RRs",
        ),
        Check(
            "Odds ratio of > 14 units/week, most vs least deprived",
            "Lewer et al., BMC Public Health 2016 (HSE 2008-13): lowest vs highest income "
            "quintile OR 0.60 (0.52-0.69) [V]",
            0.60,
            float(odds),
            0.52,
            0.69,
            "IMD quintile in the model vs income quintile in the source",
        ),
    ]


def simulated_checks(tal: np.ndarray, weight_sii: np.ndarray | None = None) -> list[Check]:
    """Checks on a baseline run's tallies (mean of its first three years)."""
    c = _cells(tal)
    adult = AGES >= 18
    a16 = AGES >= 16
    smokers = c[..., adult, R.S_SMOKE].sum(axis=(0, 2))
    share_q = smokers / smokers.sum()
    checks = [
        Check(
            "Share of adult smokers living in the most deprived fifth",
            "ONS, Deprivation and the impact on smoking prevalence, England and Wales: 2017 "
            "to 2021 (2023): 29.5% of smokers in the two most deprived deciles, 2017 [V]",
            29.5,
            100 * float(share_q[0]),
            25.5,
            33.5,
        ),
        Check(
            "Share of adult smokers living in the least deprived fifth",
            "same ONS bulletin: 12.1% in the two least deprived deciles, 2017 [V]",
            12.1,
            100 * float(share_q[4]),
            9.1,
            15.1,
        ),
        Check(
            "Current smoking, ages 25-34 (%)",
            "ONS, Adult smoking habits in the UK: 2019 (APS, UK): 19.0%, the highest band [V]; "
            "only the 18+ level was fitted, the age shape is OPN's",
            19.0,
            100 * _share(c, R.S_SMOKE, (AGES >= 25) & (AGES <= 34)),
            16.0,
            22.0,
        ),
    ]
    for si, sex in enumerate(SEXES):
        for q, pub in ((0, (35, 37)[si]), (4, (20, 21)[si])):
            checks.append(
                Check(
                    f"Obesity, {sex} 16+, {'most' if q == 0 else 'least'} deprived fifth (%)",
                    "NHS Digital, HSE 2018 Summary: men 35% vs 20%, women 37% vs 21% [V] "
                    "(the model's inputs are HSE 2019 Table 6)",
                    pub,
                    100 * _share(c, R.REGISTRY.stat("obese"), a16, si, q),
                    pub - 4,
                    pub + 4,
                    "crude in the model; age-standardised in HSE",
                )
            )
    mltc = 100 * _share(c, R.S_LTC2P, adult)
    q1 = _share(c, R.S_LTC2P, adult, None, 0)
    q5 = _share(c, R.S_LTC2P, adult, None, 4)
    k1 = _share(c, R.S_LTC2P, a16, None, 0)
    k5 = _share(c, R.S_LTC2P, a16, None, 4)
    checks += [
        Check(
            "Adults (18+) with 2+ long-term conditions (%)",
            "Cassell et al., BJGP 2018;68:e245 (England, CPRD 2012): 27.2% [S]; Health "
            "Foundation 2018: 24% [V]",
            27.2,
            mltc,
            22.0,
            32.0,
            "the model's age profile is McLean 2014 (Scotland)",
        ),
        Check(
            "2+ conditions, adults 18+, most / least deprived fifth (crude ratio)",
            "Cassell et al. 2018: 30.0% vs 25.8% = 1.16 [S]",
            1.16,
            q1 / q5,
            1.0,
            1.35,
        ),
        Check(
            "2+ conditions, 16+, most / least deprived (ratio)",
            "Knies & Kumari, Sci Rep 2022;12:7280 Table 3 (Understanding Society 2018-20): "
            "decile 1 0.29 vs decile 10 0.21 = 1.38 [V]",
            1.38,
            k1 / k5,
            1.1,
            1.6,
            "deciles in the source, quintiles in the model (flatter)",
        ),
    ]
    # share of life in good health, female, Q1 and Q5 (LE and HLE from the tallies)
    hz = c[..., R.S_HAZ] / np.maximum(c[..., R.S_EXPO], 1e-12)
    good = c[..., R.S_GOOD] / np.maximum(c[..., R.S_EXPO], 1e-12)
    le = M.life_expectancy(hz)
    hle = M.sullivan_hle(hz, good)
    for q, pub_share in ((0, 66.3), (4, 82.0)):
        checks.append(
            Check(
                f"Share of life in good health, female, {'most' if q == 0 else 'least'} "
                "deprived (%)",
                "ONS, Health state life expectancies by deprivation, England 2018-20: decile 1 "
                "66.3%, decile 10 82.0% [V]",
                pub_share,
                100 * float(hle[1, q] / le[1, q]),
                pub_share - 5 + (3 if q == 0 else 0),
                pub_share + 5 - (3 if q == 4 else 0),
                "deciles in the source, quintiles in the model: Q1 above D1, Q5 below D10",
            )
        )
    return checks


def cost_checks(tal: np.ndarray) -> list[Check]:
    """NHS spend per head by age from the baseline's first year against its source (Asaria
    2017, all persons): each cell's spend is the source's by construction (docs/model.md
    "Costs by perspective"), so what is checked is the model's sex and quintile mix by age and
    the split by health state."""
    from povsim.inputs.unit_costs import load_unit_costs
    from povsim.measures.costs import cost_levels, nhs_spend_by_age, nhs_unit

    uc = load_unit_costs()
    lv = cost_levels(tal, uc)
    model = nhs_spend_by_age(lv, nhs_unit(lv, uc), 0)
    src = (
        "Asaria 2017, CHE RP147 / PSSRU 2017: NHS spend per person, England 2014/15, all "
        f"persons (calibration/nhs_spend_by_age_sex_quintile.csv) [V], in {PRICE_YEAR} prices "
        "(GDP deflator)"
    )
    checks = [
        Check(
            f"NHS spend per head, age {a}{'+' if a == 85 else ''} (GBP, {PRICE_YEAR} prices)",
            src,
            round(float(uc.nhs_overall[a]), 0),
            float(model[a]),
            0.92 * float(uc.nhs_overall[a]),
            1.08 * float(uc.nhs_overall[a]),
            "not independent: each cell's spend is the source's by construction, so this "
            "checks only the sex/quintile mix by age (within 8%)",
        )
        for a in (0, 10, 20, 30, 40, 50, 60, 70, 80, 85)
    ]
    rel = np.abs(model / uc.nhs_overall - 1)
    checks.append(
        Check(
            "NHS spend per head, mean absolute difference over ages 0-85+ (%)",
            src,
            0.0,
            100 * float(np.nanmean(rel)),
            0.0,
            3.0,
        )
    )
    return checks


def checks_table(checks: list[Check]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "check": k.name,
                "published": k.published,
                "model": round(k.model, 2),
                "tolerance": f"{k.low:g} to {k.high:g}",
                "result": "pass" if k.passed else "FAIL",
                "source": k.source,
                "note": k.note,
            }
            for k in checks
        ]
    )


def run_validation(size: int = 200_000, years: int = 3, seed: int = 20190101):
    """(external checks, baseline tallies, decomposition) for ``docs/validation.md``."""
    from povsim.engine.simulate import prepare, simulate
    from povsim.measures.attribution import decompose

    mp = load_params()
    tables, pop = prepare(mp, size, years, seed)
    dec = decompose(tables, pop, mp)
    tal = simulate(mp, tables, pop, years, seed)
    checks = analytic_checks(mp) + simulated_checks(tal) + cost_checks(tal)
    return checks_table(checks), tal, dec
