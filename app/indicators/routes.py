from flask import Response
from flask_smorest import Blueprint

from app.access.actors import current_actor, staff_required
from app.common.time import today
from app.extensions import db
from app.indicators import chart, definitions, export, schemas, service, targets

blp = Blueprint("indicators", __name__, url_prefix="/api/v1",
                description="Performance indicators (绩效评价) of institutions and the district: numbers with "
                            "targets, month-by-month trends, charts, exports and the residents behind each number")

ADMINS = ("institution_admin", "team_leader")  # district admins pass every role check


@blp.route("/indicators", methods=["GET"])
@staff_required(*ADMINS)
@blp.arguments(schemas.IndicatorsArgs, location="query")
@blp.response(200, schemas.IndicatorReportOut)
def get_indicators(args):
    """Every indicator of an institution's subtree, its children, teams or months, with targets.

    DOMAIN.md §7; definitions at GET /indicators/definitions. Rows for the subtree total, the
    institution's own residents and each child institution, with numerator, denominator, rate,
    target (the targets table for the year, else the default) and met.

    `team_id`: one team's residents; `by=team`: per team; `by=month`: a series per indicator, month by
    month up to `as_of`. Institution admins, team leaders and the district admin; another subtree → 404."""
    return service.report(current_actor(), **args)


@blp.route("/indicators.xlsx", methods=["GET"])
@staff_required(*ADMINS)
@blp.arguments(schemas.IndicatorExportArgs, location="query")
@blp.response(200, content_type=export.XLSX_MIME)
def get_indicators_xlsx(args):
    """The indicators as an .xlsx laid out like seed 002's 附件2 table.

    Institutions as rows; per indicator 目标数 / 完成数 / 完成率; a 明细 sheet (every row of the JSON)
    and a 指标定义 sheet (the definitions)."""
    body = service.export_report(current_actor(), **args)
    return Response(export.workbook(body), mimetype=export.XLSX_MIME, headers={
        "Content-Disposition": f'attachment; filename="indicators-{body["institution_id"]}-{body["year"]}.xlsx"'})


@blp.route("/indicators.csv", methods=["GET"])
@staff_required(*ADMINS)
@blp.arguments(schemas.IndicatorExportArgs, location="query")
@blp.response(200, content_type=export.CSV_MIME)
def get_indicators_csv(args):
    """The indicator rows as CSV (UTF-8 with BOM), the same numbers as the JSON."""
    body = service.export_report(current_actor(), **args)
    return Response(export.csv_text(body), mimetype=export.CSV_MIME, headers={
        "Content-Disposition": f'attachment; filename="indicators-{body["institution_id"]}-{body["year"]}.csv"'})


@blp.route("/indicators/chart.png", methods=["GET"])
@staff_required(*ADMINS)
@blp.arguments(schemas.IndicatorChartArgs, location="query")
@blp.response(200, content_type="image/png")
def get_indicators_chart(args):
    """A PNG chart of the month-by-month rates with the target line.

    One indicator (`indicator=`), or a grid of small multiples (several, or all when none is given)."""
    body = service.report(current_actor(), by="month", **args)
    title = f"{body['team_name'] or body['institution_name']} {body['year']}（截至{body['as_of'].isoformat()}）"
    fallback = (f"{'Team ' + str(body['team_id']) if body['team_id'] else 'Institution ' + str(body['institution_id'])}"
                f" {body['year']} (as of {body['as_of'].isoformat()})")
    data = chart.png(body["series"], title=title, fallback_title=fallback)
    return Response(data, mimetype="image/png", headers={"Cache-Control": "no-store"})


@blp.route("/indicators/definitions", methods=["GET"])
@staff_required()
@blp.response(200, schemas.IndicatorDefinitionOut(many=True))
def get_definitions():
    """How every indicator is computed: numerator, denominator, time window, target (docs/indicators.md)."""
    return [definitions.describe(d) for d in definitions.DEFINITIONS]


@blp.route("/indicators/<key>/residents", methods=["GET"])
@staff_required()
@blp.arguments(schemas.IndicatorDrilldownArgs, location="query")
@blp.response(200, schemas.IndicatorDrilldownOut)
def get_indicator_residents(args, key):
    """The residents behind a number, for the doctors to act on.

    `part=numerator` (counted) or `part=missing` (in the denominator, not counted — e.g. hypertension patients with fewer than 4 face-to-face follow-ups this year), for an
    institution's subtree or a team, in the caller's scope, paginated; the totals equal the counts.
    Identity masked; each listed resident's access log records the read (purpose statistics)."""
    body = service.residents_page(current_actor(), key, **args)
    db.session.commit()
    return body


@blp.route("/indicators/targets", methods=["GET"])
@staff_required(*ADMINS)
@blp.arguments(schemas.IndicatorTargetArgs, location="query")
@blp.response(200, schemas.IndicatorTargetOut(many=True))
def get_targets(args):
    """The targets of a year for an institution's subtree (default: the caller's institution, this year)."""
    return service.list_targets(current_actor(), args.get("institution_id"), args.get("year") or today().year)


@blp.route("/indicators/targets", methods=["PUT"])
@staff_required("district_admin")
@blp.arguments(schemas.IndicatorTargetIn)
@blp.response(200, schemas.IndicatorTargetOut)
def put_target(body):
    """Set one target (district admin).

    `target_rate` (0–1) and/or `target_count` for an institution, year and indicator; replaces what
    was there (a field left out is cleared)."""
    row = targets.put(current_actor(), body)
    db.session.commit()
    return service.present_target(row)
