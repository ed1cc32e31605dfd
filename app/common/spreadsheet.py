"""One rule for every cell the API writes to a spreadsheet (xlsx or csv).

Text in a cell is people's text (institution, team and staff names, survey answers…), some of it
stored before names were checked at input:
- control characters that XML 1.0 cannot carry are dropped: openpyxl refuses them, and one such
  name made a whole export a 500;
- text that a spreadsheet would read as a formula (starting with ``= + - @``, or a tab or carriage
  return before one) gets a leading ``'``, so ``=HYPERLINK(…)`` is shown, never evaluated — also
  after the file is opened as CSV or the cell is edited.
Numbers, dates and booleans pass unchanged.
"""

from __future__ import annotations

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """``value`` as a spreadsheet may hold and show it (see the module's rule)."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
