"""Delivery channels. The inbox always works; WeChat may say no, later, or never."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import update

from app.extensions import db
from app.notify import templates
from app.notify.models import InboxMessage, Outbox, SubscriptionCredit
from app.wechat.client import TIMEOUT


def write_inbox(row: Outbox) -> InboxMessage:
    template = templates.get(row.kind)
    payload = row.payload or {}
    message = InboxMessage(
        recipient_kind=row.recipient_kind,
        recipient_id=row.recipient_id,
        kind=row.kind,
        title=str(payload.get("title") or template.title)[:100],
        body=str(payload.get("body") or ""),
        data=payload,
    )
    db.session.add(message)
    row.inbox_message = message  # the id is filled in by the batch's single flush
    return message


# A send that timed out after the request left: delivered or not, nobody can tell.
AMBIGUOUS_ERRCODE = str(TIMEOUT)


@dataclass
class WechatOutcome:
    result: str  # sent | retry | final_error | skipped
    wechat_status: str
    error_code: str | None = None
    error: str | None = None


class WechatRecipient(Protocol):
    id: int  # the account: subscription credits are counted per account
    openid: str


# resident ids → {resident id: their bound WeChat account}. Notify knows no feature: the accounts
# feature provides the lookup, connected in app.wiring.
_account_lookup: Callable[[set[int]], Mapping[int, WechatRecipient]] | None = None


def use_account_lookup(lookup: Callable[[set[int]], Mapping[int, WechatRecipient]]) -> None:
    global _account_lookup
    _account_lookup = lookup


def accounts_for(rows: list[Outbox]) -> Mapping[int, WechatRecipient]:
    """Bound WeChat accounts of the batch's resident recipients, in one query."""
    resident_ids = {r.recipient_id for r in rows if r.recipient_kind == "resident"}
    if not resident_ids:
        return {}
    return _account_lookup(resident_ids)


class TokenCache:
    """The shared access token, read once per batch instead of once per message."""

    def __init__(self):
        self.token: str | None = None

    def get(self, stale: str | None = None) -> str:
        from app.wechat.tokens import access_token

        if stale is not None or self.token is None:
            self.token = access_token(stale_token=stale)
        return self.token


def take_credit(account_id: int, template_id: str) -> bool:
    """Use one one-time subscription credit; atomic, so two dispatchers cannot share one."""
    result = db.session.execute(
        update(SubscriptionCredit)
        .where(
            SubscriptionCredit.account_id == account_id,
            SubscriptionCredit.template_id == template_id,
            SubscriptionCredit.credits > 0,
        )
        .values(credits=SubscriptionCredit.credits - 1)
    )
    return result.rowcount == 1


def send_wechat(row: Outbox, account: WechatRecipient, tokens: TokenCache) -> WechatOutcome:
    """One subscribe-message send; refreshes the shared token once on 40001/42001/40014."""
    from flask import current_app

    from app.wechat.client import WeChatError, wechat_client

    template = templates.get(row.kind)
    data = templates.wechat_data(template, row.payload or {})
    client = wechat_client()
    token = None
    for refreshed in (False, True):
        try:
            token = tokens.get(stale=token if refreshed else None)
            client.send_subscribe_message(
                token,
                account.openid,
                template.template_id,
                (row.payload or {}).get("page") or template.page,
                data,
                miniprogram_state=current_app.config["WECHAT_MINIPROGRAM_STATE"],
            )
            return WechatOutcome("sent", "sent")
        except WeChatError as err:
            if err.token_invalid and not refreshed:
                continue
            code = str(err.errcode)
            if err.transient:
                return WechatOutcome("retry", "retrying", code, err.errmsg[:300])
            return WechatOutcome("final_error", f"refused:{code}", code, err.errmsg[:300])
    return WechatOutcome("final_error", "token_invalid", "40001", "token still invalid after refresh")
