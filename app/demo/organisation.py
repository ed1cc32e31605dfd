"""Demo steps "organisation", "accounts" and "teams": the institution tree, the administrators,
and the family-doctor teams with their staff."""

from __future__ import annotations

import random

from app.accounts.models import Staff
from app.demo import names
from app.demo.context import (
    BUREAU_CODE,
    BUREAU_NAME,
    RESIDENTS_PER_TEAM,
    SUB_UNIT_KIND,
    Centre,
    SeedContext,
    Site,
)
from app.orgs.models import INSTITUTION_KINDS, Institution, Team, TeamMember


def build_organisation(ctx: SeedContext) -> None:
    """The bureau, the CSV's ten centres (HC01…), and 2–4 clinics or stations under each."""
    unit_counts = [ctx.rng("organisation", index).randint(2, 4) for index in range(len(ctx.targets))]
    ids = iter(ctx.allocate_ids(Institution, 1 + len(ctx.targets) + sum(unit_counts)))
    rows = []

    def add(code, name, kind, parent: Site | None, population=0, **extra) -> Site:
        site_id = next(ids)
        path = f"{parent.path if parent else '/'}{site_id}/"
        rows.append(
            dict(
                id=site_id,
                code=code,
                name=name,
                kind=kind,
                level=INSTITUTION_KINDS[kind],
                parent_id=parent.id if parent else None,
                path=path,
                service_population=population,
                created_at=ctx.now,
            )
        )
        return Site(id=site_id, code=code, name=name, kind=kind, path=path, **extra)

    ctx.bureau = add(
        BUREAU_CODE, BUREAU_NAME, "district_bureau", None, sum(t["service_population"] for t in ctx.targets)
    )
    for index, (target, unit_count) in enumerate(zip(ctx.targets, unit_counts, strict=True), start=1):
        rng = ctx.rng("organisation", "units", index)
        name, kind = target["institution"], target["kind"]
        code = f"HC{index:02d}"
        town = names.town_of(name)
        if kind == "township_health_center" and town:
            centre_site = add(code, name, kind, ctx.bureau, target["service_population"], places=town[1], town=town[0])
        else:
            centre_site = add(code, name, kind, ctx.bureau, target["service_population"])
        centre = Centre(target=target, site=centre_site)
        unit_kind = SUB_UNIT_KIND[kind]
        if unit_kind == "village_clinic":
            town_name = town[0] if town else names.short_name(name)
            for n, village in enumerate(rng.sample(names.villages_for(name, 8), unit_count), start=1):
                centre.units.append(
                    add(
                        f"{code}-{n:02d}",
                        f"{town_name}{village}村卫生室",
                        unit_kind,
                        centre_site,
                        town=town_name,
                        village=village,
                    )
                )
        else:
            roads = list(names.roads_for(name))
            rng.shuffle(roads)
            sites = unit_count + 1
            centre_site.places = tuple(roads[0::sites])
            for n in range(1, unit_count + 1):
                centre.units.append(
                    add(
                        f"{code}-{n:02d}",
                        f"{names.short_name(name)}第{names.ordinal(n)}社区卫生服务站",
                        unit_kind,
                        centre_site,
                        places=tuple(roads[n::sites]),
                    )
                )
        ctx.centres.append(centre)
    ctx.insert(Institution, rows)


# --- step 2: administrators -----------------------------------------------


def _staff_row(
    ctx: SeedContext, rng: random.Random, staff_id: int, username: str, roles: list[str], institution_id: int
) -> dict:
    sex = "male" if rng.random() < 0.5 else "female"
    return dict(
        id=staff_id,
        username=username,
        name=names.full_name(rng, sex, rng.randint(1968, 1998)),
        password_hash=ctx.password_hash,
        roles=roles,
        institution_id=institution_id,
        phone=names.mobile(rng),
        active=True,
        created_at=ctx.now,
    )


def build_admin_accounts(ctx: SeedContext) -> None:
    """``admin`` (district) and one ``hcNN-admin`` per centre."""
    rng = ctx.rng("accounts")
    ids = iter(ctx.allocate_ids(Staff, 1 + len(ctx.centres)))
    rows = [_staff_row(ctx, rng, next(ids), "admin", ["district_admin"], ctx.bureau.id)]
    ctx.staff_notes["admin"] = f"district administrator, {BUREAU_NAME}"
    for centre in ctx.centres:
        username = f"{centre.code.lower()}-admin"
        rows.append(_staff_row(ctx, rng, next(ids), username, ["institution_admin"], centre.id))
        ctx.staff_notes[username] = f"institution administrator, {centre.name}"
    ctx.insert(Staff, rows)
    ctx.staff_ids.update({row["username"]: row["id"] for row in rows})


# --- step 3: family-doctor teams ------------------------------------------

# (team role, username stem, staff roles)
TEAM_LAYOUT = (
    ("leader_gp", "doc", ["doctor", "team_leader"]),
    ("nurse", "nurse", ["doctor"]),
    ("public_health", "ph", ["doctor"]),
)
VILLAGE_DOCTOR = ("village_doctor", "vd", ["doctor"])


def team_count(ctx: SeedContext, centre: Centre) -> int:
    return max(1, round(ctx.scaled(centre.target["service_population"]) / RESIDENTS_PER_TEAM))


def build_teams(ctx: SeedContext) -> None:
    """One team per ~2,000 residents: a GP leader, a nurse, a public-health physician,
    and a village doctor in township centres. Staff belong to the centre so they see
    its whole subtree (clinics and stations included)."""
    staff_rows, team_rows, member_rows = [], [], []
    for centre in ctx.centres:
        rng = ctx.rng("teams", centre.code)
        layout = TEAM_LAYOUT + ((VILLAGE_DOCTOR,) if centre.kind == "township_health_center" else ())
        count = team_count(ctx, centre)
        team_ids = ctx.allocate_ids(Team, count)
        staff_ids = iter(ctx.allocate_ids(Staff, count * len(layout)))
        member_ids = iter(ctx.allocate_ids(TeamMember, count * len(layout)))
        for number, team_id in enumerate(team_ids, start=1):
            team_name = f"{centre.name}第{number}团队"
            team_rows.append(
                dict(id=team_id, name=team_name, institution_id=centre.id, active=True, created_at=ctx.now)
            )
            for role, stem, roles in layout:
                username = f"{centre.code.lower()}-{stem}{number:02d}"
                row = _staff_row(ctx, rng, next(staff_ids), username, roles, centre.id)
                staff_rows.append(row)
                member_rows.append(dict(id=next(member_ids), team_id=team_id, staff_id=row["id"], role=role))
                ctx.staff_ids[username] = row["id"]
                ctx.staff_notes[username] = f"{role}, {team_name}"
                if role == "leader_gp":
                    centre.team_leader[team_id] = row["id"]
            centre.team_ids.append(team_id)
    ctx.insert(Staff, staff_rows)
    ctx.insert(Team, team_rows)
    ctx.insert(TeamMember, member_rows)
