"""Shared HTML pieces of every report: the Jinja2 environment (package templates in
``templates/``, autoescaped), the stylesheet, number formats, embedded figures. Reports are
self-contained (inline CSS, base64 PNG, no scripts)."""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

TEMPLATES = Path(__file__).with_name("templates")
CSS = (TEMPLATES / "style.css").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The reports' Jinja2 environment: package templates, autoescaping on (scenario names and
    descriptions are the user's text), undefined names an error rather than blank output."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        years=fmt_years,
        count=fmt_count,
        money=fmt_money,
        big_money=fmt_big_money,
        pct=fmt_pct,
        ticks=ticks,
    )
    return env


def ticks(text: Any) -> markupsafe.Markup:
    """Escape ``text`` and show its `back-ticked` parts as code (file names, commands)."""
    escaped = str(markupsafe.escape(text))
    return markupsafe.Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped))


def render(template: str, **context: Any) -> str:
    """Render a report template (``templates/<template>``)."""
    return environment().get_template(template).render(**context)


def stat_cell(stat: dict | None, fmt: Callable[[float], str]) -> dict[str, str] | None:
    """A table cell's text: the value and, when the run had replicates, its 95% interval;
    None (shown as n/a) where undefined."""
    if stat is None or not finite(stat.get("value")):
        return None
    out = {"text": fmt(stat["value"]), "ci": "", "flag": ""}
    if finite(stat.get("lo")) and finite(stat.get("hi")):
        out["ci"] = f"95%: {fmt(stat['lo'])} to {fmt(stat['hi'])}"
    if stat.get("imprecise"):  # a figure resting on few simulated events says so
        out["flag"] = str(stat.get("note") or "imprecise")
    return out


def figure(path: Path, caption: str) -> dict[str, str]:
    """An embedded figure for the templates: a base64 PNG data URI and its caption."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return {"src": f"data:image/png;base64,{data}", "caption": caption}


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
    """Value with its 95% interval underneath when the run had replicates."""
    if stat is None or not finite(stat.get("value")):
        return '<td class="num">n/a</td>'
    text = esc(fmt(stat["value"]))
    if finite(stat.get("lo")) and finite(stat.get("hi")):
        text += f'<span class="ci">95%: {esc(fmt(stat["lo"]))} to {esc(fmt(stat["hi"]))}</span>'
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
