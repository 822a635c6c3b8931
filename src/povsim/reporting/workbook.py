"""An Excel workbook of a report's tables for analysts (``tables.xlsx``).

One sheet per table, each a copy of a CSV written beside it (or of a stated selection of one:
the run's final-year comparison and its expectancies, so the workbook stays small enough to
open), and a README sheet first that says where the numbers come from: scenario, seed,
replicates, povsim version, units and, for every sheet, the CSV it copies. Written to a
temporary name and renamed into place, so a reader never sees half a workbook.

The file is plain SpreadsheetML written here (a zip of a few XML parts: one sheet part per
table, inline strings, one bold style for header rows), not through openpyxl: the sheets are
the XML openpyxl's streaming writer produced, cell for cell (numbers to 16 significant
digits, the same escaping), at a fifth of the time and without its import (together a
quarter of a second of every ``povsim run``). Two deliberate differences: a text starting
with ``=`` or equal to an Excel error code stays text (openpyxl made it a live formula or
error), and characters XML cannot hold are dropped (openpyxl refused the whole workbook).
Same inputs give the same bytes (no timestamps inside).
"""

from __future__ import annotations

import math
import os
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

WORKBOOK = "tables.xlsx"
MAX_ROWS = 1_048_575  # Excel's limit, less the header row
MAX_TEXT = 32_767  # Excel's longest cell text (longer text is cut, as openpyxl did)

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_ILLEGAL = re.compile(r"[\000-\010\013\014\016-\037]")  # not allowed in XML 1.0
_STAMP = (1980, 1, 1, 0, 0, 0)  # zip entry time: fixed, so the file depends on its contents
_BOLD = 1  # style index of header cells


def _plain(v: Any) -> Any:
    """A value a cell can hold: Python scalars, NaN and None as empty cells."""
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


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(text: str) -> str:
    return _esc(text).replace('"', "&quot;")


def _column(i: int) -> str:
    """Spreadsheet column letters of 0-based column ``i`` (0 -> A, 26 -> AA)."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _cell(ref: str, v: Any, style: str) -> str:
    """One ``<c>`` element, or "" for an empty cell (None: nothing written)."""
    v = _plain(v)
    if v is None:
        return ""
    if isinstance(v, str):
        v = _ILLEGAL.sub("", v[:MAX_TEXT])
        if not v:
            return f'<c r="{ref}"{style} t="inlineStr" />'
        stripped = v.strip()
        space = ' xml:space="preserve"' if stripped and stripped != v else ""
        return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{_esc(v)}</t></is></c>'
    kind = "b" if isinstance(v, bool) else "n"
    return f'<c r="{ref}"{style} t="{kind}"><v>{v:.16g}</v></c>'


def _sheet_xml(rows: list[tuple[list[Any], bool]]) -> str:
    """A worksheet part: ``rows`` are (values, header?) in order, from row 1."""
    width = max((len(values) for values, _ in rows), default=0)
    cols = [_column(j) for j in range(width)]
    out = [
        f'<worksheet xmlns="{_MAIN}"><sheetPr><outlinePr summaryBelow="1" summaryRight="1" />'
        '<pageSetUpPr /></sheetPr><sheetViews><sheetView workbookViewId="0"><selection '
        'activeCell="A1" sqref="A1" /></sheetView></sheetViews><sheetFormatPr '
        'baseColWidth="8" defaultRowHeight="15" /><sheetData>'
    ]
    for r, (values, header) in enumerate(rows, start=1):
        style = f' s="{_BOLD}"' if header else ""
        cells = "".join(_cell(f"{cols[j]}{r}", v, style) for j, v in enumerate(values))
        out.append(f'<row r="{r}">{cells}</row>')
    out.append(
        '</sheetData><pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" '
        'footer="0.5" /></worksheet>'
    )
    return "".join(out)


_STYLES = (
    f'<styleSheet xmlns="{_MAIN}"><numFmts count="0" /><fonts count="2"><font><name '
    'val="Calibri" /><family val="2" /><sz val="11" /><scheme val="minor" /></font><font><b '
    'val="1" /></font></fonts><fills count="2"><fill><patternFill /></fill><fill><patternFill '
    'patternType="gray125" /></fill></fills><borders count="1"><border><left /><right /><top />'
    '<bottom /><diagonal /></border></borders><cellStyleXfs count="1"><xf numFmtId="0" '
    'fontId="0" fillId="0" borderId="0" /></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" '
    'fontId="0" fillId="0" borderId="0" xfId="0" /><xf numFmtId="0" fontId="1" fillId="0" '
    'borderId="0" xfId="0" /></cellXfs><cellStyles count="1"><cellStyle name="Normal" '
    'xfId="0" builtinId="0" /></cellStyles></styleSheet>'
)


def _package(names: list[str]) -> dict[str, str]:
    """Every part but the sheets: content types, relationships, workbook, styles, core."""
    n = len(names)
    sheets = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_CT}.worksheet+xml" />'
        for i in range(1, n + 1)
    )
    types = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml" />'
        '<Default Extension="xml" ContentType="application/xml" />'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml" />'
        f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml" />'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml" />'
        f"{sheets}</Types>"
    )
    root_rels = (
        f'<Relationships xmlns="{_PKG_REL}"><Relationship Type="{_REL}/officeDocument" '
        'Target="xl/workbook.xml" Id="rId1" /><Relationship Type="http://schemas.'
        'openxmlformats.org/package/2006/relationships/metadata/core-properties" '
        'Target="docProps/core.xml" Id="rId2" /></Relationships>'
    )
    core = (
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>povsim'
        "</dc:creator></cp:coreProperties>"
    )
    book = (
        f'<workbook xmlns:r="{_REL}" xmlns="{_MAIN}"><workbookPr /><bookViews><workbookView '
        'activeTab="0" /></bookViews><sheets>'
        + "".join(
            f'<sheet name="{_attr(name)}" sheetId="{i}" state="visible" r:id="rId{i}" />'
            for i, name in enumerate(names, start=1)
        )
        + '</sheets><calcPr calcId="124519" fullCalcOnLoad="1" /></workbook>'
    )
    book_rels = (
        f'<Relationships xmlns="{_PKG_REL}">'
        + "".join(
            f'<Relationship Type="{_REL}/worksheet" Target="/xl/worksheets/sheet{i}.xml" '
            f'Id="rId{i}" />'
            for i in range(1, n + 1)
        )
        + f'<Relationship Type="{_REL}/styles" Target="styles.xml" Id="rId{n + 1}" />'
        "</Relationships>"
    )
    return {
        "[Content_Types].xml": types,
        "_rels/.rels": root_rels,
        "docProps/core.xml": core,
        "xl/workbook.xml": book,
        "xl/_rels/workbook.xml.rels": book_rels,
        "xl/styles.xml": _STYLES,
    }


def _put(z: zipfile.ZipFile, name: str, text: str) -> None:
    info = zipfile.ZipInfo(name, date_time=_STAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, text.encode("utf-8"))


def write_workbook(
    path: Path,
    tables: Mapping[str, tuple[pd.DataFrame, str]],
    readme: Mapping[str, Any],
) -> list[str]:
    """Write ``tables`` ({sheet: (frame, what it is, e.g. "comparison.csv")}) after a README
    sheet of ``readme`` items (key, value) to ``path`` atomically; returns the sheet names."""
    path = Path(path)
    taken: set[str] = {"readme"}
    names = {key: sheet_name(key, taken) for key in tables}
    first: list[tuple[list[Any], bool]] = [(["item", "value"], True)]
    first += [([str(k), v], False) for k, v in readme.items()]
    first.append(([], False))
    first.append((["sheet", "contents"], True))
    for key, (frame, what) in tables.items():
        note = what if len(frame) <= MAX_ROWS else f"{what} (first {MAX_ROWS:,} rows)"
        first.append(([names[key], note], False))
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        with zipfile.ZipFile(tmp, "w") as z:
            for part, text in _package(["README", *names.values()]).items():
                _put(z, part, text)
            _put(z, "xl/worksheets/sheet1.xml", _sheet_xml(first))
            for i, (frame, _) in enumerate(tables.values(), start=2):
                rows = [([str(c) for c in frame.columns], True)]
                rows += [
                    (list(r), False)
                    for r in frame.head(MAX_ROWS).itertuples(index=False, name=None)
                ]
                _put(z, f"xl/worksheets/sheet{i}.xml", _sheet_xml(rows))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return list(names.values())
