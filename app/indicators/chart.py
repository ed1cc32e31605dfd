"""PNG charts of the month-by-month series for the admin screen (matplotlib, Agg, in memory).

One indicator: its rate month by month, the target as a dashed line. Several: a grid of small
multiples, one panel each, same layout. Titles are the Chinese labels when a CJK font is
installed, else the English names (no boxes for missing glyphs). Nothing is written to disk.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache

CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "AR PL UMing CN",
)


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    from matplotlib import font_manager  # matplotlib only when a chart is drawn: it is slow to import

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def _title(series: dict) -> str:
    return series["label"] if cjk_font() else series["name"]


def png(series_list: list[dict], *, title: str, fallback_title: str) -> bytes:
    """``title`` may hold Chinese; ``fallback_title`` is used when no CJK font is installed."""
    import matplotlib  # only when a chart is drawn (as in cjk_font)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    count = max(1, len(series_list))
    cols = 1 if count == 1 else min(4, count)
    rows = math.ceil(count / cols)
    size = (7.5, 4.2) if count == 1 else (3.6 * cols, 2.7 * rows + 0.6)
    font = cjk_font()
    rc = {"font.family": [font, "DejaVu Sans"]} if font else {}
    with matplotlib.rc_context(rc):
        figure = Figure(figsize=size, dpi=100)
        FigureCanvasAgg(figure)
        for n, series in enumerate(series_list):
            axes = figure.add_subplot(rows, cols, n + 1)
            months = [p["month"] for p in series["points"]]
            rates = [p["rate"] if p["rate"] is not None else math.nan for p in series["points"]]
            axes.plot(months, rates, marker="o", markersize=3, linewidth=1.6, color="#1f6fb2", label="rate")
            if series.get("target") is not None:
                axes.axhline(series["target"], color="#d62728", linestyle="--", linewidth=1.2, label="target")
            top = max([r for r in rates if not math.isnan(r)] + [series.get("target") or 0, 0.05])
            axes.set_ylim(0, min(1.0, top * 1.15) if top <= 1 else top * 1.1)
            axes.set_xlim(0.5, 12.5)
            axes.set_xticks(range(1, 13))
            axes.tick_params(labelsize=7)
            axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
            axes.set_title(_title(series), fontsize=9 if count > 1 else 11)
            axes.grid(True, alpha=0.3)
            if n == 0:
                axes.legend(fontsize=7, loc="lower right")
        figure.suptitle(title if font else fallback_title, fontsize=11 if count > 1 else 12)
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png")
    return out.getvalue()
