"""An Excel workbook of a report's tables for analysts (``tables.xlsx``).

One sheet per table, each a copy of a CSV written beside it (or of a stated selection of one:
the run's final-year comparison and its expectancies, so the workbook stays small enough to
open), and a README sheet first that says where the numbers come from: scenario, seed,
replicates, povsim version, units and, for every sheet, the CSV it copies. Written with
openpyxl's streaming writer to a temporary name and renamed into place, so a reader never
sees half a workbook."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

WORKBOOK = "tables.xlsx"
MAX_ROWS = 1_048_575  # Excel's limit, less the header row


def _plain(v: Any) -> Any:
    """A value openpyxl can store: Python scalars, NaN and None as empty cells."""
    if v is None:
        return None
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (int, float, str, bool)):
        return v
    return str(v)


def sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique sheet name (at most 31 characters, none of []:*?/\\)."""
    base = "".join("_" if c in "[]:*?/\\" else c for c in name)[:31] or "table"
    out, k = base, 2
    while out.lower() in taken:
        suffix = f"_{k}"
        out, k = base[: 31 - len(suffix)] + suffix, k + 1
    taken.add(out.lower())
    return out


def write_workbook(
    path: Path,
    tables: Mapping[str, tuple[pd.DataFrame, str]],
    readme: Mapping[str, Any],
) -> list[str]:
    """Write ``tables`` ({sheet: (frame, what it is, e.g. "comparison.csv")}) after a README
    sheet of ``readme`` items (key, value) to ``path`` atomically; returns the sheet names."""
    path = Path(path)
    wb = Workbook(write_only=True)
    try:
        return _write(wb, path, tables, readme)
    except BaseException:
        _discard(wb)
        raise


def _discard(wb: Workbook) -> None:
    """Close the row writers of an abandoned write-only workbook here, quietly. Left to the
    garbage collector (an interrupt or SIGTERM while writing), each one fails writing to its
    closed temporary file and Python prints "Exception ignored ... Traceback" on stderr, where
    a user must see only povsim's one-line message."""
    for ws in wb.worksheets:
        rows = getattr(ws, "_rows", None)  # openpyxl's write-only row generator
        if rows is not None:
            try:
                rows.close()
            except Exception:  # its file is already closed: nothing left to write
                pass
            ws._rows = None


def _write(
    wb: Workbook,
    path: Path,
    tables: Mapping[str, tuple[pd.DataFrame, str]],
    readme: Mapping[str, Any],
) -> list[str]:
    bold = Font(bold=True)
    taken: set[str] = {"readme"}
    names = {key: sheet_name(key, taken) for key in tables}
    ws = wb.create_sheet("README")

    def header(ws, values) -> None:
        row = []
        for v in values:
            c = WriteOnlyCell(ws, value=v)
            c.font = bold
            row.append(c)
        ws.append(row)

    header(ws, ["item", "value"])
    for k, v in readme.items():
        ws.append([str(k), _plain(v)])
    ws.append([])
    header(ws, ["sheet", "contents"])
    for key, (frame, what) in tables.items():
        note = what if len(frame) <= MAX_ROWS else f"{what} (first {MAX_ROWS:,} rows)"
        ws.append([names[key], note])
    for key, (frame, _) in tables.items():
        ws = wb.create_sheet(names[key])
        header(ws, [str(c) for c in frame.columns])
        for row in frame.head(MAX_ROWS).itertuples(index=False, name=None):
            ws.append([_plain(v) for v in row])
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        wb.save(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return list(names.values())
