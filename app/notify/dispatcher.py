"""The dispatcher: claim due outbox rows, deliver them, record every attempt.

Claiming is one UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING
on PostgreSQL, so any number of dispatchers share the work without overlap;
SQLite serialises writers, so the same statement (without the lock clause) makes
a single claimer. A claim stamps the rows with a lease (``lease_until``) and a fresh
``lease_token``; if the dispatcher dies, the lease runs out and another one claims
the rows again under a new token.

Exactly once with N dispatchers: the token is the mapper's version column, so every
write of a row is conditional on still holding it. Before each WeChat call the
dispatcher renews the row's lease and commits (a row re-claimed meanwhile, or
withdrawn, fails that write and is skipped); one renewed lease outlasts the longest
a send can take (config checks NOTIFY_LEASE_SECONDS against WECHAT_TIMEOUT_MS). So a
live dispatcher never sends a row another one holds, however slow WeChat is.

What WeChat's API cannot tell us is whether a call that timed out after the request
went out was delivered (it has no idempotency key). Such an ambiguous send is retried
at most once (``MAX_AMBIGUOUS_RESENDS``); then the row ends ``failed`` with
``wechat_status = 'unconfirmed'`` (the inbox has the message anyway). The other window
is a dispatcher killed between WeChat accepting a message and the outcome's commit:
one message per dispatcher, sent again after its lease expires.
"""

from __future__ import annotations

import logging
import random
import time as _time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm.exc import StaleDataError

from app.common.time import at_local, local_now, now
from app.extensions import db
from app.notify import channels, templates
from app.notify.models import DeliveryAttempt, Outbox

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
    pick = select(Outbox.id).where(due).order_by(Outbox.next_attempt_at, Outbox.id).limit(limit)
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


def _attempt(row: Outbox, channel: str, result: str, code=None, error=None) -> None:
    db.session.add(DeliveryAttempt(outbox_id=row.id, channel=channel, result=result, error_code=code, error=error))


def prepare(rows: list[Outbox], result: DispatchResult) -> list[tuple[Outbox, object]]:
    """Everything before the network, for the whole batch in one transaction.

    Writes the inbox (at once, even in quiet hours), settles rows that need no
    WeChat call, and takes a subscription credit for each row that will be sent.
    Returns the (row, account) pairs to send.
    """
    accounts = channels.accounts_for(rows)
    quiet = in_quiet_hours()
    for row in rows:
        if row.inbox_message_id is None:
            channels.write_inbox(row)
            _attempt(row, "inbox", "sent")
    db.session.flush()
    to_send = []
    for row in rows:
        template = templates.get(row.kind)
        account = accounts.get(row.recipient_id) if template.audience == "resident" else None
        if account is None:
            _finish(row, "sent", "no_account" if template.audience == "resident" else "inbox_only")
            result.sent += 1
        elif quiet:
            row.status, row.lease_until, row.lease_token = "pending", None, ""
            row.next_attempt_at = quiet_hours_end()
            row.wechat_status = "quiet_hours"
            result.deferred += 1
        elif row.wechat_status != "credit_held" and not channels.take_credit(account.id, template.template_id):
            _attempt(row, "wechat", "skipped", error="no subscription credit")
            _finish(row, "sent", "no_credit")
            result.sent += 1
        else:
            row.wechat_status = "credit_held"
            row.attempts += 1
            to_send.append((row, account))
    return to_send


def renew_lease(row_id: int, token: str, lease_seconds: int) -> bool:
    """Extend this dispatcher's lease on one row and commit, right before its WeChat call.

    False when the row is no longer ours (re-claimed under another token after our lease
    ran out, or withdrawn): the conditional UPDATE matches nothing. Compared with the token
    kept in hand, not the ORM object's, which a commit expires and reloads from the database.
    """
    renewed = db.session.execute(
        update(Outbox)
        .where(Outbox.id == row_id, Outbox.status == "sending", Outbox.lease_token == token)
        .values(lease_until=now() + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not renewed:
        log.info("outbox row %s is no longer ours; not sending it", row_id)
    return bool(renewed)


def _ambiguous_sends(row: Outbox) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(DeliveryAttempt)
        .where(
            DeliveryAttempt.outbox_id == row.id,
            DeliveryAttempt.channel == "wechat",
            DeliveryAttempt.error_code == channels.AMBIGUOUS_ERRCODE,
        )
    )


def send(row: Outbox, account, tokens: channels.TokenCache, result: DispatchResult) -> None:
    """One WeChat send and its outcome; the caller commits (one row at a time, so a crash
    can repeat at most the message in flight)."""
    outcome = channels.send_wechat(row, account, tokens)
    ambiguous = outcome.error_code == channels.AMBIGUOUS_ERRCODE
    if ambiguous and _ambiguous_sends(row) >= MAX_AMBIGUOUS_RESENDS:
        # It may well have arrived: a further resend would risk a third copy.
        _attempt(row, "wechat", "final_error", outcome.error_code, outcome.error)
        _finish(row, "failed", "unconfirmed")
        row.last_error = f"{outcome.error_code}: {outcome.error}"[:300]
        result.failed += 1
        return
    _attempt(row, "wechat", outcome.result, outcome.error_code, outcome.error)
    if outcome.result == "sent":
        _finish(row, "sent", "sent")
        result.sent += 1
    elif outcome.result == "retry" and row.attempts < MAX_ATTEMPTS:
        row.status, row.lease_until, row.lease_token = "pending", None, ""
        row.next_attempt_at = now() + backoff(row.attempts)
        row.last_error = f"{outcome.error_code}: {outcome.error}"[:300]
        result.retried += 1
    else:
        _finish(row, "failed", outcome.wechat_status if outcome.result == "final_error" else "gave_up")
        row.last_error = f"{outcome.error_code}: {outcome.error}"[:300]
        result.failed += 1


def _finish(row: Outbox, status: str, wechat_status: str) -> None:
    row.status, row.wechat_status, row.lease_until, row.lease_token = status, wechat_status, None, ""
    if status == "sent":
        row.sent_at = now()


def dispatch_batch(limit: int = 100, lease_seconds: int | None = None) -> DispatchResult:
    result = DispatchResult()
    lease_seconds = lease_seconds or current_app.config["NOTIFY_LEASE_SECONDS"]
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
        to_send = prepare(rows, result)
        # No transaction stays open across network calls; the leases guard the rows meanwhile.
        db.session.commit()
    except StaleDataError:  # withdrawn (or re-claimed) while we prepared: the next round sees
        db.session.rollback()
        log.info("a claimed batch changed hands before sending; leaving it")
        return result
    tokens = channels.TokenCache()
    for row, account in to_send:
        row_id = row.id
        if not renew_lease(row_id, token, lease_seconds):
            continue
        try:
            # Reloaded after the commit; the version column guards it from here to the flush.
            if row.lease_token != token:
                continue
            send(row, account, tokens, result)
            db.session.commit()
        except StaleDataError:
            # Only if this send outlasted a renewed lease (a paused process): the new holder
            # owns the row now; our outcome is dropped rather than overwrite theirs.
            db.session.rollback()
            log.warning("outbox row %s changed hands while sending", row_id)
        except Exception:  # one bad row must not stop the batch; its lease brings it back
            db.session.rollback()
            log.exception("delivering outbox row %s failed", row_id)
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
