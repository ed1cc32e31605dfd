"""The dispatcher: claim due outbox rows, deliver them, record every attempt.

Claiming is one UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING
on PostgreSQL, so any number of dispatchers share the work without overlap;
SQLite serialises writers, so the same statement (without the lock clause) makes
a single claimer. A claim stamps the rows with a lease (``lease_until``) and a fresh
``lease_token``; if the dispatcher dies, the lease runs out and another one claims
the rows again under a new token.

Exactly once with N dispatchers: every write of a claimed row is conditional on still
holding its token (the token is the mapper's version column, and the outcome UPDATEs
name it in their WHERE). A dispatcher sends in rounds of NOTIFY_SEND_CONCURRENCY rows:
it renews the round's leases in one conditional UPDATE and commits (a row re-claimed
meanwhile, or withdrawn, is not renewed and not sent), makes the round's WeChat calls
side by side in a thread pool (only HTTP there: the database stays in the main thread),
then writes the outcomes and commits. The calls run at once, so a round takes as long as
its slowest send, and one renewed lease outlasts the longest a send can take (config
checks NOTIFY_LEASE_SECONDS against WECHAT_TIMEOUT_MS). So a live dispatcher never sends
a row another one holds, however slow WeChat is.

What WeChat's API cannot tell us is whether a call that timed out after the request
went out was delivered (it has no idempotency key). Such an ambiguous send is retried
at most once (``MAX_AMBIGUOUS_RESENDS``); then the row ends ``failed`` with
``wechat_status = 'unconfirmed'`` (the inbox has the message anyway). The other window
is a dispatcher killed between WeChat accepting messages and the outcomes' commit: at
most one round per dispatcher, sent again after their leases expire.
"""

from __future__ import annotations

import logging
import random
import time as _time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, bindparam, func, literal, or_, select, update
from sqlalchemy.orm.exc import StaleDataError

from app.common.time import at_local, local_now, now
from app.extensions import db
from app.notify import channels, templates
from app.notify.models import UNDELIVERED, DeliveryAttempt, Outbox
from app.wechat.client import WeChatError, wechat_client

log = logging.getLogger(__name__)

# Ten attempts with the backoff below span at least ~45 minutes (at most ~2.7 hours): a WeChat
# outage of that length delays reminders without losing any; the inbox has them at once anyway.
MAX_ATTEMPTS = 10
BASE_BACKOFF_SECONDS = 30
MAX_BACKOFF_SECONDS = 3600
# A send whose answer was lost after the request left (read timeout) may have reached the
# user: resend it at most this many times, so a message reaches WeChat at most twice.
MAX_AMBIGUOUS_RESENDS = 1


@dataclass
class DispatchResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0
    counts: dict = field(default_factory=dict)

    def __iadd__(self, other: DispatchResult):
        for name in ("claimed", "sent", "retried", "failed", "deferred"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


def claim(limit: int, lease_seconds: int, token: str | None = None) -> list[int]:
    """Lease up to ``limit`` due rows under ``token`` (a fresh one by default); their ids."""
    at, token = now(), token or uuid.uuid4().hex
    due = or_(
        and_(Outbox.status == "pending", Outbox.next_attempt_at <= at),
        and_(Outbox.status == "sending", Outbox.lease_until < at),
    )
    # The redundant status IN (…) is the partial index's predicate spelled out, as literals:
    # SQLite uses a partial index only when the query repeats its WHERE term with the same
    # constants (a bound parameter does not match; PostgreSQL would infer it either way).
    undelivered = Outbox.status.in_([literal(s, literal_execute=True) for s in UNDELIVERED])
    pick = select(Outbox.id).where(undelivered, due).order_by(Outbox.next_attempt_at, Outbox.id).limit(limit)
    if db.engine.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    ids = db.session.scalars(
        update(Outbox)
        .where(Outbox.id.in_(pick.scalar_subquery()))
        .values(status="sending", lease_until=at + timedelta(seconds=lease_seconds), lease_token=token)
        .returning(Outbox.id)
    ).all()
    db.session.commit()
    return sorted(ids)


def in_quiet_hours() -> bool:
    start, end = current_app.config["QUIET_HOURS"]
    hour = local_now().hour
    return (start <= hour or hour < end) if start > end else (start <= hour < end)


def quiet_hours_end():
    _start, end = current_app.config["QUIET_HOURS"]
    local = local_now()
    day = local.date() if local.hour < end else local.date() + timedelta(days=1)
    return at_local(day, end)


def backoff(attempts: int) -> timedelta:
    """Exponential with full jitter, so retries after an outage do not arrive in one wave."""
    ceiling = min(MAX_BACKOFF_SECONDS, BASE_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def _attempt(row_id: int, channel: str, result: str, code=None, error=None) -> dict:
    return {"outbox_id": row_id, "channel": channel, "result": result, "error_code": code, "error": error}


def _finished(status: str, wechat_status: str) -> dict:
    done = {"status": status, "wechat_status": wechat_status, "lease_until": None, "lease_token": ""}
    return done | {"sent_at": now()} if status == "sent" else done


def _write_held(changes: dict[int, dict], attempts: list[dict], token: str) -> None:
    """The rows' new values, each UPDATE conditional on our token (one executemany per shape
    of change, not one statement per row), and the delivery attempts.

    StaleDataError if a row was no longer ours: the caller rolls the whole write back."""
    table = Outbox.__table__
    shapes: dict[tuple, list[dict]] = {}
    for row_id, values in changes.items():
        shapes.setdefault(tuple(sorted(values)), []).append({"row_id": row_id, **values})
    connection = db.session.connection()
    for group in shapes.values():
        stmt = table.update().where(table.c.id == bindparam("row_id"), table.c.lease_token == token)
        if connection.execute(stmt, group).rowcount != len(group):
            raise StaleDataError("an outbox row changed hands")
    if attempts:
        connection.execute(DeliveryAttempt.__table__.insert(), attempts)


def prepare(rows: list[Outbox], token: str, result: DispatchResult) -> list[tuple[Outbox, object]]:
    """Everything before the network, for the whole batch in one transaction.

    Writes the inbox (at once, even in quiet hours), settles rows that need no
    WeChat call, and takes a subscription credit for each row that will be sent.
    Returns the (row, account) pairs to send; the caller commits.
    """
    accounts = channels.accounts_for(rows)
    quiet = in_quiet_hours()
    inbox = {row.id: channels.write_inbox(row) for row in rows if row.inbox_message_id is None}
    db.session.flush()  # the inbox messages, their ids returned by one statement
    changes = {row.id: {} for row in rows} | {row_id: {"inbox_message_id": m.id} for row_id, m in inbox.items()}
    attempts = [_attempt(row_id, "inbox", "sent") for row_id in inbox]
    to_send, wanted = [], []
    for row in rows:
        template = templates.get(row.kind)
        account = accounts.get(row.recipient_id) if template.audience == "resident" else None
        if account is None:
            changes[row.id] |= _finished("sent", "no_account" if template.audience == "resident" else "inbox_only")
            result.sent += 1
        elif quiet:
            changes[row.id] |= {"status": "pending", "lease_until": None, "lease_token": ""}
            changes[row.id] |= {"next_attempt_at": quiet_hours_end(), "wechat_status": "quiet_hours"}
            result.deferred += 1
        else:
            to_send.append((row, account))
            if row.wechat_status != "credit_held":
                wanted.append((row, account.id, template.template_id))
    credits = channels.take_credits([(account_id, template_id) for _row, account_id, template_id in wanted])
    lacking = {row.id for (row, _a, _t), got in zip(wanted, credits, strict=True) if not got}
    for row, _account in to_send:
        if row.id in lacking:
            attempts.append(_attempt(row.id, "wechat", "skipped", error="no subscription credit"))
            changes[row.id] |= _finished("sent", "no_credit")
            result.sent += 1
        else:
            changes[row.id] |= {"wechat_status": "credit_held", "attempts": row.attempts + 1}
    _write_held(changes, attempts, token)
    return [(row, account) for row, account in to_send if row.id not in lacking]


def renew_leases(row_ids: list[int], token: str, lease_seconds: int) -> set[int]:
    """Extend this dispatcher's lease on a round of rows and commit, right before their sends.

    One conditional UPDATE for the round; the ids it returns are still ours. A row missing
    was re-claimed under another token after our lease ran out, or withdrawn: it is not sent.
    """
    renewed = set(
        db.session.scalars(
            update(Outbox)
            .where(Outbox.id.in_(row_ids), Outbox.status == "sending", Outbox.lease_token == token)
            .values(lease_until=now() + timedelta(seconds=lease_seconds))
            .returning(Outbox.id)
            .execution_options(synchronize_session=False)
        )
    )
    db.session.commit()
    for row_id in sorted(set(row_ids) - renewed):
        log.info("outbox row %s is no longer ours; not sending it", row_id)
    return renewed


def _ambiguous_sends(row_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(DeliveryAttempt)
        .where(
            DeliveryAttempt.outbox_id == row_id,
            DeliveryAttempt.channel == "wechat",
            DeliveryAttempt.error_code == channels.AMBIGUOUS_ERRCODE,
        )
    )


def settle(row_id: int, attempts: int, outcome: channels.WechatOutcome, result: DispatchResult) -> tuple[dict, dict]:
    """What one send's outcome writes: the row's new values and its delivery attempt."""
    error = f"{outcome.error_code}: {outcome.error}"[:300]
    attempt = _attempt(row_id, "wechat", outcome.result, outcome.error_code, outcome.error)
    if outcome.error_code == channels.AMBIGUOUS_ERRCODE and _ambiguous_sends(row_id) >= MAX_AMBIGUOUS_RESENDS:
        # It may well have arrived: a further resend would risk a third copy.
        result.failed += 1
        return _finished("failed", "unconfirmed") | {"last_error": error}, attempt | {"result": "final_error"}
    if outcome.result == "sent":
        result.sent += 1
        return _finished("sent", "sent"), attempt
    if outcome.result == "retry" and attempts < MAX_ATTEMPTS:
        result.retried += 1
        again = {"status": "pending", "lease_until": None, "lease_token": "", "last_error": error}
        return again | {"next_attempt_at": now() + backoff(attempts)}, attempt
    result.failed += 1
    status = outcome.wechat_status if outcome.result == "final_error" else "gave_up"
    return _finished("failed", status) | {"last_error": error}, attempt


def record(outcomes: dict[int, channels.WechatOutcome], token: str, result: DispatchResult) -> None:
    """Write a round's outcomes in one transaction and commit.

    The rows are read again under a row lock (PostgreSQL); one carrying another token changed
    hands while it was being sent (a send that outlasted a renewed lease, a paused process):
    its new holder owns it and our outcome is dropped.
    """
    if not outcomes:
        return
    for _ in range(3):
        counted, changes, attempts = DispatchResult(), {}, []
        try:
            held = db.session.execute(
                select(Outbox.id, Outbox.attempts, Outbox.lease_token)
                .where(Outbox.id.in_(outcomes))
                .order_by(Outbox.id)
                .with_for_update()
            ).all()
            for row_id, tries, holder in held:
                if holder != token:
                    log.warning("outbox row %s changed hands while sending", row_id)
                    continue
                changes[row_id], attempt = settle(row_id, tries, outcomes[row_id], counted)
                attempts.append(attempt)
            _write_held(changes, attempts, token)
            db.session.commit()
        except StaleDataError:  # a row changed hands between the read and the write (SQLite)
            db.session.rollback()
            continue
        result += counted
        return
    log.error("outcomes of outbox rows %s not recorded; their leases bring them back", sorted(outcomes))


def _send_round(pool, client, messages, tokens: channels.TokenCache) -> dict[int, channels.WechatOutcome]:
    """The round's sends side by side; a token WeChat rejects is refreshed once, those resent."""
    outcomes = channels.send_all(pool, client, messages, tokens.token, may_refresh=True)
    rejected = [m for m in messages if getattr(outcomes.get(m.row_id), "result", None) == channels.REFRESH_TOKEN]
    if rejected:
        try:
            tokens.get(stale=tokens.token)
        except WeChatError as err:
            outcomes.update((m.row_id, channels.outcome_of(err)) for m in rejected)
            return outcomes
        finally:
            db.session.commit()  # ends the token read: no transaction stays open across the resend
        outcomes.update(channels.send_all(pool, client, rejected, tokens.token, may_refresh=False))
    return outcomes


def dispatch_batch(limit: int = 100, lease_seconds: int | None = None) -> DispatchResult:
    result = DispatchResult()
    config = current_app.config
    lease_seconds = lease_seconds or config["NOTIFY_LEASE_SECONDS"]
    width = max(1, config["NOTIFY_SEND_CONCURRENCY"])
    token = uuid.uuid4().hex
    ids = claim(limit, lease_seconds, token)
    result.claimed = len(ids)
    if not ids:
        return result
    rows = db.session.scalars(
        select(Outbox)
        .where(Outbox.id.in_(ids), Outbox.lease_token == token)
        .order_by(Outbox.id)
        .execution_options(populate_existing=True)
    ).all()
    try:
        messages = []
        for row, account in prepare(rows, token, result):
            try:
                messages.append(channels.wechat_message(row, account))
            except Exception:  # one bad row must not stop the batch; its lease brings it back
                log.exception("outbox row %s cannot be sent", row.id)
        # No transaction stays open across network calls; the leases guard the rows meanwhile.
        db.session.commit()
    except StaleDataError:  # withdrawn (or re-claimed) while we prepared: the next round sees
        db.session.rollback()
        log.info("a claimed batch changed hands before sending; leaving it")
        return result
    tokens, client = channels.TokenCache(), wechat_client()
    # Rounds of `width` rows: each round's leases are renewed in one statement, its sends run
    # side by side (a round lasts as long as its slowest send, within one renewed lease), and
    # its outcomes are written in one transaction. Only the sends leave this thread.
    with ThreadPoolExecutor(max_workers=width, thread_name_prefix="wechat-send") as pool:
        for start in range(0, len(messages), width):
            round_ = messages[start : start + width]
            try:
                try:
                    tokens.get()  # read before the renewal, whose commit ends that read
                except WeChatError as err:
                    record({m.row_id: channels.outcome_of(err) for m in round_}, token, result)
                    continue
                live = renew_leases([m.row_id for m in round_], token, lease_seconds)
                round_ = [m for m in round_ if m.row_id in live]
                if round_:
                    record(_send_round(pool, client, round_, tokens), token, result)
            except Exception:  # a database failure costs this round only; its leases bring it back
                db.session.rollback()
                log.exception("delivering outbox rows %s failed", [m.row_id for m in round_])
    return result


def drain(limit: int = 100, max_batches: int = 1000) -> DispatchResult:
    """Dispatch until nothing is due (the scheduler's job and tests)."""
    total = DispatchResult()
    for _ in range(max_batches):
        batch = dispatch_batch(limit)
        total += batch
        if batch.claimed == 0:
            break
    return total


def run_forever(limit: int = 100, idle_seconds: float = 2.0, stop=lambda: False) -> None:
    """A dispatcher worker process: ``flask notify dispatch``."""
    while not stop():
        batch = dispatch_batch(limit)
        if batch.claimed:
            log.info(
                "dispatched: claimed=%d sent=%d retried=%d failed=%d deferred=%d",
                batch.claimed,
                batch.sent,
                batch.retried,
                batch.failed,
                batch.deferred,
            )
        else:
            db.session.remove()
            _time.sleep(idle_seconds)
