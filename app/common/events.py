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

# A delivery opened a live-born baby's archive (app.maternal): the family feature gives the mother's
# account its guardian grant. kwargs: actor, mother_resident_id, baby_resident_id, born_on (date).
baby_archived = _events.signal("baby-archived")

# A WeChat account was bound to its holder's archive (app.accounts). kwargs: account_id, resident_id.
archive_bound = _events.signal("archive-bound")

# A pregnancy was registered or ended (app.maternal): the plan engine re-plans the woman's visits.
# kwargs: resident_id, day (date).
pregnancy_changed = _events.signal("pregnancy-changed")

# A follow-up visit was recorded. kwargs: actor, resident_id, visited_on (date), visit_id.
visit_recorded = _events.signal("visit-recorded")
