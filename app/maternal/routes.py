from flask_smorest import Blueprint

from app.access.actors import current_actor, login_required, staff_required
from app.access.scope import get_resident
from app.common.idempotency import idempotent
from app.common.time import today
from app.maternal import reads, schemas, services

blp = Blueprint(
    "maternal",
    __name__,
    url_prefix="/api/v1",
    description="Maternal health management: pregnancies, antenatal visits, delivery, postpartum visits",
)

CLINICAL = ("doctor", "team_leader")


@blp.route("/residents/<int:rid>/pregnancies", methods=["POST"])
@staff_required(*CLINICAL)
@idempotent
@blp.arguments(schemas.PregnancyIn)
@blp.response(201, schemas.PregnancyOut)
def register_pregnancy(body, rid):
    """Register a pregnancy (建册). The gestational age at registration and whether it was early
    (before 13 weeks) come from the last menstrual period; any risk factor (or being 35 or over at the
    expected date) makes it high-risk, owed at least 7 antenatal visits. A second ongoing pregnancy
    is a 409. The basic sheet's `pregnancy_due_on` becomes the expected delivery date."""
    actor = current_actor()
    pregnancy = services.register(actor, get_resident(actor, rid), body)
    return reads.present_all([pregnancy], today())[0]


@blp.route("/residents/<int:rid>/pregnancies", methods=["GET"])
@login_required
@blp.response(200, schemas.PregnanciesOut)
def get_pregnancies(rid):
    """The resident's pregnancies, newest first, each with its schedule and visits. For the woman
    herself, staff in scope; logged in the access log."""
    actor = current_actor()
    return reads.pregnancies(actor, get_resident(actor, rid), today())


@blp.route("/pregnancies/<int:pid>/antenatal-visits", methods=["POST"])
@staff_required(*CLINICAL)
@idempotent
@blp.arguments(schemas.AntenatalVisitIn)
@blp.response(201, schemas.AntenatalVisitOut)
def record_antenatal_visit(body, pid):
    """Record an antenatal visit: the gestational week is derived; the visit fulfils the schedule's
    visit whose window holds it (the first visit is always the first). Risk factors found are added
    to the pregnancy's. An ended pregnancy is a 409."""
    actor = current_actor()
    pregnancy, mother = services.pregnancy_in_scope(actor, pid)
    return reads.present_antenatal_visit(services.record_antenatal_visit(actor, pregnancy, mother, body))


@blp.route("/pregnancies/<int:pid>/delivery", methods=["POST"])
@staff_required(*CLINICAL)
@idempotent
@blp.arguments(schemas.ChildbirthIn)
@blp.response(200, schemas.PregnancyOut)
def record_delivery(body, pid):
    """Record how the pregnancy ended. Each live-born baby gets an archive in the mother's household
    (no ID number until the household registration gives one), and the mother's account becomes its
    guardian; the postpartum visits are then due."""
    actor = current_actor()
    pregnancy, mother = services.pregnancy_in_scope(actor, pid)
    services.record_delivery(actor, pregnancy, mother, body)
    return reads.present_all([pregnancy], today())[0]


@blp.route("/pregnancies/<int:pid>/postpartum-visits", methods=["POST"])
@staff_required(*CLINICAL)
@idempotent
@blp.arguments(schemas.PostpartumVisitIn)
@blp.response(201, schemas.PostpartumVisitOut)
def record_postpartum_visit(body, pid):
    """Record the postpartum home visit or the 42-day check (one of each per delivery: a second is a
    409; before the delivery is recorded, a 409)."""
    actor = current_actor()
    pregnancy, mother = services.pregnancy_in_scope(actor, pid)
    return reads.present_postpartum_visit(services.record_postpartum_visit(actor, pregnancy, mother, body))
