"""tables.xlsx is written without openpyxl (a third of a second of every run): its sheets must
be the very XML openpyxl's streaming writer made, and open in openpyxl and pandas."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from povsim.reporting import workbook as W


def _openpyxl_workbook(path, tables, readme) -> None:
    """The writer povsim used before (openpyxl, write-only), kept as the reference."""
    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    taken = {"readme"}
    names = {key: W.sheet_name(key, taken) for key in tables}
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
        ws.append([str(k), W._plain(v)])
    ws.append([])
    header(ws, ["sheet", "contents"])
    for key, (_, what) in tables.items():
        ws.append([names[key], what])
    for key, (frame, _) in tables.items():
        ws = wb.create_sheet(names[key])
        header(ws, [str(c) for c in frame.columns])
        for row in frame.itertuples(index=False, name=None):
            ws.append([W._plain(v) for v in row])
    wb.save(path)


def _awkward() -> tuple[dict, dict]:
    frame = pd.DataFrame(
        {
            "value": [1.5, np.nan, 1 / 3, 1e20, -0.0, 2.0**53 + 1, 5e-324, np.inf],
            "text": ["x", " lead", "trail ", "a&b<c>\"d'", "", "two\nlines", "über ✓", "1"],
            "mixed": [True, False, np.True_, None, 3, np.int64(7), np.float32(0.1), -2],
            "quintile": ["1", "2", "all", "3", "4", "5", "1", "2"],
        }
    )
    tables = {
        "comparison": (frame, "comparison.csv"),
        "a/b": (frame.iloc[:0], "empty.csv"),
        "a name much longer than thirty-one characters": (frame, "x.csv"),
    }
    readme = {"seed": 3, "description": "ends in a newline\n", "missing": None, "list": [1, 2]}
    return tables, readme


def test_sheets_are_the_xml_openpyxl_wrote(tmp_path):
    tables, readme = _awkward()
    _openpyxl_workbook(tmp_path / "old.xlsx", tables, readme)
    sheets = W.write_workbook(tmp_path / "new.xlsx", tables, readme)
    old, new = zipfile.ZipFile(tmp_path / "old.xlsx"), zipfile.ZipFile(tmp_path / "new.xlsx")
    parts = [n for n in old.namelist() if n.startswith("xl/worksheets/")]
    assert len(parts) == 1 + len(tables) == 1 + len(sheets)
    for part in parts:
        assert new.read(part) == old.read(part), part


def test_the_workbook_opens_with_bold_headers_and_the_same_values(tmp_path):
    tables, readme = _awkward()
    sheets = W.write_workbook(tmp_path / "t.xlsx", tables, readme)
    wb = load_workbook(tmp_path / "t.xlsx")
    assert wb.sheetnames == ["README", *sheets]
    ws = wb[sheets[0]]
    assert [c.value for c in ws[1]] == ["value", "text", "mixed", "quintile"]
    assert all(c.font.b for c in ws[1]) and not ws["A2"].font.b
    assert ws["A4"].value == 1 / 3 and ws["A3"].value is None  # NaN: an empty cell
    assert ws["B3"].value == " lead" and ws["B7"].value == "two\nlines"
    assert ws["C2"].value is True and ws["D4"].value == "all"
    back = pd.read_excel(tmp_path / "t.xlsx", sheet_name=None, dtype={"quintile": str})
    assert list(back) == ["README", *sheets]
    assert back["README"]["value"].iloc[0] == 3
    assert back[sheets[1]].empty and list(back[sheets[1]].columns) == list(tables["a/b"][0])


def test_same_tables_same_bytes_and_text_never_becomes_a_formula(tmp_path):
    frame = pd.DataFrame({"note": ["=1+1", "#N/A", "bell\x07 here"]})
    for name in ("a.xlsx", "b.xlsx"):
        W.write_workbook(tmp_path / name, {"t": (frame, "t.csv")}, {"seed": 1})
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
    ws = load_workbook(tmp_path / "a.xlsx")["t"]
    assert [ws[f"A{r}"].value for r in (2, 3, 4)] == ["=1+1", "#N/A", "bell here"]
    assert ws["A2"].data_type == "s" and ws["A3"].data_type == "s"


@pytest.mark.parametrize("i, letters", [(0, "A"), (25, "Z"), (26, "AA"), (701, "ZZ"), (702, "AAA")])
def test_column_letters(i, letters):
    assert W._column(i) == letters
