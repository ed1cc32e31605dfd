from flask import Response
from flask_smorest import Blueprint

from app.access.actors import current_actor, staff_required
from app.access.scope import get_institution, get_team
from app.archive import schemas as archive_schemas
from app.common.time import today
from app.contracts import schemas as contract_schemas
from app.errors import Forbidden, Invalid
from app.followups import schemas as followup_schemas
from app.indicators import catalogue, chart, drilldown, export, report, schemas, targets, views

blp = Blueprint(
    "indicators",
    __name__,
    url_prefix="/api/v1",
    description="Performance indicators (绩效评价) of institutions and the district: numbers with "
    "targets, month-by-month trends, charts, exports and the residents behind each number",
)

ADMINS = ("institution_admin", "team_leader")  # district admins pass every role check


@blp.route("/indicators", methods=["GET"])
@staff_required(*ADMINS)
@blp.arguments(schemas.IndicatorsArgs, location="query")
@blp.response(200, schemas.IndicatorReportOut)
def get_indicators(args):
    """Every indicator of an institution's subtree, its children, teams or months, with targets.

    docs/domain.md §7; definitions at GET /indicators/definitions. Rows for the subtree total, the
    institution's own residents and each child institution, with numerator, denominator, rate,
    target (the targets table for the year, else the default) and met.

    `team_id`: one team's residents; `by=team`: per team; `by=month`: a series per indicator, month by
    month up to `as_of`. Institution admins, team leaders and the district admin; another subtree → 404."""
    return report.report(current_actor(), **args)


@blp.route("/indicators.xlsx", methods=["GET"])
@staff_required(*ADMINS)
@blp.arguments(schemas.IndicatorExportArgs, location="query")
@blp.response(200, content_type=export.XLSX_MIME)
def get_indicators_xlsx(args):
    """The indicators as an .xlsx laid out like the district's 附件2 targets table.

    Institutions as rows; per indicator 目标数 / 完成数 / 完成率; a 明细 sheet (every row of the JSON)
    and a 指标定义 sheet (the definitions)."""
    body = report.export_report(current_actor(), **args)
    return Response(
        export.workbook(body),
        mimetype=export.XLSX_MIME,
        headers={
            "Content-Disposition": f'attachment; filename="indicators-{body["institution_id"]}-{body["year"]}.xlsx"'
        },
    )


@blp.route("/indicators.csv", methods=["GET"])
@staff_required(*ADMINS)
@blp.arguments(schemas.IndicatorExportArgs, location="query")
@blp.response(200, content_type=export.CSV_MIME)
def get_indicators_csv(args):
    """The indicator rows as CSV (UTF-8 with BOM), the same numbers as the JSON."""
    body = report.export_report(current_actor(), **args)
    return Response(
        export.csv_text(body),
        mimetype=export.CSV_MIME,
        headers={
            "Content-Disposition": f'attachment; filename="indicators-{body["institution_id"]}-{body["year"]}.csv"'
        },
    )


@blp.route("/indicators/chart.png", methods=["GET"])
@staff_required(*ADMINS)
@blp.arguments(schemas.IndicatorChartArgs, location="query")
@blp.response(200, content_type="image/png")
def get_indicators_chart(args):
    """A PNG chart of the month-by-month rates with the target line.

    One indicator (`indicator=`), or a grid of small multiples (several, or all when none is given)."""
    body = report.report(current_actor(), by="month", **args)
    title = f"{body['team_name'] or body['institution_name']} {body['year']}（截至{body['as_of'].isoformat()}）"
    fallback = (
        f"{'Team ' + str(body['team_id']) if body['team_id'] else 'Institution ' + str(body['institution_id'])}"
        f" {body['year']} (as of {body['as_of'].isoformat()})"
    )
    data = chart.png(body["series"], title=title, fallback_title=fallback)
    return Response(data, mimetype="image/png", headers={"Cache-Control": "no-store"})


@blp.route("/indicators/definitions", methods=["GET"])
@staff_required()
@blp.response(200, schemas.IndicatorDefinitionOut(many=True))
def get_definitions():
    """How every indicator is computed: numerator, denominator, time window, target (docs/indicators.md)."""
    return [catalogue.describe(d) for d in catalogue.DEFINITIONS]


@blp.route("/indicators/<key>/residents", methods=["GET"])
@staff_required()
@blp.arguments(schemas.IndicatorDrilldownArgs, location="query")
@blp.response(200, schemas.IndicatorDrilldownOut)
def get_indicator_residents(args, key):
    """The residents behind a number, for the doctors to act on.

    `part=numerator` (counted) or `part=missing` (in the denominator, not counted — e.g. hypertension patients with fewer than 4 face-to-face follow-ups this year), for an
    institution's subtree or a team, in the caller's scope, paginated; the totals equal the counts.
    Identity masked; each listed resident's access log records the read (purpose statistics)."""
    body = drilldown.residents_page(current_actor(), key, **args)
    return body


@blp.route("/indicators/targets", methods=["GET"])
@staff_required(*ADMINS)
@blp.arguments(schemas.IndicatorTargetArgs, location="query")
@blp.response(200, schemas.IndicatorTargetOut(many=True))
def get_targets(args):
    """The targets of a year for an institution's subtree (default: the caller's institution, this year)."""
    return report.list_targets(current_actor(), args.get("institution_id"), args.get("year") or today().year)


@blp.route("/indicators/targets", methods=["PUT"])
@staff_required("district_admin")
@blp.arguments(schemas.IndicatorTargetIn)
@blp.response(200, schemas.IndicatorTargetOut)
def put_target(body):
    """Set one target (district admin).

    `target_rate` (0–1) and/or `target_count` for an institution, year and indicator; replaces what
    was there (a field left out is cleared)."""
    row = targets.put(current_actor(), body)
    return report.present_target(row)


# --- the archive's, the follow-ups' and the contracts' views of the indicators ------------------------------------


@blp.route("/archive/metrics", methods=["GET"])
@staff_required(*ADMINS)
@blp.arguments(archive_schemas.MetricsArgs, location="query")
@blp.response(200, archive_schemas.MetricOut(many=True))
def get_archive_metrics(args):
    """Archive indicators (建档率, 规范化档案覆盖率, 动态使用率) per institution subtree.

    Rows for the institution (default: the caller's) and for each of its direct children; the
    indicators feature's definitions (GET /indicators/definitions)."""
    actor = current_actor()
    institution = get_institution(actor, args.get("institution_id") or actor.institution_id)
    return views.archive_for_children(institution, args.get("on") or today())


@blp.route("/followups/indicators", methods=["GET"])
@staff_required(*ADMINS)
@blp.arguments(followup_schemas.FollowupIndicatorArgs, location="query")
@blp.response(200, followup_schemas.FollowupIndicatorOut(many=True))
def get_followup_indicators(args):
    """Management, standardised-management and control rates for a year, for an institution's subtree
    (default: the caller's institution) or a team. The indicators feature's definitions and targets
    (GET /indicators/definitions): the managed counts are measured against the targets table's task
    counts (应管人数), which teams do not have."""
    actor = current_actor()
    year = args.get("year") or today().year
    if args.get("team_id") is not None:
        if args.get("institution_id") is not None:
            raise Invalid("team_id", "give institution_id or team_id, not both")
        return views.chronic_rows(year, team_ids=[get_team(actor, args["team_id"]).id])
    institution = get_institution(actor, args.get("institution_id") or actor.institution_id)
    return views.chronic_rows(year, institution_ids=[institution.id])


@blp.route("/contracts/indicators", methods=["GET"])
@staff_required(*ADMINS)
@blp.arguments(contract_schemas.IndicatorArgs, location="query")
@blp.response(200, contract_schemas.IndicatorsOut)
def get_signing_indicators(args):
    """Signing indicators against their targets.

    Signing rate overall and per key population, family-unit and renewal rates, for an
    institution's subtree (default: the caller's) or a team (team leaders: their own team).
    The indicators feature's definitions and targets (GET /indicators/definitions)."""
    actor = current_actor()
    if not (actor.is_district_admin or "institution_admin" in actor.roles) and (
        args.get("team_id") is None or args["team_id"] not in actor.team_ids
    ):
        raise Forbidden("team leaders see their own team's indicators (team_id)")
    return views.signing_for(
        actor, institution_id=args.get("institution_id"), team_id=args.get("team_id"), on=args.get("on")
    )
