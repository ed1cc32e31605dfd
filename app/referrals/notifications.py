"""Message kinds of the referral feature (registered when imported: ``app.wiring`` imports it)."""

from app.notify.templates import register

# an urgent referral: the resident's team leader is put on notice (inbox)
URGENT_REFERRAL = register("referral_urgent", title="紧急转诊", page="pages/doctor/referrals", audience="staff")
