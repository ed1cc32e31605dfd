"""Who listens to what: every cross-feature hook of the product, in one place.

A feature announces (``app.common.events``) or offers an extension point (a hook list of its
own, e.g. the archive's sections) and knows nobody who uses it. This module — the top layer,
read once by ``create_app`` — connects them, so this one file answers "what happens elsewhere
when X happens?" and "where does this section of the archive come from?".

The order of each list is the order of the answer's keys (the archive's and ``/me``'s JSON).
"""

from __future__ import annotations

import importlib

from app.access import family_hooks
from app.accounts import services as accounts_services
from app.appointments import booking as appointments_booking
from app.archive import fhir as archive_fhir
from app.archive import metrics as archive_metrics
from app.archive import view as archive_view
from app.common import events
from app.contracts import archive_hooks as contract_hooks
from app.contracts import deliveries as contract_deliveries
from app.contracts import views as contract_views
from app.family import services as family_services
from app.followups import archive_hooks as followup_hooks
from app.followups import checkups as followup_checkups
from app.followups import child_plans as followup_child_plans
from app.followups import maternal_plans as followup_maternal_plans
from app.followups import me_hooks as followup_me
from app.maternal import fhir as maternal_fhir
from app.maternal import reads as maternal_reads
from app.notify import channels
from app.referrals import reads as referral_reads
from app.referrals import services as referral_services
from app.residents import services as residents_services

# Every feature's message kinds: each module registers its kinds with app.notify.templates.
NOTIFICATIONS = (
    "app.notify.notifications",
    "app.family.notifications",
    "app.contracts.notifications",
    "app.surveys.notifications",
    "app.appointments.notifications",
    "app.followups.notifications",
    "app.referrals.notifications",
)

# (hook list, contributor): the extension points features offer, and who fills them.
HOOKS = (
    # access: the archives an account may view through family grants
    (family_hooks.GRANTED, family_services.granted_resident_ids),
    # family: the children a resident gave birth to (her guardian grants when she binds her archive)
    (family_services.BIRTH_CHILDREN, maternal_reads.babies_of),
    # GET /me: the family list, the contract, what is due
    (residents_services.ME_SECTIONS, family_services.me_section),
    (residents_services.ME_SECTIONS, contract_views.me_section),
    (residents_services.ME_SECTIONS, followup_me.me_section),
    # GET /residents/{rid}/archive: "contract", then "followups"
    (archive_view.ARCHIVE_SECTIONS, maternal_reads.archive_section),
    (archive_view.ARCHIVE_SECTIONS, contract_hooks.contract_section),
    (archive_view.ARCHIVE_SECTIONS, followup_hooks.archive_section),
    # … the contact attempts about the worklist entries, the referrals
    (archive_view.ARCHIVE_SECTIONS, followup_hooks.contacts_section),
    (archive_view.ARCHIVE_SECTIONS, referral_reads.archive_section),
    # the FHIR export: the contract as EpisodeOfCare with its CareTeam
    (archive_fhir.FHIR_SECTIONS, contract_hooks.contract_fhir),
    # … the pregnancies as EpisodeOfCare with their visits' Encounters and Observations
    (archive_fhir.FHIR_SECTIONS, maternal_fhir.pregnancy_fhir),
    # what counts as archive activity for the dynamic-use rate
    (archive_metrics.ACTIVITY_SOURCES, contract_hooks.contract_deliveries_activity),
    (archive_metrics.ACTIVITY_SOURCES, followup_hooks.activity_source),
)

# (event, listener): what happens elsewhere when something happens.
LISTENERS = (
    # a health check, service record or follow-up visit counts as a contract delivery (履约)
    (events.service_delivered, contract_deliveries.on_service_delivered),
    # … and a health check or TCM record fulfils the resident's yearly check plan
    (events.service_delivered, followup_checkups.on_service_delivered),
    # … and a child check the child's plan (the next one opens)
    (events.service_delivered, followup_child_plans.on_service_delivered),
    # … and an antenatal or postpartum visit the woman's; registering or ending a pregnancy re-plans
    (events.service_delivered, followup_maternal_plans.on_service_delivered),
    (events.pregnancy_changed, followup_maternal_plans.on_pregnancy_changed),
    # a delivery's live-born baby: the mother's account becomes its guardian, its newborn visit is due
    (events.baby_archived, family_services.on_baby_archived),
    (events.baby_archived, followup_child_plans.on_baby_archived),
    # … and a mother binding her archive after the delivery becomes the guardian then
    (events.archive_bound, family_services.on_archive_bound),
    # recording the follow-up visit of a checked-in appointment completes the appointment
    (events.visit_recorded, appointments_booking.on_visit_recorded),
    # … and any visit or service after a patient's return from hospital is the return follow-up
    (events.visit_recorded, referral_services.on_visit_recorded),
    (events.service_delivered, referral_services.on_service_delivered),
)


def install() -> None:
    """Connect everything; safe to call again (tests create several apps)."""
    for name in NOTIFICATIONS:
        importlib.import_module(name)
    for hooks, contributor in HOOKS:
        if contributor not in hooks:
            hooks.append(contributor)
    for event, listener in LISTENERS:
        event.connect(listener)  # blinker keeps one connection per receiver
    # the dispatcher's "which WeChat account does this resident have"
    channels.use_account_lookup(accounts_services.wechat_accounts_of)
