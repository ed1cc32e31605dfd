from flask import current_app, request
from flask_jwt_extended import get_jwt, jwt_required
from flask_smorest import Blueprint

from app.access.actors import current_actor, resident_required
from app.accounts import schemas, services
from app.extensions import db, limiter

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Log in, bind, refresh, log out")


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


def _bind_limit():
    return current_app.config["BIND_RATE_LIMIT"]


def _login_key():
    # Per client address and username: one attacker cannot lock out everyone.
    body = request.get_json(silent=True)
    # Any JSON may arrive here (the rate limit runs before validation): a list or a string has no username.
    username = body.get("username") if isinstance(body, dict) else None
    return f"{request.remote_addr}|{username if isinstance(username, str) else ''}"


def _account_key():
    return f"bind|{get_jwt().get('sub', request.remote_addr)}"


@blp.route("/wechat/login", methods=["POST"])
@limiter.limit(_login_limit)
@blp.arguments(schemas.WechatLoginIn)
@blp.response(200, schemas.WechatLoginOut)
@blp.doc(security=[])  # no bearer token: this is where one is obtained
def wechat_login(body):
    """Exchange a `wx.login` code for tokens (WeChat code2Session)."""
    account, tokens = services.wechat_login(body["code"])
    db.session.commit()
    return {**tokens, "account": {"id": account.id, "bound": account.resident_id is not None,
                                  "resident_id": account.resident_id}}


@blp.route("/wechat/bind", methods=["POST"])
@resident_required
@limiter.limit(_bind_limit, key_func=_account_key)
@blp.arguments(schemas.BindIn)
@blp.response(200, schemas.BindOut)
def wechat_bind(body):
    """Bind this WeChat account to the archive with this name and ID number."""
    from app.residents.presenters import present_resident

    actor = current_actor()
    resident = services.bind_archive(actor.id, **body)
    db.session.commit()
    return {"resident": present_resident(resident, owner=True)}


@blp.route("/staff/login", methods=["POST"])
@limiter.limit(_login_limit, key_func=_login_key)
@blp.arguments(schemas.StaffLoginIn)
@blp.response(200, schemas.StaffLoginOut)
@blp.doc(security=[])  # no bearer token: this is where one is obtained
def staff_login(body):
    """Staff username + password. Unknown user and wrong password answer alike."""
    staff, tokens = services.staff_login(body["username"], body["password"])
    db.session.commit()
    return {**tokens, "staff": {"id": staff.id, "name": staff.name, "roles": staff.roles,
                                "institution_id": staff.institution_id,
                                "team_ids": services.team_ids_of(staff.id)}}


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
    db.session.commit()
