from flask_smorest import Blueprint

from app.access.actors import current_actor, login_required, resident_required, staff_required
from app.access.scope import get_resident
from app.common.idempotency import idempotent
from app.common.pagination import page_body, paginate
from app.notify import notifications, schemas, services  # noqa: F401  (registers kinds)

blp = Blueprint("notify", __name__, url_prefix="/api/v1", description="Reminders: subscriptions and the in-app inbox")


@blp.route("/me/subscriptions", methods=["GET"])
@resident_required
@blp.response(200, schemas.SubscriptionOut(many=True))
def list_subscriptions():
    """Templates to offer in wx.requestSubscribeMessage, with the send credits left for each."""
    return services.subscriptions_for(current_actor().id)


@blp.route("/me/subscriptions", methods=["POST"])
@resident_required
@blp.arguments(schemas.SubscriptionsIn)
@blp.response(200, schemas.SubscriptionOut(many=True))
def accept_subscriptions(body):
    """Record what the user accepted: each accepted one-time template adds one credit."""
    result = services.add_credits(current_actor().id, body["accepted"])
    return result


@blp.route("/me/messages", methods=["GET"])
@login_required
@blp.arguments(schemas.MessageArgs, location="query")
@blp.response(200, schemas.MessagePage)
def list_messages(args):
    """The in-app inbox (residents and staff alike), newest first."""
    recipient = services.recipient_of(current_actor())
    rows, total = paginate(services.inbox_for(recipient, args["unread"]), args["page"], args["per_page"])
    return {**page_body(rows, args["page"], args["per_page"], total), "unread": services.unread_count(recipient)}


@blp.route("/me/messages/<int:message_id>/read", methods=["POST"])
@login_required
@blp.response(200, schemas.MessageOut)
def read_message(message_id):
    """Mark one message read."""
    message = services.mark_read(services.recipient_of(current_actor()), message_id)
    return message


@blp.route("/residents/<int:rid>/reminders", methods=["POST"])
@staff_required()
@idempotent
@blp.arguments(schemas.HealthReminderIn)
@blp.response(201, schemas.HealthReminderOut)
def send_reminder(body, rid):
    """Send a resident a health reminder (inbox always; WeChat when they allowed it)."""
    actor = current_actor()
    row = services.send_health_reminder(actor, get_resident(actor, rid), **body)
    return row
