"""Delivery channels. The inbox always works; WeChat may say no, later, or never."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

from flask import current_app
from sqlalchemy import tuple_, update

from app.extensions import db
from app.notify import templates
from app.notify.models import InboxMessage, Outbox, SubscriptionCredit
from app.wechat.client import TIMEOUT, WeChatClient, WeChatError
from app.wechat.tokens import access_token

log = logging.getLogger(__name__)


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
    db.session.add(message)  # its id comes from the batch's single flush
    return message


# A send that timed out after the request left: delivered or not, nobody can tell.
AMBIGUOUS_ERRCODE = str(TIMEOUT)


@dataclass
class WechatOutcome:
    result: str  # sent | retry | final_error | skipped, or REFRESH_TOKEN before the resend
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
    """The shared access token, read once per batch instead of once per message.

    Only the dispatcher's main thread calls it (it may touch the database); the sending
    threads are handed the token string, so a rejected token is refreshed once per round.
    """

    def __init__(self):
        self.token: str | None = None

    def get(self, stale: str | None = None) -> str:
        if stale is not None or self.token is None:
            self.token = access_token(stale_token=stale)
        return self.token


def take_credits(wanted: list[tuple[int, str]]) -> list[bool]:
    """Use one one-time subscription credit per (account id, template id) asked for; in
    order, whether one was left. Atomic (a conditional decrement), so two dispatchers cannot
    share a credit; one statement per batch, one more per repeat of a pair in it."""
    granted = [False] * len(wanted)
    todo = list(range(len(wanted)))
    while todo:
        firsts: dict[tuple[int, str], int] = {}
        for i in todo:
            firsts.setdefault(wanted[i], i)
        taken = {
            (account_id, template_id)
            for account_id, template_id in db.session.execute(
                update(SubscriptionCredit)
                .where(
                    tuple_(SubscriptionCredit.account_id, SubscriptionCredit.template_id).in_(list(firsts)),
                    SubscriptionCredit.credits > 0,
                )
                .values(credits=SubscriptionCredit.credits - 1)
                .returning(SubscriptionCredit.account_id, SubscriptionCredit.template_id)
                .execution_options(synchronize_session=False)
            )
        }
        for key, i in firsts.items():
            granted[i] = key in taken
        # A pair asked for again goes round once more, unless its credits ran out already.
        todo = [i for i in todo if i not in firsts.values() and wanted[i] in taken]
    return granted


@dataclass(frozen=True)
class WechatMessage:
    """One subscribe message, taken out of its row so a sending thread needs no database."""

    row_id: int
    openid: str
    template_id: str
    page: str | None
    data: dict
    miniprogram_state: str


def wechat_message(row: Outbox, account: WechatRecipient) -> WechatMessage:
    template = templates.get(row.kind)
    payload = row.payload or {}
    return WechatMessage(
        row.id,
        account.openid,
        template.template_id,
        payload.get("page") or template.page,
        templates.wechat_data(template, payload),
        current_app.config["WECHAT_MINIPROGRAM_STATE"],
    )


# Not an outcome to record: the token was rejected and the send is worth one more try.
REFRESH_TOKEN = "refresh_token"


def outcome_of(err: WeChatError) -> WechatOutcome:
    code = str(err.errcode)
    if err.transient:
        return WechatOutcome("retry", "retrying", code, err.errmsg[:300])
    return WechatOutcome("final_error", f"refused:{code}", code, err.errmsg[:300])


def send_wechat(client: WeChatClient, message: WechatMessage, token: str, may_refresh: bool) -> WechatOutcome:
    """One subscribe-message send; no database, so it runs in any thread."""
    try:
        client.send_subscribe_message(
            token,
            message.openid,
            message.template_id,
            message.page,
            message.data,
            miniprogram_state=message.miniprogram_state,
        )
        return WechatOutcome("sent", "sent")
    except WeChatError as err:
        if err.token_invalid and may_refresh:
            return WechatOutcome(REFRESH_TOKEN, "token_invalid", str(err.errcode), err.errmsg[:300])
        return outcome_of(err)


def send_all(
    pool: Executor, client: WeChatClient, messages: list[WechatMessage], token: str, may_refresh: bool
) -> dict[int, WechatOutcome]:
    """The messages' sends side by side (a WeChat call is network wait); outcomes by row id.

    A send that raised something unexpected has no outcome: its row keeps its lease and
    comes back when that runs out, as a crash would."""
    futures = {pool.submit(send_wechat, client, m, token, may_refresh): m.row_id for m in messages}
    outcomes = {}
    for future, row_id in futures.items():
        try:
            outcomes[row_id] = future.result()
        except Exception:
            log.exception("sending outbox row %s failed", row_id)
    return outcomes
