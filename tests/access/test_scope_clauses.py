"""The two forms of the resident scope agree: ``resident_clause`` (values inline, most reads) and
``bound_resident_scope`` (values bound, the cached statements of the archive and the worklist)."""

from __future__ import annotations

from sqlalchemy import select

from app.access.actors import current_actor
from app.access.scope import bound_resident_scope, resident_clause
from app.extensions import db
from app.residents.models import Resident
from tests.access.matrix_helpers import RESIDENT_ACTORS, STAFF_ACTORS, build_scene


def test_both_forms_select_the_same_residents_for_every_actor(app, client, wechat_sandbox):
    scene = build_scene(app, client)
    seen = {}
    for key in (*RESIDENT_ACTORS, *STAFF_ACTORS):
        with app.test_request_context(headers={"Authorization": f"Bearer {scene.tokens[key]}"}):
            actor = current_actor()
            plain = set(db.session.scalars(select(Resident.id).where(resident_clause(actor))))
            _kind, clause, params = bound_resident_scope(actor)
            bound = set(db.session.scalars(select(Resident.id).where(clause), params))
            assert bound == plain, key
            seen[key] = scene.ids["subject"] in plain
            db.session.rollback()
    # and the scope itself is the documented one for the subject (grandpa, centre A)
    assert seen == {
        "self": True,
        "peer": False,
        "far": False,
        "fam": True,
        "kin": False,
        "doc": True,
        "doc2": True,
        "sib": False,
        "iadm": True,
        "oadm": False,
        "dadm": True,
    }
