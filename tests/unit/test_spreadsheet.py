"""Spreadsheet cells: text that Excel or WPS would run as a formula is neutralised, the rest is
left exactly as it was."""

from __future__ import annotations

import csv
import io

import pytest

from service.commanding.importing.spreadsheet import safe_cell, write_csv

FORMULA = "=cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    "cell",
    [FORMULA, "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r=1+1", '=HYPERLINK("http://x")'],
)
def test_a_cell_that_would_start_a_formula_gets_a_leading_quote(cell):
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("超限运输 =1+1", "超限运输 =1+1"),
        ("0.5", "0.5"),
        ("'quoted", "'quoted"),
        ('a,b\n"c"', 'a,b\n"c"'),
        ("", ""),
        (None, ""),
        (3, "3"),
    ],
)
def test_other_cells_are_left_as_they_are(value, cell):
    assert safe_cell(value) == cell


def test_a_written_row_reads_back_with_only_the_formula_cell_changed():
    out = io.StringIO()
    write_csv(out, ["line", "CF_SY", "CF_NR"], [[2, FORMULA, '罚款, "0.5" 万元']])
    header, row = csv.reader(io.StringIO(out.getvalue()))
    assert header == ["line", "CF_SY", "CF_NR"]
    assert row == ["2", "'" + FORMULA, '罚款, "0.5" 万元']
    assert out.getvalue().splitlines()[1].startswith('"2","\'=cmd')  # every cell quoted
