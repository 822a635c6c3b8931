"""Who pays, who saves: one table and one figure of costs by perspective per arm.

Self-contained so that a report template can take it whole: :func:`who_pays_table` builds the
numbers (a plain frame), :func:`who_pays_figure` the chart, :func:`who_pays_html` the block of
HTML a report inserts. Numbers are the comparison's final-year discounted cumulative totals,
sex and quintile `all`, GBP for the modelled area (its real population), discounted at the
run's cost rate (docs/model.md "Costs by perspective").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from povsim.measures.costs import PERSPECTIVES
from povsim.reporting.html import esc, fmt_big_money, img

LABELS = {
    "nhs": "NHS",
    "social_care": "Adult social care",
    "local_government": "Local government",
    "exchequer": "Exchequer",
    "society": "Society",
}
COLUMNS = ["arm", "perspective", "programme_cost", "costs_avoided", "net_cost", "roi", "per_qaly"]
FIGURE = "who_pays.png"
CAPTION = (
    "Who pays, who saves: for each arm, the programme cost each perspective bears and the "
    "costs it avoids (NHS and social-care spend, benefits paid less taxes received), "
    "discounted totals over the horizon (£ million). Society leaves out transfers."
)


def who_pays_table(comparison: pd.DataFrame | None) -> pd.DataFrame:
    """Per arm and perspective (rows), discounted totals over the horizon, GBP:
    programme cost borne, costs avoided, net cost (= programme cost - costs avoided), return on
    investment (costs avoided / programme cost; NaN if the perspective pays nothing) and net
    cost per QALY gained; plus one row per arm, perspective ``earnings``, with earnings gained
    in ``costs_avoided``. Empty when the comparison has no cost rows."""
    if comparison is None or comparison.empty:
        return pd.DataFrame(columns=COLUMNS)
    c = comparison[(comparison.sex == "all") & (comparison.quintile == "all")]
    c = c[c.year == c.year.max()]
    if "net_cost_nhs_discounted_cumulative" not in set(c.measure):
        return pd.DataFrame(columns=COLUMNS)
    v = c.set_index(["arm", "measure"]).value
    rows = []
    for arm in dict.fromkeys(c.arm):

        def get(name: str, arm: str = arm) -> float:
            return float(v.get((arm, name), np.nan))

        for p in PERSPECTIVES:
            avoided = get(f"costs_avoided_{p}_discounted_cumulative")
            net = get(f"net_cost_{p}_discounted_cumulative")
            rows.append(
                {
                    "arm": arm,
                    "perspective": p,
                    "programme_cost": net + avoided,
                    "costs_avoided": avoided,
                    "net_cost": net,
                    "roi": get(f"roi_{p}"),
                    "per_qaly": get(f"cost_per_qaly_{p}"),
                }
            )
        rows.append(
            {
                "arm": arm,
                "perspective": "earnings",
                "programme_cost": np.nan,
                "costs_avoided": get("earnings_gained_discounted_cumulative"),
                "net_cost": np.nan,
                "roi": np.nan,
                "per_qaly": np.nan,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def who_pays_from_totals(table: pd.DataFrame, name: str = "strategy") -> pd.DataFrame:
    """The same frame as :func:`who_pays_table` from one row per option (column ``name``)
    holding discounted totals (``costs_avoided_<p>_disc``, ``net_cost_<p>_disc``,
    ``roi_<p>``, ``cost_per_qaly_<p>``, ``earnings_gained_disc``): `povsim compare`'s
    comparison table. Empty when it has no cost columns."""
    if table is None or table.empty or "net_cost_nhs_disc" not in table.columns:
        return pd.DataFrame(columns=COLUMNS)
    rows = []
    for r in table.to_dict("records"):

        def get(key: str, r: dict = r) -> float:
            v = r.get(key)
            return float(v) if v is not None else float("nan")

        for p in PERSPECTIVES:
            avoided, net = get(f"costs_avoided_{p}_disc"), get(f"net_cost_{p}_disc")
            rows.append(
                {
                    "arm": r[name],
                    "perspective": p,
                    "programme_cost": net + avoided,
                    "costs_avoided": avoided,
                    "net_cost": net,
                    "roi": get(f"roi_{p}"),
                    "per_qaly": get(f"cost_per_qaly_{p}"),
                }
            )
        rows.append(
            {
                "arm": r[name],
                "perspective": "earnings",
                "programme_cost": np.nan,
                "costs_avoided": get("earnings_gained_disc"),
                "net_cost": np.nan,
                "roi": np.nan,
                "per_qaly": np.nan,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def who_pays_figure(table: pd.DataFrame, path: Path) -> bool:
    """Bars per perspective (programme cost borne, costs avoided, net cost; £ million), one
    panel per arm; False (nothing written) when the table is empty."""
    from povsim.reporting.figure_store import plt, save_figure

    t = table[table.perspective != "earnings"]
    if t.empty:
        return False
    arms = list(dict.fromkeys(t.arm))
    fig, axes = plt.subplots(
        len(arms), 1, figsize=(8.5, 2.8 * len(arms) + 0.6), squeeze=False, sharex=True
    )
    x = np.arange(len(PERSPECTIVES))
    for ax, arm in zip(axes[:, 0], arms):
        a = t[t.arm == arm].set_index("perspective").reindex(PERSPECTIVES)
        for k, (col, label, colour) in enumerate(
            (
                ("programme_cost", "programme cost borne", "#b2182b"),
                ("costs_avoided", "costs avoided", "#2166ac"),
                ("net_cost", "net cost", "#4d4d4d"),
            )
        ):
            ax.bar(
                x + (k - 1) * 0.27, a[col].to_numpy(float) / 1e6, 0.27, label=label, color=colour
            )
        ax.axhline(0, color="black", lw=0.8)
        ax.set_title(f"{arm}", loc="left", fontsize=10)
        ax.set_ylabel("£ million")
    axes[0, 0].legend(fontsize=8, ncol=3, loc="best")
    axes[-1, 0].set_xticks(x, [LABELS[p] for p in PERSPECTIVES])
    fig.suptitle("Who pays, who saves (discounted totals over the horizon)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path, dpi=110)
    return True


def _money(x: float) -> str:
    return fmt_big_money(x) if np.isfinite(x) else "-"


def who_pays_html(table: pd.DataFrame, area_name: str, figure: Path | None = None) -> str:
    """The report block: a table per arm and the figure (if written); '' when empty."""
    if table.empty:
        return ""
    out = [
        '<h2 id="who-pays">Who pays, who saves</h2>',
        f"<p>Costs by perspective for {esc(area_name)} (its real population), discounted "
        "totals over the horizon. <em>Programme cost</em>: what the perspective pays for the "
        "arm's interventions (each intervention's <code>funder</code>; the benefits claimed "
        "after welfare advice, <code>benefit_take_up</code>, are the Exchequer's); "
        "<em>costs avoided</em>: "
        "the baseline's NHS and social-care spend, benefits paid less taxes received, minus "
        "the arm's; <em>net cost</em> = programme cost - costs avoided (negative: it saves "
        "more than it pays); <em>ROI</em> = costs avoided / programme cost. Society counts "
        "NHS and social care and every programme cost except cash transfers (a transfer costs "
        "its payer and benefits its recipient); earnings gained are productivity, shown apart."
        "</p>",
    ]
    for arm in dict.fromkeys(table.arm):
        a = table[table.arm == arm]
        body = ""
        for r in a.itertuples():
            if r.perspective == "earnings":
                body += (
                    f"<tr><td>Earnings gained (productivity, apart)</td><td></td>"
                    f'<td class="num">{esc(_money(r.costs_avoided))}</td><td></td><td></td>'
                    "<td></td></tr>"
                )
                continue
            roi = f"{r.roi:.2f}" if np.isfinite(r.roi) else "-"
            per_qaly = _money(r.per_qaly)
            body += (
                f"<tr><td>{esc(LABELS[r.perspective])}</td>"
                f'<td class="num">{esc(_money(r.programme_cost))}</td>'
                f'<td class="num">{esc(_money(r.costs_avoided))}</td>'
                f'<td class="num">{esc(_money(r.net_cost))}</td>'
                f'<td class="num">{esc(roi)}</td><td class="num">{esc(per_qaly)}</td></tr>'
            )
        out.append(
            f"<h3>{esc(arm)}</h3><table><thead><tr><th>perspective</th><th>programme cost</th>"
            "<th>costs avoided</th><th>net cost</th><th>ROI</th><th>net cost per QALY</th>"
            f"</tr></thead><tbody>{body}</tbody></table>"
        )
    if figure is not None and figure.exists():
        out.append(img(figure, CAPTION))
    return "".join(out)
