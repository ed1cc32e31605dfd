"""Periodic work of the notification pipeline."""

from app.notify.dispatcher import drain


def dispatch_due() -> dict:
    """Deliver everything due now (also the catch-up after an outage)."""
    result = drain()
    return {
        "claimed": result.claimed,
        "sent": result.sent,
        "retried": result.retried,
        "failed": result.failed,
        "deferred": result.deferred,
    }
