"""Shared HTML pieces of every report: the stylesheet, escaping, number formats, embedded
figures. Reports are self-contained (inline CSS, base64 PNG, no scripts)."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

CSS = """
:root { --ink:#1a1a1a; --muted:#5a5a5a; --rule:#d9d9d9; --band:#f4f6f8; --accent:#1b5e8a; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
       line-height: 1.45; margin: 0; background: #fff; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 32px 60px; }
header { border-bottom: 3px solid var(--accent); margin-bottom: 18px; padding-bottom: 10px; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.3em; margin: 34px 0 10px; padding-bottom: 4px;
     border-bottom: 1px solid var(--rule); color: var(--accent); }
h3 { font-size: 1.08em; margin: 22px 0 8px; }
p, li { max-width: 78ch; }
.muted { color: var(--muted); font-size: 0.92em; }
nav ol { columns: 2; max-width: 640px; padding-left: 1.2em; margin: 6px 0; }
table { border-collapse: collapse; margin: 8px 0 14px; font-size: 0.93em; }
th, td { border-bottom: 1px solid var(--rule); padding: 5px 10px; text-align: left;
         vertical-align: top; }
thead th { background: var(--band); border-bottom: 2px solid #bbb; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.group td { background: #fafafa; font-weight: 600; color: var(--muted); }
table.kv th { width: 210px; background: none; font-weight: 600; }
.ci { color: var(--muted); font-size: 0.86em; display: block; }
.imprecise { color: #a33; font-size: 0.86em; display: block; }
.tables { display: flex; flex-wrap: wrap; gap: 18px; }
figure { margin: 14px 0 26px; page-break-inside: avoid; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--rule); }
figcaption { color: var(--muted); font-size: 0.9em; margin-top: 4px; max-width: 90ch; }
details { margin: 10px 0; } summary { cursor: pointer; font-weight: 600; }
.src { font-size: 0.88em; color: #333; max-width: 60ch; }
code { background: var(--band); padding: 0 3px; border-radius: 3px; }
.finding { margin: 4px 0; }
@media print { main { max-width: none; padding: 0; } h2 { page-break-after: avoid; }
               details > * { display: block; } }
"""


def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def fmt_years(v: float, signed: bool = True) -> str:
    v = round(v, 2) + 0.0  # no "-0.00"
    return f"{v:+.2f}" if signed else f"{v:.2f}"


def fmt_count(v: float) -> str:
    return f"{round(v) + 0:,}"


def fmt_money(v: float) -> str:
    return f"-£{abs(v):,.0f}" if v < 0 else f"£{v:,.0f}"


def fmt_big_money(v: float) -> str:
    """Totals: £ million / billion above £10 million."""
    a = abs(v)
    sign = "-" if v < 0 else ""
    if a >= 1e9:
        return f"{sign}£{a / 1e9:,.2f} billion"
    if a >= 1e7:
        return f"{sign}£{a / 1e6:,.1f} million"
    return fmt_money(v)


def cell(stat: dict | None, fmt) -> str:
    """Value with its 95% interval underneath when known (replicates or within-run), and the
    few-events flag (``imprecise``, ``note``) when the figure rests on few simulated events."""
    if stat is None or not finite(stat.get("value")):
        return '<td class="num">n/a</td>'
    text = esc(fmt(stat["value"]))
    if finite(stat.get("lo")) and finite(stat.get("hi")):
        text += f'<span class="ci">95%: {esc(fmt(stat["lo"]))} to {esc(fmt(stat["hi"]))}</span>'
    if stat.get("imprecise"):
        text += f'<span class="imprecise">{esc(stat.get("note", "imprecise"))}</span>'
    return f'<td class="num">{text}</td>'


def includes_zero(stat: dict | None) -> bool:
    return (
        stat is not None
        and finite(stat.get("lo"))
        and finite(stat.get("hi"))
        and stat["lo"] <= 0 <= stat["hi"]
    )


def fmt_pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def img(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )
