"""Write the two ILLUSTRATIVE example compositions (run from the repository root).

They are NOT any real place. Each starts from England's mid-2019 age-sex counts
(calibration/population_england_mid2019.csv, ONS), reweights age bands to make the area
younger (urban) or older (rural), scales to a round total and splits every band by IMD
quintile with fixed shares. The shares and age weights are assumptions chosen to span what
English places look like (some places have ~half their residents in the most deprived
national quintile, others almost none); replace them with your area's ONS small-area
population estimates by LSOA joined to IMD2019 quintiles.
"""

from __future__ import annotations

import pandas as pd

AREAS = {
    "urban_deprived": {
        "total": 300_000,
        "shares": [0.45, 0.25, 0.15, 0.10, 0.05],
        # younger: more children and young adults, fewer older people (assumption)
        "age_weight": lambda a: (
            1.15 if a < 15 else 1.25 if 20 <= a < 40 else 0.7 if a >= 65 else 1.0
        ),
        "about": "ILLUSTRATIVE deprived urban area (not a real place): 300,000 residents, 45% in "
        "the most deprived national IMD quintile, younger than England",
    },
    "rural_affluent": {
        "total": 250_000,
        "shares": [0.03, 0.07, 0.25, 0.35, 0.30],
        # older: fewer young adults, more people over 65 (assumption)
        "age_weight": lambda a: 0.75 if 20 <= a < 40 else 1.35 if a >= 65 else 1.0,
        "about": "ILLUSTRATIVE less deprived rural area (not a real place): 250,000 residents, 3% "
        "in the most deprived national IMD quintile, older than England",
    },
}


def main() -> None:
    pop = pd.read_csv(
        "calibration/population_england_mid2019.csv", comment="#", skipinitialspace=True
    )
    for name, spec in AREAS.items():
        w = pop["count"] * pop["age_min"].map(spec["age_weight"])
        counts = w / w.sum() * spec["total"]
        lines = [
            f"# {spec['about']}.",
            "# tag assumption: age-sex profile = ONS mid-2019 England (population_england_mid2019.csv) "  # noqa: E501
            "reweighted by illustrative age weights; quintile shares "
            + ":".join(f"{s:.0%}" for s in spec["shares"])
            + " (Q1..Q5) in every band, illustrative.",
            "# Written by scenarios/data/make_illustrative_compositions.py. Replace with your area's "  # noqa: E501
            "ONS LSOA population estimates joined to IMD2019 quintiles.",
            "sex,age_min,age_max,quintile,count,tag,source",
        ]
        for r, c in zip(pop.itertuples(), counts):
            for q, share in enumerate(spec["shares"], start=1):
                lines.append(
                    f"{r.sex},{r.age_min},{r.age_max},{q},{c * share:.0f},assumption,"
                    "illustrative (see header)"
                )
        path = f"scenarios/data/{name}_composition_illustrative.csv"
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        print(path, round(sum(counts)))


if __name__ == "__main__":
    main()
