from flask_smorest import Blueprint

from app.access.actors import current_actor, login_required, resident_required
from app.common.pagination import page_body, paginate
from app.extensions import db
from app.notify import schemas, services

blp = Blueprint("notify", __name__, url_prefix="/api/v1/me", description="Reminders: subscriptions and the in-app inbox")


@blp.route("/subscriptions", methods=["GET"])
@resident_required
@blp.response(200, schemas.SubscriptionOut(many=True))
def list_subscriptions():
    """Templates to offer in wx.requestSubscribeMessage, with the send credits left for each."""
    return services.subscriptions_for(current_actor().id)


@blp.route("/subscriptions", methods=["POST"])
@resident_required
@blp.arguments(schemas.SubscriptionsIn)
@blp.response(200, schemas.SubscriptionOut(many=True))
def accept_subscriptions(body):
    """Record what the user accepted: each accepted one-time template adds one credit."""
    result = services.add_credits(current_actor().id, body["accepted"])
    db.session.commit()
    return result


@blp.route("/messages", methods=["GET"])
@login_required
@blp.arguments(schemas.MessageArgs, location="query")
@blp.response(200, schemas.MessagePage)
def list_messages(args):
    """The in-app inbox (residents and staff alike), newest first."""
    recipient = services.recipient_of(current_actor())
    rows, total = paginate(services.inbox_for(recipient, args["unread"]), args["page"], args["per_page"])
    return {**page_body(rows, args["page"], args["per_page"], total), "unread": services.unread_count(recipient)}


@blp.route("/messages/<int:message_id>/read", methods=["POST"])
@login_required
@blp.response(200, schemas.MessageOut)
def read_message(message_id):
    """Mark one message read."""
    message = services.mark_read(services.recipient_of(current_actor()), message_id)
    db.session.commit()
    return message
