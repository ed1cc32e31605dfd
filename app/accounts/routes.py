from flask import current_app
from flask_jwt_extended import get_jwt, jwt_required
from flask_smorest import Blueprint

from app.access.actors import current_actor, resident_required
from app.accounts import schemas, services
from app.extensions import limiter

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Log in, bind, refresh, log out")


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


@blp.route("/wechat/login", methods=["POST"])
@limiter.limit(_login_limit)  # per client address (request.remote_addr after ProxyFix)
@blp.arguments(schemas.WechatLoginIn)
@blp.response(200, schemas.WechatLoginOut)
@blp.doc(security=[])  # no bearer token: this is where one is obtained
def wechat_login(body):
    """Exchange a `wx.login` code for tokens (WeChat code2Session)."""
    account, tokens = services.wechat_login(body["code"])
    return {
        **tokens,
        "account": {"id": account.id, "bound": account.resident_id is not None, "resident_id": account.resident_id},
    }


@blp.route("/wechat/bind", methods=["POST"])
@resident_required
@blp.arguments(schemas.BindIn)
@blp.response(200, schemas.BindOut)
def wechat_bind(body):
    """Bind this WeChat account to the archive with this name and ID number."""
    from app.residents.presenters import present_resident

    actor = current_actor()
    resident = services.bind_archive(actor.id, **body)
    return {"resident": present_resident(resident, owner=True)}


@blp.route("/staff/login", methods=["POST"])
@blp.arguments(schemas.StaffLoginIn)
@blp.response(200, schemas.StaffLoginOut)
@blp.doc(security=[])  # no bearer token: this is where one is obtained
def staff_login(body):
    """Staff username + password. Unknown user and wrong password answer alike.

    Failed logins are limited per client address and per username (429); a device that
    logged in before sends back its `device_token` and keeps its own budget, so nobody
    can lock a user out by failing on purpose."""
    staff, tokens = services.staff_login(body["username"], body["password"], body.get("device_token"))
    return {
        **tokens,
        "staff": {
            "id": staff.id,
            "name": staff.name,
            "roles": staff.roles,
            "institution_id": staff.institution_id,
            "team_ids": services.team_ids_of(staff.id),
        },
    }


@blp.route("/refresh", methods=["POST"])
@jwt_required(refresh=True)
@blp.response(200, schemas.RefreshOut)
def refresh():
    """A new access token for a refresh token (send the refresh token as bearer)."""
    claims = get_jwt()
    return {"access_token": services.refresh_access_token(claims["sub"], claims["sid"])}


@blp.route("/logout", methods=["POST"])
@jwt_required(verify_type=False)
@blp.response(204)
def logout():
    """Revoke this login: its access and refresh tokens stop working at once."""
    services.revoke_session(get_jwt()["sid"])
