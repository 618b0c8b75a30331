"""The risk report's charts (风险统计报表): the area's enterprises by risk colour and each unit's
inspections done of those planned, placed by the dashboard's chart geometry and drawn as SVG by
pwa/templates/reports/_charts.html. They read the report itself, so they cannot disagree with
its table, CSV or XLSX."""

from __future__ import annotations

from dataclasses import dataclass

from backend.dashboard.charts import BarChart, bar_chart
from backend.riskviews.reports import COLOURS, Report


@dataclass(frozen=True)
class Share:
    key: str
    count: int


@dataclass(frozen=True)
class ReportCharts:
    colours: BarChart  # a bar per risk colour, over all the area's enterprises
    inspections: BarChart  # a bar per unit: done / planned, on a 0–100 % scale


def report_charts(report: Report) -> ReportCharts:
    shares = [Share(colour, report.total.colours[colour]) for colour in COLOURS]
    return ReportCharts(
        bar_chart([(share, [(share.key, share.count)]) for share in shares]),
        bar_chart(
            [
                (row, [("done", row.done / row.planned if row.planned else 0.0)])
                for row in report.rows
            ],
            top=1.0,
        ),
    )
