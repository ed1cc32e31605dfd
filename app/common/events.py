"""Named events one feature announces and others act on (blinker signals, as Flask uses).

The sender knows no listener: who listens to what is wired in one place, ``app.wiring``.
Handlers run inside the sender's transaction, so what they change commits (or rolls back)
with the request or job batch that announced it.
"""

from __future__ import annotations

from blinker import Namespace

_events = Namespace()

# A service was delivered to a resident: a health check, a service record, a follow-up visit.
# kwargs: actor, resident_id, service_type ("health_check", a service record's kind, or
# "chronic_followup"), served_on (date), source ("health_check" | "service_record" | "followup"),
# source_id; optionally note (follow-ups) and elderly (a health check's elderly section).
service_delivered = _events.signal("service-delivered")

# A follow-up visit was recorded. kwargs: actor, resident_id, visited_on (date), visit_id.
visit_recorded = _events.signal("visit-recorded")
