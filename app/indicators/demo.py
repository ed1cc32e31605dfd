"""Demo step ``targets``: the district's 2024 table (附件2, docs/domain.md §7) as the institutions'
indicator targets.

The demo centres carry the table's names, so the bundled CSV (``app/demo/data``) imports as it is:
as the targets of 2024, and — because the demo district is dated today and planned on that table —
also as the targets of the demo's current year when that is not 2024, so the admin screen (which
opens on this year) shows them. Counts are the table's, whatever the scale.
"""

from __future__ import annotations

from app.indicators.targets import import_csv

TABLE_YEAR = 2024


def seed_targets(ctx) -> None:
    text = ctx.targets_file.read_text(encoding="utf-8")  # the demo's table (app/demo/data)
    years = sorted({TABLE_YEAR, ctx.today.year})
    for year in years:
        result = import_csv(text, year)
        ctx.counts["indicator_targets"] += result.targets
    ctx.notes.append(
        f"Indicator targets: seed 002's 2024 table loaded for {', '.join(map(str, years))} "
        f"({ctx.counts['indicator_targets']} targets)."
    )
